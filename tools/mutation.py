"""`make mutation`: mutation testing (mutmut) of the modules that decide what rnnexp promises.

    python tools/mutation.py                    # every target: run each, then the table
    python tools/mutation.py --only padding     # the targets named (repeatable); the others keep their last result
    python tools/mutation.py --report           # the table of the last results, run nothing

mutmut changes one thing at a time in a module's functions (a comparison, a constant, an argument,
a return value) and runs the tests that reached that function; a mutant no test fails on is a
behaviour the suite does not pin down. Each target runs in its own copy of the checkout
(build/mutation/<target>/), mutating only its modules against the test files that exercise them
in-process: a test that runs rnnexp in a subprocess or through forkrun never meets a mutant, so it
can neither kill one nor be counted. mutmut forks its workers from a server process (torch is not
fork-safe once it has run), two at a time on two cores.

The score of a module is killed / (mutants - equivalent): a mutant that times out counts as killed
(the tests noticed), one that no selected test reaches counts as survived. EQUIVALENT lists the
mutants no test can tell from the original, each with why; an entry that no longer names a
surviving mutant (the code moved, or a test now kills it) is reported, so the list stays true.

Results: build/mutation/<target>.json (every mutant's status, for this checkout), and
docs/gen/recordings/mutation.json, committed: each target's last run (its modules' counts and every
mutant not killed), the one docs/development.md's table is drawn from. A run of some targets
replaces theirs and keeps the others', in a fresh clone too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "mutation"
RESULT = ROOT / "docs" / "gen" / "recordings" / "mutation.json"
GOAL = 0.90

# target: (the modules it mutates, the test files that exercise them in-process)
TARGETS: dict[str, tuple[list[str], list[str]]] = {
    "config": (["rnnexp/config/*.py"], ["tests/test_config.py", "tests/test_sweep_file.py", "tests/test_optimizers.py"]),
    "padding": (["rnnexp/data/padding.py"], ["tests/test_padding.py", "tests/test_prepare.py"]),
    "batches": (["rnnexp/data/batches.py"], ["tests/test_data.py", "tests/test_model.py"]),
    "metrics": (["rnnexp/metrics.py"], ["tests/test_metrics.py", "tests/test_evaluate.py"]),
    "baselines": (
        ["rnnexp/baselines/__init__.py", "rnnexp/baselines/statistical.py"],
        [
            "tests/test_baselines.py",
            "tests/test_statistical.py",
            "tests/test_evaluate.py",
            "tests/test_tasks.py",
            "tests/test_series.py",
        ],
    ),
    "checkpoint": (["rnnexp/checkpoint.py"], ["tests/test_checkpoint.py"]),
    "rundir": (["rnnexp/rundir.py"], ["tests/test_rundir.py", "tests/test_report.py"]),
    "training": (
        ["rnnexp/training/policies.py", "rnnexp/training/progress.py", "rnnexp/training/checks.py"],
        ["tests/test_policies.py", "tests/test_progress.py", "tests/test_checks.py"],
    ),
    "sweep": (["rnnexp/sweep/ledger.py", "rnnexp/sweep/pruning.py"], ["tests/test_ledger.py", "tests/test_pruning.py"]),
}

# the reason shared by every encoding spelled another way (None and omitted reach the same codec by the locale)
_SAME_CODEC = "the same codec, None by way of the locale, which Python reads as UTF-8 under a UTF-8 or C locale (PEP 538, 540)"

# mutant name (as `mutmut results` prints it): why no test can tell it from the original
EQUIVALENT: dict[str, str] = {
    "rnnexp.data.padding.x_cut__mutmut_1": "len(seq) < width: a sequence exactly width long is then cut to width, all of it",
    "rnnexp.data.padding.x_real_steps__mutmut_10": "slice(width - n, None): the slice is only taken of width steps",
    "rnnexp.data.padding.x_real_steps__mutmut_17": "slice(None, n) is slice(0, n)",
    "rnnexp.data.padding.x_real_steps__mutmut_19": "slice(n) is slice(0, n)",
    "rnnexp.data.padding.x_pad_ragged__mutmut_46": "np.arange's default integer is int64 (NumPy 2, on every platform)",
    "rnnexp.data.padding.x_pad_ragged__mutmut_48": "np.arange's default integer is int64 (NumPy 2, on every platform)",
    **{
        f"rnnexp.data.batches.x_augment_batch__mutmut_{n}": "> for >= (<= for <) on a uniform draw: equal with probability 0"
        for n in (17, 33, 47)
    },
    "rnnexp.data.batches.x_augment_batch__mutmut_26": "a one-word text in the swap loop: rng.random(0) draws nothing",
    "rnnexp.data.batches.x_bucket_batches__mutmut_25": 'kind="STABLE": NumPy reads the sort kind case-insensitively',
    "rnnexp.data.batches.x_moves_per_batch__mutmut_2": "an integer byte count exceeds m // 4 exactly when it exceeds m / 4",
    "rnnexp.metrics.x_ranking_scores__mutmut_10": "y_true != c: 0 < count < n holds for a class exactly when for the rest",
    **{
        f"rnnexp.metrics.x_per_class_scores__mutmut_{n}": "astype(None) is float64, the dtype scikit-learn returns already"
        for n in (14, 17, 20)
    },
    "rnnexp.checkpoint.x_load__mutmut_47": 'actual = "": like None, it never equals a stored checksum (crc32:...)',
    "rnnexp.checkpoint.x_write_bytes__mutmut_37": "unlink inside suppress(OSError): a missing file's error is suppressed anyway",
    "rnnexp.checkpoint.x_write_bytes__mutmut_38": "unlink inside suppress(OSError): a missing file's error is suppressed anyway",
    **{
        name: "str(None) only where strerror is empty: the OS gives every ENOSPC its text"
        for name in (
            "rnnexp.checkpoint.x_write_bytes__mutmut_49",
            "rnnexp.rundir.x__writable_folder__mutmut_17",
            "rnnexp.rundir.x__writable_folder__mutmut_65",
        )
    },
    **{
        f"rnnexp.checkpoint.xǁBackgroundWriterǁsubmit__mutmut_{n}": "the writer thread's name: seen only in thread dumps"
        for n in (6, 8, 10, 11)
    },
    "rnnexp.training.progress.x__get_rng_state__mutmut_12": "keys.astype(None) is float64: every key is below 2**32, "
    "exact in float64, and the resume casts them back to uint32",
    "rnnexp.training.progress.x__set_rng_state__mutmut_15": "keys.astype(None) is float64: every key is below 2**32, "
    "exact in float64, and np.random.set_state casts them to uint32 itself",
    **{
        f"rnnexp.rundir.xǁRunDirǁ{method}__mutmut_{n}": f'read_text(encoding=None or "UTF-8"): {_SAME_CODEC}'
        for method in ("read_summary", "read_json")
        for n in (2, 4)
    },
    **{
        f"rnnexp.rundir.xǁRunDirǁread_metrics__mutmut_{n}": f'open(encoding=None, omitted or "UTF-8"): {_SAME_CODEC}'
        for n in (4, 7, 10)
    },
    "rnnexp.rundir.xǁRunDirǁread_metrics__mutmut_3": 'open(newline=None) for "": metrics.csv holds numbers, never a '
    "quoted line break, and its lines end in \\n alone (write_metrics): universal newlines read it the same",
    **{
        f"rnnexp.rundir.x_write_text__mutmut_{n}": f'write_text(encoding=None, omitted or "UTF-8"): {_SAME_CODEC}'
        for n in (3, 5, 7)
    },
    **{f"rnnexp.rundir.x_write_json__mutmut_{n}": "json.dumps(sort_keys=None or omitted): False is its default" for n in (8, 11)},
    **{
        name: f'read_text(encoding=None or "UTF-8"): {_SAME_CODEC}'
        for name in (
            "rnnexp.config.yamlio.x_read_file__mutmut_1",
            "rnnexp.config.yamlio.x_read_file__mutmut_3",
            "rnnexp.config.loading.x_is_sweep_file__mutmut_6",
            "rnnexp.config.loading.x_is_sweep_file__mutmut_9",
        )
    },
    **{
        name: "get_close_matches' n (omitted: 3) or its cutoff omitted where it is the default 0.6: only the best "
        "match, [0], is shown"
        for name in (
            "rnnexp.config.grid.x_parse_grid__mutmut_41",
            "rnnexp.config.grid.x_parse_grid__mutmut_42",
            "rnnexp.config.grid.x_parse_grid__mutmut_43",
            "rnnexp.config.loading.x__describe__mutmut_150",
            "rnnexp.config.loading.x__describe__mutmut_152",
            "rnnexp.config.loading.x__key_hint__mutmut_15",
            "rnnexp.config.loading.x__key_hint__mutmut_16",
            "rnnexp.config.loading.x__key_hint__mutmut_19",
        )
    },
    **{
        name: 'a Config\'s model_dump(mode=None or another word than "json") is python mode: every Config field is a '
        "str, number, bool, list, dict or None, which both modes dump alike"
        for name in (
            *(f"rnnexp.training.checks.x_check_same_config__mutmut_{n}" for n in (3, 6, 7, 10, 11, 12)),
            *(f"rnnexp.config.inherit.x_annotated_yaml__mutmut_{n}" for n in (42, 43, 44)),
            *(f"rnnexp.config.loading.x_check_sweep__mutmut_{n}" for n in (4, 5, 6, 37, 38, 39)),
            *(f"rnnexp.config.loading.x_explain_sweep__mutmut_{n}" for n in (18, 19, 20)),
            *(f"rnnexp.config.loading.x_dump_config__mutmut_{n}" for n in (5, 6, 7)),
            *(f"rnnexp.config.sweep.x_sweep_document__mutmut_{n}" for n in (16, 18, 20, 21)),  # a spec: its kind and floats
            # the sweep: names, numbers, sections, and a set whose values each validated as a Config's
            *(f"rnnexp.config.sweep.x_sweep_document__mutmut_{n}" for n in (2, 3, 4)),
        )
    },
    "rnnexp.config.loading.x_dump_config__mutmut_2": "yaml.safe_dump(sort_keys=None): falsy, as False",
    **{
        f"rnnexp.config.inherit.x_annotated_yaml__mutmut_{n}": "sort_keys of a one-key mapping whose value is no "
        "mapping (a non-empty one is walked into): there is nothing to sort"
        for n in (18, 22, 27)
    },
    **{
        f"rnnexp.config.inherit.x_annotated_yaml__mutmut_{n}": "width 3**31 or 2**32 for 2**31: each as wide as no "
        "value's line comes near"
        for n in (25, 26)
    },
    **{
        f"rnnexp.config.loading.x_is_sweep_file__mutmut_{n}": "the source names the file only in a ConfigError that "
        "is_sweep_file catches (it answers False)"
        for n in (3, 10)
    },
    **{
        f"rnnexp.config.loading.x__describe__mutmut_{n}": "strip(\"'\") of str() of a Literal's value: a str or int "
        "prints without quotes, so there is nothing to strip"
        for n in (136, 138)
    },
    **{
        f"rnnexp.config.forecasting.x_check_window_keys__mutmut_{n}": "with multi_output, step 1 is among the steps and "
        "needs a whole season, the most any step needs: adding step 0 or horizon + 1 changes no maximum"
        for n in (14, 18)
    },
    "rnnexp.config.grid.x_grid_sweep__mutmut_39": "set: {} or no set: a SweepConfig's set defaults to {}",
    **{
        f"rnnexp.config.grid.x_grid_sweep__mutmut_{n}": "never printed: check_sweep names a --set only where its "
        "entries fail, and load_config has already checked every --set, alone and together"
        for n in (56, 57)
    },
    **{
        f"rnnexp.config.grid.x_grid_sweep__mutmut_{n}": "never printed: a --grid sweep's objective is the config's own "
        "monitor, which the config's validation already found to apply to its task"
        for n in (66, 73)
    },
    **{
        f"rnnexp.config.yamlio.x__check_tree__mutmut_{n}": "a node left in `active`: it is in `sizes` by then, which "
        "is looked up first, so no later visit reaches the check of `active`"
        for n in (66, 67)
    },
    **{
        f"rnnexp.config.yamlio.x_depth_of__mutmut_{n}": "depths from 1, or counted by 2: layer_of, their one reader, "
        "only compares them, and both keep their order"
        for n in (2, 9)
    },
    **{
        f"rnnexp.config.run.x_expand_name__mutmut_{n}": "rsplit('.'), rsplit('.', 2) and rsplit('.', 1)[1] are a "
        "flattened key's last part too: every key there has a dot"
        for n in (15, 18, 19)
    },
    "rnnexp.config.loading.x_load_sweep__mutmut_29": "sweep_parts of a valid sweep file: its set, space and objective, "
    "the ones the sweep holds",
    "rnnexp.config.sweep.xǁParamSpecǁgrid__mutmut_32": "one more step in the count: its value is past high, which the "
    "filter drops (the count is round((high - low) / step) + 1)",
    "rnnexp.config.sweep.xǁParamSpecǁgrid__mutmut_43": "< for <= against high + 1e-12: a point that sum of floats "
    "lands on exactly, which the 1e-12 of slack is there to avoid",
    **{
        f"rnnexp.config.inherit.x_layer_of__mutmut_{n}": "deepest starts at -1, +1 or -2: every depth is >= 0 and found "
        "starts as the last layer, the one a scan of all-zero depths ends on too"
        for n in (4, 5)
    },
    "rnnexp.training.policies.x__cosine__mutmut_7": "max(2, span): span is 1 only when one epoch follows the warmup, "
    "whose lr (at e = 0, cos 0) is the base rate for any span",
    **{
        name: "get_trials(deepcopy=True or None): a copy of the trials reads the same; False only saves copying them"
        for name in (
            *(f"rnnexp.sweep.ledger.xǁTrialLedgerǁ__init____mutmut_{n}" for n in (3, 5)),
            *(f"rnnexp.sweep.pruning.xǁHalvingǁ_goes_on__mutmut_{n}" for n in (13, 15)),
            *(f"rnnexp.sweep.pruning.xǁHalvingǁnew_bracket__mutmut_{n}" for n in (9, 11)),
            *(f"rnnexp.sweep.pruning.xǁHalvingǁpromotion__mutmut_{n}" for n in (6, 8)),
        )
    },
    "rnnexp.baselines.x_fit_sample__mutmut_1": "n == fit_size(n): all n drawn without replacement, sorted, are "
    "arange(n), what the other branch returns",
    "rnnexp.baselines.x_fit_sample__mutmut_7": "choice(replace=None): falsy, without replacement as with False",
    **{
        f"rnnexp.baselines.x_linear_autoregressive__mutmut_{n}": "reshape(n, -2): NumPy infers a negative size "
        "whatever its value, as for -1"
        for n in (13, 28, 30)
    },
    "rnnexp.baselines.x_tfidf_logreg__mutmut_40": "bincount's minlength is classes = train_y.max() + 1, the length "
    "bincount gives train_y anyway",
    **{
        name: "a cap on lbfgs' iterations: it converges in well under 100 on these fits (amazon-food, 240 to 4,000 "
        "texts: 26 to 36), so 100, 1001 or 2001 fit the same model"
        for name in (
            "rnnexp.baselines.x_tfidf_logreg__mutmut_46",
            "rnnexp.baselines.x_tfidf_logreg__mutmut_48",
            "rnnexp.baselines.x_summary_logreg__mutmut_9",
        )
    },
    **{
        name: "statsmodels lowercases a trend, seasonal or initialization method: 'ADD' is 'add'"
        for name in (
            "rnnexp.baselines.statistical.x_ets__mutmut_27",
            "rnnexp.baselines.statistical.x_ets__mutmut_40",
            "rnnexp.baselines.statistical.x_ets_filter__mutmut_29",
        )
    },
    **{
        name: "min of (aic, ...) tuples without the key: they compare on the AIC first, and two fits of one "
        "series never tie to the last digit"
        for name in (
            *(f"rnnexp.baselines.statistical.x_ets__mutmut_{n}" for n in (47, 49)),
            *(f"rnnexp.baselines.statistical.x_sarima__mutmut_{n}" for n in (61, 63)),
        )
    },
    **{
        f"rnnexp.baselines.statistical.x_ets_filter__mutmut_{n}": "fit(optimized=None, True or omitted): every "
        "parameter is given (the smoothing ones here, the initial states to the model), nothing is left to optimize"
        for n in (48, 49, 51)
    },
    "rnnexp.baselines.statistical.x_holt_winters__mutmut_16": "seasonal_periods without a seasonal component: "
    "statsmodels reads it only with one",
    **{
        f"rnnexp.baselines.statistical.x_sarima__mutmut_{n}": "fit(disp=None or True): scipy 1.17's L-BFGS-B "
        "prints nothing either way (constraints.txt pins it; test_fitting_the_statistical_baselines_prints_nothing)"
        for n in (53, 54)
    },
    "rnnexp.baselines.statistical.x_sarima_forecasts__mutmut_24": "- d[0] for + d[0]: the observation intercept "
    "is 0 here (trend='c' puts the constant in the state)",
    "rnnexp.baselines.statistical.x_sarima_forecasts__mutmut_7": "state_intercept[:, 1] for [:, 0]: every "
    "column holds the same constant",
    "rnnexp.sweep.pruning.x_make_pruner__mutmut_35": "Halving(brackets=None): falsy, one bracket as with False",
    "rnnexp.sweep.pruning.x_make_sampler__mutmut_11": 'int.from_bytes without "big": its default byteorder since '
    "Python 3.11, the oldest rnnexp runs on",
    "rnnexp.sweep.pruning.x_make_sampler__mutmut_13": "a worker without a number: 4 random bytes for 3, a random "
    "stream either way",
    "rnnexp.sweep.pruning.x_not_moved__mutmut_8": "every value equal to seen[1] for seen[0]: with two or more, "
    "the same condition",
    **{
        f"rnnexp.sweep.pruning.xǁHalvingǁpromotion__mutmut_{n}": "a sign of 2 or -2 for 1 or -1: the value "
        "scaled by a positive number ranks the same"
        for n in (50, 55)
    },
    **{
        f"rnnexp.sweep.pruning.xǁHalvingǁnew_bracket__mutmut_{n}": "the message of an assertion no input reaches: "
        "place is taken modulo sum(shares), so it falls in some bracket's share"
        for n in (25, 26, 27)
    },
}

KILLED = {"killed", "timeout", "segfault"}


def _mutmut_section(modules: list[str], tests: list[str]) -> str:
    listed = lambda items: "[" + ", ".join(json.dumps(i) for i in items) + "]"
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["rnnexp"]\n'
        f"only_mutate = {listed(modules)}\n"
        f"pytest_add_cli_args_test_selection = {listed(tests)}\n"
        'process_isolation = "forkserver"\n'
        # what tests read beside the code (configs, docs, the Makefile), copied into mutants/ too
        'also_copy = ["configs", "docs", "bench", "tools", "Makefile", "README.md", "constraints.txt"]\n'
    )


def _copy_checkout(folder: Path) -> None:
    """The tracked files (and the untracked ones git does not ignore), as they are in the working tree."""
    if folder.exists():
        shutil.rmtree(folder)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True
    )
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)


def _results(folder: Path, mutmut: Path) -> dict[str, str]:
    done = subprocess.run([str(mutmut), "results", "--all", "true"], cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mutmut results failed in {folder}: {done.stderr.strip()}")
    out = {}
    for line in done.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            out[name] = status
    return out


def module_of(mutant: str) -> str:
    """rnnexp.data.padding.x_cut__mutmut_3 -> rnnexp/data/padding.py; a package's own functions
    (rnnexp.baselines.x_majority__mutmut_1) -> its __init__.py"""
    path = mutant.rsplit(".", 1)[0].replace(".", "/")
    return f"{path}/__init__.py" if (ROOT / path).is_dir() else f"{path}.py"


def run_target(name: str, mutmut: Path) -> dict:
    modules, tests = TARGETS[name]
    folder = BUILD / name
    _copy_checkout(folder)
    with open(folder / "pyproject.toml", "a", encoding="utf-8") as f:
        f.write(_mutmut_section(modules, tests))
    start = time.monotonic()
    with open(BUILD / f"{name}.log", "w", encoding="utf-8") as log:
        done = subprocess.run([str(mutmut), "run"], cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    seconds = round(time.monotonic() - start)
    if done.returncode != 0:
        raise SystemExit(f"mutmut run failed for {name} (exit {done.returncode}): see {BUILD / f'{name}.log'}")
    result = {"target": name, "tests": tests, "seconds": seconds, "mutants": _results(folder, mutmut)}
    (BUILD / f"{name}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


def compact(result: dict) -> dict:
    """A target's run as the recording keeps it: per module its mutants and how many were killed,
    and every mutant that was not, with its status (what the table and the EQUIVALENT check need)."""
    modules: dict[str, dict[str, int]] = {}
    for mutant, status in sorted(result["mutants"].items()):
        counts = modules.setdefault(module_of(mutant), {"mutants": 0, "killed": 0})
        counts["mutants"] += 1
        counts["killed"] += status in KILLED
    return {
        "tests": result["tests"],
        "seconds": result["seconds"],
        "recorded_at": result.get("recorded_at") or time.strftime("%Y-%m-%d", time.gmtime()),
        "modules": modules,
        "not_killed": {m: s for m, s in sorted(result["mutants"].items()) if s not in KILLED},
    }


def table(targets: dict[str, dict]) -> tuple[list[dict], list[str]]:
    """One row per module of the targets' last runs (compact's form); and the EQUIVALENT entries
    that name no surviving mutant of a target that has run."""
    rows, seen, run_modules = [], set(), set()
    for name, result in targets.items():
        for module, counts in sorted(result["modules"].items()):
            run_modules.add(module)
            not_killed = {m: s for m, s in result["not_killed"].items() if module_of(m) == module}
            equivalent = [m for m in not_killed if m in EQUIVALENT]
            seen.update(equivalent)
            counted = counts["mutants"] - len(equivalent)
            rows.append(
                {
                    "module": module,
                    "target": name,
                    "mutants": counts["mutants"],
                    "killed": counts["killed"],
                    "equivalent": len(equivalent),
                    "no_tests": sum(s == "no tests" for s in not_killed.values()),
                    "score": round(counts["killed"] / counted, 3) if counted else 1.0,
                    "survivors": sorted(m for m in not_killed if m not in EQUIVALENT),
                }
            )
    # An entry of a module no run has covered yet cannot be judged stale.
    stale = sorted(m for m in set(EQUIVALENT) - seen if module_of(m) in run_modules)
    return rows, stale


def recorded_targets() -> dict[str, dict]:
    """The targets' last results as the recording holds them (a run of some targets keeps the others')."""
    if not RESULT.is_file():
        return {}
    return {n: r for n, r in json.loads(RESULT.read_text(encoding="utf-8")).get("targets", {}).items() if n in TARGETS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(TARGETS), help="run only these targets (repeatable)")
    parser.add_argument("--report", action="store_true", help="run nothing: the table of the last results")
    args = parser.parse_args()
    mutmut = Path(sys.executable).parent / "mutmut"
    if not mutmut.exists():
        print(f"mutmut is not installed beside {sys.executable}: make install (the dev extra has it)")
        return 2
    BUILD.mkdir(parents=True, exist_ok=True)
    targets = recorded_targets()
    if not args.report:
        for name in args.only or TARGETS:
            print(f"{name}: mutating {', '.join(TARGETS[name][0])} against {', '.join(TARGETS[name][1])}", flush=True)
            result = run_target(name, mutmut)
            print(f"{name}: {len(result['mutants'])} mutants in {result['seconds']} s", flush=True)
            targets[name] = compact(result)
    if not targets:
        print("no results yet: python tools/mutation.py")
        return 2
    targets = {n: targets[n] for n in TARGETS if n in targets}
    rows, stale = table(targets)
    print(f"\n{'module':<34} {'mutants':>7} {'killed':>6} {'equiv.':>6} {'no tests':>8} {'score':>6}")
    for r in rows:
        print(f"{r['module']:<34} {r['mutants']:>7} {r['killed']:>6} {r['equivalent']:>6} {r['no_tests']:>8} {r['score']:>6.1%}")
    survivors = [f"{r['target']}\t{mutant}" for r in rows for mutant in r["survivors"]]
    (BUILD / "survivors.txt").write_text("".join(f"{line}\n" for line in survivors), encoding="utf-8")
    print(f"{len(survivors)} survivors, one a line with its target: {(BUILD / 'survivors.txt').relative_to(ROOT)}")
    print("what one changed: cd build/mutation/TARGET && ../../../.venv/bin/mutmut show NAME")
    for mutant in stale:
        print(f"EQUIVALENT names no surviving mutant: {mutant}")
    not_run = [n for n in TARGETS if n not in targets]
    if not args.report:
        import mutmut as mutmut_package

        RESULT.write_text(
            json.dumps(
                {
                    "mutmut": getattr(mutmut_package, "__version__", "?"),
                    "targets": targets,
                },
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"written: {RESULT.relative_to(ROOT)}")
    if not_run:
        print(f"not run yet: {', '.join(not_run)}")
    return 0 if all(r["score"] >= GOAL for r in rows) and not stale and not not_run else 1


if __name__ == "__main__":
    sys.exit(main())
