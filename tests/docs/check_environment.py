"""Every environment variable the product reads is on docs/environment.md.

Finds each getenv()/secure_getenv() in src/ (a name given as a macro is
looked up in its #define) and each os.environ / os.getenv in the Python SDK
(clients/python), and fails, naming them, when a name is not on the page
(written as `NAME`), or when a getenv's argument is neither a literal nor a
macro defined as one.

    python3 tests/docs/check_environment.py [REPO]
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[2])
PAGE = ROOT / "docs" / "environment.md"

C_CALL = re.compile(r"\b(?:secure_)?getenv\s*\(\s*([^)]*?)\s*\)")
C_DEFINE = re.compile(r'^\s*#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)\s+"([^"]+)"', re.M)
PY_READ = re.compile(r"""os\.(?:environ(?:\.get)?\s*[\[(]|getenv\s*\()\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""")


def main():
    c_files = sorted(p for p in (ROOT / "src").rglob("*") if p.suffix in (".c", ".h"))
    defines = {}
    for path in c_files:
        defines.update(C_DEFINE.findall(path.read_text(errors="replace")))
    found = {}  # name -> first place read
    problems = []
    for path in c_files:
        text = path.read_text(errors="replace")
        for m in C_CALL.finditer(text):
            arg = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            where = f"{path.relative_to(ROOT)}:{line}"
            if re.fullmatch(r'"[A-Za-z_][A-Za-z0-9_]*"', arg):
                found.setdefault(arg.strip('"'), where)
            elif arg in defines:
                found.setdefault(defines[arg], where)
            else:
                problems.append(f"{where}: getenv({arg}): not a literal name or a #define of one")
    for path in sorted((ROOT / "clients" / "python").rglob("*.py")):
        if "test" in path.name:
            continue
        text = path.read_text(errors="replace")
        for m in PY_READ.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.setdefault(m.group(1), f"{path.relative_to(ROOT)}:{line}")
    page = PAGE.read_text()
    for name, where in sorted(found.items()):
        if f"`{name}`" not in page:
            problems.append(f"{where}: reads {name}, which docs/environment.md does not name")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s); add each variable to docs/environment.md")
        sys.exit(1)
    print(f"ok: all {len(found)} environment variables read in src/ and clients/python are in "
          "docs/environment.md")


main()
