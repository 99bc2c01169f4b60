"""The Python SDK (clients/python) against a real daemon with real VMs."""
import asyncio
import io
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

import enclave
from enclave import (AsyncSandbox, EnclaveError, PolicyDenied, Sandbox, SessionNotFound,
                     Unauthenticated, Unavailable)

# The snippet, verbatim.
SNIPPET = '''\
from enclave import Sandbox
with Sandbox(cpu=1, mem_mb=512, timeout=300) as sb:        # StartSession; StopSession on exit
    sb.files.write("/workspace/data.csv", b"a,b\\n1,2\\n")   # bytes, str or a file object (streamed)
    r = sb.run_code("import csv\\nrows = list(csv.reader(open('/workspace/data.csv')))\\nlen(rows)")
    print(r.text)                                         # '2'  (state kept across run_code calls)
    r = sb.commands.run(["python3", "-c", "print(6*7)"], on_stdout=print)   # streamed
    print(r.exit_code, r.stdout)                          # 0 '42\\n'
    data = sb.files.read("/workspace/data.csv")           # bytes
    for e in sb.files.list("/workspace"): print(e.name, e.size)
'''


def test_snippet_runs_verbatim(daemon, tmp_path):
    """The snippet as a user would run it: a separate python3 with the
    package on PYTHONPATH, the daemon found through ENCLAVE_ADDR and the
    token through ENCLAVE_HOME."""
    script = tmp_path / "snippet.py"
    script.write_text(SNIPPET)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
    env.update(PYTHONPATH=str(ROOT / "clients" / "python"), ENCLAVE_ADDR=daemon.addr,
               ENCLAVE_HOME=daemon.home)
    p = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["2", "42", "", "0 42", "", "data.csv 8"], p.stdout
    # StopSession on exit: nothing left running.
    assert daemon.call("ListSessions", {}, service="enclave.v1.Enclave").get("sessions", []) == []


def test_streamed_output_arrives_before_the_end(daemon, env_for):
    env_for(daemon)
    seen = []
    with Sandbox() as sb:
        code = "import sys,time\nprint('a',flush=True)\ntime.sleep(1)\nprint('b',flush=True)\n"

        def on_out(chunk):
            seen.append(chunk)
        r = sb.commands.run(["python3", "-c", code], on_stdout=on_out,
                            on_stderr=lambda c: seen.append("ERR" + c))
        assert r.exit_code == 0 and r.stdout == "a\nb\n"
        assert len(seen) >= 2 and "".join(seen) == "a\nb\n"
        r = sb.commands.run(["python3", "-c", "import sys; sys.stderr.write('x'); sys.exit(3)"])
        assert (r.exit_code, r.stderr, r.error) == (3, "x", "exit code 3")


def test_policy_denial_is_typed_with_reasons(daemon, env_for):
    env_for(daemon)
    with Sandbox() as sb:
        with pytest.raises(PolicyDenied) as e:
            sb.commands.run(["ls", "/"])
        assert e.value.code == "permission_denied"
        assert any("python3" in r for r in e.value.reasons), e.value.reasons
        assert isinstance(e.value, EnclaveError)


def test_files_stream_both_ways(daemon, env_for, tmp_path):
    env_for(daemon)
    blob = os.urandom(1 << 20) + b"end"
    with Sandbox() as sb:
        # A seekable file object: Content-Length from its size.
        info = sb.files.write("/workspace/big.bin", io.BytesIO(blob))
        assert info.size == len(blob)
        # A pipe-like object that cannot seek: sent chunked.
        class Pipe(io.RawIOBase):
            def __init__(self, data):
                self.buf = io.BytesIO(data)

            def readable(self):
                return True

            def seekable(self):
                return False

            def read(self, n=-1):
                return self.buf.read(n)
        info2 = sb.files.write("/workspace/piped.bin", Pipe(blob[:600000]))
        assert info2.size == 600000
        assert sb.files.read("/workspace/piped.bin") == blob[:600000]
        chunks = list(sb.files.read("/workspace/big.bin", format="stream"))
        assert b"".join(chunks) == blob and len(chunks) > 1
        out = tmp_path / "down"
        with open(out, "wb") as f:
            assert sb.files.download("/workspace/big.bin", f) == len(blob)
        assert out.read_bytes() == blob
        sb.files.write("/workspace/t.txt", "héllo")
        assert sb.files.read("/workspace/t.txt", format="text") == "héllo"
        sb.files.make_dir("/workspace/d/e")
        names = {e.name: e for e in sb.files.list("/workspace")}
        assert names["big.bin"].size == len(blob) and names["d"].is_dir
        assert sb.files.exists("/workspace/t.txt") and not sb.files.exists("/workspace/nope")
        sb.files.remove("/workspace/d", recursive=True)
        assert not sb.files.exists("/workspace/d")
        with pytest.raises(EnclaveError):
            sb.files.write("/etc/passwd", b"x")     # outside /workspace and /tmp
        with pytest.raises(EnclaveError):
            sb.files.read("/workspace/missing")


def test_run_code_state_errors_and_images(daemon, env_for):
    env_for(daemon)
    with Sandbox() as sb:
        assert sb.run_code("x = 20").text is None
        out = []
        r = sb.run_code("print('hi')\nx + 22", on_stdout=out.append)
        assert r.text == "42" and r.logs.stdout == ["hi\n"] and out == ["hi\n"]
        r = sb.run_code("1/0")
        assert r.error is not None and r.error.name == "ZeroDivisionError"
        assert "ZeroDivisionError" in r.error.traceback
        # A rich value: an object with a PNG form comes back as image/png.
        png = ("class P:\n"
               "    def _repr_png_(self):\n"
               "        return b'\\x89PNG\\r\\n\\x1a\\nfake'\n"
               "P()")
        r = sb.run_code(png)
        assert r.results and r.results[0].data.get("image/png", b"").startswith(b"\x89PNG")
        assert r.results[0].png is not None


def test_typed_errors(daemon, env_for, monkeypatch):
    env_for(daemon)
    with pytest.raises(SessionNotFound):
        Sandbox.connect("no-such-session").commands.run(["python3", "-c", "1"])
    monkeypatch.setenv("ENCLAVE_TOKEN", "wrong")
    with pytest.raises(Unauthenticated):
        Sandbox.list()
    monkeypatch.delenv("ENCLAVE_TOKEN")
    with pytest.raises(Unavailable):
        Sandbox.list(addr="127.0.0.1:1")
    # The agent token is what the client sends: the operator-only action (a
    # valid, permissive policy) is refused.
    with pytest.raises(PolicyDenied):
        Sandbox.connect("x")._transport.call(
            "agent.v1.AgentService", "ApplyPolicy",
            {"policyYaml": 'package enclave\n\ndecision := {"allow": true}\n'})


def test_async_sandbox(daemon, env_for):
    env_for(daemon)

    async def main():
        seen = []

        async def on_out(chunk):
            seen.append(chunk)
        async with await AsyncSandbox.create() as sb:
            r1, r2 = await asyncio.gather(
                sb.commands.run(["python3", "-c", "print(6*7)"], on_stdout=on_out),
                sb.run_code("6*7"))
            await sb.files.write("/workspace/a", b"abc")
            return r1, r2, seen, await sb.files.read("/workspace/a")
    r1, r2, seen, data = asyncio.run(main())
    assert (r1.exit_code, r1.stdout, r2.text, seen, data) == (0, "42\n", "42", ["42\n"], b"abc")


def test_installable_with_pip(tmp_path):
    """pip install clients/python (no network: no dependency to fetch)."""
    target = tmp_path / "site"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                        "--no-index", "--target", str(target), str(ROOT / "clients" / "python")],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0 and "No module named pip" in p.stderr:
        pytest.skip("pip is not installed")
    assert p.returncode == 0, p.stderr
    assert (target / "enclave" / "sandbox.py").exists() and (target / "enclave" / "py.typed").exists()
