"""Hand-written scans for the recurrences of VariationalRNN's step loop (see cells.py).

Each scan is a torch.autograd.Function over input projections computed for all steps beforehand:
the forward runs the recurrence into preallocated buffers without recording autograd, and the
backward is written by hand, so a step costs a few ops instead of the dozens autograd would record.

Under autocast (train.precision bf16 or fp16) the input projection runs in the low precision, as
any matmul does, and the scan itself in float32 (full_precision): its preallocated buffers and
out= ops take no autocasting, and a recurrent state kept in bf16 would lose the small updates a
long sequence adds up. The gradient reaches the projection in its own dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _lstm_direction(x: Tensor, w_ih: Tensor, w_hh: Tensor, bias: Tensor, rec_mask: Tensor | None, reverse: bool) -> Tensor:
    """One LSTM layer and direction, [B, T, in] -> [B, T, hidden], through the hand-written scan below.

    The rows of the weights are reordered from PyTorch's gate order i,f,g,o to g,i,f,o, so that each
    step needs one tanh and one sigmoid over contiguous blocks; reordering the (small) weights keeps
    the gradients flowing to the parameters in PyTorch's layout. The input projection is computed
    time-major in one matmul, so each step reads a contiguous [B, 4H] slice.
    """
    hidden = w_hh.shape[1]
    order = torch.cat([torch.arange(2 * hidden, 3 * hidden), torch.arange(0, 2 * hidden), torch.arange(3 * hidden, 4 * hidden)])
    order = order.to(w_hh.device)
    proj = F.linear(x.transpose(0, 1), w_ih.index_select(0, order), bias.index_select(0, order))
    states = full_precision(_LSTMScan.apply, proj.contiguous(), w_hh.index_select(0, order), rec_mask, reverse)
    return states.transpose(0, 1)


def full_precision(scan, proj: Tensor, w_hh: Tensor, *rest):
    """``scan(proj, w_hh, *rest)`` in the weights' precision: a projection that autocast made in a
    lower one is cast up, and the scan runs with autocast off. A projection in the weights' dtype
    (no autocast) goes in as it is, so full-precision runs and traced models (export) compute
    exactly what they did without this."""
    if proj.dtype == w_hh.dtype:
        return scan(proj, w_hh, *rest)
    dtype = w_hh.dtype
    with torch.autocast(proj.device.type, enabled=False):
        return scan(proj.to(dtype), w_hh, *(t.to(dtype) if isinstance(t, Tensor) else t for t in rest))


class _LSTMScan(torch.autograd.Function):
    """The LSTM recurrence over precomputed input projections, with a hand-written backward.

    Why not let autograd record the loop: at the sizes our users train (H 32..256, B 32..256) every
    step is a dozen tiny ops, and the time goes to per-op overhead, not arithmetic. Recording them
    doubles the op count (each forward op gets a backward node, plus gradient accumulation). Here the
    forward writes into preallocated buffers without recording, and the backward runs only the six ops
    per step that the recurrence needs; everything that does not depend on the next step's gradient
    (gate derivatives, the weight gradient) is computed for all steps at once, outside the loops.

    Inputs: proj [T, B, 4H] = x W_ih^T + b_ih + b_hh in gate order g,i,f,o; w_hh [4H, H] in the same
    order; mask [B, H] or None, applied to h(t-1) where it enters W_hh (recurrent dropout); reverse
    runs from t = T-1 down to 0. Output: h(t) for every t, [T, B, H], in time order. Checked against
    autograd by gradcheck in tests/test_cells.py.
    """

    @staticmethod
    def forward(ctx, proj: Tensor, w_hh: Tensor, mask: Tensor | None, reverse: bool) -> Tensor:
        steps, batch, four_h = proj.shape
        hidden = four_h // 4
        act = torch.empty_like(proj)  # activated gates g, i, f, o per step
        # c and h get one extra slot holding the zero initial state (first slot forward, last slot
        # in reverse), so the backward reads c(t-1) and h(t-1) as plain views, without a copy.
        first = 0 if reverse else 1
        c_buf, h_buf = (proj.new_zeros(steps + 1, batch, hidden) for _ in range(2))
        cs, hs = c_buf[first : first + steps], h_buf[first : first + steps]
        tanh_cs = proj.new_empty(steps, batch, hidden)
        # Per-step views made once, outside the loop.
        proj_t, act_t, c_t, tanh_c_t, h_t = (v.unbind(0) for v in (proj, act, cs, tanh_cs, hs))
        g_t, ifo_t = act[..., :hidden].unbind(0), act[..., hidden:].unbind(0)
        i_t, f_t, o_t = (act[..., k * hidden : (k + 1) * hidden].unbind(0) for k in (1, 2, 3))
        w_hh_t = w_hh.t()
        h, c = proj.new_zeros(batch, hidden), proj.new_zeros(batch, hidden)
        h_in, f_c = proj.new_empty(batch, hidden), proj.new_empty(batch, hidden)
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            if mask is None:
                h_in = h
            else:
                torch.mul(h, mask, out=h_in)
            torch.addmm(proj_t[t], h_in, w_hh_t, out=act_t[t])
            g_t[t].tanh_()
            ifo_t[t].sigmoid_()
            torch.mul(f_t[t], c, out=f_c)
            c = torch.addcmul(f_c, i_t[t], g_t[t], out=c_t[t])
            torch.tanh(c, out=tanh_c_t[t])
            h = torch.mul(o_t[t], tanh_c_t[t], out=h_t[t])
        ctx.save_for_backward(act, c_buf, tanh_cs, h_buf, w_hh, mask)
        ctx.reverse = reverse
        return hs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_hs: Tensor) -> tuple[Tensor, Tensor, None, None]:
        act, c_buf, tanh_cs, h_buf, w_hh, mask = ctx.saved_tensors
        steps, batch, four_h = act.shape
        hidden = four_h // 4
        prev = 1 if ctx.reverse else 0  # where c(t-1), h(t-1) start in the padded buffers
        c_prev, h_prev = c_buf[prev : prev + steps], h_buf[prev : prev + steps]
        gates = act.view(steps, batch, 4, hidden)
        g, i, f, o = gates.unbind(2)
        # Local derivatives, all steps at once, written in place into one [T, B, 4, H] buffer: the
        # pre-activation gradient of gates g, i, f is dc times its factor, that of gate o is dh times
        # its factor. tanh' = 1 - tanh^2, sigmoid' = s - s^2: one addcmul each.
        factors = torch.empty_like(gates)
        one = act.new_ones(())
        torch.addcmul(one, g, g, value=-1, out=factors[:, :, 0])
        torch.addcmul(gates[:, :, 1:], gates[:, :, 1:], gates[:, :, 1:], value=-1, out=factors[:, :, 1:])
        factors[:, :, 0].mul_(i)
        factors[:, :, 1].mul_(g)
        factors[:, :, 2].mul_(c_prev)
        factors[:, :, 3].mul_(tanh_cs)
        dc_dh = torch.addcmul(one, tanh_cs, tanh_cs, value=-1).mul_(o)  # dc += dh * o (1 - tanh(c)^2)

        # The loop turns each step's factors into that step's gate gradients, in place.
        d_gates = factors.view(steps, batch, four_h)
        d_gif_t, d_o_t, d_gates_t = factors[:, :, :3].unbind(0), factors[:, :, 3].unbind(0), d_gates.unbind(0)
        grad_t, dc_dh_t, f_t = (v.unbind(0) for v in (grad_hs, dc_dh, f))
        dc = act.new_zeros(batch, hidden)
        from_next = None  # d loss / d h(t) through the next processed step
        for t in range(steps) if ctx.reverse else range(steps - 1, -1, -1):
            if from_next is None:
                dh = grad_t[t]
            elif mask is None:
                dh = grad_t[t] + from_next
            else:
                dh = torch.addcmul(grad_t[t], from_next, mask)
            dc = torch.addcmul(dc, dh, dc_dh_t[t])
            d_gif_t[t].mul_(dc.unsqueeze(1))
            d_o_t[t].mul_(dh)
            dc = dc * f_t[t]  # what flows to c(t-1)
            from_next = torch.mm(d_gates_t[t], w_hh)
        h_in = h_prev if mask is None else h_prev * mask
        d_w_hh = d_gates.reshape(-1, four_h).t() @ h_in.reshape(-1, hidden)
        return d_gates, d_w_hh, None, None


def _gru_direction(
    x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor, rec_mask: Tensor | None, reverse: bool
) -> Tensor:
    """One GRU layer and direction, [B, T, in] -> [B, T, hidden], through _GRUScan.

    The input projection is computed time-major in one matmul, so each step reads a contiguous
    slice, with its rows reordered from PyTorch's r,z,n to n,r,z (W_hh keeps r,z,n): the backward
    then holds the gradients of the projection and of the recurrent matmul in one buffer with slots
    n,r,z,n' (n' that of W_hn h + b_hn) as two overlapping views, without a concatenation. b_hr and
    b_hz go into the projection; b_hn cannot, since r multiplies it, so the scan adds it.
    """
    hidden = w_hh.shape[1]
    w_proj = torch.cat([w_ih[2 * hidden :], w_ih[: 2 * hidden]])
    b_proj = torch.cat([b_ih[2 * hidden :], b_ih[: 2 * hidden] + b_hh[: 2 * hidden]])
    proj = F.linear(x.transpose(0, 1), w_proj, b_proj)
    states = full_precision(_GRUScan.apply, proj.contiguous(), w_hh, b_hh[2 * hidden :], rec_mask, reverse)
    return states.transpose(0, 1)


class _GRUScan(torch.autograd.Function):
    """PyTorch's GRU recurrence over precomputed input projections, with a hand-written backward
    (the same design as _LSTMScan, for the same reason: per-op overhead, not arithmetic, is the cost).

    Per step, as nn.GRU (reset gate applied after the matmul): with a = h_in W_hh^T + [0, 0, b_hn]
    (gates r,z,n), r, z = sigmoid(proj_rz + a_rz), n = tanh(proj_n + r * a_n), h = n + z (h(t-1) - n).

    Inputs: proj [T, B, 3H] = x W_ih^T + b_ih + [b_hr, b_hz, 0] in gate order n,r,z; w_hh [3H, H]
    in PyTorch's order r,z,n; b_hn [H]; mask [B, H] or None, applied to h(t-1) where it enters W_hh
    only (h_in = h(t-1) * mask; the z * h(t-1) carry uses the undropped state, as in Keras); reverse
    runs from t = T-1 down to 0. Output: h(t) for every t, [T, B, H], in time order. Checked against
    autograd by gradcheck, and against nn.GRU, in tests/test_cells.py.
    """

    @staticmethod
    def forward(ctx, proj: Tensor, w_hh: Tensor, b_hn: Tensor, mask: Tensor | None, reverse: bool) -> Tensor:
        steps, batch, three_h = proj.shape
        hidden = three_h // 3
        # gates[t] starts as [proj_r, proj_z, b_hn] (filled for all steps at once), so that one
        # in-place addmm_ per step makes it [r~, z~, a_n] without a bias copy or an add. The sigmoid
        # then turns r~, z~ into r, z in place; a_n stays (the backward needs it); n has its own buffer.
        gates = torch.empty_like(proj)
        # copy_ broadcasts inside the op: a traced model (export) keeps no batch size here.
        gates[..., : 2 * hidden].copy_(proj[..., hidden:])
        gates[..., 2 * hidden :].copy_(b_hn)
        ns = proj.new_empty(steps, batch, hidden)
        # h gets one extra slot holding the zero initial state (first slot forward, last slot in
        # reverse), so the backward reads h(t-1) as a plain view, without a copy.
        first = 0 if reverse else 1
        h_buf = proj.new_zeros(steps + 1, batch, hidden)
        hs = h_buf[first : first + steps]
        # Per-step views made once, outside the loop.
        bounds = ((0, three_h), (0, 2 * hidden), (0, hidden), (hidden, 2 * hidden), (2 * hidden, three_h))
        gates_t, rz_t, r_t, z_t, a_n_t = (gates[..., a:b].unbind(0) for a, b in bounds)
        proj_n_t, n_t, h_t = proj[..., :hidden].unbind(0), ns.unbind(0), hs.unbind(0)
        w_hh_t = w_hh.t()
        h = proj.new_zeros(batch, hidden)
        h_in = proj.new_empty(batch, hidden)
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            if mask is None:
                h_in = h
            else:
                torch.mul(h, mask, out=h_in)
            gates_t[t].addmm_(h_in, w_hh_t)
            rz_t[t].sigmoid_()
            torch.addcmul(proj_n_t[t], r_t[t], a_n_t[t], out=n_t[t])
            n_t[t].tanh_()
            h = torch.lerp(n_t[t], h, z_t[t], out=h_t[t])  # n + z (h(t-1) - n)
        ctx.save_for_backward(gates, ns, h_buf, w_hh, mask)
        ctx.reverse = reverse
        return hs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_hs: Tensor) -> tuple[Tensor, Tensor, Tensor, None, None]:
        gates, ns, h_buf, w_hh, mask = ctx.saved_tensors
        steps, batch, three_h = gates.shape
        hidden = three_h // 3
        prev = 1 if ctx.reverse else 0  # where h(t-1) starts in the padded buffer
        h_prev = h_buf[prev : prev + steps]
        # Every pre-activation gradient is dh(t) times a factor that does not depend on dh: computed
        # for all steps at once (slots n,r,z,n'); the loop multiplies each step's r,z,n' by its dh.
        grads = _gru_factors(gates, ns, h_prev)
        flat = grads.view(steps, batch, 4 * hidden)
        d_proj, d_rec = flat[..., :three_h], flat[..., hidden:]
        # dh(t) accumulates in place: its own output gradient, then what flows back from step t+1.
        dh_buf = torch.empty_like(ns).copy_(grad_hs)
        d_rec_t, d_rec3_t, dh_t = d_rec.unbind(0), grads[:, :, 1:].unbind(0), dh_buf.unbind(0)
        z_t = gates[..., hidden : 2 * hidden].unbind(0)
        order = list(range(steps)) if ctx.reverse else list(range(steps - 1, -1, -1))
        for k, t in enumerate(order):
            dh = dh_t[t]
            d_rec3_t[t].mul_(dh.unsqueeze(1))
            if k + 1 == steps:
                break  # h(-1) is the constant zero state: nothing flows further
            # d h(t-1) += z dh (the carry) + (d a W_hh) * mask (the recurrent matmul)
            nxt = dh_t[order[k + 1]]
            if mask is None:
                nxt.addmm_(d_rec_t[t], w_hh)
            else:
                nxt.addcmul_(torch.mm(d_rec_t[t], w_hh), mask)
            nxt.addcmul_(z_t[t], dh)
        grads[:, :, 0].mul_(dh_buf)  # dn~ = dh (1 - z)(1 - n^2), left out of the loop
        h_in = h_prev if mask is None else h_prev * mask
        d_w_hh = d_rec.reshape(-1, three_h).t() @ h_in.reshape(-1, hidden)
        return d_proj, d_w_hh, grads[:, :, 3].sum((0, 1)), None, None


def _gru_factors(gates: Tensor, ns: Tensor, h_prev: Tensor) -> Tensor:
    """[T, B, 4, H]: d(pre-activation) / dh(t) for all steps, of n~, r~, z~ and a_n (slots n,r,z,n').

    From h = (1 - z) n + z h(t-1): dn~ = dh (1 - z)(1 - n^2); dz~ = dh (h(t-1) - n) z (1 - z);
    da_n = dn~ r; dr~ = dn~ a_n r (1 - r) = da_n a_n (1 - r). tanh' = 1 - tanh^2, sigmoid' = s - s^2.
    Each factor x (1 - s) is written x - x s (one addcmul, no temporary 1 - s).
    """
    steps, batch, three_h = gates.shape
    r, z, a_n = gates.view(steps, batch, 3, three_h // 3).unbind(2)
    factors = gates.new_empty(steps, batch, 4, three_h // 3)
    f_n, f_r, f_z, f_an = factors.unbind(2)
    torch.addcmul(gates.new_ones(()), ns, ns, value=-1, out=f_n)
    f_n.addcmul_(f_n, z, value=-1)
    torch.mul(f_n, r, out=f_an)
    torch.mul(f_an, a_n, out=f_r)
    f_r.addcmul_(f_r, r, value=-1)
    torch.sub(h_prev, ns, out=f_z)
    f_z.mul_(z)
    f_z.addcmul_(f_z, z, value=-1)
    return factors
