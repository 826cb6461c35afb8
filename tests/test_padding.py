"""The one pad/truncate rule: every combination of padding, truncating, length and width."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from rnnexp.data.padding import cut, keep_real, kept_part, pad, real_steps


def test_keras_pad_sequences_semantics_on_a_worked_example():
    seqs = [[1, 2, 3, 4], [5], []]
    assert pad(seqs, 3, "pre", "pre", 0, np.int64).tolist() == [[2, 3, 4], [0, 0, 5], [0, 0, 0]]
    assert pad(seqs, 3, "post", "post", 0, np.int64).tolist() == [[1, 2, 3], [5, 0, 0], [0, 0, 0]]
    assert pad(seqs, 3, "pre", "post", 0, np.int64).tolist() == [[1, 2, 3], [0, 0, 5], [0, 0, 0]]


@pytest.mark.parametrize("padding,truncating", list(itertools.product(["pre", "post"], repeat=2)))
def test_every_length_keeps_the_right_steps_in_the_right_place(padding, truncating):
    rng = np.random.default_rng(0)
    for width in (1, 2, 5, 9):
        seqs = [rng.normal(size=(n, 2)) for n in range(0, 2 * width + 2)]
        out = pad(seqs, width, padding, truncating, np.nan, np.float32, (2,))
        assert out.shape == (len(seqs), width, 2)
        for seq, row in zip(seqs, out):
            kept = cut(seq, width, truncating)
            where = real_steps(width, len(kept), padding)
            np.testing.assert_array_equal(row[where], kept.astype(np.float32))
            assert np.isnan(np.delete(row, np.arange(width)[where], axis=0)).all()
            expected = seq[-width:] if truncating == "pre" else seq[:width]
            np.testing.assert_array_equal(kept, expected)
            if len(kept):  # bucketing's cut recovers the real steps, numpy and torch alike
                np.testing.assert_array_equal(keep_real(row[None], len(kept), padding)[0], kept.astype(np.float32))
                back = keep_real(torch.from_numpy(row[None]), len(kept), padding)[0].numpy()
                np.testing.assert_array_equal(back, kept.astype(np.float32))


def test_kept_part_names_the_steps_truncating_keeps():
    """The words a note uses for what a cut text keeps: its last steps when truncating pre, its first when post."""
    assert kept_part("pre") == "last" and kept_part("post") == "first"
