#ifndef FLOODGATE_RESPONSE_PARSER_NAPI_H
#define FLOODGATE_RESPONSE_PARSER_NAPI_H
#include <node_api.h>
/* Adds `responseParser` { parseHead, chunkScan } to the addon's exports. */
napi_status fg_response_parser_define(napi_env env, napi_value exports);
#endif
