"""Text classification: token sequences from a vocabulary fitted on the training split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import baselines
from ..config import Config
from ..data import Events, Preprocessor, Splits, Table, class_counts, load_splits, read_table
from ..data.batches import augment_batch, bucket_batches, epoch_batches, padded_share, sequence_lengths, trim_padding
from ..data.padding import kept_part
from ..devices import data_home, to_compute
from ..errors import RunDirError
from ..model import check_memory, predict_logits
from .classify import Classifier, prediction_rows, prior_entropy, split_sizes, weights_line


class TextTask(Classifier):
    kind = "text_classification"

    def __init__(self, cfg: Config, splits: Splits, prep: Preprocessor, device: torch.device, fits: bool = False):
        self.cfg, self.splits, self.prep, self.device = cfg, splits, prep, device
        examples = len(splits.train) + (len(splits.val) if splits.val is not None else 0)
        data_bytes = examples * prep.maxlen * 8
        self.home = data_home(device, data_bytes)  # where the encoded data lives
        if fits:  # a new run: before the padded arrays are made (on a GPU only: the host pads per batch)
            check_memory(cfg, self.input_spec, self.output_size, data_bytes if self.home.type != "cpu" else 0, device, self.home)
        # The training texts stay as their prepared tokens (a cache entry's, memory-mapped); a batch
        # is padded when it is drawn. A GPU that holds the padded ids gets them whole, once.
        self.train_tokens = splits.train.tokenized(prep.lowercase, prep.strip_html)
        self.train_lengths = np.minimum(self.train_tokens.lengths(), prep.maxlen)  # the words each row keeps
        self.train_x = None
        if self.home.type != "cpu":
            self.train_x = torch.from_numpy(prep.encode(self.train_tokens)).to(self.home)
        self.train_y = torch.from_numpy(prep.encode_labels(splits.train)).to(self.home)
        self.val = self.tensors(splits.val) if splits.val is not None else None
        self.prior_loss = prior_entropy(self.train_y, prep.num_classes, self.fit_weights())

    @classmethod
    def create(cls, cfg: Config, device: torch.device, events: Events | None = None) -> TextTask:
        splits = load_splits(cfg.data, events)
        prep = Preprocessor.fit(splits.train, cfg.data)
        prep.positive_index(cfg.data.positive_label)  # a wrong data.positive_label fails now, not at evaluate
        return cls(cfg, splits, prep, device, fits=True)

    @classmethod
    def restore(cls, cfg: Config, preprocessing: dict[str, Any], device: torch.device, events: Events | None = None) -> TextTask:
        return cls(cfg, load_splits(cfg.data, events), Preprocessor.from_dict(preprocessing), device)

    @property
    def preprocessing(self) -> dict[str, Any]:
        return {"task": self.kind, **self.prep.to_dict()}

    @property
    def input_spec(self) -> dict[str, Any]:
        return {"kind": "tokens", "vocab_size": len(self.prep.vocab), "seq_len": self.prep.maxlen}

    @property
    def output_size(self) -> int:
        return self.prep.num_classes

    @property
    def train_fingerprint(self) -> str:
        return self.splits.train.fingerprint()

    @property
    def facts_folder(self) -> Path | None:
        """The cache entry of the training texts, where facts about them are kept (cache.memo)."""
        return getattr(self.splits.train.texts, "entry", None)

    @property
    def labels(self) -> list[str]:
        return self.prep.labels

    def positive_index(self, positive_label: str | None) -> int | None:
        return self.prep.positive_index(positive_label)

    def split_examples(self, split: str) -> Table:
        return self.splits.get(split)

    def file_examples(self, path: Path) -> Table:
        return read_table(path, self.cfg.data)  # from the cache when it holds this file

    baseline = "tfidf_logreg"

    def baseline_predict(self, table: Table) -> np.ndarray:
        """Class probabilities [N, classes] from TF-IDF + logistic regression fitted on this run's training split."""
        return baselines.tfidf_logreg(self.splits.train.texts, self.train_y.cpu().numpy(), table.texts, self.prep.tokens)

    def validation_baselines(self) -> dict[str, dict[str, float]]:
        """The baselines' validation scores: the lines curves.png draws beside the model's."""
        return {} if self.val is None else self.validation_lines(self.splits.val, self.val[1])

    def tensors(self, table: Table) -> tuple[PaddedRows | torch.Tensor, torch.Tensor]:
        """A split's (or file's) inputs and targets for scoring. On the host the inputs stay its
        prepared tokens, padded chunk by chunk as predict takes them (memory does not grow with the
        texts); a GPU that holds the data gets them padded, whole."""
        y = torch.from_numpy(self.prep.encode_labels(table)).to(self.home)
        rows = PaddedRows(self.prep, table.tokenized(self.prep.lowercase, self.prep.strip_html))
        if self.home.type != "cpu":
            return rows[:].to(self.home), y
        return rows, y

    def batches(self, epoch: int) -> list[np.ndarray]:
        tc = self.cfg.train
        if self.cfg.data.bucket:
            return bucket_batches(self.train_lengths, tc.batch_size, tc.seed, epoch)
        return epoch_batches(len(self.train_lengths), tc.batch_size, tc.seed, epoch)

    def batch(self, rows: np.ndarray, epoch: int, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of one training batch: augmented and, when bucketing, cut to its longest example."""
        data, prep = self.cfg.data, self.prep
        idx = torch.from_numpy(rows).to(self.home)
        y = to_compute(self.train_y[idx], self.device)
        aug = data.augment
        if aug.enabled:
            rng = np.random.default_rng([self.cfg.train.seed, epoch, b, 2])  # a pure function of the position
            arr = augment_batch(
                prep.encode(self.train_tokens, rows),
                prep.padding,
                prep.truncating,
                len(prep.vocab),
                aug.insert,
                aug.delete,
                aug.swap,
                rng,
            )
            if data.bucket:
                arr = trim_padding(arr, sequence_lengths(arr).max(), prep.padding)
            return to_compute(torch.from_numpy(np.ascontiguousarray(arr)), self.device), y
        tokens = torch.from_numpy(prep.encode(self.train_tokens, rows)) if self.train_x is None else self.train_x[idx]
        if data.bucket:
            tokens = trim_padding(tokens, self.train_lengths[rows].max(), prep.padding)
        return to_compute(tokens, self.device), y

    def predict(self, model, x: PaddedRows | torch.Tensor) -> torch.Tensor:
        lengths = x.lengths if isinstance(x, PaddedRows) else None
        return predict_logits(model, x, padding=self.prep.padding if self.cfg.data.bucket else None, lengths=lengths)

    def summary(self) -> dict[str, Any]:
        splits, prep, cfg = self.splits, self.prep, self.cfg
        tables = {k: t for k, t in {"train": splits.train, "val": splits.val, "test": splits.test}.items() if t is not None}
        lengths = {k: prep.summary(t) for k, t in tables.items()}
        if cfg.data.bucket:
            batches = bucket_batches(self.train_lengths, cfg.train.batch_size, cfg.train.seed, 0)
            lengths["train"]["padding_share_bucketed"] = padded_share(self.train_lengths, batches, prep.maxlen)
        return {
            "task": self.kind,
            "sources": {k: t.source for k, t in tables.items()},
            "vocab_size": len(prep.vocab),
            "labels": prep.labels,
            "class_counts": {k: class_counts(t) for k, t in tables.items()},
            "fingerprints": {k: t.fingerprint() for k, t in tables.items()},
            "lengths": lengths,
            **self.weights_summary(),
        }

    @staticmethod
    def describe(summary: dict[str, Any]) -> list[str]:
        """What the CLI shows of the data when a run starts (from summary())."""
        sizes = split_sizes(summary)
        lengths = summary["lengths"]["train"]
        bucketed = lengths.get("padding_share_bucketed")
        return [
            f"data: {sizes}; {len(summary['labels'])} classes; vocabulary {summary['vocab_size']:,}; "
            f"train length median {lengths['length_p50']}, p95 {lengths['length_p95']}, max {lengths['length_max']}; "
            f"maxlen truncates {lengths['truncated']} of {lengths['examples']}, padding {lengths['padding_share']:.0%} of steps"
            + (f" ({bucketed:.0%} with bucketing)" if bucketed is not None else ""),
            *weights_line(summary),
        ]

    def example_ids(self, table: Table) -> list[str]:
        """What names an example in a predictions file: the text itself."""
        return list(table.texts)

    def truncated(self, table: Table) -> dict[str, Any] | None:
        """How many of these texts are longer than the model reads, and were cut."""
        lengths = self.prep.summary(table)
        if not lengths["truncated"]:
            return None
        keeps = kept_part(self.prep.truncating)
        n, maxlen = lengths["truncated"], self.prep.maxlen
        return {
            "texts": n,
            "of": lengths["examples"],
            "maxlen": maxlen,
            "note": f"{n} of {lengths['examples']} texts have more than data.maxlen = {maxlen} tokens: the model read only "
            f"the {keeps} {maxlen} of each (data.truncating {self.prep.truncating})",
        }

    @staticmethod
    def predict_inputs(cfg: Config, prep: dict[str, Any], model, device, texts=None, file=None) -> dict[str, Any]:
        """Label and class probabilities per text, from the run's saved preprocessing alone."""
        if texts is None:
            raise RunDirError("a text classification run predicts texts: give them as arguments, with --file, or on stdin")
        pre = Preprocessor.from_dict(prep)
        x = torch.from_numpy(pre.encode_texts(texts)).to(device)
        logits = predict_logits(model, x, padding=pre.padding if cfg.data.bucket else None)
        rows = []
        for row in prediction_rows(texts, logits, pre.labels):
            text = row.pop("id")
            rows.append({"text": text, **row, **pre.reading(text)})
        return {"labels": pre.labels, "maxlen": pre.maxlen, "predictions": rows}


class PaddedRows:
    """Prepared texts as the [N, maxlen] ids a model reads, padded only when rows are taken
    (``rows[i:j]``, ``rows[tensor]``): what predict_logits reads chunk by chunk, so a split is
    scored without ever holding its padded ids whole. The same ids as Preprocessor.encode's."""

    device = torch.device("cpu")

    def __init__(self, prep: Preprocessor, tokens) -> None:
        self.prep, self.tokens = prep, tokens
        # Each row's real steps (at most maxlen): what a bucketed prediction groups rows by.
        self.lengths = torch.from_numpy(np.minimum(tokens.lengths(), prep.maxlen))

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, which: slice | torch.Tensor) -> torch.Tensor:
        rows = np.arange(len(self))[which] if isinstance(which, slice) else which.cpu().numpy()
        return torch.from_numpy(self.prep.encode(self.tokens, rows))
