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


class RnnexpOptimizer:
    """What rnnexp asks of an optimizer, as torch.optim.Optimizer has it (param_groups, state, step,
    zero_grad, state_dict and load_state_dict in torch's format), without that base class: building
    any torch.optim optimizer imports torch._dynamo (torch wraps add_param_group in
    torch._disable_dynamo), about 1.4 s of every process that trains, a sweep worker's included."""

    def __init__(self, params: Iterable, defaults: dict[str, Any]):
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = [{"params": list(params), **defaults}]
        self.state: dict[torch.Tensor, dict[str, Any]] = {}  # a tensor hashes by identity

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_().zero_()

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}, as torch's."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            ids = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        return {"state": {index[id(p)]: state for p, state in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict["param_groups"]
        if [len(g["params"]) for g in saved] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError("the saved optimizer state is for other parameters (their groups' sizes differ)")
        by_index = {}
        for group, was in zip(self.param_groups, saved):
            by_index.update(zip(was["params"], group["params"]))
            group.update({k: v for k, v in was.items() if k != "params"})
        self.state = {
            by_index[int(i)]: {k: _on(v, by_index[int(i)]) for k, v in state.items()} for i, state in state_dict["state"].items()
        }

    def step(self, closure=None):
        loss = None if closure is None else closure()
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, p.grad, self.state.setdefault(p, {}), group)
        return loss

    def _update(self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError


def _on(value: Any, param: torch.Tensor) -> Any:
    """A loaded state value, a copy on the parameter's device in its dtype (as torch's load_state_dict)."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(device=param.device, dtype=param.dtype, copy=True)
    return value


class KerasRMSprop(RnnexpOptimizer):
    """keras.optimizers.RMSprop (not centered): v = rho v + (1 - rho) g^2; the step lr g / sqrt(v + eps),
    accumulated as momentum m = momentum m + step when momentum > 0. weight_decay adds wd * w to the
    gradient first, as torch's RMSprop does (train.weight_decay means the same for every rule)."""

    def __init__(self, params: Iterable, lr: float, rho: float, epsilon: float, momentum: float, weight_decay: float):
        super().__init__(params, {"lr": lr, "rho": rho, "epsilon": epsilon, "momentum": momentum, "weight_decay": weight_decay})

    def _update(self, p, grad, state, group):
        lr, rho, eps, momentum, decay = (group[k] for k in ("lr", "rho", "epsilon", "momentum", "weight_decay"))
        g = grad if decay == 0 else grad.add(p, alpha=decay)
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


class KerasAdam(RnnexpOptimizer):
    """keras.optimizers.Adam, and AdamW with ``decoupled``: m += (g - m)(1 - b1), v += (g^2 - v)(1 - b2),
    w -= m * lr sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + eps): epsilon is added after the bias
    correction ("epsilon hat"), where torch adds it to sqrt(v / (1 - b2^t)). weight_decay: decoupled
    (w -= lr wd w first) for adamw, added to the gradient for adam, as torch's do."""

    def __init__(self, params: Iterable, lr: float, epsilon: float, weight_decay: float, decoupled: bool):
        defaults = {"lr": lr, "betas": (0.9, 0.999), "epsilon": epsilon, "weight_decay": weight_decay, "decoupled": decoupled}
        super().__init__(params, defaults)

    def _update(self, p, grad, state, group):
        lr, (b1, b2), eps, decay = group["lr"], group["betas"], group["epsilon"], group["weight_decay"]
        g = grad
        if decay and group["decoupled"]:
            p.mul_(1 - lr * decay)
        elif decay:
            g = g.add(p, alpha=decay)
        if not state:
            state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
        state["step"] += 1
        t = state["step"]
        m, v = state["m"], state["v"]
        m.add_((g - m).mul_(1 - b1))
        v.add_((g * g - v).mul_(1 - b2))
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        p.sub_((m * alpha).div_(v.sqrt().add_(eps)))


def make_optimizer(params: Iterable, settings: dict[str, Any]):
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
