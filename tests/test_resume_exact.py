"""The promise: a run crashed by SIGKILL anywhere and resumed ends bit-identical to one never stopped."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from conftest import assert_same_run, run_cli


def _train(config: Path, runs: Path, fault: str | None = None, *extra) -> tuple:
    env = {"RNNEXP_FAULT": fault} if fault else {}
    proc = run_cli("train", config, "--runs-dir", runs, "--json", "--quiet", *extra, env=env)
    run_dirs = sorted(p for p in runs.iterdir() if p.is_dir())
    return proc, run_dirs[-1]


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
    assert_same_run(ref_run, run)
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
    assert_same_run(ref_run, run)
