"""Functions that run inside the job pool's worker processes (``app.jobs``), and their memory estimates.
No Streamlit here: a worker imports this module, not the page code.

* :func:`exact_energy` — one exact solve (for double exchange: a dense 2L² × 2L² Hermitian eigenproblem,
  O(L⁶) time, 16·(2L²)² bytes per matrix); :func:`exact_memory` is the estimate the pool reserves;
* :func:`mc_child` — the Monte Carlo page's chains (an interactive job), driven by :class:`RemoteChains`,
  the page's proxy.
"""

from __future__ import annotations

import numpy as np

MiB = 1 << 20
BASE = 96 * MiB  # a worker's own allocations beyond the preloaded libraries (arrays, LAPACK buffers)


def exact_memory(spins_shape: tuple) -> int:
    """Bytes one exact solve may hold: for an (L, L, 3) lattice the complex128 Hamiltonian (16·(2L²)² B),
    its driver's copy and workspace (×3 in all: ~490 MB at L = 40, 164 MB of it the matrix), plus ``BASE``;
    other shapes (chains, fixed-size systems) only ``BASE``."""
    if len(spins_shape) == 3 and spins_shape[-1] == 3:
        n = 2 * spins_shape[0] * spins_shape[1]
        return BASE + 3 * 16 * n * n
    return BASE


def exact_energy(system: str, params: dict, spins: np.ndarray):
    """``analysis.exact`` of one configuration of ``get(system, **params)``, on one thread."""
    from efnn_core import analysis
    from efnn_core.parallel import one_thread
    from efnn_core.systems import get

    with one_thread():
        return analysis.exact(get(system, **params), spins)


# ------------------------------------------------------------------ Monte Carlo chains (the Monte Carlo page)
MC_MEMORY = 320 * MiB  # chains at L <= 20: ED matrices of 2L^2 = 800 (10 MB), a small surrogate
MC_IDLE_S = 120.0      # chains neither played nor stepped this long are released (they hold a worker)
MC_LEASE_S = 6.0       # Play lasts this long after the page's last poll (a page left stops its chains)


def _mc_view(run) -> dict:
    """What the page draws, computed in the worker: chain 0's spins, traces, the table, agreement, RMSE."""
    shown = "slmc" if "slmc" in run.configs else "ed"
    return {"shown": shown, "spins": run.snapshot(shown), "traces": run.traces(), "table": run.table(),
            "agreement": run.agreement(), "rmse": run.surrogate_rmse()}


def mc_child(chan, L: int, methods: tuple, surrogate, chains: int, seed: int) -> dict:
    """Pool worker: a ``Comparison`` of ED-Metropolis and/or SLMC under the page's commands ``("step",
    seconds)``, ``("play",)`` (renewed by every poll of the page: a lease of ``MC_LEASE_S``) and
    ``("pause",)``; sends ``("view", dict)`` after every slice and ``("step_done",)`` after each step and
    each pause.  ``surrogate`` is a pretrained name or
    ``("checkpoint", weights, meta)`` of a session model (read by ``checkpoint.load_bytes``)."""
    import time

    from efnn_core.mc.live import Comparison

    if isinstance(surrogate, tuple):
        from efnn_core import checkpoint

        surrogate = checkpoint.load_bytes(surrogate[1], surrogate[2])[0]
    run = Comparison(L, methods, surrogate, chains=chains, seed=seed)
    chan.send(("view", _mc_view(run)))
    play_until, steps, idle_since = 0.0, [], time.time()
    while True:
        for cmd in chan.drain():
            idle_since = time.time()
            if cmd[0] == "play":
                play_until = time.time() + MC_LEASE_S
            elif cmd[0] == "pause":  # acknowledged after the slice in progress has sent its view
                play_until = 0.0
                chan.send(("step_done",))
            elif cmd[0] == "step":
                steps.append(float(cmd[1]))
        if steps:
            run.step(steps.pop(0))
            chan.send(("view", _mc_view(run)))
            chan.send(("step_done",))
        elif time.time() < play_until:
            run.step(0.4)
            chan.send(("view", _mc_view(run)))
            idle_since = time.time()
        elif time.time() - idle_since > MC_IDLE_S:
            return {"released": "idle"}
        else:
            chan.poll(0.5)


class RemoteChains:
    """The Monte Carlo page's proxy of :func:`mc_child` in the job pool: ``step``, ``play``, ``pause``,
    ``poll()`` (files the newest view; call on every rerun), ``view``, ``state``, ``position()``,
    ``error`` (one line), ``cancel()``."""

    def __init__(self, L: int, methods, surrogate, *, chains: int = 2, seed: int = 0, owner: str | None = None):
        from app import jobs

        if not isinstance(surrogate, str):
            surrogate = ("checkpoint", *_checkpoint_bytes(surrogate))
        self.view: dict | None = None
        self.error: str | None = None
        self.released = False
        self._steps = 0
        self.job = jobs.get_pool().submit(mc_child, int(L), tuple(methods), surrogate, int(chains), int(seed),
                                          owner=owner or jobs.current_session() or "local", memory=MC_MEMORY,
                                          label="Monte Carlo chains", channel=True)

    def poll(self) -> None:
        from app.jobs import END

        while True:
            try:
                msg = self.job.events.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty: nothing new
                return
            if msg is END:
                self._steps = 0
                if self.job.state == "failed":
                    self.error = (self.job.error or "the chains' worker failed").removeprefix("ValueError: ")
                self.released = self.job.state == "done"
                return
            if msg[0] == "view":
                self.view = msg[1]
            elif msg[0] == "step_done":
                self._steps = max(0, self._steps - 1)

    @property
    def state(self) -> str:
        return self.job.state

    @property
    def pending(self) -> bool:
        """Waiting for a worker, for the first view, for a step or for a pause to be acknowledged."""
        return not self.job.ended and (self.job.state == "queued" or self.view is None or self._steps > 0)

    def position(self) -> int | None:
        return self.job.position()

    def step(self, seconds: float = 0.5) -> None:
        if self.job.send(("step", float(seconds))):
            self._steps += 1

    def play(self) -> None:
        self.job.send(("play",))

    def pause(self) -> None:
        """Pending until the worker acknowledges, so that the page draws the view of the slice it was in."""
        if self.job.send(("pause",)):
            self._steps += 1

    def cancel(self) -> None:
        self.job.cancel()


def _checkpoint_bytes(model) -> tuple[bytes, bytes]:
    import tempfile
    from pathlib import Path

    from efnn_core import checkpoint

    with tempfile.TemporaryDirectory() as d:
        stem = Path(d) / "surrogate"
        checkpoint.save(stem, model, system="double_exchange", system_params={})
        w, j = checkpoint.paths(stem)
        return w.read_bytes(), j.read_bytes()


# ------------------------------------------------------------------ the Methods page's measurement
def frontier_memory(L: int, count: int) -> int:
    """Bytes of one ``frontier`` run: at L <= 40 its plain-ED step builds every configuration's complex128
    Hamiltonian at once (count · 16·(2L²)² B) plus one solve's copy and workspace; above, KPM and SW (a dense
    L² × L² matrix per configuration)."""
    n = 2 * L * L
    dense = 16 * n * n if L <= 40 else 8 * (L * L) ** 2
    return BASE + 64 * MiB + (int(count) + 3) * dense


def frontier_child(chan, L: int, models: dict, count: int, seed: int, sw_orders: tuple, kpm_points: tuple):
    """Pool worker: ``efnn_core.frontier.frontier`` on one core, sending ``("progress", done, total, label)``
    before each method; ``models`` maps a name to a pretrained name or ``("checkpoint", weights, meta)``."""
    from efnn_core import checkpoint, pretrained
    from efnn_core.frontier import frontier
    from efnn_core.parallel import one_thread

    loaded = {name: (checkpoint.load_bytes(m[1], m[2])[0] if isinstance(m, tuple) else pretrained.load(m)[0])
              for name, m in models.items()}
    with one_thread():
        return frontier(L, models=loaded, count=count, seed=seed, sw_orders=sw_orders, kpm_points=kpm_points,
                        workers=1, progress=lambda k, n, label: chan.send(("progress", k, n, label)))


def submit_frontier(L: int, models: dict, **options):
    """Queue :func:`frontier_child` for this session; ``models``: name -> pretrained name or a model object."""
    from app import jobs

    sent = {n: m if isinstance(m, str) else ("checkpoint", *_checkpoint_bytes(m)) for n, m in models.items()}
    return jobs.get_pool().submit(frontier_child, int(L), sent, int(options["count"]), int(options["seed"]),
                                  tuple(options["sw_orders"]), tuple(options["kpm_points"]),
                                  owner=jobs.current_session() or "local", channel=True,
                                  memory=frontier_memory(L, options["count"]), label=f"the measurement at L = {L}")
