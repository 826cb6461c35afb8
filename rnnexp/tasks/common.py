"""Batching for tasks whose training inputs are one tensor."""

from __future__ import annotations

import numpy as np
import torch

from ..data.batches import epoch_batches
from ..devices import to_compute
from ..model import predict_logits


class WholeTensors:
    """Batches for tasks whose training inputs are one tensor (windows, padded sequences): plain
    shuffled batches, rows picked by index, no padding games at prediction."""

    def batches(self, epoch: int) -> list[np.ndarray]:
        return epoch_batches(len(self.train_y), self.cfg.train.batch_size, self.cfg.train.seed, epoch)

    def batch(self, rows: np.ndarray, epoch: int, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows gathered where the task keeps its data (``home``: devices.data_home), then moved to the device."""
        idx = torch.from_numpy(rows).to(self.home)
        return to_compute(self.train_x[idx], self.device), to_compute(self.train_y[idx], self.device)

    def predict(self, model, x: torch.Tensor) -> torch.Tensor:
        return predict_logits(model, x)
