from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnexp.cells import VariationalRNN
from rnnexp.config import ModelConfig
from rnnexp.devices import resolve_device
from rnnexp.errors import ConfigError
from rnnexp.model import (
    LayerStack,
    build_model,
    count_parameters,
    model_from_checkpoint,
    model_spec,
    predict_logits,
)


def tokens_spec(vocab: int = 30, seq_len: int = 12) -> dict:
    return {"kind": "tokens", "vocab_size": vocab, "seq_len": seq_len}


def make(seq_len: int = 12, vocab: int = 30, classes: int = 2, seed: int = 0, **kw):
    torch.manual_seed(seed)
    return build_model(ModelConfig(**kw), tokens_spec(vocab, seq_len), classes)


def run_twice(model, x, seeds=(0, 1)):
    outs = []
    for s in seeds:
        torch.manual_seed(s)
        outs.append(model(x))
    return outs


X = torch.randint(2, 30, (4, 12))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shapes_and_cell_type(cell, bidirectional):
    model = make(cell=cell, embedding_dims=8, num_neurons=6, num_layers=2, bidirectional=bidirectional, dropout=0.1, classes=3)
    assert model.rnn.num_layers == 2 and model.rnn.bidirectional == bidirectional
    if cell == "gru":  # on CPU the GRU trains through rnnexp's scan (model.scan_trains), faster than nn.GRU
        assert isinstance(model.rnn, VariationalRNN) and model.rnn.inter_layer_dropout == 0.1
        assert model.recurrence(torch.device("cpu")) == {"training": "rnnexp scan", "evaluation": "fused"}
        assert model.recurrence(torch.device("cuda")) == {"training": "fused", "evaluation": "fused"}
    else:
        assert type(model.rnn).__name__ == cell.upper() and model.rnn.dropout == 0.1
        assert model.recurrence(torch.device("cpu")) == {"training": "fused", "evaluation": "fused"}
    assert model(X).shape == (4, 3)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"num_layers": 2, "bidirectional": True},
        {"num_neurons": 13, "head": "mean"},
        {"bidirectional": True, "mask": True},
        {"weight_drop": 0.3},
    ],
)
def test_the_gru_scan_trains_what_nn_gru_trains_and_checkpoints_move_between_them(kw):
    """The same weights in nn.GRU (as before the scan, and on CUDA) and in the scan: the same training
    outputs and gradients within float32 noise, and one state_dict for both."""
    scan = make(cell="gru", embedding_dims=8, num_neurons=kw.pop("num_neurons", 6), **kw).train()
    fused = make(cell="gru", embedding_dims=8, num_neurons=scan.hidden, **kw)
    fused.rnn = nn.GRU(8, scan.hidden, num_layers=scan.rnn.num_layers, batch_first=True, bidirectional=scan.bidirectional)
    fused.scans_on_cpu = fused.eval_fused = False
    assert isinstance(scan.rnn, VariationalRNN)
    fused.load_state_dict(scan.state_dict())  # the same keys and shapes both ways
    scan.load_state_dict(fused.state_dict())
    fused.train()
    x = torch.cat([X, torch.zeros(2, 12, dtype=X.dtype)])  # two empty texts too
    x[0, :5] = 0  # and some padding
    torch.manual_seed(3)
    a = scan(x)
    torch.manual_seed(3)
    b = fused(x)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    a.square().sum().backward()
    b.square().sum().backward()
    for (name, p), q in zip(scan.named_parameters(), fused.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("cell", ["lstm", "gru"])  # nn.LSTM, and the GRU's scan
def test_inter_layer_dropout_only_between_layers(cell):
    one = make(cell=cell, dropout=0.5).train()  # one layer: nothing to drop between
    a, b = run_twice(one, X)
    assert torch.equal(a, b)
    model = make(cell=cell, dropout=0.5, num_layers=2).train()
    a, b = run_twice(model, X)
    assert not torch.equal(a, b)
    model.eval()
    assert torch.equal(model(X), model(X))


@pytest.mark.parametrize("knob", ["embedding_dropout", "output_dropout", "input_dropout", "recurrent_dropout", "weight_drop"])
def test_each_dropout_changes_training_but_not_eval(knob):
    plain = make()
    model = make(**{knob: 0.5})
    if knob != "input_dropout":  # input_dropout builds a layer stack with other parameter names
        model.load_state_dict(plain.state_dict())
    model.train()
    a, b = run_twice(model, X)
    assert not torch.equal(a, b), f"{knob} had no effect in training"
    model.eval()
    assert torch.equal(model(X), model(X))
    if knob != "input_dropout":
        # same weights, eval mode: identical to the model without dropout
        assert torch.allclose(model(X), plain.eval()(X), atol=1e-5)


def test_recurrent_dropout_uses_the_step_loop_and_loads_fused_weights():
    model = make(recurrent_dropout=0.2, input_dropout=0.1, num_layers=2, bidirectional=True)
    assert isinstance(model.rnn, VariationalRNN)
    fused = make(num_layers=2, bidirectional=True)
    fused.load_state_dict(model.state_dict())  # same parameter names: a run can switch paths
    assert torch.allclose(model.eval()(X), fused.eval()(X), atol=1e-5)


def test_per_layer_sizes_and_input_dropout_use_a_stack_of_fused_layers():
    model = make(num_neurons=[16, 8], bidirectional=True)
    assert isinstance(model.rnn, LayerStack) and [layer.hidden_size for layer in model.rnn.layers] == [16, 8]
    assert model.rnn.layers[1].input_size == 32 and model(X).shape == (4, 2)
    assert isinstance(make(input_dropout=0.2).rnn, LayerStack)


def test_input_dropout_mask_is_constant_over_time():
    model = make(input_dropout=0.5)
    x = torch.ones(3, 7, 32)
    torch.manual_seed(0)
    seen = []
    original = model.rnn.layers[0].forward
    model.rnn.layers[0].forward = lambda inp: (seen.append(inp), original(inp))[1]
    model.rnn.train()(x)
    masked = seen[0]
    assert torch.equal(masked, masked[:, :1].expand_as(masked))  # every step has the first step's mask
    assert (masked == 0).any()


@pytest.mark.parametrize("cell,module", [("lstm", nn.LSTM), ("gru", VariationalRNN)])
def test_weight_drop_keeps_the_kernel_and_stored_weights(cell, module):
    model = make(cell=cell, weight_drop=0.5).train()
    before = model.rnn.weight_hh_l0.detach().clone()
    assert isinstance(model.rnn, module)
    model(X).sum().backward()
    assert torch.equal(model.rnn.weight_hh_l0, before)  # the dropped copy never replaces the parameter
    assert model.rnn.weight_hh_l0.grad is not None and model.rnn.weight_hh_l0.grad.abs().sum() > 0


def _fake_rnn_model(head: str, seq_len: int = 5):
    model = make(head=head, embedding_dims=2, num_neurons=1, seq_len=seq_len)
    model.head = nn.Identity()

    class FakeRNN(nn.Module):  # output at step t is t + 1
        def forward(self, x):
            return (torch.arange(x.shape[1], dtype=torch.float32) + 1).expand(x.shape[0], -1).unsqueeze(2), None

    model.rnn = FakeRNN()
    return model


TOKENS = torch.tensor([[0, 0, 5, 6, 7], [5, 6, 0, 0, 0], [0, 0, 0, 0, 0]])


def test_heads_mean_max_last_flatten_respect_padding():
    assert _fake_rnn_model("mean")(TOKENS).squeeze(1).tolist() == [4.0, 1.5, 0.0]
    assert _fake_rnn_model("max")(TOKENS).squeeze(1).tolist() == [5.0, 2.0, 0.0]
    assert _fake_rnn_model("last")(TOKENS).squeeze(1).tolist() == [5.0, 2.0, 1.0]
    assert _fake_rnn_model("flatten")(TOKENS).tolist()[0] == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="flatten expects sequences of 5 steps"):
        _fake_rnn_model("flatten")(TOKENS[:, :3])


def test_flatten_head_size_follows_seq_len():
    assert make(head="flatten", num_neurons=6, seq_len=12).head.in_features == 6 * 12


def test_summary_picks_forward_state_at_last_and_backward_state_at_first_real_token():
    model = make(embedding_dims=2, num_neurons=1, bidirectional=True)
    model.head = nn.Identity()

    class FakeRNN(nn.Module):  # output at step t: forward half t, backward half 100 + t
        def forward(self, x):
            t = torch.arange(x.shape[1], dtype=torch.float32).expand(x.shape[0], -1)
            return torch.stack([t, 100 + t], dim=2), None

    model.rnn = FakeRNN()
    tokens = torch.tensor([[0, 0, 5, 6, 7], [5, 6, 0, 0, 0], [0, 5, 6, 7, 0], [0, 0, 0, 0, 0]])
    assert model(tokens).tolist() == [[4, 102], [1, 100], [3, 101], [0, 104]]


def test_post_padding_does_not_change_the_unidirectional_summary():
    model = make(cell="lstm", embedding_dims=4, num_neurons=5).eval()
    assert torch.allclose(model(torch.tensor([[3, 4, 5]])), model(torch.tensor([[3, 4, 5, 0, 0, 0]])), atol=1e-6)


@pytest.mark.parametrize("scheme", ["xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal"])
def test_init_schemes_change_input_weights_and_zero_biases(scheme):
    torch_init, other = make(cell="lstm", init="torch"), make(cell="lstm", init=scheme)
    assert not torch.equal(torch_init.rnn.weight_ih_l0, other.rnn.weight_ih_l0)
    assert other.rnn.bias_ih_l0.abs().sum() == 0 and other.head.bias.abs().sum() == 0
    assert torch.equal(torch_init.rnn.weight_hh_l0, other.rnn.weight_hh_l0)  # recurrent weights: PyTorch's
    assert torch.equal(torch_init.embedding.weight, other.embedding.weight)  # word vectors: PyTorch's


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True)])
def test_keras_init_is_what_keras_builds(cell, layers, bidirectional):
    """Keras' defaults: Embedding U(-0.05, 0.05); kernel Glorot uniform over the whole [in, gates x H]
    matrix; recurrent kernel orthogonal over the whole [H, gates x H] matrix; zero biases, LSTM
    forget bias 1; Dense Glorot uniform, zero bias."""
    units, dims, gates = 16, 24, {"rnn": 1, "gru": 3, "lstm": 4}[cell]
    model = make(cell=cell, num_neurons=units, embedding_dims=dims, num_layers=layers, bidirectional=bidirectional, vocab=5000)
    emb = model.embedding.weight
    assert (
        emb[0].abs().sum() == 0 and emb[1:].abs().max() <= 0.05 and float(emb[1:].std()) == pytest.approx(0.1 / 12**0.5, rel=0.05)
    )
    for name, p in model.rnn.named_parameters():
        if "weight_ih" in name:
            limit = (6 / (p.shape[1] + gates * units)) ** 0.5
            assert p.abs().max() <= limit and p.abs().max() > 0.95 * limit, name
        elif "weight_hh" in name:
            assert p.shape == (gates * units, units)
            assert torch.allclose(p.T @ p, torch.eye(units), atol=1e-5), name  # the whole matrix
            if gates > 1:  # and so not one orthogonal block per gate
                block = p.chunk(gates, 0)[0]
                assert not torch.allclose(block.T @ block, torch.eye(units), atol=1e-2), name
        elif "bias_ih" in name and cell == "lstm":
            assert torch.equal(p, torch.cat([torch.zeros(units), torch.ones(units), torch.zeros(2 * units)])), name
        else:
            assert p.abs().sum() == 0, name
    head = model.head.weight
    assert head.abs().max() <= (6 / sum(head.shape)) ** 0.5 and model.head.bias.abs().sum() == 0


def test_torch_init_is_pytorchs_own_and_default_from_older_configs_reads_as_torch():
    old = make(cell="lstm", init="default", recurrent_init="default")
    assert ModelConfig(init="default", recurrent_init="default").init == "torch"
    pytorch = make(cell="lstm", init="torch")
    for (name, a), (_, b) in zip(old.named_parameters(), pytorch.named_parameters()):
        assert torch.equal(a, b), name
    assert float(pytorch.embedding.weight[1:].std()) == pytest.approx(1.0, rel=0.2)  # N(0, 1)
    assert pytorch.rnn.bias_ih_l0.abs().sum() > 0  # PyTorch's uniform biases, not zero


def test_orthogonal_recurrent_init_is_the_whole_matrix_and_forget_bias():
    model = make(cell="lstm", num_neurons=8, init="torch", recurrent_init="orthogonal", forget_bias=1.0)
    w = model.rnn.weight_hh_l0
    assert torch.allclose(w.T @ w, torch.eye(8), atol=1e-5)
    assert torch.equal(model.rnn.bias_ih_l0[8:16], torch.ones(8)) and torch.equal(model.rnn.bias_hh_l0[8:16], torch.zeros(8))


def test_regularized_weights_are_matrices_not_biases_or_embeddings():
    model = make(num_layers=2)
    names = {id(p): n for n, p in model.named_parameters()}
    chosen = sorted(names[id(w)] for w in model.regularized_weights())
    assert chosen == ["head.weight", "rnn.weight_hh_l0", "rnn.weight_hh_l1", "rnn.weight_ih_l0", "rnn.weight_ih_l1"]


def test_checkpoint_spec_rebuilds_the_same_model():
    cfg = ModelConfig(cell="lstm", num_neurons=[8, 6], head="mean", init="xavier_uniform")
    model = build_model(cfg, tokens_spec(), 3).eval()
    rebuilt = model_from_checkpoint(model_spec(model, cfg, tokens_spec(), 3)).eval()
    assert torch.equal(model(X), rebuilt(X))


def test_predict_logits_eval_chunked_and_length_grouped_rows_are_independent():
    model = make(embedding_dropout=0.5).train()
    x = torch.tensor([[0, 0, 3, 4], [5, 6, 7, 8], [0, 0, 0, 9], [0, 3, 4, 5]])
    a = predict_logits(model, x, batch_size=3)
    model.eval()
    assert torch.allclose(a, model(x), atol=1e-6) and model.training is False
    grouped = predict_logits(model, x, padding="pre")
    for i in range(len(x)):
        alone = predict_logits(model, x[i : i + 1], padding="pre")
        assert torch.allclose(grouped[i], alone[0], atol=1e-6)
    # a row's grouped result is the unpadded sequence's result
    assert torch.allclose(grouped[0], model(torch.tensor([[3, 4]]))[0], atol=1e-6)
    assert predict_logits(model, x[:0]).shape == (0, 2)


def test_parameter_count_matches_formula():
    model = make(cell="gru", embedding_dims=4, num_neurons=3, vocab=10)
    gru = 3 * (3 * 4 + 3 * 3 + 3 + 3)
    assert count_parameters(model) == 10 * 4 + gru + (3 * 2 + 2)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="train.device is 'cuda'"):
            resolve_device("cuda")


@pytest.mark.parametrize("head", ["last", "mean", "flatten"])
def test_feature_windows_go_straight_into_the_rnn(head):
    spec = {"kind": "features", "num_features": 3, "seq_len": 10}
    cfg = ModelConfig(cell="lstm", num_neurons=8, head=head, bidirectional=True)
    model = build_model(cfg, spec, 4)
    assert model.embedding is None and model.rnn.input_size == 3
    x = torch.randn(5, 10, 3)
    assert model(x).shape == (5, 4)
    rebuilt = model_from_checkpoint(model_spec(model, cfg, spec, 4))
    assert torch.equal(rebuilt.eval()(x), model.eval()(x))


# -- a config that cannot fit is refused before anything is allocated ---------------------------------

GB = 1024**3


@pytest.mark.parametrize(
    "sets, key",
    [
        (["model.cell=lstm", "model.num_neurons=8192"], "model.num_neurons"),
        (["model.embedding_dims=60000"], "model.embedding_dims"),
        (["data.maxlen=200000", "train.batch_size=4096"], "train.batch_size or data.maxlen"),
    ],
)
def test_a_config_that_cannot_fit_is_exit_2_naming_the_key(write_config, monkeypatch, sets, key):
    """With 1 GB free: the part of the estimate that dominates names its key; nothing is trained and
    no folder is made (the check runs before the data is padded and before any weight exists)."""
    from typer.testing import CliRunner

    import rnnexp.model
    from rnnexp.cli import app

    monkeypatch.setattr(rnnexp.model, "available_memory", lambda device: GB)
    args = ["train", str(write_config()), "--dry-run"]
    for item in sets:
        args += ["--set", item]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    *before, line = result.output.strip().splitlines()
    assert all(b.startswith("data: ") and "from the cache" in b for b in before), before  # where the data came from
    assert line.startswith(f"error: {key}: this config needs about ") and line.endswith(f"free on cpu; lower {key}"), line
    assert "more than the 1 GB free" in line


def test_texts_padded_per_batch_are_not_counted_whole(write_config, monkeypatch):
    """On the host a text run pads each batch as it is drawn and scores in chunks: 240 texts at
    maxlen 1,000,000 would be 1.9 GB padded whole, but the run holds a batch's (8 MB), and fits."""
    from typer.testing import CliRunner

    import rnnexp.model
    from rnnexp.cli import app

    monkeypatch.setattr(rnnexp.model, "available_memory", lambda device: GB)
    args = ["train", str(write_config()), "--dry-run", "--set", "data.maxlen=1000000", "--set", "train.batch_size=1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


def test_the_estimate_counts_the_model_exactly_and_fits_what_trains(tiny_data):
    from conftest import tiny_config_dict
    from rnnexp.config import Config
    from rnnexp.model import build_model, check_memory, count_parameters

    cfg = Config.model_validate(
        tiny_config_dict(tiny_data, model={"cell": "lstm", "num_neurons": [24, 12], "bidirectional": True})
    )
    spec = {"kind": "tokens", "vocab_size": 2000, "seq_len": 40}
    parts = check_memory(cfg, spec, 2, data_bytes=1000, device="cpu")
    params = count_parameters(build_model(cfg.model, spec, 2))
    assert parts["embedding"] + parts["recurrent layers and head"] == params * 16  # weights, grads, 2 moments
    assert parts["the encoded data"] == 1000 and parts["a batch's activations"] > 0


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("head", ["last", "mean", "max"])
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"num_neurons": [6, 5]},
        {"recurrent_dropout": 0.3},
        {"num_layers": 2},
        {"bidirectional": True},
        {"bidirectional": True, "num_layers": 2},
        {"bidirectional": True, "num_neurons": [6, 5]},
        {"bidirectional": True, "recurrent_dropout": 0.3, "num_layers": 2},
        {"bidirectional": True, "recurrent_dropout": 0.3, "num_neurons": [6, 5]},
    ],
    ids=lambda extra: ",".join(f"{k}={v}" for k, v in extra.items()) or "plain",
)
def test_mask_gives_every_padded_text_the_unpadded_answer(cell, head, extra):
    """Keras mask_zero: whatever padding surrounds a text, a masked model answers as for the text
    alone, in a batch with texts of other lengths; an unmasked one reads the padding. Every layer
    kind (fused, stacked, the recurrent-dropout step loop) and both directions."""
    kw = {"num_neurons": 6, "init": "torch", **extra}  # PyTorch's biases: padding moves an unmasked state
    masked = make(cell=cell, head=head, mask=True, embedding_dims=4, **kw).eval()
    unmasked = make(cell=cell, head=head, embedding_dims=4, **kw).eval()
    text, other = [3, 4, 5, 1], [7, 2]
    alone = masked(torch.tensor([text]))
    for before in range(4):
        padded = [0] * before + text + [0] * (3 - before)
        batch = torch.tensor([padded, [0] * 5 + other, other + [0] * 5])  # rows of other lengths beside it
        assert torch.allclose(masked(batch)[0], alone[0], atol=1e-6), padded
        assert torch.allclose(masked(batch)[1:], masked(torch.tensor([other])).expand(2, -1), atol=1e-6)
    assert torch.allclose(unmasked(torch.tensor([text])), alone, atol=1e-6)  # the same weights
    if head != "max" or cell != "rnn":
        assert not torch.allclose(unmasked(torch.tensor([[0, 0, 0, 3, 4, 5, 1]])), alone, atol=1e-4)
    # No real token: the state stays at its zero start (Keras), whatever the padding and the head.
    for steps in (1, 5):
        assert torch.equal(masked(torch.zeros(1, steps, dtype=torch.long))[0], masked.head.bias)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize(
    "extra",
    [{"recurrent_dropout": 0.3}, {"weight_drop": 0.3}, {"input_dropout": 0.3}],
    ids=["recurrent_dropout", "weight_drop", "input_dropout"],
)
def test_a_masked_model_trains_on_the_real_tokens_only(cell, bidirectional, extra):
    """In training (dropout drawn from one seed: its masks do not depend on the length), the loss
    and every gradient are those of the unpadded text: the padding, on either side, reaches nothing."""
    kw = {"num_layers": 2, "embedding_dims": 4, "num_neurons": 5, "init": "torch", **extra}
    model = make(cell=cell, mask=True, bidirectional=bidirectional, **kw)
    model.train()

    def grads(tokens):
        model.zero_grad()
        torch.manual_seed(3)
        out = model(torch.tensor(tokens))
        out.sum().backward()
        return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    alone, want = grads([[3, 4, 5, 1]])
    for padded in ([[0, 0, 3, 4, 5, 1]], [[3, 4, 5, 1, 0, 0, 0]], [[0, 3, 4, 5, 1, 0]]):
        out, got = grads(padded)
        assert torch.allclose(out, alone, atol=1e-6), padded
        assert want.keys() == got.keys()
        for name in want:
            assert torch.allclose(got[name], want[name], atol=1e-6), (padded, name)


def test_mask_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="flatten reads every step"):
        ModelConfig(mask=True, head="flatten")


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("head", ["last", "mean", "max"])
@pytest.mark.parametrize("extra", [{}, {"num_layers": 2}, {"recurrent_dropout": 0.3, "num_neurons": [5, 4]}], ids=str)
def test_a_bidirectional_sequence_model_scores_a_sequence_the_same_whatever_it_is_padded_to(cell, head, extra):
    """Numeric sequences are padded at the end with NaN steps: the backward direction starts at the
    last real step, so the padding changes nothing, beside sequences of other lengths too."""
    spec = {"kind": "features", "num_features": 3, "seq_len": 9, "padded": True}
    torch.manual_seed(0)
    cfg = ModelConfig(cell=cell, head=head, bidirectional=True, **{"num_neurons": 5, "init": "torch", **extra})
    model = build_model(cfg, spec, 2).eval()
    seq = torch.randn(1, 4, 3)
    alone = model(seq)
    for pad in (1, 5):
        padded = torch.cat([seq, torch.full((1, pad, 3), float("nan"))], 1)
        batch = torch.cat([padded, torch.randn(1, 4 + pad, 3)])
        assert torch.allclose(model(batch)[0], alone[0], atol=1e-6), pad
    # A checkpoint recorded before "padded" existed is rebuilt as it trained: it read the padding.
    old = build_model(cfg, {k: v for k, v in spec.items() if k != "padded"}, 2).eval()
    old.load_state_dict(model.state_dict())
    # the same numbers on an unpadded sequence, to float32 rounding: the two models take different
    # kernels (whose last bits differ on some CPUs: exact on one machine, 1 ulp apart on another)
    assert torch.allclose(old(seq), alone, atol=1e-6, rtol=0)
    assert not torch.allclose(old(padded), alone, atol=1e-4)


@pytest.mark.parametrize(
    "kw",
    [
        {"recurrent_dropout": 0.3},
        {"recurrent_dropout": 0.3, "bidirectional": True, "mask": True, "num_layers": 2},
        {"recurrent_dropout": 0.3, "num_neurons": [6, 5], "bidirectional": True, "mask": True},
        {"weight_drop": 0.3, "bidirectional": True, "mask": True},
        {"input_dropout": 0.3, "bidirectional": True, "mask": True, "cell": "lstm"},
        {"cell": "rnn", "bidirectional": True, "mask": True, "num_layers": 2},
    ],
    ids=str,
)
def test_every_layer_kind_traces_to_the_model_it_is(kw):
    """export traces the model in eval mode: every path (the step loop's fused evaluation, the
    masked backward direction, stacked layers) must trace, and the trace must answer as the model
    on batches of other sizes and paddings (functional_call cannot be traced: recurrent_dropout
    models could not be exported)."""
    import warnings

    model = make(embedding_dims=4, **{"num_neurons": 6, **kw}).eval()
    g = torch.Generator().manual_seed(0)
    example = torch.randint(1, 30, (4, 12), generator=g)
    other = torch.randint(1, 30, (7, 12), generator=g)
    for row in range(7):
        other[row, : row + 1] = 0  # padded by different amounts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, example, check_trace=False)
    with torch.no_grad():
        assert torch.allclose(traced(other), model(other), atol=1e-6)


def test_device_rules_with_two_gpus_and_with_none(monkeypatch):
    from rnnexp.devices import resolve_device, run_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [str(resolve_device(d)) for d in ("auto", "cpu", "cuda", "cuda:1")] == ["cuda", "cpu", "cuda", "cuda:1"]
    with pytest.raises(ConfigError, match=r"--device is 'cuda:2' but this machine has 2 CUDA device\(s\): cuda:0 to cuda:1"):
        resolve_device("cuda:2", "--device")
    assert run_device("cuda:1", None) == (torch.device("cuda:1"), None)  # the run's own device, when present
    assert run_device("cuda:1", "cpu") == (torch.device("cpu"), None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    device, note = run_device("cuda:1", None)
    assert device == torch.device("cpu") and "train.device is 'cuda:1', which this machine lacks: using cpu" in note
    with pytest.raises(ConfigError, match="--device is 'cuda' but torch sees no CUDA device here"):
        run_device("cpu", "cuda")
    with pytest.raises(ConfigError, match="--device 'gpu': expected auto, cpu, cuda or cuda:N"):
        run_device("cpu", "gpu")


@pytest.mark.parametrize("gpus", [0, 1, 2, 3])
def test_sweep_workers_spread_over_the_gpus_and_explicit_devices_stay(gpus):
    from rnnexp.devices import worker_device

    for worker in range(7):
        # auto and cuda: worker i on GPU i mod G; without GPUs they stay (auto: the CPU)
        for configured in ("auto", "cuda"):
            expected = f"cuda:{worker % gpus}" if gpus else configured
            assert worker_device(configured, worker, gpus) == expected
        for configured in ("cpu", "cuda:0", "cuda:5"):  # written out: respected, whatever the machine
            assert worker_device(configured, worker, gpus) == configured
        for override in ("cpu", "cuda:1", "auto"):  # the worker's --device wins over everything
            for configured in ("auto", "cpu", "cuda:0"):
                assert worker_device(configured, worker, gpus, override) == override
    assert worker_device("auto", None, gpus) == ("cuda:0" if gpus else "auto")  # a worker without a number


def test_the_placement_sweep_run_shows_is_each_workers_device(monkeypatch):
    from types import SimpleNamespace

    from rnnexp.sweep import worker_devices

    sw = lambda device: SimpleNamespace(base=SimpleNamespace(train=SimpleNamespace(device=device)))  # noqa: E731
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert worker_devices(sw("auto"), 3) == ["cuda:0", "cuda:1", "cuda:0"]
    assert worker_devices(sw("cuda"), 2) == ["cuda:0", "cuda:1"]
    assert worker_devices(sw("cuda:1"), 2) == ["cuda:1", "cuda:1"]
    assert worker_devices(sw("cpu"), 2) == ["cpu", "cpu"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert worker_devices(sw("auto"), 2) == ["cpu", "cpu"]


def test_data_moves_per_batch_once_it_would_take_a_quarter_of_the_gpu(monkeypatch, tiny_data):
    from types import SimpleNamespace

    from conftest import tiny_config_dict
    from rnnexp.config import Config
    from rnnexp.data.batches import moves_per_batch
    from rnnexp.devices import data_home, to_compute
    from rnnexp.model import check_memory

    for memory in (2**20, 16 * 2**30, 141 * 10**9):
        quarter = memory // 4
        assert [moves_per_batch(n, memory) for n in (0, quarter - 1, quarter, quarter + 1, memory)] == [
            False,
            False,
            False,
            True,
            True,
        ]
    gpu, cpu = torch.device("cuda:0"), torch.device("cpu")
    props = SimpleNamespace(total_memory=16 * 2**30)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: props)
    assert data_home(gpu, 4 * 2**30) == gpu and data_home(gpu, 4 * 2**30 + 1) == cpu
    assert data_home(cpu, 10**15) == cpu  # on CPU the data is where it computes, whatever its size
    batch = torch.arange(6)
    assert to_compute(batch, cpu) is batch  # nothing moves (or is copied) on CPU
    # Data kept on the host costs the GPU nothing in the memory check; on the GPU it counts.
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2**30, 16 * 2**30))
    cfg = Config.model_validate(tiny_config_dict(tiny_data))
    spec = {"kind": "tokens", "vocab_size": 2000, "seq_len": 40}
    assert check_memory(cfg, spec, 2, 5 * 2**30, gpu, home=cpu)["the encoded data"] == 0
    with pytest.raises(ConfigError, match="free on cuda:0"):
        check_memory(cfg, spec, 2, 5 * 2**30, gpu, home=gpu)


def test_precision_rules_per_device(monkeypatch):
    from rnnexp.devices import check_precision

    cpu, gpu = torch.device("cpu"), torch.device("cuda:0")
    for precision in ("fp32", "bf16"):
        check_precision(precision, cpu)
    with pytest.raises(
        ConfigError, match="train.precision fp16 needs a CUDA device, and this run computes on cpu: use bf16 on CPU"
    ):
        check_precision("fp16", cpu)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    for precision in ("fp32", "fp16"):
        check_precision(precision, gpu)
    with pytest.raises(ConfigError, match="train.precision bf16: Tesla T4 has no bfloat16; use fp16 or fp32"):
        check_precision("bf16", gpu)


def test_numerics_are_set_both_ways_and_recorded(monkeypatch):
    from rnnexp.devices import CUBLAS_DETERMINISTIC, set_numerics

    cpu = torch.device("cpu")
    try:
        for deterministic in (True, False, True, False):  # one process, several runs: nothing carries over
            record = set_numerics("bf16", deterministic, cpu)
            assert torch.are_deterministic_algorithms_enabled() is deterministic
            assert torch.backends.cudnn.deterministic is deterministic and torch.backends.cudnn.benchmark is False
            assert record["deterministic_algorithms"] is deterministic
            assert record["cudnn"]["deterministic"] is deterministic and record["cudnn"]["benchmark"] is False
            assert (record["precision"], record["autocast"], record["grad_scaler"]) == ("bf16", "bfloat16", False)
        assert set_numerics("fp32", False, cpu)["autocast"] is None
        # On a GPU, deterministic cuBLAS needs its workspace setting before CUDA starts.
        gpu = torch.device("cuda:0")
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
        monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
        monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
        assert set_numerics("fp32", True, gpu)["cublas_workspace_config"] == CUBLAS_DETERMINISTIC == ":4096:8"
        monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")  # the user's own deterministic setting stays
        assert set_numerics("fp32", True, gpu)["cublas_workspace_config"] == ":16:8"
        monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
        monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
        with pytest.raises(ConfigError, match="set CUBLAS_WORKSPACE_CONFIG=:4096:8 in the environment"):
            set_numerics("fp32", True, gpu)
        assert set_numerics("fp32", False, gpu)["cublas_workspace_config"] is None  # only asked for with deterministic
    finally:
        set_numerics("fp32", False, cpu)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("mask", [False, True])
def test_the_scans_run_under_bf16_autocast_in_float32(cell, bidirectional, mask):
    """Under autocast the input projection is bf16 and the scan runs in float32: outputs and
    gradients stay near full precision's (bf16 rounds to 3 digits), never a dtype error."""
    kw = {"cell": cell, "bidirectional": bidirectional, "mask": mask, "embedding_dims": 8, "num_neurons": 8}
    for dropout in (0.0, 0.25):  # the scan without and with a dropout mask (lstm: only with one)
        model = make(**kw, recurrent_dropout=dropout)
        if not isinstance(model.rnn, VariationalRNN):
            continue
        x = torch.randint(1, 30, (5, 12), generator=torch.Generator().manual_seed(1))
        x[:2, :4] = 0
        grads = []
        for precision in (None, torch.bfloat16):
            torch.manual_seed(3)  # the same dropout masks
            model.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision is not None):
                out = model(x)
            assert out.dtype == (precision or torch.float32)
            out.float().pow(2).sum().backward()
            grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        for name, full in grads[0].items():
            assert grads[1][name].dtype == torch.float32
            assert torch.allclose(grads[1][name], full, rtol=0.05, atol=0.02 * full.abs().max().item()), name


@pytest.mark.parametrize("supported", [True, False])
def test_an_lstm_under_bf16_runs_in_float32_where_the_cpu_has_no_bfloat16_lstm(monkeypatch, supported):
    """oneDNN builds no bfloat16 LSTM on a CPU without AVX-512 BF16 or AMX (AVX2 machines, as this
    project's CI may be): there the LSTM's layers leave autocast, and the model still trains; the
    GRU and tanh RNN (which run there), and every layer on a CPU that has it, stay under it."""
    from rnnexp.devices import recurrent_autocast

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: supported)
    x = torch.randn(3, 5, 4)
    with recurrent_autocast("lstm", x):  # outside autocast: nothing to leave
        assert not torch.is_autocast_enabled("cpu")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for cell in ("lstm", "gru", "rnn"):
            with recurrent_autocast(cell, x):
                assert torch.is_autocast_enabled("cpu") == (supported or cell != "lstm"), cell
        if supported:
            return  # the real kernel: tests/test_train_knobs.py trains it where this CPU has it
        features = {"kind": "features", "num_features": 4, "seq_len": 5}
        for spec in ({}, {"bidirectional": True, "mask": True}):
            model = build_model(ModelConfig(cell="lstm", num_neurons=6, **spec), features, 2)
            model(x).float().sum().backward()
            assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
