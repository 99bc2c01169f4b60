/* Guest protocol numbers for this machine (printed, never asserted):
 * framing decode rate for small and large frames, and the exec round trip
 * of enclave-init's server on the host (socketpair, /bin/true as uid 1000;
 * needs root, skipped otherwise). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest/guest.h"
#include "wire/frame.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *encode(const Guest__V1__Frame *f, size_t *len)
{
    uint8_t *buf = NULL;
    if (wire_encode(f, &buf, len) != 0) {
        fprintf(stderr, "encode failed\n");
        exit(1);
    }
    return buf;
}

/* Decodes `copies` back-to-back copies of one frame, fed 64 KiB at a time. */
static void bench_decode(const char *what, const Guest__V1__Frame *f, size_t copies)
{
    size_t one;
    uint8_t *frame = encode(f, &one);
    size_t total = one * copies;
    uint8_t *stream = malloc(total);
    for (size_t i = 0; i < copies; i++)
        memcpy(stream + i * one, frame, one);
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    size_t frames = 0, off = 0;
    double t0 = now_s();
    while (off < total) {
        size_t chunk = total - off < 65536 ? total - off : 65536;
        long n = wire_decoder_feed(&d, stream + off, chunk);
        off += (size_t)n;
        Guest__V1__Frame *g;
        while (wire_decoder_next(&d, &g) == 1) {
            guest__v1__frame__free_unpacked(g, NULL);
            frames++;
        }
    }
    double dt = now_s() - t0;
    printf("wire decode, %s: %zu frames of %zu bytes in %.3f s: %.0f frames/s, %.1f MB/s\n", what, frames, one, dt,
           (double)frames / dt, (double)total / dt / 1e6);
    wire_decoder_release(&d);
    free(stream);
    free(frame);
}

static Guest__V1__Frame *roundtrip(int fd, struct wire_decoder *d, const uint8_t *req, size_t len)
{
    if (write(fd, req, len) != (ssize_t)len)
        return NULL;
    for (;;) {
        Guest__V1__Frame *f;
        if (wire_decoder_next(d, &f) == 1)
            return f;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 30000) != 1)
            return NULL;
        uint8_t buf[65536];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0 || wire_decoder_feed(d, buf, (size_t)n) != n)
            return NULL;
    }
}

static void bench_exec(int rounds)
{
    if (geteuid() != 0) {
        printf("exec round trip: skipped (needs root to run workloads as uid 1000)\n");
        return;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        static const uint8_t key[GUEST_KEY_LEN] = "guest-bench-key-0123456789abcdef";
        struct guest_server_options opts = {.exit_when_idle = true, .key = key};
        struct guest_server *s = guest_server_new(&opts);
        if (!s || guest_server_add_stdio(s, sv[1], sv[1]) < 0)
            _exit(1);
        guest_server_run(s);
        guest_server_free(s);
        _exit(0);
    }
    close(sv[1]);
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    /* The handshake first, as every host does. */
    {
        static const uint8_t key[GUEST_KEY_LEN] = "guest-bench-key-0123456789abcdef";
        Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
        Guest__V1__HelloRequest h = GUEST__V1__HELLO_REQUEST__INIT;
        h.key.data = (uint8_t *)key;
        h.key.len = sizeof(key);
        f.id = 1u << 30;
        f.body_case = GUEST__V1__FRAME__BODY_HELLO_REQUEST;
        f.hello_request = &h;
        size_t len;
        uint8_t *req = encode(&f, &len);
        Guest__V1__Frame *r = roundtrip(sv[0], &d, req, len);
        free(req);
        bool ok = r && r->body_case == GUEST__V1__FRAME__BODY_HELLO_RESPONSE;
        if (r)
            guest__v1__frame__free_unpacked(r, NULL);
        if (!ok) {
            printf("exec round trip: the handshake failed\n");
            close(sv[0]);
            waitpid(pid, NULL, 0);
            wire_decoder_release(&d);
            return;
        }
    }
    char *argv[] = {(char *)"/bin/true"};
    double best = 1e9, sum = 0;
    int done = 0;
    for (int i = 0; i < rounds; i++) {
        Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
        Guest__V1__ExecRequest e = GUEST__V1__EXEC_REQUEST__INIT;
        e.argv = argv;
        e.n_argv = 1;
        e.cwd = (char *)"/";
        f.id = (uint64_t)i + 1;
        f.body_case = GUEST__V1__FRAME__BODY_EXEC_REQUEST;
        f.exec_request = &e;
        size_t len;
        uint8_t *req = encode(&f, &len);
        double t0 = now_s();
        Guest__V1__Frame *r = roundtrip(sv[0], &d, req, len);
        double dt = now_s() - t0;
        free(req);
        if (!r || r->body_case != GUEST__V1__FRAME__BODY_EXEC_RESPONSE) {
            printf("exec round trip: failed at round %d\n", i);
            if (r)
                guest__v1__frame__free_unpacked(r, NULL);
            break;
        }
        guest__v1__frame__free_unpacked(r, NULL);
        sum += dt;
        if (dt < best)
            best = dt;
        done++;
    }
    if (done > 0)
        printf("exec round trip (/bin/true as uid 1000, seccomp, rlimits; host, no VM): %d runs, mean %.2f ms, best %.2f ms\n",
               done, sum / done * 1e3, best * 1e3);
    close(sv[0]);
    waitpid(pid, NULL, 0);
    wire_decoder_release(&d);
}

int main(void)
{
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__HealthRequest h = GUEST__V1__HEALTH_REQUEST__INIT;
    f.id = 12345;
    f.body_case = GUEST__V1__FRAME__BODY_HEALTH_REQUEST;
    f.health_request = &h;
    bench_decode("Health", &f, 200000);

    Guest__V1__ExecResponse r = GUEST__V1__EXEC_RESPONSE__INIT;
    r.stdout.len = 1u << 20;
    r.stdout.data = calloc(1, r.stdout.len);
    f.body_case = GUEST__V1__FRAME__BODY_EXEC_RESPONSE;
    f.exec_response = &r;
    bench_decode("ExecResponse with 1 MiB stdout", &f, 64);
    free(r.stdout.data);

    bench_exec(200);
    return 0;
}
