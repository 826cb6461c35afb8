"""What `make install` needs and does before pip: the Pythons pyproject.toml's requires-python states
are the ones constraints.txt's pins admit, every package the install brings is pinned, and make turns
away a Python that requires-python does not admit in one line, before a venv or pip (tools/python_ok.py).

Nothing here installs: the pins are checked on this venv's metadata, make runs with fake interpreters."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
REQUIRES_PYTHON = PYPROJECT["project"]["requires-python"]


def lowest_python(spec: str) -> Version:
    """The lowest Python 3.x.y that spec admits (read with packaging, not with the script under test)."""
    specifier = SpecifierSet(spec)
    for minor in range(100):
        for patch in range(30):
            if Version(f"3.{minor}.{patch}") in specifier:
                return Version(f"3.{minor}.{patch}")
    raise AssertionError(f"requires-python {spec!r} admits no Python 3")


LOWEST = lowest_python(REQUIRES_PYTHON)
FIX = f"make install PYTHON=python{LOWEST.major}.{LOWEST.minor}"  # what the refusal suggests


def pins() -> dict[str, Requirement]:
    """constraints.txt's pins by canonical name (those whose environment marker holds here)."""
    found = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate():
                found[canonicalize_name(req.name)] = req
    return found


def installed() -> dict[str, importlib.metadata.Distribution]:
    return {canonicalize_name(d.metadata["Name"]): d for d in importlib.metadata.distributions()}


def make_extras() -> set[str]:
    """The extras `make install` installs rnnexp with (its pip line in the Makefile)."""
    found = re.search(r"-e '\.\[([\w,-]+)\]'", (ROOT / "Makefile").read_text(encoding="utf-8"))
    assert found, "the Makefile's pip install line names no extras"
    return set(found.group(1).split(","))


def test_pins_admit_the_lowest_python_requires_python_admits():
    dists = installed()
    refusing = {}
    for name in pins():
        if name in dists:
            stated = dists[name].metadata.get("Requires-Python")
            if stated and LOWEST not in SpecifierSet(stated):
                refusing[f"{name}=={dists[name].version}"] = stated
    assert not refusing, f"requires-python {REQUIRES_PYTHON!r} admits Python {LOWEST}, but these pins do not: {refusing}"


def test_ruff_targets_the_lowest_python():
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py{LOWEST.major}{LOWEST.minor}"


def test_every_package_the_install_brings_is_pinned():
    """rnnexp's requirement tree with make's extras, as installed here: each package in it has a pin,
    the version installed (so a second install on this Python gets the same environment)."""
    dists, pinned = installed(), pins()
    todo, seen, unpinned = [("rnnexp", frozenset(make_extras()))], set(), []
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen or name not in dists:
            continue
        seen.add((name, extras))
        for text in dists[name].requires or []:
            req = Requirement(text)
            if req.marker and not any(req.marker.evaluate({"extra": extra}) for extra in extras | {""}):
                continue
            todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    for name in sorted({name for name, _ in seen} - {"rnnexp"}):
        version = dists[name].version
        if name not in pinned or not pinned[name].specifier.contains(version, prereleases=True):
            unpinned.append(f"{name}=={version}")
    assert not unpinned, f"installed by make install but not pinned in constraints.txt: {unpinned}"


# --- make install's preflight, run with fake interpreters ----------------------------------------

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

FAKE = """#!{python}
# A fake Python {version}: runs tools/python_ok.py as that version; any other use is logged, not done.
import runpy, sys
if len(sys.argv) > 1 and sys.argv[1].endswith("python_ok.py"):
    sys.version_info = {version_info!r}
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
with open({log!r}, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
sys.exit(1)
"""


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def fake_python(folder: Path, version: tuple[int, int, int], log: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "python{}.{}".format(*version[:2])
    info = (*version, "final", 0)
    path.write_text(FAKE.format(python=sys.executable, version=dotted(version), version_info=info, log=str(log)))
    path.chmod(0o755)
    return path


def make_install(python: Path | str, venv: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    cmd = ["make", "--no-print-directory", "install", f"PYTHON={python}", f"VENV={venv}"]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def too_old() -> list[tuple[int, int, int]]:
    below = LOWEST.minor - 1
    return [(3, below, 13), (3, max(below - 3, 0), 0), (2, 7, 18)]


def assert_refused(result: subprocess.CompletedProcess, found: str, fix: str) -> str:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert len(output.splitlines()) == 1, f"make printed more than one line:\n{output}"
    assert found in output and f"needs Python {REQUIRES_PYTHON}" in output and fix in output, output
    return output


@needs_make
@pytest.mark.parametrize("version", too_old(), ids=lambda v: dotted(v))
def test_make_install_refuses_an_old_python_in_one_line_before_venv_or_pip(tmp_path, version):
    log = tmp_path / "calls.log"
    python = fake_python(tmp_path / "bin", version, log)
    result = make_install(python, tmp_path / "venv")
    assert_refused(result, f"{python} is Python {dotted(version)}", FIX)
    assert not (tmp_path / "venv").exists(), "make created a venv with a Python it cannot install into"
    assert not log.exists(), f"make ran the too-old Python for more than the check: {log.read_text()}"


@needs_make
def test_make_install_refuses_a_venv_made_with_an_old_python(tmp_path):
    """A .venv left by an older attempt is what make would install into: it is checked, not PYTHON."""
    log = tmp_path / "calls.log"
    venv = tmp_path / "venv"
    version = too_old()[0]
    fake_python(venv / "bin", version, log).rename(venv / "bin" / "python")
    good = fake_python(tmp_path / "bin", (3, LOWEST.minor, 0), log)
    result = make_install(good, venv)
    fix = f"rm -rf {venv} && {FIX}"
    assert_refused(result, f"{venv} was made with Python {dotted(version)}", fix)
    assert not log.exists(), f"make ran pip or venv: {log.read_text()}"


@needs_make
def test_make_install_names_a_python_that_is_not_there(tmp_path):
    missing = tmp_path / "no" / "python3"
    result = make_install(missing, tmp_path / "venv")
    assert_refused(result, f"{missing} did not run", "make install PYTHON=")
    assert not (tmp_path / "venv").exists()


@needs_make
@pytest.mark.parametrize("minor_above", [0, 2])
def test_make_install_goes_on_to_the_venv_with_an_admitted_python(tmp_path, minor_above):
    log = tmp_path / "calls.log"
    python = fake_python(tmp_path / "bin", (3, LOWEST.minor + minor_above, 1), log)
    result = make_install(python, tmp_path / "venv")
    assert "needs Python" not in result.stdout + result.stderr
    assert log.read_text() == f"-m venv {tmp_path / 'venv'}\n"  # the fake refuses it, so make stops there


def test_python_ok_passes_this_python_silently():
    """The interpreter running the tests is a supported one: the check prints nothing and exits 0."""
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "python_ok.py")], capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def load_python_ok():
    spec = importlib.util.spec_from_file_location("python_ok", ROOT / "tools" / "python_ok.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SPECS = [
    ">=3.11",
    ">=3.11,<3.14",
    "~=3.11",
    "~=3.11.2",
    "==3.12.*",
    "!=3.12.*,>=3.10",
    ">3.11",
    "<=3.12",
    "==3.11",
    ">= 3.9, != 3.10.2",
    ">3.10.5",
]


@pytest.mark.parametrize("spec", SPECS)
def test_python_ok_reads_requires_python_as_packaging_does(spec):
    """The check has no third-party modules (it may run on any Python), so its reading of a
    specifier is held to packaging's, over Pythons 2.7 to 3.15 and patch levels either side."""
    python_ok = load_python_ok()
    versions = [(2, 7, 18)] + [(3, minor, patch) for minor in range(16) for patch in (0, 1, 2, 3, 13)]
    disagree = [v for v in versions if python_ok.admits(spec, v) != (Version(dotted(v)) in SpecifierSet(spec))]
    assert not disagree
    assert python_ok.lowest_admitted(spec) == (lowest_python(spec).major, lowest_python(spec).minor)


def test_python_ok_reads_this_pyproject():
    assert load_python_ok().read_requires_python() == REQUIRES_PYTHON
