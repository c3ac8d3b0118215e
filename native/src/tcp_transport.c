/*
 * Upstream TCP sockets on the worker's own libuv loop (napi_get_uv_event_loop), for
 * `--upstream-engine native` (src/upstream/native-socket.ts is the JS side).
 *
 * Why: a node `net.Socket` puts every request through the stream layer twice, once to write the
 * request head (Writable, a WriteWrap, StreamBase::WriteString) and once per read (LibuvStreamWrap,
 * onStreamRead). Here a write is one call that copies the bytes and tries the socket at once, and a
 * read is one call into JS with the byte count: the bytes are in one read buffer per thread, a JS
 * Buffer given to init(), which the parser reads in place (the contract of node's `onread`).
 *
 * Exports `transport`:
 *   init(readBuffer: Buffer, onRead(slot, bytes), onEvent(slot, kind, status))   once per thread
 *   connect(ip: string, port: number): slot >= 0, or a negative libuv error code
 *   write(slot, a, b?, c?, d?): 1 written whole, 0 queued ('drain' event follows), < 0 error
 *       each piece a latin1 string or a Buffer; the pieces go out in one writev
 *   readStop(slot) / readStart(slot)
 *   close(slot): no callback for this slot ever again; the slot is reused after libuv closes it
 *   errorName(status): libuv's name for an error code ("ECONNREFUSED")
 * Event kinds: 1 connected (status 0) or connect failed (status < 0), 2 EOF, 3 read error,
 * 4 drain (queued writes are out), 5 write error (a queued write failed).
 *
 * Nothing is allocated per request: the read buffer and a string scratch buffer are per thread,
 * and a write the kernel takes whole (the common case for a request head) needs no request
 * object. Only the rest of a partial write is copied into a uv_write request.
 */
#include <stdlib.h>
#include <string.h>

#include <node_api.h>
#include <uv.h>

#include "tcp_transport.h"

enum { EV_CONNECT = 1, EV_EOF = 2, EV_READ_ERROR = 3, EV_DRAIN = 4, EV_WRITE_ERROR = 5 };
#define MAX_PIECES 4

struct fg_transport;

struct fg_conn {
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  struct fg_transport *t;
  int32_t slot;
  int closing;
  /* uv_write requests not yet completed: a new write must queue behind them. */
  int32_t queued_writes;
};

struct fg_write_req {
  uv_write_t req;
  struct fg_conn *c;
  char data[];
};

struct fg_transport {
  napi_env env;
  uv_loop_t *loop;
  napi_ref on_read;
  napi_ref on_event;
  napi_ref read_buffer;
  napi_ref receiver;
  napi_async_context async;
  char *read_base;
  size_t read_len;
  /* Latin1 bytes of the string pieces of one write. */
  char *scratch;
  size_t scratch_len;
  struct fg_conn **slots;
  int32_t slot_count;
  /* Free slots, a stack of indexes. */
  int32_t *free_slots;
  int32_t free_count;
  int32_t open;
  /* The thread is going away (async_cleanup): the last close callback ends the cleanup. */
  int cleaned;
  napi_async_cleanup_hook_handle cleanup_handle;
};

static void finish_cleanup(struct fg_transport *t);

static struct fg_transport *transport_of(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, NULL, &data) != napi_ok) return NULL;
  return data;
}

static void call_js(struct fg_transport *t, napi_ref fn_ref, int32_t slot, double a, double b, int argc) {
  napi_env env = t->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[3], result;
  napi_get_reference_value(env, fn_ref, &fn);
  napi_get_reference_value(env, t->receiver, &recv);
  napi_create_int32(env, slot, &argv[0]);
  napi_create_double(env, a, &argv[1]);
  napi_create_double(env, b, &argv[2]);
  /* make_callback, not call_function: it runs the microtasks and nextTicks the callback queued,
   * as node does after any I/O callback. */
  if (napi_make_callback(env, t->async, recv, fn, (size_t)argc, argv, &result) == napi_pending_exception) {
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

static void emit(struct fg_conn *c, int kind, int status) {
  call_js(c->t, c->t->on_event, c->slot, kind, status, 3);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct fg_conn *c = h->data;
  buf->base = c->t->read_base;
  buf->len = c->t->read_len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct fg_conn *c = s->data;
  if (c->closing || nread == 0) return;
  if (nread > 0) {
    call_js(c->t, c->t->on_read, c->slot, (double)nread, 0, 2);
    return;
  }
  uv_read_stop(s);
  emit(c, nread == UV_EOF ? EV_EOF : EV_READ_ERROR, nread == UV_EOF ? 0 : (int)nread);
}

static void on_connect(uv_connect_t *req, int status) {
  struct fg_conn *c = req->data;
  if (c->closing) return;
  if (status == 0) {
    uv_tcp_nodelay(&c->tcp, 1);
    status = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  }
  emit(c, EV_CONNECT, status);
}

static void on_closed(uv_handle_t *h) {
  struct fg_conn *c = h->data;
  struct fg_transport *t = c->t;
  t->slots[c->slot] = NULL;
  t->free_slots[t->free_count++] = c->slot;
  t->open--;
  free(c);
  if (t->cleaned && t->open == 0) finish_cleanup(t);
}

static void on_written(uv_write_t *req, int status) {
  struct fg_write_req *w = (struct fg_write_req *)req;
  struct fg_conn *c = w->c;
  free(w);
  c->queued_writes--;
  if (c->closing) return;
  if (status < 0) emit(c, EV_WRITE_ERROR, status);
  else if (c->queued_writes == 0) emit(c, EV_DRAIN, 0);
}

static struct fg_conn *conn_at(struct fg_transport *t, napi_env env, napi_value v) {
  int32_t slot;
  if (t == NULL || napi_get_value_int32(env, v, &slot) != napi_ok || slot < 0 || slot >= t->slot_count) return NULL;
  struct fg_conn *c = t->slots[slot];
  return c != NULL && !c->closing ? c : NULL;
}

static napi_value int_value(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

static napi_value Init(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  struct fg_transport *t = transport_of(env, info, &argc, argv);
  void *base;
  size_t len;
  if (t == NULL || argc < 3 || napi_get_buffer_info(env, argv[0], &base, &len) != napi_ok || len == 0) {
    napi_throw_type_error(env, NULL, "transport.init(readBuffer, onRead, onEvent)");
    return NULL;
  }
  if (t->on_read != NULL) {
    napi_throw_error(env, NULL, "transport.init: already initialised on this thread");
    return NULL;
  }
  napi_create_reference(env, argv[0], 1, &t->read_buffer);
  napi_create_reference(env, argv[1], 1, &t->on_read);
  napi_create_reference(env, argv[2], 1, &t->on_event);
  napi_value recv, name;
  napi_create_object(env, &recv);
  napi_create_reference(env, recv, 1, &t->receiver);
  napi_create_string_utf8(env, "floodgate.upstreamSocket", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, recv, name, &t->async);
  t->read_base = base;
  t->read_len = len;
  return NULL;
}

static int grow_slots(struct fg_transport *t) {
  int32_t n = t->slot_count == 0 ? 64 : t->slot_count * 2;
  struct fg_conn **slots = realloc(t->slots, sizeof *slots * (size_t)n);
  if (slots == NULL) return -1;
  t->slots = slots;
  int32_t *free_slots = realloc(t->free_slots, sizeof *free_slots * (size_t)n);
  if (free_slots == NULL) return -1;
  t->free_slots = free_slots;
  /* Highest index on top is fine: order does not matter. */
  for (int32_t i = n - 1; i >= t->slot_count; i--) {
    slots[i] = NULL;
    free_slots[t->free_count++] = i;
  }
  t->slot_count = n;
  return 0;
}

static napi_value Connect(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  struct fg_transport *t = transport_of(env, info, &argc, argv);
  char ip[64];
  size_t ip_len;
  int32_t port;
  if (t == NULL || t->on_read == NULL || argc < 2 || napi_get_value_string_utf8(env, argv[0], ip, sizeof ip, &ip_len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok) {
    napi_throw_type_error(env, NULL, "transport.connect(ip, port) after init");
    return NULL;
  }
  struct sockaddr_storage addr;
  int rc = uv_ip4_addr(ip, port, (struct sockaddr_in *)&addr);
  if (rc != 0) rc = uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&addr);
  if (rc != 0) return int_value(env, rc);
  if (t->free_count == 0 && grow_slots(t) != 0) return int_value(env, UV_ENOMEM);
  struct fg_conn *c = calloc(1, sizeof *c);
  if (c == NULL) return int_value(env, UV_ENOMEM);
  rc = uv_tcp_init(t->loop, &c->tcp);
  if (rc != 0) {
    free(c);
    return int_value(env, rc);
  }
  c->t = t;
  c->slot = t->free_slots[--t->free_count];
  c->tcp.data = c;
  c->connect_req.data = c;
  t->slots[c->slot] = c;
  t->open++;
  rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&addr, on_connect);
  if (rc != 0) {
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    return int_value(env, rc);
  }
  return int_value(env, c->slot);
}

/* The scratch buffer holds at least `need` bytes, keeping what it holds. */
static int reserve_scratch(struct fg_transport *t, size_t need) {
  if (need <= t->scratch_len) return 0;
  size_t n = t->scratch_len == 0 ? 16384 : t->scratch_len;
  while (n < need) n *= 2;
  /* realloc: earlier pieces of the same write may already be in it. */
  char *s = realloc(t->scratch, n);
  if (s == NULL) return -1;
  t->scratch = s;
  t->scratch_len = n;
  return 0;
}

static napi_value Write(napi_env env, napi_callback_info info) {
  size_t argc = 1 + MAX_PIECES;
  napi_value argv[1 + MAX_PIECES];
  struct fg_transport *t = transport_of(env, info, &argc, argv);
  struct fg_conn *c = argc >= 2 ? conn_at(t, env, argv[0]) : NULL;
  if (c == NULL) return int_value(env, UV_EBADF);
  size_t pieces = argc - 1;
  uv_buf_t bufs[MAX_PIECES];
  /* String pieces are copied into the scratch buffer one after the other; their lengths are
   * known only once copied, so offsets are fixed up after. */
  size_t string_bytes = 0;
  int is_string[MAX_PIECES];
  size_t total = 0;
  for (size_t i = 0; i < pieces; i++) {
    napi_value v = argv[i + 1];
    bool is_buffer = false;
    napi_is_buffer(env, v, &is_buffer);
    is_string[i] = !is_buffer;
    if (is_buffer) {
      void *data;
      size_t len;
      napi_get_buffer_info(env, v, &data, &len);
      bufs[i] = uv_buf_init(data, (unsigned)len);
    } else {
      /* Copy into what the scratch buffer has left; only a string that may not have fit (it
       * filled the room) is measured and copied again, so a request head costs one call. */
      size_t len = 0;
      if (t->scratch_len < string_bytes + 2 && reserve_scratch(t, string_bytes + 2) != 0) return int_value(env, UV_ENOMEM);
      size_t room = t->scratch_len - string_bytes;
      if (napi_get_value_string_latin1(env, v, t->scratch + string_bytes, room, &len) != napi_ok) {
        napi_throw_type_error(env, NULL, "transport.write: pieces are strings or Buffers");
        return NULL;
      }
      if (len + 1 >= room) {
        if (napi_get_value_string_latin1(env, v, NULL, 0, &len) != napi_ok) return int_value(env, UV_EINVAL);
        if (reserve_scratch(t, string_bytes + len + 1) != 0) return int_value(env, UV_ENOMEM);
        napi_get_value_string_latin1(env, v, t->scratch + string_bytes, len + 1, &len);
      }
      bufs[i] = uv_buf_init(NULL, (unsigned)len);
      bufs[i].base = (char *)(uintptr_t)string_bytes; /* an offset until the copies are done */
      string_bytes += len;
    }
    total += bufs[i].len;
  }
  for (size_t i = 0; i < pieces; i++) if (is_string[i]) bufs[i].base = t->scratch + (uintptr_t)bufs[i].base;
  if (total == 0) return int_value(env, 1);
  size_t done = 0;
  if (c->queued_writes == 0) {
    int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)pieces);
    if (n < 0 && n != UV_EAGAIN) return int_value(env, n);
    if (n > 0) done = (size_t)n;
    if (done == total) return int_value(env, 1);
  }
  /* The kernel took part of it (or writes are queued): the rest goes into a request of its own. */
  struct fg_write_req *w = malloc(sizeof *w + (total - done));
  if (w == NULL) return int_value(env, UV_ENOMEM);
  size_t at = 0, skip = done;
  for (size_t i = 0; i < pieces; i++) {
    size_t len = bufs[i].len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    memcpy(w->data + at, bufs[i].base + skip, len - skip);
    at += len - skip;
    skip = 0;
  }
  w->c = c;
  uv_buf_t rest = uv_buf_init(w->data, (unsigned)at);
  int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &rest, 1, on_written);
  if (rc != 0) {
    free(w);
    return int_value(env, rc);
  }
  c->queued_writes++;
  return int_value(env, 0);
}

static napi_value ReadStop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct fg_transport *t = transport_of(env, info, &argc, argv);
  struct fg_conn *c = argc >= 1 ? conn_at(t, env, argv[0]) : NULL;
  if (c != NULL) uv_read_stop((uv_stream_t *)&c->tcp);
  return NULL;
}

static napi_value ReadStart(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct fg_transport *t = transport_of(env, info, &argc, argv);
  struct fg_conn *c = argc >= 1 ? conn_at(t, env, argv[0]) : NULL;
  int rc = c == NULL ? UV_EBADF : uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  return int_value(env, rc);
}

static void close_conn(struct fg_conn *c) {
  if (c->closing) return;
  c->closing = 1;
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct fg_transport *t = transport_of(env, info, &argc, argv);
  struct fg_conn *c = argc >= 1 ? conn_at(t, env, argv[0]) : NULL;
  if (c != NULL) close_conn(c);
  return NULL;
}

static napi_value ErrorName(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t code = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) napi_get_value_int32(env, argv[0], &code);
  napi_create_string_utf8(env, uv_err_name(code), NAPI_AUTO_LENGTH, &out);
  return out;
}

/*
 * The thread is going away. An async cleanup hook, because closing a libuv handle completes in a
 * later loop turn with a call into this library: node waits for napi_remove_async_cleanup_hook
 * before it tears the environment down and unloads the addon (a plain cleanup hook crashed a
 * worker on exit, in a close callback of an unloaded library). Callbacks that arrive meanwhile
 * see `closing` and never call into JS.
 */
static void async_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  struct fg_transport *t = arg;
  t->cleanup_handle = handle;
  t->cleaned = 1;
  for (int32_t i = 0; i < t->slot_count; i++) if (t->slots[i] != NULL) close_conn(t->slots[i]);
  if (t->on_read != NULL) {
    napi_delete_reference(t->env, t->on_read);
    napi_delete_reference(t->env, t->on_event);
    napi_delete_reference(t->env, t->read_buffer);
    napi_delete_reference(t->env, t->receiver);
    napi_async_destroy(t->env, t->async);
    t->on_read = NULL;
  }
  free(t->scratch);
  t->scratch = NULL;
  t->scratch_len = 0;
  if (t->open == 0) finish_cleanup(t);
}

static void finish_cleanup(struct fg_transport *t) {
  napi_remove_async_cleanup_hook(t->cleanup_handle);
  free(t->slots);
  free(t->free_slots);
  free(t);
}

napi_status fg_tcp_transport_define(napi_env env, napi_value exports) {
  struct fg_transport *t = calloc(1, sizeof *t);
  if (t == NULL) return napi_generic_failure;
  t->env = env;
  napi_value obj;
  napi_status st = napi_get_uv_event_loop(env, &t->loop);
  if (st == napi_ok) st = napi_create_object(env, &obj);
  if (st != napi_ok) {
    /* Nothing refers to t yet (the cleanup hook comes last). */
    free(t);
    return st;
  }
  napi_property_descriptor props[] = {
    {"init", NULL, Init, NULL, NULL, NULL, napi_enumerable, t},
    {"connect", NULL, Connect, NULL, NULL, NULL, napi_enumerable, t},
    {"write", NULL, Write, NULL, NULL, NULL, napi_enumerable, t},
    {"readStop", NULL, ReadStop, NULL, NULL, NULL, napi_enumerable, t},
    {"readStart", NULL, ReadStart, NULL, NULL, NULL, napi_enumerable, t},
    {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, t},
    {"errorName", NULL, ErrorName, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  st = napi_define_properties(env, obj, sizeof props / sizeof props[0], props);
  if (st != napi_ok) {
    /* obj never reaches JS: nothing can call its functions. */
    free(t);
    return st;
  }
  st = napi_add_async_cleanup_hook(env, async_cleanup, t, NULL);
  if (st != napi_ok) {
    free(t);
    return st;
  }
  return napi_set_named_property(env, exports, "transport", obj);
}
