/* The log as OCSF events (Open Cybersecurity Schema Framework 1.3.0), one
 * JSON object per line, for a SIEM. Every record becomes one API Activity
 * event (class 6003): each is an action on Enclave's API or a decision
 * about one, taken by the daemon. docs/audit.md gives the field mapping. */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit_internal.h"

#define OCSF_VERSION "1.3.0"
#define OCSF_CATEGORY_APPLICATION 6
#define OCSF_CLASS_API_ACTIVITY 6003

/* API Activity's activity_id values. */
enum ocsf_activity {
    OCSF_CREATE = 1,
    OCSF_READ = 2,
    OCSF_UPDATE = 3,
    OCSF_DELETE = 4,
    OCSF_OTHER = 99,
};

static enum ocsf_activity activity_of(enum audit_kind kind)
{
    switch (kind) {
    case AUDIT_SESSION_START:
    case AUDIT_POLICY_LOADED:
    case AUDIT_IMAGE_UNVERIFIED_INSTALL:
    case AUDIT_DAEMON_START:
        return OCSF_CREATE;
    case AUDIT_FILE_READ:
    case AUDIT_AUDIT_READ:
        return OCSF_READ;
    case AUDIT_FILE_WRITE:
    case AUDIT_SESSION_READY:
        return OCSF_UPDATE;
    case AUDIT_SESSION_STOP:
    case AUDIT_DAEMON_STOP:
        return OCSF_DELETE;
    default:
        return OCSF_OTHER;
    }
}

static const char *activity_name(enum ocsf_activity a)
{
    switch (a) {
    case OCSF_CREATE:
        return "Create";
    case OCSF_READ:
        return "Read";
    case OCSF_UPDATE:
        return "Update";
    case OCSF_DELETE:
        return "Delete";
    default:
        return "Other";
    }
}

/* Failure kinds: the action did not happen as asked. */
static bool is_failure(const struct audit_record *rec)
{
    return rec->kind == AUDIT_POLICY_REFUSED || rec->kind == AUDIT_POLICY_ERROR ||
           rec->kind == AUDIT_SESSION_FAILED || strcmp(rec->decision, "deny") == 0;
}

struct ocsf_ctx {
    FILE *out;
    char hostname[256];
    bool failed;
    struct error *err;
};

static json_t *parsed_or_text(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    return j != NULL ? j : json_string(text);
}

static json_t *ocsf_event(const struct audit_record *rec, const char *hostname)
{
    enum ocsf_activity act = activity_of(rec->kind);
    bool failure = is_failure(rec);
    bool decided = rec->decision[0] != '\0';
    bool deny = strcmp(rec->decision, "deny") == 0;
    json_t *reasons = parsed_or_text(rec->reasons_json);
    /* The message: the policy's reasons when there are any, else the kind. */
    char message[1024];
    snprintf(message, sizeof(message), "%s", rec->kind_name);
    if (json_is_array(reasons) && json_array_size(reasons) > 0) {
        size_t n = (size_t)snprintf(message, sizeof(message), "%s:", rec->kind_name);
        for (size_t i = 0; i < json_array_size(reasons) && n < sizeof(message); i++)
            n += (size_t)snprintf(message + n, sizeof(message) - n, "%s %s", i ? ";" : "",
                                  json_string_value(json_array_get(reasons, i))
                                      ? json_string_value(json_array_get(reasons, i))
                                      : "");
    }
    json_t *ev = json_pack(
        "{s:i, s:s, s:i, s:s, s:i, s:s, s:I, s:I, s:i, s:s, s:i, s:s, s:s,"
        " s:{s:s, s:{s:s, s:s}, s:s, s:I, s:s, s:I},"
        " s:{s:s, s:{s:s}},"
        " s:{s:s, s:{s:s}},"
        " s:{s:s}}",
        "category_uid", OCSF_CATEGORY_APPLICATION, "category_name", "Application Activity",
        "class_uid", OCSF_CLASS_API_ACTIVITY, "class_name", "API Activity", "activity_id", (int)act,
        "activity_name", activity_name(act), "type_uid",
        (json_int_t)(OCSF_CLASS_API_ACTIVITY * 100 + (int)act), "time",
        (json_int_t)(rec->time_ns / 1000000), "severity_id", deny || failure ? 2 : 1, "severity",
        deny || failure ? "Low" : "Informational", "status_id", failure ? 2 : 1, "status",
        failure ? "Failure" : "Success", "message", message,
        /* metadata */
        "metadata", "version", OCSF_VERSION, "product", "name", "Enclave", "vendor_name", "Enclave",
        "uid", rec->hash, "sequence", (json_int_t)rec->seq, "log_name", "audit",
        "logged_time", (json_int_t)(rec->time_ns / 1000000),
        /* api */
        "api", "operation", rec->kind_name, "service", "name", "enclave",
        /* actor */
        "actor", "app_name", "enclave", "session", "uid", rec->session_id,
        /* src_endpoint: the host the daemon runs on */
        "src_endpoint", "hostname", hostname);
    if (ev == NULL) {
        json_decref(reasons);
        return NULL;
    }
    if (decided) {
        json_object_set_new(ev, "action_id", json_integer(deny ? 2 : 1));
        json_object_set_new(ev, "action", json_string(deny ? "Denied" : "Allowed"));
        json_object_set_new(ev, "disposition_id", json_integer(deny ? 2 : 1));
        json_object_set_new(ev, "disposition", json_string(deny ? "Blocked" : "Allowed"));
    }
    json_t *unmapped = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:I}", "kind",
                                 rec->kind_name, "decision", rec->decision, "bundle_digest",
                                 rec->bundle_digest, "input_digest", rec->input_digest, "reasons",
                                 reasons, "details", parsed_or_text(rec->details_json), "prev_hash",
                                 rec->prev_hash, "hash", rec->hash, "time_ns",
                                 (json_int_t)rec->time_ns);
    if (unmapped == NULL || json_object_set_new(ev, "unmapped", unmapped) < 0) {
        json_decref(ev);
        return NULL;
    }
    return ev;
}

static int ocsf_line(const struct audit_record *rec, void *arg)
{
    struct ocsf_ctx *c = arg;
    json_t *ev = ocsf_event(rec, c->hostname);
    if (ev == NULL) {
        error_set(c->err, ERR_DATA_LOSS, "record %" PRIu64 " cannot be written as OCSF", rec->seq);
        c->failed = true;
        return 1;
    }
    int rc = json_dumpf(ev, c->out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(ev);
    if (rc < 0 || fputc('\n', c->out) == EOF) {
        error_set_errno(c->err, ERR_INTERNAL, "writing the export");
        c->failed = true;
        return 1;
    }
    return 0;
}

int64_t audit_export_ocsf(struct audit_log *log, FILE *out, struct error *err)
{
    struct ocsf_ctx c = {.out = out, .err = err};
    if (gethostname(c.hostname, sizeof(c.hostname)) < 0)
        snprintf(c.hostname, sizeof(c.hostname), "localhost");
    c.hostname[sizeof(c.hostname) - 1] = '\0';
    int64_t n = audit_query(log, NULL, ocsf_line, &c, err);
    if (n < 0 || c.failed)
        return -1;
    if (fflush(out) == EOF || ferror(out))
        return error_set_errno(err, ERR_INTERNAL, "writing the export");
    return n;
}
