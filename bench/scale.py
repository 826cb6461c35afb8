"""Users' data at a million texts: how long rnnexp takes to be ready to train, and its peak memory,
beside the floor (a bare process that imports torch and reads the CSV with pandas: nothing can be
ready sooner), on a cold cache (the file read and tokenized once, then stored) and a warm one (the
cache's entry mapped into memory); at 1,000,000 texts also a 4-trial sweep on 2 workers, and how
many times it prepared the data; and 5,000,000 texts prepared once (ready to train at all?).

Beside them, what every training command pays with no data at all: importing torch and building
the default optimizer (rnnexp's Keras Adam; torch.optim's would import torch._dynamo, ~1.4 s more).

The texts are bench/baselines.py's: amazon-food sentences recombined into reviews of 2-8 sentences,
as a text,label CSV. The run: GRU 32, maxlen 100, HTML stripped (`rnnexp train --dry-run`: data,
vocabulary and model set up, then stop). Each timed command runs in a process of its own; its peak
RSS is the kernel's (getrusage of a parent with one child). Prints a table and writes
bench/results/scale.json.

    python bench/scale.py [--sizes 200000,1000000] [--large 5000000] [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, write_result  # noqa: E402

PYTHON = sys.executable
MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True); "
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, rc.returncode); "
    "sys.stderr.write(rc.stderr)"
)


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes, stderr) of ``cmd`` in a process of its own."""
    done = subprocess.run([PYTHON, "-c", MEASURE, *cmd], capture_output=True, text=True, env=env)
    seconds, rss, rc = done.stdout.split()
    if rc != "0":
        raise SystemExit(f"{' '.join(cmd)} failed ({rc}):\n{done.stderr[-2000:]}")
    return float(seconds), int(rss), done.stderr


def write_corpus(n: int, path: Path) -> Path:
    """bench/baselines.py's texts, written as a CSV once (kept in the work folder)."""
    if path.is_file():
        return path
    from baselines import corpus

    texts, labels = corpus(n)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(zip(texts, labels.tolist()))
    tmp.replace(path)
    return path


def write_config(path: Path, data: Path) -> Path:
    path.write_text(
        "name: scale\n"
        f"data: {{dataset: null, train_file: {data}, maxlen: 100, strip_html: true}}\n"
        "model: {cell: gru, num_neurons: 32, embedding_dims: 32}\n"
        "train: {epochs: 1, batch_size: 256, baselines: false}\n"
    )
    return path


def ready(config: Path, env: dict[str, str]) -> tuple[float, int]:
    seconds, rss, _ = measured([PYTHON, "-m", "rnnexp", "train", str(config), "--dry-run", "--quiet"], env)
    return seconds, rss


def floor(data: Path, env: dict[str, str]) -> tuple[float, int]:
    seconds, rss, _ = measured([PYTHON, "-c", f"import torch, pandas; pandas.read_csv({str(data)!r})"], env)
    return seconds, rss


def fixed(env: dict[str, str]) -> float:
    """What every training command pays before any data: importing torch and building the default
    optimizer (train.optimizer adam under optimizer_defaults keras, which imports no torch._dynamo)."""
    code = (
        "import torch; from rnnexp.config import TrainConfig; from rnnexp.training.optimizers import make_optimizer; "
        "make_optimizer([torch.nn.Parameter(torch.zeros(1))], TrainConfig().optimizer_settings())"
    )
    return measured([PYTHON, "-c", code], env)[0]


def size_row(n: int, work: Path, env: dict[str, str]) -> dict:
    data = write_corpus(n, work / f"texts{n}.csv")
    config = write_config(work / f"scale{n}.yaml", data)
    cache = work / f"cache{n}"
    shutil.rmtree(cache, ignore_errors=True)
    env = {**env, "RNNEXP_CACHE_DIR": str(cache)}
    floors = [floor(data, env) for _ in range(2)]
    colds = []
    for _ in range(2):  # each on an empty cache; the best of two, as the floor and warm are bests
        shutil.rmtree(cache, ignore_errors=True)
        colds.append(ready(config, env))
    warms = [ready(config, env) for _ in range(2)]
    floors.append(floor(data, env))
    base, warm, cold = min(f[0] for f in floors), min(w[0] for w in warms), min(colds)
    fixed_s = min(fixed(env) for _ in range(2))
    csv_bytes = data.stat().st_size
    peak = max(*(c[1] for c in colds), *(w[1] for w in warms))
    return {
        "texts": n,
        "csv_mb": round(csv_bytes / 1e6, 1),
        "floor_s": round(base, 2),
        "cold_s": round(cold[0], 2),
        "warm_s": round(warm, 2),
        "fixed_s": round(fixed_s, 2),
        "cold_x": round(cold[0] / base, 2),
        "warm_x": round(warm / base, 2),
        "peak_rss_mb": round(peak / 1e6),
        "rss_goal_mb": round((3 * csv_bytes + 700e6) / 1e6),
        "cold_rss_mb": round(max(c[1] for c in colds) / 1e6),
        "warm_rss_mb": round(max(w[1] for w in warms) / 1e6),
    }


def sweep_row(n: int, work: Path, env: dict[str, str]) -> dict:
    """4 trials, 2 workers, 1 epoch of a small model, on a cold cache: how many trials prepared the
    data (the others say they took it from the cache)."""
    data = write_corpus(n, work / f"texts{n}.csv")
    write_config(work / "sweep_base.yaml", data)
    sweep = work / "sweep.yaml"
    sweep.write_text(
        "name: scale-sweep\nbase: sweep_base.yaml\n"
        "set: {train.epochs: 1, train.batch_size: 1024, data.maxlen: 20, model.num_neurons: 8, model.embedding_dims: 8}\n"
        "space: {model.cell: [gru, lstm], train.lr: [0.001, 0.003]}\n"
        "objective: {metric: val_accuracy}\nsampler: {kind: grid}\npruner: {kind: none}\nworkers: 2\n"
    )
    cache, runs = work / "cache-sweep", work / "sweep-runs"
    for folder in (cache, runs):
        shutil.rmtree(folder, ignore_errors=True)
    env = {**env, "RNNEXP_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-m", "rnnexp", "sweep", str(sweep), "--runs-dir", str(runs)], capture_output=True, text=True, env=env
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the sweep failed ({done.returncode}):\n{done.stderr[-3000:]}")
    hits = len(re.findall(r"trial \d+: data: .* from the cache", done.stderr))
    trials = len(list((next(runs.iterdir()) / "trials").iterdir()))
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")]
    return {
        "texts": n,
        "trials": trials,
        "workers": 2,
        "prepared": trials - hits,
        "entries": len(entries),
        "seconds": round(seconds, 1),
    }


def large_row(n: int, work: Path, env: dict[str, str]) -> dict:
    data = write_corpus(n, work / f"texts{n}.csv")
    config = write_config(work / f"scale{n}.yaml", data)
    cache = work / f"cache{n}"
    shutil.rmtree(cache, ignore_errors=True)
    seconds, rss = ready(config, {**env, "RNNEXP_CACHE_DIR": str(cache)})
    shutil.rmtree(cache, ignore_errors=True)
    return {"texts": n, "csv_mb": round(data.stat().st_size / 1e6), "cold_s": round(seconds, 1), "peak_rss_mb": round(rss / 1e6)}


def format_row(n: int, work: Path) -> dict | None:
    """The cache's format against Arrow's: the n-text entry's parts written as raw arrays (what
    cache.store writes) and as Arrow IPC files (uncompressed, a column each), then opened
    memory-mapped as numpy arrays (no checksums: Arrow's format has none, and both would add the
    same CRC pass). Best of 3 each, the files in the page cache as a run finds them."""
    import numpy as np
    import pyarrow as pa

    entries = [p for p in (work / f"cache{n}").iterdir() if not p.name.startswith(".")] if (work / f"cache{n}").is_dir() else []
    if not entries:
        return None
    meta = json.loads((entries[0] / "entry.json").read_text())
    parts = {name: np.fromfile(entries[0] / f"{name}.bin", dtype=np.dtype(p["dtype"])) for name, p in meta["parts"].items()}
    out = {"raw": work / "format-raw", "arrow": work / "format-arrow"}

    def write_raw() -> None:
        for name, array in parts.items():
            with open(out["raw"] / f"{name}.bin", "wb") as f:
                f.write(memoryview(array.view(np.uint8)))

    def open_raw() -> list:
        return [np.memmap(out["raw"] / f"{name}.bin", dtype=a.dtype, mode="r") for name, a in parts.items()]

    def write_arrow() -> None:
        for name, array in parts.items():
            table = pa.table({name: pa.array(array)})
            with pa.OSFile(str(out["arrow"] / f"{name}.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)

    def open_arrow() -> list:
        arrays = []
        for name in parts:
            table = pa.ipc.open_file(pa.memory_map(str(out["arrow"] / f"{name}.arrow"))).read_all()
            arrays.append(table.column(0).chunk(0).to_numpy(zero_copy_only=True))
        return arrays

    def best(step) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        return min(times)

    row: dict = {"texts": n}
    for kind, write, read in (("raw", write_raw, open_raw), ("arrow", write_arrow, open_arrow)):
        shutil.rmtree(out[kind], ignore_errors=True)
        out[kind].mkdir()
        row[f"{kind}_write_s"] = round(best(write), 3)
        row[f"{kind}_open_ms"] = round(1000 * best(read), 2)
        same = all(np.array_equal(a, b) for a, b in zip(read(), parts.values()))
        row[f"{kind}_mb"] = round(sum(f.stat().st_size for f in out[kind].iterdir()) / 1e6, 1)
        row[f"{kind}_same"] = same
        shutil.rmtree(out[kind], ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,1000000", help="texts of the cold/warm rows")
    parser.add_argument("--large", type=int, default=5_000_000, help="texts prepared once (0: skip)")
    parser.add_argument("--sweep", type=int, default=1_000_000, help="texts of the sweep row (0: skip)")
    parser.add_argument("--work", type=Path, default=None, help="where the CSVs and caches go (default: a temp folder)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="rnnexp-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ}
    rows = [size_row(int(n), work, env) for n in args.sizes.split(",")]
    print_table("Ready to train (seconds; x: times the floor)", list(rows[0]), rows)
    formats = format_row(max(int(n) for n in args.sizes.split(",")), work)
    if formats:
        print_table("The cache's format: raw arrays against Arrow IPC", list(formats), [formats])
    sweep = sweep_row(args.sweep, work, env) if args.sweep else None
    if sweep:
        print_table("A sweep on a cold cache", list(sweep), [sweep])
    large = large_row(args.large, work, env) if args.large else None
    if large:
        print_table("Prepared once", list(large), [large])
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    write_result("scale", {"rows": rows, "formats": formats, "sweep": sweep, "large": large, "cpus": os.cpu_count()})
    print(json.dumps({"rows": rows, "sweep": sweep, "large": large}))


if __name__ == "__main__":
    main()
