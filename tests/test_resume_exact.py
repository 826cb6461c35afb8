"""The promise: a run crashed by SIGKILL anywhere and resumed ends bit-identical to one never stopped."""

from __future__ import annotations

import csv
import json
import signal
from pathlib import Path

import pytest
import torch

from conftest import run_cli


def _train(config: Path, runs: Path, fault: str | None = None, *extra) -> tuple:
    env = {"RNNEXP_FAULT": fault} if fault else {}
    proc = run_cli("train", config, "--runs-dir", runs, "--json", "--quiet", *extra, env=env)
    run_dirs = sorted(p for p in runs.iterdir() if p.is_dir())
    return proc, run_dirs[-1]


def _metrics_without_time(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row.pop("seconds")  # wall time is the one column that cannot repeat
    return rows


def _assert_same_run(a: Path, b: Path) -> None:
    last_a = torch.load(a / "checkpoints" / "last.pt", weights_only=True)
    last_b = torch.load(b / "checkpoints" / "last.pt", weights_only=True)
    assert last_a["model"].keys() == last_b["model"].keys()
    for key in last_a["model"]:
        assert torch.equal(last_a["model"][key], last_b["model"][key]), f"weights differ at {key}"
    best_a = torch.load(a / "checkpoints" / "best.pt", weights_only=True)
    best_b = torch.load(b / "checkpoints" / "best.pt", weights_only=True)
    assert best_a["epoch"] == best_b["epoch"]
    for key in best_a["model"]:
        assert torch.equal(best_a["model"][key], best_b["model"][key]), f"best weights differ at {key}"
    assert _metrics_without_time(a) == _metrics_without_time(b)
    assert [r["epoch"] for r in _metrics_without_time(b)] == [str(i) for i in range(1, len(_metrics_without_time(b)) + 1)]
    sa, sb = (json.loads((p / "summary.json").read_text()) for p in (a, b))
    assert (sa["status"], sa["epochs_run"], sa["best_epoch"]) == (sb["status"], sb["epochs_run"], sb["best_epoch"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_data):
    """One uninterrupted 3-epoch run that every crashed-and-resumed run is compared to."""
    import yaml

    from conftest import tiny_config_dict

    folder = tmp_path_factory.mktemp("reference")
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(tiny_data)))
    proc, run = _train(config, folder / "runs")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"
    return config, run


@pytest.mark.parametrize(
    "fault",
    [
        "batch:2:5",  # mid-epoch
        "epoch:1",  # at an epoch boundary: checkpoint written, metrics.csv not yet
        "batch:1:3",  # before the first checkpoint exists: resume starts over, still identical
        "write:last:2",  # inside a checkpoint write: temp file complete, not yet renamed
        "write:best:1",  # inside the first best.pt write
    ],
)
def test_sigkill_then_resume_is_bit_identical(reference, tmp_path, fault):
    config, ref_run = reference
    proc, run = _train(config, tmp_path / "runs", fault)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr)
    resumed = run_cli("resume", run, "--json", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "completed"
    _assert_same_run(ref_run, run)
    meta = json.loads((run / "meta.json").read_text())
    assert len(meta["resumes"]) == 1


def test_two_crashes_in_one_run(reference, tmp_path):
    """Crash, resume, crash again later, resume: still identical."""
    config, ref_run = reference
    proc, run = _train(config, tmp_path / "runs", "batch:2:3")
    assert proc.returncode == -signal.SIGKILL
    again = run_cli("resume", run, "--quiet", env={"RNNEXP_FAULT": "batch:3:9"})
    assert again.returncode == -signal.SIGKILL
    final = run_cli("resume", run, "--quiet")
    assert final.returncode == 0, final.stderr
    _assert_same_run(ref_run, run)
