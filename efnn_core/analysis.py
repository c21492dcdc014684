"""What the explorer's pages compute, as a plain library (no Streamlit): models against the exact
energy with timings, generalization tables, the global-symmetry check, effective-field maps,
parameter counts, and how far a configuration lies from a training distribution.

Shapes: one configuration ``spins`` is (L, L, 3) unit vectors (double exchange, Heisenberg),
(L, L) of +-1 (Ising) or (sites,) (3-spin); a batch adds a leading axis.  Energies are in the
system's units (t = 1 for double exchange); relative errors are |model - exact| / |exact|.

    >>> from efnn_core import analysis, pretrained
    >>> from efnn_core.systems import DoubleExchange
    >>> de = DoubleExchange(); s = de.sample(10, 1, rng=0)[0]
    >>> ex = analysis.exact(de, s)                       # Exact(energy=-51.1..., seconds=0.003)
    >>> rows = analysis.compare_models(s, {"efnn": pretrained.load("de_efnn_c3_n3")[0]}, exact=ex)
    >>> rows[0]["rel_error"] < 1e-2
    True
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, is_dataclass
from typing import Mapping

import numpy as np

from . import metrics, timing

__all__ = ["Exact", "exact", "by_size", "compare_models", "symmetry_check", "field_maps", "generalization",
           "label_statistics", "parameter_count", "parameter_table", "describe", "architecture",
           "ising_decomposition", "Distance", "spin_features", "training_distance"]


# ----------------------------------------------------------------------------- models
def _is_torch(model) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(model, torch.nn.Module)


def parameter_count(model, size: int | None = None) -> int:
    """Trainable parameters of a network (or coefficients of an effective model; ``size`` its L)."""
    if hasattr(model, "num_parameters"):
        try:
            return int(model.num_parameters() if size is None or _is_torch(model) else model.num_parameters(size))
        except TypeError:
            return int(model.num_parameters())
    return int(sum(p.numel() for p in model.parameters()))


def architecture(model) -> dict:
    """The model's configuration as a dict (``arch``, ``family``, ``channels``/``width``, ``layers``);
    ``{"arch": "effective", "kind": ...}`` for an effective model."""
    if not _is_torch(model):
        return {"arch": "effective", "kind": getattr(model, "kind", None)}
    cfg = getattr(model, "config", None)
    if is_dataclass(cfg):
        return asdict(cfg)
    return {"arch": type(getattr(model, "net", model)).__name__}


def describe(model) -> str:
    """Short label: "EFNN C=3 n=2", "ResNet w=120 n=3", "effective (translation)"."""
    cfg = architecture(model)
    if cfg.get("arch") == "effective":
        return f"effective ({cfg['kind']})" if cfg.get("kind") else "effective"
    arch = str(cfg.get("arch", "?"))
    name = {"efnn": "EFNN", "dnn": "DNN", "resnet": "ResNet", "densenet": "DenseNet"}.get(arch, arch)
    parts = [name] + [f"{lab}={cfg[k]}" for k, lab in (("channels", "C"), ("width", "w"), ("layers", "n"))
                      if cfg.get(k) is not None]
    return " ".join(parts)


# ----------------------------------------------------------------------------- exact vs models
@dataclass(frozen=True)
class Exact:
    """The exact energy of one configuration and the wall seconds its solve took."""

    energy: float
    seconds: float


def exact(system, spins) -> Exact:
    """``system.energy`` of one configuration, timed (for double exchange: one exact diagonalization)."""
    t0 = time.perf_counter()
    e = float(system.energy(spins))
    return Exact(e, time.perf_counter() - t0)


def _against(row: dict, exact: Exact | None) -> dict:
    """Fill a row's error, relative error and speed-up against the exact result (when known)."""
    if exact is not None and math.isfinite(row["energy"]):
        row["error"] = row["energy"] - exact.energy
        row["rel_error"] = abs(row["error"]) / abs(exact.energy) if exact.energy else math.inf
        row["speedup"] = exact.seconds / row["seconds"] if row["seconds"] > 0 else None
    return row


def compare_models(spins, models: Mapping[str, object], *, exact: Exact | None = None,
                   repeats: int = 3) -> list[dict]:
    """Every model's energy of one configuration next to the exact one.

    Args:
        spins: one configuration.
        models: name -> energy model (torch module or effective model).
        exact: the exact result, or None while it is still being computed (errors are then None).
        repeats: forward passes per model (batch size 1); the best time is reported.
    Returns:
        rows sorted by |relative error| (by name while ``exact`` is None), each with ``model``,
        ``energy``, ``error`` (model - exact), ``rel_error`` (|error| / |exact|), ``seconds``,
        ``speedup`` (exact seconds / model seconds) and ``problem`` (a message when the model
        cannot run this configuration, e.g. a tiled model at another L; energy is then NaN).
    """
    rows = []
    for name, model in models.items():
        row = {"model": name, "energy": math.nan, "error": None, "rel_error": None, "seconds": math.nan,
               "speedup": None, "problem": None}
        try:
            row["energy"], row["seconds"] = timing.timed_energy(model, spins, repeats=repeats)
        except (ValueError, RuntimeError) as err:
            row["problem"] = str(err)
        rows.append(_against(row, exact))
    return by_error(rows, exact)


def with_exact(rows: list[dict], exact: Exact | None) -> list[dict]:
    """Rows of :func:`compare_models` / :func:`compare_solvers` measured before the exact result was known,
    as copies with error, relative error and speed-up filled against ``exact``, sorted by :func:`by_error`."""
    return by_error([_against(dict(r), exact) for r in rows], exact)


def by_error(rows: list[dict], exact: Exact | None) -> list[dict]:
    """Rows sorted by relative error (by name while the exact result is unknown)."""
    if exact is None:
        return sorted(rows, key=lambda r: r["model"])
    return sorted(rows, key=lambda r: (r["rel_error"] is None, r["rel_error"] or 0.0, r["model"]))


def compare_solvers(system, spins, *, exact: Exact | None = None, methods=None) -> list[dict]:
    """The fast physics solvers' energies of one configuration, rows shaped as :func:`compare_models`'s
    (``model`` is the solver's name, e.g. "SW3", "KPM"; ``problem`` holds its message if it cannot run),
    plus ``estimate``: the solver's own estimate of its absolute error.

    Args:
        system: the system (its ``solvers.available`` methods other than "ed" are run).
        spins: one configuration.
        exact: the exact result, or None while it is still being computed.
        methods: solver names to run (default: every available one except "ed").
    """
    from . import solvers

    rows = []
    for method in methods if methods is not None else [m for m in solvers.available(system) if m != "ed"]:
        row = {"model": method.upper(), "energy": math.nan, "error": None, "rel_error": None, "seconds": math.nan,
               "speedup": None, "problem": None, "estimate": None}
        try:
            r = solvers.solve(system, spins, method)
            row.update(energy=float(r.energy), seconds=r.seconds, estimate=float(r.error))
        except (ValueError, RuntimeError) as err:
            row["problem"] = str(err)
        rows.append(_against(row, exact))
    return rows


def symmetry_check(system, spins, moved, models: Mapping[str, object]) -> list[dict]:
    """Energies of S and of its globally transformed copy ``moved`` (R S for O(3), -S for Ising),
    exact first, then each model: rows ``model``, ``E(S)``, ``E(RS)``, ``|difference|``."""
    rows = [{"model": "exact", "E(S)": float(system.energy(spins)), "E(RS)": float(system.energy(moved))}]
    for name, model in models.items():
        try:
            rows.append({"model": name, "E(S)": timing.timed_energy(model, spins, repeats=1)[0],
                         "E(RS)": timing.timed_energy(model, moved, repeats=1)[0]})
        except (ValueError, RuntimeError):
            continue
    for r in rows:
        r["|difference|"] = abs(r["E(RS)"] - r["E(S)"])
    return rows


def field_maps(model, spins) -> dict | None:
    """A lattice network's inside for one configuration (L, L, 3): ``F`` and ``S`` (lists over
    layers of (C, L, L) arrays: effective fields and quasi-particles for an EFNN), ``T`` (the
    symmetrization layers) and ``site_energy`` (L, L) in energy units, summing to the energy.
    None for models without ``intermediates`` (dense nets, effective models)."""
    if not _is_torch(model) or not hasattr(model, "intermediates"):
        return None
    import torch

    p = next(iter(model.parameters()))
    with torch.inference_mode():
        rec = model.intermediates(torch.as_tensor(np.asarray(spins)[None], dtype=p.dtype, device=p.device))

    def first(v):
        if isinstance(v, (list, tuple)):
            return [first(t) for t in v]
        return v.detach().to("cpu", torch.float64).numpy()[0]

    return {k: first(v) for k, v in rec.items()}


def ising_decomposition(spins, J: float = 1.0) -> dict:
    """Paper Fig. 1 for one Ising configuration (L, L): ``phi`` (the effective field
    -(J/2) * sum of neighbours, from the hand-built EFNN's F_1), ``quasi`` (s_i phi_i, its S_1),
    ``efnn`` (the network's output), ``sum_quasi`` and ``exact`` (H = -J sum_<ij> s_i s_j)."""
    import torch

    from .nets import IsingEFNN
    from .systems import Ising2D

    s = np.asarray(spins, dtype=np.float64)
    net = IsingEFNN(J)
    x = torch.as_tensor(s[None])
    with torch.inference_mode():
        efnn = float(net(x)[0])
        rec = net.intermediates(x)
    phi = rec["F"][0][0].double().numpy().reshape(s.shape)
    quasi = rec["S"][0][0].double().numpy().reshape(s.shape)
    return {"phi": phi, "quasi": quasi, "efnn": efnn, "sum_quasi": float(quasi.sum()),
            "exact": float(Ising2D(J=J).energy(s))}


# ----------------------------------------------------------------------------- generalization
def by_size(model, test_sets: Mapping[int, tuple], *, temperature: float | None = None) -> dict[int, dict]:
    """``metrics.evaluate`` of one model on each size's test set: size L -> metrics dict
    (test_sets: L -> (spins (m, L, L, 3), energies (m,)))."""
    return {int(L): metrics.evaluate(model, np.asarray(x), np.asarray(y), temperature=temperature)
            for L, (x, y) in sorted(test_sets.items())}


def generalization(models: Mapping[str, object], test_sets: Mapping[int, tuple], *,
                   temperature: float | None = None, n: int | None = None) -> tuple[list[dict], list[str]]:
    """Each model scored (``metrics.evaluate``) on each size's test set.

    Args:
        models: name -> energy model.
        test_sets: size L -> (spins (m, L, L, 3), energies (m,)).
        temperature: the labels' T (for RMSE / T).
        n: use the first n configurations of each set (None: all).
    Returns:
        (rows, problems): rows with ``model``, ``L``, ``n``, ``rmse``, ``rel_error``,
        ``rmse_per_site``, ``rmse_per_L`` (the local error scale RMSE / sqrt(N)), ``r2``,
        ``ms_per_config``; problems name the models that do not apply at some size.
    """
    rows, failed = [], {}
    for name, model in models.items():
        for L, (spins, energies) in sorted(test_sets.items()):
            x, y = (spins, energies) if n is None else (spins[:n], energies[:n])
            try:
                m = by_size(model, {L: (x, y)}, temperature=temperature)[L]
            except (ValueError, RuntimeError) as err:
                failed.setdefault(name, ([], str(err)))[0].append(L)
                continue
            rows.append({"model": name, "L": int(L), "n": m["n"], "rmse": m["rmse"], "rel_error": m["rel_error"],
                         "rmse_per_site": m["rmse_per_site"], "rmse_per_L": m["rmse"] / L, "r2": m["r2"],
                         "ms_per_config": 1e3 * m["seconds_per_config"]})
    problems = [f"{name} at L = {', '.join(map(str, sizes))} ({err})" for name, (sizes, err) in failed.items()]
    return rows, problems


def label_statistics(manifests: Mapping[int, dict]) -> list[dict]:
    """Mean and spread of the exact labels of test sets (size L -> dataset manifest): the mean
    grows like N = L^2, the spread like L."""
    out = []
    for L, man in sorted(manifests.items()):
        lab = man.get("labels", {})
        std = lab.get("std")
        out.append({"L": int(L), "sites N": int(L) ** 2, "configurations": man.get("count"),
                    "mean E": lab.get("mean"), "std E": std, "mean E / N": lab.get("mean_per_site"),
                    "std E / L": std / L if std is not None else math.nan})
    return out


def parameter_table(archs, family: str, sizes, layers: int, *, size_key: str = "channels") -> list[dict]:
    """Parameters of each architecture built with each size (``size_key``: channels or width)."""
    from .nets import build

    rows = []
    for arch in archs:
        row = {"architecture": arch}
        for s in sizes:
            row[f"{'C' if size_key == 'channels' else 'w'}={s}"] = \
                parameter_count(build(arch, family, **{size_key: int(s), "layers": int(layers)}))
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- training distribution
def spin_features(spins) -> dict[str, np.ndarray]:
    """Size-scaled order parameters of configurations (..., L, L, k), (..., L, L) or (..., n).

    Each is a mean over sites times sqrt(N), so that for spins drawn independently per site it
    has the same spread at every size (central limit theorem):
    ``magnetization`` |sum s| / sqrt(N); for lattices also ``neighbour correlation``
    (mean s_i . s_j over nearest-neighbour bonds) * sqrt(N) and ``staggered magnetization``.
    """
    s = np.asarray(spins, dtype=np.float64)
    return _features(s)


def _features(s: np.ndarray) -> dict[str, np.ndarray]:
    if s.ndim >= 3 and s.shape[-1] == 3 and s.shape[-2] == s.shape[-3]:
        lat = s                                   # (..., L, L, 3)
    elif s.ndim >= 2 and s.shape[-1] == s.shape[-2] and s.shape[-1] > 3:
        lat = s[..., None]                        # Ising (..., L, L) -> (..., L, L, 1)
    else:
        n = s.shape[-1]                           # chain (..., n)
        return {"mean value": s.mean(-1) * math.sqrt(n)}
    L = lat.shape[-2]
    N = L * L
    rt = math.sqrt(N)
    m = np.linalg.norm(lat.sum((-3, -2)), axis=-1) / rt
    nn = ((lat * np.roll(lat, 1, -2)).sum(-1) + (lat * np.roll(lat, 1, -3)).sum(-1)).mean((-2, -1)) / 2 * rt
    sign = np.where((np.add.outer(np.arange(L), np.arange(L)) % 2) == 0, 1.0, -1.0)[..., None]
    stag = np.linalg.norm((lat * sign).sum((-3, -2)), axis=-1) / rt
    return {"magnetization": m, "neighbour correlation": nn, "staggered magnetization": stag}


@dataclass(frozen=True)
class Distance:
    """How far a configuration lies from a training set, feature by feature, in standard
    deviations of the training set; ``outside`` when the largest exceeds ``threshold``."""

    z: dict
    worst: str
    threshold: float

    @property
    def outside(self) -> bool:
        return abs(self.z[self.worst]) > self.threshold


def training_distance(spins, reference, *, threshold: float = 4.0) -> Distance:
    """``spin_features`` of one configuration against those of ``reference`` (training spins,
    (m, ...), any size): z-score of each feature, the worst one, and whether it is outside."""
    f = _features(np.asarray(spins, dtype=np.float64))
    ref = _features(np.asarray(reference, dtype=np.float64))
    z = {}
    for k, v in f.items():
        mu, sd = float(np.mean(ref[k])), float(np.std(ref[k]))
        z[k] = (float(v) - mu) / sd if sd > 0 else (0.0 if float(v) == mu else math.inf)
    worst = max(z, key=lambda k: abs(z[k]))
    return Distance(z, worst, threshold)
