{
  "targets": [
    {
      "target_name": "floodgate_native",
      "sources": ["src/floodgate_native.c", "src/glibc_c23.c", "src/glibc_c23_napi.c", "src/response_parser.c", "src/response_parser_napi.c", "src/uv_probe.c", "src/tcp_transport.c", "src/uws_socket_key.cc"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
      }
    }
  ]
}
