"""`enclave mcp` driven by a real MCP client: the official TypeScript SDK
(@modelcontextprotocol/sdk, pinned in package-lock.json, installed into
build/mcp-node by setup.sh) over stdio, against a real daemon."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import ENCLAVE, ROOT, mcp_env

BUILD = os.environ.get("ENCLAVE_BUILD", str(ROOT / "build"))


@pytest.fixture(scope="module")
def node_client():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed (scripts/install-deps installs them)")
    subprocess.run([str(ROOT / "tests" / "mcp" / "setup.sh")], check=True, timeout=600,
                   env=dict(os.environ, BUILD=BUILD))
    return os.path.join(BUILD, "mcp-node", "client.mjs")


def texts(result):
    return "\n".join(c["text"] for c in result["content"] if c["type"] == "text")


def test_typescript_sdk_client(daemon, node_client):
    p = subprocess.run(["node", node_client, ENCLAVE], env=mcp_env(daemon), capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["server"]["name"] == "enclave"
    names = {t["name"]: t for t in out["tools"]}
    assert set(names) == {"run_python", "run_command", "write_file", "read_file", "list_files",
                          "reset_sandbox"}
    assert all(t["schemaType"] == "object" for t in out["tools"])
    assert names["run_python"]["required"] == ["code"]
    # print(6*7) through run_python.
    assert not out["python"].get("isError") and texts(out["python"]).strip() == "42"
    # State is kept across calls (one session per MCP client).
    assert texts(out["state2"]).strip() == "21"
    # A denied command: a tool error carrying the policy's reasons.
    assert out["denied"]["isError"] is True
    assert "only python3 may run" in texts(out["denied"]), out["denied"]
    assert texts(out["read"]) == "hello mcp" and "n.txt" in texts(out["list"])
    # An unknown tool is a protocol error (invalid params).
    assert out["unknown"]["code"] == -32602
    # The client went away: its session was stopped.
    assert daemon.call("ListSessions", {}, service="enclave.v1.Enclave").get("sessions", []) == []
