"""rnnexp/baselines/statistical.py: exponential smoothing and seasonal ARIMA forecast from every
origin exactly what statsmodels' own forecast(h) gives from the series cut at that origin, with the
parameters fitted on the training rows; the form is the one of lowest AIC; evaluate reports them
per step ahead and counts them in the verdict, and --gate baseline fails when one wins."""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pytest
import yaml

from conftest import run_cli
from rnnexp.baselines import statistical


def series(kind: str, n: int = 360, seed: int = 0) -> np.ndarray:
    """Shapes that call for each form: a weekly season on a trend, a multiplicative season (the
    swing grows with the level), a level that wanders with no season. The seasons' amplitudes
    drift, so that the fitted seasonal smoothing is not 0: each season's states differ, and a
    forecast that took the wrong one would show."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    if kind == "trend_season":
        amplitude = 5 + np.cumsum(rng.normal(0, 0.3, n))
        return 50 + 0.05 * t + amplitude * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, n)
    if kind == "growing_swing":
        level, swing = 20 + 0.2 * t, 0.3 + np.cumsum(rng.normal(0, 0.01, n))
        return level * (1 + swing * np.sin(2 * np.pi * t / 7)) + rng.normal(0, 0.5, n)
    return 100 + np.cumsum(rng.normal(0, 1, n)) + rng.normal(0, 0.5, n)


def quiet():
    """statsmodels' fitting warnings silenced, as the baselines silence them, for the oracle fits here."""
    return warnings.catch_warnings(action="ignore")


@functools.lru_cache(maxsize=64)
def fitted_ets(raw: bytes, train_end: int, trend: str | None, kind: str | None, season: int | None):
    """statsmodels' Holt-Winters of this form fitted on the training rows of the series ``raw``
    (float64 bytes): fitted once per test, whatever the number of origins asked of it."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    start, end = statistical.fit_window(train_end)
    y = np.frombuffer(raw)
    return ExponentialSmoothing(
        y[start:end], trend=trend, damped_trend=trend is not None, seasonal=kind,
        seasonal_periods=season if kind else None, initialization_method="estimated",
    ).fit()  # fmt: skip


def statsmodels_ets(y, train_end, origin, top, spec, season):
    """statsmodels directly: Holt-Winters of the recorded form fitted on the training rows, then
    run with those parameters on the series cut at ``origin`` and asked for forecast(top)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    start, _ = statistical.fit_window(train_end)
    trend, kind = ("add" if spec["trend"] else None), spec["season"]
    fitted = fitted_ets(np.ascontiguousarray(y, dtype=np.float64).tobytes(), train_end, trend, kind, season)
    params = fitted.params
    known = {"initial_level": params["initial_level"]}
    fixed = {"smoothing_level": params["smoothing_level"]}
    if trend:
        known["initial_trend"] = params["initial_trend"]
        fixed.update(smoothing_trend=params["smoothing_trend"], damping_trend=params["damping_trend"])
    if kind:
        known["initial_seasonal"] = params["initial_seasons"]
        fixed["smoothing_seasonal"] = params["smoothing_seasonal"]
    cut = ExponentialSmoothing(
        y[start : origin + 1], trend=trend, damped_trend=trend is not None, seasonal=kind,
        seasonal_periods=season if kind else None, initialization_method="known", **known,
    )  # fmt: skip
    return np.asarray(cut.fit(optimized=False, **fixed).forecast(top)), fitted.aic


@functools.lru_cache(maxsize=64)
def fitted_sarima(raw: bytes, train_end: int, order: tuple, seasonal_order: tuple):
    """statsmodels' SARIMAX of these orders fitted on the training rows (the series differenced
    first), once per test."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    start, end = statistical.fit_window(train_end)
    y = np.frombuffer(raw)
    return SARIMAX(y[start:end], order=order, seasonal_order=seasonal_order, trend="c", simple_differencing=True).fit(disp=False)


def statsmodels_sarima(y, train_end, origin, top, spec, levels=False):
    """statsmodels directly: SARIMAX of the recorded orders fitted on the training rows (the series
    differenced first), its parameters applied to the series cut at ``origin``, and forecast(top):
    forecasts of the differenced series, summed back onto the series (a step within one lag adds
    the value observed a lag before it, a further one the forecast there). With ``levels``: the
    same parameters in the model that differences inside its state (forecasting the levels
    themselves; its diffuse start makes it agree to about 1e-6 relative, not exactly)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    start, _ = statistical.fit_window(train_end)
    form = {"order": tuple(spec["order"]), "seasonal_order": tuple(spec["seasonal_order"]), "trend": "c"}
    raw = np.ascontiguousarray(y, dtype=np.float64).tobytes()
    fitted = fitted_sarima(raw, train_end, form["order"], form["seasonal_order"])
    if levels:
        cut = SARIMAX(y[start : origin + 1], simple_differencing=False, **form)
        return np.asarray(cut.filter(fitted.params).forecast(int(top))), fitted.aic
    diffs = np.asarray(fitted.apply(y[start : origin + 1]).forecast(int(top)))
    lag = form["seasonal_order"][3] if form["seasonal_order"][1] else 1
    out = []
    for h in range(1, int(top) + 1):
        out.append(diffs[h - 1] + (y[origin + h - lag] if h <= lag else out[h - 1 - lag]))
    return np.array(out), fitted.aic


ORIGINS = np.array([250, 251, 283, 300, 340, 352])
STEPS = np.array([1, 2, 3, 7, 8, 15])  # within a season, one season, and past it


@pytest.mark.parametrize("kind", ["trend_season", "growing_swing", "wandering"])
@pytest.mark.parametrize("season", [7, None])
def test_ets_forecasts_from_every_origin_are_statsmodels_own(kind, season):
    y, train_end = series(kind), 240
    made = statistical.ets(y, train_end, ORIGINS, STEPS, season)
    assert made is not None and made.values.shape == (len(ORIGINS), len(STEPS))
    assert made.spec["fit_rows"] == [0, train_end] and (made.spec["season"] is None or season)
    with quiet():
        for row, origin in enumerate(ORIGINS):
            expected, _ = statsmodels_ets(y, train_end, origin, STEPS.max(), made.spec, season)
            np.testing.assert_allclose(made.values[row], expected[STEPS - 1], rtol=1e-9, atol=1e-9)


def test_each_series_gets_the_form_it_calls_for_by_aic():
    """The candidates' AICs, fitted here: the chosen form has the lowest; and each shape's own form
    is the one chosen (a multiplicative season where the swing grows, none where there is none)."""
    chosen = {k: statistical.ets(series(k), 240, ORIGINS, STEPS, 7).spec for k in ("trend_season", "growing_swing")}
    assert chosen["growing_swing"]["season"] == "mul" and chosen["trend_season"]["season"] in ("add", "mul")
    with quiet():
        for kind, spec in chosen.items():
            aics = []
            for trend in (None, "damped"):
                for form in ("add", "mul", None):
                    candidate = {"trend": trend, "season": form}
                    aics.append(statsmodels_ets(series(kind), 240, 250, 1, candidate, 7)[1])
            assert spec["aic"] == pytest.approx(min(aics))
    assert statistical.ets(series("wandering"), 240, ORIGINS, STEPS, None).spec["season"] is None


@pytest.mark.parametrize("kind", ["trend_season", "wandering"])
@pytest.mark.parametrize("season", [7, None])
def test_sarima_forecasts_from_every_origin_are_statsmodels_own(kind, season):
    y, train_end = series(kind), 240
    made = statistical.sarima(y, train_end, ORIGINS, STEPS, season)
    assert made is not None
    lag = season or 1
    assert made.spec["seasonal_order"] == ([0, 1, 1, season] if season else [0, 0, 0, 0])  # a seasonal MA up to 12
    assert made.spec["order"][1] == (0 if season else 1) and lag
    with quiet():
        aics = [statsmodels_sarima(y, train_end, 250, 1, {**made.spec, "order": [p, made.spec["order"][1], q]})[1]
                for p, q in statistical.ARMA_ORDERS]  # fmt: skip
        assert made.spec["aic"] == pytest.approx(min(aics))
        for row, origin in enumerate(ORIGINS):
            expected, _ = statsmodels_sarima(y, train_end, origin, STEPS.max(), made.spec)
            np.testing.assert_allclose(made.values[row], expected[STEPS - 1], rtol=1e-9)
            levels, _ = statsmodels_sarima(y, train_end, origin, STEPS.max(), made.spec, levels=True)
            np.testing.assert_allclose(made.values[row], levels[STEPS - 1], rtol=1e-5)


def test_a_long_series_is_fitted_on_its_last_training_rows_and_scored_whole():
    y = series("trend_season", n=12_000)
    origins, steps = np.arange(9_000, 11_990), np.array([1, 4])
    made = statistical.ets(y, 9_000, origins, steps, 7)
    assert made.spec["fit_rows"] == [9_000 - statistical.FIT_ROWS, 9_000]
    with quiet():
        for row in (0, 1234, len(origins) - 1):
            expected, _ = statsmodels_ets(y, 9_000, origins[row], 4, made.spec, 7)
            np.testing.assert_allclose(made.values[row], expected[steps - 1], rtol=1e-9)


def test_too_short_a_training_part_has_no_statistical_baseline_and_a_short_one_no_season():
    y = series("trend_season", n=60)
    assert statistical.ets(y, statistical.MIN_ROWS - 1, np.array([30]), np.array([1]), 7) is None
    assert statistical.sarima(y, statistical.MIN_ROWS - 1, np.array([30]), np.array([1]), 7) is None
    short = statistical.ets(y, 25, np.array([30]), np.array([1]), 7)  # 25 rows: not two weeks and 20 more
    assert short is not None and short.spec["season"] is None
    assert statistical.sarima(y, 25, np.array([30]), np.array([1]), 7).spec["seasonal_order"] == [0, 0, 0, 0]


def forecasting_run(tmp_path, values, **data):
    path = tmp_path / "s.csv"
    path.write_text("y\n" + "".join(f"{v:.6f}\n" for v in values))
    config = tmp_path / "c.yaml"
    cfg = {
        "data": {"task": "forecasting", "train_file": str(path), "target": "y", "val_split": 0.15, "test_split": 0.15, **data},
        "model": {"num_neurons": 4},
        "train": {"epochs": 1, "lr": 1e-6, "seed": 0},  # a model that learned nothing
    }
    config.write_text(yaml.safe_dump(cfg))
    proc = run_cli("train", config, "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)["run_dir"]


def test_evaluate_scores_them_on_the_models_windows_and_the_gate_fails_when_ets_wins(tmp_path):
    """A wandering level with a weekly season (ETS's own shape), a short lookback: evaluate's ETS
    and SARIMA scores are statsmodels' forecasts from the test windows' origins, per step ahead;
    ETS is the strongest baseline, the verdict says so, and --gate baseline exits 1 naming it."""
    rng = np.random.default_rng(1)
    n = 500
    values = 200 + np.cumsum(rng.normal(0, 1, n)) + 8 * np.sin(2 * np.pi * np.arange(n) / 7) + rng.normal(0, 0.3, n)
    values = np.array([float(f"{v:.6f}") for v in values])  # as the CSV holds them
    run = forecasting_run(tmp_path, values, lookback=3, horizon=2, multi_output=True, season=7)
    proc = run_cli("evaluate", run, "--gate", "baseline", "--json")
    report = json.loads(proc.stdout)
    assert set(report["baselines"]) == {"persistence", "seasonal_naive", "linear_ar", "ets", "sarima"}
    n_test, n_val = round(n * 0.15), round(n * 0.15)
    train_end, starts = n - n_test - n_val, np.arange(n - n_test, n - 5 + 1)
    origins = starts + 2
    truth = np.stack([values[origins + h] for h in (1, 2)], axis=1)
    assert report["windows"] == len(starts)
    with quiet():
        ets = np.stack([statsmodels_ets(values, train_end, o, 2, report["baselines"]["ets"]["model"], 7)[0] for o in origins])
        sarima = np.stack(
            [statsmodels_sarima(values, train_end, o, 2, report["baselines"]["sarima"]["model"])[0] for o in origins]
        )
    for name, forecast in (("ets", ets), ("sarima", sarima)):
        scores = report["baselines"][name]
        assert scores["mae"] == pytest.approx(np.abs(forecast - truth).mean(), rel=1e-6)
        assert scores["rmse"] == pytest.approx(np.sqrt(((forecast - truth) ** 2).mean()), rel=1e-6)
        assert [s["steps_ahead"] for s in scores["per_step"]] == [1, 2]
        for i, step in enumerate(scores["per_step"]):
            assert step["mae"] == pytest.approx(np.abs(forecast[:, i] - truth[:, i]).mean(), rel=1e-6)
    maes = {k: b["mae"] for k, b in report["baselines"].items()}
    assert min(maes, key=maes.get) == "ets" and report["verdict"]["strongest"] == "ets"
    assert proc.returncode == 1 and "exponential smoothing" in proc.stderr and "(--gate baseline)" in proc.stderr
    shown = run_cli("evaluate", run)
    assert "exponential smoothing (" in shown.stdout and "seasonal ARIMA (" in shown.stdout, shown.stdout
    assert "does NOT beat the exponential smoothing baseline" in shown.stdout


def test_no_baselines_leaves_the_statistical_ones_out_too(tmp_path):
    run = forecasting_run(tmp_path, series("trend_season", n=200), lookback=5, season=7)
    report = json.loads(run_cli("evaluate", run, "--no-baselines", "--json").stdout)
    assert set(report["baselines"]) == {"persistence", "seasonal_naive"}


def test_a_long_series_gets_its_sarima_fitted_on_its_last_training_rows_too():
    y = series("wandering", n=7_000)
    origins, steps = np.arange(6_000, 6_990, 7), np.array([1, 3])
    made = statistical.sarima(y, 6_000, origins, steps, None)
    assert made.spec["fit_rows"] == [6_000 - statistical.FIT_ROWS, 6_000]
    with quiet():
        for row in (0, len(origins) - 1):
            expected, _ = statsmodels_sarima(y, 6_000, origins[row], 3, made.spec)
            np.testing.assert_allclose(made.values[row], expected[steps - 1], rtol=1e-9)


def test_sarima_needs_min_rows_past_its_lag_and_has_a_seasonal_ma_up_to_a_season_of_12():
    y = series("trend_season")
    one = np.array([1])
    assert statistical.sarima(y, statistical.MIN_ROWS, np.array([30]), one, None) is None  # 20 rows, 19 differences
    assert statistical.sarima(y, statistical.MIN_ROWS + 1, np.array([30]), one, None) is not None
    assert statistical.sarima(y, 240, np.array([250]), one, 12).spec["seasonal_order"] == [0, 1, 1, 12]
    assert statistical.sarima(y, 240, np.array([250]), one, 13).spec["seasonal_order"] == [0, 1, 0, 13]


def test_fitting_the_statistical_baselines_prints_nothing(capfd):
    y = series("trend_season")
    statistical.sarima(y, 240, ORIGINS, STEPS, 7)
    statistical.ets(y, 240, ORIGINS, STEPS, 7)
    assert capfd.readouterr() == ("", "")


def test_sarima_forecasts_from_the_first_differenced_row_on_and_refuses_an_origin_before_it():
    y = series("wandering")
    made = statistical.sarima(y, 240, np.array([1, 2]), np.array([1, 2]), None)  # lag 1: row 1 is the first difference
    with quiet():
        for row, origin in enumerate((1, 2)):
            expected, _ = statsmodels_sarima(y, 240, origin, 2, made.spec)
            np.testing.assert_allclose(made.values[row], expected, rtol=1e-9)
    with pytest.raises(ValueError, match="^an origin before the first differenced row$"):
        statistical.sarima(y, 240, np.array([0, 5]), np.array([1]), None)


def test_a_season_is_modelled_from_two_of_it_and_min_rows_more():
    twice = 2 * 7 + statistical.MIN_ROWS
    assert statistical.seasonal(7, twice) and not statistical.seasonal(7, twice - 1)
    assert statistical.seasonal(2, 2 * 2 + statistical.MIN_ROWS)  # the shortest season
    assert not any(statistical.seasonal(season, 10_000) for season in (None, 0, 1))
    assert statistical.ets(series("wandering"), statistical.MIN_ROWS, np.array([30]), np.array([1]), None) is not None


def _ets_aic(part: np.ndarray, trend, kind, season) -> float:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    return ExponentialSmoothing(
        part, trend=trend, damped_trend=trend is not None, seasonal=kind, seasonal_periods=season if kind else None,
        initialization_method="estimated",
    ).fit().aic  # fmt: skip


@pytest.mark.parametrize(
    "kind, floor, kinds",
    [
        ("trend_season", None, [None, "add", "mul"]),  # positive: a multiplicative season is a candidate
        ("wandering", None, [None, "add", "mul"]),  # no season in it: a form without one can win
        ("trend_season", 0.0, [None, "add"]),  # its lowest training value 0: no multiplicative season
        ("growing_swing", "below 1", [None, "add", "mul"]),  # positive below 1: a multiplicative season wins
    ],
)
def test_ets_is_the_form_of_lowest_aic_among_every_candidate(kind, floor, kinds):
    y = series(kind)
    if floor == "below 1":
        y = y / y[:240].max() * 0.9
    elif floor is not None:
        y = y - y[:240].min() + floor
    made = statistical.ets(y, 240, ORIGINS, STEPS, 7)
    with quiet():
        aics = {(trend, k): _ets_aic(y[:240], trend, k, 7) for trend in (None, "add") for k in kinds}
    (trend, season), aic = min(aics.items(), key=lambda item: item[1])
    assert made.spec == {
        "trend": "damped" if trend else None,
        "season": season,
        "period": 7 if season else None,
        "aic": pytest.approx(aic),
        "fit_rows": [0, 240],
    }
