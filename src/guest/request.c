/* Checking requests from the host before anything is executed. */
#include "guest/guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODE(name) GUEST__V1__ERROR_RESPONSE__CODE__CODE_##name

int guest_hello_check(const Guest__V1__Frame *frame, const uint8_t key[GUEST_KEY_LEN])
{
    if (frame->body_case != GUEST__V1__FRAME__BODY_HELLO_REQUEST || !frame->hello_request)
        return -1;
    const ProtobufCBinaryData *k = &frame->hello_request->key;
    if (k->len != GUEST_KEY_LEN || !k->data)
        return -1;
    /* Constant time: how much of a guess matched must not show in timing. */
    uint8_t diff = 0;
    for (size_t i = 0; i < GUEST_KEY_LEN; i++)
        diff |= (uint8_t)(k->data[i] ^ key[i]);
    return diff == 0 ? 0 : -1;
}

int guest_hello_resume_check(const Guest__V1__HelloRequest *hello, const char **why)
{
    bool any = hello->new_key.len > 0 || hello->entropy.len > 0 || hello->unix_time_ns != 0;
    if (!any)
        return 0;
    if (hello->new_key.len != GUEST_KEY_LEN || !hello->new_key.data) {
        *why = "a resume needs a new key of exactly 32 bytes";
        return -1;
    }
    if (hello->entropy.len < GUEST_RESUME_MIN_ENTROPY || hello->entropy.len > GUEST_RESUME_MAX_ENTROPY ||
        !hello->entropy.data) {
        *why = "a resume needs 32-256 bytes of entropy";
        return -1;
    }
    if (hello->unix_time_ns <= 0) {
        *why = "a resume needs the host's time";
        return -1;
    }
    return 1;
}

int guest_request_check(const Guest__V1__Frame *frame, const char **why)
{
    switch (frame->body_case) {
    case GUEST__V1__FRAME__BODY_HEALTH_REQUEST:
    case GUEST__V1__FRAME__BODY_EXEC_REQUEST:
    case GUEST__V1__FRAME__BODY_CANCEL_REQUEST:
    case GUEST__V1__FRAME__BODY_SHUTDOWN_REQUEST:
    case GUEST__V1__FRAME__BODY_FILE_REQUEST:
    case GUEST__V1__FRAME__BODY_FILE_CHUNK:
    case GUEST__V1__FRAME__BODY_FILE_CREDIT:
    case GUEST__V1__FRAME__BODY_CODE_REQUEST:
    case GUEST__V1__FRAME__BODY_EXEC_CREDIT:
    case GUEST__V1__FRAME__BODY_EXEC_STDIN:
    case GUEST__V1__FRAME__BODY_EGRESS_REQUEST:
    case GUEST__V1__FRAME__BODY_EGRESS_OPEN_RESULT:
    case GUEST__V1__FRAME__BODY_EGRESS_DATA:
    case GUEST__V1__FRAME__BODY_EGRESS_CREDIT:
    case GUEST__V1__FRAME__BODY_EGRESS_CLOSE:
        return 0;
    case GUEST__V1__FRAME__BODY__NOT_SET:
        *why = "frame has no body";
        return CODE(UNKNOWN_REQUEST);
    default:
        *why = "not a request the init serves (health, exec, cancel, shutdown, exec credit, exec stdin, file, code, egress)";
        return CODE(UNKNOWN_REQUEST);
    }
}

static bool env_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n <= GUEST_MAX_ENV_NAME && !strchr(name, '=');
}

int guest_exec_validate(const Guest__V1__ExecRequest *req, struct guest_exec_params *p,
                        const char **why)
{
    memset(p, 0, sizeof(*p));
    if (req->n_argv == 0 || !req->argv || !req->argv[0] || req->argv[0][0] == '\0') {
        *why = "argv is empty";
        return CODE(INVALID);
    }
    if (req->n_argv > GUEST_MAX_ARGS) {
        *why = "too many arguments";
        return CODE(TOO_LARGE);
    }
    size_t total = 0;
    for (size_t i = 0; i < req->n_argv; i++) {
        if (!req->argv[i]) {
            *why = "argv has a missing entry";
            return CODE(INVALID);
        }
        size_t n = strlen(req->argv[i]);
        if (n >= GUEST_MAX_ARG_LEN) {
            *why = "an argument is too long";
            return CODE(TOO_LARGE);
        }
        total += n + 1;
    }
    if (req->n_env > GUEST_MAX_ENV) {
        *why = "too many environment variables";
        return CODE(TOO_LARGE);
    }
    for (size_t i = 0; i < req->n_env; i++) {
        const Guest__V1__EnvVar *e = req->env[i];
        if (!e || !e->name || !e->value || !env_name_ok(e->name)) {
            *why = "an environment variable name is empty, too long or contains '='";
            return CODE(INVALID);
        }
        size_t n = strlen(e->name) + 1 + strlen(e->value);
        if (n >= GUEST_MAX_ARG_LEN) {
            *why = "an environment variable is too long";
            return CODE(TOO_LARGE);
        }
        total += n + 1;
    }
    if (total > GUEST_MAX_ARGV_TOTAL) {
        *why = "argv and environment are too large together";
        return CODE(TOO_LARGE);
    }

    if (!req->cwd || req->cwd[0] == '\0') {
        p->cwd = GUEST_WORKSPACE;
    } else if (req->cwd[0] != '/') {
        *why = "cwd must be an absolute path";
        return CODE(INVALID);
    } else if (strlen(req->cwd) > GUEST_MAX_CWD) {
        *why = "cwd is too long";
        return CODE(TOO_LARGE);
    } else {
        p->cwd = req->cwd;
    }

    if (req->stdin.len > GUEST_MAX_STDIN || (req->stdin.len > 0 && !req->stdin.data)) {
        *why = "stdin is too large";
        return CODE(TOO_LARGE);
    }

    if (req->timeout_ms > GUEST_MAX_TIMEOUT_MS) {
        *why = "timeout_ms is over 24 hours";
        return CODE(INVALID);
    }
    p->timeout_ms = req->timeout_ms ? req->timeout_ms : GUEST_DEFAULT_TIMEOUT_MS;

    if (req->stream_output ? req->max_output_bytes > GUEST_MAX_STREAM_OUTPUT
                           : req->max_output_bytes > GUEST_MAX_OUTPUT) {
        *why = req->stream_output ? "max_output_bytes is over the limit (1 TiB per stream)"
                                  : "max_output_bytes is over the limit (3 MiB per stream)";
        return CODE(TOO_LARGE);
    }
    if (req->stream_window > GUEST_MAX_STREAM_WINDOW) {
        *why = "stream_window is over the limit (64 MiB)";
        return CODE(INVALID);
    }
    if (req->stream_window > 0 && !req->stream_output) {
        *why = "stream_window needs stream_output";
        return CODE(INVALID);
    }
    if (req->stdin_open && !req->stream_output) {
        *why = "stdin_open needs stream_output";
        return CODE(INVALID);
    }
    p->stream_window = req->stream_window;
    p->max_output = req->max_output_bytes ? req->max_output_bytes : GUEST_DEFAULT_OUTPUT;

    const Guest__V1__Limits *l = req->limits;
    p->max_processes = GUEST_DEFAULT_PROCESSES;
    p->max_open_files = GUEST_DEFAULT_OPEN_FILES;
    p->max_file_size = GUEST_DEFAULT_FILE_SIZE;
    p->max_address_space = GUEST_DEFAULT_ADDRESS_SPACE;
    if (l) {
        if (l->max_processes > GUEST_MAX_PROCESSES) {
            *why = "limits.max_processes is over 65536";
            return CODE(INVALID);
        }
        if (l->max_open_files > GUEST_MAX_OPEN_FILES) {
            *why = "limits.max_open_files is over 1048576";
            return CODE(INVALID);
        }
        if (l->max_processes)
            p->max_processes = l->max_processes;
        if (l->max_open_files)
            p->max_open_files = l->max_open_files;
        if (l->max_file_size)
            p->max_file_size = l->max_file_size;
        if (l->max_address_space)
            p->max_address_space = l->max_address_space;
    }
    return 0;
}

void guest_env_free(char **env)
{
    if (!env)
        return;
    for (char **e = env; *e; e++)
        free(*e);
    free(env);
}

static char *env_join(const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    char *s = malloc(n + 1 + v + 1);
    if (!s)
        return NULL;
    memcpy(s, name, n);
    s[n] = '=';
    memcpy(s + n + 1, value, v + 1);
    return s;
}

/* Index of the entry for name in env[0, count), or -1. */
static long env_find(char **env, size_t count, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < count; i++)
        if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
            return (long)i;
    return -1;
}

/* The egress proxy's URL while it listens (guest_exec_set_proxy). */
static char proxy_url[64];

void guest_exec_set_proxy(const char *url)
{
    snprintf(proxy_url, sizeof(proxy_url), "%s", url ? url : "");
}

const char *guest_exec_proxy(void)
{
    return proxy_url;
}

/* The CA bundle and the session CA alone while egress trusts one
 * (guest_exec_set_ca_files). */
static char ca_bundle[128], ca_single[128];

void guest_exec_set_ca_files(const char *bundle, const char *single)
{
    snprintf(ca_bundle, sizeof(ca_bundle), "%s", bundle ? bundle : "");
    snprintf(ca_single, sizeof(ca_single), "%s", single ? single : "");
}

char **guest_exec_build_env(const Guest__V1__ExecRequest *req)
{
    const char *const defaults[][2] = {
        {"HOME", GUEST_WORKSPACE},
        {"PATH", GUEST_DEFAULT_PATH},
        /* Only while the proxy listens. */
        {"HTTP_PROXY", proxy_url},
        {"HTTPS_PROXY", proxy_url},
        {"http_proxy", proxy_url},
        {"https_proxy", proxy_url},
        {"PIP_PROXY", proxy_url},
    };
    const char *const ca_defaults[][2] = {
        {"SSL_CERT_FILE", ca_bundle},
        {"REQUESTS_CA_BUNDLE", ca_bundle},
        {"CURL_CA_BUNDLE", ca_bundle},
        {"PIP_CERT", ca_bundle},
        {"NODE_EXTRA_CA_CERTS", ca_single},
    };
    size_t ndefaults = proxy_url[0] ? sizeof(defaults) / sizeof(defaults[0]) : 2;
    size_t nca = proxy_url[0] && ca_bundle[0] && ca_single[0] ? sizeof(ca_defaults) / sizeof(ca_defaults[0]) : 0;
    char **env = calloc(ndefaults + nca + req->n_env + 1, sizeof(*env));
    if (!env)
        return NULL;
    size_t count = 0;
    for (size_t i = 0; i < ndefaults; i++) {
        if (!(env[count] = env_join(defaults[i][0], defaults[i][1])))
            goto fail;
        count++;
    }
    for (size_t i = 0; i < nca; i++) {
        if (!(env[count] = env_join(ca_defaults[i][0], ca_defaults[i][1])))
            goto fail;
        count++;
    }
    for (size_t i = 0; i < req->n_env; i++) {
        char *s = env_join(req->env[i]->name, req->env[i]->value);
        if (!s)
            goto fail;
        long at = env_find(env, count, req->env[i]->name);
        if (at >= 0) {
            free(env[at]);
            env[at] = s;
        } else {
            env[count++] = s;
        }
    }
    env[count] = NULL;
    return env;
fail:
    guest_env_free(env);
    return NULL;
}
