/*
 * Strict RFC 9112 response head validation and chunked framing; see response_parser.h. Each
 * branch mirrors src/upstream/response-parser.ts so that both engines refuse the same bytes
 * with the same reason.
 */
#include "response_parser.h"

#include <string.h> /* memmem: _GNU_SOURCE (binding.gyp) */

#define CR 13
#define LF 10
#define SP 32
#define HTAB 9
#define COLON 58
#define SEMI 59
#define COMMA 44

#define MAX_CHUNK_SIZE_DIGITS 13
#define MAX_CHUNK_EXT_BYTES 4096

/* RFC 9110 tchar. */
static const uint8_t TCHAR[256] = {
  ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
  ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
  ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
  ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
  ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
  ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
  ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
  ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
  ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* HTAB, SP, VCHAR, obs-text: what a field value or reason phrase may hold. */
static inline int vchar(uint8_t c) { return c == HTAB || (c >= 0x20 && c != 0x7f); }

static inline int hex(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static inline int ows(uint8_t c) { return c == SP || c == HTAB; }

/* buf[start, end) equals `lower` (lower case, ASCII) ignoring case, as the TS `| 0x20` does. */
static int lower_equals(const uint8_t *buf, size_t start, size_t end, const char *lower, size_t n) {
  if (end - start != n) return 0;
  for (size_t i = 0; i < n; i++)
    if ((uint8_t)(buf[start + i] | 0x20) != (uint8_t)lower[i]) return 0;
  return 1;
}

#define LOWER_EQUALS(buf, s, e, lit) lower_equals((buf), (s), (e), (lit), sizeof(lit) - 1)

static int list_has(const uint8_t *buf, size_t start, size_t end, const char *token, size_t n) {
  size_t i = start;
  while (i < end) {
    while (i < end && (ows(buf[i]) || buf[i] == COMMA)) i++;
    size_t j = i;
    while (j < end && buf[j] != COMMA) j++;
    size_t k = j;
    while (k > i && ows(buf[k - 1])) k--;
    if (lower_equals(buf, i, k, token, n)) return 1;
    i = j + 1;
  }
  return 0;
}

static int list_ends_with(const uint8_t *buf, size_t start, size_t end, const char *token, size_t n) {
  size_t k = end;
  while (k > start && ows(buf[k - 1])) k--;
  size_t i = k;
  while (i > start && buf[i - 1] != COMMA) i--;
  while (i < k && ows(buf[i])) i++;
  return lower_equals(buf, i, k, token, n);
}

/* `timeout=N` seconds in a Keep-Alive value, in ms; -1 when absent or malformed. */
static double keep_alive_timeout(const uint8_t *buf, size_t start, size_t end) {
  for (size_t i = start; i + 8 <= end; i++) {
    if (!LOWER_EQUALS(buf, i, i + 8, "timeout=")) continue;
    if (i > start && buf[i - 1] != SP && buf[i - 1] != COMMA && buf[i - 1] != HTAB) continue;
    double n = 0;
    size_t j = i + 8;
    size_t first = j;
    while (j < end && buf[j] >= '0' && buf[j] <= '9' && j - first < 9) n = n * 10 + (buf[j++] - '0');
    return j == first ? -1 : n * 1000;
  }
  return -1;
}

/* Digits, or a list of identical digit strings. -1 malformed/overflowing, -2 differing values. */
static double parse_length_list(const uint8_t *buf, size_t start, size_t end) {
  double value = -1;
  size_t i = start;
  for (;;) {
    double n = 0;
    int digits = 0;
    while (i < end && buf[i] >= '0' && buf[i] <= '9') {
      n = n * 10 + (buf[i] - '0');
      i++;
      if (++digits > 15) return -1;
    }
    if (digits == 0) return -1;
    if (value != -1 && value != n) return -2;
    value = n;
    while (i < end && ows(buf[i])) i++;
    if (i == end) return value;
    if (buf[i] != COMMA) return -1;
    i++;
    while (i < end && ows(buf[i])) i++;
  }
}

/*
 * The head ends with CRLF CRLF (the caller found it), so every scan below stops at a CR at or
 * before end - 4; the `i >= end` guards are defence only and never change a result.
 */
int fg_parse_head(const uint8_t *buf, size_t start, size_t end, int32_t *ranges, size_t ranges_cap,
                  struct fg_head_info *info) {
  size_t i = start;
  if (end - start < 14 || buf[i] != 'H' || buf[i + 1] != 'T' || buf[i + 2] != 'T' || buf[i + 3] != 'P' ||
      buf[i + 4] != '/')
    return FG_PE_BAD_STATUS_LINE;
  if (buf[i + 5] != '1' || buf[i + 6] != '.' || (buf[i + 7] != '0' && buf[i + 7] != '1'))
    return buf[i + 5] >= '0' && buf[i + 5] <= '9' ? FG_PE_UNSUPPORTED_VERSION : FG_PE_BAD_STATUS_LINE;
  int minor = buf[i + 7] - '0';
  if (buf[i + 8] != SP) return FG_PE_BAD_STATUS_LINE;
  int d0 = buf[i + 9] - '0', d1 = buf[i + 10] - '0', d2 = buf[i + 11] - '0';
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return FG_PE_BAD_STATUS_LINE;
  int status = d0 * 100 + d1 * 10 + d2;
  i += 12;
  if (buf[i] == SP) {
    i++;
    for (;;) {
      if (i >= end) return FG_PE_BAD_STATUS_LINE;
      uint8_t c = buf[i];
      if (c == CR) break;
      if (!vchar(c)) return c == 0 ? FG_PE_NUL : c == LF ? FG_PE_BARE_LF : FG_PE_BAD_STATUS_LINE;
      i++;
    }
  } else if (buf[i] != CR) {
    return FG_PE_BAD_STATUS_LINE;
  }
  if (buf[i + 1] != LF) return FG_PE_BARE_CR;
  i += 2;

  size_t count = 0;
  double content_length = -1;
  int has_te = 0, chunked = 0, close = 0, keep_alive_token = 0;
  while (i < end && buf[i] != CR) {
    uint8_t c0 = buf[i];
    if (ows(c0)) return FG_PE_OBS_FOLD;
    size_t name_start = i;
    while (TCHAR[buf[i]]) i++;
    size_t name_end = i;
    uint8_t c = buf[i];
    if (c != COLON) {
      if (c == CR || c == LF) return FG_PE_NO_COLON;
      if (c == 0) return FG_PE_NUL;
      size_t j = i;
      while (j < end && buf[j] != COLON && buf[j] != CR && buf[j] != LF) j++;
      return j < end && buf[j] == COLON ? FG_PE_BAD_HEADER_NAME : FG_PE_NO_COLON;
    }
    if (name_end == name_start) return FG_PE_BAD_HEADER_NAME;
    i++;
    while (ows(buf[i])) i++;
    size_t value_start = i;
    for (;;) {
      if (i >= end) return FG_PE_BAD_HEADER_VALUE;
      uint8_t v = buf[i];
      if (v == CR) break;
      if (!vchar(v)) return v == 0 ? FG_PE_NUL : v == LF ? FG_PE_BARE_LF : FG_PE_BAD_HEADER_VALUE;
      i++;
    }
    if (buf[i + 1] != LF) return FG_PE_BARE_CR;
    size_t value_end = i;
    while (value_end > value_start && ows(buf[value_end - 1])) value_end--;
    i += 2;

    if (count * 4 + 4 > ranges_cap) return FG_HEAD_GROW;
    int32_t *r = ranges + count * 4;
    r[0] = (int32_t)name_start;
    r[1] = (int32_t)name_end;
    r[2] = (int32_t)value_start;
    r[3] = (int32_t)value_end;
    count++;

    switch (name_end - name_start) {
      case 10:
        if (LOWER_EQUALS(buf, name_start, name_end, "connection")) {
          if (list_has(buf, value_start, value_end, "close", 5)) close = 1;
          if (list_has(buf, value_start, value_end, "keep-alive", 10)) keep_alive_token = 1;
        } else if (LOWER_EQUALS(buf, name_start, name_end, "keep-alive")) {
          info->keep_alive_hint_ms = keep_alive_timeout(buf, value_start, value_end);
        }
        break;
      case 14:
        if (LOWER_EQUALS(buf, name_start, name_end, "content-length")) {
          double n = parse_length_list(buf, value_start, value_end);
          if (n == -1) return FG_PE_BAD_CL;
          if (n == -2 || (content_length != -1 && content_length != n)) return FG_PE_CONFLICTING_CL;
          content_length = n;
        }
        break;
      case 17:
        if (LOWER_EQUALS(buf, name_start, name_end, "transfer-encoding")) {
          has_te = 1;
          chunked = list_ends_with(buf, value_start, value_end, "chunked", 7);
        }
        break;
      default:
        break;
    }
  }
  if (i + 1 >= end || buf[i + 1] != LF) return FG_PE_BARE_CR;
  if (has_te && content_length != -1) return FG_PE_CL_AND_TE;
  info->status = status;
  info->minor = minor;
  info->count = (int)count;
  info->content_length = content_length;
  info->has_te = has_te;
  info->chunked = chunked;
  info->close = close;
  info->keep_alive_token = keep_alive_token;
  return FG_PE_NONE;
}

long fg_find_head_end(const uint8_t *buf, size_t start, size_t len) {
  if (len - start < 4) return -1;
  const uint8_t *at = memmem(buf + start, len - start, "\r\n\r\n", 4);
  return at == NULL ? -1 : (long)(at - buf);
}

static inline void fail(struct fg_chunk_state *st, int error) {
  st->state = FG_S_FAILED;
  st->error = error;
}

size_t fg_chunk_scan(const uint8_t *buf, size_t i, size_t len, struct fg_chunk_state *st) {
  while (i < len) {
    int s = st->state;
    if (s == FG_S_CHUNK_DATA || s == FG_S_DONE || s == FG_S_FAILED || s < FG_S_CHUNK_SIZE) break;
    uint8_t c = buf[i];
    switch (s) {
      case FG_S_CHUNK_SIZE: {
        int h = hex(c);
        if (h >= 0) {
          if (++st->size_digits > MAX_CHUNK_SIZE_DIGITS) {
            fail(st, FG_PE_CHUNK_SIZE_OVERFLOW);
            break;
          }
          st->remaining = st->remaining * 16 + h;
          break;
        }
        if (st->size_digits == 0) {
          fail(st, c == 0 ? FG_PE_NUL : FG_PE_BAD_CHUNK_SIZE);
          break;
        }
        if (c == CR) st->state = FG_S_CHUNK_SIZE_LF;
        else if (c == SEMI) st->state = FG_S_CHUNK_EXT;
        else if (ows(c)) st->state = FG_S_CHUNK_SIZE_WS;
        else fail(st, c == 0 ? FG_PE_NUL : c == LF ? FG_PE_BARE_LF : FG_PE_BAD_CHUNK_SIZE);
        break;
      }
      case FG_S_CHUNK_SIZE_WS:
        if (c == SEMI) st->state = FG_S_CHUNK_EXT;
        else if (!ows(c)) fail(st, FG_PE_BAD_CHUNK_SIZE);
        break;
      case FG_S_CHUNK_EXT:
        if (c == CR) st->state = FG_S_CHUNK_SIZE_LF;
        else if (!vchar(c)) fail(st, c == 0 ? FG_PE_NUL : c == LF ? FG_PE_BARE_LF : FG_PE_BAD_CHUNK_EXT);
        else if (++st->ext_bytes > MAX_CHUNK_EXT_BYTES) fail(st, FG_PE_BAD_CHUNK_EXT);
        break;
      case FG_S_CHUNK_SIZE_LF:
        if (c != LF) {
          fail(st, FG_PE_BARE_CR);
          break;
        }
        if (st->remaining == 0) {
          st->state = FG_S_TRAILER_LINE_START;
          st->trailer_bytes = 0;
        } else {
          st->state = FG_S_CHUNK_DATA;
        }
        break;
      case FG_S_CHUNK_DATA_CR:
        if (c == CR) st->state = FG_S_CHUNK_DATA_LF;
        else fail(st, FG_PE_BAD_CHUNK_FRAMING);
        break;
      case FG_S_CHUNK_DATA_LF:
        if (c != LF) {
          fail(st, FG_PE_BARE_CR);
          break;
        }
        st->state = FG_S_CHUNK_SIZE;
        st->size_digits = 0;
        st->ext_bytes = 0;
        break;
      case FG_S_TRAILER_LINE_START:
        if (c == CR) st->state = FG_S_TRAILER_END_LF;
        else if (ows(c)) fail(st, FG_PE_OBS_FOLD);
        else if (TCHAR[c]) st->state = FG_S_TRAILER_NAME;
        else fail(st, c == 0 ? FG_PE_NUL : c == LF ? FG_PE_BARE_LF : FG_PE_BAD_HEADER_NAME);
        break;
      case FG_S_TRAILER_NAME:
        if (c == COLON) st->state = FG_S_TRAILER_VALUE;
        else if (!TCHAR[c]) fail(st, c == CR || c == LF ? FG_PE_NO_COLON : c == 0 ? FG_PE_NUL : FG_PE_BAD_HEADER_NAME);
        break;
      case FG_S_TRAILER_VALUE:
        if (c == CR) st->state = FG_S_TRAILER_LF;
        else if (!vchar(c)) fail(st, c == 0 ? FG_PE_NUL : c == LF ? FG_PE_BARE_LF : FG_PE_BAD_HEADER_VALUE);
        break;
      case FG_S_TRAILER_LF:
        if (c == LF) st->state = FG_S_TRAILER_LINE_START;
        else fail(st, FG_PE_BARE_CR);
        break;
      case FG_S_TRAILER_END_LF:
        if (c == LF) {
          /* Trailers are checked and dropped: uWS cannot send them to the client. */
          st->state = FG_S_DONE;
          return i + 1;
        }
        fail(st, FG_PE_BARE_CR);
        break;
      default:
        break;
    }
    if (st->state >= FG_S_TRAILER_LINE_START && st->state <= FG_S_TRAILER_END_LF &&
        ++st->trailer_bytes > st->max_trailer_bytes)
      fail(st, FG_PE_TRAILERS_TOO_LARGE);
    i++;
  }
  return i;
}
