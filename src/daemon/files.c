/* Files of a session over the API: enclave.v1 UploadFile (client streaming,
 * gRPC), DownloadFile (server streaming), ListFiles, StatFile, RemoveFile,
 * MakeDirectory, and for curl users
 *   PUT /v1/sessions/{id}/files/{path}   the body is the content
 *   GET /v1/sessions/{id}/files/{path}   the content, or a JSON listing for a folder
 * where {path} is the guest path without its leading "/" (workspace/a.txt).
 *
 * Nothing holds a whole file: a download credits the guest only for what
 * the client's buffer took (and holds credit back while it is full); an
 * upload pauses the client's body (HTTP) or its stream (gRPC) while the
 * guest has granted no room. */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <jansson.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "daemon/internal.h"
#include "enclave/v1/enclave.pb-c.h"

#define DOWNLOAD_BUFFER (4u << 20) /* bytes waiting for the client; twice core's window and more */
#define CREDIT_MARK (1u << 20)     /* hold credit back while more than this waits */
#define ROUTE_PREFIX "/v1/sessions/"

static void fill_info(Enclave__V1__FileInfo *out, const struct core_file_info *in)
{
    enclave__v1__file_info__init(out);
    out->name = (char *)in->name;
    out->type = (char *)in->type;
    out->size = in->size;
    out->mode = in->mode;
    out->mtime_unix_ns = in->mtime_unix_ns;
}

/* ------------------------------------------------------------ unary RPCs */

/* Fails the call (ctx) with err, or replies with resp, whose info field is
 * *slot, filled from res (slot NULL: a response without one). */
static void reply_with_info(void *ctx, const struct error *err, ProtobufCMessage *resp,
                            Enclave__V1__FileInfo **slot, const struct core_file_result *res)
{
    struct api_call *call = daemon_call_or_fail(ctx, err);
    if (call == NULL)
        return;
    Enclave__V1__FileInfo info;
    if (slot != NULL) {
        fill_info(&info, &res->info);
        *slot = &info;
    }
    api_call_reply(call, resp);
}

static void on_stat_done(const struct core_file_result *res, const struct error *err, void *ctx)
{
    Enclave__V1__StatFileResponse resp = ENCLAVE__V1__STAT_FILE_RESPONSE__INIT;
    reply_with_info(ctx, err, &resp.base, &resp.info, res);
}

static void on_mkdir_done(const struct core_file_result *res, const struct error *err, void *ctx)
{
    Enclave__V1__MakeDirectoryResponse resp = ENCLAVE__V1__MAKE_DIRECTORY_RESPONSE__INIT;
    reply_with_info(ctx, err, &resp.base, &resp.info, res);
}

static void on_remove_done(const struct core_file_result *res, const struct error *err, void *ctx)
{
    Enclave__V1__RemoveFileResponse resp = ENCLAVE__V1__REMOVE_FILE_RESPONSE__INIT;
    reply_with_info(ctx, err, &resp.base, NULL, res);
}

static void on_list_done(const struct core_file_result *res, const struct error *err, void *ctx)
{
    struct api_call *call = daemon_call_or_fail(ctx, err);
    if (call == NULL)
        return;
    Enclave__V1__ListFilesResponse resp = ENCLAVE__V1__LIST_FILES_RESPONSE__INIT;
    Enclave__V1__FileInfo *infos = calloc(res->n_entries ? res->n_entries : 1, sizeof(*infos));
    Enclave__V1__FileInfo **ptrs = calloc(res->n_entries ? res->n_entries : 1, sizeof(*ptrs));
    if (infos == NULL || ptrs == NULL) {
        free(infos);
        free(ptrs);
        struct error e;
        error_set(&e, ERR_INTERNAL, "out of memory");
        api_call_fail(call, &e);
        return;
    }
    for (size_t i = 0; i < res->n_entries; i++) {
        fill_info(&infos[i], &res->entries[i]);
        ptrs[i] = &infos[i];
    }
    resp.entries = ptrs;
    resp.n_entries = res->n_entries;
    resp.truncated = res->entries_truncated;
    api_call_reply(call, &resp.base);
    free(infos);
    free(ptrs);
}

static void file_op(struct api_call *call, void *ctx, enum core_file_op op, const char *session_id, const char *path,
                    bool flag, core_file_fn done)
{
    struct daemon_state *d = ctx;
    struct core_file_request req = {
        .session_id = session_id,
        .path = path,
        .parents = op == CORE_FILE_MKDIR && flag,
        .recursive = op == CORE_FILE_REMOVE && flag,
        .size = -1,
        .caller = daemon_caller_of(call),
    };
    struct error err;
    if (core_file_op(d->core, op, &req, done, call, &err) < 0)
        api_call_fail(call, &err);
}

void daemon_handle_stat_file(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    const Enclave__V1__StatFileRequest *r = (const Enclave__V1__StatFileRequest *)msg;
    file_op(call, ctx, CORE_FILE_STAT, r->session_id, r->path, false, on_stat_done);
}

void daemon_handle_list_files(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    const Enclave__V1__ListFilesRequest *r = (const Enclave__V1__ListFilesRequest *)msg;
    file_op(call, ctx, CORE_FILE_LIST, r->session_id, r->path && r->path[0] ? r->path : "/workspace", false,
            on_list_done);
}

void daemon_handle_remove_file(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    const Enclave__V1__RemoveFileRequest *r = (const Enclave__V1__RemoveFileRequest *)msg;
    file_op(call, ctx, CORE_FILE_REMOVE, r->session_id, r->path, r->recursive, on_remove_done);
}

void daemon_handle_make_directory(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    const Enclave__V1__MakeDirectoryRequest *r = (const Enclave__V1__MakeDirectoryRequest *)msg;
    file_op(call, ctx, CORE_FILE_MKDIR, r->session_id, r->path, r->parents, on_mkdir_done);
}

/* ------------------------------------------------------------ DownloadFile */

/* Output flow: a chunk goes to the call and is credited to the guest at
 * once while the call's buffer has room; once it is full (api_call_send said
 * 0) credit is held back and what the guest still had in flight (at most
 * core's window) waits in backlog until on_drained. */
#define BACKLOG_LIMIT ((2u << 20) + (256u << 10))

struct download {
    struct api_call *call;
    struct core_file_transfer *t; /* NULL once it ended */
    uint64_t uncredited;
    bool blocked;
    uint8_t *backlog;
    size_t backlog_len;
    bool done;                    /* the end waits for the backlog */
    Enclave__V1__DownloadFileResponse last;
    Enclave__V1__FileInfo info;
    char sha256[65], name[256], type[16];
};

/* A transfer's client went away: abandon it and end the call. */
static void cancel_transfer(struct api_call *call, struct core_file_transfer **t)
{
    core_file_abandon(*t);
    *t = NULL;
    daemon_finish_canceled(call);
}

static void dl_free(struct download *x)
{
    free(x->backlog);
    free(x);
}

/* 1 sent, 0 sent and now full, -1 not sent. */
static int dl_send(struct download *x, const uint8_t *data, size_t len)
{
    Enclave__V1__DownloadFileResponse m = ENCLAVE__V1__DOWNLOAD_FILE_RESPONSE__INIT;
    m.data.data = (uint8_t *)data;
    m.data.len = len;
    return api_call_send(x->call, &m.base);
}

static void dl_finish(struct download *x)
{
    api_call_send(x->call, &x->last.base);
    api_call_finish(x->call, NULL);
    dl_free(x);
}

/* Sends the backlog while the call takes it. false: x is gone. */
static bool dl_flush(struct download *x)
{
    size_t off = 0;
    while (!x->blocked && off < x->backlog_len) {
        size_t n = x->backlog_len - off < (256u << 10) ? x->backlog_len - off : (256u << 10);
        int rc = dl_send(x, x->backlog + off, n);
        if (rc < 0)
            break; /* the client is gone: on_cancel follows */
        off += n;
        if (rc == 0) {
            x->blocked = true;
            x->uncredited += n;
        } else {
            core_file_credit(x->t, n);
        }
    }
    memmove(x->backlog, x->backlog + off, x->backlog_len - off);
    x->backlog_len -= off;
    if (x->done && !x->blocked && x->backlog_len == 0) {
        dl_finish(x);
        return false;
    }
    return true;
}

static void dl_data(const uint8_t *data, size_t len, void *ctx)
{
    struct download *x = ctx;
    if (x->blocked || x->backlog_len > 0) {
        if (x->backlog_len + len > BACKLOG_LIMIT) {
            core_file_abandon(x->t);
            x->t = NULL;
            struct error e;
            error_set(&e, ERR_INTERNAL, "the guest sent past its flow-control window");
            api_call_finish(x->call, &e);
            dl_free(x);
            return;
        }
        uint8_t *grown = realloc(x->backlog, x->backlog_len + len);
        if (grown == NULL)
            return;
        x->backlog = grown;
        memcpy(x->backlog + x->backlog_len, data, len);
        x->backlog_len += len;
        return;
    }
    int rc = dl_send(x, data, len);
    if (rc == 1) {
        core_file_credit(x->t, len);
    } else if (rc == 0) {
        x->blocked = true;
        x->uncredited += len;
    }
    /* -1: the client is gone; on_cancel ends the transfer. */
}

static void dl_done(const struct core_file_result *res, const struct error *err, void *ctx)
{
    struct download *x = ctx;
    x->t = NULL;
    if (err != NULL) {
        api_call_finish(x->call, err);
        dl_free(x);
        return;
    }
    snprintf(x->sha256, sizeof(x->sha256), "%s", res->sha256);
    snprintf(x->name, sizeof(x->name), "%s", res->info.name);
    snprintf(x->type, sizeof(x->type), "%s", res->info.type);
    fill_info(&x->info, &res->info);
    x->info.name = x->name;
    x->info.type = x->type;
    enclave__v1__download_file_response__init(&x->last);
    x->last.done = true;
    x->last.bytes = res->bytes;
    x->last.sha256 = x->sha256;
    x->last.info = &x->info;
    x->done = true;
    dl_flush(x);
}

static void dl_drained(struct api_call *call, void *ctx)
{
    struct download *x = ctx;
    x->blocked = false;
    if (x->t != NULL && x->uncredited > 0)
        core_file_credit(x->t, x->uncredited);
    x->uncredited = 0;
    dl_flush(x);
}

static void dl_cancel(struct api_call *call, void *ctx)
{
    struct download *x = ctx;
    cancel_transfer(call, &x->t);
    dl_free(x);
}

void daemon_handle_download_file(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    const Enclave__V1__DownloadFileRequest *r = (const Enclave__V1__DownloadFileRequest *)msg;
    struct error err;
    struct download *x = daemon_call_calloc(call, sizeof(*x));
    if (x == NULL)
        return;
    x->call = call;
    struct core_file_request req = {
        .session_id = r->session_id, .path = r->path, .size = -1, .caller = daemon_caller_of(call)};
    static const struct core_file_stream_callbacks cbs = {.on_data = dl_data, .on_done = dl_done};
    static const struct api_call_callbacks ccb = {.on_drained = dl_drained, .on_cancel = dl_cancel};
    api_call_set_callbacks(call, &ccb, x);
    if (core_file_read(d->core, &req, &cbs, x, &x->t, &err) < 0) {
        api_call_set_callbacks(call, NULL, NULL);
        api_call_fail(call, &err);
        dl_free(x);
    }
}

/* ------------------------------------------------------------ UploadFile (gRPC) */

struct upload {
    struct daemon_state *d;
    struct api_call *call;
    struct core_file_transfer *t;
    uint8_t *pending; /* a message's data the guest had no room for yet */
    size_t pending_len, pending_off;
    bool half_closed, eof_sent, failed;
};

static void up_free(struct upload *u)
{
    free(u->pending);
    free(u);
}

/* Sends what waits while the guest has room; the end once the client is
 * done. Returns -1 when it failed (the call was finished). */
static int up_pump(struct upload *u)
{
    struct error err;
    while (u->pending_off < u->pending_len) {
        uint64_t room = core_file_write_room(u->t);
        if (room == 0) {
            api_call_pause_receive(u->call, true);
            return 0;
        }
        size_t n = u->pending_len - u->pending_off;
        if (n > room)
            n = (size_t)room;
        if (core_file_write_data(u->t, u->pending + u->pending_off, n, false, &err) < 0)
            goto fail;
        u->pending_off += n;
    }
    free(u->pending);
    u->pending = NULL;
    u->pending_len = u->pending_off = 0;
    if (u->half_closed && !u->eof_sent) {
        if (core_file_write_data(u->t, NULL, 0, true, &err) < 0)
            goto fail;
        u->eof_sent = true;
        return 0;
    }
    api_call_pause_receive(u->call, false);
    return 0;
fail:
    core_file_abandon(u->t);
    u->t = NULL;
    u->failed = true;
    api_call_finish(u->call, &err);
    up_free(u);
    return -1;
}

static void up_done(const struct core_file_result *res, const struct error *err, void *ctx)
{
    struct upload *u = ctx;
    u->t = NULL;
    if (err != NULL) {
        api_call_finish(u->call, err);
        up_free(u);
        return;
    }
    Enclave__V1__UploadFileResponse resp = ENCLAVE__V1__UPLOAD_FILE_RESPONSE__INIT;
    Enclave__V1__FileInfo info;
    fill_info(&info, &res->info);
    resp.info = &info;
    resp.bytes = res->bytes;
    resp.sha256 = (char *)res->sha256;
    api_call_reply(u->call, &resp.base);
    up_free(u);
}

static void up_room(void *ctx)
{
    up_pump(ctx);
}

static void up_message(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct upload *u = ctx;
    const Enclave__V1__UploadFileRequest *r = (const Enclave__V1__UploadFileRequest *)msg;
    struct error err;
    if (u->t == NULL && !u->eof_sent) {
        /* The first message names the file. */
        struct core_file_request req = {
            .session_id = r->session_id, .path = r->path, .size = -1, .caller = daemon_caller_of(call)};
        static const struct core_file_stream_callbacks cbs = {.on_room = up_room, .on_done = up_done};
        if (core_file_write(u->d->core, &req, &cbs, u, &u->t, &err) < 0) {
            api_call_finish(call, &err);
            up_free(u);
            return;
        }
    }
    if (r->data.len == 0)
        return;
    if (u->eof_sent) {
        error_set(&err, ERR_FAILED_PRECONDITION, "data after the end of the upload");
        core_file_abandon(u->t);
        api_call_finish(call, &err);
        up_free(u);
        return;
    }
    uint8_t *grown = realloc(u->pending, u->pending_len + r->data.len);
    if (grown == NULL) {
        error_set(&err, ERR_INTERNAL, "out of memory");
        core_file_abandon(u->t);
        api_call_finish(call, &err);
        up_free(u);
        return;
    }
    u->pending = grown;
    memcpy(u->pending + u->pending_len, r->data.data, r->data.len);
    u->pending_len += r->data.len;
    up_pump(u);
}

static void up_half_close(struct api_call *call, void *ctx)
{
    struct upload *u = ctx;
    struct error err;
    if (u->t == NULL) {
        error_set(&err, ERR_INVALID_ARGUMENT, "an upload needs a first message naming session_id and path");
        api_call_finish(call, &err);
        up_free(u);
        return;
    }
    u->half_closed = true;
    up_pump(u);
}

static void up_cancel(struct api_call *call, void *ctx)
{
    struct upload *u = ctx;
    cancel_transfer(call, &u->t);
    up_free(u);
}

void daemon_handle_upload_file(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct upload *u = daemon_call_calloc(call, sizeof(*u));
    if (u == NULL)
        return;
    u->d = ctx;
    u->call = call;
    static const struct api_call_callbacks cbs = {
        .on_message = up_message, .on_half_close = up_half_close, .on_cancel = up_cancel};
    api_call_set_callbacks(call, &cbs, u);
}

/* ------------------------------------------------------------ plain HTTP */

/* Answering ends what the exchange's callbacks were for: they are cleared
 * first, so that a connection closing later cannot call into freed state. */
static void exchange_done(struct api_exchange *ex)
{
    api_exchange_set_callbacks(ex, NULL, NULL);
}

static void reply_error(struct api_exchange *ex, const struct error *err)
{
    exchange_done(ex);
    json_t *body = json_pack("{s:s, s:s}", "code", error_kind_connect_name(err->kind), "message", err->message);
    cleanup_free char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    api_exchange_reply(ex, error_kind_http_status(err->kind), "application/json", text ? text : "{}",
                       text ? strlen(text) : 2);
}

int daemon_file_route_parse(const char *path, char *session, size_t session_len, char **guest_path,
                            struct error *err)
{
    *guest_path = NULL;
    if (strncmp(path, ROUTE_PREFIX, strlen(ROUTE_PREFIX)) != 0)
        return error_set(err, ERR_NOT_FOUND, "expected /v1/sessions/{id}/files/{path}");
    const char *p = path + strlen(ROUTE_PREFIX);
    const char *slash = strchr(p, '/');
    if (slash == NULL || (size_t)(slash - p) >= session_len || slash == p ||
        strncmp(slash, "/files/", 7) != 0 || slash[7] == '\0')
        return error_set(err, ERR_NOT_FOUND, "expected /v1/sessions/{id}/files/{path}");
    memcpy(session, p, (size_t)(slash - p));
    session[slash - p] = '\0';
    size_t len = 0;
    char *decoded = evhttp_uridecode(slash + 6, 0, &len);
    if (decoded == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    if (strlen(decoded) != len) {
        free(decoded);
        return error_set(err, ERR_INVALID_ARGUMENT, "the path has a NUL byte");
    }
    /* Trailing slashes mean nothing to the guest; keep at least "/". */
    while (len > 1 && decoded[len - 1] == '/')
        decoded[--len] = '\0';
    *guest_path = decoded;
    return 0;
}

struct http_get {
    struct daemon_state *d;
    struct api_exchange *ex;
    struct api_stream *stream;
    struct core_file_transfer *t;
    char session[CORE_MAX_SESSION_ID + 1];
    char *path;
    struct core_caller caller;
    char peer[128];
    char principal[16];
    uint64_t size, sent, uncredited;
    bool client_gone; /* closed after taking every byte: the transfer ends on its own */
};

static void get_free(struct http_get *g)
{
    free(g->path);
    free(g);
}

static void get_listing(const struct core_file_result *res, const struct error *err, void *ctx)
{
    struct http_get *g = ctx;
    if (g->ex == NULL) { /* the client went away meanwhile */
        get_free(g);
        return;
    }
    if (err != NULL) {
        reply_error(g->ex, err);
        get_free(g);
        return;
    }
    json_t *entries = json_array();
    for (size_t i = 0; i < res->n_entries; i++) {
        const struct core_file_info *e = &res->entries[i];
        json_array_append_new(entries, json_pack("{s:s, s:s, s:I, s:i, s:I}", "name", e->name, "type", e->type,
                                                 "size", (json_int_t)e->size, "mode", (int)e->mode,
                                                 "mtime_unix_ns", (json_int_t)e->mtime_unix_ns));
    }
    json_t *body = json_pack("{s:s, s:o, s:b}", "path", g->path, "entries", entries, "truncated",
                             res->entries_truncated);
    cleanup_free char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    exchange_done(g->ex);
    api_exchange_reply(g->ex, 200, "application/json", text ? text : "{}", text ? strlen(text) : 2);
    get_free(g);
}

static void get_stream_close(struct api_stream *stream, void *ctx)
{
    struct http_get *g = ctx;
    g->stream = NULL;
    if (g->t != NULL && g->sent == g->size) {
        /* The client had it all (Content-Length) and hung up before the
         * guest's final reply: let that come, so the read is recorded with
         * its digest rather than as abandoned. */
        g->client_gone = true;
        return;
    }
    core_file_abandon(g->t);
    get_free(g);
}

static void get_stream_drained(struct api_stream *stream, void *ctx)
{
    struct http_get *g = ctx;
    if (g->t != NULL && g->uncredited > 0)
        core_file_credit(g->t, g->uncredited);
    g->uncredited = 0;
}

static void get_data(const uint8_t *data, size_t len, void *ctx)
{
    struct http_get *g = ctx;
    if (g->client_gone) {
        core_file_credit(g->t, len); /* the file grew: drain it, nobody wants it */
        return;
    }
    /* Never more than the Content-Length announced (the file may have grown). */
    if (g->sent + len > g->size)
        len = (size_t)(g->size - g->sent);
    if (len > 0 && api_stream_write(g->stream, data, len) < 0) {
        log_warn("download to %s: the client buffer overflowed; closing", g->peer);
        return; /* the credit is not given back: the guest stops; on_close follows */
    }
    g->sent += len;
    if (api_stream_pending(g->stream) < CREDIT_MARK)
        core_file_credit(g->t, len);
    else
        g->uncredited += len;
}

static void get_done(const struct core_file_result *res, const struct error *err, void *ctx)
{
    struct http_get *g = ctx;
    g->t = NULL;
    if (err != NULL)
        log_warn("download of %s from %s ended early: %s", g->path, g->session, err->message);
    /* A short body tells the client (Content-Length) that it did not get it all. */
    if (g->stream != NULL)
        api_stream_end(g->stream, NULL, 0, 1000);
    get_free(g);
}

static void get_stat_done(const struct core_file_result *res, const struct error *err, void *ctx)
{
    struct http_get *g = ctx;
    struct error e;
    if (g->ex == NULL) { /* the client went away meanwhile */
        get_free(g);
        return;
    }
    if (err != NULL) {
        reply_error(g->ex, err);
        get_free(g);
        return;
    }
    struct core_file_request req = {.session_id = g->session, .path = g->path, .size = -1, .caller = g->caller};
    req.caller.peer = g->peer;
    req.caller.principal = g->principal;
    if (strcmp(res->info.type, "directory") == 0) {
        if (core_file_op(g->d->core, CORE_FILE_LIST, &req, get_listing, g, &e) < 0) {
            reply_error(g->ex, &e);
            get_free(g);
        }
        return;
    }
    if (strcmp(res->info.type, "symlink") == 0) {
        /* As the guest refuses to follow it for a read. */
        error_set(&e, ERR_PERMISSION_DENIED, "%s is a symbolic link (refused)", g->path);
        reply_error(g->ex, &e);
        get_free(g);
        return;
    }
    if (strcmp(res->info.type, "file") != 0) {
        error_set(&e, ERR_INVALID_ARGUMENT, "%s is not a regular file", g->path);
        reply_error(g->ex, &e);
        get_free(g);
        return;
    }
    g->size = res->info.size;
    static const struct core_file_stream_callbacks cbs = {.on_data = get_data, .on_done = get_done};
    if (core_file_read(g->d->core, &req, &cbs, g, &g->t, &e) < 0) {
        reply_error(g->ex, &e);
        get_free(g);
        return;
    }
    char headers[128];
    snprintf(headers, sizeof(headers), "Content-Length: %llu\r\n", (unsigned long long)g->size);
    struct api_stream_options opts = {.max_buffer = DOWNLOAD_BUFFER, .extra_headers = headers};
    static const struct api_stream_callbacks scb = {.on_close = get_stream_close, .on_drained = get_stream_drained};
    exchange_done(g->ex);
    g->stream = api_exchange_stream_begin(g->ex, 200, "application/octet-stream", &opts, &scb, g);
    if (g->stream != NULL)
        g->ex = NULL; /* the exchange is over: the stream speaks for it */
    if (g->stream == NULL) {
        core_file_abandon(g->t);
        get_free(g);
    }
}

static void get_abort(struct api_exchange *ex, const struct error *why, void *ctx)
{
    struct http_get *g = ctx;
    /* The exchange goes; the stat in flight answers into nothing. */
    g->ex = NULL;
}

static void on_get(struct api_exchange *ex, void *ctx)
{
    struct daemon_state *d = ctx;
    struct error err;
    struct http_get *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        error_set(&err, ERR_INTERNAL, "out of memory");
        reply_error(ex, &err);
        return;
    }
    g->d = d;
    g->ex = ex;
    snprintf(g->peer, sizeof(g->peer), "%s", api_exchange_peer(ex));
    snprintf(g->principal, sizeof(g->principal), "%s", api_exchange_principal(ex));
    g->caller = (struct core_caller){.transport = "http", .peer = g->peer, .principal = g->principal};
    if (daemon_file_route_parse(api_exchange_path(ex), g->session, sizeof(g->session), &g->path, &err) < 0) {
        reply_error(ex, &err);
        get_free(g);
        return;
    }
    static const struct api_exchange_callbacks xcb = {.on_abort = get_abort};
    api_exchange_set_callbacks(ex, &xcb, g);
    struct core_file_request req = {.session_id = g->session, .path = g->path, .size = -1, .caller = g->caller};
    if (core_file_op(d->core, CORE_FILE_STAT, &req, get_stat_done, g, &err) < 0) {
        reply_error(ex, &err);
        get_free(g);
    }
}

struct http_put {
    struct api_exchange *ex;
    struct core_file_transfer *t;
    uint8_t *pending;
    size_t pending_len;
    bool body_done, eof_sent;
    char *path;
};

static void put_free(struct http_put *p)
{
    free(p->pending);
    free(p->path);
    free(p);
}

static void put_fail(struct http_put *p, const struct error *err)
{
    core_file_abandon(p->t);
    p->t = NULL;
    reply_error(p->ex, err);
    put_free(p);
}

/* Sends what waits while there is room, then the end once the body is in. */
static void put_pump(struct http_put *p)
{
    struct error err;
    size_t off = 0;
    while (off < p->pending_len) {
        uint64_t room = core_file_write_room(p->t);
        if (room == 0)
            break;
        size_t n = p->pending_len - off < room ? p->pending_len - off : (size_t)room;
        if (core_file_write_data(p->t, p->pending + off, n, false, &err) < 0) {
            put_fail(p, &err);
            return;
        }
        off += n;
    }
    memmove(p->pending, p->pending + off, p->pending_len - off);
    p->pending_len -= off;
    if (p->pending_len > 0) {
        api_exchange_pause_body(p->ex, true);
        return;
    }
    if (p->body_done) {
        if (!p->eof_sent) {
            if (core_file_write_data(p->t, NULL, 0, true, &err) < 0) {
                put_fail(p, &err);
                return;
            }
            p->eof_sent = true;
        }
        return;
    }
    api_exchange_pause_body(p->ex, false);
}

static void put_room(void *ctx)
{
    put_pump(ctx);
}

static void put_done(const struct core_file_result *res, const struct error *err, void *ctx)
{
    struct http_put *p = ctx;
    p->t = NULL;
    if (err != NULL) {
        reply_error(p->ex, err);
        put_free(p);
        return;
    }
    json_t *body = json_pack("{s:s, s:I, s:s}", "path", p->path, "bytes", (json_int_t)res->bytes, "sha256",
                             res->sha256);
    cleanup_free char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    exchange_done(p->ex);
    api_exchange_reply(p->ex, 201, "application/json", text ? text : "{}", text ? strlen(text) : 2);
    put_free(p);
}

static void put_body(struct api_exchange *ex, const void *data, size_t len, void *ctx)
{
    struct http_put *p = ctx;
    uint8_t *grown = realloc(p->pending, p->pending_len + len);
    if (grown == NULL) {
        struct error e;
        error_set(&e, ERR_INTERNAL, "out of memory");
        put_fail(p, &e);
        return;
    }
    p->pending = grown;
    memcpy(p->pending + p->pending_len, data, len);
    p->pending_len += len;
    put_pump(p);
}

static void put_body_end(struct api_exchange *ex, void *ctx)
{
    struct http_put *p = ctx;
    p->body_done = true;
    put_pump(p);
}

static void put_abort(struct api_exchange *ex, const struct error *why, void *ctx)
{
    struct http_put *p = ctx;
    core_file_abandon(p->t);
    put_free(p);
}

static void on_put(struct api_exchange *ex, void *ctx)
{
    struct daemon_state *d = ctx;
    struct error err;
    char session[CORE_MAX_SESSION_ID + 1];
    struct http_put *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        error_set(&err, ERR_INTERNAL, "out of memory");
        reply_error(ex, &err);
        return;
    }
    p->ex = ex;
    if (daemon_file_route_parse(api_exchange_path(ex), session, sizeof(session), &p->path, &err) < 0) {
        reply_error(ex, &err);
        put_free(p);
        return;
    }
    int64_t size = api_exchange_content_length(ex);
    struct core_file_request req = {.session_id = session,
                                    .path = p->path,
                                    .size = size,
                                    .caller = {.transport = "http",
                                               .peer = api_exchange_peer(ex),
                                               .principal = api_exchange_principal(ex)}};
    static const struct core_file_stream_callbacks cbs = {.on_room = put_room, .on_done = put_done};
    if (core_file_write(d->core, &req, &cbs, p, &p->t, &err) < 0) {
        reply_error(ex, &err);
        put_free(p);
        return;
    }
    static const struct api_exchange_callbacks xcb = {
        .on_body = put_body, .on_body_end = put_body_end, .on_abort = put_abort};
    api_exchange_set_callbacks(ex, &xcb, p);
    /* Nothing can be written before the guest grants room. */
    api_exchange_pause_body(ex, true);
}

int daemon_files_init(struct daemon_state *d, struct error *err)
{
    struct api_route_options get_opts = {.prefix = true, .async = true};
    struct api_route_options put_opts = {.prefix = true, .stream_body = true};
    if (api_server_add_route_opts(d->api, "GET", ROUTE_PREFIX, &get_opts, on_get, d, err) < 0 ||
        api_server_add_route_opts(d->api, "PUT", ROUTE_PREFIX, &put_opts, on_put, d, err) < 0)
        return -1;
    return 0;
}
