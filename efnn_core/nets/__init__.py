"""Neural networks for energies of spin configurations (no physics imports).

* ``lattice``: EFNN, DNN, ResNet, DenseNet with O(3)-symmetrization and
  periodic convolutions for the double exchange model, spins (B, L, L, 3);
* ``dense``: fully connected EFNN and baselines for the 3-spin model, (B, sites);
* ``ising``: the exact hand-set EFNN of the 2D Ising model (paper Fig. 1);
* ``effective``: the linear effective-model baseline of paper Eq. (3);
* ``frozen``: a trained model traced and frozen for one input shape (fast batch-1 inference).

    >>> from efnn_core.nets import build, from_config
    >>> m = build("efnn", "lattice", channels=3, layers=2)
    >>> m.num_parameters()
    2350
    >>> from dataclasses import asdict
    >>> m2 = from_config(asdict(m.config))            # same architecture, fresh weights
"""

from __future__ import annotations

import torch

from .dense import DenseConfig, build_dense, dense_parameter_count
from .effective import EffectiveModel
from .frozen import FrozenEnergy, frozen
from .ising import IsingEFNN
from .lattice import LatticeConfig, build_lattice, lattice_parameter_count

ARCHS = ("efnn", "dnn", "resnet", "densenet")
FAMILIES = ("lattice", "dense")

__all__ = ["ARCHS", "FAMILIES", "build", "from_config", "parameter_count", "LatticeConfig", "DenseConfig",
           "IsingEFNN", "EffectiveModel", "frozen", "FrozenEnergy"]


def build(arch: str, family: str, *, seed: int | None = None, **hparams) -> torch.nn.Module:
    """An untrained network.

    Args:
        arch: "efnn", "dnn", "resnet" or "densenet".
        family: "lattice" (hparams ``channels``, ``layers``, optional ``kernel=5``)
            or "dense" (hparams ``width``, ``layers``, optional ``sites=15``).
        seed: if given, the default initialisation is drawn from
            ``torch.manual_seed(seed)`` without touching the global RNG state.
    Returns:
        a module with ``forward(spins) -> (B,)``, ``num_parameters()``,
        ``config`` (a dataclass) and ``intermediates(spins)``.
    """
    if family == "lattice":
        cfg = LatticeConfig(arch=arch, **hparams)
        make = build_lattice
    elif family == "dense":
        cfg = DenseConfig(arch=arch, **hparams)
        make = build_dense
    else:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if seed is None:
        return make(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make(cfg)


def from_config(config: dict, *, seed: int | None = None) -> torch.nn.Module:
    """Rebuild an untrained network from ``dataclasses.asdict(model.config)``."""
    d = dict(config)
    family = d.pop("family", None)
    arch = d.pop("arch", None)
    if family not in FAMILIES:
        raise ValueError(f"config needs 'family' in {FAMILIES}, got {family!r}")
    return build(arch, family, seed=seed, **d)


def parameter_count(arch: str, family: str, **hparams) -> int:
    """Closed-form parameter count, without building the network."""
    if family == "lattice":
        return lattice_parameter_count(arch, **hparams)
    if family == "dense":
        return dense_parameter_count(arch, **hparams)
    raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
