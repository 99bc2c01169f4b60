/* libFuzzer harness for the init's egress proxy.
 *
 * Input byte 0 picks the target:
 *  - even: the request-head parser. The rest is what a workload sends, fed
 *    in two pieces (split at the position byte 1 names); a complete head is
 *    checked, rewritten, and what follows goes through the body framing.
 *    Invariants: offsets stay inside the input, a rewritten head ends with
 *    one empty line and holds no line break the workload put in a value.
 *  - odd: the whole proxy in this process (guest_server_run_once), with the
 *    harness as the host on a socketpair and as workloads on the loopback:
 *    a script of connects, workload bytes, closes and host frames
 *    (EgressOpenResult, EgressData, EgressCredit, EgressClose, CancelRequest,
 *    a second EgressRequest) in any order and with any numbers. The init
 *    must neither crash nor leak, and must stop cleanly at the end. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/guest.h"
#include "wire/frame.h"
#include "wire/test_frames.h"

#define EGRESS_ID 50u
#define MAX_WORKLOADS 6

static void fuzz_head(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    size_t split = data[0];
    data++;
    size--;
    if (split > size)
        split = size;
    struct guest_proxy_head h;
    guest_proxy_head_init(&h, 2048);
    int st = guest_proxy_head_feed(&h, data, split);
    if (st == 0)
        st = guest_proxy_head_feed(&h, data, size);
    if (st != 1) {
        if (st != 0 && st != 400 && st != 431)
            abort();
        return;
    }
    if (h.head_end > size || h.body_end > size || h.body_end < h.head_end)
        abort();
    struct guest_proxy_request r;
    const char *why = NULL;
    int code = guest_proxy_request_build(&h, data, &r, &why);
    if (code == 0 && !r.connect) {
        if (r.head_len < 4 || memcmp(r.head + r.head_len - 4, "\r\n\r\n", 4) != 0)
            abort();
        /* Exactly one empty line: at the end. */
        for (size_t i = 0; i + 4 <= r.head_len - 4; i++)
            if (memcmp(r.head + i, "\r\n\r\n", 4) == 0)
                abort();
        /* Every LF is part of a CRLF. */
        for (size_t i = 0; i < r.head_len; i++)
            if (r.head[i] == '\n' && (i == 0 || r.head[i - 1] != '\r'))
                abort();
        if (r.path[0] != '/' || r.port == 0 || r.port > 65535 || !r.host[0])
            abort();
        guest_proxy_body_feed(&h, data + h.body_end, size - h.body_end);
    } else if (code == 0) {
        if (r.port == 0 || r.port > 65535 || !r.host[0])
            abort();
    } else if (!why) {
        abort();
    }
    guest_proxy_request_release(&r);
}

/* ---------------------------------------------------------------- the whole proxy */

static const uint8_t fuzz_key[GUEST_KEY_LEN] = "enclave-fuzz-key-0123456789abcde";

struct script {
    const uint8_t *p;
    size_t left;
};

static uint8_t take(struct script *s)
{
    if (!s->left)
        return 0;
    s->left--;
    return *s->p++;
}

static void host_send(int fd, Guest__V1__Frame *f)
{
    uint8_t *buf;
    size_t len;
    if (wire_encode(f, &buf, &len) != 0)
        return;
    size_t off = 0;
    for (int tries = 0; off < len && tries < 1000; tries++) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n > 0)
            off += (size_t)n;
        else
            break; /* the init's side is full: the rest is dropped with the test */
    }
    free(buf);
}

/* Reads what the init sent and remembers stream numbers it opened. */
static void host_drain(int fd, struct wire_decoder *dec, uint32_t *streams, size_t *n_streams)
{
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        size_t off = 0;
        while (off < (size_t)n) {
            long took = wire_decoder_feed(dec, buf + off, (size_t)n - off);
            if (took < 0)
                return;
            off += (size_t)took;
            Guest__V1__Frame *f;
            while (wire_decoder_next(dec, &f) == 1) {
                if (f->body_case == GUEST__V1__FRAME__BODY_EGRESS_OPEN && *n_streams < 16)
                    streams[(*n_streams)++] = f->egress_open->stream;
                guest__v1__frame__free_unpacked(f, NULL);
            }
        }
    }
}

static void fuzz_proxy(const uint8_t *data, size_t size)
{
    static uint16_t port;
    if (!port) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(a);
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
            abort();
        close(fd);
        port = ntohs(a.sin_port);
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    struct guest_server_options opts = {.key = fuzz_key};
    struct guest_server *s = guest_server_new(&opts);
    if (!s || guest_server_add_stdio(s, sv[1], sv[1]) < 0)
        abort();
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    struct wire_decoder dec;
    wire_decoder_init(&dec, 0);
    uint32_t streams[16];
    size_t n_streams = 0;

    Guest__V1__HelloRequest hello = GUEST__V1__HELLO_REQUEST__INIT;
    hello.key.data = (uint8_t *)fuzz_key;
    hello.key.len = GUEST_KEY_LEN;
    host_send(sv[0], TEST_FRAME(1, HELLO_REQUEST, hello_request, &hello));
    struct script sc = {data, size};
    Guest__V1__EgressRequest er = GUEST__V1__EGRESS_REQUEST__INIT;
    er.port = port;
    er.max_streams = 1 + take(&sc) % 4;
    er.window = 1 + (uint32_t)take(&sc) * 64;
    er.max_header_bytes = 64 + (uint32_t)take(&sc) * 8;
    host_send(sv[0], TEST_FRAME(EGRESS_ID, EGRESS_REQUEST, egress_request, &er));
    for (int i = 0; i < 4; i++)
        guest_server_run_once(s, 0);

    int wl[MAX_WORKLOADS];
    for (int i = 0; i < MAX_WORKLOADS; i++)
        wl[i] = -1;
    while (sc.left) {
        uint8_t op = take(&sc);
        uint8_t arg = take(&sc);
        int w = arg % MAX_WORKLOADS;
        uint32_t stream = n_streams && (arg & 0x80) ? streams[arg % n_streams] : arg & 0x7f;
        uint64_t id = (op & 0x40) ? EGRESS_ID + 1 : EGRESS_ID;
        struct test_frame b;
        switch ((op & 0x3f) % 12) {
        case 0: { /* a workload connects */
            if (wl[w] >= 0)
                close(wl[w]);
            wl[w] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            connect(wl[w], (struct sockaddr *)&a, sizeof(a));
            break;
        }
        case 1: { /* a workload sends bytes of the script */
            size_t n = take(&sc);
            if (n > sc.left)
                n = sc.left;
            if (wl[w] >= 0 && send(wl[w], sc.p, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                /* not connected yet, or full */
            }
            sc.p += n;
            sc.left -= n;
            break;
        }
        case 2: /* a workload sends a plausible head */
            if (wl[w] >= 0) {
                static const char *const heads[] = {
                    "CONNECT a.example:443 HTTP/1.1\r\n\r\n",
                    "GET http://a.example/x HTTP/1.1\r\nHost: a\r\n\r\n",
                    "POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                    "PUT http://a.example:81/ HTTP/1.1\r\nContent-Length: 5\r\n\r\nab",
                };
                const char *hd = heads[arg % 4];
                if (send(wl[w], hd, strlen(hd), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                    /* as above */
                }
            }
            break;
        case 3: /* a workload half-closes */
            if (wl[w] >= 0)
                shutdown(wl[w], SHUT_WR);
            break;
        case 4: /* a workload goes */
            if (wl[w] >= 0)
                close(wl[w]);
            wl[w] = -1;
            break;
        case 5: { /* a workload reads */
            uint8_t buf[4096];
            if (wl[w] >= 0 && recv(wl[w], buf, sizeof(buf), MSG_DONTWAIT) < 0) {
                /* nothing there */
            }
            break;
        }
        case 6: /* the host's decision */
            host_send(sv[0], test_frame_result(&b, id, stream, op & 0x80, take(&sc) * 3u, "because\r\nX: y"));
            break;
        case 7: { /* up to past the 64 KiB a frame may carry */
            static uint8_t bytes[255 * 300];
            size_t len = (op & 0x80) ? (size_t)take(&sc) * 300u : take(&sc);
            host_send(sv[0], test_frame_data(&b, id, stream, bytes, len));
            break;
        }
        case 8:
            host_send(sv[0], test_frame_credit(&b, id, stream, (op & 0x80) ? 0xffffffffu : take(&sc) * 97u));
            break;
        case 9:
            host_send(sv[0], test_frame_close(&b, id, stream, op & 0x80));
            break;
        case 10: /* cancel, or a new proxy (busy while one runs) */
            if (op & 0x80) {
                host_send(sv[0], TEST_FRAME(900 + arg, EGRESS_REQUEST, egress_request, &er));
                n_streams = 0;
            } else {
                host_send(sv[0], test_frame_cancel(&b, 800 + arg, EGRESS_ID));
            }
            break;
        default:
            break;
        }
        guest_server_run_once(s, 0);
        host_drain(sv[0], &dec, streams, &n_streams);
    }
    for (int i = 0; i < MAX_WORKLOADS; i++)
        if (wl[i] >= 0)
            close(wl[i]);
    for (int i = 0; i < 4; i++) {
        guest_server_run_once(s, 0);
        host_drain(sv[0], &dec, streams, &n_streams);
    }
    guest_server_free(s);
    host_drain(sv[0], &dec, streams, &n_streams);
    close(sv[0]);
    wire_decoder_release(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        fuzz_head(data + 1, size - 1);
    else
        fuzz_proxy(data + 1, size - 1);
    return 0;
}
