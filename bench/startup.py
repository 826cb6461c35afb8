"""CLI startup: how long a shell script waits for `rnnexp --help` and `rnnexp validate CONFIG`
(neither loads torch), next to a bare `python -c pass` measured in the same loop.

Runs are interleaved (python, help, validate, python, ...) because these machines are noisy;
medians are reported. Prints a table and writes bench/results/startup.json.

    python bench/startup.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "rnnexp --help": [sys.executable, "-m", "rnnexp", "--help"],
    "rnnexp validate quickstart.yaml": [sys.executable, "-m", "rnnexp", "validate", str(ROOT / "configs" / "quickstart.yaml")],
    "rnnexp sweep --help": [sys.executable, "-m", "rnnexp", "sweep", "--help"],
}
GOAL_S = 0.5  # what a script calling validate in a loop should pay at most


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, cmd in COMMANDS.items():
            started = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    base = statistics.median(times["python -c pass"])
    rows = [
        {
            "command": name,
            "median_s": round(statistics.median(t), 3),
            "best_s": round(min(t), 3),
            "over_bare_python_s": round(statistics.median(t) - base, 3),
            "goal": "" if name == "python -c pass" else f"<= {GOAL_S} s",
        }
        for name, t in times.items()
    ]
    print_table(f"CLI startup ({args.repeats} runs each, interleaved; medians)", list(rows[0]), rows)
    write_result("startup", {"repeats": args.repeats, "goal_s": GOAL_S, "rows": rows})


if __name__ == "__main__":
    main()
