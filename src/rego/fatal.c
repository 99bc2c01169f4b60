/* rego_fatal (internal.h): where and why on stderr, then abort(). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "rego/internal.h"

void rego_fatal(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "rego: fatal at %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}
