"""The optimizers (rnnexp/training/optimizers.py), each step checked against a computation written
here from Keras 3's update rules in numpy, the RMSprop one also against the number Keras' own
documentation prints; the torch rule against torch.optim's defaults, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnexp.config.run import TrainConfig
from rnnexp.training.optimizers import KerasAdam, KerasRMSprop, make_optimizer


def settings(**train) -> dict:
    return TrainConfig.model_validate(train).optimizer_settings()


def run_steps(optimizer_for, start: np.ndarray, grads: list[np.ndarray], lrs: list[float] | None = None) -> np.ndarray:
    """Steps an optimizer through given gradients (lrs: the lr of each step, set as a schedule does)."""
    w = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    opt = optimizer_for([w])
    for i, g in enumerate(grads):
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[i]
        w.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return w.detach().numpy()


def keras_rmsprop(w, grads, lrs, rho, eps, momentum, decay=0.0):
    w, v, m = w.copy(), np.zeros_like(w), np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        g = g + decay * w
        v = rho * v + (1 - rho) * g**2
        increment = lr * g / np.sqrt(v + eps)
        m = momentum * m + increment
        w = w - (m if momentum > 0 else increment)
    return w


def keras_adam(w, grads, lrs, eps, decay=0.0, decoupled=False, b1=0.9, b2=0.999):
    w, m, v = w.copy(), np.zeros_like(w), np.zeros_like(w)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        if decoupled:
            w = w - lr * decay * w
        else:
            g = g + decay * w
        m = m + (g - m) * (1 - b1)
        v = v + (g**2 - v) * (1 - b2)
        w = w - m * (lr * np.sqrt(1 - b2**t) / (1 - b1**t)) / (np.sqrt(v) + eps)
    return w


RNG = np.random.default_rng(7)
START = RNG.normal(size=5)
# gradients of several sizes, some tiny: where epsilon's place in the rule shows
GRADS = [RNG.normal(size=5) * scale for scale in (1.0, 1e-4, 0.3, 1e-6, 2.0, 1e-3)]
LRS = [0.05, 0.05, 0.02, 0.02, 0.01, 0.01]


def test_keras_rmsprop_gives_the_number_keras_documents():
    # keras.optimizers.RMSprop's docstring: lr 0.1, var 10, loss var**2 / 2, one minimize: 9.683772
    w = torch.nn.Parameter(torch.tensor(10.0))
    opt = KerasRMSprop([w], lr=0.1, rho=0.9, epsilon=1e-7, momentum=0.0, weight_decay=0.0)
    (w**2 / 2).backward()
    opt.step()
    assert w.item() == pytest.approx(9.683772, abs=1e-6)


@pytest.mark.parametrize("momentum, decay", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.1), (0.9, 0.05)])
@pytest.mark.parametrize("rho, eps", [(0.9, 1e-7), (0.5, 1e-2)])
def test_keras_rmsprop_steps_as_keras_computes(momentum, decay, rho, eps):
    got = run_steps(lambda p: KerasRMSprop(p, 0.05, rho, eps, momentum, decay), START, GRADS, LRS)
    assert np.allclose(got, keras_rmsprop(START, GRADS, LRS, rho, eps, momentum, decay), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("decay, decoupled", [(0.0, False), (0.1, False), (0.1, True)])
@pytest.mark.parametrize("eps", [1e-7, 1e-2])
def test_keras_adam_steps_as_keras_computes(decay, decoupled, eps):
    got = run_steps(lambda p: KerasAdam(p, 0.05, eps, decay, decoupled), START, GRADS, LRS)
    assert np.allclose(got, keras_adam(START, GRADS, LRS, eps, decay, decoupled), rtol=1e-12, atol=1e-14)


def test_the_keras_rules_are_not_torchs():
    """The oracles above would pass a torch optimizer too if the rules were the same: they are not,
    on these gradients (the tiny ones), even at the same epsilon and rho."""
    torch_rms = run_steps(lambda p: torch.optim.RMSprop(p, lr=0.05, alpha=0.9, eps=1e-7), START, GRADS, LRS)
    assert not np.allclose(torch_rms, keras_rmsprop(START, GRADS, LRS, 0.9, 1e-7, 0.0), rtol=1e-6)
    torch_adam = run_steps(lambda p: torch.optim.Adam(p, lr=0.05, eps=1e-2), START, GRADS, LRS)
    assert not np.allclose(torch_adam, keras_adam(START, GRADS, LRS, 1e-2), rtol=1e-6)


@pytest.mark.parametrize(
    "name, torch_default",
    [
        ("rmsprop", lambda p: torch.optim.RMSprop(p, lr=0.05)),
        ("adam", lambda p: torch.optim.Adam(p, lr=0.05)),
        ("adamw", lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.0)),
        ("sgd", lambda p: torch.optim.SGD(p, lr=0.05)),
    ],
)
def test_optimizer_defaults_torch_is_torch_optims_own_defaults_bit_for_bit(name, torch_default):
    """What every run did before train.optimizer_defaults existed, and old run folders still do."""
    chosen = settings(optimizer=name, lr=0.05, optimizer_defaults="torch")
    got = run_steps(lambda p: make_optimizer(p, chosen), START, GRADS)
    assert np.array_equal(got, run_steps(torch_default, START, GRADS))


@pytest.mark.parametrize("name", ["rmsprop", "adam", "adamw"])
def test_optimizer_defaults_keras_builds_the_keras_rule(name):
    built = make_optimizer([torch.nn.Parameter(torch.zeros(2))], settings(optimizer=name))
    assert isinstance(built, KerasRMSprop if name == "rmsprop" else KerasAdam)
    got = run_steps(lambda p: make_optimizer(p, settings(optimizer=name, lr=0.05)), START, GRADS)
    expected = (
        keras_rmsprop(START, GRADS, [0.05] * 6, 0.9, 1e-7, 0.0)
        if name == "rmsprop"
        else keras_adam(START, GRADS, [0.05] * 6, 1e-7, decoupled=name == "adamw")
    )
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_optimizer_settings_resolve_each_null_key_and_keep_each_given_one():
    assert settings(optimizer="rmsprop") == {
        "name": "rmsprop", "lr": 1e-3, "weight_decay": 0.0, "rule": "keras", "epsilon": 1e-7, "rho": 0.9, "momentum": 0.0
    }  # fmt: skip
    assert settings(optimizer="rmsprop", optimizer_defaults="torch") | {"rule": None} == settings(
        optimizer="rmsprop", epsilon=1e-8, rho=0.99
    ) | {"rule": None}
    assert settings(optimizer="rmsprop", optimizer_defaults="torch", rho=0.5, epsilon=0.1)["rho"] == 0.5
    assert settings(optimizer="adam", optimizer_defaults="torch")["epsilon"] == 1e-8
    assert settings(optimizer="adamw", epsilon=1e-3) == {
        "name": "adamw", "lr": 1e-3, "weight_decay": 0.0, "rule": "keras", "epsilon": 1e-3
    }  # fmt: skip
    # sgd has neither: nothing recorded that it does not use
    assert settings(optimizer="sgd", momentum=0.9, epsilon=0.1) == {
        "name": "sgd",
        "lr": 1e-3,
        "weight_decay": 0.0,
        "momentum": 0.9,
    }


@pytest.mark.parametrize("key, value", [("epsilon", 0), ("epsilon", -1e-7), ("epsilon", 2), ("rho", 1), ("rho", 0)])
def test_out_of_range_values_are_refused_naming_the_key(key, value):
    from rnnexp.config import parse_config
    from rnnexp.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"train\.{key}"):
        parse_config(f"data: {{task: text_classification, train_file: x.csv}}\ntrain: {{{key}: {value}}}\n")


def test_the_optimizer_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    """last.pt holds the optimizer's state_dict, loaded with weights_only: the Keras optimizers' state
    is tensors and ints, and a reloaded one steps on exactly as the original."""
    for build in (
        lambda p: KerasRMSprop(p, 0.05, 0.9, 1e-7, 0.5, 0.0),
        lambda p: KerasAdam(p, 0.05, 1e-7, 0.1, True),
    ):
        w = torch.nn.Parameter(torch.tensor(START))
        opt = build([w])
        for g in GRADS[:3]:
            w.grad = torch.tensor(g)
            opt.step()
        torch.save({"w": w.detach().clone(), "opt": opt.state_dict()}, tmp_path / "c.pt")
        saved = torch.load(tmp_path / "c.pt", weights_only=True)
        w2 = torch.nn.Parameter(saved["w"])
        opt2 = build([w2])
        opt2.load_state_dict(saved["opt"])
        for g in GRADS[3:]:
            for p in (w, w2):
                p.grad = torch.tensor(g)
            opt.step()
            opt2.step()
        assert torch.equal(w, w2)


def test_zero_grad_clears_or_zeroes_every_gradient():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))
    opt = KerasAdam([a, b], 0.1, 1e-7, 0.0, False)
    a.grad, b.grad = torch.ones(2), torch.ones(3)
    opt.zero_grad(set_to_none=False)
    assert torch.equal(a.grad, torch.zeros(2)) and torch.equal(b.grad, torch.zeros(3))
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_a_state_dict_is_torchs_format_and_another_models_is_refused():
    a, b, frozen = (torch.nn.Parameter(torch.ones(n)) for n in (2, 3, 4))
    opt = KerasRMSprop([a, frozen, b], 0.1, 0.9, 1e-7, 0.5, 0.0)
    a.grad, b.grad = torch.ones(2), torch.ones(3)  # frozen has no gradient, and no state
    opt.step()
    saved = opt.state_dict()
    assert saved["param_groups"] == [
        {"lr": 0.1, "rho": 0.9, "epsilon": 1e-7, "momentum": 0.5, "weight_decay": 0.0, "params": [0, 1, 2]}
    ]
    assert sorted(saved["state"]) == [0, 2] and sorted(saved["state"][2]) == ["momentum", "velocity"]
    with pytest.raises(ValueError, match="other parameters"):
        KerasRMSprop([a, b], 0.1, 0.9, 1e-7, 0.5, 0.0).load_state_dict(saved)
    # the saved lr comes back with the state (a schedule's lr at the checkpoint), as torch's does
    again = KerasRMSprop([a, frozen, b], 0.5, 0.9, 1e-7, 0.5, 0.0)
    again.load_state_dict(saved)
    assert again.param_groups[0]["lr"] == 0.1 and torch.equal(again.state[b]["velocity"], opt.state[b]["velocity"])
    assert again.state[b]["velocity"] is not opt.state[b]["velocity"]  # a copy: the saved dict may go on changing


def test_training_with_keras_rules_never_imports_torch_dynamo(tiny_data, tmp_path):
    """torch.optim's optimizers import torch._dynamo when built (~1.4 s of every training process's
    start); the default optimizers do not, nor does anything else a run, its resume or its
    evaluation does (the memory check's model on the meta device, torch's deterministic switch)."""
    import json
    import subprocess
    import sys

    from conftest import tiny_config_dict

    script = (
        "import json, sys\n"
        "from rnnexp import api\n"
        "run = api.train(sys.argv[1], runs_dir=sys.argv[2])\n"
        "api.resume(run, epochs=2)\n"
        "api.evaluate(run)\n"
        "print(json.dumps('torch._dynamo' in sys.modules))\n"
    )
    for rule, imported in (("keras", False), ("torch", True)):
        config = tmp_path / f"{rule}.yaml"
        config.write_text(json.dumps(tiny_config_dict(tiny_data, train={"epochs": 1, "optimizer_defaults": rule})))
        done = subprocess.run([sys.executable, "-c", script, str(config), str(tmp_path / rule)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[-1]) is imported, rule
