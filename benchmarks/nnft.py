"""Neuron-evaluation throughput of the field-theory-on-neurons ensembles (efnn_core.nnft).

A "neuron evaluation" is one neuron A a_i w(b_i) cos(b_i.x + c_i) at one point x (or, for the box
spectrum, one neuron's exact contribution to phi~(k)).  Prints, for each path, the median over repeats of

* ``field_on_line``: direct evaluation phi(x) = sum_i amp_i cos(b_i x + c_i) on n_x points (continuum, d = 1, 2),
  sampling included; evaluations = M * N * n_x;
* ``sample_box_spectrum``: sampling + exact phi~(k) of box networks; evaluations = M * N;
* ``box_field_grid``: exact phi(x) on the whole FFT grid of the box from the spectrum; equivalent
  evaluations = M * N * n_grid^d,

against the project goal of 1e7 neuron evaluations per second on 2 cores.

    python benchmarks/nnft.py           # ~15 s
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))  # run from anywhere

from efnn_core import nnft

GOAL = 1e7


def _rate(fn, evals, repeats=5):
    fn()                                                     # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return evals / statistics.median(ts)


def main():
    torch.set_num_threads(2)
    rows = []
    with torch.inference_mode():
        for d, alpha in [(1, -1), (1, 0), (2, -1)]:
            cfg = nnft.NeuronFieldConfig(d=d, N=100, cutoff=10.0, alpha=alpha, box=False)
            M, n_x = 2_000, 64
            x = np.linspace(0.0, 6.0, n_x)
            r = _rate(lambda: nnft.field_on_line(nnft.sample_neurons(cfg, M, 0), x), M * cfg.N * n_x)
            rows.append((f"field_on_line      d={d} alpha={alpha:+d} N=100 n_x={n_x}", r))
        for d, alpha, L, lam in [(1, -1, 20.0, 5.0), (1, 0, 20.0, 5.0), (2, -1, 10.0, 5.0)]:
            cfg = nnft.NeuronFieldConfig(d=d, N=100, cutoff=lam, L=L, alpha=alpha)
            M = 20_000
            r = _rate(lambda: nnft.sample_box_spectrum(cfg, M, 0), M * cfg.N)
            rows.append((f"sample_box_spectrum d={d} alpha={alpha:+d} N=100 |K|={cfg.modes.size}", r))
            spec = nnft.sample_box_spectrum(cfg, M, 0)
            ng = cfg.modes.grid_size()
            r = _rate(lambda: nnft.box_field_grid(cfg, spec), M * cfg.N * ng ** d)
            rows.append((f"box_field_grid      d={d} alpha={alpha:+d} N=100 grid={ng}^{d}", r))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; goal {GOAL:.0e} neuron evaluations/s")
    for name, r in rows:
        print(f"  {name:<52s} {r:10.3e} /s  {'ok' if r >= GOAL else 'BELOW GOAL'}")


if __name__ == "__main__":
    main()
