#ifndef FLOODGATE_TCP_TRANSPORT_H
#define FLOODGATE_TCP_TRANSPORT_H
#include <node_api.h>
/* Adds `transport` (upstream TCP sockets on this thread's libuv loop, see tcp_transport.c). */
napi_status fg_tcp_transport_define(napi_env env, napi_value exports);
#endif
