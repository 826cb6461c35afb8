"""sweep/pruning.py: each worker's sampler, the pruner a sweep file names, and Halving, the
successive halving in hyperband's brackets whose paused trials can be promoted: its rungs and
shares, which trials go on at a rung, which paused one is promoted first. In-process, on in-memory
studies (tests/test_sweep.py runs these through real sweeps)."""

from __future__ import annotations

import types

import optuna
import pytest

from rnnexp import sweep as sweeps
from rnnexp.config import load_sweep
from rnnexp.config.schema import SEED_MAX
from rnnexp.config.sweep import SamplerConfig
from rnnexp.sweep.pruning import make_pruner, make_sampler, not_moved, promoted_as


def _study_with(values_at_rung: list[float], direction: str = "maximize", pruner=None):
    """An in-memory study whose trials (configuration x=i) were each paused at epoch 1 with these values."""
    pruner = pruner or sweeps.Halving(1, 6, 3, brackets=False)
    study = optuna.create_study(direction=direction, pruner=pruner)
    for i, value in enumerate(values_at_rung):
        study.add_trial(_frozen_trial(i, {1: value}))
    return study, pruner


def _frozen_trial(x: int, values: dict[int, float], state: str = "PRUNED", **attrs):
    from optuna.distributions import IntDistribution

    return optuna.trial.create_trial(
        state=getattr(optuna.trial.TrialState, state),
        params={"x": x},
        distributions={"x": IntDistribution(0, 1000)},
        value=values[max(values)] if state == "COMPLETE" else None,  # a complete trial's value: its last epoch's
        intermediate_values=values,
        user_attrs={sweeps.BRACKET_ATTR: 0, **attrs},
    )


def test_halving_goes_on_among_the_best_third_and_pauses_until_it_can_tell():
    study, pruner = _study_with([])
    # Alone or with one other at the rung, nothing can be told yet: paused (Optuna's pruner would let
    # the first through and then only a trial that beats all before it).
    assert pruner.prune(study, _frozen_trial(0, {1: 0.5}, "RUNNING")) is True
    study, pruner = _study_with([0.5])
    assert pruner.prune(study, _frozen_trial(1, {1: 0.9}, "RUNNING")) is True
    study, pruner = _study_with([0.5, 0.6])
    assert pruner.prune(study, _frozen_trial(2, {1: 0.7}, "RUNNING")) is False  # best of 3: goes on
    assert pruner.prune(study, _frozen_trial(2, {1: 0.55}, "RUNNING")) is True
    assert pruner.prune(study, _frozen_trial(2, {1: 0.55, 2: 0.1}, "RUNNING")) is False  # epoch 2 is no rung
    # The same configuration counts once (a repeat, a promotion): x=0 again makes no third.
    assert pruner.prune(study, _frozen_trial(0, {1: 0.7}, "RUNNING")) is True
    # Lower is better when minimizing.
    study, pruner = _study_with([0.5, 0.6], direction="minimize")
    assert pruner.prune(study, _frozen_trial(2, {1: 0.4}, "RUNNING")) is False
    assert pruner.prune(study, _frozen_trial(2, {1: 0.55}, "RUNNING")) is True


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_a_trial_whose_curve_has_not_moved_is_first_judged_at_its_next_rung(direction):
    worst = 0.1 if direction == "maximize" else 0.9  # the worst value at every rung below
    others = [0.5, 0.6, 0.7] if direction == "maximize" else [0.5, 0.4, 0.3]
    pruner = sweeps.Halving(2, 18, 3)  # rungs: bracket 0 at 2 and 6, bracket 1 at 6, bracket 2 none
    study = optuna.create_study(direction=direction, pruner=pruner)
    for x, value in enumerate(others):  # three configurations at every rung of brackets 0 and 1, all better
        for bracket in (0, 1):
            study.add_trial(_frozen_trial(10 * bracket + x, dict.fromkeys(range(1, 7), value), **{sweeps.BRACKET_ATTR: bracket}))

    def pruned(curve: list[float], bracket: int = 0) -> bool:
        trial = _frozen_trial(99, dict(enumerate(curve, 1)), "RUNNING", **{sweeps.BRACKET_ATTR: bracket})
        return pruner.prune(study, trial)

    # The same value since its first epoch, at its bracket's first rung: not ranked yet, it goes on.
    assert not pruned([worst, worst]) and not pruned([worst] * 6, bracket=1)
    # Moved, by however little, or judged at a later rung: the worst is paused.
    nudged = worst + (1e-9 if direction == "maximize" else -1e-9)
    assert pruned([nudged, worst]) and pruned([worst, nudged]) and pruned([worst] * 5 + [nudged], bracket=1)
    assert pruned([worst] * 6)  # bracket 0's second rung: still flat, judged now
    # One epoch shows no curve: a first rung at epoch 1 judges as before.
    one = sweeps.Halving(1, 9, 3)
    study1 = optuna.create_study(direction=direction, pruner=one)
    for x, value in enumerate(others):
        study1.add_trial(_frozen_trial(x, {1: value}))
    assert one.prune(study1, _frozen_trial(99, {1: worst}, "RUNNING"))
    # Only the epochs up to the rung count.
    assert not_moved({1: 0.5, 2: 0.5, 3: 0.7}, 2) and not not_moved({1: 0.5, 2: 0.5, 3: 0.7}, 3)
    assert not not_moved({2: 0.5}, 2) and not not_moved({}, 2)


def test_halving_promotes_a_paused_trial_once_later_ones_rank_it_among_the_best():
    study, pruner = _study_with([0.5, 0.6, 0.7])
    assert pruner.promotion(study).number == 2  # 0.7 is the best of 3
    study, pruner = _study_with([0.6, 0.5])
    assert pruner.promotion(study) is None  # two at the rung: too few
    study.add_trial(_frozen_trial(2, {1: 0.7, 2: 0.7, 3: 0.8}))  # went on, paused at epoch 3
    for x, value in enumerate([0.1, 0.2, 0.3], start=3):
        study.add_trial(_frozen_trial(x, {1: value}))
    # Six at epoch 1 now: the best two go on; 0.7's trial already did, so 0.6's is promoted.
    assert pruner.promotion(study).number == 0
    study.add_trial(_frozen_trial(0, {1: 0.6}, "RUNNING", **{sweeps.PROMOTES_ATTR: 0}))
    assert pruner.promotion(study) is None  # taken up already
    assert pruner.promotion(_study_with([0.5, 0.6, 0.7])[0], eligible=lambda t: t.number != 2) is None
    # Once no configuration will come to fill a rung, its best goes on (the sweep would end with none complete).
    study, pruner = _study_with([0.6, 0.5])
    assert pruner.promotion(study) is None and pruner.promotion(study, final=True).number == 0
    # Budget-stopped and repeated trials are not paused by the pruner: never promoted.
    study, pruner = _study_with([0.5, 0.6])
    study.add_trial(_frozen_trial(2, {1: 0.9}, **{sweeps.BUDGET_ATTR: True}))  # the best at its rung
    study.add_trial(_frozen_trial(3, {1: 0.8}, **{sweeps.SAME_ATTR: 0}))
    assert pruner.promotion(study) is None
    study, pruner = _study_with([0.5, 0.6])
    study.add_trial(_frozen_trial(3, {1: 0.9}, **{sweeps.SAME_ATTR: 0}))  # a repeat, the best at its rung
    assert pruner.promotion(study) is None


def test_hyperband_brackets_and_their_shares():
    # The rungs are below the last epoch; bracket b starts at the b-th; the last bracket trains in full
    # (Li's), whether or not max_epochs is min_epochs * eta**k.
    assert sweeps.Halving(1, 6, 3).brackets == [[1, 3], [3], []]
    assert sweeps.Halving(1, 9, 3).brackets == [[1, 3], [3], []]
    assert sweeps.Halving(1, 12, 3).brackets == [[1, 3, 9], [3, 9], [9], []]
    assert sweeps.Halving(2, 20, 3).brackets == [[2, 6, 18], [6, 18], [18], []]
    assert sweeps.Halving(1, 12, 3, brackets=False).brackets == [[1, 3, 9]]
    assert sweeps.Halving(2, 2, 3).brackets == sweeps.Halving(3, 2, 3, brackets=False).brackets == [[]]  # no rung: in full
    # Li's n per bracket: ceil((s_max + 1) / (s + 1) * eta**s), the most exploratory first.
    assert sweeps.Halving(1, 9, 3).shares == [9, 5, 3]
    assert sweeps.Halving(1, 12, 3).shares == [27, 12, 6, 4]
    assert sweeps.Halving(1, 12, 2).shares == [16, 10, 7, 5, 5]
    pruner = sweeps.Halving(1, 9, 3)
    study = optuna.create_study(pruner=pruner)
    for x in range(20):  # new configurations fill the brackets in Li's order, each its share, then over again
        study.add_trial(_frozen_trial(x, {}, **{sweeps.BRACKET_ATTR: pruner.new_bracket(study)}))
        if x == 4:  # a configuration seen before (a repeat, a promotion) does not move the order on
            assert pruner.new_bracket(study) == pruner.new_bracket(study, [*study.trials, _frozen_trial(0, {})]) == 0
    brackets = [t.user_attrs[sweeps.BRACKET_ATTR] for t in study.trials]
    assert brackets == [0] * 9 + [1] * 5 + [2] * 3 + [0] * 3
    # only the trials given are read when they are given
    assert pruner.new_bracket(study, trials=[]) == 0 and pruner.new_bracket(study, trials=study.trials[:9]) == 1
    # surplus trials (never trained) and trials without a bracket (not new configurations) do not move the order on
    # (6 or 7 more would make the 21st configuration the 27th or 28th, in bracket 1; 13 more, the 34th, in bracket 2)
    for x in range(100, 106):
        study.add_trial(_frozen_trial(x, {}, **{sweeps.BRACKET_ATTR: 0, "surplus": True}))
    for x in range(200, 207):
        study.add_trial(_bracketless(x, {}))
    assert pruner.new_bracket(study) == 0  # the 21st configuration, as before: 20 % 17 = 3 is in bracket 0
    # two brackets (one rung below the last epoch): shares of 3 and 2
    two = sweeps.Halving(1, 3, 3)
    assert two.brackets == [[1], []] and two.shares == [3, 2]
    study = optuna.create_study(pruner=two)
    for x in range(6):
        study.add_trial(_frozen_trial(x, {}, **{sweeps.BRACKET_ATTR: two.new_bracket(study)}))
    assert [t.user_attrs[sweeps.BRACKET_ATTR] for t in study.trials] == [0, 0, 0, 1, 1, 0]
    # successive halving alone: every configuration in bracket 0
    assert sweeps.Halving(1, 9, 3, brackets=False).new_bracket(study) == 0
    # A trial of bracket 1 is first judged at epoch 3, among bracket 1's trials only.
    study, pruner = _study_with([0.9, 0.8, 0.7], pruner=sweeps.Halving(1, 6, 3))
    assert pruner.prune(study, _frozen_trial(9, {1: 0.1}, "RUNNING", **{sweeps.BRACKET_ATTR: 1})) is False


def test_trials_start_from_the_base_with_set_applied_and_hyperband_gets_their_epochs(write_sweep):
    # The pruner's full resource must be the epochs trials train, not the base file's (a bench
    # sweep that set train.epochs once ran hyperband with the base file's 12).
    sweep, base_raw, base = load_sweep(
        write_sweep(
            set={"train.epochs": 6, "train.early_stopping.monitor": "val_accuracy"},
            space={"train.lr": [0.01]},
            objective={},
            trials=1,
        )
    )
    assert base.train.epochs == base_raw["train"]["epochs"] == 6 and sweeps.max_epochs(sweep, base) == 6
    assert sweeps.objective_of(sweep, base) == ("val_accuracy", "maximize")  # the monitor `set` chose
    sweep, _, base = load_sweep(write_sweep(set={"train.epochs": 6}, space={"train.epochs": [2, 9, 4]}, trials=2))
    assert sweeps.max_epochs(sweep, base) == 9
    sweep, _, base = load_sweep(write_sweep(space={"train.epochs": {"kind": "int", "low": 2, "high": 7}}, trials=2))
    assert sweeps.max_epochs(sweep, base) == 7


def _draws(sampler, n: int = 4) -> list[float]:
    """The first n learning rates a sampler proposes to a fresh study (TPE's are its random start-up ones)."""
    study = optuna.create_study(sampler=sampler)
    return [study.ask().suggest_float("lr", 1e-5, 1e-1, log=True) for _ in range(n)]


@pytest.mark.parametrize("kind", ["tpe", "random", "grid"])
def test_each_worker_draws_from_the_seed_plus_its_number(kind):
    sampler = lambda seed, worker: make_sampler(types.SimpleNamespace(sampler=SamplerConfig(kind=kind, seed=seed)), worker)
    # worker i of seed s draws what Optuna's random sampler of seed s + i draws: its own stream, reproducible
    assert _draws(sampler(5, 2)) == _draws(sampler(7, 0)) == _draws(optuna.samplers.RandomSampler(seed=7))
    assert _draws(sampler(5, 0)) != _draws(sampler(5, 1))
    assert _draws(make_sampler(types.SimpleNamespace(sampler=SamplerConfig(kind=kind, seed=5)))) == _draws(sampler(5, 0))
    # past the largest seed numpy takes, the worker's seed wraps around to 0 (no error at a high seed)
    assert _draws(sampler(SEED_MAX, 1)) == _draws(sampler(0, 0))
    # a worker without a number draws from a stream of its own each time
    assert _draws(sampler(5, None)) != _draws(sampler(5, None))
    expected = optuna.samplers.TPESampler if kind == "tpe" else optuna.samplers.RandomSampler
    assert type(sampler(0, 0)) is expected


def test_tpe_starts_with_the_sweeps_startup_trials():
    sampler = make_sampler(types.SimpleNamespace(sampler=SamplerConfig(kind="tpe", startup_trials=7)), 0)
    assert sampler._n_startup_trials == 7


@pytest.mark.parametrize(
    "pruner, sampler, expected",
    [
        ({"kind": "none"}, "tpe", "nop"),
        ({}, "grid", "nop"),  # auto: a grid runs every point whole
        ({"kind": "median", "startup_trials": 4, "warmup_epochs": 2}, "tpe", ("median", 4, 2)),
        ({"min_epochs": 1, "reduction_factor": 2}, "random", ([[1, 2, 4, 8], [2, 4, 8], [4, 8], [8], []], 2)),  # auto: hyperband
        ({"kind": "hyperband", "min_epochs": 2, "reduction_factor": 3}, "tpe", ([[2, 6], [6], []], 3)),
        ({"kind": "successive_halving", "min_epochs": 1, "reduction_factor": 3}, "tpe", ([[1, 3, 9]], 3)),
    ],
)
def test_the_pruner_is_the_one_the_sweep_file_names(write_sweep, pruner, sampler, expected):
    top = {"trials": 2} if sampler != "grid" else {}
    sweep, _, base = load_sweep(write_sweep(space={"train.epochs": [4, 12, 8]}, sampler={"kind": sampler}, pruner=pruner, **top))
    made = make_pruner(sweep, base)  # its full resource: the largest train.epochs the space offers, 12
    if expected == "nop":
        assert type(made) is optuna.pruners.NopPruner
    elif expected[0] == "median":
        assert type(made) is optuna.pruners.MedianPruner
        assert (made._n_startup_trials, made._n_warmup_steps) == expected[1:]
    else:
        assert type(made) is sweeps.Halving and (made.brackets, made.eta) == expected


def test_the_default_sampler_is_tpe_modelling_parameters_jointly_with_workers_kept_apart(write_sweep):
    """docs/explanation/sweeps.md: TPE's constant liar keeps workers from starting the same configuration,
    and the default search bench/sweep.py measures models the parameters jointly: Optuna 5's TPE
    defaults (pyproject requires optuna>=5.0; 4.x had both off)."""
    sweep, _, _ = load_sweep(write_sweep(space={"train.lr": [0.01, 0.1]}, trials=2))
    sampler = make_sampler(sweep)
    study = optuna.create_study(sampler=sampler)
    assert type(sampler) is optuna.samplers.TPESampler
    assert sampler._constant_liar is True and sampler._is_multivariate(study) is True
    assert sampler._n_startup_trials == 10  # the schema's startup_trials


def test_a_paused_trial_is_promoted_as_the_latest_trial_that_took_it_up():
    trials = [
        _frozen_trial(0, {1: 0.5}),  # paused
        _frozen_trial(0, {1: 0.5, 2: 0.6}, "FAIL", **{sweeps.PROMOTES_ATTR: 0}),  # its promotion, whose worker died
        _frozen_trial(0, {}, "RUNNING", **{sweeps.PROMOTES_ATTR: 0}),  # ... retried: the run's trial now
        _frozen_trial(0, {}, "PRUNED", **{sweeps.PROMOTES_ATTR: 0, "surplus": True}),  # asked for too late: never ran
        _frozen_trial(1, {1: 0.4}),
    ]
    for number, trial in enumerate(trials):
        trial.number = number
    assert promoted_as(trials) == {0: 2} and sweeps.promoted_trials(trials) == {0}
    assert promoted_as(trials[:2]) == {0: 1} and promoted_as([trials[0], trials[3], trials[4]]) == {}


def test_a_bracket_past_the_last_has_the_last_ones_rungs_and_a_trial_yet_to_report_goes_on():
    pruner = sweeps.Halving(1, 9, 3)
    assert pruner.rungs(0) == [1, 3] and pruner.rungs(2) == pruner.rungs(7) == []
    assert sweeps.Halving(1, 9, 3, brackets=False).rungs(1) == [1, 3]  # a study hyperband filled, read as one bracket
    assert sweeps.Halving(1, 9, 3, brackets=False).shares == [1]
    study, pruner = _study_with([0.9, 0.8, 0.7])
    assert pruner.prune(study, _frozen_trial(9, {}, "RUNNING")) is False  # no epoch reported yet


def _bracketless(x: int, values: dict[int, float], state: str = "PRUNED"):
    trial = _frozen_trial(x, values, state)
    del trial.user_attrs[sweeps.BRACKET_ATTR]
    return trial


def test_a_trial_without_a_bracket_is_one_of_bracket_0():
    """A study from before brackets (successive halving alone) holds trials without one: bracket 0's."""
    pruner = sweeps.Halving(1, 9, 3)  # bracket 0's rungs: 1 and 3; bracket 1's: 3
    study = optuna.create_study(direction="maximize", pruner=pruner)
    study.add_trial(_bracketless(0, {1: 0.5}))
    study.add_trial(_bracketless(1, {1: 0.6}))
    assert pruner.prune(study, _bracketless(2, {1: 0.7}, "RUNNING")) is False  # best of three at bracket 0's first rung
    assert pruner.prune(study, _bracketless(2, {1: 0.55}, "RUNNING")) is True
    assert pruner.promotion(study) is None
    study.add_trial(_bracketless(2, {1: 0.4}))
    assert pruner.promotion(study).params == {"x": 1}  # paused at a rung of bracket 0, now the best of three


def test_a_trial_is_judged_among_its_own_brackets_trials_at_its_own_rungs():
    pruner = sweeps.Halving(1, 9, 3)  # bracket 0's rungs: 1 and 3; bracket 1's: 3
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for x, value in enumerate([0.9, 0.8, 0.7]):  # bracket 0: better at epoch 3
        study.add_trial(_frozen_trial(x, {1: value, 2: value, 3: value}, "COMPLETE"))
    for x, value in enumerate([0.2, 0.3], start=10):  # bracket 1: worse
        study.add_trial(_frozen_trial(x, {1: value, 2: value, 3: value}, **{sweeps.BRACKET_ATTR: 1}))
    one = lambda value: _frozen_trial(20, {1: 0.0, 2: 0.0, 3: value}, "RUNNING", **{sweeps.BRACKET_ATTR: 1})
    assert pruner.prune(study, one(0.4)) is False and pruner.prune(study, one(0.25)) is True
    # promoted from a rung of its own bracket only: epoch 1 is bracket 0's, not bracket 1's
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for x, value in enumerate([0.5, 0.6, 0.7]):
        study.add_trial(_frozen_trial(x, {1: value}, **{sweeps.BRACKET_ATTR: 1}))
    assert pruner.promotion(study) is None


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_at_a_rung_the_best_n_over_eta_go_on_ties_included(direction):
    better = (lambda v: v) if direction == "maximize" else (lambda v: 1 - v)
    study, pruner = _study_with([better(v) for v in (0.1, 0.2, 0.3, 0.4, 0.6)], direction)
    pruned = lambda value: pruner.prune(study, _frozen_trial(9, {1: better(value)}, "RUNNING"))
    # six at the rung: the best two go on; a value equal to the second best goes on too
    assert not pruned(0.7) and not pruned(0.5) and not pruned(0.4) and pruned(0.35)
    # the running trial's own value counts, not an earlier trial's of its configuration
    assert pruner.prune(study, _frozen_trial(4, {1: better(0.1)}, "RUNNING"))
    assert not pruner.prune(study, _frozen_trial(0, {1: better(0.9)}, "RUNNING"))
    # trials of another bracket, trials not at this rung and trials without parameters are not counted
    other = optuna.create_study(direction=direction, pruner=pruner)
    for x, value in enumerate([0.9, 0.8, 0.7]):
        other.add_trial(_frozen_trial(x, {1: better(value)}, **{sweeps.BRACKET_ATTR: 1}))
        other.add_trial(_frozen_trial(10 + x, {2: better(value)}))
    other.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, intermediate_values={1: better(0.9)}))
    assert pruner.prune(other, _frozen_trial(9, {1: better(0.1)}, "RUNNING")) is True  # alone at its rung: paused
    for x, value in enumerate([0.2, 0.3], start=20):
        other.add_trial(_frozen_trial(x, {1: better(value)}))
    assert pruner.prune(other, _frozen_trial(9, {1: better(0.4)}, "RUNNING")) is False  # best of its three


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_the_paused_trial_promoted_first_is_at_the_highest_rung_then_the_best_then_the_earliest(direction):
    better = (lambda v: v) if direction == "maximize" else (lambda v: 1 - v)
    pruner = sweeps.Halving(1, 9, 3, brackets=False)  # rungs 1 and 3
    study = optuna.create_study(direction=direction, pruner=pruner)
    add = lambda x, curve, state="PRUNED": study.add_trial(
        _frozen_trial(x, {e: better(v) for e, v in enumerate(curve, 1)}, state)
    )
    for x, value in enumerate([0.1, 0.2, 0.3, 0.8]):  # paused at epoch 1; 0.8 is the rung's second best of six
        add(x, [value])
    add(4, [0.8])  # as good as x=3, later: x=3 goes first
    add(5, [0.9, 0.9], "COMPLETE")  # went on (never paused): not promoted
    assert study.trials[pruner.promotion(study).number].params == {"x": 3}
    add(6, [0.5, 0.5, 0.5])  # paused at epoch 3, alone there: too few to tell
    assert pruner.promotion(study).params == {"x": 3}
    add(7, [0.6, 0.6, 0.4])
    add(8, [0.6, 0.6, 0.3])
    # three at epoch 3: the best of them, 0.5, goes on, and epoch 3 is promoted before epoch 1
    assert pruner.promotion(study).params == {"x": 6}
    # a trial paused at an epoch that is no rung (the sweep's budget, a wall-clock stop) is not promoted
    add(9, [0.95, 0.95])
    assert pruner.promotion(study).params == {"x": 6}
    # a trial paused at an epoch that is no rung is not promoted, however far it went
    add(10, [0.1] * 9, "COMPLETE")
    add(11, [0.1] * 9, "COMPLETE")
    add(12, [0.95, 0.95, 0.95, 0.99])  # paused at epoch 4: the best of three there
    assert pruner.promotion(study).params == {"x": 6}
    # only the trials given are read when they are given
    assert pruner.promotion(study, trials=study.trials[:5]).params == {"x": 3}
    assert pruner.promotion(study, trials=study.trials[:3]).params == {"x": 2}  # the best of those three
    assert pruner.promotion(study, trials=study.trials[:2]) is None


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_among_paused_trials_at_one_rung_the_best_is_promoted_first_and_on_a_tie_the_earliest(direction):
    better = (lambda v: v) if direction == "maximize" else (lambda v: 1 - v)
    for values, first in [
        ([0.1, 0.2, 0.3, 0.4, 0.7, 0.6], 4),
        ([0.1, 0.2, 0.3, 0.4, 0.6, 0.7], 5),
        ([0.1, 0.2, 0.3, 0.4, 0.6, 0.6], 4),
    ]:
        study, pruner = _study_with([better(v) for v in values], direction)  # six at epoch 1: two go on
        assert pruner.promotion(study).number == first
    # once no configuration will come, a rung that cannot fill lets its best one go on, not two
    study, pruner = _study_with([better(0.6), better(0.5)], direction)
    assert pruner.promotion(study, final=True).number == 0
    study.add_trial(_frozen_trial(0, {}, "RUNNING", **{sweeps.PROMOTES_ATTR: 0}))
    assert pruner.promotion(study, final=True) is None
