/* enclave session cp / ls-files / code: files of a session and its Python
 * interpreter, through the daemon's PUT/GET /v1/sessions/{id}/files/{path}
 * routes and the Connect RunCode stream. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "common/cleanup.h"
#include "common/file.h"
#include "common/text.h"

#define TRANSFER_TIMEOUT_S (24u * 3600u)

static const char files_help[] =
    "usage: enclave session cp SRC DST\n"
    "       enclave session ls-files ID [PATH]\n"
    "       enclave session code ID [--context NAME] [--timeout S] CODE\n"
    "\n"
    "cp copies one file into or out of a session: one of SRC and DST is\n"
    "ID:/PATH (a path under /workspace or /tmp of session ID), the other a\n"
    "local file or '-' for standard input or output. Files are streamed, never\n"
    "read whole into memory; the daemon records the SHA-256 of what passed. A\n"
    "download goes to a temporary file beside DST, renamed over it when complete:\n"
    "one that fails leaves DST as it was; a DST that is a folder is refused.\n"
    "ls-files lists a folder of the session (default /workspace); control\n"
    "characters in names are shown escaped (\\xNN).\n"
    "code runs CODE ('-': read from standard input) in the session's Python\n"
    "interpreter, which keeps its names from one call to the next; it prints\n"
    "output as it arrives and the value of the last expression, and exits 1\n"
    "when the code raised (the traceback goes to standard error), 125 when\n"
    "Enclave failed, 126 when the policy refused it.\n"
    "cp and ls-files exit 1 when they fail (a refusal too); every sub-verb\n"
    "exits 2 for a bad command line.\n"
    "\n"
    "options:\n"
    "  --context NAME    code: the interpreter context (default: the session's own)\n"
    "  --timeout S       code: seconds before KeyboardInterrupt (default 30)\n"
    "  --addr HOST:PORT  the daemon (default $ENCLAVE_ADDR or 127.0.0.1:7339)\n"
    "  --socket PATH     the daemon's Unix socket (default $ENCLAVE_SOCKET)\n"
    "  -h, --help        this help\n";

struct files_opts {
    struct client_target target;
    const char *context;
    unsigned timeout_s;
};

/* "ID:/path" -> id and path (path points into arg). */
static bool split_remote(const char *arg, char *id, size_t id_len, const char **path)
{
    const char *colon = strchr(arg, ':');
    if (colon == NULL || colon == arg || colon[1] != '/' || (size_t)(colon - arg) >= id_len)
        return false;
    memcpy(id, arg, (size_t)(colon - arg));
    id[colon - arg] = '\0';
    *path = colon + 1;
    return true;
}

/* /v1/sessions/ID/files/PATH with PATH percent-encoded (its slashes kept). */
static char *route(const char *id, const char *path)
{
    size_t n = strlen(id) + 3 * strlen(path) + 32;
    char *out = malloc(n);
    if (out == NULL)
        return NULL;
    size_t o = (size_t)snprintf(out, n, "/v1/sessions/%s/files", id);
    for (const char *p = path; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("/-._~", c))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, n - o, "%%%02X", c);
    }
    out[o] = '\0';
    return out;
}

/* The daemon's error body ({"code", "message"}) or the raw text, escaped:
 * it can carry a guest's error message or a workload's file name. */
static void report(const char *what, int status, const char *body)
{
    json_t *doc = body ? json_loads(body, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(doc, "message"));
    cleanup_free char *safe_what = text_escape_terminal(what);
    cleanup_free char *safe = text_escape_terminal(msg ? msg : (body && *body ? body : "failed"));
    fprintf(stderr, "enclave session cp: %s: %s (HTTP %d)\n", safe_what ? safe_what : "?",
            safe ? safe : "failed", status);
    json_decref(doc);
}

struct sink {
    int fd;
    const char *what;
};

static int write_sink(void *ctx, const char *data, size_t len, struct error *err)
{
    const struct sink *k = ctx;
    if (file_write_all(k->fd, data, len) < 0)
        return error_set_errno(err, ERR_INTERNAL, "writing %s", k->what);
    return 0;
}

static int do_cp(const struct files_opts *o, const char *src, const char *dst)
{
    char id[128];
    const char *path;
    struct error err;
    int status = 0;
    cleanup_free char *body = NULL;
    if (split_remote(src, id, sizeof(id), &path)) {
        char other[128];
        const char *ignored;
        if (split_remote(dst, other, sizeof(other), &ignored))
            return cli_usage_error("session", "cp copies between a session and here, not between sessions");
        cleanup_free char *r = route(id, path);
        if (r == NULL)
            return 1;
        /* Into a temporary file next to the destination, renamed at the end
         * and synced: a failed download leaves neither a half file under the
         * name nor the temporary. */
        struct sink sink = {.fd = 1, .what = "standard output"};
        cleanup_file_replacement struct file_replacement out = FILE_REPLACEMENT_INIT;
        if (strcmp(dst, "-") != 0) {
            struct file_replace_options opt = {.mode = 0644};
            if (file_replace_begin(&out, dst, &opt, &err) < 0) {
                fprintf(stderr, "enclave session cp: %s\n", err.message);
                return 1;
            }
            sink = (struct sink){.fd = out.fd, .what = dst};
        }
        int rc = client_get_stream(&o->target, r, TRANSFER_TIMEOUT_S, write_sink, &sink, &body,
                                   &status, &err);
        if (rc < 0) {
            fprintf(stderr, "enclave session cp: %s\n", err.message);
            return 1;
        }
        if (status != 200) {
            report(src, status, body);
            return 1;
        }
        if (out.fd >= 0 && file_replace_commit(&out, &err) < 0) {
            fprintf(stderr, "enclave session cp: %s\n", err.message);
            return 1;
        }
        return 0;
    }
    if (!split_remote(dst, id, sizeof(id), &path))
        return cli_usage_error("session", "one of SRC and DST must be ID:/PATH");
    cleanup_free char *r = route(id, path);
    if (r == NULL)
        return 1;
    int fd = 0;
    long long length = -1;
    if (strcmp(src, "-") != 0) {
        fd = open(src, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            fprintf(stderr, "enclave session cp: %s: %s\n", src, strerror(errno));
            return 1;
        }
        if (!S_ISREG(st.st_mode)) {
            fprintf(stderr, "enclave session cp: %s is not a regular file\n", src);
            close(fd);
            return 1;
        }
        length = (long long)st.st_size;
    }
    int rc = client_put_fd(&o->target, r, fd, length, TRANSFER_TIMEOUT_S, &body, &status, &err);
    if (fd != 0)
        close(fd);
    if (rc < 0) {
        fprintf(stderr, "enclave session cp: %s\n", err.message);
        return 1;
    }
    if (status != 201) {
        report(dst, status, body);
        return 1;
    }
    return 0;
}

/* A name the workload chose, on the operator's terminal: control
 * characters (an escape sequence could rewrite the screen, hide a line or
 * retitle the window) are escaped (text_escape_terminal). */
static void print_name(const char *name)
{
    cleanup_free char *safe = text_escape_terminal(name);
    fputs(safe ? safe : "?", stdout);
}

static int do_ls(const struct files_opts *o, const char *id, const char *path)
{
    json_t *req = json_pack("{s:s, s:s}", "sessionId", id, "path", path);
    json_t *resp = NULL;
    struct error err;
    int rc = client_call(&o->target, "enclave.v1.Enclave", "ListFiles", req, 60, &resp, &err);
    json_decref(req);
    if (rc < 0) {
        fprintf(stderr, "enclave session ls-files: %s\n", err.message);
        return 1;
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(resp, "entries"), i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *type = json_string_value(json_object_get(e, "type"));
        json_t *size = json_object_get(e, "size"); /* uint64: a JSON string */
        /* all three are the daemon's, two from the guest */
        cleanup_free char *safe_type = text_escape_terminal(type ? type : "?");
        cleanup_free char *safe_size = text_escape_terminal(json_is_string(size) ? json_string_value(size) : "0");
        printf("%-9s %12s  ", safe_type ? safe_type : "?", safe_size ? safe_size : "?");
        print_name(name ? name : "?");
        printf("%s\n", type && strcmp(type, "directory") == 0 ? "/" : "");
    }
    if (json_is_true(json_object_get(resp, "truncated")))
        fprintf(stderr, "enclave session ls-files: more entries than shown\n");
    json_decref(resp);
    return 0;
}

struct code_state {
    bool error;
    bool restarted;
};

static int on_code_event(json_t *m, void *ctx)
{
    struct code_state *st = ctx;
    const char *s;
    if ((s = json_string_value(json_object_get(m, "stdout"))) != NULL) {
        fputs(s, stdout);
        fflush(stdout);
    } else if ((s = json_string_value(json_object_get(m, "stderr"))) != NULL) {
        fputs(s, stderr);
    } else if ((s = json_string_value(json_object_get(m, "text"))) != NULL) {
        printf("%s\n", s);
        fflush(stdout);
    } else if (json_is_object(json_object_get(m, "data"))) {
        const char *mime = json_string_value(json_object_get(json_object_get(m, "data"), "mimeType"));
        cleanup_free char *safe = text_escape_terminal(mime ? mime : "rich"); /* the guest's */
        fprintf(stderr, "[%s result not shown]\n", safe ? safe : "rich");
    } else if (json_is_object(json_object_get(m, "error"))) {
        const char *tb = json_string_value(json_object_get(json_object_get(m, "error"), "traceback"));
        fputs(tb ? tb : "error\n", stderr);
        st->error = true;
    } else if (json_is_object(json_object_get(m, "done"))) {
        json_t *d = json_object_get(m, "done");
        if (json_is_true(json_object_get(d, "error")))
            st->error = true;
        if (json_is_true(json_object_get(d, "restarted"))) {
            st->restarted = true;
            fprintf(stderr, "enclave session code: the interpreter was restarted; its names are gone\n");
        }
    }
    return 0;
}

static int do_code(const struct files_opts *o, const char *id, const char *code_arg)
{
    cleanup_free char *code = NULL;
    if (strcmp(code_arg, "-") == 0) {
        size_t cap = 0, len = 0;
        FILE *mem = open_memstream(&code, &cap);
        char buf[65536];
        size_t n;
        while (mem && (n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
            fwrite(buf, 1, n, mem);
            len += n;
            if (len > (4u << 20))
                break;
        }
        if (mem == NULL || fclose(mem) != 0 || len > (4u << 20)) {
            fprintf(stderr, "enclave session code: the code on standard input is over 4 MiB\n");
            return CLI_EXIT_FAILED; /* 1 is the cell's own: it raised */
        }
    } else {
        code = strdup(code_arg);
    }
    json_t *req = json_pack("{s:s, s:s, s:s, s:i}", "sessionId", id, "code", code ? code : "", "contextId",
                            o->context ? o->context : "", "timeoutSeconds", (int)o->timeout_s);
    struct code_state st = {0};
    struct error err;
    int rc = client_stream(&o->target, "enclave.v1.Enclave", "RunCode", req,
                           (o->timeout_s ? o->timeout_s : 30) + 60, on_code_event, &st, &err);
    json_decref(req);
    if (rc < 0) {
        fprintf(stderr, "enclave session code: %s\n", err.message);
        return cli_exit_for_error(err.kind);
    }
    return st.error ? 1 : 0;
}

int cli_session_files(int argc, char **argv)
{
    const char *sub = argv[1];
    struct files_opts o = {0};
    client_target_default(&o.target);
    enum { O_ADDR = 256, O_SOCKET, O_CONTEXT, O_TIMEOUT };
    static const struct option options[] = {
        {"addr", required_argument, NULL, O_ADDR},       {"socket", required_argument, NULL, O_SOCKET},
        {"context", required_argument, NULL, O_CONTEXT}, {"timeout", required_argument, NULL, O_TIMEOUT},
        {"help", no_argument, NULL, 'h'},                {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    /* "+": stop at the first operand, so code starting with '-' after it is kept. */
    while ((c = getopt_long(argc - 1, argv + 1, "+h", options, NULL)) != -1) {
        switch (c) {
        case O_ADDR:
            o.target.addr = optarg;
            o.target.socket_path = NULL;
            break;
        case O_SOCKET:
            o.target.socket_path = optarg;
            break;
        case O_CONTEXT:
            o.context = optarg;
            break;
        case O_TIMEOUT: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 3600)
                return cli_usage_error("session", "--timeout takes 1 to 3600 seconds");
            o.timeout_s = (unsigned)v;
            break;
        }
        case 'h':
            fputs(files_help, stdout);
            return 0;
        default:
            return cli_usage_error("session", "unknown option for %s (see enclave session %s --help)", sub, sub);
        }
    }
    int rest = argc - 1 - optind;
    char **args = argv + 1 + optind;
    if (strcmp(sub, "cp") == 0) {
        if (rest != 2)
            return cli_usage_error("session", "cp takes SRC and DST");
        return do_cp(&o, args[0], args[1]);
    }
    if (strcmp(sub, "ls-files") == 0) {
        if (rest < 1 || rest > 2)
            return cli_usage_error("session", "ls-files takes ID [PATH]");
        return do_ls(&o, args[0], rest == 2 ? args[1] : "/workspace");
    }
    if (rest != 2)
        return cli_usage_error("session", "code takes ID and CODE ('-' for standard input)");
    return do_code(&o, args[0], args[1]);
}
