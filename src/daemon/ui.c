/* The Web UI: its assets (ui/, built into the binary with .incbin, see the
 * Makefile's ui_blob.S) served at / and /ui/..., and the RPCs only the UI
 * needed so far: VerifyAudit, GetPolicy, EvalPolicy and ListImages.
 *
 * The assets are served like every other route: admission (src/api/auth.c)
 * has already required the token or the login cookie, the Host and the
 * Origin. Every answer carries a Content-Security-Policy that allows only
 * this origin's script and style, data: images and same-origin frames, and
 * forbids being framed. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "daemon/internal.h"
#include "enclave/v1/enclave.pb-c.h"
#include "image/image.h"
#include "policy/policy.h"

#define UI_ASSETS(X)                                                                  \
    X(index_html, "/", "text/html; charset=utf-8")                                    \
    X(app_js, "/ui/app.js", "text/javascript; charset=utf-8")                         \
    X(app_css, "/ui/app.css", "text/css; charset=utf-8")

#define X(sym, path, type)                                                            \
    extern const char enclave_ui_##sym[];                                             \
    extern const char enclave_ui_##sym##_end[];
UI_ASSETS(X)
#undef X

struct ui_asset {
    const char *path;
    const char *type;
    const char *start;
    const char *end;
};

static const struct ui_asset ui_assets[] = {
#define X(sym, path, type) {path, type, enclave_ui_##sym, enclave_ui_##sym##_end},
    UI_ASSETS(X)
#undef X
};

const char daemon_ui_headers[] =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: DENY\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n"
    "Cross-Origin-Resource-Policy: same-origin\r\n"
    "Cache-Control: no-store\r\n";

static void on_asset(struct api_exchange *x, void *ctx)
{
    (void)ctx;
    const char *path = api_exchange_path(x);
    for (size_t i = 0; i < sizeof(ui_assets) / sizeof(ui_assets[0]); i++) {
        const struct ui_asset *a = &ui_assets[i];
        if (strcmp(path, a->path) == 0) {
            api_exchange_reply_headers(x, 200, a->type, daemon_ui_headers, a->start,
                                       (size_t)(a->end - a->start));
            return;
        }
    }
    static const char missing[] = "no such file\n";
    api_exchange_reply_headers(x, 404, "text/plain; charset=utf-8", daemon_ui_headers, missing,
                               sizeof(missing) - 1);
}

/* ------------------------------------------------------------------ RPCs */

static json_t *caller_json(struct api_call *call)
{
    return json_pack("{s:s, s:s, s:s}", "transport", api_call_transport(call), "peer",
                     api_call_peer(call), "principal", api_call_principal(call));
}

/* gate_decide for a daemon action of the UI; -1 when refused (call failed). */
static int ui_gate(struct daemon_state *d, struct api_call *call, const char *action,
                   json_t *request)
{
    struct error err;
    json_t *input = json_pack("{s:{s:s}, s:o, s:o}", "session", "id", "", "request",
                              request ? request : json_object(), "caller", caller_json(call));
    struct gate_obligations ob;
    if (gate_decide(d->gate, action, "", input, &ob, &err) < 0) {
        api_call_fail(call, &err);
        return -1;
    }
    return 0;
}

void daemon_handle_verify_audit(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    (void)msg;
    struct daemon_state *d = ctx;
    if (ui_gate(d, call, "audit.read", json_pack("{s:s}", "verify", "chain+checkpoints")) < 0)
        return;
    char db[4200], keys[4200], pub[4300];
    struct error err;
    if (audit_default_db_path(db, sizeof(db), &err) < 0 ||
        audit_default_key_dir(keys, sizeof(keys), &err) < 0) {
        api_call_fail(call, &err);
        return;
    }
    snprintf(pub, sizeof(pub), "%s/audit.pub", keys);
    struct audit_verify_result res;
    memset(&res, 0, sizeof(res));
    Enclave__V1__VerifyAuditResponse resp = ENCLAVE__V1__VERIFY_AUDIT_RESPONSE__INIT;
    /* With the daemon's own public key, not the copy inside the log. */
    if (audit_verify_db(db, pub, &res, &err) < 0 && res.reason[0] == '\0')
        snprintf(res.reason, sizeof(res.reason), "%.500s", err.message);
    resp.ok = res.ok;
    resp.records = res.records;
    resp.checkpoints = res.checkpoints;
    resp.last_checkpoint_seq = res.last_checkpoint_seq;
    resp.head_hash = res.head_hash;
    resp.root_hash = res.root_hash;
    resp.fail_seq = res.fail_seq;
    resp.reason = res.reason;
    api_call_reply(call, &resp.base);
}

void daemon_handle_get_policy(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    (void)msg;
    struct daemon_state *d = ctx;
    if (ui_gate(d, call, "policy.read", json_pack("{s:s}", "read", "bundle")) < 0)
        return;
    struct policy_bundle *b = gate_bundle(d->gate);
    Enclave__V1__GetPolicyResponse resp = ENCLAVE__V1__GET_POLICY_RESPONSE__INIT;
    resp.digest = (char *)gate_policy_digest(d->gate);
    resp.origin = (char *)policy_bundle_origin(b);
    resp.file_count = (int32_t)policy_bundle_file_count(b);
    resp.test_count = (int32_t)policy_bundle_test_count(b);
    size_t n = 0;
    const struct policy_file *files = NULL;
    if (strcmp(resp.origin, "builtin") == 0)
        files = policy_builtin_files(&n);
    Enclave__V1__PolicyFile *items = calloc(n ? n : 1, sizeof(*items));
    Enclave__V1__PolicyFile **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    if (items == NULL || ptrs == NULL) {
        free(items);
        free(ptrs);
        struct error err;
        error_set(&err, ERR_INTERNAL, "out of memory");
        api_call_fail(call, &err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        enclave__v1__policy_file__init(&items[i]);
        items[i].path = (char *)files[i].path;
        items[i].text = (char *)files[i].text;
        ptrs[i] = &items[i];
    }
    resp.n_files = n;
    resp.files = ptrs;
    api_call_reply(call, &resp.base);
    free(items);
    free(ptrs);
}

void daemon_handle_eval_policy(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    const Enclave__V1__EvalPolicyRequest *req = (const Enclave__V1__EvalPolicyRequest *)msg;
    struct error err;
    json_error_t jerr;
    json_t *doc = json_loads(req->input_json ? req->input_json : "", JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL || !json_is_object(doc)) {
        if (doc == NULL)
            error_set(&err, ERR_INVALID_ARGUMENT, "input_json: line %d: %s", jerr.line, jerr.text);
        else
            error_set(&err, ERR_INVALID_ARGUMENT, "input_json must be a JSON object");
        json_decref(doc);
        api_call_fail(call, &err);
        return;
    }
    /* The dry run itself is decided and recorded: the record's input digest
     * covers the document evaluated. */
    if (ui_gate(d, call, "policy.read", json_pack("{s:s, s:O}", "read", "dry_run", "dry_run_input", doc)) < 0) {
        json_decref(doc);
        return;
    }
    struct policy_decision dec;
    policy_decide(gate_bundle(d->gate), doc, &dec);
    json_decref(doc);
    size_t n = json_array_size(dec.reasons);
    char **reasons = calloc(n ? n : 1, sizeof(*reasons));
    json_t *whole = json_pack("{s:b, s:s, s:O}", "allow", dec.allow, "outcome",
                              policy_outcome_name(dec.outcome), "reasons", dec.reasons);
    if (whole != NULL && dec.allow) {
        json_t *ob = json_object();
        if (dec.timeout_s)
            json_object_set_new(ob, "timeout_s", json_integer(dec.timeout_s));
        if (dec.max_output_bytes)
            json_object_set_new(ob, "max_output_bytes", json_integer((json_int_t)dec.max_output_bytes));
        if (dec.env_allowlist)
            json_object_set(ob, "env_allowlist", dec.env_allowlist);
        json_object_set_new(whole, "obligations", ob);
    }
    char *text = whole ? json_dumps(whole, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(whole);
    if (reasons == NULL || text == NULL) {
        free(reasons);
        free(text);
        policy_decision_release(&dec);
        error_set(&err, ERR_INTERNAL, "out of memory");
        api_call_fail(call, &err);
        return;
    }
    for (size_t i = 0; i < n; i++)
        reasons[i] = (char *)json_string_value(json_array_get(dec.reasons, i));
    Enclave__V1__EvalPolicyResponse resp = ENCLAVE__V1__EVAL_POLICY_RESPONSE__INIT;
    resp.allow = dec.allow;
    resp.n_reasons = n;
    resp.reasons = reasons;
    resp.outcome = (char *)policy_outcome_name(dec.outcome);
    resp.decision_json = text;
    resp.digest = (char *)gate_policy_digest(d->gate);
    api_call_reply(call, &resp.base);
    free(reasons);
    free(text);
    policy_decision_release(&dec);
}

static void fill_image(Enclave__V1__Image *img, const char *name, struct image_manifest *m)
{
    img->name = (char *)name;
    const char *slash = strrchr(m->dir, '/');
    img->id = slash ? (char *)slash + 1 : m->dir;
    img->source = m->source;
    img->created = m->created;
    img->packages = m->n_packages;
    img->signature = strncmp(m->source, "oci:", 4) == 0
                         ? "pulled (signature checked at install: see IMAGE:VERIFIED or "
                           "IMAGE:UNVERIFIED_INSTALL in the audit log)"
                         : "local build (unsigned)";
    img->n_files = m->n_artifacts;
    img->files = calloc(m->n_artifacts ? m->n_artifacts : 1, sizeof(*img->files));
    Enclave__V1__ImageFile *fs = calloc(m->n_artifacts ? m->n_artifacts : 1, sizeof(*fs));
    if (img->files == NULL || fs == NULL) {
        free(img->files);
        free(fs);
        img->files = NULL;
        img->n_files = 0;
        return;
    }
    img->files[0] = fs; /* also with no files: freed through it */
    for (size_t i = 0; i < m->n_artifacts; i++) {
        enclave__v1__image_file__init(&fs[i]);
        fs[i].role = m->artifacts[i].role;
        fs[i].path = m->artifacts[i].path;
        fs[i].size = m->artifacts[i].size;
        fs[i].sha256 = m->artifacts[i].sha256;
        img->files[i] = &fs[i];
    }
}

void daemon_handle_list_images(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    (void)msg;
    (void)ctx;
    char **names = NULL;
    size_t n = 0;
    struct error err = {0};
    if (image_cache_list_named(&names, &n, &err) < 0)
        n = 0;
    Enclave__V1__Image *imgs = calloc(n + 1, sizeof(*imgs));
    Enclave__V1__Image **ptrs = calloc(n + 1, sizeof(*ptrs));
    struct image_manifest **ms = calloc(n + 1, sizeof(*ms));
    char (*errs)[512] = calloc(n + 1, sizeof(*errs));
    if (imgs && ptrs && ms && errs) {
        for (size_t i = 0; i <= n; i++) {
            enclave__v1__image__init(&imgs[i]);
            const char *label = i == 0 ? "(current)" : names[i - 1];
            struct error e = {0};
            if (image_manifest_load_named(i == 0 ? NULL : names[i - 1], &ms[i], &e) < 0) {
                imgs[i].name = (char *)label;
                snprintf(errs[i], sizeof(errs[i]), "%.500s", e.message);
                imgs[i].error = errs[i];
            } else {
                fill_image(&imgs[i], label, ms[i]);
            }
            ptrs[i] = &imgs[i];
        }
        Enclave__V1__ListImagesResponse resp = ENCLAVE__V1__LIST_IMAGES_RESPONSE__INIT;
        resp.n_images = n + 1;
        resp.images = ptrs;
        api_call_reply(call, &resp.base);
    } else {
        error_set(&err, ERR_INTERNAL, "out of memory");
        api_call_fail(call, &err);
    }
    for (size_t i = 0; imgs && ms && i <= n; i++) {
        if (imgs[i].files != NULL) {
            free(imgs[i].files[0]);
            free(imgs[i].files);
        }
        image_manifest_free(ms[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(imgs);
    free(ptrs);
    free(ms);
    free(errs);
}

int daemon_ui_init(struct daemon_state *d, struct error *err)
{
    struct api_route_options prefix = {.prefix = true};
    if (api_server_add_route(d->api, "GET", "/", on_asset, d, err) < 0 ||
        api_server_add_route_opts(d->api, "GET", "/ui/", &prefix, on_asset, d, err) < 0)
        return -1;
    return 0;
}
