"""A compiled direct periodic convolution for CPU inference on small batches (private).

``_periodic_conv.c`` is compiled on first use with the machine's C compiler
(``$CC``, else ``cc`` or ``gcc``; ``-O3 -march=native``) into a per-user cache
folder and called through ctypes.  At batch 1 it runs the lattice networks'
3-channel 5 x 5 convolutions 2-4x faster than ATen here (measured at L = 40:
28 vs 96 us for 3 -> 3 channels, 100 vs 210 us for four grouped 3 -> 3 ones),
which is what a Monte Carlo loop calling the network one configuration at a
time feels.  Everything is optional: without a compiler, with
``EFNN_NATIVE=0``, or if building or loading fails (a warning says why), the
engines use ATen as before.  The result differs from ATen's only by the order
of the float sums (tests compare the two).

Both kernels are also registered as operators (``torch.ops.efnn.periodic_conv``,
``torch.ops.efnn.periodic_symmetrize``) so that ``nets.frozen`` can trace them
into a TorchScript graph.

Building, the private per-user cache and its safety rules: ``efnn_core._cbuild``.
"""

from __future__ import annotations

import ctypes
import os
import threading
import warnings
from pathlib import Path

import torch

from .. import _cbuild

SOURCE = Path(__file__).with_name("_periodic_conv.c")
VW = 8  # floats per vector in the C kernel (VW there)

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_tried = False


def _build() -> ctypes.CDLL:
    lib = _cbuild.build(SOURCE, "periodic_conv")
    lib.periodic_conv.restype = lib.periodic_symmetrize.restype = None
    lib.periodic_conv.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int] * 7
    lib.periodic_symmetrize.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int] * 5
    return lib


def library() -> ctypes.CDLL | None:
    """The compiled kernel, built on first call; None where it is disabled or cannot be built."""
    global _lib, _tried
    if _tried:
        return _lib
    with _lock:
        if not _tried:
            if os.environ.get("EFNN_NATIVE", "1") != "0":
                try:
                    _lib = _build()
                except Exception as err:  # noqa: BLE001 - any failure: fall back to ATen, say why once
                    warnings.warn(f"efnn_core: compiled periodic convolution unavailable ({err}); "
                                  "using ATen's convolutions", RuntimeWarning, stacklevel=2)
            _tried = True
    return _lib


def available() -> bool:
    return library() is not None


def _kernel_and_workspace(maps: int, L: int, k: int) -> tuple[ctypes.CDLL, torch.Tensor, int]:
    """The library and a workspace for ``maps`` padded L x L maps: rows of PW floats, PW a multiple of VW
    plus the k - 1 halo columns (the kernel reads whole vectors past the last column)."""
    lib = library()
    if lib is None:
        raise RuntimeError("the compiled periodic convolution is not available")
    pw = -(-L // VW) * VW + k - 1
    return lib, torch.empty(maps * (L + k - 1) * pw, dtype=torch.float32), pw


def conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, groups: int) -> torch.Tensor:
    """Circular correlation (B, G Ci, L, L) -> (B, G Co, L, L), float32 CPU, by the compiled kernel."""
    b, gci, L, L2 = x.shape
    gco, ci, k, k2 = weight.shape
    if (x.dtype != torch.float32 or weight.dtype != torch.float32 or x.device.type != "cpu" or L != L2
            or k != k2 or gci != groups * ci or gco % groups or (bias is not None and bias.shape != (gco,))):
        raise ValueError(f"periodic_conv: unsupported arguments x {tuple(x.shape)} {x.dtype}, weight "
                         f"{tuple(weight.shape)} {weight.dtype}, groups {groups}")
    lib, work, pw = _kernel_and_workspace(b * gci, L, k)
    x, weight = x.contiguous(), weight.contiguous()
    bias = None if bias is None else bias.contiguous()
    y = torch.empty(b, gco, L, L, dtype=torch.float32)
    lib.periodic_conv(x.data_ptr(), weight.data_ptr(), None if bias is None else bias.data_ptr(), y.data_ptr(),
                      work.data_ptr(), b, groups, ci, gco // groups, L, k, pw)
    return y


def symmetrize(spins: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """T[b, q] = sum_s (W0_q * S_s)(W1_q * S_s): spins (B, L, L, 3), weight (2K, 1, k, k) -> (B, K, L, L),
    float32 CPU, by the compiled kernel (the symmetrization layers fused: no (3, 2K) maps are stored)."""
    b, L, L2, three = spins.shape
    k2, one, k, k_ = weight.shape
    if (spins.dtype != torch.float32 or weight.dtype != torch.float32 or spins.device.type != "cpu" or L != L2
            or three != 3 or one != 1 or k != k_ or k2 % 2):
        raise ValueError(f"periodic_symmetrize: unsupported arguments spins {tuple(spins.shape)} {spins.dtype}, "
                         f"weight {tuple(weight.shape)} {weight.dtype}")
    lib, work, pw = _kernel_and_workspace(3 * b, L, k)
    x = spins.permute(0, 3, 1, 2).contiguous()  # (B, 3, L, L): the components as maps
    weight = weight.contiguous()
    t = torch.empty(b, k2 // 2, L, L, dtype=torch.float32)
    lib.periodic_symmetrize(x.data_ptr(), weight.data_ptr(), t.data_ptr(), work.data_ptr(), b, k2 // 2, L, k, pw)
    return t


# The same functions as dispatcher operators, for tracing (``nets.frozen``); eager code calls the plain
# functions, which skips ~10 us of dispatch per call.
torch.library.custom_op("efnn::periodic_conv", conv, mutates_args=())
torch.library.custom_op("efnn::periodic_symmetrize", symmetrize, mutates_args=())


def op(name: str):
    """``conv`` or ``symmetrize``, as the registered operator while a trace is being recorded."""
    if torch.jit.is_tracing():
        return getattr(torch.ops.efnn, f"periodic_{name}")
    return conv if name == "conv" else symmetrize
