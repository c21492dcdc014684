"""Exact-diagonalization throughput: the project's ED against a plain numpy loop.

For L = 10, 20, 30, 40 this prints the wall time per configuration of

* baseline: a single-process loop of ``numpy.linalg.eigvalsh`` (default BLAS
  threads) plus the E_MC sum, timing only those (not building the matrices);
* ``ed.energies(..., precision="double")``: the exact reference (process pool,
  fastest complex128 driver per size), end to end including building the
  matrices and starting the pool;
* ``ed.energies(..., precision="single")``: complex64, what dataset generation
  uses where its error is recorded in the manifest,

with the speed-up of each over the baseline, all measured in this process.

    python benchmarks/ed.py            # ~2 minutes on 2 cores
    python benchmarks/ed.py --quick    # L = 10, 20 only
    python benchmarks/ed.py --drivers  # per-driver single-thread table (efnn_core/systems/_linalg.py)
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))  # run from anywhere

from efnn_core.solvers import ed
from efnn_core.systems import DoubleExchange

# Enough configurations that starting the worker pool (~0.5 s) is amortized as in real
# dataset generation (40,000 at L = 10), while the whole run stays near two minutes.
COUNTS = {10: 4000, 20: 100, 30: 8, 40: 4}


def plain_loop(de: DoubleExchange, spins) -> tuple[float, np.ndarray]:
    """Only eigvalsh + the E_MC sum are timed; building each matrix is not."""
    total, e = 0.0, []
    for s in spins:
        h = de.hamiltonian(s)
        t = time.perf_counter()
        e.append(de.energy_from_eigenvalues(np.linalg.eigvalsh(h)))
        total += time.perf_counter() - t
    return total / len(spins), np.array(e)


def project(de: DoubleExchange, spins, precision: str) -> tuple[float, np.ndarray]:
    t = time.perf_counter()
    e = ed.energies(de, spins, precision=precision)
    return (time.perf_counter() - t) / len(spins), e


def drivers_table(sizes):
    import os
    import subprocess
    import sys

    code = ("import time, numpy as np; from efnn_core.systems import _linalg; from efnn_core.systems import DoubleExchange;"
            "L={L}; h=DoubleExchange().hamiltonian(DoubleExchange().sample(L,1,0)[0]);"
            "r={{}}\n"
            "for p in ('double','single'):\n"
            " for d in _linalg.DRIVERS:\n"
            "  _linalg.eigvalsh(h, precision=p, driver=d); ts=[]\n"
            "  for _ in range(max(1, int(20/L**3*1000)//10)):\n"
            "   t=time.perf_counter(); _linalg.eigvalsh(h, precision=p, driver=d); ts.append(time.perf_counter()-t)\n"
            "  r[p+' '+d]=np.median(ts)\n"
            "print(L, '  '.join(f'{{k}} {{v*1e3:9.2f}} ms' for k,v in r.items()))")
    env = {**os.environ, **{v: "1" for v in ed.THREAD_VARS}}
    print("single-thread eigenvalues of one matrix (median):")
    for L in sizes:
        subprocess.run([sys.executable, "-c", code.format(L=L)], env=env, check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="only L = 10 and 20")
    p.add_argument("--drivers", action="store_true", help="print the per-driver table instead")
    a = p.parse_args()
    sizes = [10, 20] if a.quick else [10, 20, 30, 40]
    if a.drivers:
        drivers_table(sizes)
        return
    de = DoubleExchange()
    print(f"{ed.cpu_count()} cores; seconds per configuration (speed-up over the plain loop)")
    print(f"{'L':>3} {'n':>5} {'configs':>7} {'plain eigvalsh':>15} {'project double':>22} "
          f"{'project single':>22} {'single err/T':>12}")
    for L in sizes:
        spins = de.sample(L, COUNTS[L], np.random.default_rng(L))
        t0, e0 = plain_loop(de, spins)
        t1, e1 = project(de, spins, "double")
        t2, e2 = project(de, spins, "single")
        assert np.allclose(e0, e1, atol=1e-9), "project double ED disagrees with numpy"
        print(f"{L:3d} {2 * L * L:5d} {len(spins):7d} {t0:15.4g} {t1:13.4g} ({t0 / t1:4.2f}x) "
              f"{t2:13.4g} ({t0 / t2:4.2f}x) {np.abs(e2 - e0).max() / de.T:12.2g}", flush=True)


if __name__ == "__main__":
    main()
