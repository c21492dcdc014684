"""Recipes for the shipped pretrained models, run through the project's own ``train`` CLI.

    python -m efnn_core pretrain --list           # the recipes and whether each exists
    python -m efnn_core pretrain --jobs 2         # train the missing ones (resumable)
    python -m efnn_core pretrain --only de_efnn   # names containing a substring (comma: any of several)

Every model is one ``python -m efnn_core train ... --out pretrained/<name>``
command (recorded in its JSON metadata), run in its own single-threaded
process so that ``--jobs`` models train side by side on separate cores.  A
finished model is skipped on a rerun, so an interrupted session loses at most
the models in flight.  Logs go to ``runs/pretrain/<name>.log``.

Budgets (CPU, float32, same for every architecture of a system):

* double exchange, L = 10: 38,000 training configurations (2,000 held out to
  pick the best epoch), the shipped de_L10_test as test set; Adam, cosine
  learning rate from 3e-3, batch 256, ``DE_EPOCHS`` epochs;
* 3-spin: 15,000 of the authors' 16,000 training samples (1,000 held out),
  width 120 (binary also 30 and 60), Adam, cosine from 1e-3, batch 256, no weight decay,
  ``SPIN_EPOCHS`` epochs (continuous, width 150, 3 layers: also EFNN and DNN
  with 10x that, the paper's best configuration, and those two continued by
  1,000 full-batch L-BFGS iterations, ``--init`` from the Adam checkpoint).

The authors trained far longer (1,000 DE epochs on 160k samples; 8,000-16,000
3-spin epochs): see docs/RESULTS.md for what that changes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .nets import ARCHITECTURES
from .parallel import THREAD_VARS, describe, map_tasks
from .pretrained import PRETRAINED_DIR

DE_EPOCHS = 40
SPIN_EPOCHS = 150
SPIN_WIDTH = 120
LBFGS_EPOCHS = 100  # continuous 3-spin finish: 100 x 10 full-batch L-BFGS iterations
SPIN_WIDTHS = (30, 60, 120)  # binary 3-spin: the width sweep of Fig. 2(b)
ARCHS = tuple(ARCHITECTURES)


def recipes() -> dict[str, list[str]]:
    """name -> argument list of ``python -m efnn_core`` (without --out)."""
    out = {}
    de = ["train", "--system", "double_exchange", "--epochs", str(DE_EPOCHS), "--lr", "3e-3", "--schedule", "cosine",
          "--batch-size", "256", "--validation", "2000", "--threads", "1", "--seed", "0", "--quiet"]
    for arch in ARCHS:
        for n in (1, 2, 3):
            out[f"de_{arch}_c3_n{n}"] = [*de, "--arch", arch, "--channels", "3", "--layers", str(n)]
    for c in (1, 5):
        out[f"de_efnn_c{c}_n2"] = [*de, "--arch", "efnn", "--channels", str(c), "--layers", "2"]
    eff = ["fit-effective", "--validation", "2000"]
    out["de_effective_translation"] = [*eff, "--kind", "translation"]
    out["de_effective_tiled2"] = [*eff, "--kind", "tiled", "--tile", "2"]
    # Monte Carlo surrogates, fitted / fine-tuned on thermal configurations (efnn_core.mc.thermal), tested on
    # held-out chains
    out["de_effective_translation_mc"] = ["fit-effective", "--kind", "translation", "--train-dataset",
                                          "de_thermal_L10_train", "--test-dataset", "de_thermal_L10_test"]
    out["de_efnn_c3_n3_mc"] = ["train", "--init", "de_efnn_c3_n3", "--train-dataset", "de_thermal_L10_train_large",
                               "--test-dataset", "de_thermal_L10_test", "--validation", "600", "--epochs", "120",
                               "--lr", "1e-3", "--schedule", "cosine", "--batch-size", "128", "--threads", "1",
                               "--seed", "0", "--quiet"]
    for kind in ("binary", "continuous"):
        spin = ["train", "--system", f"three_spin_{kind}", "--epochs", str(SPIN_EPOCHS), "--lr", "1e-3",
                "--schedule", "cosine", "--batch-size", "256", "--weight-decay", "0", "--dtype", "float32",
                "--validation", "1000", "--threads", "1", "--seed", "0", "--quiet"]
        widths = SPIN_WIDTHS if kind == "binary" else (SPIN_WIDTH,)  # Fig. 2(b) is against width
        for arch in ARCHS:
            for k in (1, 2, 3):
                for w in widths:
                    out[f"spin_{kind}_{arch}_w{w}_l{k}"] = [*spin, "--arch", arch, "--width", str(w),
                                                            "--layers", str(k)]
        if kind == "continuous":  # the paper's best configuration with a 10x budget, EFNN against DNN
            for arch in ("efnn", "dnn"):
                long = [*spin, "--arch", arch, "--width", "150", "--layers", "3"]
                long[long.index("--epochs") + 1] = str(10 * SPIN_EPOCHS)
                out[f"spin_continuous_{arch}_w150_l3_e{10 * SPIN_EPOCHS}"] = long
            for arch in ("efnn", "dnn"):  # ... then full-batch L-BFGS from there (Adam stalls at ~0.1)
                out[f"spin_continuous_{arch}_w150_l3_lbfgs"] = [
                    "train", "--system", "three_spin_continuous", "--init",
                    f"spin_continuous_{arch}_w150_l3_e{10 * SPIN_EPOCHS}", "--optimizer", "lbfgs",
                    "--epochs", str(LBFGS_EPOCHS), "--batch-size", "16000", "--weight-decay", "0",
                    "--dtype", "float32", "--validation", "1000", "--threads", "1", "--seed", "0", "--quiet"]
    return out


def _parent(args: list[str]) -> str | None:
    """The pretrained model a recipe starts from (``--init``), if any."""
    return args[args.index("--init") + 1] if "--init" in args else None


def _done(name: str, directory: Path) -> bool:
    return (directory / f"{name}.json").is_file() and (directory / f"{name}.safetensors").is_file()


def _train_recipe(task) -> tuple[int, float]:
    """Worker task: run one recipe as ``python -m efnn_core ...`` (one thread); (exit status, seconds)."""
    name, args, directory, logs = task
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}}
    cmd = [sys.executable, "-m", "efnn_core", *args, "--out", str(Path(directory) / name)]
    Path(logs).mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(Path(logs) / f"{name}.log", "w") as log:
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    return code, time.time() - t0


def run(only: str | None = None, jobs: int = 1, directory: Path = PRETRAINED_DIR,
        logs: Path = Path("runs/pretrain"), executor=None) -> int:
    """Train the missing recipes (names containing any of the comma-separated ``only``), ``jobs`` at a
    time on this machine, or as tasks of ``executor`` (e.g. ``parallel.executor_from("tcp://...")``:
    then ``directory`` and ``logs`` must be on a file system the workers share).  A recipe that
    starts from another (``--init``) runs in a later wave than its parent.  1 if any failed."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"--jobs must be a whole number >= 1, got {jobs!r}")
    wanted = [w for w in (only or "").split(",") if w]
    todo = [(n, r) for n, r in recipes().items()
            if (not wanted or any(w in n for w in wanted)) and not _done(n, directory)]
    directory.mkdir(parents=True, exist_ok=True)
    failed = []
    where = f"{jobs} at a time" if executor is None else describe(executor)
    print(f"{len(todo)} model(s) to train, {where}", flush=True)
    with contextlib.ExitStack() as stack:
        if executor is None:  # each task is a subprocess: threads are enough to drive them
            executor = stack.enter_context(ThreadPoolExecutor(jobs))
        while todo:
            names = {n for n, _ in todo}
            wave = [t for t in todo if _parent(t[1]) not in names]  # parents first
            if not wave:
                raise ValueError(f"recipes {[n for n, _ in todo]} start from each other (--init cycle)")
            todo = [t for t in todo if t not in wave]
            tasks = [(n, r, str(directory.resolve()), str(logs.resolve())) for n, r in wave]
            for n, _ in wave:
                print(f"queued {n}", flush=True)
            for k, (code, seconds) in map_tasks(_train_recipe, tasks, executor=executor, window=len(tasks)):
                name = wave[k][0]
                status = "done" if code == 0 else f"FAILED ({code}; see {logs / name}.log)"
                if code:
                    failed.append(name)
                print(f"{status:6s} {name} in {seconds:.0f} s", flush=True)
    return 1 if failed else 0
