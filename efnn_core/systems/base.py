"""The contract every physical system keeps, and its recipe.

A *system* is a frozen dataclass whose fields are its physical parameters.
It has

* ``name`` (registry key, also stored in manifests and checkpoints),
* ``params()`` -> dict of its fields, so ``get(name, **params)`` rebuilds it,
* ``validate(spins)`` -> float64 array, raising ``ValueError`` naming the problem,
* ``energy(spins)`` -> float for one configuration, (B,) float64 for a batch,
* ``sample(size, count, rng)`` -> (count, *spin_shape(size)) random configurations,
* ``spin_shape(size)`` -> the shape of one configuration at linear size ``size``,
* ``temperature`` -> the temperature in its energy label (None where none applies),
* ``recipe`` (a class attribute, :class:`Recipe`): what the rest of the library and
  the app need to know about it, so that no code outside ``systems/`` branches on
  a system's name.

Adding a system is one file with such a class plus one line in
``systems/__init__.py`` (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class Recipe:
    """How the library uses a system.

    Args:
        label: human-readable name (app selectors, reports).
        family: network family that takes its spins (``efnn_core.nets``: "lattice"
            or "dense"), or None if no network is offered.
        datasets: shipped datasets, name -> generation arguments of ``data.generate``
            (``L``, ``count``, ``seed``, ... or ``part`` for the 3-spin sets).
        train_set, test_set: the shipped (training, test) pair used by default.
        test_sets: shipped test sets by size, for generalization (size -> name).
        stored_labels: True when a label costs an exact diagonalization, so labels
            are computed once and stored (``<name>.npz``); False when ``energy`` is
            cheap and labels are recomputed (and checked) on load.
        dtype: training dtype of the networks.
        weight_decay: default weight decay when training on it.
        sizes: (smallest, default, largest) linear size the app offers.
        exact_max: largest size the app solves exactly while a user waits.
        fixed_size: True when the size is a parameter of the model (3-spin sites),
            not a free lattice size.
        summary: one sentence on the physics (app and reports).
    """

    label: str
    family: str | None = "lattice"
    datasets: dict = field(default_factory=dict)
    train_set: str | None = None
    test_set: str | None = None
    test_sets: dict = field(default_factory=dict)
    stored_labels: bool = False
    dtype: str = "float32"
    weight_decay: float = 1e-5
    sizes: tuple[int, int, int] = (4, 10, 64)
    exact_max: int = 64
    fixed_size: bool = False
    summary: str = ""


class SystemBase:
    """Shared behaviour of the system dataclasses (``params``, ``temperature``, dataset spins)."""

    name: str = ""
    recipe: Recipe = Recipe(label="")

    def params(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k in self.__dataclass_fields__
                and self.__dataclass_fields__[k].init}

    @property
    def temperature(self) -> float | None:
        return None

    def dataset_spins(self, manifest: dict) -> np.ndarray:
        """The configurations a dataset manifest describes, regenerated from its seed (float64)."""
        return self.sample(manifest["L"], manifest["count"], np.random.default_rng(manifest["seed"]))

    def site_count(self, size: int | None = None) -> int:
        """Sites of one configuration at linear size ``size`` (the product of the lattice dims)."""
        shape = self.spin_shape(size)
        return int(np.prod(shape[:2] if len(shape) == 3 else shape))
