"""The statistical forecasters a recurrent one must beat, with statsmodels: exponential smoothing
(Holt-Winters: level, an optional damped trend, an optional additive or multiplicative season) and
a seasonal ARIMA (ARMA errors on the series differenced by one season, or by one step without
data.season). statsmodels is the library forecasters check against (R's forecast and Darts wrap
the same models); it fits these in well under a second here.

Each is fitted on the run's training rows only (the last FIT_ROWS of them: the fit's cost stays
bounded on long series, and the most recent rows are the ones that matter), its form chosen by AIC
among a few candidates. Its parameters are then fixed and it is run over the rest of the series,
so that the forecast from an origin uses the data up to that origin and nothing after: the h-step
forecast from every origin the model is scored at, exactly what statsmodels' own forecast(h) gives
from the series cut at that origin (tests/test_statistical.py holds them to it). Forecasts from all
origins come from the filtered states at once, so scoring 50,000 points takes seconds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

FIT_ROWS = 5000  # the training rows a model is fitted on: the last ones
MIN_ROWS = 20  # fewer training rows than this: no statistical baseline
ARMA_ORDERS = ((1, 0), (1, 1), (2, 1))  # the seasonal ARIMA's (p, q) candidates
# Seasons up to this long also get a seasonal MA(1) term (SARIMA(p,0,q)(0,1,1)): the state grows
# with the season. Measured on 50,000 points: season 12, about 8 s for the three fits and the run
# over the series; season 24, 32 s (past evaluate's 30 s bound); 48, gigabytes to filter.
SEASONAL_MA_MAX = 12


@dataclass
class Forecasts:
    """[origins, steps] forecasts in the series' units, and the form that made them."""

    values: np.ndarray
    spec: dict[str, Any]


def fit_window(train_end: int) -> tuple[int, int]:
    """The [start, end) rows a model is fitted on: the last FIT_ROWS training rows."""
    return max(0, train_end - FIT_ROWS), train_end


def seasonal(season: int | None, rows: int) -> bool:
    """Whether a model of ``rows`` training rows models a season: one is given, and the rows hold two
    of it (statsmodels' initial seasonal states need two) and MIN_ROWS more."""
    return bool(season and season >= 2 and rows >= 2 * season + MIN_ROWS)


def ets(y: np.ndarray, train_end: int, origins: np.ndarray, steps: np.ndarray, season: int | None) -> Forecasts | None:
    """Holt-Winters exponential smoothing: None when the training part is too short."""
    start, end = fit_window(train_end)
    part = y[start:end]
    if len(part) < MIN_ROWS:
        return None
    seasons = [None]
    if seasonal(season, len(part)):
        seasons += ["add", "mul"] if (part > 0).all() else ["add"]
    with warnings.catch_warnings():  # statsmodels' convergence warnings are about its fit, not the data
        warnings.simplefilter("ignore")
        fits = []
        for trend in (None, "add"):
            for kind in seasons:
                res = holt_winters(part, trend, kind, season, "estimated").fit()
                if np.isfinite(res.aic):
                    fits.append((float(res.aic), trend, kind, res))
        if not fits:
            return None
        aic, trend, kind, res = min(fits, key=lambda f: f[0])
        run = ets_filter(y[start:], trend, kind, season, res.params)
    spec = {"trend": "damped" if trend else None, "season": kind, "period": season if kind else None, "aic": aic}
    return Forecasts(ets_forecasts(run, origins - start, steps, kind, season), {**spec, "fit_rows": [start, end]})


def holt_winters(y, trend: str | None, kind: str | None, season: int | None, initialization: str, **known):
    """statsmodels' Holt-Winters model of one form (a trend is always damped) on ``y``."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    return ExponentialSmoothing(
        y, trend=trend, damped_trend=trend is not None, seasonal=kind, seasonal_periods=season if kind else None,
        initialization_method=initialization, **known,
    )  # fmt: skip


def ets_filter(y, trend, kind, season, params):
    """The fitted model run over ``y`` (from the fit's first row) with its parameters and initial
    states fixed: statsmodels' results, whose states are the ones forecast(h) starts from."""
    known = {"initial_level": params["initial_level"]}
    if trend:
        known["initial_trend"] = params["initial_trend"]
    if kind:
        known["initial_seasonal"] = params["initial_seasons"]
    model = holt_winters(y, trend, kind, season, "known", **known)
    fixed = {"smoothing_level": params["smoothing_level"]}
    if trend:
        fixed.update(smoothing_trend=params["smoothing_trend"], damping_trend=params["damping_trend"])
    if kind:
        fixed["smoothing_seasonal"] = params["smoothing_seasonal"]
    return model.fit(optimized=False, **fixed)


def ets_forecasts(run, origins: np.ndarray, steps: np.ndarray, kind: str | None, season: int | None) -> np.ndarray:
    """h-step forecasts from the states at every origin (rows of the filtered series): level plus
    the damped sum of the trend, with the season's last value for the target's phase."""
    level = np.asarray(run.level)
    out = np.repeat(level[origins][:, None], len(steps), axis=1)
    params = run.params
    if run.model.trend:
        phi = float(params["damping_trend"])
        damped = np.array([sum(phi**j for j in range(1, int(h) + 1)) for h in steps])
        out = out + np.asarray(run.trend)[origins][:, None] * damped
    if kind:
        # The season's state for the target's phase, as statsmodels' forecast() takes it: at a
        # whole number of seasons ahead, the one a season before the last update (its own rule;
        # the textbook takes the last). Kept, so that these are the library's forecasts exactly.
        back = np.array([season * (int(h) // season + 1) for h in steps])
        phase = np.asarray(run.season)[origins[:, None] + steps - back]
        out = out * phase if kind == "mul" else out + phase
    return out


def sarima(y: np.ndarray, train_end: int, origins: np.ndarray, steps: np.ndarray, season: int | None) -> Forecasts | None:
    """ARMA(p, q) with a constant on the series differenced by one season (by one step without a
    season), with a seasonal MA(1) term for a season up to SEASONAL_MA_MAX, (p, q) by AIC: None
    when the training part is too short."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    start, end = fit_window(train_end)
    part = y[start:end]
    by_season = seasonal(season, len(part))
    lag = season if by_season else 1
    if len(part) < lag + MIN_ROWS:
        return None
    seasonal_ma = int(by_season and season <= SEASONAL_MA_MAX)
    differences = 0 if by_season else 1  # the seasonal order differences by a season instead
    seasonal_order = (0, 1, seasonal_ma, season) if by_season else (0, 0, 0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = []
        for p, q in ARMA_ORDERS:
            order = (p, differences, q)
            model = SARIMAX(part, order=order, seasonal_order=seasonal_order, trend="c", simple_differencing=True)
            res = model.fit(disp=False)
            if np.isfinite(res.aic):
                fits.append((float(res.aic), order, res))
        if not fits:
            return None
        aic, order, res = min(fits, key=lambda f: f[0])
        run = res.apply(y[start:])
    values = sarima_forecasts(run, y[start:], origins - start, steps, lag)
    spec = {"order": list(order), "seasonal_order": list(seasonal_order), "aic": aic, "fit_rows": [start, end]}
    return Forecasts(values, spec)


def sarima_forecasts(run, y: np.ndarray, origins: np.ndarray, steps: np.ndarray, lag: int) -> np.ndarray:
    """h-step forecasts of ``y`` from every origin: the differenced series' forecasts from the
    Kalman filter's predicted state (carried forward by the fixed transition), then undifferenced:
    a target one lag back or less adds the observed value there, a further one the forecast."""
    f = run.filter_results
    design, transition = f.design[:, :, 0], f.transition[:, :, 0]
    d, c = f.obs_intercept[:, 0], f.state_intercept[:, 0]
    at = origins - lag  # the differenced series is y[lag:] - y[:-lag]: its row i is y's row i + lag
    if (at < 0).any():
        raise ValueError("an origin before the first differenced row")
    state = f.predicted_state[:, at + 1]  # a[t+1 | t]: each column one origin
    top = int(steps.max())
    z = np.empty((len(origins), top))
    for j in range(top):  # z[t+j+1 | t]
        z[:, j] = (design @ state)[0] + d[0]
        state = transition @ state + c[:, None]
    y_hat = np.empty((len(origins), top))
    for j in range(top):
        h = j + 1
        before = y[origins + h - lag] if h <= lag else y_hat[:, j - lag]
        y_hat[:, j] = z[:, j] + before
    return y_hat[:, steps - 1]
