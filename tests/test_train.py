"""Training recipe in-process: run folder contents, early stopping, interrupt/resume, extension."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import StopAt, tiny_config_dict
from rnnexp import training
from rnnexp.config import Config
from rnnexp.errors import DivergedError, RunDirError


def make_cfg(tiny_data, **sections) -> Config:
    return Config.model_validate(tiny_config_dict(tiny_data, **sections))


def weights(run_dir, which="last"):
    return torch.load(f"{run_dir}/checkpoints/{which}.pt", weights_only=True)["model"]


def same_weights(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def metrics(run_dir) -> list[dict]:
    with open(f"{run_dir}/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r.pop("seconds")
    return rows


@pytest.fixture(scope="module")
def reference(tiny_data, tmp_path_factory):
    cfg = make_cfg(tiny_data)
    result = training.train(cfg, tmp_path_factory.mktemp("ref"))
    return cfg, result


def test_run_folder_contents(reference):
    cfg, result = reference
    run = result.run_dir
    names = {p.name for p in __import__("pathlib").Path(run).iterdir()}
    assert {"config.yaml", "meta.json", "preprocessing.json", "metrics.csv", "summary.json", "checkpoints"} <= names
    assert result.status == "completed" and result.epochs_run == 3
    rows = metrics(run)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert all(r["val_loss"] and r["val_accuracy"] and r["lr"] == "0.005" for r in rows)
    meta = json.loads(open(f"{run}/meta.json").read())
    for key in ("argv", "rnnexp", "torch", "python", "device", "seed", "git", "hostname", "started_at"):
        assert key in meta
    assert meta["data"]["class_counts"]["train"] and meta["data"]["lengths"]["train"]["examples"] == 192
    summary = json.loads(open(f"{run}/summary.json").read())
    assert summary["status"] == "completed" and summary["best_epoch"] in (1, 2, 3)
    best = torch.load(f"{run}/checkpoints/best.pt", weights_only=True)
    assert best["epoch"] == summary["best_epoch"] and best["monitor"] == "val_loss"
    # the checkpoint alone rebuilds the model
    from rnnexp.model import model_from_checkpoint

    model_from_checkpoint(best)


def test_vocabulary_is_fitted_on_training_split_only(reference, tiny_data):
    _, result = reference
    vocab = set(json.loads(open(f"{result.run_dir}/preprocessing.json").read())["vocab"])
    from rnnexp.data import load_splits, tokenize

    splits = load_splits(reference[0].data)
    train_words = {w for t in splits.train.texts for w in tokenize(t)}
    assert vocab - {"<pad>", "<oov>"} <= train_words


def test_same_seed_same_run_different_seed_different_weights(reference, tiny_data, tmp_path):
    cfg, ref = reference
    again = training.train(cfg, tmp_path)
    assert same_weights(weights(ref.run_dir), weights(again.run_dir))
    other = training.train(make_cfg(tiny_data, train={"seed": 8}), tmp_path)
    assert not same_weights(weights(ref.run_dir), weights(other.run_dir))


@pytest.mark.parametrize("stop_after", [5, 12, 20])  # mid-epoch 1, end of epoch 1 (12 batches), mid-epoch 2
def test_interrupt_then_resume_equals_uninterrupted(reference, tmp_path, stop_after):
    cfg, ref = reference
    stop = threading.Event()
    first = training.train(cfg, tmp_path, reporter=StopAt(stop, stop_after), stop=stop)
    assert first.status == "interrupted"
    state = torch.load(f"{first.run_dir}/checkpoints/last.pt", weights_only=True)
    assert (state["epoch"], state["batch"]) == divmod(stop_after, 12)
    result = training.resume(first.run_dir)
    assert result.status == "completed"
    assert same_weights(weights(ref.run_dir), weights(result.run_dir))
    assert metrics(ref.run_dir) == metrics(result.run_dir)


def test_a_run_started_by_an_older_version_resumes(reference, tmp_path):
    """config.yaml and meta.json written before keys were added (data.encoding, model.embedding_init)
    and with older spellings (model.init: default): the run resumes, read through today's schema."""
    import yaml

    cfg, ref = reference
    torch_cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"init": "torch"})})
    stop = threading.Event()
    first = training.train(torch_cfg, tmp_path, reporter=StopAt(stop, 5), stop=stop)
    run = Path(first.run_dir)

    def older(config: dict) -> dict:
        config["data"].pop("encoding")
        config["model"].pop("embedding_init")
        config["model"].update(init="default", recurrent_init="default")
        return config

    (run / "config.yaml").write_text(yaml.safe_dump(older(yaml.safe_load((run / "config.yaml").read_text())), sort_keys=False))
    meta = json.loads((run / "meta.json").read_text())
    meta["config"] = older(meta["config"])
    (run / "meta.json").write_text(json.dumps(meta))
    from rnnexp import checkpoint

    last = run / "checkpoints" / "last.pt"
    state = checkpoint.load(last)
    state["config"] = older(state["config"])
    checkpoint.save(state, last)
    assert training.resume(run).status == "completed"


def test_resume_of_finished_run_is_refused_but_can_be_extended(reference, tiny_data, tmp_path):
    cfg, _ = reference
    short = training.train(make_cfg(tiny_data, train={"epochs": 2}), tmp_path)
    with pytest.raises(RunDirError, match="already finished .* --epochs N"):
        training.resume(short.run_dir)
    with pytest.raises(RunDirError, match="larger total"):
        training.resume(short.run_dir, epochs=2)
    extended = training.resume(short.run_dir, epochs=3)
    assert extended.status == "completed" and extended.epochs_run == 3
    # 2 epochs + extension to 3 is exactly a 3-epoch run (no schedule depends on the total)
    assert same_weights(weights(reference[1].run_dir), weights(extended.run_dir))
    assert "epochs: 3" in open(f"{extended.run_dir}/config.yaml").read()


def test_a_one_epoch_run_says_1_epoch_wherever_it_counts(tiny_data, tmp_path):
    """Counts in a run's messages agree with their number (errors.counted): its stop reason, the
    refusal to resume it, and the note evaluate adds are about "1 epoch", not "1 epochs"."""
    one = training.train(make_cfg(tiny_data, train={"epochs": 1}), tmp_path)
    assert one.stop_reason == "trained all 1 epoch", one.stop_reason
    with pytest.raises(RunDirError, match=r"run already finished \(completed after 1 epoch\)"):
        training.resume(one.run_dir)
    with pytest.raises(RunDirError, match="already trained 1 epoch; give a larger total"):
        training.resume(one.run_dir, epochs=1)


def test_early_stopping_stops_and_extension_gets_fresh_patience(tiny_data, tmp_path):
    es = {"enabled": True, "monitor": "val_loss", "patience": 1, "min_delta": 100.0}
    cfg = make_cfg(tiny_data, train={"epochs": 6, "early_stopping": es})
    result = training.train(cfg, tmp_path)
    # with min_delta 100 only the first epoch counts as an improvement; patience 1 -> stop after epoch 2
    assert (result.status, result.epochs_run, result.best_epoch) == ("early_stopped", 2, 1)
    assert "patience 1" in result.stop_reason
    extended = training.resume(result.run_dir, epochs=8)
    assert extended.status == "early_stopped" and extended.epochs_run == 3


def test_each_epochs_train_loss_is_the_mean_of_its_own_batches(tiny_data, tmp_path):
    """metrics.csv's train_loss is the epoch's batch losses averaged over its examples (here 12
    batches of 16): the running sums start again at every epoch."""
    from rnnexp.training.events import Reporter

    class Losses(Reporter):
        def __init__(self):
            self.epochs = [[]]

        def batch_end(self, loss: float) -> None:
            self.epochs[-1].append(loss)

        def epoch_end(self, row, improved) -> None:
            self.epochs.append([])

    losses = Losses()
    result = training.train(make_cfg(tiny_data), tmp_path, reporter=losses)
    rows = metrics(result.run_dir)
    assert [len(e) for e in losses.epochs[:-1]] == [12, 12, 12]
    assert [float(r["train_loss"]) for r in rows] == pytest.approx([sum(e) / len(e) for e in losses.epochs[:-1]], rel=1e-6)


def test_resume_refuses_changed_training_data(tiny_data, tmp_path):
    import shutil

    data = tmp_path / "train.csv"
    shutil.copy(tiny_data["train"], data)
    cfg = make_cfg(tiny_data, data={"train_file": str(data)})
    stop = threading.Event()
    first = training.train(cfg, tmp_path / "runs", reporter=StopAt(stop, 3), stop=stop)
    with open(data, "a") as f:
        f.write("an extra review,great\n")
    with pytest.raises(RunDirError, match="training data differs"):
        training.resume(first.run_dir)


@pytest.mark.parametrize("lost", ["fingerprints", "data"])
def test_a_run_whose_meta_json_records_no_training_data_is_refused(reference, tmp_path, lost):
    """A meta.json without the data's fingerprint (hand-edited, or from before fingerprints) cannot
    show the data is the same: the resume refuses in one line, as for changed data."""
    cfg, _ = reference
    stop = threading.Event()
    first = training.train(cfg, tmp_path, reporter=StopAt(stop, 3), stop=stop)
    meta_path = Path(first.run_dir) / "meta.json"
    meta = json.loads(meta_path.read_text())
    del (meta["data"] if lost == "fingerprints" else meta)[lost]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(RunDirError, match="training data differs"):
        training.resume(first.run_dir)


def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start_with_its_own_settings(reference, tmp_path):
    """Without a checkpoint the settings a run started with are meta.json's: config.yaml edited since
    is refused, naming the key; unedited, the run trains from its first batch and ends as one never
    stopped."""
    from conftest import assert_same_run

    cfg, ref = reference
    stop = threading.Event()
    first = training.train(cfg, tmp_path, reporter=StopAt(stop, 3), stop=stop)
    run = Path(first.run_dir)
    for written in (run / "checkpoints").iterdir():  # as if killed before last.pt was first written
        written.unlink()
    config_yaml = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(config_yaml.replace("lr: 0.005", "lr: 0.004"))
    with pytest.raises(RunDirError, match=r"changed since the run started: train\.lr \(0\.005 -> 0\.004\)"):
        training.resume(run)
    (run / "config.yaml").write_text(config_yaml)
    assert training.resume(run).status == "completed"
    assert_same_run(Path(ref.run_dir), run)


def test_divergence_is_reported_with_epoch_and_batch(tiny_data, tmp_path, monkeypatch):
    import torch.nn.functional as F

    real_loss, calls = F.cross_entropy, []

    def loss_that_blows_up(logits, target, **kwargs):  # the 15th training batch (epoch 2, batch 3) turns NaN
        calls.append(1)
        loss = real_loss(logits, target, **kwargs)
        return loss * float("nan") if len(calls) == 15 + 1 else loss  # +1: epoch 1's validation call

    monkeypatch.setattr(F, "cross_entropy", loss_that_blows_up)
    with pytest.raises(DivergedError, match=r"not finite \(nan\) at epoch 2, batch 3; lower train.lr .* epoch 1 is intact"):
        training.train(make_cfg(tiny_data), tmp_path)
    (run,) = list(tmp_path.iterdir())
    assert json.loads((run / "summary.json").read_text())["status"] == "diverged"
    # The run stays resumable from its last good checkpoint (here with the loss fixed).
    monkeypatch.undo()
    resumed = training.resume(run)
    assert resumed.status == "completed" and resumed.epochs_run == 3
    assert [int(r["epoch"]) for r in metrics(run)] == [1, 2, 3]


# Pairs of train sections that differ in one key (or the optimizer): each key must change what is
# trained. A key an optimizer ignored, or a loss left at its default, would leave the weights equal.
ONE_KEY_APART = {
    "optimizer adam -> sgd": ({"optimizer": "adam"}, {"optimizer": "sgd"}),
    "optimizer adam -> rmsprop": ({"optimizer": "adam"}, {"optimizer": "rmsprop"}),
    "optimizer adam -> adamw (decoupled decay)": (
        {"optimizer": "adam", "weight_decay": 0.05},
        {"optimizer": "adamw", "weight_decay": 0.05},
    ),
    "sgd momentum": ({"optimizer": "sgd"}, {"optimizer": "sgd", "momentum": 0.9}),
    "rmsprop momentum": ({"optimizer": "rmsprop"}, {"optimizer": "rmsprop", "momentum": 0.5}),
    "adam weight_decay": ({"optimizer": "adam"}, {"optimizer": "adam", "weight_decay": 0.05}),
    "sgd weight_decay": ({"optimizer": "sgd"}, {"optimizer": "sgd", "weight_decay": 0.05}),
    "rmsprop weight_decay": ({"optimizer": "rmsprop"}, {"optimizer": "rmsprop", "weight_decay": 0.05}),
    "rmsprop optimizer_defaults": ({"optimizer": "rmsprop"}, {"optimizer": "rmsprop", "optimizer_defaults": "torch"}),
    "adam optimizer_defaults": ({"optimizer": "adam"}, {"optimizer": "adam", "optimizer_defaults": "torch"}),
    "adamw optimizer_defaults": ({"optimizer": "adamw"}, {"optimizer": "adamw", "optimizer_defaults": "torch"}),
    "rmsprop rho (keras)": ({"optimizer": "rmsprop"}, {"optimizer": "rmsprop", "rho": 0.5}),
    "rmsprop rho (torch)": (
        {"optimizer": "rmsprop", "optimizer_defaults": "torch"},
        {"optimizer": "rmsprop", "optimizer_defaults": "torch", "rho": 0.5},
    ),
    "rmsprop epsilon (keras)": ({"optimizer": "rmsprop"}, {"optimizer": "rmsprop", "epsilon": 0.01}),
    "rmsprop epsilon (torch)": (
        {"optimizer": "rmsprop", "optimizer_defaults": "torch"},
        {"optimizer": "rmsprop", "optimizer_defaults": "torch", "epsilon": 0.01},
    ),
    "adam epsilon (keras)": ({"optimizer": "adam"}, {"optimizer": "adam", "epsilon": 0.01}),
    "adam epsilon (torch)": (
        {"optimizer": "adam", "optimizer_defaults": "torch"},
        {"optimizer": "adam", "optimizer_defaults": "torch", "epsilon": 0.01},
    ),
    "adamw epsilon": ({"optimizer": "adamw"}, {"optimizer": "adamw", "epsilon": 0.01}),
    "clip_norm": ({"optimizer": "sgd", "lr": 0.5}, {"optimizer": "sgd", "lr": 0.5, "clip_norm": 0.01}),
    "clip_value": ({"optimizer": "sgd", "lr": 0.5}, {"optimizer": "sgd", "lr": 0.5, "clip_value": 0.001}),
}


@pytest.mark.parametrize("change", sorted(ONE_KEY_APART))
def test_each_optimizer_key_changes_training(tiny_data, tmp_path, change):
    before, after = ONE_KEY_APART[change]
    runs = [
        training.train(make_cfg(tiny_data, train={"epochs": 1, **t}), tmp_path / str(i)) for i, t in enumerate((before, after))
    ]
    assert all(r.status == "completed" for r in runs)
    assert not same_weights(weights(runs[0].run_dir), weights(runs[1].run_dir)), f"{change} did not change the trained weights"


def _series_config(tmp_path, loss: str) -> Config:
    path = tmp_path / "series.csv"
    if not path.exists():
        rng = np.random.default_rng(0)
        t = np.arange(240)
        values = np.sin(t / 6) * 3 + rng.normal(0, 0.4, t.size) + np.where(rng.random(t.size) < 0.05, 6, 0)  # some outliers
        path.write_text("y\n" + "\n".join(f"{v:.4f}" for v in values) + "\n")
    return Config.model_validate(
        {
            "name": f"loss-{loss}",
            "data": {
                "task": "forecasting",
                "train_file": str(path),
                "target": "y",
                "lookback": 8,
                "val_split": 0.2,
                "test_split": 0.1,
            },
            "model": {"cell": "gru", "num_neurons": 8},
            # sgd: Adam's update is almost blind to a loss's scale (huber is half the mse on small errors)
            "train": {"epochs": 2, "batch_size": 16, "optimizer": "sgd", "lr": 0.05, "loss": loss, "baselines": False},
        }
    )


def test_each_forecasting_loss_trains_on_its_own_loss(tmp_path):
    """train.loss mse, mae and huber each train other weights, and each run's val_loss is its own
    loss: on the normalized target, mse is (val_rmse / scale)**2 and mae is val_mae / scale, where
    val_rmse and val_mae are in the target's units and scale is the scaler's (preprocessing.json)."""
    runs = {loss: training.train(_series_config(tmp_path, loss), tmp_path / loss).run_dir for loss in ("mse", "mae", "huber")}
    trained = {loss: weights(run) for loss, run in runs.items()}
    assert not same_weights(trained["mse"], trained["mae"]) and not same_weights(trained["mse"], trained["huber"])
    assert not same_weights(trained["mae"], trained["huber"])
    for loss in ("mse", "mae"):
        (scale,) = json.loads((Path(runs[loss]) / "preprocessing.json").read_text())["scaler"]["scale"]
        for row in metrics(runs[loss]):
            expected = (float(row["val_rmse"]) / scale) ** 2 if loss == "mse" else float(row["val_mae"]) / scale
            assert float(row["val_loss"]) == pytest.approx(expected, rel=1e-4), (loss, row)


def test_dry_run_builds_everything_without_a_folder(tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = training.dry_run(make_cfg(tiny_data))
    assert plan["parameters"] > 0 and plan["data"]["vocab_size"] > 2
    assert list(tmp_path.iterdir()) == []


def test_tensorboard_scalars_match_metrics_and_survive_a_resume(tiny_data, tmp_path):
    pytest.importorskip("tensorboard", reason="needs the tensorboard extra (make install)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = make_cfg(tiny_data, train={"tensorboard": True, "epochs": 3})
    stop = threading.Event()
    first = training.train(cfg, tmp_path, reporter=StopAt(stop, 20), stop=stop)  # stops in epoch 2
    assert first.status == "interrupted"
    training.resume(first.run_dir)
    events = EventAccumulator(f"{first.run_dir}/tensorboard")
    events.Reload()
    rows = metrics(first.run_dir)
    for key in ("train_loss", "val_loss", "val_accuracy", "lr"):
        scalars = events.Scalars(key)
        assert [s.step for s in scalars] == [1, 2, 3], key  # no epoch twice after the resume
        assert [s.value for s in scalars] == pytest.approx([float(r[key]) for r in rows], rel=1e-6)


def test_tensorboard_missing_is_a_config_error(tiny_data, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    from rnnexp.errors import ConfigError

    with pytest.raises(ConfigError, match=r"train.tensorboard is true but the tensorboard package is not installed: pip install"):
        training.train(make_cfg(tiny_data, train={"tensorboard": True}), tmp_path)
    assert not list(tmp_path.iterdir())  # found out before any run folder was made


# -- a resume decides from the checkpoint, checks everything first, then writes ----------------------


def _snapshot(folder) -> dict:
    from pathlib import Path

    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def _stopped_run(tiny_data, tmp_path, data_file=None):
    import shutil

    tmp_path.mkdir(parents=True, exist_ok=True)
    data = tmp_path / "train.csv"
    shutil.copy(data_file or tiny_data["train"], data)
    stop = threading.Event()
    run = training.train(
        make_cfg(tiny_data, data={"train_file": str(data)}), tmp_path / "runs", reporter=StopAt(stop, 14), stop=stop
    )
    assert run.status == "interrupted" and run.epochs_run == 1
    return run.run_dir, data


@pytest.mark.parametrize(
    "spoil, expected",
    [
        ("data", "training data differs"),
        ("config:train.lr", r"changed since the run started: train.lr \(0.005 -> 0.5\)"),
        ("config:model.num_neurons", r"model.num_neurons \(16 -> 32\)"),
        ("checkpoint", "checksum mismatch"),
        ("foreign", "belongs to another run"),
        ("epochs", "already trained 1 epoch;"),
    ],
)
def test_a_refused_resume_writes_nothing(tiny_data, tmp_path, spoil, expected):
    """Every reason to refuse is found before the first write: the folder is byte for byte as it was
    (resume --epochs used to rewrite config.yaml before finding the data changed)."""
    import yaml

    from rnnexp.errors import CheckpointError

    run, data = _stopped_run(tiny_data, tmp_path)
    epochs = 5
    if spoil == "data":
        with open(data, "a") as f:
            f.write("an extra review,great\n")
    elif spoil.startswith("config:"):
        key = spoil.split(":")[1]
        raw = yaml.safe_load(open(f"{run}/config.yaml"))
        section, name = key.split(".")
        raw[section][name] = {"train.lr": 0.5, "model.num_neurons": 32}[key]
        open(f"{run}/config.yaml", "w").write(yaml.safe_dump(raw))
    elif spoil == "checkpoint":
        import os

        for name in ("last.pt", "last.prev.pt"):
            path = f"{run}/checkpoints/{name}"
            if os.path.exists(path):
                data_ = bytearray(open(path, "rb").read())
                data_[len(data_) // 3] ^= 0x10
                open(path, "wb").write(bytes(data_))
    elif spoil == "foreign":
        other, _ = _stopped_run(tiny_data, tmp_path / "other")
        import shutil

        shutil.copy(f"{other}/checkpoints/last.pt", f"{run}/checkpoints/last.pt")
        shutil.copy(f"{other}/checkpoints/last.pt", f"{run}/checkpoints/last.prev.pt")
    elif spoil == "epochs":
        epochs = 1
    before = _snapshot(run)
    with pytest.raises((RunDirError, CheckpointError), match=expected) as info:
        training.resume(run, epochs=epochs)
    assert "\n" not in str(info.value)
    if spoil.startswith("config:"):
        assert f"start a new run: rnnexp train {run}/config.yaml" in str(info.value)
    after = _snapshot(run)
    after.pop(".lock", None), before.pop(".lock", None)
    assert after == before


def test_a_run_killed_between_its_last_checkpoint_and_its_summary_finishes_without_training(tiny_data, tmp_path):
    """The early-stopping decision is in last.pt: with summary.json and metrics.csv as a kill right
    after the checkpoint leaves them, resume trains nothing and writes what the run would have."""
    import json

    es = {"enabled": True, "monitor": "val_loss", "patience": 1, "min_delta": 100.0}
    done = training.train(make_cfg(tiny_data, train={"epochs": 6, "early_stopping": es}), tmp_path)
    assert (done.status, done.epochs_run) == ("early_stopped", 2)
    run = done.run_dir
    final = _snapshot(run)
    summary = json.loads(open(f"{run}/summary.json").read())
    open(f"{run}/summary.json", "w").write(json.dumps({**summary, "status": "running"}))
    lines = open(f"{run}/metrics.csv").read().splitlines(keepends=True)
    open(f"{run}/metrics.csv", "w").write("".join(lines[:-1]))  # the last row not yet written
    again = training.resume(run)
    assert (again.status, again.epochs_run, again.best_epoch) == ("early_stopped", 2, 1)
    assert len(metrics(run)) == 2
    after = _snapshot(run)
    for name in ("checkpoints/last.pt", "checkpoints/best.pt", "metrics.csv"):
        assert after[name] == final[name], name  # nothing trained: the same checkpoint, the same rows
    with pytest.raises(RunDirError, match="already finished"):  # and now it is finished for good
        training.resume(run)
    assert training.recorded(run)["end"]["status"] == "early_stopped"


def test_a_full_disk_met_by_a_librarys_write_is_a_storage_error_that_names_resume(tiny_data, tmp_path):
    """TensorBoard or matplotlib meeting a full disk raise a plain OSError: the run still ends as a
    full disk does, exit 1 with the command that continues, and its summary says so."""
    import errno
    import json

    from rnnexp.errors import StorageError
    from rnnexp.training import Reporter

    class FullDiskAtEpoch2(Reporter):
        def epoch_end(self, row, improved):
            if row["epoch"] == 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "events.out"))

    with pytest.raises(StorageError) as info:
        training.train(make_cfg(tiny_data), tmp_path / "runs", reporter=FullDiskAtEpoch2())
    (run,) = (tmp_path / "runs").iterdir()
    assert info.value.exit_code == 1
    assert (
        str(info.value)
        == f"{tmp_path / 'events.out'}: cannot write (No space left on device). Free disk space, then rnnexp resume {run}"
    )
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    assert training.resume(run).status == "completed"
