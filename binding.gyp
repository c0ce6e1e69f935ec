{
  # The native datapath (N-API, C only, native/). Built by `npm run build:native`
  # (scripts/native.mjs: node-gyp, with --nodedir when the running Node's headers are
  # installed beside it); `npm pack` ships that build as prebuilds/linux-x64/node.napi.glibc.node.
  # NAPI_VERSION 8: one binary for every Node the package supports (>= 20).
  # -Werror only where uverbs_werror is true: this project's own builds (scripts/native.mjs
  # build and prebuild set UVERBS_WERROR=1), not the build from source at a user's install,
  # where a newer compiler's new warning would otherwise stop it. It changes no code: the
  # prebuild and a build at install are the same bytes (test/package/pack.test.ts).
  "variables": {
    "uverbs_werror%": "<!(node -p \"process.env.UVERBS_WERROR === '1'\")"
  },
  "targets": [
    {
      "target_name": "uverbs",
      "sources": ["native/addon.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-fstack-protector-strong", "-fvisibility=hidden"],
      "conditions": [["uverbs_werror=='true'", { "cflags": ["-Werror"] }]]
    }
  ]
}
