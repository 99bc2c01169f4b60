/* The OCI distribution API over the project's HTTP client: manifests,
 * blobs (with resume), uploads (monolithic and chunked) and the bearer
 * token challenge flow. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "http/http.h"
#include "oci/internal.h"

#define MANIFEST_ACCEPT                                                                   \
    "Accept: " OCI_MEDIA_INDEX ", " OCI_MEDIA_MANIFEST ", " OCI_MEDIA_DOCKER_LIST ", " \
    OCI_MEDIA_DOCKER_MANIFEST
#define FETCH_ATTEMPTS 4

int registry_open(struct registry *r, const struct oci_ref *ref, const struct oci_options *opts,
                  bool push, struct error *err)
{
    memset(r, 0, sizeof(*r));
    r->ref = *ref;
    r->insecure = opts && opts->insecure;
    r->timeout_ms = opts ? opts->timeout_ms : 0;
    /* One deadline for everything this registry handle does (a whole pull:
     * token, manifests, every blob), so a registry that drips bytes just
     * fast enough to dodge the inactivity timeout cannot hold it forever. */
    unsigned deadline_s = opts && opts->deadline_s ? opts->deadline_s : OCI_DEFAULT_DEADLINE_S;
    r->deadline_ms = http_now_ms() + (uint64_t)deadline_s * 1000;
    snprintf(r->scope, sizeof(r->scope), "%s", push ? "pull,push" : "pull");
    /* https everywhere; plain http for loopback registries (the tests' and
     * a developer's local one) or when the user said --insecure */
    bool plain = oci_ref_is_loopback(ref) || r->insecure;
    int n = snprintf(r->base, sizeof(r->base), "%s://%s", plain ? "http" : "https",
                     oci_ref_api_host(ref));
    if (n < 0 || (size_t)n >= sizeof(r->base))
        return error_set(err, ERR_INVALID_ARGUMENT, "registry name too long");
    const char *env = getenv("ENCLAVE_REGISTRY_SCHEME");
    if (env != NULL && strcmp(env, "https") == 0)
        snprintf(r->base, sizeof(r->base), "https://%s", oci_ref_api_host(ref));
    return 0;
}

void registry_release(struct registry *r)
{
    free(r->token);
    r->token = NULL;
}

/* <base>/v2/<name>/<kind>/<a> */
static int url_for(const struct registry *r, char **out, const char *kind, const char *a)
{
    return asprintf(out, "%s/v2/%s/%s/%s", r->base, r->ref.repository, kind, a) < 0 ? -1 : 0;
}

/* Runs the token flow for a Bearer challenge and stores the token. */
static int fetch_token(struct registry *r, const char *challenge, struct error *err)
{
    struct oci_bearer_challenge c;
    if (oci_bearer_challenge_parse(challenge, &c, err) < 0)
        return error_prefix(err, "registry %s", r->ref.registry);
    char scope[600];
    if (c.scope[0])
        snprintf(scope, sizeof(scope), "%s", c.scope);
    else
        snprintf(scope, sizeof(scope), "repository:%s:%s", r->ref.repository, r->scope);
    cleanup_free char *service = http_query_escape(c.service);
    cleanup_free char *scope_q = http_query_escape(scope);
    cleanup_free char *url = NULL;
    if (service == NULL || scope_q == NULL ||
        asprintf(&url, "%s%sservice=%s&scope=%s", c.realm, strchr(c.realm, '?') ? "&" : "?",
                 service, scope_q) < 0) {
        url = NULL;
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    struct http_request req = {
        .method = "GET",
        .url = url,
        .body_fd = -1,
        .max_body = OCI_TOKEN_MAX,
        .timeout_ms = r->timeout_ms,
        .deadline_ms = r->deadline_ms,
        .allow_insecure_http = r->insecure,
    };
    struct http_response resp;
    int ret = http_request_run(&req, &resp, err);
    if (ret < 0) {
        http_response_release(&resp);
        return error_prefix(err, "token endpoint %.200s", c.realm);
    }
    if (resp.status != 200) {
        error_set(err, ERR_UNAUTHENTICATED, "token endpoint %.200s answered %d", c.realm,
                  resp.status);
        http_response_release(&resp);
        return -1;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, &jerr);
    http_response_release(&resp);
    json_t *tok = doc ? json_object_get(doc, "token") : NULL;
    if (!json_is_string(tok))
        tok = doc ? json_object_get(doc, "access_token") : NULL;
    if (!json_is_string(tok) || json_string_length(tok) == 0 || json_string_length(tok) > 16384) {
        json_decref(doc);
        return error_set(err, ERR_UNAUTHENTICATED, "token endpoint gave no usable token");
    }
    const char *t = json_string_value(tok);
    for (const char *p = t; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            json_decref(doc);
            return error_set(err, ERR_UNAUTHENTICATED, "token has characters a header cannot carry");
        }
    free(r->token);
    r->token = strdup(t);
    json_decref(doc);
    return r->token ? 0 : error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
}

/* One API call: adds the token, answers a Bearer challenge once and retries. */
static int registry_call(struct registry *r, struct http_request *req, struct http_response *resp,
                         struct error *err)
{
    const char *headers[16];
    size_t base_count = req->header_count;
    if (base_count > 14)
        return error_set(err, ERR_INTERNAL, "too many headers");
    for (size_t i = 0; i < base_count; i++)
        headers[i] = req->headers[i];
    const char *const *orig = req->headers;
    for (int attempt = 0; attempt < 2; attempt++) {
        cleanup_free char *auth = NULL;
        size_t count = base_count;
        if (r->token != NULL) {
            if (asprintf(&auth, "Authorization: Bearer %s", r->token) < 0) {
                auth = NULL;
                return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
            }
            headers[count++] = auth;
        }
        req->headers = headers;
        req->header_count = count;
        req->allow_insecure_http = r->insecure;
        req->timeout_ms = r->timeout_ms;
        req->deadline_ms = r->deadline_ms;
        int ret = http_request_run(req, resp, err);
        req->headers = orig;
        req->header_count = base_count;
        if (ret < 0)
            return error_prefix(err, "registry %s", r->ref.registry);
        if (resp->status != 401 || attempt == 1)
            return 0;
        const char *challenge = http_response_header(resp, "WWW-Authenticate");
        if (challenge == NULL || strncasecmp(challenge, "Bearer", 6) != 0)
            return 0; /* the caller reports the 401 */
        cleanup_free char *copy = strdup(challenge);
        http_response_release(resp);
        if (copy == NULL)
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        if (fetch_token(r, copy, err) < 0)
            return -1;
    }
    return 0;
}

/* Turns an unexpected status into an error, with the registry's own words. */
static int status_error(const struct registry *r, const struct http_response *resp,
                        const char *what, struct error *err)
{
    enum error_kind kind = ERR_UNKNOWN;
    switch (resp->status) {
    case 401: kind = ERR_UNAUTHENTICATED; break;
    case 403: kind = ERR_PERMISSION_DENIED; break;
    case 404: kind = ERR_NOT_FOUND; break;
    case 416: kind = ERR_OUT_OF_RANGE; break;
    case 429: kind = ERR_RESOURCE_EXHAUSTED; break;
    default: kind = resp->status >= 500 ? ERR_UNAVAILABLE : ERR_FAILED_PRECONDITION; break;
    }
    char detail[300] = "";
    if (resp->body_len > 0) {
        size_t k = 0;
        for (size_t i = 0; i < resp->body_len && k + 1 < sizeof(detail); i++) {
            unsigned char c = (unsigned char)resp->body[i];
            detail[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
        }
        detail[k] = '\0';
    }
    return error_set(err, kind, "registry %s: %s: HTTP %d%s%s", r->ref.registry, what,
                     resp->status, detail[0] ? ": " : "", detail);
}

/* registry_call expecting the status want: on a failure or another status
 * the response is released and -1 returned (what names the request). */
static int call_expecting(struct registry *r, struct http_request *req, struct http_response *resp,
                          int want, const char *what, struct error *err)
{
    if (registry_call(r, req, resp, err) < 0) {
        http_response_release(resp);
        return -1;
    }
    if (resp->status != want) {
        status_error(r, resp, what, err);
        http_response_release(resp);
        return -1;
    }
    return 0;
}

int registry_manifest_get(struct registry *r, const char *reference, char **body, size_t *len,
                          char media_type[128], char digest_out[72], struct error *err)
{
    *body = NULL;
    *len = 0;
    cleanup_free char *url = NULL;
    if (url_for(r, &url, "manifests", reference) < 0)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    const char *headers[] = {MANIFEST_ACCEPT};
    struct http_request req = {.method = "GET", .url = url, .headers = headers,
                               .header_count = 1, .body_fd = -1, .max_body = OCI_MANIFEST_MAX};
    struct http_response resp;
    char what[400];
    snprintf(what, sizeof(what), "manifest %s/%s", r->ref.repository, reference);
    if (call_expecting(r, &req, &resp, 200, what, err) < 0)
        return -1;
    oci_digest_of(resp.body ? resp.body : "", resp.body_len, digest_out);
    if (oci_digest_valid(reference) && strcmp(reference, digest_out) != 0) {
        error_set(err, ERR_DATA_LOSS, "manifest %s: the registry sent bytes hashing to %s",
                  reference, digest_out);
        http_response_release(&resp);
        return -1;
    }
    const char *dcd = http_response_header(&resp, "Docker-Content-Digest");
    if (dcd != NULL && oci_digest_valid(dcd) && strcmp(dcd, digest_out) != 0)
        log_warn("registry %s: Docker-Content-Digest %s differs from the bytes' digest %s",
                 r->ref.registry, dcd, digest_out);
    /* the document's own mediaType wins over Content-Type */
    media_type[0] = '\0';
    struct error ignored;
    if (oci_document_media_type(resp.body ? resp.body : "", resp.body_len, media_type, &ignored) <
            0 ||
        media_type[0] == '\0') {
        const char *ct = http_response_header(&resp, "Content-Type");
        snprintf(media_type, 128, "%s", ct ? ct : "");
        char *semi = strchr(media_type, ';');
        if (semi)
            *semi = '\0';
    }
    *body = resp.body ? resp.body : strdup("");
    *len = resp.body_len;
    resp.body = NULL;
    http_response_release(&resp);
    return *body ? 0 : error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
}

int registry_manifest_put(struct registry *r, const char *reference, const char *media_type,
                          const char *body, size_t len, struct error *err)
{
    cleanup_free char *url = NULL;
    cleanup_free char *ct = NULL;
    if (url_for(r, &url, "manifests", reference) < 0 ||
        asprintf(&ct, "Content-Type: %s", media_type) < 0)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    const char *headers[] = {ct};
    struct http_request req = {.method = "PUT", .url = url, .headers = headers,
                               .header_count = 1, .body = body, .body_len = len, .body_fd = -1,
                               .max_redirects = -1};
    struct http_response resp;
    int ret = registry_call(r, &req, &resp, err);
    if (ret == 0 && resp.status != 201 && resp.status != 200) {
        char what[400];
        snprintf(what, sizeof(what), "putting manifest %s", reference);
        ret = status_error(r, &resp, what, err);
    }
    http_response_release(&resp);
    return ret;
}

int registry_blob_exists(struct registry *r, const char *digest, bool *exists, struct error *err)
{
    *exists = false;
    cleanup_free char *url = NULL;
    if (url_for(r, &url, "blobs", digest) < 0)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    struct http_request req = {.method = "HEAD", .url = url, .body_fd = -1};
    struct http_response resp;
    int ret = registry_call(r, &req, &resp, err);
    if (ret == 0) {
        if (resp.status == 200)
            *exists = true;
        else if (resp.status != 404)
            ret = status_error(r, &resp, "checking a blob", err);
    }
    http_response_release(&resp);
    return ret;
}

/* ------------------------------------------------------------ download */

struct fetch_ctx {
    struct blob_writer *w;
    struct oci_progress *progress;
    uint64_t requested_offset;
};

static int fetch_on_headers(void *arg, const struct http_response *resp, struct error *err)
{
    struct fetch_ctx *f = arg;
    if (resp->status == 206) {
        uint64_t start, end;
        if (oci_content_range_parse(http_response_header(resp, "Content-Range"), &start, &end,
                                    err) < 0)
            return -1;
        if (start != f->requested_offset)
            return error_set(err, ERR_UNAVAILABLE,
                             "server resumed at byte %" PRIu64 ", we asked for %" PRIu64, start,
                             f->requested_offset);
        return 0;
    }
    /* a full answer to a range request: start over */
    if (f->w->offset > 0) {
        if (blob_writer_reset(f->w, err) < 0)
            return -1;
        if (f->progress)
            f->progress->done = 0;
    }
    return 0;
}

static int fetch_on_body(void *arg, const char *data, size_t len, struct error *err)
{
    struct fetch_ctx *f = arg;
    if (blob_writer_write(f->w, data, len, err) < 0)
        return -1;
    if (f->progress)
        oci_progress_add(f->progress, len);
    return 0;
}

int registry_blob_fetch(struct registry *r, const struct blobstore *store, const char *digest,
                        uint64_t size, struct oci_progress *progress, struct error *err)
{
    if (blobstore_has(store, digest))
        return 0;
    cleanup_free char *url = NULL;
    if (url_for(r, &url, "blobs", digest) < 0)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    for (int attempt = 1;; attempt++) {
        struct blob_writer w;
        if (blob_writer_open(store, digest, size, &w, err) < 0)
            return -1;
        if (progress)
            progress->done = w.offset;
        char range[64];
        const char *headers[1];
        size_t hc = 0;
        if (w.offset > 0) {
            snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-", w.offset);
            headers[hc++] = range;
            if (w.offset == size) {
                /* everything is there already; the commit checks it */
                return blob_writer_commit(&w, err);
            }
        }
        struct fetch_ctx f = {.w = &w, .progress = progress, .requested_offset = w.offset};
        struct http_request req = {.method = "GET", .url = url, .headers = headers,
                                   .header_count = hc, .body_fd = -1, .on_body = fetch_on_body,
                                   .on_headers = fetch_on_headers, .ctx = &f};
        struct http_response resp;
        int ret = registry_call(r, &req, &resp, err);
        if (ret == 0 && resp.status != 200 && resp.status != 206) {
            if (resp.status == 416) {
                /* our partial is useless to this server: drop it and retry */
                blob_writer_discard(&w);
                http_response_release(&resp);
                if (attempt >= FETCH_ATTEMPTS)
                    return error_set(err, ERR_UNAVAILABLE, "blob %s: range not satisfiable",
                                     digest);
                continue;
            }
            char what[200];
            snprintf(what, sizeof(what), "blob %s", digest);
            status_error(r, &resp, what, err);
            http_response_release(&resp);
            blob_writer_release(&w);
            return -1;
        }
        bool interrupted = ret < 0 && (resp.truncated || err->kind == ERR_DEADLINE_EXCEEDED ||
                                       (err->kind == ERR_UNAVAILABLE && resp.status != 0));
        http_response_release(&resp);
        if (ret == 0)
            return blob_writer_commit(&w, err); /* size and digest decide */
        if (err->kind == ERR_DATA_LOSS) {
            blob_writer_discard(&w); /* longer than declared: never keep it */
            return -1;
        }
        uint64_t have = w.offset;
        blob_writer_release(&w);
        if (!interrupted || attempt >= FETCH_ATTEMPTS)
            return -1;
        log_info("blob %.19s: transfer interrupted at %" PRIu64 " of %" PRIu64
                 " bytes (%s); resuming",
                 digest, have, size, err->message);
    }
}

/* ------------------------------------------------------------ upload */

static int location_url(const struct registry *r, const struct http_response *resp, char **out,
                        struct error *err)
{
    const char *loc = http_response_header(resp, "Location");
    if (loc == NULL)
        return error_set(err, ERR_UNAVAILABLE, "registry %s: upload answer without Location",
                         r->ref.registry);
    return http_resolve_url(resp->url ? resp->url : r->base, loc, out, err);
}

static int append_digest_param(const char *url, const char *digest, char **out)
{
    return asprintf(out, "%s%sdigest=%s", url, strchr(url, '?') ? "&" : "?", digest) < 0 ? -1 : 0;
}

int registry_blob_push(struct registry *r, const char *digest, int fd, const void *data,
                       uint64_t size, uint64_t chunk_size, struct error *err)
{
    cleanup_free char *url = NULL;
    if (url_for(r, &url, "blobs/uploads", "") < 0)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    struct http_request start = {.method = "POST", .url = url, .body_fd = -1,
                                 .max_redirects = -1};
    struct http_response resp;
    if (call_expecting(r, &start, &resp, 202, "starting an upload", err) < 0)
        return -1;
    cleanup_free char *upload = NULL;
    int ret = location_url(r, &resp, &upload, err);
    http_response_release(&resp);
    if (ret < 0)
        return -1;

    const char *octet = "Content-Type: application/octet-stream";
    if (chunk_size > 0) {
        for (uint64_t off = 0; off < size;) {
            uint64_t n = size - off < chunk_size ? size - off : chunk_size;
            char range[96];
            snprintf(range, sizeof(range), "Content-Range: %" PRIu64 "-%" PRIu64, off,
                     off + n - 1);
            const char *headers[] = {octet, range};
            struct http_request patch = {.method = "PATCH", .url = upload, .headers = headers,
                                         .header_count = 2, .body_fd = fd, .max_redirects = -1};
            if (fd >= 0) {
                patch.body_offset = off;
                patch.body_fd_len = n;
            } else {
                patch.body = (const char *)data + off;
                patch.body_len = (size_t)n;
            }
            if (call_expecting(r, &patch, &resp, 202, "uploading a chunk", err) < 0)
                return -1;
            char *next = NULL;
            ret = location_url(r, &resp, &next, err);
            http_response_release(&resp);
            if (ret < 0)
                return -1;
            free(upload);
            upload = next;
            off += n;
        }
    }
    cleanup_free char *final = NULL;
    if (append_digest_param(upload, digest, &final) < 0)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    const char *headers[] = {octet};
    struct http_request put = {.method = "PUT", .url = final, .headers = headers,
                               .header_count = 1, .body_fd = -1, .max_redirects = -1};
    if (chunk_size == 0) {
        if (fd >= 0) {
            put.body_fd = fd;
            put.body_offset = 0;
            put.body_fd_len = size;
        } else {
            put.body = data;
            put.body_len = (size_t)size;
        }
    }
    if (call_expecting(r, &put, &resp, 201, "finishing an upload", err) < 0)
        return -1;
    const char *dcd = http_response_header(&resp, "Docker-Content-Digest");
    if (dcd != NULL && strcmp(dcd, digest) != 0) {
        error_set(err, ERR_DATA_LOSS, "registry stored %s as %s", digest, dcd);
        http_response_release(&resp);
        return -1;
    }
    http_response_release(&resp);
    return 0;
}
