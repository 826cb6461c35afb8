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
