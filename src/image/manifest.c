/* manifest.json: parse (untrusted), load, verify, write; the `current` link. */
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/file.h"
#include "common/paths.h"

#define cleanup_json __attribute__((cleanup(json_decrefp))) /* jansson's helper */

static void manifest_freep(struct image_manifest **m)
{
    image_manifest_free(*m);
}
#define cleanup_manifest __attribute__((cleanup(manifest_freep)))

void image_manifest_free(struct image_manifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_artifacts; i++) {
        free(m->artifacts[i].role);
        free(m->artifacts[i].path);
        free(m->artifacts[i].abs_path);
        free(m->artifacts[i].media_type);
    }
    free(m->artifacts);
    for (size_t i = 0; i < m->n_packages; i++) {
        free(m->packages[i].name);
        free(m->packages[i].version);
    }
    free(m->packages);
    free(m->dir);
    free(m->created);
    free(m->source);
    free(m->arch);
    free(m->kernel_cmdline);
    free(m->build_inputs);
    free(m);
}

/* ------------------------------------------------------------ validation */

static bool printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

static bool is_lower_hex(const char *s, size_t want)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == want;
}

/* Relative, no empty, "." or ".." component, a conservative character set. */
static bool safe_relative_path(const char *p)
{
    size_t len = strlen(p);
    if (len == 0 || len > IMAGE_MAX_PATH || p[0] == '/' || p[len - 1] == '/')
        return false;
    for (const char *c = p; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-' ||
                  *c == '+' || *c == '/';
        if (!ok)
            return false;
    }
    const char *comp = p;
    while (*comp) {
        const char *end = strchr(comp, '/');
        size_t n = end ? (size_t)(end - comp) : strlen(comp);
        if (n == 0 || (n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.'))
            return false;
        comp += n;
        if (*comp == '/')
            comp++;
    }
    return true;
}

static bool safe_role(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 32)
        return false;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '_' || *r == '-'))
            return false;
    return true;
}

/* Copies a string member; required members must be present. */
static int get_string(json_t *obj, const char *key, bool required, size_t max, char **out,
                      struct error *err)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (!required)
            return 0;
        return error_set(err, ERR_INVALID_ARGUMENT, "missing \"%s\"", key);
    }
    if (!json_is_string(v))
        return error_set(err, ERR_INVALID_ARGUMENT, "\"%s\" is not a string", key);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > max)
        return error_set(err, ERR_INVALID_ARGUMENT, "\"%s\" is longer than %zu bytes", key, max);
    if (strlen(s) != len || !printable_ascii(s))
        return error_set(err, ERR_INVALID_ARGUMENT, "\"%s\" holds characters that are not printable ASCII", key);
    *out = strdup(s);
    if (*out == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
}

static int get_small_int(json_t *obj, const char *key, int *out, struct error *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "missing \"%s\"", key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
        return error_set(err, ERR_INVALID_ARGUMENT, "\"%s\" is not a small non-negative integer", key);
    *out = (int)json_integer_value(v);
    return 0;
}

static bool rfc3339ish(const char *s)
{
    /* 2024-01-02T03:04:05Z or with fraction / offset: digits first, then a fixed shape */
    size_t n = strlen(s);
    if (n < 20 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || c == '-' || c == ':' || c == 'T' || c == 'Z' ||
                  c == '.' || c == '+';
        if (!ok)
            return false;
    }
    return s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':';
}

static int join_path(const char *dir, const char *rel, char **out, struct error *err)
{
    if (asprintf(out, "%s/%s", dir, rel) < 0) {
        *out = NULL;
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    return 0;
}

static int parse_artifact(json_t *a, size_t index, const char *dir, struct image_artifact *out,
                          struct error *err)
{
    if (!json_is_object(a))
        return error_set(err, ERR_INVALID_ARGUMENT, "artifacts[%zu] is not an object", index);
    char *sha = NULL;
    if (get_string(a, "role", true, 32, &out->role, err) < 0 ||
        get_string(a, "path", true, IMAGE_MAX_PATH, &out->path, err) < 0 ||
        get_string(a, "media_type", true, 255, &out->media_type, err) < 0 ||
        get_string(a, "sha256", true, 64, &sha, err) < 0)
        return error_prefix(err, "artifacts[%zu]", index);
    if (!safe_role(out->role)) {
        free(sha);
        return error_set(err, ERR_INVALID_ARGUMENT, "artifacts[%zu]: bad role", index);
    }
    if (!safe_relative_path(out->path)) {
        free(sha);
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "artifacts[%zu]: path \"%s\" is not a plain relative path inside the image", index,
                         out->path);
    }
    if (!is_lower_hex(sha, 64)) {
        free(sha);
        return error_set(err, ERR_INVALID_ARGUMENT, "artifacts[%zu]: sha256 is not 64 lowercase hex digits",
                         index);
    }
    memcpy(out->sha256, sha, 65);
    free(sha);
    json_t *size = json_object_get(a, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "artifacts[%zu]: size is not a non-negative integer",
                         index);
    out->size = (uint64_t)json_integer_value(size);
    if (dir != NULL && join_path(dir, out->path, &out->abs_path, err) < 0)
        return -1;
    return 0;
}

int image_manifest_parse(const char *text, size_t len, const char *dir,
                         struct image_manifest **out, struct error *err)
{
    *out = NULL;
    if (len > IMAGE_MANIFEST_MAX_BYTES)
        return error_set(err, ERR_INVALID_ARGUMENT, "manifest is larger than %u bytes",
                         IMAGE_MANIFEST_MAX_BYTES);
    json_error_t jerr;
    cleanup_json json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "manifest is not valid JSON: %s (line %d)",
                         jerr.text, jerr.line);
    if (!json_is_object(root))
        return error_set(err, ERR_INVALID_ARGUMENT, "manifest is not a JSON object");

    cleanup_manifest struct image_manifest *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    if (get_small_int(root, "schema", &m->schema, err) < 0)
        return -1;
    if (m->schema != IMAGE_MANIFEST_SCHEMA)
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "manifest schema %d is not supported (this build reads %d)", m->schema,
                         IMAGE_MANIFEST_SCHEMA);
    if (get_string(root, "created", true, 64, &m->created, err) < 0 ||
        get_string(root, "source", true, IMAGE_MAX_STRING, &m->source, err) < 0 ||
        get_string(root, "arch", true, 32, &m->arch, err) < 0 ||
        get_string(root, "kernel_cmdline", true, IMAGE_MAX_CMDLINE, &m->kernel_cmdline, err) < 0 ||
        get_string(root, "build_inputs", false, 64, &m->build_inputs, err) < 0 ||
        get_small_int(root, "guest_protocol", &m->guest_protocol, err) < 0)
        return -1;
    if (!rfc3339ish(m->created))
        return error_set(err, ERR_INVALID_ARGUMENT, "\"created\" is not an RFC 3339 time");
    if (strcmp(m->source, "local-build") != 0 && strncmp(m->source, "oci:", 4) != 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "\"source\" is neither local-build nor oci:...");
    if (m->build_inputs != NULL && !is_lower_hex(m->build_inputs, 64))
        return error_set(err, ERR_INVALID_ARGUMENT, "\"build_inputs\" is not a sha256 hex digest");

    json_t *arts = json_object_get(root, "artifacts");
    if (!json_is_array(arts))
        return error_set(err, ERR_INVALID_ARGUMENT, "\"artifacts\" is missing or not an array");
    size_t n = json_array_size(arts);
    if (n == 0 || n > IMAGE_MAX_ARTIFACTS)
        return error_set(err, ERR_INVALID_ARGUMENT, "\"artifacts\" must hold 1 to %d entries",
                         IMAGE_MAX_ARTIFACTS);
    m->artifacts = calloc(n, sizeof(*m->artifacts));
    if (m->artifacts == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < n; i++) {
        m->n_artifacts = i + 1; /* so that free() sees the partly filled entry */
        if (parse_artifact(json_array_get(arts, i), i, dir, &m->artifacts[i], err) < 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(m->artifacts[j].role, m->artifacts[i].role) == 0)
                return error_set(err, ERR_INVALID_ARGUMENT, "role \"%s\" appears twice",
                                 m->artifacts[i].role);
            if (strcmp(m->artifacts[j].path, m->artifacts[i].path) == 0)
                return error_set(err, ERR_INVALID_ARGUMENT, "path \"%s\" appears twice",
                                 m->artifacts[i].path);
        }
    }
    if (image_manifest_artifact(m, "kernel") == NULL || image_manifest_artifact(m, "initramfs") == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "manifest lacks a kernel or an initramfs artifact");

    json_t *pkgs = json_object_get(root, "packages");
    if (pkgs != NULL) {
        if (!json_is_array(pkgs))
            return error_set(err, ERR_INVALID_ARGUMENT, "\"packages\" is not an array");
        size_t np = json_array_size(pkgs);
        if (np > IMAGE_MAX_PACKAGES)
            return error_set(err, ERR_INVALID_ARGUMENT, "more than %d packages", IMAGE_MAX_PACKAGES);
        m->packages = calloc(np ? np : 1, sizeof(*m->packages));
        if (m->packages == NULL)
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        for (size_t i = 0; i < np; i++) {
            json_t *p = json_array_get(pkgs, i);
            m->n_packages = i + 1;
            if (!json_is_object(p))
                return error_set(err, ERR_INVALID_ARGUMENT, "packages[%zu] is not an object", i);
            if (get_string(p, "name", true, 256, &m->packages[i].name, err) < 0 ||
                get_string(p, "version", true, 256, &m->packages[i].version, err) < 0)
                return error_prefix(err, "packages[%zu]", i);
        }
    }
    if (dir != NULL && (m->dir = strdup(dir)) == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    *out = steal_pointer(&m);
    return 0;
}

const struct image_artifact *image_manifest_artifact(const struct image_manifest *m,
                                                     const char *role)
{
    for (size_t i = 0; i < m->n_artifacts; i++)
        if (strcmp(m->artifacts[i].role, role) == 0)
            return &m->artifacts[i];
    return NULL;
}

/* ------------------------------------------------------------ loading */

/* The regular file name in dirfd (not through a symbolic link), whole. */
static int read_small_file(int dirfd, const char *name, size_t max, char **out, size_t *len,
                           struct error *err)
{
    cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return error_set_errno(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL, "opening %s", name);
    return file_read_fd_all(fd, name, max, out, len, err);
}

int image_manifest_load(const char *dir, struct image_manifest **out, struct error *err)
{
    *out = NULL;
    char real[PATH_MAX];
    if (realpath(dir, real) == NULL)
        return error_set_errno(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL, "image folder %s", dir);
    cleanup_close int dfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return error_set_errno(err, ERR_NOT_FOUND, "opening image folder %s", real);
    cleanup_free char *text = NULL;
    size_t len = 0;
    if (read_small_file(dfd, IMAGE_MANIFEST_NAME, IMAGE_MANIFEST_MAX_BYTES, &text, &len, err) < 0 ||
        image_manifest_parse(text, len, real, out, err) < 0)
        return error_prefix(err, "image %s", real);
    return 0;
}

/* Loads the image a link under the cache points at ("current" or
 * "named/<name>"), refusing one that leads outside cache/images/. */
static int load_link(const char *rel, struct image_manifest **out, struct error *err)
{
    *out = NULL;
    char link[PATH_MAX], images[PATH_MAX], what[PATH_MAX];
    snprintf(what, sizeof(what), "cache/%s", rel);
    if (paths_home(link, sizeof(link), what, err) < 0 ||
        paths_home(images, sizeof(images), "cache/images", err) < 0)
        return -1;
    char real_link[PATH_MAX], real_images[PATH_MAX];
    if (realpath(link, real_link) == NULL) {
        if (errno == ENOENT)
            return error_set(err, ERR_NOT_FOUND,
                             strcmp(rel, "current") == 0
                                 ? "no guest image at %s: run 'enclave image build' (or 'enclave image install')"
                                 : "no image variant at %s: build it with 'enclave image build --name NAME'",
                             link);
        return error_set_errno(err, ERR_INTERNAL, "resolving %s", link);
    }
    if (realpath(images, real_images) == NULL)
        return error_set_errno(err, ERR_NOT_FOUND, "resolving %s", images);
    size_t n = strlen(real_images);
    const char *rest = real_link + n;
    if (strncmp(real_link, real_images, n) != 0 || rest[0] != '/' || rest[1] == '\0' ||
        strchr(rest + 1, '/') != NULL)
        return error_set(err, ERR_FAILED_PRECONDITION, "%s points at %s, which is not a folder in %s",
                         link, real_link, real_images);
    return image_manifest_load(real_link, out, err);
}

int image_manifest_load_current(struct image_manifest **out, struct error *err)
{
    return load_link("current", out, err);
}

bool image_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > IMAGE_MAX_NAME || name[0] == '.' || name[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

int image_manifest_load_named(const char *name, struct image_manifest **out, struct error *err)
{
    *out = NULL;
    if (name == NULL || name[0] == '\0')
        return image_manifest_load_current(out, err);
    if (!image_name_valid(name))
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "an image name is 1 to %d of [A-Za-z0-9._-], not starting with '.' or '-'", IMAGE_MAX_NAME);
    char rel[IMAGE_MAX_NAME + 16];
    snprintf(rel, sizeof(rel), "named/%s", name);
    return load_link(rel, out, err);
}

/* Opens dir/rel for reading without following any symlink on the way. */
static int open_beneath(const char *dir, const char *rel, struct error *err)
{
    int cur = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return error_set_errno(err, ERR_NOT_FOUND, "opening %s", dir);
    char comp[IMAGE_MAX_PATH + 1];
    const char *p = rel;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || n > IMAGE_MAX_PATH) {
            close(cur);
            return error_set(err, ERR_INVALID_ARGUMENT, "bad path %s", rel);
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (slash ? O_DIRECTORY : 0);
        int next = openat(cur, comp, flags);
        int saved = errno;
        close(cur);
        if (next < 0) {
            errno = saved;
            return error_set_errno(err, saved == ENOENT ? ERR_NOT_FOUND : ERR_DATA_LOSS, "opening %s/%s",
                                   dir, rel);
        }
        cur = next;
        if (!slash)
            return cur;
        p = slash + 1;
    }
}

int image_artifact_verify(const struct image_manifest *m, const struct image_artifact *a,
                          char actual_sha256[65], uint64_t *actual_size, struct error *err)
{
    if (m->dir == NULL)
        return error_set(err, ERR_FAILED_PRECONDITION, "manifest has no image folder");
    cleanup_close int fd = open_beneath(m->dir, a->path, err);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return error_set_errno(err, ERR_INTERNAL, "stat %s", a->path);
    if (!S_ISREG(st.st_mode))
        return error_set(err, ERR_DATA_LOSS, "%s is not a regular file", a->path);
    char hex[65];
    uint64_t size = 0;
    if (digest_sha256_fd(fd, hex, &size, err) < 0)
        return error_prefix(err, "hashing %s", a->path);
    if (actual_sha256 != NULL)
        memcpy(actual_sha256, hex, 65);
    if (actual_size != NULL)
        *actual_size = size;
    if (size != a->size)
        return error_set(err, ERR_DATA_LOSS, "%s is %llu bytes, the manifest says %llu", a->path,
                         (unsigned long long)size, (unsigned long long)a->size);
    if (strcmp(hex, a->sha256) != 0)
        return error_set(err, ERR_DATA_LOSS, "%s has sha256 %s, the manifest says %s", a->path, hex,
                         a->sha256);
    return 0;
}

int image_manifest_verify(const struct image_manifest *m, struct error *err)
{
    for (size_t i = 0; i < m->n_artifacts; i++)
        if (image_artifact_verify(m, &m->artifacts[i], NULL, NULL, err) < 0)
            return error_prefix(err, "image %s", m->dir ? m->dir : "?");
    return 0;
}

/* ------------------------------------------------------------ writing */

static int set_or_fail(json_t *obj, const char *key, json_t *v)
{
    return v == NULL ? -1 : json_object_set_new(obj, key, v);
}

int image_manifest_write(const struct image_manifest *m, const char *dir, struct error *err)
{
    cleanup_json json_t *root = json_object();
    if (root == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    int bad = 0;
    bad |= set_or_fail(root, "schema", json_integer(m->schema));
    bad |= set_or_fail(root, "created", json_string(m->created));
    bad |= set_or_fail(root, "source", json_string(m->source));
    bad |= set_or_fail(root, "arch", json_string(m->arch));
    bad |= set_or_fail(root, "guest_protocol", json_integer(m->guest_protocol));
    bad |= set_or_fail(root, "kernel_cmdline", json_string(m->kernel_cmdline));
    if (m->build_inputs != NULL)
        bad |= set_or_fail(root, "build_inputs", json_string(m->build_inputs));
    json_t *arts = json_array();
    bad |= set_or_fail(root, "artifacts", arts);
    for (size_t i = 0; arts != NULL && i < m->n_artifacts; i++) {
        const struct image_artifact *a = &m->artifacts[i];
        json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s}", "role", a->role, "path", a->path, "size",
                              (json_int_t)a->size, "sha256", a->sha256, "media_type", a->media_type);
        bad |= o == NULL ? -1 : json_array_append_new(arts, o);
    }
    json_t *pkgs = json_array();
    bad |= set_or_fail(root, "packages", pkgs);
    for (size_t i = 0; pkgs != NULL && i < m->n_packages; i++) {
        json_t *o = json_pack("{s:s, s:s}", "name", m->packages[i].name, "version",
                              m->packages[i].version);
        bad |= o == NULL ? -1 : json_array_append_new(pkgs, o);
    }
    if (bad)
        return error_set(err, ERR_INTERNAL, "building manifest JSON failed (missing field?)");
    cleanup_free char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");

    char final[PATH_MAX];
    if (snprintf(final, sizeof(final), "%s/%s", dir, IMAGE_MANIFEST_NAME) >= (int)sizeof(final))
        return error_set(err, ERR_INVALID_ARGUMENT, "image folder path is too long");
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps's NUL becomes the final newline */
    struct file_replace_options opt = {.mode = 0644, .umask = true};
    return file_replace(final, text, len + 1, &opt, err);
}

static int cmp_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Points cache/<link> at target atomically (a new symlink renamed over). */
static int set_link(const char *cache, const char *link_rel, const char *target, struct error *err)
{
    char tmp[PATH_MAX], link[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s/.link.%ld", cache, (long)getpid()) >= (int)sizeof(tmp) ||
        snprintf(link, sizeof(link), "%s/%s", cache, link_rel) >= (int)sizeof(link))
        return error_set(err, ERR_INVALID_ARGUMENT, "cache path is too long");
    unlink(tmp);
    if (symlink(target, tmp) < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", tmp);
    if (rename(tmp, link) < 0) {
        error_set_errno(err, ERR_INTERNAL, "replacing %s", link);
        unlink(tmp);
        return -1;
    }
    /* The new link lasts: its folder (cache, or cache/named) synced. */
    *strrchr(link, '/') = '\0';
    if (file_sync_dir(link) < 0)
        return error_set_errno(err, ERR_INTERNAL, "syncing %s", link);
    return 0;
}

int image_cache_set_current(const char *id, struct error *err)
{
    if (!safe_relative_path(id) || strchr(id, '/') != NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad image id \"%s\"", id);
    char cache[PATH_MAX], target[PATH_MAX];
    if (paths_home(cache, sizeof(cache), "cache", err) < 0)
        return -1;
    if (snprintf(target, sizeof(target), "images/%s", id) >= (int)sizeof(target))
        return error_set(err, ERR_INVALID_ARGUMENT, "cache path is too long");
    return set_link(cache, "current", target, err);
}

int image_cache_set_named(const char *name, const char *id, struct error *err)
{
    if (!image_name_valid(name))
        return error_set(err, ERR_INVALID_ARGUMENT, "bad image name \"%s\"", name ? name : "");
    if (!safe_relative_path(id) || strchr(id, '/') != NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad image id \"%s\"", id);
    char cache[PATH_MAX], named[PATH_MAX], target[PATH_MAX], rel[PATH_MAX];
    if (paths_home(cache, sizeof(cache), "cache", err) < 0)
        return -1;
    if (snprintf(named, sizeof(named), "%s/named", cache) >= (int)sizeof(named) ||
        snprintf(target, sizeof(target), "../images/%s", id) >= (int)sizeof(target) ||
        snprintf(rel, sizeof(rel), "named/%s", name) >= (int)sizeof(rel))
        return error_set(err, ERR_INVALID_ARGUMENT, "cache path is too long");
    if (paths_mkdir_p(named, 0755, err) < 0)
        return -1;
    return set_link(cache, rel, target, err);
}

int image_cache_list_named(char ***names, size_t *n, struct error *err)
{
    *names = NULL;
    *n = 0;
    char named[PATH_MAX];
    if (paths_home(named, sizeof(named), "cache/named", err) < 0)
        return -1;
    DIR *d = opendir(named);
    if (d == NULL)
        return errno == ENOENT ? 0 : error_set_errno(err, ERR_INTERNAL, "opening %s", named);
    struct dirent *de;
    size_t cap = 0;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (!image_name_valid(de->d_name))
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char **grown = realloc(*names, ncap * sizeof(*grown));
            if (grown == NULL) {
                rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
                break;
            }
            *names = grown;
            cap = ncap;
        }
        if (((*names)[*n] = strdup(de->d_name)) == NULL) {
            rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc == 0 && *n > 1)
        qsort(*names, *n, sizeof(char *), cmp_strings);
    return rc;
}
