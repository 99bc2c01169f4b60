"""enclave policy bench (and the other offline policy verbs' edges): the real
binary on real policy files, no daemon. make test-policy-cli."""
import json
import os
import subprocess

import pytest

ENCLAVE = os.environ.get("ENCLAVE_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "enclave"))


def run(*args, stdin=None):
    return subprocess.run([ENCLAVE, "policy", *args], input=stdin, capture_output=True, text=True, timeout=60)


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "p.rego").write_text(
        "package p\n\n"
        "allow if input.user in data.admins\n\n"
        "reasons contains sprintf(\"%s is not an admin\", [input.user]) if not allow\n\n"
        "decision := {\"allow\": allow, \"reasons\": reasons}\n"
        "default allow := false\n")
    (tmp_path / "data.json").write_text(json.dumps({"admins": ["alice"]}))
    (tmp_path / "in.json").write_text(json.dumps({"user": "bob"}))
    return tmp_path


def test_bench_help_is_truthful():
    r = run("bench", "--help")
    assert r.returncode == 0
    for opt in ("--data", "--input", "--count", "--time", "--format"):
        assert opt in r.stdout
    assert "bench" in run("--help").stdout


def test_bench_count_and_stats(bundle):
    r = run("bench", "-d", str(bundle), "-i", str(bundle / "in.json"), "-n", "200", "--format", "json",
            "x := data.p.decision")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert o["evaluations"] == 200
    assert o["results"] == 1
    assert o["decisions_per_second"] > 0
    assert o["steps_per_evaluation"] > 0
    # the decision object, the reasons set and the sprintf'd string are built on every evaluation
    assert o["allocations_per_evaluation"] >= 3
    assert o["bytes_per_evaluation"] > 0 and o["peak_live_bytes"] > 0


def test_bench_text_and_undefined(bundle):
    r = run("bench", "-d", str(bundle), "-n", "10", "data.p.nothing")
    assert r.returncode == 0, r.stderr
    assert "evaluations:                10 " in r.stdout
    assert "(undefined)" in r.stdout
    assert "decisions/s:" in r.stdout and "allocations per evaluation:" in r.stdout


def test_bench_errors(bundle, tmp_path):
    bad = tmp_path / "bad.rego"
    bad.write_text("package bad\np := \n")
    r = run("bench", "-d", str(bad), "-n", "5", "data.bad.p")
    assert r.returncode == 1 and "rego_parse_error" in r.stderr
    conflict = tmp_path / "c.rego"
    conflict.write_text("package c\np := 1\np := 2\n")
    r = run("bench", "-d", str(conflict), "-n", "5", "data.c.p")
    assert r.returncode == 1 and "eval_conflict_error" in r.stderr
    for args in (["-n", "0"], ["-n", "-3"], ["--time", "0"], ["--time", "x"], ["--format", "yaml"]):
        r = run("bench", "-d", str(bundle), *args, "data.p.allow")
        assert r.returncode == 2, args
    r = run("bench", "-d", str(bundle))
    assert r.returncode == 2
    r = run("bench", "-d", str(bundle), "-i", str(tmp_path / "missing.json"), "data.p.allow")
    assert r.returncode == 1
