"""The rules of forecasting's window keys: where a seasonal value lies, what the lookback must hold
for data.residual seasonal_naive and data.seasonal_input, and what data.calendar needs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .schema import DataConfig


def season_lag(step: int, season: int) -> int:
    """How many rows before the target ``step`` rows ahead its seasonal-naive value lies: one season,
    or the fewest whole seasons that reach back into the observed rows. The one rule of the
    seasonal-naive baseline (data.series), data.residual seasonal_naive (framing) and its check."""
    return season * math.ceil(step / season)


def seasonal_rows_needed(steps: list[int], season: int) -> int:
    """The lookback data.residual seasonal_naive needs: the window must hold every step's
    seasonal-naive value (framing.frame_spec reads it there)."""
    return max(season_lag(h, season) - h + 1 for h in steps)


def check_window_keys(data: DataConfig) -> None:
    """A forecasting data section's keys that read the window or the time column, each refused
    (ValueError naming it, and what to change) where the data cannot serve it."""
    if data.residual == "seasonal_naive":
        if not data.season:
            raise ValueError("data.residual seasonal_naive needs data.season (the season's length in rows)")
        steps = list(range(1, data.horizon + 1)) if data.multi_output else [data.horizon]
        need = seasonal_rows_needed(steps, data.season)
        if data.lookback < need:
            raise ValueError(
                f"data.residual seasonal_naive reads the value one season before each step from the window: data.lookback "
                f"{data.lookback} must be at least {need} with data.season {data.season}; raise data.lookback, or use "
                "data.residual persistence"
            )
    if data.seasonal_input:
        if not data.season:
            raise ValueError("data.seasonal_input needs data.season (the season's length in rows)")
        if data.lookback < data.season:
            raise ValueError(
                f"data.seasonal_input reads the value one season back from the window: data.lookback {data.lookback} "
                f"must be at least data.season {data.season}; raise data.lookback"
            )
    if len(set(data.calendar)) < len(data.calendar):
        raise ValueError(f"data.calendar names a cycle twice: {data.calendar}")
    if data.calendar and data.dataset is None and data.time_column is None:
        raise ValueError("data.calendar reads the time column: set data.time_column to the column of timestamps")
