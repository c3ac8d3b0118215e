/* C23 strtol/strtoul/sscanf for glibc < 2.38 (see glibc_c23.c) and their test bindings. */
#ifndef FLOODGATE_GLIBC_C23_H
#define FLOODGATE_GLIBC_C23_H
#include <stdarg.h>
#include <node_api.h>

long fg_c23_strtol(const char *nptr, char **endptr, int base);
unsigned long fg_c23_strtoul(const char *nptr, char **endptr, int base);
int fg_c23_vsscanf(const char *s, const char *format, va_list ap);
/* 1 when this build exports __isoc23_* (glibc < 2.38), else 0. */
int fg_c23_exported(void);

/* Adds `c23` (the three functions and libc's C99 ones, for parity tests) to the addon's exports. */
napi_status fg_c23_define(napi_env env, napi_value exports);
#endif
