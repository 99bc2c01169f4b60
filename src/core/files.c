/* Files of a session: the gate, the guest's file frames, SHA-256 of what
 * passes and the audit record (core.h, "files").
 *
 * Flow control: a download grants the guest DOWNLOAD_WINDOW bytes and more
 * only as the consumer credits what it passed on; an upload sends no more
 * than the guest granted (its FileCredit frames), and no more while the
 * channel to the guest has a backlog. Either way at most a window of the
 * file is in the daemon. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/cleanup.h"
#include "common/text.h"
#include "common/encode.h"
#include "common/log.h"
#include "core/internal.h"

#define OP_TIMEOUT_MS 30000
#define DOWNLOAD_WINDOW (1u << 20)
#define UPLOAD_CHUNK (256u << 10)   /* bytes per FileChunk sent */
#define CHANNEL_BACKLOG (1u << 20)  /* written to the guest channel, not yet taken */

#define GCODE(name) GUEST__V1__ERROR_RESPONSE__CODE__CODE_##name

static const char *type_name(Guest__V1__FileInfo__Type t)
{
    switch (t) {
    case GUEST__V1__FILE_INFO__TYPE__TYPE_FILE:
        return "file";
    case GUEST__V1__FILE_INFO__TYPE__TYPE_DIRECTORY:
        return "directory";
    case GUEST__V1__FILE_INFO__TYPE__TYPE_SYMLINK:
        return "symlink";
    default:
        return "other";
    }
}

static void info_from(struct core_file_info *out, const Guest__V1__FileInfo *in, const char *name)
{
    memset(out, 0, sizeof(*out));
    out->name = name ? name : (in && in->name ? in->name : "");
    if (in == NULL) {
        out->type = "other";
        return;
    }
    out->type = type_name(in->type);
    out->size = in->size;
    out->mode = in->mode;
    out->mtime_unix_ns = in->mtime_unix_ns;
}

/* A file name from the guest: a workload names its files with any bytes.
 * Made valid UTF-8 (U+FFFD for what is not), so that it travels in JSON and
 * protobuf strings and no entry drops out of a listing or an audit record,
 * and cut at CORE_MAX_FILE_NAME bytes of what the guest sent. NULL only when
 * out of memory. */
static char *guest_name(const char *raw)
{
    size_t len = strnlen(raw, CORE_MAX_FILE_NAME);
    return text_utf8_sanitize((const uint8_t *)raw, len);
}

/* The guest's error reply (or a transport error) as an error. */
static const struct error *reply_error(const Guest__V1__Frame *reply, const struct error *err, struct error *buf,
                                       Guest__V1__Frame__BodyCase want)
{
    if (err != NULL)
        return err;
    if (reply->body_case == GUEST__V1__FRAME__BODY_ERROR) {
        static const struct {
            int code;
            enum error_kind kind;
        } kinds[] = {
            {GCODE(NOT_FOUND), ERR_NOT_FOUND},          {GCODE(PERMISSION), ERR_PERMISSION_DENIED},
            {GCODE(EXISTS), ERR_ALREADY_EXISTS},        {GCODE(INVALID), ERR_INVALID_ARGUMENT},
            {GCODE(TOO_LARGE), ERR_OUT_OF_RANGE},       {GCODE(BUSY), ERR_RESOURCE_EXHAUSTED},
            {GCODE(UNKNOWN_REQUEST), ERR_UNIMPLEMENTED},
        };
        enum error_kind kind = ERR_INTERNAL;
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
            if ((int)reply->error->code == kinds[i].code)
                kind = kinds[i].kind;
        char msg[512]; /* the guest's words: valid UTF-8 for replies and audit records */
        text_utf8_copy(msg, sizeof(msg), reply->error->message ? reply->error->message : "error");
        error_set(buf, kind, "guest: %s", msg);
        return buf;
    }
    if (reply->body_case != want) {
        error_set(buf, ERR_INTERNAL, "the guest answered with something else");
        return buf;
    }
    return NULL;
}

/* The gate for a file action; consumes nothing of the caller's. */
static struct proxy_conn *file_gate(struct core *core, const char *action, const char *op,
                                    const struct core_file_request *req, struct error *err)
{
    if (req->path == NULL || req->path[0] != '/' || strlen(req->path) > CORE_MAX_FILE_PATH) {
        error_set(err, ERR_INVALID_ARGUMENT, "the path must be absolute (under /workspace or /tmp)");
        return NULL;
    }
    json_t *session = NULL;
    struct proxy_conn *conn = core_session_channel(core, req->session_id, &session, err);
    if (conn == NULL)
        return NULL;
    json_t *request = json_pack("{s:s, s:s}", "path", req->path, "op", op);
    if (request && req->size >= 0)
        json_object_set_new(request, "size", json_integer(req->size));
    json_t *input = json_pack("{s:o, s:o, s:o}", "session", session, "request", request, "caller",
                              core_caller_json(&req->caller));
    struct gate_obligations ob;
    if (gate_decide(core_gate_of(core), action, req->session_id, input, &ob, err) < 0)
        return NULL;
    /* The decision may have run callbacks: look the channel up again. */
    return core_session_channel(core, req->session_id, NULL, err);
}

/* ------------------------------------------------------------------ stat, list, mkdir, remove */

struct op_ctx {
    struct core *core;
    enum core_file_op op;
    core_file_fn cb;
    void *ctx;
    char session_id[CORE_MAX_SESSION_ID + 1];
    char *path;
};

static const char *const op_names[] = {"stat", "list", "mkdir", "remove"};

static void on_op_reply(const Guest__V1__Frame *reply, const struct error *err, void *ctx)
{
    struct op_ctx *o = ctx;
    struct error buf;
    const struct error *fail = reply_error(reply, err, &buf, GUEST__V1__FRAME__BODY_FILE_RESPONSE);
    if (o->op == CORE_FILE_MKDIR || o->op == CORE_FILE_REMOVE)
        core_record_event(o->core, AUDIT_FILE_WRITE, o->session_id,
                          json_pack("{s:s, s:s, s:s}", "op", op_names[o->op], "path", o->path, "result",
                                    fail ? fail->message : "ok"));
    if (fail != NULL) {
        o->cb(NULL, fail, o->ctx);
    } else {
        const Guest__V1__FileResponse *r = reply->file_response;
        struct core_file_result res;
        memset(&res, 0, sizeof(res));
        cleanup_free char *info_name =
            r->info && r->info->name ? guest_name(r->info->name) : NULL;
        info_from(&res.info, r->info, info_name);
        struct core_file_info *entries = NULL;
        char **names = NULL;
        /* The guest caps a listing; one that does not is capped here. */
        size_t n_entries = r->n_entries < CORE_MAX_LIST_ENTRIES ? r->n_entries : CORE_MAX_LIST_ENTRIES;
        if (n_entries > 0) {
            entries = calloc(n_entries, sizeof(*entries));
            names = calloc(n_entries, sizeof(*names));
            bool ok = entries != NULL && names != NULL && (r->info == NULL || r->info->name == NULL ||
                                                          info_name != NULL);
            for (size_t i = 0; ok && i < n_entries; i++) {
                names[i] = guest_name(r->entries[i]->name ? r->entries[i]->name : "");
                ok = names[i] != NULL;
                if (ok)
                    info_from(&entries[i], r->entries[i], names[i]);
            }
            if (!ok) {
                for (size_t i = 0; names && i < n_entries; i++)
                    free(names[i]);
                free(names);
                free(entries);
                error_set(&buf, ERR_INTERNAL, "out of memory");
                o->cb(NULL, &buf, o->ctx);
                free(o->path);
                free(o);
                return;
            }
        }
        res.entries = entries;
        res.n_entries = n_entries;
        res.entries_truncated = r->entries_truncated || n_entries < r->n_entries;
        o->cb(&res, NULL, o->ctx);
        for (size_t i = 0; names && i < n_entries; i++)
            free(names[i]);
        free(names);
        free(entries);
    }
    free(o->path);
    free(o);
}

int core_file_op(struct core *core, enum core_file_op op, const struct core_file_request *req, core_file_fn cb,
                 void *ctx, struct error *err)
{
    if ((unsigned)op > CORE_FILE_REMOVE)
        return error_set(err, ERR_INVALID_ARGUMENT, "unknown file operation");
    const char *action = op == CORE_FILE_STAT || op == CORE_FILE_LIST ? "file.read" : "file.write";
    struct proxy_conn *conn = file_gate(core, action, op_names[op], req, err);
    if (conn == NULL)
        return -1;
    struct op_ctx *o = calloc(1, sizeof(*o));
    if (o == NULL || (o->path = strdup(req->path)) == NULL) {
        free(o);
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    o->core = core;
    o->op = op;
    o->cb = cb;
    o->ctx = ctx;
    snprintf(o->session_id, sizeof(o->session_id), "%s", req->session_id);
    static const Guest__V1__FileRequest__Op guest_ops[] = {
        GUEST__V1__FILE_REQUEST__OP__OP_STAT, GUEST__V1__FILE_REQUEST__OP__OP_LIST,
        GUEST__V1__FILE_REQUEST__OP__OP_MKDIR, GUEST__V1__FILE_REQUEST__OP__OP_REMOVE};
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__FileRequest fr = GUEST__V1__FILE_REQUEST__INIT;
    fr.op = guest_ops[op];
    fr.path = (char *)req->path;
    fr.parents = req->parents;
    fr.recursive = req->recursive;
    f.body_case = GUEST__V1__FRAME__BODY_FILE_REQUEST;
    f.file_request = &fr;
    if (proxy_request_frames(conn, &f, OP_TIMEOUT_MS, on_op_reply, NULL, o, NULL, err) < 0) {
        free(o->path);
        free(o);
        return -1;
    }
    core_session_touch(core, req->session_id);
    return 0;
}

/* ------------------------------------------------------------------ read and write */

struct core_file_transfer {
    struct core *core;
    struct proxy_conn *conn;
    uint64_t id;
    bool write;
    struct core_file_stream_callbacks cb;
    void *ctx;
    EVP_MD_CTX *sha;
    uint64_t bytes;
    uint64_t room;      /* write: credit the guest granted, not yet used */
    bool eof_sent;
    bool waiting_room;  /* write: the consumer was told there is no room */
    char session_id[CORE_MAX_SESSION_ID + 1];
    char *path;
};

static void transfer_free(struct core_file_transfer *t)
{
    EVP_MD_CTX_free(t->sha);
    free(t->path);
    free(t);
}

static void hex_digest(EVP_MD_CTX *sha, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(sha, md, &n);
    encode_hex(md, 32, out);
}

static void on_transfer_reply(const Guest__V1__Frame *reply, const struct error *err, void *ctx)
{
    struct core_file_transfer *t = ctx;
    struct error buf;
    const struct error *fail = reply_error(reply, err, &buf, GUEST__V1__FRAME__BODY_FILE_RESPONSE);
    struct core_file_result res;
    memset(&res, 0, sizeof(res));
    hex_digest(t->sha, res.sha256);
    res.bytes = t->bytes;
    if (fail == NULL && reply->file_response->bytes != t->bytes) {
        error_set(&buf, ERR_DATA_LOSS, "the guest counted %llu bytes, the daemon %llu",
                  (unsigned long long)reply->file_response->bytes, (unsigned long long)t->bytes);
        fail = &buf;
    }
    core_record_event(t->core, t->write ? AUDIT_FILE_WRITE : AUDIT_FILE_READ, t->session_id,
                      fail ? json_pack("{s:s, s:s, s:I, s:s}", "op", t->write ? "write" : "read", "path", t->path,
                                       "bytes", (json_int_t)t->bytes, "error", fail->message)
                           : json_pack("{s:s, s:s, s:I, s:s}", "op", t->write ? "write" : "read", "path", t->path,
                                       "bytes", (json_int_t)t->bytes, "sha256", res.sha256));
    core_session_touch(t->core, t->session_id);
    if (fail == NULL) {
        const char *base = strrchr(t->path, '/');
        info_from(&res.info, reply->file_response->info, base && base[1] ? base + 1 : t->path);
    }
    t->cb.on_done(fail ? NULL : &res, fail, t->ctx);
    transfer_free(t);
}

static void on_transfer_frame(const Guest__V1__Frame *f, void *ctx)
{
    struct core_file_transfer *t = ctx;
    if (!t->write && f->body_case == GUEST__V1__FRAME__BODY_FILE_CHUNK) {
        const ProtobufCBinaryData *d = &f->file_chunk->data;
        EVP_DigestUpdate(t->sha, d->data, d->len);
        t->bytes += d->len;
        if (d->len > 0)
            t->cb.on_data(d->data, d->len, t->ctx);
        return;
    }
    if (t->write && f->body_case == GUEST__V1__FRAME__BODY_FILE_CREDIT) {
        t->room += f->file_credit->bytes;
        if (t->room > (64u << 20))
            t->room = 64u << 20;
        if (t->waiting_room && t->room > 0 && !t->eof_sent) {
            t->waiting_room = false;
            if (t->cb.on_room)
                t->cb.on_room(t->ctx);
        }
    }
}

static int start_transfer(struct core *core, bool write, const struct core_file_request *req,
                          const struct core_file_stream_callbacks *cb, void *ctx, struct core_file_transfer **out,
                          struct error *err)
{
    struct proxy_conn *conn = file_gate(core, write ? "file.write" : "file.read", write ? "write" : "read", req, err);
    if (conn == NULL)
        return -1;
    struct core_file_transfer *t = calloc(1, sizeof(*t));
    if (t == NULL || (t->path = strdup(req->path)) == NULL || (t->sha = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(t->sha, EVP_sha256(), NULL) != 1) {
        if (t)
            transfer_free(t);
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    t->core = core;
    t->conn = conn;
    t->write = write;
    t->cb = *cb;
    t->ctx = ctx;
    t->waiting_room = true;
    snprintf(t->session_id, sizeof(t->session_id), "%s", req->session_id);
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__FileRequest fr = GUEST__V1__FILE_REQUEST__INIT;
    fr.op = write ? GUEST__V1__FILE_REQUEST__OP__OP_WRITE : GUEST__V1__FILE_REQUEST__OP__OP_READ;
    fr.path = (char *)req->path;
    fr.window = write ? 0 : DOWNLOAD_WINDOW;
    f.body_case = GUEST__V1__FRAME__BODY_FILE_REQUEST;
    f.file_request = &fr;
    /* No overall timeout: a transfer takes as long as its client; a guest
     * that goes away fails it. */
    if (proxy_request_frames(conn, &f, 0, on_transfer_reply, on_transfer_frame, t, &t->id, err) < 0) {
        transfer_free(t);
        return -1;
    }
    core_session_touch(core, req->session_id);
    *out = t;
    return 0;
}

int core_file_read(struct core *core, const struct core_file_request *req, const struct core_file_stream_callbacks *cb,
                   void *ctx, struct core_file_transfer **t, struct error *err)
{
    return start_transfer(core, false, req, cb, ctx, t, err);
}

int core_file_write(struct core *core, const struct core_file_request *req, const struct core_file_stream_callbacks *cb,
                    void *ctx, struct core_file_transfer **t, struct error *err)
{
    return start_transfer(core, true, req, cb, ctx, t, err);
}

void core_file_credit(struct core_file_transfer *t, uint64_t bytes)
{
    if (t == NULL || t->write || bytes == 0)
        return;
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__FileCredit cr = GUEST__V1__FILE_CREDIT__INIT;
    cr.bytes = bytes;
    f.body_case = GUEST__V1__FRAME__BODY_FILE_CREDIT;
    f.file_credit = &cr;
    struct error err;
    if (proxy_send(t->conn, t->id, &f, &err) < 0)
        log_debug("file credit: %s", err.message);
}

uint64_t core_file_write_room(struct core_file_transfer *t)
{
    if (t == NULL || !t->write || t->eof_sent)
        return 0;
    uint64_t room = proxy_backlog(t->conn) > CHANNEL_BACKLOG ? 0 : t->room;
    /* Whoever is told "no room" hears about the next credit. */
    if (room == 0)
        t->waiting_room = true;
    return room;
}

int core_file_write_data(struct core_file_transfer *t, const uint8_t *data, size_t len, bool eof, struct error *err)
{
    if (!t->write || t->eof_sent)
        return error_set(err, ERR_FAILED_PRECONDITION, "the upload has ended");
    if (len > t->room)
        return error_set(err, ERR_INTERNAL, "an upload chunk past the guest's credit");
    size_t off = 0;
    do {
        size_t n = len - off < UPLOAD_CHUNK ? len - off : UPLOAD_CHUNK;
        bool last = eof && off + n == len;
        Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
        Guest__V1__FileChunk ch = GUEST__V1__FILE_CHUNK__INIT;
        ch.data.data = (uint8_t *)data + off;
        ch.data.len = n;
        ch.eof = last;
        f.body_case = GUEST__V1__FRAME__BODY_FILE_CHUNK;
        f.file_chunk = &ch;
        if (proxy_send(t->conn, t->id, &f, err) < 0)
            return -1;
        EVP_DigestUpdate(t->sha, data + off, n);
        t->bytes += n;
        t->room -= n;
        off += n;
    } while (off < len);
    if (eof)
        t->eof_sent = true;
    return 0;
}

void core_file_abandon(struct core_file_transfer *t)
{
    if (t == NULL)
        return;
    core_record_event(t->core, t->write ? AUDIT_FILE_WRITE : AUDIT_FILE_READ, t->session_id,
                      json_pack("{s:s, s:s, s:I, s:s}", "op", t->write ? "write" : "read", "path", t->path, "bytes",
                                (json_int_t)t->bytes, "error", "abandoned by the client"));
    proxy_cancel(t->conn, t->id);
    transfer_free(t);
}
