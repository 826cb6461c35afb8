"""The training sections and the whole run config (`Config`), checked across sections."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .schema import (
    COUNT_MAX,
    SEED_MAX,
    VAL_METRICS,
    DataConfig,
    ModelConfig,
    Monitor,
    _Section,
    direction_of,
    flatten,
    label_text,
    metric_applies,
    task_metrics,
)


def check_device(name: str) -> str:
    """The one spelling of a device, for train.device and the --device flags (no torch needed)."""
    if not re.match(r"^(auto|cpu|cuda(:[0-9]+)?)$", name):
        raise ValueError("expected auto, cpu, cuda or cuda:N")
    return name


class EarlyStoppingConfig(_Section):
    """Stop when the monitored value stops improving; also decides which epoch is `best.pt`."""

    enabled: bool = Field(True, description="Stop early; when false, training runs all epochs but best.pt is still tracked.")
    monitor: Monitor = Field(
        "val_loss",
        description="The metrics.csv column that decides improvement and best.pt (val_mae and val_rmse for forecasting, "
        "in the target's units).",
    )
    mode: Literal["auto", "min", "max"] = Field(
        "auto", description="auto: max for accuracy, balanced accuracy, F1, ROC-AUC and PR-AUC, min for the rest."
    )
    patience: int = Field(3, ge=0, le=COUNT_MAX, description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0.0, description="Smallest change that counts as an improvement.")
    restore_best: bool = Field(True, description="Evaluate the best epoch's weights (best.pt) by default instead of the last.")

    @property
    def resolved_mode(self) -> str:
        return self.mode if self.mode != "auto" else direction_of(self.monitor)


class ScheduleConfig(_Section):
    """Learning rate over epochs, after an optional linear warmup."""

    kind: Literal["none", "time", "step", "exponential", "cosine", "plateau"] = Field(
        "none",
        description="none (constant), time (lr/(1+decay*epoch)), step (times gamma every step_size epochs), exponential, "
        "cosine (down to min_lr) or plateau (times gamma when monitor stalls).",
    )
    decay: float = Field(0.0, ge=0.0, description="time: the decay constant.")
    step_size: int = Field(10, ge=1, le=COUNT_MAX, description="step: epochs between drops.")
    gamma: float = Field(0.1, gt=0.0, le=1.0, description="step, exponential, plateau: the factor.")
    min_lr: float = Field(0.0, ge=0.0, description="cosine, plateau: the lowest learning rate.")
    patience: int = Field(2, ge=0, le=COUNT_MAX, description="plateau: epochs without improvement before a drop.")
    monitor: Monitor = Field("val_loss", description="plateau: value watched.")
    warmup_epochs: int = Field(
        0, ge=0, le=COUNT_MAX, description="Raise the lr linearly batch by batch from ~0 over this many epochs first."
    )


class MlflowConfig(_Section):
    """MLflow tracking of a run (train.mlflow: true is short for enabled: true)."""

    enabled: bool = Field(
        False,
        description="Also log the run to MLflow: params, each epoch's metrics, tags, artifacts and evaluate's scores; a "
        "resume continues it (the mlflow extra).",
    )
    tracking_uri: str | None = Field(
        None,
        description="Where MLflow logs (a server's http:// URL or a store URI); null: MLFLOW_TRACKING_URI, else the runs "
        "folder's own store.",
    )
    experiment: str = Field("rnnexp", min_length=1, max_length=500, description="MLflow experiment the runs are logged under.")


# What train.epsilon and train.rho are when null, for each train.optimizer_defaults: Keras 3's
# optimizers' defaults, and torch.optim's.
OPTIMIZER_DEFAULTS = {"keras": {"epsilon": 1e-7, "rho": 0.9}, "torch": {"epsilon": 1e-8, "rho": 0.99}}


class TrainConfig(_Section):
    """Optimization loop."""

    epochs: int = Field(10, ge=1, le=COUNT_MAX, description="Maximum number of epochs.")
    batch_size: int = Field(32, ge=1, le=10 * COUNT_MAX, description="Examples per training batch.")
    lr: float = Field(1e-3, gt=0.0, le=1e6, description="Learning rate.")
    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = Field("adam", description="Optimizer.")
    loss: Literal["auto", "cross_entropy", "mse", "mae", "huber"] = Field(
        "auto", description="auto: cross_entropy for classification, mse for forecasting (on normalized values)."
    )
    balance_steps: bool | None = Field(
        None,
        description="forecasting: weigh each step ahead's error in the loss by 1 / persistence's mean absolute error "
        "there on the training windows (null: on for forecasting; false in run folders from before this key).",
    )
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="Momentum for sgd and rmsprop.")
    optimizer_defaults: Literal["keras", "torch"] = Field(
        "keras",
        description="How adam, adamw and rmsprop step, and epsilon and rho when null: keras (Keras 3's rules; 1e-7, "
        "0.9) or torch (torch.optim's; 1e-8, 0.99). Run folders from before this key read as torch.",
    )
    epsilon: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="adam, adamw, rmsprop: the term that keeps the step finite; null: as optimizer_defaults says.",
    )
    rho: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        description="rmsprop: decay of the squared-gradient average (Keras' rho, torch's alpha); null: as "
        "optimizer_defaults says.",
    )
    weight_decay: float = Field(0.0, ge=0.0, description="Weight decay passed to the optimizer (decoupled for adamw).")
    clip_norm: float | None = Field(
        None,
        gt=0.0,
        description="Clip the global gradient norm to this value (null: no clipping); tames exploding RNN gradients.",
    )
    clip_value: float | None = Field(None, gt=0.0, description="Clip every gradient element to [-clip_value, clip_value].")
    l1: float = Field(
        0.0, ge=0.0, description="L1 penalty on the weight matrices (not biases, not embeddings), added to the loss."
    )
    l2: float = Field(
        0.0, ge=0.0, description="L2 penalty (sum of squares) on the weight matrices, added to the loss; apart from weight_decay."
    )
    lr_schedule: ScheduleConfig = Field(default_factory=ScheduleConfig, description="Learning-rate schedule.")
    plateau_warning: int | None = Field(
        3,
        ge=1,
        le=COUNT_MAX,
        description="Warn when after this many epochs the training loss is still within 2% of predicting the class "
        "frequencies (try a larger lr); null: never.",
    )
    baselines: bool = Field(
        True,
        description="Fit the simple baselines (TF-IDF + logistic regression, channel summaries, ridge) on the training "
        "split and score them beside the run; false skips them.",
    )
    class_weight: Literal["none", "balanced"] | dict[str, float] = Field(
        "none",
        description="Classification: weigh the training loss by class, as Keras' class_weight: none, balanced "
        "(inverse class frequency in the training split), or {label: weight} (a label left out weighs 1).",
    )
    seed: int = Field(42, ge=0, le=SEED_MAX, description="Seed for weights, shuffling and dropout.")
    device: str = Field(
        "auto",
        description="auto, cpu, cuda or cuda:N (auto: cuda when there is one); train --device sets it.",
    )
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32",
        description="fp32, or mixed precision under torch.autocast: bf16, or fp16 with a gradient scaler (CUDA only); "
        "evaluation runs in float32.",
    )
    deterministic: bool = Field(
        False,
        description="Ask torch and cuDNN for deterministic kernels, so a CUDA run repeats and resumes to the same bits "
        "(an op without one fails the run).",
    )
    threads: int | None = Field(None, ge=1, le=4096, description="CPU threads for torch (null: torch's default).")
    tensorboard: bool = Field(
        False,
        description="Also write each epoch's metrics as TensorBoard scalars in the run's tensorboard/ folder (the "
        "tensorboard extra).",
    )
    mlflow: MlflowConfig = Field(
        default_factory=MlflowConfig, description="MLflow tracking; true or false is short for {enabled: true|false}."
    )
    early_stopping: EarlyStoppingConfig = Field(
        default_factory=EarlyStoppingConfig, description="Early stopping and best-epoch tracking."
    )

    def optimizer_settings(self) -> dict[str, object]:
        """The optimizer as it runs: its rule, and every value it steps with, null keys resolved
        through optimizer_defaults (meta.json records this; make_optimizer builds from it)."""
        settings: dict[str, object] = {"name": self.optimizer, "lr": self.lr, "weight_decay": self.weight_decay}
        if self.optimizer == "sgd":
            return {**settings, "momentum": self.momentum}
        defaults = OPTIMIZER_DEFAULTS[self.optimizer_defaults]
        settings.update(rule=self.optimizer_defaults, epsilon=self.epsilon if self.epsilon is not None else defaults["epsilon"])
        if self.optimizer == "rmsprop":
            settings.update(rho=self.rho if self.rho is not None else defaults["rho"], momentum=self.momentum)
        return settings

    @field_validator("mlflow", mode="before")
    @classmethod
    def _mlflow_switch(cls, value):
        return {"enabled": value} if isinstance(value, bool) else value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        return check_device(value)

    @field_validator("class_weight", mode="before")
    @classmethod
    def _labels_are_text(cls, value):
        # YAML reads {0: 1.0, 1: 3.0} with number keys; labels are text, read as the data's are
        if isinstance(value, dict):
            return {label_text(k): v for k, v in value.items()}
        return value

    @field_validator("class_weight")
    @classmethod
    def _positive_weights(cls, value):
        if isinstance(value, dict):
            if not value:
                raise ValueError("an empty mapping; give {label: weight, ...}, balanced or none")
            wrong = [f"{k}: {w}" for k, w in value.items() if not w > 0]
            if wrong:
                raise ValueError(f"every weight must be > 0, got {', '.join(wrong)}")
        return value


class Config(_Section):
    """A whole experiment."""

    name: str = Field(
        "run",
        max_length=200,
        description="Run name, in the run folder's name (letters, digits, . _ -; at most 64): {key} fields put config "
        "values in it, e.g. uci-{cell}-{num_neurons}.",
    )
    data: DataConfig = Field(description="Data source and preprocessing.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="Network.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Training loop.")

    @field_validator("name", mode="before")
    @classmethod
    def _name_is_text(cls, value):
        if isinstance(value, dict):  # YAML reads name: {cell}-x as a mapping
            raise ValueError('a name that starts with { must be quoted in YAML: name: "{cell}-run"')
        return value

    @property
    def run_name(self) -> str:
        """The name of this run's folder: `name` with its {key} fields filled in."""
        return expand_name(self.name, self.model_dump(mode="json"))

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        self.run_name  # noqa: B018 (a name that cannot be expanded is a config error, not a failed run)
        has_val = self.data.val_split > 0 or self.data.val_file is not None
        schedule = self.train.lr_schedule
        for key, monitor in (
            ("train.early_stopping.monitor", self.train.early_stopping.monitor),
            ("train.lr_schedule.monitor", schedule.monitor if schedule.kind == "plateau" else None),
        ):
            if monitor in VAL_METRICS and not has_val:
                raise ValueError(
                    f"{key} is {monitor!r} but there is no validation data; set data.val_split > 0, data.val_file, "
                    "or monitor train_loss"
                )
        if self.model.head == "flatten" and self.data.bucket:
            raise ValueError("model.head flatten needs every sequence at data.maxlen; it cannot be used with data.bucket")
        forecasting = self.data.is_forecasting
        for key, monitor in (
            ("train.early_stopping.monitor", self.train.early_stopping.monitor),
            ("train.lr_schedule.monitor", schedule.monitor),
        ):
            if not metric_applies(monitor, self.data.task):
                raise ValueError(
                    f"{key} {monitor} does not apply to {self.data.task} (it has {', '.join(task_metrics(self.data.task))})"
                )
        if forecasting and self.train.class_weight != "none":
            raise ValueError("train.class_weight is for classification; a forecasting run has no classes (remove the key)")
        if forecasting and self.train.loss == "cross_entropy":
            raise ValueError("train.loss cross_entropy is for classification; forecasting takes mse, mae or huber")
        if not forecasting and self.train.balance_steps:
            raise ValueError("train.balance_steps is for forecasting; a classification run has one output per example")
        if not forecasting and self.train.loss in ("mse", "mae", "huber"):
            raise ValueError(f"train.loss {self.train.loss} is for forecasting; classification takes cross_entropy")
        if self.data.task != "text_classification" and self.model.embedding.pretrained:
            raise ValueError(f"model.embedding.pretrained is for text; {self.data.task} reads numbers directly")
        return self

    @property
    def balances_steps(self) -> bool:
        """train.balance_steps as it applies: null is on for forecasting (measured: docs/benchmarks.md)."""
        return self.data.is_forecasting if self.train.balance_steps is None else self.train.balance_steps

    @property
    def loss(self) -> str:
        if self.train.loss != "auto":
            return self.train.loss
        return "mse" if self.data.is_forecasting else "cross_entropy"


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_FIELD = re.compile(r"\{([^{}]*)\}")


def expand_name(template: str, tree: dict) -> str:
    """`name` with each {key} replaced by that config value (the one reading of the template):
    a dotted key, or a last part that only one key has. Characters a folder name cannot hold
    become '-'."""
    flat = flatten({k: v for k, v in tree.items() if k != "name"})
    ends: dict[str, list[str]] = {}
    for key in flat:
        ends.setdefault(key.rsplit(".", 1)[-1], []).append(key)

    def value(match: re.Match) -> str:
        key = match.group(1).strip()
        found = [key] if key in flat else ends.get(key, [])
        if len(found) > 1:
            raise ValueError(f"name: {{{key}}} is several keys; write one of " + ", ".join(f"{{{k}}}" for k in found))
        if not found:
            raise ValueError(f"name: {{{key}}} is not a config key; e.g. {{cell}}, {{num_neurons}} or {{train.lr}}")
        v = flat[found[0]]
        if isinstance(v, list | dict):
            raise ValueError(f"name: {{{key}}} is {found[0]}, which holds several values; name a single key in it")
        text = str(v).lower() if isinstance(v, bool) or v is None else str(v)
        return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "-"

    name = _FIELD.sub(value, template)
    if not _NAME.match(name):
        shown = f"{template!r} gives {name!r}" if name != template else repr(name)
        raise ValueError(f"name: {shown}; a run name is 1 to 64 letters, digits, . _ or -, starting with a letter or digit")
    return name
