/*
 * The byte work of the upstream engine's strict HTTP/1.1 response parser (RFC 9112), in plain C
 * with no N-API: validating a complete response head into byte ranges, and running chunked
 * framing (size lines, extensions, CRLFs, trailers). The orchestration (accumulating a split
 * head, body slices, pause/resume, sink calls) stays in src/upstream/response-parser.ts, which
 * calls these through response_parser_napi.c when --upstream-engine native is chosen.
 *
 * Every result must equal the TypeScript kernel's byte for byte: the parity test
 * (test/unit/upstream-parser-parity.test.ts) feeds both the same streams split everywhere.
 */
#ifndef FLOODGATE_RESPONSE_PARSER_H
#define FLOODGATE_RESPONSE_PARSER_H

#include <stddef.h>
#include <stdint.h>

/* ParseError in src/upstream/failures.ts: same numbers, same order. */
enum fg_parse_error {
  FG_PE_NONE = 0,
  FG_PE_BAD_STATUS_LINE,
  FG_PE_UNSUPPORTED_VERSION,
  FG_PE_CL_AND_TE,
  FG_PE_CONFLICTING_CL,
  FG_PE_BAD_CL,
  FG_PE_BAD_CHUNK_SIZE,
  FG_PE_CHUNK_SIZE_OVERFLOW,
  FG_PE_BAD_CHUNK_EXT,
  FG_PE_BAD_CHUNK_FRAMING,
  FG_PE_BARE_CR,
  FG_PE_BARE_LF,
  FG_PE_NUL,
  FG_PE_OBS_FOLD,
  FG_PE_NO_COLON,
  FG_PE_BAD_HEADER_NAME,
  FG_PE_BAD_HEADER_VALUE,
  FG_PE_HEAD_TOO_LARGE,
  FG_PE_TRAILERS_TOO_LARGE,
};

/* fg_parse_head: more header ranges than `ranges_cap` ints hold; grow and call again. */
#define FG_HEAD_GROW (-1)

/* What a valid head says, for the framing decision made in TypeScript. */
struct fg_head_info {
  int status;
  int minor;
  int count;
  double content_length; /* -1: none */
  int has_te;
  int chunked;
  int close;
  int keep_alive_token;
  double keep_alive_hint_ms; /* in: the value so far; out: the last Keep-Alive timeout seen */
};

/*
 * Validates buf[start, end), which ends with CRLF CRLF, and writes four offsets per header
 * (name start/end, value start/end, relative to buf) into ranges. Returns 0, a ParseError, or
 * FG_HEAD_GROW.
 */
int fg_parse_head(const uint8_t *buf, size_t start, size_t end, int32_t *ranges, size_t ranges_cap,
                  struct fg_head_info *info);

/* Offset of the first CRLF CRLF in buf[start, len), or -1. */
long fg_find_head_end(const uint8_t *buf, size_t start, size_t len);

/* The parser's state numbers (const enum S in response-parser.ts). */
enum fg_state {
  FG_S_HEAD = 0,
  FG_S_BODY_LENGTH,
  FG_S_BODY_CLOSE,
  FG_S_CHUNK_SIZE,
  FG_S_CHUNK_SIZE_WS,
  FG_S_CHUNK_EXT,
  FG_S_CHUNK_SIZE_LF,
  FG_S_CHUNK_DATA,
  FG_S_CHUNK_DATA_CR,
  FG_S_CHUNK_DATA_LF,
  FG_S_TRAILER_LINE_START,
  FG_S_TRAILER_NAME,
  FG_S_TRAILER_VALUE,
  FG_S_TRAILER_LF,
  FG_S_TRAILER_END_LF,
  FG_S_DONE,
  FG_S_FAILED,
};

struct fg_chunk_state {
  int state;
  double remaining; /* at most 16^13 = 2^52: exact in a double, as in JS */
  int size_digits;
  int ext_bytes;
  double trailer_bytes;
  double max_trailer_bytes;
  int error; /* out: the ParseError when state becomes FG_S_FAILED */
};

/*
 * Runs chunked framing from buf[i] until the chunk data starts (FG_S_CHUNK_DATA), the response
 * ends (FG_S_DONE, just past the last LF), it fails (FG_S_FAILED) or the input ends. Returns the
 * offset reached.
 */
size_t fg_chunk_scan(const uint8_t *buf, size_t i, size_t len, struct fg_chunk_state *st);

#endif
