"""Cost of the tuning knobs, each measured side by side with the knob off, in one run.

1. recurrent_dropout 0.2 vs off, LSTM and GRU at E32/T100/B128/H32 (goal: <= 2x the time of off);
2. weight_drop 0.2 vs off, same shapes (goal: <= 1.1x); model.mask vs off, and a bidirectional
   model masked vs not (goal: <= 1.3x each);
3. data.bucket vs padding to maxlen on the real amazon-food lengths at maxlen 400
   (goal: >= 1.5x epoch speed, with test accuracy equal within noise: two seeds each).

Times are whole epochs (training, validation, checkpoint) from rnnexp's own training loop, on
amazon-food, interleaved knob/off so machine noise hits both. Prints tables and writes
bench/results/knobs.json.

    python bench/knobs.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, timed_run, write_result  # noqa: E402

from rnnexp.config import Config  # noqa: E402
from rnnexp.scoring import evaluate  # noqa: E402


def config(cell: str, maxlen: int, batch: int, epochs: int, seed: int = 0, **model_or_data) -> Config:
    data = {"dataset": "amazon-food", "maxlen": maxlen, "max_vocab": 10000, "val_split": 0.1}
    model = {"cell": cell, "embedding_dims": 32, "num_neurons": 32}
    for key, value in model_or_data.items():
        (data if key == "bucket" else model)[key] = value
    return Config.model_validate(
        {
            "name": "bench-knobs",
            "data": data,
            "model": model,
            "train": {"epochs": epochs, "batch_size": batch, "lr": 2e-3, "seed": seed, "early_stopping": {"enabled": False}},
        }
    )


def side_by_side(runs: Path, repeats: int, epochs: int, off: Config, on: Config) -> tuple[float, float]:
    """Median epoch time with the knob off and on, runs interleaved."""
    t_off, t_on = [], []
    for _ in range(repeats):
        t_off.extend(timed_run(off, runs)[1].epochs)
        t_on.extend(timed_run(on, runs)[1].epochs)
    return statistics.median(t_off), statistics.median(t_on)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bucket-epochs", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="1 repeat, 2 bucket epochs, 1 seed (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.bucket_epochs = 1, 2
    seeds = [0] if args.quick else [0, 1]

    cost_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        knobs = (  # what is measured, the model it is added to, the knob, the goal
            ("recurrent_dropout=0.2", {}, {"recurrent_dropout": 0.2}, 2.0),
            ("weight_drop=0.2", {}, {"weight_drop": 0.2}, 1.1),
            ("mask=True", {}, {"mask": True}, 1.3),
            ("mask=True, bidirectional", {"bidirectional": True}, {"mask": True}, 1.3),
        )
        for knob, base, added, goal in knobs:
            for cell in ("lstm", "gru"):
                off = config(cell, 100, 128, 2, **base)
                on = config(cell, 100, 128, 2, **base, **added)
                timed_run(off, runs)  # warm-up
                t_off, t_on = side_by_side(runs, args.repeats, 2, off, on)
                cost_rows.append(
                    {
                        "knob": knob,
                        "cell": cell,
                        "shape": "E32/T100/B128/H32",
                        "off_s": round(t_off, 3),
                        "on_s": round(t_on, 3),
                        "ratio": round(t_on / t_off, 3),
                        "goal": f"<= {goal}",
                    }
                )
                print(f"  measured {knob} {cell}: {cost_rows[-1]['ratio']}x", flush=True)

        bucket_rows = []
        for bucket in (False, True):
            for seed in seeds:
                cfg = config("gru", 400, 64, args.bucket_epochs, seed=seed, bucket=bucket)
                result, clock = timed_run(cfg, runs)
                report = evaluate(result.run_dir, which="best")
                bucket_rows.append(
                    {
                        "bucket": bucket,
                        "seed": seed,
                        "epoch_s": statistics.median(clock.epochs),
                        "test_accuracy": report["accuracy"],
                        "baseline": report["baseline"]["accuracy"],
                    }
                )
                print(
                    f"  measured bucket={bucket} seed={seed}: {bucket_rows[-1]['epoch_s']:.2f} s/epoch, "
                    f"test accuracy {report['accuracy']:.4f}",
                    flush=True,
                )

    def mean(key, bucket):
        return statistics.mean(r[key] for r in bucket_rows if r["bucket"] == bucket)

    speedup = mean("epoch_s", False) / mean("epoch_s", True)
    bucket_summary = {
        "maxlen": 400,
        "cell": "gru",
        "batch_size": 64,
        "epochs": args.bucket_epochs,
        "seeds": seeds,
        "pad_epoch_s": round(mean("epoch_s", False), 3),
        "bucket_epoch_s": round(mean("epoch_s", True), 3),
        "speedup": round(speedup, 3),
        "goal": ">= 1.5",
        "pad_test_accuracy": round(mean("test_accuracy", False), 4),
        "bucket_test_accuracy": round(mean("test_accuracy", True), 4),
        "majority_baseline": bucket_rows[0]["baseline"],
    }
    print_table(
        "knob cost (median epoch seconds; ratio = on / off)",
        ["knob", "cell", "shape", "off_s", "on_s", "ratio", "goal"],
        cost_rows,
    )
    print_table(
        "bucketing vs padding to maxlen 400 (GRU E32/H32, batch 64, amazon-food; mean over seeds)",
        ["pad_epoch_s", "bucket_epoch_s", "speedup", "goal", "pad_test_accuracy", "bucket_test_accuracy", "majority_baseline"],
        [bucket_summary],
    )
    write_result("knobs", {"repeats": args.repeats, "cost": cost_rows, "bucket": bucket_summary, "bucket_runs": bucket_rows})


if __name__ == "__main__":
    main()
