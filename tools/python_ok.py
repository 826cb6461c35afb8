"""Is this interpreter one that rnnexp supports? `make install` asks it before a venv or pip exists.

The supported versions are stated once, as requires-python in pyproject.toml (the pins in
constraints.txt set its lower bound); this reads them from there. Prints nothing and exits 0 when the
running Python is admitted, else prints one line (the Python found, the versions needed, the fix)
and exits 1.

    python tools/python_ok.py [--as NAME | --venv DIR]

NAME is how the message names the interpreter (what PYTHON= was); --venv DIR says the interpreter
is that venv's own, so the fix is a new venv. Runs on any Python, 2.7 included (no f-strings, no
third-party or 3.x-only modules), since the interpreter it judges may be an old one.
"""

# ruff: noqa: UP020, UP031  (io.open and %-formatting: this file must run on Python 2.7 too)

import io
import os
import re
import sys

PYPROJECT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pyproject.toml")
CLAUSE = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*([0-9]+(?:\.[0-9]+)*)(\.\*)?\s*$")


def read_requires_python(path=PYPROJECT):
    """The requires-python string of pyproject.toml's [project] table, e.g. '>=3.11'."""
    with io.open(path, encoding="utf-8") as f:
        text = f.read()
    found = re.search(r'^requires-python\s*=\s*["\']([^"\']+)["\']', text, re.MULTILINE)
    if not found:
        raise ValueError("%s: no requires-python line in [project]" % path)
    return found.group(1)


def _admits_clause(clause, version):
    match = CLAUSE.match(clause)
    if not match:
        raise ValueError("requires-python: cannot read clause %r (expected e.g. >=3.11 or <3.15)" % clause)
    op, text, star = match.groups()
    bound = tuple(int(part) for part in text.split("."))
    if star or op == "~=":  # ==3.11.* / !=3.11.*: a prefix; ~=3.11: >=3.11, ==3.*
        prefix = bound if star else bound[:-1]
        inside = version[: len(prefix)] == prefix
        if op == "~=":
            return inside and version >= bound
        return inside if op == "==" else not inside
    width = max(len(bound), len(version))  # 3.11 is 3.11.0, as PEP 440 compares release numbers
    left, right = version + (0,) * (width - len(version)), bound + (0,) * (width - len(bound))
    if op in ("==", "==="):
        return left == right
    return {"!=": left != right, "<=": left <= right, ">=": left >= right, "<": left < right, ">": left > right}[op]


def admits(spec, version):
    """Whether the specifier (comma-separated clauses) admits version, a tuple such as (3, 11, 4)."""
    return all(_admits_clause(clause, tuple(version)) for clause in spec.split(",") if clause.strip())


def lowest_admitted(spec):
    """The lowest Python 3.x (major, minor) that spec admits (at some patch level), or None."""
    for minor in range(100):
        if any(admits(spec, (3, minor, patch)) for patch in range(30)):
            return (3, minor)
    return None


def refusal(spec, version, name, venv=None):
    """The one-line message for an interpreter spec does not admit, or None if it admits it."""
    if admits(spec, version):
        return None
    found = ".".join(str(part) for part in version[:3])
    lowest = lowest_admitted(spec)
    fix = "make install PYTHON=python%d.%d" % lowest if lowest else "make install PYTHON=/path/to/python3"
    if venv:
        what = "%s was made with Python %s" % (venv, found)
        fix = "rm -rf %s && %s" % (venv, fix)
    else:
        what = "%s is Python %s" % (name, found)
    return "%s, but rnnexp needs Python %s (requires-python in pyproject.toml): %s" % (what, spec, fix)


def main(argv):
    name, venv = sys.executable, None
    if len(argv) == 2 and argv[0] == "--as":
        name = argv[1]
    elif len(argv) == 2 and argv[0] == "--venv":
        venv = argv[1]
    elif argv:
        sys.stdout.write("usage: python tools/python_ok.py [--as NAME | --venv DIR]\n")
        return 2
    message = refusal(read_requires_python(), tuple(sys.version_info[:3]), name, venv)
    if message:
        sys.stdout.write(message + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
