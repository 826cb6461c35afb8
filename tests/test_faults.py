"""Trust under faults: one run SIGKILLed at 20 random points and resumed each time ends bit-identical
to a run never stopped; a disk that fills up (or a file-size limit) mid-run costs a clear error and
nothing else; four trainings started together get four folders."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_resume_exact import _train, reference  # noqa: F401  (the fixture is used by name)

from conftest import assert_same_run, run_cli

EPOCHS, BATCHES = 3, 12  # the tiny reference run: 192 training examples in batches of 16


def _fault_points(count: int, seed: int) -> list[str]:
    """`count` distinct crash points in the order a run meets them: mid-batch, inside the write of
    last.pt, and at the epoch boundary after it (checkpoint written, metrics.csv not yet)."""
    timeline = []
    for epoch in range(1, EPOCHS + 1):
        timeline += [f"batch:{epoch}:{b}" for b in range(1, BATCHES + 1)]
        timeline += [f"write:last:{epoch}", f"epoch:{epoch}"]
    chosen = sorted(random.Random(seed).sample(range(len(timeline)), count))
    return [timeline[i] for i in chosen]


@pytest.mark.slow
def test_twenty_sigkills_at_random_points_then_bit_identical(reference, tmp_path):  # noqa: F811
    config, ref_run = reference
    points = _fault_points(20, seed=2026)
    assert {p.split(":")[0] for p in points} >= {"batch", "write", "epoch"}
    proc, run = _train(config, tmp_path / "runs", points[0])
    killed = [proc.returncode == -signal.SIGKILL]
    for point in points[1:]:
        # Each resume starts from the last checkpoint on disk, behind the next crash point.
        again = run_cli("resume", run, "--quiet", env={"RNNEXP_FAULT": point})
        killed.append(again.returncode == -signal.SIGKILL)
        assert killed[-1], (point, again.returncode, again.stderr[-500:])
    assert sum(killed) == 20
    final = run_cli("resume", run, "--json", "--quiet")
    assert final.returncode == 0, final.stderr
    assert_same_run(ref_run, run)
    assert len(json.loads((run / "meta.json").read_text())["resumes"]) == 20


def _limited_fsize(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_file_size_limit_mid_run_is_one_clear_error_and_resumable(reference, tmp_path):  # noqa: F811
    """A write that the OS refuses (here RLIMIT_FSIZE, as ulimit -f sets it) in epoch 2: exit 1 with
    one line naming the checkpoint, last.pt still epoch 1, and the resumed run ends identical."""
    config, ref_run = reference
    proc, run = _train(config, tmp_path / "runs", None, "--set", "train.epochs=1")
    assert proc.returncode == 0, proc.stderr
    size = (run / "checkpoints" / "last.pt").stat().st_size
    limited = subprocess.run(
        [sys.executable, "-m", "rnnexp", "resume", str(run), "--epochs", "3", "--quiet"],
        capture_output=True,
        text=True,
        preexec_fn=_limited_fsize(size // 2),  # small files (metrics, summary) fit; checkpoints do not
    )
    assert limited.returncode == 1, limited.stderr
    lines = limited.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write checkpoint (File too large)" in lines[0] and "last.pt" in lines[0]
    assert "Traceback" not in limited.stderr
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 1
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    final = run_cli("resume", run, "--quiet")
    assert final.returncode == 0, final.stderr
    assert_same_run(ref_run, run)


def test_full_disk_mid_run_is_one_clear_error_and_resumable(reference, tmp_path):  # noqa: F811
    """A real full disk: the run folder on a small tmpfs, filled up after epoch 1."""
    config, ref_run = reference
    mount = tmp_path / "small-disk"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()[:120]}); the file-size-limit test covers the path")
    try:
        proc, run = _train(config, mount / "runs", None, "--set", "train.epochs=1")
        assert proc.returncode == 0, proc.stderr
        filler = mount / "filler"
        free = shutil.disk_usage(mount).free
        with open(filler, "wb") as f:  # leave less room than one checkpoint needs
            f.write(b"\0" * (free - (run / "checkpoints" / "last.pt").stat().st_size // 3))
        full = run_cli("resume", run, "--epochs", "3", "--quiet")
        assert full.returncode == 1, full.stderr
        lines = full.stderr.strip().splitlines()
        assert len(lines) == 1 and "No space left on device" in lines[0] and "Free disk space" in lines[0], lines
        assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 1
        filler.unlink()
        final = run_cli("resume", run, "--quiet")
        assert final.returncode == 0, final.stderr
        assert_same_run(ref_run, run)
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_four_trainings_started_together_get_four_folders(write_config, tmp_path):
    config = write_config(train={"epochs": 1})
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "rnnexp", "train", str(config), "--runs-dir", str(runs), "--json", "--quiet"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1][-300:] for r in results]
    folders = [json.loads(out)["run_dir"] for out, _ in results]
    assert len(set(folders)) == 4 and sorted(os.listdir(runs)) == sorted(Path(f).name for f in folders)
    assert len({Path(f).name.split("_")[0] for f in folders}) <= 2  # they did start within a second or two
