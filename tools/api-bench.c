/* api-bench: a closed-loop load generator for Connect unary calls over
 * HTTP/1.1 keep-alive. C connections each send one request, wait for its
 * response (parsed with http-parser), and send the next, for D seconds.
 * Prints requests per second and latency percentiles; asserts nothing.
 *
 *   api-bench --address 127.0.0.1:7339 [--connections 16] [--seconds 5]
 *             [--path /agent.v1.AgentService/StartSession] [--body JSON] */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <http_parser.h>

struct bench;

struct bconn {
    struct bench *bench;
    struct bufferevent *bev;
    http_parser parser;
    uint64_t sent_ns;
};

struct bench {
    struct event_base *base;
    char *request;
    size_t request_len;
    uint64_t end_ns;
    uint64_t *latencies;
    size_t n, cap;
    size_t errors;
    unsigned open;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void send_one(struct bconn *c)
{
    c->sent_ns = now_ns();
    bufferevent_write(c->bev, c->bench->request, c->bench->request_len);
}

static void close_conn(struct bconn *c)
{
    bufferevent_free(c->bev);
    c->bench->open--;
    if (c->bench->open == 0)
        event_base_loopbreak(c->bench->base);
    free(c);
}

static int on_message_complete(http_parser *p)
{
    struct bconn *c = p->data;
    struct bench *b = c->bench;
    uint64_t t = now_ns();
    if (p->status_code != 200)
        b->errors++;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 65536;
        b->latencies = realloc(b->latencies, b->cap * sizeof(*b->latencies));
        if (b->latencies == NULL)
            abort();
    }
    b->latencies[b->n++] = t - c->sent_ns;
    return 0;
}

static const http_parser_settings settings = {.on_message_complete = on_message_complete};

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct bconn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t before = c->bench->n;
    while (evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        evbuffer_peek(in, -1, NULL, &v, 1);
        size_t n = http_parser_execute(&c->parser, &settings, v.iov_base, v.iov_len);
        if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
            fprintf(stderr, "api-bench: bad response: %s\n",
                    http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
            close_conn(c);
            return;
        }
        evbuffer_drain(in, n);
    }
    if (c->bench->n > before) {
        if (now_ns() >= c->bench->end_ns)
            close_conn(c);
        else
            send_one(c);
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct bconn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        send_one(c);
        return;
    }
    fprintf(stderr, "api-bench: connection closed or failed\n");
    c->bench->errors++;
    close_conn(c);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *address = NULL;
    const char *path = "/agent.v1.AgentService/StartSession";
    const char *body = "{\"sessionId\":\"bench\",\"vcpu\":1}";
    unsigned conns = 16;
    double seconds = 5;
    static const struct option opts[] = {
        {"address", required_argument, NULL, 'a'}, {"connections", required_argument, NULL, 'c'},
        {"seconds", required_argument, NULL, 's'},  {"path", required_argument, NULL, 'p'},
        {"body", required_argument, NULL, 'b'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'a': address = optarg; break;
        case 'c': conns = (unsigned)strtoul(optarg, NULL, 10); break;
        case 's': seconds = strtod(optarg, NULL); break;
        case 'p': path = optarg; break;
        case 'b': body = optarg; break;
        case 'h':
            printf("usage: api-bench --address HOST:PORT [--connections N] [--seconds S] "
                   "[--path P] [--body JSON]\nConnect unary requests over HTTP/1.1 keep-alive; "
                   "prints requests/s and latency percentiles.\n");
            return 0;
        default: return 2;
        }
    }
    if (address == NULL || conns == 0 || strrchr(address, ':') == NULL) {
        fprintf(stderr, "api-bench: --address HOST:PORT is required\n");
        return 2;
    }
    struct sockaddr_in sin = {.sin_family = AF_INET};
    char host[64];
    snprintf(host, sizeof(host), "%.*s", (int)(strrchr(address, ':') - address), address);
    sin.sin_port = htons((uint16_t)atoi(strrchr(address, ':') + 1));
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        fprintf(stderr, "api-bench: %s is not an IPv4 address\n", host);
        return 2;
    }
    struct bench b = {.base = event_base_new()};
    size_t blen = strlen(body);
    b.request = malloc(512 + strlen(path) + blen);
    b.request_len = (size_t)sprintf(b.request,
                                    "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                                    "Content-Length: %zu\r\n\r\n%s",
                                    path, address, blen, body);
    uint64_t start = now_ns();
    b.end_ns = start + (uint64_t)(seconds * 1e9);
    for (unsigned i = 0; i < conns; i++) {
        struct bconn *c = calloc(1, sizeof(*c));
        c->bench = &b;
        http_parser_init(&c->parser, HTTP_RESPONSE);
        c->parser.data = c;
        c->bev = bufferevent_socket_new(b.base, -1, BEV_OPT_CLOSE_ON_FREE);
        bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
        bufferevent_enable(c->bev, EV_READ);
        if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
            fprintf(stderr, "api-bench: connect failed\n");
            return 1;
        }
        b.open++;
    }
    event_base_dispatch(b.base);
    double elapsed = (double)(now_ns() - start) / 1e9;
    if (b.n == 0) {
        fprintf(stderr, "api-bench: no responses\n");
        return 1;
    }
    qsort(b.latencies, b.n, sizeof(*b.latencies), cmp_u64);
#define PCT(p) ((double)b.latencies[(size_t)((double)(b.n - 1) * (p))] / 1e3)
    printf("bench-api: %s, %u connections, %.1f s: %zu requests, %zu errors\n", path, conns,
           elapsed, b.n, b.errors);
    printf("bench-api: %.0f requests/s; latency us: p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n",
           (double)b.n / elapsed, PCT(0.50), PCT(0.90), PCT(0.99), PCT(1.0));
    free(b.latencies);
    free(b.request);
    event_base_free(b.base);
    return b.errors == 0 ? 0 : 1;
}
