"""Labelled datasets: generate, store (lean), verify and load.

A dataset is a manifest ``<name>.json`` plus, for the double exchange model,
the labels ``<name>.npz``.  Spins are *not* stored: they are regenerated
bit-for-bit from the manifest's seed (``uniform_sphere`` uses only uniform
draws and IEEE arithmetic), and the loader checks the sha256 of both the
regenerated spins and the stored labels against the manifest, so a changed
generator, a corrupt file or an edited label fails loudly.  The 3-spin sets
are the authors' own configurations (legacy RNG, seed 17), regenerated and
labelled on load in milliseconds.

    >>> from efnn_core import data
    >>> data.list()[:2]
    ['de_L10_test', 'de_L10_train']
    >>> spins, energies = data.load("de_L10_test")      # (2000, 10, 10, 3), (2000,)
"""

from __future__ import annotations

import builtins
import hashlib
import json
import platform
import shutil
import time
from pathlib import Path

import numpy as np

from . import __version__
from .solvers import ed
from .systems import SYSTEMS, get

GENERATOR_VERSION = 1
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# The datasets shipped in data/, from the systems' recipes: name -> arguments of generate().
SHIPPED = {name: dict(system=sys_name, **args)
           for sys_name, cls in SYSTEMS.items() for name, args in cls.recipe.datasets.items()}
# The shipped (training set, test set) of each system: what `train`, the app and the
# reproduction use unless told otherwise.
DEFAULT_SETS = {n: (c.recipe.train_set, c.recipe.test_set) for n, c in SYSTEMS.items() if c.recipe.train_set}


class DatasetError(ValueError):
    """A dataset is missing, corrupt or does not match its manifest."""


def sha256(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(a.dtype.str.encode() + str(a.shape).encode() + a.tobytes()).hexdigest()


def list(data_dir: str | Path | None = None) -> builtins.list[str]:  # noqa: A001 - API name
    """Names of the datasets available in ``data_dir`` (default: the shipped ``data/``)."""
    d = Path(data_dir) if data_dir else DATA_DIR
    return sorted(p.stem for p in d.glob("*.json"))


def manifest(name: str, data_dir: str | Path | None = None) -> dict:
    """The manifest of dataset ``name`` as a dict (raises DatasetError if absent or unreadable)."""
    path = (Path(data_dir) if data_dir else DATA_DIR) / f"{name}.json"
    if not path.is_file():
        raise DatasetError(f"no dataset {name!r} in {path.parent}; available: {list(path.parent)}")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DatasetError(f"manifest {path} is not valid JSON: {err}") from None


def spins_for(m: dict) -> np.ndarray:
    """Regenerate the configurations a manifest describes (float64)."""
    return get(m["system"], **m["params"]).dataset_spins(m)


def load(name: str, data_dir: str | Path | None = None, *, verify: bool = True):
    """``(spins, energies)`` of dataset ``name`` as float64 numpy arrays.

    Spins are (count, L, L, 3) for the double exchange model and (count, 15)
    for the 3-spin model; energies are (count,).  With ``verify`` (default)
    both are checked against the manifest's sha256 and any mismatch raises
    DatasetError naming what differs.
    """
    m = manifest(name, data_dir)
    d = Path(data_dir) if data_dir else DATA_DIR
    if m.get("generator_version") != GENERATOR_VERSION:
        raise DatasetError(f"dataset {name!r} was made by generator version {m.get('generator_version')}, "
                           f"this library reads version {GENERATOR_VERSION}; regenerate it")
    system = get(m["system"], **m["params"])
    spins = None if m.get("spins_stored") else system.dataset_spins(m)
    if system.recipe.stored_labels:
        try:
            with np.load(d / f"{name}.npz", allow_pickle=False) as z:
                energies = z["energies"]
                if spins is None:  # Monte Carlo configurations (efnn_core.mc.thermal) cannot be regenerated
                    spins = z["spins"]
        except (OSError, KeyError, ValueError) as err:
            raise DatasetError(f"labels of {name!r} ({d / (name + '.npz')}) cannot be read: {err}") from None
    else:
        energies = system.energy(spins)
    if verify:
        for what, arr in (("spins", spins), ("energies", energies)):
            if sha256(arr) != m[f"sha256_{what}"]:
                raise DatasetError(f"dataset {name!r}: the {what} do not match the manifest's sha256 "
                                   f"(corrupt or edited file, or a different generator); regenerate with "
                                   f"`python -m efnn_core data generate --name {name}`")
    return np.asarray(spins, dtype=np.float64), energies


def label_stats(energies: np.ndarray, sites: int) -> dict:
    return {"mean": float(energies.mean()), "std": float(energies.std()),
            "mean_per_site": float(energies.mean() / sites), "std_per_site": float(energies.std() / sites),
            "min": float(energies.min()), "max": float(energies.max())}


def _hardware() -> str:
    return f"{platform.processor() or platform.machine()}, {ed.cpu_count()} cores, {platform.system()}"


def generate(name: str, *, system: str = "double_exchange", L: int | None = None, count: int | None = None,
             seed: int | None = None, sampler: str = "uniform", precision: str = "double",
             params: dict | None = None, part: str | None = None, out_dir: str | Path | None = None,
             workers: int | None = None, chunk: int = 1000, progress: bool = True, solver: str = "ed",
             options: dict | None = None) -> dict:
    """Generate dataset ``name`` into ``out_dir`` (default ``data/``) and return its manifest.

    Resumable: labels are written chunk by chunk to ``out_dir/.partial/name/``
    and a rerun with the same arguments skips finished chunks.  With
    ``precision="single"`` the complex64 error on E_MC is measured against
    complex128 on a subset and recorded in the manifest.  ``solver`` other than
    "ed" (e.g. "kpm" beyond ED's reach) labels by ``solvers.solve(..., solver,
    **options)`` and records the solver, its options and its own error estimate.
    """
    out = Path(out_dir) if out_dir else DATA_DIR
    out.mkdir(parents=True, exist_ok=True)
    model = get(system, **(params or {}))
    m = {"name": name, "system": system, "params": model.params(), "generator_version": GENERATOR_VERSION,
         "library_version": __version__}
    t0 = time.perf_counter()
    if part is not None:  # a fixed sample set of the model (the 3-spin authors' configurations)
        if part not in ("train", "test"):
            raise ValueError("3-spin datasets need part='train' or 'test' (the authors' 80/20 split)")
        m.update(part=part, seed=model.seed, sampler="authors (legacy RandomState)", precision="double")
    else:
        if L is None or count is None or seed is None:
            raise ValueError(f"{system} datasets need L, count and seed")
        m.update(L=int(L), count=int(count), seed=int(seed))
        if model.recipe.stored_labels:
            m.update(sampler=sampler, precision=precision)
    spins = model.dataset_spins(m)
    m["count"] = len(spins)
    if model.recipe.stored_labels and solver != "ed":  # labels by an approximate solver, with its error
        energies, errors = _solver_labels(model, spins, name, out, solver, options or {}, progress)
        m.update(solver=solver, solver_options=options or {}, label_error=_label_error(energies, errors, model))
        np.savez_compressed(out / f"{name}.npz", energies=energies, errors=errors)
    elif model.recipe.stored_labels:  # each label is an exact diagonalization: computed once, stored
        energies = _labels(model, spins, name, out, precision, workers, chunk, progress)
        if precision == "single":
            m["single_precision_error"] = _precision_error(model, spins, energies, workers)
        np.savez_compressed(out / f"{name}.npz", energies=energies)
    else:  # cheap classical energies: recomputed and checked on every load
        energies = model.energy(spins)
    sites = model.site_count(m.get("L"))
    m.update(sha256_spins=sha256(spins), sha256_energies=sha256(energies),
             labels=label_stats(energies, sites), generation_seconds=round(time.perf_counter() - t0, 2),
             hardware=_hardware())
    (out / f"{name}.json").write_text(json.dumps(m, indent=1) + "\n")
    shutil.rmtree(out / ".partial" / name, ignore_errors=True)
    return m


def _labels(model, spins, name, out: Path, precision, workers, chunk, progress):
    """E_MC chunk by chunk, resuming from ``out/.partial/name`` (keyed by a recipe hash)."""
    key = sha256(spins)[:16] + precision
    part = out / ".partial" / name / key
    part.mkdir(parents=True, exist_ok=True)
    path = lambda s: part / f"{s:08d}.npy"  # noqa: E731
    todo = [s for s in range(0, len(spins), chunk) if not path(s).is_file()]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(spins), initial=len(spins) - sum(len(spins[s:s + chunk]) for s in todo),
                   unit="config", desc=f"{name} (L={spins.shape[1]})")
    if todo:
        # One pool for all missing chunks, fed small tasks (balanced over the workers);
        # a chunk's file is written as soon as all of its configurations are done.
        batch = np.concatenate([spins[s:s + chunk] for s in todo])
        sizes = [len(spins[s:s + chunk]) for s in todo]
        offsets = np.cumsum([0] + sizes)
        pending = {s: [] for s in todo}
        for k, e in ed.iter_energies(model, batch, precision=precision, workers=workers, chunk=32):
            for j in range(len(e)):  # tasks never straddle chunks when 32 divides chunk; stay general
                c = int(np.searchsorted(offsets, k + j, side="right")) - 1
                pending[todo[c]].append(e[j])
                if len(pending[todo[c]]) == sizes[c]:
                    f = path(todo[c])
                    np.save(f.with_suffix(".tmp.npy"), np.array(pending.pop(todo[c])))
                    f.with_suffix(".tmp.npy").rename(f)  # atomic: a half-written chunk is never reused
            if bar is not None:
                bar.update(len(e))
    if bar is not None:
        bar.close()
    return np.concatenate([np.load(path(s), allow_pickle=False) for s in range(0, len(spins), chunk)])


def _solver_labels(model, spins, name, out: Path, solver: str, options: dict, progress):
    """(energies, error estimates), one configuration at a time, resuming from ``out/.partial/name``."""
    from .solvers import solve

    part = out / ".partial" / name / (sha256(spins)[:16] + solver + hashlib.sha256(
        json.dumps(options, sort_keys=True).encode()).hexdigest()[:8])
    part.mkdir(parents=True, exist_ok=True)
    done = []
    from tqdm.auto import tqdm

    for k in tqdm(range(len(spins)), unit="config", desc=f"{name} ({solver})", disable=not progress):
        f = part / f"{k:08d}.npy"
        if not f.is_file():
            r = solve(model, spins[k], solver, **options)
            np.save(f.with_suffix(".tmp.npy"), np.array([r.energy, r.error]))
            f.with_suffix(".tmp.npy").rename(f)  # atomic: a half-written label is never reused
        done.append(np.load(f, allow_pickle=False))
    return np.array([d[0] for d in done]), np.array([d[1] for d in done])


def _label_error(energies, errors, model) -> dict:
    """The labels' own error estimate (absolute, RMS over the set) in the manifest's units."""
    rms = float(np.sqrt((errors ** 2).mean()))
    return {"rms_abs": rms, "max_abs": float(errors.max()), "rms_rel": rms / float(abs(energies.mean())),
            "rms_in_units_of_T": rms / model.T}


def _precision_error(model, spins, energies, workers) -> dict:
    L = spins.shape[1]
    n = min(len(spins), max(8, 20000 // L ** 2))
    exact = ed.energies(model, spins[:n], precision="double", workers=workers)
    err = energies[:n] - exact
    return {"checked_configurations": int(n), "max_abs": float(np.abs(err).max()),
            "rms_abs": float(np.sqrt((err ** 2).mean())),
            "max_rel": float((np.abs(err) / np.abs(exact)).max()), "in_units_of_T": float(np.abs(err).max() / model.T)}


def generate_shipped(names=None, *, out_dir=None, workers=None, progress=True) -> builtins.list[dict]:
    """(Re)generate the shipped datasets (all, or those in ``names``)."""
    names = names or builtins.list(SHIPPED)
    return [generate(n, out_dir=out_dir, workers=workers, progress=progress, **SHIPPED[n]) for n in names]
