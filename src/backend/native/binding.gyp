# node-gyp build of ferlab's oneDNN addon (scripts/build-native.mjs runs it during `npm install` / `npm ci` only when a
# C++ compiler and the oneDNN headers are present; Debian: `apt-get install g++ make libdnnl-dev`).
# Output: src/backend/native/build/Release/ferlab_native.node (loaded by src/backend/native/addon.ts).
{
  "targets": [
    {
      "target_name": "ferlab_native",
      "sources": ["addon.cc", "common.cc", "conv.cc", "depthwise.cc", "matmul.cc", "pool.cc", "norm.cc", "eltwise.cc", "peak.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-fopenmp"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
