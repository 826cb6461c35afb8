"""Searches replayed on a recorded grid (bench/grids.py): every configuration's validation curve is
known epoch by epoch, and training is seeded and deterministic, so a trial of a configuration
reports exactly the curve it had in the grid. A replay feeds those curves to a search and counts the
epochs it trains; it takes milliseconds where the real search takes minutes.

rnnexp's searches are replayed with rnnexp's own parts: the sweep file's sampler and pruner made by
rnnexp.sweep.pruning (make_sampler, make_pruner: the Halving pruner, its brackets and promotions),
parameters drawn by rnnexp.sweep.study.suggest, and `rnnexp sweep`'s rules for repeats, promotions
and the epoch budget (see `search`). Other searches (Optuna's HyperbandPruner with its own loop,
Hyperband as Li et al. define it) are written out here.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from rnnexp import sweep as sweeps
from rnnexp.config import Config, SweepConfig
from rnnexp.sweep.ledger import TrialLedger
from rnnexp.sweep.pruning import make_pruner, make_sampler
from rnnexp.sweep.study import suggest


def key_of(params: dict[str, Any], space: dict[str, list]) -> str:
    """A configuration's name among the grid's curves: its parameters, in the space's order."""
    return json.dumps([params[k] for k in space])


def curves_of(grid: dict[str, Any]) -> dict[str, list[float]]:
    return {key_of(c["params"], grid["space"]): c["curve"] for c in grid["configurations"]}


def best_of(grid: dict[str, Any], curve: list[float]) -> float:
    """A trial's value, as rnnexp sweep takes it: the best epoch of its run."""
    return min(curve) if grid["direction"] == "minimize" else max(curve)


def grid_epochs(grid: dict[str, Any]) -> int:
    """Every epoch the full grid trained."""
    return sum(len(c["curve"]) for c in grid["configurations"])


def regret(grid: dict[str, Any], pick: str) -> float:
    """How far the pick's grid value is from the grid's best, in the grid's units: accuracy points,
    or percent of the best error."""
    values = {key_of(c["params"], grid["space"]): best_of(grid, c["curve"]) for c in grid["configurations"]}
    best = min(values.values()) if grid["direction"] == "minimize" else max(values.values())
    gap = abs(values[pick] - best)
    return round(100 * gap if grid["regret"] == "points" else 100 * gap / abs(best), 6)


def sweep_config(grid: dict[str, Any], sampler: dict[str, Any], pruner: dict[str, Any]) -> tuple[SweepConfig, Config]:
    """The sweep an rnnexp search of this grid is (its space, objective, sampler and pruner) and the
    base config its pruner reads the epochs from."""
    sweep = SweepConfig.model_validate(
        {
            "base": "base.yaml",
            "space": grid["space"],
            "objective": {"metric": grid["metric"], "direction": grid["direction"]},
            "sampler": sampler,
            "pruner": pruner,
            "trials": len(grid["configurations"]),  # at most one per configuration; the budget ends it first
        }
    )
    base = Config.model_validate(grid["configurations"][0]["config"])
    return sweep, base


def search(
    grid: dict[str, Any],
    sampler: dict[str, Any],
    pruner: dict[str, Any],
    budget: int,
    study_name: str = "replay",
    optuna_pruner=None,
    pick: str = "rnnexp",
):
    """One rnnexp search fed the recorded curves under `rnnexp sweep`'s rules, with its pruner:
    before a new configuration, a paused trial the pruner now ranks among the best at its rung is
    promoted and goes on from its epochs (a resumed run trains none twice); a repeat of a complete
    configuration takes its value, one of a paused configuration is shown to the pruner again and
    goes on from its epochs only if let through; repeats and promotions do not count toward the
    trials (at most one per configuration) and REPEAT_LIMIT repeats in a row end new configurations
    (then an unfilled rung's best paused trial goes on); once the budget (epochs) is spent nothing
    starts and the trial training stops. ``optuna_pruner``: an Optuna pruner in place of rnnexp's
    (Optuna's HyperbandPruner), with the same rules. Returns its pick and the epochs it trained.
    ``pick``: "rnnexp", `rnnexp sweep`'s (TrialLedger.best: the configuration whose trial reached the
    best epoch, complete or stopped early), or "optuna", Optuna's best trial (complete ones only, as
    a pruned Optuna trial keeps no model; with none complete, rnnexp's)."""
    import warnings

    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # A paused configuration shown to the pruner again, then let through, reports its epochs once more
    # (the same values, as a resumed run's trial does): Optuna keeps the first and says so.
    warnings.filterwarnings("ignore", message="The reported value is ignored because this `step=")
    sweep, base = sweep_config(grid, sampler, pruner)
    curves = curves_of(grid)
    pruner_obj = make_pruner(sweep, base) if optuna_pruner is None else optuna_pruner
    halving = isinstance(pruner_obj, sweeps.Halving)
    study = optuna.create_study(
        study_name=study_name, direction=grid["direction"], sampler=make_sampler(sweep, 0), pruner=pruner_obj
    )
    trained = counted = streak = 0

    def ledger() -> TrialLedger:
        """The study's trials as rnnexp sweep reads them for one decision (TrialLedger needs only these)."""
        return TrialLedger(SimpleNamespace(study=study, direction=grid["direction"]))

    def train(trial, curve: list[float], start: int) -> None:
        """Epochs start+1.. of a configuration's run (the first start were trained before, and are reported again)."""
        nonlocal trained
        for epoch, value in enumerate(curve, 1):
            trial.report(value, epoch)
            if epoch <= start:
                continue
            trained += 1
            if epoch < len(curve) and trial.should_prune():
                study.tell(trial, state=TrialState.PRUNED)
                return
            if epoch < len(curve) and trained >= budget:
                trial.set_user_attr(sweeps.BUDGET_ATTR, True)
                study.tell(trial, state=TrialState.PRUNED)
                return
        study.tell(trial, best_of(grid, curve))  # a trial's value is its best epoch, as in rnnexp sweep

    def config(trial) -> str:
        return key_of(suggest(trial, sweep), grid["space"])

    while trained < budget:
        nothing_new = counted >= len(curves) or streak >= sweeps.REPEAT_LIMIT
        paused = pruner_obj.promotion(study, final=nothing_new) if halving else None
        if paused is not None:
            attrs = {sweeps.PROMOTES_ATTR: paused.number, sweeps.BRACKET_ATTR: paused.user_attrs[sweeps.BRACKET_ATTR]}
            study.enqueue_trial(paused.params, user_attrs=attrs)
            trial = study.ask()
            streak = 0  # not a repeat: it breaks a run of them, as in rnnexp sweep
            train(trial, curves[config(trial)], paused.last_step)
            continue
        if nothing_new:
            break
        trial = study.ask()
        name = config(trial)
        original = ledger().same_configuration(trial)  # as rnnexp sweep decides it
        if halving:
            bracket = original.user_attrs[sweeps.BRACKET_ATTR] if original else pruner_obj.new_bracket(study)
            trial.set_user_attr(sweeps.BRACKET_ATTR, bracket)
        if original is not None and original.state == TrialState.COMPLETE:
            trial.set_user_attr(sweeps.SAME_ATTR, original.number)
            study.tell(trial, original.value)
            streak += 1
            continue
        if original is not None:
            if _pruned_again(trial, original.intermediate_values):
                trial.set_user_attr(sweeps.SAME_ATTR, original.number)  # never promoted: it has no run
                study.tell(trial, state=TrialState.PRUNED)
                streak += 1
                continue
            trial.set_user_attr(sweeps.PROMOTES_ATTR, original.number)  # let through: it goes on
            streak = 0
            train(trial, curves[name], original.last_step)
            continue
        streak, counted = 0, counted + 1
        train(trial, curves[name], 0)
    number, _ = ledger().best()
    if pick == "optuna" and any(t.state == TrialState.COMPLETE for t in study.trials):
        number = study.best_trial.number
    return key_of(_params(study.trials[number], sweep), grid["space"]), trained


def _params(trial, sweep: SweepConfig) -> dict[str, Any]:
    """A finished trial's parameters as the space writes them (choices decoded)."""
    from rnnexp.sweep.study import decode

    specs = sweep.specs()
    return {k: decode(v, specs[k].values or []) for k, v in trial.params.items()}


def _pruned_again(trial, values: dict[int, float]) -> bool:
    for epoch, value in sorted(values.items()):
        trial.report(value, epoch)
        if trial.should_prune():
            return True
    return False


def li_hyperband(grid: dict[str, Any], budget: int, seed: int, eta: int = 3) -> tuple[str, int]:
    """Hyperband as Li et al. (2018) define it and KerasTuner implements it: brackets s = s_max..0,
    each n = ceil((s_max + 1) / (s + 1) * eta**s) configurations drawn at random, trained to
    r = R / eta**s epochs, the best 1/eta of them going on to eta times as many (a configuration goes
    on from its epochs, as KerasTuner's does from its checkpoint), over and over until the budget
    (epochs) is spent. Its pick: the configuration with the best value it saw."""
    import math
    import random

    curves = curves_of(grid)
    names = list(curves)
    epochs = max(len(c) for c in curves.values())
    s_max = int(math.log(epochs, eta) + 1e-9)
    rng = random.Random(seed)
    minimize = grid["direction"] == "minimize"
    trained, done = 0, {}  # epochs trained so far per configuration (its run goes on from them)
    seen: dict[str, float] = {}

    def run_to(name: str, r: int) -> float | None:
        nonlocal trained
        curve = curves[name]
        for epoch in range(done.get(name, 0) + 1, min(r, len(curve)) + 1):
            if trained >= budget:
                return None
            trained += 1
            done[name] = epoch
            value = curve[epoch - 1]
            seen[name] = value if name not in seen else (min if minimize else max)(seen[name], value)
        return seen.get(name)

    while trained < budget:
        for s in range(s_max, -1, -1):
            n = math.ceil((s_max + 1) / (s + 1) * eta**s)
            r = epochs / eta**s
            bracket = rng.sample(names, min(n, len(names)))
            for i in range(s + 1):
                r_i = max(1, round(r * eta**i))
                scores = {}
                for name in bracket:
                    value = run_to(name, r_i)
                    if value is None:
                        break
                    scores[name] = curves[name][min(r_i, len(curves[name])) - 1]
                if trained >= budget:
                    break
                keep = max(1, len(bracket) // eta)
                bracket = sorted(scores, key=lambda k: scores[k], reverse=not minimize)[:keep]
            if trained >= budget:
                break
        if len(done) == len(names) and all(done[k] == len(curves[k]) for k in names):
            break  # everything trained to the end: nothing more to spend the budget on
    pick = (min if minimize else max)(seen, key=lambda k: seen[k])
    return pick, trained
