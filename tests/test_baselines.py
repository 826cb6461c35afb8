"""baselines/__init__.py: the scikit-learn models beside every score, each against the same model
built here from scikit-learn's own parts (the oracle), and the sample and majority rules by hand.
In-process and small: tests/test_evaluate.py and tests/test_tasks.py check them inside real runs."""

from __future__ import annotations

import types

import numpy as np
import pytest

from rnnexp import baselines


def test_a_baseline_is_fitted_on_every_example_up_to_the_limit_then_a_fixed_sample(monkeypatch):
    assert baselines.MAX_FIT_EXAMPLES == 100_000
    assert baselines.fit_size(99_999) == 99_999 and baselines.fit_size(100_000) == 100_000
    assert baselines.fit_size(1_000_000) == 100_000
    monkeypatch.setattr(baselines, "MAX_FIT_EXAMPLES", 5)
    for n in (0, 1, 5):  # up to the limit: every example, in order
        assert baselines.fit_sample(n).tolist() == list(range(n))
    rows = baselines.fit_sample(12)
    assert rows.tolist() == sorted(set(rows.tolist())) and len(rows) == 5 and 0 <= rows.min() and rows.max() < 12
    assert np.array_equal(rows, baselines.fit_sample(12))  # the same rows every time
    assert rows.tolist() != list(range(5))  # drawn from all twelve, not the first five


@pytest.mark.parametrize(
    "counts, labels, expected",
    [
        ({"a": 3, "b": 5}, ["a", "b"], ("b", [])),
        ({"a": 5, "b": 5, "c": 1}, ["b", "a", "c"], ("b", ["a"])),  # ties: the first in label order
        ({"a": 2, "b": 2, "c": 2}, ["c", "a", "b"], ("c", ["a", "b"])),
        ({"a": 1}, ["b", "a"], ("a", [])),  # a label the training split lacks counts 0
        ({}, ["x", "y"], ("x", ["y"])),
    ],
)
def test_the_majority_class_is_the_most_frequent_the_first_among_equals(counts, labels, expected):
    assert baselines.majority(counts, labels) == expected


def test_class_probabilities_have_a_column_for_every_class_of_the_training_split():
    model = types.SimpleNamespace(classes_=np.array([0, 2]), predict_proba=lambda x: np.array([[0.25, 0.75], [0.5, 0.5]]))
    probs = baselines.class_probabilities(model, np.zeros((2, 3)), 4)
    assert probs.tolist() == [[0.25, 0.0, 0.75, 0.0], [0.5, 0.0, 0.5, 0.0]]


def _words(text: str) -> list[str]:
    return text.split("|")  # not how scikit-learn would split: shows the run's tokens are the ones used


# a word twice in a text ("good", "bad") shows the sublinear tf: 1 + log 2, not 2
TEXTS = ["Good|meal", "good|food|again", "bad|meal|bad", "Bad|food", "fine|meal|good|good", "awful|bad|food", "good|good", "meal"]
LABELS = np.array([1, 1, 0, 0, 1, 0, 1, 2])
PROBE = ["Good|food", "bad", "unseen", "meal|Bad|good"]


def _tfidf_oracle(texts, y, probe, min_df: int, classes: int = 3) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(
        analyzer=lambda t: (w := _words(t)) + [f"{a} {b}" for a, b in zip(w, w[1:])], min_df=min_df, sublinear_tf=True
    )
    model = LogisticRegression(C=10.0, max_iter=1000).fit(vec.fit_transform(texts), y)
    probs = np.zeros((len(probe), classes))
    probs[:, model.classes_] = model.predict_proba(vec.transform(probe))
    return probs


def test_tfidf_logreg_is_logistic_regression_on_word_and_word_pair_tfidf_of_the_runs_tokens():
    probs = baselines.tfidf_logreg(TEXTS, LABELS, PROBE, _words)
    assert probs.shape == (4, 3) and np.allclose(probs.sum(1), 1)
    # words seen twice (min_df 2), case kept, pairs of neighbouring words, sublinear tf, C = 10
    np.testing.assert_allclose(probs, _tfidf_oracle(TEXTS, LABELS, PROBE, 2), atol=1e-5)
    # no word twice: every word once (min_df 1)
    once = ["alpha|one", "beta|two", "gamma|three"]
    np.testing.assert_allclose(
        baselines.tfidf_logreg(once, np.array([0, 1, 1]), ["alpha", "two"], _words),
        _tfidf_oracle(once, np.array([0, 1, 1]), ["alpha", "two"], 1, classes=2),
        atol=1e-5,
    )


def test_tfidf_logreg_fits_float32_features_without_a_warning(monkeypatch):
    """float32: half the memory of float64 on a million texts; and no warning (scikit-learn warns of a
    token_pattern it would ignore beside a tokenizer)."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    seen = []
    fit = LogisticRegression.fit
    monkeypatch.setattr(LogisticRegression, "fit", lambda self, x, y: seen.append(x.dtype) or fit(self, x, y))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        baselines.tfidf_logreg(TEXTS, LABELS, PROBE, _words)
    assert seen == [np.float32] and [str(w.message) for w in caught] == []


def test_tfidf_logreg_without_any_word_predicts_the_class_frequencies():
    none = lambda text: []
    probs = baselines.tfidf_logreg(["a", "b", "c", "d"], np.array([0, 2, 2, 2]), ["x", "y"], none)
    assert probs.tolist() == [[0.25, 0.0, 0.75]] * 2


def test_tfidf_logreg_is_fitted_on_the_sample_over_the_limit(monkeypatch):
    texts, y = TEXTS * 3, np.concatenate([LABELS] * 3)
    monkeypatch.setattr(baselines, "MAX_FIT_EXAMPLES", 10)
    rows = baselines.fit_sample(len(texts))
    assert 2 not in y[rows]  # the sample lacks a class of the training split: its column is there, 0
    probs = baselines.tfidf_logreg(texts, y, PROBE, _words)
    np.testing.assert_allclose(probs, _tfidf_oracle([texts[i] for i in rows], y[rows], PROBE, 2), atol=1e-5)
    assert probs.shape == (4, 3) and not probs[:, 2].any()


def _sequences(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(3, 9)), 2)) for _ in range(n)]


def test_summary_features_are_each_channels_mean_std_min_max_and_last_value():
    s = np.array([[1.0, 10.0], [3.0, 30.0], [2.0, 50.0]])
    features = baselines.summary_features([s, s[:1]])
    assert features.dtype == np.float64 and features.shape == (2, 10)
    std0, std1 = np.sqrt(2 / 3), np.sqrt(800 / 3)  # population std, as over the steps
    np.testing.assert_allclose(features[0], [2, 30, std0, std1, 1, 10, 3, 50, 2, 50])
    np.testing.assert_allclose(features[1], [1, 10, 0, 0, 1, 10, 1, 10, 1, 10])
    assert baselines.summary_features([s.astype(np.float32)]).dtype == np.float64  # whatever the sequences' dtype


def test_summary_logreg_is_standardized_logistic_regression_on_the_summaries(monkeypatch):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train, probe = _sequences(40, 1), _sequences(6, 2)
    y = np.array([int(s[:, 0].mean() > 0) + 2 * int(s[-1, 1] > 1) for s in train])

    def oracle(rows):
        feats = lambda seqs: np.array([[*s.mean(0), *s.std(0), *s.min(0), *s.max(0), *s[-1]] for s in seqs])
        scaler = StandardScaler().fit(feats([train[i] for i in rows]))
        model = LogisticRegression(max_iter=2000).fit(scaler.transform(feats([train[i] for i in rows])), y[rows])
        probs = np.zeros((len(probe), int(y.max()) + 1))
        probs[:, model.classes_] = model.predict_proba(scaler.transform(feats(probe)))
        return probs

    probs = baselines.summary_logreg(train, y, probe)
    assert probs.shape == (6, int(y.max()) + 1)
    np.testing.assert_allclose(probs, oracle(np.arange(40)), atol=1e-6)
    monkeypatch.setattr(baselines, "MAX_FIT_EXAMPLES", 15)
    np.testing.assert_allclose(baselines.summary_logreg(train, y, probe), oracle(baselines.fit_sample(40)), atol=1e-6)


def test_linear_autoregressive_is_ridge_on_the_flattened_windows():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(3)
    windows, probe = rng.normal(size=(30, 4, 2)), rng.normal(size=(5, 4, 2))
    weights = rng.normal(size=(8, 3))
    target = windows.reshape(30, 8) @ weights  # three steps ahead, a linear function of the window
    forecast = baselines.linear_autoregressive(windows, target, probe)
    assert forecast.shape == (5, 3) and forecast.dtype == np.float64
    np.testing.assert_allclose(forecast, Ridge(alpha=1.0).fit(windows.reshape(30, 8), target).predict(probe.reshape(5, 8)))
    # one step: a column, not a flat vector; alpha 1 shrinks a little, never 10 times as much
    assert baselines.linear_autoregressive(windows.astype(np.float32), target, probe.astype(np.float32)).dtype == np.float64
    one = baselines.linear_autoregressive(windows, target[:, 0], probe)
    assert one.shape == (5, 1)
    exact = probe.reshape(5, 8) @ weights[:, :1]
    assert np.abs(one - exact).max() < 0.25 * np.abs(exact).max()
    np.testing.assert_allclose(
        one, Ridge(alpha=1.0).fit(windows.reshape(30, 8), target[:, 0]).predict(probe.reshape(5, 8))[:, None]
    )
