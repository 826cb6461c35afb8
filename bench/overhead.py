"""Runner overhead: rnnexp's training throughput vs a hand-written PyTorch loop.

Same model class, same data (amazon-food reviews, maxlen 100), same optimizer, same threads, in
one process, measurements interleaved (hand, rnnexp, hand, rnnexp, ...) because these machines
are noisy. Both sides do what a real loop does each epoch: shuffle, train, score the validation
split. rnnexp additionally writes checkpoints, metrics.csv and summary.json every epoch.

Ratio = hand-loop time / rnnexp time for the same epochs (1.0 = no overhead; goal >= 0.95).
For the GRU, which rnnexp trains through its own scan on CPU, a third side runs the same hand loop
on PyTorch's nn.GRU (what a user of nn.GRU gets): vs_nn_gru = that time / rnnexp time (issue 17's
goal: >= 1.5 at E32/T100/B128/H32). Prints a table and writes bench/results/overhead.json.

    python bench/overhead.py [--epochs 2] [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, timed_run, write_result  # noqa: E402

from rnnexp.cells import VariationalRNN  # noqa: E402
from rnnexp.config import Config  # noqa: E402
from rnnexp.data import Preprocessor, load_splits  # noqa: E402
from rnnexp.model import build_model, predict_logits  # noqa: E402

SHAPES = [  # (name, embedding dims E, sequence length T, batch B, hidden H)
    ("E32/T100/B128/H32", 32, 100, 128, 32),
    ("E300/T100/B32/H128", 300, 100, 32, 128),
]


def make_config(cell: str, e: int, t: int, b: int, h: int, epochs: int) -> Config:
    return Config.model_validate(
        {
            "name": "bench",
            "data": {"dataset": "amazon-food", "maxlen": t, "max_vocab": 10000, "val_split": 0.1},
            "model": {"cell": cell, "embedding_dims": e, "num_neurons": h},
            "train": {"epochs": epochs, "batch_size": b, "lr": 1e-3, "seed": 0, "early_stopping": {"enabled": False}},
        }
    )


def on_nn_gru(model) -> None:
    """The model's GRU scan swapped for nn.GRU with the same weights (as rnnexp trained before it)."""
    rnn = model.rnn
    fused = torch.nn.GRU(
        rnn.input_size, rnn.hidden_sizes[0], num_layers=rnn.num_layers, batch_first=True, bidirectional=rnn.bidirectional
    )
    fused.load_state_dict(rnn.state_dict())
    model.rnn, model.scans_on_cpu, model.eval_fused = fused, False, False


def hand_loop(cfg: Config, prep: Preprocessor, splits, epochs: int, nn_gru: bool = False) -> float:
    """What a user writes by hand: the same model (or, with ``nn_gru``, the same on nn.GRU), Adam,
    shuffled batches, a validation pass."""
    torch.manual_seed(cfg.train.seed)
    x = torch.from_numpy(prep.encode_texts(splits.train.texts))
    y = torch.from_numpy(prep.encode_labels(splits.train))
    vx = torch.from_numpy(prep.encode_texts(splits.val.texts))
    vy = torch.from_numpy(prep.encode_labels(splits.val))
    model = build_model(cfg.model, {"kind": "tokens", "vocab_size": len(prep.vocab), "seq_len": prep.maxlen}, prep.num_classes)
    if nn_gru:
        assert isinstance(model.rnn, VariationalRNN)
        on_nn_gru(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(y)).split(cfg.train.batch_size):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        val_loss = F.cross_entropy(predict_logits(model, vx), vy).item()
    assert val_loss == val_loss
    return time.perf_counter() - started


def rnnexp_loop(cfg: Config, runs: Path) -> float:
    return timed_run(cfg, runs)[1].total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 epoch, 1 repeat (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.repeats = 1, 1

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cell in ("lstm", "gru"):
            for name, e, t, b, h in SHAPES:
                cfg = make_config(cell, e, t, b, h, args.epochs)
                splits = load_splits(cfg.data)
                prep = Preprocessor.fit(splits.train, cfg.data)
                hand_loop(cfg, prep, splits, 1)  # warm-up: allocator, kernels
                hand, ours, plain = [], [], []
                sides = ("hand", "rnnexp", "nn_gru") if cell == "gru" else ("hand", "rnnexp")
                for r in range(args.repeats):
                    # alternate which side runs first, so neither always gets the warmer machine
                    for side in sides if r % 2 == 0 else sides[::-1]:
                        if side == "rnnexp":
                            ours.append(rnnexp_loop(cfg, Path(tmp)))
                        else:
                            (plain if side == "nn_gru" else hand).append(
                                hand_loop(cfg, prep, splits, args.epochs, side == "nn_gru")
                            )
                h_med, o_med = statistics.median(hand), statistics.median(ours)
                examples = len(splits.train) * args.epochs
                rows.append(
                    {
                        "cell": cell,
                        "shape": name,
                        "hand_seconds": round(h_med, 3),
                        "rnnexp_seconds": round(o_med, 3),
                        "hand_examples_per_s": round(examples / h_med, 1),
                        "rnnexp_examples_per_s": round(examples / o_med, 1),
                        "ratio": round(h_med / o_med, 3),
                        "ratio_best": round(min(hand) / min(ours), 3),
                        "nn_gru_examples_per_s": round(examples / statistics.median(plain), 1) if plain else None,
                        "vs_nn_gru": round(statistics.median(plain) / o_med, 3) if plain else None,
                    }
                )
                print(f"  measured {cell} {name}: ratio {rows[-1]['ratio']}", flush=True)

    print_table(
        f"runner overhead ({args.epochs} epochs x {args.repeats} repeats, alternating order; ratio = hand time / "
        "rnnexp time, of the medians and of the best runs)",
        [
            "cell",
            "shape",
            "hand_examples_per_s",
            "rnnexp_examples_per_s",
            "ratio",
            "ratio_best",
            "nn_gru_examples_per_s",
            "vs_nn_gru",
        ],
        rows,
    )
    write_result(
        "overhead",
        {
            "goal": "ratio >= 0.95",
            "epochs": args.epochs,
            "repeats": args.repeats,
            "rows": rows,
            "min_ratio": min(r["ratio"] for r in rows),
        },
    )


if __name__ == "__main__":
    main()
