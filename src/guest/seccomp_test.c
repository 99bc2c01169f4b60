/* The workload seccomp filter, tried in the kernel: every refused call is
 * made twice with harmless bogus arguments (all -1: bad pointers, bad fds,
 * bad flags), once without the filter, where it must fail with anything but
 * EPERM or succeed, and once under it, where it must fail with EPERM. So each
 * entry of the deny list is shown to matter. Runs as root (with
 * CAP_SYS_ADMIN nothing here is refused for lack of privilege); skipped
 * otherwise. */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/vm_sockets.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "guest/guest.h"

#define BOGUS ((long)-1)

/* Runs fn in a child (with or without the filter) and returns its exit
 * status as waitpid reports it. */
static int in_child(bool filtered, int (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (filtered) {
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || guest_seccomp_install() < 0)
                _exit(100);
        }
        _exit(fn(arg));
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* Exit codes: 0 the call succeeded, 1 it failed with EPERM, 2 another error. */
static int call_bogus(void *arg)
{
    const struct guest_syscall *sc = arg;
    long r = syscall(sc->nr, BOGUS, BOGUS, BOGUS, BOGUS, BOGUS, BOGUS);
    if (r >= 0)
        return 0;
    return errno == EPERM ? 1 : 2;
}

/* The calls the design requires refused; taking one off the filter's list
 * fails here, not just silently shortens the loop below. */
static void test_required_calls_listed(void **state)
{
    (void)state;
    static const struct guest_syscall required[] = {
#define R(name) {SYS_##name, #name}
        R(mount), R(umount2), R(ptrace), R(kexec_load), R(init_module), R(finit_module),
        R(delete_module), R(bpf), R(perf_event_open), R(keyctl), R(add_key), R(request_key),
        R(userfaultfd), R(unshare), R(setns), R(reboot), R(swapon), R(swapoff), R(pivot_root),
        R(chroot), R(acct), R(settimeofday), R(clock_settime), R(iopl), R(ioperm),
        R(open_by_handle_at), R(fsopen), R(fsmount), R(open_tree), R(move_mount), R(io_uring_setup),
        R(pidfd_getfd), R(process_madvise), R(kcmp), R(process_vm_readv), R(process_vm_writev),
#undef R
    };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        bool found = false;
        for (size_t j = 0; j < guest_seccomp_denied_count && !found; j++)
            found = guest_seccomp_denied[j].nr == required[i].nr;
        if (!found)
            fail_msg("%s is not refused by the filter", required[i].name);
    }
}

static void test_each_denied_call(void **state)
{
    (void)state;
    assert_true(guest_seccomp_denied_count >= 30);
    for (size_t i = 0; i < guest_seccomp_denied_count; i++) {
        const struct guest_syscall *sc = &guest_seccomp_denied[i];
        int plain = in_child(false, call_bogus, (void *)sc);
        int filtered = in_child(true, call_bogus, (void *)sc);
        if (!WIFEXITED(plain) || WEXITSTATUS(plain) == 1)
            fail_msg("%s: without the filter it already fails with EPERM (status %#x): the test proves nothing",
                     sc->name, plain);
        if (!WIFEXITED(filtered) || WEXITSTATUS(filtered) != 1)
            fail_msg("%s: under the filter status %#x, want EPERM", sc->name, filtered);
    }
}

static int clone_newuser(void *arg)
{
    (void)arg;
    long r = syscall(SYS_clone, (long)(CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L, 0L);
    if (r == 0)
        _exit(0); /* the new child */
    if (r > 0) {
        waitpid((pid_t)r, NULL, 0);
        return 0;
    }
    return errno == EPERM ? 1 : 2;
}

static int clone_plain(void *arg)
{
    (void)arg;
    pid_t pid = fork(); /* libc's fork is clone without namespace flags */
    if (pid == 0)
        _exit(0);
    if (pid < 0)
        return 2;
    waitpid(pid, NULL, 0);
    return 0;
}

static int clone3_call(void *arg)
{
    (void)arg;
    long r = syscall(SYS_clone3, NULL, 0L);
    return r < 0 && errno == ENOSYS ? 1 : 2;
}

static int x32_call(void *arg)
{
    (void)arg;
    syscall(0x40000000L | SYS_getpid);
    return 0;
}

static void test_clone_and_abi(void **state)
{
    (void)state;
    /* clone with a namespace flag: allowed for root without the filter. */
    int plain = in_child(false, clone_newuser, NULL);
    assert_true(WIFEXITED(plain) && WEXITSTATUS(plain) == 0);
    int filtered = in_child(true, clone_newuser, NULL);
    assert_true(WIFEXITED(filtered) && WEXITSTATUS(filtered) == 1);
    /* Plain fork still works under the filter. */
    filtered = in_child(true, clone_plain, NULL);
    assert_true(WIFEXITED(filtered) && WEXITSTATUS(filtered) == 0);
    /* clone3 reports ENOSYS so libc falls back to clone. */
    filtered = in_child(true, clone3_call, NULL);
    assert_true(WIFEXITED(filtered) && WEXITSTATUS(filtered) == 1);
    /* The x32 ABI kills the process. */
    filtered = in_child(true, x32_call, NULL);
    assert_true(WIFSIGNALED(filtered) && WTERMSIG(filtered) == SIGSYS);
}

/* Exit codes: 0 a socket was made, 1 EPERM, 2 another error. */
static int make_socket(void *arg)
{
    int family = *(const int *)arg;
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0 && errno != EPERM)
        fd = socket(family, SOCK_DGRAM, 0); /* AF_NETLINK, AF_KEY, ... have no stream */
    if (fd < 0 && errno != EPERM)
        fd = socket(family, SOCK_RAW, 0);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == EPERM ? 1 : 2;
}

static int make_socketpair(void *arg)
{
    int family = *(const int *)arg;
    int sv[2];
    if (socketpair(family, SOCK_STREAM, 0, sv) == 0) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    return errno == EPERM ? 1 : 2;
}

/* Families outside the allowed three are EPERM under the filter and are
 * not EPERM without it (root may make them, or the kernel lacks them):
 * so taking the socket rule out fails here. */
static void test_socket_families(void **state)
{
    (void)state;
    static const struct {
        int family;
        const char *name;
    } refused[] = {
        {AF_NETLINK, "AF_NETLINK"}, {AF_PACKET, "AF_PACKET"}, {AF_VSOCK, "AF_VSOCK"}, {AF_KEY, "AF_KEY"},
        {AF_ALG, "AF_ALG"},         {AF_TIPC, "AF_TIPC"},     {AF_BLUETOOTH, "AF_BLUETOOTH"},
        {AF_APPLETALK, "AF_APPLETALK"}, {AF_RDS, "AF_RDS"},   {AF_XDP, "AF_XDP"},
    };
    int made_plain = 0;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        int plain = in_child(false, make_socket, (void *)&refused[i].family);
        int filtered = in_child(true, make_socket, (void *)&refused[i].family);
        if (!WIFEXITED(plain) || WEXITSTATUS(plain) == 1)
            fail_msg("%s: without the filter already EPERM (status %#x): the test proves nothing", refused[i].name,
                     plain);
        made_plain += WEXITSTATUS(plain) == 0;
        if (!WIFEXITED(filtered) || WEXITSTATUS(filtered) != 1)
            fail_msg("socket(%s) under the filter: status %#x, want EPERM", refused[i].name, filtered);
    }
    /* At least netlink and packet sockets exist for root on any Linux host. */
    assert_true(made_plain >= 2);
    for (size_t i = 0; i < guest_seccomp_socket_family_count; i++) {
        int filtered = in_child(true, make_socket, (void *)&guest_seccomp_socket_families[i]);
        if (!WIFEXITED(filtered) || WEXITSTATUS(filtered) != 0)
            fail_msg("socket(family %d) under the filter: status %#x, want a socket", guest_seccomp_socket_families[i],
                     filtered);
    }
    assert_int_equal(guest_seccomp_socket_family_count, 3);
    /* socketpair: AF_UNIX works, anything else is EPERM (without the
     * filter AF_INET pairs fail with EOPNOTSUPP, not EPERM). */
    int unix_family = AF_UNIX, inet_family = AF_INET;
    int st = in_child(true, make_socketpair, &unix_family);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = in_child(false, make_socketpair, &inet_family);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    st = in_child(true, make_socketpair, &inet_family);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

static int ordinary_calls(void *arg)
{
    (void)arg;
    char buf[64];
    if (getpid() <= 0 || getcwd(buf, sizeof(buf)) == NULL)
        return 2;
    int fds[2];
    if (pipe(fds) < 0 || write(fds[1], "x", 1) != 1 || read(fds[0], buf, 1) != 1)
        return 2;
    return 0;
}

static void test_ordinary_calls_allowed(void **state)
{
    (void)state;
    int status = in_child(true, ordinary_calls, NULL);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The exported program (what the Python fork server's workers install
 * themselves) refuses every listed call as the installed filter does, and
 * allows ordinary ones. */
static int exported_child(const void *prog, size_t len, const struct guest_syscall *sc)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct sock_fprog fp = {.len = (unsigned short)(len / sizeof(struct sock_filter)),
                                .filter = (struct sock_filter *)prog};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) < 0)
            _exit(100);
        _exit(sc ? call_bogus((void *)sc) : (getpid() > 0 ? 0 : 2));
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

static void test_exported_program(void **state)
{
    (void)state;
    uint8_t prog[GUEST_SECCOMP_MAX_BYTES];
    size_t len = guest_seccomp_program(prog, sizeof(prog));
    assert_true(len > 0 && len % sizeof(struct sock_filter) == 0);
    assert_int_equal(guest_seccomp_program(prog, len - 1), 0); /* too small: nothing */
    for (size_t i = 0; i < guest_seccomp_denied_count; i++) {
        int st = exported_child(prog, len, &guest_seccomp_denied[i]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
            fail_msg("%s: under the exported program status %#x, want EPERM", guest_seccomp_denied[i].name, st);
    }
    int st = exported_child(prog, len, NULL);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "seccomp_test: needs root for the unfiltered comparison; skipped\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_calls_listed),
        cmocka_unit_test(test_each_denied_call),
        cmocka_unit_test(test_clone_and_abi),
        cmocka_unit_test(test_ordinary_calls_allowed),
        cmocka_unit_test(test_socket_families),
        cmocka_unit_test(test_exported_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
