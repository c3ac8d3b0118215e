/*
 * The three C23 entry points that uWebSockets.js v20.57's Linux binary imports from glibc 2.38:
 * __isoc23_strtol, __isoc23_strtoul and __isoc23_sscanf.
 *
 * glibc 2.38 added them because C23 changed two things: strtol/strtoul with base 0 or 2 accept a
 * "0b"/"0B" prefix, and the scanf family gained %b and accepts "0b" for %i. A compiler targeting
 * glibc >= 2.38 with _GNU_SOURCE redirects every strtol/sscanf call to these names, which is why
 * the uWS binary needs GLIBC_2.38 for nothing else.
 *
 * On an older glibc (Debian 12 has 2.36) the installer relaxes the binary's version needs for these
 * three symbols (native/uws-compat/), and this addon, loaded with RTLD_GLOBAL before uWS, provides
 * them. On glibc >= 2.38 they are not defined here: glibc's own are used, and defining ours would
 * recurse through the headers' redirect.
 *
 * Differences from glibc 2.38: none for strtol/strtoul. sscanf forwards to vsscanf, so a format
 * that uses %b, or %i on "0b..." input, behaves as before C23; uWS's formats use neither (checked
 * with `strings` on the binary; see native/README.md).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "glibc_c23.h"

/*
 * Parses a C23 binary literal ("0b" + binary digits, after optional space and sign) when `base`
 * allows one. Returns 0 when the input has no such prefix (the caller then uses the C99 function,
 * whose answer C23 leaves unchanged); otherwise stores the magnitude, the sign and the end.
 */
static int parse_binary_prefix(const char *nptr, int base, unsigned long *magnitude, int *negative,
                               const char **end, int *overflow) {
  if (base != 0 && base != 2) return 0;
  const char *p = nptr;
  while (isspace((unsigned char)*p)) p++;
  *negative = 0;
  if (*p == '+' || *p == '-') {
    *negative = *p == '-';
    p++;
  }
  if (p[0] != '0' || (p[1] != 'b' && p[1] != 'B') || (p[2] != '0' && p[2] != '1')) return 0;
  p += 2;
  unsigned long value = 0;
  *overflow = 0;
  for (; *p == '0' || *p == '1'; p++) {
    if (value > (ULONG_MAX >> 1)) *overflow = 1;
    value = (value << 1) | (unsigned long)(*p - '0');
  }
  *magnitude = value;
  *end = p;
  return 1;
}

long fg_c23_strtol(const char *nptr, char **endptr, int base) {
  unsigned long magnitude;
  int negative, overflow;
  const char *end;
  if (!parse_binary_prefix(nptr, base, &magnitude, &negative, &end, &overflow)) return strtol(nptr, endptr, base);
  if (endptr != NULL) *endptr = (char *)end;
  if (negative) {
    if (overflow || magnitude > (unsigned long)LONG_MAX + 1UL) {
      errno = ERANGE;
      return LONG_MIN;
    }
    return magnitude == (unsigned long)LONG_MAX + 1UL ? LONG_MIN : -(long)magnitude;
  }
  if (overflow || magnitude > (unsigned long)LONG_MAX) {
    errno = ERANGE;
    return LONG_MAX;
  }
  return (long)magnitude;
}

unsigned long fg_c23_strtoul(const char *nptr, char **endptr, int base) {
  unsigned long magnitude;
  int negative, overflow;
  const char *end;
  if (!parse_binary_prefix(nptr, base, &magnitude, &negative, &end, &overflow)) return strtoul(nptr, endptr, base);
  if (endptr != NULL) *endptr = (char *)end;
  if (overflow) {
    errno = ERANGE;
    return ULONG_MAX;
  }
  /* As strtoul does for "-5": the negation, in unsigned arithmetic. */
  return negative ? -magnitude : magnitude;
}

int fg_c23_vsscanf(const char *s, const char *format, va_list ap) { return vsscanf(s, format, ap); }

#if defined(__linux__) && defined(__GLIBC__) && !__GLIBC_PREREQ(2, 38)
/* The exported names, only where glibc lacks them. Default visibility: uWS finds them through the
 * global scope once this addon is loaded with RTLD_GLOBAL. */
__attribute__((visibility("default"))) long __isoc23_strtol(const char *nptr, char **endptr, int base) {
  return fg_c23_strtol(nptr, endptr, base);
}

__attribute__((visibility("default"))) unsigned long __isoc23_strtoul(const char *nptr, char **endptr, int base) {
  return fg_c23_strtoul(nptr, endptr, base);
}

__attribute__((visibility("default"))) int __isoc23_sscanf(const char *s, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = fg_c23_vsscanf(s, format, ap);
  va_end(ap);
  return n;
}

int fg_c23_exported(void) { return 1; }
#else
int fg_c23_exported(void) { return 0; }
#endif
