/*
 * floodgate_native: tiny N-API addon for the few OS calls Node.js has no API
 * for: getrlimit/setrlimit for RLIMIT_NOFILE, per-thread CPU affinity, _exit.
 *
 * Exports:
 *   version: string
 *   getNofileLimit(): { soft: number, hard: number }
 *   raiseNofileLimit(target?: number): { soft: number, hard: number }
 *   exitImmediately(code: number): never   -- _exit(2), see below
 *   setThreadAffinity(cpus: number[]): number[]   -- pins the CALLING thread
 *   getThreadAffinity(): number[]                 -- the CALLING thread's CPUs
 *   listenReusePort(host, port, backlog): number  -- a SO_REUSEPORT listening fd
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "glibc_c23.h"
#include "response_parser_napi.h"
#include "uv_probe.h"
#include "tcp_transport.h"
#include "uws_socket_key.h"

#ifdef __linux__
#include <sched.h> /* sched_{get,set}affinity, CPU_ALLOC; needs _GNU_SOURCE (binding.gyp) */
#endif

#include <node_api.h>

#define FLOODGATE_NATIVE_VERSION "1.6.0"

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
    case ESRCH: return "ESRCH";
    case ENOMEM: return "ENOMEM";
    default: return "EUNKNOWN";
  }
}

/* Throws `Error("<syscall> <CODE>: <strerror> (<what>)")` with code/errno/syscall
 * set, mirroring Node's system errors. Always returns NULL for convenience. */
static napi_value throw_errno_what(napi_env env, const char *syscall, int err,
                                   const char *what) {
  char msg[256];
  const char *code = errno_name(err);
  snprintf(msg, sizeof msg, "%s %s: %s (%s)", syscall, code, strerror(err), what);

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

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  return throw_errno_what(env, syscall, err, "RLIMIT_NOFILE");
}

/* Like NAPI_CALL's failure branch, for code that must free memory before
 * returning: throws unless an exception is already pending, returns NULL. */
static napi_value napi_failed(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_FLOODGATE_NAPI", what);
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

/*
 * Per-thread CPU affinity.
 *
 * Node has no API for sched_setaffinity(2). On Linux, pid 0 means "the calling
 * thread" (affinity is a per-thread attribute there; glibc's
 * pthread_setaffinity_np is a thin wrapper around the same syscall). An addon
 * function runs synchronously on the JS thread that calls it, so calling
 * setThreadAffinity inside a worker_thread pins that worker's OS thread and
 * nothing else: not the main thread, not other workers, not libuv's pool.
 *
 * Masks are allocated with CPU_ALLOC rather than a fixed cpu_set_t so machines
 * with more than CPU_SETSIZE (1024) CPUs work too.
 */

/* Highest CPU index accepted from JS. Linux's NR_CPUS tops out at 8192; the
 * bound only keeps a bogus argument from allocating a huge mask. */
#define FLOODGATE_MAX_CPU 65535

#ifdef __linux__
/* Reads the calling thread's mask into a freshly CPU_ALLOC'd set, growing it
 * while the kernel says EINVAL (its mask is wider than ours). Returns 0 or an
 * errno value; on success the caller frees *out with CPU_FREE. */
static int get_thread_mask(cpu_set_t **out, size_t *out_size, int *out_ncpus) {
  for (int ncpus = CPU_SETSIZE; ncpus <= 1 << 20; ncpus *= 2) {
    cpu_set_t *set = CPU_ALLOC(ncpus);
    if (set == NULL) return ENOMEM;
    size_t size = CPU_ALLOC_SIZE(ncpus);
    CPU_ZERO_S(size, set);
    if (sched_getaffinity(0, size, set) == 0) {
      *out = set;
      *out_size = size;
      *out_ncpus = ncpus;
      return 0;
    }
    int err = errno;
    CPU_FREE(set);
    if (err != EINVAL) return err;
  }
  return EINVAL;
}

/* The calling thread's mask as a sorted JS array of CPU indexes. */
static napi_value thread_cpu_list(napi_env env) {
  cpu_set_t *set = NULL;
  size_t size = 0;
  int ncpus = 0;
  int err = get_thread_mask(&set, &size, &ncpus);
  if (err != 0) return throw_errno_what(env, "sched_getaffinity", err, "thread CPU affinity");

  napi_value list;
  uint32_t n = 0;
  if (napi_create_array(env, &list) != napi_ok) {
    CPU_FREE(set);
    return napi_failed(env, "N-API call failed: napi_create_array");
  }
  /* size is in bytes, so size * 8 is the number of bits the kernel filled. */
  for (int cpu = 0; cpu < (int)(size * 8); cpu++) {
    if (!CPU_ISSET_S(cpu, size, set)) continue;
    napi_value v;
    if (napi_create_uint32(env, (uint32_t)cpu, &v) != napi_ok ||
        napi_set_element(env, list, n++, v) != napi_ok) {
      CPU_FREE(set);
      return napi_failed(env, "N-API call failed: building the CPU list");
    }
  }
  CPU_FREE(set);
  return list;
}
#endif

/* getThreadAffinity(): number[] -- CPUs the calling thread may run on. */
static napi_value GetThreadAffinity(napi_env env, napi_callback_info info) {
#ifdef __linux__
  return thread_cpu_list(env);
#else
  return throw_errno_what(env, "sched_getaffinity", ENOSYS, "thread CPU affinity is Linux-only");
#endif
}

/* setThreadAffinity(cpus: number[]): number[]
 * Restricts the calling thread to `cpus` (non-empty array of integers in
 * [0, FLOODGATE_MAX_CPU]) and returns the mask the kernel actually applied,
 * read back with sched_getaffinity. CPUs that exist but lie outside the
 * thread's cpuset are dropped by the kernel; if none is left it fails with
 * EINVAL, which is thrown like the rlimit errors above. */
static napi_value SetThreadAffinity(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));

  bool is_array = false;
  if (argc >= 1) NAPI_CALL(env, napi_is_array(env, argv[0], &is_array));
  if (!is_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "setThreadAffinity: cpus must be an array of CPU indexes");
    return NULL;
  }
  uint32_t len = 0;
  NAPI_CALL(env, napi_get_array_length(env, argv[0], &len));
  if (len == 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "setThreadAffinity: cpus must not be empty");
    return NULL;
  }

  /* Validate everything first (and find the widest index) before touching
   * the mask, so a bad element never leaves the thread half-configured. */
  int max_cpu = -1;
  for (uint32_t i = 0; i < len; i++) {
    napi_value el;
    napi_valuetype t;
    double d;
    NAPI_CALL(env, napi_get_element(env, argv[0], i, &el));
    NAPI_CALL(env, napi_typeof(env, el, &t));
    if (t != napi_number) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                            "setThreadAffinity: every CPU index must be a number");
      return NULL;
    }
    NAPI_CALL(env, napi_get_value_double(env, el, &d));
    if (!(d >= 0 && d <= FLOODGATE_MAX_CPU) || d != floor(d)) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                             "setThreadAffinity: CPU indexes must be integers in [0, 65535]");
      return NULL;
    }
    if ((int)d > max_cpu) max_cpu = (int)d;
  }

#ifdef __linux__
  int ncpus = max_cpu + 1;
  cpu_set_t *set = CPU_ALLOC(ncpus);
  if (set == NULL) return throw_errno_what(env, "sched_setaffinity", ENOMEM, "thread CPU affinity");
  size_t size = CPU_ALLOC_SIZE(ncpus);
  CPU_ZERO_S(size, set);
  for (uint32_t i = 0; i < len; i++) {
    napi_value el;
    double d;
    if (napi_get_element(env, argv[0], i, &el) != napi_ok ||
        napi_get_value_double(env, el, &d) != napi_ok) {
      CPU_FREE(set);
      return napi_failed(env, "N-API call failed: reading cpus");
    }
    CPU_SET_S((int)d, size, set);
  }
  int rc = sched_setaffinity(0, size, set);
  int err = errno;
  CPU_FREE(set);
  if (rc != 0) return throw_errno_what(env, "sched_setaffinity", err, "thread CPU affinity");
  return thread_cpu_list(env);
#else
  (void)max_cpu;
  return throw_errno_what(env, "sched_setaffinity", ENOSYS, "thread CPU affinity is Linux-only");
#endif
}

/*
 * listenReusePort(host: string, port: number, backlog: number): number
 * A listening TCP socket with SO_REUSEADDR and SO_REUSEPORT, for net.Server.listen({ fd }):
 * Node 20's net has no reusePort option, and every worker's HTTP/2 front (src/h2/front.ts) must
 * bind the same TLS port, as uSockets does for the uWS listeners. IPv4 or IPv6 literal hosts.
 */
static napi_value ListenReusePort(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char host[64];
  size_t host_len = 0;
  int32_t port = 0, backlog = 511;
  NAPI_CALL(env, napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len));
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &port));
  if (argc >= 3) NAPI_CALL(env, napi_get_value_int32(env, argv[2], &backlog));
  struct sockaddr_storage addr;
  socklen_t addr_len;
  memset(&addr, 0, sizeof addr);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
  int family;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    family = AF_INET;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    addr_len = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    family = AF_INET6;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    addr_len = sizeof *a6;
  } else {
    return throw_errno_what(env, "inet_pton", EINVAL, "listen address must be an IP literal");
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "setsockopt", err);
  }
  if (bind(fd, (struct sockaddr *)&addr, addr_len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err);
  }
  if (listen(fd, backlog) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "listen", err);
  }
  napi_value out;
  NAPI_CALL(env, napi_create_int32(env, fd, &out));
  return out;
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
    {"setThreadAffinity", NULL, SetThreadAffinity, NULL, NULL, NULL, napi_enumerable, NULL},
    {"getThreadAffinity", NULL, GetThreadAffinity, NULL, NULL, NULL, napi_enumerable, NULL},
    {"listenReusePort", NULL, ListenReusePort, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports,
                                        sizeof props / sizeof props[0], props));
  NAPI_CALL(env, fg_c23_define(env, exports));
  NAPI_CALL(env, fg_response_parser_define(env, exports));
  NAPI_CALL(env, fg_uv_probe_define(env, exports));
  NAPI_CALL(env, fg_tcp_transport_define(env, exports));
  NAPI_CALL(env, fg_uws_socket_key_define(env, exports));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
