"""Lattice networks for the double exchange model: EFNN and its DNN/ResNet/DenseNet baselines.

Input S_0 is a configuration of classical unit spins, (B, L, L, 3) with the
vector components LAST (the library layout); the output is the energy (B,).
Every convolution is a k x k (default 5 x 5) *circular* correlation, so the
same weights apply at any L and the energy is a sum of local terms.

Symmetrization layer (paper Fig. 3, O(3)-invariant because it is bias-free
and sums dot-product-like terms over the components k = x, y, z):

    T_j(S_0) = sum_k (W0_j * S_{0,k}) (.) (W1_j * S_{0,k})         (B, C, L, L)

with two different 1 -> C kernels W0_j, W1_j per layer (50C parameters at k=5).

NonlinearLayer (every f, g, h):  conv(Ci->Co, bias) -> tanh -> conv(Co->Co, bias).

EFNN, n field-particle layers (paper Fig. 4a):

    F_1 = f_0(T_0),               S_1 = g_1(T_1) (.) F_1
    F_j = f_{j-1}(S_{j-1}),       S_j = g_j(T_j) (.) F_j,    j = 2..n
    E   = sum_sites q(S_n),       q = conv(C -> 1, bias)

Baselines (spec section 2a): DNN (only T_0; S_j = h_j(F_j)), ResNet (T_0, T_1;
S_1 = T_1 + f_0(T_0), S_{j+1} = S_j + f_j(S_j)), DenseNet (T_0, T_1;
S_1 = [T_1, F_1], S_{j+1} = [T_1, F_1..F_{j+1}], q on C(n+1) channels).

Parameter counts (k = 5; a NonlinearLayer C->C has 2(25C^2 + C) = 50C^2 + 2C):

    EFNN      50C(n+1) + 2n(50C^2 + 2C) + 25C + 1
    DNN       50C + 2n(50C^2 + 2C) + 25C + 1
    ResNet    100C + n(50C^2 + 2C) + 25C + 1
    DenseNet  100C + sum_{j=1..n} (25jC^2 + 25C^2 + 2C) + 25C(n+1) + 1

e.g. C = 3: EFNN 1288/2350/3412, DNN 1138/2050/2962, ResNet 832/1288/1744,
DenseNet 907/1663/2644 for n = 1/2/3.

Weights use PyTorch's default initialisation (Kaiming-uniform, a = sqrt(5),
as ``nn.Conv2d``); ``build(..., seed=...)`` makes them reproducible.

Speed: the forward pass uses the engines of ``_ops`` (for batches on small
lattices a column-Fourier form whose convolutions are GEMMs with one banded
matrix per wavenumber pair; grouped circular convolutions otherwise), f_0 and
g_1..g_n run batched because their inputs T_0..T_n are all known after ONE
convolution of the stacked spin components, and sum_sites q(S) is evaluated in
closed form.  ``_reference.py`` holds the straightforward version; both agree
to float32 rounding.  Set ``model.engine = "conv"`` or ``"spectral"`` to force
an engine.

Example (a 3 x 3 lattice)::

    >>> m = build("efnn", "lattice", channels=1, layers=1)
    >>> m.num_parameters()
    230
    >>> m(torch.nn.functional.normalize(torch.randn(2, 3, 3, 3), dim=-1)).shape
    torch.Size([2])
"""

from __future__ import annotations

from dataclasses import dataclass

import numbers

import torch
from torch import nn

from . import _ops


# Largest hyperparameters a network may be built with (bounded before allocating).
HP_MAX = {"channels": 256, "layers": 64, "kernel": 15}


@dataclass
class LatticeConfig:
    """Hyperparameters of a lattice network; ``asdict`` of it is stored in checkpoints."""

    arch: str = "efnn"  # one of efnn, dnn, resnet, densenet
    channels: int = 3  # C, feature maps per layer
    layers: int = 3  # n, field-particle layers (spec: "n layers" = stepsAfterInit n-1)
    kernel: int = 5  # k, odd size of every periodic convolution kernel
    family: str = "lattice"  # for from_config dispatch

    def __post_init__(self):
        if self.arch not in LATTICE_CLASSES:
            raise ValueError(f"arch must be one of {tuple(LATTICE_CLASSES)}, got {self.arch!r}")
        for name in ("channels", "layers", "kernel"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not abs(v) < float("inf") or int(v) != v \
                    or int(v) < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
            if int(v) > HP_MAX[name]:
                raise ValueError(f"{name} = {int(v)} is too large; at most {HP_MAX[name]} is allowed")
            setattr(self, name, int(v))
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (centred periodic convolution), got {self.kernel}")
        if self.family != "lattice":
            raise ValueError(f"LatticeConfig.family must be 'lattice', got {self.family!r}")


class SymLayer(nn.Module):
    """T(S_0) = sum_{k=x,y,z} (W0 * S_k) (.) (W1 * S_k); two bias-free 1 -> C kernels.

    Computed for all layers at once by the engines; this module holds the
    weights (``conv0.weight``, ``conv1.weight``, each (C, 1, k, k)).
    """

    def __init__(self, channels: int, kernel: int):
        super().__init__()
        self.conv0 = nn.Conv2d(1, channels, kernel, bias=False)
        self.conv1 = nn.Conv2d(1, channels, kernel, bias=False)


class NonlinearLayer(nn.Module):
    """conv(Ci -> Co, bias) -> tanh -> conv(Co -> Co, bias), both circular: (B, Ci, L, L) -> (B, Co, L, L)."""

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, kernel)
        self.conv2 = nn.Conv2d(c_out, c_out, kernel)


def check_lattice_input(spins: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Validate (B, L, L, 3) spins cheaply (shape, finiteness); returns them in ``dtype``.

    Scalar spins (B, L, L) (the Ising model's +-1) are read as vectors s * z-hat,
    (B, L, L, 3) with zero x and y components: the symmetrization then sees
    products of the scalars, invariant under the global flip s -> -s.
    """
    if not isinstance(spins, torch.Tensor):
        raise ValueError(f"spins must be a torch.Tensor of shape (B, L, L, 3), got {type(spins).__name__}")
    if spins.ndim == 3 and spins.shape[1] == spins.shape[2]:
        spins = torch.nn.functional.pad(spins.unsqueeze(-1), (2, 0))
    if spins.ndim != 4 or spins.shape[-1] != 3 or spins.shape[1] != spins.shape[2]:
        raise ValueError(f"spins must have shape (B, L, L, 3) (batch, square lattice, vector components "
                         f"last), got {tuple(spins.shape)}; add a batch axis with spins[None] for one "
                         "configuration")
    if spins.shape[1] < 3:
        raise ValueError(f"lattice size L={spins.shape[1]} is too small; need L >= 3")
    if not spins.is_floating_point():
        spins = spins.to(dtype)
    if not torch.isfinite(spins.sum()) and not torch.isfinite(spins).all():  # 1 reduction when clean
        bad = int((~torch.isfinite(spins)).sum())
        raise ValueError(f"spins contain {bad} NaN or infinite value(s); every component must be finite")
    return spins.to(dtype)


class LatticeNet(nn.Module):
    """Common machinery: config, validation, engine choice, parameter count, intermediates."""

    def __init__(self, config: LatticeConfig):
        super().__init__()
        self.config = config
        self.engine = "auto"  # "auto" | "spectral" | "conv"; not part of the config (same numbers)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, spins: torch.Tensor) -> torch.Tensor:
        """Energy of each configuration: (B, L, L, 3) -> (B,)."""
        x = check_lattice_input(spins, self.config_dtype())
        training = torch.is_grad_enabled() and next(self.parameters()).requires_grad
        return self._run(x, _ops.engine(x.shape[1], self.engine, x.shape[0], training), None)

    @torch.no_grad()
    def intermediates(self, spins: torch.Tensor) -> dict[str, list[torch.Tensor] | torch.Tensor]:
        """Feature maps for drawing: lists of (B, C, L, L) tensors and "site_energy" (B, L, L).

        EFNN: "T" [T_0..T_n], "F" [F_1..F_n], "S" [S_1..S_n].  DNN: "T", "F", "S"
        (S_j = h_j(F_j)).  ResNet: "T", "F" (F_j = f_{j-1}(.)), "S".  DenseNet:
        "T", "F", "S" (S_j the concatenations, (B, (j+1)C, L, L)).  The sum of
        "site_energy" over the lattice is the energy.
        """
        x = check_lattice_input(spins, self.config_dtype())
        rec: dict = {}
        self._run(x, _ops.ConvOps(x.shape[1]), rec)
        return rec

    def config_dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def _finish(self, s, ops, rec):
        if rec is not None:
            rec["site_energy"] = _ops.site_energy(self.q, s)
            return rec["site_energy"].sum((-2, -1))
        return ops.q_sum(self.q, s)

    def _accumulate(self, x, ops, rec, combine):
        """ResNet and DenseNet: F_1 = f_0(T_0), S_1 = combine(T_1, F_1), F_{j+1} = f_j(S_j),
        S_{j+1} = combine(S_j, F_{j+1}), E = sum_sites q(S_n)."""
        t = ops.symmetrize(x, self.T).unbind(0)
        f = ops.layer(self.f[0], t[0])
        s = combine(t[1], f)
        if rec is not None:
            rec["T"] = list(t)
        _record(rec, "F", f)
        _record(rec, "S", s)
        for j in range(1, self.config.layers):
            f = ops.layer(self.f[j], s)
            s = combine(s, f)
            _record(rec, "F", f)
            _record(rec, "S", s)
        return self._finish(s, ops, rec)

    def extra_repr(self) -> str:
        return f"{self.config}, parameters={self.num_parameters()}"


def _record(rec, key, value):
    if rec is not None:
        rec.setdefault(key, []).append(value)


class LatticeEFNN(LatticeNet):
    """Effective field neural network on the lattice (see module docstring for the equations)."""

    def __init__(self, config: LatticeConfig):
        super().__init__(config)
        c, n, k = config.channels, config.layers, config.kernel
        self.T = nn.ModuleList(SymLayer(c, k) for _ in range(n + 1))  # T_0..T_n
        self.f = nn.ModuleList(NonlinearLayer(c, c, k) for _ in range(n))  # f_0..f_{n-1}
        self.g = nn.ModuleList(NonlinearLayer(c, c, k) for _ in range(n))  # g_1..g_n
        self.q = nn.Conv2d(c, 1, k)

    def _run(self, x, ops, rec):
        t = ops.symmetrize(x, self.T)  # (n+1, B, C, L, L)
        # f_0(T_0), g_1(T_1)..g_n(T_n) in one batch; unbind, not indexing: one gradient copy, not n+1 zero-fills
        fg = ops.layers([self.f[0], *self.g], t).unbind(0)
        f, s = fg[0], fg[1] * fg[0]  # F_1, S_1 = g_1(T_1) (.) F_1
        if rec is not None:
            rec["T"] = list(t.unbind(0))
        _record(rec, "F", f)
        _record(rec, "S", s)
        for j in range(1, self.config.layers):
            f = ops.layer(self.f[j], s)  # F_{j+1} = f_j(S_j)
            s = fg[j + 1] * f  # S_{j+1} = g_{j+1}(T_{j+1}) (.) F_{j+1}
            _record(rec, "F", f)
            _record(rec, "S", s)
        return self._finish(s, ops, rec)


class LatticeDNN(LatticeNet):
    """Plain deep baseline: F_1 = f_0(T_0), S_j = h_j(F_j), F_{j+1} = f_j(S_j), E = sum q(S_n)."""

    def __init__(self, config: LatticeConfig):
        super().__init__(config)
        c, n, k = config.channels, config.layers, config.kernel
        self.T = nn.ModuleList([SymLayer(c, k)])
        self.f = nn.ModuleList(NonlinearLayer(c, c, k) for _ in range(n))
        self.h = nn.ModuleList(NonlinearLayer(c, c, k) for _ in range(n))
        self.q = nn.Conv2d(c, 1, k)

    def _run(self, x, ops, rec):
        t = ops.symmetrize(x, self.T)
        s = t[0]
        if rec is not None:
            rec["T"] = [t[0]]
        for j in range(self.config.layers):
            f = ops.layer(self.f[j], s)
            s = ops.layer(self.h[j], f)
            _record(rec, "F", f)
            _record(rec, "S", s)
        return self._finish(s, ops, rec)


class LatticeResNet(LatticeNet):
    """Residual baseline: S_1 = T_1 + f_0(T_0), S_{j+1} = S_j + f_j(S_j), E = sum q(S_n)."""

    def __init__(self, config: LatticeConfig):
        super().__init__(config)
        c, n, k = config.channels, config.layers, config.kernel
        self.T = nn.ModuleList(SymLayer(c, k) for _ in range(2))
        self.f = nn.ModuleList(NonlinearLayer(c, c, k) for _ in range(n))
        self.q = nn.Conv2d(c, 1, k)

    def _run(self, x, ops, rec):
        return self._accumulate(x, ops, rec, torch.add)  # S_{j+1} = S_j + F_{j+1}


class LatticeDenseNet(LatticeNet):
    """Densely connected baseline: S_1 = [T_1, F_1], F_{j+1} = f_j(S_j), S_{j+1} = [T_1, F_1..F_{j+1}].

    f_j maps (j+1)C -> C channels; q maps C(n+1) -> 1.
    """

    def __init__(self, config: LatticeConfig):
        super().__init__(config)
        c, n, k = config.channels, config.layers, config.kernel
        self.T = nn.ModuleList(SymLayer(c, k) for _ in range(2))
        self.f = nn.ModuleList(NonlinearLayer(c if j == 0 else (j + 1) * c, c, k) for j in range(n))
        self.q = nn.Conv2d(c * (n + 1), 1, k)

    def _run(self, x, ops, rec):
        return self._accumulate(x, ops, rec, lambda s, f: torch.cat([s, f], 1))  # channels pile up


LATTICE_CLASSES = {"efnn": LatticeEFNN, "dnn": LatticeDNN, "resnet": LatticeResNet,
                   "densenet": LatticeDenseNet}


def lattice_parameter_count(arch: str, channels: int, layers: int, kernel: int = 5) -> int:
    """Closed-form parameter count (the formulas of the module docstring, any odd kernel)."""
    c, n, k2 = channels, layers, kernel * kernel
    sym = 2 * k2 * c  # one T layer
    nl = 2 * (k2 * c * c + c)  # NonlinearLayer C -> C
    q = k2 * c + 1
    if arch == "efnn":
        return (n + 1) * sym + 2 * n * nl + q
    if arch == "dnn":
        return sym + 2 * n * nl + q
    if arch == "resnet":
        return 2 * sym + n * nl + q
    if arch == "densenet":
        fs = sum(k2 * (j + 1) * c * c + c + k2 * c * c + c for j in range(n))
        return 2 * sym + fs + k2 * c * (n + 1) + 1
    raise ValueError(f"arch must be one of {tuple(LATTICE_CLASSES)}, got {arch!r}")


def build_lattice(config: LatticeConfig) -> LatticeNet:
    return LATTICE_CLASSES[config.arch](config)
