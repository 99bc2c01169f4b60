#include "cli/exec_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/exit_code.h"

#define CLI_MAX_PROGRAM (64u << 20)

static char *read_file_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= CLI_MAX_PROGRAM) {
                free(buf);
                buf = NULL;
                break;
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    if (f != stdin)
        fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

json_t *cli_tool_request(const char *verb, const char *session_id, const char *python_file,
                         char **command, int command_len, unsigned timeout_s)
{
    json_t *req = json_object();
    json_object_set_new(req, "sessionId", json_string(session_id));
    if (timeout_s)
        json_object_set_new(req, "timeoutSeconds", json_integer(timeout_s));
    if (python_file) {
        size_t len = 0;
        cleanup_free char *code = read_file_all(python_file, &len);
        if (code == NULL) {
            fprintf(stderr, "enclave %s: cannot read %s\n", verb, python_file);
            json_decref(req);
            return NULL;
        }
        json_t *s = json_stringn(code, len);
        if (s == NULL) {
            fprintf(stderr, "enclave %s: %s is not UTF-8 text\n", verb, python_file);
            json_decref(req);
            return NULL;
        }
        json_object_set_new(req, "toolName", json_string("python"));
        json_object_set_new(req, "input", s);
        return req;
    }
    json_t *argv = json_array();
    for (int i = 0; i < command_len; i++) {
        json_t *s = json_string(command[i]);
        if (s == NULL) {
            fprintf(stderr, "enclave %s: argument %d is not UTF-8 text\n", verb, i + 1);
            json_decref(argv);
            json_decref(req);
            return NULL;
        }
        json_array_append_new(argv, s);
    }
    cleanup_free char *text = json_dumps(argv, JSON_COMPACT);
    json_decref(argv);
    json_object_set_new(req, "toolName", json_string("exec"));
    json_object_set_new(req, "input", json_string(text));
    return req;
}

int cli_execute(const char *verb, const struct client_target *t, json_t *tool_request,
                unsigned timeout_s)
{
    json_t *resp = NULL;
    struct error err;
    unsigned wait_s = (timeout_s ? timeout_s : 3600) + 60;
    if (client_call(t, "agent.v1.AgentService", "ExecuteTool", tool_request, wait_s, &resp, &err) < 0) {
        if (err.kind != ERR_CANCELED)
            fprintf(stderr, "enclave %s: %s\n", verb, err.message);
        return err.kind == ERR_PERMISSION_DENIED ? 126 : 125;
    }
    const char *out = json_string_value(json_object_get(resp, "output"));
    const char *errtext = json_string_value(json_object_get(resp, "error"));
    json_t *code = json_object_get(resp, "exitCode");
    if (out)
        fputs(out, stdout);
    fflush(stdout);
    if (errtext)
        fputs(errtext, stderr);
    /* The process exits with the low 8 bits: 256 must not become 0. */
    int rc = json_is_integer(code) ? exit_code_clamp(json_integer_value(code)) : 0;
    json_decref(resp);
    return rc;
}
