"""The code's shape, checked on its source (no imports): imports point one way, no function is over
60 lines and no module over 450 (cli's command table excepted), so each job keeps one home."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rnnexp"

# Lower layers never import higher ones; a unit is a module or a subpackage.
LAYERS = [
    {"errors"},
    {"config", "faults"},
    {"data"},
    {
        "metrics",
        "baselines",
        "cells",
        "scans",
        "framing",
        "rundir",
        "checkpoint",
        "devices",
        "tracking",
    },
    {"model"},
    {"tasks"},
    {"training", "scoring", "report", "plots", "sweep_plot"},
    {"sweep", "export"},
    {"views", "api", "tables"},
    {"reporting"},
    {"cli", "__main__"},
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def unit_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported_units(path: Path) -> set[str]:
    """The rnnexp units a module imports (relative imports resolved against its package)."""
    depth = len(path.relative_to(PACKAGE).parts) - 1  # 0 for rnnexp/x.py, 1 for rnnexp/pkg/x.py
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            up = node.level - 1  # levels above the module's own package
            if up > depth:
                continue
            base = list(path.relative_to(PACKAGE).parts[: depth - up])
            names = [*base, *(node.module.split(".") if node.module else [])]
            if names:
                found.add(names[0].removesuffix(".py"))
            else:  # from . import x (at the top): x is the unit
                found.update(alias.name for alias in node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            for name in [module] if module else [a.name for a in node.names]:
                if name and name.startswith("rnnexp."):
                    found.add(name.split(".")[1])
    return found


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def test_every_unit_has_a_layer():
    assert {unit_of(p) for p in sources()} - {"__init__"} <= set(RANK)


def test_imports_point_down_only():
    wrong = []
    for path in sources():
        unit = unit_of(path)
        if unit == "__init__":
            continue
        for target in imported_units(path) - {unit, "__version__"}:
            if target in RANK and RANK[target] > RANK[unit]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert not wrong, wrong


def test_no_function_over_60_lines_and_no_module_over_450():
    long = []
    for path in sources():
        text = path.read_text(encoding="utf-8")
        if unit_of(path) != "cli" and len(text.splitlines()) > 450:
            long.append(f"{path.relative_to(PACKAGE)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not long, long


def test_the_layout_check_sees_relative_imports():
    # A check that found no imports would pass vacuously.
    assert {"checkpoint", "errors", "model", "rundir", "tasks"} <= imported_units(PACKAGE / "scoring.py")
    assert "training" in imported_units(PACKAGE / "sweep" / "worker.py")
    assert "errors" in imported_units(PACKAGE / "config" / "loading.py")


@pytest.mark.parametrize("required", [False, True])
def test_a_tmpfs_that_cannot_be_mounted_skips_unless_ci_requires_it(tmp_path, monkeypatch, required):
    import subprocess

    import conftest

    refused = subprocess.CompletedProcess(["mount"], 32, "", "mount: permission denied")
    monkeypatch.setattr(conftest.subprocess, "run", lambda *a, **k: refused)
    monkeypatch.setenv("RNNEXP_REQUIRE_TMPFS", "1" if required else "0")
    expected = pytest.fail.Exception if required else pytest.skip.Exception
    with pytest.raises(BaseException) as raised, conftest.tmpfs(tmp_path / "disk", "1m", "covered"):  # a skip is one
        raise AssertionError("entered a tmpfs that was never mounted")
    assert raised.type is expected and "cannot mount a tmpfs here" in str(raised.value), raised


def test_under_ci_a_skip_fails_unless_the_machine_may_truly_lack_what_it_needs():
    from conftest import ci_fails_skip

    for reason in ("root ignores directory permissions", "needs the datasets extra (make install)", "could not import 'mlflow'"):
        assert ci_fails_skip(reason), reason
    for reason in (
        "../shared/data/uci-sentiment not present",
        "fakes a run trained on a GPU this machine lacks",
        "CUDA is not available",
        "cannot mount a tmpfs here (permission denied); the unit test covers it",
    ):
        assert not ci_fails_skip(reason), reason
