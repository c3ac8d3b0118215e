/*
 * N-API face of response_parser.c, exported as `responseParser`:
 *
 *   bind(out: Float64Array(10), ranges: Int32Array, state: Float64Array(7)): undefined
 *     The calling thread's scratch arrays, once (and again after growing ranges).
 *   parseHead(buf, start, end): number
 *     0, a ParseError, or -1 (ranges too small: grow it, bind, call again). out[8] is read as
 *     the Keep-Alive hint so far and written back; on 0, out[0..7] = status, minor, count,
 *     contentLength, hasTE, chunked, close, keepAliveToken; ranges holds 4 offsets per header.
 *   scanHead(buf, start, max): number
 *     Finds the head's end (CRLF CRLF) and parses it in the same crossing: -1 not found, -2
 *     longer than max, else the end offset with parseHead's result in out[9].
 *   chunkScan(buf, i): number
 *     state = [state, remaining, sizeDigits, extBytes, trailerBytes, maxTrailerBytes, error]:
 *     runs chunked framing from buf[i], returns the offset reached.
 *
 * The caller (src/upstream/native-kernel.ts) owns every buffer: nothing is allocated here, so a
 * call costs the crossing and the bytes, and no GC work; binding the scratch once keeps a call
 * to a few N-API lookups.
 */
#include <stdint.h>
#include <stdlib.h>

#include <node_api.h>

#include "response_parser.h"
#include "response_parser_napi.h"

#define OUT_SLOTS 10
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

/*
 * The thread's scratch arrays, bound once from JS (bind): results go there instead of being
 * passed in and looked up on every call. Each worker thread has its own napi_env, so its own
 * scratch; references keep the arrays (whose backing stores V8 never moves) alive.
 */
struct scratch {
  double *out;
  int32_t *ranges;
  size_t ranges_cap;
  double *state;
  napi_ref refs[3];
};

static void free_scratch(napi_env env, void *data, void *hint) {
  struct scratch *sc = data;
  for (int k = 0; k < 3; k++)
    if (sc->refs[k] != NULL) napi_delete_reference(env, sc->refs[k]);
  free(sc);
}

static struct scratch *get_scratch(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return data;
}

/* bind(out: Float64Array(9), ranges: Int32Array, state: Float64Array(7)); again after a grow. */
static napi_value Bind(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return throw_type(env, "bind(out, ranges, state)");
  double *out, *state;
  int32_t *ranges;
  size_t out_len, ranges_len, state_len;
  if (!get_typed(env, argv[0], napi_float64_array, (void **)&out, &out_len) || out_len < OUT_SLOTS)
    return throw_type(env, "bind: out must be a Float64Array of 10");
  if (!get_typed(env, argv[1], napi_int32_array, (void **)&ranges, &ranges_len) || ranges_len < 4)
    return throw_type(env, "bind: ranges must be an Int32Array");
  if (!get_typed(env, argv[2], napi_float64_array, (void **)&state, &state_len) || state_len < STATE_SLOTS)
    return throw_type(env, "bind: state must be a Float64Array of 7");
  struct scratch *sc = get_scratch(env);
  if (sc == NULL) {
    sc = calloc(1, sizeof *sc);
    if (sc == NULL || napi_set_instance_data(env, sc, free_scratch, NULL) != napi_ok) {
      free(sc);
      napi_throw_error(env, "ERR_FLOODGATE_NAPI", "bind: out of memory");
      return NULL;
    }
  }
  for (int k = 0; k < 3; k++) {
    if (sc->refs[k] != NULL) napi_delete_reference(env, sc->refs[k]);
    napi_create_reference(env, argv[k], 1, &sc->refs[k]);
  }
  sc->out = out;
  sc->ranges = ranges;
  sc->ranges_cap = ranges_len;
  sc->state = state;
  return NULL;
}

static struct scratch *bound(napi_env env) {
  struct scratch *sc = get_scratch(env);
  if (sc == NULL || sc->out == NULL) napi_throw_error(env, "ERR_FLOODGATE_NAPI", "responseParser.bind() was not called");
  return sc;
}

/* fg_parse_head into the bound scratch; out[8] (the Keep-Alive hint) is read and written. */
static int parse_into_scratch(struct scratch *sc, const uint8_t *buf, size_t start, size_t end) {
  double *out = sc->out;
  struct fg_head_info h;
  h.keep_alive_hint_ms = out[8];
  int rc = fg_parse_head(buf, start, end, sc->ranges, sc->ranges_cap, &h);
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
  return rc;
}

/* parseHead(buf, start, end): results in the bound out and ranges. */
static napi_value ParseHead(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return throw_type(env, "parseHead(buf, start, end)");
  struct scratch *sc = bound(env);
  if (sc == NULL) return NULL;
  const uint8_t *buf;
  size_t len;
  uint32_t start, end;
  if (!get_bytes(env, argv[0], &buf, &len)) return throw_type(env, "parseHead: buf must be a Buffer");
  if (napi_get_value_uint32(env, argv[1], &start) != napi_ok || napi_get_value_uint32(env, argv[2], &end) != napi_ok ||
      start > end || end > len || end - start < 4)
    return throw_type(env, "parseHead: start and end must be offsets in buf");
  /* The head must end with CRLF CRLF: every scan relies on it. */
  if (buf[end - 4] != '\r' || buf[end - 3] != '\n' || buf[end - 2] != '\r' || buf[end - 1] != '\n')
    return throw_type(env, "parseHead: the head must end with CRLF CRLF");

  int rc = parse_into_scratch(sc, buf, start, end);
  napi_value result;
  napi_create_int32(env, rc, &result);
  return result;
}

/*
 * scanHead(buf, start, max): the first read of a head in one crossing. -1: no CRLF CRLF in
 * buf[start..]; -2: there is one, but the head is longer than max; else the head's end, with
 * parseHead's result in out[9].
 */
static napi_value ScanHead(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return throw_type(env, "scanHead(buf, start, max)");
  struct scratch *sc = bound(env);
  if (sc == NULL) return NULL;
  const uint8_t *buf;
  size_t len;
  uint32_t start, max;
  if (!get_bytes(env, argv[0], &buf, &len)) return throw_type(env, "scanHead: buf must be a Buffer");
  if (napi_get_value_uint32(env, argv[1], &start) != napi_ok || start > len || napi_get_value_uint32(env, argv[2], &max) != napi_ok)
    return throw_type(env, "scanHead: bad offset or limit");
  long at = fg_find_head_end(buf, start, len);
  int32_t result;
  if (at < 0) {
    result = -1;
  } else if ((size_t)at + 4 - start > max) {
    result = -2;
  } else {
    sc->out[9] = parse_into_scratch(sc, buf, start, (size_t)at + 4);
    result = (int32_t)(at + 4);
  }
  napi_value v;
  napi_create_int32(env, result, &v);
  return v;
}

/* chunkScan(buf, i): framing state in the bound state array; returns the offset reached. */
static napi_value ChunkScan(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return throw_type(env, "chunkScan(buf, i)");
  struct scratch *sc = bound(env);
  if (sc == NULL) return NULL;
  const uint8_t *buf;
  size_t len;
  uint32_t i;
  if (!get_bytes(env, argv[0], &buf, &len)) return throw_type(env, "chunkScan: buf must be a Buffer");
  if (napi_get_value_uint32(env, argv[1], &i) != napi_ok || i > len) return throw_type(env, "chunkScan: bad offset");
  double *s = sc->state;
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
    {"bind", NULL, Bind, NULL, NULL, NULL, napi_enumerable, NULL},
    {"parseHead", NULL, ParseHead, NULL, NULL, NULL, napi_enumerable, NULL},
    {"scanHead", NULL, ScanHead, NULL, NULL, NULL, napi_enumerable, NULL},
    {"chunkScan", NULL, ChunkScan, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  st = napi_define_properties(env, obj, sizeof props / sizeof props[0], props);
  if (st != napi_ok) return st;
  return napi_set_named_property(env, exports, "responseParser", obj);
}
