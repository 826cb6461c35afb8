"""rnnexp/training/progress.py: what last.pt's training state holds, read back into a run's parts,
every RNG and the gradient scaler included, and what a run's checkpoint says of its progress."""

from __future__ import annotations

import random
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from conftest import StopAt, tiny_config_dict
from rnnexp import training
from rnnexp.config import Config
from rnnexp.errors import CheckpointError
from rnnexp.training import progress
from rnnexp.training.progress import Progress


class Part:
    """An optimizer, policy or scaler that remembers the state it was given."""

    def __init__(self, state=None):
        self.state, self.loaded = state, []

    def state_dict(self):
        return self.state

    def load_state_dict(self, state):
        self.loaded.append(state)


def _parts(scaler: Part | None) -> SimpleNamespace:
    return SimpleNamespace(optimizer=Part({"o": 1}), early=Part({"e": 2}), schedule=Part({"s": 3}), scaler=scaler)


@pytest.mark.parametrize("saved_with_scaler", [True, False])
@pytest.mark.parametrize("loaded_with_scaler", [True, False])
def test_the_training_state_goes_back_into_the_parts_it_came_from(saved_with_scaler, loaded_with_scaler):
    """fp16's gradient scaler: restored when the run has one and the checkpoint holds its state
    (the loss scale it had reached); otherwise left as built (a checkpoint from before fp16, or a
    state the run has no scaler for)."""
    before = Progress(epoch=3, batch=5, loss_sum=1.25, seen=40, seconds=9.5, history=[{"epoch": 1}, {"epoch": 2}])
    state = before.state_dict(_parts(Part({"scale": 1024.0}) if saved_with_scaler else None))
    assert state["kind"] == "last"  # what a person loading the file sees it is (best.pt says "best")
    assert state["grad_scaler"] == ({"scale": 1024.0} if saved_with_scaler else None)
    scaler = Part() if loaded_with_scaler else None
    parts, after = _parts(scaler), Progress()
    after.load_state_dict(state, parts)
    assert (after.epoch, after.batch, after.loss_sum, after.seen, after.seconds) == (3, 5, 1.25, 40, 9.5)
    assert after.history == before.history and after.history is not before.history
    assert (parts.optimizer.loaded, parts.early.loaded, parts.schedule.loaded) == ([{"o": 1}], [{"e": 2}], [{"s": 3}])
    if scaler is not None:
        assert scaler.loaded == ([{"scale": 1024.0}] if saved_with_scaler else [])


def test_every_rng_is_put_back_where_the_checkpoint_found_it():
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    np.random.standard_normal()  # numpy's cached second Gaussian is part of its state
    state = progress._get_rng_state()
    expected = (random.random(), np.random.random(), np.random.standard_normal(), torch.rand(3))
    random.random(), np.random.random(), torch.rand(5)  # the streams move on
    progress._set_rng_state(state)
    again = (random.random(), np.random.random(), np.random.standard_normal(), torch.rand(3))
    assert expected[:3] == again[:3] and torch.equal(expected[3], again[3])


@pytest.mark.parametrize("here", [0, 1, 2])  # CUDA devices on the machine that resumes
def test_each_cuda_rng_goes_back_to_its_own_device_where_that_device_is_here(monkeypatch, here):
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: here > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: here)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: calls.append((int(state[0]), device)))
    state = progress._get_rng_state() | {"cuda": [torch.tensor([10], dtype=torch.uint8), torch.tensor([11], dtype=torch.uint8)]}
    progress._set_rng_state(state)
    assert calls == [(10, 0), (11, 1)][:here]
    calls.clear()
    progress._set_rng_state({k: v for k, v in state.items() if k != "cuda"})  # saved where there was no GPU
    assert calls == []


@pytest.mark.parametrize("gpu", [True, False])
def test_the_cuda_rngs_are_saved_only_where_there_is_a_gpu(monkeypatch, gpu):
    devices = [torch.tensor([1], dtype=torch.uint8), torch.tensor([2], dtype=torch.uint8)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: devices)
    state = progress._get_rng_state()
    assert set(state) == {"python", "numpy", "torch", *(["cuda"] if gpu else [])}
    assert state.get("cuda") == (devices if gpu else None)


def test_what_a_runs_checkpoint_says_of_its_progress(tiny_data, tmp_path):
    cfg = Config.model_validate(tiny_config_dict(tiny_data, train={"epochs": 2, "threads": 1}))
    stop = threading.Event()
    first = training.train(cfg, tmp_path / "a", reporter=StopAt(stop, 15), stop=stop)  # 12 batches an epoch
    said = progress.recorded(first.run_dir)
    last = torch.load(f"{first.run_dir}/checkpoints/last.pt", weights_only=True)
    assert (said["epoch"], said["batch"], said["end"]) == (1, 3, None)
    assert said["history"] == last["history"] and [r["epoch"] for r in said["history"]] == [1]
    done = training.resume(first.run_dir)
    said = progress.recorded(done.run_dir)
    assert (said["epoch"], said["batch"], said["end"]["status"]) == (2, 0, "completed")
    assert [r["epoch"] for r in said["history"]] == [1, 2]
    # Another run's checkpoint in this folder is no record of it.
    other = training.train(cfg, tmp_path / "b")
    shutil.copy(f"{other.run_dir}/checkpoints/last.pt", f"{first.run_dir}/checkpoints/last.pt")
    run = Path(first.run_dir)
    for kept in (run / "checkpoints").glob("last.prev.pt"):
        kept.unlink()
    with pytest.raises(CheckpointError, match="another run"):
        progress.recorded(first.run_dir)
    # Before its first checkpoint a run has no record.
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").mkdir()
    assert progress.recorded(run) is None


def test_a_finished_epoch_joins_the_history_and_its_sums_start_again():
    p = Progress(epoch=1, batch=12, loss_sum=7.5, seen=192, seconds=3.25, history=[{"epoch": 1}])
    p.epoch_done({"epoch": 2, "train_loss": 0.5})
    assert (p.epoch, p.batch, p.loss_sum, p.seen, p.seconds) == (2, 0, 0.0, 0, 0.0)
    assert p.history == [{"epoch": 1}, {"epoch": 2, "train_loss": 0.5}]


@pytest.mark.parametrize("end", [None, ("completed", "4 epochs"), ("early_stopped", "no improvement in 2 epochs")])
def test_the_end_a_checkpoint_records_is_read_back_as_it_was(end):
    from rnnexp.rundir import Status

    ended = None if end is None else (Status(end[0]), end[1])
    state = Progress(epoch=4, end=ended).state_dict(_parts(None))
    assert state["end"] == (None if end is None else {"status": end[0], "reason": end[1]})
    assert progress.end_of(state) == ended and progress.end_of(None) is None
