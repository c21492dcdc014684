"""The exact EFNN of the 2D Ising model (paper Fig. 1), with hand-set weights.

    H(S) = -J sum_<ij> s_i s_j = sum_i s_i phi_i,    phi_i = -(J/2) sum_{j nn i} s_j

as one field-particle layer: the effective field F_1 = f(S_0) is a *linear*
3 x 3 circular convolution whose four nearest-neighbour taps are -J/2 (centre
and corners 0), g is the identity, the quasi-particles are S_1 = g(S_0) (.) F_1
and E = sum_i S_1,i.  Each bond is counted from both ends, hence J/2.
Because f is linear, f(S) = J (K * S) with K the stencil of -1/2 taps; the
sum is taken over the half-integer quasi-particles s_i (K * S)_i (exact in
float64) and multiplied by J once, so the energy equals ``Ising2D(J).energy``
bit for bit for any J and any L >= 3.

Example::

    >>> IsingEFNN()(torch.ones(1, 3, 3, dtype=torch.float64))   # 18 satisfied bonds
    tensor([-18.], dtype=torch.float64)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class IsingEFNN(nn.Module):
    """EFNN with fixed weights reproducing the nearest-neighbour Ising energy with coupling J."""

    def __init__(self, J: float = 1.0):
        super().__init__()
        self.J = float(J)
        w = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
        w[0, 0, 0, 1] = w[0, 0, 2, 1] = w[0, 0, 1, 0] = w[0, 0, 1, 2] = -0.5 * self.J
        self.register_buffer("kernel", w)  # f: the 3x3 conv, hand-set (not trained)
        self.register_buffer("_stencil", (w != 0).to(w.dtype) * -0.5, persistent=False)  # K = f / J (exact)

    def num_parameters(self) -> int:
        """The 9 hand-set weights of the 3 x 3 kernel of f (g is the identity)."""
        return self.kernel.numel()

    def _check(self, spins):
        if not isinstance(spins, torch.Tensor) or spins.ndim != 3 or spins.shape[1] != spins.shape[2]:
            shape = tuple(spins.shape) if isinstance(spins, torch.Tensor) else type(spins).__name__
            raise ValueError(f"Ising spins must be a tensor of shape (B, L, L), got {shape}")
        if spins.shape[1] < 3:
            raise ValueError(f"lattice size L={spins.shape[1]} is too small; need L >= 3")
        s = spins.to(torch.float64)
        if not torch.isfinite(s).all():
            raise ValueError("Ising spins contain NaN or infinite values; they must be +1 or -1")
        return s

    def field(self, s: torch.Tensor) -> torch.Tensor:
        """F_1 = phi = -(J/2) (sum of the 4 neighbours), (B, L, L) -> (B, L, L)."""
        x = F.pad(s[:, None], (1, 1, 1, 1), mode="circular")
        return F.conv2d(x, self.kernel)[:, 0]

    def forward(self, spins: torch.Tensor) -> torch.Tensor:
        """Energy (B,) float64 of +-1 spins (B, L, L): sum_i s_i phi_i."""
        s = self._check(spins)
        unit = F.conv2d(F.pad(s[:, None], (1, 1, 1, 1), mode="circular"), self._stencil)[:, 0]  # phi / J
        return self.J * (s * unit).sum((-2, -1))

    @torch.no_grad()
    def intermediates(self, spins: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """{"F": [phi], "S": [s * phi]}, each (B, L, L)."""
        s = self._check(spins)
        phi = self.field(s)
        return {"F": [phi], "S": [s * phi]}
