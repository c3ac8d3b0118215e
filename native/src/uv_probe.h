#ifndef FLOODGATE_UV_PROBE_H
#define FLOODGATE_UV_PROBE_H
#include <node_api.h>
/* Adds `probe` { uvRequestLoop } (a benchmark probe, see uv_probe.c) to the addon's exports. */
napi_status fg_uv_probe_define(napi_env env, napi_value exports);
#endif
