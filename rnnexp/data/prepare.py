"""Texts tokenized once, in one pass, into compact arrays: every word a text holds as an id into
the file's own word list, a text's words contiguous. The vocabulary's counts, the padded ids of any
batch, the lengths the setup lines print: all come from these arrays, with no second tokenizing.

The rule stays tokenizer.tokenize's. Texts of ASCII characters only (nearly all of most corpora)
are tokenized by whole chunks in numpy, byte by byte, with the same rule spelled for bytes: on
ASCII, Python's ``\\w`` is [A-Za-z0-9_] and ``str.lower`` maps A-Z alone; an apostrophe joins two
words exactly when a word character is on each side of it; an HTML tag is a '<' then a letter (or
'/' and a letter) up to the first '>' with no '<' before it. Where HTML is stripped, a text
with an entity ('&') loses its HTML by tokenizer.remove_html first (html.unescape decides what an
entity is). A text holding any other character goes through tokenizer.tokenize itself.
tests/test_prepare.py checks the two agree on every text of the shipped datasets and on
generated ones. Chunks are tokenized on threads, one per core: numpy and pyarrow release the GIL.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

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
_APOSTROPHE, _LT, _GT, _SLASH = (ord(c) for c in "'<>/")

Progress = Callable[[int], None]  # called with how many texts are done so far


def encode_texts(texts: Sequence[str], block: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """(the texts' UTF-8 bytes, one after the other, uint8; [n + 1] int64 byte offsets). Lone
    surrogates (a JSON file may hold them) are kept as they are (surrogatepass), so decoding gives
    the text back. Each text is encoded on its own (joining them first would widen every character
    of a block to the widest one's size), a block at a time."""
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    pieces = []
    for start in range(0, len(texts), block):
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts[start : start + block]]
        offsets[start + 1 : start + 1 + len(encoded)] = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        pieces.append(b"".join(encoded))
    np.cumsum(offsets, out=offsets)
    raw = b"".join(pieces)
    pieces.clear()
    return np.frombuffer(raw, dtype=np.uint8), offsets


def decode(raw) -> str:
    return bytes(raw).decode("utf-8", "surrogatepass")  # encode_texts' bytes back to the text


@dataclass
class Chunk:
    """Some texts tokenized: their own word list, each token's index into it, each text's token count."""

    words: Any  # a pyarrow string array
    ids: np.ndarray  # int64
    counts: np.ndarray  # int64, one per text


def tokenize_chunk(raw: bytes, offsets: np.ndarray, lowercase: bool, strip_html: bool) -> Chunk:
    """The tokens of the texts whose UTF-8 bytes are ``raw`` (text i: raw[offsets[i]:offsets[i + 1]],
    offsets from 0), each as tokenizer.tokenize(text, lowercase, strip_html) gives them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    bounds = offsets.tolist()
    pieces = [raw[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    stripped = np.zeros(len(pieces), dtype=bool)  # HTML removed already (by tokenizer.remove_html)
    slow = np.zeros(len(pieces), dtype=bool)  # left to tokenizer.tokenize itself: not ASCII
    if strip_html and raw.find(b"&") >= 0:  # an entity (&amp;, &#39;) becomes a character: html.unescape decides
        for i in [i for i, piece in enumerate(pieces) if b"&" in piece]:
            pieces[i], stripped[i] = remove_html(decode(pieces[i])).encode("utf-8", "surrogatepass"), True
    if not raw.isascii() or stripped.any():
        for i in [i for i, piece in enumerate(pieces) if not piece.isascii()]:
            slow[i], pieces[i] = True, b""
    # One NUL after every text: no word or tag runs from one text into the next.
    joined = b"\0".join(pieces) + b"\0"
    starts = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces)) + 1, out=starts[1:])
    if lowercase:
        joined = joined.lower()  # bytes.lower: A-Z alone, as str.lower on ASCII
    blob = np.frombuffer(joined, dtype=np.uint8)
    word = np.frombuffer(joined.translate(_WORD_TABLE), dtype=bool).copy()
    if strip_html and joined.find(b"<") >= 0:
        word &= ~_tags(blob, starts, stripped)
    # An apostrophe joins two word characters (never across texts: a NUL is not one).
    word[1:-1] |= (blob[1:-1] == _APOSTROPHE) & word[:-2] & word[2:]
    # Where a token begins or ends, alternately (the last byte is a NUL: every token ends). A
    # comparison of neighbours, not np.diff: 3x faster (no int8 copy, no prepended array).
    change = np.empty(len(word), dtype=bool)
    change[:1] = word[:1]
    np.not_equal(word[1:], word[:-1], out=change[1:])
    edges = np.flatnonzero(change)
    begins, ends = edges[0::2], edges[1::2]
    token_offsets = np.zeros(len(begins) + 1, dtype=np.int64)
    np.cumsum(ends - begins, out=token_offsets[1:])
    strings = pa.LargeStringArray.from_buffers(len(begins), pa.py_buffer(token_offsets), pa.py_buffer(np.compress(word, blob)))
    counts = np.diff(np.searchsorted(begins, starts))
    encoded = pc.dictionary_encode(strings)
    words, ids = encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if slow.any():
        texts = {i: decode(raw[bounds[i] : bounds[i + 1]]) for i in np.flatnonzero(slow).tolist()}
        words, ids, counts = _with_slow_texts(words, ids, counts, texts, slow, lowercase, strip_html)
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


def _with_slow_texts(words, ids, counts, texts, slow, lowercase, strip_html):
    """The chunk's word list and ids with the tokens of its slow texts (``texts``: row -> the text
    as read, tokenized by tokenizer.tokenize; ``ids`` has none of theirs) put in their places:
    their words looked up in the list (added when new), the ids merged by position."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = np.flatnonzero(slow)
    found = [tokenize(texts[row], lowercase, strip_html) for row in rows]
    extra = pa.array([token for tokens in found for token in tokens], type=words.type)
    extra_ids = pc.index_in(extra, value_set=words).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    new = np.flatnonzero(extra_ids < 0)
    if len(new):
        fresh = pc.unique(extra.take(pa.array(new)))
        extra_ids[new] = pc.index_in(extra.take(pa.array(new)), value_set=fresh).to_numpy(zero_copy_only=False) + len(words)
        words = pa.concat_arrays([words, fresh])
    counts = counts.copy()
    counts[rows] = [len(tokens) for tokens in found]
    places = np.cumsum(counts) - counts  # where each text's tokens go
    merged = np.empty(int(counts.sum()), dtype=np.int64)
    fast = np.ones(len(counts), dtype=bool)
    fast[rows] = False
    fast_counts = counts[fast]
    rank = np.arange(len(ids)) - np.repeat(np.cumsum(fast_counts) - fast_counts, fast_counts)
    merged[np.repeat(places[fast], fast_counts) + rank] = ids
    slow_counts = counts[rows]
    rank = np.arange(len(extra_ids)) - np.repeat(np.cumsum(slow_counts) - slow_counts, slow_counts)
    merged[np.repeat(places[rows], slow_counts) + rank] = extra_ids
    return words, merged, counts


def chunk_bounds(offsets: np.ndarray, chunk_bytes: int | None = None) -> list[tuple[int, int]]:
    """[(first text, end text)) ranges of about ``chunk_bytes`` (CHUNK_BYTES) each, covering every text."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    n = len(offsets) - 1
    cuts = np.searchsorted(offsets, np.arange(0, offsets[-1], max(1, chunk_bytes)), side="right") - 1
    cuts = sorted({0, n, *np.clip(cuts, 0, n).tolist()})
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


class Words:
    """A growing word list: each word's id is its place in first-seen order. A chunk's words are
    looked up in C (pyarrow's index_in), and the new ones appended, with no Python string made."""

    def __init__(self) -> None:
        import pyarrow as pa

        self.known = pa.array([], type=pa.large_string())

    def remap(self, words) -> np.ndarray:
        """Each of ``words``' (a pyarrow string array) id in the list, the new ones added."""
        import pyarrow as pa
        import pyarrow.compute as pc

        words = words.cast(pa.large_string())
        ids = pc.index_in(words, value_set=self.known).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        missing = np.flatnonzero(ids < 0)
        if len(missing):
            ids[missing] = np.arange(len(self.known), len(self.known) + len(missing))
            self.known = pa.concat_arrays([self.known, words.take(pa.array(missing))])
        return ids

    @property
    def words(self) -> list[str]:
        return self.known.to_pylist()


class Tokenizing:
    """Tokenizes texts held as UTF-8 bytes (``blob``, ``offsets``: prepare.encode_texts), a chunk of
    them at a time, on one thread per core (numpy and pyarrow release the GIL; worker processes
    measured no faster on 2 cores, the chunks' bytes going to them and back). Iterate it for (ids
    into ``words``, each text's token count) in text order; ``words`` is complete after.
    ``progress`` is told how many texts are done."""

    def __init__(
        self, blob: np.ndarray, offsets: np.ndarray, lowercase: bool, strip_html: bool, progress: Progress | None = None
    ):
        self.blob, self.offsets, self.flags = blob, offsets, (lowercase, strip_html)
        self.progress = progress
        self.vocabulary = Words()
        self.totals = np.zeros(0, dtype=np.int64)  # how often each word of the list occurs, so far

    @property
    def words(self) -> list[str]:
        return self.vocabulary.words

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        bounds = chunk_bounds(self.offsets)
        blob, offsets = np.asarray(self.blob), self.offsets
        workers = max(1, min(len(bounds), os.cpu_count() or 1))
        with ThreadPoolExecutor(workers) as pool:
            pending = []
            for a, b in bounds:
                raw = blob[offsets[a] : offsets[b]].tobytes()
                pending.append((b, pool.submit(_counted, raw, offsets[a : b + 1] - offsets[a], *self.flags)))
                while len(pending) > 2 * workers:  # a bounded queue: memory stays a few chunks
                    yield self._merge(*pending.pop(0))
            while pending:
                yield self._merge(*pending.pop(0))

    def _merge(self, done: int, future) -> tuple[np.ndarray, np.ndarray]:
        chunk, uses = future.result()
        places = self.vocabulary.remap(chunk.words)  # each of the chunk's words' id in the list
        if len(self.totals) < len(self.vocabulary.known):
            self.totals = np.concatenate([self.totals, np.zeros(len(self.vocabulary.known) - len(self.totals), np.int64)])
        self.totals[places] += uses  # a chunk's words are distinct: no place twice
        ids = places[chunk.ids] if len(chunk.ids) else chunk.ids
        ids = ids.astype(np.uint32)  # the word list stays far below 2**32: half the memory of int64
        if self.progress is not None:
            self.progress(done)
        return ids, chunk.counts


def _counted(raw: bytes, offsets: np.ndarray, lowercase: bool, strip_html: bool) -> tuple[Chunk, np.ndarray]:
    """tokenize_chunk, and how often each of the chunk's words occurs in it (on the worker's thread:
    counting the whole file's ids at the end took a second pass over them, 0.4 s at 1M texts)."""
    chunk = tokenize_chunk(raw, offsets, lowercase, strip_html)
    return chunk, np.bincount(chunk.ids, minlength=len(chunk.words)).astype(np.int64)


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
    """The tokens of ``texts`` (a list, or a TextColumn: its bytes as they are), in memory."""
    if isinstance(texts, TextColumn) and texts.rows is None:
        blob, offsets = texts.blob, texts.offsets
    else:
        blob, offsets = encode_texts(texts)
    return tokenize_blob(blob, offsets, lowercase, strip_html, progress)


def tokenize_blob(
    blob: np.ndarray, offsets: np.ndarray, lowercase: bool, strip_html: bool, progress: Progress | None = None
) -> Tokens:
    """The tokens of the texts held as UTF-8 bytes (encode_texts)."""
    run = Tokenizing(blob, offsets, lowercase, strip_html, progress)
    ids, counts = [], []
    for chunk_ids, chunk_counts in run:
        ids.append(chunk_ids)
        counts.append(chunk_counts)
    words = run.words
    token_offsets = np.zeros(len(offsets), dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=token_offsets[1:])
    all_ids = np.empty(int(token_offsets[-1]), dtype=smallest_uint(len(words)))
    at = 0
    for piece in ids:  # copied into the narrowest type piece by piece: never two copies of all of them
        all_ids[at : at + len(piece)] = piece
        at += len(piece)
    ids.clear()
    return Tokens(words, all_ids, token_offsets, (lowercase, strip_html), totals=run.totals[: len(words)].copy())


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
