#include "common/log.h"

#include "common/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum log_level current_level = LOG_LEVEL_INFO;

void log_set_level(enum log_level level)
{
    current_level = level;
}

int log_get_level_enabled(enum log_level level)
{
    return level >= current_level;
}

void log_init_from_env(void)
{
    const char *v = getenv("ENCLAVE_LOG");
    if (v == NULL)
        return;
    if (strcmp(v, "debug") == 0)
        current_level = LOG_LEVEL_DEBUG;
    else if (strcmp(v, "info") == 0)
        current_level = LOG_LEVEL_INFO;
    else if (strcmp(v, "warn") == 0)
        current_level = LOG_LEVEL_WARN;
    else if (strcmp(v, "error") == 0)
        current_level = LOG_LEVEL_ERROR;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (level < current_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* Messages quote peers (a path an agent chose, a guest's error): on the
     * terminal of `enclave up` and in daemon.log their control characters
     * are escaped, so they can neither drive the terminal nor forge a line. */
    char safe[4 * sizeof(line)];
    text_escape_terminal_copy(safe, sizeof(safe), line);
    fprintf(stderr, "%s.%03ld enclave %s: %s\n", stamp, ts.tv_nsec / 1000000, names[level], safe);
}
