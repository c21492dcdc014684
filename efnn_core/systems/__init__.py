"""Physical systems: Hamiltonians, exact energies, samplers, and their recipes.

    >>> from efnn_core.systems import SYSTEMS, get, recipe
    >>> de = get("double_exchange", T=0.1)          # the class SYSTEMS["double_exchange"]
    >>> de.energy(de.sample(10, 4, rng=0)).shape     # (4,) by exact diagonalization
    (4,)
    >>> recipe("heisenberg").train_set
    'heisenberg_L10_train'

Every system keeps the contract of ``base.py``.  Spin arrays (a leading batch
dimension is always accepted): double exchange and Heisenberg (..., L, L, 3)
unit vectors; Ising (..., L, L) of +-1; 3-spin (..., sites).  To add a system,
write one file and add one line to ``SYSTEMS`` below.
"""

from __future__ import annotations

from .base import Recipe, SystemBase
from .double_exchange import DoubleExchange, angles_to_spins, reference_spins, uniform_sphere
from .heisenberg import Heisenberg
from .ising import Ising2D
from .three_spin import ThreeSpin, ThreeSpinBinary, ThreeSpinContinuous

SYSTEMS: dict[str, type[SystemBase]] = {
    "double_exchange": DoubleExchange,
    "heisenberg": Heisenberg,
    "ising": Ising2D,
    "three_spin_binary": ThreeSpinBinary,
    "three_spin_continuous": ThreeSpinContinuous,
}

__all__ = ["SYSTEMS", "get", "recipe", "Recipe", "SystemBase", "DoubleExchange", "Heisenberg", "Ising2D",
           "ThreeSpin", "ThreeSpinBinary", "ThreeSpinContinuous", "uniform_sphere", "angles_to_spins",
           "reference_spins"]


class UnknownSystem(ValueError, KeyError):
    """A system name that is not in ``SYSTEMS``."""

    def __str__(self) -> str:
        return self.args[0]


def _cls(name) -> type[SystemBase]:
    try:
        return SYSTEMS[name]
    except (KeyError, TypeError):
        raise UnknownSystem(f"unknown system {name!r}; choose one of {', '.join(SYSTEMS)}") from None


def get(name: str, **params) -> SystemBase:
    """Build system ``name`` from its parameters (as stored in manifests and checkpoints)."""
    cls = _cls(name)
    try:
        return cls(**params)
    except TypeError as err:  # unknown or missing parameter names
        raise ValueError(f"bad parameters for {name}: {err}") from None


def recipe(name: str) -> Recipe:
    """The recipe of system ``name`` (shipped datasets, network family, sizes)."""
    return _cls(name).recipe
