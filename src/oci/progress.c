/* Transfer progress on stderr: a redrawn bar on a terminal, a start and an
 * end line otherwise (logs and CI keep readable). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oci/internal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(uint64_t n, char *buf, size_t size)
{
    if (n >= 10u << 20)
        snprintf(buf, size, "%.1f MB", (double)n / 1e6);
    else if (n >= 10u << 10)
        snprintf(buf, size, "%.1f kB", (double)n / 1e3);
    else
        snprintf(buf, size, "%" PRIu64 " B", n);
}

static void draw(struct oci_progress *p)
{
    char done[32], total[32];
    human(p->done, done, sizeof(done));
    human(p->total, total, sizeof(total));
    int width = 30;
    int filled = p->total ? (int)((double)p->done * width / (double)p->total) : width;
    if (filled > width)
        filled = width;
    char bar[64];
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '-', (size_t)(width - filled));
    bar[width] = '\0';
    fprintf(stderr, "\r%-24s [%s] %s / %s", p->label, bar, done, total);
    fflush(stderr);
    p->last_shown = p->done;
}

void oci_progress_begin(struct oci_progress *p, bool enabled, const char *label, uint64_t total,
                        uint64_t already)
{
    memset(p, 0, sizeof(*p));
    p->enabled = enabled;
    if (!enabled)
        return;
    p->tty = isatty(2);
    snprintf(p->label, sizeof(p->label), "%s", label);
    p->total = total;
    p->done = already;
    p->started = now_s();
    if (p->tty)
        draw(p);
}

void oci_progress_add(struct oci_progress *p, uint64_t n)
{
    p->done += n;
    if (!p->enabled || !p->tty)
        return;
    if (p->done - p->last_shown >= (p->total / 100 + 1) || p->done == p->total)
        draw(p);
}

void oci_progress_end(struct oci_progress *p, bool ok)
{
    if (!p->enabled)
        return;
    double secs = now_s() - p->started;
    char total[32];
    human(p->total, total, sizeof(total));
    if (p->tty) {
        draw(p);
        fprintf(stderr, " %s\n", ok ? "done" : "FAILED");
    } else {
        fprintf(stderr, "%s %s %s in %.1f s\n", p->label, total, ok ? "done" : "FAILED", secs);
    }
}
