{
  # The native datapath (N-API, C only). Built by `npm run build:native`
  # against the headers of the Node that runs it (scripts/setup passes --nodedir).
  "targets": [
    {
      "target_name": "uverbs",
      "sources": ["addon.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"]
    }
  ]
}
