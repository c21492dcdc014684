"""Straightforward lattice networks: F.pad(mode="circular") + nn.Conv2d, layer by layer.

This is the spec's structure written the obvious way (one padded convolution
per kernel and per spin component, q as a real convolution then a sum).  It
exists to check the fast engines of ``lattice.py`` (same parameter names, so
``reference(model)`` loads the same weights) and as the baseline of
``benchmarks/train.py``.  Not exported.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


def _pad(x, k):
    return F.pad(x, (k // 2,) * 4, mode="circular")


class RefSym(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.conv0 = nn.Conv2d(1, c, k, bias=False)
        self.conv1 = nn.Conv2d(1, c, k, bias=False)

    def forward(self, x):  # (B, 3, L, L) -> (B, C, L, L)
        out = 0
        for comp in range(3):
            xk = _pad(x[:, comp:comp + 1], self.conv0.kernel_size[0])
            out = out + self.conv0(xk) * self.conv1(xk)
        return out


class RefNonlinear(nn.Module):
    def __init__(self, ci, co, k):
        super().__init__()
        self.conv1 = nn.Conv2d(ci, co, k)
        self.conv2 = nn.Conv2d(co, co, k)

    def forward(self, x):
        k = self.conv1.kernel_size[0]
        return self.conv2(_pad(torch.tanh(self.conv1(_pad(x, k))), k))


class _RefBase(nn.Module):
    def energy(self, s):
        return self.q(_pad(s, self.q.kernel_size[0])).sum((1, 2, 3))


class RefEFNN(_RefBase):
    def __init__(self, c, n, k=5):
        super().__init__()
        self.T = nn.ModuleList(RefSym(c, k) for _ in range(n + 1))
        self.f = nn.ModuleList(RefNonlinear(c, c, k) for _ in range(n))
        self.g = nn.ModuleList(RefNonlinear(c, c, k) for _ in range(n))
        self.q = nn.Conv2d(c, 1, k)

    def forward(self, spins):
        x = spins.permute(0, 3, 1, 2)
        f = self.f[0](self.T[0](x))
        s = self.g[0](self.T[1](x)) * f
        for j in range(1, len(self.f)):
            f = self.f[j](s)
            s = self.g[j](self.T[j + 1](x)) * f
        return self.energy(s)


class RefDNN(_RefBase):
    def __init__(self, c, n, k=5):
        super().__init__()
        self.T = nn.ModuleList([RefSym(c, k)])
        self.f = nn.ModuleList(RefNonlinear(c, c, k) for _ in range(n))
        self.h = nn.ModuleList(RefNonlinear(c, c, k) for _ in range(n))
        self.q = nn.Conv2d(c, 1, k)

    def forward(self, spins):
        s = self.T[0](spins.permute(0, 3, 1, 2))
        for f, h in zip(self.f, self.h):
            s = h(f(s))
        return self.energy(s)


class RefResNet(_RefBase):
    def __init__(self, c, n, k=5):
        super().__init__()
        self.T = nn.ModuleList(RefSym(c, k) for _ in range(2))
        self.f = nn.ModuleList(RefNonlinear(c, c, k) for _ in range(n))
        self.q = nn.Conv2d(c, 1, k)

    def forward(self, spins):
        x = spins.permute(0, 3, 1, 2)
        s = self.T[1](x) + self.f[0](self.T[0](x))
        for f in self.f[1:]:
            s = s + f(s)
        return self.energy(s)


class RefDenseNet(_RefBase):
    def __init__(self, c, n, k=5):
        super().__init__()
        self.T = nn.ModuleList(RefSym(c, k) for _ in range(2))
        self.f = nn.ModuleList(RefNonlinear(c if j == 0 else (j + 1) * c, c, k) for j in range(n))
        self.q = nn.Conv2d(c * (n + 1), 1, k)

    def forward(self, spins):
        x = spins.permute(0, 3, 1, 2)
        s = torch.cat([self.T[1](x), self.f[0](self.T[0](x))], 1)
        for f in self.f[1:]:
            s = torch.cat([s, f(s)], 1)
        return self.energy(s)


REFERENCE = {"efnn": RefEFNN, "dnn": RefDNN, "resnet": RefResNet, "densenet": RefDenseNet}


def reference(model) -> nn.Module:
    """The straightforward twin of a lattice ``model``, holding a copy of its weights."""
    cfg = model.config
    ref = REFERENCE[cfg.arch](cfg.channels, cfg.layers, cfg.kernel).to(next(model.parameters()).dtype)
    ref.load_state_dict(copy.deepcopy(model.state_dict()))  # in the model's dtype: no rounding to float32
    return ref
