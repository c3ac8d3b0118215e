/*
 * Test bindings for glibc_c23.c: each C23 function beside libc's own C99 one, called on the same
 * input, so test/unit/uws-compat.test.ts can check that they agree wherever C23 changed nothing
 * and differ exactly where it did ("0b" literals).
 *
 *   c23.exported: boolean               -- whether __isoc23_* are exported by this build
 *   c23.strtol(s, base) / c23.libcStrtol(s, base)   -> { value: bigint, end: number, erange: boolean }
 *   c23.strtoul(s, base) / c23.libcStrtoul(s, base) -> { value: bigint, end: number, erange: boolean }
 *   c23.sscanf(s, fmt) / c23.libcSscanf(s, fmt)     -> [count, v0, v1, v2, v3] (bigints)
 *     fmt may hold at most four conversions, each storing a long (%ld, %li, %lx, %lo, %lu).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glibc_c23.h"

#define MAX_INPUT 256

static int read_string(napi_env env, napi_value v, char *buf) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, MAX_INPUT, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a string");
    return 0;
  }
  return 1;
}

typedef long (*signed_fn)(const char *, char **, int);
typedef unsigned long (*unsigned_fn)(const char *, char **, int);

static napi_value result(napi_env env, napi_value value, ptrdiff_t end, int erange) {
  napi_value obj, endv, er;
  napi_create_object(env, &obj);
  napi_create_int64(env, (int64_t)end, &endv);
  napi_get_boolean(env, erange, &er);
  napi_set_named_property(env, obj, "value", value);
  napi_set_named_property(env, obj, "end", endv);
  napi_set_named_property(env, obj, "erange", er);
  return obj;
}

static int read_args(napi_env env, napi_callback_info info, char *s, int *base) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || !read_string(env, argv[0], s)) return 0;
  if (napi_get_value_int32(env, argv[1], base) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "base must be a number");
    return 0;
  }
  return 1;
}

static napi_value call_signed(napi_env env, napi_callback_info info, signed_fn fn) {
  char s[MAX_INPUT];
  int base;
  if (!read_args(env, info, s, &base)) return NULL;
  char *end = NULL;
  errno = 0;
  long v = fn(s, &end, base);
  int erange = errno == ERANGE;
  napi_value value;
  napi_create_bigint_int64(env, (int64_t)v, &value);
  return result(env, value, end - s, erange);
}

static napi_value call_unsigned(napi_env env, napi_callback_info info, unsigned_fn fn) {
  char s[MAX_INPUT];
  int base;
  if (!read_args(env, info, s, &base)) return NULL;
  char *end = NULL;
  errno = 0;
  unsigned long v = fn(s, &end, base);
  int erange = errno == ERANGE;
  napi_value value;
  napi_create_bigint_uint64(env, (uint64_t)v, &value);
  return result(env, value, end - s, erange);
}

static napi_value C23Strtol(napi_env env, napi_callback_info info) { return call_signed(env, info, fg_c23_strtol); }
static napi_value LibcStrtol(napi_env env, napi_callback_info info) { return call_signed(env, info, strtol); }
static napi_value C23Strtoul(napi_env env, napi_callback_info info) { return call_unsigned(env, info, fg_c23_strtoul); }
static napi_value LibcStrtoul(napi_env env, napi_callback_info info) { return call_unsigned(env, info, strtoul); }

static int c23_sscanf(const char *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = fg_c23_vsscanf(s, fmt, ap);
  va_end(ap);
  return n;
}

/* Only long-storing conversions are allowed, so four long* are always the right arguments. */
static int longs_only(const char *fmt) {
  int conversions = 0;
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') continue;
    if (p[1] == '%') { p++; continue; }
    if (p[1] != 'l' || strchr("dixou", p[2]) == NULL || p[2] == '\0') return 0;
    conversions++;
    p += 2;
  }
  return conversions <= 4;
}

static napi_value call_sscanf(napi_env env, napi_callback_info info, int use_c23) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char s[MAX_INPUT], fmt[MAX_INPUT];
  if (argc < 2 || !read_string(env, argv[0], s) || !read_string(env, argv[1], fmt)) return NULL;
  if (!longs_only(fmt)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "format must hold at most four %l[dixou] conversions");
    return NULL;
  }
  long v[4] = {0, 0, 0, 0};
  int n = use_c23 ? c23_sscanf(s, fmt, &v[0], &v[1], &v[2], &v[3]) : sscanf(s, fmt, &v[0], &v[1], &v[2], &v[3]);
  napi_value arr, item;
  napi_create_array_with_length(env, 5, &arr);
  napi_create_int32(env, n, &item);
  napi_set_element(env, arr, 0, item);
  for (int i = 0; i < 4; i++) {
    napi_create_bigint_int64(env, (int64_t)v[i], &item);
    napi_set_element(env, arr, (uint32_t)i + 1, item);
  }
  return arr;
}

static napi_value C23Sscanf(napi_env env, napi_callback_info info) { return call_sscanf(env, info, 1); }
static napi_value LibcSscanf(napi_env env, napi_callback_info info) { return call_sscanf(env, info, 0); }

napi_status fg_c23_define(napi_env env, napi_value exports) {
  napi_value obj, exported;
  napi_status st = napi_create_object(env, &obj);
  if (st != napi_ok) return st;
  napi_get_boolean(env, fg_c23_exported(), &exported);
  napi_property_descriptor props[] = {
    {"exported", NULL, NULL, NULL, NULL, exported, napi_enumerable, NULL},
    {"strtol", NULL, C23Strtol, NULL, NULL, NULL, napi_enumerable, NULL},
    {"libcStrtol", NULL, LibcStrtol, NULL, NULL, NULL, napi_enumerable, NULL},
    {"strtoul", NULL, C23Strtoul, NULL, NULL, NULL, napi_enumerable, NULL},
    {"libcStrtoul", NULL, LibcStrtoul, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sscanf", NULL, C23Sscanf, NULL, NULL, NULL, napi_enumerable, NULL},
    {"libcSscanf", NULL, LibcSscanf, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  st = napi_define_properties(env, obj, sizeof props / sizeof props[0], props);
  if (st != napi_ok) return st;
  return napi_set_named_property(env, exports, "c23", obj);
}
