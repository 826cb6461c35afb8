"""Recurrent layers with Keras-style variational dropout, a drop-in for nn.RNN / nn.GRU / nn.LSTM.

PyTorch's fused recurrent kernels only offer dropout *between* stacked layers. Keras additionally has
``dropout`` (on the layer input x_t) and ``recurrent_dropout`` (on the previous state h(t-1)), both with
one mask per sequence that is reused at every time step (Gal & Ghahramani's variational dropout).
Masking h(t-1) inside the recurrence cannot be done with the fused kernels, so this module runs the
time loop in Python -- but only for the hidden-to-hidden part: the input projection of all steps is
one matmul per layer and direction, done before the loop.

Parameters are named, shaped, ordered and initialised exactly like PyTorch's (``weight_ih_l0``,
``bias_hh_l1_reverse``, ...; gates i,f,g,o for LSTM and r,z,n for GRU), so with equal layer sizes a
state_dict moves freely between this module and the corresponding nn.RNN / nn.GRU / nn.LSTM.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .scans import _gru_direction, _lstm_direction

# How many gate blocks each cell stacks in its weight matrices (rows = gates * hidden).
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def _dropout_mask(like: Tensor, features: int, p: float) -> Tensor | None:
    """One inverted-dropout mask of shape [B, features] (kept units scaled by 1/(1-p)), or None if p == 0.

    Sampled from the global torch RNG, so a caller's torch.manual_seed makes it reproducible; p == 0
    returns before touching the RNG, so dropout-free runs leave the RNG state alone.
    """
    if p == 0.0:
        return None
    keep = 1.0 - p
    return like.new_empty((like.shape[0], features)).bernoulli_(keep).div_(keep)


class VariationalRNN(nn.Module):
    """Stacked (optionally bidirectional) RNN/GRU/LSTM over batch-first input with variational dropout.

    ``forward(x)`` takes x: [B, T, input_size] and returns ``(output, None)`` with output
    [B, T, hidden_sizes[-1] * directions], mirroring ``nn.GRU(batch_first=True)`` minus the final state.
    Initial hidden (and cell) states are zeros.

    Dropout (training mode only; eval mode is the exact dropout-free computation):
      * input_dropout: one mask per sequence on each layer's input, the same at every step;
      * recurrent_dropout: one mask per sequence on h(t-1) where it enters the hidden-to-hidden matmul
        (not on the LSTM cell state, and not on the h(t-1) that the GRU carries through its update gate,
        as in Keras);
      * inter_layer_dropout: ordinary element-wise dropout on the outputs feeding the next layer.
    Masks are drawn per layer, per direction (forward first), input mask before recurrent mask.
    """

    batch_first = True

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_sizes: list[int],
        bidirectional: bool = False,
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        inter_layer_dropout: float = 0.0,
    ):
        super().__init__()
        if cell not in GATES:
            raise ValueError(f"cell must be one of {sorted(GATES)}, got {cell!r}")
        if not hidden_sizes or any(h <= 0 for h in hidden_sizes):
            raise ValueError(f"hidden_sizes must be a non-empty list of positive sizes, got {hidden_sizes!r}")
        for name, p in (
            ("input_dropout", input_dropout),
            ("recurrent_dropout", recurrent_dropout),
            ("inter_layer_dropout", inter_layer_dropout),
        ):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        self.cell = cell
        self.input_size = input_size
        self.hidden_sizes = list(hidden_sizes)
        self.num_layers = len(hidden_sizes)
        self.bidirectional = bidirectional
        self.input_dropout = float(input_dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.inter_layer_dropout = float(inter_layer_dropout)
        self._suffixes = ["", "_reverse"] if bidirectional else [""]

        gates = GATES[cell]
        layer_in = input_size
        for k, hidden in enumerate(self.hidden_sizes):
            for sfx in self._suffixes:
                # Registered directly on this module (no sub-modules) so the names match PyTorch's exactly.
                self.register_parameter(f"weight_ih_l{k}{sfx}", nn.Parameter(torch.empty(gates * hidden, layer_in)))
                self.register_parameter(f"weight_hh_l{k}{sfx}", nn.Parameter(torch.empty(gates * hidden, hidden)))
                self.register_parameter(f"bias_ih_l{k}{sfx}", nn.Parameter(torch.empty(gates * hidden)))
                self.register_parameter(f"bias_hh_l{k}{sfx}", nn.Parameter(torch.empty(gates * hidden)))
            layer_in = hidden * len(self._suffixes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's scheme: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), H the size of its own layer.
        for k, hidden in enumerate(self.hidden_sizes):
            bound = 1.0 / math.sqrt(hidden)
            for sfx in self._suffixes:
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    nn.init.uniform_(getattr(self, f"{kind}_l{k}{sfx}"), -bound, bound)

    def extra_repr(self) -> str:
        return (
            f"{self.cell}, {self.input_size}, hidden_sizes={self.hidden_sizes}, bidirectional={self.bidirectional}, "
            f"input_dropout={self.input_dropout}, recurrent_dropout={self.recurrent_dropout}, "
            f"inter_layer_dropout={self.inter_layer_dropout}"
        )

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, None]:
        """``lengths`` [B]: each row's real steps come first and only those are read, as by a packed
        nn.GRU: the backward direction starts at step lengths - 1, and the outputs after it are zero."""
        if x.dim() != 3:
            raise ValueError(f"expected input [batch, time, features], got shape {tuple(x.shape)}")
        real = flip = None
        if lengths is not None:
            real, flip = real_steps(lengths, x.shape[1]), within_length_reversal(lengths, x.shape[1])
        layer_input = x
        for k, hidden in enumerate(self.hidden_sizes):
            if k > 0 and self.training and self.inter_layer_dropout > 0.0:
                layer_input = F.dropout(layer_input, self.inter_layer_dropout, training=True)
            outputs = []
            for sfx in self._suffixes:
                if sfx and flip is not None:  # backward over the real steps only: forwards, with the backward weights
                    run = partial(self._run_direction, k=k, sfx="", hidden=hidden, weights=sfx)
                    outputs.append(backward_within_lengths(run, layer_input, flip))
                else:
                    outputs.append(self._run_direction(layer_input, k, sfx, hidden))
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)
            if real is not None:
                layer_input = layer_input * real
        return layer_input, None

    def _run_direction(self, x: Tensor, k: int, sfx: str, hidden: int, weights: str | None = None) -> Tensor:
        """One layer, one direction: [B, T, in] -> [B, T, hidden]; output[:, t] is the state at position t.
        ``sfx`` says which way it runs ("" forwards), ``weights`` whose weights it uses (default: sfx's)."""
        own = sfx if weights is None else weights
        w_ih, w_hh = getattr(self, f"weight_ih_l{k}{own}"), getattr(self, f"weight_hh_l{k}{own}")
        b_ih, b_hh = getattr(self, f"bias_ih_l{k}{own}"), getattr(self, f"bias_hh_l{k}{own}")
        batch, steps = x.shape[0], x.shape[1]
        if steps == 0:
            return x.new_zeros(batch, 0, hidden)

        in_mask = rec_mask = None
        if self.training:
            in_mask = _dropout_mask(x, x.shape[2], self.input_dropout)
            rec_mask = _dropout_mask(x, hidden, self.recurrent_dropout)
        if in_mask is not None:
            x = x * in_mask.unsqueeze(1)  # [B, 1, in]: the same mask at every time step
        # Input projection of all steps at once; the loop (or scan) only does the h(t-1) @ W_hh part.
        # LSTM and GRU go through hand-written scans (scans.py): a step loop recorded by autograd is
        # bound by per-op overhead on small tensors.
        if self.cell == "lstm":
            return _lstm_direction(x, w_ih, w_hh, b_ih + b_hh, rec_mask, reverse=bool(sfx))
        if self.cell == "gru":
            return _gru_direction(x, w_ih, w_hh, b_ih, b_hh, rec_mask, reverse=bool(sfx))
        # The tanh RNN: unbind gives per-step views without a slicing op per step in the autograd
        # graph; both biases go into the projection and one addmm per step adds the recurrent part.
        proj = F.linear(x, w_ih, b_ih + b_hh).unbind(1)
        w_hh_t = w_hh.t()

        h = x.new_zeros(batch, hidden)
        order = range(steps - 1, -1, -1) if sfx else range(steps)
        outs: list[Tensor] = []
        for t in order:
            h_in = h if rec_mask is None else h * rec_mask
            h = torch.addmm(proj[t], h_in, w_hh_t).tanh()
            outs.append(h)
        if sfx:
            outs.reverse()  # collected from t = T-1 down to 0; put them back in time order
        # One stack at the end keeps backward linear in T (no tensor regrown per step).
        return torch.stack(outs, dim=1)


def within_length_reversal(lengths: Tensor, steps: int) -> Tensor:
    """[B, T] step indices that reverse each row's first lengths[b] steps and keep the rest in place."""
    t = torch.arange(steps, device=lengths.device).unsqueeze(0)
    return torch.where(t < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - t, t)


def real_steps(lengths: Tensor, steps: int) -> Tensor:
    """[B, T, 1]: True at each row's first lengths[b] steps (its real ones, front-aligned)."""
    return (torch.arange(steps, device=lengths.device) < lengths.unsqueeze(1)).unsqueeze(2)


def gather_steps(x: Tensor, index: Tensor) -> Tensor:
    """x [B, T, F] with its steps taken in each row's order ``index`` [B, T]."""
    return x.gather(1, index.unsqueeze(2).expand(-1, -1, x.shape[2]))


def backward_within_lengths(run_forwards, x: Tensor, flip: Tensor) -> Tensor:
    """A backward direction over each row's real steps only: the row reversed within its length
    (``flip``, from within_length_reversal), run forwards, and the outputs put back in place (the
    reversal is its own inverse). The step loop and model.fused_stack both go through here."""
    return gather_steps(run_forwards(gather_steps(x, flip)), flip)
