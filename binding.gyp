{
  # The native datapath (N-API, C only, native/). Built by `npm run build:native`
  # against the headers of the Node that runs it (scripts/setup passes --nodedir).
  "targets": [
    {
      "target_name": "uverbs",
      "sources": ["native/addon.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"]
    }
  ]
}
