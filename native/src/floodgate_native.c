/*
 * floodgate_native: tiny N-API addon exposing getrlimit/setrlimit for
 * RLIMIT_NOFILE, which Node.js has no API for.
 *
 * Exports:
 *   version: string
 *   getNofileLimit(): { soft: number, hard: number }
 *   raiseNofileLimit(target?: number): { soft: number, hard: number }
 *   exitImmediately(code: number): never   -- _exit(2), see below
 *
 * Limits equal to RLIM_INFINITY ("unlimited") are reported as Infinity.
 * raiseNofileLimit only ever raises the soft limit, to min(target ?? hard, hard);
 * it never lowers it and never touches the hard limit. Failures of the
 * underlying syscalls throw a JS Error whose `code` is the errno name
 * (e.g. "EPERM") with `errno` and `syscall` properties, like Node's own
 * system errors.
 *
 * Plain C N-API (no node-addon-api). Built with node-gyp, see ../README.md.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <node_api.h>

#define FLOODGATE_NATIVE_VERSION "1.0.0"

/* Bail out of the current function (returning NULL to JS) if a napi call
 * fails; a pending exception, if any, is left for JS to see. */
#define NAPI_CALL(env, call)                                              \
  do {                                                                    \
    napi_status status_ = (call);                                         \
    if (status_ != napi_ok) {                                             \
      bool pending_ = false;                                              \
      napi_is_exception_pending((env), &pending_);                        \
      if (!pending_) {                                                    \
        napi_throw_error((env), "ERR_FLOODGATE_NAPI",                     \
                         "N-API call failed: " #call);                    \
      }                                                                   \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

static const char *errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case ENOSYS: return "ENOSYS";
    case EACCES: return "EACCES";
    default: return "EUNKNOWN";
  }
}

/* Throws `Error("<syscall> <CODE>: <strerror>")` with code/errno/syscall set,
 * mirroring Node's system errors. Always returns NULL for convenience. */
static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[256];
  const char *code = errno_name(err);
  snprintf(msg, sizeof msg, "%s %s: %s (RLIMIT_NOFILE)", syscall, code,
           strerror(err));

  napi_value js_code, js_msg, js_err, js_errno, js_syscall;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &js_msg) != napi_ok ||
      napi_create_error(env, js_code, js_msg, &js_err) != napi_ok) {
    napi_throw_error(env, code, msg);
    return NULL;
  }
  /* Node uses negative errno values on system errors (uv convention). */
  if (napi_create_int32(env, -err, &js_errno) == napi_ok) {
    napi_set_named_property(env, js_err, "errno", js_errno);
  }
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &js_syscall) == napi_ok) {
    napi_set_named_property(env, js_err, "syscall", js_syscall);
  }
  napi_throw(env, js_err);
  return NULL;
}

static double rlim_to_double(rlim_t v) {
  if (v == RLIM_INFINITY) return INFINITY;
  return (double)v;
}

static napi_value make_limits(napi_env env, const struct rlimit *rl) {
  napi_value obj, soft, hard;
  NAPI_CALL(env, napi_create_object(env, &obj));
  NAPI_CALL(env, napi_create_double(env, rlim_to_double(rl->rlim_cur), &soft));
  NAPI_CALL(env, napi_create_double(env, rlim_to_double(rl->rlim_max), &hard));
  NAPI_CALL(env, napi_set_named_property(env, obj, "soft", soft));
  NAPI_CALL(env, napi_set_named_property(env, obj, "hard", hard));
  return obj;
}

static napi_value GetNofileLimit(napi_env env, napi_callback_info info) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return throw_errno(env, "getrlimit", errno);
  return make_limits(env, &rl);
}

/* raiseNofileLimit(target?: number)
 * target undefined/null -> hard limit. target must otherwise be a number
 * >= 0 (Infinity means "as high as allowed", i.e. the hard limit). */
static napi_value RaiseNofileLimit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));

  bool have_target = false;
  double target = 0;
  if (argc >= 1) {
    napi_valuetype t;
    NAPI_CALL(env, napi_typeof(env, argv[0], &t));
    if (t == napi_number) {
      NAPI_CALL(env, napi_get_value_double(env, argv[0], &target));
      if (isnan(target) || target < 0) {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                               "raiseNofileLimit: target must be a non-negative number");
        return NULL;
      }
      have_target = true;
    } else if (t != napi_undefined && t != napi_null) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                            "raiseNofileLimit: target must be a number or undefined");
      return NULL;
    }
  }

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return throw_errno(env, "getrlimit", errno);

  rlim_t want = rl.rlim_max;
  if (have_target && !isinf(target)) {
    /* Compare in double space first so huge targets cannot overflow rlim_t. */
    double hard_d = rlim_to_double(rl.rlim_max);
    if (target < hard_d) want = (rlim_t)target; /* truncates fractions */
  }

  /* Never lower; only call setrlimit when it changes something. RLIM_INFINITY
   * is the largest rlim_t so plain comparison works for it too. */
  if (want > rl.rlim_cur) {
    struct rlimit next = rl;
    next.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &next) != 0) return throw_errno(env, "setrlimit", errno);
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return throw_errno(env, "getrlimit", errno);
  }
  return make_limits(env, &rl);
}

/*
 * exitImmediately(code): end the process with _exit(2), skipping atexit handlers and Node's
 * worker-thread teardown. uWebSockets.js v20.30 (the build that loads on glibc 2.36) has no
 * App.close(), and Node aborts the process ("uv_loop_close() while having open handles") when a
 * worker thread that still holds uWS sockets is torn down. Once the gateway has drained and
 * flushed its logs there is nothing left to tear down gracefully: the kernel closes the sockets.
 */
static napi_value ExitImmediately(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t code = 0;
  if (argc >= 1) NAPI_CALL(env, napi_get_value_int32(env, argv[0], &code));
  fflush(NULL);
  _exit(code & 0xff);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value version;
  NAPI_CALL(env, napi_create_string_utf8(env, FLOODGATE_NATIVE_VERSION,
                                         NAPI_AUTO_LENGTH, &version));
  napi_property_descriptor props[] = {
    {"version", NULL, NULL, NULL, NULL, version, napi_enumerable, NULL},
    {"getNofileLimit", NULL, GetNofileLimit, NULL, NULL, NULL, napi_enumerable, NULL},
    {"raiseNofileLimit", NULL, RaiseNofileLimit, NULL, NULL, NULL, napi_enumerable, NULL},
    {"exitImmediately", NULL, ExitImmediately, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports,
                                        sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
