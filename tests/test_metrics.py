import numpy as np
import pytest

from rnnexp.metrics import classification_scores, confusion_matrix, macro_f1


def test_confusion_matrix_rows_true_cols_pred():
    cm = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 0]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]


def test_binary_scores_of_positive_class_by_hand():
    y = np.array([1, 1, 1, 0, 0])
    p = np.array([1, 1, 0, 1, 0])
    s = classification_scores(y, p, 2, positive=1)
    assert s["accuracy"] == pytest.approx(3 / 5)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3) and s["average"] == "binary"


def test_macro_for_multiclass_and_zero_division():
    y = np.array([0, 1, 2, 2])
    p = np.array([0, 0, 2, 2])
    s = classification_scores(y, p, 3)
    # class 1 is never predicted: precision 0, recall 0, f1 0 (sklearn zero_division=0)
    assert s["per_class"]["f1"] == pytest.approx([2 / 3, 0.0, 1.0])
    assert s["f1"] == pytest.approx((2 / 3 + 0 + 1) / 3) and s["average"] == "macro"
    assert macro_f1(y, p, 3) == pytest.approx(s["macro_f1"])


def test_ranking_and_balanced_accuracy_binary_by_hand_of_either_positive_class():
    """ROC-AUC: the share of (positive, negative) pairs ranked right; PR-AUC: average precision at
    each positive's rank. Of the positive class (data.positive_label), which PR-AUC depends on."""
    y = np.array([1, 1, 1, 0, 0])
    p1 = np.array([0.9, 0.8, 0.3, 0.6, 0.2])
    probs = np.stack([1 - p1, p1], axis=1)
    s = classification_scores(y, probs.argmax(1), 2, positive=1, probs=probs)
    assert s["roc_auc"] == pytest.approx(5 / 6) and s["pr_auc"] == pytest.approx((1 + 1 + 3 / 4) / 3)
    assert s["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2) and s["note"] is None
    other = classification_scores(y, probs.argmax(1), 2, positive=0, probs=probs)
    assert other["roc_auc"] == pytest.approx(5 / 6) and other["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)
    without = classification_scores(y, probs.argmax(1), 2, positive=1)  # no probabilities: no ranking scores
    assert "roc_auc" not in without and without["balanced_accuracy"] == s["balanced_accuracy"]


def test_ranking_scores_are_macro_one_vs_rest_for_three_classes():
    from sklearn.metrics import roc_auc_score

    y = np.array([0, 1, 2, 2])
    probs = np.array([[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.2, 0.3, 0.5], [0.5, 0.3, 0.2]])
    s = classification_scores(y, probs.argmax(1), 3, probs=probs)
    assert s["roc_auc"] == pytest.approx((1 + 1 + 3 / 4) / 3)  # class 2: 3 of its 4 pairs ranked right
    assert s["roc_auc"] == pytest.approx(roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    assert s["pr_auc"] == pytest.approx((1 + 1 + (1 + 2 / 3) / 2) / 3)
    assert s["balanced_accuracy"] == pytest.approx((1 + 1 + 1 / 2) / 3)


@pytest.mark.parametrize("positive", [0, 1, None])
def test_ranking_scores_of_a_split_of_one_class_are_undefined_never_a_crash(positive):
    from rnnexp.metrics import ranking_scores

    probs = np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    for y in (np.zeros(3, dtype=int), np.ones(3, dtype=int)):
        s = ranking_scores(y, probs, positive)
        assert s["roc_auc"] is None and s["pr_auc"] is None and "undefined" in s["note"]
    # three classes, one absent: the mean over the two that are there, and a note naming it
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.2, 0.7, 0.1], [0.4, 0.3, 0.3]])
    s = ranking_scores(y, probs, None)
    # class 0: its 4 pairs right; class 1: 0.7 above both, 0.3 tied with one (half) and below 0.4
    assert s["roc_auc"] == pytest.approx((1 + 2.5 / 4) / 2) and "classes [2] are absent" in s["note"]


@pytest.mark.parametrize("counts", [[66, 34], [42, 35, 23], [5, 5], [1, 98, 1]])
def test_balanced_class_weights_are_scikit_learns_from_the_training_counts(counts):
    import torch
    from sklearn.utils.class_weight import compute_class_weight

    from rnnexp.tasks.classify import class_weights, prior_entropy

    labels = [f"c{i}" for i in range(len(counts))]
    y = np.repeat(np.arange(len(counts)), counts)
    weights = class_weights("balanced", labels, y)
    assert weights == pytest.approx(compute_class_weight("balanced", classes=np.arange(len(counts)), y=y).tolist())
    assert weights == pytest.approx([len(y) / (len(counts) * n) for n in counts])
    assert class_weights("none", labels, y) is None
    assert class_weights({"c1": 3.0}, labels, y) == [1.0, 3.0, *[1.0] * (len(counts) - 2)]  # left out: 1
    # balanced weights make every class weigh the same: the best constant guess is uniform
    assert prior_entropy(torch.from_numpy(y), len(counts), weights) == pytest.approx(np.log(len(counts)))


def test_class_weights_naming_a_label_the_data_lacks_is_a_config_error_listing_the_labels():
    from rnnexp.errors import ConfigError
    from rnnexp.tasks.classify import class_weights

    with pytest.raises(ConfigError, match=r"names 'grate', not a class .*\(classes: great, other\)"):
        class_weights({"grate": 2.0, "other": 1.0}, ["great", "other"], np.array([0, 1]))


# -- what the mutation run (make mutation) found unasserted ---------------------------------------


def test_a_class_absent_from_the_examples_keeps_its_row_and_column_and_scores_zero_quietly():
    """Scores of a split that lacks a class (a small test split): its row and column in the matrix,
    precision/recall/F1 0 without scikit-learn's warning, counts as integers."""
    import warnings

    y_true, y_pred = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zero_division=0: no UndefinedMetricWarning in the user's output
        res = classification_scores(y_true, y_pred, num_classes=3)
        cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.dtype == np.int64 and cm.tolist() == [[2, 0, 0], [1, 1, 0], [0, 0, 0]]
    per = res["per_class"]
    assert per["precision"] == [2 / 3, 1.0, 0.0] and per["recall"] == [1.0, 0.5, 0.0] and per["support"] == [2, 2, 0]
    assert all(isinstance(n, int) for n in per["support"])
    assert res["f1"] == res["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 0.0) / 3)
    assert (res["precision"], res["recall"]) == (res["macro_precision"], res["macro_recall"]) == ((2 / 3 + 1.0) / 3, 0.5)


def test_balanced_accuracy_of_no_examples_is_zero_and_of_one_example_its_own():
    from rnnexp.metrics import balanced_accuracy

    empty = np.array([], dtype=np.int64)
    assert balanced_accuracy(empty, empty) == 0.0
    assert balanced_accuracy(np.array([1]), np.array([1])) == 1.0


def test_the_note_of_a_split_of_one_class_says_why_there_is_no_ranking_score():
    from rnnexp.metrics import ranking_scores

    got = ranking_scores(np.array([1, 1]), np.array([[0.2, 0.8], [0.4, 0.6]]), positive=1)
    assert got == {"roc_auc": None, "pr_auc": None, "note": "every example is of one class: ROC-AUC and PR-AUC are undefined"}


@pytest.mark.parametrize("metric, baseline", [("loss", 0.5), ("accuracy", 0.5)])
def test_a_tie_with_the_strongest_baseline_does_not_beat_it(metric, baseline):
    from rnnexp.metrics import verdict

    assert verdict(0.5, {"majority_class": baseline}, metric)["beats"] is False
