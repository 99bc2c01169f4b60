/* Internals of the OCI client shared between its files, the unit tests and
 * the fuzz harness. Not part of the module's public header (oci/oci.h). */
#ifndef ENCLAVE_OCI_INTERNAL_H
#define ENCLAVE_OCI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/error.h"
#include "oci/oci.h"

#define OCI_DIGEST_LEN 71 /* "sha256:" + 64 hex */

/* "sha256:" followed by exactly 64 lowercase hex digits. */
bool oci_digest_valid(const char *digest);
/* Writes "sha256:<hex>" of data into out (72 bytes). */
void oci_digest_of(const void *data, size_t len, char out[72]);
/* Hex of an EVP SHA-256 context's final value as "sha256:<hex>". */
int oci_digest_final(EVP_MD_CTX *md, char out[72]);

/* ------------------------------------------------------------ references */

/* registry[:port]/name[/name...][:tag][@sha256:hex], as the OCI tools read
 * it, with the registry always written (no default registry); "latest" is the
 * tag when there is neither tag nor digest. */
struct oci_ref {
    char registry[256];   /* host[:port] as written */
    char repository[256]; /* path components, lowercase */
    char tag[129];        /* "" when absent */
    char digest[72];      /* "" when absent */
};

int oci_ref_parse(const char *text, struct oci_ref *ref, struct error *err);
/* registry/repository[:tag][@digest] */
int oci_ref_format(const struct oci_ref *ref, char *buf, size_t size);
/* The host the API is served from: the registry as written. */
const char *oci_ref_api_host(const struct oci_ref *ref);
/* What cosign writes as docker-reference: registry/repository. */
int oci_ref_identity(const struct oci_ref *ref, char *buf, size_t size);
/* Tag or digest to put in /manifests/<reference>; digest wins. */
const char *oci_ref_target(const struct oci_ref *ref);
bool oci_ref_is_loopback(const struct oci_ref *ref);

/* ------------------------------------------------------------ manifests */

#define OCI_MEDIA_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define OCI_MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define OCI_MEDIA_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MEDIA_COSIGN_SIMPLESIGNING "application/vnd.dev.cosign.simplesigning.v1+json"
#define OCI_COSIGN_SIGNATURE_ANNOTATION "dev.cosignproject.cosign/signature"

#define OCI_MAX_LAYERS 64
#define OCI_MAX_MANIFESTS 64

/* X(role enum, role name, media type, default file name) */
#define OCI_LAYER_ROLES(X)                                                              \
    X(OCI_ROLE_KERNEL, "kernel", "application/vnd.enclave.kernel", "vmlinuz")          \
    X(OCI_ROLE_INITRAMFS, "initramfs", "application/vnd.enclave.initramfs", "initramfs.cpio") \
    X(OCI_ROLE_ROOTFS, "rootfs", "application/vnd.enclave.rootfs", "rootfs.img")       \
    X(OCI_ROLE_MODULES, "modules", "application/vnd.enclave.modules", "modules.cpio")  \
    X(OCI_ROLE_VMM, "vmm", "application/vnd.enclave.vmm", "vmm")

enum oci_role {
    OCI_ROLE_NONE = -1,
#define X(e, name, media, file) e,
    OCI_LAYER_ROLES(X)
#undef X
    OCI_ROLE_COUNT
};

const char *oci_role_name(enum oci_role role);
const char *oci_role_media_type(enum oci_role role);
const char *oci_role_default_file(enum oci_role role);
enum oci_role oci_role_from_media_type(const char *media_type);
enum oci_role oci_role_from_name(const char *name);

struct oci_descriptor {
    char media_type[128];
    char digest[72];
    uint64_t size;
    char artifact_type[128];
    char title[256];     /* org.opencontainers.image.title, "" when absent */
    char role[32];       /* org.enclave.role, "" when absent */
    char architecture[32]; /* platform, "" when absent */
    char os[32];
    char *signature;     /* dev.cosignproject.cosign/signature, owned, or NULL */
};

struct oci_index {
    char media_type[128];
    char artifact_type[128];
    size_t count;
    struct oci_descriptor manifests[OCI_MAX_MANIFESTS];
};

struct oci_manifest {
    char media_type[128];
    char artifact_type[128];
    struct oci_descriptor config;
    size_t layer_count;
    struct oci_descriptor layers[OCI_MAX_LAYERS];
};

/* The mediaType field of a manifest or index document ("" when absent). */
int oci_document_media_type(const char *json, size_t len, char out[128], struct error *err);
bool oci_media_type_is_index(const char *media_type);
bool oci_media_type_is_manifest(const char *media_type);
/* Parse and validate; the structs are heap-sized, free with the release. */
int oci_index_parse(const char *json, size_t len, struct oci_index *index, struct error *err);
void oci_index_release(struct oci_index *index);
int oci_manifest_parse(const char *json, size_t len, struct oci_manifest *m, struct error *err);
void oci_manifest_release(struct oci_manifest *m);
/* Checks that m is an Enclave guest: config media type, known layer media
 * types, safe distinct titles, a kernel and an initramfs or rootfs. */
int oci_manifest_check_guest(const struct oci_manifest *m, struct error *err);
/* File name a layer is installed under: its title when safe, else the default. */
const char *oci_layer_file_name(const struct oci_descriptor *d);
/* A plain file name: no slash, not . or .., printable, at most 255 bytes. */
bool oci_file_name_safe(const char *name);

struct oci_guest_config {
    char kernel_cmdline[2048]; /* IMAGE_MAX_CMDLINE, x86 COMMAND_LINE_SIZE */
    int guest_protocol;
    char architecture[32];
    char *packages_json; /* JSON array text, owned, or NULL */
};
int oci_guest_config_parse(const char *json, size_t len, struct oci_guest_config *cfg,
                           struct error *err);
void oci_guest_config_release(struct oci_guest_config *cfg);

/* ------------------------------------------------------------ auth challenge */

struct oci_bearer_challenge {
    char realm[1024];
    char service[256];
    char scope[512];
};
/* Parses a WWW-Authenticate value; ERR_NOT_FOUND when it is not Bearer. */
int oci_bearer_challenge_parse(const char *header, struct oci_bearer_challenge *c,
                               struct error *err);
/* "bytes START-END/TOTAL" or with an asterisk for TOTAL -> start, end. */
int oci_content_range_parse(const char *header, uint64_t *start, uint64_t *end, struct error *err);

/* ------------------------------------------------------------ blob store */

struct blobstore {
    char root[4096]; /* .../cache/blobs */
};

int blobstore_open(struct blobstore *store, const char *blobs_dir, struct error *err);
/* $ENCLAVE_HOME/cache/blobs */
int blobstore_open_default(struct blobstore *store, struct error *err);
int blobstore_path(const struct blobstore *store, const char *digest, char *buf, size_t size);
bool blobstore_has(const struct blobstore *store, const char *digest);
/* Rehashes a stored blob; a blob that no longer matches is removed. */
int blobstore_check(const struct blobstore *store, const char *digest, uint64_t size,
                    struct error *err);
int blobstore_put(const struct blobstore *store, const char *digest, const void *data,
                  size_t len, struct error *err);
/* Reads a stored blob of at most max bytes, checking its digest. */
int blobstore_read(const struct blobstore *store, const char *digest, size_t max, char **out,
                   size_t *len, struct error *err);

/* Streams one blob into blobs/partial/<hex>, hashing as it goes; the partial
 * survives a failed transfer so the next one resumes at `offset`. */
struct blob_writer {
    int fd;
    EVP_MD_CTX *md;
    uint64_t offset;   /* bytes already in the partial file */
    uint64_t expected; /* the descriptor's size */
    char digest[72];
    char partial[4200];
    char final[4200];
};

int blob_writer_open(const struct blobstore *store, const char *digest, uint64_t expected,
                     struct blob_writer *w, struct error *err);
/* Back to zero bytes (a server ignored our Range). */
int blob_writer_reset(struct blob_writer *w, struct error *err);
int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct error *err);
/* Checks size and digest; renames into place, or deletes the partial and
 * fails with ERR_DATA_LOSS. */
int blob_writer_commit(struct blob_writer *w, struct error *err);
/* Closes, keeping the partial for a resume. */
void blob_writer_release(struct blob_writer *w);
/* Closes and deletes the partial. */
void blob_writer_discard(struct blob_writer *w);

/* ------------------------------------------------------------ cosign */

/* ECDSA P-256 key pair in cosign's files: the encrypted private key PEM
 * ("ENCRYPTED SIGSTORE PRIVATE KEY", scrypt + nacl/secretbox over PKCS#8)
 * and the PKIX public key PEM. Strings are malloc'd. */
int cosign_keygen(const char *password, char **private_pem, char **public_pem, struct error *err);
int cosign_private_key_load(const char *pem, size_t len, const char *password, EVP_PKEY **out,
                            struct error *err);
int cosign_public_key_load(const char *pem, size_t len, EVP_PKEY **out, struct error *err);
int cosign_public_key_pem(EVP_PKEY *key, char **out, struct error *err);
/* The simple-signing payload, byte for byte as cosign writes it. */
int cosign_payload_build(const char *identity, const char *digest, char **out, size_t *len,
                         struct error *err);
/* Checks type and pulls out docker-reference and docker-manifest-digest. */
int cosign_payload_parse(const char *payload, size_t len, char identity[512], char digest[72],
                         struct error *err);
/* Base64 of the DER ECDSA-SHA256 signature over data. */
int cosign_sign_data(EVP_PKEY *key, const void *data, size_t len, char **sig_b64,
                     struct error *err);
/* ERR_PERMISSION_DENIED when the signature does not verify. */
int cosign_verify_data(EVP_PKEY *key, const void *data, size_t len, const char *sig_b64,
                       struct error *err);
/* "sha256-<hex>.sig" */
int cosign_signature_tag(const char *digest, char *buf, size_t size);

/* ------------------------------------------------------------ registry */

struct registry {
    struct oci_ref ref;
    char base[400];    /* scheme://host[:port] */
    char *token;       /* bearer token once the challenge flow ran */
    char scope[320];   /* actions asked for: "pull" or "pull,push" */
    bool insecure;
    unsigned timeout_ms;
    uint64_t deadline_ms; /* http_now_ms() by which every request must be over */
};

int registry_open(struct registry *r, const struct oci_ref *ref, const struct oci_options *opts,
                  bool push, struct error *err);
void registry_release(struct registry *r);
/* GET /v2/<name>/manifests/<reference>. The body is checked against the
 * digest when the reference is one; digest_out receives its SHA-256. */
int registry_manifest_get(struct registry *r, const char *reference, char **body, size_t *len,
                          char media_type[128], char digest_out[72], struct error *err);
int registry_manifest_put(struct registry *r, const char *reference, const char *media_type,
                          const char *body, size_t len, struct error *err);
int registry_blob_exists(struct registry *r, const char *digest, bool *exists, struct error *err);
/* Downloads into the store (resuming an interrupted transfer with Range);
 * no-op when the store has it. */
struct oci_progress;
int registry_blob_fetch(struct registry *r, const struct blobstore *store, const char *digest,
                        uint64_t size, struct oci_progress *progress, struct error *err);
/* Uploads from a file (fd >= 0) or memory; chunk_size 0 = monolithic. */
int registry_blob_push(struct registry *r, const char *digest, int fd, const void *data,
                       uint64_t size, uint64_t chunk_size, struct error *err);

/* ------------------------------------------------------------ progress */

struct oci_progress {
    bool enabled;
    bool tty;
    char label[64];
    uint64_t total;
    uint64_t done;
    uint64_t last_shown;
    double started;
};
void oci_progress_begin(struct oci_progress *p, bool enabled, const char *label, uint64_t total,
                        uint64_t already);
void oci_progress_add(struct oci_progress *p, uint64_t n);
void oci_progress_end(struct oci_progress *p, bool ok);

#endif
