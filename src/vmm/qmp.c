#include "vmm/qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/cleanup.h"

struct qmp {
    int fd;
    char *buf; /* bytes read but not yet consumed */
    size_t len;
    size_t cap;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Takes one whole line (without the newline) out of the buffer as a new
 * jansson object: 1 when there was one, 0 when the line is not complete
 * yet, -1 when it is bad or longer than QMP_MAX_LINE. */
static int qmp_take_object(struct qmp *qmp, json_t **out, struct error *err)
{
    char *nl = qmp->len ? memchr(qmp->buf, '\n', qmp->len) : NULL;
    if (nl == NULL) {
        if (qmp->len >= QMP_MAX_LINE)
            return error_set(err, ERR_INTERNAL, "QMP: line longer than %u bytes", QMP_MAX_LINE);
        return 0;
    }
    size_t line_len = (size_t)(nl - qmp->buf);
    json_error_t jerr;
    json_t *obj = json_loadb(qmp->buf, line_len, 0, &jerr);
    memmove(qmp->buf, nl + 1, qmp->len - line_len - 1);
    qmp->len -= line_len + 1;
    if (obj == NULL)
        return error_set(err, ERR_INTERNAL, "QMP: bad JSON from QEMU: %s", jerr.text);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return error_set(err, ERR_INTERNAL, "QMP: QEMU sent a non-object");
    }
    *out = obj;
    return 1;
}

/* Reads once from the socket into the buffer: the bytes read, 0 at the
 * end of the stream, -1 on an error (errno EAGAIN: nothing there yet). */
static ssize_t qmp_fill(struct qmp *qmp, struct error *err)
{
    if (qmp->cap - qmp->len < 4096) {
        size_t ncap = qmp->cap ? qmp->cap * 2 : 8192;
        if (ncap > QMP_MAX_LINE + 8192)
            ncap = QMP_MAX_LINE + 8192;
        char *nbuf = realloc(qmp->buf, ncap);
        if (nbuf == NULL) {
            error_set(err, ERR_RESOURCE_EXHAUSTED, "QMP: out of memory");
            errno = ENOMEM;
            return -1;
        }
        qmp->buf = nbuf;
        qmp->cap = ncap;
    }
    ssize_t n = read(qmp->fd, qmp->buf + qmp->len, qmp->cap - qmp->len);
    if (n < 0) {
        if (errno != EINTR && errno != EAGAIN)
            error_set_errno(err, ERR_UNAVAILABLE, "QMP: read");
        return -1;
    }
    qmp->len += (size_t)n;
    return n;
}

/* Reads one line (without the newline) into a new jansson object. */
static int qmp_read_object(struct qmp *qmp, long long deadline, json_t **out, struct error *err)
{
    for (;;) {
        int taken = qmp_take_object(qmp, out, err);
        if (taken != 0)
            return taken < 0 ? -1 : 0;
        long long left = deadline - now_ms();
        if (left <= 0)
            return error_set(err, ERR_DEADLINE_EXCEEDED, "QMP: no reply from QEMU in time");
        struct pollfd pfd = {.fd = qmp->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            return error_set_errno(err, ERR_INTERNAL, "QMP: poll");
        }
        if (pr == 0)
            continue;
        ssize_t n = qmp_fill(qmp, err);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return error_set(err, ERR_UNAVAILABLE, "QMP: QEMU closed the connection");
    }
}

static int qmp_write_all(struct qmp *qmp, const char *data, size_t len, long long deadline,
                         struct error *err)
{
    while (len > 0) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return error_set(err, ERR_DEADLINE_EXCEEDED, "QMP: write timed out");
        struct pollfd pfd = {.fd = qmp->fd, .events = POLLOUT};
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            return error_set_errno(err, ERR_INTERNAL, "QMP: poll");
        ssize_t n = send(qmp->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return error_set_errno(err, ERR_UNAVAILABLE, "QMP: write");
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The error a QMP error reply says, or 0 for anything else. */
static int reply_error(json_t *obj, const char *command, struct error *err)
{
    json_t *qerr = json_object_get(obj, "error");
    if (qerr == NULL)
        return 0;
    const char *cls = json_string_value(json_object_get(qerr, "class"));
    const char *desc = json_string_value(json_object_get(qerr, "desc"));
    return error_set(err, ERR_INTERNAL, "QMP %s failed: %s: %s", command, cls ? cls : "?", desc ? desc : "?");
}

/* Waits for the reply to command: its return (a new reference in *result
 * when result is not NULL) or its error; events are skipped. */
static int await_reply(struct qmp *qmp, const char *command, json_t **result, long long deadline,
                       struct error *err)
{
    for (;;) {
        json_t *obj = NULL;
        if (qmp_read_object(qmp, deadline, &obj, err) < 0)
            return -1;
        json_t *ret = json_object_get(obj, "return");
        if (ret != NULL) {
            if (result != NULL)
                *result = json_incref(ret);
            json_decref(obj);
            return 0;
        }
        if (reply_error(obj, command, err) < 0) {
            json_decref(obj);
            return -1;
        }
        /* {"event": ...} or anything else: not our reply. */
        json_decref(obj);
    }
}

/* Sends a command and waits for its return or error, skipping events. */
static int qmp_roundtrip(struct qmp *qmp, const char *command, json_t *args, json_t **result,
                         long long deadline, struct error *err)
{
    json_t *req = json_pack("{s:s}", "execute", command);
    if (req == NULL)
        return error_set(err, ERR_INTERNAL, "QMP: out of memory");
    if (args != NULL)
        json_object_set(req, "arguments", args);
    cleanup_free char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (text == NULL)
        return error_set(err, ERR_INTERNAL, "QMP: cannot encode command");
    size_t tlen = strlen(text);
    cleanup_free char *line = malloc(tlen + 2);
    if (line == NULL)
        return error_set(err, ERR_INTERNAL, "QMP: out of memory");
    memcpy(line, text, tlen);
    line[tlen] = '\n';
    if (qmp_write_all(qmp, line, tlen + 1, deadline, err) < 0)
        return -1;
    return await_reply(qmp, command, result, deadline, err);
}

int qmp_open_fd(int fd, unsigned timeout_ms, struct qmp **out, struct error *err)
{
    struct qmp *qmp = calloc(1, sizeof(*qmp));
    if (qmp == NULL) {
        close(fd);
        return error_set(err, ERR_INTERNAL, "QMP: out of memory");
    }
    qmp->fd = fd;
    long long deadline = now_ms() + timeout_ms;
    json_t *greeting = NULL;
    if (qmp_read_object(qmp, deadline, &greeting, err) < 0)
        goto fail;
    int has_qmp = json_object_get(greeting, "QMP") != NULL;
    json_decref(greeting);
    if (!has_qmp) {
        error_set(err, ERR_INTERNAL, "QMP: the peer did not greet as QMP");
        goto fail;
    }
    if (qmp_roundtrip(qmp, "qmp_capabilities", NULL, NULL, deadline, err) < 0)
        goto fail;
    *out = qmp;
    return 0;
fail:
    qmp_close(qmp);
    return -1;
}

/* A connected Unix stream socket to path (flags: SOCK_NONBLOCK or 0), or -1. */
static int qmp_socket(const char *path, int flags, struct error *err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path))
        return error_set(err, ERR_INVALID_ARGUMENT, "QMP socket path too long: %s", path);
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    if (fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "QMP: socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        error_set_errno(err, ERR_UNAVAILABLE, "QMP: connect %s", path);
        close(fd);
        return -1;
    }
    return fd;
}

int qmp_connect(const char *path, unsigned timeout_ms, struct qmp **out, struct error *err)
{
    int fd = qmp_socket(path, 0, err);
    if (fd < 0)
        return -1;
    return qmp_open_fd(fd, timeout_ms, out, err);
}

int qmp_send_fd(struct qmp *qmp, const char *name, int fd, unsigned timeout_ms, struct error *err)
{
    long long deadline = now_ms() + timeout_ms;
    json_t *req = json_pack("{s:s, s:{s:s}}", "execute", "getfd", "arguments", "fdname", name);
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (text == NULL)
        return error_set(err, ERR_INTERNAL, "QMP: out of memory");
    size_t tlen = strlen(text);
    /* The descriptor rides on the first byte; the rest follows as usual. */
    char first = text[0];
    struct iovec iov = {.iov_base = &first, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(qmp->fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != 1) {
        free(text);
        return error_set_errno(err, ERR_UNAVAILABLE, "QMP: sending a descriptor");
    }
    int r = qmp_write_all(qmp, text + 1, tlen - 1, deadline, err);
    free(text);
    if (r == 0)
        r = qmp_write_all(qmp, "\n", 1, deadline, err);
    if (r < 0)
        return -1;
    return await_reply(qmp, "getfd", NULL, deadline, err);
}

int qmp_execute(struct qmp *qmp, const char *command, json_t *args, json_t **result,
                unsigned timeout_ms, struct error *err)
{
    return qmp_roundtrip(qmp, command, args, result, now_ms() + timeout_ms, err);
}

void qmp_close(struct qmp *qmp)
{
    if (qmp == NULL)
        return;
    if (qmp->fd >= 0)
        close(qmp->fd);
    free(qmp->buf);
    free(qmp);
}

/* ---- on the caller's loop */

struct qmp_call {
    struct qmp qmp;
    char command[32];
    int answers; /* replies read: the capabilities', then the command's */
    struct event *ev_read, *timer;
    qmp_done_fn done;
    void *ctx;
};

void qmp_call_free(struct qmp_call *c)
{
    if (c == NULL)
        return;
    if (c->ev_read)
        event_free(c->ev_read);
    if (c->timer)
        event_free(c->timer);
    if (c->qmp.fd >= 0)
        close(c->qmp.fd);
    free(c->qmp.buf);
    free(c);
}

/* The end: no more events, then the caller hears of it (and may free c). */
static void call_finish(struct qmp_call *c, const struct error *err)
{
    event_del(c->ev_read);
    event_del(c->timer);
    c->done(c->ctx, err);
}

static void on_call_timer(evutil_socket_t fd, short what, void *arg)
{
    struct qmp_call *c = arg;
    struct error err;
    error_set(&err, ERR_DEADLINE_EXCEEDED, "QMP %s: no reply from QEMU in time", c->command);
    call_finish(c, &err);
}

static void on_call_readable(evutil_socket_t fd, short what, void *arg)
{
    struct qmp_call *c = arg;
    struct error err;
    ssize_t n = qmp_fill(&c->qmp, &err);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n < 0) {
        call_finish(c, &err);
        return;
    }
    if (n == 0) {
        /* QEMU quits right after it answers quit; it may close first. */
        if (c->answers >= 1 && strcmp(c->command, "quit") == 0) {
            call_finish(c, NULL);
            return;
        }
        error_set(&err, ERR_UNAVAILABLE, "QMP %s: QEMU closed the connection", c->command);
        call_finish(c, &err);
        return;
    }
    for (;;) {
        json_t *obj = NULL;
        int taken = qmp_take_object(&c->qmp, &obj, &err);
        if (taken == 0)
            return;
        if (taken < 0) {
            call_finish(c, &err);
            return;
        }
        /* The greeting and events are neither a return nor an error. */
        bool answer = json_object_get(obj, "return") != NULL || json_object_get(obj, "error") != NULL;
        int failed = reply_error(obj, c->answers == 0 ? "qmp_capabilities" : c->command, &err);
        json_decref(obj);
        if (failed < 0) {
            call_finish(c, &err);
            return;
        }
        if (answer && ++c->answers == 2) {
            call_finish(c, NULL);
            return;
        }
    }
}

int qmp_call_start(struct event_base *base, const char *path, const char *command, unsigned timeout_ms,
                   qmp_done_fn done, void *ctx, struct qmp_call **out, struct error *err)
{
    *out = NULL;
    struct qmp_call *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return error_set(err, ERR_INTERNAL, "QMP: out of memory");
    c->qmp.fd = -1;
    c->done = done;
    c->ctx = ctx;
    char lines[128];
    int len = snprintf(lines, sizeof(lines), "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"%s\"}\n",
                       command);
    if (snprintf(c->command, sizeof(c->command), "%s", command) >= (int)sizeof(c->command) || len < 0 ||
        (size_t)len >= sizeof(lines)) {
        free(c);
        return error_set(err, ERR_INVALID_ARGUMENT, "QMP: command name too long: %s", command);
    }
    /* A Unix connect completes or fails at once (EAGAIN: the backlog is full). */
    c->qmp.fd = qmp_socket(path, SOCK_NONBLOCK, err);
    if (c->qmp.fd < 0) {
        free(c);
        return -1;
    }
    /* Both lines at once, before the greeting (QEMU reads them in order):
     * a new connection's socket takes these few bytes whole. */
    ssize_t sent = send(c->qmp.fd, lines, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent != len) {
        if (sent >= 0)
            errno = EAGAIN;
        error_set_errno(err, ERR_UNAVAILABLE, "QMP %s: sending the command", command);
        qmp_call_free(c);
        return -1;
    }
    c->ev_read = event_new(base, c->qmp.fd, EV_READ | EV_PERSIST, on_call_readable, c);
    c->timer = evtimer_new(base, on_call_timer, c);
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
    if (c->ev_read == NULL || c->timer == NULL || event_add(c->ev_read, NULL) < 0 || evtimer_add(c->timer, &tv) < 0) {
        qmp_call_free(c);
        return error_set(err, ERR_INTERNAL, "QMP: out of memory");
    }
    *out = c;
    return 0;
}
