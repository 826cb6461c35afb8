"""data.calendar: input columns from a series' timestamps, the sine and cosine of where each row
falls in a cycle (its hour of day, day of week, day of year, month). pandas parses the timestamps."""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import DataError

# data.calendar's cycles: where a timestamp falls in each, as a share of it ([0, 1)).
CALENDAR_CYCLES = {
    "hour_of_day": lambda t: (t.hour * 3600 + t.minute * 60 + t.second) / 86400,
    "day_of_week": lambda t: t.day_of_week / 7,
    "day_of_year": lambda t: (t.day_of_year - 1) / 365.25,
    "month": lambda t: (t.month - 1) / 12,
}


def calendar_columns(cycles: list[str]) -> list[str]:
    """The input channels data.calendar adds, after the series' own: a sine and a cosine per cycle."""
    return [f"{cycle}.{wave}" for cycle in cycles for wave in ("sin", "cos")]


def calendar_inputs(times: list[str], cycles: list[str], column: str, place) -> np.ndarray:
    """calendar_columns' values [rows, 2 * cycles]: the sine and cosine of each timestamp's place in each
    cycle (its hour of day as the timestamp writes it: a zone in it is kept). A DataError names
    ``place(row)`` of the first value that is not a date."""
    import pandas as pd

    raw = pd.Series(times)
    if pd.to_numeric(raw, errors="coerce").notna().all():
        raise DataError(f"{place(0)}: column {column!r} holds numbers, not dates; data.calendar needs dates")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": each value is then parsed alone
        stamps = _dates(raw, {})
        if stamps.isna().any():  # formats that differ from row to row
            stamps = _dates(raw, {"format": "mixed"})
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if len(bad):
        text = str(raw.iloc[bad[0]])
        what = "missing value" if text.strip().lower() in ("", "nan", "nat", "none") else f"non-date value {text[:40]!r}"
        raise DataError(
            f"{place(int(bad[0]))}: {what} in column {column!r} (rows without a date: {len(bad)}); data.calendar reads "
            "every row's timestamp"
        )
    when = pd.DatetimeIndex(stamps)
    phases = [2 * np.pi * np.asarray(CALENDAR_CYCLES[cycle](when), dtype=np.float64) for cycle in cycles]
    return np.stack([wave(p) for p in phases for wave in (np.sin, np.cos)], axis=1)


def _dates(raw, how: dict):
    """Timestamps (NaT where a value is not one); offsets that differ between rows are taken to UTC."""
    import pandas as pd

    try:
        return pd.to_datetime(raw, errors="coerce", **how)
    except (ValueError, TypeError):
        return pd.to_datetime(raw, errors="coerce", utc=True, **how)
