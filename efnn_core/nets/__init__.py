"""Neural networks for energies of spin configurations (no physics imports).

* ``lattice``: EFNN, DNN, ResNet, DenseNet with O(3)-symmetrization and
  periodic convolutions, spins (B, L, L, 3) (or (B, L, L) scalar spins, read as s * z-hat);
* ``dense``: fully connected EFNN and baselines, spins (B, sites);
* ``ising``: the exact hand-set EFNN of the 2D Ising model (paper Fig. 1);
* ``effective``: the linear effective-model baseline of paper Eq. (3);
* ``frozen``: a trained model traced and frozen for one input shape (fast batch-1 inference).

``ARCHITECTURES`` is the one source of truth on architectures (names, labels,
the families that implement them, hyperparameters, parameter counts); the
CLI, the app and checkpoint validation all read it.

    >>> from efnn_core.nets import ARCHITECTURES, build, from_config
    >>> ARCHITECTURES["efnn"].parameter_count("lattice", channels=3, layers=2)
    2350
    >>> m = build("efnn", "lattice", channels=3, layers=2)
    >>> m.num_parameters()
    2350
    >>> from dataclasses import asdict
    >>> m2 = from_config(asdict(m.config))            # same architecture, fresh weights
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import torch

from .dense import DENSE_CLASSES, DenseConfig, build_dense, dense_parameter_count
from .effective import EffectiveModel
from .frozen import FrozenEnergy, frozen
from .ising import IsingEFNN
from .lattice import LATTICE_CLASSES, LatticeConfig, build_lattice, lattice_parameter_count


@dataclass(frozen=True)
class Family:
    """A network family: one file (``lattice.py``, ``dense.py``), its config dataclass and builder."""

    name: str
    config: type
    build: Callable
    count: Callable
    classes: dict
    input: str  # what it reads

    @property
    def hyperparameters(self) -> tuple[str, ...]:
        """Config fields other than ``arch`` and ``family``, with their defaults."""
        return tuple(f.name for f in fields(self.config) if f.name not in ("arch", "family"))


@dataclass(frozen=True)
class Architecture:
    """An architecture (paper Fig. 5) and the families that implement it."""

    name: str
    label: str
    summary: str
    families: tuple[str, ...] = ("lattice", "dense")

    def parameter_count(self, family: str, **hparams) -> int:
        return parameter_count(self.name, family, **hparams)


FAMILIES: dict[str, Family] = {
    "lattice": Family("lattice", LatticeConfig, build_lattice, lattice_parameter_count, LATTICE_CLASSES,
                      "spins (B, L, L, 3) on a periodic lattice, any L"),
    "dense": Family("dense", DenseConfig, build_dense, dense_parameter_count, DENSE_CLASSES,
                    "a vector of site variables (B, sites)"),
}
ARCHITECTURES: dict[str, Architecture] = {
    "efnn": Architecture("efnn", "EFNN", "fields and quasi-particles: S_j = g_j(S_0) * f(S_{j-1}), a continued function"),
    "dnn": Architecture("dnn", "DNN", "plain feed-forward stack: S_j = h_j(S_{j-1})"),
    "resnet": Architecture("resnet", "ResNet", "residual stack: S_{j+1} = S_j + f_j(S_j)"),
    "densenet": Architecture("densenet", "DenseNet", "every layer sees all earlier ones (concatenation)"),
}
ARCHS = tuple(ARCHITECTURES)

__all__ = ["ARCHITECTURES", "FAMILIES", "ARCHS", "Architecture", "Family", "build", "from_config",
           "parameter_count", "LatticeConfig", "DenseConfig", "IsingEFNN", "EffectiveModel", "frozen",
           "FrozenEnergy"]


def _family(family: str) -> Family:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {tuple(FAMILIES)}, got {family!r}")
    return FAMILIES[family]


def _arch(arch: str, family: str) -> None:
    if arch not in ARCHITECTURES or family not in ARCHITECTURES[arch].families:
        raise ValueError(f"unknown architecture {arch!r} for the {family} family; choose one of "
                         f"{', '.join(a for a, v in ARCHITECTURES.items() if family in v.families)}")


def build(arch: str, family: str, *, seed: int | None = None, **hparams) -> torch.nn.Module:
    """An untrained network.

    Args:
        arch: a key of ``ARCHITECTURES`` ("efnn", "dnn", "resnet" or "densenet").
        family: "lattice" (hparams ``channels``, ``layers``, optional ``kernel=5``)
            or "dense" (hparams ``width``, ``layers``, optional ``sites=15``).
        seed: if given, the default initialisation is drawn from
            ``torch.manual_seed(seed)`` without touching the global RNG state.
    Returns:
        a module with ``forward(spins) -> (B,)``, ``num_parameters()``,
        ``config`` (a dataclass) and ``intermediates(spins)``.
    """
    fam = _family(family)
    _arch(arch, family)
    unknown = set(hparams) - set(fam.hyperparameters)
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {sorted(unknown)} for the {family} family; "
                         f"it takes {', '.join(fam.hyperparameters)}")
    cfg = fam.config(arch=arch, **hparams)
    if seed is None:
        return fam.build(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return fam.build(cfg)


def from_config(config: dict, *, seed: int | None = None) -> torch.nn.Module:
    """Rebuild an untrained network from ``dataclasses.asdict(model.config)``."""
    d = dict(config)
    family = d.pop("family", None)
    arch = d.pop("arch", None)
    return build(arch, family, seed=seed, **d)


def parameter_count(arch: str, family: str, **hparams) -> int:
    """Closed-form parameter count, without building the network."""
    fam = _family(family)
    _arch(arch, family)
    return fam.count(arch, **hparams)
