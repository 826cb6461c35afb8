"""Time-series data: windows, chronological splits, train-only normalization, baselines, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnexp.config import DataConfig
from rnnexp.data.series import (
    Scaler,
    load_series,
    persistence,
    read_sequences,
    regression_scores,
    seasonal_naive,
    split_bounds,
    target_steps,
    window_arrays,
    window_starts,
)
from rnnexp.errors import DataError


def series_cfg(path, **kw) -> DataConfig:
    return DataConfig(task="forecasting", train_file=str(path), target="y", **kw)


def write_csv(tmp_path, rows: list[str], header: str = "t,y,x") -> str:
    path = tmp_path / "s.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_splits_are_chronological_and_cover_every_row():
    b = split_bounds(100, 0.15, 0.2)
    assert b == {"train": (0, 65), "val": (65, 80), "test": (80, 100)}
    assert split_bounds(100, 0.0, 0.0) == {"train": (0, 100)}


def test_windows_never_straddle_a_split():
    bounds = split_bounds(100, 0.15, 0.2)
    for name, (start, end) in bounds.items():
        w = window_starts((start, end), lookback=5, horizon=3, stride=1, name=name)
        assert w.starts.min() == start and (w.starts + 5 - 1 + 3).max() == end - 1  # last target is the split's last row
    assert len(window_starts((0, 20), 5, 1, stride=4, name="train")) == 4  # starts 0, 4, 8, 12 (16 + 5 > 20)


def test_lookback_longer_than_a_split_is_a_clear_error():
    with pytest.raises(DataError, match=r"the val split has 15 rows but one window needs lookback \+ horizon = 21"):
        window_starts((65, 80), lookback=20, horizon=1, stride=1, name="val")


def test_horizon_and_multi_output_targets():
    values = np.arange(30, dtype=float).reshape(-1, 1) * np.array([[1.0, 10.0]])  # y = t, x = 10 t
    starts = np.array([0, 7])
    x, y = window_arrays(values, starts, lookback=4, steps=target_steps(3, False), target=0)
    assert x.shape == (2, 4, 2) and x[1, :, 0].tolist() == [7, 8, 9, 10]
    assert y.tolist() == [[6.0], [13.0]]  # last input row 3 (or 10), three rows ahead
    _, y = window_arrays(values, starts, 4, target_steps(3, True), 0)
    assert y.tolist() == [[4, 5, 6], [11, 12, 13]]


def test_normalization_statistics_come_from_training_rows_only(tmp_path):
    from rnnexp import tasks
    from rnnexp.config import Config

    # The series jumps after the training rows: train-only statistics must not see the jump.
    rows = [f"{i},{i % 7 if i < 70 else 1000 + i % 7},{i}" for i in range(100)]
    path = write_csv(tmp_path, rows)
    cfg = Config.model_validate(
        {
            "data": {
                "task": "forecasting",
                "train_file": str(path),
                "target": "y",
                "lookback": 5,
                "val_split": 0.15,
                "test_split": 0.15,
            }
        }
    )
    task = tasks.create_task(cfg, __import__("torch").device("cpu"))
    train = np.array([i % 7 for i in range(70)], dtype=float)
    assert task.scaler.offset[0] == pytest.approx(train.mean()) and task.scaler.scale[0] == pytest.approx(train.std())
    assert task.preprocessing["scaler"]["offset"][0] == pytest.approx(train.mean())


def test_scaler_kinds_and_constant_columns():
    v = np.array([[1.0, 5.0], [3.0, 5.0]])
    s = Scaler.fit(v, "standard")
    assert s.transform(v)[:, 0].tolist() == [-1.0, 1.0] and s.transform(v)[:, 1].tolist() == [0.0, 0.0]
    m = Scaler.fit(v, "minmax")
    assert m.transform(v)[:, 0].tolist() == [0.0, 1.0]
    assert Scaler.from_dict(s.to_dict()).inverse_column(np.array([1.0]), 0).tolist() == [3.0]
    assert Scaler.fit(v, "none").transform(v).tolist() == v.tolist()


def test_baselines_by_hand():
    y = np.arange(100, dtype=float) ** 2
    starts, lookback, steps = np.array([10]), 5, target_steps(3, True)
    assert persistence(y, starts, lookback, steps).tolist() == [[196.0, 196.0, 196.0]]  # row 14, repeated
    # season 2, target rows 15, 16, 17: go back whole seasons until at or before the last input row 14
    # -> rows 13, 14, 13
    assert seasonal_naive(y, starts, lookback, steps, season=2).tolist() == [[169.0, 196.0, 169.0]]
    assert seasonal_naive(y, starts, lookback, target_steps(1, False), season=24).tolist() == [[y[15 - 24]]]
    s = regression_scores(np.array([1.0, 2.0, 0.0]), np.array([2.0, 2.0, 1.0]))
    assert s["mae"] == pytest.approx(2 / 3) and s["rmse"] == pytest.approx(np.sqrt(2 / 3))
    assert s["mape"] == pytest.approx(50.0) and s["mape_skipped_zeros"] == 1


@pytest.mark.parametrize(
    "cell,message",
    [("", r"s.csv:4: missing value in column 'y'"), ("abc", r"s.csv:4: non-numeric value 'abc' in column 'y'")],
)
def test_missing_and_non_numeric_values_name_column_and_line(tmp_path, cell, message):
    path = write_csv(tmp_path, ["0,1,2", "1,2,3", f"2,{cell},4", "3,4,5"])
    with pytest.raises(DataError, match=message):
        load_series(series_cfg(path, features=["y", "x"]))


# A bad value, and what the error calls it.
BAD_VALUES = {
    "nan": ("NaN", "missing value"),
    "blank": ("", "missing value"),
    "inf": ("inf", "infinite value 'inf'"),
    "-inf": ("-inf", "infinite value '-inf'"),
    "text": ("high", "non-numeric value 'high'"),
}
# How the lines before the bad row look: (records before it, line end). A record is a list of fields;
# None is a blank line. Every layout has a header; the note column is text that no check reads.
LAYOUTS = {
    "plain, line 10": ([["t", "note", "y"]] + [[str(i), "ok", str(i)] for i in range(8)], "\n"),
    "plain, line 3": ([["t", "note", "y"], ["0", "ok", "1"]], "\n"),
    "blank lines": ([None, ["t", "note", "y"], ["0", "ok", "1"], None, ["  "], ["1", "ok", "2"], None], "\n"),
    "quoted line break": ([["t", "note", "y"], ["0", '"two\nlines"', "1"], ["1", '"three\n\nlines"', "2"]], "\n"),
    "crlf": ([["t", "note", "y"], ["0", '"two\r\nlines"', "1"], None, ["1", "ok", "2"]], "\r\n"),
}


def write_series(path, layout: str, bad: str, after: int = 3) -> int:
    """A series file of ``layout`` whose next row holds ``bad`` in column y; the file line of that row."""
    records, end = LAYOUTS[layout]
    texts = ["" if r is None else ",".join(r) for r in records]
    line = 1 + sum(t.count("\n") + 1 for t in texts)  # the line the bad row starts on
    rows = [f"{len(records) + i},ok,{i}" for i in range(after)]
    text = end.join([*texts, f"9,ok,{bad}", *rows]) + end
    path.write_bytes(text.replace("\n", end).replace("\r\r", "\r").encode())
    return line


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("bad", sorted(BAD_VALUES))
def test_every_bad_series_value_names_its_file_line(tmp_path, layout, bad):
    value, what = BAD_VALUES[bad]
    path = tmp_path / "s.csv"
    line = write_series(path, layout, value)
    with pytest.raises(DataError) as e:
        load_series(series_cfg(path, features=["y"]))
    assert str(e.value).startswith(f"{path}:{line}: {what} in column 'y' (1 missing, non-numeric or infinite in it)")
    tsv = tmp_path / "s.tsv"  # tab-separated, quoted as pandas reads it
    tsv.write_bytes(path.read_bytes().replace(b",", b"\t"))
    with pytest.raises(DataError, match=rf"^{re.escape(str(tsv))}:{line}: {re.escape(what)} in column 'y'"):
        load_series(series_cfg(tsv, features=["y"]))
    # A bad step of a sequence and a bad channel value in a long-format file and in a sequence's own file.
    long = tmp_path / "long.csv"
    line = write_series(long, layout, value)
    text = long.read_bytes().decode()
    long.write_bytes(text.replace("t,note,y", "sequence,label,y").encode())
    seq_cfg = DataConfig(task="sequence_classification", train_file=str(long), label_column="label")
    with pytest.raises(DataError, match=rf"^{re.escape(str(long))}:{line}: {re.escape(what)} in column 'y'"):
        read_sequences(long, seq_cfg)
    with pytest.raises(DataError, match=rf"^{re.escape(str(long))}:{line}: {re.escape(what)} in column 'y'"):
        read_sequences(long, seq_cfg.model_copy(update={"step_column": "y", "features": ["sequence"]}), labelled=False)
    folder = tmp_path / "seqs" / "up"
    folder.mkdir(parents=True)
    line = write_series(folder / "0.csv", layout, value)
    with pytest.raises(DataError, match=rf"^{re.escape(str(folder / '0.csv'))}:{line}: {re.escape(what)} in column 'y'"):
        read_sequences(tmp_path / "seqs", seq_cfg.model_copy(update={"features": ["y"]}))


def test_label_errors_of_long_sequence_files_name_their_line(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text('sequence,v,label\nq,1,a\n\nq,2,"a"\nr,"3\n",b\nr,4,\n')
    cfg = DataConfig(task="sequence_classification", train_file=str(path))
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:7: empty label in column 'label'"):
        read_sequences(path, cfg)
    path.write_text('sequence,v,label\nq,1,a\n\nr,"3\n",b\nq,2,c\n')
    several = r"sequence 'q' has several labels \(a, c\): 'c' here, 'a' on line 2"
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:6: {several}"):
        read_sequences(path, cfg)


def _reference_sequences(path, cfg):
    """read_sequences' rule written as plainly as it reads: rows grouped by the id's text in order of
    first appearance, sorted by step (stable), one label per sequence: the first row's."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(row["seq"], []).append(i)
    sequences, labels = [], []
    for key, members in groups.items():
        if cfg.step_column:
            members.sort(key=lambda r: float(rows[r]["step"]))
        texts = [rows[r]["label"] for r in members]
        if len(set(texts)) > 1:
            other = next(r for r in members if rows[r]["label"] != texts[0])
            return ("error", key, other + 2, members[0] + 2)  # file lines: the header is line 1
        labels.append(texts[0])
        sequences.append(np.array([[float(rows[r][c]) for c in ("a", "b")] for r in members]))
    return list(groups), labels, sequences


@pytest.mark.parametrize("seed", range(12))
def test_long_format_grouping_matches_the_plain_rule(tmp_path, seed):
    """Random long-format files: ids in any order, repeated steps, a label conflict in some."""
    rng = np.random.default_rng(seed)
    lines = ["seq,step,a,b,label"]
    n = int(rng.integers(1, 40))
    labels = {f"s{k}": str(rng.choice(["x", "y", "z"])) for k in range(int(rng.integers(1, 8)))}
    for _ in range(n):
        key = str(rng.choice(list(labels)))
        label = labels[key] if seed % 3 or rng.random() > 0.1 else "w"  # a second label in a third of the files
        lines.append(f"{key},{int(rng.integers(0, 6))},{rng.normal():.4f},{int(rng.integers(-3, 3))},{label}")
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    for step in ("step", None):
        cfg = DataConfig(
            task="sequence_classification",
            train_file=str(path),
            sequence_column="seq",
            step_column=step,
            label_column="label",
            features=["a", "b"],
        )
        expected = _reference_sequences(path, cfg)
        if expected[0] == "error":
            _, key, line, first = expected
            with pytest.raises(
                DataError, match=rf"^{re.escape(str(path))}:{line}: sequence '{key}' has several labels .* on line {first};"
            ):
                read_sequences(path, cfg)
            continue
        got = read_sequences(path, cfg)
        assert got.ids == expected[0] and got.labels == expected[1]
        assert all(np.array_equal(a, b) for a, b in zip(got.sequences, expected[2], strict=True))


def test_series_column_errors(tmp_path):
    path = write_csv(tmp_path, ["0,1,2"])
    with pytest.raises(DataError, match=r"no column 'z'; columns are: t, y, x"):
        load_series(series_cfg(path, features=["z"]))
    with pytest.raises(DataError, match="set data.target"):
        load_series(DataConfig(task="forecasting", train_file=str(path)))


def test_target_always_first_input(tmp_path):
    path = write_csv(tmp_path, ["0,1,2", "1,2,3"])
    s = load_series(series_cfg(path, features=["x"], time_column="t"))
    assert s.columns == ["y", "x"] and s.target_index == 0 and s.time == ["0", "1"]


def test_builtin_series():
    pytest.importorskip("tsdata")
    pytest.importorskip("vega_datasets")
    elec = load_series(DataConfig(task="forecasting", dataset="vic-elec"))
    assert elec.values.shape == (52608, 2) and elec.columns == ["Demand", "Temperature"]
    weather = load_series(DataConfig(task="forecasting", dataset="seattle-weather"))
    assert weather.values.shape == (1461, 4) and weather.target == "temp_max"


@pytest.mark.parametrize(
    "times, steps, expected, step, by",
    [
        (["2012-01-01", "2012-01-02", "2012-01-03"], [1, 2], ["2012-01-04", "2012-01-05"], "D", "infer_freq"),
        (["2012-01-01", "2012-02-01", "2012-03-01"], [1, 3], ["2012-04-01", "2012-06-01"], "MS", "infer_freq"),  # months
        (["2012-02-27 22:00", "2012-02-27 23:00", "2012-02-28 00:00"], [25], ["2012-02-29T01:00:00"], "h", "infer_freq"),
        (["2012-03-01 08:00", "2012-03-01 08:15"], [2], ["2012-03-01T08:45:00"], "15min", "median difference"),
        (["2001", "2002", "2003"], [1, 2], ["2004", "2005"], "1", "median difference"),  # numbers: years, counters
        (["0.5", "1.0", "1.5"], [2], ["2.5"], "0.5", "median difference"),
    ],
)
def test_forecast_steps_are_timed_by_the_series_step(times, steps, expected, step, by):
    from rnnexp.data.timestamps import step_times

    got = step_times(times, steps, "s.csv column 't'")
    assert (got.times, got.step, got.inferred_by, got.note) == (expected, step, by, None)


@pytest.mark.parametrize("dropped, uneven", [([100], 1), ([5, 6, 7, 300], 2), (list(range(200, 260)), 1)])
def test_forecast_steps_of_a_series_with_gaps_take_the_median_step(dropped, uneven):
    fpp3 = pytest.importorskip("tsdata.fpp3", reason="needs the datasets extra (make install)")
    from rnnexp.data.timestamps import step_times

    times = fpp3.raw["vic_elec"]["Time"].astype(str).tolist()[-480:]  # its last 10 days, half-hourly
    whole = step_times(times, [1, 2], "vic-elec")
    assert whole.times == ["2014-12-31T13:00:00+00:00", "2014-12-31T13:30:00+00:00"]  # UTC, as the series is
    assert (whole.step, whole.inferred_by, whole.note) == ("30min", "infer_freq", None)
    gapped = [t for i, t in enumerate(times) if i not in dropped]  # a reading missing, a few, a whole day
    got = step_times(gapped, [1, 2], "vic-elec")
    assert (got.times, got.step, got.inferred_by) == (whole.times, "30min", "median difference")
    assert f"not evenly spaced ({uneven} of {len(gapped) - 1} differences are not the median" in got.note


@pytest.mark.parametrize(
    "times, why",
    [
        (["2012-01-01"], "one row"),
        (["mon", "tue", "wed"], "neither dates nor numbers"),
        (["2012-01-03", "2012-01-02", "2012-01-01"], "do not increase"),
        (["2012-01-01", "2012-01-01", "2012-01-02"], "do not increase"),
        (["3", "2", "1"], "do not increase"),
    ],
)
def test_forecast_steps_without_a_step_have_no_timestamps(times, why):
    from rnnexp.data.timestamps import step_times

    got = step_times(times, [1], "s.csv column 't'")
    assert got.times is None and got.note.startswith("s.csv column 't': ") and why in got.note
