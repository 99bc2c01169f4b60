/* libFuzzer: admission (auth.c) on arbitrary headers. The input is split at
 * newlines into method, path, Host, Origin, Authorization, Cookie, a /login
 * query and Sec-Fetch-Site; a missing line is an absent header, "\x01" a bad
 * one. Each parser is also run alone on the whole input. */
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static struct api_server *server;

static void setup(void)
{
    if (server != NULL)
        return;
    log_set_level(LOG_LEVEL_ERROR);
    base = event_base_new();
    struct api_config config = {.listen = "127.0.0.1:0"};
    struct api_auth auth = {
        .agent_token = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        .operator_token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    };
    struct error err;
    if (base == NULL || api_server_new(base, &config, &server, &err) < 0 ||
        api_server_set_auth(server, &auth, &err) < 0)
        abort();
}

static const char *field(char **cursor)
{
    if (*cursor == NULL)
        return NULL;
    char *start = *cursor;
    char *nl = strchr(start, '\n');
    if (nl != NULL) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = NULL;
    }
    return strcmp(start, "\x01") == 0 ? api_header_bad : start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size > 16384)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    const char *t;
    size_t n;
    char out[API_TOKEN_MAX + 1];
    (void)api_host_is_local(text, 7339);
    (void)api_origin_is_local(text, 7339);
    (void)api_parse_bearer(text, &t, &n);
    (void)api_cookie_get(text, "enclave_session_7339", &t, &n);
    (void)api_query_get(text, "token", out, sizeof(out));
    (void)api_token_valid(text, strlen(text));

    char *cursor = text;
    const char *method = field(&cursor);
    const char *path = field(&cursor);
    struct api_admit_request req = {
        .transport = "http",
        .method = method == api_header_bad ? "GET" : method,
        .path = path == api_header_bad ? "/" : path,
        .host = field(&cursor),
        .origin = field(&cursor),
        .authorization = field(&cursor),
        .cookie = field(&cursor),
    };
    const char *query = field(&cursor);
    req.fetch_site = field(&cursor);
    struct api_conn conn = {.server = server};
    snprintf(conn.peer, sizeof(conn.peer), "fuzz");
    struct api_admit_result res;
    api_admit(&conn, &req, &res);
    if (res.status != 0 && res.principal != API_PRINCIPAL_NONE)
        abort();
    struct api_login_reply login;
    api_login(&conn, query != NULL && query != api_header_bad ? query : "", &login);
    if (login.status != 303 && login.status != 401)
        abort();
    free(text);
    return 0;
}
