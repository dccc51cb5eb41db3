// Shared by ferlab's oneDNN kernels: the CPU engine and stream, OpenMP threads, access to the tfjs wasm heap, and the
// per-shape primitive caches. Every kernel reads and writes tensors in place on the wasm heap: JavaScript passes the
// heap's ArrayBuffer (WebAssembly.Memory.buffer) and byte offsets into it; nothing is copied per op.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace ferlab {

/**
 * The process-wide oneDNN CPU engine and this thread's (in-order, blocking) stream. Primitive caches are per thread
 * too (thread_local): each Node worker thread has its own wasm heap and OpenMP thread count.
 */
dnnl::engine& engine();
dnnl::stream& stream();

/** Base address of the wasm heap from a JavaScript ArrayBuffer (the Memory's current buffer; fetch it per call: growth replaces it). */
uint8_t* heapBase(const Napi::Value& v);

/** info[i] as an int64 (byte offsets and sizes). */
int64_t argInt(const Napi::CallbackInfo& info, size_t i);

/** Key of a primitive cache: the shape and attribute integers and the OpenMP thread count in effect, joined. */
std::string shapeKey(const char* kind, const std::vector<int64_t>& v);

/** A memory object over user data (plain layout `tag`), its handle set per call. */
dnnl::memory userMemory(const dnnl::memory::dims& dims, dnnl::memory::format_tag tag);

/**
 * A tensor oneDNN reads or writes in a layout it chose: `user` is the tfjs tensor's plain layout on the heap,
 * `prim` the primitive's; when they differ, a cached reorder converts between them (in `prim`'s own buffer).
 */
struct Operand {
  dnnl::memory user;
  dnnl::memory prim;
  dnnl::reorder toPrim;    // user -> prim (inputs)
  dnnl::reorder fromPrim;  // prim -> user (outputs)
  bool reordered = false;

  /** `user` of dims in `tag`; `want` is what the primitive descriptor asked for. */
  void init(const dnnl::memory::dims& dims, dnnl::memory::format_tag tag, const dnnl::memory::desc& want, bool isInput);
  /** Sets the user pointer and, for an input, converts it into the primitive's layout; returns the memory to pass. */
  dnnl::memory& in(void* p);
  /** Sets the user pointer; returns the memory the primitive writes (call done() after executing). */
  dnnl::memory& out(void* p);
  /** For an output: converts the primitive's result into the user layout. */
  void done();
};

/** Registers each kernel family's functions on the addon's exports. */
void registerConv(Napi::Env env, Napi::Object exports);
void registerMatmul(Napi::Env env, Napi::Object exports);
void registerPool(Napi::Env env, Napi::Object exports);
void registerNorm(Napi::Env env, Napi::Object exports);
void registerPeak(Napi::Env env, Napi::Object exports);
void registerEltwise(Napi::Env env, Napi::Object exports);
void registerDepthwise(Napi::Env env, Napi::Object exports);

/** Runs `f`, turning oneDNN and C++ errors into JavaScript exceptions that name the kernel. */
template <class F>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* what, F f) {
  try {
    f();
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string("ferlab native ") + what + ": oneDNN error " + std::to_string(static_cast<int>(e.status)) + ": " + e.what());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("ferlab native ") + what + ": " + e.what());
  }
  return info.Env().Undefined();
}

}  // namespace ferlab
