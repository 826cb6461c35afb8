"""bench/forecast.py's bookkeeping, without training: the seeds' mean and spread, the baselines
read from the one run that fitted them, the flags' parsing, and how bench/report.py says a row."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import forecast  # noqa: E402
import report  # noqa: E402


def fake_report(maes: list[float], baselines: bool) -> dict:
    """What `rnnexp evaluate --json` gives for a run whose steps ahead score ``maes``."""
    out = {"windows": 10, "per_step": [{"steps_ahead": i + 1, "mae": m} for i, m in enumerate(maes)], "baselines": {}}
    if baselines:
        out["baselines"] = {
            "persistence": {"per_step": [{"mae": 9.0}, {"mae": 9.5}]},
            "sarima": {"per_step": [{"mae": 4.0}, {"mae": 6.0}], "fit_seconds": 1.5, "model": {"order": [1, 0, 0]}},
        }
    return out


def test_a_series_row_is_the_seeds_mean_with_their_spread_and_the_first_runs_baselines(monkeypatch, tmp_path):
    runs = {0: [5.0, 7.0], 1: [3.0, 5.5], 2: [4.0, 6.5]}
    asked = []

    def trained(config, where, sets, seed, baselines=False):
        asked.append((seed, baselines))
        return fake_report(runs[seed], baselines), 2.0 + seed

    monkeypatch.setattr(forecast, "trained", trained)
    rows, facts = forecast.series_rows("births", "configs/births.yaml", tmp_path, 3)
    assert asked == [(0, True), (1, False), (2, False)]  # the baselines are fitted once
    first, second = rows
    assert first["model"] == 4.0 and first["model_range"] == [3.0, 5.0] and first["seeds"] == 3
    assert second["model"] == round((7.0 + 5.5 + 6.5) / 3, 3) and second["model_range"] == [5.5, 7.0]
    assert first["best_baseline"] == "sarima" and first["model_over_best"] == 1.0
    assert second["model_over_best"] == round(second["model"] / 6.0, 4)
    assert facts["train_seconds"] == 3.0 and facts["sarima_fit_seconds"] == 1.5


def test_the_report_says_a_rows_seeds_and_their_spread_and_nothing_for_one_seed():
    one = {"series": "electricity", "steps_ahead": 1, "model": 28.4, "seeds": 1, "model_range": [28.4, 28.4], "sarima": 28.5}
    five = {**one, "series": "births", "seeds": 5, "model_range": [205.1, 220.7]}
    goal = {"series": 2, "beats_every_baseline": 2, "within_5_percent_on_the_rest": True, "met": False}
    techniques = [{"series": "births", "variant": "config as shipped", "mae_step_1": 212.7, "seeds": 5}]
    measures = [
        r["measure"]
        for r in report._forecast_rows(
            "forecast",
            {
                "rows": [{**x, "model_over_best": 0.99} for x in (one, five)],
                "fitting": [],
                "techniques": techniques,
                "goal": goal,
            },
        )
    ]
    assert "(model 28.4; seasonal ARIMA 28.5)" in measures[0]
    assert "(model 28.4, mean of 5 seeds, from 205.1 to 220.7; seasonal ARIMA 28.5)" in measures[1]
    assert measures[2] == "births, config as shipped: test MAE 1 step ahead (mean of 5 seeds)"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("births", ["births"]),
        ("weather, electricity", ["weather", "electricity"]),
        ("births,", ["births"]),
        ("rain", None),
        ("", None),
    ],
)
def test_the_series_flag_takes_known_names_only(text, expected):
    if expected is None:
        with pytest.raises(argparse.ArgumentTypeError, match="expected some of electricity, weather, births"):
            forecast.series_list(text)
    else:
        assert forecast.series_list(text) == expected


def test_every_shipped_series_has_its_seeds_and_its_calendar():
    assert set(forecast.SEEDS) == set(forecast.SERIES) == set(forecast.CALENDAR)
    assert all(n >= 1 for n in forecast.SEEDS.values())
