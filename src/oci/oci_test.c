/* Manifest, index, guest config and header parsing, with hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oci/internal.h"

#define D1 "sha256:09f675d3409814231c2bd2c95c1d3f2b8e0c3e0f34e8baaf7258913db55515d9"
#define D2 "sha256:73bfdc0b691e6134ae2ae754b661fc56bf96fe85fc300198c63d528422a25830"
#define D3 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char *guest_manifest =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"artifactType\":\"application/vnd.enclave.guest.v1\","
    "\"config\":{\"mediaType\":\"application/vnd.enclave.guest.config.v1+json\",\"digest\":\"" D1
    "\",\"size\":50},"
    "\"layers\":[{\"mediaType\":\"application/vnd.enclave.kernel\",\"digest\":\"" D2
    "\",\"size\":7,\"annotations\":{\"org.opencontainers.image.title\":\"vmlinuz\",\"org.enclave.role\":\"kernel\"}},"
    "{\"mediaType\":\"application/vnd.enclave.initramfs\",\"digest\":\"" D3
    "\",\"size\":0,\"annotations\":{\"org.opencontainers.image.title\":\"initramfs.cpio\"}}]}";

static struct oci_manifest *parse_manifest(const char *json, struct error *err, int *ret)
{
    struct oci_manifest *m = calloc(1, sizeof(*m));
    *ret = oci_manifest_parse(json, strlen(json), m, err);
    return m;
}

static void free_manifest(struct oci_manifest *m)
{
    oci_manifest_release(m);
    free(m);
}

static void test_manifest_good(void **state)
{
    (void)state;
    struct error err = {0};
    int ret;
    struct oci_manifest *m = parse_manifest(guest_manifest, &err, &ret);
    assert_int_equal(ret, 0);
    assert_int_equal(m->layer_count, 2);
    assert_string_equal(m->layers[0].title, "vmlinuz");
    assert_string_equal(m->layers[0].role, "kernel");
    assert_int_equal(m->layers[0].size, 7);
    assert_int_equal(oci_manifest_check_guest(m, &err), 0);
    assert_string_equal(oci_layer_file_name(&m->layers[1]), "initramfs.cpio");
    free_manifest(m);
}

/* Replaces the first occurrence of `from` in the good manifest by `to` and expects refusal. */
static void mutated(const char *from, const char *to, bool parse_ok, const char *needle)
{
    char buf[8192];
    const char *at = strstr(guest_manifest, from);
    assert_non_null(at);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - guest_manifest), guest_manifest, to,
             at + strlen(from));
    struct error err = {0};
    int ret;
    struct oci_manifest *m = parse_manifest(buf, &err, &ret);
    if (parse_ok) {
        assert_int_equal(ret, 0);
        ret = oci_manifest_check_guest(m, &err);
    }
    if (ret == 0)
        fail_msg("accepted: %s", buf);
    if (needle && strstr(err.message, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err.message, needle);
    free_manifest(m);
}

static void test_manifest_hostile(void **state)
{
    (void)state;
    mutated("\"schemaVersion\":2", "\"schemaVersion\":1", false, "schemaVersion");
    mutated("\"schemaVersion\":2", "\"schemaVersion\":\"2\"", false, "schemaVersion");
    mutated("\"size\":7", "\"size\":-7", false, "size");
    mutated("\"size\":7", "\"size\":7.5", false, "size");
    mutated("\"size\":7", "\"size\":\"7\"", false, "size");
    mutated(D2, "sha256:abc", false, "digest");
    mutated(D2, "sha512:" "73bfdc0b691e6134ae2ae754b661fc56bf96fe85fc300198c63d528422a25830", false,
            "digest");
    mutated("\"layers\":[", "\"layers\":{\"a\":[", false, NULL);
    mutated("application/vnd.enclave.kernel", "text/plain", true, "media type");
    mutated("application/vnd.enclave.kernel", "application/vnd.enclave.kernel.v9", true,
            "does not know");
    mutated("application/vnd.enclave.kernel", "no-slash", false, "media type");
    mutated("application/vnd.enclave.guest.config.v1+json", "application/vnd.oci.image.config.v1+json",
            true, "not an Enclave guest");
    mutated("\"vmlinuz\"", "\"../../etc/passwd\"", true, "unsafe");
    mutated("\"vmlinuz\"", "\"manifest.json\"", true, "unsafe");
    mutated("\"vmlinuz\"", "\"initramfs.cpio\"", true, "two layers");
    mutated("\"org.enclave.role\":\"kernel\"", "\"org.enclave.role\":\"vmm\"", true, "role");
    mutated("application/vnd.enclave.initramfs", "application/vnd.enclave.kernel", true,
            "two kernel");
    mutated("\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"",
            "\"mediaType\":\"application/vnd.oci.image.index.v1+json\"", false, "not an image");
    mutated("\"artifactType\":\"application/vnd.enclave.guest.v1\"",
            "\"artifactType\":\"application/x-other\"", true, "artifact type");
    /* duplicate keys are ambiguous: refuse */
    mutated("\"schemaVersion\":2,", "\"schemaVersion\":2,\"schemaVersion\":2,", false, NULL);
    /* a config blob too big to read into memory */
    mutated("\"size\":50", "\"size\":99999999999", true, "too big");
}

static void test_manifest_limits(void **state)
{
    (void)state;
    struct error err = {0};
    /* over the size limit before parsing */
    size_t big = OCI_MANIFEST_MAX + 1;
    char *buf = malloc(big);
    memset(buf, ' ', big);
    struct oci_manifest *m = calloc(1, sizeof(*m));
    assert_int_equal(oci_manifest_parse(buf, big, m, &err), -1);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    free(buf);
    /* too many layers */
    size_t cap = 200000;
    buf = malloc(cap);
    size_t n = (size_t)snprintf(buf, cap,
                                "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
                                "\",\"size\":1},\"layers\":[");
    for (int i = 0; i < OCI_MAX_LAYERS + 1; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":1}",
                              i ? "," : "");
    snprintf(buf + n, cap - n, "]}");
    assert_int_equal(oci_manifest_parse(buf, strlen(buf), m, &err), -1);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    free(buf);
    /* garbage and truncation */
    const char *bad[] = {"", "null", "[]", "{", "{\"schemaVersion\":2}", "\"x\"",
                         "{\"schemaVersion\":2,\"config\":null,\"layers\":[]}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(oci_manifest_parse(bad[i], strlen(bad[i]), m, &err), -1);
    for (size_t cut = 0; cut < strlen(guest_manifest); cut += 7)
        assert_int_equal(oci_manifest_parse(guest_manifest, cut, m, &err), -1);
    free(m);
}

static void test_index(void **state)
{
    (void)state;
    struct error err = {0};
    struct oci_index *idx = calloc(1, sizeof(*idx));
    const char *good =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D1
        "\",\"size\":10,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}},"
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D2
        "\",\"size\":11,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";
    assert_int_equal(oci_index_parse(good, strlen(good), idx, &err), 0);
    assert_int_equal(idx->count, 2);
    assert_string_equal(idx->manifests[1].architecture, "amd64");
    assert_string_equal(idx->manifests[1].digest, D2);
    oci_index_release(idx);
    const char *bad[] = {
        "{\"schemaVersion\":2,\"manifests\":{}}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"manifests\":[]}",
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":1,\"platform\":[]}]}",
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":1,\"annotations\":{\"org.opencontainers.image.title\":7}}]}",
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\"}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (oci_index_parse(bad[i], strlen(bad[i]), idx, &err) == 0)
            fail_msg("accepted %s", bad[i]);
    free(idx);
}

static void test_guest_config(void **state)
{
    (void)state;
    struct error err = {0};
    struct oci_guest_config cfg;
    const char *good = "{\"kernel_cmdline\":\"console=ttyS0 panic=-1\",\"guest_protocol\":1,"
                       "\"packages\":[{\"name\":\"python3\",\"version\":\"3.11\"}]}";
    assert_int_equal(oci_guest_config_parse(good, strlen(good), &cfg, &err), 0);
    assert_string_equal(cfg.kernel_cmdline, "console=ttyS0 panic=-1");
    assert_int_equal(cfg.guest_protocol, 1);
    assert_non_null(cfg.packages_json);
    oci_guest_config_release(&cfg);
    const char *bad[] = {
        "{\"guest_protocol\":1}",
        "{\"kernel_cmdline\":\"x\"}",
        "{\"kernel_cmdline\":\"x\",\"guest_protocol\":0}",
        "{\"kernel_cmdline\":\"x\\ny\",\"guest_protocol\":1}",
        "{\"kernel_cmdline\":\"x\",\"guest_protocol\":1,\"packages\":[1]}",
        "{\"kernel_cmdline\":\"x\\u0000y\",\"guest_protocol\":1}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (oci_guest_config_parse(bad[i], strlen(bad[i]), &cfg, &err) == 0)
            fail_msg("accepted %s", bad[i]);
}

static void test_challenge(void **state)
{
    (void)state;
    struct error err = {0};
    struct oci_bearer_challenge c;
    assert_int_equal(oci_bearer_challenge_parse(
                         "Bearer realm=\"https://auth.example/token\",service=\"registry.example\","
                         "scope=\"repository:a/b:pull,push\"",
                         &c, &err),
                     0);
    assert_string_equal(c.realm, "https://auth.example/token");
    assert_string_equal(c.service, "registry.example");
    assert_string_equal(c.scope, "repository:a/b:pull,push");
    assert_int_equal(oci_bearer_challenge_parse("bearer  realm=http://x/t , service = s", &c, &err),
                     0);
    assert_string_equal(c.realm, "http://x/t");
    assert_string_equal(c.service, "s");
    assert_int_equal(oci_bearer_challenge_parse("Bearer realm=\"a\\\"b\"", &c, &err), 0);
    assert_string_equal(c.realm, "a\"b");
    assert_int_equal(oci_bearer_challenge_parse("Basic realm=\"x\"", &c, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    const char *bad[] = {"Bearer", "Bearer service=x", "Bearer realm=\"unterminated",
                         "Bearer =x", "Bearer realm", "Bearer realm=\"a\x01\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (oci_bearer_challenge_parse(bad[i], &c, &err) == 0)
            fail_msg("accepted %s", bad[i]);
    char huge[3000] = "Bearer realm=\"";
    memset(huge + 14, 'a', 2000);
    huge[2014] = '"';
    huge[2015] = '\0';
    assert_int_equal(oci_bearer_challenge_parse(huge, &c, &err), -1);
}

static void test_content_range(void **state)
{
    (void)state;
    struct error err = {0};
    uint64_t s, e;
    assert_int_equal(oci_content_range_parse("bytes 100-199/200", &s, &e, &err), 0);
    assert_int_equal(s, 100);
    assert_int_equal(e, 199);
    assert_int_equal(oci_content_range_parse("bytes 0-0/*", &s, &e, &err), 0);
    const char *bad[] = {"bytes 5-4/10", "bytes 0-10/10", "bytes -1/2", "items 0-1/2",
                         "bytes 0-1/2 x", "bytes 99999999999999999999-1/2", "", "bytes 1-2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (oci_content_range_parse(bad[i], &s, &e, &err) == 0)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(oci_content_range_parse(NULL, &s, &e, &err), -1);
}

static void test_file_names(void **state)
{
    (void)state;
    assert_true(oci_file_name_safe("vmlinuz"));
    assert_false(oci_file_name_safe(""));
    assert_false(oci_file_name_safe(".."));
    assert_false(oci_file_name_safe(".hidden"));
    assert_false(oci_file_name_safe("a/b"));
    assert_false(oci_file_name_safe("a b"));
    assert_false(oci_file_name_safe("manifest.json"));
    assert_int_equal(oci_role_from_media_type("application/vnd.enclave.vmm"), OCI_ROLE_VMM);
    assert_int_equal(oci_role_from_media_type("application/vnd.enclave"), OCI_ROLE_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_good),  cmocka_unit_test(test_manifest_hostile),
        cmocka_unit_test(test_manifest_limits), cmocka_unit_test(test_index),
        cmocka_unit_test(test_guest_config),   cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_content_range),  cmocka_unit_test(test_file_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
