"""Accuracy against cost of every way to get the double exchange energy, measured in one run.

``frontier(L)`` draws ``count`` configurations, computes a reference energy
(float64 ED up to the recipe's ``exact_max`` = 40; beyond it a tight KPM,
whose own error estimate is reported as the floor below which nothing can be
judged), and then times and scores, on exactly those configurations and in
this process, each method:

* ED: ``numpy.linalg.eigvalsh`` on the prebuilt matrix (the usual baseline)
  and the project's fastest complex128 driver;
* SW at orders 1, 2, 3 (``solvers.sw3``; up to ``sw_max_L``);
* KPM at several (moments M, colour distance p) (``solvers.kpm``);
* any energy models passed in (networks at batch 1, the call a Monte Carlo
  loop makes; effective models likewise).

Each point carries seconds per configuration, the relative error
RMSE / |mean E| and RMSE in units of T against the reference, and the
method's own error estimate where it has one.

    >>> from efnn_core.frontier import frontier
    >>> pts = frontier(10, count=2, kpm_points=((200, 10),), sw_orders=(3,))
    >>> [(p.name, p.seconds, p.rel_error) for p in pts]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from . import metrics, timing
from .solvers import solve
from .systems import DoubleExchange, _checks

__all__ = ["Point", "frontier", "pareto", "summary", "KPM_POINTS", "REFERENCE_KPM"]

KPM_POINTS = ((100, 5), (150, 8), (200, 10), (250, 12))  # (moments, colour distance)
REFERENCE_KPM = dict(moments=300, distance=16, sets=2)  # beyond ED: error ~1e-7 relative
MAX_L = 128


@dataclass
class Point:
    """One method on the frontier.

    ``kind``: "exact", "physics" (SW, KPM), "model" (network or effective model).
    ``seconds``: wall seconds per configuration (batch 1 for models).
    ``rel_error``: RMSE / |mean E| against the reference; ``rmse_T``: RMSE / T.
    ``estimate``: the method's own RMS error estimate, relative (None for models).
    """

    name: str
    kind: str
    seconds: float
    rel_error: float
    rmse_T: float
    estimate: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _score(pred, ref, T) -> tuple[float, float]:
    rmse = float(np.sqrt(np.mean((np.asarray(pred) - ref) ** 2)))
    return rmse / abs(float(ref.mean())), rmse / T


def frontier(L: int, *, models: dict | None = None, count: int = 3, seed: int = 0,
             system: DoubleExchange | None = None, sw_orders=(1, 2, 3), sw_max_L: int = 64,
             kpm_points=KPM_POINTS, ed_max_L: int | None = None, workers: int | None = None,
             progress: Callable[[int, int, str], bool | None] | None = None) -> list[Point]:
    """Measure the accuracy-versus-time frontier at lattice size ``L`` (see the module docstring).

    Args:
        L: lattice size, 3..128.
        models: name -> energy model (torch module or ``EffectiveModel``) to include.
        count: configurations (uniform random spins from ``seed``), 1..64.
        system: the model (default ``DoubleExchange()``).
        sw_orders: SW orders to include (only where L <= ``sw_max_L``: dense L^2 x L^2 matrices).
        kpm_points: (moments, distance) pairs for KPM.
        ed_max_L: largest L for ED (default: the recipe's ``exact_max``, 40); above it the
            reference is KPM with ``REFERENCE_KPM``.
        workers: KPM threads (default: all usable cores).
        progress: called as progress(done, total, label) before each method; returning False
            stops and raises ``InterruptedError``.
    Returns:
        list of :class:`Point`; the reference itself is the first point (kind "exact" for ED,
        "reference" for KPM).
    """
    de = system or DoubleExchange()
    L = _checks.lattice_size(L, max_L=MAX_L)
    count = _checks.count(count)
    if count > 64:
        raise ValueError(f"count must be at most 64 configurations here, got {count}")
    ed_max_L = de.recipe.exact_max if ed_max_L is None else ed_max_L
    spins = de.sample(L, count, np.random.default_rng(seed))
    models = models or {}
    steps = ([("ed-plain", None), ("ed", None)] if L <= ed_max_L else [("reference", None)])
    steps += [("sw3", o) for o in sw_orders if L <= sw_max_L] + [("kpm", p) for p in kpm_points]
    steps += [("model", name) for name in models]
    _warm_up(de)
    points: list[Point] = []
    ref = None
    for k, (what, arg) in enumerate(steps):
        label = what if arg is None else f"{what} {arg}"
        if progress is not None and progress(k, len(steps), label) is False:
            raise InterruptedError(f"frontier stopped by the caller before {label}")
        if what == "ed-plain":
            hs = [de.hamiltonian(s) for s in spins]
            t0 = time.perf_counter()
            ref = np.array([de.energy_from_eigenvalues(np.linalg.eigvalsh(h)) for h in hs])
            points.append(Point("ED (numpy eigvalsh)", "exact", (time.perf_counter() - t0) / count, 0.0, 0.0, 0.0))
        elif what == "ed":
            r = solve(de, spins, "ed")
            points.append(Point("ED (fastest driver)", "exact", r.seconds / count, *_score(r.energy, ref, de.T), 0.0))
        elif what == "reference":
            r = solve(de, spins, "kpm", workers=workers, **REFERENCE_KPM)
            ref = np.asarray(r.energy)
            est = float(np.sqrt(np.mean(r.error ** 2))) / abs(float(ref.mean()))
            points.append(Point(f"KPM reference M={REFERENCE_KPM['moments']} p={REFERENCE_KPM['distance']}",
                                "reference", r.seconds / count, 0.0, 0.0, est))
        elif what in ("sw3", "kpm"):
            opts = dict(order=arg) if what == "sw3" else dict(moments=arg[0], distance=arg[1], workers=workers)
            r = solve(de, spins, what, **opts)
            name = f"SW order {arg}" if what == "sw3" else f"KPM M={arg[0]} p={arg[1]}"
            est = float(np.sqrt(np.mean(np.asarray(r.error) ** 2))) / abs(float(ref.mean()))
            points.append(Point(name, "physics", r.seconds / count, *_score(r.energy, ref, de.T), est))
        else:
            model = models[arg]
            pred = metrics.predict(model, spins)
            points.append(Point(arg, "model", _model_seconds(model, spins), *_score(pred, ref, de.T)))
    return points


def _warm_up(de: DoubleExchange) -> None:
    """First calls in a process pay one-off costs (BLAS threads, the KPM kernel's compilation): not timed."""
    tiny = de.sample(4, 1, 0)
    np.linalg.eigvalsh(de.hamiltonian(tiny[0]))
    for method in ("ed", "sw3", "kpm"):
        solve(de, tiny, method)


def _model_seconds(model, spins) -> float:
    """Batch-1 seconds per configuration of a torch module or a numpy ``predict`` model."""
    import torch

    if isinstance(model, torch.nn.Module):
        return timing.model_seconds(model, spins, batch=1, repeats=10)
    return timing.median_seconds(lambda: metrics.predict(model, spins[:1]), repeats=5)


def pareto(points: list[Point]) -> list[Point]:
    """The points no other point beats on both time and error, fastest first."""
    pts = sorted(points, key=lambda p: (p.seconds, p.rel_error))
    front, best = [], float("inf")
    for p in pts:
        if p.rel_error < best:
            front.append(p)
            best = p.rel_error
    return front


def summary(points: list[Point], L: int) -> str:
    """One sentence on which method wins where: the Pareto front from fast to accurate."""
    def fmt(p):
        err = "exact" if p.rel_error == 0 else f"{p.rel_error:.1e}"
        return f"{p.name} ({p.seconds:.2g} s, {err})"

    front = pareto(points)
    text = f"At L = {L} the frontier, from fastest to most accurate, is " + " → ".join(fmt(p) for p in front) + "."
    ref = points[0]
    if ref.kind == "reference":
        text += (f" Errors are against {ref.name}, itself good to ~{ref.estimate:.0e} (relative), so smaller "
                 "errors cannot be resolved.")
    return text
