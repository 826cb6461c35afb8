"""The sweep file's schema: the searched space, sampler, pruner, objective and workers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from .run import Config
from .schema import COUNT_MAX, SEED_MAX, Monitor, _Section, direction_of


class ParamSpec(_Section):
    """One searched key, written as a mapping. A plain YAML list is short for {kind: choice, values: LIST}."""

    kind: Literal["choice", "int", "uniform", "loguniform"] = Field(
        description="choice: one of values; int: an integer in [low, high] by step; uniform, loguniform: a float in [low, "
        "high] (loguniform for learning rates)."
    )
    values: list[Any] | None = Field(None, min_length=1, description="choice: the candidates (any YAML values).")
    low: float | None = Field(None, description="int, uniform, loguniform: the lower bound (included).")
    high: float | None = Field(None, description="int, uniform, loguniform: the upper bound (included).")
    step: float | None = Field(None, gt=0, description="int: the step (default 1); uniform: an optional grid step.")

    @model_validator(mode="after")
    def _complete(self) -> ParamSpec:
        if self.kind == "choice":
            if self.values is None:
                raise ValueError("kind choice needs values: [...]")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"kind {self.kind} needs low and high")
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        if self.kind == "loguniform" and self.low <= 0:
            raise ValueError("loguniform needs low > 0")
        if self.kind == "int" and (
            self.low != int(self.low) or self.high != int(self.high) or (self.step or 1) != int(self.step or 1)
        ):
            raise ValueError("kind int needs whole numbers for low, high and step")
        return self

    def grid(self) -> list[Any] | None:
        """Every value of a finite spec (choice, int, uniform with step), else None."""
        if self.kind == "choice":
            return list(self.values)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.kind == "uniform" and self.step:
            count = int(round((self.high - self.low) / self.step)) + 1
            return [round(self.low + k * self.step, 12) for k in range(count) if self.low + k * self.step <= self.high + 1e-12]
        return None

    def largest(self) -> Any:
        """The spec's largest value (hyperband's full resource when the key is train.epochs)."""
        return max(self.values) if self.kind == "choice" else self.high

    def edges(self) -> list[Any]:
        """Values that together exercise the spec's range, for checking it against the base config."""
        return self.grid() if self.kind == "choice" else [int(self.low) if self.kind == "int" else self.low, self.high]


class SamplerConfig(_Section):
    """How trials pick their parameters."""

    kind: Literal["grid", "random", "tpe"] = Field(
        "tpe",
        description="grid: every combination exactly once; random: independent draws; tpe: Bayesian optimization "
        "(Optuna's TPE), random for the first startup_trials.",
    )
    seed: int = Field(
        0,
        ge=0,
        le=SEED_MAX,
        description="Sampler seed: one worker reproduces the same suggestions; with --workers N, worker i draws from seed + i.",
    )
    startup_trials: int = Field(
        10, ge=1, le=COUNT_MAX, description="tpe: random trials before the model of good regions is used."
    )

    @property
    def exhaustive(self) -> bool:
        """A grid: the trials are the space's points, enqueued up front, each run once."""
        return self.kind == "grid"


class PrunerConfig(_Section):
    """Stopping unpromising trials early, judged on the objective metric once per epoch."""

    kind: Literal["auto", "none", "median", "hyperband", "successive_halving"] = Field(
        "auto",
        description="auto: hyperband for random and tpe, none for a grid; median: stop a trial worse than the median at "
        "its epoch; successive_halving, hyperband: pause all but the best 1/reduction_factor at each rung.",
    )
    warmup_epochs: int = Field(1, ge=0, le=COUNT_MAX, description="median: never prune before this many epochs.")
    startup_trials: int = Field(3, ge=0, le=COUNT_MAX, description="median: trials that must finish before any pruning.")
    min_epochs: int = Field(
        2,
        ge=1,
        le=COUNT_MAX,
        description="hyperband, successive_halving: epochs every trial gets (the first rung: one epoch tells little; a "
        "trial whose score has not moved since its first epoch goes on to the next unjudged).",
    )
    reduction_factor: int = Field(3, ge=2, le=1000, description="hyperband, successive_halving: how selective each rung is.")


class ObjectiveConfig(_Section):
    """What a trial is scored on: the best value of a metrics.csv column over its epochs."""

    metric: Monitor | None = Field(
        None, description="Column of metrics.csv to optimize; null: the base config's train.early_stopping.monitor."
    )
    direction: Literal["auto", "maximize", "minimize"] = Field(
        "auto", description="auto: maximize accuracy, balanced accuracy, F1, ROC-AUC and PR-AUC, minimize losses and errors."
    )


class HeartbeatConfig(_Section):
    """How a worker that died (or hangs) is noticed, so that its trial is retried."""

    interval: int = Field(10, ge=1, le=86_400, description="PostgreSQL: seconds between a running trial's heartbeats.")
    grace: int = Field(
        60, ge=2, le=COUNT_MAX, description="PostgreSQL: a trial without a heartbeat for this long is failed and retried."
    )
    max_retry: int = Field(3, ge=0, le=1000, description="How many times one trial is retried after its worker died.")


class SweepConfig(_Section):
    """A hyperparameter search over a base config: every trial is an ordinary run folder."""

    name: str = Field(
        "sweep", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="Sweep name, used in the sweep folder name."
    )
    base: str = Field(description="The base config (a path relative to the sweep file); every trial starts from it.")
    set: dict[str, Any] = Field(
        default_factory=dict, description="Fixed overrides of the base config for every trial, {dotted.key: value}."
    )
    space: dict[str, ParamSpec] = Field(
        min_length=1,
        description="Searched keys, each {dotted.key: [choices]} or {dotted.key: {kind, values}} or "
        "{dotted.key: {kind, low, high, step}}.",
    )
    objective: ObjectiveConfig = Field(default_factory=ObjectiveConfig, description="The score of a trial.")
    sampler: SamplerConfig = Field(default_factory=SamplerConfig, description="How parameters are chosen.")
    pruner: PrunerConfig = Field(default_factory=PrunerConfig, validate_default=True, description="Early stopping of bad trials.")
    trials: int | None = Field(
        None,
        validate_default=True,
        ge=1,
        le=COUNT_MAX,
        description="Trials in total, finished or pruned (repeats of a configuration do not count); null: the grid's size "
        "(grid only).",
    )
    epoch_budget: int | None = Field(
        None,
        validate_default=True,
        ge=1,
        le=1000 * COUNT_MAX,
        description="random, tpe: training epochs the whole sweep may spend; once spent, no trial starts and the one "
        "training stops as pruned. null: no limit.",
    )
    workers: int = Field(
        1, ge=1, le=64, description="Local worker processes (--workers overrides); each gets cores/workers threads."
    )
    heartbeat: HeartbeatConfig = Field(default_factory=HeartbeatConfig, description="Dead-worker detection and retry.")

    @field_validator("space", mode="before")
    @classmethod
    def _lists_are_choices(cls, space: Any) -> Any:
        if isinstance(space, dict):
            return {k: {"kind": "choice", "values": v} if isinstance(v, list) else v for k, v in space.items()}
        return space

    # Each check of keys against each other is a validator of the later key (the earlier ones are in
    # info.data when valid), so that it is reported with every other problem of the file, at that key.
    @field_validator("sampler")
    @classmethod
    def _finite_grid(cls, sampler: SamplerConfig, info: ValidationInfo) -> SamplerConfig:
        space = info.data.get("space")
        if sampler.kind == "grid" and space is not None:
            infinite = [k for k, spec in space.items() if spec.grid() is None]
            if infinite:
                raise ValueError(
                    f"grid needs a finite set of values for every key; {', '.join(infinite)} "
                    "is continuous (give a list, kind int, or uniform with a step)"
                )
        return sampler

    @field_validator("pruner")
    @classmethod
    def _auto_pruner(cls, pruner: PrunerConfig, info: ValidationInfo) -> PrunerConfig:
        """auto becomes the pruner it stands for, here, once: every reader of the sweep sees that kind."""
        sampler = info.data.get("sampler")
        if pruner.kind == "auto" and sampler is not None:
            return pruner.model_copy(update={"kind": "none" if sampler.exhaustive else "hyperband"})
        return pruner

    @field_validator("trials")
    @classmethod
    def _trials_fit_sampler(cls, trials: int | None, info: ValidationInfo) -> int | None:
        sampler, space = info.data.get("sampler"), info.data.get("space")
        if sampler is None:
            return trials  # invalid: reported on its own
        if sampler.kind != "grid":
            if trials is None:
                raise ValueError(f"required with sampler {sampler.kind} (only a grid has a natural size)")
        elif trials is not None and space is not None and trials > (size := _grid_size(space)):
            raise ValueError(f"{trials} is more than the grid has points ({size})")
        return trials

    @field_validator("epoch_budget")
    @classmethod
    def _budget_needs_a_search(cls, budget: int | None, info: ValidationInfo) -> int | None:
        sampler = info.data.get("sampler")
        if budget is not None and sampler is not None and sampler.kind == "grid":
            raise ValueError("needs sampler random or tpe (a grid trains every point; give trials to cut it)")
        return budget

    def specs(self) -> dict[str, ParamSpec]:
        return self.space

    def grid_size(self) -> int:
        return _grid_size(self.space)

    @property
    def total_trials(self) -> int:
        return self.trials if self.trials is not None else self.grid_size()


def sweep_document(sweep: SweepConfig, base: str) -> dict[str, Any]:
    """The sweep as the keys of a sweep file that loads back to it, over the config at ``base``:
    every key written out, defaults included (a later default cannot change it); a choice as its
    list, any other spec without the bounds it does not use."""
    doc = sweep.model_dump(mode="json")
    doc["base"] = base
    doc["space"] = {
        key: spec.values if spec.kind == "choice" else spec.model_dump(mode="json", exclude_none=True)
        for key, spec in sweep.space.items()
    }
    return doc


def _grid_size(space: dict[str, ParamSpec]) -> int:
    size = 1
    for spec in space.values():
        size *= len(spec.grid() or [])
    return size


@dataclass
class SweepParts:
    """What can be checked against the base config of a sweep file that is invalid as a whole: its
    `set`, each valid entry of its `space`, its objective (None when invalid)."""

    set: dict[str, Any]
    space: dict[str, ParamSpec]
    objective: ObjectiveConfig | None

    def specs(self) -> dict[str, ParamSpec]:
        return self.space


def sweep_parts(raw: dict) -> SweepParts:
    """The parts of a sweep file's keys (``raw``) that are valid on their own (each invalid one is
    among the errors of validating the whole)."""
    fixed = raw.get("set")
    fixed = {k: v for k, v in fixed.items() if isinstance(k, str)} if isinstance(fixed, dict) else {}
    space = SweepConfig._lists_are_choices(raw.get("space"))
    specs = {}
    for key, spec in space.items() if isinstance(space, dict) else ():
        try:
            specs[str(key)] = ParamSpec.model_validate(spec)
        except ValidationError:
            pass
    try:
        objective = ObjectiveConfig.model_validate(raw.get("objective") or {})
    except ValidationError:
        objective = None
    return SweepParts(fixed, specs, objective)


def objective_of(sweep: SweepConfig | SweepParts, base: Config) -> tuple[str, str]:
    """(metric, maximize|minimize) that the sweep optimizes."""
    metric = sweep.objective.metric or base.train.early_stopping.monitor
    direction = sweep.objective.direction
    if direction == "auto":
        direction = "maximize" if direction_of(metric) == "max" else "minimize"
    return metric, direction
