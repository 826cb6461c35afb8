"""Texts tokenized once, in one pass, into compact arrays: every word a text holds as an id into
the file's own word list, a text's words contiguous. The vocabulary's counts, the padded ids of any
batch, the lengths the setup lines print: all come from these arrays, with no second tokenizing.

The rule stays tokenizer.tokenize's. Texts of ASCII characters only (nearly all of most corpora)
are tokenized by whole chunks in numpy, byte by byte, with the same rule spelled for bytes: on
ASCII, Python's ``\\w`` is [A-Za-z0-9_] and ``str.lower`` maps A-Z alone; an apostrophe joins two
words exactly when a word character is on each side of it; an HTML tag is a '<' then a letter (or
'/' and a letter) up to the first '>' with no '<' before it. A text holding any other character,
or an HTML entity ('&') where HTML is stripped, goes through tokenizer.tokenize itself.
tests/test_prepare.py checks the two agree on every text of the shipped datasets and on
generated ones. Chunks are tokenized on threads, one per core: numpy and pyarrow release the GIL.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .padding import pad_ragged
from .tokenizer import remove_html, tokenize

CHUNK_BYTES = 4 * 2**20  # texts tokenized together: large enough for numpy, small enough to bound memory

_WORD = np.zeros(256, dtype=bool)  # Python's \w on ASCII: [A-Za-z0-9_]
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_":
    _WORD[_c] = True
_LETTER = _WORD.copy()
for _c in b"0123456789_":
    _LETTER[_c] = False
_WORD_TABLE = bytes(_WORD.astype(np.uint8))  # bytes.translate: 1 for a word byte, 0 for any other
_APOSTROPHE, _LT, _GT, _SLASH, _AMP = (ord(c) for c in "'<>/&")

Progress = Callable[[int], None]  # called with how many texts are done so far


def encode_texts(texts: Sequence[str], block: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """(the texts' UTF-8 bytes, one after the other, uint8; [n + 1] int64 byte offsets). Lone
    surrogates (a JSON file may hold them) are kept as they are (surrogatepass), so decoding gives
    the text back. Encoded a block of texts at a time: memory holds the bytes once, and one block."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    pieces = []
    for start in range(0, len(texts), block):
        part = texts[start : start + block]
        raw = "".join(part).encode("utf-8", "surrogatepass")
        if len(raw) != int(lengths[start : start + block].sum()):  # a text not ASCII: more bytes than characters
            for i in [i for i, text in enumerate(part) if not text.isascii()]:
                lengths[start + i] = len(part[i].encode("utf-8", "surrogatepass"))
        pieces.append(raw)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    blob = np.empty(int(offsets[-1]), dtype=np.uint8)
    at = 0
    for raw in pieces:
        blob[at : at + len(raw)] = np.frombuffer(raw, dtype=np.uint8)
        at += len(raw)
    return blob, offsets


def decode(raw) -> str:
    return bytes(raw).decode("utf-8", "surrogatepass")  # encode_texts' bytes back to the text


@dataclass
class Chunk:
    """Some texts tokenized: their own word list, each token's index into it, each text's token count."""

    words: list[str]
    ids: np.ndarray  # int64
    counts: np.ndarray  # int64, one per text


def tokenize_chunk(texts: Sequence[str], lowercase: bool, strip_html: bool) -> Chunk:
    """The tokens of ``texts``, each as tokenizer.tokenize(text, lowercase, strip_html) gives them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = list(texts)
    stripped = np.zeros(len(texts), dtype=bool)  # HTML removed already (by tokenizer.remove_html)
    if strip_html:  # an entity (&amp;, &#39;) becomes a character: html.unescape decides which
        for i in [i for i, t in enumerate(texts) if "&" in t]:
            texts[i], stripped[i] = remove_html(texts[i]), True
    slow = np.array([not t.isascii() for t in texts], dtype=bool)  # left to tokenizer.tokenize itself
    fast = [t if ok else "" for t, ok in zip(texts, ~slow)] if slow.any() else texts
    # One NUL after every text: no word or tag runs from one text into the next.
    raw = "\0".join(fast).encode("ascii") + b"\0"
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, fast), dtype=np.int64, count=len(fast)) + 1, out=offsets[1:])
    if lowercase:
        raw = raw.lower()  # bytes.lower: A-Z alone, as str.lower on ASCII
    blob = np.frombuffer(raw, dtype=np.uint8)
    word = np.frombuffer(raw.translate(_WORD_TABLE), dtype=bool).copy()
    if strip_html:
        word &= ~_tags(blob, offsets, stripped)
    # An apostrophe joins two word characters (never across texts: a NUL is not one).
    word[1:-1] |= (blob[1:-1] == _APOSTROPHE) & word[:-2] & word[2:]
    # Where a token begins or ends, alternately (the last byte is a NUL: every token ends).
    edges = np.flatnonzero(np.diff(word.view(np.int8), prepend=np.int8(0)))
    begins, ends = edges[0::2], edges[1::2]
    token_offsets = np.zeros(len(begins) + 1, dtype=np.int64)
    np.cumsum(ends - begins, out=token_offsets[1:])
    strings = pa.LargeStringArray.from_buffers(len(begins), pa.py_buffer(token_offsets), pa.py_buffer(np.compress(word, blob)))
    encoded = pc.dictionary_encode(strings)
    words = encoded.dictionary.to_pylist()
    ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    counts = np.diff(np.searchsorted(begins, offsets))
    if slow.any():
        words, ids, counts = _with_slow_texts(texts, slow, words, ids, counts, lowercase, strip_html & ~stripped)
    return Chunk(words, ids, counts)


def _tags(blob: np.ndarray, offsets: np.ndarray, stripped: np.ndarray) -> np.ndarray:
    """The bytes of HTML tags, as tokenizer's tag pattern finds them (ASCII texts): a '<', then a
    letter or '/' and a letter, up to the first '>' of the same text with no '<' before it. Texts
    in ``stripped`` have had theirs removed already: what looks like a tag there is text."""
    size = len(blob)
    lts, gts = np.flatnonzero(blob == _LT), np.flatnonzero(blob == _GT)
    mask = np.zeros(size, dtype=bool)
    if not len(lts) or not len(gts):
        return mask
    row = np.searchsorted(offsets, lts, side="right") - 1
    end_of = offsets[1:][row]
    at = np.searchsorted(gts, lts)
    gt = np.where(at < len(gts), gts[np.minimum(at, len(gts) - 1)], size)
    next_lt = np.append(lts[1:], size)
    padded = np.append(blob, np.zeros(2, dtype=np.uint8))
    one, two = padded[lts + 1], padded[lts + 2]
    opens = (_LETTER[one] & (lts + 1 < end_of)) | ((one == _SLASH) & _LETTER[two] & (lts + 2 < end_of))
    ok = opens & (gt < next_lt) & (gt < end_of) & ~stripped[row]
    mask[gather(lts[ok], gt[ok] - lts[ok] + 1)] = True
    return mask


def _with_slow_texts(texts, slow, words, ids, counts, lowercase, strip_html):
    """The chunk's tokens with those of its slow texts (tokenized by tokenizer.tokenize, HTML
    stripped where ``strip_html``; they have none among ``ids``) put in their places."""
    index = {w: i for i, w in enumerate(words)}
    places = np.cumsum(counts) - counts  # where each text's tokens begin among ``ids``
    pieces, done = [], 0
    for row in np.flatnonzero(slow):
        tokens = tokenize(texts[row], lowercase, bool(strip_html[row]))
        pieces.append(ids[done : places[row]])
        pieces.append(np.fromiter((index.setdefault(t, len(index)) for t in tokens), dtype=np.int64, count=len(tokens)))
        done = places[row]
        counts[row] = len(tokens)
    pieces.append(ids[done:])
    return list(index), np.concatenate(pieces), counts


def chunk_bounds(offsets: np.ndarray, chunk_bytes: int | None = None) -> list[tuple[int, int]]:
    """[(first text, end text)) ranges of about ``chunk_bytes`` (CHUNK_BYTES) each, covering every text."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    n = len(offsets) - 1
    cuts = np.searchsorted(offsets, np.arange(0, offsets[-1], max(1, chunk_bytes)), side="right") - 1
    cuts = sorted({0, n, *np.clip(cuts, 0, n).tolist()})
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


class Words:
    """A growing word list: each word's id is its place in first-seen order. A chunk's words are
    looked up in C (pyarrow's index_in); only the new ones are added one by one."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self._known = None  # the words as a pyarrow array, rebuilt when words were added

    def remap(self, words: list[str]) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        if self._known is None or len(self._known) != len(self.words):
            self._known = pa.array(self.words, type=pa.string())
        found = pc.index_in(pa.array(words, type=pa.string()), value_set=self._known).fill_null(-1)
        ids = found.to_numpy(zero_copy_only=False).astype(np.int64)
        missing = np.flatnonzero(ids < 0)
        ids[missing] = np.arange(len(self.words), len(self.words) + len(missing))
        self.words.extend(words[i] for i in missing.tolist())
        return ids


class Tokenizing:
    """Tokenizes texts chunk by chunk on one thread per core. Iterate it for (ids into ``words``,
    each text's token count) in text order; ``words`` is complete after. ``progress`` is told how
    many texts are done (plus ``base``: texts done before these)."""

    def __init__(self, texts: Sequence[str], lowercase: bool, strip_html: bool, progress: Progress | None = None, base: int = 0):
        self.texts, self.flags = texts, (lowercase, strip_html)
        self.progress, self.base = progress, base
        self.vocabulary = Words()

    @property
    def words(self) -> list[str]:
        return list(self.vocabulary.words)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if isinstance(self.texts, TextColumn) and self.texts.rows is None:
            sizes = self.texts.offsets  # bytes for characters: the same chunks, near enough
        else:
            sizes = np.zeros(len(self.texts) + 1, dtype=np.int64)
            np.cumsum(np.fromiter(map(len, self.texts), dtype=np.int64, count=len(self.texts)), out=sizes[1:])
        bounds = chunk_bounds(sizes)

        def work(bound: tuple[int, int]) -> Chunk:
            return tokenize_chunk(self.texts[bound[0] : bound[1]], *self.flags)

        workers = max(1, min(len(bounds), os.cpu_count() or 1))
        with ThreadPoolExecutor(workers) as pool:
            pending = []
            for bound in bounds:
                pending.append((bound, pool.submit(work, bound)))
                while len(pending) > 2 * workers:  # a bounded queue: memory stays a few chunks
                    yield self._merge(*pending.pop(0))
            while pending:
                yield self._merge(*pending.pop(0))

    def _merge(self, bound, future) -> tuple[np.ndarray, np.ndarray]:
        chunk = future.result()
        ids = self.vocabulary.remap(chunk.words)[chunk.ids] if len(chunk.ids) else chunk.ids
        ids = ids.astype(np.uint32)  # the word list stays far below 2**32: half the memory of int64
        if self.progress is not None:
            self.progress(self.base + bound[1])
        return ids, chunk.counts


def smallest_uint(n: int) -> np.dtype:
    """The smallest unsigned integer type that holds 0..n-1."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.uint64)


@dataclass
class Tokens:
    """Texts' tokens: ``ids`` index ``words``; text i's are ids[offsets[i]:offsets[i + 1]]. A view
    of some of the texts (``rows``: which, in order) shares the arrays."""

    words: list[str]
    ids: np.ndarray
    offsets: np.ndarray  # [texts + 1] int64
    flags: tuple[bool, bool]  # (lowercase, strip_html): how the texts were read
    rows: np.ndarray | None = None  # None: every text, in order
    totals: np.ndarray | None = None  # how often each word occurs in all the texts (a cache entry keeps it)
    _counts: np.ndarray | None = field(default=None, repr=False, compare=False)  # word_counts, once

    def __len__(self) -> int:
        return len(self.offsets) - 1 if self.rows is None else len(self.rows)

    def take(self, rows: np.ndarray) -> Tokens:
        rows = np.asarray(rows, dtype=np.int64)
        picked = rows if self.rows is None else self.rows[rows]
        return Tokens(self.words, self.ids, self.offsets, self.flags, picked, self.totals)

    def _spans(self, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(first token, token count) of these texts (of ``rows`` of them)."""
        which = self.rows if rows is None else (rows if self.rows is None else self.rows[rows])
        starts, ends = (self.offsets[:-1], self.offsets[1:]) if which is None else (self.offsets[which], self.offsets[which + 1])
        return starts, ends - starts

    def lengths(self) -> np.ndarray:
        """How many words each text has (int64)."""
        return self._spans()[1]

    def word_counts(self) -> np.ndarray:
        """How often each of ``words`` occurs in these texts (int64, len(words))."""
        if self._counts is None:
            self._counts = self._word_counts()
        return self._counts.copy()

    def _word_counts(self) -> np.ndarray:
        if self.totals is None:
            self.totals = _bincount(self.ids, len(self.words))
        if self.rows is None:
            return self.totals.copy()
        texts = len(self.offsets) - 1
        others = np.ones(texts, dtype=bool)
        others[self.rows] = False
        if int(others.sum()) == texts - len(self.rows) and 2 * len(self.rows) > texts:
            # Most of the texts, each once (a training split): all the counts less the others'.
            return self.totals - self._counts_of(np.flatnonzero(others))
        return self._counts_of(self.rows)

    def _counts_of(self, rows: np.ndarray, block: int = 65536) -> np.ndarray:
        counts = np.zeros(len(self.words), dtype=np.int64)
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        for i in range(0, len(rows), block):
            spans = gather(starts[i : i + block], ends[i : i + block] - starts[i : i + block])
            counts += np.bincount(self.ids[spans], minlength=len(self.words))
        return counts

    def of(self, row: int) -> list[str]:
        """The words of text ``row`` of these texts."""
        start, length = (int(v[0]) for v in self._spans(np.array([row])))
        return [self.words[i] for i in self.ids[start : start + length]]

    def padded(self, lut: np.ndarray, width: int, padding: str, truncating: str, rows: np.ndarray | None = None) -> np.ndarray:
        """[N, width] int64: each text's ids mapped through ``lut`` (word list id -> vocabulary id),
        cut and padded by the one rule (padding.pad_ragged); of ``rows`` of these texts, or all."""
        starts, lengths = self._spans(rows)
        return pad_ragged(self.ids, lut, starts, lengths, width, padding, truncating)


def _bincount(ids: np.ndarray, words: int, block: int = 1 << 24) -> np.ndarray:
    counts = np.zeros(words, dtype=np.int64)
    for i in range(0, len(ids), block):
        counts += np.bincount(ids[i : i + block], minlength=words)
    return counts


def gather(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions starts[i] .. starts[i] + lengths[i] - 1 of every span, in order (int64)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    before = np.cumsum(lengths) - lengths  # where each span begins in the output
    return np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(np.asarray(starts, dtype=np.int64) - before, lengths)


def tokenize_texts(texts: Sequence[str], lowercase: bool, strip_html: bool, progress: Progress | None = None) -> Tokens:
    """The tokens of ``texts`` (a list, or a TextColumn of a file's bytes), in memory."""
    run = Tokenizing(texts, lowercase, strip_html, progress)
    ids, counts = [], []
    for chunk_ids, chunk_counts in run:
        ids.append(chunk_ids)
        counts.append(chunk_counts)
    words = run.words
    token_offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=token_offsets[1:])
    all_ids = np.empty(int(token_offsets[-1]), dtype=smallest_uint(len(words)))
    at = 0
    for piece in ids:  # copied into the narrowest type piece by piece: never two copies of all of them
        all_ids[at : at + len(piece)] = piece
        at += len(piece)
    ids.clear()
    return Tokens(words, all_ids, token_offsets, (lowercase, strip_html))


class TextColumn(Sequence[str]):
    """Texts kept as their UTF-8 bytes end to end (a cache entry's, memory-mapped): text i is
    blob[offsets[i]:offsets[i + 1]], decoded when asked for. ``rows``: which texts, in order."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, rows: np.ndarray | None = None, entry=None):
        self.blob, self.offsets, self.rows = blob, offsets, rows
        self.entry = entry  # the cache entry's folder the bytes are from: facts about them are kept there

    def __len__(self) -> int:
        return len(self.offsets) - 1 if self.rows is None else len(self.rows)

    def _row(self, i: int) -> int:
        return i if self.rows is None else int(self.rows[i])

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step == 1 and self.rows is None:
                return self._run(start, max(start, stop))
            return [self[j] for j in range(start, stop, step)]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        row = self._row(i)
        return decode(np.asarray(self.blob)[self.offsets[row] : self.offsets[row + 1]])

    def __iter__(self) -> Iterator[str]:
        for raw in self.raw:
            yield decode(raw)

    @property
    def raw(self) -> Iterator[memoryview]:
        """Each text's UTF-8 bytes (as encode_texts wrote them), in order."""
        blob, offsets = memoryview(np.asarray(self.blob)), self.offsets
        rows = np.arange(len(self)) if self.rows is None else self.rows
        starts, ends = offsets[rows].tolist(), offsets[rows + 1].tolist()
        for start, end in zip(starts, ends):
            yield blob[start:end]

    def _run(self, start: int, stop: int) -> list[str]:
        """Texts start..stop-1, decoded together (a chunk to tokenize)."""
        offsets = self.offsets[start : stop + 1]
        raw = np.asarray(self.blob)[offsets[0] : offsets[-1]].tobytes()
        bounds = (offsets - offsets[0]).tolist()
        if raw.isascii():  # one character per byte: slice the decoded whole
            whole = raw.decode("ascii")
            return [whole[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        return [raw[a:b].decode("utf-8", "surrogatepass") for a, b in zip(bounds[:-1], bounds[1:])]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (TextColumn, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compared by value, as a list is

    def take(self, rows: np.ndarray) -> TextColumn:
        rows = np.asarray(rows, dtype=np.int64)
        return TextColumn(self.blob, self.offsets, rows if self.rows is None else self.rows[rows], self.entry)
