"""The config schema (the schema is the documentation) and loading YAML + overrides into it.

This module must stay light: `rnnexp validate` and `rnnexp --help` import it and must not
pull in torch.
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError, clip

TEXT_DATASETS = ("amazon-food", "uci-sentiment")
SERIES_DATASETS = ("vic-elec", "seattle-weather")
VAL_METRICS = ("val_loss", "val_accuracy", "val_f1", "val_mae", "val_rmse")
Monitor = Literal["val_loss", "val_accuracy", "val_f1", "val_mae", "val_rmse", "train_loss"]
HIGHER_IS_BETTER = ("accuracy", "f1", "precision", "recall")


def direction_of(metric: str) -> Literal["max", "min"]:
    """Whether a metric improves upwards ("max": accuracy, F1, precision, recall) or downwards
    ("min": losses and errors), with or without a val_/test_/train_ prefix. The one rule that early
    stopping, the plateau schedule, sweep objectives, evaluate's verdict and the runs, compare and
    plot tables all follow."""
    name = metric.removeprefix("val_").removeprefix("test_").removeprefix("train_")
    return "max" if name in HIGHER_IS_BETTER else "min"


# Upper bounds that no machine can exceed (whether a config fits *this* machine's memory is checked
# when training starts, with the data in hand: model.check_memory). Seeds: what numpy and torch take.
SEED_MAX = 2**32 - 1
COUNT_MAX = 1_000_000  # epochs, patience, window rows, ...
UNITS_MAX = 65_536  # hidden units, embedding dimensions
LAYERS_MAX = 100


class _Section(BaseModel):
    # Unknown keys are errors, not silently ignored: a typo must never train with a default.
    # Floats must be finite: .inf or .nan in a config is always a mistake, and would surface only
    # later as "loss is not finite".
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class AugmentConfig(_Section):
    """Random word edits applied to training batches only (seeded; the same on resume)."""

    insert: float = Field(
        0.0, ge=0.0, le=1.0, description="Per word, probability of inserting a random vocabulary word after it."
    )
    delete: float = Field(
        0.0, ge=0.0, lt=1.0, description="Per word, probability of deleting it (a text never loses its last word)."
    )
    swap: float = Field(0.0, ge=0.0, le=1.0, description="Per word, probability of swapping it with the next word.")

    @property
    def enabled(self) -> bool:
        return self.insert > 0 or self.delete > 0 or self.swap > 0


class DataConfig(_Section):
    """Where the examples come from and how they become fixed-length sequences."""

    task: Literal["text_classification", "forecasting", "sequence_classification"] = Field(
        "text_classification",
        description="text_classification: label each text. forecasting: predict a column of a time series "
        "from the lookback window before it. sequence_classification: label each multichannel numeric sequence.",
    )
    dataset: Literal["amazon-food", "uci-sentiment", "vic-elec", "seattle-weather", "digits"] | None = Field(
        None,
        description="Built-in dataset. Text: amazon-food (4000 train / 1000 test Amazon fine-food reviews, label "
        "great/other), uci-sentiment (3000 labelled sentences read from $RNNEXP_DATA_DIR/uci-sentiment). Series: "
        "vic-elec (half-hourly electricity demand in MW and temperature, Victoria 2012-2014, 52,608 rows), "
        "seattle-weather (daily, 1,461 rows). Sequences: digits (scikit-learn's 1,797 8x8 handwritten digits read "
        "row by row: 8 steps of 8 channels, 10 classes). Give either this or train_file.",
    )
    train_file: str | None = Field(
        None,
        description="CSV, TSV or JSONL file with training examples (relative to the config file); for "
        "sequence_classification a long-format CSV or a folder with one sub-folder of CSV files per class.",
    )
    val_file: str | None = Field(None, description="Optional validation file; otherwise val_split of training data is held out.")
    test_file: str | None = Field(
        None, description="Optional test file; otherwise test_split is held out when the data has no test set."
    )
    format: Literal["auto", "csv", "tsv", "jsonl"] = Field(
        "auto", description="File format; auto picks from the extension (.csv, .tsv/.txt, .jsonl/.json)."
    )
    encoding: str = Field(
        "utf-8",
        description="Text encoding of the data files (any codec Python knows; latin-1 and cp1252 are common for "
        "Western European text). A UTF-8 byte-order mark is skipped. A byte the encoding cannot decode is an "
        "error naming its line and column.",
    )
    columns: list[str] | None = Field(
        None, description="Column names for CSV/TSV files without a header row, e.g. [text, label]."
    )
    text_column: str = Field("text", description="Column holding the text.")
    label_column: str = Field("label", description="Column holding the class label (any values; two or more classes).")
    lowercase: bool = Field(True, description="Lower-case text before tokenizing.")
    max_vocab: int | None = Field(
        20000,
        ge=1,
        le=2**31 - 1,
        description="Keep only the most frequent words (null: keep all). Others map to the out-of-vocabulary token.",
    )
    min_freq: int = Field(1, ge=1, le=2**31 - 1, description="Drop words seen fewer times than this in the training split.")
    maxlen: int = Field(
        200,
        ge=1,
        le=COUNT_MAX,
        description="Sequence length in tokens after padding/truncation (sequence_classification: at most this many steps).",
    )
    padding: Literal["pre", "post"] = Field(
        "pre",
        description="Pad short texts at the start (pre) or end (post), as Keras pad_sequences "
        "(numeric sequences are always padded at the end and masked).",
    )
    truncating: Literal["pre", "post"] = Field(
        "pre", description="Cut long sequences at the start (pre: keep the end) or end (post: keep the start)."
    )
    val_split: float = Field(
        0.1, ge=0.0, lt=1.0, description="Share of training examples held out for validation when there is no val_file."
    )
    test_split: float = Field(
        0.1, ge=0.0, lt=1.0, description="Share held out for test, used only when the data has no test set of its own."
    )
    split_seed: int = Field(
        0,
        ge=0,
        le=SEED_MAX,
        description="Seed of the stratified train/val/test split; separate from train.seed so that "
        "seeds can vary over the same split.",
    )
    positive_label: str | None = Field(
        None, description="Positive class for binary precision/recall/F1; default the second label in sorted order."
    )
    time_column: str | None = Field(None, description="forecasting: column of timestamps (kept for reports, not an input).")
    target: str | None = Field(
        None, description="forecasting: column to predict (built-ins: Demand for vic-elec, temp_max for seattle-weather)."
    )
    features: list[str] | None = Field(
        None,
        description="forecasting: input columns; the target's past is always one of them (null: built-in default, "
        "or the target alone).",
    )
    sequence_column: str = Field("sequence", description="sequence_classification: column of sequence ids (long-format CSV).")
    step_column: str | None = Field(
        None, description="sequence_classification: column ordering the steps of a sequence (null: file order)."
    )
    lookback: int = Field(48, ge=1, le=COUNT_MAX, description="forecasting: rows in each input window.")
    horizon: int = Field(
        1, ge=1, le=COUNT_MAX, description="forecasting: how many rows ahead of the window's last row to predict."
    )
    multi_output: bool = Field(False, description="forecasting: predict every step 1..horizon, not only the horizon-th.")
    stride: int = Field(1, ge=1, le=COUNT_MAX, description="forecasting: rows between the starts of consecutive windows.")
    normalize: Literal["standard", "minmax", "none"] = Field(
        "standard", description="forecasting and sequence_classification: per-column scaling, fitted on training data only."
    )
    season: int | None = Field(
        None,
        ge=1,
        le=COUNT_MAX,
        description="forecasting: season length in rows (48 for a day of half-hours); adds the seasonal-naive baseline.",
    )
    bucket: bool = Field(
        False,
        description="Batch examples of similar length together and pad each batch only to its longest example, "
        "not to maxlen (faster epochs on data of mixed lengths). Evaluation then groups examples of equal "
        "length, so a prediction never depends on the rest of its batch.",
    )
    augment: AugmentConfig = Field(default_factory=AugmentConfig, description="Word-level text augmentation.")

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        import codecs

        try:
            info = codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}; expected a codec Python knows (utf-8, latin-1, cp1252, ...)") from None
        if not getattr(info, "_is_text_encoding", True):
            raise ValueError(f"{value!r} is not a text encoding; expected utf-8, latin-1, cp1252, ...")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.dataset is None) == (self.train_file is None):
            raise ValueError("give exactly one of data.dataset or data.train_file")
        if self.task == "forecasting":
            if self.dataset in TEXT_DATASETS:
                raise ValueError(
                    f"data.dataset {self.dataset} is text; forecasting takes {' or '.join(SERIES_DATASETS)} or a CSV"
                )
            if self.val_file or self.test_file:
                raise ValueError("forecasting splits one series by time: use data.val_split/test_split, not val_file/test_file")
            if self.bucket or self.augment.enabled:
                raise ValueError("data.bucket and data.augment are for text; forecasting windows all have lookback rows")
        elif self.task == "sequence_classification":
            if self.dataset is not None and self.dataset != "digits":
                raise ValueError(f"data.dataset {self.dataset} is not a labelled sequence set; use digits or data.train_file")
            if self.bucket or self.augment.enabled:
                raise ValueError("data.bucket and data.augment are for text")
        elif self.dataset in SERIES_DATASETS:
            raise ValueError(f"data.dataset {self.dataset} is a time series: set data.task: forecasting")
        elif self.dataset == "digits":
            raise ValueError("data.dataset digits is a set of sequences: set data.task: sequence_classification")
        return self

    @property
    def is_forecasting(self) -> bool:
        return self.task == "forecasting"


class EmbeddingConfig(_Section):
    """Start the word vectors from a pretrained file."""

    pretrained: str | None = Field(
        None,
        description="word2vec or GloVe vectors (text, .gz text, or word2vec .bin), relative to the config file. "
        "model.embedding_dims must match the file (or be left null).",
    )
    freeze: bool = Field(False, description="Keep the pretrained vectors fixed during training.")


class ModelConfig(_Section):
    """Embedding -> recurrent layers -> head."""

    cell: Literal["rnn", "gru", "lstm"] = Field("gru", description="Recurrent cell: rnn (Elman, tanh), gru or lstm.")
    embedding_dims: int | None = Field(
        None, ge=1, le=UNITS_MAX, description="Size of the word vectors (null: 32, or the pretrained file's dimension)."
    )
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig, description="Pretrained word vectors.")
    num_neurons: int | list[int] = Field(
        32,
        description="Hidden units per recurrent layer (per direction), 1 to 65536; a list gives each layer its own size, "
        "e.g. [64, 32] (at most 100 layers).",
    )
    num_layers: int | None = Field(
        None, ge=1, le=LAYERS_MAX, description="Stacked recurrent layers (null: 1, or the length of a num_neurons list)."
    )
    bidirectional: bool = Field(False, description="Run each layer forwards and backwards and concatenate.")
    mask: bool = Field(
        False,
        description="Keras mask_zero for text: padded steps leave the state unchanged, and the mean/max heads ignore "
        "them, whichever side data.padding puts them on (real tokens are moved to the front inside the model, "
        "so the recurrent layers never read a padding step before a real one; with bidirectional, the backward "
        "direction reads the real tokens only). Not with head flatten. Off by default, as in Keras.",
    )
    head: Literal["last", "mean", "max", "flatten"] = Field(
        "last",
        description="Sequence summary fed to the classifier: last state (forward state at the last real token, backward "
        "state at the first), mean or max over real tokens, or flatten (every step's output, as Keras "
        "return_sequences + Flatten; needs a fixed length, so not with data.bucket).",
    )
    embedding_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Ordinary dropout on the word vectors.")
    input_dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Keras `dropout`: on each layer's input, one mask per sequence for all steps."
    )
    recurrent_dropout: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Keras `recurrent_dropout` (Gal & Ghahramani): on the recurrent state h(t-1), one mask per sequence "
        "for all steps. Runs a step loop instead of the fused kernel.",
    )
    weight_drop: float = Field(
        0.0, ge=0.0, lt=1.0, description="DropConnect on the hidden-to-hidden weights (AWD-LSTM); keeps the fused kernel."
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout between stacked recurrent layers (PyTorch's dropout).")
    output_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the sequence summary, before the head.")
    init: Literal["keras", "torch", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal"] = Field(
        "keras",
        description="Initialisation. keras: as Keras builds each layer: input-to-hidden and head weights Glorot "
        "uniform over the whole matrix, recurrent weights orthogonal over the whole [H, gates x H] matrix, biases "
        "zero, LSTM forget-gate bias 1, word vectors U(-0.05, 0.05). torch: PyTorch's own for everything (word "
        "vectors N(0, 1)). Another scheme: that scheme on the input-to-hidden and head weights, per gate block, "
        "biases zero, the rest PyTorch's. (default, in configs of older versions, reads as torch.)",
    )
    recurrent_init: Literal["orthogonal", "xavier_uniform", "xavier_normal", "torch"] | None = Field(
        None,
        description="Hidden-to-hidden weights: orthogonal over the whole matrix (as Keras), xavier per gate block, or "
        "torch (PyTorch's); null: as model.init says (keras: orthogonal, otherwise PyTorch's).",
    )
    embedding_init: Literal["keras_uniform", "normal"] | None = Field(
        None,
        description="Word vectors: keras_uniform is U(-0.05, 0.05) as Keras' Embedding, normal is N(0, 1) as "
        "PyTorch's (the padding row is zero either way; pretrained vectors replace the words they have); null: as "
        "model.init says (keras: keras_uniform, otherwise normal).",
    )
    forget_bias: float | None = Field(
        None,
        description="LSTM only: start the forget-gate bias at this value (1.0 as Jozefowicz et al. and Keras' "
        "unit_forget_bias); null: 1.0 with model.init keras, otherwise unchanged.",
    )

    @field_validator("init", "recurrent_init", mode="before")
    @classmethod
    def _older_default(cls, value: Any) -> Any:
        return "torch" if value == "default" else value  # what "default" meant before keras became the default

    @property
    def sizes(self) -> list[int]:
        """Hidden size of every layer."""
        if isinstance(self.num_neurons, list):
            return list(self.num_neurons)
        return [self.num_neurons] * (self.num_layers or 1)

    @property
    def dims(self) -> int:
        return self.embedding_dims or 32

    @field_validator("num_neurons")
    @classmethod
    def _sizes(cls, value: int | list[int]) -> int | list[int]:
        sizes = value if isinstance(value, list) else [value]
        if not sizes or any(n < 1 for n in sizes):
            raise ValueError("a list needs one size >= 1 per layer" if isinstance(value, list) else "must be >= 1")
        if max(sizes) > UNITS_MAX:
            raise ValueError(f"at most {UNITS_MAX} units per layer, got {max(sizes)}")
        if len(sizes) > LAYERS_MAX:
            raise ValueError(f"at most {LAYERS_MAX} layers, got a list of {len(sizes)}")
        return value

    @model_validator(mode="after")
    def _layers(self) -> ModelConfig:
        if isinstance(self.num_neurons, list) and self.num_layers is not None and self.num_layers != len(self.num_neurons):
            raise ValueError(
                f"model.num_layers is {self.num_layers} but model.num_neurons lists {len(self.num_neurons)} sizes; "
                "drop num_layers or make them agree"
            )
        if self.forget_bias is not None and self.cell != "lstm":
            raise ValueError(f"model.forget_bias applies to lstm only (model.cell is {self.cell})")
        if self.mask and self.head == "flatten":
            raise ValueError(
                "model.mask with model.head flatten: flatten reads every step, padded ones included; use last, mean or max"
            )
        return self


class EarlyStoppingConfig(_Section):
    """Stop when the monitored value stops improving; also decides which epoch is `best.pt`."""

    enabled: bool = Field(True, description="Stop early; when false, training runs all epochs but best.pt is still tracked.")
    monitor: Monitor = Field(
        "val_loss",
        description="Value that decides improvement and best.pt (val_accuracy/val_f1: classification; "
        "val_mae/val_rmse: forecasting, in the target's units).",
    )
    mode: Literal["auto", "min", "max"] = Field("auto", description="auto: max for accuracy/F1, min for the rest.")
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
        description="none: constant; time: lr/(1+decay*epoch) (Keras' decay); step: times gamma every step_size epochs; "
        "exponential: times gamma each epoch; cosine: down to min_lr over the epochs after warmup; "
        "plateau: times gamma when monitor has not improved for patience epochs.",
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


class TrainConfig(_Section):
    """Optimization loop."""

    epochs: int = Field(10, ge=1, le=COUNT_MAX, description="Maximum number of epochs.")
    batch_size: int = Field(32, ge=1, le=10 * COUNT_MAX, description="Examples per training batch.")
    lr: float = Field(1e-3, gt=0.0, le=1e6, description="Learning rate.")
    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = Field("adam", description="Optimizer.")
    loss: Literal["auto", "cross_entropy", "mse", "mae", "huber"] = Field(
        "auto", description="auto: cross_entropy for classification, mse for forecasting (on normalized values)."
    )
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="Momentum for sgd and rmsprop.")
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
        description="Warn when after this many epochs the training loss is still within 2% of the loss of predicting "
        "the class frequencies (the model learned nothing yet: try a larger lr, see lr-find); null: never.",
    )
    baselines: bool = Field(
        True,
        description="Fit simple models on the training split and score them beside the run: TF-IDF of words and "
        "word pairs + logistic regression (text), logistic regression on per-channel summaries (sequences), ridge "
        "on the lookback window (forecasting); in evaluate, and on the validation split when training ends "
        "(summary.json, curves.png; once per process for the same data, so a sweep worker fits them once). The "
        "classification ones are fitted on at most 100,000 training examples (a fixed random sample beyond). false "
        "skips them (evaluate --baselines/--no-baselines overrides); the majority, stratified, persistence and "
        "seasonal-naive baselines are always there.",
    )
    seed: int = Field(42, ge=0, le=SEED_MAX, description="Seed for weights, shuffling and dropout.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto picks cuda when available.")
    threads: int | None = Field(None, ge=1, le=4096, description="CPU threads for torch (null: torch's default).")
    tensorboard: bool = Field(
        False,
        description="Also write each epoch's metrics.csv row as TensorBoard scalars in the run's tensorboard/ folder "
        "(needs the tensorboard package: pip install 'rnnexp[tensorboard]').",
    )
    early_stopping: EarlyStoppingConfig = Field(
        default_factory=EarlyStoppingConfig, description="Early stopping and best-epoch tracking."
    )


class Config(_Section):
    """A whole experiment."""

    name: str = Field(
        "run",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="Run name, used in the run folder name (letters, digits, . _ -).",
    )
    data: DataConfig = Field(description="Data source and preprocessing.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="Network.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Training loop.")

    @model_validator(mode="after")
    def _consistent(self) -> Config:
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
        wrong = ("val_accuracy", "val_f1") if forecasting else ("val_mae", "val_rmse")
        for key, monitor in (
            ("train.early_stopping.monitor", self.train.early_stopping.monitor),
            ("train.lr_schedule.monitor", schedule.monitor),
        ):
            if monitor in wrong:
                raise ValueError(f"{key} {monitor} does not apply to {self.data.task}")
        if forecasting and self.train.loss == "cross_entropy":
            raise ValueError("train.loss cross_entropy is for classification; forecasting takes mse, mae or huber")
        if not forecasting and self.train.loss in ("mse", "mae", "huber"):
            raise ValueError(f"train.loss {self.train.loss} is for forecasting; classification takes cross_entropy")
        if self.data.task != "text_classification" and self.model.embedding.pretrained:
            raise ValueError(f"model.embedding.pretrained is for text; {self.data.task} reads numbers directly")
        return self

    @property
    def loss(self) -> str:
        if self.train.loss != "auto":
            return self.train.loss
        return "mse" if self.data.is_forecasting else "cross_entropy"


# ---------------------------------------------------------------------------------------------
# Sweeps


class ParamSpec(_Section):
    """One searched key, written as a mapping. A plain YAML list is short for {kind: choice, values: LIST}."""

    kind: Literal["choice", "int", "uniform", "loguniform"] = Field(
        description="choice: one of values; int: an integer in [low, high] by step; uniform / loguniform: a float in "
        "[low, high] (loguniform samples the exponent, for learning rates)."
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
        description="grid: every combination of the space exactly once (each key a list, int or stepped uniform); "
        "random: independent draws; tpe: Bayesian optimization (Optuna's TPE), random for the first startup_trials.",
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

    kind: Literal["none", "median", "hyperband", "successive_halving"] = Field(
        "none",
        description="none: every trial runs to its end; median: stop a trial whose best value so far is worse than "
        "the median of earlier trials at the same epoch; successive_halving: at epochs min_epochs, "
        "min_epochs*reduction_factor, ... a trial goes on only among the best 1/reduction_factor of the configurations "
        "there, else it is paused and resumed from its checkpoint once later trials make it one of the best; hyperband: "
        "the same in brackets that start halving at later epochs.",
    )
    warmup_epochs: int = Field(1, ge=0, le=COUNT_MAX, description="median: never prune before this many epochs.")
    startup_trials: int = Field(3, ge=0, le=COUNT_MAX, description="median: trials that must finish before any pruning.")
    min_epochs: int = Field(1, ge=1, le=COUNT_MAX, description="hyperband, successive_halving: epochs every trial gets.")
    reduction_factor: int = Field(3, ge=2, le=1000, description="hyperband, successive_halving: how selective each rung is.")


class ObjectiveConfig(_Section):
    """What a trial is scored on: the best value of a metrics.csv column over its epochs."""

    metric: Monitor | None = Field(
        None, description="Column of metrics.csv to optimize; null: the base config's train.early_stopping.monitor."
    )
    direction: Literal["auto", "maximize", "minimize"] = Field(
        "auto", description="auto: maximize accuracy and F1, minimize losses and errors."
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
    pruner: PrunerConfig = Field(default_factory=PrunerConfig, description="Early stopping of bad trials.")
    trials: int | None = Field(
        None,
        ge=1,
        le=COUNT_MAX,
        description="Trials in total (finished or pruned); null: the grid's size (grid sampler only). random and tpe "
        "never train a configuration twice: a repeat takes its earlier result and does not count.",
    )
    epoch_budget: int | None = Field(
        None,
        ge=1,
        le=1000 * COUNT_MAX,
        description="random, tpe: training epochs the whole sweep may spend (all trials and workers together); when "
        "they are spent, no trial starts and the one training stops, marked pruned. null: no limit.",
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

    @model_validator(mode="after")
    def _consistent(self) -> SweepConfig:
        if self.sampler.kind == "grid":
            infinite = [k for k, spec in self.specs().items() if spec.grid() is None]
            if infinite:
                raise ValueError(
                    f"sampler grid needs a finite set of values for every key; {', '.join(infinite)} "
                    "is continuous (give a list, kind int, or uniform with a step)"
                )
            if self.epoch_budget is not None:
                raise ValueError("epoch_budget needs sampler random or tpe (a grid trains every point; give trials to cut it)")
            if self.trials is not None and self.trials > self.grid_size():
                raise ValueError(f"trials ({self.trials}) is more than the grid has points ({self.grid_size()})")
        elif self.trials is None:
            raise ValueError(f"trials is required with sampler {self.sampler.kind} (only a grid has a natural size)")
        return self

    def specs(self) -> dict[str, ParamSpec]:
        return self.space

    def grid_size(self) -> int:
        size = 1
        for spec in self.specs().values():
            size *= len(spec.grid() or [])
        return size

    @property
    def total_trials(self) -> int:
        return self.trials if self.trials is not None else self.grid_size()


def objective_of(sweep: SweepConfig, base: Config) -> tuple[str, str]:
    """(metric, maximize|minimize) that the sweep optimizes."""
    metric = sweep.objective.metric or base.train.early_stopping.monitor
    direction = sweep.objective.direction
    if direction == "auto":
        direction = "maximize" if direction_of(metric) == "max" else "minimize"
    return metric, direction


def trial_config(base_raw: dict, params: dict[str, Any], source: str = "") -> Config:
    """The base config (a resolved raw dict) with a trial's {dotted.key: value} set; errors name ``source``."""
    raw = copy.deepcopy(base_raw)
    overridden, problems = {}, []
    for key, value in params.items():
        problem = set_dotted(raw, key, value)
        if problem:
            problems.append(f"{source} {key}: {problem}")
        overridden[key] = f"{source} {key}={value!r}"
    if problems:
        raise ConfigError(problems)
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError([_describe(err, source, None, overridden) for err in e.errors()]) from None


def is_sweep_file(path: str | Path) -> bool:
    """Whether a YAML file is a sweep file (a mapping with `space`) rather than a config; False when
    it cannot be read, so that loading it as a config reports why."""
    try:
        _, raw = read_yaml(Path(path).read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, ConfigError):
        return False
    return isinstance(raw, dict) and "space" in raw


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> tuple[SweepConfig, dict, Config]:
    """Read a sweep file and its base config; check every searched value against the base schema.

    Returns (sweep, base config with `set` applied as a raw dict, the same as a Config). Raises ConfigError naming the
    sweep file's line and key for every problem found.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: sweep file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read sweep file ({e})") from None
    node, raw = read_yaml(text, str(path))
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping (base, space, sampler, ...) at the top")
    # `set` and `space` are keyed by dotted config keys: --set set.train.epochs=1 is the key train.epochs of `set`
    overridden = apply_overrides(raw, overrides, flat=("set", "space"))
    try:
        sweep = SweepConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError([_describe(err, str(path), node, overridden, SweepConfig) for err in e.errors()]) from None
    base_path = (path.parent / sweep.base).resolve()
    base = load_config(base_path)
    base_raw = base.model_dump(mode="json")
    problems = []
    for key, value in sweep.set.items():
        try:
            trial_config(base_raw, {key: value}, source=f"{path}:{_line_of(node, ['set', key])}: set")
        except ConfigError as e:
            problems.extend(e.messages)
    if problems:
        raise ConfigError(problems)
    base = trial_config(base_raw, sweep.set, source=f"{path}: set")  # what every trial starts from
    base_raw = base.model_dump(mode="json")
    for key, spec in sweep.specs().items():
        line = _line_of(node, ["space", key])
        for value in spec.edges():
            try:
                trial_config(base_raw, {key: value}, source=f"{path}:{line}: space")
            except ConfigError as e:
                problems.extend(m for m in e.messages if m not in problems)
    if problems:
        raise ConfigError(problems)
    metric, _ = objective_of(sweep, base)
    forecasting = base.data.is_forecasting
    if metric in (("val_accuracy", "val_f1") if forecasting else ("val_mae", "val_rmse")):
        raise ConfigError(
            f"{path}:{_line_of(node, ['objective', 'metric'])}: objective.metric {metric} does not apply to {base.data.task}"
        )
    return sweep, base_raw, base


# ---------------------------------------------------------------------------------------------
# Loading


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config, apply ``key.path=value`` overrides and validate.

    Raises ConfigError listing every problem, each naming the dotted key and where it came from.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file ({e})") from None
    return parse_config(text, source=str(path), overrides=overrides, base_dir=path.parent)


def parse_config(
    text: str, source: str = "<config>", overrides: list[str] | tuple[str, ...] = (), base_dir: Path | None = None
) -> Config:
    node, raw = read_yaml(text, source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (data, model, train) at the top, got {type(raw).__name__}")
    overridden = apply_overrides(raw, overrides)
    if base_dir is not None:
        _resolve_paths(raw, base_dir)
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError([_describe(err, source, node, overridden) for err in e.errors()]) from None


def apply_overrides(raw: dict, overrides: list[str] | tuple[str, ...], flat: tuple[str, ...] = ()) -> dict[str, str]:
    """Set ``a.b.c=value`` (value parsed as YAML) into ``raw``; returns {dotted path: where it was set}.
    Sections named in ``flat`` are keyed by whole dotted keys: ``set.train.lr`` is set["train.lr"]."""
    done: dict[str, str] = {}
    problems = []
    for item in overrides:
        key, sep, value_text = item.partition("=")
        key = key.strip()
        shown = f"--set {clip(item)!r}"
        if not sep or not key or any(not p for p in key.split(".")):
            problems.append(f"{shown}: expected KEY.PATH=VALUE, e.g. --set train.lr=0.01")
            continue
        try:
            _, value = read_yaml(value_text, shown) if value_text.strip() else (None, None)
        except ConfigError as e:
            if "invalid YAML" not in e.messages[0]:
                raise  # an alias bomb or a repeated key in the value
            value = value_text  # not YAML: keep the text as a string and let validation judge it
        first, _, rest = key.partition(".")
        parts = [first, rest] if first in flat and rest else key.split(".")
        problem = set_path(raw, parts, value)
        if problem:
            problems.append(f"{shown}: {problem}")
        else:
            done[key] = f"--set {clip(item)}"
    if problems:
        raise ConfigError(problems)
    return done


def set_dotted(raw: dict, key: str, value: Any) -> str | None:
    """Set raw[a][b][c] = value for key "a.b.c" (see set_path)."""
    return set_path(raw, key.split("."), value)


def set_path(raw: dict, parts: list[str], value: Any) -> str | None:
    """Set raw[a][b][c] = value, creating sections; returns a problem or None. A mapping set onto a
    mapping is merged into it, key by key, never put in its place: `train={lr: 0.1}` changes the lr
    and keeps every other train key."""
    target = raw
    for i, part in enumerate(parts[:-1]):
        nxt = target.get(part)
        if nxt is None:
            nxt = target[part] = {}
        if not isinstance(nxt, dict):
            return f"{'.'.join(parts[: i + 1])} is a value, not a section"
        target = nxt
    last = parts[-1]
    if isinstance(value, dict) and isinstance(target.get(last), dict):
        target[last] = _merged(target[last], value)
    else:
        target[last] = copy.deepcopy(value)
    return None


def _merged(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        out[key] = (
            _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else copy.deepcopy(value)
        )
    return out


# A YAML alias may stand for a whole subtree, so a few hundred bytes of anchors can expand to
# billions of values (the "billion laughs"); no config comes near this many.
YAML_NODES_MAX = 100_000


def read_yaml(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """Parse a YAML document: (its node tree, for line numbers; its value). ConfigError, naming
    ``source`` and lines, when it is not YAML, repeats a key in a mapping (YAML forbids it, and
    PyYAML would silently keep the last one), or expands past YAML_NODES_MAX values by aliases."""
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # duplicate keys and alias expansion are checked on its node tree
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_tree(node, source)
        return node, loader.construct_document(node)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {clip(problem)}") from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid YAML: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_tree(root: yaml.Node, source: str) -> None:
    problems: list[str] = []
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, path: list[str]) -> int:
        """Values under ``node`` once every alias is expanded (an alias is a shared node object)."""
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise ConfigError(f"{source}:{node.start_mark.line + 1}: invalid YAML: an alias refers to its own anchor")
        active.add(id(node))
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                key = (key_node.tag, str(key_node.value))
                line = key_node.start_mark.line + 1
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if key in seen:
                        dotted = ".".join([*path, str(key_node.value)])
                        problems.append(
                            f"{source}:{line}: duplicate key {clip(dotted)} (first at line {seen[key]}); "
                            "YAML keeps only one: merge the two into one"
                        )
                    else:
                        seen[key] = line
                total += size(key_node, path) + size(value_node, [*path, clip(str(key_node.value), 40)])
                if total > YAML_NODES_MAX:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                total += size(item, [*path, str(i)])
                if total > YAML_NODES_MAX:
                    break
        active.discard(id(node))
        sizes[id(node)] = total
        if total > YAML_NODES_MAX:
            raise ConfigError(
                f"{source}:{node.start_mark.line + 1}: YAML aliases expand this document past {YAML_NODES_MAX:,} values; "
                "refusing it (no config needs that many: use fewer anchors and aliases)"
            )
        return total

    size(root, [])
    if problems:
        raise ConfigError(problems)


def _resolve_paths(raw: dict, base_dir: Path) -> None:
    """Data file paths in a config are relative to the config file, not to the working directory."""
    model = raw.get("model")
    places = [(raw.get("data"), ("train_file", "val_file", "test_file"))]
    if isinstance(model, dict):
        places.append((model.get("embedding"), ("pretrained",)))
    for section, keys in places:
        if not isinstance(section, dict):
            continue
        for key in keys:
            value = section.get(key)
            if isinstance(value, str) and value:
                path = Path(value).expanduser()
                section[key] = str(path if path.is_absolute() else (base_dir / path).resolve())


def _describe(
    err: dict, source: str, node: yaml.Node | None, overridden: dict[str, str], root: type[BaseModel] | None = None
) -> str:
    loc = [str(p) for p in err["loc"]]
    full = ".".join(loc) or "(top level)"
    dotted = clip(full, 120)  # a key, as a user wrote it: shown, never a flood of it
    # An error at, above or below a key set on the command line is about that --set.
    culprit = next((k for k in overridden if k == full or k.startswith(full + ".") or full.startswith(k + ".")), None)
    if culprit is not None:
        where = overridden[culprit]
    else:
        line = _line_of(node, loc)
        where = f"{source}:{line}" if line else source
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _fields_at(loc[:-1], root)
        guess = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
        hint = f"did you mean {'.'.join(loc[:-1] + [guess[0]])}?" if guess else f"known keys here: {', '.join(known)}"
        return f"{where}: unknown key {dotted} ({hint})"
    if kind == "missing":
        return f"{where}: missing required key {dotted}"
    if kind == "value_error":
        return f"{where}: {dotted + ': ' if loc else ''}{err['msg'].removeprefix('Value error, ')}"
    msg = err["msg"]
    got = err.get("input")
    hint = ""
    if kind == "literal_error" and isinstance(got, str):
        allowed = [str(a).strip("'") for a in _literal_values(loc, root)]
        guess = difflib.get_close_matches(got, allowed, n=1, cutoff=0.5)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
    shown = clip(repr(got)) if not isinstance(got, (dict, list)) else type(got).__name__
    return f"{where}: {dotted}: {msg}, got {shown}{hint}"


def _line_of(node: yaml.Node | None, loc: list[str]) -> int | None:
    """1-based line of the deepest key of ``loc`` present in the YAML document."""
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if str(key_node.value) == part:
                line = key_node.start_mark.line + 1
                node = value_node
                break
        else:
            break
    return line


def _model_at(loc: list[str], root: type[BaseModel] | None = None) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root or Config
    for part in loc:
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        model = _unwrap_model(field.annotation)
    return model


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _unwrap_model(arg)
            if found:
                return found
    return None


def _fields_at(loc: list[str], root: type[BaseModel] | None = None) -> list[str]:
    model = _model_at(loc, root)
    return list(model.model_fields) if model else []


def _literal_values(loc: list[str], root: type[BaseModel] | None = None) -> list[Any]:
    model = _model_at(loc[:-1], root)
    field = model.model_fields.get(loc[-1]) if model else None
    if field is None:
        return []
    annotation = field.annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next((a for a in typing.get_args(annotation) if typing.get_origin(a) is Literal), annotation)
    return list(typing.get_args(annotation)) if typing.get_origin(annotation) is Literal else []


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}: a config as dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML, loadable by load_config."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def iter_keys(model: type[BaseModel] = Config, prefix: str = "") -> typing.Iterator[tuple[str, Any]]:
    """Every dotted key of the schema with its field info (for docs and tests)."""
    for name, field in model.model_fields.items():
        sub = _unwrap_model(field.annotation)
        if sub is not None:
            yield from iter_keys(sub, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field
