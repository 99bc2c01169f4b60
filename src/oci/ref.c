/* Image references, following the grammar of the distribution project's
 * reference package (what skopeo and cosign accept), except that the registry
 * must always be written: no default registry is assumed for a bare name. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/digest.h"
#include "common/encode.h"
#include "http/http.h"
#include "oci/internal.h"

#define REF_TEXT_MAX 1024
#define REF_NAME_MAX 255

bool oci_digest_valid(const char *d)
{
    if (d == NULL || strncmp(d, "sha256:", 7) != 0)
        return false;
    for (int i = 0; i < 64; i++) {
        char c = d[7 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return d[71] == '\0';
}

void oci_digest_of(const void *data, size_t len, char out[72])
{
    memcpy(out, "sha256:", 7);
    digest_sha256_hex(data, len, out + 7);
}

int oci_digest_final(EVP_MD_CTX *ctx, char out[72])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
        return -1;
    memcpy(out, "sha256:", 7);
    encode_hex(md, 32, out + 7);
    return 0;
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool path_component_ok(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    size_t i = 0;
    while (i < n) {
        if (is_lower_alnum(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        if (s[i] == '.') {
            j = i + 1;
        } else if (s[i] == '_') {
            j = i + 1;
            if (j < n && s[j] == '_')
                j++;
        } else if (s[i] == '-') {
            while (j < n && s[j] == '-')
                j++;
        } else {
            return false;
        }
        if (j >= n || !is_lower_alnum(s[j]))
            return false;
        i = j;
    }
    return true;
}

static bool host_label_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

/* host[:port] where host is dotted labels or [ipv6] */
static bool domain_ok(const char *s, size_t n)
{
    size_t host_end = n;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL)
            return false;
        size_t inner = (size_t)(close - s) - 1;
        if (inner == 0 || inner > 45)
            return false;
        for (size_t i = 1; i <= inner; i++)
            if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
                return false;
        host_end = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon != NULL)
            host_end = (size_t)(colon - s);
        size_t start = 0;
        if (host_end == 0)
            return false;
        for (size_t i = 0; i <= host_end; i++) {
            if (i == host_end || s[i] == '.') {
                if (!host_label_ok(s + start, i - start))
                    return false;
                start = i + 1;
            }
        }
    }
    if (host_end == n)
        return true;
    if (s[host_end] != ':' || host_end + 1 >= n || n - host_end - 1 > 5)
        return false;
    unsigned long port = 0;
    for (size_t i = host_end + 1; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        port = port * 10 + (unsigned long)(s[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool tag_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    if (!isalnum((unsigned char)s[0]) && s[0] != '_')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

int oci_ref_parse(const char *text, struct oci_ref *ref, struct error *err)
{
    memset(ref, 0, sizeof(*ref));
    if (text == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "empty image reference");
    size_t len = strlen(text);
    if (len == 0 || len > REF_TEXT_MAX)
        return error_set(err, ERR_INVALID_ARGUMENT, "image reference is empty or too long");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] <= 0x20 || (unsigned char)text[i] >= 0x7f)
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "image reference has a space or control character");
    char buf[REF_TEXT_MAX + 1];
    memcpy(buf, text, len + 1);

    char *at = strchr(buf, '@');
    if (at != NULL) {
        *at = '\0';
        if (!oci_digest_valid(at + 1))
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "bad digest in '%s' (want sha256: and 64 lowercase hex digits)", text);
        memcpy(ref->digest, at + 1, OCI_DIGEST_LEN + 1);
    }
    char *last_slash = strrchr(buf, '/');
    char *colon = strrchr(last_slash ? last_slash : buf, ':');
    if (colon != NULL) {
        *colon = '\0';
        if (!tag_ok(colon + 1))
            return error_set(err, ERR_INVALID_ARGUMENT, "bad tag in image reference '%s'", text);
        memcpy(ref->tag, colon + 1, strlen(colon + 1) + 1);
    }

    /* The registry is always named: no registry is assumed for a bare name. */
    char *name = buf;
    char *slash = strchr(name, '/');
    size_t first_len = slash ? (size_t)(slash - name) : 0;
    bool has_dot_colon = slash && (memchr(name, '.', first_len) || memchr(name, ':', first_len) ||
                                   (first_len > 0 && name[0] == '['));
    bool is_localhost = slash && first_len == 9 && strncmp(name, "localhost", 9) == 0;
    bool has_upper = false;
    for (size_t i = 0; slash && i < first_len; i++)
        if (isupper((unsigned char)name[i]))
            has_upper = true;
    if (!has_dot_colon && !is_localhost && !has_upper)
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "image reference '%s' names no registry: write HOST[:PORT]/NAME[:TAG] "
                         "(for example 127.0.0.1:5000/enclave/guest:v1)",
                         text);
    if (!domain_ok(name, first_len))
        return error_set(err, ERR_INVALID_ARGUMENT, "bad registry host in '%s'", text);
    if (first_len >= sizeof(ref->registry))
        return error_set(err, ERR_INVALID_ARGUMENT, "registry name too long");
    memcpy(ref->registry, name, first_len);
    ref->registry[first_len] = '\0';
    size_t domain_len = first_len;
    name = slash + 1;

    size_t name_len = strlen(name);
    if (name_len == 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "image reference '%s' has no name", text);
    size_t start = 0;
    size_t components = 0;
    for (size_t i = 0; i <= name_len; i++) {
        if (i == name_len || name[i] == '/') {
            if (!path_component_ok(name + start, i - start))
                return error_set(err, ERR_INVALID_ARGUMENT,
                                 "bad repository name in '%s' (lowercase letters, digits, "
                                 "separators . _ __ -)",
                                 text);
            components++;
            start = i + 1;
        }
    }
    (void)components;
    int n = snprintf(ref->repository, sizeof(ref->repository), "%s", name);
    if (n < 0 || (size_t)n >= sizeof(ref->repository) || domain_len + 1 + (size_t)n > REF_NAME_MAX)
        return error_set(err, ERR_INVALID_ARGUMENT, "repository name longer than 255 characters");
    if (ref->tag[0] == '\0' && ref->digest[0] == '\0')
        strcpy(ref->tag, "latest");
    return 0;
}

int oci_ref_format(const struct oci_ref *ref, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s%s%s%s%s", ref->registry, ref->repository,
                     ref->tag[0] ? ":" : "", ref->tag, ref->digest[0] ? "@" : "", ref->digest);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

const char *oci_ref_api_host(const struct oci_ref *ref)
{
    return ref->registry;
}

int oci_ref_identity(const struct oci_ref *ref, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s", ref->registry, ref->repository);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

const char *oci_ref_target(const struct oci_ref *ref)
{
    return ref->digest[0] ? ref->digest : ref->tag;
}

bool oci_ref_is_loopback(const struct oci_ref *ref)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", ref->registry);
    if (host[0] == '[') {
        char *close = strchr(host, ']');
        if (close)
            close[1] = '\0';
    } else {
        char *colon = strchr(host, ':');
        if (colon)
            *colon = '\0';
    }
    return http_host_is_loopback(host);
}
