"""Scaling of ED labelling: local process pool against Dask at 1 and 2 workers, and Dask's per-task cost.

All in one process, the same L = 20 complex128 shards (``ed.solve_chunk`` tasks):

* ``serial``: ``map_tasks`` with ``workers=1`` (in this process, one BLAS thread) -- the baseline;
* ``pool 2``: the default local spawn pool of 2 processes (its start-up included, as a user pays it
  once per command);
* ``warm 2``: a pool of 2 processes started and warmed before the run (a long generation's steady state);
* ``dask 1`` / ``dask 2``: ``local:1`` / ``local:2`` LocalClusters (their start-up and the workers'
  first import excluded, as on a running cluster).

Each executor exists only for its own run (started and warmed untimed, closed after it), so no idle
cluster's heartbeats and monitors share the cores with the run being timed.  This host's speed drifts by
tens of percent within a minute, so each pair is timed ABBA (1 worker, 2 workers, 2 workers, 1 worker)
and its efficiency is T1 / (2 T2) from the two runs of each: a linear drift cancels.

Per run: wall time, and how busy the workers were (summed in-task seconds / (workers x wall)), which
other jobs on the machine slow down but do not make idle; for one Dask worker, 1 - busy is Dask's own
overhead on the task path.  And the CPU that this process and its children used outside the tasks, as a
share of the cores: what a scheduler takes from the tasks' cores (with ``local:N`` the scheduler and the
nannies live in this process).  Then the cost of a trivial task (returns its argument) through
``map_tasks`` on Dask and on the local pool, as a share of a default L = 20 shard (``data.shard_size(20)`` configurations), and one
end-to-end ``data.generate`` per backend; every sha256 is compared.

    python benchmarks/scale.py              # ~8 minutes on 2 idle cores
    python benchmarks/scale.py --repeat 2 --count 24
    python benchmarks/scale.py --raw --repeat 3   # what the hardware allows: two labelling processes at once
    OMP_NUM_THREADS=1 python benchmarks/scale.py --memory 40 --memory-count 3   # peak RSS of one task
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from efnn_core import data, parallel
from efnn_core.solvers import ed
from efnn_core.systems import get


def identity(x):
    return x


def timed_shard(task):
    """One shard's labels, and the wall and CPU seconds the worker spent computing them."""
    t0, c0 = time.perf_counter(), time.process_time()
    return ed.solve_chunk(task), time.perf_counter() - t0, time.process_time() - c0


def cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) so far of this process and each of its descendants, by pid."""
    import psutil  # a dependency of distributed

    out = {}
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            out[proc.pid] = t.user + t.system
        except psutil.Error:  # ended meanwhile
            pass
    return out


def label(tasks, *, executor=None, workers=None) -> tuple[float, float, str, float]:
    """(wall seconds, summed in-task seconds, sha256 of the labels in order, CPU seconds spent outside the
    tasks by this process and its descendants) of one labelling run.  That last figure is what a scheduler
    takes from the cores beside the tasks (heartbeats, health checks, result traffic), which in-task time
    cannot show; processes that end within the run (a pool started for it) are not counted."""
    before = cpu_seconds()
    t0 = time.perf_counter()
    out = dict(parallel.map_tasks(timed_shard, tasks, executor=executor, workers=workers))
    wall = time.perf_counter() - t0
    after = cpu_seconds()
    labels = np.concatenate([out[i][0] for i in range(len(tasks))])
    used = sum(v - before.get(pid, 0.0) for pid, v in after.items())
    return wall, sum(v[1] for v in out.values()), data.sha256(labels), used - sum(v[2] for v in out.values())


def per_task(executor, n: int, workers: int | None = None) -> float:
    t0 = time.perf_counter()
    out = list(parallel.map_tasks(identity, list(range(n)), executor=executor, workers=workers))
    assert len(out) == n
    return (time.perf_counter() - t0) / n


def memory(L: int, k: int) -> None:
    """Peak RSS and CPU seconds of one ED task of k configurations at L, in this (fresh) process."""
    import resource

    spins = get("double_exchange").sample(L, k, 0)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    ed.solve_chunk(("double_exchange", {}, spins, "double"))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"L = {L}: {k} configuration(s), {ed.batch_size(L)} matrices at once; peak RSS {peak:.0f} MB (before the "
          f"task {base:.0f} MB); {cpu / k:.2f} CPU s and {wall / k:.2f} wall s per configuration")


def raw_loop(tasks) -> float:
    """Seconds to label ``tasks`` one after another in this (worker) process, after one warm-up shard."""
    ed.solve_chunk(tasks[0])
    t0 = time.perf_counter()
    for t in tasks:
        ed.solve_chunk(t)
    return time.perf_counter() - t0


def raw_pair(tasks, repeat: int) -> None:
    """What the hardware allows: one process labelling all shards alone, then two processes each labelling
    all of them at the same time (no scheduler, no result traffic); efficiency = alone / slower of the pair."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(2) as pool:
        for r in range(repeat):
            one = pool.map(raw_loop, [tasks])[0]
            two = pool.map(raw_loop, [tasks, tasks])
            print(f"raw run {r + 1}: alone {one:.2f} s, two at once {two[0]:.2f} / {two[1]:.2f} s, "
                  f"efficiency {one / max(two):.2f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--L", type=int, default=20)
    p.add_argument("--count", type=int, default=96, help="configurations per run (default 96)")
    p.add_argument("--chunk", type=int, default=6, help="configurations per shard (default 6: 16 shards)")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--trivial", type=int, default=400, help="trivial tasks for the overhead (default 400)")
    p.add_argument("--raw", action="store_true", help="only: two processes labelling at once, no scheduler")
    p.add_argument("--memory", type=int, metavar="L", help="only: peak memory of one ED task at this L")
    p.add_argument("--memory-count", type=int, default=1, help="configurations in that task (default 1)")
    a = p.parse_args()
    if a.memory:
        return memory(a.memory, a.memory_count)
    print(f"load average (1, 5, 15 min) at the start: {os.getloadavg()} on {parallel.cpu_count()} cores")
    modes = {"serial": (1, {"workers": 1}), "pool 2": (2, {"workers": 2}), "warm 2": (2, {"workers": 2}), "dask 1": (1, {}),
             "dask 2": (2, {})}
    wall: dict[str, list[float]] = {k: [] for k in modes}
    busy: dict[str, list[float]] = {k: [] for k in modes}
    outside: dict[str, list[float]] = {k: [] for k in modes}  # CPU outside tasks / (cores x wall)
    shas = set()
    spins = get("double_exchange").sample(a.L, a.count, 99)
    tasks = [("double_exchange", {}, spins[i:i + a.chunk], "double") for i in range(0, a.count, a.chunk)]
    cores = parallel.cpu_count()
    if a.raw:
        return raw_pair(tasks[: max(2, len(tasks) // 2)], a.repeat)

    def run(key: str, r: int) -> None:
        n, kw = modes[key]
        with contextlib.ExitStack() as stack:
            if key.startswith(("warm", "dask")):  # started, and its workers import efnn_core, untimed
                ex = stack.enter_context(parallel.local_pool(2) if key == "warm 2"
                                         else parallel.executor_from(f"local:{n}"))
                list(parallel.map_tasks(timed_shard, tasks[:2] * n, executor=ex))
                kw = {**kw, "executor": ex}
            w, b, sha, cpu_out = label(tasks, **kw)
        wall[key].append(w)
        busy[key].append(b / (n * w))
        shas.add(sha)
        out = ""
        if key != "pool 2":  # its processes end inside the run, their CPU with them
            outside[key].append(max(0.0, cpu_out) / (cores * w))
            out = f"  CPU outside tasks {outside[key][-1]:5.1%} of {cores} cores"
        print(f"run {r + 1}: {key:7s} {w:6.2f} s  {a.count / w:6.2f} config/s  workers busy {b / (n * w):5.1%}"
              f"{out}  sha256 {sha[:12]}  load {os.getloadavg()[0]:.1f}", flush=True)

    for r in range(a.repeat):
        for key in ("serial", "warm 2", "warm 2", "serial", "pool 2", "dask 1", "dask 2", "dask 2", "dask 1"):
            run(key, r)
    with parallel.executor_from("local:2") as d2:
        list(parallel.map_tasks(identity, list(range(8)), executor=d2))
        trivial = {"dask 2": [per_task(d2, a.trivial) for _ in range(a.repeat)],
                   "pool 2": [per_task(None, a.trivial, workers=2) for _ in range(a.repeat)]}
        print("\nend-to-end data.generate, same configurations:", flush=True)
        with tempfile.TemporaryDirectory() as tmp, parallel.executor_from("local:1") as d1, \
                parallel.local_pool(2) as warm:
            execs = {"warm 2": {"executor": warm}, "dask 1": {"executor": d1}, "dask 2": {"executor": d2}}
            for key, (_, kw) in modes.items():
                m = data.generate("bench", L=a.L, count=a.count, seed=99, chunk=a.chunk, out_dir=Path(tmp) / key,
                                  progress=False, **{**kw, **execs.get(key, {})})
                shas.add(m["sha256_energies"])
                print(f"  {key:7s} {m['generation_seconds']:6.2f} s  sha256 {m['sha256_energies'][:12]}", flush=True)
    print(f"\nload average (1, 5, 15 min) at the end: {os.getloadavg()} on {parallel.cpu_count()} cores")
    print(f"L = {a.L}, {a.count} configurations in shards of {a.chunk}, {a.repeat} repeat(s); "
          f"sha256 identical across all runs and data.generate: {len(shas) == 1}")
    med = {k: statistics.median(v) for k, v in wall.items()}
    for k, v in wall.items():
        out = f"   CPU outside tasks {min(outside[k]):.1%}-{max(outside[k]):.1%} of the cores" if outside[k] else ""
        print(f"  {k:7s} {min(v):6.2f}-{max(v):6.2f} s   {a.count / med[k]:6.2f} config/s (median)   "
              f"workers busy {min(busy[k]):.1%}-{max(busy[k]):.1%}{out}")
    def eff(one: str, two: str) -> list[float]:
        """T1 / (2 T2) per repeat: ABBA pairs (two runs of each per repeat) where both were run twice."""
        k1, k2 = len(wall[one]) // a.repeat, len(wall[two]) // a.repeat
        return [statistics.mean(wall[one][r * k1:(r + 1) * k1]) / (2 * statistics.mean(wall[two][r * k2:(r + 1) * k2]))
                for r in range(a.repeat)]

    pairs = {"pool (start-up included)": ("serial", "pool 2"), "warm pool": ("serial", "warm 2"),
             "dask": ("dask 1", "dask 2")}
    print("  parallel efficiency T1 / (2 T2) at 2 workers: per repeat (ABBA means), their median, [from the fastest "
          "runs]:")
    for name, (one, two) in pairs.items():
        e = eff(one, two)
        print(f"    {name:25s} {min(e):.2f}-{max(e):.2f}   {statistics.median(e):.2f}   "
              f"[{min(wall[one]) / (2 * min(wall[two])):.2f}]")
    over = [1 - x for x in busy["dask 1"]]
    print(f"  dask overhead (1 worker: wall minus in-task time): {min(over):.1%}-{max(over):.1%} of the wall time "
          f"({a.chunk}-configuration shards)")
    print("  (the local pool's figures include starting its 2 processes, as a user pays it)")
    per_config = min(wall["serial"]) / a.count
    shard = data.shard_size(a.L)
    for k, v in trivial.items():
        print(f"  trivial task on {k}: {min(v) * 1e3:.2f}-{max(v) * 1e3:.2f} ms per task = "
              f"{max(v) / (shard * per_config):.2%} of a default L = {a.L} shard "
              f"({shard} configurations, {shard * per_config:.1f} s)")


if __name__ == "__main__":
    main()
