// Depthwise convolutions on oneDNN (grouped convolutions with one group per input channel): forward, input gradient
// and filter gradient, NHWC activations in place, tfjs' depthwise filters [KH, KW, C, M] (channel multiplier M)
// read as oneDNN's grouped weights {G = C, O = M, I = 1, KH, KW} in layout hwigo (decab; I = 1, so it is tfjs' order),
// reordered per call into the layout oneDNN picks. Output channel c * M + m, as tfjs. Cached by shape and threads.
#include "common.h"

namespace ferlab {

using dnnl::algorithm;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

/** N, H, W, C, KH, KW, M, OH, OW, sh, sw, dh, dw (tfjs dilations, 1 = none), pt, pl, pb, pr. */
struct Geom {
  int64_t N, H, W, C, KH, KW, M, OH, OW, sh, sw, dh, dw, pt, pl, pb, pr;
  memory::dims src() const { return {N, C, H, W}; }
  memory::dims wts() const { return {C, M, 1, KH, KW}; }
  memory::dims dst() const { return {N, C * M, OH, OW}; }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dil() const { return {dh - 1, dw - 1}; }
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
  std::vector<int64_t> key() const { return {N, H, W, C, KH, KW, M, OH, OW, sh, sw, dh, dw, pt, pl, pb, pr}; }
};

Geom geomAt(const Napi::CallbackInfo& info, size_t i) {
  Geom g;
  int64_t* f[] = {&g.N, &g.H, &g.W, &g.C, &g.KH, &g.KW, &g.M, &g.OH, &g.OW, &g.sh, &g.sw, &g.dh, &g.dw, &g.pt, &g.pl, &g.pb, &g.pr};
  for (size_t k = 0; k < 17; k++) *f[k] = argInt(info, i + k);
  return g;
}

memory::desc act(const memory::dims& d) { return memory::desc(d, dt::f32, tag::nhwc); }

dnnl::convolution_forward::primitive_desc forwardPd(const Geom& g) {
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, algorithm::convolution_direct, act(g.src()), memory::desc(g.wts(), dt::f32, tag::any),
                                    act(g.dst()), g.strides(), g.dil(), g.padL(), g.padR());
  return dnnl::convolution_forward::primitive_desc(d, engine());
}

struct Forward {
  dnnl::convolution_forward prim;
  memory src, dst;
  Operand wts;
};
struct BackwardData {
  dnnl::convolution_backward_data prim;
  memory diffDst, diffSrc;
  Operand wts;
};
struct BackwardWeights {
  dnnl::convolution_backward_weights prim;
  memory src, diffDst;
  Operand diffWts;
};

thread_local std::unordered_map<std::string, std::unique_ptr<Forward>> forwards;
thread_local std::unordered_map<std::string, std::unique_ptr<BackwardData>> backwardData;
thread_local std::unordered_map<std::string, std::unique_ptr<BackwardWeights>> backwardWeights;

memory none(const memory::dims& d) { return memory(act(d), engine(), DNNL_MEMORY_NONE); }

/** depthwiseForward(heap, x, w, y, ...geometry(17)): y [N, OH, OW, C*M] of x [N, H, W, C] and w [KH, KW, C, M]. */
Napi::Value DepthwiseForward(const Napi::CallbackInfo& info) {
  return guarded(info, "depthwiseForward", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t x = argInt(info, 1), w = argInt(info, 2), y = argInt(info, 3);
    Geom g = geomAt(info, 4);
    auto& e = forwards[shapeKey("dw_fwd", g.key())];
    if (!e) {
      auto pd = forwardPd(g);
      e.reset(new Forward{dnnl::convolution_forward(pd), none(g.src()), none(g.dst()), {}});
      e->wts.init(g.wts(), tag::hwigo, pd.weights_desc(), true);
    }
    e->src.set_data_handle(heap + x);
    e->dst.set_data_handle(heap + y);
    e->prim.execute(stream(), {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wts.in(heap + w)}, {DNNL_ARG_DST, e->dst}});
    stream().wait();
  });
}

/** depthwiseBackwardData(heap, dy, w, dx, ...geometry(17)): dx [N, H, W, C] from dy [N, OH, OW, C*M]. */
Napi::Value DepthwiseBackwardData(const Napi::CallbackInfo& info) {
  return guarded(info, "depthwiseBackwardData", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t dy = argInt(info, 1), w = argInt(info, 2), dx = argInt(info, 3);
    Geom g = geomAt(info, 4);
    auto& e = backwardData[shapeKey("dw_bwd_data", g.key())];
    if (!e) {
      dnnl::convolution_backward_data::desc d(algorithm::convolution_direct, act(g.src()), memory::desc(g.wts(), dt::f32, tag::any), act(g.dst()), g.strides(),
                                              g.dil(), g.padL(), g.padR());
      dnnl::convolution_backward_data::primitive_desc pd(d, engine(), forwardPd(g));
      e.reset(new BackwardData{dnnl::convolution_backward_data(pd), none(g.dst()), none(g.src()), {}});
      e->wts.init(g.wts(), tag::hwigo, pd.weights_desc(), true);
    }
    e->diffDst.set_data_handle(heap + dy);
    e->diffSrc.set_data_handle(heap + dx);
    e->prim.execute(stream(), {{DNNL_ARG_DIFF_DST, e->diffDst}, {DNNL_ARG_WEIGHTS, e->wts.in(heap + w)}, {DNNL_ARG_DIFF_SRC, e->diffSrc}});
    stream().wait();
  });
}

/** depthwiseBackwardWeights(heap, x, dy, dw, ...geometry(17)): dw [KH, KW, C, M]. */
Napi::Value DepthwiseBackwardWeights(const Napi::CallbackInfo& info) {
  return guarded(info, "depthwiseBackwardWeights", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t x = argInt(info, 1), dy = argInt(info, 2), dw = argInt(info, 3);
    Geom g = geomAt(info, 4);
    auto& e = backwardWeights[shapeKey("dw_bwd_wts", g.key())];
    if (!e) {
      dnnl::convolution_backward_weights::desc d(algorithm::convolution_direct, act(g.src()), memory::desc(g.wts(), dt::f32, tag::any), act(g.dst()),
                                                 g.strides(), g.dil(), g.padL(), g.padR());
      dnnl::convolution_backward_weights::primitive_desc pd(d, engine(), forwardPd(g));
      e.reset(new BackwardWeights{dnnl::convolution_backward_weights(pd), none(g.src()), none(g.dst()), {}});
      e->diffWts.init(g.wts(), tag::hwigo, pd.diff_weights_desc(), false);
    }
    e->src.set_data_handle(heap + x);
    e->diffDst.set_data_handle(heap + dy);
    e->prim.execute(stream(), {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_DIFF_DST, e->diffDst}, {DNNL_ARG_DIFF_WEIGHTS, e->diffWts.out(heap + dw)}});
    e->diffWts.done();
    stream().wait();
  });
}

}  // namespace

void registerDepthwise(Napi::Env env, Napi::Object exports) {
  exports.Set("depthwiseForward", Napi::Function::New(env, DepthwiseForward));
  exports.Set("depthwiseBackwardData", Napi::Function::New(env, DepthwiseBackwardData));
  exports.Set("depthwiseBackwardWeights", Napi::Function::New(env, DepthwiseBackwardWeights));
}

}  // namespace ferlab
