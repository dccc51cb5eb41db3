// Max pooling on oneDNN, NHWC in place on the wasm heap: the forward pass in training mode also writes oneDNN's
// workspace (the position of each window's maximum; returned to JavaScript as an ArrayBuffer, kept beside the output
// tensor), which the backward pass reads to send dy to that position. Primitives cached by geometry.
#include "common.h"

namespace ferlab {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

/** N, H, W, C, KH, KW, OH, OW, sh, sw, pt, pl, pb, pr. */
struct Geom {
  int64_t N, H, W, C, KH, KW, OH, OW, sh, sw, pt, pl, pb, pr;
  memory::desc src() const { return memory::desc({N, C, H, W}, dt::f32, tag::nhwc); }
  memory::desc dst() const { return memory::desc({N, C, OH, OW}, dt::f32, tag::nhwc); }
  std::vector<int64_t> key() const { return {N, H, W, C, KH, KW, OH, OW, sh, sw, pt, pl, pb, pr}; }
};

Geom geomAt(const Napi::CallbackInfo& info, size_t i) {
  Geom g;
  int64_t* f[] = {&g.N, &g.H, &g.W, &g.C, &g.KH, &g.KW, &g.OH, &g.OW, &g.sh, &g.sw, &g.pt, &g.pl, &g.pb, &g.pr};
  for (size_t k = 0; k < 14; k++) *f[k] = argInt(info, i + k);
  return g;
}

dnnl::pooling_forward::primitive_desc forwardPd(const Geom& g) {
  dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::pooling_max, g.src(), g.dst(), {g.sh, g.sw}, {g.KH, g.KW},
                                {g.pt, g.pl}, {g.pb, g.pr});
  return dnnl::pooling_forward::primitive_desc(d, engine());
}

struct Forward {
  dnnl::pooling_forward prim;
  memory x, y, ws;
  size_t wsBytes;
};

struct Backward {
  dnnl::pooling_backward prim;
  memory dy, dx, ws;
  size_t wsBytes;
};

thread_local std::unordered_map<std::string, std::unique_ptr<Forward>> forwards;
thread_local std::unordered_map<std::string, std::unique_ptr<Backward>> backwards;

/**
 * maxPoolForward(heap, x, y, ...geometry(14)) -> ArrayBuffer: y [N, OH, OW, C] = max over each window of x
 * [N, H, W, C] (padding never wins); returns the workspace maxPoolBackward needs.
 */
Napi::Value MaxPoolForward(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer out;
  guarded(info, "maxPoolForward", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t x = argInt(info, 1), y = argInt(info, 2);
    Geom g = geomAt(info, 3);
    auto& e = forwards[shapeKey("maxpool_fwd", g.key())];
    if (!e) {
      auto pd = forwardPd(g);
      e.reset(new Forward{dnnl::pooling_forward(pd), memory(g.src(), engine(), DNNL_MEMORY_NONE), memory(g.dst(), engine(), DNNL_MEMORY_NONE),
                          memory(pd.workspace_desc(), engine(), DNNL_MEMORY_NONE), pd.workspace_desc().get_size()});
    }
    out = Napi::ArrayBuffer::New(info.Env(), std::max<size_t>(e->wsBytes, 1));
    e->x.set_data_handle(heap + x);
    e->y.set_data_handle(heap + y);
    e->ws.set_data_handle(out.Data());
    e->prim.execute(stream(), {{DNNL_ARG_SRC, e->x}, {DNNL_ARG_DST, e->y}, {DNNL_ARG_WORKSPACE, e->ws}});
    stream().wait();
  });
  return out;
}

/** maxPoolBackward(heap, dy, dx, workspace, ...geometry(14)): dx [N, H, W, C] gets dy at each window's maximum (summed where windows overlap), 0 elsewhere. */
Napi::Value MaxPoolBackward(const Napi::CallbackInfo& info) {
  return guarded(info, "maxPoolBackward", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t dy = argInt(info, 1), dx = argInt(info, 2);
    Napi::ArrayBuffer ws = info[3].As<Napi::ArrayBuffer>();
    Geom g = geomAt(info, 4);
    auto& e = backwards[shapeKey("maxpool_bwd", g.key())];
    if (!e) {
      auto hint = forwardPd(g);
      dnnl::pooling_backward::desc d(dnnl::algorithm::pooling_max, g.src(), g.dst(), {g.sh, g.sw}, {g.KH, g.KW}, {g.pt, g.pl}, {g.pb, g.pr});
      dnnl::pooling_backward::primitive_desc pd(d, engine(), hint);
      e.reset(new Backward{dnnl::pooling_backward(pd), memory(g.dst(), engine(), DNNL_MEMORY_NONE), memory(g.src(), engine(), DNNL_MEMORY_NONE),
                           memory(pd.workspace_desc(), engine(), DNNL_MEMORY_NONE), pd.workspace_desc().get_size()});
    }
    if (ws.ByteLength() < e->wsBytes) throw std::invalid_argument("maxPoolBackward: workspace smaller than the primitive's");
    e->dy.set_data_handle(heap + dy);
    e->dx.set_data_handle(heap + dx);
    e->ws.set_data_handle(ws.Data());
    e->prim.execute(stream(), {{DNNL_ARG_DIFF_DST, e->dy}, {DNNL_ARG_DIFF_SRC, e->dx}, {DNNL_ARG_WORKSPACE, e->ws}});
    stream().wait();
  });
}

}  // namespace

void registerPool(Napi::Env env, Napi::Object exports) {
  exports.Set("maxPoolForward", Napi::Function::New(env, MaxPoolForward));
  exports.Set("maxPoolBackward", Napi::Function::New(env, MaxPoolBackward));
}

}  // namespace ferlab
