"""Recurrent kernels: one layer's forward + backward, PyTorch's nn.GRU / nn.LSTM vs rnnexp's scans.

The scans (rnnexp/scans.py: _GRUScan, _LSTMScan) are what VariationalRNN runs; here without a
recurrent mask, on the same weights and input as the PyTorch module, batch-first input that needs
its gradient (as an embedding's output does), loss = sum(output * fixed random weights). Each
measurement is one forward + backward; the two sides alternate (A, B, B, A, ...) because these
machines are noisy, and the medians are compared.

Ratio = PyTorch time / scan time (above 1: the scan is faster; issue 17's goal for the GRU: >= 2).
Prints a table and writes bench/results/cells.json.

    python bench/cells.py [--repeats 15] [--threads 1 2] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, write_result  # noqa: E402

from rnnexp.scans import _gru_direction, _lstm_direction  # noqa: E402

SHAPES = [  # (name, input size E, sequence length T, batch B, hidden H)
    ("E32/T100/B128/H32", 32, 100, 128, 32),
    ("E300/T100/B32/H128", 300, 100, 32, 128),
    ("E64/T400/B64/H64", 64, 400, 64, 64),
    ("E32/T100/B32/H256", 32, 100, 32, 256),
]


def sides(cell: str, e: int, t: int, b: int, h: int):
    """(PyTorch's step, the scan's step): each one forward + backward of the same layer and input."""
    module = (nn.GRU if cell == "gru" else nn.LSTM)(e, h, batch_first=True)
    x = torch.randn(b, t, e, requires_grad=True)
    weights = torch.randn(b, t, h)
    w_ih, w_hh, b_ih, b_hh = module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, module.bias_hh_l0

    def backward(out: torch.Tensor) -> None:
        x.grad = None
        module.zero_grad(set_to_none=True)
        (out * weights).sum().backward()

    def torch_step() -> None:
        backward(module(x)[0])

    def scan_step() -> None:
        if cell == "gru":
            backward(_gru_direction(x, w_ih, w_hh, b_ih, b_hh, None, reverse=False))
        else:
            backward(_lstm_direction(x, w_ih, w_hh, b_ih + b_hh, None, reverse=False))

    return torch_step, scan_step


def seconds(step) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def measure(cell: str, shape: tuple, threads: int, repeats: int) -> dict:
    name, e, t, b, h = shape
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    torch_step, scan_step = sides(cell, e, t, b, h)
    for step in (torch_step, scan_step, torch_step, scan_step):  # warm-up: allocator, kernels
        step()
    theirs, ours = [], []
    for r in range(repeats):
        # alternate which side runs first, so neither always gets the warmer machine
        if r % 2 == 0:
            theirs.append(seconds(torch_step))
            ours.append(seconds(scan_step))
        else:
            ours.append(seconds(scan_step))
            theirs.append(seconds(torch_step))
    t_med, o_med = statistics.median(theirs), statistics.median(ours)
    return {
        "cell": cell,
        "shape": name,
        "threads": threads,
        "torch_ms": round(t_med * 1e3, 2),
        "scan_ms": round(o_med * 1e3, 2),
        "ratio": round(t_med / o_med, 2),
        "ratio_best": round(min(theirs) / min(ours), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--quick", action="store_true", help="3 repeats, first shape only (smoke test)")
    args = parser.parse_args()
    shapes = SHAPES[:1] if args.quick else SHAPES
    repeats = 3 if args.quick else args.repeats

    rows = []
    for threads in args.threads:
        for shape in shapes:
            for cell in ("gru", "lstm"):
                rows.append(measure(cell, shape, threads, repeats))
                print(f"  measured {cell} {shape[0]} threads={threads}: ratio {rows[-1]['ratio']}", flush=True)

    print_table(
        f"one layer forward + backward ({repeats} repeats, alternating order; ratio = PyTorch time / scan time, "
        "of the medians and of the best runs)",
        ["cell", "shape", "threads", "torch_ms", "scan_ms", "ratio", "ratio_best"],
        rows,
    )
    gru = [r["ratio"] for r in rows if r["cell"] == "gru"]
    write_result(
        "cells",
        {"goal": "gru ratio >= 2", "repeats": repeats, "rows": rows, "min_gru_ratio": min(gru), "max_gru_ratio": max(gru)},
    )


if __name__ == "__main__":
    main()
