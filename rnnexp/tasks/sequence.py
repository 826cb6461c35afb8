"""Sequence classification: whole multichannel numeric sequences, each with a label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import baselines
from ..config import Config
from ..data.padding import kept_part
from ..data.prepared import load_sequence_sets, sequences_of
from ..data.preprocess import _label_sort_key, positive_index
from ..data.series import Scaler, SequenceSet, pad_sequences, read_sequences
from ..data.tables import split_three
from ..devices import data_home
from ..errors import DataError, RunDirError
from ..model import check_memory, predict_logits
from .classify import Classifier, prediction_rows, prior_entropy, split_sizes, weights_line
from .common import WholeTensors


class SequenceTask(Classifier, WholeTensors):
    """Label whole multichannel numeric sequences (variable length: padded with NaN, which the model masks)."""

    kind = "sequence_classification"
    facts_folder = None  # its baselines are cheap: fitted again in each process

    def __init__(
        self,
        cfg: Config,
        splits: tuple,
        labels: list[str],
        seq_len: int,
        scaler: Scaler,
        device: torch.device,
        fits: bool = False,
    ):
        self.cfg, self.device, self.labels, self.seq_len, self.scaler = cfg, device, labels, seq_len, scaler
        self.splits = dict(zip(("train", "val", "test"), splits))
        self._index = {y: i for i, y in enumerate(labels)}
        self.channels = self.splits["train"].channels
        examples = sum(len(self.splits[k]) for k in ("train", "val") if self.splits[k] is not None)
        data_bytes = examples * seq_len * len(self.channels) * 4
        self.home = data_home(device, data_bytes)  # where the encoded data lives
        if fits:  # a new run: before the padded arrays are made
            check_memory(cfg, self.input_spec, self.output_size, data_bytes, device, self.home)
        self.train_x, self.train_y = self.tensors(self.splits["train"])
        self.val = self.tensors(self.splits["val"]) if self.splits["val"] is not None else None
        self.prior_loss = prior_entropy(self.train_y, len(labels), self.fit_weights())

    @classmethod
    def create(cls, cfg: Config, device: torch.device, events=None) -> SequenceTask:
        d = cfg.data
        splits = _sequence_splits(cfg, events)
        train = splits[0]
        labels = sorted(set(train.labels), key=_label_sort_key)
        if len(labels) < 2:
            raise DataError(f"{train.source}: a single class {labels!r}; classification needs two or more")
        seq_len = min(d.maxlen, max(len(s) for s in train.sequences))
        scaler = Scaler.fit(np.concatenate(train.sequences), d.normalize)  # training steps only: no leakage
        return cls(cfg, splits, labels, seq_len, scaler, device, fits=True)

    @classmethod
    def restore(cls, cfg: Config, preprocessing: dict[str, Any], device: torch.device, events=None) -> SequenceTask:
        p, splits = preprocessing, _sequence_splits(cfg, events)
        return cls(cfg, splits, list(p["labels"]), int(p["seq_len"]), Scaler.from_dict(p["scaler"]), device)

    @property
    def preprocessing(self) -> dict[str, Any]:
        d = self.cfg.data
        return {
            "task": self.kind,
            "channels": self.channels,
            "labels": self.labels,
            "seq_len": self.seq_len,
            "padding": "post",
            "truncating": d.truncating,
            "scaler": self.scaler.to_dict(),
        }

    @property
    def input_spec(self) -> dict[str, Any]:
        # padded: NaN steps after each sequence's own (the model reads the real steps only).
        return {"kind": "features", "num_features": len(self.channels), "seq_len": self.seq_len, "padded": True}

    @property
    def output_size(self) -> int:
        return len(self.labels)

    @property
    def train_fingerprint(self) -> str:
        return self.splits["train"].fingerprint()

    def positive_index(self, positive_label: str | None) -> int | None:
        return positive_index(self.labels, positive_label)

    def split_examples(self, split: str) -> SequenceSet:
        if self.splits.get(split) is None:
            raise DataError(f"this run has no {split} split (set data.{split}_split > 0 or data.{split}_file)")
        return self.splits[split]

    def file_examples(self, path: Path) -> SequenceSet:
        return sequences_of(path, self.cfg.data)  # from the cache when it holds this file

    baseline = "summary_logreg"

    def baseline_predict(self, examples: SequenceSet) -> np.ndarray:
        """Class probabilities [N, classes] from logistic regression on per-channel summaries, fitted on
        this run's training split."""
        return baselines.summary_logreg(self.splits["train"].sequences, self.train_y.cpu().numpy(), examples.sequences)

    def validation_baselines(self) -> dict[str, dict[str, float]]:
        """The baselines' validation scores: the lines curves.png draws beside the model's."""
        return {} if self.val is None else self.validation_lines(self.splits["val"], self.val[1])

    def tensors(self, examples: SequenceSet) -> tuple[torch.Tensor, torch.Tensor]:
        x = sequence_inputs(examples, self.preprocessing, self.home)
        try:
            y = torch.tensor([self._index[label] for label in examples.labels], dtype=torch.long, device=self.home)
        except KeyError as e:
            raise DataError(
                f"{examples.source}: label {e.args[0]!r} not seen in training (known: {', '.join(self.labels)})"
            ) from None
        return x, y

    def summary(self) -> dict[str, Any]:
        sets = {k: v for k, v in self.splits.items() if v is not None}
        notes = list(dict.fromkeys(note for v in sets.values() for note in v.notes))
        lengths = {}
        for name, v in sets.items():
            n = np.array([len(seq) for seq in v.sequences])
            cut = cut_sequences(v, self.preprocessing)
            lengths[name] = {
                "min": int(n.min()),
                "median": int(np.median(n)),
                "max": int(n.max()),
                "truncated": cut["sequences"] if cut else 0,
            }
            if cut:
                notes.append(f"{name} split: {cut['note']}")
        return {
            "task": self.kind,
            "sources": {k: v.source for k, v in sets.items()},
            "channels": self.channels,
            "labels": self.labels,
            "seq_len": self.seq_len,
            "class_counts": {k: {y: v.labels.count(y) for y in self.labels if y in v.labels} for k, v in sets.items()},
            "lengths": lengths,
            "fingerprints": {k: v.fingerprint() for k, v in sets.items()},
            "notes": notes,
            **self.weights_summary(),
        }

    @staticmethod
    def describe(summary: dict[str, Any]) -> list[str]:
        """What the CLI shows of the data when a run starts (from summary())."""
        sizes = split_sizes(summary)
        lengths = summary["lengths"]["train"]
        return [
            f"sequences: {sizes}; {len(summary['labels'])} classes; {len(summary['channels'])} channels; "
            f"train length {lengths['min']}..{lengths['max']} (median {lengths['median']}), padded to {summary['seq_len']}"
            + (f", {lengths['truncated']} truncated" if lengths["truncated"] else ""),
            *weights_line(summary),
        ]

    def example_ids(self, examples: SequenceSet) -> list[str]:
        """What names an example in a predictions file: the sequence's id."""
        return list(examples.ids)

    def truncated(self, examples: SequenceSet) -> dict[str, Any] | None:
        return cut_sequences(examples, self.preprocessing)

    @staticmethod
    def predict_inputs(cfg: Config, prep: dict[str, Any], model, device, texts=None, file=None) -> dict[str, Any]:
        """A label per sequence of a long-format CSV or a folder of CSV files (no label column needed)."""
        if file is None:
            raise RunDirError(
                "a sequence classification run predicts sequences: give a long-format CSV or a folder of CSV files with --file"
            )
        examples = read_sequences(Path(file), cfg.data, labelled=False)
        logits = predict_logits(model, sequence_inputs(examples, prep, device))
        return {
            "source": examples.source,
            "labels": list(prep["labels"]),
            "predictions": prediction_rows(examples.ids, logits, list(prep["labels"])),
            "truncated": cut_sequences(examples, prep),
            "notes": examples.notes,
        }


def sequence_inputs(examples: SequenceSet, preprocessing: dict[str, Any], device: torch.device) -> torch.Tensor:
    """The model's input for sequences, made from the run's saved preprocessing alone: training,
    evaluate and predict all make it here, so the same sequences get the same answers."""
    channels = list(preprocessing["channels"])
    if examples.channels != channels:
        raise DataError(f"{examples.source}: channels {examples.channels} differ from the run's {channels}")
    scaler = Scaler.from_dict(preprocessing["scaler"])
    scaled = [scaler.transform(s) for s in examples.sequences]
    # Padded at the end, always: the model masks padded steps, and with post-padding the forward
    # state at a sequence's last real step is exactly the unpadded one.
    padded = pad_sequences(scaled, int(preprocessing["seq_len"]), "post", preprocessing["truncating"])
    return torch.from_numpy(padded).to(device)


def cut_sequences(examples: SequenceSet, preprocessing: dict[str, Any]) -> dict[str, Any] | None:
    """How many sequences are longer than the model's steps, and so were cut (data.truncating)."""
    seq_len = int(preprocessing["seq_len"])
    cut = sum(len(s) > seq_len for s in examples.sequences)
    if not cut:
        return None
    keeps = kept_part(preprocessing["truncating"])
    return {
        "sequences": int(cut),
        "of": len(examples),
        "seq_len": seq_len,
        "longest": max(len(s) for s in examples.sequences),
        "note": f"{cut} of {len(examples)} sequences are longer than the model's {seq_len} steps: each was cut to "
        f"its {keeps} {seq_len} (data.truncating {preprocessing['truncating']}; seq_len is the longest training "
        "sequence, at most data.maxlen)",
    }


def _sequence_splits(cfg: Config, events=None) -> tuple:
    d = cfg.data
    train, test = load_sequence_sets(d, events)
    read_val = (lambda: sequences_of(Path(d.val_file), d, events=events)) if d.val_file else None
    return split_three(train, test, d, read_val)
