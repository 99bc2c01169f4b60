/* Hand-written C for the bench policy: same rules, same messages, same order
 * of reasons (sorted), using the same glob and regex engines. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego_native.h"
#include "rego/glob.h"
#include "rego/re.h"

static struct rego_re *net_tools;

static const char *exec_allow[] = { "python3", "/usr/bin/python3", "/usr/bin/python3.11", "node", "/usr/bin/node" };
static const char *env_allow[] = { "PATH", "HOME", "LANG", "PYTHONPATH", "PYTHONHASHSEED" };
static const char *write_globs[] = { "/workspace/**", "/tmp/**" };
static const char *work_dirs[] = { "/workspace", "/workspace/**", "/tmp", "/tmp/**" };
static const char *read_deny_globs[] = { "/etc/shadow", "/proc/*/environ", "/root/**", "/home/*/.ssh/**" };
static const char *egress_hosts[] = { "pypi.org", "*.pythonhosted.org", "api.*.example.com" };
static const char *private_nets[] = { "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16" };

#define N(a) (sizeof(a) / sizeof((a)[0]))

int rego_native_init(void)
{
    const char *pat = "(?i)\\b(curl|wget|nc)\\b\\s";
    return rego_re_compile(pat, strlen(pat), &net_tools, NULL, 0);
}

static bool in_list(const char *s, const char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* Globs compiled once, at first use, like the regex. */
#define MAX_GLOBS 32
static struct {
    const char *pattern;
    char delim;
    struct rego_glob *g;
} globs_cache[MAX_GLOBS];

static struct rego_glob *glob_for(const char *pattern, char delim)
{
    for (int i = 0; i < MAX_GLOBS; i++) {
        if (globs_cache[i].pattern == pattern && globs_cache[i].delim == delim)
            return globs_cache[i].g;
        if (!globs_cache[i].pattern) {
            if (rego_glob_compile(pattern, strlen(pattern), &delim, 1, &globs_cache[i].g) < 0)
                return NULL;
            globs_cache[i].pattern = pattern;
            globs_cache[i].delim = delim;
            return globs_cache[i].g;
        }
    }
    return NULL;
}

static bool glob_any(const char *s, const char **globs, size_t n, char delim)
{
    for (size_t i = 0; i < n; i++) {
        struct rego_glob *g = glob_for(globs[i], delim);
        if (g && rego_glob_exec(g, s, strlen(s)) == 1)
            return true;
    }
    return false;
}

static bool cidr_contains(const char *cidr, const char *ip)
{
    char net[64];
    const char *slash = strchr(cidr, '/');
    if (!slash || (size_t)(slash - cidr) >= sizeof net)
        return false;
    memcpy(net, cidr, (size_t)(slash - cidr));
    net[slash - cidr] = 0;
    int bits = atoi(slash + 1);
    struct in_addr a, b;
    if (inet_pton(AF_INET, net, &a) != 1 || inet_pton(AF_INET, ip, &b) != 1)
        return false;
    uint32_t mask = bits ? htonl(~0u << (32 - bits)) : 0;
    return (a.s_addr & mask) == (b.s_addr & mask);
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

__attribute__((format(printf, 2, 0)))
static void add(json_t *reasons, const char *fmt, const char *a, const char *b)
{
    char buf[512];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(buf, sizeof buf, fmt, a, b);
#pragma GCC diagnostic pop
    json_array_append_new(reasons, json_string(buf));
}

static int cmp_json_str(const void *x, const void *y)
{
    return strcmp(json_string_value(*(json_t *const *)x), json_string_value(*(json_t *const *)y));
}

json_t *rego_native_decision(const json_t *input)
{
    const char *action = str(input, "action");
    const json_t *req = json_object_get(input, "request");
    const json_t *intent = json_object_get(json_object_get(input, "session"), "intent");
    const char *cat = str(intent, "action_category");
    bool read_only = cat && strcmp(cat, "read_only_analysis") == 0;
    json_t *deny = json_array();
    char num[2][32];
    if (action && strcmp(action, "session.start") == 0) {
        json_t *v = json_object_get(req, "vcpu"), *m = json_object_get(req, "memory_mb");
        if (json_is_number(v) && json_number_value(v) > 4) {
            snprintf(num[0], sizeof num[0], "%lld", (long long)json_integer_value(v));
            add(deny, "vcpu %s exceeds %s", num[0], "4");
        }
        if (json_is_number(m) && json_number_value(m) > 4096) {
            snprintf(num[1], sizeof num[1], "%lld", (long long)json_integer_value(m));
            add(deny, "memory_mb %s exceeds %s", num[1], "4096");
        }
    }
    if (action && strcmp(action, "exec") == 0) {
        const json_t *argv = json_object_get(req, "argv");
        const char *argv0 = json_string_value(json_array_get(argv, 0));
        if (argv0 && !in_list(argv0, exec_allow, N(exec_allow)))
            add(deny, "program \"%s\" is not allowed", argv0, NULL);
        const char *name;
        json_t *val;
        json_object_foreach((json_t *)json_object_get(req, "env"), name, val)
            if (!in_list(name, env_allow, N(env_allow)))
                add(deny, "environment variable \"%s\" is not allowed", name, NULL);
        const char *cwd = str(req, "cwd");
        if (cwd && !glob_any(cwd, work_dirs, N(work_dirs), '/'))
            add(deny, "working directory \"%s\" is outside the workspace", cwd, NULL);
        size_t i;
        json_t *arg;
        json_array_foreach(argv, i, arg) {
            const char *s = json_string_value(arg);
            if (s && rego_re_is_match(net_tools, s, strlen(s)) == 1) {
                add(deny, "network tools in arguments are not allowed", NULL, NULL);
                break;
            }
        }
    }
    const char *path = str(req, "path");
    if (action && strcmp(action, "file.write") == 0 && path && !glob_any(path, write_globs, N(write_globs), '/'))
        add(deny, "writing \"%s\" is outside the workspace", path, NULL);
    if (action && (strcmp(action, "file.read") == 0 || strcmp(action, "file.write") == 0) && path &&
        strstr(path, ".."))
        add(deny, "paths may not contain ..", NULL, NULL);
    if (action && strcmp(action, "file.read") == 0 && path && glob_any(path, read_deny_globs, N(read_deny_globs), '/'))
        add(deny, "reading \"%s\" is forbidden", path, NULL);
    if (read_only && action && (strcmp(action, "file.write") == 0 || strcmp(action, "net.connect") == 0))
        add(deny, "this session declared read-only analysis", NULL, NULL);
    if (action && strcmp(action, "net.connect") == 0) {
        const char *host = str(req, "host"), *ip = str(req, "ip");
        if (host && !glob_any(host, egress_hosts, N(egress_hosts), '.'))
            add(deny, "host \"%s\" is not on the egress list", host, NULL);
        for (size_t i = 0; ip && i < N(private_nets); i++)
            if (cidr_contains(private_nets[i], ip))
                add(deny, "address %s is in private range %s", ip, private_nets[i]);
        json_int_t port = json_integer_value(json_object_get(req, "port"));
        if (json_object_get(req, "port") && port != 80 && port != 443) {
            snprintf(num[0], sizeof num[0], "%lld", (long long)port);
            add(deny, "port %s is not allowed", num[0], NULL);
        }
    }
    json_t *d = json_object();
    size_t n = json_array_size(deny);
    if (n > 0) {
        /* deny is a set: sorted, without duplicates */
        json_t **items = malloc(sizeof *items * n);
        for (size_t i = 0; i < n; i++)
            items[i] = json_array_get(deny, i);
        qsort(items, n, sizeof *items, cmp_json_str);
        json_t *sorted = json_array();
        for (size_t i = 0; i < n; i++)
            if (i == 0 || strcmp(json_string_value(items[i]), json_string_value(items[i - 1])) != 0)
                json_array_append(sorted, items[i]);
        free(items);
        json_object_set_new(d, "allow", json_false());
        json_object_set_new(d, "reasons", sorted);
    } else if (action && (strcmp(action, "session.start") == 0 || strcmp(action, "exec") == 0 ||
                          strcmp(action, "file.read") == 0 || strcmp(action, "file.write") == 0 ||
                          strcmp(action, "net.connect") == 0)) {
        json_t *ob = json_object();
        if (strcmp(action, "exec") == 0) {
            json_t *t = json_object_get(req, "timeout_s");
            json_int_t v = t ? json_integer_value(t) : 120;
            json_object_set_new(ob, "timeout_s", json_integer(v < 120 ? v : 120));
        }
        json_object_set_new(d, "allow", json_true());
        json_object_set_new(d, "reasons", json_array());
        json_object_set_new(d, "obligations", ob);
    } else {
        json_object_set_new(d, "allow", json_false());
        json_object_set_new(d, "reasons", json_pack("[s]", "no rule allows this action"));
    }
    json_decref(deny);
    return d;
}
