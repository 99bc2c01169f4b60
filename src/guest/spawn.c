/* Starting one workload: everything between fork and exec. */
#include "guest/guest.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long the child may take between fork and exec. Once it runs as uid
 * 1000 any workload can stop it (kill -STOP -1), and the init must not wait
 * on it forever: past this it is killed and the exec fails. */
#define SPAWN_SETUP_TIMEOUT_MS 5000

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

/* What the child sends back when a step before exec fails. */
struct spawn_report {
    int step;
    int err;
};

#define SPAWN_STEPS(X)                           \
    X(SIGNALS, "reset signals")                  \
    X(SETSID, "setsid")                          \
    X(FDS, "set up stdin/stdout/stderr")         \
    X(RLIMIT, "setrlimit")                       \
    X(CAPS, "drop capabilities")                 \
    X(SETGROUPS, "setgroups")                    \
    X(SETGID, "setgid 1000")                     \
    X(SETUID, "setuid 1000")                     \
    X(CREDS_STUCK, "verify the uid/gid change")  \
    X(CHDIR, "chdir")                            \
    X(NO_NEW_PRIVS, "no_new_privs")              \
    X(SECCOMP, "install the seccomp filter")     \
    X(EXEC, "exec")

enum spawn_step {
#define X(name, text) STEP_##name,
    SPAWN_STEPS(X)
#undef X
    STEP_COUNT
};

static const char *const spawn_step_names[] = {
#define X(name, text) text,
    SPAWN_STEPS(X)
#undef X
};

__attribute__((noreturn)) static void child_fail(int report_fd, enum spawn_step step, int err)
{
    struct spawn_report r = {.step = step, .err = err};
    ssize_t w = write(report_fd, &r, sizeof(r));
    (void)w;
    _exit(127);
}

static int set_limit(int resource, uint64_t value)
{
    struct rlimit rl = {.rlim_cur = (rlim_t)value, .rlim_max = (rlim_t)value};
    return setrlimit(resource, &rl);
}

/* Runs in the child after fork; never returns. Only async-signal-safe work
 * matters here in principle; the parent is single-threaded, so malloc'd data
 * prepared before fork (argv, env) is used as is. */
__attribute__((noreturn)) static void child_exec(int report_fd, int in_fd, int out_fd, int err_fd,
                                                 char *const argv[], char **env,
                                                 const struct guest_exec_params *p)
{
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        child_fail(report_fd, STEP_SIGNALS, errno);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL); /* SIGKILL/SIGSTOP and the libc-internal ones fail; fine */

    if (setsid() < 0)
        child_fail(report_fd, STEP_SETSID, errno);

    /* Move the pipe ends out of 0..2 first, in case any of them is there. */
    int fds[3] = {in_fd, out_fd, err_fd};
    for (int i = 0; i < 3; i++) {
        fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
        if (fds[i] < 0)
            child_fail(report_fd, STEP_FDS, errno);
    }
    for (int i = 0; i < 3; i++)
        if (dup2(fds[i], i) < 0)
            child_fail(report_fd, STEP_FDS, errno);
    /* Nothing else of the init's may reach the workload. */
    if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) < 0) {
        for (int fd = 3; fd < 65536; fd++)
            if (fd != report_fd)
                close(fd);
    }

    if (!p) {
        /* The Python fork server's template (guest_spawn_template): it stays
         * root, in "/", and drops to the workload user in each child. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        umask(022);
        if (chdir("/") < 0)
            child_fail(report_fd, STEP_CHDIR, errno);
        environ = env;
        execvp(argv[0], argv);
        child_fail(report_fd, STEP_EXEC, errno);
    }

    if (set_limit(RLIMIT_NPROC, p->max_processes) < 0 || set_limit(RLIMIT_FSIZE, p->max_file_size) < 0 ||
        set_limit(RLIMIT_NOFILE, p->max_open_files) < 0 || set_limit(RLIMIT_AS, p->max_address_space) < 0 ||
        set_limit(RLIMIT_CORE, 0) < 0)
        child_fail(report_fd, STEP_RLIMIT, errno);

    /* Empty the capability bounding set while still root: after the uid
     * change the workload holds no capability, and with this it can never
     * get one back, whatever it executes. */
    for (int cap = 0; cap <= 63; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            child_fail(report_fd, STEP_CAPS, errno);
    if (setgroups(0, NULL) < 0)
        child_fail(report_fd, STEP_SETGROUPS, errno);
    if (setresgid(GUEST_WORKLOAD_GID, GUEST_WORKLOAD_GID, GUEST_WORKLOAD_GID) < 0)
        child_fail(report_fd, STEP_SETGID, errno);
    if (setresuid(GUEST_WORKLOAD_UID, GUEST_WORKLOAD_UID, GUEST_WORKLOAD_UID) < 0)
        child_fail(report_fd, STEP_SETUID, errno);
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
        child_fail(report_fd, STEP_CREDS_STUCK, errno);
    if (ru != GUEST_WORKLOAD_UID || eu != GUEST_WORKLOAD_UID || su != GUEST_WORKLOAD_UID ||
        rg != GUEST_WORKLOAD_GID || eg != GUEST_WORKLOAD_GID || sg != GUEST_WORKLOAD_GID ||
        getgroups(0, NULL) != 0 || setuid(0) == 0)
        child_fail(report_fd, STEP_CREDS_STUCK, EPERM);
#ifdef ENCLAVE_TESTING
    /* Tests: what another workload can do to this process from here on. */
    if (getenv("ENCLAVE_TEST_SPAWN_STOP"))
        raise(SIGSTOP);
#endif
    /* If the init goes away (outside PID 1, in tests), so does the workload. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    umask(022);

    if (chdir(p->cwd) < 0)
        child_fail(report_fd, STEP_CHDIR, errno);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(report_fd, STEP_NO_NEW_PRIVS, errno);
    int r = guest_seccomp_install();
    if (r < 0)
        child_fail(report_fd, STEP_SECCOMP, -r);

    environ = env; /* execvp searches the workload's PATH */
    execvp(argv[0], argv);
    child_fail(report_fd, STEP_EXEC, errno);
}

static void close_pair(int fds[2])
{
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

/* p NULL: the fork server's template, left root. */
static int spawn_child(char *const argv[], char **env, const struct guest_exec_params *p, int in_fd, int out_fd,
                       int err_fd, pid_t *pid_out, char *why, size_t why_len)
{
    int rep[2] = {-1, -1};
    int code = GUEST__V1__ERROR_RESPONSE__CODE__CODE_EXEC_FAILED;
    if (pipe2(rep, O_CLOEXEC) < 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        return code;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_len, "fork: %s", strerror(errno));
        goto done;
    }
    if (pid == 0) {
        close(rep[0]);
        child_exec(rep[1], in_fd, out_fd, err_fd, argv, env, p);
    }
    close(rep[1]);
    rep[1] = -1;

    /* The report pipe closes on a successful exec; a step that failed says
     * which. The wait is bounded: a stopped child must not hang the init. */
    struct pollfd rp = {.fd = rep[0], .events = POLLIN};
    int pr;
    do
        pr = poll(&rp, 1, SPAWN_SETUP_TIMEOUT_MS);
    while (pr < 0 && errno == EINTR);
    if (pr <= 0) {
        kill(pid, SIGKILL);
        snprintf(why, why_len, "workload setup did not finish within %d ms", SPAWN_SETUP_TIMEOUT_MS);
        goto done;
    }
    struct spawn_report r;
    ssize_t n;
    do
        n = read(rep[0], &r, sizeof(r));
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(r)) {
        const char *step = r.step >= 0 && r.step < STEP_COUNT ? spawn_step_names[r.step] : "setup";
        snprintf(why, why_len, "%s: %s", step, strerror(r.err));
        goto done;
    }
    if (n != 0) {
        snprintf(why, why_len, "workload setup failed");
        goto done;
    }
    *pid_out = pid;
    code = 0;
done:
    close_pair(rep);
    return code;
}

int guest_spawn_fds(char *const argv[], char **env, const struct guest_exec_params *p, int in_fd,
                    int out_fd, int err_fd, pid_t *pid_out, char *why, size_t why_len)
{
    return spawn_child(argv, env, p, in_fd, out_fd, err_fd, pid_out, why, why_len);
}

int guest_spawn_template(char *const argv[], char **env, int in_fd, int out_fd, int err_fd, pid_t *pid_out,
                         char *why, size_t why_len)
{
    return spawn_child(argv, env, NULL, in_fd, out_fd, err_fd, pid_out, why, why_len);
}

void guest_spawned_take(struct guest_spawned *out, pid_t pid, int in[2], int outp[2], int errp[2])
{
    out->pid = pid;
    out->stdin_fd = in[1];
    out->stdout_fd = outp[0];
    out->stderr_fd = errp[0];
    in[1] = outp[0] = errp[0] = -1;
    fcntl(out->stdin_fd, F_SETFL, O_NONBLOCK);
    fcntl(out->stdout_fd, F_SETFL, O_NONBLOCK);
    fcntl(out->stderr_fd, F_SETFL, O_NONBLOCK);
}

int guest_spawn(const Guest__V1__ExecRequest *req, const struct guest_exec_params *p,
                struct guest_spawned *out, char *why, size_t why_len)
{
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    char **argv = NULL, **env = NULL;
    int code = GUEST__V1__ERROR_RESPONSE__CODE__CODE_EXEC_FAILED;

    argv = calloc(req->n_argv + 1, sizeof(*argv));
    env = guest_exec_build_env(req);
    if (!argv || !env) {
        snprintf(why, why_len, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < req->n_argv; i++)
        argv[i] = req->argv[i];

    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        goto done;
    }
    pid_t pid = -1;
    code = guest_spawn_fds(argv, env, p, in[0], outp[1], errp[1], &pid, why, why_len);
    if (code)
        goto done;
    guest_spawned_take(out, pid, in, outp, errp);
done:
    close_pair(in);
    close_pair(outp);
    close_pair(errp);
    free(argv);
    guest_env_free(env);
    return code;
}

int guest_wait_child(pid_t pid, unsigned timeout_ms)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long nap_us = 50;
    for (;;) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return r < 0 && errno == ECHILD ? 0 : -errno;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t elapsed_ms = (uint64_t)(now.tv_sec - start.tv_sec) * 1000u +
                              (uint64_t)((now.tv_nsec - start.tv_nsec) / 1000000);
        if (elapsed_ms >= timeout_ms)
            break;
        struct timespec nap = {.tv_sec = 0, .tv_nsec = nap_us * 1000};
        nanosleep(&nap, NULL);
        if (nap_us < 10000)
            nap_us *= 2;
    }
    /* SIGKILL ends even a stopped process, at once. */
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return 1;
}
