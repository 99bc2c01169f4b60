"""The pre-started Python in the guest (the fork server, src/guest/forkserver.c):
a `python` tool call runs in a child forked from a ready interpreter, with
the same uid, groups, capabilities, no_new_privs, seccomp filter, limits,
session and process group as a fresh `python3`, a fresh pid each time, and
nothing left from the call before. `/usr/bin/python3` (tool exec) always
starts a fresh interpreter: the reference the fork server is held to."""
import json
import time

import pytest

from conftest import Daemon

PROBE = r"""
import os, sys, resource
print(os.getresuid(), os.getresgid(), os.getgroups())
print(os.getsid(0) == os.getpid(), os.getpgrp() == os.getpid(), os.getppid())
print([resource.getrlimit(r) for r in (resource.RLIMIT_NPROC, resource.RLIMIT_NOFILE,
       resource.RLIMIT_FSIZE, resource.RLIMIT_AS, resource.RLIMIT_CORE)])
print([l.split(':')[1].strip() for l in open('/proc/self/status')
       if l.split(':')[0] in ('Seccomp', 'NoNewPrivs', 'CapEff', 'CapPrm', 'CapBnd', 'CapInh', 'CapAmb')])
print(os.getcwd(), sorted(os.listdir('/proc/self/fd')), sys.argv, __name__)
print(sorted(k for k in os.environ))
"""


def backoff(tries):
    """Seconds to wait before asking again: 8, then twice as long each time
    (at most 64). The fork server is swept with the workload after each exec
    and started again, a call that comes before it is up included: under TCG
    on a busy machine, where its start takes longer than the wait, asking at
    a fixed pace could keep it from ever being ready."""
    return min(8 << tries, 64)


def forked(d, sid, code, timeout=300):
    """Runs code with the python tool once the fork server served it: the
    first line printed is whether json was imported before the program ran
    (only the fork server pre-imports it). Returns the rest of the output."""
    deadline = time.time() + timeout
    tries = 0
    while time.time() < deadline:
        r = d.python(sid, "import sys\nprint('json' in sys.modules)\n" + code)
        out = r.get("output", "")
        if out.startswith("True\n"):
            return r, out[len("True\n"):]
        # The fork server is swept with the workload after each exec and
        # started again; under TCG on a busy machine that takes seconds.
        time.sleep(backoff(tries))
        tries += 1
    raise AssertionError("the fork server never served a call")


def fresh(d, sid, code):
    r = d.call("ExecuteTool", {"sessionId": sid, "toolName": "exec", "input": json.dumps(
        ["/usr/bin/python3", "-c", "import sys\nprint('json' in sys.modules)\n" + code])})
    out = r.get("output", "")
    assert out.startswith("False\n"), r
    return r, out[len("False\n"):]


@pytest.fixture(scope="module")
def fsd():
    d = Daemon().start()
    d.start_session(sessionId="fs")
    yield d
    d.cleanup()


def test_same_isolation_as_a_fresh_process(fsd):
    _, a = forked(fsd, "fs", PROBE)
    _, b = fresh(fsd, "fs", PROBE)
    assert a == b, (a, b)
    assert "(1000, 1000, 1000)" in a and "'0', '1', '2'" in a


def test_fresh_pid_and_no_state_between_calls(fsd):
    leave = ("import os, json, random\n"
             "json.left_behind = 1\n"
             "globals()['left'] = 2\n"
             "os.environ['LEFT'] = '3'\n"
             "print(os.getpid(), random.random())\n")
    _, one = forked(fsd, "fs", leave)
    _, two = forked(fsd, "fs", leave)
    pid1, r1 = one.split()
    pid2, r2 = two.split()
    assert pid1 != pid2 and r1 != r2, (one, two)
    _, out = forked(fsd, "fs", "import os, json\n"
                    "print(hasattr(json, 'left_behind'), 'left' in globals(), 'LEFT' in os.environ)\n")
    assert out == "False False False\n", out


def test_exit_codes_and_tracebacks_as_python3_c(fsd):
    r, _ = forked(fsd, "fs", "import sys\nsys.exit(3)\n")
    assert r.get("exitCode") == 3, r
    r, _ = forked(fsd, "fs", "raise ValueError('boom')\n")
    f, _ = fresh(fsd, "fs", "raise ValueError('boom')\n")
    assert r.get("exitCode") == 1 and f.get("exitCode") == 1
    # Same traceback, less the line numbers (the marker line differs by one).
    strip = lambda e: [l for l in e.splitlines() if "line" not in l]
    assert strip(r["error"]) == strip(f["error"]) and "ValueError: boom" in r["error"], (r, f)
    r, _ = forked(fsd, "fs", "import sys\nsys.exit('bye')\n")
    assert r.get("exitCode") == 1 and r.get("error") == "bye\n", r


def test_a_quick_exec_right_after_a_call_leaves_a_ready_fork_server(fsd):
    """The sweep after an exec kills the fork server that started when the
    call before it ended, young as it is; the next one starts when it is
    reaped. (Once only a fork server older than a second was started again:
    a quick exec right after a call could leave none, and a later call that
    fell back to a fresh python3 and ended quickly swept the one it had
    started, again and again. Whether the old rule fails here depends on
    how fast the guest runs, so this is a regression scenario, not proof.)"""
    forked(fsd, "fs", "pass\n")
    for _ in range(3):
        r = fsd.call("ExecuteTool", {"sessionId": "fs", "toolName": "exec", "input": json.dumps(
            ["/usr/bin/python3", "-S", "-c", "pass"])})
        assert r.get("exitCode", 0) == 0, r
    _, out = forked(fsd, "fs", "print('served')\n", timeout=240)
    assert out == "served\n", out


def test_the_fork_server_cannot_be_reached(fsd):
    """The workload cannot read the fork server's memory, and one that stops
    it does not reach the next call: the sweep after the exec kills it and a
    new one starts."""
    code = ("import os, signal\n"
            "me = os.getpid()\n"
            "srv = [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != me and\n"
            "       b'json' in open(f'/proc/{p}/cmdline', 'rb').read()]\n"
            "print(len(srv))\n"
            "for p in srv:\n"
            "    try:\n"
            "        open(f'/proc/{p}/mem', 'rb').read(1)\n"
            "        print('read its memory')\n"
            "    except OSError as e:\n"
            "        print(type(e).__name__)\n"
            "    os.kill(p, signal.SIGSTOP)\n")
    _, out = forked(fsd, "fs", code)
    lines = out.split()
    assert lines[0] == "1" and lines[1] == "PermissionError", out
    _, out = forked(fsd, "fs", "print('after')\n")
    assert out == "after\n"


# ------------------------------------------------------------ environment


def exec_out(d, sid, code, env):
    """stdout of `python3 -c code` through the streaming Exec with env."""
    import base64
    out = b""
    for _, msg in d.stream("Exec", {"sessionId": sid, "argv": ["python3", "-c", code], "env": env}):
        if "stdout" in msg:
            out += base64.b64decode(msg["stdout"])
        assert "end" not in msg or "error" not in msg["end"], msg
    return out.decode()


def test_request_environment_reaches_a_forked_workload(fsd):
    """Variables of the request (those the policy lets through: TZ here) are
    set in the forked workload and take effect as in a fresh process; the fork
    server itself keeps none of them."""
    code = ("import sys, os, time\n"
            "print('json' in sys.modules, os.environ.get('TZ'), time.strftime('%z', time.localtime(0)))\n")
    deadline = time.time() + 300
    tries = 0
    while True:
        out = exec_out(fsd, "fs", code, {"TZ": "EST5"})
        if out.startswith("True"):
            break
        assert time.time() < deadline, out
        time.sleep(backoff(tries))
        tries += 1
    assert out == "True EST5 -0500\n", out
    deadline = time.time() + 300
    tries = 0
    while True:
        out = exec_out(fsd, "fs", code, {})
        if out.startswith("True"):
            break
        assert time.time() < deadline, out
        time.sleep(backoff(tries))
        tries += 1
    assert out == "True None +0000\n", out


def test_startup_variables_take_a_fresh_process(fsd):
    """PYTHON* and locale variables change how Python starts: such a request
    never goes to the fork server, and the variable takes effect."""
    for _ in range(3):
        out = exec_out(fsd, "fs", "import sys\nprint('json' in sys.modules, sys.flags.dont_write_bytecode)\n",
                       {"PYTHONDONTWRITEBYTECODE": "1"})
        assert out == "False 1\n", out
        out = exec_out(fsd, "fs", "import sys, os\nprint('json' in sys.modules, os.environ['LANG'])\n",
                       {"LANG": "C.UTF-8"})
        assert out == "False C.UTF-8\n", out


# ------------------------------------------------------------ RunCode contexts

CONTEXT_PROBE = r"""
import os, sys, resource
print(os.getresuid(), os.getresgid(), os.getgroups(), os.getsid(0) == os.getpid(), os.getppid())
print([resource.getrlimit(r) for r in (resource.RLIMIT_NPROC, resource.RLIMIT_NOFILE,
       resource.RLIMIT_FSIZE, resource.RLIMIT_AS, resource.RLIMIT_CORE)])
print([l.split(':')[1].strip() for l in open('/proc/self/status')
       if l.split(':')[0] in ('Seccomp', 'NoNewPrivs', 'CapEff', 'CapPrm', 'CapBnd', 'CapInh', 'CapAmb')])
print(os.getcwd(), sorted(k for k in os.environ))
"""


def cell(d, sid, ctx, code):
    """(stdout text, result repr) of one RunCode cell."""
    text, result = "", None
    for _, m in d.stream("RunCode", {"sessionId": sid, "code": code, "contextId": ctx}):
        if "end" in m:
            assert "error" not in m["end"], m
        elif "stdout" in m:
            text += m["stdout"]
        elif "text" in m:
            result = m["text"]
        elif "error" in m:
            raise AssertionError(m)
    return text, result


def test_contexts_start_from_the_fork_server(fsd):
    """A new interpreter context is forked from the ready Python: same user,
    limits, seccomp, capabilities and environment as a fresh `python3 -I`,
    the path a fresh `python3 -u -I DRIVER` has, and state kept across cells."""
    deadline = time.time() + 300
    n = 0
    while True:
        n += 1
        out, _ = cell(fsd, "fs", f"fork{n}", "import sys\nprint('json' in sys.modules)\n")
        if out == "True\n":
            break
        assert time.time() < deadline and n < 12, out
        time.sleep(backoff(n - 1))
    ctx = f"fork{n}"
    probe, _ = cell(fsd, "fs", ctx, CONTEXT_PROBE)
    ref = exec_out(fsd, "fs", CONTEXT_PROBE, {})
    # The init's child (reparented), in its own session, as a fresh process;
    # same ids, seccomp, no_new_privs and capabilities as a fresh python3.
    p, r = probe.splitlines(), ref.splitlines()
    assert p[0].endswith(" True 1") and p[0] == r[0], (probe, ref)
    assert p[2] == r[2], (probe, ref)
    # The context's own limits (a context may write files up to 1 GiB,
    # src/core/code.c), the others as an exec's.
    lp, lr = eval(p[1]), eval(r[1])
    assert lp[2] == (1 << 30, 1 << 30) and lp[:2] + lp[3:] == lr[:2] + lr[3:], (probe, ref)
    # The exec's environment, plus what the driver itself sets.
    cwd, keys = p[3].split(" ", 1)
    assert cwd == "/workspace" and set(eval(keys)) - set(eval(r[3].split(" ", 1)[1])) == {"MPLBACKEND"}, probe
    path, _ = cell(fsd, "fs", ctx, "import sys\nprint(sys.path)\n")
    fresh_path = exec_out(fsd, "fs", "import sys\nprint(sys.path)\n", {})
    want = ["/workspace"] + [p for p in eval(fresh_path) if p]
    assert eval(path) == want, (path, fresh_path)
    cell(fsd, "fs", ctx, "x = 41\n")
    _, result = cell(fsd, "fs", ctx, "x + 1")
    assert result == "42", result
    # A second context forked the same way shares nothing with the first.
    m = n + 1
    while True:
        out, _ = cell(fsd, "fs", f"fork{m}", "import sys\nprint('json' in sys.modules, 'x' in globals())\n")
        if out.startswith("True"):
            break
        assert time.time() < deadline and m < n + 12, out
        m += 1
        time.sleep(backoff(m - n - 2))
    assert out == "True False\n", out
