"""Shipped checkpoints in ``pretrained/``: list them, load them, check they match today's data.

Each pretrained model is a checkpoint pair ``pretrained/<name>.safetensors`` +
``pretrained/<name>.json`` (see ``efnn_core.checkpoint``).  ``load`` also
checks that every dataset the model was trained or tested on still has the
fingerprint (sha256 of spins and energies) recorded in the checkpoint, so a
regenerated or changed dataset cannot silently pair with a stale model.

    from efnn_core import pretrained
    pretrained.list()                                  # e.g. ['de_efnn_c3_n2']
    model, meta = pretrained.load("de_efnn_c3_n2")
"""

from __future__ import annotations

import builtins
from pathlib import Path

from . import checkpoint

__all__ = ["PRETRAINED_DIR", "list", "load", "metadata", "path"]

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"


def list(directory: str | Path | None = None) -> builtins.list[str]:  # noqa: A001 - API name
    """Names of the pretrained models (stems of ``pretrained/*.json`` that have weights too)."""
    d = Path(directory) if directory else PRETRAINED_DIR
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.json") if p.with_suffix(".safetensors").is_file())


def path(name: str, directory: str | Path | None = None) -> Path:
    """The checkpoint stem of pretrained model ``name`` (raises CheckpointError if unknown)."""
    d = Path(directory) if directory else PRETRAINED_DIR
    if not name or Path(name).name != name or name.startswith("."):
        raise checkpoint.CheckpointError(f"pretrained model name {name!r} must be a plain file stem")
    if name not in list(d):
        raise checkpoint.CheckpointError(
            f"no pretrained model {name!r} in {d}; available: {list(d) or 'none'}"
        )
    return d / name


def metadata(name: str, directory: str | Path | None = None) -> dict:
    """The validated metadata of pretrained model ``name`` (without loading weights)."""
    return checkpoint.read_metadata(path(name, directory))


def check_datasets(meta: dict, data_dir: str | Path | None = None) -> None:
    """Raise CheckpointError if a dataset recorded in ``meta`` no longer matches its manifest.

    A dataset absent from ``data_dir`` is an error too: the model's metrics
    could not be reproduced.
    """
    from . import data

    for role, fp in (meta.get("dataset") or {}).items():
        if not isinstance(fp, dict) or "name" not in fp:
            raise checkpoint.CheckpointError(f"checkpoint dataset entry {role!r} has no name")
        try:
            m = data.manifest(fp["name"], data_dir)
        except data.DatasetError as err:
            raise checkpoint.CheckpointError(
                f"the {role} set of this model, {fp['name']!r}, is not available: {err}"
            ) from None
        for key in ("sha256_spins", "sha256_energies"):
            if fp.get(key) != m.get(key):
                raise checkpoint.CheckpointError(
                    f"the {role} set {fp['name']!r} has changed since the model was trained ({key} "
                    f"{str(fp.get(key))[:12]}... in the checkpoint, {str(m.get(key))[:12]}... in data/); "
                    f"regenerate the data with `python -m efnn_core data generate --name {fp['name']}` "
                    f"or retrain the model"
                )


def load(
    name: str,
    *,
    device=None,
    directory: str | Path | None = None,
    data_dir: str | Path | None = None,
    check_data: bool = True,
):
    """``(model, metadata)`` of pretrained model ``name``, validated by ``checkpoint.load``.

    Args:
        name: a name from ``list()``.
        device: where to put the model (default cpu).
        check_data: also check the recorded dataset fingerprints against ``data/``.
    Raises:
        CheckpointError: unknown name, invalid checkpoint, or changed dataset.
    """
    model, meta = checkpoint.load(path(name, directory), device=device)
    if check_data:
        check_datasets(meta, data_dir)
    return model, meta
