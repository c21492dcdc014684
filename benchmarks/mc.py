"""Monte Carlo benchmark: effective samples of E per second, SLMC against exact ED-Metropolis, same run.

    python benchmarks/mc.py                 # L = 10 and L = 20 (~5 min on one core)
    python benchmarks/mc.py --scan          # also SLMC acceptance vs cumulative-update length and vs L

ESS/s = (effective samples of the exact energy over all chains) / (CPU seconds spent in the chains), so it
does not depend on how many chains run side by side.  At L = 10 both methods run complete chains (4 each,
random starts, burn-in discarded).  At L = 20 one ED-Metropolis sweep is 400 EDs (~1 min), so its cost per
sweep is measured in this run on 80 proposals from a thermal configuration and its tau is *assumed* equal to
the tau ED-Metropolis has at L = 10 in this same run (local-update tau grows with L, so the assumption favours
ED-Metropolis); SLMC runs real chains at L = 20.  Single-threaded BLAS (set before numpy loads).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

from efnn_core import data  # noqa: E402
from efnn_core.mc import MCConfig, load_surrogate, metropolis, run  # noqa: E402
from efnn_core.mc.chains import init_chains  # noqa: E402
from efnn_core.systems import DoubleExchange, uniform_sphere  # noqa: E402

SURROGATE = "de_effective_translation_mc"


def local_costs(L: int) -> dict:
    """Microseconds per local surrogate step (effective model, frozen EFNN) and per ED, at L."""
    rng = np.random.default_rng(0)
    s = uniform_sphere(rng, (L, L))
    out = {}
    for name in (SURROGATE, "de_efnn_c3_n3_mc" if "de_efnn_c3_n3_mc" in _pretrained() else "de_efnn_c3_n3"):
        sur, _ = load_surrogate(name, L, system=DoubleExchange())
        m = 2000 if sur.kind == "local" else 100
        best = np.inf
        for _ in range(3):
            t = s.copy()
            t0 = time.perf_counter()
            sur.sweep(t, rng.integers(0, L * L, m), rng.standard_normal((m, 3)), rng.random(m), 0.5, 0.1)
            best = min(best, (time.perf_counter() - t0) / m)
        out[name] = best * 1e6
    exact = metropolis.IncrementalDE(DoubleExchange(), s)
    n = 20 if L <= 10 else 3
    t0 = time.perf_counter()
    for _ in range(n):
        exact.energy()
    out["ED"] = (time.perf_counter() - t0) / n * 1e6
    return out


def _pretrained():
    from efnn_core import pretrained

    return pretrained.list()


def row(name, s):
    return (f"  {name:6s} <E>/site {s['mean_per_site']:.5f} +- {s['error_per_site']:.5f}  accept {s['acceptance']:.3f}"
            f"  tau {s['tau_int']:.2f} sweeps  ESS {s['ess']:.0f}  R-hat {s['rhat']:.3f}  {s['seconds']:.1f} s  "
            f"ESS/s {s['ess_per_second']:.3g}")


def bench_L10(chains: int, ed_sweeps: int, slmc_sweeps: int) -> dict:
    ed = run(MCConfig(method="ed", L=10, sweeps=ed_sweeps, burn_in=ed_sweeps // 4), chains=chains, seed=0).summary()
    sl = run(MCConfig(method="slmc", L=10, sweeps=slmc_sweeps, burn_in=40, surrogate=SURROGATE), chains=chains,
             seed=0).summary()
    print("L = 10, 4 chains each, random starts")
    print(row("ED", ed))
    print(row("SLMC", sl))
    sigma = np.hypot(ed["error_per_site"], sl["error_per_site"])
    diff = sl["mean_per_site"] - ed["mean_per_site"]
    print(f"  SLMC - ED = {diff:+.5f} per site ({abs(diff) / sigma:.1f} sigma); SLMC acceptance {sl['acceptance']:.3f}"
          f" (mismatch spread {sl['mismatch_std_T']:.2f} T); ESS/s ratio SLMC / ED = "
          f"{sl['ess_per_second'] / ed['ess_per_second']:.1f}x")
    return {"ed": ed, "slmc": sl}


def bench_L20(chains: int, slmc_sweeps: int, tau_ed: float) -> dict:
    de = DoubleExchange()
    start = data.load("de_thermal_L20_test")[0][0]
    state = init_chains(MCConfig(method="ed", L=20, sweeps=1), 1, 0, start=start)[0]
    state.step = 0.5
    n = 80  # 0.2 sweep, through the real sweep code
    t0 = time.perf_counter()
    metropolis.sweep(state, de, de.T, tune=False, proposals=n)
    per_sweep = (time.perf_counter() - t0) / n * 400
    ed_ess_s = 1.0 / (tau_ed * per_sweep)
    sl = run(MCConfig(method="slmc", L=20, sweeps=slmc_sweeps, burn_in=60, surrogate=SURROGATE), chains=chains,
             seed=0).summary()
    print("L = 20")
    print(f"  ED     one sweep = 400 EDs: {per_sweep:.1f} s (measured on {n} proposals in this run); tau assumed "
          f"{tau_ed:.2f} sweeps (ED-Metropolis at L = 10, this run) -> ESS/s {ed_ess_s:.3g}")
    print(row("SLMC", sl))
    print(f"  ESS/s ratio SLMC / ED = {sl['ess_per_second'] / ed_ess_s:.0f}x  (SLMC acceptance {sl['acceptance']:.3f},"
          f" mismatch spread {sl['mismatch_std_T']:.2f} T)")
    return {"ed_seconds_per_sweep": per_sweep, "ed_tau_assumed": tau_ed, "ed_ess_per_second": ed_ess_s, "slmc": sl}


def scan():
    """SLMC acceptance vs cumulative-update length m at L = 10, and vs L at m = L^2 (one chain each)."""
    print("acceptance vs cumulative-update length (L = 10, 1 chain, 40 burn-in + 80 updates each)")
    for m in (10, 30, 100, 300, 1000):
        s = run(MCConfig(method="slmc", L=10, sweeps=max(2, (120 * m) // 100), burn_in=(40 * m) // 100,
                         local_steps=m, surrogate=SURROGATE), chains=1, seed=5).summary()
        print(f"  m = {m:5d} ({m / 100:.1f} sweeps): acceptance {s['acceptance']:.3f}, "
              f"mismatch spread {s['mismatch_std_T']:.2f} T")
    print("acceptance vs L (m = L^2, 1 chain, 40 burn-in + 60 updates)")
    for L in (6, 8, 10, 14, 20):
        s = run(MCConfig(method="slmc", L=L, sweeps=100, burn_in=40, surrogate=SURROGATE), chains=1, seed=5).summary()
        print(f"  L = {L:3d}: acceptance {s['acceptance']:.3f}, mismatch spread {s['mismatch_std_T']:.2f} T, "
              f"{s['seconds'] / 100 * 1e3:.0f} ms per update")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--ed-sweeps", type=int, default=60)
    p.add_argument("--slmc-sweeps", type=int, default=400)
    p.add_argument("--slmc-sweeps-L20", type=int, default=200)
    p.add_argument("--tau-ed-L20", type=float, help="tau of ED-Metropolis at L = 20 from a recorded run "
                                                    "(default: the L = 10 value of this run)")
    p.add_argument("--only", choices=["10", "20"])
    p.add_argument("--scan", action="store_true")
    a = p.parse_args()
    print("local step costs at L = 10 (us):", {k: round(v, 1) for k, v in local_costs(10).items()})
    print("local step costs at L = 20 (us):", {k: round(v, 1) for k, v in local_costs(20).items()})
    tau = a.tau_ed_L20
    if a.only != "20":
        r10 = bench_L10(a.chains, a.ed_sweeps, a.slmc_sweeps)
        tau = tau or r10["ed"]["tau_int"]
    if a.only != "10":
        bench_L20(a.chains, a.slmc_sweeps_L20, tau or 3.0)
    if a.scan:
        scan()


if __name__ == "__main__":
    main()
