/* Console logging for enclave-init: one line per message on stderr. */
#include "guest/guest.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void guest_log(const char *fmt, ...)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "enclave-init: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    /* One write so lines from the init do not interleave with a workload's. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
