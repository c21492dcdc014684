"""Fully connected networks for the 3-spin model (binary and continuous): EFNN and baselines.

Input S_0 is (B, sites) (sites = 15 in the paper), output the energy (B,).
Width n = neurons per layer, k = ``layers``.  Every map below is
Linear -> tanh -> Linear (all Linear layers with bias); the energy is the
plain sum of the last layer, with no learned read-out (spec section 2b/2c).

EFNN (paper Fig. 2a):

    F_1 = f_0(S_0),   S_1 = g_1(S_0) (.) F_1
    F_i = f_{i-1}(S_{i-1}),   S_i = g_i(S_0) (.) F_i,   E = sum_a S_k[a]

    f_0, g_i: Linear(sites -> n) tanh Linear(n -> n); f_i (i >= 1): Linear(n -> n) tanh Linear(n -> n).

DNN:      F_i = f_{i-1}(S_{i-1}), S_i = h_i(F_i), h = Linear(n->n) tanh Linear(n->n).
ResNet:   S_1 = P(S_0) + f_0(S_0) (P = Linear(sites -> n), identity when n = sites),
          S_{i+1} = S_i + f_i(S_i).
DenseNet: F_i = Linear(sites + (i-1)n -> n) tanh Linear(n -> n) of [S_0, F_1..F_{i-1}],
          E = sum of [S_0, F_1..F_k] (the raw spins are part of the sum).

Parameter counts (m = sites; the spec's formulas are m = 15):

    EFNN      (n^2 + (m+2)n) + (k-1)(2n^2 + 2n) + k(n^2 + (m+2)n)   960 at n=15,k=1; 190800 at n=150,k=3
    DNN       (n^2 + (m+2)n) + (k-1)(2n^2 + 2n) + k(2n^2 + 2n)
    ResNet    (n^2 + (m+2)n) + (k-1)(2n^2 + 2n) + [n != m](m+1)n
    DenseNet  sum_{i=1..k} ((m + (i-1)n) n + n + n^2 + n)

The authors train these in float64 (``model.double()``).

Example::

    >>> m = build("efnn", "dense", width=15, layers=1)
    >>> m.num_parameters(), m(torch.zeros(4, 15)).shape
    (960, torch.Size([4]))
"""

from __future__ import annotations

from dataclasses import dataclass

import numbers

import torch
from torch import nn


# Largest hyperparameters a network may be built with (bounded before allocating).
HP_MAX = {"width": 8192, "layers": 64, "sites": 100_000}


@dataclass
class DenseConfig:
    """Hyperparameters of a fully connected network; ``asdict`` of it is stored in checkpoints."""

    arch: str = "efnn"  # one of efnn, dnn, resnet, densenet
    width: int = 15  # n, neurons per layer (the growth rate for densenet)
    layers: int = 3  # k, field-particle layers / blocks
    sites: int = 15  # m, number of input spins
    family: str = "dense"  # for from_config dispatch

    def __post_init__(self):
        if self.arch not in DENSE_CLASSES:
            raise ValueError(f"arch must be one of {tuple(DENSE_CLASSES)}, got {self.arch!r}")
        for name in ("width", "layers", "sites"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not abs(v) < float("inf") or int(v) != v \
                    or int(v) < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
            if int(v) > HP_MAX[name]:
                raise ValueError(f"{name} = {int(v)} is too large; at most {HP_MAX[name]} is allowed")
            setattr(self, name, int(v))
        if self.family != "dense":
            raise ValueError(f"DenseConfig.family must be 'dense', got {self.family!r}")


def mlp(n_in: int, n_out: int) -> nn.Sequential:
    """Linear(n_in -> n_out) -> tanh -> Linear(n_out -> n_out)."""
    return nn.Sequential(nn.Linear(n_in, n_out), nn.Tanh(), nn.Linear(n_out, n_out))


class DenseNet(nn.Module):
    """Common machinery of the fully connected family (validation, count, intermediates)."""

    def __init__(self, config: DenseConfig):
        super().__init__()
        self.config = config

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _check(self, spins: torch.Tensor) -> torch.Tensor:
        m = self.config.sites
        if not isinstance(spins, torch.Tensor):
            raise ValueError(f"spins must be a torch.Tensor of shape (B, {m}), got {type(spins).__name__}")
        if spins.ndim != 2 or spins.shape[1] != m:
            raise ValueError(f"spins must have shape (B, {m}) for this {m}-site network, got "
                             f"{tuple(spins.shape)}; add a batch axis with spins[None] for one configuration")
        dtype = next(self.parameters()).dtype
        if not spins.is_floating_point():
            spins = spins.to(dtype)
        if not torch.isfinite(spins.sum()) and not torch.isfinite(spins).all():  # 1 reduction when clean
            bad = int((~torch.isfinite(spins)).sum())
            raise ValueError(f"spins contain {bad} NaN or infinite value(s); every entry must be finite")
        return spins.to(dtype)

    def forward(self, spins: torch.Tensor) -> torch.Tensor:
        """Energy (B,) of spins (B, sites)."""
        return self._run(self._check(spins), None)

    @torch.no_grad()
    def intermediates(self, spins: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """{"F": [F_1..F_k], "S": [S_1..S_k]}, each (B, width); DenseNet's S_i are the
        concatenations [S_0, F_1..F_i], (B, sites + i*width)."""
        rec: dict = {"F": [], "S": []}
        self._run(self._check(spins), rec)
        return rec

    def extra_repr(self) -> str:
        return f"{self.config}, parameters={self.num_parameters()}"


def _rec(rec, f, s):
    if rec is not None:
        rec["F"].append(f)
        rec["S"].append(s)


class DenseEFNN(DenseNet):
    def __init__(self, config: DenseConfig):
        super().__init__(config)
        n, k, m = config.width, config.layers, config.sites
        self.f = nn.ModuleList([mlp(m, n)] + [mlp(n, n) for _ in range(k - 1)])  # f_0..f_{k-1}
        self.g = nn.ModuleList(mlp(m, n) for _ in range(k))  # g_1..g_k, all on the raw S_0

    def _run(self, s0, rec):
        s = s0
        for f, g in zip(self.f, self.g):
            fi = f(s)  # F_i = f_{i-1}(S_{i-1})
            s = g(s0) * fi  # S_i = g_i(S_0) (.) F_i
            _rec(rec, fi, s)
        return s.sum(-1)


class DenseDNN(DenseNet):
    def __init__(self, config: DenseConfig):
        super().__init__(config)
        n, k, m = config.width, config.layers, config.sites
        self.f = nn.ModuleList([mlp(m, n)] + [mlp(n, n) for _ in range(k - 1)])
        self.h = nn.ModuleList(mlp(n, n) for _ in range(k))

    def _run(self, s, rec):
        for f, h in zip(self.f, self.h):
            fi = f(s)
            s = h(fi)
            _rec(rec, fi, s)
        return s.sum(-1)


class DenseResNet(DenseNet):
    def __init__(self, config: DenseConfig):
        super().__init__(config)
        n, k, m = config.width, config.layers, config.sites
        self.proj = nn.Identity() if n == m else nn.Linear(m, n)  # P
        self.f = nn.ModuleList([mlp(m, n)] + [mlp(n, n) for _ in range(k - 1)])

    def _run(self, s0, rec):
        fi = self.f[0](s0)
        s = self.proj(s0) + fi
        _rec(rec, fi, s)
        for f in self.f[1:]:
            fi = f(s)
            s = s + fi
            _rec(rec, fi, s)
        return s.sum(-1)


class DenseDenseNet(DenseNet):
    def __init__(self, config: DenseConfig):
        super().__init__(config)
        n, k, m = config.width, config.layers, config.sites
        self.f = nn.ModuleList(mlp(m + i * n, n) for i in range(k))

    def _run(self, s0, rec):
        s = s0
        for f in self.f:
            fi = f(s)
            s = torch.cat([s, fi], -1)
            _rec(rec, fi, s)
        return s.sum(-1)


DENSE_CLASSES = {"efnn": DenseEFNN, "dnn": DenseDNN, "resnet": DenseResNet, "densenet": DenseDenseNet}


def dense_parameter_count(arch: str, width: int, layers: int, sites: int = 15) -> int:
    """Closed-form parameter counts of the module docstring."""
    n, k, m = width, layers, sites
    first = n * n + (m + 2) * n  # Linear(m -> n) + Linear(n -> n)
    inner = 2 * n * n + 2 * n
    if arch == "efnn":
        return first + (k - 1) * inner + k * first
    if arch == "dnn":
        return first + (k - 1) * inner + k * inner
    if arch == "resnet":
        return first + (k - 1) * inner + (0 if n == m else (m + 1) * n)
    if arch == "densenet":
        return sum((m + i * n) * n + n + n * n + n for i in range(k))
    raise ValueError(f"arch must be one of {tuple(DENSE_CLASSES)}, got {arch!r}")


def build_dense(config: DenseConfig) -> DenseNet:
    return DENSE_CLASSES[config.arch](config)
