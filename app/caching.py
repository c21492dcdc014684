"""Shared, cached resources and the background exact solver.

Caching by kind (STYLE.md 10):
* ``st.cache_resource``: datasets, pretrained models and system objects, shared read-only by
  all sessions (arrays read-only, models only run under inference mode), and the table of exact
  results keyed by (system, sha1 of the spins);
* ``st.session_state``: everything of one user (models trained here, runs, the exact job).

Exact energies that take longer than ``BACKGROUND_S`` run in the server's job pool (``app.jobs``: worker
processes, a FIFO queue, a memory budget): the page shows the networks at once and the exact solve as
"queued: position k" or "running x s of ≈y s" (an estimate from the solves measured on this server), with
a Cancel button, and polls (``st.fragment``) until the result is in the shared table.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from app import catalog
from efnn_core import analysis
from efnn_core import data as datasets
from efnn_core import pretrained as shipped
from efnn_core.systems import get

BACKGROUND_S = 0.4     # exact solves expected longer than this run in the background
SESSION_MODELS = "session_models"


# ----------------------------------------------------------------------------- data and systems
@st.cache_resource(show_spinner="Loading dataset…")
def dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(spins, energies) of a shipped dataset, shared read-only across sessions."""
    spins, energies = datasets.load(name)
    spins.setflags(write=False)
    energies.setflags(write=False)
    return spins, energies


def dataset_names() -> list[str]:
    return datasets.list()


@st.cache_resource(show_spinner=False)
def system_object(name: str):
    """The physical system ``name`` with its default parameters (immutable, one per server)."""
    return get(name)


@st.cache_resource(show_spinner=False)
def reference_spins(name: str) -> np.ndarray | None:
    """Up to 2,000 training configurations of a system (for the training-distribution indicator)."""
    info = catalog.system(name)
    if info.train_set not in dataset_names():
        return None
    return np.array(dataset(info.train_set)[0][:2000])


# ----------------------------------------------------------------------------- models
@dataclass
class ModelEntry:
    name: str
    source: str          # "pretrained", "session" or "uploaded"
    model: Any           # torch.nn.Module or EffectiveModel (never mutated after registration)
    meta: dict
    uid: str = ""

    @property
    def system(self) -> str:
        s = self.meta.get("system", "")
        return str(s.get("name", "") if isinstance(s, dict) else s)

    @property
    def arch(self) -> str:
        return str(analysis.architecture(self.model).get("arch", "?"))


def pretrained_names() -> list[str]:
    try:
        return list(shipped.list())
    except (OSError, ValueError):
        return []


@st.cache_resource(show_spinner="Loading pretrained model…")
def pretrained(name: str) -> ModelEntry:
    model, meta = shipped.load(name)
    if hasattr(model, "eval"):
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
    return ModelEntry(name, "pretrained", model, dict(meta), uid=f"pretrained:{name}")


@st.cache_resource(show_spinner=False)
def pretrained_systems() -> dict[str, str]:
    """Pretrained model name -> its system (metadata only, no weights loaded)."""
    out = {}
    for name in pretrained_names():
        try:
            s = shipped.metadata(name).get("system", "")
            out[name] = str(s.get("name", "") if isinstance(s, dict) else s)
        except (OSError, ValueError):
            out[name] = "?"
    return out


def session_models() -> dict[str, ModelEntry]:
    return st.session_state.setdefault(SESSION_MODELS, {})


def register(entry: ModelEntry) -> None:
    if hasattr(entry.model, "eval"):
        entry.model.eval()
    session_models()[entry.name] = entry


def session_entries(system: str) -> list[ModelEntry]:
    """This browser session's models (trained or uploaded) for ``system``."""
    return [m for m in session_models().values() if m.system == system]


def models_for(system: str) -> tuple[list[ModelEntry], list[str]]:
    """This session's models for ``system`` first, then the pretrained ones; load problems as messages."""
    out = session_entries(system)
    problems = []
    for name, sys_name in pretrained_systems().items():
        if sys_name != system:
            continue
        try:
            out.append(pretrained(name))
        except (OSError, ValueError) as err:
            problems.append(f"pretrained model {name!r} could not be loaded: {err}")
    return out, problems


# ----------------------------------------------------------------------------- exact energies
def spins_key(spins: np.ndarray) -> str:
    a = np.ascontiguousarray(spins, dtype=np.float64)
    return hashlib.sha1(str(a.shape).encode() + a.tobytes()).hexdigest()


@st.cache_resource(show_spinner=False)
def _exact_table() -> dict:
    """(system, spins sha1) -> analysis.Exact, shared by all sessions; plus measured solve times."""
    return {"results": {}, "timings": {}, "inflight": {}, "lock": threading.Lock()}


def _solve(system: str, key: str, spins: np.ndarray) -> analysis.Exact:
    import torch

    if torch.get_num_threads() != 1:  # one core per solve: the page and other sessions stay responsive
        torch.set_num_threads(1)
    return _store(system, key, spins.shape[0], analysis.exact(system_object(system), spins))


def _calibrate(system: str) -> None:
    """Time random configurations at L = 10 and twice at L = 20 (once per server and system), for the
    estimates of larger solves."""
    table = _exact_table()
    if any(s == system for s, _ in table["timings"]) or catalog.system(system).fixed_size:
        return
    sysobj = system_object(system)
    for L in (10, 20, 20):
        _solve(system, "calibration", sysobj.sample(L, 1, np.random.default_rng(L))[0])


def estimate_seconds(system: str, size: int) -> tuple[float, str]:
    """Expected seconds of one exact solve, and where the number comes from: the median of the last
    solves measured on this server at that size, else the largest measured size below (the nearest one
    above if none) scaled as L^6 -- a dense eigensolver costs O(n^3) for n = 2L^2; smaller sizes fit
    lower powers only because fixed costs dominate them (L = 10 -> 20 measures ~L^4.7 here).  Medians:
    one solve slowed by a busy moment does not set every later estimate."""
    _calibrate(system)
    timings = {L0: float(np.median(t)) for (s, L0), t in dict(_exact_table()["timings"]).items() if s == system}
    if size in timings:
        return timings[size], f"measured on this server at L = {size}"
    if not timings:
        return 0.0, "a fixed-size system: solved at once"
    below = [L0 for L0 in timings if L0 < size]
    L0 = max(below) if below else min(timings)
    return timings[L0] * (size / L0) ** 6, f"L^6 (dense eigensolver, O(n³)) from solves measured on this server at L = {L0}"


def _store(system: str, key: str, size: int, res: analysis.Exact) -> analysis.Exact:
    table = _exact_table()
    with table["lock"]:
        if len(table["results"]) > 20000:
            table["results"].clear()
        table["results"][(system, key)] = res
        table["timings"][(system, size)] = (table["timings"].get((system, size), []) + [res.seconds])[-5:]
        table["inflight"].pop((system, key), None)
    return res


def exact_now(system: str, spins: np.ndarray) -> analysis.Exact | None:
    """The exact result if known or quick (solved here, at most ~BACKGROUND_S), else None and the solve is
    queued in the server's job pool (``app.jobs``) for this session (see ``pending``).  Sessions asking for
    the same configuration share one job; a new configuration cancels this session's previous one."""
    spins = np.array(spins, dtype=np.float64)
    key = spins_key(spins)
    table = _exact_table()
    hit = table["results"].get((system, key))
    if hit is not None:
        return hit
    est, _ = estimate_seconds(system, spins.shape[0])
    if est < BACKGROUND_S:
        return _solve(system, key, spins)
    mine: dict = st.session_state.setdefault("_exact_job", {})
    if mine.get("key") != (system, key):
        _drop(mine)
        mine.clear()
        mine.update(key=(system, key), size=spins.shape[0], job=None, error=None, cancelled=False)
    job = mine.get("job")
    if job is not None and job.state == "done":
        return _store(system, key, spins.shape[0], job.result)
    if job is not None and job.state == "failed":
        mine["error"] = job.error
    if mine["cancelled"] or mine["error"]:
        return None
    if job is None or job.state == "cancelled":  # cancelled: by another session that left, or never started
        mine["job"] = _job_for(system, key, spins)
    return None


def _job_for(system: str, key: str, spins: np.ndarray):
    """The pool job solving (system, key): another session's if one is under way, else a new one of ours."""
    from app import jobs, work

    table = _exact_table()
    with table["lock"]:
        job = table["inflight"].get((system, key))
        if job is not None and job.state in ("queued", "running"):
            return job
    try:
        job = jobs.get_pool().submit(work.exact_energy, system, system_object(system).params(), spins,
                                     owner=jobs.current_session() or "local", memory=work.exact_memory(spins.shape),
                                     label=f"the exact solve at L = {spins.shape[0]}")
    except jobs.JobError as err:
        st.session_state["_exact_job"]["error"] = str(err)
        return None
    with table["lock"]:
        table["inflight"][(system, key)] = job
    return job


def _drop(mine: dict) -> None:
    """Cancel this session's job for a configuration no longer shown (not another session's)."""
    from app import jobs

    job = mine.get("job")
    if job is not None and not job.ended and job.owner == (jobs.current_session() or "local"):
        job.cancel()


def cancel_exact() -> None:
    """The page's Cancel: stop this session's exact solve (queued or running); ``retry_exact`` restarts it."""
    mine = st.session_state.get("_exact_job") or {}
    _drop(mine)
    if mine:
        mine.update(cancelled=True, job=None)


def retry_exact() -> None:
    mine = st.session_state.get("_exact_job") or {}
    mine.update(cancelled=False, error=None, job=None)


def solving() -> bool:
    """This session's exact solve is queued or running (the page keeps polling)."""
    return (pending() or {}).get("state") in ("queued", "running")


def pending() -> dict | None:
    """This session's unfinished exact solve, or None: {"state": "queued" | "running" | "cancelled" |
    "failed", "position" (1, 2, ... while queued), "seconds" (running so far), "estimate", "source",
    "size", "error" (one line, when failed)}."""
    mine = st.session_state.get("_exact_job") or {}
    if not mine:
        return None
    job = mine.get("job")
    if mine.get("error"):
        state = "failed"
    elif mine.get("cancelled"):
        state = "cancelled"
    elif job is None or job.state == "done":
        return None
    else:
        state = job.state if job.state in ("queued", "running") else "queued"
    est, src = estimate_seconds(mine["key"][0], mine["size"])
    started = getattr(job, "started", None)
    return {"state": state, "position": job.position() if job is not None else None,
            "seconds": time.time() - started if started and state == "running" else 0.0,
            "estimate": est, "source": src, "size": mine["size"], "error": mine.get("error")}
