"""A data file prepared once: a text file's texts, labels and tokens, a sequence file's (or
folder's) steps and labels, a series' values and timestamps, from the cache (cache.py), or read
(tokenized in one pass: prepare.py) and stored there; and a run's splits of texts."""

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
from .series import BUILTIN_SERIES, SequenceSet, Series, digits, load_series, read_sequences, series_delimiter
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
    arrays, meta, folder = through_cache(
        path, table_key(path, cfg), PARTS, lambda staging: _prepare(path, cfg, events, staging), events
    )
    return _from_arrays(arrays, meta, str(path), cfg, folder)


def through_cache(
    path: Path,
    fields: dict[str, Any],
    parts: tuple[str, ...],
    build: Callable[[cache.Staging], tuple[dict, dict]],
    events: Events,
) -> tuple[dict[str, np.ndarray], dict[str, Any], Path | None]:
    """A file's prepared arrays and facts, and the entry's folder: from the cache entry ``fields``
    name, or made by ``build`` (once, among processes on this machine) and stored there; with no
    folder when the cache cannot hold them (the arrays are in memory). ``build`` may start writing
    a part that is ready before the others (staging.add). A hit says so in one line."""
    cache.size_limit()  # a wrong RNNEXP_CACHE_SIZE is said before the work
    key = cache.key_of(fields)
    entry = cache.load(key, events.note, parts)
    if entry is None:
        with cache.building(key):  # another process building it: wait, then use its entry
            entry = cache.load(key, events.note, parts)
            if entry is None:
                with cache.Staging(key, events.note) as staging:
                    arrays, meta = build(staging)
                    entry = staging.finish(arrays, {**meta, "source": str(path)})
                return (arrays, meta, None) if entry is None else (entry.arrays, meta, entry.folder)
    age = time.time() - entry.meta.get("created", time.time())
    events.info(f"data: {path} prepared {age_text(age)} ago, from the cache (entry {key[:12]}, {size_text(entry.size)})")
    return entry.arrays, entry.meta, entry.folder


def _prepare(path: Path, cfg: DataConfig, events: Events, staging: cache.Staging) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read and tokenize a file: its entry's arrays and facts. The texts are kept as their bytes as
    soon as they are read (memory never holds them twice), and written to the cache while they are
    tokenized: measured 0.5-1 s sooner ready at a million texts on 2 cores."""
    table = read_rows(path, cfg)
    if isinstance(table.texts, TextColumn) and table.texts.rows is None:
        blob, offsets = table.texts.blob, table.texts.offsets  # read as bytes already
    else:
        blob, offsets = encode_texts(table.texts)
    labels = coded(table.labels)
    del table
    label_codes = labels.codes.astype(smallest_uint(len(labels.names)))
    for name, array in (("texts", blob), ("text_offsets", offsets), ("labels", label_codes)):
        staging.add(name, array)
    texts = TextColumn(blob, offsets)
    total = len(texts)

    def progress(done: int) -> None:
        events.progress(f"tokenizing {total:,} texts of {path.name}", done, total)

    tokens = tokenize_texts(texts, cfg.lowercase, cfg.strips_html, progress if total >= 50_000 else None)
    words = "\n".join(tokens.words).encode("utf-8", "surrogatepass")  # a word holds no line break
    arrays = {
        "texts": blob,
        "text_offsets": offsets,
        "labels": label_codes,
        "words": np.frombuffer(words, dtype=np.uint8),
        "ids": tokens.ids,
        "token_offsets": tokens.offsets,
        "word_counts": tokens.word_counts(),
    }
    meta = {"texts": total, "tokens": int(len(tokens.ids)), "label_names": labels.names, "words": len(tokens.words)}
    return arrays, meta  # the caller's only reference: store empties it once written


def _from_arrays(arrays: dict[str, np.ndarray], meta: dict[str, Any], source: str, cfg: DataConfig, folder=None) -> Table:
    labels = LabelList(meta["label_names"], np.asarray(arrays["labels"]))
    words = arrays["words"].tobytes().decode("utf-8", "surrogatepass").split("\n") if meta["words"] else []
    flags = (cfg.lowercase, cfg.strips_html)
    tokens = Tokens(words, arrays["ids"], np.asarray(arrays["token_offsets"]), flags, totals=np.asarray(arrays["word_counts"]))
    return Table(TextColumn(arrays["texts"], np.asarray(arrays["text_offsets"]), entry=folder), labels, source, tokens)


# -- numeric files: sequences and series ------------------------------------------------------


def files_key(path: Path) -> list[list[str]] | str:
    """The bytes a file's or a folder's data comes from: the file's sha256, or every CSV file's
    below the folder, each by its path there (a sub-folder's name is a label)."""
    if path.is_dir():
        return [[str(f.relative_to(path)), cache.file_sha256(f)] for f in sorted(path.rglob("*.csv")) if f.is_file()]
    return cache.file_sha256(path)


def load_sequence_sets(cfg: DataConfig, events: Events | None = None) -> tuple[SequenceSet, SequenceSet | None]:
    """The training sequences and, if the source has one, a test set."""
    if cfg.dataset == "digits":
        return digits(), None
    train = sequences_of(Path(cfg.train_file), cfg, events=events)
    return train, sequences_of(Path(cfg.test_file), cfg, events=events) if cfg.test_file else None


SEQUENCE_PARTS = ("values", "offsets", "labels", "ids", "id_offsets")


def sequences_of(path: Path, cfg: DataConfig, labelled: bool = True, events: Events | None = None) -> SequenceSet:
    """series.read_sequences of a long-format file or a folder of files, through the cache."""
    events = events or Events()
    if not (path.is_file() or path.is_dir()):
        return read_sequences(path, cfg, labelled)  # its error
    fields = {
        "kind": "sequences",
        "files": files_key(path),
        "labelled": labelled,
        **{k: getattr(cfg, k) for k in ("encoding", "sequence_column", "step_column", "label_column", "time_column", "features")},
    }

    def build(_staging: cache.Staging) -> tuple[dict, dict]:  # written whole at the end
        examples = read_sequences(path, cfg, labelled)
        lengths = np.array([len(seq) for seq in examples.sequences], dtype=np.int64)
        ids, id_offsets = encode_texts(examples.ids)
        names = sorted(set(examples.labels)) if labelled else []
        index = {name: i for i, name in enumerate(names)}
        arrays = {
            "values": np.concatenate(examples.sequences).reshape(-1),
            "offsets": np.concatenate([[0], np.cumsum(lengths)]),
            "labels": np.array([index[y] for y in examples.labels or []], dtype=smallest_uint(len(names))),
            "ids": ids,
            "id_offsets": id_offsets,
        }
        # The reader's notes name the file: kept without it, for the same bytes under another name.
        notes = [note.removeprefix(f"{path}: ") for note in examples.notes]
        meta = {"sequences": len(examples), "channels": examples.channels, "label_names": names, "notes": notes}
        meta["labelled"] = labelled
        return arrays, meta

    arrays, meta, _ = through_cache(path, fields, SEQUENCE_PARTS, build, events)
    values = np.asarray(arrays["values"]).reshape(-1, len(meta["channels"]))
    bounds = np.asarray(arrays["offsets"]).tolist()
    names = meta["label_names"]
    return SequenceSet(
        [values[a:b] for a, b in zip(bounds[:-1], bounds[1:])],
        [names[c] for c in np.asarray(arrays["labels"]).tolist()] if meta["labelled"] else None,
        list(meta["channels"]),
        str(path),
        TextColumn(arrays["ids"], np.asarray(arrays["id_offsets"]))[:],
        [f"{path}: {note}" for note in meta["notes"]],
    )


SERIES_PARTS = ("values", "time", "time_offsets")


def series_of(cfg: DataConfig, time_optional: bool = False, events: Events | None = None) -> Series:
    """series.load_series of a file, through the cache (a built-in series is read as it is)."""
    events = events or Events()
    path = None if cfg.dataset in BUILTIN_SERIES else Path(cfg.train_file)
    if path is None or not path.is_file():
        return load_series(cfg, time_optional)  # a built-in series, or the error
    fields = {
        "kind": "series",
        "sha256": cache.file_sha256(path),
        "delimiter": series_delimiter(path),
        "time_optional": time_optional,
        **{k: getattr(cfg, k) for k in ("encoding", "target", "features", "time_column")},
        **({"calendar": cfg.calendar} if cfg.calendar else {}),  # absent without: the key every earlier version wrote
    }

    def build(_staging: cache.Staging) -> tuple[dict, dict]:  # written whole at the end
        series = load_series(cfg, time_optional)
        stamps, offsets = encode_texts(series.time or [])
        arrays = {"values": series.values.reshape(-1), "time": stamps, "time_offsets": offsets}
        meta = {"rows": len(series.values), "columns": series.columns, "target": series.target}
        return arrays, {**meta, "timed": series.time is not None}

    arrays, meta, _ = through_cache(path, fields, SERIES_PARTS, build, events)
    values = np.asarray(arrays["values"]).reshape(-1, len(meta["columns"]))
    stamps = TextColumn(arrays["time"], np.asarray(arrays["time_offsets"]))[:] if meta["timed"] else None
    return Series(values, list(meta["columns"]), meta["target"], str(path), stamps)
