"""Simple models a recurrent network must beat, fitted on the run's own training split when the run
is evaluated (they take seconds), with scikit-learn:

  * text classification: TF-IDF of words and word pairs + logistic regression;
  * sequence classification: logistic regression on per-channel summaries (mean, std, min, max, last);
  * forecasting: ridge regression on the lookback window (the linear autoregressive model).

A score beside only the majority class or persistence flatters the model: on amazon-food the
TF-IDF model beats the demo's tuned LSTM (docs/index.md shows the demo's scores).
Each function returns predictions for the evaluated examples (class probabilities [N, classes] for
classification, so that ROC-AUC and PR-AUC can be scored too); scoring is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SEED = 0  # the baselines are deterministic: the seed fixes the sample below (lbfgs, their solver, draws nothing)
# The classification baselines are fitted on at most this many training examples: TF-IDF with word
# pairs + logistic regression on all of 1,000,000 texts would take minutes, and the sample costs a
# little accuracy (bench/baselines.py measures both; docs/explanation/baselines.md).
MAX_FIT_EXAMPLES = 100_000


def fit_size(n: int) -> int:
    """How many of n training examples a classification baseline is fitted on."""
    return min(n, MAX_FIT_EXAMPLES)


def fit_sample(n: int) -> np.ndarray:
    """Indices of the training examples a classification baseline is fitted on: all n up to
    MAX_FIT_EXAMPLES, else that many drawn without replacement by a fixed seed (the same every time)."""
    if n <= fit_size(n):
        return np.arange(n)
    return np.sort(np.random.default_rng(SEED).choice(n, fit_size(n), replace=False))


def majority(train_counts: dict[str, int], labels: list[str]) -> tuple[str, list[str]]:
    """(the class the majority baseline predicts, the others tied with it in training): the most
    frequent training class, the first in label order among equals."""
    top = max(train_counts.get(label, 0) for label in labels)
    tied = [label for label in labels if train_counts.get(label, 0) == top]
    return tied[0], tied[1:]


def class_probabilities(model, x, classes: int) -> np.ndarray:
    """[N, classes] from a fitted classifier's predict_proba, a column for every class of the
    training split (one the fitting sample lacked gets 0)."""
    probs = np.zeros((x.shape[0], classes))
    probs[:, model.classes_] = model.predict_proba(x)  # classes_: the integer class indices it saw
    return probs


def tfidf_logreg(train_texts: list[str], train_y: np.ndarray, texts: list[str], tokens: Callable[[str], list[str]]) -> np.ndarray:
    """Class probabilities [N, classes] of TF-IDF (words and word pairs, sublinear tf) + logistic
    regression fitted on the training texts (class indices train_y); ``tokens`` gives a text's
    words (the run's Preprocessor.tokens)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    classes = int(train_y.max()) + 1
    rows = fit_sample(len(train_texts))
    train_texts, train_y = [train_texts[i] for i in rows], train_y[rows]
    for min_df in (2, 1):  # words seen twice; on a tiny training set where none is, every word
        vectorizer = TfidfVectorizer(
            tokenizer=tokens,
            lowercase=False,
            token_pattern=None,
            ngram_range=(1, 2),
            min_df=min_df,
            sublinear_tf=True,
            dtype=np.float32,
        )
        try:
            train_x = vectorizer.fit_transform(train_texts)
            break
        except ValueError:  # "empty vocabulary" / "no terms remain"
            continue
    else:  # no word in any training text: the bag of words knows only the class frequencies
        return np.tile(np.bincount(train_y, minlength=classes) / len(train_y), (len(texts), 1))
    model = LogisticRegression(C=10.0, max_iter=1000)
    model.fit(train_x, train_y)
    return class_probabilities(model, vectorizer.transform(texts), classes)


def summary_features(sequences: list[np.ndarray]) -> np.ndarray:
    """[N, channels x 5]: each channel's mean, std, min, max and last value over the sequence's steps."""
    rows = [np.concatenate([s.mean(0), s.std(0), s.min(0), s.max(0), s[-1]]) for s in sequences]
    return np.asarray(rows, dtype=np.float64)


def summary_logreg(train_sequences: list[np.ndarray], train_y: np.ndarray, sequences: list[np.ndarray]) -> np.ndarray:
    """Class probabilities [N, classes] of logistic regression on standardized per-channel summaries."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = fit_sample(len(train_sequences))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(summary_features([train_sequences[i] for i in rows]), train_y[rows])
    return class_probabilities(model, summary_features(sequences), int(train_y.max()) + 1)


def linear_autoregressive(train_x: np.ndarray, train_y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Forecasts [N, steps] (in the units of ``train_y``) of a ridge regression on the flattened
    lookback windows [N, lookback, channels]."""
    from sklearn.linear_model import Ridge

    model = Ridge(alpha=1.0)
    model.fit(train_x.reshape(len(train_x), -1), train_y)
    return np.asarray(model.predict(x.reshape(len(x), -1)), dtype=np.float64).reshape(len(x), -1)
