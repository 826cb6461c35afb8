"""The tuning guide's tables and commands, drawn from docs/gen/recordings/tuning.json.

gen.py calls render(ARG) for each `<!-- gen:tuning ARG -->` region of docs/tutorials/tuning-guide.md;
ARG names a part of the recording (see PARTS). Nothing here trains: new figures need a new
recording (`python docs/gen/figures.py --only tuning`)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import recorded

HERE = Path(__file__).resolve().parent


def load() -> dict[str, Any]:
    return recorded.load("tuning")


def score(row: dict[str, Any]) -> str:
    """Mean, spread and range of a row's best validation accuracies."""
    if row["runs"] == 1:
        return f"{row['mean']:.3f}"
    return f"{row['mean']:.3f} ± {row['sd']:.3f} ({row['min']:.3f}-{row['max']:.3f})"


def table(header: list[str], lines: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(str(cell) for cell in line) + " |" for line in lines]
    return "\n".join(out)


def commands(*items: str) -> str:
    """Command lines in a shell block; a list stands for its items."""
    lines = [line for item in items for line in ([item] if isinstance(item, str) else item)]
    return "```sh\n" + "\n".join(lines) + "\n```"


def value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    return f"{v:g}" if isinstance(v, float) else str(v)


SHIPPED = "   # the shipped config, the rows marked (shipped)"


def setting_table(rows: list[dict[str, Any]], keys: list[str]) -> str:
    """One line per setting: its keys, best validation accuracy over the seeds, epochs trained and
    the best epoch (means over the seeds)."""
    header = [f"`{k}`" for k in keys] + ["runs", "best val accuracy: mean ± sd (lowest-highest)", "epochs", "best epoch"]
    lines = []
    for r in rows:
        shown = [value(r[k]) for k in keys]
        if r.get("shipped") and shown:
            shown[-1] += " (shipped)"
        lines.append(shown + [r["runs"], score(r), f"{r['epochs']:.1f}", f"{r['best_epoch']:.1f}"])
    return table(header, lines)


def marked(part: dict[str, Any], notes: dict[int, str] | None = None) -> list[str]:
    """A part's commands, the shipped config's marked, and notes on others (by position)."""
    base = load()["regularization"]["base"]["commands"][0]
    shown = [c + SHIPPED if c == base else c for c in part["commands"]]
    for i, note in (notes or {}).items():
        shown[i] += f"   # {note}"
    return shown


def grid_part(part: dict[str, Any], keys: list[str], notes: dict[int, str] | None = None) -> str:
    """A grid's commands and its table."""
    return commands(marked(part, notes)) + "\n\n" + setting_table(part["rows"], keys)


# -- the parts -------------------------------------------------------------------------------------


def lengths(rec: dict[str, Any]) -> str:
    dry = rec["maxlen"]["dry_runs"]
    names = sorted((n for n in dry if "bucket" not in n), key=lambda n: (n.split("-")[0] != "uci", int(n.split("-")[1])))
    header = ["data", "`data.maxlen`", "median", "95th percentile", "longest", "texts cut", "padding share of steps"]
    lines = []
    for name in names:
        d = dry[name]
        data, maxlen = name.split("-")
        cut = f"{d['truncated']} of {d['examples']} ({d['truncated'] / d['examples']:.0%})"
        lines.append([data, maxlen, d["length_p50"], d["length_p95"], d["length_max"], cut, f"{d['padding_share']:.0%}"])
    shown = [dry["uci-40"]["command"], dry["amazon-150"]["command"]]
    return commands(*shown) + "\n\n" + table(header, lines)


def maxlen_uci(rec: dict[str, Any]) -> str:
    return grid_part(rec["maxlen"]["uci"], ["data.maxlen"])


def maxlen_amazon(rec: dict[str, Any]) -> str:
    m = rec["maxlen"]
    pre = grid_part(m["amazon"], ["data.maxlen"]).replace("`data.maxlen` |", "`data.maxlen` (truncating pre) |", 1)
    post = grid_part(m["amazon_post"], ["data.maxlen"]).replace("`data.maxlen` |", "`data.maxlen` (truncating post) |", 1)
    return pre + "\n\n" + post


def timing(rec: dict[str, Any]) -> str:
    t = rec["maxlen"]["timing"]
    dry = rec["maxlen"]["dry_runs"]
    lines = []
    for name, ratio in t["ratios"].items():
        maxlen, _, bucket = name.partition(" ")
        d = dry[f"amazon-{name}"]
        real = d["examples"] * int(maxlen) * (1 - d["padding_share"])  # the words the model reads
        padding = d["padding_share_bucketed"] if bucket else d["padding_share"]
        steps = real / (1 - padding)
        lines.append([maxlen, "yes" if bucket else "no", f"{steps:,.0f}", f"{padding:.0%}", f"{ratio:.2f}"])
    header = ["`data.maxlen`", "`data.bucket`", "steps per epoch, padding included", "padding share", "epoch time / maxlen 400's"]
    return commands(t["commands"]["400"], t["commands"]["400 bucket"]) + "\n\n" + table(header, lines)


def vectors_code(rec: dict[str, Any]) -> str:
    import tuning_vectors

    source = inspect.getsource(tuning_vectors).rstrip("\n")
    call = f'build_vectors("{rec["embedding"]["vectors"]["file"]}")'
    return f"```python\n{source}\n\n\n{call}\n```"


def vectors(rec: dict[str, Any]) -> str:
    v = rec["embedding"]["vectors"]
    cov = v["coverage"]
    lines = [[f"`{w}`", ", ".join(n)] for w, n in v["neighbours"].items()]
    facts = (
        f"{v['reviews']:,} reviews, {v['tokens']:,} words; {v['words']:,} distinct words kept, {v['dim']} numbers each. "
        f"On uci-sentiment they cover {cov['coverage']:.1%} of the run's vocabulary ({cov['found']:,} words)."
    )
    return facts + "\n\n" + table(["word", "its 5 nearest words (cosine)"], lines)


def embedding(rec: dict[str, Any]) -> str:
    return grid_part(rec["embedding"]["dims"], ["model.embedding_dims"])


def pretrained(rec: dict[str, Any]) -> str:
    return grid_part(rec["embedding"]["pretrained"], ["model.embedding.freeze"])


def batch(rec: dict[str, Any]) -> str:
    return grid_part(rec["batch"]["batch"], ["train.batch_size"])


def full(rec: dict[str, Any]) -> str:
    return commands(rec["batch"]["full"]["commands"])


def resume(rec: dict[str, Any]) -> str:
    r = rec["batch"]["resume"]
    stopped = r["stopped"]["result"]
    header = ["run", "status", "epochs", "best epoch", "best val accuracy", "last epoch's val loss"]
    lines = []
    for name, res in (("straight", r["straight"]["result"]), ("stopped", stopped), ("resumed", r["resumed"]["result"])):
        last = res["last"]
        lines.append(
            [name, res["status"], res["epochs_run"], res["best_epoch"], f"{res['best_score']:.4f}", f"{last['val_loss']:.6f}"]
        )
    shown = [
        r["straight"]["command"],
        r["stopped"]["command"] + "   # Ctrl-C while epoch 3 trains: exit 130",
        r["resumed"]["command"],
    ]
    return commands(*shown) + "\n\n" + table(header, lines)


def optimizer(rec: dict[str, Any]) -> str:
    part = rec["lr"]["optimizer"]
    rows = {(r["train.optimizer"], r["train.lr"]): r for r in part["rows"]}
    lrs = sorted({lr for _, lr in rows})
    lines = [
        [f"{lr:g}" + (" (shipped, adam)" if rows["adam", lr]["shipped"] else "")]
        + [score(rows[name, lr]) for name in ("adam", "rmsprop")]
        for lr in lrs
    ]
    return commands(marked(part)) + "\n\n" + table(["`train.lr`", "adam", "rmsprop"], lines)


def schedule(rec: dict[str, Any]) -> str:
    return grid_part(rec["lr"]["schedule"], ["train.lr_schedule.kind"], {1: "none: its runs at train.lr=0.01"})


def clip(rec: dict[str, Any]) -> str:
    return grid_part(rec["lr"]["clip"], ["train.lr", "train.clip_norm"], {1: "clip_norm 1.0 at lr 0.03: its runs at 0.03"})


def init(rec: dict[str, Any]) -> str:
    return grid_part(rec["lr"]["init"], ["model.init"])


def plateau(rec: dict[str, Any]) -> str:
    p = rec["plateau"]
    first, rerun = p["first"], p["rerun"]
    found = p["lr_find"]["result"]
    header = ["run", "`train.lr`", "train loss by epoch", "best val accuracy", "warning"]
    lines = []
    for name, res, lr in (("first", first, 0.0001), ("again, at lr-find's rate", rerun, p["lr"])):
        h = res["history"]
        losses = ", ".join(f"{x:.4f}" for x in h["train_loss"])
        warned = res["result"]["warnings"][0] if res["result"]["warnings"] else "none"
        best = max(h["val_accuracy"])
        lines.append(
            [
                name,
                f"{lr:g}",
                losses,
                f"{best:.4f} (epoch {h['val_accuracy'].index(best) + 1})",
                warned,
            ]
        )
    finding = (
        f"`{p['lr_find']['command']}` ran {found['steps_run']} steps: lowest smoothed loss at lr {found['min_loss_lr']:.3g}, "
        f"steepest descent at {found['steepest_lr']:.3g}; suggested lr {found['suggested_lr']:.3g}, "
        f"which its `try:` line rounds to {p['lr']:g}."
    )
    return (
        commands(first["command"], p["lr_find"]["command"], rerun["command"]) + "\n\n" + table(header, lines) + "\n\n" + finding
    )


def plateau_seeds(rec: dict[str, Any]) -> str:
    part = rec["plateau"]["seeds"]
    header = ["`train.lr`", "runs", "best val accuracy: mean ± sd (lowest-highest)", "runs that warned"]
    lines = [[value(r["train.lr"]), r["runs"], score(r), f"{r['warned']} of {r['runs']}"] for r in part["rows"]]
    return commands(part["commands"]) + "\n\n" + table(header, lines)


def regularization(rec: dict[str, Any]) -> str:
    reg = rec["regularization"]
    base = reg["base"]["rows"][0]
    lines = [["none (the shipped config)", "", base["runs"], score(base), f"{base['mean'] - base['mean']:+.3f}"]]
    shown = list(reg["base"]["commands"])
    for key, part in reg["variants"].items():
        shown += part["commands"]
        for r in part["rows"]:
            lines.append([f"`{key}`", value(r[key]), r["runs"], score(r), f"{r['mean'] - base['mean']:+.3f}"])
    header = ["knob", "value", "runs", "best val accuracy: mean ± sd (lowest-highest)", "mean against none"]
    return commands(*shown) + "\n\n" + table(header, lines)


def search_files(rec: dict[str, Any]) -> str:
    blocks = []
    for kind in ("grid", "random", "tpe"):
        text = rec["search"][kind]["file"].rstrip("\n")
        blocks.append(f"```yaml\n# file: configs/sweep_uci_{kind}.yaml\n{text}\n```")
    return "\n\n".join(blocks)


def search(rec: dict[str, Any]) -> str:
    s = rec["search"]
    header = [
        "search",
        "configurations tried",
        "trials: pruned, promoted",
        "epochs spent",
        "best trial's val accuracy",
        "its config, 5 new seeds: val accuracy",
        "the same 5 runs: test accuracy",
    ]
    lines = []
    for kind in ("grid", "random", "tpe"):
        k = s[kind]
        counts = k["counts"]
        tests = [t["accuracy"] for t in k["test"]]
        test = f"{sum(tests) / len(tests):.3f} ({min(tests):.3f}-{max(tests):.3f})"
        lines.append(
            [
                kind,
                sum(1 for t in k["trials"] if t["promoted_from"] is None),
                f"{len(k['trials'])}: {counts['PRUNED']}, {counts['PROMOTED']}",
                k["epochs_trained"],
                f"{k['best']['value']:.4f}",
                score(k["retrained_rows"][0]),
                test,
            ]
        )
    short = lambda v: f"{v:.3g}" if isinstance(v, float) else value(v)  # noqa: E731
    best = [[kind, *(short(v) for v in s[kind]["best"]["params"].values())] for kind in ("grid", "random", "tpe")]
    keys = list(s["grid"]["best"]["params"])
    shown = commands(*(s[kind]["command"] for kind in ("grid", "random", "tpe")))
    return shown + "\n\n" + table(header, lines) + "\n\n" + table(["best trial of", *(f"`{k}`" for k in keys)], best)


def test_baselines(rec: dict[str, Any]) -> str:
    b = rec["search"]["test_baselines"]
    names = {
        "majority_class": "majority class",
        "stratified": "stratified guess (expected)",
        "tfidf_logreg": "TF-IDF + logistic regression",
    }
    lines = [[names.get(k, k), f"{v:.3f}"] for k, v in b["baselines"].items() if v is not None]
    return commands(b["command"]) + "\n\n" + table(["baseline on the test split", "accuracy"], lines)


PARTS = {
    "lengths": lengths,
    "maxlen-uci": maxlen_uci,
    "maxlen-amazon": maxlen_amazon,
    "timing": timing,
    "vectors-code": vectors_code,
    "vectors": vectors,
    "embedding": embedding,
    "pretrained": pretrained,
    "batch": batch,
    "full": full,
    "resume": resume,
    "optimizer": optimizer,
    "schedule": schedule,
    "clip": clip,
    "init": init,
    "plateau": plateau,
    "plateau-seeds": plateau_seeds,
    "regularization": regularization,
    "search-files": search_files,
    "search": search,
    "test-baselines": test_baselines,
}


# -- figures inside a sentence -------------------------------------------------------------------


def lookup(rec: dict[str, Any], path: str) -> Any:
    """The recording's value at a dotted path (a number is a list index; a key may hold dots
    itself, as the config keys that name the variants do)."""
    parts = path.split(".")
    while parts:
        if isinstance(rec, list):
            rec, parts = rec[int(parts[0])], parts[1:]
            continue
        n = next((n for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in rec), None)
        if n is None:
            raise KeyError(f"the recording has no {'.'.join(parts)!r} (at {path!r})")
        rec, parts = rec[".".join(parts[:n])], parts[n:]
    return rec


def find_row(rec: dict[str, Any], path: str, where: list[str]) -> dict[str, Any]:
    """The row of the table at ``path`` whose keys have the values KEY=VALUE of ``where``."""
    import yaml

    wanted = {k: yaml.safe_load(v) for k, v in (w.split("=", 1) for w in where)}
    found = [r for r in lookup(rec, path) if all(r.get(k) == v for k, v in wanted.items())]
    if len(found) != 1:
        raise KeyError(f"{path}: {len(found)} rows have {wanted}")
    return found[0]


def inline(kind: str, args: list[str]) -> str:
    """`value PATH [FORMAT]`: one recorded value; `score ROWS [KEY=VALUE...]`: a row's mean ± sd;
    `mean ROWS [KEY=VALUE...] [FORMAT]` or `max`, `min`, `sd`: one of a row's figures."""
    rec = load()
    fmt = args.pop() if args and "=" not in args[-1] and len(args) > 1 else ""
    if kind == "value":
        return format(lookup(rec, args[0]), fmt)
    row = find_row(rec, args[0], args[1:])
    if kind == "score":
        return f"{row['mean']:.3f} ± {row['sd']:.3f}"
    return format(row[kind], fmt or ".3f")


def render(arg: str) -> str:
    """The text of one `<!-- gen:tuning ARG -->` region."""
    name, *rest = arg.split()
    if name in ("value", "score", "mean", "sd", "min", "max", "epochs", "best_epoch", "warned"):
        return inline(name, rest)
    if name not in PARTS:
        raise KeyError(f"gen:tuning takes one of {', '.join(PARTS)}, value, score, mean, sd, min or max; not {name!r}")
    return PARTS[name](load())
