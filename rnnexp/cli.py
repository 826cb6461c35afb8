"""Command line. The only module that prints or exits.

Human output goes to stderr (progress, tables); with --json, stdout carries exactly one JSON
object for scripts. Exit codes: 0 ok, 1 run failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from . import __version__, reporting, views
from .errors import RnnexpError, StorageError, clip, counted, no_room, one_line

# Typer keeps its own copy of click; its error classes are reached through the one it exports.
_UsageError = typer.BadParameter.__mro__[1]


class _Argument(TyperArgument):
    """An argument in --help and usage lines as Unix tools write it: RUN_DIR, [TEXTS]... (Typer's
    own are {run_dir} and <list[str]>)."""

    @property
    def display_name_raw(self) -> str:
        return self.metavar or (self.name or "").upper()

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx) -> str | None:
        return None  # the name says what it is


class _Option(TyperOption):
    """An option's value in --help: its choices [auto|best|last], its metavar, or the type's click
    name (TEXT, INTEGER, PATH); nothing for a flag (Typer writes <bool>)."""

    def display_type_rich(self, ctx) -> str | None:
        if self.is_flag:
            return None
        if self.metavar:
            return self.metavar
        desc = self.type_descriptor
        if desc.is_choice and desc.choices:
            return f"[{'|'.join(str(getattr(c, 'value', c)) for c in desc.choices)}]"
        bare = self._bare_type(desc.annotation).removeprefix("list[").removesuffix("]")
        return _TYPE_NAMES.get(bare, bare.upper())


_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "Path": "PATH"}


def _unix_params(params: list) -> list:
    for p in params:
        if type(p) is TyperArgument:
            p.__class__ = _Argument
        elif type(p) is TyperOption:
            p.__class__ = _Option
    return params


class _Command(TyperCommand):
    def get_params(self, ctx) -> list:
        return _unix_params(super().get_params(ctx))


class _Group(TyperGroup):
    """The command tree: Unix-style help for every command in it, and a usage error (a missing
    argument, an unknown option, a bad choice) as one `error:` line with exit 2, like every other
    error (Typer draws a box of several lines)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for command in self.commands.values():
            if type(command) is TyperCommand:
                command.__class__ = _Command

    def get_params(self, ctx) -> list:
        return _unix_params(super().get_params(ctx))

    def _path(self, args) -> str:
        """The command an argument list names (rnnexp sweep status), for errors the parser raises
        without saying which command it was parsing."""
        names, group = ["rnnexp"], self
        for arg in args:
            command = getattr(group, "commands", {}).get(arg)
            if command is None:
                break
            names.append(arg)
            group = command
        return " ".join(names)

    def main(self, args=None, prog_name=None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except _UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # a bare `rnnexp` or `rnnexp sweep`: the help
                e.show()
                sys.exit(e.exit_code)
            where = e.ctx.command_path if e.ctx and e.ctx.parent else self._path(sys.argv[1:] if args is None else args)
            message = one_line(e.format_message()).replace("Value error, ", "")  # Typer's wording of a bad choice
            print(f"error: {where}: {message} (see {where} --help)", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


app = typer.Typer(
    cls=_Group,
    name="rnnexp",
    help="Train, resume and evaluate recurrent networks from YAML configs.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

_SET_HELP = "Override a config key, value parsed as YAML: --set train.lr=0.01 (repeatable)."


def _console(quiet: bool = False):
    from rich.console import Console

    # soft_wrap: long lines stay whole in logs and pipes instead of being cut at 80 columns; and
    # off a terminal, tables get room for whole cells (they still take only the width they need)
    width = None if sys.stderr.isatty() else max(int(os.environ.get("COLUMNS", "0") or 0), 200)
    return Console(stderr=True, quiet=quiet, highlight=False, soft_wrap=True, width=width)


def _output(quiet: bool = False) -> views.Output:
    """The command's result on stdout (plain text off a terminal: views.wants_plain), the rest on stderr."""
    from rich.console import Console

    plain = views.wants_plain(sys.stdout)
    width = 10_000 if plain else None  # plain rows are never wrapped; a terminal's own width otherwise
    out = Console(file=sys.stdout, highlight=False, soft_wrap=True, width=width, color_system=None if plain else "auto")
    return views.Output(out=out, err=_console(quiet), plain=plain)


# Options that several commands share, declared once.
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object on stdout (nothing else on stdout).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors (on stderr) and the result (on stdout).")]
# --device: on a new run (train, lr-find) it is the config's train.device, recorded in the config.yaml
# written (_with_flags); on an existing run (resume, evaluate, predict) only where this command
# computes (devices.run_device): the run's config.yaml is left as it is.
DEVICE_HELP = {
    "new": "auto, cpu, cuda or cuda:N: where it trains; the same as --set train.device=DEVICE, so the config.yaml "
    "it writes records it. Default: train.device.",
    "run": "auto, cpu, cuda or cuda:N: where this command computes, over the run's train.device (the run's "
    "config.yaml is left as it is). Default: the run's train.device; auto where this machine lacks it.",
}
NewDevice = Annotated[str | None, typer.Option("--device", metavar="DEVICE", help=DEVICE_HELP["new"])]
Device = Annotated[str | None, typer.Option("--device", metavar="DEVICE", help=DEVICE_HELP["run"])]
Checkpoint = Annotated[
    Literal["auto", "best", "last"],
    typer.Option("--checkpoint", help="Which checkpoint: auto is best when train.early_stopping.restore_best, else last."),
]
_STORAGE_HELP = (
    "Optuna storage URL for several machines: postgresql+psycopg2://USER:PASSWORD@HOST/DB (env RNNEXP_STORAGE). "
    "Default: a journal file inside the sweep folder."
)
_storage_opt = typer.Option(None, "--storage", metavar="URL", envvar="RNNEXP_STORAGE", help=_STORAGE_HELP, show_default=False)


RUNS_ENV, RUNS_DEFAULT = "RNNEXP_RUNS_DIR", Path("runs")


def _runs_dir(where: str, argument: bool = False):
    """The runs folder, for every command that writes or reads run folders: --runs-dir (or the
    argument), else $RNNEXP_RUNS_DIR, else ./runs."""
    make = typer.Argument if argument else typer.Option
    names = () if argument else ("--runs-dir",)
    return make(RUNS_DEFAULT, *names, envvar=RUNS_ENV, show_default=True, help=f"{where}.")


def _default_runs_dir() -> Path:
    """The runs folder when no --runs-dir is given, as _runs_dir's option finds it: $RNNEXP_RUNS_DIR
    (unless empty), else ./runs. For sweep worker, whose own default is the sweep folder's trials/."""
    return Path(os.environ.get(RUNS_ENV) or RUNS_DEFAULT)


def _runs_folder(runs_dir: Path) -> None:
    """--runs-dir checked (and created) before a command's work, by the rule of every path a command writes at."""
    from .rundir import output_folder

    output_folder(runs_dir, "--runs-dir")


# What one failure may print: a YAML file with thousands of mistakes, or a value of megabytes,
# is still a screenful that names the first problems.
_LINES_MAX, _LINE_MAX = 20, 1000


def _fail(lines: list[str], code: int) -> None:
    for line in lines[:_LINES_MAX]:
        print(f"error: {clip(one_line(line), _LINE_MAX)}", file=sys.stderr)
    if len(lines) > _LINES_MAX:
        print(f"error: ... and {len(lines) - _LINES_MAX} more problems", file=sys.stderr)
    raise typer.Exit(code)


class _Unfailing:
    """A sweep worker's stdout or stderr. Whoever reads it may go first (sweep run exits at a second
    Ctrl-C while its workers hand their trials back, or is killed; a terminal hangs up): from the
    first write that fails, the stream goes to /dev/null, and the worker goes on. What a worker
    prints never fails its trial (rich's Console would exit on a broken pipe, the trial left running)."""

    def __init__(self, stream) -> None:
        self._stream, self._gone = stream, False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return self._stream.write(text)
            except OSError:
                self._go()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except OSError:
                self._go()

    def _go(self) -> None:
        self._gone = True
        try:  # the file itself, so that nothing written later (the interpreter's last flush) fails either
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
            self._stream.flush()  # what it still holds goes to /dev/null now
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _unfailing_output() -> Iterator[None]:
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Unfailing(sys.stdout), _Unfailing(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


@contextmanager
def _guard() -> Iterator[None]:
    """Project errors become one line each and their exit code; never a traceback."""
    try:
        yield
    except (typer.Exit, typer.BadParameter):
        raise  # Typer reports its own usage errors (exit 2)
    except RnnexpError as e:
        _fail(getattr(e, "messages", None) or [str(e)], e.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except OSError as e:
        if not no_room(e):
            _internal(e)
        # A write that no rnnexp code named (a library's): still a full disk, never an internal error.
        where = f"{e.filename}: " if e.filename else ""
        _fail([f"{where}cannot write ({e.strerror or e}). Free disk space, then run the command again"], EXIT_FAILED)
    except Exception as e:
        _internal(e)


def _internal(e: Exception) -> None:
    """A bug in rnnexp: say so in one line, the traceback on request."""
    if os.environ.get("RNNEXP_DEBUG"):
        raise e
    _fail([f"internal error: {type(e).__name__}: {e} (rerun with RNNEXP_DEBUG=1 for the traceback)"], EXIT_FAILED)


def _version(value: bool) -> None:
    if value:
        print(f"rnnexp {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """rnnexp: experiments with recurrent networks (RNN, GRU, LSTM)."""


# ---------------------------------------------------------------------------------------------


@app.command()
def validate(
    config: Path = typer.Argument(..., help="YAML config file, or sweep file."),
    set_: list[str] = typer.Option(
        [],
        "--set",
        metavar="KEY=VALUE",
        help=_SET_HELP.removesuffix(" (repeatable).") + "; for a sweep file, a sweep key as sweep run takes it "
        "(--set trials=20, --set set.train.epochs=1) (repeatable).",
    ),
    show: bool = typer.Option(
        False,
        "--print",
        help="Print the resolved config (all defaults filled in) on stdout as YAML that loads back as a config, each "
        "value commented with where it came from: FILE:LINE (the config or one of its bases), --set, or default. "
        "For a sweep file, the config every trial starts from (its base with its set). The ok line goes to stderr.",
    ),
) -> None:
    """Check a config (or a sweep file) without training (fast: does not load torch or data)."""
    from .config import explain_config, explain_sweep, is_sweep_file, load_config, load_sweep

    with _guard():
        if is_sweep_file(config):
            sweep, _, base = load_sweep(config, set_)
            budget = f", epoch budget {sweep.epoch_budget}" if sweep.epoch_budget else ""
            ok = (
                f"ok: {config} is a valid sweep file ({sweep.sampler.kind}, {counted(len(sweep.space), 'searched key')}, "
                f"{counted(sweep.total_trials, 'trial')}{budget}; base {sweep.base}, {counted(base.train.epochs, 'epoch')})"
            )
            printed = explain_sweep(config, set_) if show else None
        else:
            cfg = load_config(config, set_)
            ok = (
                f"ok: {config} is a valid config (run name {cfg.run_name}: {cfg.model.cell}, {cfg.model.num_neurons} "
                f"neurons, {counted(cfg.train.epochs, 'epoch')})"
            )
            printed = explain_config(config, set_) if show else None
    # With --print, stdout is exactly the YAML (it loads back as the config); the verdict goes to stderr.
    if printed is not None:
        print(printed, end="")
    print(ok, file=sys.stderr if printed is not None else sys.stdout)


@app.command()
def train(
    config: Path = typer.Argument(..., help="YAML config file."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=_SET_HELP),
    runs_dir: Path = _runs_dir("Where run folders go (created when missing)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Load data, fit the vocabulary and build the model, then stop."),
    name: str | None = typer.Option(
        None, "--name", metavar="NAME", help="The run's name (config key name; {key} fields as there, e.g. uci-{cell})."
    ),
    device: NewDevice = None,
    quiet: Quiet = False,
    as_json: JsonFlag = False,
) -> None:
    """Train a new run from CONFIG into a new timestamped run folder."""
    from .config import load_config

    console = _console(quiet)
    with _guard():
        cfg = load_config(config, _with_flags(set_, device, name))
        if not dry_run:  # a runs folder that cannot be written is found out before the data is loaded
            _runs_folder(runs_dir)
        from . import training

        if dry_run:
            plan = training.dry_run(cfg, reporting.DataLines(console))
            if as_json:
                print(json.dumps(plan))
            else:
                views.show_setup(
                    console,
                    {**plan, "run_dir": f"(dry run: no folder; a run would be <time>_{cfg.run_name})", "resumed_from": None},
                )
            return
        stop = _SIGNALS.stop  # graceful once the run is set up (RichReporter.setup)
        with _reporter(console) as reporter:
            result = training.train(
                cfg, runs_dir, argv=sys.argv, reporter=reporter, stop=stop, config_dir=config.resolve().parent
            )
    _finish(console, result, as_json)


@app.command()
def resume(
    run_dir: Path = typer.Argument(..., help="Run folder to continue."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="New total number of epochs (extends a finished run)."),
    device: Device = None,
    quiet: Quiet = False,
    as_json: JsonFlag = False,
) -> None:
    """Continue a stopped run exactly where it stopped (config comes from the run folder)."""
    console = _console(quiet)
    with _guard():
        from . import training

        stop = _SIGNALS.stop
        with _reporter(console) as reporter:
            result = training.resume(run_dir, epochs=epochs, argv=sys.argv, reporter=reporter, stop=stop, device=device)
    _finish(console, result, as_json)


@app.command()
def evaluate(
    run_dir: Path = typer.Argument(..., help="Run folder to score."),
    checkpoint: Checkpoint = "auto",
    split: Literal["test", "val"] = typer.Option("test", "--split", help="The run's split to score."),
    data: Path | None = typer.Option(None, "--data", help="Score this CSV/TSV/JSONL file instead of a split."),
    predictions: Path | None = typer.Option(
        None,
        "--predictions",
        help="Also write every example's prediction to this CSV (classification runs; missing folders are created).",
    ),
    min_accuracy: float | None = typer.Option(None, "--min-accuracy", help="Exit 1 when accuracy is below this (CI gate)."),
    gate: Literal["baseline"] | None = typer.Option(
        None, "--gate", help="baseline: exit 1 unless the model beats every baseline on accuracy (forecasting: MAE)."
    ),
    baselines: bool | None = typer.Option(
        None, "--baselines/--no-baselines", help="Fit the simple baselines (default: train.baselines of the run)."
    ),
    device: Device = None,
    as_json: JsonFlag = False,
) -> None:
    """Score a run on its test/val split or a file, beside simple baselines fitted on its training split."""
    with _guard():
        from .scoring import evaluate as run_eval

        chosen = {"which": checkpoint, "split": split, "data_file": data, "predictions": predictions}
        report = run_eval(run_dir, **chosen, fit_baselines=baselines, device=device)
    for note in [] if as_json else report["notes"]:
        print(f"note: {note}", file=sys.stderr)
    if as_json:
        print(json.dumps(report))
    else:
        views.show_evaluation(_output(), report)
    if min_accuracy is not None and "accuracy" not in report:
        print("error: --min-accuracy is for classification runs", file=sys.stderr)
        raise typer.Exit(EXIT_BAD_INPUT)
    if min_accuracy is not None and report["accuracy"] < min_accuracy:
        print(f"error: accuracy {report['accuracy']:.4f} is below --min-accuracy {min_accuracy}", file=sys.stderr)
        raise typer.Exit(EXIT_FAILED)
    if gate == "baseline" and not report["verdict"]["beats"]:
        v = report["verdict"]
        print(
            f"error: {v['metric']} {v['model']:.4g} does not beat the {views.BASELINE_NAMES.get(v['strongest'], v['strongest'])} "
            f"baseline's {v['strongest_value']:.4g} (--gate baseline)",
            file=sys.stderr,
        )
        raise typer.Exit(EXIT_FAILED)


@app.command("lr-find")
def lr_find(
    config: Path = typer.Argument(..., help="YAML config file."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=_SET_HELP),
    steps: int = typer.Option(200, "--steps", help="Batches to train, one learning rate each."),
    min_lr: float = typer.Option(1e-7, "--min-lr", help="First learning rate."),
    max_lr: float = typer.Option(10.0, "--max-lr", help="Last learning rate (the test stops earlier if the loss explodes)."),
    runs_dir: Path = _runs_dir("Where the result folder goes (created when missing)"),
    device: NewDevice = None,
    quiet: Quiet = False,
    as_json: JsonFlag = False,
) -> None:
    """Learning-rate range test: plot loss against an exponentially growing lr and suggest one."""
    from .config import load_config

    console = _console(quiet)
    with _guard():
        cfg = load_config(config, _with_flags(set_, device))
        _runs_folder(runs_dir)
        from . import training
        from .plots import save_lr_find

        with _reporter(console, show_setup=False) as reporter:
            result = training.lr_find(cfg, steps=steps, min_lr=min_lr, max_lr=max_lr, reporter=reporter)
        folder = save_lr_find(result, cfg, runs_dir)
    summary = {
        "folder": str(folder.path),
        "plot": str(folder.path / "lr_find.png"),
        **{k: result[k] for k in ("suggested_lr", "min_loss_lr", "steepest_lr", "steps_run")},
    }
    if as_json:
        print(json.dumps(summary))
        return
    print(
        f"suggested lr {result['suggested_lr']:.3g} (lowest smoothed loss at {result['min_loss_lr']:.3g}, "
        f"steepest descent at {result['steepest_lr']:.3g}; {result['steps_run']} steps)"
        if result["steepest_lr"]
        else f"suggested lr {result['suggested_lr']:.3g} (lowest smoothed loss at {result['min_loss_lr']:.3g})",
        flush=True,
    )
    console.print(f"plot: {summary['plot']}")
    console.print(f"try: rnnexp train {config} --set train.lr={result['suggested_lr']:.2g}")


# ---------------------------------------------------------------------------------------------
# Output


# ---------------------------------------------------------------------------------------------
# Looking at runs


RUNS_HELP = (
    "Table of runs, oldest first, columns: "
    + ", ".join(f"{name} ({what})" if what else name for name, what in views.RUNS_SHOWN.items())
    + ". --json and --csv carry every column (also started, task, dataset, best_epoch). On a terminal too narrow "
    "for the table, the least important columns are left out, and named."
)


@app.command(help=RUNS_HELP)
def runs(
    runs_dir: Path = _runs_dir("Folder of run folders", argument=True),
    filter_: list[str] = typer.Option(
        [], "--filter", metavar="KEY=VALUE", help="KEY=VALUE on a column or dotted config key, e.g. model.cell=gru (repeatable)."
    ),
    sort: str | None = typer.Option(
        None,
        "--sort",
        metavar="KEY",
        help="Column or config key to order by; a leading - for descending. best: the best runs first, by each "
        "run's monitor (accuracy up, loss down; runs monitoring different metrics are grouped); -best: the worst first.",
    ),
    trials: bool = typer.Option(False, "--trials", help="Also list the trial runs inside sweep folders."),
    as_json: JsonFlag = False,
    as_csv: bool = typer.Option(False, "--csv", help="Print the rows as CSV on stdout."),
) -> None:
    with _guard():
        from .report import list_runs, table_columns

        rows = list_runs(runs_dir, filter_, sort, trials)
    columns = table_columns(rows)
    if as_json:
        print(json.dumps({"runs_dir": str(runs_dir), "runs": [{k: r.get(k) for k in [*columns, "path"]} for r in rows]}))
        return
    if as_csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([*columns, "path"])
        writer.writerows([[views.plain(r.get(c)) for c in [*columns, "path"]] for r in rows])
        return
    views.show_runs(_output(), rows, columns, runs_dir)


@app.command()
def compare(
    run_dirs: list[Path] = typer.Argument(..., help="Two or more run folders."),
    as_json: JsonFlag = False,
) -> None:
    """Side by side: the config keys that differ (the rest is shared) and each run's scores."""
    with _guard():
        from .report import compare_runs

        res = compare_runs(run_dirs)
    if as_json:
        print(json.dumps(res))
        return
    views.show_compare(_output(), res)


@app.command()
def plot(
    run_dirs: list[Path] = typer.Argument(..., help="Run folders (curves overlaid), or one sweep folder."),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Image to write: PNG, or the format its suffix names (.svg, .pdf); missing folders are created "
        "(default: curves.png in the run, or sweep.png in the sweep).",
    ),
    storage: str | None = _storage_opt,
) -> None:
    """Learning curves of runs in one PNG; for a sweep folder, each parameter against the objective."""
    with _guard():
        from .rundir import output_file

        if len(run_dirs) == 1 and (run_dirs[0] / "sweep.json").is_file():
            from . import sweep as sweeps
            from .sweep_plot import plot_sweep

            out = output_file(out or run_dirs[0] / "sweep.png", "--out", "sweep.png")
            sw = sweeps.open_sweep(run_dirs[0], storage)
            res = sweeps.compute_results(sw)  # a plot writes only its PNG
            written = plot_sweep(res, sweeps.importances(sw), out)
        else:
            from .plots import plot_curves

            if out is None and len(run_dirs) > 1:
                raise typer.BadParameter("give --out for a plot of several runs")
            out = output_file(out or run_dirs[0] / "curves.png", "--out", "curves.png")
            written = plot_curves(run_dirs, out)
    print(f"written: {written}", file=sys.stderr)


@app.command()
def predict(
    run_dir: Path = typer.Argument(..., help="Run folder."),
    texts: list[str] = typer.Argument(None, help="Texts to classify (none: --file, or one per line on stdin)."),
    file: Path | None = typer.Option(
        None,
        "--file",
        "-f",
        help="Text runs: a CSV/TSV/JSONL file read as training files are (its text column; no label needed), any "
        "other file one text per line. Sequence runs: a long-format CSV or a folder of CSV files. Forecasting: the "
        "series as CSV.",
    ),
    checkpoint: Checkpoint = "auto",
    device: Device = None,
    as_json: JsonFlag = False,
) -> None:
    """Predict with a run's model and saved preprocessing: label and probability per text or
    sequence (tab-separated on stdout), or the next values of a series (each with its timestamp
    when the run has a time column)."""
    with _guard():
        from .rundir import RunDir
        from .scoring import predict as run_predict

        cfg = RunDir.open(run_dir).load_config()
        if not cfg.data.is_text:
            if texts:
                raise typer.BadParameter(f"a {cfg.data.task} run predicts from --file, not from texts")
            res = run_predict(run_dir, series_file=file, which=checkpoint, device=device)
        else:
            if not texts:
                texts = _texts_to_predict(file, cfg.data)
            res = run_predict(run_dir, texts=list(texts), which=checkpoint, device=device)
    if not as_json:
        for note in [*res.get("notes", []), *([res["truncated"]["note"]] if res.get("truncated") else [])]:
            print(f"note: {note}", file=sys.stderr)
    if as_json:
        print(json.dumps(res))
    elif "forecast" in res:
        print(f"{res['target']} after {res['last_time'] or 'the last row'}:", file=sys.stderr)
        for row in res["forecast"]:
            stamp = f"{row['timestamp']}\t" if "timestamp" in row else ""  # when the run has a time column
            print(f"{stamp}{row['steps_ahead']}\t{row['value']:.6g}")
    else:
        cut = sum(1 for row in res["predictions"] if row.get("cut"))
        if cut:
            print(
                f"note: {cut} of {len(res['predictions'])} texts are longer than maxlen {res['maxlen']} tokens and were cut",
                file=sys.stderr,
            )
        for row in res["predictions"]:
            print(f"{row['label']}\t{row['probability']:.4f}\t{row.get('text', row.get('id'))}")


def _texts_to_predict(file: Path | None, data) -> list[str]:
    """Texts from a data file (read as training files are), a file of lines, or stdin's lines."""
    if file is not None and file.suffix.lower() in (".csv", ".tsv", ".jsonl", ".json"):
        from .data import read_texts

        return read_texts(file, data.model_copy(update={"format": "auto"}))  # the file's own extension says its format
    if file is not None:
        from .data.readers import codec, decoding

        try:
            with decoding(file, data.encoding):
                lines = file.read_text(encoding=codec(data.encoding)).split("\n")
        except OSError as e:
            raise typer.BadParameter(f"--file {file}: cannot read ({e.strerror or e})") from None
    elif sys.stdin.isatty():
        raise typer.BadParameter("give texts as arguments, --file FILE, or lines on stdin")
    else:
        lines = sys.stdin.read().split("\n")
    return [line.removesuffix("\r") for line in lines if line.strip()]


@app.command()
def export(
    run_dir: Path = typer.Argument(..., help="Run folder."),
    fmt: Literal["torchscript", "onnx"] = typer.Option(
        "torchscript", "--format", help="onnx needs the onnx and onnxruntime packages (the onnx extra)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="File to write, missing folders created (default: model.pt / model.onnx in the run)."
    ),
    checkpoint: Checkpoint = "auto",
    as_json: JsonFlag = False,
) -> None:
    """Export the model, checked to give the checkpoint's outputs (within 1e-6) on sample inputs."""
    with _guard():
        from .export import export as run_export

        res = run_export(run_dir, fmt, out, checkpoint)
    if as_json:
        print(json.dumps(res))
    else:
        print(f"written: {res['path']} and {res['preprocessing']}", file=sys.stderr)
        print(
            f"checked: same outputs as the checkpoint within {res['max_abs_difference']:.2g} on {res['checked_inputs']}",
            file=sys.stderr,
        )


@app.command()
def schema(
    sweep: bool = typer.Option(False, "--sweep", help="The sweep file's schema instead of the config's."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write to this file instead of stdout (missing folders are created)."
    ),
) -> None:
    """Print the JSON schema of config files (or sweep files), for editor completion and checks."""
    from .config import SweepConfig, config_json_schema

    found = SweepConfig.model_json_schema() if sweep else config_json_schema()
    text = json.dumps({"$schema": "https://json-schema.org/draft/2020-12/schema", **found}, indent=2)
    if out is None:
        print(text)
    else:
        with _guard():
            from .rundir import output_file, write_text

            write_text(output_file(out, "--out", "schema.json"), text + "\n")
        print(f"written: {out}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Sweeps


class _SweepGroup(_Group):
    """`rnnexp sweep FILE ...` is short for `rnnexp sweep run FILE ...`."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


cache_app = typer.Typer(
    cls=_Group,
    help="The cache of prepared data: rnnexp cache lists its entries; rnnexp cache clear removes them.",
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(cache_app, name="cache")


@cache_app.callback()
def cache_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Where the cache is, its size limit, and every entry: the file it holds, texts, size, age."""
    if ctx.invoked_subcommand is not None:
        return
    with _guard():
        from .data import cache

        root, limit, found = cache.cache_dir(), cache.size_limit(), cache.entries()
    if as_json:
        print(json.dumps({"folder": None if root is None else str(root), "limit_bytes": limit, "entries": found}))
        return
    views.show_cache(_output(), root, limit, found)


@cache_app.command("clear")
def cache_clear(as_json: JsonFlag = False) -> None:
    """Remove every entry (runs prepare their data again when next started)."""
    with _guard():
        from .data import cache

        removed, freed = cache.clear()
    if as_json:
        print(json.dumps({"removed": removed, "bytes": freed}))
        return
    what = "1 entry" if removed == 1 else f"{removed} entries"
    _console().print(f"removed {what} ({views.size_text(freed)}) from {cache.cache_dir()}")


sweep_app = typer.Typer(
    cls=_SweepGroup,
    help="Hyperparameter sweeps (Optuna): rnnexp sweep SWEEP.yaml --workers 2; then status / results.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(sweep_app, name="sweep")

_runs_opt = _runs_dir("Where sweep folders go (created when missing)")


def _grid_opt():
    return typer.Option(
        [],
        "--grid",
        metavar="KEY=V1,V2",
        help="Run SWEEP_FILE, here a config, once for every combination of these values, as a grid sweep: "
        "KEY=V1,V2,... (repeatable; values are YAML scalars split at commas, so a list value needs a sweep file). "
        "--set then changes the config every trial starts from.",
    )


_SWEEP_SET_HELP = (
    "Override a sweep key, e.g. --set trials=20; with --grid, a key of the config (--set train.epochs=1) (repeatable)."
)


@sweep_app.command("run")
def sweep_run(
    sweep_file: Path = typer.Argument(
        ..., help="Sweep YAML (base config, space, objective, sampler, pruner, trials), or a config with --grid."
    ),
    grid: list[str] = _grid_opt(),
    workers: int | None = typer.Option(None, "--workers", "-w", min=1, help="Local worker processes (default: the file's)."),
    storage: str | None = _storage_opt,
    runs_dir: Path = _runs_opt,
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=_SWEEP_SET_HELP),
    quiet: Quiet = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a sweep folder and study, run its trials with N local workers, print the results.
    rnnexp sweep CONFIG --grid model.cell=gru,lstm runs a config's grid without a sweep file."""
    console = _console(quiet)
    with _guard():
        from . import sweep as sweeps

        sweeps.worker_start()  # a bad $RNNEXP_WORKER_START is refused before the sweep folder is made
        sw = sweeps.create(sweep_file, runs_dir, set_, storage, workers, grid)
        placed = sweeps.worker_devices(sw, sw.sweep.workers)
        where = placed[0] if len(set(placed)) == 1 else ", ".join(placed)
        console.print(
            f"sweep folder: {sw.path}  (study {sw.study.study_name}, {counted(sw.total, 'trial')}, "
            f"{counted(sw.sweep.workers, 'worker')} on {where})"
        )
        for note in sw.notes:
            console.print(f"[yellow]warning:[/] {note}")
        _run_workers(console, sw, sw.sweep.workers, storage)
        res = _sweep_results(sw)
        views.show_results(_output(quiet), res, as_json, sw.path)
    _sweep_exit(res, sw.path)


@sweep_app.command("resume")
def sweep_resume(
    sweep_dir: Path = typer.Argument(..., help="Sweep folder to continue."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Local worker processes."),
    storage: str | None = _storage_opt,
    quiet: Quiet = False,
    as_json: JsonFlag = False,
) -> None:
    """Continue a stopped sweep up to its total number of trials (not that many more)."""
    console = _console(quiet)
    with _guard():
        from . import sweep as sweeps

        sweeps.worker_start()
        sw = sweeps.open_sweep(sweep_dir, storage)
        _run_workers(console, sw, workers, storage)
        res = _sweep_results(sw)
        views.show_results(_output(quiet), res, as_json, sw.path)
    _sweep_exit(res, sw.path)


@sweep_app.command("create")
def sweep_create(
    sweep_file: Path = typer.Argument(..., help="Sweep YAML, or a config with --grid."),
    grid: list[str] = _grid_opt(),
    storage: str | None = _storage_opt,
    runs_dir: Path = _runs_opt,
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=_SWEEP_SET_HELP),
    as_json: JsonFlag = False,
) -> None:
    """Create the sweep folder and study without running trials (then start workers on each machine)."""
    with _guard():
        from . import sweep as sweeps

        sw = sweeps.create(sweep_file, runs_dir, set_, storage, grid=grid)
    for note in sw.notes:
        print(f"warning: {note}", file=sys.stderr)
    if as_json:
        print(json.dumps({"sweep_dir": str(sw.path), "study": sw.study.study_name, "trials": sw.total}))
    else:
        print(f"created {sw.path} (study {sw.study.study_name}, {counted(sw.total, 'trial')})", file=sys.stderr)
        target = f"--storage URL --study {sw.study.study_name}" if storage else str(sw.path)
        print(f"start workers with: rnnexp sweep worker {target}", file=sys.stderr)


@sweep_app.command("worker")
def sweep_worker(
    sweep_dir: Path | None = typer.Argument(None, help="Sweep folder (journal storage); or give --storage and --study."),
    storage: str | None = _storage_opt,
    study: str | None = typer.Option(None, "--study", metavar="NAME", help="Study name (printed by sweep create)."),
    runs_dir: Path | None = typer.Option(
        None,
        "--runs-dir",
        help="Where this worker's trial folders go (created when missing). Default: the sweep folder's trials/ when "
        "it has one here, else $RNNEXP_RUNS_DIR, else ./runs.",
    ),
    threads: int | None = typer.Option(None, "--threads", min=1, help="CPU threads for this worker's training."),
    number: int | None = typer.Option(
        None,
        "--number",
        min=0,
        help="This worker's number: its sampler draws from seed + number (default: a random stream), and with "
        "train.device auto or cuda it trains on cuda:(number mod GPUs).",
    ),
    device: str | None = typer.Option(
        None,
        "--device",
        metavar="DEVICE",
        help="auto, cpu, cuda or cuda:N: where this worker's trials train, over their train.device (each trial's "
        "config records it). Default: cuda:(number mod GPUs) when train.device is auto or cuda, else train.device.",
    ),
    quiet: Quiet = False,
) -> None:
    """Pull and train trials until the sweep has its total (run one per machine or per core group)."""
    console = _console(quiet)
    with _unfailing_output(), _guard():
        from . import sweep as sweeps

        if threads:
            import torch

            torch.set_num_threads(threads)
        sw = sweeps.open_sweep(sweep_dir, storage, study, worker=number, device=device)
        # Without --runs-dir, the sweep folder's trials/ (None: work's own default), else the runs folder's rule.
        trials_dir = runs_dir or (None if sw.path else _default_runs_dir())
        if trials_dir is not None:
            _runs_folder(trials_dir)
        stop = _SIGNALS.graceful_stop()  # each trial checkpoints and is handed back
        sweeps.follow_parent(stop)  # started by sweep run / resume: stopped by it, or when it is gone
        done = sweeps.work(sw, trials_dir, events=_events(console), stop=stop)
        print(f"worker {os.getpid()}: {counted(len(done.trials), 'trial')}, stopped: {done.stopped_by}", flush=True)
    if done.stopped_by == "interrupted":
        raise typer.Exit(EXIT_INTERRUPTED)


@sweep_app.command("status")
def sweep_status(
    sweep_dir: Path | None = typer.Argument(None, help="Sweep folder."),
    storage: str | None = _storage_opt,
    study: str | None = typer.Option(None, "--study", metavar="NAME", help="Study name (with --storage)."),
    as_json: JsonFlag = False,
) -> None:
    """Table of trials (params, state, best metric, epochs) and the best so far."""
    with _guard():
        from . import sweep as sweeps

        sw = sweeps.open_sweep(sweep_dir, storage, study)
        out = _output()
        views.show_results(out, sweeps.compute_results(sw), as_json, None)
        if sw.path is not None and storage is None:  # the journal file: optuna-dashboard reads it as it is
            out.err.print(f"see it in a browser: optuna-dashboard {sw.path / sweeps.JOURNAL}", markup=False, highlight=False)


@sweep_app.command("results")
def sweep_results(
    sweep_dir: Path | None = typer.Argument(None, help="Sweep folder."),
    storage: str | None = _storage_opt,
    study: str | None = typer.Option(None, "--study", metavar="NAME", help="Study name (with --storage)."),
    as_json: JsonFlag = False,
) -> None:
    """The status table, plus results.csv and best_config.yaml (ready for rnnexp train) in the sweep folder."""
    with _guard():
        from . import sweep as sweeps

        sw = sweeps.open_sweep(sweep_dir, storage, study)
        views.show_results(_output(), sweeps.results(sw), as_json, sw.path)


def _sweep_results(sw) -> dict[str, Any]:
    from .sweep import results

    try:
        return results(sw)
    except StorageError as e:  # results.csv on a full disk: the sweep itself goes on from where it is
        raise e.next_step(f"rnnexp sweep resume {sw.path}") from None


def _sweep_exit(res: dict[str, Any], folder: Path) -> None:
    """Exit 1 when the workers ended without finishing the sweep (they crashed, say), or with no best
    trial (none scored an epoch). A sweep whose best was paused or stopped by the budget has a best."""
    left = res["counts"]["RUNNING"] + res["counts"]["WAITING"]
    if not left and res["best"] is None and res["ended"]:
        why = f"sweep ended ({res['ended']}) before any trial scored an epoch; run a new one with a larger epoch_budget"
        _fail([why], EXIT_FAILED)
    if left or res["best"] is None:
        what = f"{counted(left, 'trial')} unfinished" if left else "no trial scored an epoch"
        _fail([f"sweep incomplete: {what}; continue with: rnnexp sweep resume {folder}"], EXIT_FAILED)


def _run_workers(console, sw, workers: int, storage: str | None) -> None:
    """Run the local worker processes; a signal hands their trials back and exits 130. On a
    terminal, a progress bar over the trials, the workers' lines printed above it."""
    from .sweep import run_workers

    watch = views.sweep_progress(console, sw)
    ended = run_workers(sw, workers, storage, _SIGNALS.graceful_stop, quiet=console.quiet, watch=watch, entry=_forked)
    if ended.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if ended.failed:
        console.print(
            f"[yellow]warning:[/] {len(ended.failed)} of {counted(workers, 'worker')} exited with errors ({ended.failed})"
        )


def _events(console):
    from .sweep import Events

    class ConsoleEvents(Events):
        def note(self, text: str) -> None:
            console.print(f"[{os.getpid()}] {text}")

    return ConsoleEvents()


class _Flag:
    """threading.Event's set / is_set / wait without its lock. A signal handler runs on the main
    thread between two bytecodes, possibly inside an Event.set or Event.wait of that thread (the
    handler's own, when a second signal lands in the first one's set()): taking the Event's lock
    there deadlocks. Setting one attribute cannot."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._set and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.02 if deadline is None else max(0.0, min(0.02, deadline - time.monotonic())))
        return self._set


class _Signals:
    """SIGINT and SIGTERM, handled from the command's first line to its last.

    Until a command says it can stop cleanly, a signal ends the process at once with exit 130: every
    file rnnexp writes goes to a temp file and is renamed into place, so nothing is left half written
    (a run being set up is built in a hidden folder and is simply not there). Once a run is training
    (`graceful`), the first signal sets `stop`: the run finishes its batch, checkpoints and exits 130;
    a second signal ends the process at once (the last checkpoint stays valid). A stop set otherwise
    (a sweep worker's parent closing its stdin: follow_parent) is no signal: a signal after it is
    still the first. The handler never raises
    into the interrupted code: an exception thrown from a signal handler lands wherever Python happens
    to be (a finalizer, a thread's shutdown) and prints "Exception ignored ... Traceback"."""

    def __init__(self) -> None:
        self.stop = _Flag()
        self.graceful = False
        self.signalled = False  # a signal came: the next one ends the process (the stop may be set otherwise too)

    def install(self) -> None:
        """At a command's start (a forked sweep worker's too: _forked): no stop set, nothing graceful."""
        self.__init__()
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.graceful and not self.signalled:
            self.signalled = True
            self.stop.set()
            return
        # A progress bar on the terminal is erased first (and the cursor it hid shown again): the
        # process ends here, with nothing left to redraw it under this line.
        try:
            os.write(2, (b"\r\x1b[2K\x1b[?25h" if sys.stderr.isatty() else b"") + b"interrupted\n")
        except OSError:
            pass  # nobody reads stderr any more: end all the same
        os._exit(EXIT_INTERRUPTED)

    def graceful_stop(self) -> _Flag:
        """From now on the first signal only sets the returned event."""
        self.graceful = True
        return self.stop


_SIGNALS = _Signals()


@contextmanager
def _reporter(console, show_setup: bool = True) -> Iterator[Any]:
    """The training's progress on the console. Once the run folder is in place, a signal
    checkpoints and stops (graceful_stop). However training ends (done, stopped by a signal, an
    error), its progress bar is gone before the final lines, so it is not drawn again under them."""
    reporter = reporting.rich_reporter(console, describe=show_setup, on_setup=_SIGNALS.graceful_stop)
    try:
        yield reporter
    finally:
        reporter.close()


def _finish(console, result, as_json: bool) -> None:
    """A training's end: its result line on stdout (with --quiet too: the one line it prints), how
    it ended and what to do next on stderr."""
    if as_json:
        print(json.dumps(result.to_dict()))
    else:
        console.print(f"[bold]{result.status}[/]: {result.stop_reason}")
        print(views.result_line(result), flush=True)
        if result.status == "interrupted":
            console.print(f"continue with: rnnexp resume {result.run_dir}")
    if result.status == "interrupted":
        raise typer.Exit(EXIT_INTERRUPTED)


def main() -> None:
    _SIGNALS.install()
    app()


def _forked(args: list[str]) -> int:
    """`rnnexp ARGS` in a process forked from this one (a sweep's worker: run_workers), as a new
    process runs it: signals handled as at a command's start, and its exit code returned."""
    sys.argv = ["rnnexp", *args]
    try:
        main()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


def _with_flags(overrides: list[str], device: str | None, name: str | None = None) -> list[str]:
    """--device and --name on a new run are the last --set train.device and --set name: the run's
    config records where it trained and what it is called."""
    from .config import override

    flags = {"train.device": device, "name": name}
    return [*overrides, *(override(key, value) for key, value in flags.items() if value is not None)]
