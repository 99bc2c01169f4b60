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


def forked(d, sid, code, timeout=300):
    """Runs code with the python tool once the fork server served it: the
    first line printed is whether json was imported before the program ran
    (only the fork server pre-imports it). Returns the rest of the output."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = d.python(sid, "import sys\nprint('json' in sys.modules)\n" + code)
        out = r.get("output", "")
        if out.startswith("True\n"):
            return r, out[len("True\n"):]
        # The fork server is swept with the workload after each exec and
        # started again; under TCG on a busy machine that takes seconds.
        time.sleep(8)
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
