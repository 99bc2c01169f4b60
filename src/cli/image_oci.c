/* enclave image pull | verify | install | push | sign | keygen */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "common/error.h"
#include "daemon/daemon.h"
#include "oci/oci.h"

#define MAX_KEYS 32

enum { OPT_INSECURE = 1000, OPT_SKIP_VERIFY, OPT_CHUNK, OPT_FROM, OPT_TIMEOUT, OPT_FORCE,
       OPT_QUIET, OPT_DIR };

struct common_args {
    struct oci_options opts;
    const char *keys[MAX_KEYS];
    const char *ref;
    const char *key_file; /* sign */
    const char *dir;      /* keygen */
    bool force;
};

/* An install's event in the default audit log ($ENCLAVE_HOME/audit), opened
 * for this one record: src/oci/ reports, the CLI records. */
static int record_image_event(void *ctx, const struct oci_event *event, struct error *err)
{
    char db[4200], keys[4200];
    struct audit_log *log = NULL;
    if (audit_default_db_path(db, sizeof(db), err) < 0 ||
        audit_default_key_dir(keys, sizeof(keys), err) < 0 ||
        audit_open(db, keys, NULL, &log, err) < 0)
        return -1;
    int ret = daemon_record_image(log, event, err);
    struct error close_err;
    if (audit_close(log, &close_err) < 0 && ret == 0) {
        *err = close_err;
        ret = -1;
    }
    return ret;
}

static void print_common(FILE *out)
{
    fprintf(out,
            "  --insecure          allow plain http:// to a registry that is not loopback\n"
            "                      (loopback registries always use http)\n"
            "  --timeout SECONDS   give up on a silent connection after this long (default 30)\n"
            "  --quiet             no progress display\n"
            "  -h, --help          this text\n");
}

static const char *const trust_note =
    "Trusted keys: every $ENCLAVE_HOME/trust/*.pub (default ~/.enclave/trust/) plus each\n"
    "--key, read before the registry is asked anything (with none, or one that cannot\n"
    "be read, nothing is downloaded). A signature is cosign's key-based format: the\n"
    "manifest at tag sha256-<hex>.sig in the same repository, ECDSA P-256 over the\n"
    "simple-signing payload.\n";

static void help(const char *verb, FILE *out)
{
    if (strcmp(verb, "pull") == 0) {
        fprintf(out, "usage: enclave image pull [OPTIONS] REF\n\n"
                     "Downloads an Enclave guest image (index, manifest, config, every layer)\n"
                     "into $ENCLAVE_HOME/cache/blobs, checking each blob against its digest as\n"
                     "it streams. An interrupted blob resumes where it stopped. Does not check\n"
                     "signatures and installs nothing (see verify, install).\n\n"
                     "REF is registry[:port]/name[:tag][@sha256:hex].\n\noptions:\n");
    } else if (strcmp(verb, "verify") == 0) {
        fprintf(out, "usage: enclave image verify [OPTIONS] REF\n\n"
                     "Checks the image's cosign signature against the trusted keys, that the\n"
                     "signed payload names exactly the digest REF resolves to, and every blob\n"
                     "against its digest (downloading missing ones). Exit 0 only if all hold.\n\n"
                     "options:\n"
                     "  --key FILE          also trust this PEM public key (repeatable)\n");
        fputs("", out);
    } else if (strcmp(verb, "install") == 0) {
        fprintf(out, "usage: enclave image install [OPTIONS] REF\n\n"
                     "Pulls and verifies REF, then installs it as the image VMs boot:\n"
                     "$ENCLAVE_HOME/cache/images/<id>/ with manifest.json, and the `current`\n"
                     "link swapped in one rename (a crash leaves the old image in place).\n"
                     "Nothing unsigned is installed unless --insecure-skip-verify is given.\n\n"
                     "options:\n"
                     "  --key FILE              also trust this PEM public key (repeatable)\n"
                     "  --insecure-skip-verify  install without a valid signature (warns loudly)\n");
    } else if (strcmp(verb, "push") == 0) {
        fprintf(out, "usage: enclave image push [OPTIONS] REF\n\n"
                     "Uploads the local image ($ENCLAVE_HOME/cache/current, as written by\n"
                     "`enclave image build` or `install`) to REF (which needs a tag): every\n"
                     "file as a layer (skipping blobs the registry has), a config blob, the\n"
                     "amd64 manifest, then an index at the tag. Prints the index digest.\n\n"
                     "options:\n"
                     "  --from DIR          push this image folder (with manifest.json) instead\n"
                     "  --chunk-size BYTES  chunked upload (POST, PATCH..., PUT) in pieces of\n"
                     "                      this size; default is one monolithic PUT\n");
    } else if (strcmp(verb, "sign") == 0) {
        fprintf(out, "usage: enclave image sign --key cosign.key [OPTIONS] REF\n\n"
                     "Signs what REF resolves to, as `cosign sign --key` does: uploads the\n"
                     "simple-signing payload and adds a layer with the signature to the\n"
                     "manifest at tag sha256-<hex>.sig. The key password comes from\n"
                     "COSIGN_PASSWORD, else a prompt on the terminal.\n\n"
                     "options:\n"
                     "  --key FILE          the encrypted cosign private key (required)\n");
    } else if (strcmp(verb, "keygen") == 0) {
        fprintf(out, "usage: enclave image keygen [--output-dir DIR] [--force]\n\n"
                     "Writes a cosign-format key pair, cosign.key (ECDSA P-256, PKCS#8 sealed\n"
                     "with scrypt + NaCl secretbox, PEM 'ENCRYPTED SIGSTORE PRIVATE KEY') and\n"
                     "cosign.pub (PEM public key), into the current folder. The password comes\n"
                     "from COSIGN_PASSWORD, else a prompt (asked twice).\n\n"
                     "options:\n"
                     "  --output-dir DIR    write the files there instead\n"
                     "  --force             overwrite existing files\n"
                     "  -h, --help          this text\n");
        return;
    }
    print_common(out);
    if (strcmp(verb, "verify") == 0 || strcmp(verb, "install") == 0)
        fprintf(out, "\n%s", trust_note);
}

static int parse_args(const char *verb, int argc, char **argv, struct common_args *a)
{
    static const struct option longopts[] = {
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {"insecure-skip-verify", no_argument, NULL, OPT_SKIP_VERIFY},
        {"key", required_argument, NULL, 'k'},
        {"chunk-size", required_argument, NULL, OPT_CHUNK},
        {"from", required_argument, NULL, OPT_FROM},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"force", no_argument, NULL, OPT_FORCE},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"output-dir", required_argument, NULL, OPT_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    a->opts.progress = true;
    a->opts.keys = a->keys;
    a->opts.record = record_image_event;
    bool is_sign = strcmp(verb, "sign") == 0;
    bool takes_keys = strcmp(verb, "verify") == 0 || strcmp(verb, "install") == 0;
    char usage_verb[32];
    snprintf(usage_verb, sizeof(usage_verb), "image %s", verb);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "hk:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(verb, stdout);
            return 1;
        case OPT_INSECURE:
            a->opts.insecure = true;
            break;
        case OPT_SKIP_VERIFY:
            if (strcmp(verb, "install") != 0)
                return cli_usage_error(usage_verb, "--insecure-skip-verify is for install only");
            a->opts.insecure_skip_verify = true;
            break;
        case 'k':
            if (is_sign) {
                a->key_file = optarg;
            } else if (takes_keys) {
                if (a->opts.key_count >= MAX_KEYS)
                    return cli_usage_error(usage_verb, "at most %d --key options", MAX_KEYS);
                a->keys[a->opts.key_count++] = optarg;
            } else {
                return cli_usage_error(usage_verb, "--key does not apply here");
            }
            break;
        case OPT_CHUNK: {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || v == 0 || v > (1ull << 32))
                return cli_usage_error(usage_verb, "--chunk-size wants 1..4294967296 bytes");
            a->opts.chunk_size = v;
            break;
        }
        case OPT_FROM:
            a->opts.push_from = optarg;
            break;
        case OPT_TIMEOUT: {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v <= 0 || v > 86400)
                return cli_usage_error(usage_verb, "--timeout wants 1..86400 seconds");
            a->opts.timeout_ms = (unsigned)v * 1000;
            break;
        }
        case OPT_FORCE:
            a->force = true;
            break;
        case OPT_QUIET:
            a->opts.progress = false;
            break;
        case OPT_DIR:
            a->dir = optarg;
            break;
        default:
            return cli_usage_error(usage_verb, "bad option");
        }
    }
    if (strcmp(verb, "keygen") == 0) {
        if (optind != argc)
            return cli_usage_error(usage_verb, "takes no arguments");
        return 0;
    }
    if (optind != argc - 1)
        return cli_usage_error(usage_verb, "wants exactly one image reference");
    a->ref = argv[optind];
    if (is_sign && a->key_file == NULL)
        return cli_usage_error(usage_verb, "--key cosign.key is required");
    return 0;
}

/* The message may quote a registry (an error body, a media type): escaped. */
static int fail(const char *verb, const struct error *err)
{
    fprintf(stderr, "enclave image %s: ", verb);
    cli_put_escaped(stderr, err->message);
    fputc('\n', stderr);
    return 1;
}

static void print_info(const struct oci_image_info *info)
{
    printf("reference: %s\n", info->reference);
    printf("digest:    %s\n", info->top_digest);
    if (info->manifest_digest[0] && strcmp(info->manifest_digest, info->top_digest) != 0)
        printf("manifest:  %s (linux/amd64)\n", info->manifest_digest);
    printf("layers:    %zu (%" PRIu64 " bytes)\n", info->layer_count, info->total_bytes);
}

typedef int (*image_op)(const char *ref, const struct oci_options *opts, struct oci_image_info *info,
                        struct error *err);

/* Parses the verb's arguments and runs op on them, printing what it found:
 * true when it succeeded (the verb adds its own lines and exits 0), else
 * false with the exit code in *code. */
static bool run_op(const char *verb, int argc, char **argv, image_op op, struct oci_image_info *info,
                   int *code)
{
    struct common_args a;
    int r = parse_args(verb, argc, argv, &a);
    if (r != 0) {
        *code = r == 1 ? 0 : r;
        return false;
    }
    struct error err = {0};
    if (op(a.ref, &a.opts, info, &err) < 0) {
        *code = fail(verb, &err);
        return false;
    }
    print_info(info);
    return true;
}

int cli_image_pull(int argc, char **argv)
{
    struct oci_image_info info = {0};
    int code = 0;
    run_op("pull", argc, argv, oci_pull, &info, &code);
    return code;
}

int cli_image_verify(int argc, char **argv)
{
    struct oci_image_info info = {0};
    int code = 0;
    if (!run_op("verify", argc, argv, oci_verify, &info, &code))
        return code;
    printf("signature: verified with %s\n", info.signer_key);
    printf("blobs:     all match their digests\n");
    return 0;
}

int cli_image_install(int argc, char **argv)
{
    struct oci_image_info info = {0};
    int code = 0;
    if (!run_op("install", argc, argv, oci_install_info, &info, &code))
        return code;
    if (info.signature_verified)
        printf("signature: verified with %s\n", info.signer_key);
    else
        printf("signature: NOT VERIFIED (--insecure-skip-verify)\n");
    printf("installed: images/%s (now current)\n", info.installed_id);
    return 0;
}

int cli_image_push(int argc, char **argv)
{
    struct oci_image_info info = {0};
    int code = 0;
    run_op("push", argc, argv, oci_push, &info, &code);
    return code;
}

/* Reads a password from the terminal without echo. */
static int prompt_password(const char *prompt, char *buf, size_t size)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (tty == NULL)
        return -1;
    /* unbuffered: no copy of the password stays in the stream's buffer */
    setvbuf(tty, NULL, _IONBF, 0);
    struct termios old, quiet;
    int fd = fileno(tty);
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fprintf(tty, "%s", prompt);
    fflush(tty);
    char *got = fgets(buf, (int)size, tty);
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    fprintf(tty, "\n");
    fclose(tty);
    if (got == NULL)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static int get_password(bool confirm, char *buf, size_t size)
{
    const char *env = getenv("COSIGN_PASSWORD");
    if (env != NULL) {
        if (strlen(env) >= size)
            return -1;
        strcpy(buf, env);
        return 0;
    }
    if (prompt_password("Enter password for private key: ", buf, size) < 0)
        return -1;
    if (confirm) {
        char again[1024];
        bool same = prompt_password("Enter password for private key again: ", again,
                                    sizeof(again)) == 0 &&
                    strcmp(again, buf) == 0;
        explicit_bzero(again, sizeof(again));
        if (!same) {
            fprintf(stderr, "passwords do not match\n");
            return -1;
        }
    }
    return 0;
}

/* The key's password for verb (confirm: asked twice); 0, or 1 after saying
 * there is none. */
static int need_password(const char *verb, bool confirm, char *buf, size_t size)
{
    if (get_password(confirm, buf, size) == 0)
        return 0;
    explicit_bzero(buf, size);
    fprintf(stderr, "enclave image %s: no password (set COSIGN_PASSWORD or use a terminal)\n", verb);
    return 1;
}

int cli_image_sign(int argc, char **argv)
{
    struct common_args a;
    int r = parse_args("sign", argc, argv, &a);
    if (r != 0)
        return r == 1 ? 0 : r;
    char password[1024];
    if (need_password("sign", false, password, sizeof(password)) != 0)
        return 1;
    struct oci_image_info info = {0};
    struct error err = {0};
    int ret = oci_sign(a.ref, a.key_file, password, &a.opts, &info, &err);
    explicit_bzero(password, sizeof(password));
    if (ret < 0)
        return fail("sign", &err);
    printf("signed %s@%s\n", info.reference, info.top_digest);
    return 0;
}

int cli_image_keygen(int argc, char **argv)
{
    struct common_args a;
    int r = parse_args("keygen", argc, argv, &a);
    if (r != 0)
        return r == 1 ? 0 : r;
    char password[1024];
    if (need_password("keygen", true, password, sizeof(password)) != 0)
        return 1;
    const char *dir = a.dir ? a.dir : ".";
    struct error err = {0};
    int ret = oci_keygen(dir, password, a.force, &err);
    explicit_bzero(password, sizeof(password));
    if (ret < 0)
        return fail("keygen", &err);
    printf("Private key written to %s/cosign.key\nPublic key written to %s/cosign.pub\n", dir, dir);
    return 0;
}
