/*
 * N-API face of response_parser.c, exported as `responseParser`:
 *
 *   parseHead(buf, start, end, ranges: Int32Array, out: Float64Array): number
 *     0, a ParseError, or -1 (ranges too small: grow it and call again). out[8] is read as the
 *     Keep-Alive hint so far and written back; on 0, out[0..7] = status, minor, count,
 *     contentLength, hasTE, chunked, close, keepAliveToken.
 *   chunkScan(buf, i, state: Float64Array): number
 *     state = [state, remaining, sizeDigits, extBytes, trailerBytes, maxTrailerBytes, error]:
 *     runs chunked framing from buf[i], returns the offset reached.
 *
 * The caller (src/upstream/native-kernel.ts) owns every buffer: nothing is allocated here, so a
 * call costs the crossing and the bytes, and no GC work.
 */
#include <stdint.h>
#include <stdlib.h>

#include <node_api.h>

#include "response_parser.h"
#include "response_parser_napi.h"

#define OUT_SLOTS 9
#define STATE_SLOTS 7

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static int get_bytes(napi_env env, napi_value v, const uint8_t **data, size_t *len) {
  void *p = NULL;
  if (napi_get_buffer_info(env, v, &p, len) != napi_ok) return 0;
  *data = p;
  return 1;
}

static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &offset) != napi_ok) return 0;
  return type == want;
}

static napi_value ParseHead(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5)
    return throw_type(env, "parseHead(buf, start, end, ranges, out)");
  const uint8_t *buf;
  size_t len, ranges_len, out_len;
  int32_t *ranges;
  double *out;
  uint32_t start, end;
  if (!get_bytes(env, argv[0], &buf, &len)) return throw_type(env, "parseHead: buf must be a Buffer");
  if (napi_get_value_uint32(env, argv[1], &start) != napi_ok || napi_get_value_uint32(env, argv[2], &end) != napi_ok ||
      start > end || end > len || end - start < 4)
    return throw_type(env, "parseHead: start and end must be offsets in buf");
  if (!get_typed(env, argv[3], napi_int32_array, (void **)&ranges, &ranges_len))
    return throw_type(env, "parseHead: ranges must be an Int32Array");
  if (!get_typed(env, argv[4], napi_float64_array, (void **)&out, &out_len) || out_len < OUT_SLOTS)
    return throw_type(env, "parseHead: out must be a Float64Array of 9");
  /* The head must end with CRLF CRLF: every scan relies on it. */
  if (buf[end - 4] != '\r' || buf[end - 3] != '\n' || buf[end - 2] != '\r' || buf[end - 1] != '\n')
    return throw_type(env, "parseHead: the head must end with CRLF CRLF");

  struct fg_head_info h;
  h.keep_alive_hint_ms = out[8];
  int rc = fg_parse_head(buf, start, end, ranges, ranges_len, &h);
  out[8] = h.keep_alive_hint_ms;
  if (rc == 0) {
    out[0] = h.status;
    out[1] = h.minor;
    out[2] = h.count;
    out[3] = h.content_length;
    out[4] = h.has_te;
    out[5] = h.chunked;
    out[6] = h.close;
    out[7] = h.keep_alive_token;
  }
  napi_value result;
  napi_create_int32(env, rc, &result);
  return result;
}

static napi_value ChunkScan(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return throw_type(env, "chunkScan(buf, i, state)");
  const uint8_t *buf;
  size_t len, st_len;
  uint32_t i;
  double *s;
  if (!get_bytes(env, argv[0], &buf, &len)) return throw_type(env, "chunkScan: buf must be a Buffer");
  if (napi_get_value_uint32(env, argv[1], &i) != napi_ok || i > len) return throw_type(env, "chunkScan: bad offset");
  if (!get_typed(env, argv[2], napi_float64_array, (void **)&s, &st_len) || st_len < STATE_SLOTS)
    return throw_type(env, "chunkScan: state must be a Float64Array of 7");
  struct fg_chunk_state st = {
    .state = (int)s[0],
    .remaining = s[1],
    .size_digits = (int)s[2],
    .ext_bytes = (int)s[3],
    .trailer_bytes = s[4],
    .max_trailer_bytes = s[5],
    .error = 0,
  };
  size_t next = fg_chunk_scan(buf, i, len, &st);
  s[0] = st.state;
  s[1] = st.remaining;
  s[2] = st.size_digits;
  s[3] = st.ext_bytes;
  s[4] = st.trailer_bytes;
  s[6] = st.error;
  napi_value result;
  napi_create_uint32(env, (uint32_t)next, &result);
  return result;
}

napi_status fg_response_parser_define(napi_env env, napi_value exports) {
  napi_value obj;
  napi_status st = napi_create_object(env, &obj);
  if (st != napi_ok) return st;
  napi_property_descriptor props[] = {
    {"parseHead", NULL, ParseHead, NULL, NULL, NULL, napi_enumerable, NULL},
    {"chunkScan", NULL, ChunkScan, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  st = napi_define_properties(env, obj, sizeof props / sizeof props[0], props);
  if (st != napi_ok) return st;
  return napi_set_named_property(env, exports, "responseParser", obj);
}
