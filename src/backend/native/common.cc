// Engine, stream, heap access and layout conversion shared by ferlab's oneDNN kernels (see common.h).
#include "common.h"

#include <omp.h>

#include <stdexcept>

namespace ferlab {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  // one stream per thread: Node worker threads (the benchmark's, data-parallel replicas) each run their own kernels
  thread_local dnnl::stream s(engine());
  return s;
}

uint8_t* heapBase(const Napi::Value& v) {
  if (!v.IsArrayBuffer()) throw std::invalid_argument("the heap argument must be the wasm memory's ArrayBuffer (not a SharedArrayBuffer)");
  return static_cast<uint8_t*>(v.As<Napi::ArrayBuffer>().Data());
}

int64_t argInt(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int64Value();
}

std::string shapeKey(const char* kind, const std::vector<int64_t>& v) {
  // oneDNN sizes a primitive's work split for the threads in effect when it is created: a new count needs new ones
  std::string k(kind);
  k += "@t";
  k += std::to_string(omp_get_max_threads());
  for (int64_t x : v) {
    k += ',';
    k += std::to_string(x);
  }
  return k;
}

dnnl::memory userMemory(const dnnl::memory::dims& dims, dnnl::memory::format_tag tag) {
  return dnnl::memory({dims, dnnl::memory::data_type::f32, tag}, engine(), DNNL_MEMORY_NONE);
}

void Operand::init(const dnnl::memory::dims& dims, dnnl::memory::format_tag tag, const dnnl::memory::desc& want, bool isInput) {
  user = userMemory(dims, tag);
  reordered = user.get_desc() != want;
  if (reordered) {
    prim = dnnl::memory(want, engine());  // owns its buffer
    if (isInput)
      toPrim = dnnl::reorder(user, prim);
    else
      fromPrim = dnnl::reorder(prim, user);
  }
}

dnnl::memory& Operand::in(void* p) {
  user.set_data_handle(p);
  if (!reordered) return user;
  toPrim.execute(stream(), user, prim);
  return prim;
}

dnnl::memory& Operand::out(void* p) {
  user.set_data_handle(p);
  return reordered ? prim : user;
}

void Operand::done() {
  if (reordered) fromPrim.execute(stream(), prim, user);
}

}  // namespace ferlab
