/* The seccomp filter every workload runs under.
 *
 * A short deny list rather than an allow list: the workload is arbitrary
 * agent code (python3, compilers, shells), and the VM is the isolation
 * boundary; the filter keeps uid 1000 away from the kernel interfaces that
 * widen the attack surface on the guest kernel or undo the init's setup
 * (namespaces, mounts, modules, tracing, keyrings, eBPF, io_uring). */
#include "guest/guest.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define GUEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#define GUEST_X32_BIT 0x40000000u
#elif defined(__aarch64__)
#define GUEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "enclave-init supports x86_64 and aarch64"
#endif

#define DENY(name) {SYS_##name, #name}

const struct guest_syscall guest_seccomp_denied[] = {
    DENY(mount),
    DENY(umount2),
    DENY(pivot_root),
    DENY(chroot),
    DENY(open_tree),
    DENY(move_mount),
    DENY(fsopen),
    DENY(fsconfig),
    DENY(fsmount),
    DENY(fspick),
    DENY(mount_setattr),
    DENY(unshare),
    DENY(setns),
    DENY(ptrace),
    DENY(process_vm_readv),
    DENY(process_vm_writev),
    /* Reaching into another process: its descriptors, its memory advice,
     * comparing its kernel objects (a probe for kernel pointers). */
    DENY(pidfd_getfd),
    DENY(process_madvise),
    DENY(kcmp),
    DENY(kexec_load),
    DENY(kexec_file_load),
    DENY(init_module),
    DENY(finit_module),
    DENY(delete_module),
    DENY(bpf),
    DENY(perf_event_open),
    DENY(keyctl),
    DENY(add_key),
    DENY(request_key),
    DENY(userfaultfd),
    DENY(reboot),
    DENY(swapon),
    DENY(swapoff),
    DENY(acct),
    DENY(settimeofday),
    DENY(clock_settime),
    DENY(clock_adjtime),
    DENY(adjtimex),
    DENY(open_by_handle_at),
    DENY(io_uring_setup),
    DENY(io_uring_enter),
    DENY(io_uring_register),
#ifdef SYS_iopl
    DENY(iopl),
#endif
#ifdef SYS_ioperm
    DENY(ioperm),
#endif
};
const size_t guest_seccomp_denied_count = sizeof(guest_seccomp_denied) / sizeof(guest_seccomp_denied[0]);

/* socket() families a workload may use; every other (AF_NETLINK, AF_PACKET,
 * AF_VSOCK, AF_KEY, AF_ALG, ...) is EPERM. vsock is the host channel, the
 * rest reach kernel code a Python sandbox does not need. socketpair() is
 * AF_UNIX only. */
const int guest_seccomp_socket_families[] = {AF_UNIX, AF_INET, AF_INET6};
const size_t guest_seccomp_socket_family_count =
    sizeof(guest_seccomp_socket_families) / sizeof(guest_seccomp_socket_families[0]);
#define SOCKET_FAMILIES 3

#define CLONE_NAMESPACE_FLAGS \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define RET(value) BPF_STMT(BPF_RET | BPF_K, (value))
#define ERRNO(e) RET(SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

/* Header, clone and socket checks, two instructions per denied call, the final allow. */
#define FILTER_MAX (32 + SOCKET_FAMILIES + 2 * (sizeof(guest_seccomp_denied) / sizeof(guest_seccomp_denied[0])) + 1)

/* Builds the filter into f (FILTER_MAX entries); returns its length. */
static size_t build_filter(struct sock_filter *f)
{
    size_t n = 0;

    /* Another architecture's numbers mean other calls: refuse to run at all. */
    f[n++] = (struct sock_filter)LOAD(arch);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, GUEST_AUDIT_ARCH, 1, 0);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)LOAD(nr);
#ifdef GUEST_X32_BIT
    /* The x32 ABI reaches the same calls under other numbers. */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, GUEST_X32_BIT, 0, 1);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
#endif
    /* clone3 passes its flags in memory the filter cannot read: ENOSYS makes
     * libc fall back to clone, whose flags it can. */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
    f[n++] = (struct sock_filter)ERRNO(ENOSYS);
    /* clone: new namespaces are unshare() by another name. The flags are
     * the low 32 bits of the first argument (little-endian). */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4);
    f[n++] = (struct sock_filter)LOAD(args[0]);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NAMESPACE_FLAGS, 0, 1);
    f[n++] = (struct sock_filter)ERRNO(EPERM);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    /* socket: only the listed families (the low 32 bits of the first
     * argument, an int to the kernel). Each listed family jumps to the allow
     * after the EPERM. */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, SOCKET_FAMILIES + 3);
    f[n++] = (struct sock_filter)LOAD(args[0]);
    for (size_t i = 0; i < SOCKET_FAMILIES; i++)
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)guest_seccomp_socket_families[i],
                                              (unsigned char)(SOCKET_FAMILIES - i), 0);
    f[n++] = (struct sock_filter)ERRNO(EPERM);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    /* socketpair: AF_UNIX only (nothing else has pairs worth having). */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socketpair, 0, 4);
    f[n++] = (struct sock_filter)LOAD(args[0]);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 1, 0);
    f[n++] = (struct sock_filter)ERRNO(EPERM);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    for (size_t i = 0; i < guest_seccomp_denied_count; i++) {
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)guest_seccomp_denied[i].nr, 0, 1);
        f[n++] = (struct sock_filter)ERRNO(EPERM);
    }
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);

    _Static_assert(sizeof(guest_seccomp_socket_families) / sizeof(guest_seccomp_socket_families[0]) == SOCKET_FAMILIES,
                   "SOCKET_FAMILIES counts the list");
    return n;
}

size_t guest_seccomp_program(void *buf, size_t len)
{
    struct sock_filter f[FILTER_MAX];
    size_t n = build_filter(f);
    if (n * sizeof(f[0]) > len)
        return 0;
    memcpy(buf, f, n * sizeof(f[0]));
    return n * sizeof(f[0]);
}

int guest_seccomp_install(void)
{
    struct sock_filter f[FILTER_MAX];
    size_t n = build_filter(f);
    _Static_assert(FILTER_MAX * sizeof(struct sock_filter) <= GUEST_SECCOMP_MAX_BYTES,
                   "GUEST_SECCOMP_MAX_BYTES holds the filter");
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
        return -errno;
    return 0;
}
