"""The network: embedding -> recurrent layers -> sequence summary (head) -> class logits."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from .cells import GATES, VariationalRNN, backward_within_lengths, real_steps, within_length_reversal
from .config import Config, ModelConfig
from .data.padding import keep_real
from .devices import available_memory, recurrent_autocast, to_compute
from .errors import ConfigError
from .framing import Frame, added_channels


def time_constant_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout with one mask per sequence, the same at every step ([B, 1, F] broadcast over T)."""
    if not training or p == 0:
        return x
    mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p) / (1 - p)
    return x * mask


class LayerStack(nn.Module):
    """Stacked single-layer fused RNNs, for what one nn.GRU cannot do: layers of different sizes and
    Keras-style input dropout (a time-constant mask on every layer's input)."""

    def __init__(self, cell: str, input_size: int, sizes: list[int], bidirectional: bool, dropout: float, input_dropout: float):
        super().__init__()
        rnn_cls = getattr(nn, cell.upper())
        dirs = 2 if bidirectional else 1
        ins = [input_size] + [h * dirs for h in sizes[:-1]]
        self.layers = nn.ModuleList(rnn_cls(i, h, batch_first=True, bidirectional=bidirectional) for i, h in zip(ins, sizes))
        self.cell, self.dropout, self.input_dropout = cell, dropout, input_dropout

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        for k, layer in enumerate(self.layers):
            if k > 0:
                x = nn.functional.dropout(x, self.dropout, self.training)
            x = time_constant_dropout(x, self.input_dropout, self.training)
            if lengths is None:
                x = layer(x)[0]
            else:
                x = fused_stack(self.cell, x, weights_of(layer), 1, True, layer.hidden_size, lengths=lengths)
        return x, None


def weights_of(module: nn.Module, stand_ins: dict[str, torch.Tensor] | None = None):
    """A module's recurrent weights by name (weight_ih_l0, ...), with ``stand_ins`` (a weight-dropped
    copy) in place of its own; read through getattr, so a functional_call's swapped weights show."""
    return lambda name: stand_ins[name] if stand_ins and name in stand_ins else getattr(module, name)


def fused_stack(
    cell: str,
    x: torch.Tensor,
    weight,
    layers: int,
    bidirectional: bool,
    hidden: int,
    dropout: float = 0.0,
    training: bool = False,
    lengths: torch.Tensor | None = None,
) -> torch.Tensor:
    """What nn.RNN/GRU/LSTM(batch_first=True) computes, by the functions they call themselves (the
    fused kernel), with the weights ``weight(name)`` gives in PyTorch's names: a module's own, a
    weight-dropped copy, or a VariationalRNN's (the same names). Traceable, unlike functional_call.
    ``lengths`` (bidirectional): each row holds its real steps first (front_aligned) and only those
    are read. Layer by layer, the forward direction runs as it is and the backward one as a forward
    pass over each row reversed within its length (as the step loop does), outputs zero after it.
    Packed sequences would do the same at several times the unmasked epoch's time on CPU, where this
    way costs about nothing (docs/explanation/model.md; bench/knobs.py measures masking's cost)."""
    kinds = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    if lengths is None:
        dirs = ("", "_reverse") if bidirectional else ("",)
        flat = [weight(f"{kind}_l{k}{sfx}") for k in range(layers) for sfx in dirs for kind in kinds]
        return _fused(cell, x, flat, layers, bidirectional, hidden, dropout, training)
    flip, real = within_length_reversal(lengths, x.shape[1]), real_steps(lengths, x.shape[1])
    for k in range(layers):
        if k > 0:
            x = nn.functional.dropout(x, dropout, training)  # what nn.GRU(dropout=...) does between layers

        forward, backward = ([weight(f"{kind}_l{k}{sfx}") for kind in kinds] for sfx in ("", "_reverse"))
        run_backward = partial(_fused, cell, flat=backward, layers=1, bidirectional=False, hidden=hidden)
        x = torch.cat([_fused(cell, x, forward, 1, False, hidden), backward_within_lengths(run_backward, x, flip)], dim=2) * real
    return x


def _fused(cell: str, x, flat: list[torch.Tensor], layers: int, bidirectional: bool, hidden: int, dropout=0.0, training=False):
    h0 = x.new_zeros(layers * (2 if bidirectional else 1), x.shape[0], hidden)
    args = (True, layers, dropout, training, bidirectional, True)  # biases, ..., batch_first
    if cell == "lstm":
        return torch.lstm(x, (h0, h0), flat, *args)[0]
    return (torch.gru if cell == "gru" else torch.rnn_tanh)(x, h0, flat, *args)[0]


# Measured by bench/cells.py (one layer, forward + backward, 4 shapes, 1 and 2 threads): on CPU,
# rnnexp's GRU scan (scans._GRUScan) took 0.49-0.75x nn.GRU's time at every shape, while its LSTM
# scan took 0.97-1.9x nn.LSTM's (oneDNN fuses the LSTM's training, not the GRU's), and the tanh RNN
# has no scan. So on CPU the GRU trains through the scan and the others through nn.*.
SCAN_TRAINS_ON_CPU = frozenset({"gru"})


def scan_trains(cell: str) -> bool:
    """Whether ``cell`` trains through rnnexp's scan on CPU rather than PyTorch's fused kernel."""
    return cell in SCAN_TRAINS_ON_CPU


class RNNModel(nn.Module):
    """``input_spec`` says what comes in: {"kind": "tokens", "vocab_size", "seq_len"} (word ids, 0 =
    padding) or {"kind": "features", "num_features", "seq_len", "padded"} (numbers per step; with
    padded, NaN steps after each sequence's own). ``output_size`` is the number of classes, or of
    values forecast."""

    def __init__(self, cfg: ModelConfig, input_spec: dict, output_size: int):
        super().__init__()
        sizes, dirs = cfg.sizes, 2 if cfg.bidirectional else 1
        seq_len = input_spec["seq_len"]
        if input_spec["kind"] == "tokens":
            # Index 0 is padding: its vector stays zero and gets no gradient.
            self.embedding: nn.Embedding | None = nn.Embedding(input_spec["vocab_size"], cfg.dims, padding_idx=0)
            input_size = cfg.dims
        else:
            self.embedding, input_size = None, input_spec["num_features"] + added_channels(input_spec.get("frame"))
        self.frame = Frame(input_spec["frame"]) if input_spec.get("frame") else None  # forecasting: framing.py
        self.embedding_drop = nn.Dropout(cfg.embedding_dropout)
        uniform = len(set(sizes)) == 1 and cfg.input_dropout == 0
        # Whether the layers train through rnnexp's own recurrence on CPU (cuDNN stays on CUDA, and
        # evaluation runs the fused kernel): see scan_trains.
        self.scans_on_cpu = cfg.recurrent_dropout == 0 and uniform and scan_trains(cfg.cell)
        if cfg.recurrent_dropout > 0 or self.scans_on_cpu:
            # Recurrent dropout needs a mask on h(t-1) inside the step loop: no fused kernel can do it.
            self.rnn: nn.Module = VariationalRNN(
                cfg.cell, input_size, sizes, cfg.bidirectional, cfg.input_dropout, cfg.recurrent_dropout, cfg.dropout
            )
        elif uniform:
            # The common case: one fused nn.RNN/GRU/LSTM (cuDNN on GPU, oneDNN on CPU).
            self.rnn = getattr(nn, cfg.cell.upper())(
                input_size,
                sizes[0],
                num_layers=len(sizes),
                batch_first=True,
                # nn.RNN applies dropout only between layers; with one layer it would warn and do nothing.
                dropout=cfg.dropout if len(sizes) > 1 else 0.0,
                bidirectional=cfg.bidirectional,
            )
        else:
            self.rnn = LayerStack(cfg.cell, input_size, sizes, cfg.bidirectional, cfg.dropout, cfg.input_dropout)
        # Without dropout (eval) the step loop computes exactly what the fused kernel does, and has the
        # same parameter names: evaluate and predict run at fused speed (layers of one size).
        self.eval_fused = isinstance(self.rnn, VariationalRNN) and len(set(sizes)) == 1
        self.weight_drop, self.mask = cfg.weight_drop, cfg.mask and input_spec["kind"] == "tokens"
        # Whether a backward direction must be told where each sequence ends: masked texts (front-
        # aligned below) and padded numeric sequences (padded at the end). A checkpoint written
        # before numeric sequences were padded-aware has no "padded" and is rebuilt as it trained.
        self.read_real_only = cfg.bidirectional and (self.mask or bool(input_spec.get("padded")))
        self.head_kind, self.bidirectional, self.hidden, self.cell = cfg.head, cfg.bidirectional, sizes[-1], cfg.cell
        self.seq_len = seq_len
        self.output_drop = nn.Dropout(cfg.output_dropout)
        features = sizes[-1] * dirs * (seq_len if cfg.head == "flatten" else 1)
        self.head = nn.Linear(features, output_size)
        _initialize(self, cfg)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:
            if self.mask:
                inputs = front_aligned(inputs)
            x = self.embedding_drop(self.embedding(inputs))
            real = inputs != 0
        else:
            if self.frame is not None:
                inputs, framed = self.frame.inputs(inputs)
            # Numeric steps: NaN marks padding (variable-length sequences); real values are never NaN.
            real = ~torch.isnan(inputs[..., 0])
            x = torch.nan_to_num(inputs, nan=0.0)
        # A backward direction must start at each sequence's last real step: it reads the real steps
        # only (fused_stack, VariationalRNN: lengths). The forward direction needs no lengths: it meets
        # every real step before any padding, and the heads never look past the last real one.
        lengths = real.sum(1).clamp_min(1) if self.read_real_only else None
        params = None
        if self.weight_drop > 0 and self.training:
            # DropConnect (AWD-LSTM): a dropped copy of every hidden-to-hidden matrix for this batch,
            # swapped in for one call, so the fused kernel still runs.
            params = {
                name: nn.functional.dropout(p, self.weight_drop, True)
                for name, p in self.rnn.named_parameters()
                if "weight_hh" in name
            }
        with recurrent_autocast(self.cell, x):
            out = self._recurrent(x, lengths, params)
        out = self.head(self.output_drop(self._summary(out, real)))
        return out if self.frame is None else self.frame.outputs(out, framed)

    def _recurrent(self, x: torch.Tensor, lengths: torch.Tensor | None, params: dict | None) -> torch.Tensor:
        """[B, T, features] -> [B, T, H * directions], by the fastest route that computes it here."""
        rnn = self.rnn
        if self.eval_fused and not self.training:
            layers = len(rnn.hidden_sizes)
            out = fused_stack(self.cell, x, weights_of(rnn), layers, self.bidirectional, self.hidden, lengths=lengths)
        elif self.scans_on_cpu and x.device.type != "cpu":  # cuDNN trains faster than any scan
            weight, layers = weights_of(rnn, params), len(rnn.hidden_sizes)
            dropout = rnn.inter_layer_dropout
            out = fused_stack(self.cell, x, weight, layers, self.bidirectional, self.hidden, dropout, True, lengths)
        elif isinstance(rnn, nn.RNNBase) and lengths is not None:
            weight = weights_of(rnn, params)
            out = fused_stack(self.cell, x, weight, rnn.num_layers, True, self.hidden, rnn.dropout, self.training, lengths)
        else:  # [B, T, H * directions]; the stacked layers and the step loop take the lengths themselves
            kw = {} if lengths is None else {"lengths": lengths}
            out = (rnn(x, **kw) if params is None else functional_call(rnn, params, (x,), kw))[0]
        return out

    def _summary(self, out: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """[B, T, H*dirs] -> [B, features]; ``real`` marks the steps that are not padding."""
        if self.head_kind == "flatten":
            if out.shape[1] != self.seq_len:
                raise ValueError(f"head flatten expects sequences of {self.seq_len} steps, got {out.shape[1]}")
            return out.reshape(out.shape[0], -1)
        if self.head_kind == "mean":
            weights = real.unsqueeze(2).to(out.dtype)
            return (out * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        if self.head_kind == "max":
            masked = out.masked_fill(~real.unsqueeze(2), float("-inf")).amax(1)
            return torch.where(torch.isinf(masked), torch.zeros_like(masked), masked)  # an empty text summarises to 0
        # last: the forward state at the last real token and the backward state at the first, so
        # padding on either side does not leak into the features (pre-padding: the last step).
        steps = torch.arange(real.shape[1], device=real.device)
        last = torch.where(real, steps, -1).amax(dim=1).clamp_min(0)
        batch = torch.arange(real.shape[0], device=real.device)
        features = out[batch, last, : self.hidden]
        if self.bidirectional:
            first = torch.where(real, steps, real.shape[1]).amin(dim=1).clamp_max(real.shape[1] - 1)
            features = torch.cat([features, out[batch, first, self.hidden :]], dim=1)
        if self.mask:  # as in Keras, a text with no real token leaves the state where it starts: zero
            features = features * real.any(1, keepdim=True)
        return features

    def recurrence(self, device: torch.device) -> dict[str, str]:
        """What the recurrent layers run through on ``device``, in training and in evaluation (meta.json)."""
        rnn = self.rnn
        if not isinstance(rnn, VariationalRNN):
            fused = "fused, one kernel per layer" if isinstance(rnn, LayerStack) else "fused"
            return {"training": fused, "evaluation": fused}
        if self.scans_on_cpu and torch.device(device).type != "cpu":
            training = "fused"
        else:
            training = "rnnexp scan" if self.cell in ("gru", "lstm") else "rnnexp step loop"
        return {"training": training, "evaluation": "fused" if self.eval_fused else training}

    def regularized_weights(self) -> list[torch.Tensor]:
        """Weight matrices that train.l1 / train.l2 penalise: recurrent and head weights, not biases or embeddings."""
        return [p for name, p in self.named_parameters() if "weight" in name and not name.startswith("embedding")]


def front_aligned(tokens: torch.Tensor) -> torch.Tensor:
    """Each row's real tokens (not 0) moved to the front in their order, padding after them: a
    recurrent layer then reaches every real token before any padding, so its state at the last
    real token is the state of the unpadded text (Keras' mask_zero). A permutation by scatter
    (cumsum, where), which TorchScript and ONNX export as they are."""
    real = tokens != 0
    before = real.long().cumsum(1) - 1  # where a real token goes: after the real tokens before it
    pads = (~real).long().cumsum(1) - 1 + real.long().sum(1, keepdim=True)  # padding: after every real token
    return torch.zeros_like(tokens).scatter(1, torch.where(real, before, pads), tokens)


def _initialize(model: RNNModel, cfg: ModelConfig) -> None:
    """model.init and its companions. keras is the default because PyTorch's word vectors start at
    N(0, 1), about 35 times Keras' U(-0.05, 0.05), and with them small models on a few thousand texts
    scored clearly below Keras' (docs/explanation/model.md; bench/keras_parity.py compares the two)."""
    gates, init = GATES[cfg.cell], cfg.init
    recurrent = cfg.recurrent_init or ("orthogonal" if init == "keras" else "torch")
    embedding = cfg.embedding_init or ("keras_uniform" if init == "keras" else "normal")
    forget_bias = cfg.forget_bias if cfg.forget_bias is not None else (1.0 if init == "keras" else None)
    schemes = {
        "xavier_uniform": nn.init.xavier_uniform_,
        "xavier_normal": nn.init.xavier_normal_,
        "kaiming_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="linear"),
        "kaiming_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="linear"),
        "orthogonal": nn.init.orthogonal_,
    }

    def input_weights(w: torch.Tensor) -> None:
        if init == "keras":
            nn.init.xavier_uniform_(w)  # Keras' kernel is this whole matrix: fan_out is gates x H
        else:
            for block in w.chunk(gates, 0):
                schemes[init](block)

    with torch.no_grad():
        if model.embedding is not None and embedding == "keras_uniform":
            model.embedding.weight.uniform_(-0.05, 0.05)
            model.embedding.weight[0].zero_()  # the padding row
        for name, p in model.rnn.named_parameters():
            if "weight_ih" in name and init != "torch":
                input_weights(p)
            elif "bias" in name and init != "torch":
                p.zero_()
            elif "weight_hh" in name and recurrent == "orthogonal":
                # The whole [gates x H, H] matrix, as Keras makes its [H, gates x H] recurrent kernel (the
                # transpose): orthonormal columns here, rows there. Not one orthogonal block per gate.
                nn.init.orthogonal_(p)
            elif "weight_hh" in name and recurrent != "torch":
                for block in p.chunk(gates, 0):
                    schemes[recurrent](block)
        if init != "torch":
            (nn.init.xavier_uniform_ if init == "keras" else schemes[init])(model.head.weight)  # Keras' Dense: Glorot
            model.head.bias.zero_()
        if forget_bias is not None and cfg.cell == "lstm":
            # PyTorch adds bias_ih and bias_hh; gate order i, f, g, o. Put the value in one, 0 in the other.
            for name, p in model.rnn.named_parameters():
                if "bias_ih" in name or "bias_hh" in name:
                    p.chunk(4, 0)[1].fill_(forget_bias if "bias_ih" in name else 0.0)


def build_model(cfg: ModelConfig, input_spec: dict, output_size: int) -> RNNModel:
    return RNNModel(cfg, input_spec, output_size)


def model_spec(model: RNNModel, cfg: ModelConfig, input_spec: dict, output_size: int) -> dict[str, Any]:
    """The checkpoint entries that rebuild the model without the run folder."""
    return {
        "model": model.state_dict(),
        "model_config": cfg.model_dump(mode="json"),
        "input": dict(input_spec),
        "output_size": output_size,
    }


def model_from_checkpoint(state: dict[str, Any], device: torch.device | str = "cpu") -> RNNModel:
    model = build_model(ModelConfig.model_validate(state["model_config"]), state["input"], state["output_size"])
    model.load_state_dict(state["model"])
    return model.to(device)


# What initialises weights: torch.nn.init's functions, and the tensor methods they and model.py call.
_INITIALISERS = {n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_")} | {"uniform_", "normal_", "zero_", "fill_"}


class _NoInit(torch.overrides.TorchFunctionMode):
    """Initialisers do nothing: a meta tensor has no values to set, and torch initialises meta tensors
    through torch._refs, whose first call imports torch._dynamo (about 1.4 s of a run's start)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in _INITIALISERS:
            return args[0] if args else kwargs["tensor"]  # the tensor it would set (nn.init's pass it by name)
        return func(*args, **kwargs)


def check_memory(
    cfg: Config, input_spec: dict, output_size: int, data_bytes: int, device: torch.device | str, home: torch.device | None = None
) -> dict[str, int]:
    """Estimate what training ``cfg`` needs in memory, before any of it is allocated, and refuse a
    config that cannot fit on ``device`` (ConfigError naming the key behind the largest part). A
    size the schema allows may still be far beyond one machine: without this, torch dies later in an
    allocation, or the kernel kills the process.

    The parts (bytes): the model (its parameters counted exactly on the meta device, x4: weights,
    gradients and two optimizer moments), one training batch's activations (every step's input and
    gate values of every layer and direction, kept for the backward pass, and their gradients), and
    the encoded data (``data_bytes``, from the task; none when the task keeps it on the host,
    ``home``, and moves it to the GPU per batch: devices.data_home). Returns the estimate."""
    m, device = cfg.model, torch.device(device)
    if home is not None and home != device:
        data_bytes = 0
    with torch.device("meta"), _NoInit():  # shapes only: nothing allocated
        model = build_model(m, input_spec, output_size)
    embedding = model.embedding.weight.numel() if model.embedding is not None else 0
    params = sum(p.numel() for p in model.parameters())
    steps = input_spec["seq_len"]
    width = m.dims if input_spec["kind"] == "tokens" else input_spec["num_features"]
    dirs = 2 if m.bidirectional else 1
    per_step = width + sum(dirs * h * (GATES[m.cell] + 2) for h in m.sizes)
    activations = cfg.train.batch_size * steps * per_step * 4 * 2
    seq_key = cfg.data.steps_key
    parts = [  # (the key that sets it, what it is, bytes)
        ("model.embedding_dims", "embedding", embedding * 16),
        ("model.num_neurons", "recurrent layers and head", (params - embedding) * 16),
        (f"train.batch_size or {seq_key}", "a batch's activations", activations),
        (seq_key, "the encoded data", data_bytes),
    ]
    need, free = sum(p[2] for p in parts), available_memory(device)
    if free is not None and need > free:
        key = max(parts, key=lambda p: p[2])[0]
        shown = ", ".join(f"{what} {_size(n)}" for _, what, n in parts)
        raise ConfigError(
            f"{key}: this config needs about {_size(need)} of memory to train ({shown}; {params:,} parameters), "
            f"more than the {_size(free)} free on {device}; lower {key}"
        )
    return {what: n for _, what, n in parts}


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PB"


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def predict_logits(
    model: nn.Module, tokens, batch_size: int = 512, padding: str | None = None, lengths: torch.Tensor | None = None
) -> torch.Tensor:
    """Outputs for every row of ``tokens`` (or feature windows) in eval mode (no dropout), in chunks to bound memory.

    ``tokens`` is a tensor, or anything that gives one for a slice or a tensor of rows and has a
    length and a device (tasks.text.PaddedRows: rows padded only when taken). With ``padding`` given
    (bucketed runs), rows are grouped by exact length (``lengths``, else their non-padding ids) and
    fed without any padding, so each row's result is independent of the other rows. Inputs kept on
    the host for a model on the GPU (devices.data_home) go there chunk by chunk; the outputs are
    where the inputs are.
    """
    was_training = model.training
    model.eval()
    device = model.head.weight.device

    def run(chunk: torch.Tensor) -> torch.Tensor:
        return model(to_compute(chunk, device)).to(tokens.device)

    try:
        if len(tokens) == 0:
            return torch.zeros((0, model.head.out_features), device=tokens.device)
        if padding is None:
            return torch.cat([run(tokens[i : i + batch_size]) for i in range(0, len(tokens), batch_size)])
        lengths = ((tokens != 0).sum(1) if lengths is None else lengths).clamp_min(1)
        out = torch.empty((len(tokens), model.head.out_features), device=tokens.device)
        for length in torch.unique(lengths).tolist():
            rows = torch.nonzero(lengths == length).squeeze(1)
            for i in range(0, len(rows), batch_size):
                chunk = tokens[rows[i : i + batch_size]]
                out[rows[i : i + batch_size]] = run(keep_real(chunk, length, padding))
        return out
    finally:
        model.train(was_training)
