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


class Halving:
    """Asynchronous successive halving whose pruned trials are paused, not dropped (ASHA, Li et al.
    2020), in hyperband's brackets. Optuna calls ``prune(study, trial)`` after each epoch's report.

    Bracket b has rungs at epochs min_epochs * eta**k for k >= b, below max_epochs (hyperband:
    Optuna's brackets and their shares of new configurations; successive_halving: bracket 0 only).
    At a rung, a trial goes on if it is among the best n // eta of the n configurations of its
    bracket that have reached the rung, itself included; otherwise it is paused: it ends pruned and
    its run keeps its checkpoint. When later trials make a paused one among the best at its rung,
    `promotion` names it and a worker resumes its run in a new trial, exactly as if it had trained
    on, before any new configuration starts. Once none can start, a rung reached by fewer than eta
    configurations lets its best go on, or the sweep could end with nothing complete.

    Why not Optuna's pruners: an Optuna trial cannot be resumed, so they decide at once, letting the
    first trials at a rung through only if they beat every trial before them, and never revisit one
    they pruned. With the dozen trials a sweep can afford, one noisy epoch then drops good
    configurations for good; here a run resumes bit-identically, so the decision can wait."""

    def __init__(self, min_epochs: int, max_epochs: int, eta: int, brackets: bool = True):
        self.eta = eta
        ladder = [min_epochs]
        while ladder[-1] * eta <= max_epochs:
            ladder.append(ladder[-1] * eta)
        count = len(ladder) if brackets else 1  # Optuna's floor(log_eta(max / min)) + 1 brackets
        # A rung at the last epoch decides nothing: the trial has finished.
        self.brackets = [[r for r in ladder[b:] if r < max_epochs] for b in range(count)]
        # Hyperband's shares of new configurations, as Optuna's HyperbandPruner (after Li et al. 2018).
        self.shares = [math.ceil(count * eta ** (count - 1 - b) / (count - b)) for b in range(count)]

    def rungs(self, bracket: int) -> list[int]:
        return self.brackets[min(bracket, len(self.brackets) - 1)]

    def new_bracket(self, study, trials=None) -> int:
        """The bracket for a new configuration: the one furthest below its share so far (trials: the
        study's, when already read)."""
        if len(self.shares) == 1:
            return 0
        seen: dict[str, int] = {}
        for t in trials if trials is not None else study.get_trials(deepcopy=False):
            if t.user_attrs.get(Attr.BRACKET) is not None and t.params and not t.user_attrs.get(Attr.SURPLUS):
                seen[config_key(t.params)] = int(t.user_attrs[Attr.BRACKET])
        counts = [list(seen.values()).count(b) for b in range(len(self.shares))]
        total = sum(self.shares)
        return max(range(len(self.shares)), key=lambda b: (self.shares[b] / total * (len(seen) + 1) - counts[b], -b))

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
        if step is None or step not in self.rungs(trial.user_attrs.get(Attr.BRACKET, 0)):
            return False
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
