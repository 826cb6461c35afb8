"""Which rows make each training batch (pure functions of seed and epoch, so a resume draws the
same batches), the batch-level transforms of encoded texts: bucketing, trimming, augmentation, and
whether batches are moved to the GPU one by one (moves_per_batch)."""

from __future__ import annotations

import numpy as np

from .padding import keep_real, pad


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """The shuffled batches of one epoch: a pure function of (seed, epoch), so resume needs no RNG state for it."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def moves_per_batch(data_bytes: int, device_memory: int) -> bool:
    """Whether a task's encoded data stays in host memory, each batch moved to the GPU as it is
    drawn (through pinned memory), rather than moved there whole once: when it would take more than
    a quarter of the GPU's ``device_memory`` (bytes), which the model, the activations of a batch
    and cuDNN's workspace need. The same bits either way: only where the rows are gathered differs."""
    return data_bytes > device_memory // 4


def sequence_lengths(tokens: np.ndarray) -> np.ndarray:
    """Real (non-padding) length of each encoded row; word ids are never 0, so this counts words."""
    return (tokens != 0).sum(axis=1)


def bucket_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int, pool_batches: int = 50) -> list[np.ndarray]:
    """Batches of similar length, in random order: a pure function of (seed, epoch) like epoch_batches.

    Shuffle, cut into pools of ``pool_batches`` batches, sort each pool by length, cut into batches,
    shuffle the batches. Pools keep batch composition varying between epochs while padding stays low.
    """
    rng = np.random.default_rng([seed, epoch, 1])
    order = rng.permutation(len(lengths))
    pool = batch_size * pool_batches
    batches: list[np.ndarray] = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def trim_padding(tokens, length: int, padding: str):
    """Cut a padded batch (numpy or torch, [B, maxlen]) to ``length`` steps, keeping the real tokens."""
    return keep_real(tokens, length, padding)


def padded_share(lengths: np.ndarray, batches: list[np.ndarray], maxlen: int) -> float:
    """Share of time steps that are padding when each batch is padded to its own longest example."""
    kept = np.minimum(lengths, maxlen)
    total = sum(max(1, int(kept[b].max())) * len(b) for b in batches)
    return round(1.0 - float(kept.sum()) / max(1, total), 4)


def augment_batch(
    tokens: np.ndarray,
    padding: str,
    truncating: str,
    vocab_size: int,
    insert: float,
    delete: float,
    swap: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Random word insertion, deletion and swap on an encoded batch; returns a batch of the same width.

    Works on ids, after encoding, so it costs no re-tokenizing; inserted words are drawn uniformly from
    the vocabulary (ids 2..vocab_size-1). Sequences that grow past the width are cut as ``truncating`` says.
    """
    width, rows = tokens.shape[1], []
    for seq in tokens:
        words = seq[seq != 0]
        if len(words) == 0:
            rows.append(words)
            continue
        if delete > 0 and len(words) > 1:
            keep = rng.random(len(words)) >= delete
            if not keep.any():
                keep[rng.integers(len(words))] = True  # never delete a whole text
            words = words[keep]
        if swap > 0 and len(words) > 1:
            words = words.copy()
            for i in np.flatnonzero(rng.random(len(words) - 1) < swap):
                words[i], words[i + 1] = words[i + 1], words[i]
        if insert > 0 and vocab_size > 2:
            where = np.flatnonzero(rng.random(len(words)) < insert)
            if len(where):
                words = np.insert(words, where + 1, rng.integers(2, vocab_size, len(where)))
        rows.append(words)
    return pad(rows, width, padding, truncating, 0, tokens.dtype)
