"""Scaling of ED labelling: local process pool against Dask at 1 and 2 workers, and Dask's per-task cost.

All in one process, same configurations, same run (shared machines are noisy: repeat and quote ranges):

* ``serial``: ``data.generate`` with ``workers=1`` (in this process, one BLAS thread) -- the baseline;
* ``pool 2``: the default local spawn pool of 2 processes (its start-up included, as a user pays it);
* ``dask 1`` / ``dask 2``: ``--scheduler local:1`` / ``local:2`` (a LocalCluster; its start-up and the
  workers' first import excluded, as on a running cluster);

each on L = 20 double-precision labels written as shards, with the sha256 of every result compared.
Parallel efficiency at 2 workers = T(1 worker) / (2 T(2 workers)).  Then the cost of one trivial
task (returns its argument) through ``map_tasks`` on Dask and on the local pool, and what share of a
default L = 20 shard (``data.shard_size(20)`` configurations) that is.

    python benchmarks/scale.py              # ~2 minutes on 2 cores
    python benchmarks/scale.py --repeat 1 --count 24
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from efnn_core import data, parallel  # noqa: E402
from efnn_core.solvers import ed  # noqa: E402
from efnn_core.systems import get  # noqa: E402


def identity(x):
    return x


def generate(tmp: Path, tag: str, *, L: int, count: int, chunk: int, executor=None, workers=None):
    t0 = time.perf_counter()
    m = data.generate("bench", L=L, count=count, seed=99, chunk=chunk, out_dir=tmp / tag, executor=executor,
                      workers=workers, progress=False)
    return time.perf_counter() - t0, m["sha256_energies"]


def per_task(executor, n: int, workers: int | None = None) -> float:
    t0 = time.perf_counter()
    out = list(parallel.map_tasks(identity, list(range(n)), executor=executor, workers=workers))
    assert len(out) == n
    return (time.perf_counter() - t0) / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--L", type=int, default=20)
    p.add_argument("--count", type=int, default=48, help="configurations per run (default 48)")
    p.add_argument("--chunk", type=int, default=6, help="configurations per shard (default 6: 8 shards)")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--trivial", type=int, default=400, help="trivial tasks for the overhead (default 400)")
    a = p.parse_args()
    print(f"load average (1, 5, 15 min) at the start: {os.getloadavg()} on {parallel.cpu_count()} cores")
    times: dict[str, list[float]] = {k: [] for k in ("serial", "pool 2", "dask 1", "dask 2")}
    shas = set()
    warm = (("double_exchange", {}, get("double_exchange").sample(4, 2, 0), "double"))
    with tempfile.TemporaryDirectory() as tmp, \
            parallel.executor_from("local:1") as d1, parallel.executor_from("local:2") as d2:
        tmp = Path(tmp)
        for ex in (d1, d2):  # the workers import efnn_core once, as a running cluster has
            list(parallel.map_tasks(ed.solve_chunk, [warm] * 4, executor=ex))
        for r in range(a.repeat):
            for key, kw in (("serial", dict(workers=1)), ("pool 2", dict(workers=2)),
                            ("dask 1", dict(executor=d1)), ("dask 2", dict(executor=d2))):
                s, sha = generate(tmp, f"{key.replace(' ', '')}{r}", L=a.L, count=a.count, chunk=a.chunk, **kw)
                times[key].append(s)
                shas.add(sha)
                print(f"run {r + 1}: {key:7s} {s:6.2f} s  {a.count / s:6.2f} config/s  sha256 {sha[:12]}", flush=True)
        trivial = {"dask 2": [per_task(d2, a.trivial) for _ in range(a.repeat)],
                   "pool 2": [per_task(None, a.trivial, workers=2) for _ in range(a.repeat)]}
    print(f"\nload average (1, 5, 15 min) at the end: {os.getloadavg()} on {parallel.cpu_count()} cores")
    print(f"L = {a.L}, {a.count} configurations in shards of {a.chunk}, {a.repeat} repeat(s); "
          f"sha256 identical across all runs: {len(shas) == 1}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"  {k:7s} {min(v):6.2f}-{max(v):6.2f} s   {a.count / med[k]:6.2f} config/s   "
              f"speed-up vs serial {med['serial'] / med[k]:.2f}x")
    effs = lambda one, two: [t1 / (2 * t2) for t1, t2 in zip(times[one], times[two])]  # noqa: E731
    print(f"  parallel efficiency at 2 workers: pool {min(effs('serial', 'pool 2')):.2f}-"
          f"{max(effs('serial', 'pool 2')):.2f}, dask {min(effs('dask 1', 'dask 2')):.2f}-"
          f"{max(effs('dask 1', 'dask 2')):.2f} (dask 2 vs serial: "
          f"{min(effs('serial', 'dask 2')):.2f}-{max(effs('serial', 'dask 2')):.2f})")
    over = [(d - s) / s for d, s in zip(times["dask 1"], times["serial"])]
    print(f"  dask 1 worker vs serial: {min(over):+.1%} to {max(over):+.1%} of the task time "
          f"({a.chunk}-configuration shards)")
    per_config = med["serial"] / a.count
    shard = data.shard_size(a.L)
    print("  (min-max over repeats; the local pool's figure includes starting its 2 processes)")
    for k, v in trivial.items():
        print(f"  trivial task on {k}: {min(v) * 1e3:.2f}-{max(v) * 1e3:.2f} ms per task = "
              f"{max(v) / (shard * per_config):.2%} of a default L = {a.L} shard "
              f"({shard} configurations, {shard * per_config:.1f} s)")


if __name__ == "__main__":
    main()
