"""The tuning guide's recording (docs/tutorials/tuning-guide.md): `python docs/gen/figures.py --only tuning`.

Every figure of the guide comes from the real commands run here, in a folder laid out as a
reader's checkout is (configs/ beside runs/), so each command is recorded as the reader types it
(the recorder adds --json to read its result). Two commands run at a time (the machine's two
cores), each pinned to one thread (train.threads=1), so every score repeats exactly; the epoch
times in the recording are measured under that load and are shown only as ratios between runs of
one step. The results go to docs/gen/recordings/tuning.json, the plots to docs/assets/tuning/;
docs/gen/tuning_tables.py draws the guide's tables from the JSON, and tests/test_docs_tuning.py
checks the guide's conclusions against it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import figures
import tuning_plots as plots

ROOT = figures.ROOT
ASSETS = ROOT / "docs" / "assets" / "tuning"
SEEDS = [0, 1, 2, 3, 4]
FEW_SEEDS = [0, 1, 2]  # where one run is long (amazon-food at maxlen 400)
PIN = ["--set", "train.threads=1"]  # one thread: the same numbers on any CPU, whatever else runs
QUIET = [*PIN, "--set", "train.baselines=false"]  # the baselines are scored once, where the guide shows them
UCI = "configs/uci_sentiment.yaml"
PLATEAU = "configs/uci_gru_plateau.yaml"
VECTORS = "vectors/amazon-ppmi-32.txt"
# The amazon-food model of the maxlen step: the quickstart's data with a small one-directional GRU,
# so that a long maxlen stays affordable.
AMAZON = ["--set", "model.cell=gru", "--set", "model.bidirectional=false", "--set", "model.embedding_dims=32"]
AMAZON += ["--set", "train.lr=0.003"]
AMAZON_RUN = [*AMAZON, "--set", "train.epochs=6"]
METRICS = ("train_loss", "val_loss", "val_accuracy", "seconds", "lr")


class Lab:
    """A working folder (configs/, runs/, vectors/) and at most two commands running at once."""

    def __init__(self, work: Path):
        self.work = work
        shutil.copytree(ROOT / "configs", work / "configs")
        (work / "runs").mkdir()
        (work / "vectors").mkdir()
        data = os.environ.get("RNNEXP_DATA_DIR", str(ROOT.parent / "shared" / "data"))
        self.env = {**os.environ, "RNNEXP_RUNS_DIR": str(work / "runs"), "RNNEXP_DATA_DIR": data}
        self.slots = threading.Semaphore(2)
        self.pool = ThreadPoolExecutor(32)
        self.alone_lock = threading.Lock()
        self.base: Future | None = None  # the shipped uci config over the seeds, which most steps compare with

    def later(self, fn, *args) -> Future:
        return self.pool.submit(fn, *args)

    def rnnexp(self, *args: str, alone: bool = False) -> dict[str, Any]:
        """`rnnexp ARGS --json` in the working folder: {"command": as typed, "result": its JSON}.
        ``alone``: while no other command of this recording runs (for a timing)."""
        with self.slots if not alone else self.both():
            started = time.perf_counter()
            proc = subprocess.run(
                [str(figures.RNNEXP), *args, "--json"], cwd=self.work, env=self.env, capture_output=True, text=True
            )
        if proc.returncode != 0:
            raise SystemExit(f"rnnexp {shlex.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        print(f"    {time.perf_counter() - started:5.0f} s  rnnexp {shlex.join(args)[:150]}", flush=True)
        return {"command": "rnnexp " + shlex.join(args), "result": json.loads(proc.stdout)}

    @contextlib.contextmanager
    def both(self):
        """Both slots (one caller at a time takes them, so two callers cannot each hold one)."""
        with self.alone_lock, self.slots, self.slots:
            yield

    def path(self, recorded: str) -> Path:
        return self.work / recorded

    def grid(self, config: str, grid: dict[str, list], sets: list[str] = (), seeds: list[int] = SEEDS, curves: bool = False):
        """A grid sweep over ``grid`` and the seeds, one worker: its command and each trial's result
        (with its per-epoch metrics when ``curves``)."""
        values = {**grid, "train.seed": seeds}
        args = [
            "sweep",
            config,
            *(a for k, v in values.items() for a in ("--grid", f"{k}={','.join(map(fmt, v))}")),
            *QUIET,
            *sets,
        ]
        ran = self.rnnexp(*args, "--workers", "1")
        return {"commands": [ran["command"]], "trials": [trial(t, list(values), curves) for t in ran["result"]["trials"]]}

    def with_base(self, *parts: dict[str, Any], shipped: dict[str, Any]) -> dict[str, Any]:
        """Grids' trials together with the shipped config's own (the base sweep, over the same seeds):
        ``shipped`` are the shipped config's values of the grids' keys."""
        base = self.base.result()
        trials = [{**t, "params": {**t["params"], **shipped}, "shipped": True} for t in base["trials"]]
        commands = [c for part in parts for c in part["commands"]] + base["commands"]
        return {"commands": commands, "trials": [t for part in parts for t in part["trials"]] + trials}


def trial(t: dict[str, Any], keys: list[str], curves: bool) -> dict[str, Any]:
    """What the guide needs of one sweep trial: its settings, best score, epochs, warnings, epoch time."""
    run = Path(t["run_dir"])
    summary = json.loads((run / "summary.json").read_text())
    meta = json.loads((run / "meta.json").read_text())
    metrics = history(run)
    return {
        "params": {k: t[k] for k in keys},
        "value": t["value"],  # the sweep's objective: the config's early-stopping monitor
        "best_val_accuracy": max(metrics["val_accuracy"]),
        "epochs": t["epochs"],
        "best_epoch": summary["best_epoch"],
        "status": summary["status"],
        "warnings": summary["warnings"],
        "pretrained": meta["model"].get("pretrained"),
        "epoch_seconds": statistics.median(metrics["seconds"]),
        "run_dir": str(run),
        **({"history": metrics} if curves else {}),
    }


def history(run: Path) -> dict[str, list[float]]:
    """metrics.csv by column (the columns the guide plots)."""
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in METRICS if rows and k in rows[0]}


def rows(trials: list[dict[str, Any]], by: list[str]) -> list[dict[str, Any]]:
    """One row per setting of the ``by`` keys, over its seeds: the best validation accuracy's mean,
    sample standard deviation, lowest and highest; epochs trained and the best epoch, on average;
    the median epoch time."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for t in trials:
        groups.setdefault(tuple(t["params"][k] for k in by), []).append(t)
    out = []
    for key, group in sorted(groups.items(), key=lambda kv: [_order(v) for v in kv[0]]):
        values = [t["best_val_accuracy"] for t in group]
        out.append(
            {
                **dict(zip(by, key)),
                "runs": len(group),
                "values": values,
                "mean": statistics.fmean(values),
                "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                "min": min(values),
                "max": max(values),
                "epochs": statistics.fmean(t["epochs"] for t in group),
                "best_epoch": statistics.fmean(t["best_epoch"] or 0 for t in group),
                "epoch_seconds": statistics.median(t["epoch_seconds"] for t in group),
                "warned": sum(1 for t in group if t["warnings"]),
                "shipped": any(t.get("shipped") for t in group),
            }
        )
    return out


def _order(value: Any) -> tuple:
    """Settings in a table: null first, then numbers (and false before true) ascending, then words."""
    if value is None:
        return (0, 0, "")
    return (1, value, "") if isinstance(value, (int, float)) else (2, 0, str(value))


def fmt(value: Any) -> str:
    """A value as --grid and --set take it (YAML)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return repr(value) if isinstance(value, float) else str(value)


# -- 1. maxlen ------------------------------------------------------------------------------------

UCI_MAXLENS = [5, 10, 20]  # and the shipped 40
AMAZON_MAXLENS = [25, 50, 100, 200, 400]


TIMED = [*(str(m) for m in AMAZON_MAXLENS), "400 bucket"]


def timing(lab: Lab, rounds: int = 3) -> dict[str, Any]:
    """One epoch of the amazon-food model at each maxlen (and at 400 with data.bucket), in turn, each
    alone among this recording's commands, ``rounds`` times: each epoch's time over the same round's
    maxlen-400 epoch, the median over the rounds. Other work on the machine slows every run of a
    round alike, so the ratio holds where a time in seconds would not."""
    commands, ratios = {}, {name: [] for name in TIMED}
    for n in range(rounds):
        seconds = {}
        for name in TIMED[n % len(TIMED) :] + TIMED[: n % len(TIMED)]:  # a different order each round
            maxlen, _, bucket = name.partition(" ")
            args = [
                "train",
                "configs/quickstart.yaml",
                *AMAZON,
                "--set",
                "train.epochs=1",
                *QUIET,
                "--set",
                f"data.maxlen={maxlen}",
            ]
            args += ["--set", "data.bucket=true"] if bucket else []
            ran = lab.rnnexp(*args, alone=True)
            commands[name] = ran["command"]
            seconds[name] = ran["result"]["last"]["seconds"]
        for name in TIMED:
            ratios[name].append(seconds[name] / seconds["400"])
    return {"commands": commands, "rounds": rounds, "ratios": {k: statistics.median(v) for k, v in ratios.items()}}


def step_maxlen(lab: Lab) -> dict[str, Any]:
    plans = {("uci", 40): lab.later(lab.rnnexp, "train", UCI, "--dry-run", *PIN)}
    for m in [*AMAZON_MAXLENS, 150]:
        plans["amazon", m] = lab.later(lab.rnnexp, "train", "configs/quickstart.yaml", "--dry-run", "--set", f"data.maxlen={m}")
    bucketed = ["--set", "data.maxlen=400", "--set", "data.bucket=true"]
    plans["amazon", "400 bucket"] = lab.later(lab.rnnexp, "train", "configs/quickstart.yaml", "--dry-run", *bucketed)
    uci = lab.later(lambda: lab.with_base(lab.grid(UCI, {"data.maxlen": UCI_MAXLENS}), shipped={"data.maxlen": 40}))
    amazon = lab.later(lab.grid, "configs/quickstart.yaml", {"data.maxlen": AMAZON_MAXLENS}, AMAZON_RUN, FEW_SEEDS)
    post = lab.later(
        lab.grid, "configs/quickstart.yaml", {"data.maxlen": [25, 50], "data.truncating": ["post"]}, AMAZON_RUN, FEW_SEEDS
    )
    dry = {
        f"{name}-{m}": {"command": f.result()["command"], **f.result()["result"]["data"]["lengths"]["train"]}
        for (name, m), f in plans.items()
    }
    dry["uci-40"]["splits"] = {k: v["examples"] for k, v in plans["uci", 40].result()["result"]["data"]["lengths"].items()}
    out = {"dry_runs": dry, "uci": uci.result(), "amazon": amazon.result(), "amazon_post": post.result()}
    out["uci"]["rows"] = rows(out["uci"]["trials"], ["data.maxlen"])
    out["amazon"]["rows"] = rows(out["amazon"]["trials"], ["data.maxlen"])
    out["amazon_post"]["rows"] = rows(out["amazon_post"]["trials"], ["data.maxlen"])
    out["timing"] = timing(lab)
    for r in out["amazon"]["rows"]:
        r["time_ratio"] = out["timing"]["ratios"][str(r["data.maxlen"])]
    return out


# -- 2. embeddings --------------------------------------------------------------------------------


def neighbours(path: Path, words: list[str], k: int = 5) -> dict[str, list[str]]:
    """The k nearest words (cosine) of each word, in a word2vec text file."""
    import numpy as np

    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    vocab = [line.split(" ", 1)[0] for line in lines]
    vectors = np.array([[float(v) for v in line.split(" ")[1:]] for line in lines])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    found = {}
    for word in words:
        sims = vectors @ vectors[vocab.index(word)]
        found[word] = [vocab[i] for i in np.argsort(-sims)[1 : k + 1]]
    return found


def step_embedding(lab: Lab) -> dict[str, Any]:
    import tuning_vectors

    dims = lab.later(
        lambda: lab.with_base(lab.grid(UCI, {"model.embedding_dims": [8, 128]}), shipped={"model.embedding_dims": 32})
    )
    with lab.slots:
        built = tuning_vectors.build_vectors(lab.path(VECTORS))
    sets = ["--set", "model.embedding_dims=null", "--set", f"model.embedding.pretrained=../{VECTORS}"]  # relative to configs/
    pre = lab.grid(UCI, {"model.embedding.freeze": [False, True]}, sets)
    out = {"dims": dims.result(), "pretrained": pre, "vectors": {"file": VECTORS, **built}}
    out["vectors"]["neighbours"] = neighbours(lab.path(VECTORS), ["great", "terrible", "coffee", "love"])
    out["vectors"]["coverage"] = pre["trials"][0]["pretrained"]
    out["dims"]["rows"] = rows(out["dims"]["trials"], ["model.embedding_dims"])
    out["pretrained"]["rows"] = rows(pre["trials"], ["model.embedding.freeze"])
    return out


# -- 3. batch size, epochs, early stopping, resume -------------------------------------------------


def interrupted(lab: Lab, args: list[str], after: int) -> dict[str, Any]:
    """A training stopped by Ctrl-C (SIGINT) as soon as epoch ``after`` has ended: its result."""
    with lab.slots:
        proc = subprocess.Popen(
            [str(figures.RNNEXP), *args, "--json"],
            cwd=lab.work,
            env=lab.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for line in proc.stderr:
            if line.startswith(f"epoch {after:3d} "):
                proc.send_signal(signal.SIGINT)
                break
        out, _ = proc.communicate()
    if proc.returncode != 130:
        raise SystemExit(f"rnnexp {shlex.join(args)}: expected exit 130 after Ctrl-C, got {proc.returncode}")
    return {"command": "rnnexp " + shlex.join(args), "exit": proc.returncode, "result": json.loads(out)}


def step_batch(lab: Lab) -> dict[str, Any]:
    batch = lab.later(lambda: lab.with_base(lab.grid(UCI, {"train.batch_size": [8, 128]}), shipped={"train.batch_size": 32}))
    full = lab.later(lab.grid, UCI, {"train.early_stopping.enabled": [False]}, [], SEEDS, True)
    args = ["train", UCI, *QUIET, "--set", "train.seed=0"]
    straight = lab.later(lab.rnnexp, *args)
    stopped = interrupted(lab, args, after=2)
    resumed = lab.rnnexp("resume", os.path.relpath(stopped["result"]["run_dir"], lab.work))
    same = history(lab.work / straight.result()["result"]["run_dir"]), history(lab.work / resumed["result"]["run_dir"])
    for h in same:
        h.pop("seconds")
    out = {"batch": batch.result(), "full": full.result()}
    out["resume"] = {"straight": straight.result(), "stopped": stopped, "resumed": resumed, "identical": same[0] == same[1]}
    out["resume"]["history"] = same[1]
    out["batch"]["rows"] = rows(out["batch"]["trials"], ["train.batch_size"])
    return out


# -- 4. learning rate, schedule, optimizer, clipping, initialisation ------------------------------

LRS = [0.0003, 0.001, 0.003, 0.01, 0.03]


def step_lr(lab: Lab) -> dict[str, Any]:
    adam = lab.later(lab.grid, UCI, {"train.lr": [lr for lr in LRS if lr != 0.003], "train.optimizer": ["adam"]})
    rmsprop = lab.later(lab.grid, UCI, {"train.lr": LRS, "train.optimizer": ["rmsprop"]})
    schedule = ["--set", "train.lr=0.01", "--set", "train.lr_schedule.decay=0.5", "--set", "train.lr_schedule.gamma=0.5"]
    decay = lab.later(lab.grid, UCI, {"train.lr_schedule.kind": ["time", "exponential", "cosine"]}, schedule)
    clip = lab.later(lab.grid, UCI, {"train.clip_norm": [None], "train.lr": [0.003, 0.03]})
    init = lab.later(lambda: lab.with_base(lab.grid(UCI, {"model.init": ["torch"]}), shipped={"model.init": "keras"}))
    out = {"optimizer": lab.with_base(adam.result(), rmsprop.result(), shipped={"train.optimizer": "adam", "train.lr": 0.003})}
    adam_at = lambda lr: [t for t in adam.result()["trials"] if t["params"]["train.lr"] == lr]  # noqa: E731
    constant = {"commands": adam.result()["commands"], "trials": adam_at(0.01)}
    out["schedule"] = merge(decay.result(), constant, {"train.lr_schedule.kind": "none"})
    clipped = {"commands": adam.result()["commands"], "trials": adam_at(0.03)}  # the shipped clip_norm, 1.0
    out["clip"] = lab.with_base(
        merge(clip.result(), clipped, {"train.clip_norm": 1.0}), shipped={"train.clip_norm": 1.0, "train.lr": 0.003}
    )
    out["init"] = init.result()
    by = {
        "optimizer": ["train.optimizer", "train.lr"],
        "schedule": ["train.lr_schedule.kind"],
        "clip": ["train.lr", "train.clip_norm"],
        "init": ["model.init"],
    }
    for name, keys in by.items():
        out[name]["rows"] = rows(out[name]["trials"], keys)
    return out


def merge(part: dict[str, Any], other: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A grid's trials and some of another grid's, those with ``values`` set in their params."""
    extra = [{**t, "params": {**t["params"], **values}} for t in other["trials"]]
    return {"commands": part["commands"] + other["commands"], "trials": part["trials"] + extra}


# -- 5. the GRU that plateaus ----------------------------------------------------------------------


def step_plateau(lab: Lab) -> dict[str, Any]:
    first = lab.later(lab.rnnexp, "train", PLATEAU, *PIN)
    found = lab.rnnexp("lr-find", PLATEAU, *PIN)
    lr = float(f"{found['result']['suggested_lr']:.2g}")  # as the `try:` line lr-find prints rounds it
    rerun = lab.later(lab.rnnexp, "train", PLATEAU, *PIN, "--set", f"train.lr={fmt(lr)}")
    # The lr the old notes of this project named (0.02) beside the one lr-find suggests now.
    seeds = lab.grid(PLATEAU, {"train.lr": sorted({0.0001, lr, 0.02})}, [], SEEDS, True)
    folder = lab.path(os.path.relpath(found["result"]["folder"], lab.work))
    prior = json.loads((folder / "lr_find.json").read_text()).get("prior_loss")
    out = {"first": first.result(), "lr_find": found, "lr": lr, "rerun": rerun.result(), "seeds": seeds}
    out["first"]["history"] = history(Path(out["first"]["result"]["run_dir"]))
    out["rerun"]["history"] = history(Path(out["rerun"]["result"]["run_dir"]))
    out["lr_find"]["prior_loss"] = prior
    with (folder / "lr_find.csv").open() as f:  # the range test's curve, for the guide's claims about it
        out["lr_find"]["curve"] = [{"lr": float(r["lr"]), "smoothed": float(r["smoothed_loss"])} for r in csv.DictReader(f)]
    out["seeds"]["rows"] = rows(seeds["trials"], ["train.lr"])
    shutil.copyfile(folder / "lr_find.png", plots.ASSETS / "lr_find.png")  # the plot lr-find drew
    return out


# -- 6. regularization and architecture -----------------------------------------------------------

VARIANTS = {
    "train.l2": [0.0001, 0.001],
    "train.l1": [0.0001],
    "model.output_dropout": [0.5],
    "model.embedding_dropout": [0.5],
    "model.recurrent_dropout": [0.25],
    "model.num_layers": [2],
    "model.bidirectional": [True],
}


def step_regularization(lab: Lab) -> dict[str, Any]:
    base = lab.base
    grids = {key: lab.later(lab.grid, UCI, {key: values}) for key, values in VARIANTS.items()}
    out = {"base": base.result(), "variants": {}}
    out["base"]["rows"] = rows(out["base"]["trials"], [])
    for key, f in grids.items():
        out["variants"][key] = f.result()
        out["variants"][key]["rows"] = rows(out["variants"][key]["trials"], [key])
    return out


# -- 7. grid, random and Bayesian search ----------------------------------------------------------

_SEARCH_HEAD = """name: {name}
base: uci_sentiment.yaml
set:
  train.epochs: 6
  train.early_stopping.enabled: false   # every trial trains its 6 epochs (unless the pruner stops it)
  train.threads: 1
  train.baselines: false
"""
# The space random and TPE search, up to the sampler's kind (the grid lists points of it instead).
_RANGES = """space:
  model.cell: [gru, lstm]
  train.lr: {kind: loguniform, low: 0.0003, high: 0.03}
  model.num_neurons: {kind: int, low: 16, high: 64, step: 16}
  model.output_dropout: {kind: uniform, low: 0.0, high: 0.5}
objective:
  metric: val_accuracy
sampler:
"""

SEARCHES = {
    "grid": _SEARCH_HEAD.format(name="uci-grid")
    + """space:
  model.cell: [gru, lstm]
  train.lr: [0.0003, 0.003, 0.03]
  model.num_neurons: [16, 64]
  model.output_dropout: [0.0, 0.5]
objective:
  metric: val_accuracy
sampler:
  kind: grid                            # 24 combinations, 144 epochs
""",
    "random": _SEARCH_HEAD.format(name="uci-random")
    + _RANGES
    + """  kind: random
  seed: 0
trials: 24                              # the grid's 144 epochs
""",
    "tpe": _SEARCH_HEAD.format(name="uci-tpe")
    + _RANGES
    + """  kind: tpe
  seed: 0
  startup_trials: 8
pruner:
  kind: hyperband                       # trials that lag at epoch 1 or 3 pause; promoted ones go on
  min_epochs: 1
  reduction_factor: 3
trials: 200                             # an upper bound: the epoch budget ends the sweep
epoch_budget: 144                       # the grid's epochs
""",
}


def search(lab: Lab, kind: str) -> dict[str, Any]:
    """One sweep of the search step, its trials in the order they ran, and its best config retrained
    with five other seeds (how much of the best value was luck)."""
    name = f"configs/sweep_uci_{kind}.yaml"
    lab.path(name).write_text(SEARCHES[kind])
    ran = lab.rnnexp("sweep", name, "--workers", "1")
    res = ran["result"]
    trials = sorted(res["trials"], key=lambda t: t["number"])
    keys = res["params"]
    order = [
        {
            "number": t["number"],
            "state": t["state"],
            "value": t["value"],
            "epochs": t["epochs"],
            "promoted_from": t["promoted_from"],
            "params": {k: t.get(k) for k in keys},
        }
        for t in trials
    ]
    best_config = os.path.relpath(res["best_config"], lab.work)
    again = lab.grid(best_config, {})
    out = {"file": SEARCHES[kind], "command": ran["command"], "epochs_trained": res["epochs_trained"]}
    out.update({"counts": res["counts"], "best": order[[t["number"] for t in trials].index(res["best"]["number"])]})
    out.update({"trials": order, "retrained": again, "retrained_rows": rows(again["trials"], [])})
    runs = [os.path.relpath(t["run_dir"], lab.work) for t in again["trials"]]
    tests = [lab.later(lab.rnnexp, "evaluate", run, "--no-baselines") for run in runs]
    out["test"] = [{"command": f.result()["command"], "accuracy": f.result()["result"]["accuracy"]} for f in tests]
    return out


def step_search(lab: Lab) -> dict[str, Any]:
    found = {kind: lab.later(search, lab, kind) for kind in SEARCHES}
    out = {kind: f.result() for kind, f in found.items()}
    # The baselines on the test split, once: what a model must beat (evaluate fits them on the training split).
    run = os.path.relpath(out["tpe"]["retrained"]["trials"][0]["run_dir"], lab.work)
    ref = lab.rnnexp("evaluate", run, "--baselines")
    out["test_baselines"] = {
        "command": ref["command"],
        "accuracy": ref["result"]["accuracy"],
        "baselines": {k: v.get("accuracy") for k, v in ref["result"]["baselines"].items()},
    }
    return out


# -- the recording ----------------------------------------------------------------------------------

STEPS = {
    "maxlen": step_maxlen,
    "embedding": step_embedding,
    "batch": step_batch,
    "lr": step_lr,
    "plateau": step_plateau,
    "regularization": step_regularization,
    "search": step_search,
}


def compact(value: Any, work: Path) -> Any:
    """Paths inside the working folder as the reader's checkout has them (runs/..., vectors/...);
    floats to 6 significant digits (a score on 256 sentences has 3)."""
    if isinstance(value, dict):
        return {k: compact(v, work) for k, v in value.items()}
    if isinstance(value, list):
        return [compact(v, work) for v in value]
    if isinstance(value, str):
        return value.replace(f"{work}/", "")
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def tuning(work: Path) -> None:
    """Record every step of the tuning guide (see this module's docstring)."""
    started = time.perf_counter()
    work.mkdir(parents=True)
    lab = Lab(work)
    lab.base = lab.later(lab.grid, UCI, {})
    os.environ.setdefault("RNNEXP_DATA_DIR", lab.env["RNNEXP_DATA_DIR"])  # for the lengths the plots read
    ASSETS.mkdir(parents=True, exist_ok=True)
    running = {name: lab.later(fn, lab) for name, fn in STEPS.items()}
    record: dict[str, Any] = {"threads": 1, "seeds": SEEDS}
    record.update({name: f.result() for name, f in running.items()})
    record["seconds"] = round(time.perf_counter() - started)
    record = compact(record, work)
    plots.draw(record)
    figures.save("tuning", record, work)


RECORDERS = {"tuning": tuning}
