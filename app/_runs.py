"""Training runs for one browser session: a manager object that lives in ``st.session_state``.

The worker thread only touches its own ``TrainingRun`` objects (a list of events
behind a lock, a status string, the trained model); it never calls ``st.*``.
The page polls ``RunManager.snapshot()`` from an ``st.fragment(run_every=...)``.
Each session has its own manager, so two users training at once never see or
stop each other's runs.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from efnn_core.data import DEFAULT_SETS

# system -> (train set, test set, family, temperature)
SYSTEMS = {
    "double_exchange": (*DEFAULT_SETS["double_exchange"], "lattice", 0.1),
    "three_spin_binary": (*DEFAULT_SETS["three_spin_binary"], "dense", None),
    "three_spin_continuous": (*DEFAULT_SETS["three_spin_continuous"], "dense", None),
}
LABELS = {"double_exchange": "Double exchange, 10×10 (lattice nets)",
          "three_spin_binary": "3-spin, binary spins (dense nets)",
          "three_spin_continuous": "3-spin, continuous spins (dense nets)"}


@dataclass
class RunSpec:
    """What to train: one architecture on one system."""

    name: str
    system: str
    arch: str
    net: dict                 # build() keyword arguments: family + channels/layers or width/layers
    train_size: int
    test_size: int
    train: dict               # TrainConfig keyword arguments


@dataclass
class TrainingRun:
    spec: RunSpec
    status: str = "queued"    # queued, running, done, cancelled, failed
    error: str | None = None
    events: list = field(default_factory=list)
    model: Any = None
    result: dict | None = None
    predictions: np.ndarray | None = None
    labels: np.ndarray | None = None
    n_params: int | None = None
    started: float | None = None
    finished: float | None = None
    registered: bool = False
    _trainer: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def push(self, event: dict) -> None:
        with self._lock:
            self.events.append(event)

    def history(self) -> dict[str, list]:
        """Events as columns (epoch, train_loss, test_mse, rel_error, ...), for plotting."""
        with self._lock:
            evs = list(self.events)
        keys = ("progress", "train_loss", "train_rmse", "test_rmse", "rel_error", "rmse_per_site", "r2", "lr", "elapsed")
        out = {k: [e.get(k) for e in evs if e.get("kind") != "final"] for k in keys}
        out["epoch"] = out.pop("progress")
        out["test_mse"] = [None if v is None else v * v for v in out["test_rmse"]]
        out["train_mse"] = [None if v is None or not math.isfinite(v) else v * v for v in out["train_rmse"]]
        return out

    def last(self) -> dict | None:
        with self._lock:
            return dict(self.events[-1]) if self.events else None


def predict(model, spins, *, batch_size: int = 256) -> np.ndarray:
    """Energies (B,) float64 from a torch energy model, in the model's dtype, under ``torch.no_grad``.

    (Not ``inference_mode``: tensors that the networks cache on first use, e.g. shift matrices per
    lattice size, would then be inference tensors and break a later training run in this process.)
    """
    import torch

    params = list(model.parameters())
    dtype = params[0].dtype if params else torch.float32
    device = params[0].device if params else torch.device("cpu")
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(spins))
            for i in range(0, len(x), batch_size):
                out.append(model(x[i:i + batch_size].to(device=device, dtype=dtype)).to("cpu", torch.float64))
    finally:
        model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0)


class RunManager:
    """All training runs of one browser session, trained one after another on a worker thread."""

    def __init__(self):
        self.runs: dict[str, TrainingRun] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, specs: list[RunSpec], data: dict[str, tuple]) -> list[str]:
        """Queue ``specs`` and start the worker; ``data`` maps dataset name -> (spins, energies)."""
        if self.active:
            raise RuntimeError("a training run is already in progress in this session; stop it first")
        if not specs:
            raise ValueError("choose at least one architecture to train")
        self._stop.clear()
        runs = []
        for s in specs:
            run = TrainingRun(s)
            self.runs[s.name] = run
            runs.append(run)
        self._thread = threading.Thread(target=self._work, args=(runs, data), daemon=True,
                                        name=f"efnn-train-{runs[0].spec.name}")
        self._thread.start()
        from app.jobs import end_with_session  # a reload, closed tab or expired session stops these runs

        end_with_session(self.stop)
        return [r.spec.name for r in runs]

    def stop(self) -> None:
        """Cancel the running run (it keeps its best weights) and skip the queued ones."""
        self._stop.set()
        for r in self.runs.values():
            if r._trainer is not None and r.status == "running":
                r._trainer.cancel()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def clear_finished(self) -> None:
        for k in [k for k, r in self.runs.items() if r.status not in ("queued", "running")]:
            del self.runs[k]

    # -------------------------------------------------------------- worker thread (no st.* here)
    def _work(self, runs: list[TrainingRun], data: dict[str, tuple]) -> None:
        for run in runs:
            if self._stop.is_set():
                run.status = "cancelled"
                run.error = "stopped before it started"
                continue
            run.status, run.started = "running", time.time()
            try:
                self._train_one(run, data)
            except Exception as err:  # noqa: BLE001 - reported on the page, never raised into Streamlit
                run.status, run.error = "failed", f"{type(err).__name__}: {err}"
            finally:
                run.finished = time.time()
                run._trainer = None

    def _train_one(self, run: TrainingRun, data: dict[str, tuple]) -> None:
        from efnn_core import nets
        from efnn_core.training import TrainConfig, Trainer, seeded

        spec = run.spec
        train_name, test_name, family, temperature = SYSTEMS[spec.system]
        Xtr, Ytr = data[train_name]
        Xte, Yte = data[test_name]
        # private, writable copies in the training dtype (the shared datasets are read-only)
        dtype = np.float32 if spec.train.get("dtype", "float32") == "float32" else np.float64
        Xtr, Ytr = np.array(Xtr[:spec.train_size], dtype=dtype), np.array(Ytr[:spec.train_size])
        Xte, Yte = np.array(Xte[:spec.test_size], dtype=dtype), np.array(Yte[:spec.test_size])
        cfg = TrainConfig(**{"threads": 1, **spec.train})  # one core per run: the pages stay responsive
        with seeded(cfg.seed):
            net = nets.build(spec.arch, **spec.net)
        run.n_params = int(net.num_parameters()) if hasattr(net, "num_parameters") else \
            sum(p.numel() for p in net.parameters())
        trainer = Trainer(net, cfg, train=(Xtr, Ytr), test=(Xte, Yte), temperature=temperature)
        run._trainer = trainer
        if self._stop.is_set():
            trainer.cancel()
        for ev in trainer.run():
            run.push(ev.as_dict())
        model = trainer.model
        model.eval()
        run.predictions = predict(model, Xte)
        run.labels = np.asarray(Yte, dtype=np.float64)
        run.result = dict(trainer.result or {})
        run.model = model
        run.status = "cancelled" if run.result.get("cancelled") else "done"

    # -------------------------------------------------------------- read side (script thread)
    def table(self) -> list[dict]:
        rows = []
        for name, r in self.runs.items():
            last = r.last() or {}
            res = r.result or {}
            rows.append({
                "run": name, "arch": r.spec.arch, "parameters": r.n_params,
                "status": "stopped (best weights kept)" if r.status == "cancelled" else r.status,
                "epochs": last.get("epoch"), "time (s)": round(last.get("elapsed") or 0.0, 1),
                "test RMSE": res.get("rmse", last.get("test_rmse")),
                "relative error": res.get("rel_error", last.get("rel_error")),
                "RMSE / site": res.get("rmse_per_site", last.get("rmse_per_site")),
                "R²": res.get("r2", last.get("r2")),
            })
        return rows

    def metrics_csv(self) -> bytes:
        buf = io.StringIO()
        fields = ["run", "arch", "system", "kind", "epoch", "step", "progress", "train_loss", "train_rmse", "test_rmse",
                  "test_rmse_T", "rel_error", "rmse_per_site", "r2", "mae", "lr", "elapsed", "best", "done", "cancelled"]
        w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for name, r in self.runs.items():
            with r._lock:
                evs = list(r.events)
            for e in evs:
                w.writerow({"run": name, "arch": r.spec.arch, "system": r.spec.system, **e})
        return buf.getvalue().encode()


def checkpoint_bytes(run: TrainingRun) -> tuple[bytes, bytes]:
    """(safetensors, json) of a finished run, written by ``efnn_core.checkpoint.save`` to a temp dir."""
    from efnn_core import checkpoint

    train_name, test_name, _, _ = SYSTEMS[run.spec.system]
    with tempfile.TemporaryDirectory() as d:
        stem = Path(d) / run.spec.name
        checkpoint.save(stem, run.model, system=run.spec.system, dataset={"train": train_name, "test": test_name},
                        metrics=run.result, training=run.spec.train,
                        extra={"train_size": run.spec.train_size, "test_size": run.spec.test_size,
                               "trained_in": "EFNN Explorer"})
        w, j = checkpoint.paths(stem)
        return w.read_bytes(), j.read_bytes()


def session_meta(run: TrainingRun) -> dict:
    """Metadata for a session model, shaped like a checkpoint's (system, model.config, metrics, training)."""
    net = getattr(run.model, "net", run.model)
    cfg = getattr(net, "config", None)
    return {"system": run.spec.system, "model": {"config": asdict(cfg) if is_dataclass(cfg) else dict(run.spec.net,
                                                                                                       arch=run.spec.arch)},
            "metrics": run.result, "training": run.spec.train,
            "dataset": {"train": SYSTEMS[run.spec.system][0], "test": SYSTEMS[run.spec.system][1]},
            "train_size": run.spec.train_size}
