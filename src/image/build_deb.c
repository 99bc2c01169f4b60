/* Debian control stanzas as printed by `apt-cache show`: the fields the
 * builder needs, and dependency lists reduced to package names. */
#include "image/image.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"

#define DEB_MAX_TEXT (64u << 20)
#define DEB_MAX_STANZAS 20000
#define DEB_MAX_GROUPS 1024
#define DEB_MAX_ALTERNATIVES 64
#define DEB_MAX_NAME 128

static void free_groups(struct image_deb_group *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < g[i].n_names; j++)
            free(g[i].names[j]);
        free(g[i].names);
    }
    free(g);
}

void image_deb_clear(struct image_deb *d)
{
    free(d->package);
    free(d->version);
    free(d->architecture);
    free(d->filename);
    free(d->sha256);
    free_groups(d->depends, d->n_depends);
    memset(d, 0, sizeof(*d));
}

void image_deb_free_array(struct image_deb *debs, size_t n)
{
    if (debs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        image_deb_clear(&debs[i]);
    free(debs);
}

/* Debian policy 5.6.1: lowercase letters, digits, + - . ; at least two
 * characters, starting with a letter or digit. */
static bool valid_package_name(const char *s, size_t n)
{
    if (n < 2 || n > DEB_MAX_NAME || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '+' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static bool valid_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n'))
        p++;
    return p;
}

/* "a (>= 1) | b:any, c [amd64]" -> groups of names. */
static int parse_depends(const char *v, size_t len, struct image_deb *d, struct error *err)
{
    const char *p = v, *end = v + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *gend = comma ? comma : end;
        if (d->n_depends >= DEB_MAX_GROUPS)
            return error_set(err, ERR_OUT_OF_RANGE, "%s: too many dependencies", d->package ? d->package : "?");
        struct image_deb_group *ng = realloc(d->depends, (d->n_depends + 1) * sizeof(*ng));
        if (ng == NULL)
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        d->depends = ng;
        struct image_deb_group *g = &d->depends[d->n_depends++];
        memset(g, 0, sizeof(*g));
        const char *q = p;
        for (;;) {
            const char *bar = memchr(q, '|', (size_t)(gend - q));
            const char *aend = bar ? bar : gend;
            const char *s = skip_space(q, aend);
            const char *e = s;
            while (e < aend && *e != ' ' && *e != '\t' && *e != '\n' && *e != '(' && *e != ':' && *e != '[' &&
                   *e != '<')
                e++;
            if (!valid_package_name(s, (size_t)(e - s)))
                return error_set(err, ERR_INVALID_ARGUMENT, "bad package name in dependency \"%.*s\"",
                                 (int)((aend - q) > 80 ? 80 : (aend - q)), q);
            if (g->n_names >= DEB_MAX_ALTERNATIVES)
                return error_set(err, ERR_OUT_OF_RANGE, "too many alternatives in one dependency");
            char **nn = realloc(g->names, (g->n_names + 1) * sizeof(*nn));
            if (nn == NULL)
                return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
            g->names = nn;
            if ((g->names[g->n_names] = strndup(s, (size_t)(e - s))) == NULL)
                return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
            g->n_names++;
            if (bar == NULL)
                break;
            q = bar + 1;
        }
        p = comma ? comma + 1 : end;
    }
    return 0;
}

static int set_field(char **dst, const char *v, size_t n, const char *name, struct error *err)
{
    if (*dst != NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "field %s appears twice in a stanza", name);
    if ((*dst = strndup(v, n)) == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    if (strlen(*dst) != n)
        return error_set(err, ERR_INVALID_ARGUMENT, "field %s holds a NUL byte", name);
    return 0;
}

/* One field "Name: value" whose value may continue on lines starting with
 * a space or tab; the returned value keeps those newlines. */
static int handle_field(struct image_deb *d, const char *name, size_t nlen, const char *v, size_t vlen,
                        struct error *err)
{
#define IS(lit) (nlen == sizeof(lit) - 1 && strncasecmp(name, lit, nlen) == 0)
    if (IS("Package"))
        return set_field(&d->package, v, vlen, "Package", err);
    if (IS("Version"))
        return set_field(&d->version, v, vlen, "Version", err);
    if (IS("Architecture"))
        return set_field(&d->architecture, v, vlen, "Architecture", err);
    if (IS("Filename"))
        return set_field(&d->filename, v, vlen, "Filename", err);
    if (IS("SHA256"))
        return set_field(&d->sha256, v, vlen, "SHA256", err);
    if (IS("Size")) {
        if (vlen == 0 || vlen > 15)
            return error_set(err, ERR_INVALID_ARGUMENT, "bad Size field");
        uint64_t s = 0;
        for (size_t i = 0; i < vlen; i++) {
            if (!isdigit((unsigned char)v[i]))
                return error_set(err, ERR_INVALID_ARGUMENT, "bad Size field");
            s = s * 10 + (uint64_t)(v[i] - '0');
        }
        d->size = s;
        return 0;
    }
    if (IS("Depends") || IS("Pre-Depends"))
        return parse_depends(v, vlen, d, err);
    return 0;
#undef IS
}

static int finish_stanza(struct image_deb *d, struct error *err)
{
    if (d->package == NULL || d->version == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "stanza without Package or Version");
    if (!valid_package_name(d->package, strlen(d->package)))
        return error_set(err, ERR_INVALID_ARGUMENT, "bad package name \"%.80s\"", d->package);
    if (!valid_token(d->version, 256))
        return error_set(err, ERR_INVALID_ARGUMENT, "%s: bad version", d->package);
    if (d->architecture != NULL && !valid_token(d->architecture, 32))
        return error_set(err, ERR_INVALID_ARGUMENT, "%s: bad architecture", d->package);
    if (d->filename != NULL && (!valid_token(d->filename, 1024) || strstr(d->filename, "..") != NULL))
        return error_set(err, ERR_INVALID_ARGUMENT, "%s: bad Filename", d->package);
    if (d->sha256 != NULL) {
        size_t n = strlen(d->sha256);
        bool ok = n == 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = isxdigit((unsigned char)d->sha256[i]) && !isupper((unsigned char)d->sha256[i]);
        if (!ok)
            return error_set(err, ERR_INVALID_ARGUMENT, "%s: bad SHA256", d->package);
    }
    return 0;
}

int image_deb_parse_stanzas(const char *text, size_t len, struct image_deb **out, size_t *n_out,
                            struct error *err)
{
    *out = NULL;
    *n_out = 0;
    if (len > DEB_MAX_TEXT)
        return error_set(err, ERR_OUT_OF_RANGE, "package index text is too large");
    struct image_deb *debs = NULL;
    size_t n = 0;
    bool open = false;
    const char *p = text, *end = text + len;
    int rc = 0;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *lend = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        bool blank = true;
        for (const char *c = p; c < lend; c++)
            if (*c != ' ' && *c != '\t' && *c != '\r')
                blank = false;
        if (blank) {
            if (open)
                rc = finish_stanza(&debs[n - 1], err);
            open = false;
            p = next;
            continue;
        }
        if (*p == ' ' || *p == '\t') {
            if (!open)
                rc = error_set(err, ERR_INVALID_ARGUMENT, "continuation line outside a field");
            p = next; /* continuation of a field we do not keep */
            continue;
        }
        const char *colon = memchr(p, ':', (size_t)(lend - p));
        if (colon == NULL || colon == p) {
            rc = error_set(err, ERR_INVALID_ARGUMENT, "line without a field name: \"%.*s\"",
                           (int)((lend - p) > 60 ? 60 : (lend - p)), p);
            break;
        }
        if (!open) {
            if (n >= DEB_MAX_STANZAS) {
                rc = error_set(err, ERR_OUT_OF_RANGE, "more than %d stanzas", DEB_MAX_STANZAS);
                break;
            }
            struct image_deb *nd = realloc(debs, (n + 1) * sizeof(*nd));
            if (nd == NULL) {
                rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
                break;
            }
            debs = nd;
            memset(&debs[n++], 0, sizeof(*debs));
            open = true;
        }
        /* the value runs to the end of the last continuation line */
        const char *vend = lend;
        while (next < end && (*next == ' ' || *next == '\t')) {
            const char *nl2 = memchr(next, '\n', (size_t)(end - next));
            vend = nl2 ? nl2 : end;
            next = nl2 ? nl2 + 1 : end;
        }
        const char *v = skip_space(colon + 1, vend);
        const char *ve = vend;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r' || ve[-1] == '\n'))
            ve--;
        rc = handle_field(&debs[n - 1], p, (size_t)(colon - p), v, (size_t)(ve - v), err);
        p = next;
    }
    if (rc == 0 && open)
        rc = finish_stanza(&debs[n - 1], err);
    if (rc < 0) {
        image_deb_free_array(debs, n);
        return -1;
    }
    *out = debs;
    *n_out = n;
    return 0;
}

/* ------------------------------------------------------------ update-alternatives */

static bool alt_path_ok(const char *p)
{
    if (p[0] != '/' || strlen(p) > IMAGE_MAX_PATH * 4)
        return false;
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s < 0x21 || *s == '\\' || *s == '$' || *s == '`' || *s == '"' || *s == '\'')
            return false;
    size_t n = strlen(p);
    bool dot_end = (n >= 2 && strcmp(p + n - 2, "/.") == 0) || (n >= 3 && strcmp(p + n - 3, "/..") == 0);
    return !dot_end && strstr(p, "/../") == NULL && strstr(p, "/./") == NULL && strstr(p, "//") == NULL;
}

int image_parse_alternatives(const char *text, size_t len, struct image_alternative **out, size_t *n_out,
                             struct error *err)
{
    *out = NULL;
    *n_out = 0;
    /* Join continuation lines, then look at one logical line at a time. */
    char *joined = malloc(len + 1);
    if (joined == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0') {
            free(joined);
            return error_set(err, ERR_INVALID_ARGUMENT, "a maintainer script with a NUL byte");
        }
        if (text[i] == '\\' && i + 1 < len && text[i + 1] == '\n') {
            i++;
            joined[j++] = ' ';
            continue;
        }
        joined[j++] = text[i];
    }
    joined[j] = '\0';
    size_t cap = 0;
    int rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(joined, "\n", &save); line != NULL && rc == 0; line = strtok_r(NULL, "\n", &save)) {
        char *tok[16];
        size_t nt = 0;
        char *ts = NULL;
        for (char *t = strtok_r(line, " \t;", &ts); t != NULL && nt < 16; t = strtok_r(NULL, " \t;", &ts))
            tok[nt++] = t;
        for (size_t k = 0; k + 4 < nt; k++) {
            if (strcmp(tok[k], "update-alternatives") != 0)
                continue;
            size_t m = k + 1;
            while (m < nt && strncmp(tok[m], "--", 2) == 0 && strcmp(tok[m], "--install") != 0)
                m++; /* --quiet and the like */
            if (m + 4 >= nt || strcmp(tok[m], "--install") != 0)
                break;
            const char *link = tok[m + 1], *name = tok[m + 2], *path = tok[m + 3], *prio = tok[m + 4];
            char *end = NULL;
            long priority = strtol(prio, &end, 10);
            if (*end != '\0' || !alt_path_ok(link) || !alt_path_ok(path) || strlen(name) > 255 ||
                strchr(name, '/') != NULL)
                break; /* not a literal install line (variables, quoting): skipped */
            if (*n_out >= IMAGE_MAX_ALTERNATIVES) {
                rc = error_set(err, ERR_OUT_OF_RANGE, "more than %d alternatives", IMAGE_MAX_ALTERNATIVES);
                break;
            }
            if (*n_out == cap) {
                size_t ncap = cap ? cap * 2 : 4;
                struct image_alternative *grown = realloc(*out, ncap * sizeof(*grown));
                if (grown == NULL) {
                    rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
                    break;
                }
                *out = grown;
                cap = ncap;
            }
            struct image_alternative *a = &(*out)[*n_out];
            a->link = strdup(link);
            a->path = strdup(path);
            a->priority = priority;
            if (a->link == NULL || a->path == NULL) {
                free(a->link);
                free(a->path);
                rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
                break;
            }
            (*n_out)++;
            break;
        }
    }
    free(joined);
    if (rc < 0) {
        image_alternatives_free(*out, *n_out);
        *out = NULL;
        *n_out = 0;
    }
    return rc;
}

void image_alternatives_free(struct image_alternative *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].link);
        free(a[i].path);
    }
    free(a);
}
