"""sweep/ledger.py: what a sweep's trials say, read once per decision: which trials count toward
the total and which stand for their configuration, the epochs spent and the budget, when the sweep
has ended, which earlier trial a new one repeats, continues or contends with, which failed ones no
retry took up. In-process, on in-memory studies of hand-made trials (tests/test_sweep.py runs the
same decisions through real sweeps)."""

from __future__ import annotations

import socket
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution

from conftest import ROW_RUNS, every_kind_of_trial
from rnnexp import sweep as sweeps
from rnnexp.config import load_sweep
from rnnexp.sweep.ledger import TrialLedger, epochs_spent, local_run, promotes_of, retries_of
from rnnexp.sweep.names import REPEAT_LIMIT, Attr, SystemAttr
from rnnexp.sweep.pruning import make_pruner

LRS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05]


@pytest.fixture
def make_sweep(write_sweep):
    """make_sweep(direction=..., sampler=..., **top) -> an opened sweep over an empty in-memory study,
    with the pruner its file names."""

    def make(direction: str = "maximize", sampler: str = "tpe", **top) -> sweeps.Sweep:
        top = {"trials": 10, **top} if sampler != "grid" else top
        sweep, base_raw, base = load_sweep(
            write_sweep(
                base_train={"epochs": 6},
                space={"train.lr": LRS},
                sampler={"kind": sampler},
                objective={"metric": "val_accuracy", "direction": direction},
                **top,
            )
        )
        study = optuna.create_study(direction=direction, pruner=make_pruner(sweep, base))
        return sweeps.Sweep(sweep, base_raw, base, study, None, None)

    return make


def add(sw: sweeps.Sweep, state: str = "COMPLETE", x: int = 0, curve: list[float] = (), system=None, **attrs):
    """A trial of configuration x (train.lr = LRS[x]) in this state, its curve its reported epochs (a
    complete one's value: the curve's best, a pruned one's its last, as Optuna sets them); user
    attributes by their Attr name (``same=0``)."""
    pick = max if sw.direction == "maximize" else min
    sw.study.add_trial(
        optuna.trial.create_trial(
            state=getattr(optuna.trial.TrialState, state),
            # Optuna's own: a complete trial's value is what it returned (here its best); a pruned one's, its last report
            value=pick(curve) if state == "COMPLETE" else curve[-1] if state == "PRUNED" and curve else None,
            params={"train.lr": LRS[x]} if state != "WAITING" else {},
            distributions={"train.lr": CategoricalDistribution(LRS)} if state != "WAITING" else {},
            intermediate_values=dict(enumerate(curve, 1)),
            user_attrs={Attr[key.upper()].value: value for key, value in attrs.items()},
            system_attrs={SystemAttr[key.upper()].value: value for key, value in (system or {}).items()},
        )
    )
    return sw.study.trials[-1]


def _every_kind(sw: sweeps.Sweep) -> None:
    """0 complete; 1 paused, promoted as 4; 2 dead, retried as 5; 3 a repeat of 0; 4 running; 5 running;
    6 surplus; 7 failed on its own; 8 waiting (a retry queued, with its predecessor's epoch count)."""
    add(sw, "COMPLETE", 0, [0.5, 0.6, 0.7], trained=3)
    add(sw, "PRUNED", 1, [0.4], trained=1)
    add(sw, "FAIL", 2, [0.3, 0.35], trained=2)
    add(sw, "COMPLETE", 0, [0.7], same=0)
    add(sw, "RUNNING", 1, [0.4, 0.5], promotes=1, trained=1)
    add(sw, "RUNNING", 2, [0.3, 0.35, 0.4], system={"retry_history": [2], "failed_trial": 2}, trained=1)
    add(sw, "PRUNED", 3, [], surplus=True)
    add(sw, "FAIL", 4, [0.2], error="diverged", trained=1)
    add(sw, "WAITING", system={"retry_history": [7]}, trained=1)


def test_which_trials_count_toward_the_total_and_which_stand_for_their_configuration(make_sweep):
    sw = make_sweep()
    _every_kind(sw)
    ledger = TrialLedger(sw)
    assert ledger.retried_as == {2: 5, 7: 8} and ledger.promoted_as == {1: 4}
    # not counted: a promotion (4: its configuration is 1's), a repeat (3), a dead trial that was
    # retried (2: its retry, 5, counts), a surplus one (6); one that failed on its own counts as done
    # (7, though its retry is queued: counted by its retry, 8, instead)
    assert ledger.counted() == 4  # 0, 1, 5, 8
    assert [ledger.counted(below=n) for n in (0, 1, 2, 5, 6, 9)] == [0, 1, 2, 2, 3, 4]
    assert ledger.done() == 2  # 0 complete, 1 pruned; 5 runs, 8 waits
    add(sw, "COMPLETE", 5, [0.5])
    add(sw, "PRUNED", 4, [0.5])
    add(sw, "RUNNING", 3)
    assert TrialLedger(sw).done() == 4 and TrialLedger(sw).counted() == 7
    assert [t.number for t in ledger.trials if ledger.represents(t)] == [0, 4, 5, 8]
    assert [t.number for t in ledger.in_state(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)] == [0, 1, 3, 6]
    assert ledger[4].number == 4 and ledger[4].user_attrs[Attr.PROMOTES] == 1


def test_epochs_spent_are_the_trained_counts_of_every_trial_that_started(make_sweep):
    sw = make_sweep()
    _every_kind(sw)
    # 3 + 1 + 2 + 1 + 1 + 1: the repeat and the surplus one trained none; the waiting retry only
    # carries a copy of its predecessor's count
    assert TrialLedger(sw).epochs_spent() == epochs_spent(sw) == 9
    add(sw, "RUNNING", 5)  # a trial yet to finish an epoch has no count
    assert epochs_spent(sw) == 9


@pytest.mark.parametrize("budget, spent", [(None, None), (10, None), (9, "epoch budget spent (9 of 9 epochs)")])
def test_the_epoch_budget_ends_the_sweep_once_spent(make_sweep, budget, spent):
    sw = make_sweep(epoch_budget=budget)
    _every_kind(sw)
    ledger = TrialLedger(sw)
    assert ledger.budget_spent() == ledger.ended() == spent
    sw = make_sweep(epoch_budget=1)
    add(sw, "RUNNING", 0, [0.5], trained=1)
    assert TrialLedger(sw).ended() == "epoch budget spent (1 of 1 epoch)"


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid"])
def test_a_sampler_that_proposes_only_trained_configurations_ends_the_sweep(make_sweep, sampler):
    sw = make_sweep(sampler=sampler)
    add(sw, "COMPLETE", 0, [0.5])
    add(sw, "COMPLETE", 1, [0.6])
    for _ in range(REPEAT_LIMIT - 1):
        add(sw, "COMPLETE", 0, [0.5], same=0)
        add(sw, "PRUNED", 2, [], surplus=True)  # asked for after the total: not in the streak, nor breaking it
    assert TrialLedger(sw).repeat_streak() == REPEAT_LIMIT - 1 and TrialLedger(sw).ended() is None
    add(sw, "PRUNED", 1, [0.6], same=1)
    converged = f"converged: the sampler proposed only configurations already trained, {REPEAT_LIMIT} times in a row"
    # a grid's points are each enqueued once: it never converges, it runs out
    assert TrialLedger(sw).repeat_streak() == REPEAT_LIMIT
    assert TrialLedger(sw).ended() == (None if sampler == "grid" else converged)
    add(sw, "COMPLETE", 3, [0.6])  # a new configuration breaks the streak
    assert TrialLedger(sw).repeat_streak() == 0 and TrialLedger(sw).ended() is None


def test_a_trial_repeats_the_earlier_finished_trial_of_its_configuration_complete_first(make_sweep):
    sw = make_sweep()
    add(sw, "PRUNED", 0, [0.5])  # 0
    add(sw, "PRUNED", 0, [0.5])  # 1: pruned too, later
    add(sw, "RUNNING", 1, [0.5])  # 2: running, not finished
    add(sw, "FAIL", 1, [0.5])  # 3: dead
    add(sw, "PRUNED", 2, [0.5], budget=True)  # 4: stopped by the budget: it would have trained on
    add(sw, "PRUNED", 3, [0.5])  # 5: paused, then promoted as 6
    add(sw, "RUNNING", 3, [0.5, 0.6], promotes=5)  # 6
    new = add(sw, "RUNNING", 0)  # 7
    same = lambda trial: (lambda t: None if t is None else t.number)(TrialLedger(sw).same_configuration(trial))
    assert same(new) == 0  # the earliest pruned one, there being no complete one
    for x in (1, 2, 3):  # running or dead, budget-stopped, promoted: none finished as the pruner left it
        assert same(add(sw, "RUNNING", x)) is None
    add(sw, "COMPLETE", 0, [0.6])  # 11: complete, but after the new trial
    assert same(new) == 0 and same(add(sw, "RUNNING", 0)) == 11  # complete first
    assert same(sw.study.trials[0]) is None  # not itself
    assert same(add(sw, "RUNNING", 4)) is None  # a configuration never trained


def _run(folder: Path, name: str, config: bool = True) -> str:
    (folder / name).mkdir()
    if config:
        (folder / name / "config.yaml").write_text("name: x\n")
    return str(folder / name)


def test_a_trial_continues_the_run_of_the_latest_dead_trial_it_retries_else_the_paused_one_it_promotes(make_sweep, tmp_path):
    here, there = socket.gethostname(), socket.gethostname() + "-other"
    sw = make_sweep()
    add(sw, "PRUNED", 0, [0.5], run_dir=_run(tmp_path, "a"), host=here)  # 0
    add(sw, "FAIL", 0, [0.5], run_dir=_run(tmp_path, "b"), host=here, promotes=0)  # 1
    add(sw, "FAIL", 0, [0.5], run_dir=_run(tmp_path, "c"), host=here, system={"retry_history": [1]})  # 2
    add(sw, "FAIL", 0, [0.5], run_dir=_run(tmp_path, "d"), host=there, system={"retry_history": [1, 2]})  # 3
    add(sw, "FAIL", 0, [0.5], run_dir=_run(tmp_path, "e", config=False), host=here)  # 4: never set up
    add(sw, "FAIL", 0, [0.5], host=here)  # 5: no run folder yet
    add(sw, "PRUNED", 1, [0.5], run_dir=_run(tmp_path, "f"), host=there)  # 6: another machine's
    ledger = TrialLedger(sw)
    assert [local_run(t) for t in ledger.trials] == [tmp_path / "a", tmp_path / "b", tmp_path / "c", None, None, None, None]
    stored = lambda **kw: add(sw, "RUNNING", 0, **kw)
    # the latest of its chain that is on this machine: 3's is on another, so 2's
    assert ledger.previous_run(stored(system={"retry_history": [1, 2, 3]})) == tmp_path / "c"
    assert ledger.previous_run(stored(system={"retry_history": [4, 5]}, promotes=0)) == tmp_path / "a"
    assert ledger.previous_run(stored(promotes=1)) == tmp_path / "b"
    assert ledger.previous_run(stored(promotes=6)) is None
    assert ledger.previous_run(stored()) is None
    assert retries_of(stored(system={"retry_history": [1, 2, 3]})) == 3 and retries_of(stored()) is None
    assert promotes_of(stored(promotes=0)) == 0 and promotes_of(stored()) is None


def test_a_paused_trial_of_this_machine_is_promotable_while_the_budget_lasts(make_sweep, tmp_path):
    here = socket.gethostname()
    # hyperband over 6 epochs from epoch 1: bracket 0's rungs are epochs 1 and 3
    for budget, local, expected in [(None, True, 2), (None, False, None), (5, True, None), (6, True, 2)]:
        sw = make_sweep(epoch_budget=budget, pruner={"kind": "hyperband", "min_epochs": 1, "reduction_factor": 3})
        for x, value in enumerate([0.5, 0.6, 0.7]):
            run = _run(tmp_path, f"r{budget}{local}{x}")
            add(sw, "PRUNED", x, [value], run_dir=run, host=here if local or x != 2 else "elsewhere", bracket=0, trained=1)
        add(sw, "COMPLETE", 3, [0.1, 0.1], bracket=2, trained=2)  # a bracket that trains in full
        promoted = TrialLedger(sw).promotable(final=False)
        assert (promoted.number if promoted else None) == expected  # 5 epochs spent
    sw = make_sweep(pruner={"kind": "hyperband", "min_epochs": 1, "reduction_factor": 3})
    for x, value in enumerate([0.5, 0.6]):
        add(sw, "PRUNED", x, [value], run_dir=_run(tmp_path, f"two{x}"), host=here, bracket=0)
    # two at the rung: too few to tell, unless no configuration will come
    assert TrialLedger(sw).promotable(final=False) is None and TrialLedger(sw).promotable(final=True).number == 1
    # the ledger's one read of the trials decides: a trial another worker adds meanwhile waits for the next decision
    ledger = TrialLedger(sw)
    add(sw, "PRUNED", 2, [0.1], run_dir=_run(tmp_path, "two2"), host=here, bracket=0)
    assert ledger.promotable(final=False) is None and TrialLedger(sw).promotable(final=False).number == 1
    sw = make_sweep(pruner={"kind": "median"})  # only Halving pauses trials
    add(sw, "PRUNED", 0, [0.9], run_dir=_run(tmp_path, "median"), host=here)
    assert TrialLedger(sw).promotable(final=True) is None


def test_a_claim_an_earlier_live_trial_holds_makes_a_trial_surplus(make_sweep):
    sw = make_sweep()
    add(sw, "PRUNED", 0, [0.5])  # 0: paused
    first = add(sw, "RUNNING", 0, promotes=0)  # 1
    second = add(sw, "RUNNING", 0, promotes=0)  # 2
    ledger = TrialLedger(sw)
    assert ledger.claimed_before(second, second, promotes_of, 0) is True
    assert ledger.claimed_before(first, first, promotes_of, 0) is False  # the first to claim it
    assert ledger.claimed_before(second, second, promotes_of, 3) is False
    # a surplus claim is none; nor is the trial's own dead predecessor's (its retry takes it on)
    sw = make_sweep()
    add(sw, "PRUNED", 0, [0.5])
    add(sw, "RUNNING", 0, promotes=0, surplus=True)
    dead = add(sw, "FAIL", 0, promotes=0)  # 2
    retry = add(sw, "RUNNING", 0, promotes=0, system={"retry_history": [2]})
    assert TrialLedger(sw).claimed_before(retry, retry, promotes_of, 0) is False
    assert TrialLedger(sw).claimed_before(retry, dead, promotes_of, 0) is True  # read as another's view
    # the same orphan retried by two workers at once: the later retry is surplus
    sw = make_sweep()
    add(sw, "FAIL", 0, [0.5])
    one = add(sw, "RUNNING", 0, system={"retry_history": [0]})
    two = add(sw, "RUNNING", 0, system={"retry_history": [0]})
    claim = TrialLedger(sw).claimed_before
    assert claim(two, two, retries_of, 0) is True and claim(one, one, retries_of, 0) is False


@pytest.mark.parametrize("max_retry", [0, 1, 2])
def test_orphans_are_the_dead_trials_no_retry_took_up_within_max_retry(make_sweep, max_retry):
    sw = make_sweep(heartbeat={"max_retry": max_retry})
    add(sw, "FAIL", 0, [0.5])  # 0: dead, no retry yet
    add(sw, "FAIL", 1, [0.5])  # 1: dead, retried as 2
    add(sw, "RUNNING", 1, system={"retry_history": [1]})
    add(sw, "FAIL", 2, [0.5], error="diverged")  # 3: failed on its own
    add(sw, "FAIL", 3, [0.5], surplus=True)  # 4
    add(sw, "FAIL", 0, [0.5], same=0)  # 5: a repeat
    add(sw, "COMPLETE", 4, [0.5])  # 6
    add(sw, "FAIL", 5, [0.5])  # 7: dead, retried as 8
    add(sw, "FAIL", 5, [0.5], system={"retry_history": [7]})  # 8: the retry died too
    expected = [0] if max_retry > 0 else []
    expected += [8] if max_retry > 1 else []
    assert [t.number for t in TrialLedger(sw).orphans()] == expected


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_on_a_tie_the_best_is_the_earlier_trial(make_sweep, direction):
    sw = make_sweep(direction=direction)
    assert TrialLedger(sw).best() is None
    add(sw, "PRUNED", 0, [])  # paused before any epoch: no value
    add(sw, "FAIL", 1, [0.9 if direction == "maximize" else 0.1])  # dead: its retry will stand for it
    assert TrialLedger(sw).best() is None
    add(sw, "PRUNED", 2, [0.5, 0.6])
    add(sw, "COMPLETE", 3, [0.6])
    add(sw, "COMPLETE", 4, [0.6])
    assert TrialLedger(sw).best() == ((2, 0.6) if direction == "maximize" else (2, 0.5))


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_a_paused_trial_counts_with_its_best_epoch_not_the_last_value_optuna_gives_it(make_sweep, direction):
    sw = make_sweep(direction=direction)
    best, last = (0.9, 0.4) if direction == "maximize" else (0.1, 0.6)
    paused = add(sw, "PRUNED", 0, [0.5, best, last])
    assert paused.value == last  # Optuna's value of a pruned trial: its last report
    add(sw, "COMPLETE", 1, [0.5])
    assert TrialLedger(sw).best() == (0, best)


@pytest.mark.parametrize(
    "direction, changed, best",
    [
        ("maximize", {}, (5, 0.9)),  # the promoted chain's last trial, complete
        ("maximize", {"A": [0.5, 0.95, 0.6]}, (0, 0.95)),  # a complete one whose best epoch was not its last
        ("maximize", {"E": [0.1, 0.97]}, (8, 0.97)),  # pruned after its best epoch: its run holds it
        ("maximize", {"E": [0.99, 0.1]}, (8, 0.99)),  # ... and its repeat (trial 9) never stands for it
        ("maximize", {"B": [0.99, 0.5, 0.8, 0.9]}, (5, 0.99)),  # a paused epoch is its promotion's
        ("maximize", {"B": [0.4, 0.5, 0.98, 0.9]}, (5, 0.98)),  # ... even when paused again after it
        ("maximize", {"D": [0.99, "nan"]}, (5, 0.9)),  # failed on its own: no value
        ("maximize", {"C": [0.3, 0.99, 0.45]}, (5, 0.9)),  # dead, and its retry is still training
        ("minimize", {}, (8, 0.1)),
        ("minimize", {"A": [0.05, 0.7, 0.6]}, (0, 0.05)),
        ("minimize", {"B": [0.01, 0.5, 0.8, 0.9]}, (5, 0.01)),
        ("minimize", {"D": [0.01, "nan"], "C": [0.02, 0.3, 0.45]}, (8, 0.1)),
    ],
)
def test_the_best_trial_is_the_best_epoch_any_configuration_reached(write_sweep, tmp_path, direction, changed, best):
    """The sweep's best (results, best_config.yaml, the live lines) is the trial whose run reached the
    best objective at any epoch, complete or stopped early, one trial per configuration."""
    sw, _ = every_kind_of_trial(write_sweep, tmp_path, {**ROW_RUNS, **changed}, direction)
    assert sweeps.TrialLedger(sw).best() == best
    res = sweeps.compute_results(sw)
    assert (res["best"]["number"], res["best"]["value"]) == best
