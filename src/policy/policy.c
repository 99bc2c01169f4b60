/* Bundles: collect files, digest them, compile them, run their tests; and
 * decisions: evaluate data.enclave.decision and check its shape. */
#include "policy/policy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/cleanup.h"
#include "common/encode.h"
#include "common/file.h"
#include "common/log.h"
#include "policy/internal.h"
#include "rego/rego.h"
#include "secret/secret.h"

#define DECISION_QUERY "data.enclave.decision"
#define DECISION_PATH "data.enclave.decision"
#define MAX_DIR_DEPTH 16
#define MAX_PATH_BYTES 512
#define MAX_REASONS 64
#define MAX_REASON_BYTES 1024
#define MAX_ENV_NAMES 128
#define MAX_ENV_NAME_BYTES 128
#define MAX_ALLOW_ADDRESSES 64

struct policy_bundle {
    struct rego *engine;
    struct rego_query *decision;
    struct policy_limits lim;
    char digest[POLICY_DIGEST_SIZE];
    char origin[256];
    size_t n_files;
    unsigned n_tests;
};

static const char *const outcome_names[] = {
#define X(id, name) name,
    POLICY_OUTCOMES(X)
#undef X
};

const char *policy_outcome_name(enum policy_outcome o)
{
    if ((unsigned)o >= sizeof(outcome_names) / sizeof(outcome_names[0]))
        return "?";
    return outcome_names[o];
}

/* A policy's print() goes to the daemon's log. */
static void policy_print(void *ctx, const char *line)
{
    (void)ctx;
    log_info("policy print: %s", line);
}

void policy_limits_fill(struct policy_limits *out, const struct policy_limits *in)
{
    struct policy_limits l = in ? *in : (struct policy_limits){0};
    if (!l.max_steps)
        l.max_steps = 1000000;
    if (!l.max_test_steps)
        l.max_test_steps = 10000000;
    if (!l.max_eval_ms)
        l.max_eval_ms = 1000;
    if (!l.max_memory)
        l.max_memory = 64u << 20;
    if (!l.max_test_memory)
        l.max_test_memory = 256u << 20;
    if (!l.max_file_bytes)
        l.max_file_bytes = 1u << 20;
    if (!l.max_total_bytes)
        l.max_total_bytes = 8u << 20;
    if (!l.max_files)
        l.max_files = 512;
    *out = l;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ------------------------------------------------------------ file lists */

void policy_files_release(struct policy_files *fl)
{
    for (size_t i = 0; i < fl->n; i++) {
        free(fl->items[i].path);
        free(fl->items[i].text);
    }
    free(fl->items);
    memset(fl, 0, sizeof(*fl));
}

int policy_files_add(struct policy_files *fl, const char *path, const char *text, size_t len,
                     const struct policy_limits *lim, struct error *err)
{
    if (fl->n >= lim->max_files)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "the bundle has more than %u files",
                         lim->max_files);
    if (strlen(path) == 0 || strlen(path) > MAX_PATH_BYTES)
        return error_set(err, ERR_INVALID_ARGUMENT, "a bundle file path must be 1-%d bytes",
                         MAX_PATH_BYTES);
    if (len > lim->max_file_bytes)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "%s: %zu bytes; the most a file may have is %zu",
                         path, len, lim->max_file_bytes);
    if (len > lim->max_total_bytes - fl->total)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "%s: the bundle is larger than %zu bytes", path,
                         lim->max_total_bytes);
    for (size_t i = 0; i < fl->n; i++)
        if (strcmp(fl->items[i].path, path) == 0)
            return error_set(err, ERR_INVALID_ARGUMENT, "%s appears twice in the bundle", path);
    struct policy_file_owned *n = realloc(fl->items, (fl->n + 1) * sizeof(*n));
    if (n == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    fl->items = n;
    char *p = strdup(path);
    char *t = malloc(len + 1);
    if (p == NULL || t == NULL) {
        free(p);
        free(t);
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    if (len)
        memcpy(t, text, len);
    t[len] = '\0';
    fl->items[fl->n].path = p;
    fl->items[fl->n].text = t;
    fl->items[fl->n].len = len;
    fl->n++;
    fl->total += len;
    return 0;
}

static int cmp_file(const void *a, const void *b)
{
    const struct policy_file_owned *x = a, *y = b;
    return strcmp(x->path, y->path);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool is_bundle_file(const char *name)
{
    return ends_with(name, ".rego") || strcmp(name, "data.json") == 0;
}

static int read_whole(int dirfd, const char *name, const char *shown, const struct policy_limits *lim,
                      char **text, size_t *len, struct error *err)
{
    cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return error_set_errno(err, ERR_INVALID_ARGUMENT, "%s", shown);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return error_set_errno(err, ERR_INVALID_ARGUMENT, "%s", shown);
    if ((uint64_t)st.st_size > lim->max_file_bytes)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "%s: %lld bytes; the most a file may have is %zu",
                         shown, (long long)st.st_size, lim->max_file_bytes);
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    for (;;) {
        if (n == cap) { /* the file grew while we read it */
            free(buf);
            return error_set(err, ERR_ABORTED, "%s changed while it was read", shown);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return error_set_errno(err, ERR_INVALID_ARGUMENT, "reading %s", shown);
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

/* Collects *.rego and data.json under dirfd; rel is the path so far. Hidden
 * entries (a leading dot) and anything that is not a plain file or folder
 * (symbolic links included) are skipped. */
static int collect_dir(int dirfd, const char *rel, int depth, struct policy_files *fl,
                       const struct policy_limits *lim, struct error *err)
{
    if (depth > MAX_DIR_DEPTH)
        return error_set(err, ERR_INVALID_ARGUMENT, "%s: folders nest deeper than %d", rel,
                         MAX_DIR_DEPTH);
    char **names = NULL;
    size_t n = 0;
    if (file_list_sorted(dirfd, true, 4096, &names, &n, err) < 0)
        return error_prefix(err, "%s", rel[0] ? rel : ".");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[MAX_PATH_BYTES + 2];
        int w = snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
        if (w < 0 || (size_t)w > MAX_PATH_BYTES) {
            rc = error_set(err, ERR_INVALID_ARGUMENT, "%s/%s: path too long", rel, names[i]);
            break;
        }
        struct stat st;
        if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = error_set_errno(err, ERR_INVALID_ARGUMENT, "%s", path);
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            cleanup_close int sub = openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
            if (sub < 0) {
                rc = error_set_errno(err, ERR_INVALID_ARGUMENT, "%s", path);
                break;
            }
            rc = collect_dir(sub, path, depth + 1, fl, lim, err);
        } else if (S_ISREG(st.st_mode) && is_bundle_file(names[i])) {
            char *text = NULL;
            size_t len = 0;
            rc = read_whole(dirfd, names[i], path, lim, &text, &len, err);
            if (rc == 0)
                rc = policy_files_add(fl, path, text, len, lim, err);
            free(text);
        }
    }
    file_names_free(names, n);
    return rc;
}

/* ------------------------------------------------------------ digest */

static int digest_files(const struct policy_files *fl, char out[POLICY_DIGEST_SIZE])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    static const char tag[] = "enclave-policy-bundle-v1\n";
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto fail;
    EVP_DigestUpdate(ctx, tag, sizeof(tag) - 1);
    for (size_t i = 0; i < fl->n; i++) {
        char len[32];
        int w = snprintf(len, sizeof(len), "%zu", fl->items[i].len);
        EVP_DigestUpdate(ctx, fl->items[i].path, strlen(fl->items[i].path) + 1); /* with the NUL */
        EVP_DigestUpdate(ctx, len, (size_t)w + 1);
        EVP_DigestUpdate(ctx, fl->items[i].text, fl->items[i].len);
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
        goto fail;
    EVP_MD_CTX_free(ctx);
    encode_hex(md, 32, out);
    return 0;
fail:
    EVP_MD_CTX_free(ctx);
    return -1;
}

/* ------------------------------------------------------------ compile + test */

/* Wraps doc so that it lands at data.<dir of path> (a/b/data.json -> data.a.b). */
static json_t *nest_data(json_t *doc, const char *path)
{
    char dir[MAX_PATH_BYTES + 1];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return doc;
    *slash = '\0';
    while (dir[0]) {
        char *last = strrchr(dir, '/');
        const char *name = last ? last + 1 : dir;
        json_t *o = json_object();
        json_object_set_new(o, name, doc);
        doc = o;
        if (last == NULL)
            break;
        *last = '\0';
    }
    return doc;
}

static int rego_fail(struct error *err, const struct rego_error *re, const char *what)
{
    char buf[800];
    return error_set(err, ERR_INVALID_ARGUMENT, "%s: %s", what, rego_error_string(re, buf, sizeof(buf)));
}

/* Where a rule named `name` starts (the first line whose first word is it). */
static void find_rule(const struct policy_files *fl, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < fl->n; i++) {
        if (!ends_with(fl->items[i].path, ".rego"))
            continue;
        const char *line = fl->items[i].text;
        for (int lineno = 1; line && *line; lineno++) {
            const char *p = line;
            while (*p == ' ' || *p == '\t')
                p++;
            if (strncmp(p, name, nlen) == 0 && strchr(" \t{:=(", p[nlen]) && p[nlen] != '\0') {
                snprintf(out, outlen, "%s:%d", fl->items[i].path, lineno);
                return;
            }
            line = strchr(line, '\n');
            if (line)
                line++;
        }
    }
    snprintf(out, outlen, "%s", "?");
}

static int run_tests(struct policy_bundle *b, const struct policy_files *fl, struct error *err)
{
    char **paths = NULL;
    size_t n = 0;
    if (rego_rule_paths(b->engine, "test_", &paths, &n) < 0)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "cannot list the bundle's tests: out of memory");
    struct rego_options o = {.max_steps = b->lim.max_test_steps, .max_memory = b->lim.max_test_memory,
                             .print = policy_print};
    rego_set_options(b->engine, &o);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc < 0) {
            free(paths[i]);
            continue;
        }
        struct rego_error re = {0};
        struct rego_query *q = rego_prepare(b->engine, paths[i], &re);
        json_t *v = NULL;
        int erc = q ? rego_query_eval_value(q, NULL, &v, &re) : -1;
        rego_query_free(q);
        const char *rule = strrchr(paths[i], '.');
        rule = rule ? rule + 1 : paths[i];
        char where[MAX_PATH_BYTES + 32];
        if (erc < 0) {
            char buf[800];
            if (re.file[0] && re.line) {
                snprintf(where, sizeof(where), "%s:%d", re.file, re.line);
            } else {
                find_rule(fl, rule, where, sizeof(where));
            }
            rc = error_set(err, ERR_INVALID_ARGUMENT, "%s: test %s failed with an error: %s", where,
                           paths[i], rego_error_string(&re, buf, sizeof(buf)));
        } else if (v == NULL || json_is_false(v)) {
            find_rule(fl, rule, where, sizeof(where));
            rc = error_set(err, ERR_INVALID_ARGUMENT, "%s: test %s %s", where, paths[i],
                           v == NULL ? "is undefined (fails)" : "is false (fails)");
        } else {
            b->n_tests++;
        }
        json_decref(v);
        free(paths[i]);
    }
    free(paths);
    struct rego_options d = {.max_steps = b->lim.max_steps, .max_memory = b->lim.max_memory,
                             .print = policy_print};
    rego_set_options(b->engine, &d);
    return rc;
}

/* 1 when r defines the decision rule, 0 when not, -1 out of memory. */
static int defines_decision(struct rego *r)
{
    char **paths = NULL;
    size_t n = 0;
    int found = 0;
    if (rego_rule_paths(r, "decision", &paths, &n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(paths[i], DECISION_PATH) == 0)
            found = 1;
        free(paths[i]);
    }
    free(paths);
    return found;
}

/* Adds fl's modules and data to engine; modules are named prefix + path. */
static int add_files(struct rego *engine, const struct policy_files *fl, const char *prefix,
                     size_t *n_modules, struct error *err)
{
    for (size_t i = 0; i < fl->n; i++) {
        const struct policy_file_owned *f = &fl->items[i];
        struct rego_error re = {0};
        if (ends_with(f->path, ".rego")) {
            (*n_modules)++;
            char name[PATH_MAX + MAX_PATH_BYTES + 2];
            snprintf(name, sizeof(name), "%s%s", prefix, f->path);
            if (rego_add_module(engine, name, f->text, f->len, &re) < 0)
                return rego_fail(err, &re, "the bundle does not parse");
        } else if (ends_with(f->path, ".json")) {
            json_error_t je;
            json_t *doc = json_loadb(f->text, f->len, JSON_REJECT_DUPLICATES, &je);
            if (!json_is_object(doc)) {
                json_decref(doc);
                return doc ? error_set(err, ERR_INVALID_ARGUMENT, "%s%s: data must be a JSON object",
                                       prefix, f->path)
                           : error_set(err, ERR_INVALID_ARGUMENT, "%s%s:%d: %s", prefix, f->path,
                                       je.line, je.text);
            }
            doc = nest_data(doc, f->path);
            int rc = rego_add_data(engine, doc, &re);
            json_decref(doc);
            if (rc < 0)
                return rego_fail(err, &re, f->path);
        }
    }
    return 0;
}

int policy_bundle_from_files(struct policy_files *fl, const char *origin,
                             const struct policy_limits *lim, struct policy_bundle **out,
                             struct error *err)
{
    qsort(fl->items, fl->n, sizeof(*fl->items), cmp_file);
    struct policy_bundle *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    policy_limits_fill(&b->lim, lim);
    snprintf(b->origin, sizeof(b->origin), "%s", origin);
    b->n_files = fl->n;
    if (digest_files(fl, b->digest) < 0) {
        free(b);
        return error_set(err, ERR_INTERNAL, "cannot compute the bundle's SHA-256");
    }
    b->engine = rego_new();
    if (b->engine == NULL) {
        free(b);
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    struct rego_options o = {.max_steps = b->lim.max_steps, .max_memory = b->lim.max_memory,
                             .print = policy_print};
    rego_set_options(b->engine, &o);
    size_t n_modules = 0;
    int rc = add_files(b->engine, fl, "", &n_modules, err);
    if (rc == 0 && n_modules == 0)
        rc = error_set(err, ERR_INVALID_ARGUMENT, "the bundle has no .rego module");
    struct rego_error re = {0};
    if (rc == 0 && rego_compile(b->engine, &re) < 0)
        rc = rego_fail(err, &re, "the bundle does not compile");
    int defined = rc == 0 ? defines_decision(b->engine) : 1;
    if (defined < 0)
        rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "cannot list the bundle's rules: out of memory");
    else if (defined == 0)
        rc = error_set(err, ERR_INVALID_ARGUMENT,
                       "the bundle defines no %s rule, so it could only deny", DECISION_PATH);
    if (rc == 0)
        rc = run_tests(b, fl, err);
    if (rc == 0 && (b->decision = rego_prepare(b->engine, DECISION_QUERY, &re)) == NULL)
        rc = rego_fail(err, &re, "preparing the decision query");
    if (rc < 0) {
        policy_bundle_free(b);
        return -1;
    }
    *out = b;
    return 0;
}

int policy_bundle_load_dir(const char *dir, const struct policy_limits *lim,
                           struct policy_bundle **out, struct error *err)
{
    struct policy_limits l;
    policy_limits_fill(&l, lim);
    cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return error_set_errno(err, ERR_INVALID_ARGUMENT, "policy bundle %s", dir);
    struct policy_files fl = {0};
    int rc = collect_dir(fd, "", 0, &fl, &l, err);
    if (rc == 0)
        rc = policy_bundle_from_files(&fl, dir, &l, out, err);
    policy_files_release(&fl);
    if (rc < 0)
        return error_prefix(err, "policy bundle %s", dir);
    return 0;
}

int policy_load_path(struct rego *engine, const char *path, const struct policy_limits *lim,
                     struct error *err)
{
    struct policy_limits l;
    policy_limits_fill(&l, lim);
    struct stat st;
    if (stat(path, &st) < 0)
        return error_set_errno(err, ERR_INVALID_ARGUMENT, "%s", path);
    struct policy_files fl = {0};
    int rc;
    char prefix[PATH_MAX + 2] = "";
    if (S_ISDIR(st.st_mode)) {
        cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return error_set_errno(err, ERR_INVALID_ARGUMENT, "%s", path);
        snprintf(prefix, sizeof(prefix), "%s/", path);
        rc = collect_dir(fd, "", 0, &fl, &l, err);
    } else {
        /* One file named on its own: its base name, so that data lands at the root. */
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        snprintf(prefix, sizeof(prefix), "%.*s", (int)(base - path), path);
        char *text = NULL;
        size_t len = 0;
        rc = read_whole(AT_FDCWD, path, path, &l, &text, &len, err);
        if (rc == 0) {
            /* Named on its own, any file that is not .json is a module. */
            char name[MAX_PATH_BYTES + 8];
            bool known = ends_with(base, ".json") || ends_with(base, ".rego");
            snprintf(name, sizeof(name), "%s%s", base, known ? "" : ".rego");
            rc = policy_files_add(&fl, name, text, len, &l, err);
        }
        free(text);
    }
    if (rc == 0) {
        qsort(fl.items, fl.n, sizeof(*fl.items), cmp_file);
        size_t n_modules = 0;
        rc = add_files(engine, &fl, prefix, &n_modules, err);
    }
    policy_files_release(&fl);
    return rc;
}

/* A bundle from files in memory, its source named source. */
static int bundle_from_memory(const struct policy_file *files, size_t n, const char *source,
                              const struct policy_limits *lim, struct policy_bundle **out,
                              struct error *err)
{
    struct policy_limits l;
    policy_limits_fill(&l, lim);
    struct policy_files fl = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = policy_files_add(&fl, files[i].path, files[i].text, files[i].len, &l, err);
    if (rc == 0)
        rc = policy_bundle_from_files(&fl, source, &l, out, err);
    policy_files_release(&fl);
    return rc;
}

int policy_bundle_load_files(const struct policy_file *files, size_t n,
                             const struct policy_limits *lim, struct policy_bundle **out,
                             struct error *err)
{
    return bundle_from_memory(files, n, "files", lim, out, err);
}

int policy_bundle_load_builtin(const struct policy_limits *lim, struct policy_bundle **out,
                               struct error *err)
{
    size_t n;
    const struct policy_file *files = policy_builtin_files(&n);
    if (bundle_from_memory(files, n, "builtin", lim, out, err) < 0)
        return error_prefix(err, "the built-in constitution");
    return 0;
}

void policy_bundle_free(struct policy_bundle *b)
{
    if (b == NULL)
        return;
    rego_query_free(b->decision);
    rego_free(b->engine);
    free(b);
}

const char *policy_bundle_digest(const struct policy_bundle *b)
{
    return b->digest;
}

const char *policy_bundle_origin(const struct policy_bundle *b)
{
    return b->origin;
}

size_t policy_bundle_file_count(const struct policy_bundle *b)
{
    return b->n_files;
}

unsigned policy_bundle_test_count(const struct policy_bundle *b)
{
    return b->n_tests;
}

/* ------------------------------------------------------------ decisions */

static void clear_obligations(struct policy_decision *out)
{
    json_decref(out->env_allowlist);
    json_decref(out->allow_addresses);
    json_decref(out->inject_secret);
    out->env_allowlist = NULL;
    out->allow_addresses = NULL;
    out->inject_secret = NULL;
    out->timeout_s = 0;
    out->max_output_bytes = 0;
    out->max_bytes = 0;
    out->egress_max_bytes = 0;
    out->egress_timeout_s = 0;
}

static void deny(struct policy_decision *out, enum policy_outcome why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void deny(struct policy_decision *out, enum policy_outcome why, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_decref(out->reasons);
    out->reasons = json_pack("[s]", msg);
    out->allow = false;
    out->outcome = why;
    clear_obligations(out);
}

static bool env_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_ENV_NAME_BYTES || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

/* "IP" or "IP/bits" (IPv4 or IPv6); the egress module reads them. */
static bool cidr_valid(const char *s)
{
    char buf[72];
    if (strlen(s) >= sizeof(buf) - 8)
        return false;
    snprintf(buf, sizeof(buf), "%s", s);
    char *slash = strchr(buf, '/');
    long max = strchr(buf, ':') ? 128 : 32;
    if (slash != NULL) {
        *slash = '\0';
        const char *b = slash + 1;
        if (*b == '\0' || strlen(b) > 3)
            return false;
        long bits = 0;
        for (; *b; b++) {
            if (*b < '0' || *b > '9')
                return false;
            bits = bits * 10 + (*b - '0');
        }
        if (bits > max)
            return false;
    }
    unsigned char addr[16];
    return inet_pton(max == 128 ? AF_INET6 : AF_INET, buf, addr) == 1;
}

/* An HTTP header name the host may set from a secret: a token (RFC 9110
 * tchar) of at most POLICY_MAX_SECRET_HEADER bytes, and not one that frames
 * the message or routes it (Host, Content-Length, Transfer-Encoding,
 * Connection and the other hop-by-hop headers, Proxy-*). */
bool policy_secret_header_valid(const char *h)
{
    size_t n = h ? strlen(h) : 0;
    if (n == 0 || n > POLICY_MAX_SECRET_HEADER)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c) != NULL) || c == 0)
            return false;
    }
    static const char *const refused[] = {"host", "content-length", "transfer-encoding", "connection",
                                          "keep-alive", "upgrade", "te", "trailer", "expect"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++)
        if (strcasecmp(h, refused[i]) == 0)
            return false;
    return strncasecmp(h, "proxy-", 6) != 0;
}

/* A value format: visible ASCII and spaces, exactly one "%s" and no other
 * '%', at most POLICY_MAX_SECRET_FORMAT bytes. */
bool policy_secret_format_valid(const char *f)
{
    size_t n = f ? strlen(f) : 0;
    if (n < 2 || n > POLICY_MAX_SECRET_FORMAT)
        return false;
    unsigned conversions = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)f[i];
        if (c < 0x20 || c > 0x7e)
            return false;
        if (c == '%') {
            if (f[i + 1] != 's')
                return false;
            conversions++;
            i++;
        }
    }
    return conversions == 1;
}

static bool parse_inject_secret(const json_t *v, struct policy_decision *out)
{
    if (!json_is_object(v)) {
        deny(out, POLICY_MALFORMED,
             "the policy's decision is malformed: obligations.inject_secret must be an object {\"name\", \"header\", \"format\"}");
        return false;
    }
    const char *key;
    json_t *field;
    json_object_foreach((json_t *)v, key, field) {
        if (strcmp(key, "name") != 0 && strcmp(key, "header") != 0 && strcmp(key, "format") != 0) {
            deny(out, POLICY_MALFORMED,
                 "the policy's decision is malformed: obligations.inject_secret has an unknown field '%.60s' (name, header, format)",
                 key);
            return false;
        }
        if (!json_is_string(field)) {
            deny(out, POLICY_MALFORMED, "the policy's decision is malformed: obligations.inject_secret.%s must be a string",
                 key);
            return false;
        }
    }
    const char *name = json_string_value(json_object_get(v, "name"));
    const char *header = json_string_value(json_object_get(v, "header"));
    const char *format = json_string_value(json_object_get(v, "format"));
    if (header == NULL)
        header = "Authorization";
    if (format == NULL)
        format = "Bearer %s";
    if (!secret_name_valid(name)) {
        deny(out, POLICY_MALFORMED,
             "the policy's decision is malformed: obligations.inject_secret.name must be a secret's name (1-64 letters, digits, '.', '_', '-')");
        return false;
    }
    if (!policy_secret_header_valid(header)) {
        deny(out, POLICY_MALFORMED,
             "the policy's decision is malformed: obligations.inject_secret.header must be an HTTP header name of at most %d bytes, not Host, Content-Length, Transfer-Encoding, a hop-by-hop or a Proxy- header",
             POLICY_MAX_SECRET_HEADER);
        return false;
    }
    if (!policy_secret_format_valid(format)) {
        deny(out, POLICY_MALFORMED,
             "the policy's decision is malformed: obligations.inject_secret.format must be at most %d bytes of visible ASCII with exactly one %%s and no other %%",
             POLICY_MAX_SECRET_FORMAT);
        return false;
    }
    out->inject_secret = json_pack("{s:s, s:s, s:s}", "name", name, "header", header, "format", format);
    return out->inject_secret != NULL;
}

/* A whole number in [1, max], as JSON gives it (an integer, or a real with no fraction). */
static bool positive_whole(const json_t *v, uint64_t max, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 1 || (uint64_t)i > max)
            return false;
        *out = (uint64_t)i;
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 1 && d <= (double)max) || d != (double)(uint64_t)d)
            return false;
        *out = (uint64_t)d;
        return true;
    }
    return false;
}

/* Obligation key's value v must be an array of at most max strings (the
 * plural noun), each of which valid accepts (each one: element); false
 * after denying. */
static bool string_list_valid(json_t *v, const char *key, size_t max, const char *noun,
                              bool (*valid)(const char *), const char *element,
                              struct policy_decision *out)
{
    if (!json_is_array(v) || json_array_size(v) > max) {
        deny(out, POLICY_MALFORMED,
             "the policy's decision is malformed: obligations.%s must be an array of at most %zu %s", key,
             max, noun);
        return false;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        if (!json_is_string(item) || !valid(json_string_value(item))) {
            deny(out, POLICY_MALFORMED, "the policy's decision is malformed: obligations.%s[%zu] is not %s",
                 key, i, element);
            return false;
        }
    }
    return true;
}

static void parse_obligations(const json_t *ob, struct policy_decision *out)
{
    if (ob == NULL || json_is_null(ob))
        return;
    if (!json_is_object(ob)) {
        deny(out, POLICY_MALFORMED, "the policy's decision is malformed: obligations must be an object");
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)ob, key, v) {
        uint64_t n;
        if (strcmp(key, "timeout_s") == 0) {
            if (!positive_whole(v, 86400, &n)) {
                deny(out, POLICY_MALFORMED,
                     "the policy's decision is malformed: obligations.timeout_s must be a whole number of seconds, 1-86400");
                return;
            }
            out->timeout_s = (unsigned)n;
        } else if (strcmp(key, "max_output_bytes") == 0) {
            if (!positive_whole(v, (uint64_t)1 << 40, &n)) {
                deny(out, POLICY_MALFORMED,
                     "the policy's decision is malformed: obligations.max_output_bytes must be a positive whole number");
                return;
            }
            out->max_output_bytes = n;
        } else if (strcmp(key, "env_allowlist") == 0) {
            if (!string_list_valid(v, key, MAX_ENV_NAMES, "names", env_name_valid,
                                   "an environment variable name", out))
                return;
            out->env_allowlist = json_deep_copy(v);
        } else if (strcmp(key, "max_bytes") == 0 || strcmp(key, "egress_max_bytes") == 0) {
            if (!positive_whole(v, (uint64_t)1 << 50, &n)) {
                deny(out, POLICY_MALFORMED,
                     "the policy's decision is malformed: obligations.%s must be a positive whole number of bytes",
                     key);
                return;
            }
            if (key[0] == 'm')
                out->max_bytes = n;
            else
                out->egress_max_bytes = n;
        } else if (strcmp(key, "egress_timeout_s") == 0) {
            if (!positive_whole(v, 30 * 86400, &n)) {
                deny(out, POLICY_MALFORMED,
                     "the policy's decision is malformed: obligations.egress_timeout_s must be a whole number of seconds, 1-2592000");
                return;
            }
            out->egress_timeout_s = (unsigned)n;
        } else if (strcmp(key, "allow_addresses") == 0) {
            if (!string_list_valid(v, key, MAX_ALLOW_ADDRESSES, "addresses or prefixes", cidr_valid,
                                   "an IP address or prefix (\"10.0.0.0/8\", \"::1\")", out))
                return;
            out->allow_addresses = json_deep_copy(v);
        } else if (strcmp(key, "inject_secret") == 0) {
            if (!parse_inject_secret(v, out))
                return;
        } else {
            /* An obligation the gate cannot carry out must not be dropped silently. */
            deny(out, POLICY_MALFORMED,
                 "the policy's decision is malformed: unknown obligation '%.100s' (timeout_s, max_output_bytes, env_allowlist, max_bytes, allow_addresses, egress_max_bytes, egress_timeout_s, inject_secret)",
                 key);
            return;
        }
    }
}

void policy_decision_from_value(const json_t *value, struct policy_decision *out)
{
    memset(out, 0, sizeof(*out));
    out->outcome = POLICY_DECIDED;
    if (value == NULL) {
        deny(out, POLICY_UNDEFINED, "the policy's decision is undefined for this input (default deny)");
        return;
    }
    if (!json_is_object(value)) {
        deny(out, POLICY_MALFORMED, "the policy's decision is malformed: it must be an object, not %s",
             json_is_array(value) ? "an array" : json_is_string(value) ? "a string" : "a scalar");
        return;
    }
    json_t *allow = json_object_get(value, "allow");
    if (!json_is_boolean(allow)) {
        deny(out, POLICY_MALFORMED, "the policy's decision is malformed: allow must be a boolean");
        return;
    }
    json_t *reasons = json_object_get(value, "reasons");
    if (reasons != NULL && !json_is_array(reasons)) {
        deny(out, POLICY_MALFORMED, "the policy's decision is malformed: reasons must be an array of strings");
        return;
    }
    if (json_array_size(reasons) > MAX_REASONS) {
        deny(out, POLICY_MALFORMED, "the policy's decision is malformed: more than %d reasons", MAX_REASONS);
        return;
    }
    size_t i;
    json_t *r;
    json_array_foreach(reasons, i, r) {
        if (!json_is_string(r) || json_string_length(r) > MAX_REASON_BYTES) {
            deny(out, POLICY_MALFORMED,
                 "the policy's decision is malformed: reasons[%zu] must be a string of at most %d bytes", i,
                 MAX_REASON_BYTES);
            return;
        }
    }
    out->reasons = reasons ? json_deep_copy(reasons) : json_array();
    out->allow = json_is_true(allow);
    parse_obligations(json_object_get(value, "obligations"), out);
    if (out->outcome != POLICY_DECIDED)
        return;
    if (!out->allow) {
        /* Obligations mean nothing on a deny. */
        clear_obligations(out);
        if (json_array_size(out->reasons) == 0)
            json_array_append_new(out->reasons, json_string("denied by policy (no reason given)"));
    }
}

void policy_decide(struct policy_bundle *b, const json_t *input, struct policy_decision *out)
{
    memset(out, 0, sizeof(*out));
    if (b == NULL || b->decision == NULL) {
        deny(out, POLICY_UNDEFINED, "no policy bundle is loaded (default deny)");
        return;
    }
    struct rego_error re = {0};
    json_t *value = NULL;
    uint64_t t0 = now_us();
    int rc = rego_query_eval_value(b->decision, input, &value, &re);
    uint64_t took = now_us() - t0;
    if (rc < 0) {
        char buf[800];
        rego_error_string(&re, buf, sizeof(buf));
        if (strcmp(re.code, "eval_budget_error") == 0 && strstr(re.message, "out of memory"))
            deny(out, POLICY_BUDGET, "policy evaluation ran out of memory (deny): %s", buf);
        else if (strcmp(re.code, "eval_budget_error") == 0)
            deny(out, POLICY_BUDGET, "policy evaluation exceeded its memory budget of %" PRIu64 " bytes (deny): %s",
                 b->lim.max_memory, buf);
        else if ((strcmp(re.code, "eval_cancel_error") == 0 && strstr(re.message, "steps")) ||
                 strstr(re.message, "budget"))
            deny(out, POLICY_BUDGET, "policy evaluation exceeded its budget of %" PRIu64 " steps (deny): %s",
                 b->lim.max_steps, buf);
        else if (strcmp(re.code, "eval_cancel_error") == 0)
            deny(out, POLICY_BUDGET, "policy evaluation exceeded a limit of the engine (deny): %s", buf);
        else
            deny(out, POLICY_ERROR, "policy evaluation failed (deny): %s", buf);
    } else if (took > (uint64_t)b->lim.max_eval_ms * 1000u) {
        deny(out, POLICY_TIMEOUT, "policy evaluation took %" PRIu64 " ms, more than its limit of %u ms (deny)",
             took / 1000, b->lim.max_eval_ms);
    } else {
        policy_decision_from_value(value, out);
    }
    json_decref(value);
    out->eval_us = took;
}

void policy_decision_release(struct policy_decision *d)
{
    json_decref(d->reasons);
    d->reasons = NULL;
    clear_obligations(d);
}
