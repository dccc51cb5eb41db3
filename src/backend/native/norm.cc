// Batch normalisation in training on oneDNN, for ferlab's FerlabBatchNormTrain / FerlabBatchNormGrad kernels: x is
// [M, C] row-major (any NHWC tensor, M = N*H*W), statistics over M (biased variance, as tf.moments), scale (gamma) and
// shift (beta) per channel. Read and written in place on the wasm heap; primitives cached by (M, C, epsilon).
#include <cstring>

#include "common.h"

namespace ferlab {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
using flags = dnnl::normalization_flags;

namespace {

/** [M, C] row-major seen as oneDNN's N=M, C, 1x1 spatial in nhwc. */
memory::desc dataMd(int64_t M, int64_t C) { return memory::desc({M, C, 1, 1}, dt::f32, tag::nhwc); }
memory::desc vecMd(int64_t C) { return memory::desc({C}, dt::f32, tag::x); }

dnnl::batch_normalization_forward::primitive_desc forwardPd(int64_t M, int64_t C, float eps) {
  dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_training, dataMd(M, C), eps, flags::use_scale | flags::use_shift);
  return dnnl::batch_normalization_forward::primitive_desc(d, engine());
}

struct Forward {
  dnnl::batch_normalization_forward prim;
  memory x, y, scale, shift, mean, variance;
};

struct Backward {
  dnnl::batch_normalization_backward prim;
  memory dy, x, mean, variance, scale, dx, dscale, dshift;
};

thread_local std::unordered_map<std::string, std::unique_ptr<Forward>> forwards;
thread_local std::unordered_map<std::string, std::unique_ptr<Backward>> backwards;

memory none(const memory::desc& d) { return memory(d, engine(), DNNL_MEMORY_NONE); }

int64_t epsKey(float eps) {
  int32_t bits;
  std::memcpy(&bits, &eps, 4);
  return bits;
}

/**
 * batchNormTrain(heap, x, gamma, beta, y, mean, variance, M, C, epsilon): y = gamma * (x - mean) / sqrt(variance +
 * epsilon) + beta over x [M, C], with the batch mean [C] and biased variance [C] written out.
 */
Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  return guarded(info, "batchNormTrain", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t x = argInt(info, 1), gamma = argInt(info, 2), beta = argInt(info, 3), y = argInt(info, 4), mean = argInt(info, 5), var = argInt(info, 6);
    int64_t M = argInt(info, 7), C = argInt(info, 8);
    float eps = info[9].As<Napi::Number>().FloatValue();
    auto& e = forwards[shapeKey("bn_fwd", {M, C, epsKey(eps)})];
    if (!e) {
      auto pd = forwardPd(M, C, eps);
      e.reset(new Forward{dnnl::batch_normalization_forward(pd), none(dataMd(M, C)), none(dataMd(M, C)), none(vecMd(C)), none(vecMd(C)), none(vecMd(C)),
                          none(vecMd(C))});
    }
    e->x.set_data_handle(heap + x);
    e->y.set_data_handle(heap + y);
    e->scale.set_data_handle(heap + gamma);
    e->shift.set_data_handle(heap + beta);
    e->mean.set_data_handle(heap + mean);
    e->variance.set_data_handle(heap + var);
    e->prim.execute(stream(), {{DNNL_ARG_SRC, e->x},
                               {DNNL_ARG_DST, e->y},
                               {DNNL_ARG_SCALE, e->scale},
                               {DNNL_ARG_SHIFT, e->shift},
                               {DNNL_ARG_MEAN, e->mean},
                               {DNNL_ARG_VARIANCE, e->variance}});
    stream().wait();
  });
}

/**
 * batchNormGrad(heap, dy, x, mean, variance, gamma, dx, dgamma, dbeta, M, C, epsilon): the full backward pass of
 * batchNormTrain (through the batch statistics): dx [M, C], dgamma [C], dbeta [C].
 */
Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  return guarded(info, "batchNormGrad", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t dy = argInt(info, 1), x = argInt(info, 2), mean = argInt(info, 3), var = argInt(info, 4), gamma = argInt(info, 5);
    int64_t dx = argInt(info, 6), dgamma = argInt(info, 7), dbeta = argInt(info, 8);
    int64_t M = argInt(info, 9), C = argInt(info, 10);
    float eps = info[11].As<Napi::Number>().FloatValue();
    auto& e = backwards[shapeKey("bn_bwd", {M, C, epsKey(eps)})];
    if (!e) {
      auto hint = forwardPd(M, C, eps);
      dnnl::batch_normalization_backward::desc d(dnnl::prop_kind::backward, dataMd(M, C), dataMd(M, C), eps, flags::use_scale | flags::use_shift);
      dnnl::batch_normalization_backward::primitive_desc pd(d, engine(), hint);
      e.reset(new Backward{dnnl::batch_normalization_backward(pd), none(dataMd(M, C)), none(dataMd(M, C)), none(vecMd(C)), none(vecMd(C)), none(vecMd(C)),
                           none(dataMd(M, C)), none(vecMd(C)), none(vecMd(C))});
    }
    e->dy.set_data_handle(heap + dy);
    e->x.set_data_handle(heap + x);
    e->mean.set_data_handle(heap + mean);
    e->variance.set_data_handle(heap + var);
    e->scale.set_data_handle(heap + gamma);
    e->dx.set_data_handle(heap + dx);
    e->dscale.set_data_handle(heap + dgamma);
    e->dshift.set_data_handle(heap + dbeta);
    e->prim.execute(stream(), {{DNNL_ARG_DIFF_DST, e->dy},
                               {DNNL_ARG_SRC, e->x},
                               {DNNL_ARG_MEAN, e->mean},
                               {DNNL_ARG_VARIANCE, e->variance},
                               {DNNL_ARG_SCALE, e->scale},
                               // oneDNN 2.6 asks for the shift in backward too (its value does not enter the gradients)
                               {DNNL_ARG_SHIFT, e->scale},
                               {DNNL_ARG_DIFF_SRC, e->dx},
                               {DNNL_ARG_DIFF_SCALE, e->dscale},
                               {DNNL_ARG_DIFF_SHIFT, e->dshift}});
    stream().wait();
  });
}

}  // namespace

void registerNorm(Napi::Env env, Napi::Object exports) {
  exports.Set("batchNormTrain", Napi::Function::New(env, BatchNormTrain));
  exports.Set("batchNormGrad", Napi::Function::New(env, BatchNormGrad));
}

}  // namespace ferlab
