"""The network: embedding -> nn.RNN/GRU/LSTM -> linear head over the class logits."""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .errors import ConfigError


class RNNClassifier(nn.Module):
    def __init__(self, cfg: ModelConfig, vocab_size: int, num_classes: int):
        super().__init__()
        # Index 0 is padding: its vector stays zero and gets no gradient.
        self.embedding = nn.Embedding(vocab_size, cfg.embedding_dims, padding_idx=0)
        self.drop = nn.Dropout(cfg.dropout)
        rnn_cls = getattr(nn, cfg.cell.upper())  # nn.RNN, nn.GRU or nn.LSTM: the fused kernels
        self.rnn = rnn_cls(
            cfg.embedding_dims,
            cfg.num_neurons,
            num_layers=cfg.num_layers,
            batch_first=True,
            # nn.RNN applies dropout only between layers; with one layer it would warn and do nothing.
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
            bidirectional=cfg.bidirectional,
        )
        self.bidirectional = cfg.bidirectional
        self.hidden = cfg.num_neurons
        self.head = nn.Linear(cfg.num_neurons * (2 if cfg.bidirectional else 1), num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.drop(self.embedding(tokens)))  # [B, T, H * directions]
        # The summary of a sequence is the forward state at its last real token and the backward
        # state at its first, so post-padding does not leak into the features the head sees.
        # With pre-padding (the default) the last real token is simply the last step.
        real = tokens != 0
        steps = torch.arange(tokens.shape[1], device=tokens.device)
        last = torch.where(real, steps, -1).amax(dim=1).clamp_min(0)
        batch = torch.arange(tokens.shape[0], device=tokens.device)
        features = out[batch, last, : self.hidden]
        if self.bidirectional:
            first = torch.where(real, steps, tokens.shape[1]).amin(dim=1).clamp_max(tokens.shape[1] - 1)
            features = torch.cat([features, out[batch, first, self.hidden :]], dim=1)
        return self.head(self.drop(features))


def build_model(cfg: ModelConfig, vocab_size: int, num_classes: int) -> RNNClassifier:
    return RNNClassifier(cfg, vocab_size, num_classes)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when available, else cpu; asking for cuda without one is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device is 'cuda' but torch sees no CUDA device here; use 'auto' or 'cpu'")
    return torch.device(name)


@torch.no_grad()
def predict_logits(model: nn.Module, tokens: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Logits for every row of ``tokens``, in eval mode (no dropout), in chunks to bound memory."""
    was_training = model.training
    model.eval()
    try:
        if len(tokens) == 0:
            return torch.zeros((0, model.head.out_features), device=tokens.device)
        return torch.cat([model(tokens[i : i + batch_size]) for i in range(0, len(tokens), batch_size)])
    finally:
        model.train(was_training)
