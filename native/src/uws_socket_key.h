#ifndef FLOODGATE_UWS_SOCKET_KEY_H
#define FLOODGATE_UWS_SOCKET_KEY_H
#include <node_api.h>
#ifdef __cplusplus
extern "C" {
#endif
/* Adds `uwsSocketKey(res): number` (see uws_socket_key.cc) to the addon's exports. */
napi_status fg_uws_socket_key_define(napi_env env, napi_value exports);
#ifdef __cplusplus
}
#endif
#endif
