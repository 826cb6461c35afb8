"""model.preprocessing.json is enough to serve the exported model: code with only that JSON, Python's
re and html (no rnnexp) turns texts into exactly the ids `predict` feeds the model; and runs of a
version before data.strip_html load, predict, evaluate and export as that version did."""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_config_dict
from rnnexp import checkpoint, training
from rnnexp.config import Config
from rnnexp.data import Preprocessor
from rnnexp.export import export
from rnnexp.scoring import evaluate, predict

LONG = " ".join(f"word{i} Great" for i in range(30))  # 60 words: more than maxlen
TEXTS = [
    "Great coffee, GREAT price!!! (really...)",  # punctuation, upper case
    "don't it's rock'n'roll 'quoted' dogs' o'clock",  # apostrophes inside and around words
    "Café naïve STRASSE straße Ünïcödé 日本語",  # letters beyond ASCII
    "10/10 would buy 2x, 3.5 stars, 100%",  # digits
    "zzqx flurble wibble great",  # words the vocabulary lacks
    "",
    "!!! ...",  # no word at all
    LONG,
    'good.<br />Great &amp; cheap &quot;tasty&quot; don&#39;t <a href="x">link</a> <3 &lt;b&gt;',  # HTML
]
HTML = TEXTS[-1]


def serve(text: str, prep: dict) -> list[int]:
    """A text's ids from model.preprocessing.json alone, as its tokenizer.steps say."""
    rule = prep["tokenizer"]
    if prep["strip_html"]:
        text = html.unescape(re.sub(rule["html_tag_pattern"], " ", text))
    if prep["lowercase"]:
        text = text.lower()
    index = {word: i for i, word in enumerate(prep["vocab"])}
    ids = [index.get(word, rule["oov_id"]) for word in re.findall(rule["word_pattern"], text)]
    n = prep["maxlen"]
    if len(ids) > n:
        ids = ids[-n:] if prep["truncating"] == "pre" else ids[:n]
    fill = [rule["pad_id"]] * (n - len(ids))
    return fill + ids if prep["padding"] == "pre" else ids + fill


# Every choice tokenizing depends on, in two runs.
SETUPS = {
    "html stripped, lower-cased, pre": {"strip_html": True, "maxlen": 12},
    "html kept, case kept, post": {"strip_html": False, "lowercase": False, "padding": "post", "truncating": "post", "maxlen": 9},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    path = folder / "train.csv"
    rows = [(text, "ab"[i % 2]) for i, text in enumerate(t for t in TEXTS if t and "zzqx" not in t)]
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *(rows * 4)])
    made = {}
    for name, data in SETUPS.items():
        data = {**data, "val_split": 0.25, "test_split": 0.0, "max_vocab": None}
        sections = {"data": data, "model": {"embedding_dims": 8, "num_neurons": 8}, "train": {"epochs": 1}}
        raw = tiny_config_dict({"train": path, "test": path}, **sections)
        del raw["data"]["test_file"]
        made[name] = Path(training.train(Config.model_validate(raw), folder / "runs").run_dir)
    return made


def predicted_ids(run, texts, monkeypatch, **kw):
    """(predict's result, the ids it fed the model)."""
    fed = []
    encode = Preprocessor.encode_texts

    def recording(self, texts):
        fed.append(encode(self, texts))
        return fed[-1]

    monkeypatch.setattr(Preprocessor, "encode_texts", recording)
    res = predict(run, texts=texts, **kw)
    monkeypatch.undo()
    return res, np.concatenate(fed).tolist()


@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_the_exported_json_alone_tokenizes_texts_as_predict_does(runs, setup, monkeypatch):
    out = export(runs[setup])
    prep = json.loads(open(out["preprocessing"], encoding="utf-8").read())
    assert prep["strip_html"] is SETUPS[setup]["strip_html"] and prep["maxlen"] == SETUPS[setup]["maxlen"]
    res, fed = predicted_ids(runs[setup], TEXTS, monkeypatch)
    served = [serve(text, prep) for text in TEXTS]
    assert served == fed
    assert any(1 in ids for ids in served) and served[TEXTS.index("")] == [0] * prep["maxlen"]  # unknown words, empty
    assert len({tuple(ids) for ids in served}) == len(TEXTS) - 1  # only the two wordless texts coincide
    # The exported model on those ids gives predict's probabilities: the JSON and the model serve the run.
    with torch.no_grad():
        probs = torch.softmax(torch.jit.load(out["path"])(torch.tensor(served)), dim=-1).numpy()
    expected = [[row["probabilities"][label] for label in res["labels"]] for row in res["predictions"]]
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    # The run's own preprocessing.json says the same.
    own = json.loads((runs[setup] / "preprocessing.json").read_text(encoding="utf-8"))
    assert {k: own[k] for k in ("strip_html", "tokenizer", "vocab")} == {k: prep[k] for k in ("strip_html", "tokenizer", "vocab")}


def test_a_run_from_before_strip_html_predicts_evaluates_and_exports_as_then(runs, tmp_path, monkeypatch):
    new = runs["html stripped, lower-cased, pre"]
    old = tmp_path / new.name
    shutil.copytree(new, old)
    for path in (old / "preprocessing.json", *sorted((old / "checkpoints").glob("*.pt"))):  # as an older version wrote them
        if path.suffix == ".json":
            prep = json.loads(path.read_text(encoding="utf-8"))
            path.write_text(json.dumps({k: v for k, v in prep.items() if k not in ("strip_html", "tokenizer")}))
        else:
            state = checkpoint.load(path)
            state["preprocessing"] = {k: v for k, v in state["preprocessing"].items() if k not in ("strip_html", "tokenizer")}
            checkpoint.save(state, path)
    assert "strip_html: true" in (old / "config.yaml").read_text()  # the config says strip; the run never did
    texts = [HTML, TEXTS[0]]
    (_, fed_new), (res, fed_old) = predicted_ids(new, texts, monkeypatch), predicted_ids(old, texts, monkeypatch)
    kept = {**json.loads((new / "preprocessing.json").read_text(encoding="utf-8")), "strip_html": False}
    assert fed_old == [serve(t, kept) for t in texts] and fed_old[0] != fed_new[0] and fed_old[1:] == fed_new[1:]
    assert res["predictions"][0]["tokens"] == len(re.findall(kept["tokenizer"]["word_pattern"], HTML.lower()))  # br, amp, ...
    report = evaluate(old, split="val")
    assert report["examples"] == evaluate(new, split="val")["examples"] and 0 <= report["accuracy"] <= 1
    prep = json.loads(open(export(old)["preprocessing"], encoding="utf-8").read())
    assert prep["strip_html"] is False and prep["tokenizer"] == kept["tokenizer"]
