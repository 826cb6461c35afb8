"""The parts a run trains with, built in one place for train, resume, dry-run and lr-find."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import Config
from ..devices import autocast
from ..errors import ConfigError
from ..model import build_model, model_spec
from .optimizers import make_optimizer
from .policies import EarlyStopping, LRSchedule


@dataclass
class Parts:
    """The config and task, and the model, optimizer and policies built for them."""

    cfg: Config
    task: Any
    input_spec: dict[str, Any]  # what every checkpoint records
    model: torch.nn.Module
    optimizer: Any  # a torch.optim optimizer, or optimizers.RnnexpOptimizer (the same interface)
    params: list[torch.nn.Parameter]  # what clipping acts on
    early: EarlyStopping
    schedule: LRSchedule
    scaler: Any = None  # torch.amp.GradScaler with train.precision fp16 (its state is in last.pt)

    @property
    def device(self) -> torch.device:
        return self.task.device

    def autocast(self):
        """The context of the forward pass and loss: autocast for train.precision bf16 and fp16."""
        return autocast(self.cfg.train.precision, self.device)

    def model_entries(self, run_id: str) -> dict[str, Any]:
        """What rebuilding and using the model needs, without the run folder."""
        return {
            "run_id": run_id,
            **model_spec(self.model, self.cfg.model, self.input_spec, self.task.output_size),
            "preprocessing": self.task.preprocessing,
            "config": self.cfg.model_dump(mode="json"),
        }


def build_parts(cfg: Config, task, pretrained=None, input_spec: dict[str, Any] | None = None, fresh: bool = True) -> Parts:
    """The model, optimizer and training state objects.

    fresh: seed every RNG first, so the starting weights are a pure function of the config (a new
    run, or a resume before the first checkpoint); a resume from a checkpoint restores the RNGs.
    input_spec: a checkpoint's, on resume, so the model is rebuilt as it trained, whatever this
    version would build for a new run. pretrained: vectors copied into the embedding."""
    if fresh:
        seed_everything(cfg.train.seed)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    input_spec = input_spec or task.input_spec
    model = build_model(cfg.model, input_spec, task.output_size).to(task.device)
    if cfg.model.embedding.freeze:
        model.embedding.weight.requires_grad_(False)
    optimizer = make_optimizer(model.parameters(), cfg.train.optimizer_settings())
    params = [p for p in model.parameters() if p.requires_grad]
    es = cfg.train.early_stopping
    early = EarlyStopping(es.monitor, es.resolved_mode, es.patience, es.min_delta, es.enabled)
    schedule = LRSchedule(cfg.train.lr_schedule, cfg.train.lr, cfg.train.epochs)
    if pretrained is not None:
        with torch.no_grad():
            model.embedding.weight.copy_(torch.from_numpy(pretrained.matrix))
    scaler = grad_scaler(task.device) if cfg.train.precision == "fp16" else None
    return Parts(cfg, task, input_spec, model, optimizer, params, early, schedule, scaler)


def grad_scaler(device: torch.device):
    """fp16's loss scaling (fp16 runs on CUDA only: devices.check_precision)."""
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler(device.type)
    return torch.cuda.amp.GradScaler()  # torch < 2.3


def seed_everything(seed: int) -> None:
    # rich.style draws from Python's global random when first imported. Imported first during a run
    # (a table's first line, say), it would move the seeded state that checkpoints record, by
    # whether this process had imported it before: imported here, before seeding, it never does.
    import rich.style  # noqa: F401

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def check_packages(cfg: Config) -> None:
    """A config switch whose optional package is missing is a config error, before any folder is made."""
    import importlib.util

    needs = ((cfg.train.tensorboard, "train.tensorboard", "tensorboard"), (cfg.train.mlflow.enabled, "train.mlflow", "mlflow"))
    for on, key, package in needs:
        if on and importlib.util.find_spec(package) is None:
            raise ConfigError(
                f"{key} is true but the {package} package is not installed: "
                f"pip install 'rnnexp[{package}]' (or pip install {package}), or set {key}: false"
            )


def load_pretrained(cfg: Config, task):
    """Read pretrained vectors for the fitted vocabulary; fixes model.embedding_dims from the file if unset."""
    path = cfg.model.embedding.pretrained
    if path is None:
        return None
    from ..data.embeddings import load_pretrained

    prep = task.prep
    found = load_pretrained(
        path, prep.vocab, lowercase=prep.lowercase, seed=cfg.train.seed, expected_dim=cfg.model.embedding_dims
    )
    if cfg.model.embedding_dims is None:
        cfg.model.embedding_dims = found.dim  # recorded in config.yaml, so resume and evaluate build the same model
    return found


def pretrained_summary(found) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "dim": found.dim,
        "found": found.found,
        "coverage": round(found.coverage, 4),
        "missing_examples": found.missing_examples,
    }
