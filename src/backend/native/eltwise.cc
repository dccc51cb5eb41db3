// ReLU and its gradient on oneDNN's eltwise primitives, in place on the wasm heap, over n contiguous floats (any
// shape). Primitives cached by size and thread count.
#include "common.h"

namespace ferlab {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

memory::desc flat(int64_t n) { return memory::desc({n}, dt::f32, tag::a); }

dnnl::eltwise_forward::primitive_desc forwardPd(int64_t n) {
  return dnnl::eltwise_forward::primitive_desc(
      dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::eltwise_relu, flat(n), 0.f, 0.f), engine());
}

struct Forward {
  dnnl::eltwise_forward prim;
  memory x, y;
};

struct Backward {
  dnnl::eltwise_backward prim;
  memory dy, x, dx;
};

thread_local std::unordered_map<std::string, std::unique_ptr<Forward>> forwards;
thread_local std::unordered_map<std::string, std::unique_ptr<Backward>> backwards;

memory none(int64_t n) { return memory(flat(n), engine(), DNNL_MEMORY_NONE); }

/** relu(heap, x, y, n): y = max(x, 0) over n floats. */
Napi::Value Relu(const Napi::CallbackInfo& info) {
  return guarded(info, "relu", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t x = argInt(info, 1), y = argInt(info, 2), n = argInt(info, 3);
    auto& e = forwards[shapeKey("relu_fwd", {n})];
    if (!e) e.reset(new Forward{dnnl::eltwise_forward(forwardPd(n)), none(n), none(n)});
    e->x.set_data_handle(heap + x);
    e->y.set_data_handle(heap + y);
    e->prim.execute(stream(), {{DNNL_ARG_SRC, e->x}, {DNNL_ARG_DST, e->y}});
    stream().wait();
  });
}

/** reluGrad(heap, dy, x, dx, n): dx = dy where x > 0, else 0, over n floats. */
Napi::Value ReluGrad(const Napi::CallbackInfo& info) {
  return guarded(info, "reluGrad", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t dy = argInt(info, 1), x = argInt(info, 2), dx = argInt(info, 3), n = argInt(info, 4);
    auto& e = backwards[shapeKey("relu_bwd", {n})];
    if (!e) {
      dnnl::eltwise_backward::desc d(dnnl::algorithm::eltwise_relu, flat(n), flat(n), 0.f, 0.f);
      dnnl::eltwise_backward::primitive_desc pd(d, engine(), forwardPd(n));
      e.reset(new Backward{dnnl::eltwise_backward(pd), none(n), none(n), none(n)});
    }
    e->dy.set_data_handle(heap + dy);
    e->x.set_data_handle(heap + x);
    e->dx.set_data_handle(heap + dx);
    e->prim.execute(stream(), {{DNNL_ARG_DIFF_DST, e->dy}, {DNNL_ARG_SRC, e->x}, {DNNL_ARG_DIFF_SRC, e->dx}});
    stream().wait();
  });
}

}  // namespace

void registerEltwise(Napi::Env env, Napi::Object exports) {
  exports.Set("relu", Napi::Function::New(env, Relu));
  exports.Set("reluGrad", Napi::Function::New(env, ReluGrad));
}

}  // namespace ferlab
