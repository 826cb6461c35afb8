"""The text task's scoring: a split's inputs padded chunk by chunk as predict takes them, the same
logits as padding the split whole, in memory that does not grow with the split."""

from __future__ import annotations

import csv
import tracemalloc

import numpy as np
import pytest
import torch

from conftest import tiny_config_dict
from rnnexp.config import Config
from rnnexp.model import build_model, predict_logits
from rnnexp.tasks import TextTask
from rnnexp.tasks.text import PaddedRows


def _reviews(path, n: int, seed: int = 0) -> None:
    """``n`` texts of 1 to 400 words from a small vocabulary, two labels that depend on a word."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(300)]
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["text", "label"])
        for _ in range(n):
            text = rng.choice(words, size=int(rng.integers(1, 400)))
            out.writerow([" ".join(text), "pos" if "w7" in text else "neg"])


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    path = tmp_path_factory.mktemp("reviews") / "reviews.csv"
    _reviews(path, 1200)
    return path


@pytest.mark.parametrize("padding,truncating,bucket", [("pre", "pre", False), ("post", "post", True), ("pre", "post", True)])
def test_scoring_in_chunks_gives_the_logits_of_the_whole_split(reviews, bucket, padding, truncating):
    data = {"maxlen": 250, "bucket": bucket, "padding": padding, "truncating": truncating, "val_split": 0.3}
    cfg = Config.model_validate(tiny_config_dict({"train": reviews, "test": reviews}, data=data))
    task = TextTask.create(cfg, torch.device("cpu"))
    torch.manual_seed(0)
    model = build_model(cfg.model, task.input_spec, task.output_size)
    for table in (task.splits.val, task.splits.test):
        rows, y = task.tensors(table)
        assert isinstance(rows, PaddedRows) and len(rows) == len(table) == len(y)
        whole = torch.from_numpy(task.prep.encode_table(table))  # the rule: padding.pad over the split
        assert torch.equal(rows[:], whole)
        assert torch.equal(rows[torch.tensor([5, 0, len(table) - 1])], whole[[5, 0, len(table) - 1]])
        assert torch.equal(rows.lengths, (whole != 0).sum(1))  # ids are never 0
        expected = predict_logits(model, whole, padding=padding if bucket else None)
        assert torch.equal(task.predict(model, rows), expected)
    metrics = task.validate(model)
    assert metrics["val_loss"] > 0 and 0 <= metrics["val_accuracy"] <= 1


def _scoring_peak(task, model, table) -> int:
    """The most memory numpy holds at once while the task makes a table its ``val`` and scores it."""
    tracemalloc.start()  # numpy's allocations are traced; the model's tensors are torch's, and are not
    try:
        task.val = task.tensors(table)
        task.validate(model)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_scoring_memory_does_not_grow_with_the_split(tmp_path):
    path = tmp_path / "reviews.csv"
    _reviews(path, 8000, seed=1)
    cfg = Config.model_validate(tiny_config_dict({"train": path, "test": path}, data={"maxlen": 400, "val_split": 0.1}))
    task = TextTask.create(cfg, torch.device("cpu"))
    model = build_model(cfg.model, task.input_spec, task.output_size)
    task.validate(model)  # once before: the metrics' imports are not the split's memory
    small = _scoring_peak(task, model, task.splits.val)  # 800 texts
    large = _scoring_peak(task, model, task.splits.train)  # 7,200 texts
    whole = len(task.splits.train) * 400 * 8  # those padded whole, as int64
    assert large < 1.5 * small and large < whole / 4, (small, large, whole)
