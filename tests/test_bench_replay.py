"""bench/replay.py: a search replayed on a grid's recorded curves makes the same search as the real
`rnnexp sweep` did (its pick and the epochs it trained), pauses, promotions and budget included,
so the replayed figures of bench/sweep.py --replay-only are those of real searches."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from grids import configurations_of  # noqa: E402
from replay import key_of, li_hyperband, regret, search  # noqa: E402

from rnnexp import sweep as sweeps  # noqa: E402

SPACE = {"train.lr": [0.001, 0.003, 0.01, 0.03, 0.1]}
EPOCHS = 4
PRUNER = {"kind": "hyperband", "min_epochs": 1, "reduction_factor": 2}


def _sweep(tmp_path: Path, base: Path, name: str, **top) -> dict:
    return sweeps.results(_swept(tmp_path, base, name, **top))


def _swept(tmp_path: Path, base: Path, name: str, **top) -> sweeps.Sweep:
    doc = {"name": name, "base": str(base), "space": SPACE, "objective": {"metric": "val_accuracy"}, **top}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    sw = sweeps.create(path, tmp_path / "runs")
    sweeps.work(sw)
    return sw


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, tiny_data):
    """The tiny grid, trained whole: what bench/grids.py records."""
    from conftest import tiny_config_dict

    tmp = tmp_path_factory.mktemp("replay")
    base = tmp / "base.yaml"
    cfg = tiny_config_dict(tiny_data, train={"epochs": EPOCHS, "threads": 1})
    base.write_text(yaml.safe_dump(cfg))
    grid = _sweep(tmp, base, "grid", sampler={"kind": "grid"})
    configurations = configurations_of(grid["trials"], SPACE, "val_accuracy")
    recording = {"grid": "tiny", "metric": "val_accuracy", "direction": "maximize", "regret": "points", "epochs": EPOCHS}
    return tmp, base, {**recording, "space": SPACE, "configurations": configurations}


@pytest.mark.parametrize("seed, budget", [(0, 8), (3, 12)])  # 8: the budget ends a trial mid-run
def test_a_replayed_search_is_the_real_one(recorded, seed, budget):
    tmp, base, grid = recorded
    sampler = {"kind": "tpe", "seed": seed, "startup_trials": 2}
    real = _sweep(tmp, base, f"tpe{seed}", sampler=sampler, pruner=PRUNER, trials=len(SPACE["train.lr"]), epoch_budget=budget)
    assert real["counts"]["PRUNED"] > 0, real["trials"]  # the pruner paused some: the rules under test were used
    pick, trained = search(grid, sampler, PRUNER, budget)
    assert (pick, trained) == (key_of(real["best"], SPACE), real["epochs_trained"])


@pytest.mark.parametrize("seed", [0, 1])
def test_a_replayed_search_is_the_real_one_when_trials_have_not_started_learning(recorded, seed):
    """The tiny grid's low learning rates score the majority class for their first epochs: with a first
    rung at epoch 2, the real search lets such a trial of bracket 0 go on unjudged, and so does the replay."""
    from rnnexp.sweep.pruning import not_moved

    tmp, base, grid = recorded
    sampler, pruner = {"kind": "random", "seed": seed}, {**PRUNER, "min_epochs": 2}
    sw = _swept(tmp, base, f"flat{seed}", sampler=sampler, pruner=pruner, trials=len(SPACE["train.lr"]), epoch_budget=16)
    real = sweeps.results(sw)
    went_on = [
        t.number
        for t in sw.study.trials
        if t.user_attrs.get(sweeps.BRACKET_ATTR) == 0
        and t.user_attrs.get(sweeps.PROMOTES_ATTR) is None  # not paused at epoch 2 and taken up later: never paused
        and not_moved(t.intermediate_values, 2)
        and max(t.intermediate_values) > 2
    ]
    assert went_on, [(t.number, t.user_attrs, t.intermediate_values) for t in sw.study.trials]
    pick, trained = search(grid, sampler, pruner, 16)
    assert (pick, trained) == (key_of(real["best"], SPACE), real["epochs_trained"])


def test_regret_and_the_other_searches_on_a_grid(recorded):
    _, _, grid = recorded
    values = {key_of(c["params"], SPACE): max(c["curve"]) for c in grid["configurations"]}
    best, worst = max(values, key=values.get), min(values, key=values.get)
    assert regret(grid, best) == 0 and regret(grid, worst) == pytest.approx(100 * (values[best] - values[worst]))
    minimized = {**grid, "direction": "minimize", "regret": "percent"}  # an error metric: percent of the best
    errors = {key_of(c["params"], SPACE): min(c["curve"]) for c in grid["configurations"]}  # its best epoch: the lowest
    lowest = min(errors.values())
    assert all(regret(minimized, k) == pytest.approx(100 * (v - lowest) / lowest) for k, v in errors.items())
    everything = sum(len(c["curve"]) for c in grid["configurations"])
    pick, trained = li_hyperband(grid, everything, seed=0)
    assert pick in values and trained <= everything
    assert li_hyperband(grid, 3, seed=0)[1] == 3  # a budget is never overspent


def test_every_method_is_replayed_on_its_seeds_alike_in_one_process_or_several(recorded, tmp_path, monkeypatch):
    """bench/sweep.py --replay-only: a row per grid, method and budget holds each seed's regret, from
    --first-seed on, the same whether one process replays them or two (a search is seeded)."""
    import json

    import sweep as bench_sweep

    _, _, grid = recorded
    (tmp_path / "tiny.json").write_text(json.dumps(grid))
    monkeypatch.setattr(bench_sweep, "GRIDS", tmp_path)
    one = bench_sweep.replays_of_every_method(3, first_seed=5, jobs=1)
    assert bench_sweep.replays_of_every_method(3, first_seed=5, jobs=2) == one
    assert len(one) == len(bench_sweep.methods(grid)) * len(bench_sweep.BUDGETS)
    everything = sum(len(c["curve"]) for c in grid["configurations"])
    default = next(r for r in one if r["default"] and r["budget"] == 0.3)
    assert default["seeds"] == [5, 7]
    expected = [regret(grid, search(grid, {"seed": seed}, {}, int(0.3 * everything))[0]) for seed in (5, 6, 7)]
    assert default["regrets"] == [round(r, 3) for r in expected]
    assert default["mean_regret"] == round(sum(expected) / 3, 3)


def test_a_verdict_pairs_the_default_with_the_best_other_method_seed_by_seed():
    import statistics

    import sweep as bench_sweep

    def row(method, budget, regrets, default=False):
        mean = round(sum(regrets) / len(regrets), 3)
        return {"grid": "g", "method": method, "default": default, "budget": budget, "mean_regret": mean, "regrets": regrets}

    mine, near, far = [0.0, 0.28, 0.84, 0.28], [0.28, 0.0, 0.28, 0.28], [1.0, 1.0, 1.0, 1.0]
    rows = [
        row(m, b, r, default=m == "default")
        for b in bench_sweep.BUDGETS
        for m, r in (("default", mine), ("near", near), ("far", far))
    ]
    for r in rows:
        r["regret_se"] = 0.0
    judged = bench_sweep.verdicts(rows)
    assert [v["budget"] for v in judged] == list(bench_sweep.BUDGETS)
    v = judged[0]
    assert v["best_other"] == "near" and v["best_other_regret"] == 0.21
    assert v["lag"] == round(0.35 - 0.21, 3) and v["within_lag"] is False  # 0.14 > MAX_LAG
    differences = [a - b for a, b in zip(mine, near)]
    assert v["lag_se"] == round(statistics.stdev(differences) / 2, 3)  # paired: the spread of the differences
    assert [x["goal_met"] for x in judged] == [None if b != 0.3 else True for b in bench_sweep.BUDGETS]


@pytest.mark.parametrize(
    "low, text, expected", [(1, "3", 3), (0, "0", 0), (1, "0", None), (0, "-1", None), (1, "x", None), (1, "2.5", None)]
)
def test_bench_counts_and_seeds_are_whole_numbers_from_their_least(low, text, expected):
    import argparse

    from common import at_least

    if expected is None:
        with pytest.raises(argparse.ArgumentTypeError, match=repr(text) if not text.lstrip("-").isdigit() else f">= {low}"):
            at_least(low)(text)
    else:
        assert at_least(low)(text) == expected
