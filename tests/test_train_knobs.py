"""Every tuning knob changes what training computes, and resumes exactly with it on."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest
import torch

from conftest import ROOT, SHARED_DATA, StopAt, tiny_config_dict
from rnnexp import training
from rnnexp.config import Config, load_config
from rnnexp.training import Reporter

KNOBS = {
    "recurrent_dropout": {"model": {"recurrent_dropout": 0.3}},
    "input_dropout": {"model": {"input_dropout": 0.3}},
    "weight_drop": {"model": {"weight_drop": 0.3}},
    "stacked_sizes": {"model": {"num_neurons": [16, 8], "dropout": 0.2}},
    "bidirectional_mean_head": {"model": {"bidirectional": True, "head": "mean"}},
    "flatten_head": {"model": {"head": "flatten"}},
    "init": {"model": {"cell": "lstm", "init": "xavier_uniform", "recurrent_init": "orthogonal", "forget_bias": 1.0}},
    "l1_l2": {"train": {"l1": 1e-4, "l2": 1e-3}},
    "clip_value": {"train": {"clip_value": 0.01}},
    "schedule_step_warmup": {"train": {"lr_schedule": {"kind": "step", "step_size": 1, "gamma": 0.5, "warmup_epochs": 1}}},
    "schedule_plateau": {"train": {"lr_schedule": {"kind": "plateau", "patience": 0, "gamma": 0.5, "monitor": "val_accuracy"}}},
    "bucket": {"data": {"bucket": True}},
    # front_aligned and the backward direction over the real tokens only, with bucketed batches
    "mask_bidirectional_bucket": {"model": {"mask": True, "bidirectional": True, "num_layers": 2}, "data": {"bucket": True}},
    "augment": {"data": {"augment": {"insert": 0.1, "delete": 0.1, "swap": 0.1}}},
    "precision_bf16": {"train": {"precision": "bf16"}},  # the GRU's scan under autocast
    "class_weight_balanced": {"train": {"class_weight": "balanced"}},
    "class_weight_mapping": {"train": {"class_weight": {"other": 3.0}}},
    # the rest of docs/how-to/tuning-knobs.md: every optimizer, weight decay, clip_norm, every schedule, a plain RNN
    "optimizer_sgd_momentum": {"train": {"optimizer": "sgd", "momentum": 0.9, "weight_decay": 1e-4}},
    "optimizer_rmsprop": {"train": {"optimizer": "rmsprop", "momentum": 0.5, "rho": 0.8, "epsilon": 1e-6}},
    "optimizer_torch_rules": {"train": {"optimizer": "rmsprop", "optimizer_defaults": "torch", "momentum": 0.5}},
    "optimizer_adamw_clip_norm": {"train": {"optimizer": "adamw", "weight_decay": 0.01, "clip_norm": 0.5}},
    "schedule_cosine": {"train": {"lr_schedule": {"kind": "cosine", "min_lr": 0.0005}}},
    "schedule_time": {"train": {"lr_schedule": {"kind": "time", "decay": 0.5}}},
    "schedule_exponential": {"train": {"lr_schedule": {"kind": "exponential", "gamma": 0.7}}},
    "rnn_max_head_torch_init": {"model": {"cell": "rnn", "head": "max", "init": "torch"}},
}


def cfg_with(tiny_data, knob: str | None = None, epochs: int = 3) -> Config:
    sections = {section: dict(values) for section, values in (KNOBS[knob] if knob else {}).items()}
    sections.setdefault("train", {})["epochs"] = epochs
    return Config.model_validate(tiny_config_dict(tiny_data, **sections))


def final(result):
    state = torch.load(f"{result.run_dir}/checkpoints/last.pt", weights_only=True)
    return state["model"], [{k: v for k, v in r.items() if k != "seconds"} for r in state["history"]]


def same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def baseline(tiny_data, tmp_path_factory):
    return final(training.train(cfg_with(tiny_data), tmp_path_factory.mktemp("base")))


@pytest.mark.parametrize("knob", sorted(KNOBS))
def test_knob_changes_training_and_resumes_exactly(knob, baseline, tiny_data, tmp_path):
    cfg = cfg_with(tiny_data, knob)
    uninterrupted = final(training.train(cfg, tmp_path / "a"))
    if knob != "stacked_sizes":  # different parameter names: trivially a different model
        assert not same(uninterrupted[0], baseline[0]), f"{knob} did not change the trained weights"
    stop = threading.Event()
    first = training.train(cfg, tmp_path / "b", reporter=StopAt(stop, 17), stop=stop)  # mid-epoch 2
    assert first.status == "interrupted"
    resumed = final(training.resume(first.run_dir))
    assert same(uninterrupted[0], resumed[0]), f"{knob}: resumed weights differ"
    assert uninterrupted[1] == resumed[1], f"{knob}: resumed metrics differ"


def test_schedule_is_recorded_in_metrics(tiny_data, tmp_path):
    result = training.train(cfg_with(tiny_data, "schedule_step_warmup"), tmp_path)
    lrs = [row["lr"] for row in final(result)[1]]
    # epoch 1 is warmup (ends at the full lr), then halving every epoch
    assert lrs == pytest.approx([0.005, 0.005, 0.0025])


def test_plateau_warning_when_loss_does_not_move(tiny_data, tmp_path):
    notes = []

    class Notes(Reporter):
        def note(self, text):
            notes.append(text)

    cfg = Config.model_validate(
        tiny_config_dict(tiny_data, train={"epochs": 3, "lr": 1e-6, "plateau_warning": 2, "early_stopping": {"enabled": False}})
    )
    result = training.train(cfg, tmp_path, reporter=Notes())
    assert len(notes) == 1 and "after 2 epochs the training loss" in notes[0] and "lr-find" in notes[0]
    assert json.loads(open(f"{result.run_dir}/summary.json").read())["warnings"] == notes
    fine = training.train(cfg_with(tiny_data), tmp_path)  # lr 0.005 learns: no warning
    assert fine.warnings == []


def test_bucketing_reports_padding_saved(tiny_data, tmp_path):
    result = training.train(cfg_with(tiny_data, "bucket", epochs=1), tmp_path)
    lengths = json.loads(open(f"{result.run_dir}/meta.json").read())["data"]["lengths"]["train"]
    assert lengths["padding_share_bucketed"] < lengths["padding_share"]


@pytest.fixture
def glove(tmp_path, tiny_data):
    """A small GloVe-format file with 16-d vectors for half of the tiny data's frequent words."""
    import numpy as np

    from rnnexp.data import Preprocessor, load_splits

    cfg = cfg_with(tiny_data)
    prep = Preprocessor.fit(load_splits(cfg.data).train, cfg.data)
    rng = np.random.default_rng(0)
    lines = [w + " " + " ".join(f"{v:.5f}" for v in rng.normal(0, 0.5, 16)) for w in prep.vocab[2::2]]
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join(lines) + "\n")
    return path, len(lines), len(prep.vocab) - 2


@pytest.mark.parametrize("freeze", [False, True])
def test_pretrained_embeddings_coverage_freeze_and_resume(glove, tiny_data, tmp_path, freeze):
    path, found, words = glove
    model = {"embedding_dims": None, "embedding": {"pretrained": str(path), "freeze": freeze}}
    cfg = Config.model_validate(tiny_config_dict(tiny_data, model=model, train={"epochs": 3}))
    result = training.train(cfg, tmp_path / "a")
    meta = json.loads(open(f"{result.run_dir}/meta.json").read())
    assert meta["model"]["pretrained"]["found"] == found
    assert meta["model"]["pretrained"]["coverage"] == pytest.approx(found / words, abs=1e-4)
    assert "embedding_dims: 16" in open(f"{result.run_dir}/config.yaml").read()  # taken from the file
    trained = torch.load(f"{result.run_dir}/checkpoints/last.pt", weights_only=True)["model"]["embedding.weight"]
    first_vector = torch.tensor([float(v) for v in path.read_text().split("\n")[0].split()[1:]])
    assert torch.equal(trained[2], first_vector) == freeze  # frozen: unchanged; trained: moved
    stop = threading.Event()
    first = training.train(cfg, tmp_path / "b", reporter=StopAt(stop, 17), stop=stop)
    resumed = final(training.resume(first.run_dir))
    assert same(final(result)[0], resumed[0])
    # stopped before its first checkpoint: resume starts over, and must load the vectors again
    stop = threading.Event()
    early = training.train(cfg, tmp_path / "c", reporter=StopAt(stop, 3), stop=stop)
    for name in ("last.pt", "last.prev.pt"):
        (tmp_path / "c" / Path(early.run_dir).name / "checkpoints" / name).unlink(missing_ok=True)
    assert same(final(result)[0], final(training.resume(early.run_dir))[0])


def test_pretrained_dimension_mismatch_is_a_data_error(glove, tiny_data, tmp_path):
    from rnnexp.errors import DataError

    model = {"embedding_dims": 8, "embedding": {"pretrained": str(glove[0])}}
    cfg = Config.model_validate(tiny_config_dict(tiny_data, model=model))
    with pytest.raises(DataError, match="embedding_dims"):
        training.train(cfg, tmp_path / "runs")
    assert not (tmp_path / "runs").exists()  # fails before making a run folder


@pytest.mark.parametrize("max_lr", [1.0, 1e4])  # 1e4: the loss explodes and the test stops early
def test_lr_find_result(tiny_data, max_lr):
    """The range test's figures, recomputed by hand from the raw losses it recorded: the lr schedule,
    the bias-corrected moving average (beta 0.98), the lr at its lowest point, and where it stopped."""
    steps, min_lr = 60, 1e-5
    result = training.lr_find(cfg_with(tiny_data), steps=steps, min_lr=min_lr, max_lr=max_lr)
    n = result["steps_run"]
    assert len(result["lrs"]) == len(result["losses"]) == len(result["smoothed"]) == n <= steps
    assert result["lrs"] == pytest.approx([min_lr * (max_lr / min_lr) ** (i / (steps - 1)) for i in range(n)])
    smoothed, average = [], 0.0
    for i, loss in enumerate(result["losses"]):
        average = 0.98 * average + 0.02 * loss
        smoothed.append(average / (1 - 0.98 ** (i + 1)))
    assert result["smoothed"] == pytest.approx(smoothed)
    lowest = min(range(n), key=smoothed.__getitem__)
    assert result["min_loss_lr"] == pytest.approx(result["lrs"][lowest]) and 0 < lowest < n - 1
    assert result["suggested_lr"] == pytest.approx(result["lrs"][lowest] / 10)
    for i in range(11, n - 1):  # it went on only while the smoothed loss stayed within 4x of its best
        assert smoothed[i] <= 4 * min(smoothed[: i + 1])
    if max_lr == 1e4:  # stopped early: the smoothed loss passed 4x its best
        assert n < steps and smoothed[-1] > 4 * min(smoothed)
    else:
        assert n == steps


@pytest.mark.skipif(not (SHARED_DATA / "uci-sentiment").is_dir(), reason="../shared/data/uci-sentiment not present")
def test_tutorial_gru_plateau_warns_and_lr_find_cures_it(tmp_path, monkeypatch):
    """The seed tutorial's GRU on uci-sentiment: lr 1e-4 plateaus; lr-find's suggestion trains."""
    monkeypatch.setenv("RNNEXP_DATA_DIR", str(SHARED_DATA))
    cfg = load_config(ROOT / "configs" / "uci_gru_plateau.yaml", ["train.epochs=3"])
    slow = training.train(cfg, tmp_path)
    assert slow.warnings and "has not started learning" in slow.warnings[0]
    found = training.lr_find(cfg, steps=150)
    assert 1e-3 <= found["suggested_lr"] <= 1e-1
    fast = training.train(load_config(ROOT / "configs" / "uci_gru_plateau.yaml", [f"train.lr={found['suggested_lr']}"]), tmp_path)
    assert fast.warnings == []
    assert fast.last["train_loss"] < 0.5 * slow.last["train_loss"] and fast.last["val_accuracy"] > 0.7


@pytest.mark.parametrize(
    "model",
    [
        {"cell": "gru"},  # rnnexp's scan on CPU
        {"cell": "lstm", "bidirectional": True, "mask": True},  # nn.LSTM, and the backward direction over real tokens
        {"cell": "lstm", "recurrent_dropout": 0.2},  # the LSTM's scan
        {"cell": "rnn", "num_neurons": [16, 8]},  # stacked layers of their own sizes
    ],
)
def test_a_bf16_run_trains_records_its_numerics_and_evaluates(model, tiny_data, tmp_path):
    from rnnexp.scoring import evaluate

    sections = {"model": model, "train": {"precision": "bf16"}}
    result = training.train(Config.model_validate(tiny_config_dict(tiny_data, **sections)), tmp_path / "bf16")
    assert result.status == "completed"
    state = torch.load(f"{result.run_dir}/checkpoints/last.pt", weights_only=True)
    losses = [row["train_loss"] for row in state["history"]]
    assert losses[-1] < 0.9 * losses[0], losses  # it learns
    assert all(w.dtype == torch.float32 for w in state["model"].values() if w.is_floating_point())  # weights stay fp32
    assert state["grad_scaler"] is None  # bf16 needs no loss scaling
    numerics = json.loads(Path(result.run_dir, "meta.json").read_text())["numerics"]
    assert (numerics["precision"], numerics["autocast"], numerics["grad_scaler"]) == ("bf16", "bfloat16", False)
    report = evaluate(result.run_dir)
    assert report["device"] == "cpu" and 0.0 <= report["accuracy"] <= 1.0 and math.isfinite(report["loss"])


def _val_file(tiny_data, folder: Path, keep) -> Path:
    """A validation file of the tiny test reviews whose label ``keep`` accepts."""
    import csv

    with open(tiny_data["test"], newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if keep(r["label"])]
    path = folder / "val.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_balanced_class_weights_come_from_the_training_split_and_raise_minority_recall(tiny_data, tmp_path):
    """amazon-food is 2:1 great/other; the validation file here is mostly 'other', which must not
    move the weights. Weighted, the model finds more of the minority class (the positive one)."""
    from rnnexp.scoring import evaluate
    from rnnexp.tasks import TextTask

    val = _val_file(tiny_data, tmp_path, lambda label, seen=[]: label == "other" or seen.append(1) or len(seen) <= 5)
    runs, rows = {}, {}
    for weight in ("none", "balanced"):
        cfg = Config.model_validate(tiny_config_dict(tiny_data, data={"val_file": str(val)}, train={"class_weight": weight}))
        result = training.train(cfg, tmp_path / weight)
        runs[weight], rows[weight] = result.run_dir, final(result)[1]
    meta = json.loads(Path(runs["balanced"], "meta.json").read_text())["data"]
    train, held = meta["class_counts"]["train"], meta["class_counts"]["val"]
    assert held["other"] > held["great"] and train["great"] > train["other"]
    n = sum(train.values())
    assert meta["class_weights"] == pytest.approx({label: n / (2 * c) for label, c in train.items()})
    assert "class_weights" not in json.loads(Path(runs["none"], "meta.json").read_text())["data"]
    assert any(line.startswith("class weights (train.class_weight") for line in TextTask.describe(meta))
    assert rows["none"][0]["train_loss"] != rows["balanced"][0]["train_loss"]
    recall = {w: evaluate(run, split="val")["recall"] for w, run in runs.items()}
    assert recall["balanced"] > recall["none"], recall


@pytest.mark.parametrize("monitor", ["val_roc_auc", "val_pr_auc", "val_balanced_accuracy"])
def test_early_stopping_on_a_new_metric_keeps_its_highest_epoch(monitor, tiny_data, tmp_path):
    es = {"enabled": True, "monitor": monitor, "patience": 1}
    cfg = Config.model_validate(tiny_config_dict(tiny_data, train={"epochs": 5, "lr": 0.02, "early_stopping": es}))
    result = training.train(cfg, tmp_path)
    values = [row[monitor] for row in final(result)[1]]
    assert result.best_epoch == 1 + values.index(max(values)) and result.best_score == max(values)
    assert all(0.0 <= v <= 1.0 for v in values)


def test_a_ranking_monitor_on_a_validation_split_of_one_class_is_refused(tiny_data, tmp_path):
    from rnnexp.errors import ConfigError

    val = _val_file(tiny_data, tmp_path, lambda label: label == "great")
    for key in ("early_stopping", "lr_schedule"):
        section = {"monitor": "val_roc_auc", **({"kind": "plateau"} if key == "lr_schedule" else {})}
        cfg = Config.model_validate(tiny_config_dict(tiny_data, data={"val_file": str(val)}, train={key: section}))
        with pytest.raises(ConfigError, match=f"train.{key}.monitor is val_roc_auc, but every validation example is of one"):
            training.train(cfg, tmp_path)
    # monitored elsewhere, the run trains and its undefined scores are empty, never NaN
    cfg = Config.model_validate(tiny_config_dict(tiny_data, data={"val_file": str(val)}, train={"epochs": 1}))
    row = final(training.train(cfg, tmp_path))[1][0]
    assert row["val_roc_auc"] is None and row["val_pr_auc"] is None and row["val_accuracy"] is not None
