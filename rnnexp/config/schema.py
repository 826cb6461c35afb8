"""The run config's sections for data and model, the bounds every section shares, and the one rule
for which way a metric improves."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .forecasting import check_window_keys

TEXT_DATASETS = ("amazon-food", "uci-sentiment")
HTML_DATASETS = ("amazon-food",)  # built-in texts holding HTML (its reviews' <br /> tags): data.strip_html's default
SERIES_DATASETS = ("vic-elec", "seattle-weather", "us-births")
# The validation columns of metrics.csv of each kind of task (besides val_loss): the one list that
# the tasks write, the monitors and sweep objectives are checked against, and docs/reference/config.md shows.
# val_f1 is macro F1; val_roc_auc and val_pr_auc are of data.positive_label when binary, macro
# one-vs-rest otherwise.
CLASSIFICATION_METRICS = ("val_accuracy", "val_f1", "val_balanced_accuracy", "val_roc_auc", "val_pr_auc")
FORECASTING_METRICS = ("val_mae", "val_rmse")
VAL_METRICS = ("val_loss", *CLASSIFICATION_METRICS, *FORECASTING_METRICS)
Monitor = Literal[(*VAL_METRICS, "train_loss")]
HIGHER_IS_BETTER = ("accuracy", "balanced_accuracy", "f1", "precision", "recall", "roc_auc", "pr_auc")


def task_metrics(task: str) -> tuple[str, ...]:
    """The validation columns (besides val_loss) that a run of data.task ``task`` writes."""
    return FORECASTING_METRICS if task == "forecasting" else CLASSIFICATION_METRICS


def metric_applies(metric: str, task: str) -> bool:
    """Whether a run of ``task`` has the metrics.csv column ``metric`` (a monitor, an objective)."""
    return metric not in VAL_METRICS or metric == "val_loss" or metric in task_metrics(task)


def direction_of(metric: str) -> Literal["max", "min"]:
    """Whether a metric improves upwards ("max": accuracy, balanced accuracy, F1, precision, recall,
    ROC-AUC, PR-AUC) or downwards
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
        description="text_classification labels texts, forecasting predicts a column of a time series, "
        "sequence_classification labels multichannel numeric sequences.",
    )
    dataset: Literal["amazon-food", "uci-sentiment", "vic-elec", "seattle-weather", "us-births", "digits"] | None = Field(
        None,
        description="A built-in dataset instead of files: amazon-food, uci-sentiment (text), vic-elec, seattle-weather, "
        "us-births (series), digits (sequences). Give this or train_file.",
    )
    train_file: str | None = Field(
        None,
        description="CSV, TSV or JSONL file of training examples, relative to the config file (sequences: a long-format "
        "CSV or a folder of class folders).",
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
        description="Text encoding of the data files, any codec Python knows (a UTF-8 byte-order mark is skipped).",
    )
    columns: list[str] | None = Field(
        None, description="Column names for CSV/TSV files without a header row, e.g. [text, label]."
    )
    text_column: str = Field("text", description="Column holding the text.")
    label_column: str = Field("label", description="Column holding the class label (any values; two or more classes).")
    lowercase: bool = Field(True, description="Lower-case text before tokenizing.")
    strip_html: bool | None = Field(
        None,
        description="Remove HTML before tokenizing (a tag becomes a space, an entity its character); null: true for "
        "amazon-food, false otherwise.",
    )
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
    time_column: str | None = Field(
        None,
        description="forecasting: column of timestamps (not an input: kept for reports, and predict prints the "
        "timestamp of each step it forecasts).",
    )
    target: str | None = Field(
        None,
        description="forecasting: column to predict (built-ins: Demand for vic-elec, temp_max for seattle-weather, "
        "births for us-births).",
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
        description="forecasting: season length in rows (48 for a day of half-hours); adds the seasonal-naive baseline, "
        "and the season of the exponential smoothing and seasonal ARIMA baselines.",
    )
    residual: Literal["none", "persistence", "seasonal_naive"] = Field(
        "none",
        description="forecasting: the network learns what is left over the window's last value (persistence) or "
        "its value one season before each step (seasonal_naive, with data.season); none: the values themselves.",
    )
    window_scale: bool | None = Field(
        None,
        description="forecasting: the target's window enters on its own level and scale (minus its mean, over its "
        "standard deviation), and the output is scaled back by them (null: on for forecasting).",
    )
    seasonal_input: bool = Field(
        False,
        description="forecasting: one more input channel, the target one season (data.season) before the row after "
        "each row: the last row's is the seasonal-naive forecast of the next step. Needs lookback >= season.",
    )
    calendar: list[Literal["hour_of_day", "day_of_week", "day_of_year", "month"]] = Field(
        default_factory=list,
        description="forecasting: input columns from the timestamps (a built-in series', or data.time_column's): "
        "the sine and cosine of each row's place in each cycle named.",
    )
    bucket: bool = Field(
        False,
        description="Batch texts of similar length together, each batch padded only to its longest text (faster epochs on "
        "mixed lengths).",
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
        if self.strip_html and not self.is_text:
            raise ValueError(f"data.strip_html is for text; a {self.task} run reads no texts (remove the key)")
        if self.task == "forecasting":
            if self.dataset in TEXT_DATASETS:
                raise ValueError(f"data.dataset {self.dataset} is text; forecasting takes {', '.join(SERIES_DATASETS)} or a CSV")
            if self.val_file or self.test_file:
                raise ValueError("forecasting splits one series by time: use data.val_split/test_split, not val_file/test_file")
            if self.bucket or self.augment.enabled:
                raise ValueError("data.bucket and data.augment are for text; forecasting windows all have lookback rows")
            check_window_keys(self)
        elif self.residual != "none" or self.window_scale or self.seasonal_input or self.calendar:  # null: forecasting's
            raise ValueError(
                "data.residual, data.window_scale, data.seasonal_input and data.calendar are for forecasting; "
                f"a {self.task} run forecasts nothing"
            )
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
    def scales_window(self) -> bool:
        """data.window_scale as it applies: null is on for forecasting (measured: docs/benchmarks.md)."""
        return self.is_forecasting if self.window_scale is None else self.window_scale

    @property
    def is_forecasting(self) -> bool:
        return self.task == "forecasting"

    @property
    def steps_key(self) -> str:
        """The key that sets how many steps the model reads."""
        return "data.lookback" if self.is_forecasting else "data.maxlen"

    @property
    def strips_html(self) -> bool:
        """Whether texts are read without their HTML: data.strip_html, or when null the dataset's default."""
        return self.strip_html if self.strip_html is not None else self.dataset in HTML_DATASETS

    @property
    def is_text(self) -> bool:
        """Texts in, labels out: the one task whose inputs are texts (predict takes them as arguments)."""
        return self.task == "text_classification"


def label_text(value: Any) -> str:
    """A class label as rnnexp holds it, text: 1, 1.0 and True from JSON or YAML read as '1', as from a CSV."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def headline_metric(task: str) -> str:
    """The test score a run of ``task`` is listed by (runs, compare) and its curves are plotted beside:
    accuracy for classification, MAE for forecasting."""
    return "mae" if task == "forecasting" else "accuracy"


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
        description="Keras mask_zero: padded steps leave the state unchanged and the mean/max heads ignore them, on "
        "either padding side (not with head flatten).",
    )
    head: Literal["last", "mean", "max", "flatten"] = Field(
        "last",
        description="What the classifier reads: the last state, the mean or max over real tokens, or flatten (every "
        "step's output; needs a fixed length, so not with data.bucket).",
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
        0.0,
        ge=0.0,
        lt=1.0,
        description="DropConnect on the hidden-to-hidden weights (AWD-LSTM); keeps the layers' kernel "
        "(fused, or the GRU's scan on CPU).",
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout between stacked recurrent layers (PyTorch's dropout).")
    output_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the sequence summary, before the head.")
    init: Literal["keras", "torch", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal"] = Field(
        "keras",
        description="Initialisation: keras builds every layer as Keras does; torch is PyTorch's own; another scheme "
        "applies to input and head weights (biases zero, the rest PyTorch's).",
    )
    recurrent_init: Literal["orthogonal", "xavier_uniform", "xavier_normal", "torch"] | None = Field(
        None,
        description="Hidden-to-hidden weights: orthogonal (as Keras), xavier per gate block, or torch; null: as model.init says.",
    )
    embedding_init: Literal["keras_uniform", "normal"] | None = Field(
        None,
        description="Word vectors: keras_uniform U(-0.05, 0.05) or normal N(0, 1) (PyTorch's); null: as model.init says.",
    )
    forget_bias: float | None = Field(
        None,
        description="LSTM only: the forget gate's starting bias (Keras' unit_forget_bias is 1.0); null: 1.0 with "
        "model.init keras, else unchanged.",
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


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}: a config as dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
