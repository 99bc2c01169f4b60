#!/usr/bin/env python3
"""make test-rego-diff / make fuzz-rego-diff: Enclave's Rego engine against
Open Policy Agent.

Every case (a set of modules, data, input and a query) goes to both engines:
build/rego-diff (Enclave, tools/rego-diff.c) and build/peers/opa-diff (OPA's
Go `rego` package at the version pinned in bench/peers/opa/go.mod, built by
the same step as `make bench-rego`). Their answers are compared: the set of
solutions (each solution's bindings), undefined (no solution), or an error
(compared as error / no error; the codes are reported).

The cases:
  1. every OPA conformance case in the given folders (tests/rego/opa-conformance,
     Enclave's own cases in tests/rego/cases, and any extra folder), as written;
  2. the shipped constitution's tests (every test_* rule of policy/);
  3. conformance cases with their input and data mutated (numbers, strings,
     types swapped, keys dropped);
  4. policies from a seeded grammar-based generator (rules of every kind,
     ref heads, else chains, functions, comprehensions, some/every, with,
     about 90 builtins with mostly well-typed arguments), JSON Schemas and
     templates.

--check (make test-rego-diff): seed 1, 3000 cases of kinds 3 and 4, no time
limit. Otherwise (make fuzz-rego-diff): REGO_DIFF_ITERATIONS (default 2000),
REGO_DIFF_SECONDS (stop after this long, default 300), REGO_DIFF_SEED
(default: the time); both modes take the variables. REGO_DIFF_OUT: where
disagreements are saved (default build/rego-diff-repro), one JSON file each
with the case and both answers; `run.py --replay FILE...` runs saved cases
again.

Exit status: 0 when the engines agree on every case apart from the
documented divergences (tests/rego/diff/divergences.json: a class below or
a case id, each with its reason, each also named in docs/rego.md), 1
otherwise (or when the list and docs/rego.md disagree).
"""
import glob
import json
import os
import random
import re
import select
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


# ---------------------------------------------------------------- engines

class Engine:
    """A harness process speaking one JSON line per case; restarted after a
    crash or a timeout."""

    def __init__(self, name, argv, timeout):
        self.name, self.argv, self.timeout = name, argv, timeout
        self.p = None

    def start(self):
        self.p = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, bufsize=0)
        self.buf = b""

    def stop(self):
        if self.p:
            self.p.kill()
            self.p.wait()
            self.p = None

    def run(self, case):
        if not self.p:
            self.start()
        line = json.dumps(case).encode() + b"\n"
        try:
            self.p.stdin.write(line)
            self.p.stdin.flush()
        except BrokenPipeError:
            self.stop()
            return {"error": "crash", "message": "harness exited"}
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                return {"error": "timeout", "message": "no answer in %ds" % self.timeout}
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 1 << 20)
                if not chunk:
                    rc = self.p.wait()
                    self.p = None
                    return {"error": "crash", "message": "harness exited with %d" % rc}
                self.buf += chunk
        out, self.buf = self.buf.split(b"\n", 1)
        return json.loads(out)


# ---------------------------------------------------------------- comparing

def norm(v):
    """Numbers compare by value (1.0 is 1); arrays keep order. Integers
    beyond 2^53 compare as doubles: the C harness writes JSON through
    jansson, which holds no integer beyond 64 bits."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        return int(v)
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2 ** 53:
        return float(v)
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    return v


def canon(v):
    return json.dumps(norm(v), sort_keys=True)


# Answers that are not a disagreement about Rego: resource limits on either
# side (OPA has no step or memory budget; Enclave's are documented).
LIMITS = {"timeout", "eval_budget_error", "eval_cancel_error", "harness"}

# The documented divergences (tests/rego/diff/divergences.json, each also in
# docs/rego.md): a class below, or one case by its id. A disagreement that is
# neither fails `run.py --check` (make test-rego-diff).
DIVERGENCES = os.path.join(HERE, "divergences.json")


def plain_agrees(opa, enc, case, engines):
    """OPA with its rule index and early exit turned off agrees with Enclave:
    the difference is which expressions OPA's index lets run at all (a rule
    skipped before its body runs raises none of the body's errors)."""
    if not case or case.get("plain"):
        return False
    c = dict(case)
    c["plain"] = True
    return compare(engines["opa"].run(c), enc, case) is None


def inexact_arithmetic(opa, enc, case, engines):
    """Enclave refuses arithmetic that mixes a fraction with an integer
    beyond 2^53 (no exact answer) where OPA answers with a big.Float: the
    error itself, or (builtin errors off) the undefined it leaves, which the
    same case with strict errors shows."""
    msg = "beyond 2^53 mixed with fractions is not exact"
    if msg in enc.get("message", ""):
        return True
    if case.get("strict") or "error" in enc:
        return False
    c = dict(case)
    c["strict"] = True
    if msg in engines["enclave"].run(c).get("message", ""):
        return True
    # strict errors stop at the first one: ask for each rule that differs
    try:
        (a,), (b,) = opa["result"], enc["result"]
        a, b = a["x"], b["x"]
    except (KeyError, TypeError, ValueError):
        a = b = None
    if case.get("query") == "x = data.p" and isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if canon(a.get(key)) != canon(b.get(key)) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                c["query"] = "x = data.p.%s" % key
                if msg in engines["enclave"].run(c).get("message", ""):
                    return True
    # an earlier error hides it, or OPA's answer is an error the undefined
    # body hides in Enclave (a conflict between the values it would give):
    # the generator's one integer beyond 2^53 brought down to 2^53 (exact
    # with fractions), and both agree
    big = "9007199254740993"
    if any(big in m[1] for m in case.get("modules", [])):
        c = dict(case)
        c["modules"] = [[m[0], m[1].replace(big, "9007199254740992")] for m in case["modules"]]
        return compare(engines["opa"].run(c), engines["enclave"].run(c), c) is None
    return False


def number_keys(v):
    """Object keys that are JSON numbers, spelled one way (1e3, 1000.0 -> 1000)."""
    if isinstance(v, list):
        return [number_keys(x) for x in v]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            try:
                n = json.loads(k)
                if not isinstance(n, str):   # a number, or a composite key's JSON text
                    k = canon(n)
            except ValueError:
                pass
            out[k] = number_keys(x)
        return out
    return v


def number_key_text(opa, enc, case, engines):
    """A number used as an object key is written as OPA read it (`1e3`) in
    OPA's JSON and as its value (`1000`) in Enclave's."""
    if "result" not in opa or "result" not in enc:
        return False
    a = sorted(canon(number_keys(x)) for x in opa["result"])
    b = sorted(canon(number_keys(x)) for x in enc["result"])
    return a == b


def go_int_type(v):
    if isinstance(v, str):
        # an integral number OPA read as written with an exponent or a
        # fraction (1e3, 1000.0) is a float64 there
        return re.sub(r"float64=(-?[0-9]+)(?![0-9.e])", r"int=\1", v.replace("int64=", "int="))
    if isinstance(v, list):
        return [go_int_type(x) for x in v]
    if isinstance(v, dict):
        return {go_int_type(k): go_int_type(x) for k, x in v.items()}
    return v


def sprintf_int64(opa, enc, case, engines):
    """sprintf's complaints name the Go type of an integer: `int` for one
    from the policy or the input, `int64` in OPA for one read from its
    store (data), `float64` for one written with an exponent or a fraction
    (1e3); Enclave says `int` for all."""
    if "result" not in opa or "result" not in enc:
        return False
    a = sorted(canon(go_int_type(x)) for x in opa["result"])
    b = sorted(canon(go_int_type(x)) for x in enc["result"])
    return a == b


def strict_comprehension(opa, enc, case, engines):
    """With strict builtin errors, an error Enclave raises inside a
    comprehension that OPA never evaluates (it fails the unification of a
    comprehension with a value of another type before building it): the
    error is in a comprehension, and without strict errors both agree."""
    if not case.get("strict") or "error" in opa or enc.get("error") not in ("eval_type_error", "eval_builtin_error"):
        return False
    m = re.match(r"^([^:]+):(\d+):(\d+):", enc.get("message", ""))
    if not m:
        return False
    text = dict((x[0], x[1]) for x in case.get("modules", [])).get(m.group(1), "")
    lines = text.split("\n")
    line = int(m.group(2))
    if line < 1 or line > len(lines) or "|" not in lines[line - 1]:
        return False
    c = dict(case)
    c["strict"] = False
    return compare(engines["opa"].run(c), engines["enclave"].run(c), c) is None


CLASSES = {
    # OPA's compiler refuses some bodies Enclave's accepts (rewriting of
    # declared variables)
    "compile-checks": lambda a, b, c, e: a.get("error") == "rego_compile_error" and "error" not in b and any(
        m in a.get("message", "") for m in ("referenced above", "assigned before", "unused")),
    # OPA's compile-time type checker reports rego_type_error where Enclave
    # evaluates (undefined, or eval_type_error when strict)
    "type-checker": lambda a, b, c, e: a.get("error") == "rego_type_error" and "conflict" not in a.get("message", "")
    and "multiple default" not in a.get("message", "") and b.get("error") != "rego_type_error",
    "rule-index": plain_agrees,
    "inexact-arithmetic": inexact_arithmetic,
    "number-key-text": number_key_text,
    # exact '*' and '%' of integers over 4096 digits are an error in Enclave
    # (quadratic in the digits); OPA computes them with big.Int
    "big-integer-bound": lambda a, b, c, e: "error" not in a and "integers over 4096 digits is not supported"
    in b.get("message", ""),
    "sprintf-int64": sprintf_int64,
    "strict-comprehension": strict_comprehension,
}


def load_divergences():
    with open(DIVERGENCES) as f:
        entries = json.load(f)
    by_id = {}
    for e in entries:
        if not isinstance(e, dict) or not e.get("id") or not e.get("reason"):
            raise SystemExit("%s: each entry needs an id and a reason: %r" % (DIVERGENCES, e))
        by_id[e["id"]] = e
    return by_id


def check_docs(divergences):
    """Every documented divergence is named in docs/rego.md, every class the
    code knows is in the list."""
    with open(os.path.join(ROOT, "docs", "rego.md")) as f:
        doc = f.read()
    bad = ["%s: not in docs/rego.md" % i for i in sorted(divergences) if "`%s`" % i not in doc]
    bad += ["class %s: not in %s" % (c, DIVERGENCES) for c in sorted(CLASSES) if c not in divergences]
    return bad


def sort_schema_errors(res):
    """json.match_schema's errors come in Go's map order in OPA: compare them sorted."""
    for b in res:
        m = b.get("x", {}).get("m") if isinstance(b.get("x"), dict) else None
        if isinstance(m, list) and len(m) == 2 and isinstance(m[1], list):
            m[1] = sorted(m[1], key=lambda e: json.dumps(e, sort_keys=True))


def compare(opa, enc, case=None):
    """None when they agree, else a short description."""
    if case and case.get("sort_errors"):
        for r in (opa, enc):
            if "result" in r:
                sort_schema_errors(r["result"])
    # OPA's own crashes (a Go stack overflow on a recursive schema $ref) are not Enclave's to match
    if opa.get("error") in LIMITS or opa.get("error") == "crash" or \
            enc.get("error") in ("timeout", "eval_budget_error", "eval_cancel_error", "harness"):
        return None
    if enc.get("error") == "crash":
        return "enclave crashed: " + enc.get("message", "")
    oe, ee = "error" in opa, "error" in enc
    if oe and ee:
        return None
    if oe != ee:
        return "opa %s, enclave %s" % (
            opa["error"] if oe else "%d result(s)" % len(opa["result"]),
            enc["error"] if ee else "%d result(s)" % len(enc["result"]))
    a = sorted(canon(x) for x in opa["result"])
    b = sorted(canon(x) for x in enc["result"])
    if a != b:
        return "results differ"
    return None


def known_class(opa, enc, case, divergences, engines):
    """The documented divergence this disagreement belongs to, or None."""
    if case.get("id") in divergences:
        return case["id"]
    for name, f in CLASSES.items():
        if name in divergences and f(opa, enc, case, engines):
            return name
    return None


# ---------------------------------------------------------------- conformance cases

def conformance_cases(dirs):
    out = []
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "**", "*.yaml"), recursive=True)):
            try:
                with open(path) as f:
                    doc = yaml.safe_load(f)
            except Exception:
                continue
            for c in (doc or {}).get("cases", []) or []:
                if "input_term" in c or "query" not in c:
                    continue
                case = {
                    "modules": [["test-%d.rego" % i, m] for i, m in enumerate(c.get("modules") or [])],
                    "query": c["query"],
                    "strict": bool(c.get("strict_error")),
                    "note": "%s: %s" % (os.path.relpath(path, ROOT), c.get("note", "")),
                    "id": "conformance:%s#%s" % (os.path.relpath(path, ROOT), c.get("note", "")),
                }
                if isinstance(c.get("data"), dict):
                    case["data"] = c["data"]
                if "input" in c:
                    case["input"] = c["input"]
                try:
                    json.dumps(case)
                except (TypeError, ValueError):
                    continue   # YAML values JSON cannot carry (dates)
                out.append(case)
    return out


def constitution_cases(folder):
    """The shipped constitution's own tests (what `enclave policy test
    policy/` runs): every test_* rule, with the bundle's modules and data."""
    mods, data, rules = [], {}, []
    for path in sorted(glob.glob(os.path.join(folder, "**", "*.rego"), recursive=True)):
        with open(path) as f:
            text = f.read()
        mods.append([os.path.relpath(path, folder), text])
        pkg = re.search(r"^package\s+([\w.]+)", text, re.M)
        for name in re.findall(r"^(test_\w+)\b", text, re.M):
            if pkg and (pkg.group(1), name) not in rules:
                rules.append((pkg.group(1), name))
    dpath = os.path.join(folder, "data.json")
    if os.path.exists(dpath):
        with open(dpath) as f:
            data = json.load(f)
    return [{"modules": mods, "data": data, "query": "x = data.%s.%s" % (pkg, name),
             "note": "constitution %s.%s" % (pkg, name), "id": "constitution:%s.%s" % (pkg, name)}
            for pkg, name in rules]


def mutate_value(rng, v, depth=0):
    r = rng.random()
    if r < 0.15:
        return rng.choice([0, 1, -1, 2.5, "", "a", "Ä", True, False, None, [], {}, 10 ** 20, "1", [1, "x"], {"a": 1}])
    if isinstance(v, bool) or v is None:
        return rng.choice([True, False, None, 0])
    if isinstance(v, (int, float)):
        return rng.choice([v + 1, v - 1, -v, v * 2, 0, v / 2 if v else 0.5, str(v)])
    if isinstance(v, str):
        return rng.choice([v + "x", v[:-1], v.upper(), "", v + v, "ü" + v, len(v)])
    if isinstance(v, list) and depth < 4:
        v = [mutate_value(rng, x, depth + 1) if rng.random() < 0.3 else x for x in v]
        if v and rng.random() < 0.2:
            v.pop(rng.randrange(len(v)))
        if rng.random() < 0.2:
            v.append(rng.choice([1, "b", None, [2]]))
        return v
    if isinstance(v, dict) and depth < 4:
        v = {k: (mutate_value(rng, x, depth + 1) if rng.random() < 0.3 else x) for k, x in v.items()}
        if v and rng.random() < 0.2:
            v.pop(rng.choice(sorted(v)))
        return v
    return v


def mutate_case(rng, c):
    m = dict(c)
    m["note"] = "mutated " + c.get("note", "")
    m.pop("id", None)
    if "input" in c and rng.random() < 0.8:
        m["input"] = mutate_value(rng, c["input"])
    if "data" in c and rng.random() < 0.6:
        m["data"] = mutate_value(rng, c["data"])
        if not isinstance(m["data"], dict):
            m["data"] = c["data"]
    return m


# ---------------------------------------------------------------- the generator

# builtin name -> argument kinds: n number, i small int, s string, a array,
# S set, o object, x any, r regex pattern, g glob
BUILTINS = {
    "abs": "n", "ceil": "N", "floor": "N", "round": "n", "numbers.range": "ii",
    "count": "a", "sum": "a", "product": "a", "max": "a", "min": "a", "sort": "a",
    "array.concat": "aa", "array.slice": "aii", "array.reverse": "a",
    "concat": "sa", "contains": "ss", "endswith": "ss", "startswith": "ss", "format_int": "ni",
    "indexof": "ss", "indexof_n": "ss", "lower": "s", "upper": "s", "replace": "sss",
    "split": "ss", "sprintf": "sa", "strings.reverse": "s", "substring": "sii", "trim": "ss",
    "trim_left": "ss", "trim_right": "ss", "trim_prefix": "ss", "trim_suffix": "ss",
    "trim_space": "s", "strings.count": "ss", "strings.replace_n": "os", "strings.any_prefix_match": "ss",
    "strings.any_suffix_match": "ss",
    "is_number": "x", "is_string": "x", "is_boolean": "x", "is_array": "x", "is_set": "x",
    "is_object": "x", "is_null": "x", "type_name": "x", "to_number": "x",
    "object.get": "oxx", "object.keys": "o", "object.remove": "oa", "object.union": "oo",
    "object.filter": "oa", "object.subset": "oo", "object.union_n": "a",
    "json.marshal": "x", "json.unmarshal": "s", "json.is_valid": "s", "base64.encode": "s",
    "base64.decode": "s", "base64.is_valid": "s", "base64url.encode": "s", "base64url.encode_no_pad": "s",
    "base64url.decode": "s", "hex.encode": "s", "hex.decode": "s", "urlquery.encode": "s",
    "urlquery.decode": "s", "urlquery.encode_object": "o", "yaml.marshal": "x", "yaml.is_valid": "s",
    "regex.match": "rs", "regex.is_valid": "s", "regex.split": "rs", "regex.find_n": "rsi",
    "regex.replace": "rss", "glob.match": "gas", "glob.quote_meta": "s",
    "intersection": "S", "union": "S", "units.parse_bytes": "s", "units.parse": "s",
    "semver.is_valid": "x", "net.cidr_is_valid": "s", "crypto.sha256": "s", "crypto.md5": "s",
    "bits.and": "ii", "bits.or": "ii", "bits.xor": "ii", "bits.negate": "i", "bits.lsh": "ii",
    "bits.rsh": "ii", "json.filter": "oa", "json.remove": "oa", "walk": "x",
    "strings.render_template": "so", "json.match_schema": "xx", "json.verify_schema": "x",
    "time.parse_rfc3339_ns": "s", "time.parse_duration_ns": "s", "time.date": "i", "time.clock": "i",
    "time.weekday": "i", "graph.reachable": "oa", "array.flatten": "a", "object.from_entries": "a",
    "json.marshal_with_options": "xM",
}
# builtins that may not exist on this Enclave (added to the generator as they arrive)
OPTIONAL = {"strings.render_template", "json.match_schema", "json.verify_schema", "array.flatten",
            "object.from_entries"}

STRINGS = ["", "a", "ab", "abc", "Hello", "héllo", "ÄÖÜ", "a,b,c", " x ", "x.y", "foo/bar", "%d", "%v-%s",
           "1", "2.5", "-3", "1e3", "true", "aGVsbG8=", "68656c6c6f", "a=b&c=d", "10Mi", "1.0.0", "10.0.0.0/8",
           "ǅ", "ß", "İ", "\t", "a\nb", "{{.x}}", "1h30m", "2020-01-02T03:04:05Z"]
REGEXES = ["a", "^a", "b$", "[a-c]+", "\\d+", "(a)(b)?", ".", "x*", "\\w+", "[[:alpha:]]", "(?i)h"]
GLOBS = ["*", "a*", "*.y", "foo/*", "**", "?b", "[ab]*", "{a,x}*"]


class Gen:
    def __init__(self, rng):
        self.rng = rng
        self.n = 0

    def name(self, p):
        self.n += 1
        return "%s%d" % (p, self.n)

    def scalar(self):
        r = self.rng.random()
        if r < 0.35:
            return json.dumps(self.rng.choice(STRINGS), ensure_ascii=False)
        if r < 0.7:
            return self.rng.choice(["0", "1", "2", "3", "-1", "10", "2.5", "-0.5", "100", "1e2",
                                    "9223372036854775807", "18446744073709551616", "0.1"])
        return self.rng.choice(["true", "false", "null"])

    def const(self, kind, depth=0):
        rng = self.rng
        if kind == "n":
            return rng.choice(["0", "1", "2", "-3", "2.5", "10", "1e3", "-0.5", "7", "9007199254740993"])
        if kind == "N":   # not in (-1, 0): see "Divergences" in docs/rego.md (ceil, floor)
            return rng.choice(["0", "1", "2", "-3", "2.5", "-1.5", "1e3", "7"])
        if kind == "M":
            return rng.choice(['{}', '{"pretty": true}', '{"indent": "  "}', '{"prefix": "> ", "indent": "\\t"}',
                               '{"pretty": false, "indent": " "}', '{"bad": 1}'])
        if kind == "i":
            return rng.choice(["0", "1", "2", "3", "5", "-1", "8"])
        if kind == "s":
            return json.dumps(rng.choice(STRINGS), ensure_ascii=False)
        if kind == "r":
            return json.dumps(rng.choice(REGEXES))
        if kind == "g":
            return json.dumps(rng.choice(GLOBS))
        if kind == "a":
            return "[" + ", ".join(self.const(rng.choice("nssx"), depth + 1) for _ in range(rng.randrange(4))) + "]"
        if kind == "S":
            return "{" + ", ".join(self.const("a" if rng.random() < 0.3 else "s", depth + 1)
                                   for _ in range(1 + rng.randrange(3))) + "}"
        if kind == "o":
            return "{" + ", ".join("%s: %s" % (json.dumps(rng.choice(["a", "b", "c", "x", "y"])),
                                               self.const(rng.choice("nsx"), depth + 1))
                                   for _ in range(rng.randrange(4))) + "}"
        if depth > 2:
            return self.scalar()
        return self.const(rng.choice("nnssaoS"), depth + 1) if rng.random() < 0.4 else self.scalar()

    def arg(self, kind, scope):
        rng = self.rng
        r = rng.random()
        if r < 0.25 and scope:
            return rng.choice(scope)
        if r < 0.45:
            return self.input_ref()
        if r < 0.5:
            return rng.choice(["data.d.nums", "data.d.strs", "data.d.obj", "data.d.n", "data.d.s"])
        return self.const(kind)

    def input_ref(self):
        return self.rng.choice(["input.n", "input.s", "input.arr", "input.obj", "input.b", "input.arr[0]",
                                "input.obj.a", "input.strs", "input.nums", "input.obj[input.s]", "input.nested.x.y"])

    def call(self, scope):
        name = self.rng.choice(sorted(BUILTINS))
        return "%s(%s)" % (name, ", ".join(self.arg(k, scope) for k in BUILTINS[name]))

    def expr(self, scope):
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            return self.call(scope)
        if r < 0.55:
            return "%s %s %s" % (self.arg("n", scope), rng.choice(["+", "-", "*", "/", "%"]), self.arg("n", scope))
        if r < 0.6:
            # in parentheses: `if { a | b ... }` is a set comprehension to OPA's parser (docs/rego.md)
            return "(%s %s %s)" % (self.arg("S", scope), rng.choice(["|", "&", "-"]), self.arg("S", scope))
        if r < 0.7:
            v = self.name("c")
            return "[%s | some %s in %s; %s]" % (v, v, self.coll(scope), self.cond(scope + [v]))
        if r < 0.75:
            v = self.name("c")
            return "{%s | some %s in %s}" % (v, v, self.coll(scope))
        if r < 0.8:
            k, v = self.name("k"), self.name("v")
            return "{%s: %s | some %s, %s in %s}" % (k, v, k, v, self.coll(scope))
        if r < 0.9 and self.funcs:
            f = rng.choice(self.funcs)
            return "%s(%s)" % (f, self.arg("x", scope))
        return self.arg("x", scope)

    def coll(self, scope):
        return self.rng.choice(["input.arr", "input.obj", "input.strs", "input.nums", "data.d.nums", "data.d.obj",
                                "[1, 2, 3]", '{"a": 1, "b": "x"}', '{"x", "y"}', "input.nested"]
                               + ([self.rng.choice(scope)] if scope else []))

    def cond(self, scope):
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            return "%s %s %s" % (self.expr(scope), rng.choice(["==", "!=", "<", ">=", ">"]), self.arg("x", scope))
        if r < 0.6:
            return self.call(scope)
        if r < 0.7:
            return "not " + self.call(scope)
        if r < 0.8:
            return "%s in %s" % (self.arg("x", scope), self.coll(scope))
        if r < 0.9 and self.rules:
            return self.rng.choice(self.rules)
        return "%s == %s" % (self.arg("x", scope), self.arg("x", scope))

    def body(self, scope, n=None):
        rng = self.rng
        scope = list(scope)
        lines = []
        for _ in range(n if n is not None else 1 + rng.randrange(3)):
            r = rng.random()
            if r < 0.3:
                v = self.name("v")
                lines.append("%s := %s" % (v, self.expr(scope)))
                scope.append(v)
            elif r < 0.45:
                v = self.name("v")
                lines.append("some %s in %s" % (v, self.coll(scope)))
                scope.append(v)
            elif r < 0.5:
                k, v = self.name("k"), self.name("v")
                lines.append("some %s, %s in %s" % (k, v, self.coll(scope)))
                scope += [k, v]
            elif r < 0.55:
                v = self.name("e")
                lines.append("every %s in %s { %s != %s }" % (v, self.coll(scope), v, self.arg("x", scope)))
            else:
                lines.append(self.cond(scope))
        return lines, scope

    def rule(self):
        rng = self.rng
        lines, scope = self.body([])
        b = "{\n\t" + "\n\t".join(lines) + "\n}"
        val = self.arg("x", scope) if rng.random() < 0.7 else self.expr(scope)
        key = rng.choice(scope) if scope and rng.random() < 0.7 else self.const("s")
        r = rng.random()
        if r < 0.25:
            n = self.name("r")
            self.rules.append(n)
            out = "%s := %s if %s" % (n, val, b)
            if rng.random() < 0.3:
                l2, s2 = self.body([])
                out += " else := %s if {\n\t%s\n}" % (self.arg("x", s2), "\n\t".join(l2))
            if rng.random() < 0.3:
                out += "\ndefault %s := %s" % (n, self.const("x"))
            return out
        if r < 0.4:
            n = self.name("s")
            self.rules.append(n)
            return "%s contains %s if %s" % (n, val, b)
        if r < 0.5:
            n = self.name("o")
            return "%s[%s] := %s if %s" % (n, key, val, b)
        if r < 0.65:
            # ref heads, sharing prefixes so that their values meet
            pre = rng.choice(["h", "h.a", "h.b", "g.x"])
            k2 = rng.choice(scope) if scope and rng.random() < 0.5 else self.const("s")
            form = rng.random()
            if form < 0.35:
                return "%s[%s] contains %s if %s" % (pre, key, val, b)
            if form < 0.6:
                return "%s[%s] := %s if %s" % (pre, key, val, b)
            if form < 0.75:
                return "%s[%s][%s] := %s if %s" % (pre, key, k2, val, b)
            if form < 0.9:
                return "%s.%s := %s if %s" % (pre, rng.choice(["a", "b", "c", "x"]), val, b)
            return "%s.%s contains %s if %s" % (pre, rng.choice(["a", "b", "c"]), val, b)
        if r < 0.75:
            n = self.name("f")
            l2, s2 = self.body(["x"], 1)
            out = "%s(x) := %s if {\n\t%s\n}" % (n, self.arg("x", s2), "\n\t".join(l2))
            self.funcs.append(n)
            return out
        if r < 0.85:
            n = self.name("r")
            self.rules.append(n)
            return "%s if %s" % (n, b)
        n = self.name("w")
        return "%s := %s if {\n\t%s with input.n as %s\n}" % (n, val if not scope else "true",
                                                             rng.choice(self.rules) if self.rules else "true",
                                                             self.const("n"))

    def policy(self):
        self.rules, self.funcs = [], []
        rules = [self.rule() for _ in range(2 + self.rng.randrange(5))]
        return "package p\n\n" + "\n\n".join(rules) + "\n"

    def input(self):
        rng = self.rng
        return {
            "n": rng.choice([0, 1, 2, -3, 2.5, 10, 100]),
            "s": rng.choice(STRINGS),
            "b": rng.choice([True, False]),
            "arr": [rng.choice([1, 2, "a", "b", None, 2.5]) for _ in range(rng.randrange(4))],
            "strs": rng.sample(["a", "b", "c", "héllo", "x.y"], rng.randrange(4)),
            "nums": [rng.choice([1, 2, 3, -1, 0.5]) for _ in range(rng.randrange(4))],
            "obj": {k: rng.choice([1, "x", True, [1]]) for k in rng.sample(["a", "b", "c", "x"], rng.randrange(4))},
            "nested": {"x": {"y": rng.choice([1, "z", None])}},
        }

    def schema(self, depth=0):
        rng = self.rng
        if depth > 2 or rng.random() < 0.1:
            return rng.choice([True, False, {}, {"type": "string"}, {"type": "integer"}])
        s = {}
        t = rng.choice(["object", "array", "string", "number", "integer", "boolean", "null", None,
                        ["string", "null"], ["integer", "array"]])
        if t is not None:
            s["type"] = t
        for _ in range(rng.randrange(4)):
            k = rng.choice(["properties", "required", "additionalProperties", "items", "minItems", "maxItems",
                            "uniqueItems", "minLength", "maxLength", "pattern", "minimum", "maximum",
                            "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "enum", "const", "anyOf",
                            "oneOf", "allOf", "not", "minProperties", "maxProperties", "contains", "if",
                            "patternProperties", "propertyNames", "dependencies", "$ref"])
            if k == "properties":
                s[k] = {n: self.schema(depth + 1) for n in rng.sample(["a", "b", "c"], 1 + rng.randrange(2))}
            elif k == "required":
                s[k] = rng.sample(["a", "b", "c", "d"], rng.randrange(3))
            elif k in ("additionalProperties", "items", "not", "contains", "propertyNames"):
                s[k] = self.schema(depth + 1)
            elif k in ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"):
                s[k] = rng.randrange(4)
            elif k == "uniqueItems":
                s[k] = rng.random() < 0.8
            elif k == "pattern":
                s[k] = rng.choice(["^a", "b+", "^[0-9]+$", "é"])
            elif k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                s[k] = rng.choice([0, 1, 2.5, -1, 10])
            elif k == "multipleOf":
                s[k] = rng.choice([1, 2, 0.5, 3])
            elif k == "enum":
                s[k] = rng.sample([1, "a", None, True, [1], {"a": 1}, 2.5], 1 + rng.randrange(3))
            elif k == "const":
                s[k] = rng.choice([1, "a", None, {"a": 1}, [1, 2]])
            elif k in ("anyOf", "oneOf", "allOf"):
                s[k] = [self.schema(depth + 1) for _ in range(1 + rng.randrange(3))]
            elif k == "if":
                s["if"] = self.schema(depth + 1)
                s["then"] = self.schema(depth + 1)
                if rng.random() < 0.5:
                    s["else"] = self.schema(depth + 1)
            elif k == "patternProperties":
                s[k] = {rng.choice(["^a", "b$", "x"]): self.schema(depth + 1)}
            elif k == "dependencies":
                s[k] = {"a": rng.choice([["b"], ["c", "d"], self.schema(depth + 1)])}
            elif k == "$ref" and depth > 0:
                s = {"$ref": "#"}
        return s

    def schema_doc(self, depth=0):
        rng = self.rng
        r = rng.random()
        if depth > 2 or r < 0.4:
            return rng.choice([0, 1, 2, 2.5, -1, 12, "", "a", "abc", "b1", "123", "é", True, False, None])
        if r < 0.7:
            return {k: self.schema_doc(depth + 1) for k in rng.sample(["a", "b", "c", "d", "ab", "xb"],
                                                                      rng.randrange(4))}
        return [self.schema_doc(depth + 1) for _ in range(rng.randrange(4))]

    def schema_case(self):
        c = {
            "modules": [["schema.rego", "package p\n\nm := json.match_schema(input.doc, input.schema)\n"
                                        "v := json.verify_schema(input.schema)\n"]],
            "input": {"doc": self.schema_doc(), "schema": self.schema()},
            "query": "x = data.p",
            "note": "schema",
            "sort_errors": True,
        }
        if self.rng.random() < 0.3:
            c["input"]["schema"] = json.dumps(c["input"]["schema"])
        return c

    TPL_PIECES = ["{{.s}}", "{{.n}}", "{{.f}}", "{{.a}}", "{{.m}}", "{{.missing}}", "{{.m.a}}", "{{.missing.x}}",
                  "{{.s.x}}", "{{.}}", "{{$}}", " text ", "\n", "{{- .s -}}", "{{/* c */}}", "{{len .a}}",
                  "{{len .s}}", "{{index .a 1}}", "{{index .m \"a\"}}", "{{index .a 9}}", "{{eq .s \"hi\"}}",
                  "{{eq .f 2.5}}", "{{eq .n 1}}", "{{lt .f 3.0}}", "{{and .s .z}}", "{{or .z .s}}", "{{not .z}}",
                  "{{print .s 1 .f}}", "{{println .s .n}}", "{{.s | len}}", "{{\"lit\"}}", "{{1}}", "{{1.5}}",
                  "{{true}}", "{{$x := .s}}{{$x}}", "{{(len .a)}}", "{{.big}}", "{{.small}}", "{{.nil}}",
                  "{{.u}}", "<no value>", "{{if}}", "{{end}}", "{{.s", "{{printf \"%v\" .s}}"]
    TPL_BLOCKS = ["{{if %s}}%s{{else}}%s{{end}}", "{{if %s}}%s{{else if .s}}%s{{end}}", "{{range %s}}%s{{else}}%s{{end}}",
                  "{{range $i, $v := %s}}{{$i}}:{{$v}}%s%s{{end}}", "{{with %s}}{{.}}%s{{else}}%s{{end}}",
                  "{{range $v := %s}}{{if $v}}{{break}}{{end}}%s{{continue}}%s{{end}}"]
    TPL_CONDS = [".s", ".z", ".e", ".a", ".m", ".missing", ".n", ".empty", ".f", "(eq .s \"hi\")"]

    def template(self, depth=0):
        rng = self.rng
        out = []
        for _ in range(1 + rng.randrange(4)):
            if depth < 2 and rng.random() < 0.3:
                out.append(rng.choice(self.TPL_BLOCKS) % (rng.choice(self.TPL_CONDS), self.template(depth + 1),
                                                          self.template(depth + 1)))
            else:
                out.append(rng.choice(self.TPL_PIECES))
        return "".join(out)

    def template_case(self):
        rng = self.rng
        tvars = {"s": rng.choice(["hi", "", "héllo", "a b"]), "n": rng.choice([1, 1000000, 0, -3, 2023]),
                 "f": rng.choice([2.5, 0.1, 1e21, -0.5]), "z": 0, "e": "", "empty": [],
                 "a": rng.choice([["x", 1, None, True, {"k": "v"}], [1, 2], []]),
                 "m": rng.choice([{"b": 2, "a": "z"}, {}, {"a": [1, {"c": None}]}]),
                 "big": 9007199254740993, "small": 0.00001, "nil": None, "u": "ü<&>"}
        return {"modules": [["t.rego", "package p\n\nr := strings.render_template(input.t, input.v)\n"]],
                "input": {"t": self.template(), "v": tvars}, "query": "x = data.p", "note": "template",
                "strict": rng.random() < 0.5}

    def case(self):
        c = {
            "modules": [["gen.rego", self.policy()]],
            "data": {"d": {"nums": [1, 2, 3], "strs": ["a", "b"], "obj": {"a": 1, "b": 2}, "n": 5, "s": "str"}},
            "query": "x = data.p",
            "strict": self.rng.random() < 0.2,
            "note": "generated",
        }
        if self.rng.random() < 0.9:
            c["input"] = self.input()
        return c


# ---------------------------------------------------------------- main

USAGE = """usage: run.py [--check] [DIR...]     compare (DIRs of conformance YAML; default tests/rego/opa-conformance
                                      and tests/rego/cases)
       run.py --replay FILE...         run saved disagreements again
--check (make test-rego-diff): a fixed seed, no time limit, the constitution's
tests too, and the documented divergences checked against docs/rego.md."""


def main():
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    check = bool(args) and args[0] == "--check"
    if check:
        args = args[1:]
    build = os.environ.get("BUILD", os.path.join(ROOT, "build"))
    enc = Engine("enclave", [os.path.join(build, "rego-diff")], 20)
    opa = Engine("opa", [os.path.join(build, "peers", "opa-diff")], 20)
    engines = {"opa": opa, "enclave": enc}
    out_dir = os.environ.get("REGO_DIFF_OUT", os.path.join(build, "rego-diff-repro"))
    divergences = load_divergences()
    if args and args[0] == "--replay":
        bad = 0
        for path in args[1:]:
            with open(path) as f:
                case = json.load(f)["case"]
            o, e = opa.run(case), enc.run(case)
            why = compare(o, e, case)
            k = known_class(o, e, case, divergences, engines) if why else None
            print("%s: %s\n  opa:     %s\n  enclave: %s" % (
                path, (why + (" (documented: %s)" % k if k else "")) if why else "agree",
                json.dumps(o)[:600], json.dumps(e)[:600]))
            bad += why is not None and k is None
        return 1 if bad else 0
    iters = int(os.environ.get("REGO_DIFF_ITERATIONS", "3000" if check else "2000"))
    seconds = float(os.environ.get("REGO_DIFF_SECONDS", "0" if check else "300")) or float("inf")
    seed = int(os.environ.get("REGO_DIFF_SEED", "1" if check else str(int(time.time()))))
    dirs = args or [os.path.join(ROOT, "tests", "rego", "opa-conformance"), os.path.join(ROOT, "tests", "rego", "cases")]
    name = "test-rego-diff" if check else "fuzz-rego-diff"
    problems = check_docs(divergences)
    for p in problems:
        print("%s: %s" % (name, p))
    rng = random.Random(seed)
    # builtins this Enclave does not have are left out of the generator
    for b in sorted(BUILTINS):
        probe = {"modules": [["probe.rego", "package probe\nr if { %s(%s) }\n" % (
            b, ", ".join(["1"] * len(BUILTINS[b])))]], "query": "x = 1"}
        if "undefined function" in enc.run(probe).get("message", ""):
            print("%s: %s is not implemented here, not generated" % (name, b))
            del BUILTINS[b]
    gen = Gen(rng)
    os.makedirs(out_dir, exist_ok=True)
    start = time.monotonic()
    stats = {"cases": 0, "agree": 0, "disagree": 0, "limits": 0}
    known = {}
    conf = conformance_cases(dirs)
    const = constitution_cases(os.path.join(ROOT, "policy"))
    print("%s: seed %d, %d conformance cases, %d constitution tests, %d generated/mutated cases%s"
          % (name, seed, len(conf), len(const), iters,
             "" if seconds == float("inf") else ", at most %.0f s" % seconds), flush=True)

    def one(case, kind):
        o, e = opa.run(case), enc.run(case)
        stats["cases"] += 1
        why = compare(o, e, case)
        if why is None:
            if "error" in o and o["error"] in LIMITS or e.get("error") in LIMITS:
                stats["limits"] += 1
            else:
                stats["agree"] += 1
            return
        k = known_class(o, e, case, divergences, engines)
        if k:
            known[k] = known.get(k, 0) + 1
            return
        stats["disagree"] += 1
        path = os.path.join(out_dir, "%s-%d-%04d.json" % (kind, seed, stats["disagree"]))
        with open(path, "w") as f:
            json.dump({"why": why, "seed": seed, "case": case, "opa": o, "enclave": e}, f, indent=1,
                      ensure_ascii=False)
        print("DISAGREE %s: %s (%s)" % (path, why, case.get("note", "")[:100]), flush=True)

    for c in conf + const:
        if time.monotonic() - start > seconds:
            break
        one(c, "conformance" if c["id"].startswith("conformance:") else "constitution")
    i = 0
    while i < iters and time.monotonic() - start < seconds:
        r = rng.random()
        if conf and r < 0.3:
            one(mutate_case(rng, rng.choice(conf)), "mutated")
        elif r < 0.45 and "json.match_schema" in BUILTINS:
            one(gen.schema_case(), "schema")
        elif r < 0.6 and "strings.render_template" in BUILTINS:
            one(gen.template_case(), "template")
        else:
            one(gen.case(), "generated")
        i += 1
    enc.stop()
    opa.stop()
    print("%s: %d cases in %.0f s: %d agree, %d disagree, %d hit a resource limit; documented divergences: "
          "%s; reproducers in %s"
          % (name, stats["cases"], time.monotonic() - start, stats["agree"], stats["disagree"], stats["limits"],
             ", ".join("%s %d" % kv for kv in sorted(known.items())) or "none", out_dir))
    if stats["disagree"]:
        print("%s: FAIL: each disagreement above is a bug in Enclave, or a divergence to document in docs/rego.md "
              "and %s" % (name, os.path.relpath(DIVERGENCES, ROOT)))
    return 1 if stats["disagree"] or problems else 0


if __name__ == "__main__":
    sys.exit(main())
