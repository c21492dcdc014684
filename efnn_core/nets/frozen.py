"""Frozen inference: a trained energy model as a TorchScript graph for one input shape.

Monte Carlo calls the energy of ONE configuration at a time, thousands of
times, and at batch 1 an eager PyTorch forward spends about half its time in
Python and operator dispatch (measured: ~300 of ~600 microseconds for the
C=3, n=3 EFNN at L = 40).  ``frozen(model, shape)`` traces the model once for
that input shape and freezes its weights into the graph, which removes most
of that overhead (``benchmarks/inference.py`` prints both timings).  The
compiled convolutions of ``_native`` are registered operators, so the graph
calls them too.

    >>> import torch
    >>> from efnn_core.nets import build, frozen
    >>> m = build("efnn", "lattice", channels=3, layers=2, seed=0).eval()
    >>> f = frozen(m, (1, 10, 10, 3))
    >>> s = torch.nn.functional.normalize(torch.randn(1, 10, 10, 3), dim=-1)
    >>> bool(torch.allclose(f(s), m(s)))
    True

What freezing means for a user: the graph holds a copy of the weights, so a
later change of ``model``'s parameters is NOT seen (freeze again); it accepts
exactly the traced shape (anything else raises ValueError naming both); and
the model's own input checks are re-done here, since tracing keeps only the
branch taken while tracing (finiteness, dtype).
"""

from __future__ import annotations

import copy
import warnings

import torch


class FrozenEnergy:
    """Callable ``spins -> (B,)`` energies for one fixed input shape; see the module docstring."""

    def __init__(self, model: torch.nn.Module, shape: tuple[int, ...]):
        p = next(model.parameters())
        self.shape = tuple(int(n) for n in shape)
        self.dtype, self.device = p.dtype, p.device
        if len(self.shape) not in (2, 4) or min(self.shape) < 1:
            raise ValueError(f"shape must be (B, L, L, 3) or (B, sites), got {shape!r}")
        example = torch.zeros(self.shape, dtype=self.dtype, device=self.device)
        if len(self.shape) == 4:
            example[..., 2] = 1.0  # a valid (ferromagnetic) configuration
        with torch.inference_mode(False):  # (tracing fails inside inference mode)
            self._trace(model, example)

    def _trace(self, model, example):
        model = copy.deepcopy(model).eval()  # freeze shares storage with the parameters: copy them first
        self.graph, self.mode = model, "eager"
        with torch.no_grad(), warnings.catch_warnings():
            # TorchScript is deprecated upstream (torch 2.13 warns) but works in the pinned version;
            # torch.compile gave no speed-up here.  Should it ever fail, stay eager (same numbers).
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                model(example)  # fills the engines' weight caches, so the trace sees them as constants
                self.graph = torch.jit.freeze(torch.jit.trace(model, example, check_trace=False))
                self.mode = "torchscript"
            except Exception as e:  # noqa: BLE001 - any tracing failure means: run eagerly
                warnings.warn(f"frozen(): tracing failed ({e}); running the model eagerly", stacklevel=4)

    def __call__(self, spins: torch.Tensor) -> torch.Tensor:
        if not isinstance(spins, torch.Tensor):
            raise ValueError(f"spins must be a torch.Tensor of shape {self.shape}, got {type(spins).__name__}")
        if tuple(spins.shape) != self.shape:
            raise ValueError(f"this frozen model was traced for spins of shape {self.shape}, got "
                             f"{tuple(spins.shape)}; call frozen(model, {tuple(spins.shape)}) for that shape")
        spins = spins.to(device=self.device, dtype=self.dtype)
        if not torch.isfinite(spins.sum()) and not torch.isfinite(spins).all():
            raise ValueError("spins contain NaN or infinite values; every component must be finite")
        with torch.no_grad():
            return self.graph(spins)


def frozen(model: torch.nn.Module, shape) -> FrozenEnergy:
    """Trace and freeze ``model`` (an energy model, e.g. a pretrained one) for inputs of ``shape``."""
    return FrozenEnergy(model, shape)
