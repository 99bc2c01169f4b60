"""The MCP tests drive `enclave mcp` against a real daemon (real VMs),
started by the shared e2e helpers (tests/e2e/conftest.py)."""
import importlib.util
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("e2e_conftest", ROOT / "tests" / "e2e" / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)
Daemon = e2e.Daemon
ENCLAVE = e2e.ENCLAVE


@pytest.fixture(scope="module")
def daemon():
    d = Daemon().start()
    yield d
    d.cleanup()


def mcp_env(d, **extra):
    """What an MCP host's config gives `enclave mcp`: the daemon's address
    and its home (the agent token is read from there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
    env.update(ENCLAVE_ADDR=d.addr, ENCLAVE_HOME=d.home, **extra)
    return env


class Mcp:
    """`enclave mcp` as a subprocess, one JSON-RPC message per line."""

    def __init__(self, d, args=(), **env):
        self.proc = subprocess.Popen([ENCLAVE, "mcp", *args], env=mcp_env(d, **env),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.next_id = 1

    def send_raw(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read(self):
        line = self.proc.stdout.readline()
        assert line, "enclave mcp closed stdout: " + self.proc.stderr.read().decode(errors="replace")
        assert line.endswith(b"\n")
        return json.loads(line)

    def request(self, method, params=None):
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        self.next_id += 1
        if params is not None:
            msg["params"] = params
        self.send_raw(json.dumps(msg).encode() + b"\n")
        reply = self.read()
        assert reply["id"] == msg["id"]
        return reply

    def tool(self, name, arguments):
        r = self.request("tools/call", {"name": name, "arguments": arguments})
        assert "result" in r, r
        return r["result"]

    def close(self, timeout=120):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=timeout)
        err = self.proc.stderr.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc, err


def text_of(result):
    return "\n".join(c["text"] for c in result["content"] if c["type"] == "text")
