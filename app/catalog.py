"""What the app knows about systems and architectures: derived from the library's registries, so a
new system or architecture appears on every page without page code naming it.

A *view* of a system is how the pages draw it, read off its spin shape: ``"vector"`` (L, L, 3),
``"scalar"`` (L, L, +-1) or ``"chain"`` (sites,).
"""

from __future__ import annotations

from dataclasses import dataclass

from efnn_core import data as datasets
from efnn_core.systems import SYSTEMS, get, recipe

ARCH_LABELS = {"efnn": "EFNN", "dnn": "DNN", "resnet": "ResNet", "densenet": "DenseNet"}


@dataclass(frozen=True)
class SystemInfo:
    """One system as the pages see it (every field from the library's recipe and system object)."""

    name: str
    label: str
    view: str                    # "vector", "scalar" or "chain"
    family: str | None           # network family, None: no networks
    sizes: tuple[int, int, int]  # (smallest, default, largest) L; chains: (sites,) * 3
    exact_max: int               # largest L solved while the user waits
    train_set: str | None
    test_set: str | None
    test_sets: dict
    dtype: str
    temperature: float | None
    values: str                  # chain value kind: "binary" (0/1) or "continuous"; "" otherwise
    summary: str

    @property
    def trainable(self) -> bool:
        names = set(datasets.list())
        return bool(self.family and self.train_set in names and self.test_set in names)

    @property
    def fixed_size(self) -> bool:
        return self.view == "chain"


def system(name: str) -> SystemInfo:
    """The app's view of registered system ``name`` (ValueError for an unknown name)."""
    sysobj, rec = get(name), recipe(name)
    shape = sysobj.spin_shape(rec.sizes[1])
    view = "vector" if len(shape) == 3 else ("scalar" if len(shape) == 2 else "chain")
    values = str(sysobj.params().get("spins", "")) if view == "chain" else ""
    return SystemInfo(name=name, label=rec.label, view=view, family=rec.family, sizes=tuple(rec.sizes),
                      exact_max=int(rec.exact_max), train_set=rec.train_set, test_set=rec.test_set,
                      test_sets=dict(rec.test_sets), dtype=rec.dtype, temperature=sysobj.temperature,
                      values=values, summary=rec.summary)


def system_names() -> list[str]:
    return list(SYSTEMS)


def trainable_systems() -> list[str]:
    return [n for n in SYSTEMS if system(n).trainable]


def architectures(family: str) -> list[str]:
    """Architectures offered for a network family, from ``efnn_core.nets.ARCHITECTURES``."""
    from efnn_core.nets import ARCHITECTURES

    return [a for a, spec in ARCHITECTURES.items() if family in spec.families]


def arch_label(arch: str) -> str:
    return ARCH_LABELS.get(arch, arch)
