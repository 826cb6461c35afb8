"""Pretrained word vectors: every format written by hand into tmp_path, no downloads."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from rnnexp.data.embeddings import load_pretrained
from rnnexp.errors import DataError

VECS = {
    "the": [0.1, -0.2, 0.3],
    "cat": [1.5, 0.25, -1.0],
    "dog": [0.0, 2.0, -0.5],
}
VOCAB = ["<pad>", "<oov>", "the", "cat", "zebra", "yak"]


def text_lines(vecs: dict[str, list[float]]) -> list[str]:
    return [word + " " + " ".join(f"{v:.6f}" for v in vec) for word, vec in vecs.items()]


def write_text(path, vecs, header: bool = False, extra: list[str] | None = None):
    lines = text_lines(vecs) + (extra or [])
    if header:
        lines.insert(0, f"{len(vecs)} {len(next(iter(vecs.values())))}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_bin(path, vecs, newline: bool = True, count: int | None = None):
    dim = len(next(iter(vecs.values())))
    out = [f"{count if count is not None else len(vecs)} {dim}\n".encode()]
    for word, vec in vecs.items():
        word_bytes = word if isinstance(word, bytes) else word.encode("utf-8")
        out.append(word_bytes + b" " + struct.pack(f"<{dim}f", *vec) + (b"\n" if newline else b""))
    path.write_bytes(b"".join(out))
    return path


def check_basic(p):
    assert p.dim == 3
    assert p.matrix.shape == (len(VOCAB), 3) and p.matrix.dtype == np.float32
    assert np.all(p.matrix[0] == 0)
    np.testing.assert_allclose(p.matrix[2], VECS["the"], atol=1e-6)
    np.testing.assert_allclose(p.matrix[3], VECS["cat"], atol=1e-6)
    assert p.found == 2 and p.coverage == pytest.approx(2 / 4)
    assert p.missing_examples == ["zebra", "yak"]
    assert np.any(p.matrix[1] != 0) and np.any(p.matrix[4] != 0)


def test_glove_text_without_header(tmp_path):
    check_basic(load_pretrained(write_text(tmp_path / "glove.txt", VECS), VOCAB))


def test_word2vec_text_with_header(tmp_path):
    path = write_text(tmp_path / "w2v.txt", VECS, header=True)
    check_basic(load_pretrained(path, VOCAB))
    # the header "3 3" is not a word whose vector is [3]
    assert load_pretrained(path, ["<pad>", "<oov>", "3"]).found == 0


@pytest.mark.parametrize("newline", [True, False])
def test_word2vec_binary(tmp_path, newline):
    check_basic(load_pretrained(write_bin(tmp_path / "vectors.bin", VECS, newline), VOCAB))


def test_binary_detected_by_content_and_bad_words_skipped(tmp_path):
    vecs = {b"\xff\xfe": [9.0, 9.0, 9.0], **VECS}
    p = load_pretrained(write_bin(tmp_path / "vectors.w2v", vecs), VOCAB)
    check_basic(p)


def test_binary_truncated(tmp_path):
    path = write_bin(tmp_path / "vectors.bin", VECS, count=5)
    with pytest.raises(DataError, match="truncated.*5 vectors.*ends after 3"):
        load_pretrained(path, VOCAB)


def test_bin_extension_without_header(tmp_path):
    with pytest.raises(DataError, match=r"vectors\.bin:1: expected the word2vec binary header"):
        load_pretrained(write_text(tmp_path / "vectors.bin", VECS), VOCAB)


def test_gzip_text(tmp_path):
    path = tmp_path / "glove.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(text_lines(VECS)) + "\n")
    check_basic(load_pretrained(path, VOCAB))


def test_truncated_gzip(tmp_path):
    path = tmp_path / "glove.txt.gz"
    path.write_bytes(gzip.compress(("\n".join(text_lines(VECS)) + "\n").encode())[:-12])
    with pytest.raises(DataError, match="cannot read"):
        load_pretrained(path, VOCAB)


def test_missing_rows_seeded_and_on_the_same_scale(tmp_path):
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(300)]
    vecs = {w: (rng.normal(0.5, 2.0, 40)).tolist() for w in words}
    path = write_text(tmp_path / "big.txt", vecs)
    vocab = ["<pad>", "<oov>", *words, *[f"unk{i}" for i in range(200)]]
    a = load_pretrained(path, vocab, seed=3)
    b = load_pretrained(path, vocab, seed=3)
    c = load_pretrained(path, vocab, seed=4)
    assert a.found == 300 and a.coverage == pytest.approx(0.6)
    assert a.missing_examples == [f"unk{i}" for i in range(10)]
    np.testing.assert_array_equal(a.matrix, b.matrix)
    assert not np.allclose(a.matrix[1], c.matrix[1]) and not np.allclose(a.matrix[302:], c.matrix[302:])
    np.testing.assert_array_equal(a.matrix[2:302], c.matrix[2:302])
    known, unknown = a.matrix[2:302], a.matrix[302:]
    assert unknown.mean() == pytest.approx(known.mean(), abs=0.1)
    assert unknown.std() == pytest.approx(known.std(), rel=0.05)


def test_case_insensitive_fallback(tmp_path):
    vecs = {"The": [1.0, 1.0, 1.0], "Paris": [2.0, 2.0, 2.0], "PARIS": [3.0, 3.0, 3.0], "the": [4.0, 4.0, 4.0]}
    path = write_text(tmp_path / "cased.txt", vecs)
    vocab = ["<pad>", "<oov>", "the", "paris"]
    p = load_pretrained(path, vocab)
    assert p.found == 2
    assert p.matrix[2].tolist() == [4.0, 4.0, 4.0]  # exact match wins over an earlier cased one
    assert p.matrix[3].tolist() == [2.0, 2.0, 2.0]  # first cased occurrence wins
    assert load_pretrained(path, vocab, lowercase=False).found == 1


def test_glove_words_with_spaces(tmp_path):
    path = write_text(tmp_path / "glove.840B.txt", VECS, extra=[". . . 0.5 0.5 0.5", "at name@domain.com 0.7 0.8 0.9"])
    p = load_pretrained(path, ["<pad>", "<oov>", ". . .", "at name@domain.com", "the"])
    assert p.found == 3
    assert p.matrix[2].tolist() == [0.5, 0.5, 0.5]
    np.testing.assert_allclose(p.matrix[3], [0.7, 0.8, 0.9], atol=1e-6)


@pytest.mark.parametrize(("line", "count"), [("yak 0.1 0.2", 2), ("yak 0.1 0.2 0.3 0.4", 4)])
def test_wrong_dimension_line(tmp_path, line, count):
    path = write_text(tmp_path / "glove.txt", VECS, extra=[line])
    with pytest.raises(DataError, match=rf"glove\.txt:4: {count} values after the word, expected 3"):
        load_pretrained(path, VOCAB)


def test_wrong_dimension_against_header(tmp_path):
    path = write_text(tmp_path / "w2v.txt", VECS, header=True, extra=["yak 0.1"])
    with pytest.raises(DataError, match=r"w2v\.txt:5: 1 values after the word, expected 3 like the header"):
        load_pretrained(path, VOCAB)


def test_non_number_value(tmp_path):
    path = write_text(tmp_path / "glove.txt", VECS, extra=["yak 0.1 abc 0.3"])
    with pytest.raises(DataError, match=r"glove\.txt:4: the vector of 'yak'"):
        load_pretrained(path, VOCAB)


@pytest.mark.parametrize("fmt", ["text", "binary"])
def test_expected_dim_mismatch(tmp_path, fmt):
    path = write_text(tmp_path / "v.txt", VECS) if fmt == "text" else write_bin(tmp_path / "v.bin", VECS)
    with pytest.raises(DataError, match=r"3 dimensions but model\.embedding_dims is 300.*set model\.embedding_dims to 3"):
        load_pretrained(path, VOCAB, expected_dim=300)
    assert load_pretrained(path, VOCAB, expected_dim=3).dim == 3


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match="empty"):
        load_pretrained(path, VOCAB)


def test_header_only(tmp_path):
    path = tmp_path / "w2v.txt"
    path.write_text("0 3\n")
    with pytest.raises(DataError, match="no word vectors in the file after the header"):
        load_pretrained(path, VOCAB)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.txt: word vector file not found"):
        load_pretrained(tmp_path / "nope.txt", VOCAB)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("\n".join(text_lines(VECS)).encode() + "\ncafé 0.1 0.2 0.3\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.txt:4: not valid UTF-8"):
        load_pretrained(path, VOCAB)


def test_messages_are_one_line(tmp_path):
    path = write_text(tmp_path / "glove.txt", VECS, extra=["yak 0.1"])
    with pytest.raises(DataError) as info:
        load_pretrained(path, VOCAB)
    assert "\n" not in str(info.value)


def test_vocabulary_without_words(tmp_path):
    p = load_pretrained(write_text(tmp_path / "glove.txt", VECS), ["<pad>", "<oov>"])
    assert p.found == 0 and p.coverage == 0.0 and p.missing_examples == []
    assert np.all(p.matrix[0] == 0) and np.any(p.matrix[1] != 0)
