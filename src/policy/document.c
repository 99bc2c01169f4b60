/* ApplyPolicy documents: one Rego module, or a YAML/JSON mapping
 * {"modules": {"name.rego": "text", ...}, "data": {...}}. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "policy/internal.h"

#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 100000
#define MODULE_NAME_MAX 200

struct yaml_reader {
    yaml_parser_t parser;
    unsigned nodes;
    struct error *err;
};

static int yaml_fail(struct yaml_reader *y, const char *what)
{
    if (y->parser.error != YAML_NO_ERROR)
        return error_set(y->err, ERR_INVALID_ARGUMENT, "YAML line %zu column %zu: %s",
                         y->parser.problem_mark.line + 1, y->parser.problem_mark.column + 1,
                         y->parser.problem ? y->parser.problem : "syntax error");
    return error_set(y->err, ERR_INVALID_ARGUMENT, "YAML: %s", what);
}

/* YAML 1.2 core schema resolution of a plain scalar. */
static json_t *plain_scalar(const char *s, size_t len)
{
    if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return json_false();
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    bool digits = *p != '\0';
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            digits = false;
    if (digits && len < 19) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == 0)
            return json_integer(v);
    }
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end == '\0' && end != s && errno == 0 && isfinite(d) &&
        strspn(s, "+-0123456789.eE") == len)
        return json_real(d);
    return json_stringn(s, len);
}

static int read_node(struct yaml_reader *y, yaml_event_t *first, int depth, json_t **out);

static int read_node_next(struct yaml_reader *y, int depth, json_t **out, bool *ended)
{
    yaml_event_t ev;
    if (!yaml_parser_parse(&y->parser, &ev))
        return yaml_fail(y, "syntax error");
    if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
        yaml_event_delete(&ev);
        *ended = true;
        return 0;
    }
    *ended = false;
    int rc = read_node(y, &ev, depth, out);
    yaml_event_delete(&ev);
    return rc;
}

static int read_node(struct yaml_reader *y, yaml_event_t *ev, int depth, json_t **out)
{
    if (depth > YAML_MAX_DEPTH)
        return error_set(y->err, ERR_INVALID_ARGUMENT, "YAML: nested deeper than %d", YAML_MAX_DEPTH);
    if (++y->nodes > YAML_MAX_NODES)
        return error_set(y->err, ERR_RESOURCE_EXHAUSTED, "YAML: more than %d nodes", YAML_MAX_NODES);
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return error_set(y->err, ERR_INVALID_ARGUMENT, "YAML line %zu: aliases are not accepted",
                         ev->start_mark.line + 1);
    case YAML_SCALAR_EVENT: {
        const char *s = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        const char *tag = (const char *)ev->data.scalar.tag;
        if (tag && strcmp(tag, YAML_STR_TAG) != 0 && strcmp(tag, "!") != 0)
            return error_set(y->err, ERR_INVALID_ARGUMENT, "YAML line %zu: tag %s is not accepted",
                             ev->start_mark.line + 1, tag);
        if (ev->data.scalar.plain_implicit && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            !tag && strlen(s) == len)
            *out = plain_scalar(s, len);
        else
            *out = json_stringn(s, len);
        return *out ? 0 : error_set(y->err, ERR_INVALID_ARGUMENT, "YAML: a string is not valid UTF-8");
    }
    case YAML_SEQUENCE_START_EVENT: {
        json_t *arr = json_array();
        for (;;) {
            json_t *v = NULL;
            bool ended;
            if (read_node_next(y, depth + 1, &v, &ended) < 0) {
                json_decref(arr);
                return -1;
            }
            if (ended)
                break;
            json_array_append_new(arr, v);
        }
        *out = arr;
        return 0;
    }
    case YAML_MAPPING_START_EVENT: {
        json_t *obj = json_object();
        for (;;) {
            json_t *k = NULL, *v = NULL;
            bool ended;
            if (read_node_next(y, depth + 1, &k, &ended) < 0) {
                json_decref(obj);
                return -1;
            }
            if (ended)
                break;
            if (!json_is_string(k)) {
                json_decref(k);
                json_decref(obj);
                return error_set(y->err, ERR_INVALID_ARGUMENT, "YAML: mapping keys must be strings");
            }
            if (read_node_next(y, depth + 1, &v, &ended) < 0 || ended) {
                json_decref(k);
                json_decref(obj);
                return ended ? yaml_fail(y, "a key without a value") : -1;
            }
            if (json_object_get(obj, json_string_value(k))) {
                int rc = error_set(y->err, ERR_INVALID_ARGUMENT, "YAML: key '%.100s' appears twice",
                                   json_string_value(k));
                json_decref(k);
                json_decref(v);
                json_decref(obj);
                return rc;
            }
            json_object_set_new(obj, json_string_value(k), v);
            json_decref(k);
        }
        *out = obj;
        return 0;
    }
    default:
        return yaml_fail(y, "unexpected event");
    }
}

int policy_yaml_to_json(const char *text, size_t len, json_t **out, struct error *err)
{
    struct yaml_reader y = {.err = err};
    if (!yaml_parser_initialize(&y.parser))
        return error_set(err, ERR_INTERNAL, "out of memory");
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
    json_t *doc = NULL;
    int rc = 0;
    int docs = 0;
    for (bool done = false; !done && rc == 0;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&y.parser, &ev)) {
            rc = yaml_fail(&y, "syntax error");
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                rc = error_set(err, ERR_INVALID_ARGUMENT, "YAML: more than one document");
            break;
        default:
            if (doc != NULL) {
                rc = yaml_fail(&y, "more than one root node");
                break;
            }
            rc = read_node(&y, &ev, 0, &doc);
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&y.parser);
    if (rc < 0) {
        json_decref(doc);
        return -1;
    }
    if (doc == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "YAML: the document is empty");
    *out = doc;
    return 0;
}

/* True when the text's first statement (after blank lines and # comments)
 * is `package`: a Rego module rather than a YAML or JSON document. */
static bool looks_like_rego(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && isspace((unsigned char)text[i]))
            i++;
        if (i < len && text[i] == '#') {
            while (i < len && text[i] != '\n')
                i++;
            continue;
        }
        break;
    }
    return len - i > 8 && memcmp(text + i, "package", 7) == 0 && isspace((unsigned char)text[i + 7]);
}

static bool module_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 6 || n > MODULE_NAME_MAX || name[0] == '/' || strcmp(name + n - 5, ".rego") != 0)
        return false;
    const char *seg = name;
    for (const char *p = name;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t sl = (size_t)(p - seg);
            if (sl == 0 || seg[0] == '.')
                return false; /* empty, ".", ".." and hidden segments */
            if (*p == '\0')
                break;
            seg = p + 1;
            continue;
        }
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
            return false;
    }
    return true;
}

static int document_files(const json_t *doc, struct policy_files *fl, const struct policy_limits *lim,
                          struct error *err)
{
    if (!json_is_object(doc))
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "the policy document must be a mapping {modules: {name.rego: text}, data: {...}}");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)doc, key, v) {
        if (strcmp(key, "modules") && strcmp(key, "data"))
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "the policy document has an unknown field '%.100s' (modules, data)", key);
    }
    json_t *modules = json_object_get(doc, "modules");
    if (!json_is_object(modules) || json_object_size(modules) == 0)
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "the policy document needs modules: a mapping of name.rego to module text");
    json_object_foreach(modules, key, v) {
        if (!module_name_valid(key))
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "module name '%.100s' must be a relative path of [A-Za-z0-9._-] segments ending in .rego",
                             key);
        if (!json_is_string(v))
            return error_set(err, ERR_INVALID_ARGUMENT, "module %s: the text must be a string", key);
        if (policy_files_add(fl, key, json_string_value(v), json_string_length(v), lim, err) < 0)
            return -1;
    }
    json_t *data = json_object_get(doc, "data");
    if (data != NULL && !json_is_null(data)) {
        if (!json_is_object(data))
            return error_set(err, ERR_INVALID_ARGUMENT, "the policy document's data must be a mapping");
        char *text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
        if (text == NULL)
            return error_set(err, ERR_INVALID_ARGUMENT, "the policy document's data cannot be encoded");
        int rc = policy_files_add(fl, "data.json", text, strlen(text), lim, err);
        free(text);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int policy_bundle_load_document(const char *text, size_t len, const struct policy_limits *lim,
                                struct policy_bundle **out, struct error *err)
{
    struct policy_limits l;
    policy_limits_fill(&l, lim);
    if (len > l.max_total_bytes)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "the policy document is %zu bytes; the most is %zu",
                         len, l.max_total_bytes);
    struct policy_files fl = {0};
    int rc;
    if (looks_like_rego(text, len)) {
        rc = policy_files_add(&fl, "policy.rego", text, len, &l, err);
    } else {
        json_t *doc = NULL;
        size_t i = 0;
        while (i < len && isspace((unsigned char)text[i]))
            i++;
        if (i < len && text[i] == '{') {
            json_error_t je;
            doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
            rc = doc ? 0 : error_set(err, ERR_INVALID_ARGUMENT, "policy document (JSON) line %d: %s",
                                     je.line, je.text);
        } else {
            rc = policy_yaml_to_json(text, len, &doc, err);
        }
        if (rc == 0)
            rc = document_files(doc, &fl, &l, err);
        json_decref(doc);
    }
    if (rc == 0)
        rc = policy_bundle_from_files(&fl, "document", &l, out, err);
    policy_files_release(&fl);
    return rc;
}
