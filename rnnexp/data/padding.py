"""How a sequence is fitted to a fixed number of steps: the one rule (Keras pad_sequences semantics)
that encoded texts, numeric sequences, augmented batches, bucketed prediction and export's sample
inputs all follow. Works on numpy arrays, lists and torch tensors alike."""

from __future__ import annotations

from typing import Any

import numpy as np


def real_steps(width: int, n: int, padding: str) -> slice:
    """Where a sequence of ``n`` real steps sits among ``width``: at the end (padding "pre", the padding
    before it) or at the start ("post")."""
    n = min(int(n), width)
    return slice(width - n, width) if padding == "pre" else slice(0, n)


def cut(seq: Any, width: int, truncating: str) -> Any:
    """The ``width`` steps of a longer sequence the model reads: its last (truncating "pre") or first ("post")."""
    if len(seq) <= width:
        return seq
    return seq[-width:] if truncating == "pre" else seq[:width]


def pad(seqs: list, width: int, padding: str, truncating: str, fill: float, dtype, step_shape: tuple = ()) -> np.ndarray:
    """[N, width, *step_shape] of ``dtype``: each sequence cut to ``width`` and placed by ``padding``,
    the other steps ``fill``."""
    out = np.full((len(seqs), width, *step_shape), fill, dtype=dtype)
    for row, seq in enumerate(seqs):
        seq = cut(seq, width, truncating)
        if len(seq):
            out[row, real_steps(width, len(seq), padding)] = seq
    return out


def pad_ragged(
    values: np.ndarray, lut: np.ndarray, starts: np.ndarray, lengths: np.ndarray, width: int, padding: str, truncating: str
) -> np.ndarray:
    """pad's rule for sequences stored end to end (sequence i: values[starts[i]:starts[i] + lengths[i]]),
    each value mapped through ``lut``: [N, width] int64, 0 where padding. Vectorized: a batch of
    texts is padded without a Python loop over its rows."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    kept = np.minimum(lengths, width)
    first = starts + (lengths - kept if truncating == "pre" else 0)  # cut: the last (pre) or first (post) steps
    column = (width - kept) if padding == "pre" else np.zeros_like(kept)  # real_steps: at the end (pre) or start
    out = np.zeros(len(lengths) * width, dtype=np.int64)
    total = int(kept.sum())
    if total:
        before = np.cumsum(kept) - kept  # where each row's steps begin among all the kept steps
        step = np.arange(total, dtype=np.int64)
        source = step + np.repeat(first - before, kept)
        target = step + np.repeat(np.arange(len(kept)) * width + column - before, kept)
        out[target] = lut[values[source]]
    return out.reshape(len(lengths), width)


def keep_real(batch: Any, length: int, padding: str) -> Any:
    """A padded batch ([B, steps, ...]) cut to ``length`` steps, keeping the real ones (bucketing)."""
    return batch[:, real_steps(batch.shape[1], max(1, int(length)), padding)]


def kept_part(truncating: str) -> str:
    """Which part of a cut sequence the model reads, in words for notes: "last" or "first"."""
    return "last" if truncating == "pre" else "first"
