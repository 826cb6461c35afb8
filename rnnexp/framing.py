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
    when there is no residual reference);
  * seasonal input (data.seasonal_input): one more channel, the target channel (as the network
    reads it) one season before the row after each row, so the last row carries the seasonal-naive
    forecast of the next step; rows whose value lies before the window read 0.
"""

from __future__ import annotations

import torch
from torch import nn

from .config.forecasting import season_lag

SPREAD_FLOOR = 1e-3  # a flat window (in the scaler's units) is not divided by zero


def frame_spec(
    target: int, lookback: int, steps: list[int], residual: str, season: int | None, scale: bool, seasonal_input: bool = False
) -> dict | None:
    """The input spec's "frame" entry: the target's channel, the window row each step's reference
    value is read from (None: no residual), whether the window is scaled and, with seasonal_input,
    the season of the added channel ("lag", absent without); None for none of them."""
    if residual == "none" and not scale and not seasonal_input:
        return None
    base = None
    if residual == "persistence":
        base = [lookback - 1] * len(steps)
    elif residual == "seasonal_naive":
        base = [lookback - 1 + h - season_lag(h, season) for h in steps]
    spec = {"target": target, "base": base, "scale": scale}
    return {**spec, "lag": season} if seasonal_input else spec


def added_channels(spec: dict | None) -> int:
    """How many input channels the frame adds to the window's (the network's input size is the sum)."""
    return 1 if spec and spec.get("lag") else 0


class Frame(nn.Module):
    """frame_spec's steps around the network: inputs() before it, outputs() after."""

    def __init__(self, spec: dict):
        super().__init__()
        self.target, self.base, self.scale = int(spec["target"]), spec.get("base"), bool(spec.get("scale"))
        self.lag = int(spec["lag"]) if spec.get("lag") else 0

    def inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The window as the network reads it, and (reference [B, steps or 1], factor [B, 1])."""
        series = x[..., self.target]  # [B, T]
        ones = torch.ones_like(series[:, :1])
        reference = series[:, self.base] if self.base is not None else torch.zeros_like(ones)
        if not self.scale:
            return self._with_lag(x, series), (reference, ones)
        level = series.mean(1, keepdim=True)
        spread = series.std(1, unbiased=False, keepdim=True).clamp_min(SPREAD_FLOOR)
        scaled = (series - level) / spread
        x = torch.cat([x[..., : self.target], scaled.unsqueeze(-1), x[..., self.target + 1 :]], dim=-1)
        return self._with_lag(x, scaled), (reference if self.base is not None else level, spread)

    def _with_lag(self, x: torch.Tensor, series: torch.Tensor) -> torch.Tensor:
        """``x`` with the seasonal channel last: row t reads ``series`` at t + 1 - lag (0 before the window)."""
        if not self.lag:
            return x
        shift = self.lag - 1
        lagged = torch.cat([torch.zeros_like(series[:, :shift]), series[:, : series.shape[1] - shift]], dim=1)
        return torch.cat([x, lagged.unsqueeze(-1)], dim=-1)

    @staticmethod
    def outputs(out: torch.Tensor, context: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        reference, factor = context
        return reference + factor * out
