"""Reads what an `enclave audit` command printed (stdin) and checks that no
byte a terminal would act on reached it raw: C0 controls but newline, DEL,
C1 controls, bidirectional formatting characters. With --json each line
must parse, and a record's details must hold the path cli_test.sh stored
(PATH); with --text the output must show TEXT (the escaped form).

    terminal_check.py --json < out
    terminal_check.py --text TEXT < out
"""
import json
import sys

PATH = "a\x1b]0;pwned\x07\x7f\u009b\u202eb"
DANGEROUS = [bytes([c]) for c in range(0x20) if c != 0x0a] + [b"\x7f"]
DANGEROUS += [chr(c).encode() for c in range(0x80, 0xa0)]
DANGEROUS += [chr(c).encode() for c in (0x61c, 0x200e, 0x200f, *range(0x202a, 0x202f),
                                        *range(0x2066, 0x206a))]


def main():
    mode = sys.argv[1]
    want = PATH if mode == "--json" else sys.argv[2]
    out = sys.stdin.buffer.read()
    raw = [b for b in DANGEROUS if b in out]
    if raw:
        sys.exit(f"raw on the terminal: {raw!r} in {out!r}")
    if mode == "--json":
        for line in out.decode().splitlines():
            # (raw controls in the stored text: a tampered record, not canonical)
            details = json.loads(json.loads(line)["details"], strict=False)
            if details.get("path") == want:
                print("parsed to the same path")
                return
        sys.exit(f"no record with the path {want!r} in {out!r}")
    if want not in out.decode():
        sys.exit(f"{want!r} not shown in {out!r}")
    print("escaped")


main()
