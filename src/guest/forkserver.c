/* The pre-started Python (see guest.h): the init's side. */
#include "guest/guest.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long the init waits for the fork server to report a started
 * workload: it is a workload-user process that a workload can stop. */
#define FORKSERVER_REPLY_MS 3000
/* The largest program handed over (the daemon passes at most 100000 bytes
 * as an argument; larger ones come on stdin, "python3 -"). */
#define FORKSERVER_MAX_CODE (128u << 10)
/* The request's own environment variables handed over with it (larger
 * environments take the fresh-process path). */
#define FORKSERVER_MAX_ENV (32u << 10)

/* The fork server. Its stdin (fd 0) is the init's control socket
 * (SOCK_SEQPACKET). A message is a header (little-endian: 4 uint64 limits,
 * i.e. processes, open files, file size, address space, each at most the
 * fork server's own; one kind byte; a uint32 length of the environment
 * block), the environment block (the request's own variables as
 * NUL-terminated NAME=value strings, set over the fork server's environment,
 * which is a fresh workload's), then the payload, with three descriptors
 * (SCM_RIGHTS: the workload's 0, 1, 2). Kind 'x': the payload is a program
 * run as `python3 -c` runs it. Kind 'd': the payload is the path of the
 * interpreter driver, run as `python3 -u -I PATH` runs it. The workload sets
 * the limits first. The answer is the workload's pid (a 4-byte int), or minus
 * an errno. "R" once ready. */
static const char forkserver_py[] =
    "import os, sys, socket, array, struct, gc\n"
    "ctl = socket.socket(fileno=os.dup(0))\n"
    "os.dup2(os.open('/dev/null', os.O_RDONLY), 0)\n"
    "import ctypes\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no /proc/PID/mem for the workload user\n"
    "for m in ('json', 're', 'math', 'random', 'collections', 'itertools', 'functools', 'datetime',\n"
    "          'traceback', 'io', 'base64', 'hashlib', 'types', 'atexit', 'threading', 'string',\n"
    "          'pathlib', 'typing', 'dataclasses', 'enum', 'copy', 'time', 'struct'):\n"
    "    try:\n"
    "        __import__(m)\n"
    "    except Exception:\n"
    "        pass\n"
    "import traceback, types, atexit, random, threading, signal, resource, time\n"
    "gc.collect()\n"
    "gc.freeze()\n"
    "\n"
    "import runpy, site\n"
    "HDR = struct.Struct('<4QBI')\n"
    "\n"
    "def run(limits, kind, env, src, fds):\n"
    "    for i in range(3):\n"
    "        os.dup2(fds[i], i)\n"
    "    for kv in env.split(b'\\0'):\n"
    "        if kv:\n"
    "            k, _, v = kv.partition(b'=')\n"
    "            os.environb[k] = v\n"
    "    time.tzset()\n"
    "    for r, v in zip((resource.RLIMIT_NPROC, resource.RLIMIT_NOFILE, resource.RLIMIT_FSIZE,\n"
    "                     resource.RLIMIT_AS), limits):\n"
    "        resource.setrlimit(r, (v, v))\n"
    "    if os.getresuid() != (1000, 1000, 1000):\n"
    "        os._exit(126)\n"
    "    os.setsid()\n"
    "    os.closerange(3, 65536)\n"
    "    libc.prctl(4, 1, 0, 0, 0)  # dumpable again, as a fresh process is\n"
    "    os.chdir('/workspace')\n"
    "    random.seed()\n"
    "    if kind == 100:  # 'd': the driver, as python3 -u -I PATH (no '' or user site on the path)\n"
    "        sys.path[:] = [p for p in sys.path if p and p != site.USER_SITE]\n"
    "        sys.argv[:] = [src]\n"
    "        try:\n"
    "            runpy.run_path(src, run_name='__main__')\n"
    "            code = 0\n"
    "        except SystemExit as e:\n"
    "            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)\n"
    "        except BaseException:\n"
    "            traceback.print_exc()\n"
    "            code = 1\n"
    "        os._exit(code & 0xff)\n"
    "    sys.argv[:] = ['-c']\n"
    "    main = types.ModuleType('__main__')\n"
    "    main.__dict__['__builtins__'] = __builtins__\n"
    "    sys.modules['__main__'] = main\n"
    "    code = 0\n"
    "    try:\n"
    "        exec(compile(src, '<string>', 'exec'), main.__dict__)\n"
    "    except SystemExit as e:\n"
    "        c = e.code\n"
    "        if c is None:\n"
    "            code = 0\n"
    "        elif isinstance(c, int):\n"
    "            code = c & 0xff\n"
    "        else:\n"
    "            try:\n"
    "                print(c, file=sys.stderr)\n"
    "            except Exception:\n"
    "                pass\n"
    "            code = 1\n"
    "    except BaseException:\n"
    "        t, v, tb = sys.exc_info()\n"
    "        v.__traceback__ = tb.tb_next  # from the program's frame, as python3 -c shows it\n"
    "        sys.excepthook(t, v, v.__traceback__)\n"
    "        code = 1\n"
    "    try:\n"
    "        threading._shutdown()\n"
    "        atexit._run_exitfuncs()\n"
    "    except BaseException:\n"
    "        pass\n"
    "    for f in (sys.stdout, sys.stderr):\n"
    "        try:\n"
    "            f.flush()\n"
    "        except Exception:\n"
    "            code = code or 120\n"
    "    os._exit(code)\n"
    "\n"
    "ctl.send(b'R')\n"
    "while True:\n"
    "    try:\n"
    "        msg, anc, flags, _ = ctl.recvmsg(1 << 20, socket.CMSG_SPACE(3 * 4))\n"
    "    except InterruptedError:\n"
    "        continue\n"
    "    if not msg and not anc:\n"
    "        os._exit(0)\n"
    "    fds = array.array('i')\n"
    "    for level, typ, data in anc:\n"
    "        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:\n"
    "            fds.frombytes(data[:len(data) - len(data) % 4])\n"
    "    ok = len(fds) == 3 and len(msg) > HDR.size and not flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC)\n"
    "    if ok:\n"
    "        *limits, kind, envlen = HDR.unpack_from(msg)\n"
    "        ok = kind in (100, 120) and HDR.size + envlen < len(msg)\n"
    "    if not ok:\n"
    "        for fd in fds:\n"
    "            os.close(fd)\n"
    "        ctl.send(struct.pack('i', -22))\n"
    "        continue\n"
    "    r, w = os.pipe()\n"
    "    try:\n"
    "        pid = os.fork()\n"
    "    except OSError as e:\n"
    "        pid = -1\n"
    "        err = e.errno\n"
    "    if pid == 0:\n"
    "        os.close(r)\n"
    "        try:\n"
    "            g = os.fork()\n"
    "        except OSError as e:\n"
    "            os.write(w, struct.pack('i', -e.errno))\n"
    "            os._exit(1)\n"
    "        if g == 0:\n"
    "            os.close(w)\n"
    "            ctl.close()\n"
    "            try:\n"
    "                env = msg[HDR.size:HDR.size + envlen]\n"
    "                src = msg[HDR.size + envlen:].decode('utf-8', 'surrogateescape')\n"
    "                run(limits, kind, env, src, fds)\n"
    "            except BaseException:\n"
    "                traceback.print_exc()\n"
    "            finally:\n"
    "                os._exit(120)\n"
    "        os.write(w, struct.pack('i', g))\n"
    "        os._exit(0)\n"
    "    os.close(w)\n"
    "    for fd in fds:\n"
    "        os.close(fd)\n"
    "    if pid < 0:\n"
    "        os.close(r)\n"
    "        ctl.send(struct.pack('i', -err))\n"
    "        continue\n"
    "    got = os.read(r, 4)\n"
    "    os.close(r)\n"
    "    os.waitpid(pid, 0)  # the workload is the init's child from here\n"
    "    ctl.send(got if len(got) == 4 else struct.pack('i', -5))\n";

struct guest_forkserver {
    char *python;
    char proxy[64]; /* the egress proxy URL in its environment (guest_exec_proxy() at its start) */
    pid_t pid;
    struct timespec started;
    int ctl;
    bool ready;
    bool held; /* killed by a resume: started again by guest_forkserver_release */
    bool swept; /* killed on purpose with the workload: started again when reaped, however young */
    uint64_t served, fallbacks;
};

struct guest_forkserver *guest_forkserver_new(const char *python)
{
    struct guest_forkserver *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return NULL;
    fs->python = strdup(python ? python : "python3");
    if (!fs->python) {
        free(fs);
        return NULL;
    }
    fs->ctl = -1;
    return fs;
}

static void forkserver_stop(struct guest_forkserver *fs)
{
    if (fs->pid > 0)
        kill(fs->pid, SIGKILL); /* reaped by the init's reaper */
    if (fs->ctl >= 0)
        close(fs->ctl);
    fs->ctl = -1;
    fs->ready = false;
}

void guest_forkserver_free(struct guest_forkserver *fs)
{
    if (!fs)
        return;
    forkserver_stop(fs);
    free(fs->python);
    free(fs);
}

/* The limits the fork server runs under: a workload's defaults. Its
 * workloads lower them to the request's (the fork server counts as one of
 * uid 1000's processes while it waits). */
static void forkserver_params(struct guest_exec_params *p)
{
    memset(p, 0, sizeof(*p));
    p->cwd = GUEST_WORKSPACE;
    p->max_processes = GUEST_DEFAULT_PROCESSES;
    p->max_open_files = GUEST_DEFAULT_OPEN_FILES;
    p->max_file_size = GUEST_DEFAULT_FILE_SIZE;
    p->max_address_space = GUEST_DEFAULT_ADDRESS_SPACE;
}

void guest_forkserver_start(struct guest_forkserver *fs)
{
    if (fs->pid > 0)
        return;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    Guest__V1__ExecRequest none = GUEST__V1__EXEC_REQUEST__INIT;
    char **env = guest_exec_build_env(&none);
    snprintf(fs->proxy, sizeof(fs->proxy), "%s", guest_exec_proxy());
    char *argv[] = {fs->python, "-c", (char *)forkserver_py, NULL};
    struct guest_exec_params p;
    forkserver_params(&p);
    char why[256];
    pid_t pid = -1;
    int code = env ? guest_spawn_fds(argv, env, &p, sv[1], null, null, &pid, why, sizeof(why)) : -1;
    guest_env_free(env);
    close(sv[1]);
    close(null);
    if (code != 0) {
        close(sv[0]);
        return;
    }
    fs->pid = pid;
    fs->ctl = sv[0];
    fs->ready = false;
    fs->swept = false;
    clock_gettime(CLOCK_MONOTONIC, &fs->started);
}

bool guest_forkserver_reaped(struct guest_forkserver *fs, pid_t pid)
{
    if (!fs || pid <= 0 || pid != fs->pid)
        return false;
    bool swept = fs->swept;
    fs->pid = 0;
    forkserver_stop(fs);
    /* Swept after an exec: start the next one now, so it is ready for the
     * next call, however young the one swept was (a call that fell back to
     * a fresh python3 and ended within a second would otherwise sweep every
     * fork server it started, and no call would ever find one ready). One
     * that died by itself within a second of its start is started again
     * only by the next call (no restart loop). */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t age_ms = (int64_t)(now.tv_sec - fs->started.tv_sec) * 1000 +
                     (now.tv_nsec - fs->started.tv_nsec) / 1000000;
    if (!fs->held && (swept || age_ms >= 1000))
        guest_forkserver_start(fs);
    return true;
}

void guest_forkserver_swept(struct guest_forkserver *fs)
{
    if (!fs)
        return;
    /* Killed with every uid-1000 process; not reaped yet. Nothing more may
     * be sent to it (the message could be lost with it). */
    if (fs->ctl >= 0)
        close(fs->ctl);
    fs->ctl = -1;
    fs->ready = false;
    fs->swept = fs->pid > 0;
}

void guest_forkserver_restart(struct guest_forkserver *fs)
{
    if (!fs)
        return;
    /* Killed now; the next one starts at guest_forkserver_release, so
     * that its start does not take the vCPU from the resume's answers. */
    fs->held = true;
    if (fs->pid > 0) {
        kill(fs->pid, SIGKILL);
        guest_forkserver_swept(fs);
    }
}

void guest_forkserver_release(struct guest_forkserver *fs)
{
    if (!fs || !fs->held)
        return;
    fs->held = false;
    if (fs->pid <= 0)
        guest_forkserver_start(fs);
    else
        fs->started.tv_sec -= 2; /* not reaped yet: restarted when it is */
}

void guest_forkserver_counts(const struct guest_forkserver *fs, uint64_t *served, uint64_t *fallbacks)
{
    *served = fs ? fs->served : 0;
    *fallbacks = fs ? fs->fallbacks : 0;
}

/* The request's variables are set in the workload over the fork server's own
 * environment; those that change how Python itself starts (its PYTHON*
 * settings, the locale it coerces at start) would not take effect after a
 * fork, so such a request gets a fresh process. */
static bool env_forkable(const Guest__V1__ExecRequest *req, size_t *block_len)
{
    size_t len = 0;
    for (size_t i = 0; i < req->n_env; i++) {
        const char *n = req->env[i]->name, *v = req->env[i]->value ? req->env[i]->value : "";
        if (strncmp(n, "PYTHON", 6) == 0 || strncmp(n, "LC_", 3) == 0 || strcmp(n, "LANG") == 0 ||
            strcmp(n, "LANGUAGE") == 0)
            return false;
        len += strlen(n) + 1 + strlen(v) + 1;
    }
    *block_len = len;
    return len <= FORKSERVER_MAX_ENV;
}

/* Limits above the fork server's could not be set by its child. */
static bool params_forkable(const struct guest_exec_params *p)
{
    struct guest_exec_params fp;
    forkserver_params(&fp);
    return strcmp(p->cwd, GUEST_WORKSPACE) == 0 && p->max_processes <= fp.max_processes &&
           p->max_open_files <= fp.max_open_files && p->max_file_size <= fp.max_file_size &&
           p->max_address_space <= fp.max_address_space;
}

/* A python tool call as the daemon sends it, with nothing the fork server
 * would do differently from a fresh python3. */
static bool eligible(const Guest__V1__ExecRequest *req, const struct guest_exec_params *p, size_t *env_len)
{
    return req->n_argv == 3 && strcmp(req->argv[0], "python3") == 0 && strcmp(req->argv[1], "-c") == 0 &&
           strlen(req->argv[2]) <= FORKSERVER_MAX_CODE && !req->stdin_open && env_forkable(req, env_len) &&
           params_forkable(p);
}

/* Ready when it said "R" (checked without waiting). */
static bool check_ready(struct guest_forkserver *fs)
{
    if (fs->ready)
        return true;
    if (fs->ctl < 0)
        return false;
    char b;
    ssize_t n = recv(fs->ctl, &b, 1, MSG_DONTWAIT);
    if (n == 1 && b == 'R')
        fs->ready = true;
    else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || n == 1)
        forkserver_stop(fs);
    return fs->ready;
}

/* Hands one workload to the fork server: kind 'x' (payload: a program) or
 * 'd' (payload: the driver's path). Returns as guest_forkserver_spawn. */
static int submit(struct guest_forkserver *fs, char kind, const Guest__V1__ExecRequest *req, size_t env_len,
                  const char *payload, const struct guest_exec_params *params, struct guest_spawned *out,
                  char *why, size_t why_len)
{
    if (fs->pid > 0 && strcmp(fs->proxy, guest_exec_proxy()) != 0) {
        /* Started before the egress proxy began or ended: its environment
         * is not a workload's now. It is started again once reaped. */
        forkserver_stop(fs);
        fs->fallbacks++;
        return 1;
    }
    if (!check_ready(fs)) {
        guest_forkserver_start(fs); /* for the next call */
        fs->fallbacks++;
        return 1;
    }
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    int code = GUEST__V1__ERROR_RESPONSE__CODE__CODE_EXEC_FAILED;
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        goto done;
    }
    /* Hand over the code and the workload's ends of the pipes. */
    int fds[3] = {in[0], outp[1], errp[1]};
    char cbuf[CMSG_SPACE(sizeof(fds))];
    memset(cbuf, 0, sizeof(cbuf));
    /* The header, packed as the fork server reads it ('<4QBI'). */
    uint8_t header[4 * 8 + 1 + 4];
    uint64_t limits[4] = {htole64(params->max_processes), htole64(params->max_open_files),
                          htole64(params->max_file_size), htole64(params->max_address_space)};
    uint32_t env_le = htole32((uint32_t)env_len);
    memcpy(header, limits, sizeof(limits));
    header[32] = (uint8_t)kind;
    memcpy(header + 33, &env_le, sizeof(env_le));
    char *env = env_len ? malloc(env_len) : NULL;
    if (env_len && !env) {
        fs->fallbacks++;
        code = 1;
        goto done;
    }
    size_t at = 0;
    for (size_t i = 0; i < req->n_env; i++) {
        const char *v = req->env[i]->value ? req->env[i]->value : "";
        at += (size_t)sprintf(env + at, "%s=%s", req->env[i]->name, v) + 1;
    }
    struct iovec iov[3] = {{.iov_base = header, .iov_len = sizeof(header)},
                           {.iov_base = env, .iov_len = env_len},
                           {.iov_base = (char *)payload, .iov_len = strlen(payload)}};
    char empty = '\n';
    if (iov[2].iov_len == 0) { /* an empty program: a newline compiles the same */
        iov[2].iov_base = &empty;
        iov[2].iov_len = 1;
    }
    size_t total = iov[0].iov_len + iov[1].iov_len + iov[2].iov_len;
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(cm), fds, sizeof(fds));
    ssize_t sent;
    do
        sent = sendmsg(fs->ctl, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    free(env);
    if (sent != (ssize_t)total) {
        /* Nothing was handed over: a fresh process runs it instead. */
        forkserver_stop(fs);
        fs->fallbacks++;
        code = 1;
        goto done;
    }
    /* From here the code may start: never fall back (it would run twice). */
    struct pollfd pf = {.fd = fs->ctl, .events = POLLIN};
    int pr;
    do
        pr = poll(&pf, 1, FORKSERVER_REPLY_MS);
    while (pr < 0 && errno == EINTR);
    int32_t pid = 0;
    ssize_t n = pr > 0 ? recv(fs->ctl, &pid, sizeof(pid), MSG_DONTWAIT) : -1;
    if (n != (ssize_t)sizeof(pid) || pid <= 1) {
        int e = errno;
        snprintf(why, why_len, "the Python fork server did not start the program (%s; %zd bytes, events %#x, %s)",
                 pr == 0 ? "no answer" : pid < 0 ? strerror(-pid) : "bad answer", n, (unsigned)pf.revents,
                 n < 0 ? strerror(e) : "-");
        forkserver_stop(fs);
        goto done;
    }
    /* It must be ours now (reparented); look without reaping it. */
    siginfo_t si = {0};
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
        snprintf(why, why_len, "the Python fork server named a process that is not the init's");
        kill((pid_t)pid, SIGKILL);
        forkserver_stop(fs);
        goto done;
    }
    guest_spawned_take(out, (pid_t)pid, in, outp, errp);
    fs->served++;
    code = 0;
done:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    return code;
}

int guest_forkserver_spawn(struct guest_forkserver *fs, const Guest__V1__ExecRequest *req,
                           const struct guest_exec_params *params, struct guest_spawned *out, char *why,
                           size_t why_len)
{
    size_t env_len = 0;
    if (!fs || !eligible(req, params, &env_len))
        return 1;
    return submit(fs, 'x', req, env_len, req->argv[2], params, out, why, why_len);
}

int guest_forkserver_spawn_driver(struct guest_forkserver *fs, const Guest__V1__ExecRequest *req,
                                  const struct guest_exec_params *params, const char *driver,
                                  struct guest_spawned *out, char *why, size_t why_len)
{
    size_t env_len = 0;
    if (!fs || req->n_argv < 1 || strcmp(req->argv[0], fs->python) != 0 || strlen(driver) > 4096 ||
        !env_forkable(req, &env_len) || !params_forkable(params))
        return 1;
    return submit(fs, 'd', req, env_len, driver, params, out, why, why_len);
}
