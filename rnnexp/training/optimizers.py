"""The optimizer a run steps with (train.optimizer), built from train.optimizer_settings(): torch.optim's,
or, for adam, adamw and rmsprop under train.optimizer_defaults: keras, the two below, which step as
Keras 3's do. The tutorials' learning rates were found with Keras, and the rules differ where it
matters at those rates: Keras' RMSprop divides by sqrt(v + epsilon), so a weight whose gradients are
tiny moves at most lr * |g| / sqrt(1e-7) instead of lr * |g| / 1e-8."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch


class KerasRMSprop(torch.optim.Optimizer):
    """keras.optimizers.RMSprop (not centered): v = rho v + (1 - rho) g^2; the step lr g / sqrt(v + eps),
    accumulated as momentum m = momentum m + step when momentum > 0. weight_decay adds wd * w to the
    gradient first, as torch's RMSprop does (train.weight_decay means the same for every rule)."""

    def __init__(self, params: Iterable, lr: float, rho: float, epsilon: float, momentum: float, weight_decay: float):
        super().__init__(params, {"lr": lr, "rho": rho, "epsilon": epsilon, "momentum": momentum, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            lr, rho, eps, momentum, decay = (group[k] for k in ("lr", "rho", "epsilon", "momentum", "weight_decay"))
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if decay == 0 else p.grad.add(p, alpha=decay)
                state = self.state[p]
                if not state:
                    state["velocity"] = torch.zeros_like(p)
                    if momentum > 0:
                        state["momentum"] = torch.zeros_like(p)
                velocity = state["velocity"]
                velocity.mul_(rho).add_(g * g, alpha=1 - rho)
                increment = (g * lr).div_(velocity.add(eps).sqrt_())
                if momentum > 0:
                    p.sub_(state["momentum"].mul_(momentum).add_(increment))
                else:
                    p.sub_(increment)
        return loss


class KerasAdam(torch.optim.Optimizer):
    """keras.optimizers.Adam, and AdamW with ``decoupled``: m += (g - m)(1 - b1), v += (g^2 - v)(1 - b2),
    w -= m * lr sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + eps): epsilon is added after the bias
    correction ("epsilon hat"), where torch adds it to sqrt(v / (1 - b2^t)). weight_decay: decoupled
    (w -= lr wd w first) for adamw, added to the gradient for adam, as torch's do."""

    def __init__(self, params: Iterable, lr: float, epsilon: float, weight_decay: float, decoupled: bool):
        defaults = {"lr": lr, "betas": (0.9, 0.999), "epsilon": epsilon, "weight_decay": weight_decay, "decoupled": decoupled}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            lr, (b1, b2), eps, decay = group["lr"], group["betas"], group["epsilon"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if decay and group["decoupled"]:
                    p.mul_(1 - lr * decay)
                elif decay:
                    g = g.add(p, alpha=decay)
                state = self.state[p]
                if not state:
                    state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                state["step"] += 1
                t = state["step"]
                m, v = state["m"], state["v"]
                m.add_((g - m).mul_(1 - b1))
                v.add_((g * g - v).mul_(1 - b2))
                alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
                p.sub_((m * alpha).div_(v.sqrt().add_(eps)))
        return loss


def make_optimizer(params: Iterable, settings: dict[str, Any]) -> torch.optim.Optimizer:
    """The optimizer train.optimizer_settings() describes, over ``params``."""
    name, lr, decay = settings["name"], settings["lr"], settings["weight_decay"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=settings["momentum"], weight_decay=decay)
    keras, eps = settings["rule"] == "keras", settings["epsilon"]
    if name == "rmsprop":
        if keras:
            return KerasRMSprop(params, lr, settings["rho"], eps, settings["momentum"], decay)
        return torch.optim.RMSprop(
            params, lr=lr, alpha=settings["rho"], eps=eps, momentum=settings["momentum"], weight_decay=decay
        )
    if keras:
        return KerasAdam(params, lr, eps, decay, decoupled=name == "adamw")
    optimizer = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    return optimizer(params, lr=lr, eps=eps, weight_decay=decay)
