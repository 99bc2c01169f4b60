/* Who may call: admission of every request before any route or handler runs
 * (see "who may call" in api.h), the /login cookie, the refusal reports and
 * the token files. The header parsers here are pure functions, unit tested
 * and fuzzed alone (auth_fuzz.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "api/internal.h"
#include "common/cleanup.h"
#include "common/encode.h"
#include "common/file.h"
#include "common/log.h"

#define DEFAULT_MAX_REPORTS_PER_S 10
#define REFUSAL_TEXT_MAX 128
#define TOKEN_FILE_MAX 512
static const char session_label[] = "enclave session cookie v1";

const char api_header_bad[] = "(repeated or too long)";

const char *api_principal_name(enum api_principal p)
{
    switch (p) {
    case API_PRINCIPAL_AGENT:
        return "agent";
    case API_PRINCIPAL_OPERATOR:
        return "operator";
    case API_PRINCIPAL_NONE:
        break;
    }
    return "none";
}

/* ------------------------------------------------------------------ parsers */

/* s[0..n) is "host[:port]" naming a loopback host on port. */
static bool authority_is_local(const char *s, size_t n, unsigned port)
{
    size_t host_len;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL)
            return false;
        host_len = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        host_len = colon != NULL ? (size_t)(colon - s) : n;
    }
    bool host_ok = (host_len == 9 && (strncasecmp(s, "127.0.0.1", 9) == 0 ||
                                      strncasecmp(s, "localhost", 9) == 0)) ||
                   (host_len == 5 && memcmp(s, "[::1]", 5) == 0);
    if (!host_ok)
        return false;
    if (host_len == n)
        return port == 80; /* no port: the scheme's default */
    if (s[host_len] != ':')
        return false;
    const char *p = s + host_len + 1;
    size_t plen = n - host_len - 1;
    /* 1-5 digits, no leading zero: one spelling per port. */
    if (plen == 0 || plen > 5 || p[0] == '0')
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < plen; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v == port;
}

bool api_host_is_local(const char *host, unsigned port)
{
    return host != NULL && authority_is_local(host, strlen(host), port);
}

bool api_origin_is_local(const char *origin, unsigned port)
{
    static const char scheme[] = "http://";
    if (origin == NULL || strncasecmp(origin, scheme, sizeof(scheme) - 1) != 0)
        return false;
    const char *rest = origin + sizeof(scheme) - 1;
    return authority_is_local(rest, strlen(rest), port);
}

bool api_parse_bearer(const char *value, const char **token, size_t *len)
{
    if (value == NULL || strncasecmp(value, "Bearer", 6) != 0 || value[6] != ' ')
        return false;
    const char *t = value + 6;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    if (n == 0 || strpbrk(t, " \t") != NULL)
        return false;
    *token = t;
    *len = n;
    return true;
}

bool api_cookie_get(const char *header, const char *name, const char **value, size_t *len)
{
    if (header == NULL)
        return false;
    size_t name_len = strlen(name);
    int found = 0;
    const char *p = header;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *start = p;
        while (*p != '\0' && *p != ';')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        const char *eq = memchr(start, '=', (size_t)(end - start));
        if (eq == NULL || (size_t)(eq - start) != name_len || memcmp(start, name, name_len) != 0)
            continue;
        found++;
        *value = eq + 1;
        *len = (size_t)(end - eq - 1);
    }
    return found == 1 && *len > 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int api_query_get(const char *query, const char *name, char *out, size_t size)
{
    if (query == NULL || size == 0)
        return -1;
    size_t name_len = strlen(name);
    int found = 0;
    const char *p = query;
    while (*p != '\0') {
        const char *start = p;
        while (*p != '\0' && *p != '&')
            p++;
        const char *end = p;
        if (*p == '&')
            p++;
        const char *eq = memchr(start, '=', (size_t)(end - start));
        if (eq == NULL || (size_t)(eq - start) != name_len || memcmp(start, name, name_len) != 0)
            continue;
        if (++found > 1)
            return -1;
        size_t o = 0;
        for (const char *v = eq + 1; v < end; v++) {
            char c = *v;
            if (c == '%') {
                if (end - v < 3 || hex_value(v[1]) < 0 || hex_value(v[2]) < 0)
                    return -1;
                c = (char)(hex_value(v[1]) << 4 | hex_value(v[2]));
                v += 2;
            } else if (c == '+') {
                c = ' ';
            }
            if (c == '\0' || o + 1 >= size)
                return -1;
            out[o++] = c;
        }
        out[o] = '\0';
    }
    return found == 1 ? 0 : -1;
}

bool api_token_valid(const char *s, size_t len)
{
    if (len < API_TOKEN_MIN || len > API_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  strchr("-._~+/=", c) != NULL;
        if (!ok || c == '\0')
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ credentials */

static int session_value(const char *token, char out[API_SESSION_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (HMAC(EVP_sha256(), token, (int)strlen(token), (const unsigned char *)session_label,
             sizeof(session_label) - 1, md, &md_len) == NULL ||
        md_len * 2 != API_SESSION_HEX)
        return -1;
    encode_hex(md, md_len, out);
    return 0;
}

int api_server_set_auth(struct api_server *server, const struct api_auth *auth, struct error *err)
{
    struct api_auth_state *a = &server->auth;
    const char *agent = auth->agent_token;
    const char *op = auth->operator_token;
    if (!auth->allow_anonymous) {
        if (agent == NULL || !api_token_valid(agent, strlen(agent)))
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "the API token must be %d-%d characters of A-Z a-z 0-9 - . _ ~ + / =",
                             API_TOKEN_MIN, API_TOKEN_MAX);
        if (op != NULL && !api_token_valid(op, strlen(op)))
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "the operator token must be %d-%d characters of A-Z a-z 0-9 - . _ ~ + / =",
                             API_TOKEN_MIN, API_TOKEN_MAX);
        if (op != NULL && strcmp(agent, op) == 0)
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "the operator token must differ from the API token");
    }
    memset(a, 0, sizeof(*a));
    a->allow_anonymous = auth->allow_anonymous;
    if (agent != NULL) {
        snprintf(a->agent_token, sizeof(a->agent_token), "%s", agent);
        if (session_value(a->agent_token, a->agent_session) < 0)
            return error_set(err, ERR_INTERNAL, "HMAC-SHA256 failed");
    }
    if (op != NULL) {
        snprintf(a->operator_token, sizeof(a->operator_token), "%s", op);
        if (session_value(a->operator_token, a->operator_session) < 0)
            return error_set(err, ERR_INTERNAL, "HMAC-SHA256 failed");
    }
    snprintf(a->cookie_name, sizeof(a->cookie_name), "enclave_session_%u", server->port);
    a->on_refused = auth->on_refused;
    a->ctx = auth->ctx;
    a->max_reports_per_s = auth->max_reports_per_s ? auth->max_reports_per_s
                                                    : DEFAULT_MAX_REPORTS_PER_S;
    a->set = true;
    return 0;
}

/* Constant time in the content; the lengths are public (tokens we make are
 * all 64 characters). */
static bool secret_equal(const char *given, size_t len, const char *secret)
{
    size_t n = strlen(secret);
    return n > 0 && len == n && CRYPTO_memcmp(given, secret, n) == 0;
}

static enum api_principal match_token(const struct api_auth_state *a, const char *t, size_t len)
{
    if (!a->set)
        return API_PRINCIPAL_NONE;
    /* Both comparisons run, whichever matches. */
    bool agent = secret_equal(t, len, a->agent_token);
    bool op = secret_equal(t, len, a->operator_token);
    return op ? API_PRINCIPAL_OPERATOR : agent ? API_PRINCIPAL_AGENT : API_PRINCIPAL_NONE;
}

static enum api_principal match_session(const struct api_auth_state *a, const char *v, size_t len)
{
    if (!a->set)
        return API_PRINCIPAL_NONE;
    bool agent = a->agent_token[0] != '\0' && secret_equal(v, len, a->agent_session);
    bool op = a->operator_token[0] != '\0' && secret_equal(v, len, a->operator_session);
    return op ? API_PRINCIPAL_OPERATOR : agent ? API_PRINCIPAL_AGENT : API_PRINCIPAL_NONE;
}

/* ------------------------------------------------------------------ admission */

static void printable(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p && o + 1 < size; p++)
        out[o++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
    out[o] = '\0';
}

static void report(struct api_conn *conn, const struct api_admit_request *req, int status,
                   const char *reason)
{
    struct api_auth_state *a = &conn->server->auth;
    log_debug("api: %s: %s %s refused (%d): %s", conn->peer, req->method ? req->method : "",
              req->path ? req->path : "", status, reason);
    if (a->on_refused == NULL)
        return;
    uint64_t now = api_now_ms();
    if (now - a->window_start_ms >= 1000) {
        a->window_start_ms = now;
        a->reports_in_window = 0;
    }
    if (a->reports_in_window >= a->max_reports_per_s) {
        a->suppressed++;
        return;
    }
    a->reports_in_window++;
    char method[REFUSAL_TEXT_MAX + 1], path[REFUSAL_TEXT_MAX + 1];
    printable(req->method, method, sizeof(method));
    printable(req->path, path, sizeof(path));
    struct api_refusal r = {
        .peer = conn->peer,
        .transport = req->transport ? req->transport : "http",
        .method = method,
        .path = path,
        .status = status,
        .reason = reason,
        .suppressed = a->suppressed,
    };
    a->suppressed = 0;
    a->on_refused(&r, a->ctx);
}

static void refuse(struct api_conn *conn, const struct api_admit_request *req,
                   struct api_admit_result *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void refuse(struct api_conn *conn, const struct api_admit_request *req,
                   struct api_admit_result *out, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    out->status = status;
    out->kind = status == 401 ? ERR_UNAUTHENTICATED : ERR_PERMISSION_DENIED;
    out->principal = API_PRINCIPAL_NONE;
    report(conn, req, status, out->message);
}

static bool present(const char *h)
{
    return h != NULL;
}

void api_admit(struct api_conn *conn, const struct api_admit_request *req,
               struct api_admit_result *out)
{
    struct api_server *server = conn->server;
    const struct api_auth_state *a = &server->auth;
    memset(out, 0, sizeof(*out));
    if (conn->unix_peer) {
        if (!conn->peer_uid_ok)
            return refuse(conn, req, out, 403,
                          "uid %u may not use this socket (only the daemon's user and root may)",
                          conn->peer_uid);
        out->principal = API_PRINCIPAL_OPERATOR;
        return;
    }
    if (a->allow_anonymous) {
        out->principal = API_PRINCIPAL_AGENT;
        return;
    }
    unsigned port = server->port;
    if (!present(req->host) || req->host == api_header_bad || !api_host_is_local(req->host, port))
        return refuse(conn, req, out, 403,
                      "Host must be 127.0.0.1:%u, localhost:%u or [::1]:%u (a page on another "
                      "site cannot use this API)",
                      port, port, port);
    if (present(req->origin) &&
        (req->origin == api_header_bad || !api_origin_is_local(req->origin, port)))
        return refuse(conn, req, out, 403,
                      "cross-origin request refused: Origin must be http://127.0.0.1:%u, "
                      "http://localhost:%u or http://[::1]:%u",
                      port, port, port);
    /* Browsers say where a request comes from on every request, including
     * the ones that carry no Origin (a GET for an <img> or <script>, a
     * navigation): only this origin's own pages ("same-origin") and what
     * the user typed or bookmarked ("none") may call. A page on another
     * port of localhost is "same-site": it would get the SameSite=Strict
     * cookie attached, and this refuses it. Other clients do not send it. */
    if (present(req->fetch_site) &&
        (req->fetch_site == api_header_bad ||
         (strcmp(req->fetch_site, "same-origin") != 0 && strcmp(req->fetch_site, "none") != 0)))
        return refuse(conn, req, out, 403,
                      "a request from another site's page (Sec-Fetch-Site) is refused: open "
                      "http://127.0.0.1:%u/ yourself",
                      port);
    bool open = req->method != NULL && req->path != NULL && strcmp(req->method, "GET") == 0 &&
                (strcmp(req->path, "/ping") == 0 || strcmp(req->path, "/login") == 0);
    if (open) {
        out->principal = API_PRINCIPAL_NONE;
        return;
    }
    if (present(req->authorization)) {
        const char *token;
        size_t len;
        if (req->authorization == api_header_bad || !api_parse_bearer(req->authorization, &token, &len))
            return refuse(conn, req, out, 401, "the Authorization header must be \"Bearer TOKEN\"");
        out->principal = match_token(a, token, len);
        if (out->principal == API_PRINCIPAL_NONE)
            return refuse(conn, req, out, 401, "wrong token");
        return;
    }
    const char *value;
    size_t len;
    if (present(req->cookie) && req->cookie != api_header_bad &&
        api_cookie_get(req->cookie, a->cookie_name, &value, &len)) {
        out->principal = match_session(a, value, len);
        if (out->principal == API_PRINCIPAL_NONE)
            return refuse(conn, req, out, 401,
                          "the session cookie is not valid (the token changed? log in again)");
        return;
    }
    refuse(conn, req, out, 401,
           "no credential: send \"Authorization: Bearer TOKEN\" ('enclave token' prints it)");
}

void api_conn_identify(struct api_conn *conn, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 || ss.ss_family != AF_UNIX)
        return;
    conn->unix_peer = true;
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
        conn->peer_uid = (unsigned)-1;
        return;
    }
    conn->peer_uid = (unsigned)cred.uid;
    conn->peer_uid_ok = cred.uid == geteuid() || cred.uid == 0;
}

int api_login_code_new(struct api_conn *conn, enum api_principal principal,
                       char out[API_LOGIN_CODE_HEX + 1])
{
    struct api_auth_state *a = &conn->server->auth;
    if (principal != API_PRINCIPAL_AGENT && principal != API_PRINCIPAL_OPERATOR)
        return -1;
    unsigned char raw[API_LOGIN_CODE_HEX / 2];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    uint64_t now = api_now_ms();
    /* a free or expired slot, else the one that expires first */
    size_t slot = 0;
    for (size_t i = 0; i < API_LOGIN_CODES; i++) {
        if (a->login_codes[i].code[0] == '\0' || a->login_codes[i].expires_ms <= now) {
            slot = i;
            break;
        }
        if (a->login_codes[i].expires_ms < a->login_codes[slot].expires_ms)
            slot = i;
    }
    encode_hex(raw, sizeof(raw), a->login_codes[slot].code);
    OPENSSL_cleanse(raw, sizeof(raw));
    a->login_codes[slot].principal = principal;
    a->login_codes[slot].expires_ms = now + API_LOGIN_CODE_TTL_S * 1000ull;
    memcpy(out, a->login_codes[slot].code, API_LOGIN_CODE_HEX + 1);
    return 0;
}

/* The principal of a valid, unexpired code, which is used up; NONE otherwise.
 * Every slot is compared, in constant time. */
static enum api_principal take_login_code(struct api_auth_state *a, const char *code)
{
    size_t len = strlen(code);
    uint64_t now = api_now_ms();
    enum api_principal p = API_PRINCIPAL_NONE;
    for (size_t i = 0; i < API_LOGIN_CODES; i++) {
        bool match = secret_equal(code, len, a->login_codes[i].code);
        if (match && a->login_codes[i].expires_ms > now)
            p = a->login_codes[i].principal;
        if (match)
            OPENSSL_cleanse(&a->login_codes[i], sizeof(a->login_codes[i]));
    }
    return p;
}

void api_login(struct api_conn *conn, const char *query, struct api_login_reply *out)
{
    struct api_auth_state *a = &conn->server->auth;
    memset(out, 0, sizeof(*out));
    char token[API_TOKEN_MAX + 1];
    enum api_principal p = API_PRINCIPAL_NONE;
    if (api_query_get(query, "token", token, sizeof(token)) == 0)
        p = match_token(a, token, strlen(token));
    else if (api_query_get(query, "code", token, sizeof(token)) == 0)
        p = take_login_code(a, token);
    OPENSSL_cleanse(token, sizeof(token));
    if (p == API_PRINCIPAL_NONE) {
        struct api_admit_request req = {.transport = "http", .method = "GET", .path = "/login"};
        struct api_admit_result res;
        refuse(conn, &req, &res, 401, "login with a missing or wrong token or code");
        out->status = 401;
        out->body = "the token or code is missing, wrong, used or expired\n";
        return;
    }
    const char *value = p == API_PRINCIPAL_OPERATOR ? a->operator_session : a->agent_session;
    out->status = 303;
    snprintf(out->headers, sizeof(out->headers),
             "Location: /\r\nSet-Cookie: %s=%s; HttpOnly; SameSite=Strict; Path=/\r\n"
             "Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n",
             a->cookie_name, value);
    out->body = "logged in\n";
}

const char *api_call_principal(const struct api_call *call)
{
    return api_principal_name(call->principal);
}

const char *api_exchange_principal(const struct api_exchange *exchange)
{
    return api_principal_name(exchange->principal);
}

/* ------------------------------------------------------------------ token files */

static int read_token_fd(int fd, const char *path, char *out, size_t size, struct error *err)
{
    char buf[TOKEN_FILE_MAX + 1];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return error_set_errno(err, ERR_INTERNAL, "reading %s", path);
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == sizeof(buf) - 1)
            return error_set(err, ERR_INVALID_ARGUMENT, "%s is too large to be a token", path);
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                       buf[len - 1] == '\t'))
        len--;
    buf[len] = '\0';
    if (!api_token_valid(buf, len)) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "%s does not hold a token (%d-%d characters of A-Z a-z 0-9 - . _ ~ + / =); "
                         "delete it to have a new one made",
                         path, API_TOKEN_MIN, API_TOKEN_MAX);
    }
    if (len + 1 > size)
        return error_set(err, ERR_INTERNAL, "token buffer too small");
    memcpy(out, buf, len + 1);
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

int api_token_read(const char *path, char *out, size_t size, struct error *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return error_set_errno(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_PERMISSION_DENIED,
                               "cannot read the token %s", path);
    return read_token_fd(fd, path, out, size, err);
}

/* A new token written to path: over what is there (no_replace false), or
 * only where there is nothing (ERR_ALREADY_EXISTS otherwise). Never through
 * a symbolic link: the readers refuse one too. */
static int write_new_token(const char *path, bool no_replace, char *out, size_t size,
                           struct error *err)
{
    if (size < 2 * API_TOKEN_BYTES + 1)
        return error_set(err, ERR_INTERNAL, "token buffer too small");
    unsigned char raw[API_TOKEN_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return error_set(err, ERR_INTERNAL, "the random number generator failed");
    char hex[2 * API_TOKEN_BYTES + 2];
    encode_hex(raw, sizeof(raw), hex);
    OPENSSL_cleanse(raw, sizeof(raw));
    hex[2 * API_TOKEN_BYTES] = '\n';
    hex[2 * API_TOKEN_BYTES + 1] = '\0';
    const struct file_replace_options opt = {
        .mode = 0600, .no_replace = no_replace, .links = FILE_LINK_REFUSE
    };
    int rc = file_replace(path, hex, 2 * API_TOKEN_BYTES + 1, &opt, err);
    if (rc == 0) {
        memcpy(out, hex, 2 * API_TOKEN_BYTES);
        out[2 * API_TOKEN_BYTES] = '\0';
    }
    OPENSSL_cleanse(hex, sizeof(hex));
    return rc;
}

int api_token_create(const char *path, char *out, size_t size, struct error *err)
{
    return write_new_token(path, false, out, size, err);
}

int api_token_load_or_create(const char *path, char *out, size_t size, struct error *err)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd >= 0) {
            struct stat st;
            if (fstat(fd, &st) < 0)
                return error_set_errno(err, ERR_INTERNAL, "stat %s", path);
            if (!S_ISREG(st.st_mode))
                return error_set(err, ERR_FAILED_PRECONDITION, "%s is not a regular file", path);
            if (st.st_uid != geteuid())
                return error_set(err, ERR_FAILED_PRECONDITION,
                                 "%s belongs to uid %u, not to this user (uid %u)", path,
                                 (unsigned)st.st_uid, (unsigned)geteuid());
            if (st.st_mode & 077)
                return error_set(err, ERR_FAILED_PRECONDITION,
                                 "%s is readable or writable by others (mode %04o): delete it "
                                 "(a new token is made at start) or chmod 600 it",
                                 path, (unsigned)(st.st_mode & 07777));
            return read_token_fd(fd, path, out, size, err);
        }
        if (errno != ENOENT)
            return error_set_errno(err, ERR_FAILED_PRECONDITION, "cannot open %s", path);
        /* not over a token someone made meanwhile: that one is read next */
        struct error werr;
        if (write_new_token(path, true, out, size, &werr) == 0)
            return 0;
        if (werr.kind != ERR_ALREADY_EXISTS) {
            if (err != NULL)
                *err = werr;
            return -1;
        }
    }
    return error_set(err, ERR_INTERNAL, "%s keeps changing", path);
}
