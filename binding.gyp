{
  # The native datapath (N-API, C only, native/). Built by `npm run build:native`
  # (scripts/native.mjs: node-gyp, with --nodedir when the running Node's headers are
  # installed beside it); `npm pack` ships that build as prebuilds/linux-x64/node.napi.glibc.node.
  # NAPI_VERSION 8: one binary for every Node the package supports (>= 20).
  "targets": [
    {
      "target_name": "uverbs",
      "sources": ["native/addon.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"]
    }
  ]
}
