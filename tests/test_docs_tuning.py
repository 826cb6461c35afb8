"""The tuning guide's conclusions (docs/tutorials/tuning-guide.md) hold for its recording.

The guide's tables and plots come from docs/gen/recordings/tuning.json (docs/gen/rec_tuning.py);
its conclusions are prose. Each test here states one conclusion, in the words the page uses, and
checks it against the recording, so a new recording that contradicts the page fails here and the
prose must change. Nothing trains: the tests only read the JSON.

"Within noise" and "by more than the spread" are the page's rule: two settings differ when their
means lie further apart than the larger of their two standard deviations over the seeds.
"""

from __future__ import annotations

import statistics
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "docs" / "gen"))

import tuning_tables  # noqa: E402

REC = tuning_tables.load()
PAGE = (ROOT / "docs" / "tutorials" / "tuning-guide.md").read_text()


def row(path: str, **where) -> dict:
    return tuning_tables.find_row(REC, path, [f"{k.replace('__', '.')}={v}" for k, v in where.items()])


def spread(a: dict, b: dict) -> float:
    return max(a["sd"], b["sd"])


def above(a: dict, b: dict) -> bool:
    """a scores above b by more than the spread."""
    return a["mean"] - b["mean"] > spread(a, b)


def within(a: dict, b: dict) -> bool:
    return abs(a["mean"] - b["mean"]) <= spread(a, b)


def maxlen_uci(n):
    return row("maxlen.uci.rows", data__maxlen=n)


def maxlen_amazon(n, post=False):
    return row("maxlen.amazon_post.rows" if post else "maxlen.amazon.rows", data__maxlen=n)


def base():
    return REC["regularization"]["base"]["rows"][0]


# -- the helpers mean what the page says -----------------------------------------------------------


def test_the_rule_for_a_difference():
    a = {"mean": 0.80, "sd": 0.01}
    assert above({"mean": 0.82, "sd": 0.01}, a) and not above({"mean": 0.805, "sd": 0.01}, a)
    assert within({"mean": 0.805, "sd": 0.002}, a) and not within({"mean": 0.75, "sd": 0.01}, a)


def test_every_region_of_the_page_renders_and_every_plot_exists():
    for name in tuning_tables.PARTS:
        assert f"<!-- gen:tuning {name} -->" in PAGE, f"the page shows no gen:tuning {name}"
    for png in ("maxlen", "epochs", "lr", "lr_find", "plateau", "search"):
        path = ROOT / "docs" / "assets" / "tuning" / f"{png}.png"
        assert path.is_file() and path.stat().st_size < 150_000, path
        assert f"../assets/tuning/{png}.png" in PAGE


def test_every_step_ran_with_several_seeds_and_one_thread():
    assert REC["threads"] == 1 and len(REC["seeds"]) >= 5
    for part in (REC["maxlen"]["uci"], REC["embedding"]["dims"], REC["batch"]["batch"], REC["lr"]["init"]):
        assert all(r["runs"] == len(REC["seeds"]) for r in part["rows"])
    assert all("train.threads=1" in c for c in REC["regularization"]["base"]["commands"])


# -- 1. maxlen -----------------------------------------------------------------------------------


def test_maxlen_at_the_median_costs_accuracy_and_20_to_40_is_within_noise():
    assert REC["maxlen"]["dry_runs"]["uci-40"]["length_p50"] == 10  # "maxlen 10 (the median)"
    assert above(maxlen_uci(40), maxlen_uci(10))
    assert above(maxlen_uci(10), maxlen_uci(5))
    assert within(maxlen_uci(20), maxlen_uci(40))


def test_amazon_accuracy_climbs_to_100_then_is_flat_while_time_grows():
    assert above(maxlen_amazon(50), maxlen_amazon(25)) and above(maxlen_amazon(100), maxlen_amazon(25))
    for a, b in ((100, 200), (100, 400), (200, 400)):
        assert within(maxlen_amazon(a), maxlen_amazon(b)), (a, b)
    p95 = REC["maxlen"]["dry_runs"]["amazon-200"]["length_p95"]
    assert abs(p95 - 200) <= 20  # "200 is close to the 95th percentile"
    ratios = REC["maxlen"]["timing"]["ratios"]
    times = [ratios[str(m)] for m in (25, 50, 100, 200, 400)]
    assert times == sorted(times) and times[0] < times[-1] / 4
    assert ratios["400"] / ratios["200"] > 2  # "from 200 to 400 the epoch takes more than twice as long"


def test_keeping_the_end_of_a_review_beats_keeping_its_start():
    for n in (25, 50):
        assert above(maxlen_amazon(n), maxlen_amazon(n, post=True)), n


def test_bucketing_cuts_the_long_epoch_to_a_fraction():
    assert REC["maxlen"]["timing"]["ratios"]["400 bucket"] < 0.5


def test_uci_sentences_are_short_and_mostly_padding_at_maxlen_40():
    d = REC["maxlen"]["dry_runs"]["uci-40"]
    assert d["truncated"] / d["examples"] < 0.02 and d["padding_share"] > 0.5
    a = REC["maxlen"]["dry_runs"]["amazon-150"]
    assert a["length_max"] > 10 * a["length_p50"]  # "the longest is many times the median"


# -- 2. embeddings ---------------------------------------------------------------------------------


def test_embedding_size_does_not_matter():
    rows = [row("embedding.dims.rows", model__embedding_dims=n) for n in (8, 32, 128)]
    assert all(within(a, b) for a in rows for b in rows)


def test_these_pretrained_vectors_do_not_help_and_frozen_they_hurt():
    random32 = row("embedding.dims.rows", model__embedding_dims=32)
    trained = row("embedding.pretrained.rows", model__embedding__freeze="false")
    frozen = row("embedding.pretrained.rows", model__embedding__freeze="true")
    assert within(trained, random32) and trained["sd"] > random32["sd"]  # "within noise, with a wider spread"
    assert above(random32, frozen) and above(trained, frozen)
    coverage = REC["embedding"]["vectors"]["coverage"]
    assert coverage["coverage"] < 0.5  # "less than half", so "more than half the words keep random vectors"
    assert {"battery", "acting"} <= set(coverage["missing_examples"])
    assert "excellent" in REC["embedding"]["vectors"]["neighbours"]["great"]


# -- 3. batch size, epochs, resume ----------------------------------------------------------------


def test_batch_8_beats_128_and_32_only_by_about_the_spread():
    b8, b32, b128 = (row("batch.batch.rows", train__batch_size=n) for n in (8, 32, 128))
    assert above(b8, b128)
    assert 0.5 * spread(b8, b32) < b8["mean"] - b32["mean"] < 1.5 * spread(b8, b32)  # "borderline"
    assert b8["epochs"] > b32["epochs"]  # "and run more epochs before early stopping ends them"


def _mean_curve(key: str) -> list[float]:
    trials = REC["batch"]["full"]["trials"]
    n = min(len(t["history"][key]) for t in trials)
    return [statistics.fmean(t["history"][key][i] for t in trials) for i in range(n)]


def test_without_early_stopping_the_model_learns_the_training_set_by_heart():
    train, val_loss, val_acc = _mean_curve("train_loss"), _mean_curve("val_loss"), _mean_curve("val_accuracy")
    assert train[-1] < 0.05 * train[0]  # the training loss goes to zero
    assert val_loss.index(min(val_loss)) <= 2  # the validation loss climbs from the second or third epoch
    assert val_loss[-1] > 2 * min(val_loss)
    assert val_acc.index(max(val_acc)) <= 4 and max(val_acc) - val_acc[-1] < 0.02  # peaks early, then flat
    assert base()["epochs"] < 10  # early stopping ends the runs after a handful of epochs


def test_a_run_stopped_and_resumed_ends_as_the_uninterrupted_one():
    r = REC["batch"]["resume"]
    stopped, straight, resumed = r["stopped"]["result"], r["straight"]["result"], r["resumed"]["result"]
    assert r["stopped"]["exit"] == 130 and stopped["status"] == "interrupted" and stopped["epochs_run"] == 2
    assert r["identical"]  # every column of metrics.csv but the seconds
    for key in ("status", "epochs_run", "best_epoch", "best_score"):
        assert straight[key] == resumed[key], key
    drop = lambda d: {k: v for k, v in d.items() if k != "seconds"}  # noqa: E731
    assert drop(straight["last"]) == drop(resumed["last"])


# -- 4. learning rate, optimizer, schedule, clipping, init ----------------------------------------


def opt(name, lr):
    return row("lr.optimizer.rows", train__optimizer=name, train__lr=lr)


def test_the_learning_rate_matters_at_its_ends():
    assert above(opt("adam", 0.001), opt("adam", 0.0003))
    assert opt("adam", 0.0003)["epochs"] == max(opt("adam", lr)["epochs"] for lr in (0.0003, 0.001, 0.003, 0.01, 0.03))
    for a in (0.001, 0.003, 0.01, 0.03):
        for b in (0.001, 0.003, 0.01, 0.03):
            assert within(opt("adam", a), opt("adam", b)), (a, b)
    assert above(opt("rmsprop", 0.01), opt("rmsprop", 0.003))
    assert above(opt("rmsprop", 0.01), opt("rmsprop", 0.03))


def test_adam_and_rmsprop_tie_between_0001_and_001():
    for lr in (0.001, 0.003, 0.01):
        assert within(opt("adam", lr), opt("rmsprop", lr)), lr
    assert above(opt("rmsprop", 0.0003), opt("adam", 0.0003))
    assert above(opt("adam", 0.03), opt("rmsprop", 0.03))
    best_adam = max((opt("adam", lr) for lr in (0.0003, 0.001, 0.003, 0.01, 0.03)), key=lambda r: r["mean"])
    best_rmsprop = max((opt("rmsprop", lr) for lr in (0.0003, 0.001, 0.003, 0.01, 0.03)), key=lambda r: r["mean"])
    assert within(best_adam, best_rmsprop)


def test_no_schedule_beats_a_constant_rate():
    none = row("lr.schedule.rows", train__lr_schedule__kind="none")
    for kind in ("time", "exponential", "cosine"):
        other = row("lr.schedule.rows", train__lr_schedule__kind=kind)
        assert not above(other, none), kind


def test_clipping_changes_nothing_measurable():
    for lr in (0.003, 0.03):
        assert within(
            row("lr.clip.rows", train__lr=lr, train__clip_norm="null"), row("lr.clip.rows", train__lr=lr, train__clip_norm=1.0)
        )


def test_keras_initialisation_beats_torch_by_far():
    keras, torch_ = row("lr.init.rows", model__init="keras"), row("lr.init.rows", model__init="torch")
    assert above(keras, torch_) and keras["mean"] - torch_["mean"] > 3 * spread(keras, torch_) / 2


# -- 5. the plateau ---------------------------------------------------------------------------------


def test_the_plateau_warning_fires_at_lr_1e4_in_every_seed_and_nowhere_else():
    p = REC["plateau"]
    prior = p["lr_find"]["prior_loss"]
    assert p["first"]["result"]["warnings"] and not p["rerun"]["result"]["warnings"]
    assert f"{p['first']['history']['train_loss'][2]:.4f}" in p["first"]["result"]["warnings"][0]
    assert all(loss >= 0.98 * prior for loss in p["first"]["history"]["train_loss"][:3])  # at ln 2 for three epochs
    slow = row("plateau.seeds.rows", train__lr=0.0001)
    assert slow["warned"] == slow["runs"] == 5
    assert all(r["warned"] == 0 for r in p["seeds"]["rows"] if r["train.lr"] != 0.0001)
    for t in p["seeds"]["trials"]:  # not stuck for good: by the sixth epoch the loss falls, accuracy rises
        if t["params"]["train.lr"] == 0.0001:
            h = t["history"]
            assert h["train_loss"][-1] < 0.95 * prior and h["val_accuracy"][-1] > h["val_accuracy"][0] + 0.05


def test_lr_find_suggests_a_rate_that_learns_at_once():
    p = REC["plateau"]
    found = p["lr_find"]["result"]
    assert p["lr"] == float(f"{found['suggested_lr']:.2g}")
    assert found["suggested_lr"] == pytest.approx(found["min_loss_lr"] / 10)
    prior = p["lr_find"]["prior_loss"]
    flat = [c["smoothed"] for c in p["lr_find"]["curve"] if c["lr"] <= 1e-3]
    assert all(abs(v - prior) < 0.02 * prior for v in flat[20:])  # flat at ln 2 up to about 1e-3
    assert p["rerun"]["history"]["train_loss"][0] < 0.9 * prior  # falls in the first epoch
    assert above(row("plateau.seeds.rows", train__lr=p["lr"]), row("plateau.seeds.rows", train__lr=0.0001))


def test_the_suggestion_is_a_starting_point_not_an_optimum():
    p = REC["plateau"]
    assert above(row("plateau.seeds.rows", train__lr=0.02), row("plateau.seeds.rows", train__lr=p["lr"]))
    for t in p["seeds"]["trials"]:
        if t["params"]["train.lr"] != 0.0001:
            assert t["history"]["train_loss"][-1] < 0.05


# -- 6. regularization ------------------------------------------------------------------------------


def variant(key, value):
    return row(f"regularization.variants.{key}.rows", **{key.replace(".", "__"): value})


def test_bidirectional_and_embedding_dropout_help_most():
    b = base()
    helped = [variant("model.bidirectional", "true"), variant("model.embedding_dropout", 0.5)]
    assert all(above(v, b) and 0.01 <= v["mean"] - b["mean"] <= 0.02 for v in helped)  # "by one to two points"
    others = [r for part in REC["regularization"]["variants"].values() for r in part["rows"]]
    assert max(r["mean"] for r in others) == max(v["mean"] for v in helped)


def test_l1_l2_output_and_recurrent_dropout_do_not_help():
    b = base()
    for key, value in (("train.l2", 0.0001), ("train.l2", 0.001), ("train.l1", 0.0001), ("model.output_dropout", 0.5)):
        assert variant(key, value)["mean"] <= b["mean"], key
    assert variant("model.recurrent_dropout", 0.25)["mean"] <= b["mean"]


def test_a_second_layer_is_within_noise_and_every_difference_is_small():
    b = base()
    assert within(variant("model.num_layers", 2), b)
    others = [r for part in REC["regularization"]["variants"].values() for r in part["rows"]]
    biggest = max(abs(r["mean"] - b["mean"]) for r in others)
    assert biggest <= 0.02  # "two points or less"
    keras, torch_ = row("lr.init.rows", model__init="keras"), row("lr.init.rows", model__init="torch")
    assert keras["mean"] - torch_["mean"] > biggest  # the initialisation moves the score more
    assert opt("rmsprop", 0.01)["mean"] - opt("rmsprop", 0.03)["mean"] > biggest  # and the learning rate


# -- 7. search --------------------------------------------------------------------------------------


def test_random_search_beats_the_grid_early():
    s = REC["search"]
    assert s["random"]["best"]["value"] > s["grid"]["best"]["value"]
    spent = 0
    for t in s["random"]["trials"]:
        spent += t["epochs"]
        if t["value"] == s["random"]["best"]["value"]:
            break
    assert spent <= s["grid"]["epochs_trained"] / 4  # "within its first few trials"
    assert len({t["params"]["train.lr"] for t in s["random"]["trials"]}) > 3 * len(
        {t["params"]["train.lr"] for t in s["grid"]["trials"]}
    )


def test_tpe_tries_more_configurations_and_settles_on_grus_but_finds_no_better_best():
    s = REC["search"]
    distinct = [t for t in s["tpe"]["trials"] if t["promoted_from"] is None]  # a promoted trial goes on with an earlier one
    assert len(distinct) >= 1.5 * len(s["grid"]["trials"]) and s["tpe"]["epochs_trained"] == s["grid"]["epochs_trained"]
    best = s["tpe"]["best"]
    origin = best["promoted_from"] if best["promoted_from"] is not None else best["number"]
    assert origin < 8  # startup_trials in the sweep file: its best was first reached by a random trial
    assert best["params"] == s["random"]["best"]["params"] and best["value"] == s["random"]["best"]["value"]
    guided = [t for t in distinct if t["number"] >= 8]
    gru = lambda trials: sum(t["params"]["model.cell"] == "gru" for t in trials) / len(trials)  # noqa: E731
    assert gru(guided) >= 0.9 > gru(s["random"]["trials"]) + 0.2
    middle = [t for t in guided if 0.005 <= t["params"]["train.lr"] <= 0.03]
    assert len(middle) > len(guided) / 2  # "most of them at a learning rate between 0.005 and 0.03"


def test_a_sweeps_best_value_is_optimistic_and_the_test_split_lower_again():
    s = REC["search"]
    for kind in ("grid", "random", "tpe"):
        again = s[kind]["retrained_rows"][0]
        assert s[kind]["best"]["value"] > again["max"], kind
        tests = [t["accuracy"] for t in s[kind]["test"]]
        assert statistics.fmean(tests) < again["mean"], kind
    assert within(s["random"]["retrained_rows"][0], s["grid"]["retrained_rows"][0])


# -- what carries over ------------------------------------------------------------------------------


def test_the_order_of_what_moved_the_score():
    maxlen_effect = maxlen_uci(40)["mean"] - maxlen_uci(10)["mean"]
    init_effect = row("lr.init.rows", model__init="keras")["mean"] - row("lr.init.rows", model__init="torch")["mean"]
    others = [r for part in REC["regularization"]["variants"].values() for r in part["rows"]]
    knob_effect = max(abs(r["mean"] - base()["mean"]) for r in others)
    assert maxlen_uci(40)["mean"] - maxlen_uci(5)["mean"] > init_effect > knob_effect
    assert maxlen_effect > knob_effect


def test_the_knobs_that_did_not_improve_on_the_shipped_config():
    b = base()
    rows = [r for r in REC["embedding"]["dims"]["rows"] + REC["embedding"]["pretrained"]["rows"]]
    rows += [variant("train.l2", 0.0001), variant("train.l2", 0.001), variant("train.l1", 0.0001)]
    rows += [variant("model.output_dropout", 0.5), variant("model.recurrent_dropout", 0.25), variant("model.num_layers", 2)]
    rows += [row("lr.clip.rows", train__lr=0.003, train__clip_norm="null")]
    for r in rows:
        assert not above(r, b), r
    none = row("lr.schedule.rows", train__lr_schedule__kind="none")
    assert not any(above(r, none) for r in REC["lr"]["schedule"]["rows"])
    assert not above(opt("rmsprop", 0.003), opt("adam", 0.003))


def test_the_bag_of_words_baseline_beats_the_tuned_models_on_test():
    s = REC["search"]
    tfidf = s["test_baselines"]["baselines"]["tfidf_logreg"]
    for kind in ("grid", "random", "tpe"):
        assert tfidf > statistics.fmean(t["accuracy"] for t in s[kind]["test"]), kind
    assert s["test_baselines"]["baselines"]["majority_class"] == 0.5
