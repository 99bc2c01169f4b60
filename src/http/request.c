/* What both faces share before a byte is sent: URLs (split, resolve,
 * escape, loopback) and the request head. */
#include "http/internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"

void http_url_release(struct http_url *u)
{
    free(u->target);
    u->target = NULL;
}

int http_url_split(const char *url, struct http_url *out, struct error *err)
{
    struct http_parser_url u;
    memset(out, 0, sizeof(*out));
    http_parser_url_init(&u);
    size_t len = strlen(url);
    if (len == 0 || len > 8192 || http_parser_parse_url(url, len, 0, &u) != 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad URL '%.200s'", url);
    if (!(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST)))
        return error_set(err, ERR_INVALID_ARGUMENT, "URL without scheme or host: '%.200s'", url);
    if (u.field_set & (1 << UF_USERINFO))
        return error_set(err, ERR_INVALID_ARGUMENT, "URL with credentials refused: '%.200s'", url);
    const char *scheme = url + u.field_data[UF_SCHEMA].off;
    size_t scheme_len = u.field_data[UF_SCHEMA].len;
    if (scheme_len == 5 && strncasecmp(scheme, "https", 5) == 0)
        out->tls = true;
    else if (scheme_len == 4 && strncasecmp(scheme, "http", 4) == 0)
        out->tls = false;
    else
        return error_set(err, ERR_INVALID_ARGUMENT, "URL scheme must be http or https: '%.200s'", url);
    size_t host_len = u.field_data[UF_HOST].len;
    if (host_len == 0 || host_len >= sizeof(out->host))
        return error_set(err, ERR_INVALID_ARGUMENT, "bad host in URL '%.200s'", url);
    memcpy(out->host, url + u.field_data[UF_HOST].off, host_len);
    out->host[host_len] = '\0';
    if (u.field_set & (1 << UF_PORT)) {
        if (u.port == 0)
            return error_set(err, ERR_INVALID_ARGUMENT, "bad port in URL '%.200s'", url);
        snprintf(out->port, sizeof(out->port), "%u", (unsigned)u.port);
        out->port_explicit = true;
    } else {
        snprintf(out->port, sizeof(out->port), "%s", out->tls ? "443" : "80");
    }
    const char *path = "/";
    size_t path_len = 1;
    if (u.field_set & (1 << UF_PATH)) {
        path = url + u.field_data[UF_PATH].off;
        path_len = u.field_data[UF_PATH].len;
    }
    size_t query_len = (u.field_set & (1 << UF_QUERY)) ? u.field_data[UF_QUERY].len : 0;
    out->target = malloc(path_len + query_len + 2);
    if (out->target == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    memcpy(out->target, path, path_len);
    size_t n = path_len;
    if (query_len > 0) {
        out->target[n++] = '?';
        memcpy(out->target + n, url + u.field_data[UF_QUERY].off, query_len);
        n += query_len;
    }
    out->target[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out->target[i];
        if (c <= 0x20 || c >= 0x7f) {
            http_url_release(out);
            return error_set(err, ERR_INVALID_ARGUMENT, "URL has characters that need escaping");
        }
    }
    return 0;
}

bool http_host_is_loopback(const char *host)
{
    char buf[256];
    size_t len = strlen(host);
    if (len == 0 || len >= sizeof(buf))
        return false;
    if (host[0] == '[' && host[len - 1] == ']') {
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = '\0';
    } else {
        memcpy(buf, host, len + 1);
    }
    if (strcasecmp(buf, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, buf, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

char *http_query_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
    return out;
}

int http_resolve_url(const char *base, const char *location, char **out, struct error *err)
{
    *out = NULL;
    size_t loc_len = strlen(location);
    if (loc_len == 0 || loc_len > 8192)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad redirect location");
    if (strncasecmp(location, "http://", 7) == 0 || strncasecmp(location, "https://", 8) == 0) {
        *out = strdup(location);
        return *out ? 0 : error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    struct http_url b;
    if (http_url_split(base, &b, err) < 0)
        return -1;
    cleanup_free char *target = b.target;
    b.target = NULL;
    const char *scheme = b.tls ? "https" : "http";
    char authority[300];
    bool v6 = strchr(b.host, ':') != NULL;
    snprintf(authority, sizeof(authority), "%s%s%s%s%s", v6 ? "[" : "", b.host, v6 ? "]" : "",
             b.port_explicit ? ":" : "", b.port_explicit ? b.port : "");
    int n;
    if (location[0] == '/' && location[1] == '/') {
        n = asprintf(out, "%s:%s", scheme, location);
    } else if (location[0] == '/') {
        n = asprintf(out, "%s://%s%s", scheme, authority, location);
    } else {
        /* relative to the base path's folder; the query is not part of it */
        char *q = strchr(target, '?');
        if (q != NULL)
            *q = '\0';
        char *slash = strrchr(target, '/');
        size_t keep = slash ? (size_t)(slash - target) + 1 : 0;
        n = asprintf(out, "%s://%s%.*s%s", scheme, authority, (int)keep, target, location);
    }
    if (n < 0) {
        *out = NULL;
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    return 0;
}


int http_headers_check(const struct http_request *req, struct error *err)
{
    if (req->header_count > 64)
        return error_set(err, ERR_INVALID_ARGUMENT, "too many request headers");
    for (size_t i = 0; i < req->header_count; i++) {
        const char *h = req->headers[i];
        if (strchr(h, ':') == NULL || strpbrk(h, "\r\n") != NULL)
            return error_set(err, ERR_INVALID_ARGUMENT, "bad request header");
    }
    return 0;
}

int http_head_for_request(const struct http_request *req, char **out, size_t *len,
                          struct error *err)
{
    *out = NULL;
    *len = 0;
    if (http_headers_check(req, err) < 0)
        return -1;
    struct http_url u;
    if (http_url_split(req->url, &u, err) < 0)
        return -1;
    int rc = http_head_build(req, &u, req->method, req->headers, req->header_count, true, out,
                             len, err);
    http_url_release(&u);
    return rc;
}

int http_head_build(const struct http_request *req, const struct http_url *u, const char *method,
                    const char *const *headers, size_t header_count, bool send_body, char **out,
                    size_t *len, struct error *err)
{
    *out = NULL;
    FILE *f = open_memstream(out, len);
    if (f == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    bool v6 = strchr(u->host, ':') != NULL;
    fprintf(f, "%s %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n", method, u->target, v6 ? "[" : "",
            u->host, v6 ? "]" : "", u->port_explicit ? ":" : "", u->port_explicit ? u->port : "");
    fprintf(f, "User-Agent: enclave\r\nConnection: close\r\n");
    for (size_t i = 0; i < header_count; i++)
        fprintf(f, "%s\r\n", headers[i]);
    if (send_body && req->body_fd >= 0 && req->body_fd_chunked)
        fprintf(f, "Transfer-Encoding: chunked\r\n\r\n");
    else if (send_body && req->body_fd >= 0)
        fprintf(f, "Content-Length: %llu\r\n\r\n", (unsigned long long)req->body_fd_len);
    else if (send_body && req->body != NULL)
        fprintf(f, "Content-Length: %zu\r\n\r\n", req->body_len);
    else if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        fprintf(f, "\r\n");
    else
        fprintf(f, "Content-Length: 0\r\n\r\n");
    if (fclose(f) != 0 || *out == NULL) {
        free(*out);
        *out = NULL;
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    return 0;
}
