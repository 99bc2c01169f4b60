/* Tests of the PID 1 helpers that can run on the host: finding the
 * virtio-serial port by name, and reading the module load order. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "guest/guest.h"

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void make_port(const char *root, const char *port, const char *name)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", root, port);
    assert_int_equal(mkdir(dir, 0755), 0);
    if (name)
        write_file(dir, "name", name);
}

static void test_find_serial_port(void **state)
{
    (void)state;
    char root[] = "/tmp/enclave-sysfs-XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[256];
    assert_int_equal(guest_find_serial_port(root, "org.enclave.rpc", path, sizeof(path)), -ENOENT);
    make_port(root, "vport0p0", NULL);                   /* no name file */
    make_port(root, "vport0p1", "org.other\n");
    make_port(root, "vport0p2", "org.enclave.rpc.extra\n"); /* a longer name is another port */
    assert_int_equal(guest_find_serial_port(root, "org.enclave.rpc", path, sizeof(path)), -ENOENT);
    make_port(root, "vport1p3", "org.enclave.rpc\n");
    assert_int_equal(guest_find_serial_port(root, "org.enclave.rpc", path, sizeof(path)), 0);
    assert_string_equal(path, "/dev/vport1p3");
    assert_int_equal(guest_find_serial_port("/nonexistent-sysfs", "x", path, sizeof(path)), -ENOENT);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

/* No module file exists here, so every valid name fails to open and counts
 * as a failure; malformed names are refused before any open. Comments and
 * blank lines count for nothing. */
static void test_load_order_parsing(void **state)
{
    (void)state;
    char dir[] = "/tmp/enclave-modules-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(guest_load_modules(dir), 0); /* no load-order: nothing to do */

    write_file(dir, "load-order", "# comment\n\n   \nvirtio_ring\n  virtio  \n../etc/passwd\nbad name\n");
    assert_int_equal(guest_load_modules(dir), 4);

    /* An over-long line is one failure, and the line after it still counts. */
    char *long_line = malloc(1000);
    memset(long_line, 'a', 998);
    long_line[998] = '\n';
    long_line[999] = '\0';
    char content[1100];
    snprintf(content, sizeof(content), "%snot_there\n", long_line);
    write_file(dir, "load-order", content);
    assert_int_equal(guest_load_modules(dir), 2);
    free(long_line);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_serial_port),
        cmocka_unit_test(test_load_order_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
