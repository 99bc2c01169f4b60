#include "cli/exec_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "common/encode.h"
#include "common/exit_code.h"
#include "common/file.h"

#define CLI_MAX_PROGRAM (64u << 20)

/* The program in path, or on standard input for "-" (a pipe or a file). */
static int read_program(const char *path, char **out, size_t *len, struct error *err)
{
    if (strcmp(path, "-") == 0)
        return file_read_stream_all(STDIN_FILENO, "standard input", CLI_MAX_PROGRAM, out, len, err);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set_errno(err, ERR_INVALID_ARGUMENT, "opening %s", path);
    return file_read_stream_all(fd, path, CLI_MAX_PROGRAM, out, len, err);
}

#define PYTHON_ARG_MAX 100000 /* below the kernel's 128 KiB limit on one argument */

void cli_start_request_add(json_t *req, unsigned vcpus, unsigned mem_mb, bool egress)
{
    if (vcpus)
        json_object_set_new(req, "vcpu", json_integer(vcpus));
    if (mem_mb)
        json_object_set_new(req, "memoryMb", json_integer(mem_mb));
    if (egress)
        json_object_set_new(req, "egress", json_true());
}

json_t *cli_exec_request(const char *verb, const char *session_id, const char *python_file,
                         char **command, int command_len, unsigned timeout_s)
{
    json_t *req = json_object();
    json_t *argv = json_array();
    json_object_set_new(req, "sessionId", json_string(session_id));
    json_object_set_new(req, "argv", argv);
    if (timeout_s)
        json_object_set_new(req, "timeoutSeconds", json_integer(timeout_s));
    if (python_file) {
        size_t len = 0;
        cleanup_free char *code = NULL;
        struct error err;
        if (read_program(python_file, &code, &len, &err) < 0) {
            fprintf(stderr, "enclave %s: cannot read %s: %s\n", verb, python_file, err.message);
            json_decref(req);
            return NULL;
        }
        json_array_append_new(argv, json_string("python3"));
        if (len <= PYTHON_ARG_MAX && memchr(code, '\0', len) == NULL) {
            json_t *s = json_stringn(code, len);
            if (s == NULL) {
                fprintf(stderr, "enclave %s: %s is not UTF-8 text\n", verb, python_file);
                json_decref(req);
                return NULL;
            }
            json_array_append_new(argv, json_string("-c"));
            json_array_append_new(argv, s);
        } else {
            /* Too long for one argument: the program arrives on stdin. */
            json_array_append_new(argv, json_string("-"));
            cleanup_free char *b64 = encode_base64(code, len);
            json_object_set_new(req, "stdin", b64 != NULL ? json_string(b64) : NULL);
        }
        return req;
    }
    for (int i = 0; i < command_len; i++) {
        json_t *s = json_string(command[i]);
        if (s == NULL) {
            fprintf(stderr, "enclave %s: argument %d is not UTF-8 text\n", verb, i + 1);
            json_decref(req);
            return NULL;
        }
        json_array_append_new(argv, s);
    }
    return req;
}

struct exec_print {
    const char *verb;
    int exit_code;
    bool have_exit;
};

static int print_event(json_t *msg, void *ctx)
{
    struct exec_print *p = ctx;
    const char *keys[2] = {"stdout", "stderr"};
    for (int i = 0; i < 2; i++) {
        const char *b64 = json_string_value(json_object_get(msg, keys[i]));
        if (b64 == NULL)
            continue;
        size_t len = 0;
        unsigned char *data = NULL;
        if (decode_base64_lenient(b64, strlen(b64), &data, &len) < 0)
            return -1;
        FILE *f = i == 0 ? stdout : stderr;
        fwrite(data, 1, len, f);
        fflush(f);
        free(data);
    }
    json_t *exit = json_object_get(msg, "exit");
    if (json_is_object(exit)) {
        p->have_exit = true;
        /* The daemon's numbers (from the guest): bounded to an exit status
         * without overflow, and never wrapped (256 must not become 0). */
        int code = exit_code_clamp(json_integer_value(json_object_get(exit, "exitCode")));
        json_int_t sig = json_integer_value(json_object_get(exit, "signal"));
        int timeout = (int)json_integer_value(json_object_get(exit, "timeoutSeconds"));
        const char *cap = json_string_value(json_object_get(exit, "maxOutputBytes"));
        fflush(stdout);
        if (json_is_true(json_object_get(exit, "timedOut"))) {
            fprintf(stderr, "enclave: timed out after %d s; the process group was killed\n",
                    timeout);
            code = CLI_EXIT_TIMED_OUT;
        } else if (sig) {
            code = exit_code_for_signal(sig);
        }
        if (json_is_true(json_object_get(exit, "truncated"))) {
            /* both strings are the daemon's: escaped */
            const char *reason = json_string_value(json_object_get(exit, "truncatedReason"));
            fprintf(stderr, "enclave: output truncated at ");
            cli_put_escaped(stderr, cap ? cap : "?");
            fprintf(stderr, " bytes per stream (");
            cli_put_escaped(stderr, reason ? reason : "cap");
            fprintf(stderr, ")\n");
        }
        p->exit_code = code;
    }
    return 0;
}

int cli_exec_stream(const char *verb, const struct client_target *t, json_t *exec_request,
                    unsigned timeout_s)
{
    struct error err;
    struct exec_print p = {.verb = verb};
    unsigned wait_s = (timeout_s ? timeout_s : 3600) + 60;
    if (client_stream(t, "enclave.v1.Enclave", "Exec", exec_request, wait_s, print_event, &p,
                      &err) < 0) {
        fflush(stdout);
        if (err.kind != ERR_CANCELED)
            fprintf(stderr, "enclave %s: %s\n", verb, err.message);
        return cli_exit_for_error(err.kind);
    }
    if (!p.have_exit) {
        fprintf(stderr, "enclave %s: the stream ended without an exit event\n", verb);
        return CLI_EXIT_FAILED;
    }
    return p.exit_code;
}
