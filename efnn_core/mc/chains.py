"""Independent seeded Monte Carlo chains: configuration, state, parallel driver, checkpoint/resume.

``run(config, chains=4, seed=0)`` advances ``chains`` independent chains, each
with its own ``numpy.random.Generator`` spawned from ``SeedSequence(seed)``,
so results depend on the seed only -- not on the number of workers, the
chunking, or an interruption.  Work goes out in chunks of units (a unit is an
ED-Metropolis sweep or one SLMC cumulative update) through
``efnn_core.parallel.map_tasks`` (any ``concurrent.futures.Executor``, by
default a local process pool); between chunks the driver saves a checkpoint and checks
``cancel``.  A checkpoint holds every chain's spins, exact energy, step size,
traces, counters and the generator's exact bit state (PCG64's 128-bit state
and increment as JSON integers), so ``run(..., checkpoint=dir)`` after an
interruption continues to the same numbers as an uninterrupted run.

    >>> cfg = MCConfig(method="ed", L=4, sweeps=20)
    >>> res = run(cfg, chains=2, seed=0)
    >>> res.energy().shape          # (chains, production draws)
    (2, 16)
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import safejson
from ..atomic import write_atomic
from ..systems import DoubleExchange, uniform_sphere
from . import diagnostics

__all__ = ["MCConfig", "ChainState", "MCResult", "MCError", "run", "save_checkpoint", "load_checkpoint"]

METHODS = ("ed", "slmc")
MAX_SITES = 40 * 40


MAX_CHECKPOINT_JSON = 256 << 20  # traces of long runs; still bounded before parsing


class MCError(ValueError):
    """Bad Monte Carlo input (method, sizes, spins, surrogate)."""


@dataclass(frozen=True)
class MCConfig:
    """One Monte Carlo setting (stored in checkpoints and summaries).

    Sweeps count L^2 local moves (ED-Metropolis: exact proposals; SLMC: surrogate
    proposals, ``local_steps`` of them per exact accept/reject, default L^2).
    """

    method: str = "ed"             # "ed" (exact Metropolis) or "slmc"
    L: int = 10                    # lattice size
    sweeps: int = 200              # sweeps per chain, burn-in included
    burn_in: int | None = None     # sweeps discarded and used to tune the step (default sweeps // 5)
    local_steps: int | None = None  # SLMC cumulative-update length (default L^2)
    step: float = 0.5              # initial proposal step size
    target: float = 0.5            # burn-in tunes the step towards this (local) acceptance
    surrogate: str | None = None   # pretrained name or checkpoint path (SLMC)
    system: dict = field(default_factory=dict)  # DoubleExchange parameters (t, J, mu, T)
    keep_every: int = 0            # keep the chain's configuration every this many units (0: never)
    labels: bool = False           # SLMC: keep every proposed end point with its exact energy

    def __post_init__(self):
        if self.method not in METHODS:
            raise MCError(f"method must be one of {METHODS}, got {self.method!r}")
        for name in ("L", "sweeps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise MCError(f"{name} must be an integer, got {v!r}")
        if self.L < 3 or self.L * self.L > MAX_SITES:
            raise MCError(f"L must be in 3..40 (the 2L^2 Hamiltonian is diagonalized per move), got {self.L}")
        if self.sweeps <= 0:
            raise MCError(f"sweeps must be positive, got {self.sweeps}")
        if self.burn_in is not None and not 0 <= self.burn_in < self.sweeps:
            raise MCError(f"burn_in must be in 0..sweeps-1, got {self.burn_in}")
        if self.local_steps is not None and not 1 <= self.local_steps <= 100 * self.L ** 2:
            raise MCError(f"local_steps must be in 1..100 L^2, got {self.local_steps}")
        if not (math.isfinite(self.step) and self.step > 0):
            raise MCError(f"step must be a positive number, got {self.step}")
        if self.method == "slmc" and self.surrogate is None:
            raise MCError("SLMC needs a surrogate (a pretrained name or a checkpoint path)")

    def model(self) -> DoubleExchange:
        return DoubleExchange(**self.system)

    @property
    def m(self) -> int:
        return self.local_steps or self.L * self.L

    @property
    def units_per_sweep(self) -> float:
        """Trace draws per sweep: 1 for ED-Metropolis, L^2/m for SLMC."""
        return 1.0 if self.method == "ed" else self.L * self.L / self.m

    @property
    def units(self) -> int:
        return max(1, round(self.sweeps * self.units_per_sweep))

    @property
    def burn_units(self) -> int:
        b = self.sweeps // 5 if self.burn_in is None else self.burn_in
        return min(self.units - 1, round(b * self.units_per_sweep))


@dataclass
class ChainState:
    """Everything one chain needs to continue exactly (picklable; JSON + arrays in checkpoints)."""

    index: int
    rng: np.random.Generator
    spins: np.ndarray              # (L, L, 3) float64, current configuration
    energy: float                  # its exact energy
    step: float
    done: int = 0                  # units done
    ed_calls: int = 0
    seconds: float = 0.0
    proposed: int = 0              # production proposals (exact accept/reject) and accepted ones
    accepted: int = 0
    local_rate: float = 0.0        # SLMC: sum over production updates of the surrogate acceptance
    trace_e: list = field(default_factory=list)    # exact energy after each unit (burn-in included)
    trace_m: list = field(default_factory=list)    # |magnetization| per site after each unit
    mismatch: list = field(default_factory=list)   # SLMC: dE - dE^s of each production proposal
    sq_sum: np.ndarray | None = None               # sum of S(q) over production units
    kept: list = field(default_factory=list)       # configurations kept every keep_every units
    labels: list = field(default_factory=list)     # SLMC: (spins, exact E) of every proposal


def init_chains(cfg: MCConfig, chains: int, seed: int, start=None, system=None) -> list[ChainState]:
    """Chains seeded from SeedSequence(seed).spawn(chains); random start unless ``start`` (L, L, 3) given."""
    if isinstance(chains, bool) or int(chains) != chains or not 1 <= chains <= 64:
        raise MCError(f"chains must be an integer in 1..64, got {chains!r}")
    system = system or cfg.model()
    out = []
    for k, ss in enumerate(np.random.SeedSequence(int(seed)).spawn(int(chains))):
        rng = np.random.default_rng(ss)
        if start is None:
            spins = uniform_sphere(rng, (cfg.L, cfg.L))
        else:
            spins = validate_spins(start, cfg.L, system)
        out.append(ChainState(k, rng, spins, float(system.energy(spins)), cfg.step, ed_calls=1))
    return out


def temperature(system) -> float:
    """The sampling temperature of ``system`` (its ``temperature`` or ``T``)."""
    T = getattr(system, "temperature", None)
    T = getattr(system, "T", None) if T is None else T
    if T is None or not T > 0:
        raise MCError(f"{type(system).__name__} has no positive temperature to sample at")
    return float(T)


def validate_spins(spins, L: int, system) -> np.ndarray:
    """A start configuration checked by the system's own validator, of shape (L, L, 3), renormalized."""
    try:
        s = system.validate(spins) if hasattr(system, "validate") else np.array(spins, dtype=np.float64)
    except ValueError as err:
        raise MCError(f"start spins: {err}") from None
    if s.shape != (L, L, 3):
        raise MCError(f"start spins must have shape ({L}, {L}, 3), got {s.shape}")
    return s / np.linalg.norm(s, axis=-1, keepdims=True)


# --------------------------------------------------------------------- advancing one chain
_SURROGATES: dict = {}  # per-process cache of loaded surrogates (read-only objects), keyed by (name, L)


def _surrogate(cfg: MCConfig, surrogate=None):
    if surrogate is not None:
        return surrogate
    key = (cfg.surrogate, cfg.L, json.dumps(cfg.system, sort_keys=True))
    if key not in _SURROGATES:
        from .surrogates import load_surrogate

        _SURROGATES[key] = load_surrogate(cfg.surrogate, cfg.L, system=cfg.model())[0]
    return _SURROGATES[key]


def advance(state: ChainState, cfg: MCConfig, units: int, surrogate=None, cancel=None, system=None) -> ChainState:
    """Run ``units`` more units of one chain (fewer if ``cancel`` is set or the chain is finished)."""
    from . import metropolis, slmc

    system = system or cfg.model()
    T = temperature(system)
    sur = _surrogate(cfg, surrogate) if cfg.method == "slmc" else None
    end = min(cfg.units, state.done + units)
    while state.done < end and not (cancel is not None and cancel.is_set()):
        t0 = time.perf_counter()
        burn = state.done < cfg.burn_units
        if cfg.method == "ed":
            acc, n = metropolis.sweep(state, system, T, tune=burn, target=cfg.target)
            local = None
        else:
            acc, local, mis = slmc.cumulative_update(state, system, sur, T, cfg.m, tune=burn, target=cfg.target,
                                                     labels=state.labels if cfg.labels else None)
            n = 1
        state.seconds += time.perf_counter() - t0
        state.done += 1
        state.trace_e.append(state.energy)
        state.trace_m.append(float(np.linalg.norm(state.spins.reshape(-1, 3).mean(0))))
        if not burn:
            state.proposed += n
            state.accepted += acc
            if local is not None:
                state.local_rate += local
                state.mismatch.append(mis)
            sq = diagnostics.structure_factor(state.spins)
            state.sq_sum = sq if state.sq_sum is None else state.sq_sum + sq
        if cfg.keep_every and state.done % cfg.keep_every == 0 and not burn:
            state.kept.append((state.spins.astype(np.float32), state.energy))
    return state


def _advance_task(args):
    state, cfg, units = args
    return advance(state, cfg, units)


# --------------------------------------------------------------------- results
@dataclass
class MCResult:
    config: MCConfig
    states: list
    cancelled: bool = False

    def energy(self, production: bool = True) -> np.ndarray:
        """(chains, draws) exact energies; production draws only unless ``production=False``."""
        k = self.config.burn_units if production else 0
        n = min(len(s.trace_e) for s in self.states)
        return np.array([s.trace_e[k:n] for s in self.states])

    def magnetization(self, production: bool = True) -> np.ndarray:
        k = self.config.burn_units if production else 0
        n = min(len(s.trace_m) for s in self.states)
        return np.array([s.trace_m[k:n] for s in self.states])

    def structure_factor(self) -> np.ndarray | None:
        """Mean S(q) over production units of all chains, (L, L)."""
        sums = [s.sq_sum for s in self.states if s.sq_sum is not None]
        n = sum(s.proposed // (self.config.L ** 2 if self.config.method == "ed" else 1) for s in self.states)
        return None if not sums or not n else sum(sums) / n

    @property
    def finished(self) -> bool:
        return all(s.done >= self.config.units for s in self.states)

    def summary(self) -> dict:
        """mean_per_site, error_per_site, acceptance, tau_int (sweeps), ess, rhat, ess_per_second, ed_calls, seconds."""
        cfg = self.config
        e = self.energy()
        proposed = sum(s.proposed for s in self.states)
        acc = sum(s.accepted for s in self.states) / proposed if proposed else float("nan")
        # wall time of the chains themselves (what one core spends), summed over chains
        seconds = sum(s.seconds for s in self.states)
        out = {"method": cfg.method, "L": cfg.L, "surrogate": cfg.surrogate, "local_steps": cfg.m
               if cfg.method == "slmc" else None}
        if e.shape[1] >= 4:
            out.update(diagnostics.summarize(e, sites=cfg.L ** 2, seconds=seconds, acceptance=acc,
                                             ed_calls=sum(s.ed_calls for s in self.states),
                                             draws_per_sweep=cfg.units_per_sweep))
        else:
            out.update(acceptance=acc, ed_calls=sum(s.ed_calls for s in self.states), seconds=seconds,
                       draws=int(e.shape[1]))
        m = self.magnetization()
        if m.size:
            out["abs_magnetization"] = float(m.mean())
        if cfg.method == "slmc":
            n = sum(len(s.mismatch) for s in self.states)
            out["local_acceptance"] = sum(s.local_rate for s in self.states) / n if n else float("nan")
            mis = np.concatenate([s.mismatch for s in self.states]) if n else np.zeros(0)
            out["mismatch_std_T"] = float(mis.std() / cfg.model().T) if n > 1 else float("nan")
        out["step"] = float(np.mean([s.step for s in self.states]))
        out["cancelled"] = self.cancelled
        return out


# --------------------------------------------------------------------- checkpoints
def _rng_state(rng: np.random.Generator) -> dict:
    """The generator's state, JSON-able and exact: PCG64's 128-bit integers as decimal strings (the
    checkpoint is read back with ``safejson``, which bounds integers to 19 digits)."""
    def enc(v):
        return {k: enc(x) for k, x in v.items()} if isinstance(v, dict) else (str(v) if isinstance(v, int) else v)
    return enc(rng.bit_generator.state)


def _rng_from(state: dict) -> np.random.Generator:
    name = state["bit_generator"]
    if name != "PCG64":
        raise MCError(f"checkpoint generator {name!r} is not PCG64")
    def dec(v):
        return {k: dec(x) for k, x in v.items()} if isinstance(v, dict) else (int(v) if isinstance(v, str) and
                                                                              v.lstrip("-").isdigit() else v)
    bg = np.random.PCG64()
    try:
        bg.state = dec(state)
    except (TypeError, ValueError, KeyError) as err:
        raise MCError(f"checkpoint generator state is not valid: {err}") from None
    return np.random.Generator(bg)


_LISTS = ("trace_e", "trace_m", "mismatch")


def save_checkpoint(directory, cfg: MCConfig, states: list, seed: int) -> None:
    """Write ``directory/checkpoint.json`` + ``checkpoint.npz`` (atomic renames); no pickles."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    meta = {"format": "efnn-mc-checkpoint", "version": 1, "config": asdict(cfg), "seed": int(seed), "chains": []}
    arrays = {}
    for s in states:
        k = s.index
        meta["chains"].append({"index": k, "rng": _rng_state(s.rng), "energy": s.energy, "step": s.step,
                               "done": s.done, "ed_calls": s.ed_calls, "seconds": s.seconds,
                               "proposed": s.proposed, "accepted": s.accepted, "local_rate": s.local_rate,
                               "kept_energy": [e for _, e in s.kept], "label_energy": [e for _, e in s.labels],
                               **{name: list(getattr(s, name)) for name in _LISTS}})
        arrays[f"spins_{k}"] = s.spins
        if s.sq_sum is not None:
            arrays[f"sq_{k}"] = s.sq_sum
        if s.kept:
            arrays[f"kept_{k}"] = np.stack([x for x, _ in s.kept])
        if s.labels:
            arrays[f"labels_{k}"] = np.stack([x for x, _ in s.labels])
    meta["sha256_npz"] = hashlib.sha256(blob := _npz_bytes(arrays)).hexdigest()  # the pair is checked on load
    write_atomic(d / "checkpoint.npz", blob)
    write_atomic(d / "checkpoint.json", json.dumps(meta).encode())


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load_checkpoint(directory) -> tuple[MCConfig, list, int]:
    """(config, states, seed) from ``save_checkpoint``'s files."""
    d = Path(directory)
    try:
        meta = safejson.loads((d / "checkpoint.json").read_bytes(), what=f"{d / 'checkpoint.json'}",
                              max_bytes=MAX_CHECKPOINT_JSON)
        blob = (d / "checkpoint.npz").read_bytes()
    except (OSError, ValueError) as err:
        raise MCError(f"cannot read the Monte Carlo checkpoint in {d}: {err}") from None
    if not isinstance(meta, dict) or meta.get("format") != "efnn-mc-checkpoint":
        raise MCError(f"{d / 'checkpoint.json'} is not a Monte Carlo checkpoint")
    if meta.get("sha256_npz") not in (None, hashlib.sha256(blob).hexdigest()):
        raise MCError(f"{d / 'checkpoint.npz'} does not match {d / 'checkpoint.json'} (interrupted write or edited "
                      "file); delete the folder to start over")
    try:
        z = np.load(io.BytesIO(blob), allow_pickle=False)
    except (OSError, ValueError) as err:
        raise MCError(f"cannot read the Monte Carlo checkpoint in {d}: {err}") from None
    cfg = MCConfig(**meta["config"])
    states = []
    with z:
        for c in meta["chains"]:
            k = c["index"]
            kept = list(zip(z[f"kept_{k}"], c["kept_energy"])) if f"kept_{k}" in z else []
            labels = list(zip(z[f"labels_{k}"], c["label_energy"])) if f"labels_{k}" in z else []
            states.append(ChainState(k, _rng_from(c["rng"]), z[f"spins_{k}"].copy(), c["energy"], c["step"],
                                     c["done"], c["ed_calls"], c["seconds"], c["proposed"], c["accepted"],
                                     c["local_rate"], *[list(c[n]) for n in ("trace_e", "trace_m", "mismatch")],
                                     z[f"sq_{k}"].copy() if f"sq_{k}" in z else None, kept, labels))
    return cfg, states, int(meta["seed"])


# --------------------------------------------------------------------- the driver
def _map(tasks, workers: int | None, executor=None):
    """``_advance_task`` over tasks through the executor seam (``parallel.map_tasks``), results in task order."""
    from ..parallel import map_tasks

    out = [None] * len(tasks)
    for i, state in map_tasks(_advance_task, tasks, executor=executor, workers=min(workers or 1, len(tasks)),
                              progress=False, desc="chains"):
        out[i] = state
    return out


def run(cfg: MCConfig, *, chains: int = 4, seed: int = 0, workers: int | None = 1, executor=None,
        chunk: int | None = None, checkpoint: str | Path | None = None, cancel: threading.Event | None = None,
        progress=None, surrogate=None, start=None, system=None) -> MCResult:
    """Run (or resume) ``chains`` independent chains of ``cfg``; see the module docstring.

    Args:
        workers: processes for the chains (1: in this process, where ``cancel`` acts within a chunk).
        executor: any ``concurrent.futures.Executor`` (overrides ``workers``).
        chunk: units per task between checkpoints / cancel checks (default ~ 1-2 s of work).
        checkpoint: folder; resumed from if it holds a checkpoint of the same config and seed.
        cancel: a ``threading.Event``; when set the chains stop at the next unit (in-process) or
            chunk and the result holds what was done (``cancelled=True``), every chain at a unit boundary.
        progress: callable(units done over all chains, units total, states) after each chunk.
        surrogate: an in-memory surrogate object (runs in this process; not checkpointed by name).
        start: optional (L, L, 3) start configuration for every chain (default: random per chain).
        system: any system with an exact ``energy(spins)`` and a temperature (default: the
            double exchange model of ``cfg.system``); runs in this process.
    """
    states = None
    if checkpoint is not None and (Path(checkpoint) / "checkpoint.json").is_file():
        old_cfg, old_states, old_seed = load_checkpoint(checkpoint)
        diff = [f"{k} {v!r} (now {getattr(cfg, k)!r})" for k, v in asdict(old_cfg).items() if getattr(cfg, k) != v]
        diff += [f"{k} {a!r} (now {b!r})" for k, a, b in (("seed", old_seed, seed), ("chains", len(old_states), chains))
                 if a != b]
        if diff:
            raise MCError(f"the Monte Carlo checkpoint in {checkpoint} was made with other settings: {', '.join(diff)}; "
                          "rerun with those to resume, or choose another folder (or delete this one) to start over")
        states = old_states
    if states is None:
        states = init_chains(cfg, chains, seed, start, system)
    if cfg.method == "slmc":
        _surrogate(cfg, surrogate)  # fail early on a bad surrogate
    if chunk is None:
        chunk = 2 if cfg.method == "ed" else max(1, 200 * cfg.L * cfg.L // (cfg.m * 100))
    total = cfg.units * len(states)
    in_process = executor is None and (workers or 1) <= 1 or surrogate is not None or system is not None
    cancelled = False
    while not all(s.done >= cfg.units for s in states):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        if in_process:
            states = [advance(s, cfg, chunk, surrogate, cancel, system) for s in states]
        else:
            states = _map([(s, cfg, chunk) for s in states], workers, executor)
        if checkpoint is not None:
            save_checkpoint(checkpoint, cfg, states, seed)
        if progress is not None:
            progress(sum(s.done for s in states), total, states)
    cancelled = cancelled or (cancel is not None and cancel.is_set() and
                              not all(s.done >= cfg.units for s in states))
    return MCResult(cfg, states, cancelled)
