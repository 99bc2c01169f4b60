/* libFuzzer harness for the host's reading of a guest's egress frames: the
 * real egress on a real proxy connection, the real gate (a Rego policy, a
 * SQLite audit log), the real resolver and an echo server on 127.0.0.1 as
 * the remote; the harness is the guest. The input is a script of guest
 * actions: EgressOpen (hosts, ports, schemes, methods and paths the policy
 * allows or not, or bytes of the script), EgressData (up to past the 64 KiB
 * a frame may carry), EgressCredit, EgressClose, raw bytes on the channel,
 * the end of the EgressRequest, a detach and attach again. The host must
 * neither crash nor leak, and must free everything cleanly at the end. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/log.h"
#include "egress/egress.h"
#include "gate/gate.h"
#include "proxy/proxy.h"
#include "secret/secret.h"
#include "wire/frame.h"
#include "wire/test_frames.h"

static const char policy[] =
    "package enclave\n"
    "default decision := {\"allow\": false, \"reasons\": [\"not allowed by the fuzz policy\"]}\n"
    "allowed_host(h) if h in {\"127.0.0.1\", \"localhost\", \"127.0.0.2\", \"::1\"}\n"
    "decision := {\"allow\": true} if {\n"
    "  input.action == \"net.resolve\"\n"
    "  allowed_host(input.request.host)\n"
    "}\n"
    "decision := {\"allow\": true, \"obligations\": obligations} if {\n"
    "  input.action == \"net.connect\"\n"
    "  allowed_host(input.request.host)\n"
    "}\n"
    "default obligations := {\"allow_addresses\": [\"127.0.0.1/32\", \"::1\"]}\n"
    "obligations := {\"allow_addresses\": [\"127.0.0.1\"], \"max_bytes\": 300} if input.request.path == \"/limited\"\n"
    "obligations := {\"allow_addresses\": [\"127.0.0.1\"], \"inject_secret\": {\"name\": \"api-token\"}} if "
    "input.request.path == \"/secret\"\n"
    "obligations := {\"allow_addresses\": [\"127.0.0.1\"], \"inject_secret\": {\"name\": \"absent\"}} if "
    "input.request.path == \"/missing\"\n"
    "obligations := {\"allow_addresses\": [\"127.0.0.1\"], \"timeout_s\": 1} if input.request.path == \"/short\"\n";

static struct event_base *base;
static struct gate *gate;
static struct egress_resolver *resolver;
static char sock_path[108];
static int listen_fd = -1;
static unsigned echo_port;

/* ------------------------------------------------------------ the remote: an echo server */

static void echo_read(struct bufferevent *bev, void *arg)
{
    bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void echo_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void echo_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
    struct bufferevent *bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        close(fd);
        return;
    }
    bufferevent_setcb(bev, echo_read, NULL, echo_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static char home[64] = "/tmp/enclave-fuzz-egress-XXXXXX";

/* The scratch home goes when the run ends (the log and keys in it too). */
static void remove_home(void)
{
    char cmd[sizeof(home) + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    if (system(cmd) != 0) {
        /* nothing more to do */
    }
}

static void setup(void)
{
    if (base != NULL)
        return;
    log_set_level(LOG_LEVEL_ERROR);
    signal(SIGPIPE, SIG_IGN); /* as the daemon does: a peer that hung up is an error, not the end */
    if (mkdtemp(home) == NULL)
        abort();
    atexit(remove_home);
    setenv("ENCLAVE_HOME", home, 1);
    char db[4200], keys[4200], secrets[4200];
    struct error err;
    struct audit_log *log;
    struct gate_config gc = {0};
    if (audit_default_db_path(db, sizeof(db), NULL) < 0 || audit_default_key_dir(keys, sizeof(keys), NULL) < 0 ||
        audit_open(db, keys, NULL, &log, &err) < 0)
        abort();
    gc.audit = log;
    if (gate_new(&gc, &gate, &err) < 0 || gate_apply_document(gate, policy, strlen(policy), "", &err) != 0)
        abort();
    if (secret_default_dir(secrets, sizeof(secrets), &err) < 0 ||
        secret_set(secrets, "api-token", "FUZZSECRET", 10, &err) < 0)
        abort();
    base = event_base_new();
    if (base == NULL || egress_resolver_new(base, 8, NULL, &resolver, &err) < 0)
        abort();
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct evconnlistener *l = evconnlistener_new_bind(base, echo_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                                       64, (struct sockaddr *)&sin, sizeof(sin));
    if (l == NULL)
        abort();
    socklen_t sl = sizeof(sin);
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &sl);
    echo_port = ntohs(sin.sin_port);
    /* The guest channel: a Unix socket the proxy connects to, as to a VM's. */
    snprintf(sock_path, sizeof(sock_path), "%s/rpc.sock", home);
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
    if (bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(listen_fd, 4) < 0)
        abort();
}

/* ------------------------------------------------------------ the guest */

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

/* Up to max bytes of the script as a string (no NUL inside). */
static char *take_string(struct script *s, char *buf, size_t max)
{
    size_t n = take(s) % max;
    if (n > s->left)
        n = s->left;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s->p[i])
            buf[k++] = (char)s->p[i];
    buf[k] = '\0';
    s->p += n;
    s->left -= n;
    return buf;
}

struct guest {
    int fd;
    struct wire_decoder dec;
    uint64_t egress_id;
};

static void guest_write(struct guest *g, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    for (int tries = 0; off < len && tries < 1000; tries++) {
        ssize_t n = write(g->fd, buf + off, len - off);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno == EAGAIN)
            event_base_loop(base, EVLOOP_NONBLOCK);
        else
            return;
    }
}

static void guest_send(struct guest *g, Guest__V1__Frame *f)
{
    uint8_t *buf;
    size_t len;
    if (wire_encode(f, &buf, &len) != 0)
        return;
    guest_write(g, buf, len);
    free(buf);
}

/* Reads what the host sent; remembers the EgressRequest's id. */
static void guest_drain(struct guest *g)
{
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = read(g->fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        size_t off = 0;
        while (off < (size_t)n) {
            long took = wire_decoder_feed(&g->dec, buf + off, (size_t)n - off);
            if (took < 0)
                return;
            off += (size_t)took;
            Guest__V1__Frame *f;
            int r;
            while ((r = wire_decoder_next(&g->dec, &f)) == 1 || r == WIRE_ERR_BAD_FRAME) {
                if (r != 1)
                    continue;
                if (f->body_case == GUEST__V1__FRAME__BODY_EGRESS_REQUEST)
                    g->egress_id = f->id;
                guest__v1__frame__free_unpacked(f, NULL);
            }
        }
    }
}

static void run(struct guest *g, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        guest_drain(g);
    }
}

static const char *const hosts[] = {"127.0.0.1", "localhost", "127.0.0.2", "::1", "[::1]", "10.0.0.1",
                                    "example.invalid", "LOCALHOST."};
static const char *const schemes[] = {"http", "https", "ftp", ""};
static const char *const methods[] = {"GET", "HEAD", "POST", "CONNECT", "", "G\r\nET"};
static const char *const paths[] = {"/", "/limited", "/secret", "/missing", "/short", "", "x", "/a b"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    struct script sc = {data, size};
    struct vmm_channel ch = {.kind = VMM_CHANNEL_UNIX};
    snprintf(ch.path, sizeof(ch.path), "%s", sock_path);
    struct proxy_conn *conn = NULL;
    struct error err;
    if (proxy_connect(base, &ch, NULL, NULL, &conn, &err) < 0)
        abort();
    struct guest g = {.fd = accept(listen_fd, NULL, NULL)};
    if (g.fd < 0)
        abort();
    fcntl(g.fd, F_SETFL, O_NONBLOCK);
    int size_buf = 1 << 20;
    setsockopt(g.fd, SOL_SOCKET, SO_SNDBUF, &size_buf, sizeof(size_buf));
    wire_decoder_init(&g.dec, 0);
    struct egress_config ec = {
        .base = base,
        .gate = gate,
        .resolver = resolver,
        .session_id = "s-fuzz",
        .max_streams = 1 + take(&sc) % 8,
        .window = 64 + (unsigned)take(&sc) * 512,
        .session_max_bytes = (take(&sc) & 1) ? 5000 : 0,
    };
    struct egress *e = NULL;
    if (egress_new(&ec, &e, &err) < 0 || egress_attach(e, conn, &err) < 0)
        abort();
    run(&g, 4);

    while (sc.left) {
        uint8_t op = take(&sc);
        uint8_t arg = take(&sc);
        uint32_t stream = arg & 7;
        uint64_t id = (op & 0x80) ? g.egress_id + 1 : g.egress_id;
        struct test_frame b;
        char hostbuf[300], schemebuf[16], methodbuf[32], pathbuf[300];
        switch ((op & 0x7f) % 9) {
        case 0: { /* open */
            uint8_t pick = take(&sc);
            const char *host = (pick & 0x08) ? take_string(&sc, hostbuf, 300) : hosts[pick & 7];
            const char *scheme = (pick & 0x40) ? take_string(&sc, schemebuf, 16) : schemes[(pick >> 4) & 3];
            uint8_t pick2 = take(&sc);
            const char *method = (pick2 & 0x08) ? take_string(&sc, methodbuf, 32) : methods[(pick2 & 7) % 6];
            const char *path = (pick2 & 0x80) ? take_string(&sc, pathbuf, 300) : paths[(pick2 >> 4) & 7];
            unsigned port = (pick & 0x80) ? (unsigned)take(&sc) << 8 | take(&sc) : echo_port;
            if (arg & 0x80)
                port |= 0x10000u * (arg & 0x40 ? 1 : 0xffff); /* out of range */
            guest_send(&g, test_frame_open(&b, id, stream, host, port, scheme, method, path));
            break;
        }
        case 1: { /* data: bytes of the script, or a block up to past 64 KiB */
            static uint8_t block[255 * 260]; /* past the 64 KiB a frame may carry */
            size_t n;
            const uint8_t *p;
            if (arg & 0x80) {
                n = (size_t)take(&sc) * 260u;
                p = block;
            } else {
                n = take(&sc);
                if (n > sc.left)
                    n = sc.left;
                p = sc.p;
                sc.p += n;
                sc.left -= n;
            }
            guest_send(&g, test_frame_data(&b, id, stream, p, n));
            break;
        }
        case 2: /* a plausible request head */
        {
            static const char *const heads[] = {
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                "GET /secret HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: x\r\n\r\n",
                "POST /limited HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc",
                "GET /secret HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                "POST /secret HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc",
                "POST /secret HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            };
            const char *h = heads[arg % 6];
            guest_send(&g, test_frame_data(&b, id, (arg >> 3) & 7, h, strlen(h)));
            break;
        }
        case 3:
            guest_send(&g, test_frame_credit(&b, id, stream, (arg & 0x80) ? 0xffffffffu : take(&sc) * 97u));
            break;
        case 4: {
            Guest__V1__Frame *f = test_frame_close(&b, id, stream, arg & 0x80);
            if (arg & 0x40)
                f->egress_close->reason = take_string(&sc, hostbuf, 300);
            guest_send(&g, f);
            break;
        }
        case 5: { /* raw bytes on the channel */
            size_t n = take(&sc);
            if (n > sc.left)
                n = sc.left;
            guest_write(&g, sc.p, n);
            sc.p += n;
            sc.left -= n;
            break;
        }
        case 6: /* the guest ends the EgressRequest */
            if (arg & 1) {
                Guest__V1__ErrorResponse er = GUEST__V1__ERROR_RESPONSE__INIT;
                er.message = "no proxy";
                guest_send(&g, TEST_FRAME(g.egress_id, ERROR, error, &er));
            } else {
                Guest__V1__EgressResponse r = GUEST__V1__EGRESS_RESPONSE__INIT;
                guest_send(&g, TEST_FRAME(g.egress_id, EGRESS_RESPONSE, egress_response, &r));
            }
            break;
        case 7: /* detach, and attach again on the same channel */
            egress_detach(e);
            run(&g, 2);
            if (arg & 1)
                (void)egress_attach(e, conn, &err);
            break;
        default: /* let time pass: connects, lookups, the remote's answers */
            run(&g, 1 + arg % 16);
            break;
        }
        run(&g, 2);
    }
    run(&g, 8);
    egress_detach(e);
    egress_free(e);
    proxy_conn_free(conn);
    close(g.fd);
    /* Let libevent free what closed above, and the echo server see the ends. */
    for (int i = 0; i < 8; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    wire_decoder_release(&g.dec);
    return 0;
}
