"""The fitted preprocessing of a text run: the vocabulary and labels fitted on the training split,
and the one mapping from a text to padded ids. A plain dict (to_dict) saved in the run folder, so
evaluate, predict and export reproduce it exactly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..config import DataConfig
from ..errors import DataError
from .prepare import Tokens, tokenize_texts
from .tables import LabelList, Table, label_counts
from .tokenizer import OOV_ID, tokenize, tokenizer_rule

PAD, OOV = "<pad>", "<oov>"  # vocab[PAD_ID] and vocab[OOV_ID]


@dataclass
class Preprocessor:
    """Fitted on the training split only; maps text to ids and labels to class indices."""

    vocab: list[str]
    labels: list[str]
    maxlen: int
    padding: str = "pre"
    truncating: str = "pre"
    lowercase: bool = True
    strip_html: bool = False
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index = {w: i for i, w in enumerate(self.vocab)}
        self._label_index = {y: i for i, y in enumerate(self.labels)}
        self._lut_of: list[str] | None = None
        self._lut = np.zeros(0, dtype=np.int64)

    @classmethod
    def fit(cls, train: Table, cfg: DataConfig) -> Preprocessor:
        tokens = train.tokenized(cfg.lowercase, cfg.strips_html)
        counts = dict(zip(tokens.words, tokens.word_counts().tolist()))
        # Sort by frequency, then alphabetically, so the vocabulary does not depend on data order.
        words = sorted((w for w, c in counts.items() if c >= cfg.min_freq), key=lambda w: (-counts[w], w))
        if cfg.max_vocab is not None:
            words = words[: cfg.max_vocab]
        labels = sorted(label_counts(train.labels), key=_label_sort_key)
        if len(labels) < 2:
            raise DataError(
                f"{train.source}: column {cfg.label_column!r} has a single class {labels!r}; classification needs two or more"
            )
        return cls([PAD, OOV, *words], labels, cfg.maxlen, cfg.padding, cfg.truncating, cfg.lowercase, cfg.strips_html)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def tokens(self, text: str) -> list[str]:
        """The words of a text as this run reads them (the one tokenizing of training, evaluate,
        predict and the baselines)."""
        return tokenize(text, self.lowercase, self.strip_html)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """[N, maxlen] int64 ids with Keras pad_sequences semantics (0 = padding, 1 = unknown word)."""
        return self.encode(tokenize_texts(texts, self.lowercase, self.strip_html))

    def encode_table(self, table: Table) -> np.ndarray:
        """encode_texts of a Table's texts, from the tokens it was prepared with."""
        return self.encode(table.tokenized(self.lowercase, self.strip_html))

    def encode(self, tokens: Tokens, rows: np.ndarray | None = None) -> np.ndarray:
        """[N, maxlen] int64 ids of prepared texts (of ``rows`` of them): padding.pad's rule."""
        return tokens.padded(self.lut(tokens), self.maxlen, self.padding, self.truncating, rows)

    def lut(self, tokens: Tokens) -> np.ndarray:
        """Each of the tokens' words' vocabulary id (OOV_ID for a word not in it): int64 [words]."""
        words = tokens.words
        if self._lut_of is not words:  # a run looks up the same word list for every batch
            index = self._index
            self._lut = np.fromiter((index.get(w, OOV_ID) for w in words), dtype=np.int64, count=len(words))
            self._lut_of = words
        return self._lut

    def reading(self, text: str) -> dict[str, int]:
        """What the model reads of a text: its tokens, how many are unknown, how many maxlen cuts off."""
        tokens = self.tokens(text)
        return {
            "tokens": len(tokens),
            "unknown": sum(1 for tok in tokens if tok not in self._index),
            "cut": max(0, len(tokens) - self.maxlen),
        }

    def encode_labels(self, table: Table) -> np.ndarray:
        try:
            if isinstance(table.labels, LabelList):  # each name looked up once, the codes mapped
                lut = np.array([self._label_index.get(y, -1) for y in table.labels.names], dtype=np.int64)
                ids = lut[table.labels.codes.astype(np.int64)] if len(lut) else np.zeros(0, dtype=np.int64)
                if (ids < 0).any():
                    raise KeyError(table.labels[int(np.flatnonzero(ids < 0)[0])])
                return ids
            return np.array([self._label_index[y] for y in table.labels], dtype=np.int64)
        except KeyError as e:
            row = list(table.labels).index(e.args[0])
            raise DataError(
                f"{table.source}: example {row + 1} has label {e.args[0]!r}, not seen in training "
                f"(known: {', '.join(self.labels)})"
            ) from None

    def positive_index(self, positive_label: str | None) -> int | None:
        return positive_index(self.labels, positive_label)

    def summary(self, table: Table) -> dict:
        """How maxlen fits this data: how many are truncated, how much of the batch is padding."""
        tokens = table.tokenized(self.lowercase, self.strip_html)
        lengths = tokens.lengths()
        kept = np.minimum(lengths, self.maxlen)
        oov = int(tokens.word_counts()[self.lut(tokens) == OOV_ID].sum())
        return {
            "examples": int(len(lengths)),
            "length_mean": round(float(lengths.mean()), 2) if len(lengths) else 0.0,
            "length_p50": int(np.percentile(lengths, 50)) if len(lengths) else 0,
            "length_p95": int(np.percentile(lengths, 95)) if len(lengths) else 0,
            "length_max": int(lengths.max()) if len(lengths) else 0,
            "truncated": int((lengths > self.maxlen).sum()),
            "padding_share": round(1.0 - float(kept.sum()) / max(1, len(lengths) * self.maxlen), 4),
            "oov_share": round(oov / max(1, int(lengths.sum())), 4),
        }

    def to_dict(self) -> dict:
        return {
            "vocab": self.vocab,
            "labels": self.labels,
            "maxlen": self.maxlen,
            "padding": self.padding,
            "truncating": self.truncating,
            "lowercase": self.lowercase,
            "strip_html": self.strip_html,
            "tokenizer": tokenizer_rule(),  # read by people and serving code; from_dict needs only the keys above
        }

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessor:
        """From to_dict's dict; one of a run made before data.strip_html (no "strip_html") read texts with their HTML."""
        strip = bool(d.get("strip_html", False))
        return cls(
            list(d["vocab"]), list(d["labels"]), int(d["maxlen"]), d["padding"], d["truncating"], bool(d["lowercase"]), strip
        )


def positive_index(labels: list[str], positive_label: str | None) -> int | None:
    """Class index treated as positive for binary precision/recall/F1 (None when multiclass)."""
    if len(labels) != 2:
        return None
    if positive_label is None:
        return 1
    if positive_label not in labels:
        raise DataError(f"data.positive_label {positive_label!r} is not a class (classes: {', '.join(labels)})")
    return labels.index(positive_label)


def _label_sort_key(label: str):
    # Numeric labels sort numerically (2 before 10); others alphabetically, after numbers.
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def class_counts(table: Table) -> dict[str, int]:
    return dict(sorted(label_counts(table.labels).items(), key=lambda kv: _label_sort_key(kv[0])))
