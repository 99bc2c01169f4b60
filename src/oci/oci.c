/* Pull, verify, install, push, sign and keygen: the flows behind
 * `enclave image ...` and `enclave up --image`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/file.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/text.h"
#include "image/image.h"
#include "oci/oci.h"
#include "oci/internal.h"

#define MAX_TRUSTED_KEYS 64
#define LOCAL_MANIFEST_MAX (1u << 20)

/* ------------------------------------------------------------ small helpers */

static int hash_file(int fd, char digest[72], uint64_t *size, struct error *err)
{
    if (lseek(fd, 0, SEEK_SET) < 0)
        return error_set_errno(err, ERR_INTERNAL, "seeking");
    memcpy(digest, "sha256:", 7);
    return digest_sha256_fd(fd, digest + 7, size, err);
}

/* ------------------------------------------------------------ resolving */

struct resolved {
    struct oci_ref ref;
    struct registry reg;
    struct blobstore store;
    struct oci_manifest *manifest;
    struct oci_guest_config config;
    char top_digest[72];
    char manifest_digest[72];
};

static void resolved_release(struct resolved *r)
{
    if (r->manifest != NULL) {
        oci_manifest_release(r->manifest);
        free(r->manifest);
        r->manifest = NULL;
    }
    oci_guest_config_release(&r->config);
    registry_release(&r->reg);
}

/* Fetches a small blob (config, signature payload) into the store and reads it back. */
static int fetch_small(struct resolved *r, const struct oci_descriptor *d, char **out, size_t *len,
                       struct error *err)
{
    if (d->size > OCI_SMALL_BLOB_MAX)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "blob %s of %" PRIu64 " bytes is too big",
                         d->digest, d->size);
    if (registry_blob_fetch(&r->reg, &r->store, d->digest, d->size, NULL, err) < 0)
        return -1;
    return blobstore_read(&r->store, d->digest, OCI_SMALL_BLOB_MAX, out, len, err);
}

static int select_platform(const struct oci_index *idx, char digest[72], uint64_t *size,
                           struct error *err)
{
    for (size_t i = 0; i < idx->count; i++) {
        const struct oci_descriptor *d = &idx->manifests[i];
        if (!oci_media_type_is_manifest(d->media_type))
            continue;
        if (strcmp(d->architecture, "amd64") == 0 && (d->os[0] == '\0' || strcmp(d->os, "linux") == 0)) {
            memcpy(digest, d->digest, 72);
            *size = d->size;
            return 0;
        }
    }
    return error_set(err, ERR_NOT_FOUND, "the image index has no linux/amd64 manifest");
}

static int resolve(const char *text, const struct oci_options *opts, bool push, struct resolved *r,
                   struct error *err)
{
    memset(r, 0, sizeof(*r));
    if (oci_ref_parse(text, &r->ref, err) < 0)
        return -1;
    if (blobstore_open_default(&r->store, err) < 0 ||
        registry_open(&r->reg, &r->ref, opts, push, err) < 0)
        return -1;
    if (push)
        return 0;
    cleanup_free char *body = NULL;
    size_t len = 0;
    char media_type[128];
    if (registry_manifest_get(&r->reg, oci_ref_target(&r->ref), &body, &len, media_type,
                              r->top_digest, err) < 0)
        return -1;
    if (blobstore_put(&r->store, r->top_digest, body, len, err) < 0)
        return -1;
    if (oci_media_type_is_index(media_type)) {
        struct oci_index *idx = calloc(1, sizeof(*idx));
        if (idx == NULL)
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        uint64_t size = 0;
        int ret = oci_index_parse(body, len, idx, err);
        if (ret == 0)
            ret = select_platform(idx, r->manifest_digest, &size, err);
        oci_index_release(idx);
        free(idx);
        if (ret < 0)
            return error_prefix(err, "index %s", r->top_digest);
        free(body);
        body = NULL;
        if (registry_manifest_get(&r->reg, r->manifest_digest, &body, &len, media_type,
                                  r->manifest_digest, err) < 0)
            return -1;
        if (len != size)
            return error_set(err, ERR_DATA_LOSS, "manifest %s is %zu bytes, the index says %" PRIu64,
                             r->manifest_digest, len, size);
        if (blobstore_put(&r->store, r->manifest_digest, body, len, err) < 0)
            return -1;
    } else if (oci_media_type_is_manifest(media_type)) {
        memcpy(r->manifest_digest, r->top_digest, 72);
    } else {
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "%s: unknown manifest media type '%s'", text, media_type);
    }
    r->manifest = calloc(1, sizeof(*r->manifest));
    if (r->manifest == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    if (oci_manifest_parse(body, len, r->manifest, err) < 0)
        return error_prefix(err, "manifest %s", r->manifest_digest);
    if (oci_manifest_check_guest(r->manifest, err) < 0)
        return error_prefix(err, "manifest %s", r->manifest_digest);
    cleanup_free char *cfg = NULL;
    size_t cfg_len = 0;
    if (fetch_small(r, &r->manifest->config, &cfg, &cfg_len, err) < 0)
        return error_prefix(err, "config");
    if (oci_guest_config_parse(cfg, cfg_len, &r->config, err) < 0)
        return -1;
    return 0;
}

static void fill_info(const struct resolved *r, struct oci_image_info *info)
{
    if (info == NULL)
        return;
    oci_ref_format(&r->ref, info->reference, sizeof(info->reference));
    memcpy(info->top_digest, r->top_digest, 72);
    memcpy(info->manifest_digest, r->manifest_digest, 72);
    info->layer_count = r->manifest ? r->manifest->layer_count : 0;
    info->total_bytes = 0;
    for (size_t i = 0; r->manifest && i < r->manifest->layer_count; i++)
        info->total_bytes += r->manifest->layers[i].size;
}

static int fetch_layers(struct resolved *r, const struct oci_options *opts, struct error *err)
{
    for (size_t i = 0; i < r->manifest->layer_count; i++) {
        const struct oci_descriptor *d = &r->manifest->layers[i];
        if (blobstore_has(&r->store, d->digest))
            continue;
        struct oci_progress p;
        char label[64];
        snprintf(label, sizeof(label), "%s %.12s", oci_layer_file_name(d), d->digest + 7);
        oci_progress_begin(&p, opts && opts->progress, label, d->size, 0);
        int ret = registry_blob_fetch(&r->reg, &r->store, d->digest, d->size, &p, err);
        oci_progress_end(&p, ret == 0);
        if (ret < 0)
            return error_prefix(err, "layer %s", oci_layer_file_name(d));
    }
    return 0;
}

static int check_layers(struct resolved *r, struct error *err)
{
    for (size_t i = 0; i < r->manifest->layer_count; i++) {
        const struct oci_descriptor *d = &r->manifest->layers[i];
        if (blobstore_check(&r->store, d->digest, d->size, err) < 0)
            return error_prefix(err, "layer %s", oci_layer_file_name(d));
    }
    return 0;
}

/* ------------------------------------------------------------ signatures */

struct trusted_key {
    EVP_PKEY *key;
    char path[512];
};

static void keys_release(struct trusted_key *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        EVP_PKEY_free(keys[i].key);
}

static int key_add(struct trusted_key *keys, size_t *n, const char *path, struct error *err)
{
    if (*n >= MAX_TRUSTED_KEYS)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "more than %d trusted keys", MAX_TRUSTED_KEYS);
    cleanup_free char *pem = NULL;
    size_t len = 0;
    if (file_read_all(path, 64u << 10, &pem, &len, err) < 0)
        return -1;
    if (cosign_public_key_load(pem, len, &keys[*n].key, err) < 0)
        return error_prefix(err, "%s", path);
    snprintf(keys[*n].path, sizeof(keys[*n].path), "%s", path);
    (*n)++;
    return 0;
}

static int load_trusted_keys(const struct oci_options *opts, struct trusted_key *keys, size_t *n,
                             struct error *err)
{
    *n = 0;
    for (size_t i = 0; opts && i < opts->key_count; i++)
        if (key_add(keys, n, opts->keys[i], err) < 0) {
            keys_release(keys, *n);
            return -1;
        }
    char dir[PATH_MAX];
    if (paths_home(dir, sizeof(dir), "trust", err) < 0) {
        keys_release(keys, *n);
        return -1;
    }
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t l = strlen(e->d_name);
            if (l < 5 || strcmp(e->d_name + l - 4, ".pub") != 0 || e->d_name[0] == '.')
                continue;
            char path[PATH_MAX + 300];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (key_add(keys, n, path, err) < 0) {
                closedir(d);
                keys_release(keys, *n);
                return -1;
            }
        }
        closedir(d);
    }
    return 0;
}

/* Looks for one layer of the signature manifest that one of keys signed
 * and whose payload names exactly the digest we resolved. */
static int verify_signature(struct resolved *r, const struct trusted_key *keys, size_t key_count,
                            struct oci_image_info *info, struct error *err)
{
    char tag[96];
    cosign_signature_tag(r->top_digest, tag, sizeof(tag));
    cleanup_free char *body = NULL;
    size_t len = 0;
    char media_type[128], sig_digest[72];
    struct oci_manifest *m = NULL;
    int ret = -1;
    struct error local;
    if (registry_manifest_get(&r->reg, tag, &body, &len, media_type, sig_digest, &local) < 0) {
        if (local.kind == ERR_NOT_FOUND)
            error_set(err, ERR_PERMISSION_DENIED, "image %s is not signed (no %s in %s)",
                      r->top_digest, tag, r->ref.repository);
        else
            *err = local;
        goto out;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    if (oci_manifest_parse(body, len, m, err) < 0) {
        error_prefix(err, "signature manifest %s", tag);
        goto out;
    }
    char last_reason[1200] = "no cosign signature layers";
    for (size_t i = 0; i < m->layer_count; i++) {
        const struct oci_descriptor *d = &m->layers[i];
        if (strcmp(d->media_type, OCI_MEDIA_COSIGN_SIMPLESIGNING) != 0 || d->signature == NULL)
            continue;
        cleanup_free char *payload = NULL;
        size_t plen = 0;
        if (fetch_small(r, d, &payload, &plen, &local) < 0) {
            snprintf(last_reason, sizeof(last_reason), "payload %s: %s", d->digest, local.message);
            continue;
        }
        const char *signer = NULL;
        for (size_t k = 0; k < key_count && signer == NULL; k++)
            if (cosign_verify_data(keys[k].key, payload, plen, d->signature, &local) == 0)
                signer = keys[k].path;
        if (signer == NULL) {
            snprintf(last_reason, sizeof(last_reason), "signature by a key that is not trusted");
            continue;
        }
        char identity[512], digest[72];
        if (cosign_payload_parse(payload, plen, identity, digest, &local) < 0) {
            snprintf(last_reason, sizeof(last_reason), "%s", local.message);
            continue;
        }
        if (strcmp(digest, r->top_digest) != 0) {
            snprintf(last_reason, sizeof(last_reason),
                     "a valid signature, but for %s, not %s", digest, r->top_digest);
            continue;
        }
        char expected[600];
        oci_ref_identity(&r->ref, expected, sizeof(expected));
        if (strcmp(identity, expected) != 0)
            log_info("signature names %s; pulled from %s (cosign does not bind the name either)",
                     identity, expected);
        if (info != NULL) {
            info->signature_verified = true;
            snprintf(info->signer_key, sizeof(info->signer_key), "%s", signer);
        }
        ret = 0;
        goto out;
    }
    error_set(err, ERR_PERMISSION_DENIED, "no valid signature for %s: %s", r->top_digest,
              last_reason);
out:
    if (m != NULL) {
        oci_manifest_release(m);
        free(m);
    }
    return ret;
}

/* doc (consumed, may be NULL) as compact JSON in *text, and its digest in
 * digest unless that is NULL. */
static int dump_compact(json_t *doc, char **text, char digest[72], struct error *err)
{
    *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (*text == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    if (digest != NULL)
        oci_digest_of(*text, strlen(*text), digest);
    return 0;
}

/* ------------------------------------------------------------ pull / verify */

/* How far fetch_image goes. */
enum fetch_until {
    FETCH_PULLED,   /* the layers are in the content store */
    FETCH_VERIFIED, /* and the signature and the layers are checked */
    FETCH_INSTALLED /* and the image is installed (and recorded) */
};

static int install_steps(const char *ref, const struct oci_options *opts, struct resolved *r,
                         struct oci_image_info *info, struct error *err);

/* Resolves ref and takes it as far as until; info (may be NULL) is filled
 * with what was found either way. */
static int fetch_image(const char *ref, const struct oci_options *opts, enum fetch_until until,
                       struct oci_image_info *info, struct error *err)
{
    bool skip_verify = until == FETCH_INSTALLED && opts && opts->insecure_skip_verify;
    struct oci_ref parsed;
    if (oci_ref_parse(ref, &parsed, err) < 0)
        return -1;
    /* The trusted keys are read before the registry is asked anything: a
     * --key that cannot be read costs no download. */
    struct trusted_key keys[MAX_TRUSTED_KEYS];
    size_t key_count = 0;
    if (until != FETCH_PULLED && !skip_verify) {
        if (load_trusted_keys(opts, keys, &key_count, err) < 0)
            return -1;
        if (key_count == 0)
            return error_set(err, ERR_FAILED_PRECONDITION,
                             "no trusted keys: put cosign public keys in $ENCLAVE_HOME/trust/*.pub "
                             "or pass --key");
    }
    struct resolved r;
    int ret = resolve(ref, opts, false, &r, err);
    if (ret == 0 && until != FETCH_PULLED) {
        if (skip_verify) {
            fprintf(stderr,
                    "WARNING: installing %s WITHOUT checking its signature "
                    "(--insecure-skip-verify). Anything that could write to this registry or "
                    "the path to it chooses the kernel and root filesystem of every VM.\n",
                    ref);
            log_warn("image install without signature verification: %s (%s)", ref, r.top_digest);
        } else {
            ret = verify_signature(&r, keys, key_count, info, err);
        }
    }
    if (ret == 0)
        ret = fetch_layers(&r, opts, err);
    if (ret == 0 && until != FETCH_PULLED)
        ret = check_layers(&r, err);
    if (ret == 0 && until == FETCH_INSTALLED)
        ret = install_steps(ref, opts, &r, info, err);
    fill_info(&r, info);
    resolved_release(&r);
    keys_release(keys, key_count);
    return ret;
}

int oci_pull(const char *ref, const struct oci_options *opts, struct oci_image_info *info,
             struct error *err)
{
    return fetch_image(ref, opts, FETCH_PULLED, info, err);
}

int oci_verify(const char *ref, const struct oci_options *opts, struct oci_image_info *info,
               struct error *err)
{
    return fetch_image(ref, opts, FETCH_VERIFIED, info, err);
}

/* ------------------------------------------------------------ install */

static int link_or_copy(const char *from, const char *to, struct error *err)
{
    if (link(from, to) == 0)
        return 0;
    cleanup_close int in = open(from, O_RDONLY | O_CLOEXEC);
    cleanup_close int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (in < 0 || out < 0 || file_copy_fd(in, out) < 0)
        return error_set_errno(err, ERR_INTERNAL, "copying %s", from);
    if (fsync(out) < 0)
        return error_set_errno(err, ERR_INTERNAL, "syncing %s", to);
    return 0;
}

static char *image_manifest_json(const struct resolved *r)
{
    char created[32], source[800], ref_text[600];
    rfc3339_now(created);
    struct oci_ref plain = r->ref;
    plain.digest[0] = '\0';
    oci_ref_format(&plain, ref_text, sizeof(ref_text));
    snprintf(source, sizeof(source), "oci:%s@%s", ref_text, r->top_digest);
    json_t *artifacts = json_array();
    for (size_t i = 0; i < r->manifest->layer_count; i++) {
        const struct oci_descriptor *d = &r->manifest->layers[i];
        json_array_append_new(
            artifacts,
            json_pack("{s:s,s:s,s:I,s:s,s:s}", "role",
                      oci_role_name(oci_role_from_media_type(d->media_type)), "path",
                      oci_layer_file_name(d), "size", (json_int_t)d->size, "sha256", d->digest + 7,
                      "media_type", d->media_type));
    }
    json_t *packages = NULL;
    if (r->config.packages_json != NULL)
        packages = json_loads(r->config.packages_json, 0, NULL);
    if (packages == NULL)
        packages = json_array();
    json_t *doc = json_pack("{s:i,s:s,s:s,s:s,s:i,s:s,s:o,s:o}", "schema", 1, "created", created,
                            "source", source, "arch",
                            r->config.architecture[0] ? r->config.architecture : "amd64",
                            "guest_protocol", r->config.guest_protocol, "kernel_cmdline",
                            r->config.kernel_cmdline, "artifacts", artifacts, "packages", packages);
    char *s = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    return s;
}

/* Files of an installed image still hash to what manifest.json says. */
static bool image_dir_intact(const char *dir, const struct resolved *r)
{
    for (size_t i = 0; i < r->manifest->layer_count; i++) {
        const struct oci_descriptor *d = &r->manifest->layers[i];
        char path[PATH_MAX + 300];
        snprintf(path, sizeof(path), "%s/%s", dir, oci_layer_file_name(d));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return false;
        char got[72];
        uint64_t size = 0;
        struct error e;
        int ret = hash_file(fd, got, &size, &e);
        close(fd);
        if (ret < 0 || size != d->size || strcmp(got, d->digest) != 0)
            return false;
    }
    char mpath[PATH_MAX + 400];
    snprintf(mpath, sizeof(mpath), "%s/manifest.json", dir);
    return access(mpath, R_OK) == 0;
}

static int install_resolved(struct resolved *r, struct oci_image_info *info, struct error *err)
{
    char cache[PATH_MAX], images[PATH_MAX + 16];
    if (paths_home(cache, sizeof(cache), "cache", err) < 0)
        return -1;
    snprintf(images, sizeof(images), "%s/images", cache);
    if (paths_mkdir_p(images, 0755, err) < 0)
        return -1;
    char id[96];
    snprintf(id, sizeof(id), "oci-%.16s", r->manifest_digest + 7);
    char final[PATH_MAX + 200], tmp[PATH_MAX + 200];
    snprintf(final, sizeof(final), "%s/%s", images, id);
    snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-%d", images, id, (int)getpid());
    remove_tree(tmp, NULL);
    if (mkdir(tmp, 0755) < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", tmp);
    for (size_t i = 0; i < r->manifest->layer_count; i++) {
        const struct oci_descriptor *d = &r->manifest->layers[i];
        char from[4200], to[PATH_MAX + 500];
        blobstore_path(&r->store, d->digest, from, sizeof(from));
        snprintf(to, sizeof(to), "%s/%s", tmp, oci_layer_file_name(d));
        if (link_or_copy(from, to, err) < 0) {
            remove_tree(tmp, NULL);
            return -1;
        }
    }
    cleanup_free char *mjson = image_manifest_json(r);
    char mpath[PATH_MAX + 400];
    snprintf(mpath, sizeof(mpath), "%s/manifest.json", tmp);
    static const struct file_replace_options manifest_opt = { .mode = 0644, .no_replace = true };
    if (mjson == NULL || file_replace(mpath, mjson, strlen(mjson), &manifest_opt, err) < 0) {
        remove_tree(tmp, NULL);
        return mjson ? -1 : error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    /* what the VM drivers will read: check it with their parser, files included */
    struct image_manifest *check = NULL;
    if (image_manifest_load(tmp, &check, err) < 0 || image_manifest_verify(check, err) < 0) {
        image_manifest_free(check);
        remove_tree(tmp, NULL);
        return error_prefix(err, "installed image does not check out");
    }
    image_manifest_free(check);

    struct stat st;
    if (stat(final, &st) == 0) {
        if (image_dir_intact(final, r)) {
            remove_tree(tmp, NULL); /* the same image is already there, whole */
        } else {
            /* a damaged copy: install beside it under a fresh name */
            snprintf(id + strlen(id), sizeof(id) - strlen(id), "-%ld", (long)time(NULL));
            snprintf(final, sizeof(final), "%s/%s", images, id);
            if (rename(tmp, final) < 0) {
                remove_tree(tmp, NULL);
                return error_set_errno(err, ERR_INTERNAL, "moving the image into place");
            }
        }
    } else if (rename(tmp, final) < 0) {
        remove_tree(tmp, NULL);
        return error_set_errno(err, ERR_INTERNAL, "moving the image into place");
    }
    file_sync_dir(images);

    /* swap `current` with one rename: a crash leaves either the old link or the new */
    char target[200], link_tmp[PATH_MAX + 100], current[PATH_MAX + 20];
    snprintf(target, sizeof(target), "images/%s", id);
    snprintf(link_tmp, sizeof(link_tmp), "%s/.current-%d", cache, (int)getpid());
    snprintf(current, sizeof(current), "%s/current", cache);
    unlink(link_tmp);
    if (symlink(target, link_tmp) < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", link_tmp);
    if (rename(link_tmp, current) < 0) {
        unlink(link_tmp);
        return error_set_errno(err, ERR_INTERNAL, "replacing %s", current);
    }
    file_sync_dir(cache);
    if (info != NULL)
        snprintf(info->installed_id, sizeof(info->installed_id), "%s", id);
    return 0;
}

char *oci_event_details_json(const struct oci_event *event)
{
    json_t *details = json_pack("{s:s,s:s,s:s,s:s}", "reference", event->reference, "digest",
                                event->digest, "manifest_digest", event->manifest_digest,
                                "signer", event->signer ? event->signer : "");
    char *out = details ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(details);
    return out;
}

/* Tells the caller what an install did (struct oci_options.record). */
static int record_install(const struct oci_options *opts, enum oci_event_kind kind, const char *ref,
                          const struct resolved *r, const struct oci_image_info *info,
                          struct error *err)
{
    if (opts == NULL || opts->record == NULL)
        return error_set(err, ERR_FAILED_PRECONDITION, "no audit log to record the install in");
    struct oci_event ev = {
        .kind = kind,
        .reference = ref,
        .digest = r->top_digest,
        .manifest_digest = r->manifest_digest,
        .signer = info && info->signature_verified ? info->signer_key : "",
    };
    if (opts->record(opts->record_ctx, &ev, err) < 0)
        return error_prefix(err, "writing the audit record");
    return 0;
}

/* A fetched and checked image installed, and recorded: an unverified
 * install before `current` moves (one that cannot be recorded does not
 * happen), a verified one after. */
static int install_steps(const char *ref, const struct oci_options *opts, struct resolved *r,
                         struct oci_image_info *info, struct error *err)
{
    bool skip_verify = opts && opts->insecure_skip_verify;
    if (skip_verify && record_install(opts, OCI_EVENT_UNVERIFIED_INSTALL, ref, r, info, err) < 0)
        return -1;
    if (install_resolved(r, info, err) < 0)
        return -1;
    if (!skip_verify && opts && opts->record) {
        struct error audit_err;
        struct oci_image_info local = {0};
        const struct oci_image_info *who = info;
        if (who == NULL) {
            local.signature_verified = true;
            who = &local;
        }
        if (record_install(opts, OCI_EVENT_VERIFIED_INSTALL, ref, r, who, &audit_err) < 0)
            log_warn("image installed, but %s", audit_err.message);
    }
    return 0;
}

int oci_install_info(const char *ref, const struct oci_options *opts, struct oci_image_info *info,
                     struct error *err)
{
    return fetch_image(ref, opts, FETCH_INSTALLED, info, err);
}

int oci_install(const char *ref, const struct oci_install_options *opts, struct error *err)
{
    return oci_install_info(ref, opts, NULL, err);
}

/* ------------------------------------------------------------ push */

struct local_artifact {
    enum oci_role role;
    char path[PATH_MAX + 300];
    char name[256];
    char media_type[128];
    char digest[72];
    uint64_t size;
    int fd;
};

static json_t *descriptor_json(const char *media_type, const char *digest, uint64_t size)
{
    return json_pack("{s:s,s:s,s:I}", "mediaType", media_type, "digest", digest, "size",
                     (json_int_t)size);
}

static int push_blob(struct registry *reg, const char *digest, int fd, const void *data,
                     uint64_t size, const struct oci_options *opts, const char *label,
                     struct error *err)
{
    bool exists = false;
    if (registry_blob_exists(reg, digest, &exists, err) < 0)
        return -1;
    if (exists) {
        if (opts && opts->progress)
            fprintf(stderr, "%s %.12s already in the registry\n", label, digest + 7);
        return 0;
    }
    struct oci_progress p;
    oci_progress_begin(&p, opts && opts->progress, label, size, 0);
    int ret = registry_blob_push(reg, digest, fd, data, size, opts ? opts->chunk_size : 0, err);
    p.done = ret == 0 ? size : 0;
    oci_progress_end(&p, ret == 0);
    return ret;
}

static int load_local_image(const char *dir, json_t **doc_out, struct local_artifact *arts,
                            size_t *count, struct error *err)
{
    *count = 0;
    char mpath[PATH_MAX + 400];
    snprintf(mpath, sizeof(mpath), "%s/manifest.json", dir);
    cleanup_free char *text = NULL;
    size_t len = 0;
    if (file_read_all(mpath, LOCAL_MANIFEST_MAX, &text, &len, err) < 0)
        return -1;
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *list = doc ? json_object_get(doc, "artifacts") : NULL;
    if (!json_is_array(list) || json_array_size(list) > OCI_MAX_LAYERS) {
        json_decref(doc);
        return error_set(err, ERR_INVALID_ARGUMENT, "%s: no artifacts list", mpath);
    }
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a)
    {
        struct local_artifact *la = &arts[*count];
        memset(la, 0, sizeof(*la));
        la->fd = -1;
        const char *role = json_string_value(json_object_get(a, "role"));
        const char *path = json_string_value(json_object_get(a, "path"));
        const char *sha = json_string_value(json_object_get(a, "sha256"));
        const char *mt = json_string_value(json_object_get(a, "media_type"));
        la->role = role ? oci_role_from_name(role) : OCI_ROLE_NONE;
        if (la->role == OCI_ROLE_NONE && mt)
            la->role = oci_role_from_media_type(mt);
        if (la->role == OCI_ROLE_NONE || path == NULL || !oci_file_name_safe(path)) {
            json_decref(doc);
            return error_set(err, ERR_INVALID_ARGUMENT, "%s: artifact %zu has no known role or a bad path",
                             mpath, i);
        }
        snprintf(la->name, sizeof(la->name), "%s", path);
        snprintf(la->media_type, sizeof(la->media_type), "%s", oci_role_media_type(la->role));
        snprintf(la->path, sizeof(la->path), "%s/%s", dir, path);
        la->fd = open(la->path, O_RDONLY | O_CLOEXEC);
        (*count)++;
        if (la->fd < 0) {
            json_decref(doc);
            return error_set_errno(err, ERR_NOT_FOUND, "opening %s", la->path);
        }
        if (hash_file(la->fd, la->digest, &la->size, err) < 0) {
            json_decref(doc);
            return error_prefix(err, "%s", la->path);
        }
        if (sha != NULL && strcmp(sha, la->digest + 7) != 0) {
            json_decref(doc);
            return error_set(err, ERR_DATA_LOSS, "%s does not match the sha256 in manifest.json",
                             la->path);
        }
    }
    *doc_out = doc;
    return 0;
}

int oci_push(const char *ref_text, const struct oci_options *opts, struct oci_image_info *info,
             struct error *err)
{
    struct resolved r;
    if (resolve(ref_text, opts, true, &r, err) < 0) {
        resolved_release(&r);
        return -1;
    }
    if (r.ref.tag[0] == '\0' || r.ref.digest[0] != '\0') {
        resolved_release(&r);
        return error_set(err, ERR_INVALID_ARGUMENT, "push needs a tag and no digest: %s",
                         ref_text);
    }
    char dir[PATH_MAX];
    if (opts && opts->push_from) {
        snprintf(dir, sizeof(dir), "%s", opts->push_from);
    } else if (paths_home(dir, sizeof(dir), "cache/current", err) < 0) {
        resolved_release(&r);
        return -1;
    }
    struct local_artifact *arts = calloc(OCI_MAX_LAYERS, sizeof(*arts));
    json_t *local = NULL;
    size_t count = 0;
    int ret = -1;
    char *config = NULL, *manifest = NULL, *index = NULL;
    if (arts == NULL) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    if (load_local_image(dir, &local, arts, &count, err) < 0) {
        error_prefix(err, "local image %s", dir);
        goto out;
    }
    const char *cmdline = json_string_value(json_object_get(local, "kernel_cmdline"));
    json_t *gp = json_object_get(local, "guest_protocol");
    const char *arch = json_string_value(json_object_get(local, "arch"));
    json_t *packages = json_object_get(local, "packages");
    json_t *cfg = json_pack("{s:s,s:s,s:I,s:O}", "architecture", arch ? arch : "amd64",
                            "kernel_cmdline", cmdline ? cmdline : "", "guest_protocol",
                            json_is_integer(gp) ? json_integer_value(gp) : (json_int_t)1,
                            "packages", json_is_array(packages) ? packages : json_null());
    char config_digest[72];
    if (dump_compact(cfg, &config, config_digest, err) < 0)
        goto out;

    for (size_t i = 0; i < count; i++)
        if (push_blob(&r.reg, arts[i].digest, arts[i].fd, NULL, arts[i].size, opts, arts[i].name,
                      err) < 0) {
            error_prefix(err, "pushing %s", arts[i].name);
            goto out;
        }
    if (push_blob(&r.reg, config_digest, -1, config, strlen(config), opts, "config", err) < 0)
        goto out;

    json_t *layers = json_array();
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *d = descriptor_json(arts[i].media_type, arts[i].digest, arts[i].size);
        json_object_set_new(d, "annotations",
                            json_pack("{s:s,s:s}", OCI_TITLE_ANNOTATION, arts[i].name,
                                      OCI_ROLE_ANNOTATION, oci_role_name(arts[i].role)));
        json_array_append_new(layers, d);
        total += arts[i].size;
    }
    char created[32];
    rfc3339_now(created);
    json_t *m = json_pack("{s:i,s:s,s:s,s:o,s:o,s:{s:s}}", "schemaVersion", 2, "mediaType",
                          OCI_MEDIA_MANIFEST, "artifactType", OCI_ENCLAVE_ARTIFACT_TYPE, "config",
                          descriptor_json(OCI_ENCLAVE_CONFIG_TYPE, config_digest, strlen(config)),
                          "layers", layers, "annotations", "org.opencontainers.image.created",
                          created);
    char manifest_digest[72];
    if (dump_compact(m, &manifest, manifest_digest, err) < 0)
        goto out;
    if (registry_manifest_put(&r.reg, manifest_digest, OCI_MEDIA_MANIFEST, manifest,
                              strlen(manifest), err) < 0)
        goto out;
    json_t *entry = descriptor_json(OCI_MEDIA_MANIFEST, manifest_digest, strlen(manifest));
    /* no per-entry artifactType: containers/image 5.2x (Debian's skopeo) drops the
     * field when it re-reads the index, and then cannot copy it with digests kept */
    json_object_set_new(entry, "platform", json_pack("{s:s,s:s}", "architecture",
                                                     arch ? arch : "amd64", "os", "linux"));
    json_t *idx = json_pack("{s:i,s:s,s:s,s:[o]}", "schemaVersion", 2, "mediaType",
                            OCI_MEDIA_INDEX, "artifactType", OCI_ENCLAVE_ARTIFACT_TYPE,
                            "manifests", entry);
    if (dump_compact(idx, &index, NULL, err) < 0)
        goto out;
    if (registry_manifest_put(&r.reg, r.ref.tag, OCI_MEDIA_INDEX, index, strlen(index), err) < 0)
        goto out;
    if (info != NULL) {
        oci_ref_format(&r.ref, info->reference, sizeof(info->reference));
        oci_digest_of(index, strlen(index), info->top_digest);
        memcpy(info->manifest_digest, manifest_digest, 72);
        info->layer_count = count;
        info->total_bytes = total;
    }
    ret = 0;
out:
    for (size_t i = 0; arts && i < count; i++)
        if (arts[i].fd >= 0)
            close(arts[i].fd);
    free(arts);
    json_decref(local);
    free(config);
    free(manifest);
    free(index);
    resolved_release(&r);
    return ret;
}

/* ------------------------------------------------------------ sign */

int oci_sign(const char *ref_text, const char *key_path, const char *password,
             const struct oci_options *opts, struct oci_image_info *info, struct error *err)
{
    cleanup_free char *pem = NULL;
    size_t pem_len = 0;
    if (file_read_all(key_path, 64u << 10, &pem, &pem_len, err) < 0)
        return -1;
    EVP_PKEY *key = NULL;
    if (cosign_private_key_load(pem, pem_len, password ? password : "", &key, err) < 0)
        return error_prefix(err, "%s", key_path);

    struct resolved r;
    int ret = -1;
    char *payload = NULL, *sig = NULL, *config = NULL, *manifest = NULL;
    cleanup_free char *top = NULL;
    cleanup_free char *existing = NULL;
    json_t *layers = NULL;
    if (resolve(ref_text, opts, true, &r, err) < 0)
        goto out;
    size_t top_len = 0, existing_len = 0;
    char media_type[128], tag[96], identity[600];
    if (registry_manifest_get(&r.reg, oci_ref_target(&r.ref), &top, &top_len, media_type,
                              r.top_digest, err) < 0)
        goto out;
    oci_ref_identity(&r.ref, identity, sizeof(identity));
    size_t payload_len = 0;
    if (cosign_payload_build(identity, r.top_digest, &payload, &payload_len, err) < 0 ||
        cosign_sign_data(key, payload, payload_len, &sig, err) < 0)
        goto out;
    char payload_digest[72];
    oci_digest_of(payload, payload_len, payload_digest);

    /* cosign adds to an existing signature manifest rather than replacing it */
    cosign_signature_tag(r.top_digest, tag, sizeof(tag));
    char sig_digest[72];
    struct error local;
    if (registry_manifest_get(&r.reg, tag, &existing, &existing_len, media_type, sig_digest,
                              &local) == 0) {
        json_t *doc = json_loadb(existing, existing_len, 0, NULL);
        json_t *old = doc ? json_object_get(doc, "layers") : NULL;
        if (json_is_array(old) && json_array_size(old) < OCI_MAX_LAYERS - 1)
            layers = json_deep_copy(old);
        json_decref(doc);
    } else if (local.kind != ERR_NOT_FOUND) {
        *err = local;
        goto out;
    }
    if (layers == NULL)
        layers = json_array();
    json_t *layer = descriptor_json(OCI_MEDIA_COSIGN_SIMPLESIGNING, payload_digest, payload_len);
    json_object_set_new(layer, "annotations",
                        json_pack("{s:s}", OCI_COSIGN_SIGNATURE_ANNOTATION, sig));
    json_array_append_new(layers, layer);

    if (push_blob(&r.reg, payload_digest, -1, payload, payload_len, NULL, "payload", err) < 0)
        goto out;
    json_t *diff_ids = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l) json_array_append(diff_ids, json_object_get(l, "digest"));
    json_t *cfg = json_pack("{s:s,s:s,s:[{s:s}],s:s,s:{s:s,s:o},s:{}}", "architecture", "",
                            "created", "0001-01-01T00:00:00Z", "history", "created",
                            "0001-01-01T00:00:00Z", "os", "", "rootfs", "type", "layers",
                            "diff_ids", diff_ids, "config");
    char config_digest[72];
    if (dump_compact(cfg, &config, config_digest, err) < 0)
        goto out;
    if (push_blob(&r.reg, config_digest, -1, config, strlen(config), NULL, "config", err) < 0)
        goto out;
    json_t *m = json_pack("{s:i,s:s,s:o,s:O}", "schemaVersion", 2, "mediaType", OCI_MEDIA_MANIFEST,
                          "config",
                          descriptor_json(OCI_MEDIA_OCI_CONFIG, config_digest, strlen(config)),
                          "layers", layers);
    if (dump_compact(m, &manifest, NULL, err) < 0)
        goto out;
    if (registry_manifest_put(&r.reg, tag, OCI_MEDIA_MANIFEST, manifest, strlen(manifest), err) < 0)
        goto out;
    if (info != NULL) {
        oci_ref_format(&r.ref, info->reference, sizeof(info->reference));
        memcpy(info->top_digest, r.top_digest, 72);
    }
    ret = 0;
out:
    json_decref(layers);
    free(payload);
    free(sig);
    free(config);
    free(manifest);
    resolved_release(&r);
    EVP_PKEY_free(key);
    return ret;
}

/* ------------------------------------------------------------ keygen */

int oci_keygen(const char *dir, const char *password, bool force, struct error *err)
{
    char priv_path[PATH_MAX], pub_path[PATH_MAX];
    snprintf(priv_path, sizeof(priv_path), "%s/cosign.key", dir);
    snprintf(pub_path, sizeof(pub_path), "%s/cosign.pub", dir);
    if (!force && (access(priv_path, F_OK) == 0 || access(pub_path, F_OK) == 0))
        return error_set(err, ERR_ALREADY_EXISTS,
                         "%s or %s exists; refusing to overwrite a key (use --force)", priv_path,
                         pub_path);
    cleanup_free char *priv = NULL;
    cleanup_free char *pub = NULL;
    if (cosign_keygen(password, &priv, &pub, err) < 0)
        return -1;
    static const struct file_replace_options priv_opt = { .mode = 0600 }, pub_opt = { .mode = 0644 };
    if (file_replace(priv_path, priv, strlen(priv), &priv_opt, err) < 0 ||
        file_replace(pub_path, pub, strlen(pub), &pub_opt, err) < 0)
        return -1;
    return 0;
}
