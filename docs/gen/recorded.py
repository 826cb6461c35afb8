"""Output of real runs, shown in the docs as the program prints it now.

`make docs-figures` (docs/gen/figures.py) runs the real commands and keeps what they returned as
JSON in docs/gen/recordings/ (an evaluate report is what `rnnexp evaluate --json` printed). The
pages show that result through rnnexp's own views, so a change to how a table is drawn changes
the docs at the next `python docs/gen/gen.py`, without training again; new numbers need a new
recording."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).resolve().parent / "recordings"


def load(name: str) -> dict[str, Any]:
    path = RECORDINGS / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run make docs-figures")
    return json.loads(path.read_text())


def _plain_output():
    from rich.console import Console

    from rnnexp import views

    out, err = io.StringIO(), io.StringIO()
    console = lambda f: Console(file=f, highlight=False, soft_wrap=True, width=10_000, color_system=None)  # noqa: E731
    return views.Output(out=console(out), err=console(err), plain=True), out, err


def evaluation(report: dict[str, Any]) -> str:
    """What `rnnexp evaluate` prints on stdout for this report."""
    from rnnexp import views

    shown, out, _ = _plain_output()
    views.show_evaluation(shown, report)
    return out.getvalue().rstrip("\n")


def result_line(result: dict[str, Any]) -> str:
    """A training's result line (`train --quiet`), from what `train --json` printed."""
    from types import SimpleNamespace

    from rnnexp import views

    return views.result_line(SimpleNamespace(**result))


def render(name: str, what: str = "") -> str:
    """A recording as the docs show it, in a text block: the evaluate command and its output
    (``what`` empty), only the output (``output``, as `make demo` ends), or the training's
    command and result line (``result-line``). Other kinds (``transcript KEY``, ``evaluation KEY``,
    ``runs KEY``, ``sweep KEY``, ``file KEY LANG``, ``value PATH FORMAT``, ``seeds``, ``search``):
    ``drawn``."""
    rec = load(name)
    if what == "result-line":
        lines = [f"$ {rec['train_command']}", result_line(rec["train"])]
    elif what in ("", "output"):
        lines = [f"$ {rec['command']}"] if what == "" else []
        lines.append(evaluation(rec["report"]))
        if rec.get("after") and what == "output":
            lines.append(rec["after"])
    else:
        kind, *args = what.split()
        if kind not in DRAWN:
            raise KeyError(f"a recording shows '', 'output', 'result-line' or one of {sorted(DRAWN)}, not {what!r}")
        return DRAWN[kind](rec, *args)
    return "\n".join(["```text", *lines, "```"])


# -- more kinds: a command's printed lines, the tables of runs and sweeps, files, single values ----


def at(rec: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of a recording (list items by number: seeds.0.test_accuracy)."""
    value: Any = rec
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _block(lines: list[str], lang: str = "text") -> str:
    return "\n".join([f"```{lang}", *lines, "```"])


def transcript(rec: dict[str, Any], key: str, *cut: str) -> str:
    """A command and the lines it printed (stdout and stderr, as written); ``head=N`` keeps the first
    N lines of its output, ``tail=N`` the last N, with a `...` line where lines are left out."""
    shown = at(rec, key)
    lines = list(shown["lines"])
    keep = {"head": 0, "tail": 0}
    for option in cut:
        side, _, n = option.partition("=")
        if side not in keep or not n.isdigit():
            raise KeyError(f"transcript {key}: {option!r} is not head=N or tail=N")
        keep[side] = int(n)
    if any(keep.values()) and keep["head"] + keep["tail"] < len(lines):
        lines = [*lines[: keep["head"]], "...", *(lines[-keep["tail"] :] if keep["tail"] else [])]
    return _block([f"$ {shown['command']}", *lines])


def _both(draw) -> str:
    """What a view printed: its stdout, then its stderr (the order a terminal shows them in)."""
    shown, out, err = _plain_output()
    draw(shown)
    return (out.getvalue() + err.getvalue()).rstrip("\n")


def drawn_evaluation(rec: dict[str, Any], key: str) -> str:
    shown = at(rec, key)
    return _block([f"$ {shown['command']}", evaluation(shown["result"])])


def drawn_runs(rec: dict[str, Any], key: str) -> str:
    """`rnnexp runs`: the runs table from what `rnnexp runs --json` printed (its caption, on stderr, first)."""
    from rnnexp import views

    shown = at(rec, key)
    result = shown["result"]
    columns = [c for c in result["runs"][0] if c != "path"] if result["runs"] else []
    io, out, err = _plain_output()
    views.show_runs(io, result["runs"], columns, "runs")
    return _block([f"$ {shown['command']}", (err.getvalue() + out.getvalue()).rstrip("\n")])


def drawn_sweep(rec: dict[str, Any], key: str) -> str:
    """`rnnexp sweep status|results`: the trials table from what the command printed with --json."""
    from rnnexp import views

    shown = at(rec, key)
    result = shown["result"]
    folder = Path(result["results_csv"]).parent if result.get("results_csv") else None
    return _block([f"$ {shown['command']}", _both(lambda io: views.show_results(io, result, False, folder))])


def recorded_file(rec: dict[str, Any], key: str, lang: str = "text", *only: str) -> str:
    """A file a command wrote (best_config.yaml, results.csv), as it wrote it; for a YAML file,
    ``keys=a.b,c.d`` keeps its first comment lines and only those keys' lines (with the lines of
    the sections holding them), which is still YAML."""
    lines = at(rec, key).rstrip("\n").split("\n")
    for option in only:
        name, _, value = option.partition("=")
        if name != "keys" or not value:
            raise KeyError(f"file {key}: {option!r} is not keys=KEY,KEY")
        lines = _yaml_lines(lines, value.split(","))
    return _block(lines, lang)


def _yaml_lines(lines: list[str], keys: list[str]) -> list[str]:
    """The leading comments and the lines of ``keys`` (dotted) of a block-style YAML text, with the
    section lines above them."""
    kept, path = [], []
    for line in lines:
        if line.startswith("#") and all(k.startswith("#") for k in kept):  # the file's leading comments
            kept.append(line)
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.strip().split(":", 1)[0]
        path = [*path[:depth], name]
        dotted = ".".join(path)
        if any(k == dotted or k.startswith(dotted + ".") for k in keys):
            kept.append(line)
    return kept


def value(rec: dict[str, Any], path: str, fmt: str = "") -> str:
    """One value, inline in a sentence: ``value results.result.best.value .4f``."""
    found = at(rec, path)
    return format(found, fmt) if fmt else str(found)


def seeds(rec: dict[str, Any]) -> str:
    """The quickstart config over seeds: each seed's best validation and its test accuracy."""
    rows = ["| train.seed | best epoch | best val_accuracy | test accuracy |", "| ---: | ---: | ---: | ---: |"]
    for r in rec["seeds"]:
        rows.append(f"| {r['seed']} | {r['best_epoch']} | {r['val_accuracy']:.4f} | {r['test_accuracy']:.4f} |")
    return "\n".join(rows)


def _quickstart() -> dict[str, Any]:
    """configs/quickstart.yaml as it is now, every default filled in (so a later edit shows at the next gen.py)."""
    from rnnexp.config import load_config

    return load_config(Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml").model_dump(mode="json")


def _searched(rec: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, the best trial's value, quickstart.yaml's value) for every key the search varied."""
    best, shipped = rec["best_config"], _quickstart()
    out = []
    for key in rec["results"]["result"]["params"]:
        section, leaf = key.split(".", 1)
        out.append((key, best[section][leaf], shipped[section][leaf]))
    return out


def search(rec: dict[str, Any]) -> str:
    """The search's best trial beside configs/quickstart.yaml, key by searched key."""
    rows = ["| key | best trial of this search | configs/quickstart.yaml |", "| --- | --- | --- |"]
    for key, mine, theirs in _searched(rec):
        fmt = (lambda v: f"{v:.4g}") if isinstance(mine, float) else str
        rows.append(f"| `{key}` | {fmt(mine)} | {fmt(theirs)} |")
    return "\n".join(rows)


def search_verdict(rec: dict[str, Any]) -> str:
    """One sentence, inline: whether this search's best trial is the configuration configs/quickstart.yaml holds."""
    differ = [key for key, mine, theirs in _searched(rec) if mine != theirs]
    number = rec["results"]["result"]["best"]["number"]
    if not differ:
        return f"This rerun's best trial, number {number}, is exactly the configuration `configs/quickstart.yaml` holds."
    keys = ", ".join(f"`{k}`" for k in differ)
    return (
        f"This rerun's best trial, number {number}, is NOT the configuration "
        f"`configs/quickstart.yaml` holds: they differ in {keys}."
    )


DRAWN = {
    "search-verdict": search_verdict,
    "transcript": transcript,
    "evaluation": drawn_evaluation,
    "runs": drawn_runs,
    "sweep": drawn_sweep,
    "file": recorded_file,
    "value": value,
    "seeds": seeds,
    "search": search,
}
