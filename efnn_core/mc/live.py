"""Interactive side-by-side runs (the explorer's Monte Carlo page): advance by a time budget, read live numbers.

``Comparison(L, methods, surrogate)`` holds chains of ED-Metropolis and/or
SLMC for one user.  ``step(seconds)`` gives *each* method the same wall-clock
budget (at least one unit: an ED sweep or one cumulative update), so the
traces show what each buys per second.  ``table()`` gives <E>/site +- error,
acceptance, tau, ESS/s per method and whether the methods agree within 3
sigma; ``surrogate_rmse()`` is the surrogate's RMSE in units of T on the SLMC
proposals (configurations the chain visited, labelled by the exact energy the
accept/reject step computed anyway).  Nothing here is shared between users.

    >>> c = Comparison(6, ("ed", "slmc"), "de_effective_translation", chains=2)
    >>> c.step(0.2); sorted(c.results)
    ['ed', 'slmc']
"""

from __future__ import annotations

import time

import numpy as np

from .chains import MCConfig, MCResult, advance, init_chains, temperature
from .surrogates import load_surrogate

__all__ = ["Comparison"]

HORIZON = 10 ** 6  # sweeps: a live run never "finishes"
KEEP_LABELS = 400  # SLMC proposals kept per chain for the surrogate's RMSE


class Comparison:
    """ED-Metropolis and/or SLMC chains advanced in equal time slices (see the module docstring).

    Args:
        L: lattice size.
        methods: subset of ("ed", "slmc").
        surrogate: a pretrained name, checkpoint path, or a model object (SLMC).
        chains: independent chains per method (>= 2 for R-hat).
        burn_in: sweeps discarded and used to tune the step size.
    """

    def __init__(self, L: int, methods=("ed", "slmc"), surrogate=None, *, chains: int = 2, seed: int = 0,
                 burn_in: int = 10):
        name = surrogate if isinstance(surrogate, str) else "session model"
        self.configs = {m: MCConfig(method=m, L=L, sweeps=HORIZON, burn_in=burn_in,
                                    surrogate=name if m == "slmc" else None, labels=m == "slmc") for m in methods}
        if not self.configs:
            raise ValueError("pick at least one method")
        self.surrogate = None
        if "slmc" in self.configs:
            self.surrogate = load_surrogate(surrogate, L, system=self.configs["slmc"].model())[0]
        self.states = {m: init_chains(cfg, chains, seed + k) for k, (m, cfg) in enumerate(self.configs.items())}
        self.L = L

    def step(self, seconds: float = 0.5) -> None:
        """Advance every method by about ``seconds`` of work (at least one unit of each chain)."""
        for m, cfg in self.configs.items():
            t0 = time.perf_counter()
            while True:
                for s in self.states[m]:
                    advance(s, cfg, 1, self.surrogate)
                    del s.labels[:-KEEP_LABELS]
                if time.perf_counter() - t0 >= seconds:
                    break

    @property
    def results(self) -> dict[str, MCResult]:
        return {m: MCResult(cfg, self.states[m]) for m, cfg in self.configs.items()}

    def traces(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """method -> (sweeps (n,), E per site of chain 0 (n,)), burn-in included."""
        out = {}
        for m, cfg in self.configs.items():
            e = np.array(self.states[m][0].trace_e) / self.L ** 2
            out[m] = (np.arange(1, len(e) + 1) / cfg.units_per_sweep, e)
        return out

    def table(self) -> list[dict]:
        rows = []
        for m, r in self.results.items():
            s = r.summary()
            rows.append({"method": {"ed": "ED-Metropolis", "slmc": "SLMC"}[m], **{k: s.get(k) for k in (
                "mean_per_site", "error_per_site", "acceptance", "tau_int", "ess", "rhat", "ess_per_second",
                "ed_calls", "seconds", "draws")}})
        return rows

    def agreement(self) -> dict | None:
        """Difference of <E>/site between the two methods in units of their combined error (None if n/a)."""
        rows = {r["method"]: r for r in self.table()}
        if len(rows) < 2 or any(r.get("error_per_site") is None for r in rows.values()):
            return None
        a, b = rows["ED-Metropolis"], rows["SLMC"]
        sigma = float(np.hypot(a["error_per_site"], b["error_per_site"]))
        diff = b["mean_per_site"] - a["mean_per_site"]
        return {"difference": diff, "sigma": sigma, "agree": abs(diff) <= 3 * sigma}

    def surrogate_rmse(self) -> float | None:
        """RMSE of E^s - E in units of T on the kept SLMC proposals (None before any)."""
        if self.surrogate is None:
            return None
        from .learn import surrogate_errors

        pairs = [p for s in self.states["slmc"] for p in s.labels]
        if not pairs:
            return None
        err = surrogate_errors(self.surrogate, np.stack([x for x, _ in pairs]), [e for _, e in pairs])
        return float(np.sqrt((err ** 2).mean()) / temperature(self.configs["slmc"].model()))

    def snapshot(self, method: str) -> np.ndarray:
        """Current spins (L, L, 3) of chain 0 of ``method``."""
        return self.states[method][0].spins
