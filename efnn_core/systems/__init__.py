"""Physical systems: Hamiltonians, exact energies and samplers.

Array conventions (a leading batch dimension is always accepted):

* ``DoubleExchange``: spins (..., L, L, 3), unit vectors;
* ``Ising2D``: spins (..., L, L) with values +-1;
* ``ThreeSpin``: spins (..., sites), {0, 1} or [-1, 1].
"""

from .double_exchange import DoubleExchange, angles_to_spins, reference_spins, uniform_sphere
from .ising import Ising2D
from .three_spin import ThreeSpin

__all__ = ["DoubleExchange", "ThreeSpin", "Ising2D", "uniform_sphere", "angles_to_spins",
           "reference_spins", "make"]


def make(name: str, **params):
    """Build a system from its ``name`` ("double_exchange", "three_spin_binary",
    "three_spin_continuous", "ising") and parameters, as stored in manifests."""
    if name == "double_exchange":
        return DoubleExchange(**params)
    if name.startswith("three_spin"):
        params.setdefault("spins", name.removeprefix("three_spin_") or "binary")
        return ThreeSpin(**params)
    if name == "ising":
        return Ising2D(**params)
    raise ValueError(f"unknown system {name!r}; choose double_exchange, three_spin_binary, "
                     "three_spin_continuous or ising")
