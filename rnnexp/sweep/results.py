"""A sweep's results: every counted trial with its parameters, state, best value, epochs and run
folder, and the best trial (compute_results); results.csv and best_config.yaml (write_results);
parameter importances."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import dump_config, trial_config
from ..rundir import RunDir, write_text
from .ledger import TrialLedger
from .names import FINISHED_STATES, Attr, SystemAttr, best_of
from .study import decode

if TYPE_CHECKING:
    from .study import Sweep


def history(run: Path) -> list[dict[str, Any]]:
    return RunDir(run).read_metrics()


def best_value(history: list[dict[str, Any]], metric: str, direction: str) -> float | None:
    values = [r[metric] for r in history if r.get(metric) is not None and r[metric] == r[metric]]
    if not values:
        return None
    return best_of(direction)(values)


def results(sw: Sweep) -> dict[str, Any]:
    """Every counted trial (surplus ones left out) with params, state, best value, epochs and run folder;
    the best trial; and the best trial's config. Writes results.csv and best_config.yaml when the
    sweep has a folder here."""
    out = compute_results(sw)
    if sw.path is not None:
        out.update(write_results(sw, out))
    return out


def compute_results(sw: Sweep) -> dict[str, Any]:
    """The results (see results), read from the study and the trials' run folders; writes nothing."""
    ledger = TrialLedger(sw)
    listed = [t for t in ledger.trials if not t.user_attrs.get(Attr.SURPLUS)]
    rows = [_row(sw, ledger, t) for t in listed]
    retried_as, promoted_as = ledger.retried_as, ledger.promoted_as
    repeats = [r for r in rows if r["same_as"] is not None]
    counted = [r for r, t in zip(rows, listed) if ledger.represents(t)]
    leader = ledger.best()
    best = next(r for r in counted if r["number"] == leader[0]) if leader else None
    counts = {s: sum(1 for r in counted if r["state"] == s) for s in ("COMPLETE", "PRUNED", "RUNNING", "WAITING", "FAIL")}
    counts["RETRIED"] = len(retried_as)
    counts["REPEATED"] = len(repeats)
    counts["PROMOTED"] = len(promoted_as)
    grid_dupes = 0
    if sw.sweep.sampler.exhaustive:
        seen = [
            tuple(json.dumps(r.get(k), sort_keys=True) for k in sw.sweep.space) for r in counted if r["state"] in FINISHED_STATES
        ]
        grid_dupes = len(seen) - len(set(seen))
    return {
        "study": sw.study.study_name,
        "metric": sw.metric,
        "direction": sw.direction,
        "total": sw.total,
        "counts": counts,
        "duplicates": grid_dupes,
        # each epoch once: a paused trial's and its promotion's rows both show the epochs before the pause
        "epochs_trained": ledger.epochs_spent(),
        "epoch_budget": sw.sweep.epoch_budget,
        "ended": ledger.ended(),
        "trials": rows,
        "best": best,
        "params": list(sw.sweep.space),
    }


def _row(sw: Sweep, ledger: TrialLedger, t) -> dict[str, Any]:
    """One trial's row of the results table: its value and epochs as the trial left its run (see as_left)."""
    specs = sw.sweep.specs()
    run = t.user_attrs.get(Attr.RUN_DIR)
    metrics = as_left(ledger, t)
    same_as = t.user_attrs.get(Attr.SAME)
    params = t.params or t.system_attrs.get(SystemAttr.FIXED_PARAMS, {})
    return {
        "number": t.number,
        "state": t.state.name,
        "value": t.value if t.state.name == "COMPLETE" else best_value(metrics, sw.metric, sw.direction),
        "same_as": same_as,
        "epochs": 0 if same_as is not None else len(metrics),  # a repeat trained none
        **{k: decode(v, specs[k].values or []) for k, v in params.items()},
        "retry_of": t.system_attrs.get(SystemAttr.FAILED_TRIAL),
        "promoted_from": t.user_attrs.get(Attr.PROMOTES),
        "run_dir": run,
        "host": t.user_attrs.get(Attr.HOST),
        "note": _note(ledger, t),
    }


def as_left(ledger: TrialLedger, t) -> list[dict[str, Any]]:
    """The rows of metrics.csv of a trial's run as the trial left it. A run that another trial went on
    with (a paused trial's promotion, a dead trial's retry) is cut at the last epoch this trial
    reported; a repeat shows the earlier trial's run up to where it took its result; a trial not
    started yet has none."""
    from optuna.trial import TrialState

    if t.state == TrialState.WAITING:
        return []
    same_as = t.user_attrs.get(Attr.SAME)
    run = (ledger[same_as] if same_as is not None else t).user_attrs.get(Attr.RUN_DIR)
    rows = history(Path(run)) if run else []
    if same_as is not None or t.number in ledger.retried_as or t.number in ledger.promoted_as:
        rows = [r for r in rows if r["epoch"] <= (t.last_step or 0)]
    return rows


def _note(ledger: TrialLedger, t) -> str:
    """What became of a trial, in words."""
    retry_of = t.system_attrs.get(SystemAttr.FAILED_TRIAL)
    same_as = t.user_attrs.get(Attr.SAME)
    promoted_from = t.user_attrs.get(Attr.PROMOTES)
    if same_as is not None:
        return f"same configuration as #{same_as}: its result, not trained again"
    if t.number in ledger.retried_as:
        return f"{t.user_attrs.get(Attr.DIED) or 'stopped'}; retried as #{ledger.retried_as[t.number]}"
    if t.number in ledger.promoted_as:
        return f"paused after epoch {t.last_step}; promoted as #{ledger.promoted_as[t.number]}"
    if retry_of is not None:
        return f"retry of #{retry_of}, resumed its run"
    if promoted_from is not None:
        return f"promoted #{promoted_from}: resumed its run after epoch {ledger[promoted_from].last_step}"
    if t.user_attrs.get(Attr.BUDGET) and t.state.name == "PRUNED":
        return "stopped: the sweep's epoch budget was spent"
    return t.user_attrs.get(Attr.ERROR) or ""


def write_results(sw: Sweep, res: dict[str, Any]) -> dict[str, str]:
    """Write results.csv and (once a trial completed) best_config.yaml into the sweep folder, from
    compute_results' ``res``. Returns the files written: results_csv, best_config."""
    written: dict[str, str] = {}
    columns = [
        "number",
        "state",
        "value",
        "epochs",
        *sw.sweep.space,
        "retry_of",
        "same_as",
        "promoted_from",
        "run_dir",
        "host",
        "note",
    ]
    lines = [columns] + [[_cell(r.get(c)) for c in columns] for r in res["trials"]]
    buf = io.StringIO()
    csv.writer(buf).writerows(lines)
    write_text(sw.path / "results.csv", buf.getvalue())
    written["results_csv"] = str(sw.path / "results.csv")
    best = res["best"]
    if best is not None:
        cfg = trial_config(sw.base_raw, {k: best[k] for k in sw.sweep.space}, source="best trial")
        cfg.name = f"{sw.sweep.name}-best"
        header = f"# best trial {best['number']} of {sw.study.study_name}: {sw.metric} {best['value']}\n"
        write_text(sw.path / "best_config.yaml", header + dump_config(cfg))
        written["best_config"] = str(sw.path / "best_config.yaml")
    return written


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else ("" if value is None else value)


def importances(sw: Sweep) -> dict[str, float] | None:
    """Optuna's parameter importances over complete trials, by a seeded random forest's mean decrease
    in impurity (Optuna's default fANOVA returns equal shares on sweeps as small as ours); None when
    they cannot be computed (fewer than two complete trials, a parameter that never varied)."""
    import optuna

    try:
        evaluator = optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=0)
        return {k: float(v) for k, v in optuna.importance.get_param_importances(sw.study, evaluator=evaluator).items()}
    except (RuntimeError, ValueError, ImportError, ZeroDivisionError):
        return None
