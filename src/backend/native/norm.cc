// Batch normalisation on oneDNN (training forward with batch statistics, full backward), NHWC in place. Not yet
// wired: see the step profile.
#include "common.h"

namespace ferlab {

void registerNorm(Napi::Env, Napi::Object) {}

}  // namespace ferlab
