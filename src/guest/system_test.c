/* Tests of the PID 1 helpers that can run on the host: finding the
 * virtio-serial port by name, reading the module load order, the read-only
 * system check, the channel key file, the root filesystem's superblock check, tmpfs sizes, and the bounded wait for
 * a child. The check and the wait need root (chown, a stoppable child);
 * those parts are skipped otherwise. */
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/test_dir.h"
#include "guest/guest.h"

static void make_port(const char *root, const char *port, const char *name)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", root, port);
    assert_int_equal(mkdir(dir, 0755), 0);
    if (name)
        test_put_file(dir, "name", name);
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

    test_put_file(dir, "load-order", "# comment\n\n   \nvirtio_ring\n  virtio  \n../etc/passwd\nbad name\n");
    assert_int_equal(guest_load_modules(dir), 4);

    /* An over-long line is one failure, and the line after it still counts. */
    char *long_line = malloc(1000);
    memset(long_line, 'a', 998);
    long_line[998] = '\n';
    long_line[999] = '\0';
    char content[1100];
    snprintf(content, sizeof(content), "%snot_there\n", long_line);
    test_put_file(dir, "load-order", content);
    assert_int_equal(guest_load_modules(dir), 2);
    free(long_line);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void make_dir(const char *root, const char *rel, mode_t mode)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    assert_int_equal(mkdir(p, mode), 0);
    assert_int_equal(chmod(p, mode), 0);
}

static void rm_tree(const char *root)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* A root file system as the image lays it out passes; each way of making
 * something writable for uid 1000 is found and named. */
static void test_readonly_check(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        skip();
        return;
    }
    char root[] = "/tmp/enclave-rocheck-XXXXXX";
    assert_non_null(mkdtemp(root));
    assert_int_equal(chmod(root, 0755), 0);
    make_dir(root, "etc", 0755);
    make_dir(root, "usr", 0755);
    make_dir(root, "usr/lib", 0755);
    make_dir(root, "root", 0700);
    make_dir(root, "workspace", 0755);
    make_dir(root, "workspace/deep", 0777);
    test_put_file(root, "etc/passwd", "root:x:0:0::/:/bin/false\n");
    char p[512];
    snprintf(p, sizeof(p), "%s/workspace", root);
    assert_int_equal(chown(p, 1000, 1000), 0);
    snprintf(p, sizeof(p), "%s/usr/lib/link", root);
    assert_int_equal(symlink("/nowhere", p), 0); /* symlinks are 0777 and fine */
    char why[512];
    assert_int_equal(guest_check_readonly(root, why, sizeof(why)), 0);

    /* The root folder itself (what a tmpfs rootfs is by default). */
    assert_int_equal(chmod(root, 01777), 0);
    assert_int_equal(guest_check_readonly(root, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "writable by everyone"));
    assert_int_equal(chmod(root, 0755), 0);

    /* A world-writable folder deep down, a file owned by uid 1000, a
     * group-writable file of gid 1000: three. */
    make_dir(root, "usr/lib/tmp", 01777);
    snprintf(p, sizeof(p), "%s/etc/passwd", root);
    assert_int_equal(chown(p, 1000, 0), 0);
    test_put_file(root, "etc/group", "x\n");
    snprintf(p, sizeof(p), "%s/etc/group", root);
    assert_int_equal(chown(p, 0, 1000), 0);
    assert_int_equal(chmod(p, 0664), 0);
    assert_int_equal(guest_check_readonly(root, why, sizeof(why)), 3);
    assert_non_null(strstr(why, root));
    /* gid 1000 without group write is fine. */
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(guest_check_readonly(root, why, sizeof(why)), 2);
    rm_tree(root);

    assert_true(guest_check_readonly("/nonexistent-enclave-root", why, sizeof(why)) < 0);
}

/* An erofs superblock as mkfs.erofs writes it: magic at 1024, block size
 * bits at +12, block count at +36. */
static void put_sb(uint8_t *head, uint32_t magic, uint8_t bits, uint32_t blocks)
{
    memset(head, 0, GUEST_EROFS_SB_OFFSET + 128);
    uint8_t *sb = head + GUEST_EROFS_SB_OFFSET;
    for (int i = 0; i < 4; i++) {
        sb[i] = (uint8_t)(magic >> (8 * i));
        sb[36 + i] = (uint8_t)(blocks >> (8 * i));
    }
    sb[12] = bits;
}

static void test_rootfs_check(void **state)
{
    (void)state;
    static uint8_t head[GUEST_EROFS_SB_OFFSET + 128];
    char why[256];
    /* 100 blocks of 4 KiB on a disk of exactly that size, or larger */
    put_sb(head, GUEST_EROFS_MAGIC, 12, 100);
    assert_int_equal(guest_rootfs_check(head, sizeof(head), 100 * 4096, why, sizeof(why)), 0);
    assert_int_equal(guest_rootfs_check(head, sizeof(head), 100 * 4096 + 512, why, sizeof(why)), 0);
    /* truncated: one byte short */
    assert_int_equal(guest_rootfs_check(head, sizeof(head), 100 * 4096 - 1, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "truncated"));
    /* not erofs (a zeroed or foreign disk) */
    put_sb(head, 0x12345678, 12, 100);
    assert_int_equal(guest_rootfs_check(head, sizeof(head), 1 << 20, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "not an erofs image"));
    /* nonsense block sizes, a count of 0, a count that overflows 32 bits
     * of bytes (must still compare as 64-bit) */
    put_sb(head, GUEST_EROFS_MAGIC, 8, 100);
    assert_int_equal(guest_rootfs_check(head, sizeof(head), 1 << 20, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "block size"));
    put_sb(head, GUEST_EROFS_MAGIC, 40, 100);
    assert_int_equal(guest_rootfs_check(head, sizeof(head), 1 << 20, why, sizeof(why)), -EINVAL);
    put_sb(head, GUEST_EROFS_MAGIC, 12, 0);
    assert_int_equal(guest_rootfs_check(head, sizeof(head), 1 << 20, why, sizeof(why)), -EINVAL);
    put_sb(head, GUEST_EROFS_MAGIC, 16, 0xffffffffu);
    assert_int_equal(guest_rootfs_check(head, sizeof(head), UINT64_C(1) << 40, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "truncated"));
    /* a disk too small to hold a superblock, a short read, no buffer */
    put_sb(head, GUEST_EROFS_MAGIC, 12, 1);
    assert_int_equal(guest_rootfs_check(head, sizeof(head), 1000, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "too small"));
    assert_int_equal(guest_rootfs_check(head, GUEST_EROFS_SB_OFFSET + 10, 4096, why, sizeof(why)), -EINVAL);
    assert_int_equal(guest_rootfs_check(NULL, 0, 4096, why, sizeof(why)), -EINVAL);
}

static void test_key_read(void **state)
{
    (void)state;
    char dir[] = "/tmp/enclave-key-XXXXXX";
    assert_non_null(mkdtemp(dir));
    uint8_t key[GUEST_KEY_LEN];
    char p[512];
    snprintf(p, sizeof(p), "%s/key", dir);
    /* Exactly 32 bytes, binary. */
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    for (unsigned i = 0; i < GUEST_KEY_LEN; i++)
        fputc(i == 5 ? 0 : (int)(i * 7 + 1), f);
    fclose(f);
    assert_int_equal(guest_key_read(p, key), 0);
    assert_int_equal(key[5], 0);
    assert_int_equal(key[31], 31 * 7 + 1);
    /* Too short, too long, empty, missing: refused. */
    test_put_file(dir, "key", "short");
    assert_int_equal(guest_key_read(p, key), -EINVAL);
    test_put_file(dir, "key", "0123456789012345678901234567890123456789");
    assert_int_equal(guest_key_read(p, key), -EINVAL);
    test_put_file(dir, "key", "");
    assert_int_equal(guest_key_read(p, key), -EINVAL);
    unlink(p);
    assert_int_equal(guest_key_read(p, key), -ENOENT);
    rmdir(dir);
}

static void test_tmpfs_size(void **state)
{
    (void)state;
    /* 4 GiB of memory: /tmp 1 GiB, /dev/shm 512 MiB. */
    assert_true(guest_tmpfs_size(4ull << 20, GUEST_TMP_SHARE) == (1ull << 30));
    assert_true(guest_tmpfs_size(4ull << 20, GUEST_SHM_SHARE) == (512ull << 20));
    /* Tiny or unknown memory: the minimum, never 0 (which means unlimited). */
    assert_true(guest_tmpfs_size(0, GUEST_TMP_SHARE) == GUEST_TMPFS_MIN);
    assert_true(guest_tmpfs_size(1024, GUEST_SHM_SHARE) == GUEST_TMPFS_MIN);
    /* No overflow at absurd sizes. */
    assert_true(guest_tmpfs_size(UINT64_MAX, 1) == UINT64_MAX);
    assert_true(guest_tmpfs_size(UINT64_MAX, 0) == UINT64_MAX);
}

static void test_workspace_size(void **state)
{
    (void)state;
    const uint64_t mem = 1ull << 20; /* 1 GiB in kB */
    /* No argument: a quarter of the memory. */
    assert_true(guest_workspace_size("console=ttyS0 quiet", mem) == (256ull << 20));
    assert_true(guest_workspace_size(NULL, mem) == (256ull << 20));
    /* The host's argument, first, last or in the middle. */
    assert_true(guest_workspace_size("console=ttyS0 enclave.workspace_mb=64", mem) == (64ull << 20));
    assert_true(guest_workspace_size("enclave.workspace_mb=100 quiet\n", mem) == (100ull << 20));
    /* Bounded: at least the tmpfs minimum, at most half the memory. */
    assert_true(guest_workspace_size("enclave.workspace_mb=1", mem) == GUEST_TMPFS_MIN);
    assert_true(guest_workspace_size("enclave.workspace_mb=4096", mem) == (512ull << 20));
    assert_true(guest_workspace_size("enclave.workspace_mb=0", mem) == GUEST_TMPFS_MIN);
    /* Malformed or overflowing: the default, never 0 (unlimited). */
    assert_true(guest_workspace_size("enclave.workspace_mb=12x", mem) == (256ull << 20));
    assert_true(guest_workspace_size("enclave.workspace_mb=", mem) == (256ull << 20));
    assert_true(guest_workspace_size("enclave.workspace_mb=99999999999999999999", mem) == (256ull << 20));
    assert_true(guest_workspace_size("xenclave.workspace_mb=64", mem) == (256ull << 20));
}

/* A child that stops itself (what a workload can do to the uid 1000 sweep
 * process) does not hold the waiter: it is killed at the deadline. */
static void test_page_reporting_order(void **state)
{
    (void)state;
    char dir[] = "/tmp/enclave-fpr-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char param[256], missing[256];
    snprintf(param, sizeof(param), "%s/page_reporting_order", dir);
    snprintf(missing, sizeof(missing), "%s/none/page_reporting_order", dir);
    FILE *f = fopen(param, "w");
    assert_non_null(f);
    fputs("9\n", f); /* the driver's default, as the kernel shows it */
    fclose(f);
    assert_int_equal(guest_page_reporting_setup(param), 0);
    char got[16] = "";
    f = fopen(param, "r");
    assert_non_null(f);
    assert_non_null(fgets(got, sizeof(got), f));
    fclose(f);
    char want[16];
    snprintf(want, sizeof(want), "%d", GUEST_PAGE_REPORTING_ORDER);
    assert_string_equal(got, want);
    /* no balloon device (the parameter is missing): nothing happens */
    assert_int_equal(guest_page_reporting_setup(missing), -ENOENT);
    unlink(param);
    rmdir(dir);
}

static void read_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    buf[0] = '\0';
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    fclose(f);
}

static void test_memory_trim(void **state)
{
    (void)state;
    char dir[] = "/tmp/enclave-trim-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char drop[256], compact[256], missing[256], got[16];
    snprintf(drop, sizeof(drop), "%s/drop_caches", dir);
    snprintf(compact, sizeof(compact), "%s/compact_memory", dir);
    snprintf(missing, sizeof(missing), "%s/none", dir);
    /* The kernel's files exist already; the trim never creates one. */
    assert_int_equal(guest_memory_trim(dir), -ENOENT);
    assert_int_not_equal(access(drop, F_OK), 0);
    assert_int_not_equal(access(compact, F_OK), 0);
    FILE *f = fopen(drop, "w");
    assert_non_null(f);
    fclose(f);
    /* No compact_memory (a kernel without compaction): the drop still happens. */
    assert_int_equal(guest_memory_trim(dir), -ENOENT);
    read_file(drop, got, sizeof(got));
    assert_string_equal(got, GUEST_TRIM_DROP);
    f = fopen(compact, "w");
    assert_non_null(f);
    fclose(f);
    f = fopen(drop, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(guest_memory_trim(dir), 0);
    read_file(drop, got, sizeof(got));
    assert_string_equal(got, GUEST_TRIM_DROP);
    read_file(compact, got, sizeof(got));
    assert_string_equal(got, "1");
    assert_int_equal(guest_memory_trim(missing), -ENOENT);
    unlink(drop);
    unlink(compact);
    rmdir(dir);
}

static void test_wait_child_deadline(void **state)
{
    (void)state;
    pid_t pid = fork();
    if (pid == 0) {
        raise(SIGSTOP);
        _exit(0);
    }
    assert_true(pid > 0);
    /* If the wait were unbounded this would hang: the alarm fails the test. */
    alarm(20);
    assert_int_equal(guest_wait_child(pid, 200), 1);
    alarm(0);
    assert_true(waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD);

    pid = fork();
    if (pid == 0)
        _exit(0);
    assert_int_equal(guest_wait_child(pid, 10000), 0);
}

/* A uid nobody on the test machine uses, standing in for the workload's;
 * one per run, so that another run's processes are not counted. */
static uid_t sweep_test_uid;
#define SWEEP_TEST_UID sweep_test_uid

static void become_test_user(void)
{
    /* A child left behind by a failed test must not hold the runner's pipes. */
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
        close(devnull);
    }
    if (setgroups(0, NULL) < 0 || setresgid(SWEEP_TEST_UID, SWEEP_TEST_UID, SWEEP_TEST_UID) < 0 ||
        setresuid(SWEEP_TEST_UID, SWEEP_TEST_UID, SWEEP_TEST_UID) < 0)
        _exit(99);
}

/* The sweep while an interpreter context lives: a leftover that left its
 * group (setsid) is killed; the context and a process it started, which
 * left the context's session too, are kept. */
static void test_sweep_keeps_contexts(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        fprintf(stderr, "system_test: the sweep needs root to switch users; skipped\n");
        return;
    }
    sweep_test_uid = 60000 + (uid_t)(getpid() % 5000);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t context = fork();
    if (context == 0) {
        become_test_user();
        pid_t child = fork();
        if (child == 0) {
            setsid();
            for (;;)
                pause();
        }
        if (write(p[1], &child, sizeof(child)) != (ssize_t)sizeof(child))
            _exit(98);
        for (;;)
            pause();
    }
    pid_t started = 0;
    assert_int_equal(read(p[0], &started, sizeof(started)), (ssize_t)sizeof(started));
    pid_t leftover = fork();
    if (leftover == 0) {
        become_test_user();
        setsid();
        char ready = 1;
        if (write(p[1], &ready, 1) != 1)
            _exit(98);
        for (;;)
            pause();
    }
    /* The sweep starts once the leftover is the user's and on its own. */
    char ready = 0;
    assert_int_equal(read(p[0], &ready, 1), 1);
    close(p[0]);
    close(p[1]);
    pid_t sweeper = fork();
    if (sweeper == 0) {
        become_test_user();
        int n = guest_kill_user_except("/proc", &context, 1);
        _exit(n < 0 ? 100 : n);
    }
    int swept = 0, left = 0;
    pid_t sweeper_done = waitpid(sweeper, &swept, 0);
    /* Whatever happened, nothing is left running; then the checks. */
    pid_t context_running = waitpid(context, NULL, WNOHANG);
    int started_alive = kill(started, 0);
    kill(leftover, SIGKILL);
    pid_t leftover_done = waitpid(leftover, &left, 0);
    kill(started, SIGKILL);
    kill(context, SIGKILL);
    waitpid(context, NULL, 0);
    assert_int_equal(sweeper_done, sweeper);
    assert_true(WIFEXITED(swept));
    assert_true(WEXITSTATUS(swept) >= 1 && WEXITSTATUS(swept) < 100); /* the leftover at least */
    assert_int_equal(leftover_done, leftover);
    assert_true(WIFSIGNALED(left) && WTERMSIG(left) == SIGKILL);
    assert_int_equal(context_running, 0);
    assert_int_equal(started_alive, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_serial_port),
        cmocka_unit_test(test_load_order_parsing),
        cmocka_unit_test(test_readonly_check),
        cmocka_unit_test(test_key_read),
        cmocka_unit_test(test_rootfs_check),
        cmocka_unit_test(test_tmpfs_size),
        cmocka_unit_test(test_workspace_size),
        cmocka_unit_test(test_wait_child_deadline),
        cmocka_unit_test(test_sweep_keeps_contexts),
        cmocka_unit_test(test_page_reporting_order),
        cmocka_unit_test(test_memory_trim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
