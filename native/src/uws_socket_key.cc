/*
 * uwsSocketKey(res): which connection a uWS.js HttpResponse belongs to, as a number.
 *
 * Why: uWS.js gives JavaScript no connection identity (a new response object per request), and
 * its getRemoteAddress() calls getpeername(2) every time. That syscall was one of five per proxied
 * request and cost ~8 % of a tiny GET's throughput in this VM (README "Performance"). With a key,
 * src/proxy/remote-address.ts formats the client's address once per connection: uWS's connection
 * filter announces each connection (+1) and its end (-1) with a response object bound to it, and
 * requests look their connection up by the same key.
 *
 * How: uWS.js keeps the native uWS::HttpResponse pointer, which is the connection's us_socket_t,
 * in embedder field 0 of every response object it hands out (for the filter's objects too). N-API
 * cannot read another addon's embedder fields, so this one function uses V8's API: a napi_value is
 * a v8::Local<v8::Value> in N-API's V8 implementation (same size, bit-for-bit), and the addon is
 * built against the running node's headers. The pointer is returned as a double (exact: user-space
 * addresses are below 2^53). Anything that is not such an object (an HTTP/2 stream dressed as a
 * response, a plain object) gives 0, which callers read as "no key": they then ask uWS directly.
 *
 * A freed socket's address can be reused by a later connection, so the key alone never decides:
 * remote-address.ts resets its entry at every +1, before that connection's first request.
 */
#include <cstdint>
#include <cstring>

#include <node_api.h>
#include <v8.h>

#include "uws_socket_key.h"

static_assert(sizeof(napi_value) == sizeof(v8::Local<v8::Value>), "napi_value is a v8::Local<v8::Value>");

static napi_value UwsSocketKey(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {nullptr};
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  double key = 0;
  if (argc >= 1 && argv[0] != nullptr) {
    v8::Local<v8::Value> value;
    std::memcpy(static_cast<void *>(&value), &argv[0], sizeof(value));
    if (value->IsObject()) {
      v8::Local<v8::Object> object = value.As<v8::Object>();
      // uWS.js response objects have exactly one embedder field, the native pointer.
      if (object->InternalFieldCount() == 1) {
        key = static_cast<double>(reinterpret_cast<uintptr_t>(object->GetAlignedPointerFromInternalField(0)));
      }
    }
  }
  napi_value out;
  if (napi_create_double(env, key, &out) != napi_ok) return nullptr;
  return out;
}

extern "C" napi_status fg_uws_socket_key_define(napi_env env, napi_value exports) {
  napi_value fn;
  napi_status status = napi_create_function(env, "uwsSocketKey", NAPI_AUTO_LENGTH, UwsSocketKey, nullptr, &fn);
  if (status != napi_ok) return status;
  return napi_set_named_property(env, exports, "uwsSocketKey", fn);
}
