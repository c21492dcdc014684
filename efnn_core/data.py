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
import re
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np

from . import __version__, parallel, safejson
from .atomic import write_atomic
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
        m = safejson.loads(path.read_bytes(), what=f"manifest {path}")
    except (OSError, ValueError) as err:
        raise DatasetError(f"manifest {path} cannot be read: {err}") from None
    return check_manifest(m, name, keys=())


MANIFEST_KEYS = {"system": str, "params": dict, "sha256_spins": str, "sha256_energies": str}


def check_manifest(m, name: str = "?", keys=tuple(MANIFEST_KEYS)) -> dict:
    """``m`` if it is a manifest with the keys and types that ``load`` reads; DatasetError otherwise.

    ``count`` and ``L`` (when present) are bounded like the samplers' arguments
    (``systems._checks``), so a manifest saying ``count: 10**8`` is refused here,
    before any configuration is regenerated.
    """
    from .systems import _checks

    if not isinstance(m, dict):
        raise DatasetError(f"manifest of {name!r} must be a JSON object, got {type(m).__name__}")
    for key in keys:
        typ = MANIFEST_KEYS[key]
        if not isinstance(m.get(key), typ):
            raise DatasetError(f"manifest of {name!r}: {key!r} is missing or not a {typ.__name__} "
                               "(corrupt or hand-edited manifest; regenerate the dataset)")
    try:
        if "L" in m:
            _checks.lattice_size(m["L"])
        if "count" in m:
            _checks.sample_count(m["count"], 3 * int(m.get("L", 1)) ** 2 if "L" in m else 1)
    except ValueError as err:
        raise DatasetError(f"manifest of {name!r}: {err}") from None
    return m


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
    m = check_manifest(manifest(name, data_dir), name)
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
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
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


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SHARD_SECONDS = 10.0  # target cost of one shard on one core (see docs/SCALING.md)
MAX_SHARD = 1000


def shard_size(L: int, precision: str = "double") -> int:
    """Default configurations per shard at lattice size ``L``: about ``SHARD_SECONDS`` of ED on one core.

    One E_MC costs ~0.12 s (L/20)^6 in complex128 on one core (a third of that in
    complex64), so shards hold 1000 configurations at L = 10, 83 at L = 20, 7 at
    L = 30 and 1 at L = 40: long enough that a task's scheduling overhead (~ms)
    is noise, short enough that a killed worker loses seconds and that a 100-
    configuration L = 40 test set still spreads over 100 workers.
    """
    cost = 0.12 * (L / 20) ** 6 / (3.0 if precision == "single" else 1.0)
    return int(min(MAX_SHARD, max(1, SHARD_SECONDS // cost)))


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name) or ".." in name:
        raise DatasetError(f"dataset name {name!r} must be 1-128 letters, digits, '.', '_' or '-' "
                           "(no path separators, no '..'), so it stays inside the output folder")
    return name


def generate(name: str, *, system: str = "double_exchange", L: int | None = None, count: int | None = None,
             seed: int | None = None, sampler: str = "uniform", precision: str = "double",
             params: dict | None = None, part: str | None = None, out_dir: str | Path | None = None,
             workers: int | None = None, chunk: int | None = None, progress: bool = True,
             executor=None, solver: str = "ed", options: dict | None = None) -> dict:
    """Generate dataset ``name`` into ``out_dir`` (default ``data/``) and return its manifest.

    Sharded and resumable (systems whose labels are stored, i.e. ED): the
    configurations are cut into shards of ``chunk`` (default :func:`shard_size`),
    each labelled as one task of ``parallel.map_tasks`` on ``executor``
    (default: the local pool of ``workers`` processes; any Executor, e.g.
    ``parallel.executor_from("local:2")``) and written atomically to
    ``out_dir/.partial/name/`` as it arrives.  A rerun skips finished shards;
    one with different arguments (system, parameters, L, count, seed, sampler,
    precision, shard size, generator version) refuses to resume.  Labels depend
    only on each configuration, so the result (its sha256) is the same for any
    shard size, worker count, backend or interruption.  With
    ``precision="single"`` the complex64 error on E_MC is measured against
    complex128 on a subset and recorded in the manifest.  ``solver`` other than
    "ed" (e.g. "kpm" beyond ED's reach) labels by ``solvers.solve(..., solver,
    **options)``, one configuration at a time (resumable), and records the
    solver, its options and its own error estimate (``label_error``); the
    per-configuration estimates are stored beside the labels (``errors``).
    """
    _check_name(name)
    out = Path(out_dir) if out_dir else DATA_DIR
    if out.exists() and not out.is_dir():
        raise DatasetError(f"output folder {out} is a file")
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
            if precision not in ("double", "single"):
                raise ValueError(f"precision must be 'double' or 'single', got {precision!r}")
            m.update(sampler=sampler, precision=precision)
            if chunk is None:
                chunk = shard_size(m["L"], precision)
            if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
                raise ValueError(f"chunk (configurations per shard) must be a whole number >= 1, got {chunk!r}")
    spins = model.dataset_spins(m)
    m["count"] = len(spins)
    out.mkdir(parents=True, exist_ok=True)
    errors = None
    if model.recipe.stored_labels and solver != "ed":  # labels by an approximate solver, with its error
        energies, errors = _solver_labels(model, spins, name, out, solver, options or {}, progress)
        m.update(solver=solver, solver_options=options or {}, label_error=_label_error(energies, errors, model))
    elif model.recipe.stored_labels:  # each label is an exact diagonalization: computed once, stored
        energies = _labels(model, spins, m, out, chunk=chunk, executor=executor, workers=workers,
                           progress=progress)
        if precision == "single":
            m["single_precision_error"] = _precision_error(model, spins, energies, workers, executor)
    else:  # cheap classical energies: recomputed and checked on every load
        energies = model.energy(spins)
    sites = model.site_count(m.get("L"))
    m.update(sha256_spins=sha256(spins), sha256_energies=sha256(energies),
             labels=label_stats(energies, sites), generation_seconds=round(time.perf_counter() - t0, 2),
             hardware=_hardware())
    if model.recipe.stored_labels:
        extra = {} if errors is None else {"errors": errors}
        write_atomic(out / f"{name}.npz", lambda fh: np.savez_compressed(fh, energies=energies, **extra))
        with np.load(out / f"{name}.npz", allow_pickle=False) as z:  # the file, not the array in memory
            if sha256(z["energies"]) != m["sha256_energies"]:
                raise DatasetError(f"{out / name}.npz does not read back as written (disk full or changed "
                                   "while writing?); rerun")
    write_atomic(out / f"{name}.json", lambda fh: fh.write((json.dumps(m, indent=1) + "\n").encode()))
    shutil.rmtree(out / ".partial" / name, ignore_errors=True)
    return m


# What a label depends on: a partial output made with other values is never resumed.
RESUME_KEYS = ("generator_version", "system", "params", "L", "count", "seed", "sampler", "precision")


def _labels(model, spins, m: dict, out: Path, *, chunk: int, executor, workers, progress):
    """E_MC shard by shard, resuming from ``out/.partial/<name>/`` (see :func:`generate`).

    The folder holds ``plan.json`` (the resume key: ``RESUME_KEYS``, the shard
    size and the sha256 of all configurations) and one ``<start>-<stop>.npz``
    per finished shard with its labels and the sha256 of its configurations
    and of its labels, each checked before the shard is reused.
    """
    part = out / ".partial" / m["name"]
    plan = {**{k: m[k] for k in RESUME_KEYS}, "shard_size": chunk, "sha256_spins": sha256(spins)}
    plan_file = part / "plan.json"
    if plan_file.is_file():
        try:
            old = json.loads(plan_file.read_text())
        except (OSError, json.JSONDecodeError):
            old = {}
        if old != plan:
            diff = ", ".join(f"{k} {old.get(k, 'unknown')!r} (now {plan[k]!r})"
                             for k in plan if old.get(k) != plan[k] and k != "sha256_spins")
            raise DatasetError(f"unfinished output of {m['name']!r} in {part} was made with other settings: "
                               f"{diff or 'other configurations'}; rerun with those to resume, or delete "
                               f"{part} to start over")
    else:
        part.mkdir(parents=True, exist_ok=True)
        write_atomic(plan_file, lambda fh: fh.write(json.dumps(plan, indent=1).encode()))
    shards = [(a, min(a + chunk, len(spins))) for a in range(0, len(spins), chunk)]
    path = lambda a, b: part / f"{a:08d}-{b:08d}.npz"  # noqa: E731
    labels = {}
    for a, b in shards:
        if path(a, b).is_file():
            labels[a] = _read_shard(path(a, b), spins[a:b])
    todo = [(a, b) for a, b in shards if a not in labels]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(spins), initial=len(spins) - sum(b - a for a, b in todo), unit="config",
                   desc=f"{m['name']} (L={m['L']})")
    try:
        tasks = [(model.name, model.params(), spins[a:b], m["precision"]) for a, b in todo]
        for k, e in parallel.map_tasks(ed.solve_chunk, tasks, executor=executor, workers=workers):
            a, b = todo[k]
            e = np.asarray(e, dtype=np.float64)
            write_atomic(path(a, b), lambda fh: np.savez(fh, energies=e, spins_sha256=sha256(spins[a:b]),
                                                          energies_sha256=sha256(e)))
            labels[a] = e
            if bar is not None:
                bar.update(b - a)
    finally:
        if bar is not None:
            bar.close()
    return np.concatenate([labels[a] for a, _ in shards])


def _read_shard(path: Path, spins) -> np.ndarray:
    """A finished shard's labels, after checking they belong to ``spins`` and are intact."""
    try:
        with np.load(path, allow_pickle=False) as z:
            e, hs, he = z["energies"], str(z["spins_sha256"]), str(z["energies_sha256"])
    except (OSError, KeyError, ValueError, EOFError) as err:
        raise DatasetError(f"shard {path} cannot be read ({err}); delete it to recompute it") from None
    if hs != sha256(spins) or he != sha256(e) or e.shape != (len(spins),):
        raise DatasetError(f"shard {path} does not match its configurations or its own checksum; "
                           "delete it to recompute it")
    return e


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
            write_atomic(f, lambda fh: np.save(fh, np.array([r.energy, r.error])))  # never half-written
        done.append(np.load(f, allow_pickle=False))
    return np.array([d[0] for d in done]), np.array([d[1] for d in done])


def _label_error(energies, errors, model) -> dict:
    """The labels' own error estimate (absolute, RMS over the set) in the manifest's units."""
    rms = float(np.sqrt((errors ** 2).mean()))
    return {"rms_abs": rms, "max_abs": float(errors.max()), "rms_rel": rms / float(abs(energies.mean())),
            "rms_in_units_of_T": rms / model.T}


def _precision_error(model, spins, energies, workers, executor=None) -> dict:
    L = spins.shape[1]
    n = min(len(spins), max(8, 20000 // L ** 2))
    exact = ed.energies(model, spins[:n], precision="double", workers=workers, executor=executor)
    err = energies[:n] - exact
    return {"checked_configurations": int(n), "max_abs": float(np.abs(err).max()),
            "rms_abs": float(np.sqrt((err ** 2).mean())),
            "max_rel": float((np.abs(err) / np.abs(exact)).max()), "in_units_of_T": float(np.abs(err).max() / model.T)}


def generate_shipped(names=None, *, out_dir=None, workers=None, progress=True, executor=None
                     ) -> builtins.list[dict]:
    """(Re)generate the shipped datasets (all, or those in ``names``)."""
    names = names or builtins.list(SHIPPED)
    unknown = [n for n in names if n not in SHIPPED]
    if unknown:
        raise DatasetError(f"not shipped: {', '.join(map(repr, unknown))}; shipped: {', '.join(SHIPPED)}")
    return [generate(n, out_dir=out_dir, workers=workers, progress=progress, executor=executor, **SHIPPED[n])
            for n in names]
