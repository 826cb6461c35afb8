"""Is a model rnnexp trains from a config at least as good as the one Keras trains from the same
settings? Five setups, 10 seeds each, Keras against rnnexp with its defaults, on the same token
ids and the same split (rnnexp's own preprocessing feeds both):

  * uci-sentiment: Embedding 32 -> GRU 32 -> Dense, RMSprop lr 1e-3, batch 128, 30 epochs; best
    validation accuracy; and the same at lr 0.05, where Keras' RMSprop rule and torch's part most
    (train.optimizer_defaults);
  * amazon-food: the same GRU, Adam lr 2e-3, batch 128; test accuracy after 3 epochs;
  * the same GRU masked: Keras with mask_zero=True, rnnexp with model.mask: true;
  * amazon-food with LSTM 32, the same otherwise.

Goal: rnnexp's mean at least Keras's mean minus one Keras standard deviation, in every setup.
Why 10 seeds: seed to seed, test accuracy after 3 epochs varies by 0.015-0.02 on either side, so
the mean of 5 seeds moves by about 0.008; Keras' masked GRU scored 0.731 on seeds 0-4 and 0.699 on
seeds 5-9. Ten seeds narrow that to about 0.006.
Needs keras (pip install 'rnnexp[bench]'); Keras runs on TensorFlow when it is installed, else on
its PyTorch backend (the initializers and optimizers are Keras's own either way). Without keras it
records why it skipped. uci-sentiment needs its files ($RNNEXP_DATA_DIR, or ../shared/data beside
the checkout); without them that setup is skipped. Prints a table and writes
bench/results/keras_parity.json.

    python bench/keras_parity.py [--seeds 10]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, write_result  # noqa: E402
from keras_compare import arrays  # noqa: E402  (rnnexp's own token arrays, fed to both sides)

ROOT = Path(__file__).resolve().parents[1]
EMB = UNITS = 32
BATCH = 128
AMAZON_GRU = {
    "dataset": "amazon-food",
    "cell": "gru",
    "optimizer": "adam",
    "lr": 2e-3,
    "epochs": 3,
    "score": "test_accuracy",
    "maxlen": 100,
}
SETUPS = {
    "uci-sentiment GRU, RMSprop 1e-3, 30 epochs: best val accuracy": {
        **AMAZON_GRU,
        "dataset": "uci-sentiment",
        "optimizer": "rmsprop",
        "lr": 1e-3,
        "epochs": 30,
        "score": "best_val_accuracy",
        "maxlen": 50,
    },
    # a high rate, where the rules differ most: Keras' RMSprop adds epsilon inside the square root
    "uci-sentiment GRU, RMSprop 0.05, 30 epochs: best val accuracy": {
        **AMAZON_GRU,
        "dataset": "uci-sentiment",
        "optimizer": "rmsprop",
        "lr": 0.05,
        "epochs": 30,
        "score": "best_val_accuracy",
        "maxlen": 50,
    },
    "amazon-food GRU, Adam 2e-3, 3 epochs: test accuracy": AMAZON_GRU,
    "amazon-food GRU masked (Keras mask_zero, rnnexp model.mask), Adam 2e-3, 3 epochs: test accuracy": {
        **AMAZON_GRU,
        "mask": True,
    },
    "amazon-food LSTM, Adam 2e-3, 3 epochs: test accuracy": {**AMAZON_GRU, "cell": "lstm"},
}


def config(setup: dict, seed: int):
    from rnnexp.config import Config

    return Config.model_validate(
        {
            "name": f"parity-{setup['dataset']}-{setup['cell']}",
            "data": {
                "dataset": setup["dataset"],
                "maxlen": setup["maxlen"],
                "max_vocab": 10000,
                "val_split": 0.1,
                "test_split": 0.1,
            },
            "model": {"cell": setup["cell"], "embedding_dims": EMB, "num_neurons": UNITS, "mask": setup.get("mask", False)},
            "train": {
                "epochs": setup["epochs"],
                "batch_size": BATCH,
                "lr": setup["lr"],
                "optimizer": setup["optimizer"],
                "seed": seed,
                "plateau_warning": None,
                "early_stopping": {"enabled": False},
            },
        }
    )


def keras_score(keras, setup: dict, data, seed: int) -> float:
    (x, y), (vx, vy), (tx, ty), vocab, classes = data
    keras.utils.set_random_seed(seed)
    layer = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[setup["cell"]]
    model = keras.Sequential(
        [
            keras.layers.Input((setup["maxlen"],), dtype="int32"),
            keras.layers.Embedding(vocab, EMB, mask_zero=setup.get("mask", False)),
            layer(UNITS),
            keras.layers.Dense(classes),
        ]
    )
    optimizer = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}[setup["optimizer"]](setup["lr"])
    model.compile(optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, batch_size=BATCH, epochs=setup["epochs"], shuffle=True, verbose=0, validation_data=(vx, vy))
    if setup["score"] == "best_val_accuracy":
        return float(max(history.history["val_accuracy"]))
    return float(model.evaluate(tx, ty, batch_size=512, verbose=0)[1])


def rnnexp_score(cfg, setup: dict, runs: Path) -> float:
    from rnnexp import training
    from rnnexp.scoring import evaluate

    result = training.train(cfg, runs)
    if setup["score"] == "best_val_accuracy":
        import csv

        with open(Path(result.run_dir) / "metrics.csv", newline="") as f:
            return max(float(row["val_accuracy"]) for row in csv.DictReader(f))
    return float(evaluate(result.run_dir, which="last", fit_baselines=False)["accuracy"])


def _uci_available() -> bool:
    if not os.environ.get("RNNEXP_DATA_DIR") and (ROOT.parent / "shared" / "data" / "uci-sentiment").is_dir():
        os.environ["RNNEXP_DATA_DIR"] = str(ROOT.parent / "shared" / "data")
    from rnnexp.data import UCI_FILES, data_dir

    return all((data_dir() / "uci-sentiment" / name).is_file() for name in UCI_FILES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--only", help="run only the setups whose name contains this")
    args = parser.parse_args()
    if importlib.util.find_spec("keras") is None:
        reason = "keras not installed (pip install 'rnnexp[bench]')"
        print(f"keras parity skipped: {reason}")
        write_result("keras_parity", {"skipped": reason})
        return
    if importlib.util.find_spec("tensorflow") is None:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, setup in SETUPS.items():
            if args.only and args.only not in name:
                continue
            if setup["dataset"] == "uci-sentiment" and not _uci_available():
                rows.append({"setup": name, "skipped": "uci-sentiment files not found"})
                continue
            ours, theirs = [], []
            for seed in range(args.seeds):
                cfg = config(setup, seed)
                theirs.append(keras_score(keras, setup, arrays(cfg), seed))
                ours.append(rnnexp_score(cfg, setup, Path(tmp)))
                print(f"  {name} seed {seed}: keras {theirs[-1]:.4f}, rnnexp {ours[-1]:.4f}", flush=True)
            k_mean, k_std = statistics.mean(theirs), statistics.stdev(theirs) if len(theirs) > 1 else 0.0
            r_mean, r_std = statistics.mean(ours), statistics.stdev(ours) if len(ours) > 1 else 0.0
            rows.append(
                {
                    "setup": name,
                    "keras": f"{k_mean:.4f} ± {k_std:.4f}",
                    "rnnexp": f"{r_mean:.4f} ± {r_std:.4f}",
                    "keras_mean": round(k_mean, 4),
                    "keras_std": round(k_std, 4),
                    "rnnexp_mean": round(r_mean, 4),
                    "rnnexp_std": round(r_std, 4),
                    "goal_met": r_mean >= k_mean - k_std,
                    "keras_scores": theirs,
                    "rnnexp_scores": ours,
                }
            )
    shown = [{k: r.get(k, "") for k in ("setup", "keras", "rnnexp", "goal_met", "skipped")} for r in rows]
    print_table(
        f"Keras {keras.__version__} ({keras.backend.backend()} backend) vs rnnexp defaults, {args.seeds} seeds (mean ± std)",
        list(shown[0]),
        shown,
    )
    name = "keras_parity" if not args.only else "keras_parity_only"  # a partial run keeps the full result
    write_result(name, {"seeds": args.seeds, "keras": keras.__version__, "backend": keras.backend.backend(), "rows": rows})


if __name__ == "__main__":
    main()
