"""enclave policy fmt: the real binary on real files, no daemon (make test-policy-cli)."""
import os
import re
import resource
import shutil
import signal
import stat
import subprocess

import pytest

ENCLAVE = os.environ.get("ENCLAVE_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "enclave"))
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")

UGLY = ("package p\n"
        "# why\n"
        "allow if { input.user==\"admin\"; input.n>1 # enough\n"
        "}\n"
        "xs := [1,2,\n"
        "  3]\n")
PRETTY = ("package p\n\n"
          "# why\n"
          "allow if {\n"
          "\tinput.user == \"admin\"\n"
          "\tinput.n > 1 # enough\n"
          "}\n\n"
          "xs := [1, 2, 3]\n")


def run(*args, stdin=None, cwd=None):
    return subprocess.run([ENCLAVE, "policy", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=cwd)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "ugly.rego").write_text(UGLY)
    (tmp_path / "pretty.rego").write_text(PRETTY)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.rego").write_text("package q\nx:=1\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "h.rego").write_text("package h\nx:=1\n")
    (tmp_path / "notes.txt").write_text("package n\nx:=1\n")
    return tmp_path


def test_help_is_truthful():
    r = run("fmt", "--help")
    assert r.returncode == 0
    for opt in ("--write", "--list", "--diff", "--fail", "-w", "-l", "-d", "PATH"):
        assert opt in r.stdout
    assert "fmt" in run("--help").stdout


def test_stdout_by_default_and_file_untouched(tree):
    r = run("fmt", str(tree / "ugly.rego"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == PRETTY
    assert (tree / "ugly.rego").read_text() == UGLY


def test_list_walks_folders(tree):
    r = run("fmt", "-l", str(tree))
    assert r.returncode == 0, r.stderr
    listed = r.stdout.split()
    assert listed == [str(tree / "sub" / "deep.rego"), str(tree / "ugly.rego")]
    assert run("fmt", "-l", "--fail", str(tree)).returncode == 3
    assert run("fmt", "-l", "--fail", str(tree / "pretty.rego")).returncode == 0


def test_write_in_place(tree):
    f = tree / "ugly.rego"
    os.chmod(f, 0o640)
    ino = os.stat(f).st_ino
    r = run("fmt", "-w", str(tree))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert f.read_text() == PRETTY
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o640
    assert os.stat(f).st_ino != ino   # replaced by rename, not rewritten in place
    assert (tree / "sub" / "deep.rego").read_text() == "package q\n\nx := 1\n"
    assert (tree / ".hidden" / "h.rego").read_text() == "package h\nx:=1\n"
    assert (tree / "notes.txt").read_text() == "package n\nx:=1\n"
    assert not [p for p in os.listdir(tree) if ".fmt-" in p]
    # now nothing differs
    assert run("fmt", "-l", "--fail", str(tree)).stdout == ""
    assert run("fmt", "-w", "--fail", str(tree)).returncode == 0


def test_parse_error_writes_nothing(tree):
    (tree / "bad.rego").write_text("package b\n\nx := [1,\n  2 3]\n")
    r = run("fmt", "-w", str(tree))
    assert r.returncode == 1
    assert re.search(r"bad\.rego:4:5: rego_parse_error: ", r.stderr), r.stderr
    assert "nothing was written" in r.stderr
    assert (tree / "ugly.rego").read_text() == UGLY
    assert (tree / "bad.rego").read_text() == "package b\n\nx := [1,\n  2 3]\n"


def test_failed_write_leaves_the_file(tree):
    """A write that fails (here: the file size limit, which binds root too)
    leaves the file as it was and no temporary file beside it."""
    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))
    f = tree / "ugly.rego"
    r = subprocess.run([ENCLAVE, "policy", "fmt", "-w", str(f)], capture_output=True, text=True,
                       timeout=60, preexec_fn=small_files)
    assert r.returncode == 1
    assert str(f) in r.stderr and "the file is unchanged" in r.stderr, r.stderr
    assert f.read_text() == UGLY
    assert not [p for p in os.listdir(tree) if ".tmp-" in p or ".fmt-" in p]


def test_diff(tree):
    r = run("fmt", "-d", str(tree / "ugly.rego"), str(tree / "pretty.rego"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("--- " + str(tree / "ugly.rego"))
    assert "-xs := [1,2,\n" in r.stdout and "+xs := [1, 2, 3]\n" in r.stdout
    assert "pretty.rego" not in r.stdout
    assert (tree / "ugly.rego").read_text() == UGLY


def test_stdin():
    r = run("fmt", "-", stdin=UGLY)
    assert r.returncode == 0, r.stderr
    assert r.stdout == PRETTY
    r = run("fmt", "-", stdin="package p\nx := \n")
    assert r.returncode == 1
    assert "stdin:" in r.stderr and "rego_parse_error" in r.stderr


def test_usage_errors(tmp_path):
    assert run("fmt").returncode == 2
    assert run("fmt", "--bogus", str(tmp_path)).returncode == 2
    assert run("fmt", "-w", "-", stdin=UGLY).returncode == 2
    r = run("fmt", str(tmp_path / "missing.rego"))
    assert r.returncode == 1 and "missing.rego" in r.stderr


def test_constitution_formatted_passes_its_tests(tmp_path):
    """The built-in constitution, formatted, is the same policy: its own tests
    give the same verdicts, and every comment survives."""
    copy = tmp_path / "policy"
    shutil.copytree(os.path.join(ROOT, "policy"), copy)
    r = run("fmt", "-w", str(copy))
    assert r.returncode == 0, r.stderr
    before = run("test", os.path.join(ROOT, "policy"))
    after = run("test", str(copy))
    assert before.returncode == 0, before.stdout
    assert after.returncode == 0, after.stdout

    def verdicts(out):
        return sorted(re.sub(r" \([^)]*\)$", "", l) for l in out.splitlines() if ": " in l)
    assert verdicts(before.stdout) == verdicts(after.stdout)
    for dirpath, _, files in os.walk(os.path.join(ROOT, "policy")):
        for name in files:
            if name.endswith(".rego"):
                orig = open(os.path.join(dirpath, name)).read()
                rel = os.path.relpath(os.path.join(dirpath, name), os.path.join(ROOT, "policy"))
                new = (copy / rel).read_text()
                # strings are kept verbatim, so a '#' inside one is found in both
                assert [c.strip() for c in re.findall(r"#[^\n]*", orig)] == \
                    [c.strip() for c in re.findall(r"#[^\n]*", new)]
    # formatting the formatted constitution changes nothing
    assert run("fmt", "-l", "--fail", str(copy)).returncode == 0


def test_links(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.rego").write_text("package p\nx:=1\n")
    os.symlink("real", tmp_path / "loop")          # a link to a folder: not followed
    os.symlink("real/a.rego", tmp_path / "l.rego")  # a link to a file: its target rewritten
    r = run("fmt", "-l", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(tmp_path / "l.rego"), str(real / "a.rego")]
    assert run("fmt", "-w", str(tmp_path / "l.rego")).returncode == 0
    assert os.path.islink(tmp_path / "l.rego")
    assert (real / "a.rego").read_text() == "package p\n\nx := 1\n"
