/* OCI distribution client for guest images: pull, verify (cosign key-based
 * signatures), install into the cache, push, sign, keygen.
 *
 * Every function returns 0 on success or <0 with err filled. Nothing here
 * prints except the progress display and the unverified-install warning
 * (stderr) when options ask for them.
 *
 * Cache layout ($ENCLAVE_HOME/cache):
 *   blobs/sha256/<hex>   content store; a blob is renamed in only after its
 *                        bytes hashed to its digest
 *   blobs/partial/<hex>  interrupted downloads, resumed with Range
 *   images/<id>/         one installed image: manifest.json plus its files
 *   current              symlink -> images/<id>, replaced atomically */
#ifndef ENCLAVE_OCI_OCI_H
#define ENCLAVE_OCI_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Media types of the Enclave guest artifact (docs/images.md). */
#define OCI_ENCLAVE_ARTIFACT_TYPE "application/vnd.enclave.guest.v1"
#define OCI_ENCLAVE_CONFIG_TYPE "application/vnd.enclave.guest.config.v1+json"
#define OCI_ROLE_ANNOTATION "org.enclave.role"
#define OCI_TITLE_ANNOTATION "org.opencontainers.image.title"

/* Hard limits on what a registry may send us. */
#define OCI_MANIFEST_MAX (4u << 20)   /* manifests and indexes */
#define OCI_SMALL_BLOB_MAX (1u << 20) /* config blobs, signature payloads */
#define OCI_TOKEN_MAX (64u << 10)     /* token endpoint answers */
#define OCI_DEFAULT_DEADLINE_S 1800   /* a whole pull, push or verify: 30 minutes */

/* What an install did, for the caller to record (the daemon and the CLI
 * append it to the audit log as IMAGE:VERIFIED or IMAGE:UNVERIFIED_INSTALL);
 * this module never opens the audit log itself. */
enum oci_event_kind {
    OCI_EVENT_VERIFIED_INSTALL,   /* installed, its signature checked */
    OCI_EVENT_UNVERIFIED_INSTALL, /* about to install without a signature check */
};
struct oci_event {
    enum oci_event_kind kind;
    const char *reference;       /* as the caller gave it */
    const char *digest;          /* what it resolved to */
    const char *manifest_digest; /* the amd64 image manifest */
    const char *signer;          /* the key that verified it; "" when none did */
};
/* Returns <0 with err filled when the event could not be recorded. */
typedef int (*oci_record_fn)(void *ctx, const struct oci_event *event, struct error *err);
/* The event as the audit record's details: a new JSON string (sorted keys
 * digest, manifest_digest, reference, signer), or NULL when out of memory. */
char *oci_event_details_json(const struct oci_event *event);

struct oci_options {
    bool insecure;             /* allow http:// to registries that are not loopback */
    bool insecure_skip_verify; /* install without a valid signature (warned) */
    const char *const *keys;   /* extra trusted public key files (PEM) */
    size_t key_count;
    bool progress;             /* progress on stderr: a bar on a terminal, lines otherwise */
    unsigned timeout_ms;       /* inactivity timeout of one HTTP exchange; 0 = 30 s */
    unsigned deadline_s;       /* the whole operation (a pull: every request); 0 = OCI_DEFAULT_DEADLINE_S */
    uint64_t chunk_size;       /* push: 0 = monolithic upload, else chunked with this size */
    const char *push_from;     /* push: image folder; NULL = $ENCLAVE_HOME/cache/current */
    /* install tells record what it did: an unverified install before
     * `current` moves (and it does not happen when record is NULL or fails),
     * a verified one after (a failure to record is logged as a warning). */
    oci_record_fn record;
    void *record_ctx;
};

/* `enclave up --image REF` calls oci_install with these. */
#define oci_install_options oci_options

/* What a command found out about an image. */
struct oci_image_info {
    char reference[600];      /* canonical registry/name:tag or @digest */
    char top_digest[72];      /* what the reference resolves to (index or manifest) */
    char manifest_digest[72]; /* the amd64 image manifest */
    size_t layer_count;
    uint64_t total_bytes;
    bool signature_verified;
    char signer_key[512];     /* path of the key that verified it */
    char installed_id[96];    /* after install: images/<id> */
};

/* Downloads manifests, config and every layer into the blob store, each
 * checked against its digest while it streams. */
int oci_pull(const char *ref, const struct oci_options *opts, struct oci_image_info *info,
             struct error *err);
/* Checks the cosign signature against the trusted keys ($ENCLAVE_HOME/trust/
 * *.pub and opts->keys), the payload's digest against what ref resolves to,
 * and every blob against its digest (downloading missing ones). */
int oci_verify(const char *ref, const struct oci_options *opts, struct oci_image_info *info,
               struct error *err);
/* Pull + verify + install as the image VMs boot (cache/current). Refuses an
 * image without a valid signature unless opts->insecure_skip_verify. */
int oci_install(const char *ref, const struct oci_install_options *opts, struct error *err);
int oci_install_info(const char *ref, const struct oci_options *opts,
                     struct oci_image_info *info, struct error *err);
/* Uploads the local image (opts->push_from or cache/current) as an index
 * over one amd64 manifest; blobs first, skipping those the registry has. */
int oci_push(const char *ref, const struct oci_options *opts, struct oci_image_info *info,
             struct error *err);
/* Signs what ref resolves to with a cosign private key file, adding a layer
 * to the signature manifest at tag sha256-<hex>.sig. */
int oci_sign(const char *ref, const char *key_path, const char *password,
             const struct oci_options *opts, struct oci_image_info *info, struct error *err);
/* Writes cosign.key (encrypted with password) and cosign.pub into dir;
 * refuses to overwrite existing files unless force. */
int oci_keygen(const char *dir, const char *password, bool force, struct error *err);

#endif
