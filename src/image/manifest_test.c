/* manifest.json: parsing hostile input, verifying files, the current link. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/digest.h"
#include "common/file.h"
#include "common/paths.h"
#include "image/image.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static json_t *valid_manifest(void)
{
    return json_pack("{s:i, s:s, s:s, s:s, s:i, s:s, s:[{s:s, s:s, s:i, s:s, s:s}, {s:s, s:s, s:i, s:s, s:s}],"
                     " s:[{s:s, s:s}]}",
                     "schema", 1, "created", "2024-05-06T07:08:09Z", "source", "local-build", "arch", "amd64",
                     "guest_protocol", 1, "kernel_cmdline", "console=ttyS0 panic=-1", "artifacts", "role", "kernel",
                     "path", "vmlinuz", "size", 10, "sha256", SHA_A, "media_type", IMAGE_MEDIA_KERNEL, "role",
                     "initramfs", "path", "initramfs.cpio", "size", 20, "sha256", SHA_B, "media_type",
                     IMAGE_MEDIA_INITRAMFS, "packages", "name", "python3-minimal", "version", "3.11.2-1+b1");
}

static int parse_json(json_t *j, struct image_manifest **m, struct error *err)
{
    char *text = json_dumps(j, 0);
    assert_non_null(text);
    int rc = image_manifest_parse(text, strlen(text), "/images/x", m, err);
    free(text);
    return rc;
}

static void test_valid(void **state)
{
    (void)state;
    json_t *j = valid_manifest();
    struct image_manifest *m = NULL;
    struct error err = {0};
    assert_int_equal(parse_json(j, &m, &err), 0);
    assert_int_equal(m->schema, 1);
    assert_string_equal(m->kernel_cmdline, "console=ttyS0 panic=-1");
    assert_null(m->build_inputs);
    const struct image_artifact *k = image_manifest_artifact(m, "kernel");
    assert_non_null(k);
    assert_string_equal(k->abs_path, "/images/x/vmlinuz");
    assert_int_equal(k->size, 10);
    assert_string_equal(k->sha256, SHA_A);
    assert_string_equal(image_manifest_artifact(m, "initramfs")->path, "initramfs.cpio");
    assert_null(image_manifest_artifact(m, "rootfs"));
    assert_int_equal(m->n_packages, 1);
    assert_string_equal(m->packages[0].version, "3.11.2-1+b1");
    image_manifest_free(m);
    json_decref(j);
}

/* Each case replaces (or with value NULL removes) one top-level member, or
 * one member of artifacts[0], of a valid manifest; every one must be refused. */
struct mutation {
    bool in_artifact;
    const char *key;
    const char *value; /* JSON text */
};

static const struct mutation hostile[] = {
    {false, "schema", NULL},
    {false, "schema", "2"},
    {false, "schema", "\"1\""},
    {false, "schema", "-1"},
    {false, "schema", "1.5"},
    {false, "created", "\"yesterday\""},
    {false, "created", "12"},
    {false, "source", "\"http://evil\""},
    {false, "source", "null"},
    {false, "arch", "[]"},
    {false, "arch", NULL},
    {false, "guest_protocol", "\"1\""},
    {false, "guest_protocol", "99999999999"},
    {false, "kernel_cmdline", "\"console=ttyS0\\ninit=/bin/sh\""},
    {false, "kernel_cmdline", "\"a\\u0000b\""},
    {false, "kernel_cmdline", "\"caf\\u00e9\""},
    {false, "kernel_cmdline", NULL},
    {false, "build_inputs", "\"abc\""},
    {false, "build_inputs", "\"" SHA_A "0\""},
    {false, "artifacts", NULL},
    {false, "artifacts", "[]"},
    {false, "artifacts", "{}"},
    {false, "artifacts", "[1]"},
    {false, "artifacts", "[{\"role\": \"kernel\"}]"},
    {false, "packages", "{}"},
    {false, "packages", "[1]"},
    {false, "packages", "[{\"name\": \"a\"}]"},
    {false, "packages", "[{\"name\": \"a\", \"version\": 3}]"},
    {true, "path", "\"../../etc/shadow\""},
    {true, "path", "\"/etc/shadow\""},
    {true, "path", "\"a/../../b\""},
    {true, "path", "\"a/..\""},
    {true, "path", "\"..\""},
    {true, "path", "\"./vmlinuz\""},
    {true, "path", "\"a//b\""},
    {true, "path", "\"dir/\""},
    {true, "path", "\"\""},
    {true, "path", "\"vm linuz\""},
    {true, "path", "\"vm\\\\linuz\""},
    {true, "path", "\"initramfs.cpio\""}, /* same path as the other artifact */
    {true, "path", "7"},
    {true, "role", "\"initramfs\""},      /* duplicate role (and no kernel left) */
    {true, "role", "\"Kernel\""},
    {true, "role", "\"\""},
    {true, "role", NULL},
    {true, "sha256", "\"" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "\""},
    {true, "sha256", "\"abc\""},
    {true, "sha256", "\"" SHA_A "a\""},
    {true, "sha256", "\"gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg\""},
    {true, "size", "-1"},
    {true, "size", "\"10\""},
    {true, "size", "1.0"},
    {true, "size", NULL},
    {true, "media_type", NULL},
};

/* A component that only starts with dots is a plain name inside the image
 * (what the fuzz harness once took for a way out); "." and ".." are not. */
static void test_dotted_names(void **state)
{
    (void)state;
    static const char *const names[] = {"..vmlinuz", "boot/..k", "a.../b", ".hidden"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_t *j = valid_manifest();
        json_object_set_new(json_array_get(json_object_get(j, "artifacts"), 0), "path", json_string(names[i]));
        struct image_manifest *m = NULL;
        struct error err = {0};
        if (parse_json(j, &m, &err) != 0)
            fail_msg("%s refused: %s", names[i], err.message);
        assert_string_equal(image_manifest_artifact(m, "kernel")->path, names[i]);
        image_manifest_free(m);
        json_decref(j);
    }
}

static void test_hostile_members(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        const struct mutation *mu = &hostile[i];
        json_t *j = valid_manifest();
        json_t *target = mu->in_artifact ? json_array_get(json_object_get(j, "artifacts"), 0) : j;
        if (mu->value == NULL) {
            json_object_del(target, mu->key);
        } else {
            json_error_t jerr;
            json_t *v = json_loads(mu->value, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
            if (v == NULL)
                fail_msg("case %zu: test value does not parse: %s", i, jerr.text);
            json_object_set_new(target, mu->key, v);
        }
        struct image_manifest *m = NULL;
        struct error err = {0};
        int rc = parse_json(j, &m, &err);
        if (rc == 0)
            fail_msg("case %zu (%s=%s) was accepted", i, mu->key, mu->value ? mu->value : "<removed>");
        assert_null(m);
        assert_true(err.message[0] != '\0');
        json_decref(j);
    }
}

static void expect_refused(const char *text, size_t len)
{
    struct image_manifest *m = NULL;
    struct error err = {0};
    assert_int_equal(image_manifest_parse(text, len, NULL, &m, &err), -1);
    assert_null(m);
}

static void test_hostile_documents(void **state)
{
    (void)state;
    expect_refused("", 0);
    expect_refused("{", 1);
    expect_refused("[]", 2);
    expect_refused("\"manifest\"", 10);
    expect_refused("null", 4);
    /* the same key twice: which one wins must not be a question */
    const char *dup = "{\"schema\": 1, \"schema\": 1}";
    expect_refused(dup, strlen(dup));
    /* too long: refused before parsing */
    size_t big = IMAGE_MANIFEST_MAX_BYTES + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    expect_refused(huge, big);
    /* deep nesting */
    size_t depth = 100000;
    char *deep = malloc(2 * depth);
    assert_non_null(deep);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    expect_refused(deep, 2 * depth);
    free(deep);
    free(huge);
    /* command line longer than the kernel accepts */
    json_t *j = valid_manifest();
    char *longline = malloc(IMAGE_MAX_CMDLINE + 2);
    memset(longline, 'a', IMAGE_MAX_CMDLINE + 1);
    longline[IMAGE_MAX_CMDLINE + 1] = '\0';
    json_object_set_new(j, "kernel_cmdline", json_string(longline));
    struct image_manifest *m = NULL;
    struct error err = {0};
    assert_int_equal(parse_json(j, &m, &err), -1);
    longline[IMAGE_MAX_CMDLINE] = '\0'; /* exactly the limit is fine */
    json_object_set_new(j, "kernel_cmdline", json_string(longline));
    assert_int_equal(parse_json(j, &m, &err), 0);
    image_manifest_free(m);
    free(longline);
    /* too many artifacts */
    json_t *arts = json_object_get(j, "artifacts");
    for (int i = 0; i < IMAGE_MAX_ARTIFACTS; i++) {
        char role[32], path[32];
        snprintf(role, sizeof(role), "extra%d", i);
        snprintf(path, sizeof(path), "f%d", i);
        json_array_append_new(arts, json_pack("{s:s, s:s, s:i, s:s, s:s}", "role", role, "path", path, "size", 1,
                                              "sha256", SHA_A, "media_type", "x"));
    }
    m = NULL;
    assert_int_equal(parse_json(j, &m, &err), -1);
    json_decref(j);
}

/* ------------------------------------------------------------ files */

static char home[PATH_MAX];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int make_home(void **state)
{
    (void)state;
    snprintf(home, sizeof(home), "/tmp/enclave-manifest-test.XXXXXX");
    assert_non_null(mkdtemp(home));
    setenv("ENCLAVE_HOME", home, 1);
    return 0;
}

static int remove_home(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* images/<id> with two files and a manifest that matches them. */
static void make_image(const char *id)
{
    char dir[PATH_MAX + 64], path[PATH_MAX + 128];
    snprintf(dir, sizeof(dir), "%s/cache/images/%s", home, id);
    struct error err = {0};
    assert_int_equal(paths_mkdir_p(dir, 0755, &err), 0);
    snprintf(path, sizeof(path), "%s/vmlinuz", dir);
    write_text(path, "kernel bytes");
    snprintf(path, sizeof(path), "%s/initramfs.cpio", dir);
    write_text(path, "initramfs bytes");
    struct image_artifact arts[2] = {
        {.role = "kernel", .path = "vmlinuz", .media_type = IMAGE_MEDIA_KERNEL},
        {.role = "initramfs", .path = "initramfs.cpio", .media_type = IMAGE_MEDIA_INITRAMFS},
    };
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, arts[i].path);
        int fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        assert_int_equal(digest_sha256_fd(fd, arts[i].sha256, &arts[i].size, &err), 0);
        close(fd);
    }
    struct image_package pk = {.name = "zlib1g", .version = "1:1.2.13.dfsg-1"};
    struct image_manifest m = {
        .schema = 1, .created = "2024-01-01T00:00:00Z", .source = "local-build", .arch = "amd64",
        .guest_protocol = 1, .kernel_cmdline = "console=ttyS0", .build_inputs = SHA_A,
        .artifacts = arts, .n_artifacts = 2, .packages = &pk, .n_packages = 1,
    };
    assert_int_equal(image_manifest_write(&m, dir, &err), 0);
    /* one JSON document and a newline, mode 0644 less the umask, and no
     * temporary left beside it */
    snprintf(path, sizeof(path), "%s/%s", dir, IMAGE_MANIFEST_NAME);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(file_read_all(path, 1 << 20, &text, &len, &err), 0);
    assert_true(len > 2 && text[0] == '{' && strcmp(text + len - 2, "}\n") == 0);
    free(text);
    mode_t mask = umask(0);
    umask(mask);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644 & ~mask);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    assert_int_equal(n, 3);
}

static void test_sha256(void **state)
{
    (void)state;
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/abc", home);
    write_text(path, "abc");
    int fd = open(path, O_RDONLY);
    char hex[65];
    uint64_t size = 0;
    struct error err = {0};
    assert_int_equal(digest_sha256_fd(fd, hex, &size, &err), 0);
    close(fd);
    assert_int_equal(size, 3);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_current_and_verify(void **state)
{
    (void)state;
    struct image_manifest *m = NULL;
    struct error err = {0};
    /* nothing yet: not found, and the message says what to run */
    assert_int_equal(image_manifest_load_current(&m, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "enclave image build"));

    make_image("one");
    assert_int_equal(image_cache_set_current("one", &err), 0);
    assert_int_equal(image_manifest_load_current(&m, &err), 0);
    assert_string_equal(m->build_inputs, SHA_A);
    assert_string_equal(m->packages[0].version, "1:1.2.13.dfsg-1");
    char real[PATH_MAX];
    assert_non_null(realpath(home, real));
    assert_non_null(strstr(image_manifest_artifact(m, "kernel")->abs_path, real));
    assert_int_equal(image_manifest_verify(m, &err), 0);

    /* one changed byte: a data loss naming the file */
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/cache/images/one/initramfs.cpio", home);
    write_text(path, "initramfs bytez");
    assert_int_equal(image_manifest_verify(m, &err), -1);
    assert_int_equal(err.kind, ERR_DATA_LOSS);
    assert_non_null(strstr(err.message, "initramfs.cpio"));
    char actual[65];
    uint64_t size;
    assert_int_equal(image_artifact_verify(m, image_manifest_artifact(m, "kernel"), actual, &size, &err), 0);
    assert_int_equal(size, strlen("kernel bytes"));

    /* a symlink where the file was is not followed, even to identical bytes */
    snprintf(path, sizeof(path), "%s/cache/images/one/vmlinuz", home);
    char copy[PATH_MAX + 64];
    snprintf(copy, sizeof(copy), "%s/outside", home);
    write_text(copy, "kernel bytes");
    unlink(path);
    assert_int_equal(symlink(copy, path), 0);
    assert_int_equal(image_artifact_verify(m, image_manifest_artifact(m, "kernel"), NULL, NULL, &err), -1);
    unlink(path);
    assert_int_equal(image_artifact_verify(m, image_manifest_artifact(m, "kernel"), NULL, NULL, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    image_manifest_free(m);

    /* current pointing outside cache/images is refused */
    make_image("two");
    char current[PATH_MAX + 32], target[PATH_MAX + 32];
    snprintf(current, sizeof(current), "%s/cache/current", home);
    snprintf(target, sizeof(target), "%s/cache/images/two", home);
    char elsewhere[PATH_MAX + 32];
    snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", home);
    assert_int_equal(rename(target, elsewhere), 0);
    unlink(current);
    assert_int_equal(symlink(elsewhere, current), 0);
    m = NULL;
    assert_int_equal(image_manifest_load_current(&m, &err), -1);
    assert_int_equal(err.kind, ERR_FAILED_PRECONDITION);
    assert_null(m);

    /* ids that are not one plain name are refused */
    assert_int_equal(image_cache_set_current("../elsewhere", &err), -1);
    assert_int_equal(image_cache_set_current("a/b", &err), -1);
    assert_int_equal(image_cache_set_current("", &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_dotted_names),
        cmocka_unit_test(test_hostile_members),
        cmocka_unit_test(test_hostile_documents),
        cmocka_unit_test_setup_teardown(test_sha256, make_home, remove_home),
        cmocka_unit_test_setup_teardown(test_current_and_verify, make_home, remove_home),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
