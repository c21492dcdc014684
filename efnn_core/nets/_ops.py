"""Periodic-convolution kernels shared by the lattice networks (private).

Every convolution in the lattice networks is a *circular* cross-correlation
with an odd k x k kernel on an L x L torus:

    y[b, o, r, c] = bias[o] + sum_{i,dy,dx} w[o, i, dy, dx] x[b, i, (r+dy-k//2) % L, (c+dx-k//2) % L]

Two exact implementations are provided ("engines"); they agree to float32
rounding and are chosen per call (``engine``):

* ``SpectralOps`` (small lattices, batches >= SPECTRAL_MIN_BATCH): a real
  Fourier transform along the lattice COLUMNS turns every convolution into
  independent banded matrices, one per pair of wavenumbers (cos, sin), acting
  on (2 x channels x rows) numbers; feature maps are kept batch-last,
  (L_col, C, L_row, B), so the transform, the per-pair ``bmm`` and the inverse
  are three plain GEMMs.  At L = 10, C = 3 a convolution costs 18,000
  multiply-adds per configuration in GEMMs of shape (60 x 60) @ (60 x B),
  against 22,500 for a direct convolution (which oneDNN runs at a few percent
  of the cores' peak with 3 channels) and 90,000 for one dense block-circulant
  matrix.  The symmetrization convolutions (input spins, no gradient needed)
  are one GEMM on row-unfolded spins against a row-banded matrix
  (``BandedSymmetrize``).
* ``ConvOps`` (any L): circular pad + ``F.conv2d``, with a custom backward
  (``CircularConv``) that computes both gradients with *forward* convolutions
  (the adjoint of a circular correlation is the circular correlation with the
  flipped, transposed kernel), about 2x faster than autograd's
  ``convolution_backward`` for these shapes.  Independent layers run as one
  grouped convolution.  Inference on at most NATIVE_MAX_BATCH configurations
  on the CPU runs on the compiled direct kernels of ``_native`` (grouped
  convolutions and a fused symmetrization), 2-5x faster than ATen's for a few
  channels; without a C compiler ATen does it.

``ConvOps`` tensors are channels-first (B, C, L, L) and a *stack* of G
independent feature maps is (G, B, C, L, L); ``SpectralOps`` uses (L, C, L, B)
and (G, L, C, L, B).  The networks only multiply, add and concatenate (along
dim 1, the channels in both layouts) what the engine returns, so the same
network code runs on either.
"""

from __future__ import annotations

import threading
import weakref
from functools import lru_cache

import torch
import torch.nn.functional as F

from . import _native  # compiled kernels for small inference batches, built on first use

SPECTRAL_MAX_L = 12  # the spectral engine up to this L; above it only for training, up to SPECTRAL_TRAIN_MAX_L
SPECTRAL_TRAIN_MAX_L = 20  # (measured: forward+backward beats ConvOps up to L = 20, inference only to ~12)
SPECTRAL_MIN_BATCH = 32  # below this batch building the matrices costs more than it saves


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
    lattice row, laid side by side (``row_windows``), by it gives all K maps.
    """
    kk, _, k, _ = weight.shape
    m1 = _row_shift_tensor(L, k).to(dtype=weight.dtype, device=weight.device).view(L * L, k)
    r = (m1 @ weight[:, 0].permute(2, 0, 1).reshape(k, kk * k)).view(L, L, kk, k)  # [c_in, c_out, K, dy]
    return r.permute(3, 0, 2, 1).reshape(k * L, kk * L)


def row_windows(spins: torch.Tensor, k: int) -> torch.Tensor:
    """(B, L, L, 3) -> (3, L B, k L): for each spin component, lattice row r and configuration b
    (rows ordered (r, b)) the rows r - k//2 .. r + k//2 (periodic) side by side, the input of
    ``banded_matrix``."""
    b, L = spins.shape[:2]
    rows = torch.arange(-(k // 2), L + k // 2, device=spins.device) % L
    w = spins.permute(3, 1, 0, 2)[:, rows].unfold(1, k, 1)  # (3, L_row, B, L_col, k)
    return w.permute(0, 1, 2, 4, 3).reshape(3, L * b, k * L)


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


NATIVE_MAX_BATCH = 4  # the compiled kernel (``_native``) for at most this many configurations ...
NATIVE_MAX_OUT = 8  # ... and output channels per group (measured: ATen's im2col wins for 1 -> 24 channels)
SMALL_BATCH = 4  # without it: inference on at most this many configurations ...
DIRECT_MAX_IN = 4  # ... with at most this many input channels uses ATen's direct (im2col) kernel
_direct_conv = getattr(torch.ops.aten, "_slow_conv2d_forward", None)


def block_diagonal(w: torch.Tensor, groups: int) -> torch.Tensor:
    """Grouped kernel (G*Co, Ci, k, k) as the equivalent dense one (G*Co, G*Ci, k, k), zeros off the diagonal."""
    go, ci, k, _ = w.shape
    co = go // groups
    d = w.new_zeros(groups, co, groups, ci, k, k)
    idx = torch.arange(groups, device=w.device)
    d[idx, :, idx] = w.view(groups, co, ci, k, k)
    return d.view(go, groups * ci, k, k)


def _sigmoid_tanh(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x * 2.0).mul_(2.0).sub_(1.0)


class _SigmoidTanh(torch.autograd.Function):
    """tanh(x) as 2 sigmoid(2x) - 1 with tanh's own backward, (1 - y^2) grad, from the saved output."""

    @staticmethod
    def forward(ctx, x):
        y = _sigmoid_tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh; for float32 on the CPU as 2 sigmoid(2x) - 1, which ATen evaluates 3-4x faster on this
    hardware (measured: 0.66-0.86 vs 2.4-3.3 ms on (3, 10, 3, 10, 1024), one thread); differs
    from tanh by <= 2e-7 absolute.  Differentiable (same backward as tanh)."""
    if x.device.type != "cpu" or x.dtype != torch.float32:
        return torch.tanh(x)
    if torch.is_grad_enabled() and x.requires_grad:
        return _SigmoidTanh.apply(x)
    return _sigmoid_tanh(x)  # inference: a plain op sequence (traceable by ``frozen``)


def native(x: torch.Tensor, out_per_group: int = 1) -> bool:
    """Whether inference on x (B, ...) runs on the compiled kernels of ``_native``: float32 on the
    CPU, at most NATIVE_MAX_BATCH configurations and NATIVE_MAX_OUT convolution outputs per group."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and x.shape[0] <= NATIVE_MAX_BATCH
            and out_per_group <= NATIVE_MAX_OUT and not torch.is_grad_enabled() and _native.available())


def circular_conv(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None,
                  groups: int = 1) -> torch.Tensor:
    """Circular correlation (B, G*Ci, L, L) -> (B, G*Co, L, L), the fast backward under autograd.

    Without gradients (inference) on the CPU, measured shortcuts: small batches
    with few output channels run on the compiled direct kernel of ``_native``
    (2-5x faster than ATen at batch 1, grouped convolutions included); where it
    is unavailable a batch of at most ``SMALL_BATCH`` with few input channels
    uses ATen's direct im2col kernel (~2x faster than oneDNN for one
    configuration); and a grouped convolution runs as one dense convolution with
    a block-diagonal kernel (oneDNN's grouped kernels for 3 channels per group
    are ~3x slower than its dense 12 -> 12 one).
    """
    if torch.is_grad_enabled() and (x.requires_grad or w.requires_grad):
        y = CircularConv.apply(x, w, groups)
        return y if bias is None else y + bias[:, None, None]
    if native(x, w.shape[0] // groups):
        return _native.op("conv")(x, w, bias, groups)
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
        run as ONE convolution (3B, 1, L, L) -> (3B, 2GC, L, L); for small
        inference batches the compiled kernel does it all, fused (``_native``).
        """
        b, L = spins.shape[0], self.L
        g, c = len(sym_layers), sym_layers[0].conv0.weight.shape[0]
        w = symmetrize_weights(sym_layers)
        if native(spins):
            return _native.op("symmetrize")(spins, w).view(b, g, c, L, L).transpose(0, 1)
        x = spins.permute(3, 0, 1, 2).reshape(3 * b, 1, L, L)  # (3B, 1, L, L), component-major
        y = circular_conv(x, w).view(3, b, 2, g, c, L, L)
        a0, a1 = y.unbind(2)
        return (a0 * a1).sum(0).transpose(0, 1)  # (G, B, C, L, L)

    def q_sum(self, q, s: torch.Tensor) -> torch.Tensor:
        return q_sum(q, s)

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
        if torch.is_grad_enabled() or x.device.type != "cpu" or native(h, nls[0].conv1.weight.shape[0]):
            w1, b1, w2, b2 = stacked_weights(nls)
            h = circular_conv(tanh(circular_conv(h, w1, b1, g)), w2, b2, g)
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
    """T = sum_comp (A0^T x_comp^T) (.) (A1^T x_comp^T) on row windows of the spins, in cache-sized blocks.

    forward(x (3, L B, k L) row windows (``row_windows``, no gradient), a (k L, 2F) banded
    weights [A0 | A1] with F = G L C columns (j, col, c), dims (B, L, G, C))
    -> (G, L_col, C, L_row, B), the layout of ``SpectralOps``, with no transposition: the
    products are computed transposed, y^T = a^T x^T, so rows (r, b) land last.

    The GEMM outputs, 3 x 2F floats per lattice row, are the largest tensors of a
    training step (22 MB at L = 10, batch 1024).  They are made and multiplied in
    blocks of about ``BLOCK`` floats, which stay in cache, and stored for the
    backward (measured: faster than recomputing them there, and than one
    unblocked GEMM).
    """

    BLOCK = 350_000  # floats of y per block (~1.4 MB: 64 configurations at L = 10, C = 3, n = 2)

    @staticmethod
    def _step(f: int) -> int:
        return max(16, BandedSymmetrize.BLOCK // (6 * f))

    @staticmethod
    def forward(ctx, x, a, dims):
        b, L, g, c = dims
        n, f = x.shape[1], a.shape[1] // 2
        step, at = BandedSymmetrize._step(f), a.t()
        t = torch.empty(f, n, dtype=a.dtype, device=a.device)
        keep = ctx.needs_input_grad[1]
        ys = torch.empty(3, 2 * f, n, dtype=a.dtype, device=a.device) if keep else None
        for s in range(0, n, step):
            e = min(n, s + step)
            y = ys[:, :, s:e] if keep else torch.empty(3, 2 * f, e - s, dtype=a.dtype, device=a.device)
            for comp in range(3):
                torch.mm(at, x[comp, s:e].t(), out=y[comp])
            blk = t[:, s:e]
            torch.mul(y[0, :f], y[0, f:], out=blk)
            blk.addcmul_(y[1, :f], y[1, f:]).addcmul_(y[2, :f], y[2, f:])
        ctx.save_for_backward(x, ys)
        return t.view(g, L, c, L, b)

    @staticmethod
    def backward(ctx, grad):
        x, ys = ctx.saved_tensors
        n, f = x.shape[1], ys.shape[1] // 2
        step = BandedSymmetrize._step(f)
        gt = grad.reshape(f, n)
        grad_at = torch.zeros(2 * f, x.shape[-1], dtype=ys.dtype, device=ys.device)
        for s in range(0, n, step):
            e = min(n, s + step)
            y, gs = ys[:, :, s:e], gt[:, s:e]
            gy = torch.empty_like(y)
            torch.mul(y[:, f:], gs, out=gy[:, :f])  # dT/dA0-part = A1-part (.) grad, and vice versa
            torch.mul(y[:, :f], gs, out=gy[:, f:])
            for comp in range(3):
                grad_at.addmm_(gy[comp], x[comp, s:e])
        return None, grad_at.t(), None


@_constant
def _real_dft(L: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """Real orthonormal DFT along one lattice axis, (2 ceil(L/2), L), rows in pairs.

    Row pairs: (constant, Nyquist (-1)^x) for even L or (constant, zero row) for
    odd L, then (cos, sin) of wavenumbers 1 .. ceil(L/2) - 1.  R^T R = I_L, so
    R^T inverts R, and a circular shift along the axis becomes block-diagonal
    (2 x 2 blocks, one per pair) in this basis.
    """
    x = torch.arange(L, dtype=torch.float64)
    rows = [torch.full((L,), L ** -0.5, dtype=torch.float64),
            (-1.0) ** x * L ** -0.5 if L % 2 == 0 else torch.zeros(L, dtype=torch.float64)]
    for m in range(1, (L + 1) // 2):
        rows += [(2 / L) ** 0.5 * torch.cos(2 * torch.pi * m * x / L),
                 (2 / L) ** 0.5 * torch.sin(2 * torch.pi * m * x / L)]
    return torch.stack(rows).to(dtype).to(device)  # dtype first: MPS has no float64


@_constant
def _spectral_basis(L: int, k: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """Phi[g, h_o, r_o, h_i, r_i, t]: a circular k x k conv of one channel pair in the column-spectral basis.

    Columns x are transformed by ``_real_dft`` (pair g, member h), rows r stay in
    real space; tap t = (dy, dx).  Shape (ng, 2, L, 2, L, k^2), ng = ceil(L/2); built in float64.
    """
    r = _real_dft(L)
    ng, h = r.shape[0] // 2, k // 2
    eye = torch.eye(L, dtype=torch.float64)
    rows = _row_shift_tensor(L, k).double().permute(2, 1, 0)  # [dy, r_out, r_in]
    cols = torch.stack([r @ eye.roll(dx - h, 1) @ r.t() for dx in range(k)])  # [dx, f_out, f_in]
    blocks = cols.view(k, ng, 2, ng, 2).diagonal(dim1=1, dim2=3).permute(3, 1, 2, 0)  # [g, h_o, h_i, dx]
    phi = torch.einsum("gabx,yrs->garbsyx", blocks, rows)
    return phi.reshape(ng, 2, L, 2, L, k * k).to(dtype).to(device).contiguous()


def spectral_matrix(weight: torch.Tensor, L: int) -> torch.Tensor:
    """Per-pair mixing matrices of a circular conv: (C_out, C_in, k, k) -> (ng, 2 C_out L, 2 C_in L).

    Features of a pair are ordered (h, channel, row), as in the (L, C, L, B)
    layout of ``SpectralOps`` after the column transform.  Differentiable in w.
    """
    co, ci, k, _ = weight.shape
    phi = _spectral_basis(L, k, weight.dtype, weight.device)
    ng = phi.shape[0]
    w = (phi.view(-1, k * k) @ weight.reshape(co * ci, k * k).t()).view(ng, 2, L, 2, L, co, ci)
    return w.permute(0, 1, 5, 2, 3, 6, 4).reshape(ng, 2 * co * L, 2 * ci * L)


class SpectralOps(ConvOps):
    """Column-spectral engine for small lattices: real DFT along columns, banded GEMMs per wavenumber pair.

    Feature maps live in the layout (L_col, C, L_row, B) (stacks: (G, L_col, C,
    L_row, B)), batch LAST, so that every step is one plain GEMM: the column
    transform R @ X, a ``bmm`` with one (2 C L x 2 C L) matrix per wavenumber
    pair (``spectral_matrix``), the inverse R^T @ Y.  At L = 10, C = 3 that is
    5 x 60^2 = 18,000 multiply-adds per configuration and conv instead of the
    90,000 of a dense block-circulant 300 x 300 matrix.  The bias of a conv is
    a constant field, so it enters only the constant-column coefficient.
    """

    name = "spectral"

    def symmetrize(self, spins, sym_layers):
        """As ``ConvOps.symmetrize`` but as GEMMs (3B L, k L) @ (k L, 2GC L) on row-unfolded spins,
        returning (G, L_col, C, L_row, B).

        The spins need no gradient, so only the (small) banded weight matrix is
        differentiated; half the multiply-adds of a fully dense (L^2 x 2GC L^2)
        form.  ``BandedSymmetrize`` does it in cache-sized blocks.
        """
        b, L = spins.shape[0], self.L
        w = symmetrize_weights(sym_layers)
        g, c, k = len(sym_layers), sym_layers[0].conv0.weight.shape[0], w.shape[-1]
        a = banded_matrix(w, L).view(k * L, 2, g, c, L).transpose(3, 4)  # columns (W0 | W1, j, col, c)
        return BandedSymmetrize.apply(row_windows(spins, k), a.reshape(k * L, -1), (b, L, g, c))

    def _conv(self, x, weights, biases, g):
        """G stacked convs: x (G, L, Ci, L, B) -> (G, L, Co, L, B) with weights[j] (Co, Ci, k, k)."""
        L, b = self.L, x.shape[-1]
        r = _real_dft(L, x.dtype, x.device)
        ng = r.shape[0] // 2
        w = torch.cat([spectral_matrix(wj, L) for wj in weights])  # (G ng, 2 Co L, 2 Ci L)
        co = w.shape[1] // (2 * L)
        # a constant field b has one nonzero coefficient, sqrt(L) b on the constant column
        bias = (torch.stack(biases) * L ** 0.5)[:, None, :, None].expand(g, 1, co, L)
        bias = F.pad(bias, (0, 0, 0, 0, 0, 2 * ng - 1)).reshape(g * ng, 2 * co * L, 1)
        xt = torch.matmul(r, x.reshape(g, L, -1)).view(g * ng, -1, b)  # (G ng, 2 Ci L, B)
        y = torch.baddbmm(bias, w, xt).view(g, 2 * ng, -1)
        return torch.matmul(r.t(), y).view(g, L, co, L, b)

    def layers(self, nls, x):
        """G independent NonlinearLayers on a stack (G, L, Ci, L, B) -> (G, L, Co, L, B)."""
        g = len(nls)
        h = tanh(self._conv(x, [n.conv1.weight for n in nls], [n.conv1.bias for n in nls], g))
        return self._conv(h, [n.conv2.weight for n in nls], [n.conv2.bias for n in nls], g)

    def layer(self, nl, x):
        return self.layers([nl], x[None])[0]

    def q_sum(self, q, s):
        """As ``q_sum`` for s in (L, C, L, B)."""
        n2 = s.shape[0] * s.shape[2]
        return q.weight.sum((-2, -1))[0] @ s.sum((0, 2)) + n2 * q.bias[0]


def engine(L: int, choice: str = "auto", batch: int = SPECTRAL_MIN_BATCH, training: bool = False) -> ConvOps:
    """The engine for a batch at lattice size L: "spectral" for batches >= SPECTRAL_MIN_BATCH at
    L <= SPECTRAL_MAX_L (L <= SPECTRAL_TRAIN_MAX_L when gradients flow), else "conv"; or the forced
    ``choice``."""
    if choice == "auto":
        max_l = SPECTRAL_TRAIN_MAX_L if training else SPECTRAL_MAX_L
        choice = "spectral" if L <= max_l and batch >= SPECTRAL_MIN_BATCH else "conv"
    if choice == "spectral":
        return SpectralOps(L)
    if choice == "conv":
        return ConvOps(L)
    raise ValueError(f"engine must be 'auto', 'spectral' or 'conv', got {choice!r}")


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
