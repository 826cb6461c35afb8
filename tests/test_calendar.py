"""rnnexp/data/calendar.py through load_series: data.calendar's columns against a hand computation,
for timestamps written several ways; a timestamp it cannot read names its file line."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnexp.config import DataConfig
from rnnexp.data.calendar import calendar_columns
from rnnexp.data.series import load_series
from rnnexp.errors import DataError


def series_cfg(path, **kw) -> DataConfig:
    return DataConfig(task="forecasting", train_file=str(path), target="y", **kw)


def write_csv(tmp_path, rows: list[str], header: str = "t,y,x"):
    path = tmp_path / "s.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


# Timestamps and where each falls in data.calendar's cycles, as shares: (hour of day, day of week
# (Monday 0), day of year, month), computed by hand.
CALENDAR_ROWS = [
    ("2024-01-01 06:00", (6 / 24, 0 / 7, 0 / 365.25, 0 / 12)),  # a Monday
    ("2024-01-04 18:30", (18.5 / 24, 3 / 7, 3 / 365.25, 0 / 12)),  # a Thursday
    ("2024-03-10 00:00", (0.0, 6 / 7, (31 + 29 + 9) / 365.25, 2 / 12)),  # a Sunday of a leap year
    ("2023-12-31 23:59", ((23 * 60 + 59) / 1440, 6 / 7, 364 / 365.25, 11 / 12)),
]
CYCLES = ["hour_of_day", "day_of_week", "day_of_year", "month"]


@pytest.mark.parametrize(
    "written",
    [
        "iso",  # 2024-01-01 06:00
        "iso with T and seconds",  # 2024-01-01T06:00:00
        "with a zone",  # 2024-01-01T06:00:00Z: the hour as written
        "formats that differ by row",  # one row day-first-free US style
    ],
)
@pytest.mark.parametrize("cycles", [CYCLES, ["month", "hour_of_day"], ["day_of_week"]])
def test_calendar_inputs_are_the_sine_and_cosine_of_each_rows_place_in_its_cycles(tmp_path, written, cycles):
    def stamp(text: str, row: int) -> str:
        if written == "iso with T and seconds":
            return text.replace(" ", "T") + ":00"
        if written == "with a zone":
            return text.replace(" ", "T") + ":00Z"
        if written == "formats that differ by row" and row == 1:
            day, clock = text.split(" ")
            y, m, d = day.split("-")
            return f"{m}/{d}/{y} {clock}"
        return text

    rows = [f"{stamp(t, i)},{i + 1},{i * 2}" for i, (t, _) in enumerate(CALENDAR_ROWS)]
    path = write_csv(tmp_path, rows)
    s = load_series(series_cfg(path, features=["x"], time_column="t", calendar=cycles))
    assert s.columns == ["y", "x", *calendar_columns(cycles)]
    assert calendar_columns(["month", "hour_of_day"]) == ["month.sin", "month.cos", "hour_of_day.sin", "hour_of_day.cos"]
    np.testing.assert_array_equal(s.values[:, :2], [[i + 1, i * 2] for i in range(len(rows))])
    for row, (_, shares) in enumerate(CALENDAR_ROWS):
        share = dict(zip(CYCLES, shares))
        want = [f(2 * np.pi * share[c]) for c in cycles for f in (np.sin, np.cos)]
        np.testing.assert_allclose(s.values[row, 2:], want, atol=1e-12)
    plain = load_series(series_cfg(path, features=["x"], time_column="t"))
    assert plain.columns == ["y", "x"] and plain.values.shape == (len(rows), 2)


@pytest.mark.parametrize("bad_row", [0, 2, 3])
@pytest.mark.parametrize("value", ["soon", "", "2024-13-45"])
def test_a_timestamp_the_calendar_cannot_read_names_its_file_line(tmp_path, bad_row, value):
    times = [t for t, _ in CALENDAR_ROWS]
    times[bad_row] = value
    path = write_csv(tmp_path, [f"{t},{i},{i}" for i, t in enumerate(times)])
    with pytest.raises(DataError) as e:
        load_series(series_cfg(path, time_column="t", calendar=["day_of_week"]))
    what = "missing value" if value == "" else f"non-date value {value!r}"
    assert str(e.value).startswith(f"{path}:{bad_row + 2}: {what} in column 't' (rows without a date: 1)"), e.value
    load_series(series_cfg(path, time_column="t"))  # without data.calendar the column is only a label


def test_a_calendar_needs_dates_in_a_time_column_that_is_there(tmp_path):
    path = write_csv(tmp_path, ["2001,1,2", "2002,2,3"])
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:2: column 't' holds numbers, not dates"):
        load_series(series_cfg(path, time_column="t", calendar=["month"]))
    bare = write_csv(tmp_path, ["1,2", "2,3"], header="y,x")
    with pytest.raises(DataError, match=r"data.calendar \(month\) reads the timestamps, and there is no column 't'"):
        load_series(series_cfg(bare, time_column="t", calendar=["month"]), time_optional=True)
