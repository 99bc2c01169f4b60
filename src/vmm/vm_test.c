/* vmm_spawn's confinement, with /bin/sh standing in for the VMM: Landlock
 * keeps it to its run folder and the files it is given, the file size cap
 * bounds what it writes (and it keeps running), and as root it runs as
 * another user. Each check has a control run without the confinement, so a
 * check that passes for another reason is seen. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/event.h>

#include "common/test_dir.h"
#include "vmm/vm_internal.h"

struct fixture {
    char base[64];
    char run_dir[128];
    char secret[128];
    char kernel[128];
    char log[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->base, sizeof(f->base), "/tmp/vm-test-XXXXXX");
    assert_non_null(mkdtemp(f->base));
    chmod(f->base, 0755);
    snprintf(f->run_dir, sizeof(f->run_dir), "%s/run", f->base);
    snprintf(f->secret, sizeof(f->secret), "%s/audit.key", f->base);
    snprintf(f->kernel, sizeof(f->kernel), "%s/kernel", f->base);
    snprintf(f->log, sizeof(f->log), "%s/vmm.log", f->base);
    assert_int_equal(mkdir(f->run_dir, 0700), 0);
    FILE *s = fopen(f->secret, "w");
    fputs("SECRET-KEY\n", s);
    fclose(s);
    chmod(f->secret, 0600);
    FILE *k = fopen(f->kernel, "w");
    fputs("KERNEL-BYTES\n", k);
    fclose(k);
    chmod(f->kernel, 0644);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->base);
    if (system(cmd) != 0)
        return -1;
    free(f);
    struct vmm_confinement none = {0};
    vmm_set_confinement(&none);
    return 0;
}

/* Runs sh -c script (with $1 = arg) under jail; returns what it printed. */
static char *run_sh(struct fixture *f, const struct vmm_jail *jail, const char *script,
                    const char *arg)
{
    int log_fd = open(f->log, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(log_fd >= 0);
    char *args[] = {"sh", "-c", (char *)script, "sh", (char *)arg, NULL};
    struct error err;
    pid_t pid = 0;
    assert_int_equal(vmm_spawn(args, log_fd, NULL, jail, &pid, &err), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    static char out[8192];
    ssize_t n = pread(log_fd, out, sizeof(out) - 1, 0);
    close(log_fd);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

/* The pid file holds the VMM's pid, replaced whole (no temporary left),
 * in the mode a plain create gives. */
static void test_pidfile(void **state)
{
    struct fixture *f = *state;
    char pidfile[160];
    snprintf(pidfile, sizeof(pidfile), "%s/vmm.pid", f->run_dir);
    test_put_file(f->run_dir, "vmm.pid", "stale\n");
    int log_fd = open(f->log, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(log_fd >= 0);
    char *args[] = {"true", NULL};
    struct vmm_jail jail = {.run_dir = f->run_dir};
    struct error err;
    pid_t pid = 0;
    mode_t old = umask(022);
    int rc = vmm_spawn(args, log_fd, pidfile, &jail, &pid, &err);
    umask(old);
    assert_int_equal(rc, 0);
    close(log_fd);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    FILE *p = fopen(pidfile, "r");
    assert_non_null(p);
    char line[32] = "";
    assert_non_null(fgets(line, sizeof(line), p));
    fclose(p);
    char want[32];
    snprintf(want, sizeof(want), "%d\n", (int)pid);
    assert_string_equal(line, want);
    struct stat st;
    assert_int_equal(stat(pidfile, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "test \"$(ls -A '%s')\" = vmm.pid", f->run_dir);
    assert_int_equal(system(cmd), 0);
}

static void confine(bool landlock, uint64_t max_file_bytes)
{
    struct vmm_confinement c = {0};
    c.landlock_abi = vmm_landlock_abi();
    c.landlock = landlock && c.landlock_abi > 0;
    c.max_file_bytes = max_file_bytes;
    vmm_set_confinement(&c);
}

/* The image's word for the PCI channel: only the whole word counts. */
static void test_cmdline_word(void **state)
{
    (void)state;
    assert_true(vmm_cmdline_has("enclave.channel=pci", VMM_CMDLINE_CHANNEL_PCI));
    assert_true(vmm_cmdline_has("console=ttyS0 enclave.channel=pci quiet", VMM_CMDLINE_CHANNEL_PCI));
    assert_true(vmm_cmdline_has("quiet enclave.channel=pci\n", VMM_CMDLINE_CHANNEL_PCI));
    assert_true(vmm_cmdline_has("xenclave.channel=pci enclave.channel=pci", VMM_CMDLINE_CHANNEL_PCI));
    assert_false(vmm_cmdline_has("enclave.channel=pcie", VMM_CMDLINE_CHANNEL_PCI));
    assert_false(vmm_cmdline_has("xenclave.channel=pci", VMM_CMDLINE_CHANNEL_PCI));
    assert_false(vmm_cmdline_has("enclave.channel=pci=0", VMM_CMDLINE_CHANNEL_PCI));
    assert_false(vmm_cmdline_has("enclave.channel=", VMM_CMDLINE_CHANNEL_PCI));
    assert_false(vmm_cmdline_has("", VMM_CMDLINE_CHANNEL_PCI));
    assert_false(vmm_cmdline_has(NULL, VMM_CMDLINE_CHANNEL_PCI));
    assert_false(vmm_cmdline_has("quiet", ""));
}

/* A restore's saved state: the VMM reads it as fd 200 (read-only: a write
 * fails), but under Landlock cannot open the file by its path (nor its
 * folder), and the usual file size cap stays; a VMM that saves gets its
 * raised cap. */
static void test_state_arrives_as_a_read_only_descriptor(void **state)
{
    struct fixture *f = *state;
    if (vmm_landlock_abi() <= 0)
        skip();
    char snap[160];
    snprintf(snap, sizeof(snap), "%s/state", f->base);
    test_put_file_mode(f->base, "state", "SAVED-STATE\n", 0600);
    struct vmm_jail jail = {.run_dir = f->run_dir, .landlock = true, .state_in = snap};
    /* python3 reads the descriptor itself (sh reaches fds 0-9 only). */
    const char *script = "python3 -c 'import os; print(os.read(200, 64).decode().strip())'; "
                         "cat \"$1\" 2>/dev/null || echo NO-PATH; "
                         "python3 -c 'import os; os.write(200, b\"x\")' 2>/dev/null || echo NO-WRITE; "
                         "head -c 2000000 /dev/zero > big 2>/dev/null; wc -c < big";

    confine(false, 1u << 20); /* control: without Landlock the path opens */
    char *out = run_sh(f, &jail, script, snap);
    assert_non_null(strstr(out, "SAVED-STATE"));
    assert_null(strstr(out, "NO-PATH"));

    confine(true, 1u << 20);
    out = run_sh(f, &jail, script, snap);
    assert_non_null(strstr(out, "SAVED-STATE")); /* through fd 200 */
    assert_non_null(strstr(out, "NO-PATH"));
    assert_non_null(strstr(out, "NO-WRITE"));
    assert_non_null(strstr(out, "1048576")); /* the cap */

    jail.state_in = NULL;
    jail.max_file_bytes = 3u << 20; /* what a VMM that saves gets */
    out = run_sh(f, &jail, "head -c 2000000 /dev/zero > big; wc -c < big", NULL);
    assert_non_null(strstr(out, "2000000"));
}

static void test_landlock_keeps_the_vmm_to_its_run_folder(void **state)
{
    struct fixture *f = *state;
    if (vmm_landlock_abi() <= 0)
        skip();
    const char *files[] = {f->kernel, NULL};
    struct vmm_jail jail = {.run_dir = f->run_dir, .read_files = files, .landlock = true};
    const char *script = "cat ../audit.key || echo NO-SECRET; cat \"$1\"; "
                         "echo made > console.log && cat console.log; "
                         "echo x > ../planted || echo NO-PLANT";

    confine(false, 0); /* control: the same process without Landlock */
    char *out = run_sh(f, &jail, script, f->kernel);
    assert_non_null(strstr(out, "SECRET-KEY"));
    assert_non_null(strstr(out, "KERNEL-BYTES"));
    char planted[160];
    snprintf(planted, sizeof(planted), "%s/planted", f->base);
    unlink(planted);

    confine(true, 0);
    out = run_sh(f, &jail, script, f->kernel);
    assert_null(strstr(out, "SECRET-KEY"));
    assert_non_null(strstr(out, "NO-SECRET"));
    assert_non_null(strstr(out, "KERNEL-BYTES")); /* given as /proc/self/fd/3 */
    assert_non_null(strstr(out, "made"));         /* its own folder is writable */
    assert_non_null(strstr(out, "NO-PLANT"));
    assert_int_equal(access(planted, F_OK), -1);
}

/* A file handed over inside an option list (QEMU's -drive file=PATH,...)
 * becomes the inherited descriptor too, and only at an option boundary. */
static void test_read_file_inside_an_option_list(void **state)
{
    struct fixture *f = *state;
    const char *files[] = {f->kernel, NULL};
    struct vmm_jail jail = {.run_dir = f->run_dir, .read_files = files, .landlock = true};
    confine(true, 0);
    char arg[512];
    snprintf(arg, sizeof(arg), "id=rootfs,file=%s,readonly=on", f->kernel);
    const char *script = "echo \"ARG $1\"; p=${1#*file=}; cat \"${p%%,*}\"";
    char *out = run_sh(f, &jail, script, arg);
    assert_non_null(strstr(out, "ARG id=rootfs,file=/proc/self/fd/3,readonly=on"));
    assert_non_null(strstr(out, "KERNEL-BYTES"));
    /* at the end of the list */
    snprintf(arg, sizeof(arg), "file=%s", f->kernel);
    out = run_sh(f, &jail, "echo \"ARG $1\"", arg);
    assert_non_null(strstr(out, "ARG file=/proc/self/fd/3\n"));
    /* not a whole option value: left alone */
    snprintf(arg, sizeof(arg), "file=%s.bak,x", f->kernel);
    out = run_sh(f, &jail, "echo \"ARG $1\"", arg);
    assert_null(strstr(out, "/proc/self/fd/"));
}

static void test_file_size_cap_bounds_the_console_log(void **state)
{
    struct fixture *f = *state;
    struct vmm_jail jail = {.run_dir = f->run_dir};
    const char *script = "head -c 1000000 /dev/zero > console.log; echo still-running";
    char path[160];
    snprintf(path, sizeof(path), "%s/console.log", f->run_dir);
    struct stat st;

    confine(false, 0); /* control: no cap, the whole megabyte lands */
    char *out = run_sh(f, &jail, script, "");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1000000);

    confine(false, 64 * 1024);
    out = run_sh(f, &jail, script, "");
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size <= 64 * 1024);
    assert_non_null(strstr(out, "still-running"));
}

static void test_root_runs_the_vmm_as_another_user(void **state)
{
    struct fixture *f = *state;
    if (geteuid() != 0)
        skip();
    const char *files[] = {f->kernel, NULL};
    struct vmm_jail jail = {.run_dir = f->run_dir, .read_files = files};
    const char *script = "id -u; cat ../audit.key || echo NO-SECRET; cat \"$1\"";

    confine(false, 0); /* control: as root */
    char *out = run_sh(f, &jail, script, f->kernel);
    assert_true(strncmp(out, "0\n", 2) == 0);
    assert_non_null(strstr(out, "SECRET-KEY"));

    struct vmm_confinement c = {0};
    c.switch_user = true;
    c.uid = 65534;
    c.gid = 65534;
    vmm_set_confinement(&c);
    out = run_sh(f, &jail, script, f->kernel);
    assert_true(strncmp(out, "65534\n", 6) == 0);
    assert_null(strstr(out, "SECRET-KEY"));
    assert_non_null(strstr(out, "KERNEL-BYTES"));
    struct stat st;
    assert_int_equal(stat(f->run_dir, &st), 0);
    assert_int_equal(st.st_gid, 65534);
    assert_int_equal(st.st_mode & 07777, 01770);
    assert_int_equal(st.st_uid, 0); /* the daemon keeps the folder; the VMM only gets its group */

    /* keep_user (Firecracker for now) stays root. */
    jail.keep_user = true;
    out = run_sh(f, &jail, script, f->kernel);
    assert_true(strncmp(out, "0\n", 2) == 0);
}

/* ---- a VMM's --version on the loop */

struct version_result {
    bool done;
    char version[512];
    struct error err;
    bool failed;
};

static void on_version(void *ctx, const char *version, const struct error *err)
{
    struct version_result *r = ctx;
    r->done = true;
    r->failed = err != NULL;
    if (err != NULL)
        r->err = *err;
    else
        snprintf(r->version, sizeof(r->version), "%s", version);
}

/* A script at <base>/vmm whose --version prints text (printf format). */
static const char *version_script(struct fixture *f, const char *text)
{
    static char path[160];
    snprintf(path, sizeof(path), "%s/vmm", f->base);
    FILE *s = fopen(path, "w");
    assert_non_null(s);
    fprintf(s, "#!/bin/sh\nprintf '%s'\n", text);
    fclose(s);
    assert_int_equal(chmod(path, 0755), 0);
    return path;
}

static void run_version(const char *bin, struct version_result *r)
{
    struct event_base *base = event_base_new();
    struct vmm_jail jail = {.keep_user = true};
    struct vmm_version_run *run = NULL;
    struct error err;
    memset(r, 0, sizeof(*r));
    assert_int_equal(vmm_version_run_start(bin, &jail, "Fake VMM v", base, on_version, r, &run, &err), 0);
    while (!r->done)
        assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
    vmm_version_run_free(run);
    event_base_free(base);
}

/* The first line when it names the VMM; else an error that shows what the
 * binary said (another program, an old one without that line, or one
 * that cannot be run), and the process is reaped either way. */
static void test_version_on_the_loop(void **state)
{
    struct fixture *f = *state;
    struct version_result r;
    run_version(version_script(f, "Fake VMM v1.2.3 (build 7)\\nmore\\n"), &r);
    assert_false(r.failed);
    assert_string_equal(r.version, "Fake VMM v1.2.3 (build 7)");
    run_version(version_script(f, "usage: vmm [options]\\n"), &r);
    assert_true(r.failed);
    assert_int_equal(r.err.kind, ERR_FAILED_PRECONDITION);
    assert_non_null(strstr(r.err.message, "--version did not say its version: usage: vmm [options]"));
    run_version(version_script(f, ""), &r);
    assert_true(r.failed);
    assert_non_null(strstr(r.err.message, "(nothing)"));
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/no-such-vmm", f->base);
    run_version(missing, &r);
    assert_true(r.failed);
    assert_non_null(strstr(r.err.message, "cannot start"));
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* no child left */
    assert_int_equal(errno, ECHILD);
}

/* Freed before it answered: the process is killed and reaped, done is
 * never called. */
static void test_version_cancelled(void **state)
{
    struct fixture *f = *state;
    char path[160];
    snprintf(path, sizeof(path), "%s/slow-vmm", f->base);
    FILE *s = fopen(path, "w");
    assert_non_null(s);
    fputs("#!/bin/sh\nexec sleep 100\n", s);
    fclose(s);
    assert_int_equal(chmod(path, 0755), 0);
    struct event_base *base = event_base_new();
    struct vmm_jail jail = {.keep_user = true};
    struct vmm_version_run *run = NULL;
    struct version_result r = {0};
    struct error err;
    assert_int_equal(vmm_version_run_start(path, &jail, "Fake VMM v", base, on_version, &r, &run, &err), 0);
    event_base_loop(base, EVLOOP_NONBLOCK);
    vmm_version_run_free(run);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_false(r.done);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    event_base_free(base);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmdline_word),
        cmocka_unit_test_setup_teardown(test_read_file_inside_an_option_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pidfile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_landlock_keeps_the_vmm_to_its_run_folder, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_size_cap_bounds_the_console_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_arrives_as_a_read_only_descriptor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_runs_the_vmm_as_another_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_on_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_cancelled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
