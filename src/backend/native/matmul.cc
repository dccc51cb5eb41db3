// Matrix products on oneDNN's matmul primitive: C [B, M, N] = op(A) @ op(B) (+ bias [N]) (then ReLU), operands in
// tfjs' row-major layout read in place; transposes are strides (format tags acb / ba), never copies. A batch of 1 on
// one side broadcasts. Primitives are cached by shape and attributes.
#include "common.h"

namespace ferlab {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

struct MatMul {
  dnnl::matmul prim;
  memory a, b, bias, c;
  bool hasBias;
};

thread_local std::unordered_map<std::string, std::unique_ptr<MatMul>> cache;

/**
 * matMul(heap, a, b, bias, c, batchA, batchB, M, K, N, transposeA, transposeB, relu): c [max(batchA, batchB), M, N]
 * = op(a) @ op(b) (+ bias [N], bias < 0: none) (ReLU when relu != 0); a is [batchA, M, K] or, transposed,
 * [batchA, K, M]; b is [batchB, K, N] or [batchB, N, K]. Offsets are bytes into heap.
 */
Napi::Value MatMulFn(const Napi::CallbackInfo& info) {
  return guarded(info, "matMul", [&] {
    uint8_t* heap = heapBase(info[0]);
    int64_t a = argInt(info, 1), b = argInt(info, 2), bias = argInt(info, 3), c = argInt(info, 4);
    int64_t BA = argInt(info, 5), BB = argInt(info, 6), M = argInt(info, 7), K = argInt(info, 8), N = argInt(info, 9);
    bool tA = argInt(info, 10) != 0, tB = argInt(info, 11) != 0, relu = argInt(info, 12) != 0;
    auto& e = cache[shapeKey("matmul", {BA, BB, M, K, N, tA, tB, relu, bias >= 0})];
    if (!e) {
      int64_t BC = std::max(BA, BB);
      memory::desc ad({BA, M, K}, dt::f32, tA ? tag::acb : tag::abc);
      memory::desc bd({BB, K, N}, dt::f32, tB ? tag::acb : tag::abc);
      memory::desc cd({BC, M, N}, dt::f32, tag::abc);
      memory::desc biasd = bias >= 0 ? memory::desc({1, 1, N}, dt::f32, tag::abc) : memory::desc();
      dnnl::primitive_attr attr;
      if (relu) {
        dnnl::post_ops po;
        po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
        attr.set_post_ops(po);
      }
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ad, bd, biasd, cd), attr, engine());
      e.reset(new MatMul{dnnl::matmul(pd), memory(ad, engine(), DNNL_MEMORY_NONE), memory(bd, engine(), DNNL_MEMORY_NONE),
                         bias >= 0 ? memory(biasd, engine(), DNNL_MEMORY_NONE) : memory(), memory(cd, engine(), DNNL_MEMORY_NONE), bias >= 0});
    }
    e->a.set_data_handle(heap + a);
    e->b.set_data_handle(heap + b);
    e->c.set_data_handle(heap + c);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
    if (e->hasBias) {
      e->bias.set_data_handle(heap + bias);
      args[DNNL_ARG_BIAS] = e->bias;
    }
    e->prim.execute(stream(), args);
    stream().wait();
  });
}

}  // namespace

void registerMatmul(Napi::Env env, Napi::Object exports) { exports.Set("matMul", Napi::Function::New(env, MatMulFn)); }

}  // namespace ferlab
