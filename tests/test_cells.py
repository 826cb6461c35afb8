"""VariationalRNN: parity with nn.RNN/GRU/LSTM, parameter layout, and variational dropout semantics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnexp.cells as cells
import rnnexp.scans as scans
from rnnexp.cells import VariationalRNN

TORCH_RNNS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
CELLS = sorted(TORCH_RNNS)


def _out_and_grads(model: nn.Module, x: torch.Tensor, weights: torch.Tensor):
    """Output, d(loss)/dx and parameter gradients for a fixed random linear loss."""
    model.zero_grad()
    x = x.clone().requires_grad_(True)
    out, _ = model(x)
    (out * weights).sum().backward()
    return out.detach(), x.grad, {n: p.grad.clone() for n, p in model.named_parameters()}


def _assert_same(ref: nn.Module, var: VariationalRNN, x: torch.Tensor) -> None:
    weights = torch.randn(x.shape[0], x.shape[1], ref.hidden_size * (2 if ref.bidirectional else 1))
    out_r, gx_r, gp_r = _out_and_grads(ref, x, weights)
    out_v, gx_v, gp_v = _out_and_grads(var, x, weights)
    assert out_v.shape == out_r.shape
    torch.testing.assert_close(out_v, out_r, atol=1e-5, rtol=0)
    torch.testing.assert_close(gx_v, gx_r, atol=1e-4, rtol=0)
    assert gp_v.keys() == gp_r.keys()
    for name in gp_r:
        torch.testing.assert_close(gp_v[name], gp_r[name], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_matches_torch_both_ways(cell, bidirectional):
    torch.manual_seed(0)
    x = torch.randn(3, 7, 5)
    # torch module -> VariationalRNN
    ref = TORCH_RNNS[cell](5, 8, num_layers=2, batch_first=True, bidirectional=bidirectional)
    var = VariationalRNN(cell, 5, [8, 8], bidirectional=bidirectional)
    var.load_state_dict(ref.state_dict())  # strict: the key sets must be identical
    _assert_same(ref, var, x)
    # VariationalRNN -> torch module (training mode: with all dropouts 0 it must still be exact)
    var = VariationalRNN(cell, 5, [8, 8], bidirectional=bidirectional).train()
    ref = TORCH_RNNS[cell](5, 8, num_layers=2, batch_first=True, bidirectional=bidirectional)
    ref.load_state_dict(var.state_dict())
    _assert_same(ref, var, x)


@pytest.mark.parametrize("cell", CELLS)
def test_layer_sizes_and_parameter_layout(cell):
    g = cells.GATES[cell]
    var = VariationalRNN(cell, 5, [7, 3], bidirectional=True)
    out, state = var(torch.randn(2, 4, 5))
    assert out.shape == (2, 4, 6) and state is None
    expected = {}
    for k, (inp, hid) in enumerate([(5, 7), (14, 3)]):
        for sfx in ("", "_reverse"):
            expected[f"weight_ih_l{k}{sfx}"] = (g * hid, inp)
            expected[f"weight_hh_l{k}{sfx}"] = (g * hid, hid)
            expected[f"bias_ih_l{k}{sfx}"] = (g * hid,)
            expected[f"bias_hh_l{k}{sfx}"] = (g * hid,)
    assert {n: tuple(t.shape) for n, t in var.state_dict().items()} == expected
    assert list(var.children()) == []  # parameters live on the module itself
    # PyTorch's init: U(-1/sqrt(H), 1/sqrt(H)) with H the layer's own hidden size.
    for name, p in var.named_parameters():
        bound = 1 / (7 if "_l0" in name else 3) ** 0.5
        assert p.abs().max() <= bound and p.abs().max() > bound / 2

    uni = VariationalRNN(cell, 5, [7, 3])
    assert uni(torch.randn(2, 4, 5))[0].shape == (2, 4, 3)
    assert tuple(uni.weight_ih_l1.shape) == (g * 3, 7)
    assert not any("reverse" in n for n in uni.state_dict())


def _identity_rnn(size: int, recurrent: bool, **dropouts) -> VariationalRNN:
    """A bidirectional tanh RNN with W_ih = I, W_hh = I (or 0) and zero biases: h_t = tanh(x_t + h_{t-1})."""
    m = VariationalRNN("rnn", size, [size], bidirectional=True, **dropouts)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.zero_()
            if name.startswith("weight_ih") or (recurrent and name.startswith("weight_hh")):
                p.copy_(torch.eye(size))
    return m.train()


def test_recurrent_mask_is_constant_over_time():
    # With identity weights h_t = tanh(x_t + m * 2 * h_{t-1}) for a 0/1 mask m (p = 0.5). The mask is read
    # off the first recurrent step, and a reference that reuses it at *every* step must reproduce the
    # whole output; a per-step mask would break this.
    torch.manual_seed(1)
    B, T, H = 8, 12, 16
    x = 0.5 * torch.randn(B, T, H)
    out, _ = _identity_rnn(H, recurrent=True, recurrent_dropout=0.5)(x)
    masks = []
    for half, steps in ((out[..., :H], list(range(T))), (out[..., H:], list(range(T - 1, -1, -1)))):
        t0, t1 = steps[0], steps[1]
        mask = (~torch.isclose(half[:, t1], torch.tanh(x[:, t1]), atol=1e-6, rtol=0)).float()
        assert 0 < mask.mean() < 1
        h = torch.tanh(x[:, t0])
        for t in steps[1:]:
            h = torch.tanh(x[:, t] + 2 * mask * h)
            torch.testing.assert_close(half[:, t], h, atol=1e-6, rtol=0)
        masks.append(mask)
    assert not torch.equal(masks[0], masks[1])  # each direction draws its own mask


def test_input_mask_is_constant_over_time():
    # W_hh = 0: h_t = tanh(2 * m * x_t), so zeros in the output are exactly the dropped input features,
    # and they must be the same features at every step ([B, 1, input] mask).
    torch.manual_seed(2)
    x = torch.randn(8, 12, 16)
    out, _ = _identity_rnn(16, recurrent=False, input_dropout=0.5)(x)
    for half in (out[..., :16], out[..., 16:]):
        dropped = half == 0
        assert dropped.any() and (~dropped).all(dim=1).any()
        assert torch.equal(dropped, dropped[:, :1].expand_as(dropped))
        torch.testing.assert_close(half[~dropped], torch.tanh(2 * x)[~dropped], atol=1e-6, rtol=0)


def _reference_direction(cell, x, params, hidden, in_mask, rec_mask, reverse):
    """Step-by-step textbook cell with the given per-sequence masks (Keras placement of the masks)."""
    w_ih, w_hh, b_ih, b_hh = params
    h = torch.zeros(x.shape[0], hidden)
    c = torch.zeros(x.shape[0], hidden)
    out = [None] * x.shape[1]
    for t in reversed(range(x.shape[1])) if reverse else range(x.shape[1]):
        gx = (x[:, t] * in_mask) @ w_ih.T + b_ih
        gh = (h * rec_mask) @ w_hh.T + b_hh
        if cell == "rnn":
            h = torch.tanh(gx + gh)
        elif cell == "gru":
            r = torch.sigmoid(gx[:, :hidden] + gh[:, :hidden])
            z = torch.sigmoid(gx[:, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden])
            n = torch.tanh(gx[:, 2 * hidden :] + r * gh[:, 2 * hidden :])
            h = (1 - z) * n + z * h  # undropped h
        else:
            i, f, g, o = (gx + gh).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # c is never masked
            h = torch.sigmoid(o) * torch.tanh(c)
        out[t] = h
    return torch.stack(out, dim=1)


def _check_against_reference(cell, scan, x, params, hidden, rec_mask, reverse):
    """A scan against numerical gradients, then its output and every gradient against the textbook cell."""
    assert torch.autograd.gradcheck(scan, (x, *params))
    ones = torch.ones(x.shape[2], dtype=torch.double)
    full = torch.ones(x.shape[0], hidden, dtype=torch.double) if rec_mask is None else rec_mask
    ref = _reference_direction(cell, x, params, hidden, ones, full, reverse)
    out = scan(x, *params)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)
    weights = torch.randn_like(out)
    grads = torch.autograd.grad((out * weights).sum(), (x, *params))
    ref_grads = torch.autograd.grad((ref * weights).sum(), (x, *params))
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_matches_reference_with_recorded_masks(cell, monkeypatch):
    recorded = []

    def recording(like, features, p):
        mask = real(like, features, p)
        recorded.append(mask)
        return mask

    real = cells._dropout_mask
    monkeypatch.setattr(cells, "_dropout_mask", recording)
    torch.manual_seed(3)
    m = VariationalRNN(cell, 5, [6], bidirectional=True, input_dropout=0.3, recurrent_dropout=0.4).train()
    x = torch.randn(4, 9, 5)
    with torch.no_grad():
        out, _ = m(x)
    # One input and one recurrent mask per direction for the whole sequence, not one per step.
    assert [tuple(r.shape) for r in recorded] == [(4, 5), (4, 6), (4, 5), (4, 6)]
    for mask, p in zip(recorded, (0.3, 0.4, 0.3, 0.4)):
        kept = mask != 0
        assert kept.any() and (~kept).any()
        torch.testing.assert_close(mask[kept], torch.full_like(mask[kept], 1 / (1 - p)))
    for d, sfx in enumerate(("", "_reverse")):
        params = [getattr(m, f"{k}_l0{sfx}").detach() for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        ref = _reference_direction(cell, x, params, 6, recorded[2 * d], recorded[2 * d + 1], reverse=bool(sfx))
        torch.testing.assert_close(out[..., 6 * d : 6 * (d + 1)], ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_seeding_and_eval_mode(cell):
    kw = dict(input_dropout=0.2, recurrent_dropout=0.3, inter_layer_dropout=0.25)
    m = VariationalRNN(cell, 5, [6, 6], bidirectional=True, **kw).train()
    x = torch.randn(3, 8, 5)

    def run(seed):
        torch.manual_seed(seed)
        with torch.no_grad():
            return m(x)[0]

    assert torch.equal(run(1), run(1))
    assert not torch.allclose(run(1), run(2))

    plain = VariationalRNN(cell, 5, [6, 6], bidirectional=True)
    plain.load_state_dict(m.state_dict())
    m.eval()
    before = torch.get_rng_state()
    with torch.no_grad():
        torch.testing.assert_close(m(x)[0], plain(x)[0], atol=0, rtol=0)
    assert torch.equal(torch.get_rng_state(), before)


def test_recurrent_dropout_alone_changes_training_output():
    m = VariationalRNN("gru", 5, [6], recurrent_dropout=0.3).train()
    x = torch.randn(3, 8, 5)
    with torch.no_grad():
        torch.manual_seed(0)
        a = m(x)[0]
        torch.manual_seed(1)
        b = m(x)[0]
        c = m.eval()(x)[0]
    assert not torch.allclose(a, b) and not torch.allclose(a, c)
    torch.testing.assert_close(a[:, 0], c[:, 0], atol=0, rtol=0)  # h(-1) = 0: the first step is unaffected


@pytest.mark.parametrize("cell", CELLS)
def test_no_rng_consumed_without_dropout(cell):
    x = torch.randn(3, 8, 5)
    for m in (
        VariationalRNN(cell, 5, [6, 4], bidirectional=True),
        VariationalRNN(cell, 5, [6], inter_layer_dropout=0.5),  # one layer: nothing between layers to drop
    ):
        m.train()
        before = torch.get_rng_state()
        m(x)[0].sum().backward()
        assert torch.equal(torch.get_rng_state(), before)


def _graph_op_counts(t: torch.Tensor) -> dict[str, int]:
    counts: dict[str, int] = {}
    seen, todo = set(), [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        counts[type(fn).__name__] = counts.get(type(fn).__name__, 0) + 1
        todo.extend(nxt for nxt, _ in fn.next_functions)
    return counts


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_long_sequence_backward_and_graph_shape(cell):
    m = VariationalRNN(cell, 4, [5, 5], bidirectional=True, input_dropout=0.1, recurrent_dropout=0.2).train()
    counts = {}
    for T in (20, 200):
        x = torch.randn(2, T, 4, requires_grad=True)
        out, _ = m(x)
        counts[T] = _graph_op_counts(out)
        out.sum().backward()
        assert x.grad.shape == x.shape and torch.isfinite(x.grad).all()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
        m.zero_grad()
    for c in counts.values():
        assert "SelectBackward0" not in c  # the input is never indexed step by step
        # one hand-written backward per layer and direction
        assert c.get("_LSTMScanBackward" if cell == "lstm" else "_GRUScanBackward") == 4
    assert counts[20] == counts[200]  # the whole graph is the same size at any length


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_lstm_scan_gradients_match_autograd(masked, reverse):
    """The hand-written LSTM backward against numerical gradients and against the textbook cell."""
    torch.manual_seed(5)
    batch, steps, size, hidden = 3, 6, 4, 5
    x = torch.randn(batch, steps, size, dtype=torch.double, requires_grad=True)
    params = [
        torch.randn(shape, dtype=torch.double, requires_grad=True) * 0.5
        for shape in ((4 * hidden, size), (4 * hidden, hidden), (4 * hidden,), (4 * hidden,))
    ]
    params = [p.detach().requires_grad_(True) for p in params]
    rec_mask = (torch.rand(batch, hidden, dtype=torch.double) > 0.3).double() / 0.7 if masked else None

    def scan(x, w_ih, w_hh, b_ih, b_hh):
        return scans._lstm_direction(x, w_ih, w_hh, b_ih + b_hh, rec_mask, reverse)

    _check_against_reference("lstm", scan, x, params, hidden, rec_mask, reverse)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_gru_scan_gradients_match_autograd(masked, reverse):
    """The hand-written GRU backward against numerical gradients and against the textbook cell."""
    torch.manual_seed(6)
    batch, steps, size, hidden = 3, 5, 4, 5
    x = torch.randn(batch, steps, size, dtype=torch.double, requires_grad=True)
    shapes = ((3 * hidden, size), (3 * hidden, hidden), (3 * hidden,), (3 * hidden,))
    params = [(torch.randn(shape, dtype=torch.double) * 0.5).requires_grad_(True) for shape in shapes]
    rec_mask = (torch.rand(batch, hidden, dtype=torch.double) > 0.3).double() / 0.7 if masked else None

    # The scan itself (its own inputs: projection, W_hh, b_hn), then through the direction's reordering.
    proj = torch.randn(steps, batch, 3 * hidden, dtype=torch.double, requires_grad=True)
    w_hh, b_hn = params[1].detach().requires_grad_(True), params[3][2 * hidden :].detach().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p, w, b: scans._GRUScan.apply(p, w, b, rec_mask, reverse), (proj, w_hh, b_hn))

    def scan(x, w_ih, w_hh, b_ih, b_hh):
        return scans._gru_direction(x, w_ih, w_hh, b_ih, b_hh, rec_mask, reverse)

    _check_against_reference("gru", scan, x, params, hidden, rec_mask, reverse)


@pytest.mark.parametrize(
    "bidirectional, layers, steps, batch, hidden",
    [(True, 1, 9, 4, 13), (False, 3, 6, 5, 8), (False, 1, 1, 3, 6), (True, 2, 5, 1, 11), (True, 2, 1, 1, 3)],
)
def test_gru_scan_matches_torch_gru(bidirectional, layers, steps, batch, hidden):
    """Forward and every gradient as nn.GRU's own, in float32, with nn.GRU's weights (no mask)."""
    torch.manual_seed(steps * 100 + hidden)
    ref = nn.GRU(7, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional)
    var = VariationalRNN("gru", 7, [hidden] * layers, bidirectional=bidirectional).train()
    var.load_state_dict(ref.state_dict())
    x = torch.randn(batch, steps, 7)
    weights = torch.randn(batch, steps, hidden * (2 if bidirectional else 1))
    out_r, gx_r, gp_r = _out_and_grads(ref, x, weights)
    out_v, gx_v, gp_v = _out_and_grads(var, x, weights)
    torch.testing.assert_close(out_v, out_r, atol=1e-5, rtol=0)
    torch.testing.assert_close(gx_v, gx_r, atol=1e-5, rtol=0)
    assert gp_v.keys() == gp_r.keys()
    for name in gp_r:
        torch.testing.assert_close(gp_v[name], gp_r[name], atol=1e-5, rtol=0, msg=name)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        VariationalRNN("elman", 3, [4])
    with pytest.raises(ValueError):
        VariationalRNN("gru", 3, [])
    with pytest.raises(ValueError):
        VariationalRNN("gru", 3, [4], recurrent_dropout=1.0)
    with pytest.raises(ValueError):
        VariationalRNN("gru", 3, [4])(torch.randn(2, 3))
