// Convolutions on oneDNN: forward (bias and ReLU fused as a post-op), input gradient (backward data) and filter
// gradient (backward weights), on tfjs' layouts: activations NHWC, filters HWIO [KH, KW, CI, CO]. Activations stay
// NHWC (oneDNN's brgemm convolutions run on it directly) unless `anyAct` lets oneDNN choose a blocked layout (then
// reordered both ways per call); filters are reordered into the layout oneDNN chooses (format_tag::any) per call
// (they change every step; a few hundred KB). Primitives are cached by shape and attributes.
#include "common.h"

namespace ferlab {

using dnnl::algorithm;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

/** Geometry of one convolution: tfjs' computeConv2DInfo numbers (dilations as tfjs counts them, 1 = none). */
struct Geom {
  int64_t N, H, W, CI, KH, KW, CO, OH, OW, sh, sw, dh, dw, pt, pl, pb, pr;
  memory::dims src() const { return {N, CI, H, W}; }
  memory::dims wts() const { return {CO, CI, KH, KW}; }
  memory::dims dst() const { return {N, CO, OH, OW}; }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dil() const { return {dh - 1, dw - 1}; }  // oneDNN counts dilation from 0
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
  std::vector<int64_t> key() const { return {N, H, W, CI, KH, KW, CO, OH, OW, sh, sw, dh, dw, pt, pl, pb, pr}; }
};

/** Reads the 17 geometry integers starting at info[i]. */
Geom geomAt(const Napi::CallbackInfo& info, size_t i) {
  Geom g;
  int64_t* f[] = {&g.N, &g.H, &g.W, &g.CI, &g.KH, &g.KW, &g.CO, &g.OH, &g.OW, &g.sh, &g.sw, &g.dh, &g.dw, &g.pt, &g.pl, &g.pb, &g.pr};
  for (size_t k = 0; k < 17; k++) *f[k] = argInt(info, i + k);
  return g;
}

memory::desc md(const memory::dims& d, bool any, tag t) { return memory::desc(d, dt::f32, any ? tag::any : t); }

/** The forward primitive descriptor (training: also the hint of both backward passes). */
dnnl::convolution_forward::primitive_desc forwardPd(const Geom& g, bool bias, bool relu, bool anyAct, dnnl::prop_kind kind) {
  memory::desc b = bias ? memory::desc({g.CO}, dt::f32, tag::x) : memory::desc();
  dnnl::convolution_forward::desc d(kind, algorithm::convolution_direct, md(g.src(), anyAct, tag::nhwc), md(g.wts(), true, tag::hwio), b,
                                    md(g.dst(), anyAct, tag::nhwc), g.strides(), g.dil(), g.padL(), g.padR());
  dnnl::primitive_attr attr;
  if (relu) {
    dnnl::post_ops po;
    po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(po);
  }
  return dnnl::convolution_forward::primitive_desc(d, attr, engine());
}

struct Forward {
  dnnl::convolution_forward prim;
  Operand src, wts, dst;
  memory bias;
  bool hasBias;
};

struct BackwardData {
  dnnl::convolution_backward_data prim;
  Operand diffDst, wts, diffSrc;
};

struct BackwardWeights {
  dnnl::convolution_backward_weights prim;
  Operand src, diffDst, diffWts;
};

thread_local std::unordered_map<std::string, std::unique_ptr<Forward>> forwards;
thread_local std::unordered_map<std::string, std::unique_ptr<BackwardData>> backwardData;
thread_local std::unordered_map<std::string, std::unique_ptr<BackwardWeights>> backwardWeights;

/**
 * conv2dForward(heap, x, w, bias, y, ...geometry(17), relu, anyAct): y [N, OH, OW, CO] = conv(x [N, H, W, CI],
 * w [KH, KW, CI, CO]) + bias [CO] (bias < 0: none), then ReLU when relu != 0. Offsets are bytes into heap.
 */
Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  return guarded(info, "conv2dForward", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t x = argInt(info, 1), w = argInt(info, 2), b = argInt(info, 3), y = argInt(info, 4);
    Geom g = geomAt(info, 5);
    bool relu = argInt(info, 22) != 0, anyAct = argInt(info, 23) != 0;
    std::vector<int64_t> k = g.key();
    k.push_back(b >= 0);
    k.push_back(relu);
    k.push_back(anyAct);
    auto& e = forwards[shapeKey("fwd", k)];
    if (!e) {
      auto pd = forwardPd(g, b >= 0, relu, anyAct, dnnl::prop_kind::forward_training);
      e.reset(new Forward{dnnl::convolution_forward(pd), {}, {}, {}, {}, b >= 0});
      e->src.init(g.src(), tag::nhwc, pd.src_desc(), true);
      e->wts.init(g.wts(), tag::hwio, pd.weights_desc(), true);
      e->dst.init(g.dst(), tag::nhwc, pd.dst_desc(), false);
      if (e->hasBias) e->bias = userMemory({g.CO}, tag::x);
    }
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e->src.in(heap + x)}, {DNNL_ARG_WEIGHTS, e->wts.in(heap + w)}, {DNNL_ARG_DST, e->dst.out(heap + y)}};
    if (e->hasBias) {
      e->bias.set_data_handle(heap + b);
      args[DNNL_ARG_BIAS] = e->bias;
    }
    e->prim.execute(stream(), args);
    e->dst.done();
    stream().wait();
  });
}

/** conv2dBackwardData(heap, dy, w, dx, ...geometry(17), anyAct): dx [N, H, W, CI] of the convolution for dy [N, OH, OW, CO]. */
Napi::Value ConvBackwardData(const Napi::CallbackInfo& info) {
  return guarded(info, "conv2dBackwardData", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t dy = argInt(info, 1), w = argInt(info, 2), dx = argInt(info, 3);
    Geom g = geomAt(info, 4);
    bool anyAct = argInt(info, 21) != 0;
    std::vector<int64_t> k = g.key();
    k.push_back(anyAct);
    auto& e = backwardData[shapeKey("bwd_data", k)];
    if (!e) {
      auto hint = forwardPd(g, false, false, anyAct, dnnl::prop_kind::forward_training);
      dnnl::convolution_backward_data::desc d(algorithm::convolution_direct, md(g.src(), anyAct, tag::nhwc), md(g.wts(), true, tag::hwio),
                                              md(g.dst(), anyAct, tag::nhwc), g.strides(), g.dil(), g.padL(), g.padR());
      dnnl::convolution_backward_data::primitive_desc pd(d, engine(), hint);
      e.reset(new BackwardData{dnnl::convolution_backward_data(pd), {}, {}, {}});
      e->diffDst.init(g.dst(), tag::nhwc, pd.diff_dst_desc(), true);
      e->wts.init(g.wts(), tag::hwio, pd.weights_desc(), true);
      e->diffSrc.init(g.src(), tag::nhwc, pd.diff_src_desc(), false);
    }
    e->prim.execute(stream(), {{DNNL_ARG_DIFF_DST, e->diffDst.in(heap + dy)}, {DNNL_ARG_WEIGHTS, e->wts.in(heap + w)}, {DNNL_ARG_DIFF_SRC, e->diffSrc.out(heap + dx)}});
    e->diffSrc.done();
    stream().wait();
  });
}

/** conv2dBackwardWeights(heap, x, dy, dw, ...geometry(17), anyAct): dw [KH, KW, CI, CO] of the convolution of x [N, H, W, CI] for dy. */
Napi::Value ConvBackwardWeights(const Napi::CallbackInfo& info) {
  return guarded(info, "conv2dBackwardWeights", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t x = argInt(info, 1), dy = argInt(info, 2), dw = argInt(info, 3);
    Geom g = geomAt(info, 4);
    bool anyAct = argInt(info, 21) != 0;
    std::vector<int64_t> k = g.key();
    k.push_back(anyAct);
    auto& e = backwardWeights[shapeKey("bwd_wts", k)];
    if (!e) {
      auto hint = forwardPd(g, false, false, anyAct, dnnl::prop_kind::forward_training);
      dnnl::convolution_backward_weights::desc d(algorithm::convolution_direct, md(g.src(), anyAct, tag::nhwc), md(g.wts(), true, tag::hwio),
                                                 md(g.dst(), anyAct, tag::nhwc), g.strides(), g.dil(), g.padL(), g.padR());
      dnnl::convolution_backward_weights::primitive_desc pd(d, engine(), hint);
      e.reset(new BackwardWeights{dnnl::convolution_backward_weights(pd), {}, {}, {}});
      e->src.init(g.src(), tag::nhwc, pd.src_desc(), true);
      e->diffDst.init(g.dst(), tag::nhwc, pd.diff_dst_desc(), true);
      e->diffWts.init(g.wts(), tag::hwio, pd.diff_weights_desc(), false);
    }
    e->prim.execute(stream(), {{DNNL_ARG_SRC, e->src.in(heap + x)}, {DNNL_ARG_DIFF_DST, e->diffDst.in(heap + dy)}, {DNNL_ARG_DIFF_WEIGHTS, e->diffWts.out(heap + dw)}});
    e->diffWts.done();
    stream().wait();
  });
}


}  // namespace

void registerConv(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2dForward", Napi::Function::New(env, ConvForward));
  exports.Set("conv2dBackwardData", Napi::Function::New(env, ConvBackwardData));
  exports.Set("conv2dBackwardWeights", Napi::Function::New(env, ConvBackwardWeights));
}

}  // namespace ferlab
