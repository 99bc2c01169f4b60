/* OCI image manifests and indexes, the Enclave guest config blob, and the
 * small header grammars of the distribution protocol. Everything here reads
 * registry output: every field is type- and size-checked. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "oci/internal.h"

static const struct {
    const char *name;
    const char *media_type;
    const char *file;
} roles[] = {
#define X(e, name, media, file) [e] = {name, media, file},
    OCI_LAYER_ROLES(X)
#undef X
};

const char *oci_role_name(enum oci_role role)
{
    return role >= 0 && role < OCI_ROLE_COUNT ? roles[role].name : "unknown";
}
const char *oci_role_media_type(enum oci_role role)
{
    return role >= 0 && role < OCI_ROLE_COUNT ? roles[role].media_type : "";
}
const char *oci_role_default_file(enum oci_role role)
{
    return role >= 0 && role < OCI_ROLE_COUNT ? roles[role].file : "blob";
}
enum oci_role oci_role_from_media_type(const char *media_type)
{
    for (int i = 0; i < OCI_ROLE_COUNT; i++)
        if (strcmp(media_type, roles[i].media_type) == 0)
            return (enum oci_role)i;
    return OCI_ROLE_NONE;
}
enum oci_role oci_role_from_name(const char *name)
{
    for (int i = 0; i < OCI_ROLE_COUNT; i++)
        if (strcmp(name, roles[i].name) == 0)
            return (enum oci_role)i;
    return OCI_ROLE_NONE;
}

bool oci_media_type_is_index(const char *mt)
{
    return strcmp(mt, OCI_MEDIA_INDEX) == 0 || strcmp(mt, OCI_MEDIA_DOCKER_LIST) == 0;
}
bool oci_media_type_is_manifest(const char *mt)
{
    return strcmp(mt, OCI_MEDIA_MANIFEST) == 0 || strcmp(mt, OCI_MEDIA_DOCKER_MANIFEST) == 0;
}

bool oci_file_name_safe(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    if (strcmp(name, "manifest.json") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/' || c <= 0x20 || c >= 0x7f)
            return false;
    }
    return name[0] != '.';
}

const char *oci_layer_file_name(const struct oci_descriptor *d)
{
    if (d->title[0] && oci_file_name_safe(d->title))
        return d->title;
    return oci_role_default_file(oci_role_from_media_type(d->media_type));
}

/* Copies a JSON string member into a fixed buffer; absent is fine unless required. */
static int get_string(json_t *obj, const char *key, char *out, size_t size, bool required,
                      struct error *err)
{
    out[0] = '\0';
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            return error_set(err, ERR_INVALID_ARGUMENT, "missing \"%s\"", key);
        return 0;
    }
    if (!json_is_string(v))
        return error_set(err, ERR_INVALID_ARGUMENT, "\"%s\" is not a string", key);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n >= size || strlen(s) != n)
        return error_set(err, ERR_INVALID_ARGUMENT, "\"%s\" is too long or has a NUL", key);
    memcpy(out, s, n + 1);
    return 0;
}

/* type/subtype, both restricted-name per RFC 6838 (with + and . allowed) */
static bool media_type_ok(const char *mt)
{
    const char *slash = strchr(mt, '/');
    if (slash == NULL || slash == mt || slash[1] == '\0')
        return false;
    for (const char *p = mt; *p; p++) {
        if (p == slash)
            continue;
        if (!isalnum((unsigned char)*p) && !strchr("!#$&-^_.+", *p))
            return false;
    }
    return true;
}

static int parse_descriptor(json_t *obj, struct oci_descriptor *d, struct error *err)
{
    memset(d, 0, sizeof(*d));
    if (!json_is_object(obj))
        return error_set(err, ERR_INVALID_ARGUMENT, "descriptor is not an object");
    if (get_string(obj, "mediaType", d->media_type, sizeof(d->media_type), true, err) < 0 ||
        get_string(obj, "digest", d->digest, sizeof(d->digest), true, err) < 0 ||
        get_string(obj, "artifactType", d->artifact_type, sizeof(d->artifact_type), false, err) < 0)
        return -1;
    if (!media_type_ok(d->media_type))
        return error_set(err, ERR_INVALID_ARGUMENT, "bad media type '%s'", d->media_type);
    if (!oci_digest_valid(d->digest))
        return error_set(err, ERR_INVALID_ARGUMENT, "unsupported or malformed digest '%s'",
                         d->digest);
    json_t *size = json_object_get(obj, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "descriptor size missing or negative");
    d->size = (uint64_t)json_integer_value(size);
    json_t *ann = json_object_get(obj, "annotations");
    if (ann != NULL && !json_is_null(ann)) {
        if (!json_is_object(ann))
            return error_set(err, ERR_INVALID_ARGUMENT, "annotations is not an object");
        if (get_string(ann, OCI_TITLE_ANNOTATION, d->title, sizeof(d->title), false, err) < 0 ||
            get_string(ann, OCI_ROLE_ANNOTATION, d->role, sizeof(d->role), false, err) < 0)
            return -1;
        json_t *sig = json_object_get(ann, OCI_COSIGN_SIGNATURE_ANNOTATION);
        if (sig != NULL) {
            if (!json_is_string(sig) || json_string_length(sig) > 4096)
                return error_set(err, ERR_INVALID_ARGUMENT, "bad signature annotation");
            d->signature = strdup(json_string_value(sig));
            if (d->signature == NULL)
                return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        }
    }
    json_t *plat = json_object_get(obj, "platform");
    if (plat != NULL && !json_is_null(plat)) {
        if (!json_is_object(plat))
            return error_set(err, ERR_INVALID_ARGUMENT, "platform is not an object");
        if (get_string(plat, "architecture", d->architecture, sizeof(d->architecture), false,
                       err) < 0 ||
            get_string(plat, "os", d->os, sizeof(d->os), false, err) < 0)
            return -1;
    }
    return 0;
}

static void descriptor_release(struct oci_descriptor *d)
{
    free(d->signature);
    d->signature = NULL;
}

static json_t *load_document(const char *json, size_t len, struct error *err)
{
    if (len > OCI_MANIFEST_MAX) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "document of %zu bytes is over the %u byte limit",
                  len, OCI_MANIFEST_MAX);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        error_set(err, ERR_INVALID_ARGUMENT, "not valid JSON: %s (line %d)", jerr.text, jerr.line);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        error_set(err, ERR_INVALID_ARGUMENT, "document is not a JSON object");
        return NULL;
    }
    json_t *sv = json_object_get(root, "schemaVersion");
    if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
        json_decref(root);
        error_set(err, ERR_INVALID_ARGUMENT, "schemaVersion is not 2");
        return NULL;
    }
    return root;
}

int oci_document_media_type(const char *json, size_t len, char out[128], struct error *err)
{
    json_t *root = load_document(json, len, err);
    if (root == NULL)
        return -1;
    int ret = get_string(root, "mediaType", out, 128, false, err);
    json_decref(root);
    return ret;
}

/* The mediaType and artifactType of a document; a mediaType that is there
 * must satisfy is_kind, else "not <what>". */
static int parse_types(json_t *root, char media_type[128], char artifact_type[128],
                       bool (*is_kind)(const char *), const char *what, struct error *err)
{
    if (get_string(root, "mediaType", media_type, 128, false, err) < 0 ||
        get_string(root, "artifactType", artifact_type, 128, false, err) < 0)
        return -1;
    if (media_type[0] && !is_kind(media_type))
        return error_set(err, ERR_INVALID_ARGUMENT, "not %s: media type '%s'", what, media_type);
    return 0;
}

/* The array key of root ("<owner> has no <key> array"), at most max
 * descriptors ("<owner> <has> more than <max> <key>") into out; *count
 * counts those that need a release, also after a failure. */
static int parse_descriptors(json_t *root, const char *key, const char *owner, const char *has,
                             struct oci_descriptor *out, size_t max, size_t *count,
                             struct error *err)
{
    json_t *list = json_object_get(root, key);
    if (!json_is_array(list))
        return error_set(err, ERR_INVALID_ARGUMENT, "%s has no %s array", owner, key);
    if (json_array_size(list) > max)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "%s %s more than %zu %s", owner, has, max, key);
    for (size_t i = 0; i < json_array_size(list); i++) {
        *count = i + 1;
        if (parse_descriptor(json_array_get(list, i), &out[i], err) < 0)
            return error_prefix(err, "%s[%zu]", key, i);
    }
    return 0;
}

int oci_index_parse(const char *json, size_t len, struct oci_index *idx, struct error *err)
{
    memset(idx, 0, sizeof(*idx));
    json_t *root = load_document(json, len, err);
    if (root == NULL)
        return -1;
    int ret = parse_types(root, idx->media_type, idx->artifact_type, oci_media_type_is_index,
                          "an index", err) < 0 ||
                      parse_descriptors(root, "manifests", "index", "lists", idx->manifests,
                                        OCI_MAX_MANIFESTS, &idx->count, err) < 0
                  ? -1
                  : 0;
    json_decref(root);
    if (ret < 0)
        oci_index_release(idx);
    return ret;
}

void oci_index_release(struct oci_index *idx)
{
    for (size_t i = 0; i < idx->count && i < OCI_MAX_MANIFESTS; i++)
        descriptor_release(&idx->manifests[i]);
    idx->count = 0;
}

int oci_manifest_parse(const char *json, size_t len, struct oci_manifest *m, struct error *err)
{
    memset(m, 0, sizeof(*m));
    json_t *root = load_document(json, len, err);
    if (root == NULL)
        return -1;
    int ret = 0;
    if (parse_types(root, m->media_type, m->artifact_type, oci_media_type_is_manifest,
                    "an image manifest", err) < 0)
        ret = -1;
    else if (parse_descriptor(json_object_get(root, "config"), &m->config, err) < 0)
        ret = error_prefix(err, "config");
    else if (parse_descriptors(root, "layers", "manifest", "has", m->layers, OCI_MAX_LAYERS,
                               &m->layer_count, err) < 0)
        ret = -1;
    json_decref(root);
    if (ret < 0)
        oci_manifest_release(m);
    return ret;
}

void oci_manifest_release(struct oci_manifest *m)
{
    descriptor_release(&m->config);
    for (size_t i = 0; i < m->layer_count && i < OCI_MAX_LAYERS; i++)
        descriptor_release(&m->layers[i]);
    m->layer_count = 0;
}

int oci_manifest_check_guest(const struct oci_manifest *m, struct error *err)
{
    if (strcmp(m->config.media_type, OCI_ENCLAVE_CONFIG_TYPE) != 0)
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "not an Enclave guest image: config media type '%s' (want %s)",
                         m->config.media_type, OCI_ENCLAVE_CONFIG_TYPE);
    if (m->artifact_type[0] && strcmp(m->artifact_type, OCI_ENCLAVE_ARTIFACT_TYPE) != 0)
        return error_set(err, ERR_FAILED_PRECONDITION, "unknown artifact type '%s'",
                         m->artifact_type);
    if (m->config.size > OCI_SMALL_BLOB_MAX)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "config blob of %" PRIu64 " bytes is too big",
                         m->config.size);
    bool seen[OCI_ROLE_COUNT] = {false};
    for (size_t i = 0; i < m->layer_count; i++) {
        const struct oci_descriptor *d = &m->layers[i];
        enum oci_role role = oci_role_from_media_type(d->media_type);
        if (role == OCI_ROLE_NONE)
            return error_set(err, ERR_FAILED_PRECONDITION,
                             "layer %zu has a media type this version does not know: '%s'", i,
                             d->media_type);
        if (d->role[0] && oci_role_from_name(d->role) != role)
            return error_set(err, ERR_FAILED_PRECONDITION,
                             "layer %zu: role annotation '%s' does not match media type %s", i,
                             d->role, d->media_type);
        if (d->title[0] && !oci_file_name_safe(d->title))
            return error_set(err, ERR_FAILED_PRECONDITION, "layer %zu: unsafe file name '%s'", i,
                             d->title);
        if (seen[role])
            return error_set(err, ERR_FAILED_PRECONDITION, "two %s layers", oci_role_name(role));
        seen[role] = true;
        for (size_t j = 0; j < i; j++)
            if (strcmp(oci_layer_file_name(&m->layers[j]), oci_layer_file_name(d)) == 0)
                return error_set(err, ERR_FAILED_PRECONDITION, "two layers named '%s'",
                                 oci_layer_file_name(d));
    }
    if (!seen[OCI_ROLE_KERNEL])
        return error_set(err, ERR_FAILED_PRECONDITION, "image has no kernel layer");
    /* The VM drivers boot from an initramfs; a rootfs layer travels alongside. */
    if (!seen[OCI_ROLE_INITRAMFS])
        return error_set(err, ERR_FAILED_PRECONDITION, "image has no initramfs layer");
    return 0;
}

int oci_guest_config_parse(const char *json, size_t len, struct oci_guest_config *cfg,
                           struct error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    if (len > OCI_SMALL_BLOB_MAX)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "config blob too big");
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "config is not valid JSON: %s", jerr.text);
    int ret = -1;
    if (!json_is_object(root)) {
        error_set(err, ERR_INVALID_ARGUMENT, "config is not an object");
        goto out;
    }
    if (get_string(root, "kernel_cmdline", cfg->kernel_cmdline, sizeof(cfg->kernel_cmdline), true,
                   err) < 0 ||
        get_string(root, "architecture", cfg->architecture, sizeof(cfg->architecture), false,
                   err) < 0) {
        error_prefix(err, "config");
        goto out;
    }
    for (const char *p = cfg->kernel_cmdline; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
            error_set(err, ERR_INVALID_ARGUMENT, "config: kernel_cmdline has control characters");
            goto out;
        }
    json_t *gp = json_object_get(root, "guest_protocol");
    if (!json_is_integer(gp) || json_integer_value(gp) < 1 || json_integer_value(gp) > 1000000) {
        error_set(err, ERR_INVALID_ARGUMENT, "config: guest_protocol missing or out of range");
        goto out;
    }
    cfg->guest_protocol = (int)json_integer_value(gp);
    json_t *pk = json_object_get(root, "packages");
    if (pk != NULL && !json_is_null(pk)) {
        if (!json_is_array(pk) || json_array_size(pk) > 10000) {
            error_set(err, ERR_INVALID_ARGUMENT, "config: packages is not a list");
            goto out;
        }
        size_t i;
        json_t *item;
        json_array_foreach(pk, i, item)
        {
            json_t *name = json_object_get(item, "name");
            json_t *ver = json_object_get(item, "version");
            if (!json_is_string(name) || !json_is_string(ver)) {
                error_set(err, ERR_INVALID_ARGUMENT, "config: packages[%zu] is not {name, version}",
                          i);
                goto out;
            }
        }
        cfg->packages_json = json_dumps(pk, JSON_COMPACT);
    }
    ret = 0;
out:
    json_decref(root);
    if (ret < 0)
        oci_guest_config_release(cfg);
    return ret;
}

void oci_guest_config_release(struct oci_guest_config *cfg)
{
    free(cfg->packages_json);
    cfg->packages_json = NULL;
}

/* ------------------------------------------------------------ headers */

/* auth-param list after the scheme: key=token or key="quoted\"string", comma separated */
int oci_bearer_challenge_parse(const char *h, struct oci_bearer_challenge *c, struct error *err)
{
    memset(c, 0, sizeof(*c));
    if (h == NULL)
        return error_set(err, ERR_NOT_FOUND, "no WWW-Authenticate challenge");
    if (strlen(h) > 8192)
        return error_set(err, ERR_INVALID_ARGUMENT, "WWW-Authenticate too long");
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return error_set(err, ERR_NOT_FOUND, "challenge is not Bearer");
    const char *p = h + 6;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        const char *key = p;
        while (*p && *p != '=' && *p != ' ' && *p != ',')
            p++;
        size_t key_len = (size_t)(p - key);
        while (*p == ' ')
            p++;
        if (*p != '=' || key_len == 0)
            return error_set(err, ERR_INVALID_ARGUMENT, "malformed Bearer challenge");
        p++;
        while (*p == ' ')
            p++;
        char value[1024];
        size_t n = 0;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                if (n + 1 >= sizeof(value))
                    return error_set(err, ERR_INVALID_ARGUMENT, "challenge parameter too long");
                value[n++] = *p++;
            }
            if (*p != '"')
                return error_set(err, ERR_INVALID_ARGUMENT, "unterminated quoted string");
            p++;
        } else {
            while (*p && *p != ',' && *p != ' ' && *p != '\t') {
                if (n + 1 >= sizeof(value))
                    return error_set(err, ERR_INVALID_ARGUMENT, "challenge parameter too long");
                value[n++] = *p++;
            }
        }
        value[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)value[i] < 0x20 || (unsigned char)value[i] == 0x7f)
                return error_set(err, ERR_INVALID_ARGUMENT, "control character in challenge");
        char *dst = NULL;
        size_t cap = 0;
        if (key_len == 5 && strncasecmp(key, "realm", 5) == 0) {
            dst = c->realm;
            cap = sizeof(c->realm);
        } else if (key_len == 7 && strncasecmp(key, "service", 7) == 0) {
            dst = c->service;
            cap = sizeof(c->service);
        } else if (key_len == 5 && strncasecmp(key, "scope", 5) == 0) {
            dst = c->scope;
            cap = sizeof(c->scope);
        }
        if (dst != NULL) {
            if (n >= cap)
                return error_set(err, ERR_INVALID_ARGUMENT, "challenge parameter too long");
            memcpy(dst, value, n + 1);
        }
    }
    if (c->realm[0] == '\0')
        return error_set(err, ERR_INVALID_ARGUMENT, "Bearer challenge without realm");
    return 0;
}

static int parse_u64(const char **pp, uint64_t *out)
{
    const char *p = *pp;
    if (!isdigit((unsigned char)*p))
        return -1;
    uint64_t v = 0;
    while (isdigit((unsigned char)*p)) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        p++;
    }
    *pp = p;
    *out = v;
    return 0;
}

int oci_content_range_parse(const char *h, uint64_t *start, uint64_t *end, struct error *err)
{
    if (h == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "no Content-Range");
    const char *p = h;
    while (*p == ' ')
        p++;
    if (strncasecmp(p, "bytes ", 6) != 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad Content-Range '%.100s'", h);
    p += 6;
    uint64_t s, e, total = 0;
    if (parse_u64(&p, &s) < 0 || *p++ != '-' || parse_u64(&p, &e) < 0 || *p++ != '/')
        return error_set(err, ERR_INVALID_ARGUMENT, "bad Content-Range '%.100s'", h);
    if (*p == '*')
        p++;
    else if (parse_u64(&p, &total) < 0 || e >= total)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad Content-Range '%.100s'", h);
    while (*p == ' ')
        p++;
    if (*p != '\0' || e < s)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad Content-Range '%.100s'", h);
    *start = s;
    *end = e;
    return 0;
}
