// The machine's float32 multiply-add peak for one thread, measured: 12 independent chains of fused multiply-adds on
// the widest vectors the CPU has (AVX-512: 16 lanes, else AVX2 + FMA: 8 lanes), so that a training step's GFLOP/s can
// be stated as a fraction of the physical limit (the counterpart of the wasm peak in src/bench/ceiling.ts).
#include <immintrin.h>

#include <chrono>

#include "common.h"

namespace ferlab {

namespace {

__attribute__((target("avx512f"))) float chains512(int64_t iters) {
  __m512 a[12];
  for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps(0.001f * i);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t k = 0; k < iters; k++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
  }
  __m512 s = a[0];
  for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) float chains256(int64_t iters) {
  __m256 a[12];
  for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps(0.001f * i);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t k = 0; k < iters; k++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
  }
  __m256 s = a[0];
  for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

/**
 * fmaPeak(iters, runs) -> {isa, lanes, gflops, sink}: the best of `runs` timings of `iters` rounds of 12 vector FMAs
 * on the calling thread (2 flop per lane per FMA). `sink` is the chains' sum (kept so nothing is optimised away).
 */
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  int64_t iters = argInt(info, 0), runs = argInt(info, 1);
  __builtin_cpu_init();
  bool avx512 = __builtin_cpu_supports("avx512f");
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!avx512 && !avx2) throw Napi::Error::New(info.Env(), "fmaPeak: this CPU has neither AVX-512 nor AVX2 with FMA");
  int lanes = avx512 ? 16 : 8;
  double best = 0;
  float sink = 0;
  for (int64_t r = 0; r < runs; r++) {
    auto t0 = std::chrono::steady_clock::now();
    sink += avx512 ? chains512(iters) : chains256(iters);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * 12 * lanes * static_cast<double>(iters) / s / 1e9);
  }
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("isa", avx512 ? "avx512f" : "avx2+fma");
  o.Set("lanes", lanes);
  o.Set("gflops", best);
  o.Set("sink", sink);
  return o;
}

}  // namespace

void registerPeak(Napi::Env env, Napi::Object exports) { exports.Set("fmaPeak", Napi::Function::New(env, FmaPeak)); }

}  // namespace ferlab
