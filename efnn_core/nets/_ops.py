"""Periodic-convolution kernels shared by the lattice networks (private).

Every convolution in the lattice networks is a *circular* cross-correlation
with an odd k x k kernel on an L x L torus:

    y[b, o, r, c] = bias[o] + sum_{i,dy,dx} w[o, i, dy, dx] x[b, i, (r+dy-k//2) % L, (c+dx-k//2) % L]

Two exact implementations are provided ("engines"); they agree to float32
rounding and are chosen per call by the lattice size:

* ``DenseOps`` (L <= DENSE_MAX_L, batch >= DENSE_MIN_BATCH): the convolution is a linear map on the
  C*L^2 numbers of a configuration, so it is applied as ONE matrix product
  against the block-circulant matrix D (C_in L^2 x C_out L^2) built from the
  kernel (``dense_matrix``).  At L = 10, C = 3 that is a 300 x 300 matrix: the
  product does L^2/k^2 = 4x the multiply-adds of a direct convolution, but as
  a single well-shaped GEMM (forward and both backward products) it beats
  oneDNN's small-channel convolutions, whose backward pass is ~10x slower than
  their forward.  Independent layers (f_0 and all g_j, whose inputs T_j are
  all known after the symmetrization step) are batched into one ``bmm``.  The
  symmetrization convolutions (input spins, no gradient needed) are one GEMM
  on row-unfolded spins against a row-banded matrix (``banded_matrix``).
* ``ConvOps`` (any L): circular pad + ``F.conv2d``, with a custom backward
  (``CircularConv``) that computes both gradients with *forward* convolutions
  (the adjoint of a circular correlation is the circular correlation with the
  flipped, transposed kernel), about 2x faster than autograd's
  ``convolution_backward`` for these shapes.  Independent layers run as one
  grouped convolution.

Tensors are channels-first (B, C, L, L); a *stack* of G independent feature
maps is (G, B, C, L, L).  The flattening used by ``DenseOps`` is the memory
order of (C, L, L), so switching between the two views is free.
"""

from __future__ import annotations

import threading
import weakref
from functools import lru_cache

import torch
import torch.nn.functional as F

DENSE_MAX_L = 12  # dense block-circulant matrices up to this lattice size (C L^2 <= 1296 at C = 9)
DENSE_MIN_BATCH = 32  # below this batch the matrices cost more to build than they save


def circular_pad(x: torch.Tensor, p: int) -> torch.Tensor:
    """Periodic padding of the last two dims by p on every side, (..., L, L) -> (..., L+2p, L+2p)."""
    return F.pad(x, (p, p, p, p), mode="circular") if p else x


def _constant(fn):
    """Cache a tensor-building function per arguments, building outside inference mode.

    A tensor first created under ``torch.inference_mode()`` (as in evaluation) is an
    inference tensor and could not be saved for backward by a later training step.
    """
    cached = lru_cache(maxsize=16)(fn)

    def wrapper(*args):
        with torch.inference_mode(False):
            return cached(*args)

    wrapper.__doc__, wrapper.cache_clear = fn.__doc__, cached.cache_clear
    return wrapper


@_constant
def _shift_tensor(L: int, k: int) -> torch.Tensor:
    """M[s_in, s_out, t] = number of kernel taps t = (dy, dx) that read site s_in for output s_out.

    Shape (L^2, L^2, k^2), float32; entries can exceed 1 when k > L (the kernel
    wraps onto itself), which is exactly what circular padding does.  Cached per
    (L, k) and never modified.
    """
    r = torch.arange(L)
    rr, cc = torch.meshgrid(r, r, indexing="ij")
    s_out = (rr * L + cc).reshape(-1)
    m = torch.zeros(L * L, L * L, k * k)
    h = k // 2
    for dy in range(k):
        for dx in range(k):
            s_in = (((rr + dy - h) % L) * L + (cc + dx - h) % L).reshape(-1)
            m[s_in, s_out, dy * k + dx] += 1.0
    return m


def dense_matrix(weight: torch.Tensor, L: int) -> torch.Tensor:
    """Block-circulant matrix of a circular conv: (C_out, C_in, k, k) -> (C_in L^2, C_out L^2).

    ``x.reshape(B, C_in * L * L) @ dense_matrix(w, L)`` equals the circular
    correlation of x with w, flattened as (C_out, L, L).  Differentiable in w.
    """
    co, ci, k, _ = weight.shape
    n2 = L * L
    m = _shift_tensor(L, k).to(dtype=weight.dtype, device=weight.device).view(n2 * n2, k * k)
    d = (m @ weight.reshape(co * ci, k * k).t()).view(n2, n2, co, ci)  # [s_in, s_out, o, i]
    return d.permute(3, 0, 2, 1).reshape(ci * n2, co * n2)


@_constant
def _row_shift_tensor(L: int, k: int) -> torch.Tensor:
    """M1[c_in, c_out, dx] = number of taps dx reading column c_in for output column c_out, (L, L, k)."""
    m = torch.zeros(L, L, k)
    for dx in range(k):
        for c in range(L):
            m[(c + dx - k // 2) % L, c, dx] += 1.0
    return m


def banded_matrix(weight: torch.Tensor, L: int) -> torch.Tensor:
    """Row-banded form of K single-channel kernels (K, 1, k, k) -> (k L, K L).

    Row (dy, c_in), column (K, c_out): the circular correlation along columns
    for kernel row dy.  Multiplying the k circularly shifted copies of each
    lattice row, laid side by side (``row_unfold``), by it gives all K maps.
    """
    kk, _, k, _ = weight.shape
    m1 = _row_shift_tensor(L, k).to(dtype=weight.dtype, device=weight.device).view(L * L, k)
    r = (m1 @ weight[:, 0].permute(2, 0, 1).reshape(k, kk * k)).view(L, L, kk, k)  # [c_in, c_out, K, dy]
    return r.permute(3, 0, 2, 1).reshape(k * L, kk * L)


def row_unfold(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N, L, L) -> (N L, k L): for each output row r the input rows r-k//2 .. r+k//2 (periodic)."""
    h = k // 2
    xp = torch.cat([x[:, x.shape[1] - h:], x, x[:, :h]], 1) if h else x  # (N, L + 2h, L)
    return xp.unfold(1, k, 1).transpose(2, 3).reshape(-1, k * x.shape[2])  # (N, L, k, L) -> (N L, k L)


class CircularConv(torch.autograd.Function):
    """Grouped circular correlation with a fast backward made of forward convolutions.

    forward(x (B, G*Ci, L, L), w (G*Co, Ci, k, k), groups) -> (B, G*Co, L, L), no bias.
    """

    @staticmethod
    def forward(ctx, x, w, groups):
        xp = circular_pad(x, w.shape[-1] // 2)
        ctx.save_for_backward(xp, w)
        ctx.groups = groups
        return F.conv2d(xp, w, groups=groups)

    @staticmethod
    def backward(ctx, grad):
        xp, w = ctx.saved_tensors
        g = ctx.groups
        k = w.shape[-1]
        b = grad.shape[0]
        co, ci = w.shape[0] // g, w.shape[1]
        grad_x = None
        if ctx.needs_input_grad[0]:
            # adjoint of a circular correlation = circular correlation with the flipped kernel
            wt = w.reshape(g, co, ci, k, k).transpose(1, 2).reshape(g * ci, co, k, k).flip(2, 3)
            grad_x = F.conv2d(circular_pad(grad, k // 2), wt, groups=g)
        # dL/dw[o, i, t] = sum_b sum_s grad[b, o, s] xp[b, i, s + t]: a conv with the batch as channels
        xi = xp.reshape(b, g, ci, *xp.shape[2:]).permute(2, 1, 0, 3, 4).reshape(ci, g * b, *xp.shape[2:])
        gg = grad.reshape(b, g, co, *grad.shape[2:]).permute(1, 2, 0, 3, 4)
        gg = gg.reshape(g * co, b, *grad.shape[2:])
        grad_w = F.conv2d(xi, gg, groups=g).transpose(0, 1)
        return grad_x, grad_w, None


SMALL_BATCH = 4  # inference on at most this many configurations ...
DIRECT_MAX_IN = 4  # ... with at most this many input channels uses the direct (im2col) kernel
_direct_conv = getattr(torch.ops.aten, "_slow_conv2d_forward", None)


def block_diagonal(w: torch.Tensor, groups: int) -> torch.Tensor:
    """Grouped kernel (G*Co, Ci, k, k) as the equivalent dense one (G*Co, G*Ci, k, k), zeros off the diagonal."""
    go, ci, k, _ = w.shape
    co = go // groups
    d = w.new_zeros(groups, co, groups, ci, k, k)
    idx = torch.arange(groups, device=w.device)
    d[idx, :, idx] = w.view(groups, co, ci, k, k)
    return d.view(go, groups * ci, k, k)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh; for CPU inference as 2 sigmoid(2x) - 1, which ATen evaluates ~1.5-4x faster on this
    hardware (measured: 29 vs 21 us on (4, 3, 40, 40)); differs from tanh by <= 2e-7 absolute."""
    if (torch.is_grad_enabled() and x.requires_grad) or x.device.type != "cpu" or x.dtype != torch.float32:
        return torch.tanh(x)
    return torch.sigmoid(x * 2.0).mul_(2.0).sub_(1.0)


def circular_conv(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None,
                  groups: int = 1) -> torch.Tensor:
    """Circular correlation (B, G*Ci, L, L) -> (B, G*Co, L, L), the fast backward under autograd.

    Without gradients (inference) on the CPU, two measured shortcuts: a grouped
    convolution runs as one dense convolution with a block-diagonal kernel
    (oneDNN's grouped kernels for 3 channels per group are ~3x slower than its
    dense 12 -> 12 one), and a batch of at most ``SMALL_BATCH`` with few input
    channels uses ATen's direct im2col kernel, ~2x faster than oneDNN for one
    configuration (at 12 input channels oneDNN wins again).
    """
    if torch.is_grad_enabled() and (x.requires_grad or w.requires_grad):
        y = CircularConv.apply(x, w, groups)
        return y if bias is None else y + bias[:, None, None]
    xp = circular_pad(x, w.shape[-1] // 2)
    if x.device.type != "cpu":
        return F.conv2d(xp, w, bias, groups=groups)
    if groups > 1:  # (ConvOps.layers passes cached block-diagonal kernels instead)
        w, groups = block_diagonal(w, groups), 1
    if x.shape[0] <= SMALL_BATCH and w.shape[1] <= DIRECT_MAX_IN and _direct_conv is not None:
        k = w.shape[-1]
        return _direct_conv(xp.contiguous(), w.contiguous(), [k, k], bias, [1, 1], [0, 0])
    return F.conv2d(xp, w, bias)


def symmetrize_weights(sym_layers) -> torch.Tensor:
    """All symmetrization kernels as one (2 * G * C, 1, k, k) tensor, order (a, j, c).

    a = 0 takes each layer's first kernel W0, a = 1 its second W1; j runs over
    the G layers; c over the C output channels.
    """
    return torch.cat([torch.cat([s.conv0.weight for s in sym_layers]),
                      torch.cat([s.conv1.weight for s in sym_layers])])


class ConvOps:
    """Convolution engine: circular pad + conv2d, any L."""

    name = "conv"

    def __init__(self, L: int):
        self.L = L

    def symmetrize(self, spins: torch.Tensor, sym_layers) -> torch.Tensor:
        """T_j = sum_k (W0_j * S_k) (W1_j * S_k) for all j at once: (B, L, L, 3) -> (G, B, C, L, L).

        The three spin components are stacked into the batch and all 2G kernels
        run as ONE convolution (3B, 1, L, L) -> (3B, 2GC, L, L).
        """
        b, L = spins.shape[0], self.L
        g, c = len(sym_layers), sym_layers[0].conv0.weight.shape[0]
        x = spins.permute(3, 0, 1, 2).reshape(3 * b, 1, L, L)  # (3B, 1, L, L), component-major
        y = circular_conv(x, symmetrize_weights(sym_layers)).view(3, b, 2, g, c, L, L)
        a0, a1 = y.unbind(2)
        return (a0 * a1).sum(0).transpose(0, 1)  # (G, B, C, L, L)

    def layer(self, nl, x: torch.Tensor) -> torch.Tensor:
        """One NonlinearLayer conv -> tanh -> conv on (B, Ci, L, L) -> (B, Co, L, L)."""
        h = tanh(circular_conv(x, nl.conv1.weight, nl.conv1.bias))
        return circular_conv(h, nl.conv2.weight, nl.conv2.bias)

    def layers(self, nls, x: torch.Tensor) -> torch.Tensor:
        """G independent NonlinearLayers on a stack (G, B, Ci, L, L) -> (G, B, Co, L, L), grouped conv."""
        g, b, ci, L, _ = x.shape
        if g == 1:
            return self.layer(nls[0], x[0]).unsqueeze(0)
        h = x.transpose(0, 1).reshape(b, g * ci, L, L)
        if torch.is_grad_enabled() or x.device.type != "cpu":
            w1, b1, w2, b2 = stacked_weights(nls)
            h = circular_conv(torch.tanh(circular_conv(h, w1, b1, g)), w2, b2, g)
        else:  # inference: one dense conv with block-diagonal kernels (see circular_conv), built once
            w1, b1, w2, b2 = _inference_weights(nls)
            h = circular_conv(tanh(circular_conv(h, w1, b1)), w2, b2)
        return h.view(b, g, -1, L, L).transpose(0, 1)


def stacked_weights(nls) -> tuple[torch.Tensor, ...]:
    """Grouped-conv weights and biases of G NonlinearLayers: (G Co, Ci, k, k), (G Co,) for conv1, conv2."""
    return (torch.cat([n.conv1.weight for n in nls]), torch.cat([n.conv1.bias for n in nls]),
            torch.cat([n.conv2.weight for n in nls]), torch.cat([n.conv2.bias for n in nls]))


_INFERENCE_CACHE: dict = {}
_INFERENCE_LOCK = threading.Lock()  # the app evaluates models from several sessions' threads


def _inference_weights(nls) -> tuple[torch.Tensor, ...]:
    """``stacked_weights`` with block-diagonal kernels, cached while the parameters are unchanged.

    The entry is checked against weak references, storage addresses and version
    counters of the parameters, so an optimizer step, ``.to(...)`` or a freed
    and reused module rebuilds it.
    """
    params = [p for n in nls for p in (n.conv1.weight, n.conv1.bias, n.conv2.weight, n.conv2.bias)]
    g = len(nls)
    if any(p.is_inference() for p in params):  # no version counter to check: build, do not cache
        w1, b1, w2, b2 = stacked_weights(nls)
        return block_diagonal(w1, g), b1, block_diagonal(w2, g), b2
    key = tuple((id(p), p.data_ptr(), p.dtype, p.device) for p in params)  # .to()/.double() change data_ptr
    with _INFERENCE_LOCK:
        hit = _INFERENCE_CACHE.get(key)
    if hit is not None and all(r() is p and v == p._version for r, v, p in zip(hit[0], hit[1], params)):
        return hit[2]
    w1, b1, w2, b2 = (t.detach() for t in stacked_weights(nls))
    with torch.inference_mode(False):
        value = (block_diagonal(w1, g), b1.clone(), block_diagonal(w2, g), b2.clone())
    with _INFERENCE_LOCK:
        if len(_INFERENCE_CACHE) >= 64:
            _INFERENCE_CACHE.pop(next(iter(_INFERENCE_CACHE)))
        _INFERENCE_CACHE[key] = ([weakref.ref(p) for p in params], [p._version for p in params], value)
    return value


class BandedSymmetrize(torch.autograd.Function):
    """T = sum_comp (x_comp @ A0) (.) (x_comp @ A1) on row-unfolded spins, cache-blocked, recomputing.

    forward(x (3, B L, k L) row-unfolded spin components (no gradient), a (k L, 2F) banded
    weights [A0 | A1] with F = G C L columns (j, c, col), dims (B, L, G, C)) -> (G, B, C, L, L).

    The two GEMM outputs are 3 x 2 x F floats per lattice row, the largest
    tensors of a training step (22 MB at L = 10, batch 1024); written to and
    read back from memory they made this product the slowest part of a step.
    Here they live only inside blocks of ``ROWS`` lattice rows (cache-sized),
    and the backward recomputes them block by block instead of storing them.
    """

    ROWS = 1280  # lattice rows per block (128 configurations at L = 10)

    @staticmethod
    def forward(ctx, x, a, dims):
        b, L, g, c = dims
        f = a.shape[1] // 2
        n = x.shape[1]
        t = torch.empty(n, f, dtype=a.dtype, device=a.device)
        for s in range(0, n, BandedSymmetrize.ROWS):
            y = x[:, s:s + BandedSymmetrize.ROWS] @ a  # (3, rows, 2F)
            blk = t[s:s + BandedSymmetrize.ROWS]
            torch.mul(y[0, :, :f], y[0, :, f:], out=blk)
            blk.addcmul_(y[1, :, :f], y[1, :, f:]).addcmul_(y[2, :, :f], y[2, :, f:])
        ctx.save_for_backward(x, a)
        return t.view(b, L, g, c, L).permute(2, 0, 3, 1, 4).contiguous()

    @staticmethod
    def backward(ctx, grad):
        x, a = ctx.saved_tensors
        f = a.shape[1] // 2
        gt = grad.permute(1, 3, 0, 2, 4).reshape(x.shape[1], f)  # (B L, F), one copy
        grad_a = torch.zeros_like(a)
        for s in range(0, x.shape[1], BandedSymmetrize.ROWS):
            xs = x[:, s:s + BandedSymmetrize.ROWS]
            y = xs @ a  # recomputed (3, rows, 2F)
            gs = gt[s:s + BandedSymmetrize.ROWS]
            gy = torch.empty_like(y)
            torch.mul(y[:, :, f:], gs, out=gy[:, :, :f])  # dT/dA0-part = A1-part, and vice versa
            torch.mul(y[:, :, :f], gs, out=gy[:, :, f:])
            grad_a.addmm_(xs.reshape(-1, xs.shape[-1]).t(), gy.view(-1, 2 * f))
        return None, grad_a, None


class DenseOps(ConvOps):
    """Dense block-circulant engine for small lattices (one GEMM per convolution)."""

    name = "dense"

    def symmetrize(self, spins, sym_layers):
        """As ``ConvOps.symmetrize`` but as GEMMs (3B L, k L) @ (k L, 2GC L) on row-unfolded spins.

        The spins need no gradient, so only the (small) banded weight matrix is
        differentiated; half the multiply-adds of a fully dense (L^2 x 2GC L^2)
        form.  ``BandedSymmetrize`` does it in cache-sized blocks.
        """
        b, L = spins.shape[0], self.L
        w = symmetrize_weights(sym_layers)
        g, c, k = len(sym_layers), sym_layers[0].conv0.weight.shape[0], w.shape[-1]
        x = row_unfold(spins.permute(3, 0, 1, 2).reshape(3 * b, L, L), k)  # (3B L, k L)
        a = banded_matrix(w, L)  # columns (a, j, c, col): the W0 half, then the W1 half
        return BandedSymmetrize.apply(x.view(3, b * L, k * L), a, (b, L, g, c))  # (G, B, C, L, L)

    def layer(self, nl, x):
        b, ci, L, _ = x.shape
        n2 = L * L
        h = torch.addmm(nl.conv1.bias.repeat_interleave(n2), x.reshape(b, ci * n2),
                        dense_matrix(nl.conv1.weight, L))
        h = torch.addmm(nl.conv2.bias.repeat_interleave(n2), torch.tanh(h), dense_matrix(nl.conv2.weight, L))
        return h.view(b, -1, L, L)

    def layers(self, nls, x):
        g, b, ci, L, _ = x.shape
        if g == 1:
            return self.layer(nls[0], x[0]).unsqueeze(0)
        n2 = L * L
        d1 = torch.stack([dense_matrix(n.conv1.weight, L) for n in nls])  # (G, Ci L2, Co L2)
        d2 = torch.stack([dense_matrix(n.conv2.weight, L) for n in nls])
        b1 = torch.stack([n.conv1.bias.repeat_interleave(n2) for n in nls]).unsqueeze(1)  # (G, 1, Co L2)
        b2 = torch.stack([n.conv2.bias.repeat_interleave(n2) for n in nls]).unsqueeze(1)
        h = torch.baddbmm(b1, x.reshape(g, b, ci * n2), d1)
        h = torch.baddbmm(b2, torch.tanh(h), d2)
        return h.view(g, b, -1, L, L)


def engine(L: int, choice: str = "auto", batch: int = DENSE_MIN_BATCH) -> ConvOps:
    """The engine for a batch at lattice size L: "dense" for L <= DENSE_MAX_L and
    batch >= DENSE_MIN_BATCH, else "conv" (or the forced ``choice``)."""
    if choice == "auto":
        choice = "dense" if L <= DENSE_MAX_L and batch >= DENSE_MIN_BATCH else "conv"
    if choice == "dense":
        return DenseOps(L)
    if choice == "conv":
        return ConvOps(L)
    raise ValueError(f"engine must be 'auto', 'dense' or 'conv', got {choice!r}")


def q_sum(q, s: torch.Tensor) -> torch.Tensor:
    """E = sum_sites conv_q(S) for a C -> 1 circular conv q, without the convolution.

    On a torus every site is read by every kernel tap exactly once, so
    sum_r (w * S)(r) = sum_c (sum_t w[0, c, t]) (sum_r S[c, r]) and the bias adds
    L^2 b.  (B, C, L, L) -> (B,).
    """
    n2 = s.shape[-1] * s.shape[-2]
    return s.sum((-2, -1)) @ q.weight.sum((-2, -1))[0] + n2 * q.bias[0]


def site_energy(q, s: torch.Tensor) -> torch.Tensor:
    """The q convolution itself, per site: (B, C, L, L) -> (B, L, L); its sum is E."""
    return circular_conv(s, q.weight, q.bias)[:, 0]
