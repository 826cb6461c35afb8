"""How a sweep picks and stops trials: each worker's sampler, the pruner, and Halving, the
successive halving whose pruned trials are paused, not dropped."""

from __future__ import annotations

import math
import os

from ..config import Config, SweepConfig
from .names import Attr, config_key


def make_sampler(sweep: SweepConfig, worker: int | None = 0):
    """The sampler of one worker. Every worker process has its own sampler: with one seed they would
    all draw the same parameters (the random sampler, and TPE's startup trials), so worker i draws
    from seed + i; a worker without a number (None) from a random stream."""
    import optuna

    seed = (sweep.sampler.seed + (worker if worker is not None else int.from_bytes(os.urandom(3), "big"))) % 2**32
    make = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed, n_startup_trials=sweep.sampler.startup_trials),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        # grid trials are all enqueued; the random sampler is never consulted for them
        "grid": lambda: optuna.samplers.RandomSampler(seed=seed),
    }
    return make[sweep.sampler.kind]()


def max_epochs(sweep: SweepConfig, base: Config) -> int:
    """The most epochs a trial can train (hyperband's full resource): the base config's, or the
    largest train.epochs the space offers."""
    spec = sweep.specs().get("train.epochs")
    if spec is None:
        return base.train.epochs
    return int(spec.largest())


def make_pruner(sweep: SweepConfig, base: Config):
    import optuna

    pc = sweep.pruner
    halving = lambda brackets: Halving(pc.min_epochs, max_epochs(sweep, base), pc.reduction_factor, brackets=brackets)
    make = {
        "none": lambda: optuna.pruners.NopPruner(),
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=pc.startup_trials, n_warmup_steps=pc.warmup_epochs),
        "hyperband": lambda: halving(True),
        "successive_halving": lambda: halving(False),
    }
    return make[pc.kind]()


def promoted_trials(trials) -> set[int]:
    """Numbers of the paused trials some live trial has taken up (promoted)."""
    return set(promoted_as(trials))


def promoted_as(trials) -> dict[int, int]:
    """A paused trial -> the trial that resumed its run (the latest of a retried chain)."""
    return {
        t.user_attrs[Attr.PROMOTES]: t.number
        for t in trials
        if t.user_attrs.get(Attr.PROMOTES) is not None and not t.user_attrs.get(Attr.SURPLUS)
    }


def not_moved(values: dict[int, float], step: int) -> bool:
    """Whether a trial's curve has not moved by epoch `step`: two epochs or more, every value the same.
    A classifier that still predicts one class scores its accuracy exactly again each epoch: that
    is where a configuration with a low learning rate sits before it learns (amazon-food's two best,
    at lr 0.0005, for two or three epochs), and ranking it there ranks its start, not the
    configuration. A continuous metric (a loss, an MAE) repeats exactly only when the weights have
    not changed either: then too the trial has not started learning."""
    seen = [value for epoch, value in values.items() if epoch <= step]
    return len(seen) >= 2 and all(value == seen[0] for value in seen)


class Halving:
    """Asynchronous successive halving whose pruned trials are paused, not dropped (ASHA, Li et al.
    2020), in hyperband's brackets (Li et al. 2018). Optuna calls ``prune(study, trial)`` after each
    epoch's report.

    The rungs are min_epochs * eta**k below max_epochs. Bracket b's rungs are those from the b-th on,
    and the last bracket has none: its trials train in full, as Li's last bracket does, whatever
    max_epochs is (successive_halving: bracket 0 only). New configurations fill the brackets in
    Li's order, each its share (Li's n for the bracket, as Optuna's HyperbandPruner), the most
    exploratory first, then over again: a small epoch budget is spent trying many configurations for
    min_epochs, a larger one reaches the patient brackets, where a slow starter is first judged
    after many epochs or not at all.
    At a rung, a trial goes on if it is among the best n // eta of the n configurations of its
    bracket that have reached the rung, itself included; otherwise it is paused: it ends pruned and
    its run keeps its checkpoint. A trial whose curve has not moved at its bracket's first rung
    (`not_moved`: it has not started learning) goes on unjudged to the next one.
    When later trials make a paused one among the best at its rung, `promotion` names it and a
    worker resumes its run in a new trial, exactly as if it had trained on, before any new
    configuration starts. Once none can start, a rung reached by fewer than eta
    configurations lets its best go on, or the sweep could end with nothing complete.

    Why not Optuna's pruners: an Optuna trial cannot be resumed, so they decide at once, letting the
    first trials at a rung through only if they beat every trial before them, and never revisit one
    they pruned. With the dozen trials a sweep can afford, one noisy epoch then drops good
    configurations for good; here a run resumes bit-identically, so the decision can wait.
    bench/sweep.py --replay-only measures these choices against Optuna's and Li's searches."""

    def __init__(self, min_epochs: int, max_epochs: int, eta: int, brackets: bool = True):
        self.eta = eta
        ladder = []  # the rungs: a rung at the last epoch would decide nothing, the trial has finished
        while (rung := min_epochs * eta ** len(ladder)) < max_epochs:
            ladder.append(rung)
        count = len(ladder) + 1 if brackets else 1
        self.brackets = [ladder[b:] for b in range(count)]
        # Li et al.'s n_s = ceil((s_max + 1) / (s + 1) * eta**s) configurations for bracket s_max - b.
        self.shares = [math.ceil(count * eta ** (count - 1 - b) / (count - b)) for b in range(count)]

    def rungs(self, bracket: int) -> list[int]:
        return self.brackets[min(bracket, len(self.brackets) - 1)]

    def new_bracket(self, study, trials=None) -> int:
        """The bracket for a new configuration, in Li's order: the first shares[0] configurations go to
        bracket 0, the next shares[1] to bracket 1, and so on, then over again (trials: the study's,
        when already read)."""
        if len(self.shares) == 1:
            return 0
        seen = {
            config_key(t.params)
            for t in (trials if trials is not None else study.get_trials(deepcopy=False))
            if t.user_attrs.get(Attr.BRACKET) is not None and t.params and not t.user_attrs.get(Attr.SURPLUS)
        }
        place = len(seen) % sum(self.shares)
        for bracket, share in enumerate(self.shares):
            if place < share:
                return bracket
            place -= share
        raise AssertionError("unreachable: place < sum(shares)")

    def _goes_on(self, study, trial, step: int, value: float, trials=None, final: bool = False) -> bool:
        """Whether a trial of this value is among the best n // eta at the rung `step` of its bracket
        (final: at least the best one, as no more configurations will come to tell)."""
        bracket = trial.user_attrs.get(Attr.BRACKET, 0)
        values = {config_key(trial.params): value}
        for t in trials if trials is not None else study.get_trials(deepcopy=False):
            if t.user_attrs.get(Attr.BRACKET, 0) == bracket and step in t.intermediate_values and t.params:
                values.setdefault(config_key(t.params), t.intermediate_values[step])
        keep = max(len(values) // self.eta, 1 if final else 0)
        if keep == 0:
            return False  # too few at this rung to tell yet: paused, maybe promoted later
        maximize = study.direction.name == "MAXIMIZE"
        cut = sorted(values.values(), reverse=maximize)[keep - 1]
        return value >= cut if maximize else value <= cut

    def prune(self, study, trial) -> bool:
        step = trial.last_step
        rungs = self.rungs(trial.user_attrs.get(Attr.BRACKET, 0))
        if step is None or step not in rungs:
            return False
        if step == rungs[0] and not_moved(trial.intermediate_values, step):
            return False  # not learning yet, so nothing to rank: first judged at its bracket's next rung
        return not self._goes_on(study, trial, step, trial.intermediate_values[step])

    def promotion(self, study, eligible=lambda trial: True, final: bool = False, trials=None):
        """The paused trial to resume first, or None: one now among the best at the rung where it was
        paused (the highest such rung, then the best value), not yet taken up by another trial.
        final: no new configuration will start and none is training, so a rung with fewer than eta
        configurations will never fill: its best goes on, and the sweep finishes its best ones.
        trials: the study's, when already read."""
        from optuna.trial import TrialState

        trials = trials if trials is not None else study.get_trials(deepcopy=False)
        taken = promoted_trials(trials)
        found = []
        for t in trials:
            step = t.last_step
            if (
                t.state != TrialState.PRUNED
                or t.number in taken
                or t.user_attrs.get(Attr.SAME) is not None
                or t.user_attrs.get(Attr.BUDGET)
                or step not in self.rungs(t.user_attrs.get(Attr.BRACKET, 0))
                or not eligible(t)
            ):
                continue
            if self._goes_on(study, t, step, t.intermediate_values[step], trials, final):
                found.append((step, t.intermediate_values[step], t))
        if not found:
            return None
        sign = 1 if study.direction.name == "MAXIMIZE" else -1
        return max(found, key=lambda f: (f[0], sign * f[1], -f[2].number))[2]
