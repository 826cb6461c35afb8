"""rnnexp against Keras on the same job: the same token arrays (amazon-food, maxlen 100, rnnexp's
own preprocessing), the same network (Embedding 32 -> GRU/LSTM 32 -> Dense 2), Adam at the same
lr, batch 128, validation scored every epoch on both sides, in one process.

Ratio = Keras epoch time / rnnexp epoch time (medians; > 1: rnnexp is faster). Test accuracy after
the same number of epochs is printed beside it, with the majority baseline. Needs keras and
tensorflow (pip install 'rnnexp[bench]'); without them it records why it skipped. Prints a
table and writes bench/results/keras_compare.json.

    python bench/keras_compare.py [--epochs 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, timed_run, write_result  # noqa: E402

from rnnexp.config import Config  # noqa: E402
from rnnexp.scoring import evaluate  # noqa: E402

EMB, UNITS, BATCH, LR, MAXLEN = 32, 32, 128, 2e-3, 100


def config(cell: str, epochs: int) -> Config:
    return Config.model_validate(
        {
            "name": f"keras-compare-{cell}",
            "data": {"dataset": "amazon-food", "maxlen": MAXLEN, "max_vocab": 10000, "val_split": 0.1},
            "model": {"cell": cell, "embedding_dims": EMB, "num_neurons": UNITS},
            "train": {"epochs": epochs, "batch_size": BATCH, "lr": LR, "seed": 0, "early_stopping": {"enabled": False}},
        }
    )


def arrays(cfg: Config):
    """rnnexp's own train/val/test token arrays and labels, so both sides see identical inputs."""
    import torch

    from rnnexp.tasks import create_task

    task = create_task(cfg, torch.device("cpu"))
    vx, vy = task.val
    tx, ty = task.tensors(task.split_examples("test"))
    ids = lambda x: x[:].numpy() if not isinstance(x, torch.Tensor) else x.numpy()  # padded rows, taken whole
    return (
        (task.prep.encode(task.train_tokens), task.train_y.numpy()),
        (ids(vx), vy.numpy()),
        (ids(tx), ty.numpy()),
        len(task.prep.vocab),
        task.prep.num_classes,
    )


def keras_model(keras, cell: str, vocab: int, classes: int):
    layer = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[cell]
    model = keras.Sequential(
        [
            keras.layers.Input((MAXLEN,), dtype="int32"),
            keras.layers.Embedding(vocab, EMB),
            layer(UNITS),
            keras.layers.Dense(classes),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(LR),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def keras_epochs(keras, cell: str, data, epochs: int) -> tuple[list[float], float]:
    (x, y), (vx, vy), (tx, ty), vocab, classes = data
    keras.utils.set_random_seed(0)
    warm = keras_model(keras, cell, vocab, classes)  # graph tracing and kernel selection, not timed
    warm.fit(x[: BATCH * 2], y[: BATCH * 2], batch_size=BATCH, epochs=1, verbose=0, validation_data=(vx, vy))
    model = keras_model(keras, cell, vocab, classes)
    times = []
    for _ in range(epochs):
        started = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=True, verbose=0, validation_data=(vx, vy))
        times.append(time.perf_counter() - started)
    _, accuracy = model.evaluate(tx, ty, batch_size=512, verbose=0)
    return times, float(accuracy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    missing = [m for m in ("keras", "tensorflow") if importlib.util.find_spec(m) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed (pip install 'rnnexp[bench]')"
        print(f"keras comparison skipped: {reason}")
        write_result("keras_compare", {"skipped": reason})
        return
    import keras

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cell in ("gru", "lstm"):
            cfg = config(cell, args.epochs)
            data = arrays(cfg)
            k_times, k_acc = keras_epochs(keras, cell, data, args.epochs)
            result, clock = timed_run(cfg, Path(tmp))
            report = evaluate(result.run_dir, which="last")
            k_s, r_s = statistics.median(k_times), statistics.median(clock.epochs)
            rows.append(
                {
                    "cell": cell,
                    "shape": f"E{EMB}/T{MAXLEN}/B{BATCH}/H{UNITS}",
                    "keras_epoch_s": round(k_s, 3),
                    "rnnexp_epoch_s": round(r_s, 3),
                    "ratio": round(k_s / r_s, 3),
                    "keras_test_accuracy": round(k_acc, 4),
                    "rnnexp_test_accuracy": round(report["accuracy"], 4),
                    "majority_baseline": round(report["baseline"]["accuracy"], 4),
                }
            )
            print(f"  measured {cell}: keras {k_s:.3f} s/epoch, rnnexp {r_s:.3f} s/epoch", flush=True)
    print_table(
        f"Keras {keras.__version__} vs rnnexp, {args.epochs} epochs each (median epoch time, validation included; "
        "ratio = Keras / rnnexp)",
        list(rows[0]),
        rows,
    )
    write_result("keras_compare", {"epochs": args.epochs, "keras": keras.__version__, "rows": rows})


if __name__ == "__main__":
    main()
