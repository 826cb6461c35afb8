from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import SHARED_DATA, tiny_config_dict
from rnnexp import training
from rnnexp.config import Config, ModelConfig
from rnnexp.data import Preprocessor, load_splits
from rnnexp.errors import DataError
from rnnexp.model import build_model
from rnnexp.scoring import evaluate


@pytest.fixture(scope="module")
def run(tiny_data, tmp_path_factory):
    cfg = Config.model_validate(tiny_config_dict(tiny_data, train={"epochs": 2, "baselines": True}))
    return training.train(cfg, tmp_path_factory.mktemp("runs")).run_dir


def test_report_matches_an_independent_recomputation(run):
    report = evaluate(run, which="last", split="test")
    assert json.loads(open(f"{run}/eval_test.json").read()) == report
    # recompute by hand from the checkpoint and the raw test split
    state = torch.load(f"{run}/checkpoints/last.pt", weights_only=True)
    prep = Preprocessor.from_dict(state["preprocessing"])
    model = build_model(ModelConfig(**state["model_config"]), state["input"], state["output_size"])
    model.load_state_dict(state["model"])
    model.eval()
    test = load_splits(Config.model_validate(json.loads(json.dumps(state["config"]))).data).test
    with torch.no_grad():
        pred = model(torch.from_numpy(prep.encode_texts(test.texts))).argmax(1).numpy()
    truth = prep.encode_labels(test)
    assert report["examples"] == 80 and report["accuracy"] == pytest.approx(float((pred == truth).mean()))
    cm = np.array(report["confusion_matrix"]["rows_true_cols_pred"])
    assert cm.sum() == 80 and np.trace(cm) == round(report["accuracy"] * 80)
    assert report["data_matches_training"] is True


@pytest.mark.parametrize("positive", [None, "great"])  # None: the second label in sorted order, "other"
def test_every_score_of_evaluate_is_scikit_learns_on_its_saved_predictions(tiny_data, tmp_path, positive):
    """Each score of the report, recomputed by scikit-learn from the predictions file evaluate wrote
    (true label, predicted label, each class's probability): precision, recall and F1 of
    data.positive_label, balanced accuracy, ROC-AUC and PR-AUC of its probability, the macro and
    per-class scores, the loss and the confusion matrix."""
    import csv

    from sklearn import metrics as skm

    data = {"positive_label": positive} if positive else {}
    cfg = Config.model_validate(tiny_config_dict(tiny_data, data=data, train={"epochs": 6, "lr": 0.01}))
    run = training.train(cfg, tmp_path / "runs").run_dir
    report = evaluate(run, which="last", split="test", predictions=tmp_path / "p.csv")
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    labels = [c[2:] for c in rows[0] if c.startswith("p_")]
    pos = positive or sorted(labels)[1]
    truth, pred = [r["true"] for r in rows], [r["predicted"] for r in rows]
    probs = np.array([[float(r[f"p_{c}"]) for c in labels] for r in rows])
    assert len(set(pred)) == 2, "a model that predicts one class leaves precision untested"
    assert report["positive_label"] == pos and report["examples"] == len(rows) == 80
    assert report["accuracy"] == pytest.approx(skm.accuracy_score(truth, pred))
    assert report["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(truth, pred))
    for name, score in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        assert report[name] == pytest.approx(score(truth, pred, pos_label=pos, zero_division=0)), name
        assert report["macro"][name] == pytest.approx(score(truth, pred, average="macro", zero_division=0)), name
        for c in labels:
            assert report["per_class"][c][name] == pytest.approx(score(truth, pred, pos_label=c, zero_division=0)), (name, c)
    is_pos = [t == pos for t in truth]
    assert report["roc_auc"] == pytest.approx(skm.roc_auc_score(is_pos, probs[:, labels.index(pos)]))
    assert report["pr_auc"] == pytest.approx(skm.average_precision_score(is_pos, probs[:, labels.index(pos)]))
    assert report["loss"] == pytest.approx(skm.log_loss(truth, probs, labels=labels), rel=1e-5)
    assert report["confusion_matrix"] == {
        "labels": labels,
        "rows_true_cols_pred": skm.confusion_matrix(truth, pred, labels=labels).tolist(),
    }
    assert {c: report["per_class"][c]["support"] for c in labels} == {c: truth.count(c) for c in labels}


def test_majority_baseline_is_the_training_majority_on_the_same_split(run):
    report = evaluate(run, split="test")
    base = report["baseline"]
    meta = json.loads(open(f"{run}/meta.json").read())
    counts = meta["data"]["class_counts"]["train"]
    assert base["predicts"] == max(counts, key=counts.get)
    test_counts = meta["data"]["class_counts"]["test"]
    assert base["accuracy"] == pytest.approx(test_counts[base["predicts"]] / sum(test_counts.values()))


def test_stratified_baseline_is_the_exact_expected_accuracy_of_frequency_guessing(run):
    import numpy as np

    from rnnexp.tasks.classify import stratified_baseline

    report = evaluate(run, split="test")
    meta = json.loads(open(f"{run}/meta.json").read())
    train, test = meta["data"]["class_counts"]["train"], meta["data"]["class_counts"]["test"]
    expected = sum(train[c] / sum(train.values()) * test.get(c, 0) / sum(test.values()) for c in train)
    labels = sorted(train)
    share = {c: train[c] / sum(train.values()) for c in labels}
    assert report["stratified_baseline"] == {
        "kind": "stratified",
        "expected_accuracy": pytest.approx(expected),
        "expected_balanced_accuracy": pytest.approx(np.mean([share[c] for c in labels if test.get(c)])),
        # its probabilities are the training frequencies, the same for every example: no ranking
        "roc_auc": 0.5,
        "pr_auc": pytest.approx(test[labels[1]] / sum(test.values())),
    }
    # against guessing by simulation: 20,000 draws of the same guesser land on the expectation
    truth = np.array([labels.index(c) for c in labels for _ in range(test.get(c, 0))])
    rng = np.random.default_rng(0)
    p = np.array([train[c] for c in labels]) / sum(train.values())
    guesses = rng.choice(len(labels), size=(20_000, len(truth)), p=p)
    recalls = [(guesses[:, truth == k] == k).mean(axis=1) for k in range(len(labels)) if (truth == k).any()]
    simulated = stratified_baseline(train, labels, truth)
    assert simulated["expected_accuracy"] == pytest.approx((guesses == truth).mean(), abs=0.003)
    assert simulated["expected_balanced_accuracy"] == pytest.approx(np.mean(recalls), abs=0.003)


@pytest.mark.parametrize(
    "counts, predicts, tied",
    [({"a": 5, "b": 5, "c": 1}, "a", ["b"]), ({"a": 1, "b": 7, "c": 7}, "b", ["c"]), ({"a": 2, "b": 3}, "b", [])],
)
def test_majority_baseline_names_classes_tied_in_training(counts, predicts, tied):
    import numpy as np

    from rnnexp.tasks.classify import majority_baseline

    labels = sorted(counts)
    base = majority_baseline(counts, labels, np.array([0, 1, 1]), None)
    assert (base["predicts"], base["tied_with"]) == (predicts, tied)


def test_checkpoint_choice_and_val_split(run):
    auto = evaluate(run)  # restore_best default true -> best
    assert auto["checkpoint"] == "best"
    best = torch.load(f"{run}/checkpoints/best.pt", weights_only=True)
    assert auto["checkpoint_epoch"] == best["epoch"]
    val = evaluate(run, split="val")
    assert val["examples"] == 48 and __import__("pathlib").Path(f"{run}/eval_val.json").is_file()


def test_evaluate_a_file_and_unknown_label(run, tmp_path):
    good = tmp_path / "more.csv"
    good.write_text("text,label\ngreat taste,great\nawful stuff,other\n")
    report = evaluate(run, data_file=good)
    assert report["examples"] == 2 and report["split"] == "file-more" and report["data_matches_training"] is None
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,meh\n")
    with pytest.raises(DataError, match="label 'meh', not seen in training"):
        evaluate(run, data_file=bad)


@pytest.mark.skipif(not (SHARED_DATA / "uci-sentiment").is_dir(), reason="../shared/data/uci-sentiment not present")
def test_multiclass_run_reports_macro_scores(tmp_path):
    """Real 3-class data: which site (amazon, imdb, yelp) a UCI sentence comes from."""
    rows = []
    for site in ("amazon_cells", "imdb", "yelp"):
        lines = (SHARED_DATA / "uci-sentiment" / f"{site}_labelled.txt").read_text().splitlines()[:150]
        rows += [{"sentence": line.rpartition("\t")[0], "site": site.split("_")[0]} for line in lines]
    data = tmp_path / "sites.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = Config.model_validate(
        {
            "data": {"train_file": str(data), "text_column": "sentence", "label_column": "site", "maxlen": 30},
            "model": {"cell": "lstm", "embedding_dims": 16, "num_neurons": 16},
            "train": {"epochs": 2, "batch_size": 16, "lr": 0.01},
        }
    )
    run = training.train(cfg, tmp_path / "runs").run_dir
    report = evaluate(run)
    assert report["average"] == "macro" and report["positive_label"] is None
    assert set(report["per_class"]) == {"amazon", "imdb", "yelp"}
    assert np.array(report["confusion_matrix"]["rows_true_cols_pred"]).shape == (3, 3)
    assert report["f1"] == pytest.approx(np.mean([c["f1"] for c in report["per_class"].values()]))
    assert report["examples"] == 45 and report["baseline"]["accuracy"] == pytest.approx(1 / 3)


def test_verdict_takes_the_metric_direction_and_a_tie_does_not_beat():
    from rnnexp.metrics import verdict

    assert verdict(0.8, {"majority_class": 0.6, "tfidf_logreg": 0.85}, "accuracy")["strongest"] == "tfidf_logreg"
    assert verdict(0.9, {"majority_class": 0.6, "tfidf_logreg": 0.85}, "accuracy")["beats"] is True
    assert verdict(0.85, {"tfidf_logreg": 0.85}, "accuracy")["beats"] is False
    low = verdict(3.0, {"persistence": 4.0, "seasonal_naive": 2.5, "linear_ar": 2.9}, "mae")
    assert (low["strongest"], low["strongest_value"], low["beats"]) == ("seasonal_naive", 2.5, False)


def _word_data(path, n=200):
    """The label is said by one word: a bag of words gets every test example right."""
    import random

    rng = random.Random(3)
    filler = ["the", "a", "food", "was", "very", "it", "and", "we", "ate", "here"]
    rows = []
    for i in range(n):
        label = i % 2
        words = rng.sample(filler, 6) + ["splendid" if label else "dreadful"]
        rng.shuffle(words)
        rows.append(f"{' '.join(words)},{label}\n")
    path.write_text("text,label\n" + "".join(rows))


def test_gate_baseline_exits_1_when_a_simple_model_does_better(tmp_path):
    import yaml

    from conftest import run_cli

    data = tmp_path / "words.csv"
    _word_data(data)
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"train_file": str(data), "maxlen": 10},
                "model": {"num_neurons": 4, "embedding_dims": 4},
                "train": {"epochs": 1, "lr": 1e-6, "early_stopping": {"enabled": False}},  # learns nothing
            }
        )
    )
    proc = run_cli("train", config, "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads(proc.stdout)["run_dir"]
    proc = run_cli("evaluate", run, "--gate", "baseline", "--json")
    report = json.loads(proc.stdout)
    assert report["baselines"]["tfidf_logreg"]["accuracy"] == 1.0
    assert report["verdict"] == {**report["verdict"], "strongest": "tfidf_logreg", "beats": False}
    assert (
        proc.returncode == 1 and "does not beat the TF-IDF + logistic regression baseline's 1 (--gate baseline)" in proc.stderr
    ), proc.stderr
    plain = run_cli("evaluate", run)
    assert plain.returncode == 0 and "does NOT beat the TF-IDF + logistic regression baseline (1)" in plain.stdout, plain.stdout
    from typer.testing import CliRunner

    from rnnexp.cli import app

    skipped = CliRunner().invoke(app, ["evaluate", run, "--no-baselines", "--json"])
    assert skipped.exit_code == 0 and set(json.loads(skipped.stdout)["baselines"]) == {"majority_class", "stratified"}


def test_forecast_gate_names_the_linear_model_when_it_wins(tmp_path):
    import math

    import yaml

    from conftest import run_cli

    # y is x one step later: a linear model on the window of both knows the next y exactly, and no
    # model of y alone (the statistical ones) can, x being noise.
    x = [math.sin(i * i) for i in range(401)]
    series = tmp_path / "lead.csv"
    series.write_text("y,x\n" + "".join(f"{x[i - 1] * 10 + 20:.6f},{x[i]:.6f}\n" for i in range(1, 401)))
    config = tmp_path / "c.yaml"
    data = {"task": "forecasting", "train_file": str(series), "target": "y", "features": ["y", "x"], "lookback": 12, "season": 31}
    config.write_text(yaml.safe_dump({"data": data, "model": {"num_neurons": 4}, "train": {"epochs": 1, "lr": 1e-6}}))
    proc = run_cli("train", config, "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads(proc.stdout)["run_dir"]
    proc = run_cli("evaluate", run, "--gate", "baseline", "--json")
    report = json.loads(proc.stdout)
    assert set(report["baselines"]) == {"persistence", "seasonal_naive", "linear_ar", "ets", "sarima"}
    others = [b["mae"] for name, b in report["baselines"].items() if name != "linear_ar"]
    assert report["verdict"]["strongest"] == "linear_ar" and report["baselines"]["linear_ar"]["mae"] < 0.05 * min(others)
    assert proc.returncode == 1 and "mae" in proc.stderr and "(--gate baseline)" in proc.stderr, proc.stderr


def test_training_records_the_baselines_validation_scores_for_the_curves(run, tiny_data, tmp_path):
    summary = json.loads(open(f"{run}/summary.json").read())
    meta = json.loads(open(f"{run}/meta.json").read())
    lines = summary["baselines"]["val_accuracy"]
    train, val = meta["data"]["class_counts"]["train"], meta["data"]["class_counts"]["val"]
    top = max(sorted(train), key=train.get)
    assert set(lines) == {"majority_class", "tfidf_logreg"}
    assert lines["majority_class"] == pytest.approx(val.get(top, 0) / sum(val.values()))
    assert 0.0 <= lines["tfidf_logreg"] <= 1.0
    # ... and their val_f1 (macro, as the run's own), for the curve of a run that monitors it
    share, f1 = lines["majority_class"], summary["baselines"]["val_f1"]
    assert set(f1) == set(lines) and f1["majority_class"] == pytest.approx(2 * share / (1 + share) / len(train))
    assert 0.0 <= f1["tfidf_logreg"] <= 1.0
    cfg = Config.model_validate(tiny_config_dict(tiny_data, train={"epochs": 1, "baselines": False}))
    off = training.train(cfg, tmp_path)
    assert json.loads(open(f"{off.run_dir}/summary.json").read())["baselines"] == {}


def test_tfidf_baseline_fits_where_no_word_is_seen_twice_or_none_at_all():
    from rnnexp.baselines import tfidf_logreg
    from rnnexp.data.tokenizer import tokenize

    four = ["good food", "good meal", "bad food", "bad meal"]
    assert tfidf_logreg(four, np.array([1, 1, 0, 0]), ["good", "bad"], tokenize).argmax(1).tolist() == [1, 0]
    once = tfidf_logreg(["alpha", "beta", "gamma"], np.array([0, 1, 1]), ["alpha", "zeta"], tokenize).argmax(1)
    assert once.tolist()[0] == 0 and len(once) == 2  # every word once: min_df 1
    assert tfidf_logreg(["!!", "..", "?"], np.array([0, 1, 1]), ["a", "b"], tokenize).argmax(1).tolist() == [
        1,
        1,
    ]  # no words: the majority


def test_a_baseline_that_cannot_be_fitted_costs_a_note_not_the_run(tiny_data, tmp_path, monkeypatch):
    def broken(task):
        raise ValueError("no")

    monkeypatch.setattr(training.record, "validation_baselines", broken)
    notes = []

    class Notes(training.Reporter):
        def note(self, text):
            notes.append(text)

    cfg = Config.model_validate(tiny_config_dict(tiny_data, train={"epochs": 1, "baselines": True}))
    result = training.train(cfg, tmp_path, reporter=Notes())
    assert result.status == "completed" and result.baselines == {}
    assert any("could not fit the baselines: ValueError: no" in n for n in notes)


def test_a_large_training_set_fits_the_baseline_on_a_fixed_sample_and_says_so(run, monkeypatch):
    """Over baselines.MAX_FIT_EXAMPLES training examples, the classification baselines are fitted on
    that many, drawn by a fixed seed: the same rows every time, and the report and the table say it."""
    from typer.testing import CliRunner

    from rnnexp import baselines
    from rnnexp.cli import app

    monkeypatch.setattr(baselines, "MAX_FIT_EXAMPLES", 12)
    rows = baselines.fit_sample(50)
    assert len(rows) == len(set(rows.tolist())) == 12 and rows.tolist() == sorted(rows.tolist()) and rows.max() < 50
    assert np.array_equal(rows, baselines.fit_sample(50)) and np.array_equal(baselines.fit_sample(12), np.arange(12))
    texts = [f"good {i}" if i % 3 else f"bad {i}" for i in range(50)]
    y = np.array([int(i % 3 != 0) for i in range(50)])
    probe = ["good", "bad", "good 7", "bad 9"]
    from rnnexp.data.tokenizer import tokenize

    capped = baselines.tfidf_logreg(texts, y, probe, tokenize)
    monkeypatch.setattr(baselines, "MAX_FIT_EXAMPLES", 50)
    assert np.array_equal(capped, baselines.tfidf_logreg([texts[i] for i in rows], y[rows], probe, tokenize))

    monkeypatch.setattr(baselines, "MAX_FIT_EXAMPLES", 20)
    report = evaluate(run)
    trained = sum(json.loads(open(f"{run}/meta.json").read())["data"]["class_counts"]["train"].values())
    assert (
        report["baselines"]["tfidf_logreg"] | {"fitted_on": 20, "training_examples": trained}
        == report["baselines"]["tfidf_logreg"]
    )
    shown = CliRunner().invoke(app, ["evaluate", str(run)])
    assert shown.exit_code == 0 and f"fitted on 20 of the {trained:,} training examples (a fixed random sample)" in shown.output
