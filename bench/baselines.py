"""How long `evaluate`'s TF-IDF baseline takes on a very large training set (goal: under a minute
for 1,000,000 texts), and what fitting it on a sample costs in accuracy.

The texts are amazon-food reviews cut into sentences and put together again at random, 2 to 8
sentences each (about the length of a review), so the vocabulary and the word pairs grow as in
real text; each text's label is the most common label of its sentences' reviews. Timed as
`evaluate` runs it: rnnexp.baselines.tfidf_logreg fitted on the training texts (on
baselines.MAX_FIT_EXAMPLES of them when there are more: a fixed random sample) and predicting
20,000 held-out texts. Beside it, at the largest size that all of them can be fitted on in one run
here (--full, default 200,000), the accuracy of the fit on all of them and on the sample.
Prints a table and writes bench/results/baselines.json.

    python bench/baselines.py [--texts 1000000] [--full 200000]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, write_result  # noqa: E402

from rnnexp import baselines  # noqa: E402
from rnnexp.data import _amazon_food, tokenize  # noqa: E402

HELD_OUT = 20_000


def corpus(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    train, test = _amazon_food()
    labels = sorted(set(train.labels + test.labels))
    sentences = [
        (s, labels.index(label))
        for text, label in zip(train.texts + test.texts, train.labels + test.labels)
        for s in re.split(r"(?<=[.!?])\s+", text)
        if s.strip()
    ]
    rng = random.Random(seed)
    texts, y = [], []
    for _ in range(n):
        parts = [rng.choice(sentences) for _ in range(rng.randint(2, 8))]
        texts.append(" ".join(s for s, _ in parts))
        y.append(Counter(label for _, label in parts).most_common(1)[0][0])
    return texts, np.asarray(y, dtype=np.int64)


def timed(train_texts: list[str], train_y: np.ndarray, texts: list[str], y: np.ndarray) -> tuple[float, float]:
    start = time.perf_counter()
    pred = baselines.tfidf_logreg(train_texts, train_y, texts, tokenize).argmax(axis=1)
    return time.perf_counter() - start, float((pred == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1_000_000)
    parser.add_argument("--full", type=int, default=200_000, help="size at which the full fit is compared with the sample")
    args = parser.parse_args()
    texts, y = corpus(max(args.texts, args.full) + HELD_OUT)
    held_texts, held_y = texts[-HELD_OUT:], y[-HELD_OUT:]
    rows = []
    for n in sorted({args.full, args.texts}):
        seconds, accuracy = timed(texts[:n], y[:n], held_texts, held_y)
        rows.append(
            {
                "training texts": n,
                "fitted on": len(baselines.fit_sample(n)),
                "seconds": round(seconds, 1),
                "held-out accuracy": round(accuracy, 4),
            }
        )
        print(f"  measured {n:,} texts: {seconds:.1f} s", flush=True)
    cap, baselines.MAX_FIT_EXAMPLES = baselines.MAX_FIT_EXAMPLES, args.full  # the same texts, every one of them
    try:
        seconds, accuracy = timed(texts[: args.full], y[: args.full], held_texts, held_y)
    finally:
        baselines.MAX_FIT_EXAMPLES = cap
    rows.append(
        {
            "training texts": args.full,
            "fitted on": args.full,
            "seconds": round(seconds, 1),
            "held-out accuracy": round(accuracy, 4),
        }
    )
    print_table(
        f"TF-IDF (words and pairs) + logistic regression, as evaluate fits it; {HELD_OUT:,} held-out texts predicted",
        list(rows[0]),
        rows,
    )
    big = next(r for r in rows if r["training texts"] == args.texts)
    write_result(
        "baselines",
        {
            "rows": rows,
            "texts": args.texts,
            "seconds": big["seconds"],
            "goal_s": 60,
            "goal_met": big["seconds"] < 60,
            "cap": baselines.MAX_FIT_EXAMPLES,
            "sample_accuracy_cost": round(rows[-1]["held-out accuracy"] - rows[0]["held-out accuracy"], 4)
            if args.full != args.texts
            else None,
        },
    )


if __name__ == "__main__":
    main()
