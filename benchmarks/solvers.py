"""Physics baselines against ED: seconds per configuration and relative error, one run, one process.

For L = 10, 20, 30, 40 it prints, per method, the wall time per configuration,
the ratio to ``numpy.linalg.eigvalsh`` measured in the same run on the same
configurations (on prebuilt matrices: the baseline is not charged for
building them; every other method is charged for everything), the relative
error RMSE/|mean E| against float64 ED, the RMSE in units of T, and the
method's own error estimate.  At L = 64 and 100 (no ED) it prints times and
errors against a tight KPM reference.  Everything is ``efnn_core.frontier.frontier``.

    python benchmarks/solvers.py                 # ~3-5 minutes on 2 cores
    python benchmarks/solvers.py --sizes 10,20 --count 4
    python benchmarks/solvers.py --threads 1      # every method on one thread (BLAS, MKL, KPM)

On a busy machine multi-threaded LAPACK can slow down many-fold (its threads
wait on each other), so ``--threads 1`` gives the steadier ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if "--threads" in sys.argv:  # before numpy/torch start their thread pools
    n = sys.argv[sys.argv.index("--threads") + 1]
    os.environ.update(OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, MKL_NUM_THREADS=n)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from efnn_core.frontier import frontier

COUNTS = {10: 8, 20: 4, 30: 3, 40: 3, 64: 2, 100: 2}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,20,30,40,64,100")
    ap.add_argument("--count", type=int, default=None, help="configurations per size (default: COUNTS)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sw-max-L", type=int, default=64, help="largest L for SW (dense L^2 x L^2; default 64)")
    ap.add_argument("--threads", type=int, default=None, help="threads for every method (default: all cores)")
    a = ap.parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    print(f"threads: {a.threads or 'all'}; load average {os.getloadavg()[0]:.1f}")
    print("| L | method | s/config | eigvalsh / method | rel. error | RMSE / T | own estimate (rel.) |")
    print("|---|---|---|---|---|---|---|")
    for L in (int(x) for x in a.sizes.split(",")):
        pts = frontier(L, count=a.count or COUNTS.get(L, 2), seed=a.seed + L, workers=a.threads,
                       sw_max_L=a.sw_max_L)
        base = pts[0].seconds if pts[0].name.startswith("ED (numpy") else None
        for p in pts:
            ratio = f"{base / p.seconds:.3g}" if base else "—"
            est = "—" if p.estimate is None else f"{p.estimate:.1e}"
            err = "(reference)" if p is pts[0] else f"{p.rel_error:.2e}"
            print(f"| {L} | {p.name} | {p.seconds:.3g} | {ratio} | {err} | {p.rmse_T:.3g} | {est} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
