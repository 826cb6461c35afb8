"""The timestamps of forecast steps: the step between a series' rows, inferred from its time column.

Dates: pandas' infer_freq when the timestamps are evenly spaced (calendar-aware: month starts,
business days, ...); otherwise the median of the differences between consecutive timestamps,
with a note that they are not evenly spaced. Numbers (a year, a counter): the median difference.
A step ``h`` ahead of the last row is its timestamp plus h steps. pandas only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass
class StepTimes:
    """When each forecast step falls, or why the timestamps give no answer."""

    times: list[str] | None  # one per step ahead; None when the time column gives no step
    step: str | None  # the step between rows: a pandas frequency ("30min", "D", "MS") or a number
    inferred_by: str | None  # "infer_freq" (evenly spaced dates) or "median difference"
    note: str | None  # what the user should know: uneven spacing, or why there are no timestamps


def step_times(times: list[str], steps: list[int], where: str) -> StepTimes:
    """The timestamps ``steps`` rows after the last of ``times`` (the time column, ``where`` naming
    it in notes)."""
    import pandas as pd

    if len(times) < 2:
        return StepTimes(None, None, None, f"{where}: one row, so no step between timestamps; forecasts have none")
    numbers = pd.to_numeric(pd.Series(times), errors="coerce")
    if not numbers.isna().any():
        return _number_steps(numbers.to_numpy(dtype=np.float64), steps, where)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not infer format": each value is then parsed alone
            index = pd.DatetimeIndex(pd.to_datetime(pd.Series(times)))
    except (ValueError, TypeError, OverflowError):
        return _no_times(where, f"values such as {times[-1]!r} are neither dates nor numbers")
    if not (index[1:] > index[:-1]).all():
        return _no_times(where, "its timestamps do not increase from row to row")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 warns that infer_freq will return an offset, not its name
        freq = pd.infer_freq(index) if len(index) >= 3 else None
    if freq is not None:
        offset = pd.tseries.frequencies.to_offset(freq)  # from either
        return StepTimes(_dates([index[-1] + h * offset for h in steps], index), offset.freqstr, "infer_freq", None)
    diffs = index[1:] - index[:-1]
    step = diffs.median()
    future = [index[-1] + h * step for h in steps]
    uneven = int((diffs != step).sum())
    shown = pd.tseries.frequencies.to_offset(step).freqstr  # as infer_freq names it: "30min", "D"
    note = None
    if uneven:
        note = (
            f"{where}: the timestamps are not evenly spaced ({uneven} of {len(diffs)} differences are not the median, "
            f"{shown}): the timestamps of the forecast steps are the last one plus multiples of that median"
        )
    return StepTimes(_dates(future, index), shown, "median difference", note)


def _number_steps(values: np.ndarray, steps: list[int], where: str) -> StepTimes:
    diffs = np.diff(values)
    if not (diffs > 0).all():
        return _no_times(where, "its values do not increase from row to row")
    step = float(np.median(diffs))
    whole = bool(np.all(values == np.round(values))) and step.is_integer()
    future = [values[-1] + h * step for h in steps]
    text = [str(int(v)) if whole else repr(float(v)) for v in future]
    uneven = int((diffs != step).sum())
    shown = str(int(step)) if whole else repr(step)
    note = None
    if uneven:
        note = (
            f"{where}: the values are not evenly spaced ({uneven} of {len(diffs)} differences are not the median, "
            f"{shown}): the forecast steps are the last value plus multiples of that median"
        )
    return StepTimes(text, shown, "median difference", note)


def _no_times(where: str, why: str) -> StepTimes:
    return StepTimes(None, None, None, f"{where}: {why}; the forecast steps have no timestamps")


def _dates(future: list, index) -> list[str]:
    """As the series writes them: dates alone when every timestamp is a midnight without a time zone."""
    if index.tz is None and (index == index.normalize()).all():
        return [t.strftime("%Y-%m-%d") for t in future]
    return [t.isoformat() for t in future]
