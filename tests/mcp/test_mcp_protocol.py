"""`enclave mcp` at the protocol level, from Python: hostile and malformed
input (bad JSON-RPC, unknown methods and tools, oversized messages, wrong
argument types) gets a JSON-RPC or tool error and never stops the server;
and the tools against a real daemon (images, denial, lifetime, principal)."""
import base64
import json
import os
import subprocess

import pytest

from conftest import ENCLAVE, Mcp, mcp_env, text_of


def sessions(d):
    return d.call("ListSessions", {}, service="enclave.v1.Enclave").get("sessions", [])


def test_initialize_negotiates_the_revision(daemon):
    m = Mcp(daemon)
    r = m.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                 "clientInfo": {"name": "t", "version": "0"}})
    assert r["result"]["protocolVersion"] == "2025-11-25"
    assert r["result"]["capabilities"]["tools"] == {"listChanged": False}
    r = m.request("initialize", {"protocolVersion": "1999-01-01"})
    assert r["result"]["protocolVersion"] == "2025-11-25"
    r = m.request("initialize", {"protocolVersion": "2025-06-18"})
    assert r["result"]["protocolVersion"] == "2025-06-18"
    # A notification is not answered: the next line read is the ping's reply.
    m.send_raw(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    assert m.request("ping") ["result"] == {}
    tools = m.request("tools/list")["result"]["tools"]
    for t in tools:
        assert t["inputSchema"]["type"] == "object" and t["description"]
    # Nothing was asked of a sandbox yet: no session was started.
    assert sessions(daemon) == []
    assert m.close()[0] == 0


HOSTILE = [
    (b"not json", -32700),
    (b'{"jsonrpc":"2.0","id":1,"method":', -32700),
    (b"[]", -32600),
    (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', -32600),
    (b'"just a string"', -32600),
    (b'{"jsonrpc":"1.0","id":1,"method":"ping"}', -32600),
    (b'{"id":1,"method":"ping"}', -32600),
    (b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', -32600),
    (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', -32600),
    (b'{"jsonrpc":"2.0","id":1,"method":42}', -32600),
    (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}', -32600),
    (b'{"jsonrpc":"2.0","id":1,"method":"ping","id":2}', -32700),      # duplicate key
    (b'{"jsonrpc":"2.0","id":7,"method":"no/such"}', -32601),
    (b'{"jsonrpc":"2.0","id":7,"method":"tools/call"}', -32602),
    (b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"rm_rf"}}', -32602),
    (b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":5}}', -32602),
    (b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"run_python","arguments":[1]}}', -32602),
    (b"[" * 100000 + b"]" * 100000, -32700),                             # deep nesting
    (b'{"jsonrpc":"2.0","id":1,"method":"ping\\u0000x"}', -32700),   # NUL in a string
    (b"\xff\xfe\x00garbage", -32700),
]


def test_hostile_messages_get_errors_and_the_server_lives_on(daemon):
    m = Mcp(daemon)
    for raw, code in HOSTILE:
        m.send_raw(raw + b"\n")
        reply = m.read()
        assert reply["jsonrpc"] == "2.0" and reply["error"]["code"] == code, (raw[:80], reply)
    # Empty lines and stray responses are ignored; the server still answers.
    m.send_raw(b"\n\r\n" + b'{"jsonrpc":"2.0","id":99,"result":{}}\n')
    assert m.request("ping")["result"] == {}
    assert m.proc.poll() is None
    assert m.close()[0] == 0


def test_oversized_messages_are_refused_and_skipped(daemon):
    m = Mcp(daemon, ["--max-message", "64K"])
    big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "run_python", "arguments": {"code": "x" * (1 << 20)}}})
    m.send_raw(big.encode() + b"\n")
    r = m.read()
    assert r["error"]["code"] == -32600 and "too large" in r["error"]["message"] and r["id"] is None
    # The rest of that line was skipped, not taken as messages.
    assert m.request("ping")["result"] == {}
    # A line that never ends is not held either.
    m.send_raw(b"{" * (200 << 10))
    m.send_raw(b"\n")
    assert m.read()["error"]["code"] == -32600
    assert m.request("ping")["result"] == {}
    assert sessions(daemon) == []
    assert m.close()[0] == 0


WRONG_ARGS = [
    ("run_python", {}, "missing argument 'code'"),
    ("run_python", {"code": 5}, "must be a string"),
    ("run_python", {"code": "1", "timeout_seconds": "9"}, "timeout_seconds"),
    ("run_python", {"code": "1", "timeout_seconds": 100000}, "timeout_seconds"),
    ("run_python", {"code": "1", "evil": True}, "unknown argument"),
    ("run_command", {"argv": []}, "non-empty array"),
    ("run_command", {"argv": "ls"}, "non-empty array"),
    ("run_command", {"argv": ["python3", 5]}, "strings"),
    ("run_command", {"argv": [["python3"]]}, "strings"),
    ("write_file", {"path": "/workspace/a"}, "'content'"),
    ("write_file", {"path": "relative", "content": ""}, "absolute"),
    ("write_file", {"path": "/workspace/a", "content": "x", "encoding": "rot13"}, "encoding"),
    ("read_file", {"path": ["/etc/passwd"]}, "must be a string"),
    ("list_files", {"path": 3}, "must be a string"),
    ("reset_sandbox", {"x": 1}, "unknown argument"),
]


def test_wrong_argument_types_are_tool_errors(daemon):
    m = Mcp(daemon)
    for name, args, why in WRONG_ARGS:
        r = m.tool(name, args)
        assert r["isError"] is True and why in text_of(r), (name, args, r)
    # None of them reached the daemon: no session was started for them.
    assert sessions(daemon) == []
    assert m.close()[0] == 0


PNG = ("class P:\n"
       "    def _repr_png_(self):\n"
       "        return b'\\x89PNG\\r\\n\\x1a\\nfake'\n"
       "P()")


def test_tools_against_a_real_session(daemon):
    m = Mcp(daemon)
    r = m.tool("run_python", {"code": "print(6*7)"})
    assert r["isError"] is False and text_of(r).strip() == "42"
    assert len(sessions(daemon)) == 1
    # Images produced by a cell are MCP image content.
    r = m.tool("run_python", {"code": PNG})
    imgs = [c for c in r["content"] if c["type"] == "image"]
    assert imgs and imgs[0]["mimeType"] == "image/png"
    assert base64.b64decode(imgs[0]["data"]).startswith(b"\x89PNG")
    # An exception is a tool error with the traceback.
    r = m.tool("run_python", {"code": "1/0"})
    assert r["isError"] is True and "ZeroDivisionError" in text_of(r)
    # A command: exit code and output.
    r = m.tool("run_command", {"argv": ["python3", "-c", "import sys; print(input()); sys.exit(3)"],
                               "stdin": "from stdin\n"})
    assert "exit code 3" in text_of(r) and "from stdin" in text_of(r)
    # A refusal carries the policy's reasons, and nothing ran.
    r = m.tool("run_command", {"argv": ["sh", "-c", "touch /workspace/pwned"]})
    assert r["isError"] is True and "only python3 may run" in text_of(r)
    assert "pwned" not in text_of(m.tool("list_files", {}))
    # Files: text and base64 both ways; paths outside the workspace refused.
    assert m.tool("write_file", {"path": "/workspace/b.bin", "encoding": "base64",
                                 "content": base64.b64encode(b"\x00\xff\x10").decode()})["isError"] is False
    r = m.tool("read_file", {"path": "/workspace/b.bin"})
    assert r["isError"] is True and "base64" in text_of(r)
    r = m.tool("read_file", {"path": "/workspace/b.bin", "encoding": "base64"})
    assert base64.b64decode(text_of(r)) == b"\x00\xff\x10"
    r = m.tool("write_file", {"path": "/etc/passwd", "content": "x"})
    assert r["isError"] is True
    r = m.tool("read_file", {"path": "/workspace/../etc/shadow"})
    assert r["isError"] is True
    r = m.tool("write_file", {"path": "/workspace/sp ace%2F.txt", "content": "ok"})
    assert r["isError"] is False, r
    assert "sp ace%2F.txt" in text_of(m.tool("list_files", {"path": "/workspace"}))
    # Reset: a new session, the old state gone.
    first = sessions(daemon)[0]["sessionId"]
    m.tool("run_python", {"code": "kept = 1"})
    # A missing file (even one named like a session) is not a lost session.
    r = m.tool("read_file", {"path": "/workspace/no session here"})
    assert r["isError"] is True and "fresh" not in text_of(r)
    assert text_of(m.tool("run_python", {"code": "kept"})).strip() == "1"
    assert "reset" in text_of(m.tool("reset_sandbox", {}))
    r = m.tool("run_python", {"code": "kept"})
    assert r["isError"] is True and "NameError" in text_of(r)
    assert [s["sessionId"] for s in sessions(daemon)] != [first]
    # The client goes away (stdin closes): the session is stopped.
    rc, err = m.close()
    assert rc == 0 and "stopped session" in err
    assert sessions(daemon) == []


def test_a_session_that_went_away_is_replaced(daemon):
    m = Mcp(daemon)
    m.tool("run_python", {"code": "1"})
    sid = sessions(daemon)[0]["sessionId"]
    daemon.stop_session(sid)
    r = m.tool("run_python", {"code": "2"})
    assert r["isError"] is True and "fresh" in text_of(r)
    r = m.tool("run_python", {"code": "3"})
    assert r["isError"] is False and text_of(r).strip() == "3"
    m.close()
    assert sessions(daemon) == []


def test_the_operator_token_is_never_used(daemon):
    # Handed the operator token by a misconfigured host, it refuses to start.
    p = subprocess.run([ENCLAVE, "mcp"], env=mcp_env(daemon, ENCLAVE_TOKEN=daemon.operator_token),
                       input=b"", capture_output=True, timeout=30)
    assert p.returncode == 2 and b"operator token" in p.stderr and p.stdout == b""
    # The Unix socket (whose peers are the operator) is not used either: with
    # ENCLAVE_SOCKET pointing nowhere, it still reaches the daemon over TCP.
    m = Mcp(daemon, ENCLAVE_SOCKET="/nonexistent.sock")
    r = m.tool("run_python", {"code": "6*7"})
    assert text_of(r).strip() == "42"
    m.close()
    # What it does is recorded as the agent's.
    logs = daemon.audit()
    assert logs


def test_help_and_bad_flags():
    p = subprocess.run([ENCLAVE, "mcp", "--help"], capture_output=True, timeout=10)
    assert p.returncode == 0 and b"run_python" in p.stdout and b"agent token" in p.stdout
    p = subprocess.run([ENCLAVE, "mcp", "--max-message", "1"], capture_output=True, timeout=10)
    assert p.returncode == 2
    p = subprocess.run([ENCLAVE, "mcp", "--bogus"], capture_output=True, timeout=10)
    assert p.returncode == 2 and p.stdout == b""
