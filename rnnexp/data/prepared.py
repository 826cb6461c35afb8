"""A text file prepared once: its texts, labels and tokens from the cache (cache.py), or read,
tokenized in one pass (prepare.py) and stored there; and a run's splits from them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DataConfig
from ..errors import age_text, size_text
from . import cache
from .prepare import TextColumn, Tokens, encode_texts, smallest_uint, tokenize_texts
from .tables import LabelList, Splits, Table, _amazon_food, _uci_sentiment, coded, file_format, read_rows, split_three
from .tokenizer import tokenizer_rule


class Events:
    """What preparing data tells its caller: a note (a warning, one line), a plain line, and how
    far a long step is. The training Reporter is one; this base class says nothing."""

    def note(self, text: str) -> None: ...
    def info(self, text: str) -> None: ...
    def progress(self, what: str, done: int, total: int) -> None: ...


class Fifths:
    """A long step's progress in lines, one at each fifth done ("tokenizing 1,000,000 texts of
    x.csv: 40%"), for wherever a bar cannot be drawn: ``say`` is given each line."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say, self.said = say, ("", 0)

    def __call__(self, what: str, done: int, total: int) -> None:
        fifth = 5 * done // max(total, 1)
        if fifth > (self.said[1] if self.said[0] == what else 0):
            self.said = (what, fifth)
            self.say(f"{what}: {100 * done // max(total, 1)}%")


def load_splits(cfg: DataConfig, events: Events | None = None) -> Splits:
    """Read the configured data and split it into train/val/test, stratified and seeded."""
    events = events or Events()
    if cfg.dataset == "amazon-food":
        train, test = _amazon_food()
    elif cfg.dataset == "uci-sentiment":
        train, test = _uci_sentiment(), None
    else:
        train = read_table(Path(cfg.train_file), cfg, events)
        test = read_table(Path(cfg.test_file), cfg, events) if cfg.test_file else None
    read_val = (lambda: read_table(Path(cfg.val_file), cfg, events)) if cfg.val_file else None
    return Splits(*split_three(train, test, cfg, read_val))


PARTS = ("texts", "text_offsets", "labels", "words", "ids", "token_offsets", "word_counts")  # a text file's entry


def table_key(path: Path, cfg: DataConfig) -> dict[str, Any]:
    """Everything that decides what a text file's entry holds: the file's bytes, how it is read
    (format, encoding, columns) and how its texts are tokenized (the rule and its flags)."""
    return {
        "kind": "text table",
        "sha256": cache.file_sha256(path),
        "format": file_format(path, cfg),
        "encoding": cfg.encoding,
        "columns": cfg.columns,
        "text_column": cfg.text_column,
        "label_column": cfg.label_column,
        "lowercase": cfg.lowercase,
        "strip_html": cfg.strips_html,
        "tokenizer": tokenizer_rule(),
    }


def read_table(path: Path, cfg: DataConfig, events: Events | None = None) -> Table:
    """A CSV/TSV/JSONL file as a Table with its tokens: from the cache, or read and tokenized once
    (errors name the file, line and column) and stored there."""
    events = events or Events()
    if not path.is_file():
        return read_rows(path, cfg)  # its error
    cache.size_limit()  # a wrong RNNEXP_CACHE_SIZE is said before the work
    key = cache.key_of(table_key(path, cfg))
    entry = cache.load(key, events.note, PARTS)
    if entry is None:
        with cache.building(key):  # another process building it: wait, then use its entry
            entry = cache.load(key, events.note, PARTS)
            if entry is None:
                return _prepare(path, cfg, key, events)
    age = time.time() - entry.meta.get("created", time.time())
    events.info(f"data: {path} prepared {age_text(age)} ago, from the cache (entry {key[:12]}, {size_text(entry.size)})")
    return _from_arrays(entry.arrays, entry.meta, str(path), cfg, entry.folder)


def _prepare(path: Path, cfg: DataConfig, key: str, events: Events) -> Table:
    """Read and tokenize a file, and store it in the cache (in memory only when that fails). The
    texts are kept as their bytes as soon as they are read: memory never holds them twice."""
    table = read_rows(path, cfg)
    if isinstance(table.texts, TextColumn) and table.texts.rows is None:
        blob, offsets = table.texts.blob, table.texts.offsets  # read as bytes already
    else:
        blob, offsets = encode_texts(table.texts)
    labels = coded(table.labels)
    del table
    texts = TextColumn(blob, offsets)
    total = len(texts)

    def progress(done: int) -> None:
        events.progress(f"tokenizing {total:,} texts of {path.name}", done, total)

    tokens = tokenize_texts(texts, cfg.lowercase, cfg.strips_html, progress if total >= 50_000 else None)
    words = "\n".join(tokens.words).encode("utf-8", "surrogatepass")  # a word holds no line break
    arrays = {
        "texts": blob,
        "text_offsets": offsets,
        "labels": labels.codes.astype(smallest_uint(len(labels.names))),
        "words": np.frombuffer(words, dtype=np.uint8),
        "ids": tokens.ids,
        "token_offsets": tokens.offsets,
        "word_counts": tokens.word_counts(),
    }
    meta = {"texts": total, "tokens": int(len(tokens.ids)), "label_names": labels.names, "words": len(tokens.words)}
    del blob, offsets, texts, tokens, labels  # ``arrays`` holds them, and store empties it once written
    entry = cache.store(key, arrays, {**meta, "source": str(path)}, events.note)
    if entry is None:  # no cache: the arrays in memory
        return _from_arrays(arrays, meta, str(path), cfg)
    return _from_arrays(entry.arrays, meta, str(path), cfg, entry.folder)


def _from_arrays(arrays: dict[str, np.ndarray], meta: dict[str, Any], source: str, cfg: DataConfig, folder=None) -> Table:
    labels = LabelList(meta["label_names"], np.asarray(arrays["labels"]))
    words = arrays["words"].tobytes().decode("utf-8", "surrogatepass").split("\n") if meta["words"] else []
    flags = (cfg.lowercase, cfg.strips_html)
    tokens = Tokens(words, arrays["ids"], np.asarray(arrays["token_offsets"]), flags, totals=np.asarray(arrays["word_counts"]))
    return Table(TextColumn(arrays["texts"], np.asarray(arrays["text_offsets"]), entry=folder), labels, source, tokens)
