"""Pretrained word vectors (word2vec text or binary, GloVe, gzip text) for an existing vocabulary.

Only vectors of vocabulary words are kept, so memory grows with the vocabulary, not with the
file. numpy and the standard library only: this runs at data-preparation time, before torch.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DataError

_NONE, _FOLDED, _EXACT = 0, 1, 2
_CHUNK = 1 << 20
# Bytes seen in text files; any other byte right after a "<count> <dim>" header means binary.
_TEXT_BYTES = bytes(sorted({7, 8, 9, 10, 12, 13, 27} | set(range(0x20, 0x100)) - {0x7F}))
_KINDS = "expected word2vec/GloVe text (optionally .gz) or word2vec binary"


@dataclass
class Pretrained:
    matrix: np.ndarray  # float32 [len(vocab), dim]; row i is the vector of vocab[i]
    found: int  # vocabulary words (reserved entries excluded) that had a vector
    coverage: float  # found / (len(vocab) - 2); 0.0 for a vocabulary without words
    dim: int
    missing_examples: list[str]  # up to 10 most frequent vocabulary words without a vector


def load_pretrained(
    path: str | Path, vocab: list[str], lowercase: bool = True, seed: int = 0, expected_dim: int | None = None
) -> Pretrained:
    """Build an embedding matrix for ``vocab`` (``[<pad>, <oov>, words by frequency...]``) from a vector file.

    The format is detected: word2vec binary (``.bin`` or a header followed by non-text bytes),
    otherwise text with or without a ``<count> <dim>`` header; gzip files are decompressed.
    A file word matches a vocabulary word exactly, or, with ``lowercase``, through its
    lower-case form (the first such file word wins; an exact match always wins).

    Row 0 (padding) is zero. Row 1 (``<oov>``) and rows of words without a vector are drawn
    from ``np.random.default_rng(seed)`` as normal values with the mean and standard deviation
    of all values of the found vectors, so unknown words start on the same scale as known ones
    (N(0, 1), like a fresh torch embedding, when no word was found).
    """
    path = Path(path)
    if len(vocab) < 2:
        raise ValueError("vocab must start with the reserved '<pad>' and '<oov>' entries")
    if not path.is_file():
        raise DataError(f"{path}: word vector file not found; check the path ({_KINDS})")
    loader = _Loader(path, vocab, lowercase, expected_dim)
    try:
        with _open(path) as f:
            head = f.read(65536)
        if not head.strip():
            raise DataError(f"{path}: file is empty; {_KINDS}")
        first = head.split(b"\n", 1)[0].removeprefix(b"\xef\xbb\xbf")
        header = _header(first)
        by_name = path.name.lower().endswith((".bin", ".bin.gz"))
        if by_name and header is None:
            raise DataError(f"{path}:1: expected the word2vec binary header '<count> <dim>', got {first[:40]!r}")
        sample = head[len(first) + 1 :][:4096]
        with _open(path) as f:
            if header is not None and (by_name or _looks_binary(sample)):
                loader.read_binary(f, *header)
            else:
                loader.read_text(f, header)
    except (OSError, EOFError, zlib.error) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise DataError(f"{path}: cannot read the word vector file ({reason}); check it is complete and readable") from None
    return loader.finish(seed)


def _open(path: Path) -> BinaryIO:
    with path.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else path.open("rb")  # type: ignore[return-value]


def _header(line: bytes) -> tuple[int, int] | None:
    parts = line.split()
    return (int(parts[0]), int(parts[1])) if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit() else None


def _looks_binary(sample: bytes) -> bool:
    if sample.translate(None, _TEXT_BYTES):
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < len(sample) - 3  # a character cut by the sample's end is not evidence
    return False


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


class _Loader:
    def __init__(self, path: Path, vocab: list[str], lowercase: bool, expected_dim: int | None):
        self.path, self.vocab, self.lowercase, self.expected_dim = path, vocab, lowercase, expected_dim
        self.index = {w: i for i, w in enumerate(vocab) if i >= 2}
        self.status = bytearray(len(vocab))
        self.matrix = np.zeros((0, 0), np.float32)
        self.dim = 0

    def start(self, dim: int, where: str) -> None:
        if dim < 1:
            raise DataError(f"{self.path}:{where}: vector dimension {dim}; expected at least 1 value per word")
        if self.expected_dim is not None and dim != self.expected_dim:
            raise DataError(
                f"{self.path}: vectors have {dim} dimensions but model.embedding_dims is {self.expected_dim}; "
                f"set model.embedding_dims to {dim} (or leave it null to take it from the file)"
            )
        self.dim, self.matrix = dim, np.zeros((len(self.vocab), dim), np.float32)

    def take(self, word: str) -> int | None:
        """Row to fill with this file word's vector, or None (file order is frequency order: first wins)."""
        row = self.index.get(word)
        if row is not None:
            if self.status[row] == _EXACT:
                return None
            self.status[row] = _EXACT
            return row
        if self.lowercase:
            low = word.lower()
            if low != word:
                row = self.index.get(low)
                if row is not None and self.status[row] == _NONE:
                    self.status[row] = _FOLDED
                    return row
        return None

    def read_text(self, f: BinaryIO, header: tuple[int, int] | None) -> None:
        path, dim, lines = self.path, 0, 0
        if header is not None:
            dim = header[1]
            self.start(dim, "1")
        for lineno, raw in enumerate(f, 1):
            if lineno == 1:
                if header is not None:
                    continue
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            try:
                line = raw.decode("utf-8").rstrip()
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{path}:{lineno}: not valid UTF-8 (byte {e.start} of the line); re-encode the file as UTF-8"
                ) from None
            if not line:
                continue
            lines += 1
            n = line.count(" ")  # the word is not split yet: parse floats only for vocabulary words
            if not dim:
                if n == 0:
                    raise DataError(f"{path}:{lineno}: expected a word followed by its vector values separated by spaces")
                dim = n
                self.start(dim, str(lineno))
            if n == dim:
                word, _, rest = line.partition(" ")
                values: list[str] | None = None
            else:
                # Words may contain spaces (GloVe 840B has ". . ."): the vector is the last dim fields.
                # A number just before them means the line has too many values, not a spaced word.
                parts = line.rsplit(" ", dim)
                if n < dim or _is_number(parts[0].rsplit(" ", 1)[-1]):
                    raise DataError(
                        f"{path}:{lineno}: {n} values after the word, expected {dim} like the "
                        f"{'header' if header else 'first line'}; the file may be truncated or corrupt"
                    )
                word, values = parts[0], parts[1:]
            row = self.take(word)
            if row is not None:
                try:
                    self.matrix[row] = np.array(rest.split(" ") if values is None else values, dtype=np.float32)
                except ValueError:
                    raise DataError(f"{path}:{lineno}: the vector of {word!r} has a value that is not a number") from None
        if not lines:
            raise DataError(f"{path}: no word vectors in the file" + (" after the header line" if header else ""))

    def read_binary(self, f: BinaryIO, count: int, dim: int) -> None:
        self.start(dim, "1")
        nbytes, buf, pos = 4 * dim, b"", 0
        f.readline()
        for i in range(count):
            while True:
                sp = buf.find(b" ", pos)
                if sp >= 0 and len(buf) - sp - 1 >= nbytes:
                    break
                more = f.read(_CHUNK)
                if not more:
                    raise DataError(
                        f"{self.path}: word2vec binary file is truncated: the header announces {count} vectors "
                        f"of {dim} values but the data ends after {i}; re-download or re-export the file"
                    )
                buf, pos = buf[pos:] + more, 0
            try:
                word: str | None = buf[pos:sp].lstrip(b"\n").decode("utf-8")
            except UnicodeDecodeError:
                word = None  # cannot equal a vocabulary word, which came from UTF-8 text
            row = self.take(word) if word is not None else None
            if row is not None:
                self.matrix[row] = np.frombuffer(buf, dtype="<f4", count=dim, offset=sp + 1)
            pos = sp + 1 + nbytes

    def finish(self, seed: int) -> Pretrained:
        status = np.frombuffer(bytes(self.status), dtype=np.uint8)
        found_rows = np.flatnonzero(status)
        mean, std = 0.0, 1.0
        if len(found_rows):
            values = self.matrix[found_rows]
            mean, std = float(values.mean(dtype=np.float64)), float(values.std(dtype=np.float64))
        missing = np.flatnonzero(status == _NONE)[1:]  # row 0 (padding) stays zero
        rng = np.random.default_rng(seed)
        self.matrix[missing] = rng.normal(mean, std, size=(len(missing), self.dim)).astype(np.float32)
        words = len(self.vocab) - 2
        return Pretrained(
            matrix=self.matrix,
            found=len(found_rows),
            coverage=len(found_rows) / words if words else 0.0,
            dim=self.dim,
            missing_examples=[self.vocab[i] for i in missing[missing >= 2][:10]],
        )
