/*
 * A measurement probe, not part of any engine: keep-alive HTTP/1.1 request loops on the worker's
 * own libuv loop (napi_get_uv_event_loop), so bench/micro/engine.ts can price what moving the
 * upstream engine's socket I/O into the addon would save, against the bare net.Socket floor,
 * before anyone builds it (issue 12: "measure it; don't assume it").
 *
 *   probe.uvRequestLoop(port, connections, request: Buffer, responseBytes, durationMs,
 *                       perResponse: 0 | 1 | 2, done: (completed, errors) => void)
 *
 * Each connection writes `request`, counts `responseBytes` of answer as one response (the
 * upstream's response is fixed, as for the floor), and writes the next request until the
 * duration is over. perResponse 0: nothing else (the libuv floor); 1: parse the head with
 * fg_parse_head and call into JS once per response, as a native engine would; 2: only the JS
 * call. Reads go to one reused buffer; nothing is allocated per request.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>
#include <uv.h>

#include "response_parser.h"
#include "uv_probe.h"

struct probe;

struct probe_conn {
  uv_tcp_t tcp;
  uv_connect_t connect;
  struct probe *p;
  size_t got;
};

struct probe {
  napi_env env;
  uv_loop_t *loop;
  napi_ref done_ref;
  napi_ref tick_ref;
  napi_async_context async;
  uint8_t *request;
  size_t request_len;
  size_t response_bytes;
  uint64_t deadline;
  int per_response;
  int open;
  double completed;
  double errors;
  struct probe_conn *conns;
  int32_t ranges[256];
  /* One read buffer per probe (a read is consumed before the next): per thread, never shared. */
  char read_buf[65536];
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct probe_conn *c = h->data;
  buf->base = c->p->read_buf;
  buf->len = sizeof c->p->read_buf;
}

static void call_js(struct probe *p, napi_ref ref, int argc, double a, double b) {
  napi_handle_scope scope;
  napi_open_handle_scope(p->env, &scope);
  napi_value fn, recv, argv[2], result;
  napi_get_reference_value(p->env, ref, &fn);
  napi_get_global(p->env, &recv); /* napi_make_callback needs an object receiver */
  if (argc > 0) {
    napi_create_double(p->env, a, &argv[0]);
    napi_create_double(p->env, b, &argv[1]);
  }
  /* An exception from a probe callback is reported by Node as uncaught, like any callback's. */
  napi_make_callback(p->env, p->async, recv, fn, (size_t)argc, argv, &result);
  napi_close_handle_scope(p->env, scope);
}

static void finish(struct probe *p) {
  call_js(p, p->done_ref, 2, p->completed, p->errors);
  napi_delete_reference(p->env, p->done_ref);
  if (p->tick_ref != NULL) napi_delete_reference(p->env, p->tick_ref);
  napi_async_destroy(p->env, p->async);
  free(p->request);
  free(p->conns);
  free(p);
}

static void on_close(uv_handle_t *h) {
  struct probe_conn *c = h->data;
  struct probe *p = c->p;
  if (--p->open == 0) finish(p);
}

static void close_conn(struct probe_conn *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void send_request(struct probe_conn *c) {
  uv_buf_t b = uv_buf_init((char *)c->p->request, (unsigned)c->p->request_len);
  /* A small request on an idle keep-alive socket: the kernel takes it whole. */
  if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) != (int)c->p->request_len) {
    c->p->errors++;
    close_conn(c);
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct probe_conn *c = s->data;
  struct probe *p = c->p;
  if (nread < 0) {
    p->errors++;
    close_conn(c);
    return;
  }
  c->got += (size_t)nread;
  while (c->got >= p->response_bytes) {
    c->got -= p->response_bytes;
    p->completed++;
    if (p->per_response == 1 && (size_t)nread >= p->response_bytes) {
      /* The head a native engine would parse, from this read. */
      long at = fg_find_head_end((const uint8_t *)buf->base, 0, (size_t)nread);
      struct fg_head_info h;
      h.keep_alive_hint_ms = -1;
      if (at < 0 || fg_parse_head((const uint8_t *)buf->base, 0, (size_t)at + 4, p->ranges, 256, &h) != 0) p->errors++;
    }
    if (p->per_response != 0) call_js(p, p->tick_ref, 0, 0, 0);
    if (uv_now(p->loop) >= p->deadline) {
      close_conn(c);
      return;
    }
    send_request(c);
  }
}

static void on_connect(uv_connect_t *req, int status) {
  struct probe_conn *c = req->data;
  if (status != 0) {
    c->p->errors++;
    close_conn(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  send_request(c);
}

static napi_value UvRequestLoop(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 8) {
    napi_throw_type_error(env, NULL, "uvRequestLoop(port, connections, request, responseBytes, durationMs, perResponse, tick, done)");
    return NULL;
  }
  uint32_t port, conns, response_bytes, duration, per_response;
  void *req_data;
  size_t req_len;
  if (napi_get_value_uint32(env, argv[0], &port) != napi_ok || napi_get_value_uint32(env, argv[1], &conns) != napi_ok ||
      napi_get_buffer_info(env, argv[2], &req_data, &req_len) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &response_bytes) != napi_ok || napi_get_value_uint32(env, argv[4], &duration) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &per_response) != napi_ok || conns == 0 || response_bytes == 0) {
    napi_throw_type_error(env, NULL, "uvRequestLoop: bad arguments");
    return NULL;
  }
  struct probe *p = calloc(1, sizeof *p);
  p->env = env;
  napi_get_uv_event_loop(env, &p->loop);
  p->request = malloc(req_len);
  memcpy(p->request, req_data, req_len);
  p->request_len = req_len;
  p->response_bytes = response_bytes;
  p->per_response = (int)per_response;
  p->deadline = uv_now(p->loop) + duration;
  napi_create_reference(env, argv[6], 1, &p->tick_ref);
  napi_create_reference(env, argv[7], 1, &p->done_ref);
  napi_value name, resource;
  napi_create_string_utf8(env, "floodgate.uvProbe", NAPI_AUTO_LENGTH, &name);
  napi_create_object(env, &resource);
  napi_async_init(env, resource, name, &p->async);
  p->conns = calloc(conns, sizeof *p->conns);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", (int)port, &addr);
  for (uint32_t i = 0; i < conns; i++) {
    struct probe_conn *c = &p->conns[i];
    c->p = p;
    uv_tcp_init(p->loop, &c->tcp);
    c->tcp.data = c;
    c->connect.data = c;
    p->open++;
    if (uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, on_connect) != 0) {
      p->errors++;
      close_conn(c);
    }
  }
  return NULL;
}

napi_status fg_uv_probe_define(napi_env env, napi_value exports) {
  napi_value obj;
  napi_status st = napi_create_object(env, &obj);
  if (st != napi_ok) return st;
  napi_property_descriptor props[] = {
    {"uvRequestLoop", NULL, UvRequestLoop, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  st = napi_define_properties(env, obj, 1, props);
  if (st != napi_ok) return st;
  return napi_set_named_property(env, exports, "probe", obj);
}
