"""The promise: a run crashed by SIGKILL anywhere and resumed ends bit-identical to one never stopped.

Runs go through `forkrun` (tests/forkrun.py): real processes, killed outright, without paying the
interpreter's imports each time. Every config here pins train.threads: 1, as forkrun's processes run."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch
import yaml

from conftest import assert_same_run, tiny_config_dict
from rnnexp.checkpoint import save as save_checkpoint

KILLED = -signal.SIGKILL


def visible(runs: Path) -> list[Path]:
    """Run folders in place (not the hidden ones a setup builds aside)."""
    return sorted(p for p in runs.iterdir() if not p.name.startswith(".")) if runs.is_dir() else []


def train(forkrun, config: Path, runs: Path, fault: str | None = None, *extra) -> tuple[int, str, Path | None]:
    rc, out = forkrun("train", config, "--runs-dir", runs, "--quiet", *extra, env={"RNNEXP_FAULT": fault} if fault else {})
    folders = visible(runs)
    return rc, out, folders[-1] if folders else None


def write_tiny(folder: Path, tiny_data, model: dict | None = None, **train) -> Path:
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(tiny_data, model=model or {}, train={"threads": 1, **train})))
    return config


def killed_mid_epoch_and_resumed(forkrun, config: Path, folder: Path) -> tuple[Path, Path]:
    """An uninterrupted run of ``config``, and one SIGKILLed mid-epoch then resumed, proven the same."""
    rc, out, ref_run = train(forkrun, config, folder / "ref")
    assert rc == 0, out
    rc, out, run = train(forkrun, config, folder / "runs", "batch:2:5")
    assert rc == KILLED, (rc, out)
    rc, out = forkrun("resume", run, "--quiet")
    assert rc == 0, out
    assert_same_run(ref_run, run)
    return ref_run, run


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_data, forkrun):
    """One uninterrupted 3-epoch run that every crashed-and-resumed run is compared to."""
    folder = tmp_path_factory.mktemp("reference")
    config = write_tiny(folder, tiny_data)
    rc, out, run = train(forkrun, config, folder / "runs")
    assert rc == 0, out
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    return config, run


@pytest.mark.parametrize(
    "fault",
    [
        "batch:2:5",  # mid-epoch
        "epoch:1",  # at an epoch boundary: checkpoint handed to the writer, metrics.csv not yet
        "batch:1:3",  # before the first checkpoint exists: resume starts over, still identical
        "write:last:2",  # inside a checkpoint write: temp file complete, not yet renamed
        "write:best:1",  # inside the first best.pt write
    ],
)
def test_sigkill_then_resume_is_bit_identical(reference, tmp_path, forkrun, fault):
    config, ref_run = reference
    rc, out, run = train(forkrun, config, tmp_path / "runs", fault)
    assert rc == KILLED, (rc, out)
    rc, out = forkrun("resume", run, "--quiet")
    assert rc == 0, out
    assert_same_run(ref_run, run)
    meta = json.loads((run / "meta.json").read_text())
    assert len(meta["resumes"]) == 1


def test_two_crashes_in_one_run(reference, tmp_path, forkrun):
    """Crash, resume, crash again later, resume: still identical."""
    config, ref_run = reference
    rc, _, run = train(forkrun, config, tmp_path / "runs", "batch:2:3")
    assert rc == KILLED
    assert forkrun("resume", run, "--quiet", env={"RNNEXP_FAULT": "batch:3:9"})[0] == KILLED
    rc, out = forkrun("resume", run, "--quiet")
    assert rc == 0, out
    assert_same_run(ref_run, run)


def test_a_bf16_deterministic_run_killed_and_resumed_is_bit_identical(tmp_path, tiny_data, forkrun):
    """Mixed precision through the LSTM's scan (recurrent dropout), with train.deterministic: the
    resume applies the run's numerics again and ends with the uninterrupted run's bits."""
    config = write_tiny(
        tmp_path, tiny_data, model={"cell": "lstm", "recurrent_dropout": 0.2}, precision="bf16", deterministic=True
    )
    ref_run, run = killed_mid_epoch_and_resumed(forkrun, config, tmp_path)
    meta = json.loads((run / "meta.json").read_text())
    assert meta["numerics"]["precision"] == "bf16" and meta["numerics"]["deterministic_algorithms"] is True
    assert meta["resumes"][0]["numerics"] == meta["numerics"]  # the run's own settings, set again


@pytest.mark.parametrize("fault", ["batch:2:5", "batch:1:3"])  # with a checkpoint; before the first one
def test_a_run_folder_from_before_optimizer_defaults_resumes_with_torchs_rule(tmp_path, tiny_data, forkrun, fault):
    """A run folder written before train.optimizer_defaults existed trained with torch's optimizers;
    its config.yaml, meta.json and checkpoints lack the key, and its resume must go on as it trained,
    not under today's default (keras), and without calling its config edited."""
    config = write_tiny(tmp_path, tiny_data, optimizer="rmsprop", lr=0.01, optimizer_defaults="torch")
    rc, out, ref_run = train(forkrun, config, tmp_path / "ref")
    assert rc == 0, out
    rc, out, run = train(forkrun, config, tmp_path / "runs", fault)
    assert rc == KILLED, (rc, out)
    written = yaml.safe_load((run / "config.yaml").read_text())
    del written["train"]["optimizer_defaults"]
    (run / "config.yaml").write_text(yaml.safe_dump(written, sort_keys=False))
    meta = json.loads((run / "meta.json").read_text())
    del meta["config"]["train"]["optimizer_defaults"], meta["optimizer"]
    (run / "meta.json").write_text(json.dumps(meta))
    for checkpoint in (run / "checkpoints").glob("*.pt"):
        state = torch.load(checkpoint, weights_only=True)
        del state["config"]["train"]["optimizer_defaults"], state["checksum"]
        save_checkpoint({k: v for k, v in state.items() if k not in ("format", "version")}, checkpoint)
    rc, out = forkrun("resume", run, "--quiet")
    assert rc == 0, out
    assert_same_run(ref_run, run)


def test_sigkill_then_resume_with_class_weights_is_bit_identical(tmp_path, tiny_data, forkrun):
    """The weights are computed again from the training split on resume: the same weights, the same run."""
    config = write_tiny(tmp_path, tiny_data, class_weight="balanced")
    ref_run, run = killed_mid_epoch_and_resumed(forkrun, config, tmp_path)
    weights = [json.loads((r / "meta.json").read_text())["data"]["class_weights"] for r in (ref_run, run)]
    assert weights[0] == weights[1] and set(weights[0]) == {"great", "other"}
