// ferlab's oneDNN addon: module entry, threads and version. The kernels live one family per file (conv.cc,
// depthwise.cc, matmul.cc, pool.cc, norm.cc, eltwise.cc, peak.cc); src/backend/native/*.ts registers them as tfjs kernels of the `native` backend.
#include <omp.h>

#include "common.h"

namespace ferlab {

/** setThreads(n): OpenMP threads oneDNN uses from now on (>= 1). Returns the number now in effect. */
static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = static_cast<int>(argInt(info, 0));
  if (n < 1) throw Napi::RangeError::New(info.Env(), "setThreads: n must be >= 1");
  omp_set_num_threads(n);
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}

/** threads(): OpenMP threads in effect. */
static Napi::Value Threads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}

/** version(): {major, minor, patch, cpuRuntime, isa} of the oneDNN library loaded at run time. */
static Napi::Value Version(const Napi::CallbackInfo& info) {
  const dnnl_version_t* v = dnnl_version();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("major", v->major);
  o.Set("minor", v->minor);
  o.Set("patch", v->patch);
  o.Set("hash", v->hash);
  o.Set("cpuRuntime", v->cpu_runtime == DNNL_RUNTIME_OMP ? "omp" : v->cpu_runtime == DNNL_RUNTIME_TBB ? "tbb" : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "seq" : "other");
  const char* isa = "unknown";
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: isa = "sse41"; break;
    case dnnl::cpu_isa::avx: isa = "avx"; break;
    case dnnl::cpu_isa::avx2: isa = "avx2"; break;
    case dnnl::cpu_isa::avx512_mic: isa = "avx512_mic"; break;
    case dnnl::cpu_isa::avx512_core: isa = "avx512_core"; break;
    case dnnl::cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
    case dnnl::cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
    case dnnl::cpu_isa::avx512_core_amx: isa = "avx512_core_amx"; break;
    default: break;
  }
  o.Set("isa", isa);
  return o;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  omp_set_num_threads(1);  // one thread per run until told otherwise (setThreads)
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("threads", Napi::Function::New(env, Threads));
  exports.Set("version", Napi::Function::New(env, Version));
  registerConv(env, exports);
  registerMatmul(env, exports);
  registerPool(env, exports);
  registerNorm(env, exports);
  registerPeak(env, exports);
  registerEltwise(env, exports);
  registerDepthwise(env, exports);
  return exports;
}

}  // namespace ferlab

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return ferlab::Init(env, exports); }

NODE_API_MODULE(ferlab_native, InitAddon)
