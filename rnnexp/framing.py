"""A forecast framed by its own window, inside the model (so that export and predict reproduce it
with no step outside the network): the network learns what is left over a simple forecast, and
reads its window on the window's own level and scale. Both are forecasting's config keys
(data.residual, data.window_scale); the spec below is kept in the checkpoint's input spec, and a
checkpoint without one (every run before these keys) builds the model as it trained.

  * residual: the output is a reference value plus the network's, per step ahead: the window's
    last target value (persistence) or the target one season before each step (seasonal naive:
    ES-RNN's idea, with the season taken from the window instead of a fitted model);
  * window_scale: the target channel enters as (x - its window mean) / its window's standard
    deviation, and the network's output is multiplied back by that deviation (added to the mean
    when there is no residual reference).
"""

from __future__ import annotations

import torch
from torch import nn

from .config.schema import season_lag

SPREAD_FLOOR = 1e-3  # a flat window (in the scaler's units) is not divided by zero


def frame_spec(target: int, lookback: int, steps: list[int], residual: str, season: int | None, scale: bool) -> dict | None:
    """The input spec's "frame" entry: the target's channel, the window row each step's reference
    value is read from (None: no residual), and whether the window is scaled; None for neither."""
    if residual == "none" and not scale:
        return None
    base = None
    if residual == "persistence":
        base = [lookback - 1] * len(steps)
    elif residual == "seasonal_naive":
        base = [lookback - 1 + h - season_lag(h, season) for h in steps]
    return {"target": target, "base": base, "scale": scale}


class Frame(nn.Module):
    """frame_spec's steps around the network: inputs() before it, outputs() after."""

    def __init__(self, spec: dict):
        super().__init__()
        self.target, self.base, self.scale = int(spec["target"]), spec.get("base"), bool(spec.get("scale"))

    def inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The window as the network reads it, and (reference [B, steps or 1], factor [B, 1])."""
        series = x[..., self.target]  # [B, T]
        ones = torch.ones_like(series[:, :1])
        reference = series[:, self.base] if self.base is not None else torch.zeros_like(ones)
        if not self.scale:
            return x, (reference, ones)
        level = series.mean(1, keepdim=True)
        spread = series.std(1, unbiased=False, keepdim=True).clamp_min(SPREAD_FLOOR)
        scaled = (series - level) / spread
        x = torch.cat([x[..., : self.target], scaled.unsqueeze(-1), x[..., self.target + 1 :]], dim=-1)
        return x, (reference if self.base is not None else level, spread)

    @staticmethod
    def outputs(out: torch.Tensor, context: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        reference, factor = context
        return reference + factor * out
