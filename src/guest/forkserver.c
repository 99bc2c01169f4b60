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

/* How long the init waits for a worker to say it became the workload. It
 * may be uid 1000 by then, which a workload can stop. */
#define FORKSERVER_REPLY_MS 3000
/* How long a call waits for a worker the template is forking (a fork of a
 * warm interpreter: tens of ms under TCG); not for one still importing. */
#define FORKSERVER_WORKER_WAIT_MS 1000
/* The largest program handed over (the daemon passes at most 100000 bytes
 * as an argument; larger ones come on stdin, "python3 -"). */
#define FORKSERVER_MAX_CODE (128u << 10)
/* The largest environment handed over (larger ones take the fresh-process
 * path). */
#define FORKSERVER_MAX_ENV (32u << 10)

/* The template. Its stdin (fd 0) is the init's control socket
 * (SOCK_SEQPACKET). The init sends the workload seccomp filter first (the
 * BPF instructions), then "W" each time it wants a worker; the template
 * answers "R" once its imports are done, and for each "W" a worker's pid (a
 * 4-byte int, or minus an errno) with the worker's socket (SCM_RIGHTS). A
 * request on a worker's socket is a header (little-endian: 4 uint64 limits,
 * i.e. processes, open files, file size, address space; one kind byte; a
 * uint32 length of the environment block), the environment block (the
 * workload's whole environment as NUL-terminated NAME=value strings), then
 * the payload, with three descriptors (SCM_RIGHTS: the workload's 0, 1, 2).
 * Kind 'x': the payload is a program run as `python3 -c` runs it. Kind 'd':
 * the payload is the path of the interpreter driver, run as `python3 -u -I
 * PATH` runs it. The worker answers 0 once it is the workload (then runs
 * the payload), or minus an errno when a step failed (then exits). */
static const char forkserver_py[] =
    "import os, sys, socket, array, struct, gc\n"
    "ctl = socket.socket(fileno=os.dup(0))\n"
    "os.dup2(os.open('/dev/null', os.O_RDONLY), 0)\n"
    "sys.path[:] = [p for p in sys.path if p]  # nothing from the cwd, in root's imports\n"
    "import ctypes\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4\n"
    "libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0\n"
    "for m in ('json', 're', 'math', 'random', 'collections', 'itertools', 'functools', 'datetime',\n"
    "          'traceback', 'io', 'base64', 'hashlib', 'types', 'atexit', 'threading', 'string',\n"
    "          'pathlib', 'typing', 'dataclasses', 'enum', 'copy', 'time', 'struct'):\n"
    "    try:\n"
    "        __import__(m)\n"
    "    except Exception:\n"
    "        pass\n"
    "import traceback, types, atexit, random, threading, signal, resource, time, runpy, site\n"
    "HDR = struct.Struct('<4QBI')\n"
    "UID = 1000\n"
    "\n"
    "\n"
    "class FProg(ctypes.Structure):\n"
    "    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]\n"
    "\n"
    "\n"
    "bpf = ctl.recv(65536)  # the workload seccomp filter, from the init\n"
    "if not bpf or len(bpf) % 8:\n"
    "    os._exit(1)\n"
    "bpf_buf = ctypes.create_string_buffer(bpf, len(bpf))\n"
    "fprog = FProg(len(bpf) // 8, ctypes.addressof(bpf_buf))\n"
    "gc.collect()\n"
    "gc.freeze()\n"
    "\n"
    "\n"
    "def prctl(*a):\n"
    "    a = a + (0,) * (5 - len(a))\n"
    "    if libc.prctl(*a) < 0:\n"
    "        raise OSError(ctypes.get_errno(), 'prctl %d' % a[0])\n"
    "\n"
    "\n"
    "def become_workload(limits, fds):\n"
    "    \"\"\"What guest_spawn_fds does between fork and exec, in its order (the\n"
    "    bounding set was emptied when the worker started).\"\"\"\n"
    "    for i in range(3):\n"
    "        os.dup2(fds[i], i)\n"
    "    for fd in fds:\n"
    "        if fd > 2:\n"
    "            os.close(fd)\n"
    "    for r, v in zip((resource.RLIMIT_NPROC, resource.RLIMIT_NOFILE, resource.RLIMIT_FSIZE,\n"
    "                     resource.RLIMIT_AS, resource.RLIMIT_CORE), tuple(limits) + (0,)):\n"
    "        resource.setrlimit(r, (v, v))\n"
    "    os.setgroups([])\n"
    "    os.setresgid(UID, UID, UID)\n"
    "    os.setresuid(UID, UID, UID)\n"
    "    try:\n"
    "        os.setuid(0)\n"
    "        stuck = False\n"
    "    except OSError:\n"
    "        stuck = True\n"
    "    if not stuck or os.getresuid() != (UID,) * 3 or os.getresgid() != (UID,) * 3 or os.getgroups():\n"
    "        raise OSError(1, 'the uid/gid change did not stick')\n"
    "    prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG\n"
    "    os.umask(0o022)\n"
    "    os.chdir('/workspace')\n"
    "    prctl(38, 1)  # PR_SET_NO_NEW_PRIVS\n"
    "    prctl(22, 2, ctypes.addressof(fprog))  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER\n"
    "    prctl(4, 1)  # dumpable, as a fresh process is\n"
    "\n"
    "\n"
    "def run(kind, env, src):\n"
    "    # The request's whole environment, over what Python set at its start.\n"
    "    for k in [k for k in os.environb if k != b'LC_CTYPE']:\n"
    "        del os.environb[k]\n"
    "    for kv in env.split(b'\\0'):\n"
    "        if kv:\n"
    "            k, _, v = kv.partition(b'=')\n"
    "            os.environb[k] = v\n"
    "    time.tzset()\n"
    "    random.seed()\n"
    "    site.USER_BASE = site.USER_SITE = None\n"
    "    if kind == 100:  # 'd': the driver, as python3 -u -I PATH (no '' or user site on the path)\n"
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
    "    # As python3 -c: '' first, the user site (if it exists) before the others.\n"
    "    sys.path.insert(0, '')\n"
    "    us = site.getusersitepackages()\n"
    "    if site.ENABLE_USER_SITE and os.path.isdir(us):\n"
    "        n = len(sys.path)\n"
    "        site.addsitedir(us)\n"
    "        added = sys.path[n:]\n"
    "        del sys.path[n:]\n"
    "        at = next((i for i, p in enumerate(sys.path) if p.endswith(('-packages',))), len(sys.path))\n"
    "        sys.path[at:at] = added\n"
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
    "\n"
    "def worker(sock):\n"
    "    \"\"\"Root, the init's child, in its own session: waits for one request.\"\"\"\n"
    "    os.setsid()\n"
    "    fd = sock.fileno()\n"
    "    os.closerange(3, fd)\n"
    "    os.closerange(fd + 1, 65536)\n"
    "    # An empty capability bounding set now (it only limits what an exec\n"
    "    # could gain; the uid change later clears the rest).\n"
    "    for cap in range(64):\n"
    "        if libc.prctl(24, cap, 0, 0, 0) < 0 and ctypes.get_errno() != 22:\n"
    "            os._exit(127)\n"
    "    # Copy the pages shared with the template now, not on the call's path\n"
    "    # (MADV_POPULATE_WRITE breaks copy-on-write ahead of the writes).\n"
    "    for line in open('/proc/self/maps'):\n"
    "        f = line.split()\n"
    "        if f[1].startswith('rw') and f[1][3] == 'p':\n"
    "            lo, hi = (int(x, 16) for x in f[0].split('-'))\n"
    "            libc.madvise(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), 23)\n"
    "    while True:\n"
    "        try:\n"
    "            msg, anc, flags, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(3 * 4))\n"
    "            break\n"
    "        except InterruptedError:\n"
    "            continue\n"
    "    fds = array.array('i')\n"
    "    for level, typ, data in anc:\n"
    "        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:\n"
    "            fds.frombytes(data[:len(data) - len(data) % 4])\n"
    "    ok = len(fds) == 3 and len(msg) > HDR.size and not flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC)\n"
    "    if ok:\n"
    "        *limits, kind, envlen = HDR.unpack_from(msg)\n"
    "        ok = kind in (100, 120) and HDR.size + envlen < len(msg)\n"
    "    if not ok:\n"
    "        sock.send(struct.pack('i', -22))\n"
    "        os._exit(127)\n"
    "    try:\n"
    "        become_workload(limits, fds)\n"
    "    except OSError as e:\n"
    "        sock.send(struct.pack('i', -(e.errno or 1)))\n"
    "        os._exit(127)\n"
    "    sock.send(struct.pack('i', 0))\n"
    "    sock.close()\n"
    "    env = msg[HDR.size:HDR.size + envlen]\n"
    "    src = msg[HDR.size + envlen:].decode('utf-8', 'surrogateescape')\n"
    "    del msg\n"
    "    run(kind, env, src)\n"
    "\n"
    "\n"
    "ctl.send(b'R')\n"
    "while True:\n"
    "    try:\n"
    "        m = ctl.recv(16)\n"
    "    except InterruptedError:\n"
    "        continue\n"
    "    if not m:\n"
    "        os._exit(0)\n"
    "    if m != b'W':\n"
    "        continue\n"
    "    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
    "    r, w = os.pipe()\n"
    "    try:\n"
    "        pid = os.fork()\n"
    "    except OSError as e:\n"
    "        for s in (a, b):\n"
    "            s.close()\n"
    "        for x in (r, w):\n"
    "            os.close(x)\n"
    "        ctl.send(struct.pack('i', -e.errno))\n"
    "        continue\n"
    "    if pid == 0:\n"
    "        try:\n"
    "            ctl.close()\n"
    "            a.close()\n"
    "            os.close(r)\n"
    "            g = os.fork()\n"
    "            if g == 0:\n"
    "                os.close(w)\n"
    "                worker(b)\n"
    "            os.write(w, struct.pack('i', g))\n"
    "        finally:\n"
    "            os._exit(120)\n"
    "    os.close(w)\n"
    "    b.close()\n"
    "    got = os.read(r, 4)\n"
    "    os.close(r)\n"
    "    os.waitpid(pid, 0)  # the worker is the init's child from here\n"
    "    if len(got) == 4:\n"
    "        ctl.sendmsg([got], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [a.fileno()]))])\n"
    "    else:\n"
    "        ctl.send(struct.pack('i', -5))\n"
    "    a.close()\n";

struct guest_forkserver {
    char *python;
    pid_t pid; /* the template */
    struct timespec started;
    int ctl;
    bool ready;     /* it said "R" */
    bool requested; /* a "W" not answered yet */
    bool held;      /* killed by a resume: started again by guest_forkserver_release */
    pid_t worker;   /* a worker waiting for a request, and its socket */
    int wsock;
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
    fs->ctl = fs->wsock = -1;
    return fs;
}

static void drop_worker(struct guest_forkserver *fs)
{
    if (fs->worker > 0)
        kill(fs->worker, SIGKILL); /* reaped by the init's reaper */
    fs->worker = 0;
    if (fs->wsock >= 0)
        close(fs->wsock);
    fs->wsock = -1;
}

static void forkserver_stop(struct guest_forkserver *fs)
{
    if (fs->pid > 0)
        kill(fs->pid, SIGKILL);
    fs->pid = 0;
    if (fs->ctl >= 0)
        close(fs->ctl);
    fs->ctl = -1;
    fs->ready = fs->requested = false;
    drop_worker(fs);
}

void guest_forkserver_free(struct guest_forkserver *fs)
{
    if (!fs)
        return;
    forkserver_stop(fs);
    free(fs->python);
    free(fs);
}

/* The limits a worker may be given: a workload's defaults or lower (the
 * init validated them; the same bounds as when the fork server was a
 * uid-1000 process that could only lower its own). */
static void forkserver_params(struct guest_exec_params *p)
{
    memset(p, 0, sizeof(*p));
    p->cwd = GUEST_WORKSPACE;
    p->max_processes = GUEST_DEFAULT_PROCESSES;
    p->max_open_files = GUEST_DEFAULT_OPEN_FILES;
    p->max_file_size = GUEST_DEFAULT_FILE_SIZE;
    p->max_address_space = GUEST_DEFAULT_ADDRESS_SPACE;
}

static void request_worker(struct guest_forkserver *fs)
{
    if (fs->ctl < 0 || fs->requested || fs->worker > 0)
        return;
    if (send(fs->ctl, "W", 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
        fs->requested = true;
    else
        forkserver_stop(fs);
}

void guest_forkserver_start(struct guest_forkserver *fs)
{
    if (fs->pid > 0 || fs->held)
        return;
    uint8_t bpf[GUEST_SECCOMP_MAX_BYTES];
    size_t bpf_len = guest_seccomp_program(bpf, sizeof(bpf));
    if (bpf_len == 0)
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
    /* Its own environment is root's, not a workload's: each worker gets
     * the request's whole environment. HOME is "/" so that the user site
     * of a root Python is not under the workload's /workspace. */
    char *env[] = {"PATH=" GUEST_DEFAULT_PATH, "HOME=/", NULL};
    char *argv[] = {fs->python, "-c", (char *)forkserver_py, NULL};
    char why[256];
    pid_t pid = -1;
    int code = guest_spawn_template(argv, env, sv[1], null, null, &pid, why, sizeof(why));
    close(sv[1]);
    close(null);
    if (code != 0) {
        close(sv[0]);
        return;
    }
    fs->pid = pid;
    fs->ctl = sv[0];
    fs->ready = fs->requested = false;
    clock_gettime(CLOCK_MONOTONIC, &fs->started);
    if (send(fs->ctl, bpf, bpf_len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)bpf_len) {
        forkserver_stop(fs);
        return;
    }
    request_worker(fs); /* the first worker, once its imports are done */
}

bool guest_forkserver_reaped(struct guest_forkserver *fs, pid_t pid)
{
    if (!fs || pid <= 0)
        return false;
    if (pid == fs->worker) {
        fs->worker = 0; /* died waiting: the next idle turn asks for another */
        drop_worker(fs);
        return true;
    }
    if (pid != fs->pid)
        return false;
    fs->pid = 0;
    forkserver_stop(fs);
    /* One that died within a second of its start is started again only by
     * the next call (no restart loop). */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t age_ms = (int64_t)(now.tv_sec - fs->started.tv_sec) * 1000 + (now.tv_nsec - fs->started.tv_nsec) / 1000000;
    if (age_ms >= 1000)
        guest_forkserver_start(fs);
    return true;
}

void guest_forkserver_idle(struct guest_forkserver *fs)
{
    if (fs && !fs->held)
        request_worker(fs);
}

void guest_forkserver_restart(struct guest_forkserver *fs)
{
    if (!fs)
        return;
    /* Killed now; the next one starts at guest_forkserver_release, so
     * that its start does not take the vCPU from the resume's answers. */
    fs->held = true;
    forkserver_stop(fs);
}

void guest_forkserver_release(struct guest_forkserver *fs)
{
    if (!fs || !fs->held)
        return;
    fs->held = false;
    guest_forkserver_start(fs);
}

void guest_forkserver_counts(const struct guest_forkserver *fs, uint64_t *served, uint64_t *fallbacks)
{
    *served = fs ? fs->served : 0;
    *fallbacks = fs ? fs->fallbacks : 0;
}

/* The request's variables are set in the workload after Python started;
 * those that change how Python itself starts (its PYTHON* settings, the
 * locale it coerces at start) would not take effect, so such a request gets
 * a fresh process. */
static bool env_forkable(const Guest__V1__ExecRequest *req)
{
    for (size_t i = 0; i < req->n_env; i++) {
        const char *n = req->env[i]->name;
        if (strncmp(n, "PYTHON", 6) == 0 || strncmp(n, "LC_", 3) == 0 || strcmp(n, "LANG") == 0 ||
            strcmp(n, "LANGUAGE") == 0)
            return false;
    }
    return true;
}

/* Limits above a workload's defaults take a fresh process. */
static bool params_forkable(const struct guest_exec_params *p)
{
    struct guest_exec_params fp;
    forkserver_params(&fp);
    return strcmp(p->cwd, GUEST_WORKSPACE) == 0 && p->max_processes <= fp.max_processes &&
           p->max_open_files <= fp.max_open_files && p->max_file_size <= fp.max_file_size &&
           p->max_address_space <= fp.max_address_space;
}

/* A python tool call as the daemon sends it, with nothing a worker would
 * do differently from a fresh python3. */
static bool eligible(const Guest__V1__ExecRequest *req, const struct guest_exec_params *p)
{
    return req->n_argv == 3 && strcmp(req->argv[0], "python3") == 0 && strcmp(req->argv[1], "-c") == 0 &&
           strlen(req->argv[2]) <= FORKSERVER_MAX_CODE && !req->stdin_open && env_forkable(req) &&
           params_forkable(p);
}

/* Reads what the template sent ("R", a worker), waiting up to wait_ms for a
 * worker. False when none waits. */
static bool take_worker(struct guest_forkserver *fs, int wait_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (fs->worker <= 0 && fs->ctl >= 0) {
        int32_t v = 0;
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = &v, .iov_len = sizeof(v)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        ssize_t n = recvmsg(fs->ctl, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        int fd = -1;
        struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
        if (n == 1 && fd < 0 && *(char *)&v == 'R' && !fs->ready) {
            fs->ready = true;
            continue;
        }
        if (n == (ssize_t)sizeof(v) && fs->requested && (fd >= 0 || v < 0)) {
            fs->requested = false;
            if (v > 1 && fd >= 0) {
                fs->worker = v;
                fs->wsock = fd;
                return true;
            }
            if (fd >= 0)
                close(fd);
            return false; /* the fork failed; asked again when idle */
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long left = wait_ms - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
            /* Wait only for a worker being forked by a ready template. */
            if (!fs->ready || !fs->requested || left <= 0)
                return false;
            struct pollfd pf = {.fd = fs->ctl, .events = POLLIN};
            if (poll(&pf, 1, (int)left) < 0 && errno != EINTR)
                return false;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        /* Closed, or not what it says: start it again. */
        if (fd >= 0)
            close(fd);
        forkserver_stop(fs);
        return false;
    }
    return fs->worker > 0;
}

/* Hands one workload to the waiting worker: kind 'x' (payload: a program)
 * or 'd' (payload: the driver's path). Returns as guest_forkserver_spawn. */
static int submit(struct guest_forkserver *fs, char kind, const Guest__V1__ExecRequest *req, const char *payload,
                  const struct guest_exec_params *params, struct guest_spawned *out, char *why, size_t why_len)
{
    if (fs->pid <= 0 && !fs->held)
        guest_forkserver_start(fs); /* for a later call */
    if (!take_worker(fs, FORKSERVER_WORKER_WAIT_MS)) {
        fs->fallbacks++;
        return 1;
    }
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    int code = GUEST__V1__ERROR_RESPONSE__CODE__CODE_EXEC_FAILED;
    char *env = NULL;
    char **vars = guest_exec_build_env(req);
    size_t env_len = 0;
    for (size_t i = 0; vars && vars[i]; i++)
        env_len += strlen(vars[i]) + 1;
    if (!vars || env_len > FORKSERVER_MAX_ENV || !(env = malloc(env_len ? env_len : 1))) {
        fs->fallbacks++;
        code = 1;
        goto done;
    }
    size_t at = 0;
    for (size_t i = 0; vars[i]; i++) {
        size_t l = strlen(vars[i]) + 1;
        memcpy(env + at, vars[i], l);
        at += l;
    }
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        goto done;
    }
    /* Hand over the code and the workload's ends of the pipes. */
    int fds[3] = {in[0], outp[1], errp[1]};
    char cbuf[CMSG_SPACE(sizeof(fds))];
    memset(cbuf, 0, sizeof(cbuf));
    /* The header, packed as the worker reads it ('<4QBI'). */
    uint8_t header[4 * 8 + 1 + 4];
    uint64_t limits[4] = {htole64(params->max_processes), htole64(params->max_open_files),
                          htole64(params->max_file_size), htole64(params->max_address_space)};
    uint32_t env_le = htole32((uint32_t)env_len);
    memcpy(header, limits, sizeof(limits));
    header[32] = (uint8_t)kind;
    memcpy(header + 33, &env_le, sizeof(env_le));
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
        sent = sendmsg(fs->wsock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent != (ssize_t)total) {
        /* Nothing was handed over: a fresh process runs it instead. */
        drop_worker(fs);
        fs->fallbacks++;
        code = 1;
        goto done;
    }
    /* From here the code may start: never fall back (it would run twice). */
    pid_t pid = fs->worker;
    int sock = fs->wsock;
    fs->worker = 0;
    fs->wsock = -1;
    struct pollfd pf = {.fd = sock, .events = POLLIN};
    int pr;
    do
        pr = poll(&pf, 1, FORKSERVER_REPLY_MS);
    while (pr < 0 && errno == EINTR);
    int32_t answer = 1;
    ssize_t n = pr > 0 ? recv(sock, &answer, sizeof(answer), MSG_DONTWAIT) : -1;
    close(sock);
    if (n != (ssize_t)sizeof(answer) || answer != 0) {
        snprintf(why, why_len, "the Python fork server's worker did not start the program (%s)",
                 pr == 0 ? "no answer" : n == (ssize_t)sizeof(answer) && answer < 0 ? strerror(-answer)
                                                                                    : "bad answer");
        kill(pid, SIGKILL);
        goto done;
    }
    /* It must be ours (reparented before the template named it); look
     * without reaping it. */
    siginfo_t si = {0};
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
        snprintf(why, why_len, "the Python fork server named a process that is not the init's");
        kill(pid, SIGKILL);
        goto done;
    }
    guest_spawned_take(out, pid, in, outp, errp);
    fs->served++;
    code = 0;
done:
    free(env);
    guest_env_free(vars);
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
    if (!fs || !eligible(req, params))
        return 1;
    return submit(fs, 'x', req, req->argv[2], params, out, why, why_len);
}

int guest_forkserver_spawn_driver(struct guest_forkserver *fs, const Guest__V1__ExecRequest *req,
                                  const struct guest_exec_params *params, const char *driver,
                                  struct guest_spawned *out, char *why, size_t why_len)
{
    if (!fs || req->n_argv < 1 || strcmp(req->argv[0], fs->python) != 0 || strlen(driver) > 4096 ||
        !env_forkable(req) || !params_forkable(params))
        return 1;
    return submit(fs, 'd', req, driver, params, out, why, why_len);
}
