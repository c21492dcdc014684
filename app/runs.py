"""Training runs of one browser session, driven like TF Playground: play, pause, one epoch or one
batch at a time, reset, continue from the current weights.  No Streamlit here.

One worker thread per session advances every run of a comparison in turn (one event each), so
they grow side by side; each run's clock counts only its own training time
(``Trainer.run(clock="busy")``), so a wall-clock axis compares them fairly.  The worker owns the
trainers; the page reads ``snapshot()`` (copies under a lock) and sends commands.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from efnn_core import analysis, metrics

STATUS = {"completed": "done", "cancelled": "stopped (best weights kept)",
          "time budget": "time limit reached (best weights kept)", "diverged": "diverged (best weights kept)"}


@dataclass
class RunSpec:
    """What to train: one architecture on one system."""

    name: str
    system: str
    arch: str
    net: dict                 # build() keyword arguments: family + channels/layers or width/layers
    train_set: str
    test_set: str
    train_size: int
    test_size: int
    train: dict               # TrainConfig keyword arguments
    temperature: float | None = None


@dataclass
class Run:
    spec: RunSpec
    status: str = "ready"     # ready, running, paused, done, stopped..., time limit..., failed, not started
    error: str | None = None
    events: list = field(default_factory=list)
    maps: dict | None = None  # field_maps of the current weights on the chosen configuration
    maps_epoch: float = 0.0
    model: Any = None         # the trained energy model once a run has ended
    predictions: np.ndarray | None = None
    labels: np.ndarray | None = None
    n_params: int | None = None
    finished: bool = False
    registered: bool = False
    offset: tuple = (0.0, 0.0)  # (epochs, seconds) of earlier segments ("continue")
    _trainer: Any = None
    _gen: Any = None
    _test: tuple = ()


class Manager:
    """All runs of one session and the worker that trains them."""

    def __init__(self, data: dict | None = None):
        self.runs: dict[str, Run] = {}
        self.data = data or {}          # dataset name -> (spins, energies), read-only
        self.mode = "pause"             # "play" or "pause"
        self.probe: np.ndarray | None = None  # configuration whose maps are drawn
        self._steps: list[str] = []     # queued single steps: "epoch" or "batch"
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._inflight = 0              # units the worker is advancing right now

    # -------------------------------------------------------------- commands (page thread)
    def add(self, specs: list[RunSpec], data: dict) -> None:
        from app.jobs import end_with_session  # a reload, closed tab or expired session stops these runs

        end_with_session(self.stop)
        with self._lock:
            self.data.update(data)
            for s in specs:
                self.runs[s.name] = Run(s)
        self._ensure_worker()

    def play(self) -> None:
        self._command(mode="play")

    def pause(self) -> None:
        self._command(mode="pause")

    def step(self, unit: str = "epoch") -> None:
        if unit not in ("epoch", "batch"):
            raise ValueError(f"unit must be 'epoch' or 'batch', got {unit!r}")
        self._command(mode="pause", step=unit)

    def stop(self) -> None:
        """End every run now, keeping its best weights; a run that never started says so."""
        with self._lock:
            self.mode = "pause"
            self._steps.clear()
            for r in self.runs.values():
                if r._trainer is not None and not r.finished:
                    r._trainer.cancel()
                    self._steps.append("finish")
                elif not r.finished and not r.events:
                    r.status, r.finished = "not started", True
            self._wake.notify_all()
        self._ensure_worker()

    def reset(self) -> None:
        """Fresh weights for every run (same seeds), curves cleared, paused."""
        with self._lock:
            for r in self.runs.values():
                if r._trainer is not None:
                    r._trainer.cancel()  # the worker closes the generators (they may be running there)
            self.mode, self._steps = "pause", ["reset"]
            self._wake.notify_all()
        self._ensure_worker()

    def extend(self, epochs: int) -> None:
        """Continue every ended run from its current weights for ``epochs`` more epochs."""
        with self._lock:
            for r in self.runs.values():
                if r.finished and r.model is not None:
                    last = r.events[-1] if r.events else {}
                    r.offset = (last.get("epoch_x", 0.0), last.get("seconds", 0.0))
                    r.spec = replace(r.spec, train=dict(r.spec.train, epochs=int(epochs)))
                    r.finished, r.status, r._trainer, r._gen, r.registered = False, "ready", None, None, False
            self.mode = "play"
            self._wake.notify_all()
        self._ensure_worker()

    def clear(self) -> None:
        with self._lock:
            for k in [k for k, r in self.runs.items() if r.finished]:
                del self.runs[k]

    def _command(self, *, mode: str, step: str | None = None) -> None:
        with self._lock:
            self.mode = mode
            if step:
                self._steps.append(step)
            self._wake.notify_all()
        self._ensure_worker()

    @property
    def active(self) -> bool:
        return any(not r.finished for r in self.runs.values())

    @property
    def busy(self) -> bool:
        """Training is progressing (playing, or a queued step not yet done)."""
        return self.active and (self.mode == "play" or bool(self._steps) or self._inflight > 0)

    # -------------------------------------------------------------- read side
    def snapshot(self) -> dict[str, dict]:
        """Per run: spec, status, events (copies), maps, finished, model etc."""
        with self._lock:
            return {n: {"spec": r.spec, "status": r.status, "error": r.error, "events": list(r.events),
                        "maps": r.maps, "maps_epoch": r.maps_epoch, "finished": r.finished, "model": r.model,
                        "predictions": r.predictions, "labels": r.labels, "n_params": r.n_params, "run": r}
                    for n, r in self.runs.items()}

    def table(self) -> list[dict]:
        rows = []
        for name, r in self.snapshot().items():
            last = r["events"][-1] if r["events"] else {}
            rows.append({"run": name, "arch": r["spec"].arch, "parameters": r["n_params"], "status": r["status"],
                         "epoch": last.get("epoch_x"), "steps": last.get("step"), "time (s)": last.get("seconds"),
                         "test RMSE": last.get("test_rmse"), "relative error": last.get("rel_error"),
                         "RMSE / site": last.get("rmse_per_site"), "R²": last.get("r2")})
        return rows

    def metrics_csv(self) -> bytes:
        buf = io.StringIO()
        fields_ = ["run", "arch", "system", "kind", "epoch_x", "step", "seconds", "train_loss", "train_rmse",
                   "test_rmse", "test_rmse_T", "rel_error", "rmse_per_site", "r2", "mae", "lr", "best", "done",
                   "cancelled", "reason"]
        w = csv.DictWriter(buf, fieldnames=fields_, extrasaction="ignore")
        w.writeheader()
        for name, r in self.snapshot().items():
            for e in r["events"]:
                w.writerow({"run": name, "arch": r["spec"].arch, "system": r["spec"].system, **e})
        return buf.getvalue().encode()

    # -------------------------------------------------------------- worker (no st.* here)
    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, daemon=True, name="efnn-train")
            self._thread.start()

    def _work(self) -> None:
        idle_since = time.time()
        while True:
            with self._lock:
                todo = [r for r in self.runs.values() if not r.finished]
                unit = None
                if self._steps:
                    unit = self._steps.pop(0)
                    self._inflight += 1
                elif self.mode != "play" or not todo:
                    if time.time() - idle_since > 60:
                        self._thread = None
                        return
                    self._wake.wait(0.5)
                    continue
            idle_since = time.time()
            if unit == "reset":
                with self._lock:
                    for name, r in list(self.runs.items()):
                        if r._gen is not None:
                            r._gen.close()
                        self.runs[name] = Run(r.spec)
                    self._inflight -= 1
                continue
            for r in todo:
                try:
                    self._advance(r, "batch" if unit == "batch" else "epoch")
                except Exception as err:  # noqa: BLE001 - reported on the page, never raised into Streamlit
                    with self._lock:
                        r.status, r.error, r.finished = "failed", f"{type(err).__name__}: {err}", True
            if unit is not None:
                with self._lock:
                    self._inflight -= 1

    def _start(self, r: Run) -> None:
        from efnn_core import nets
        from efnn_core.training import TrainConfig, Trainer, seeded

        s = r.spec
        dtype = np.float32 if s.train.get("dtype", "float32") == "float32" else np.float64
        Xtr, Ytr = self.data[s.train_set]
        Xte, Yte = self.data[s.test_set]
        Xtr, Ytr = np.array(Xtr[:s.train_size], dtype=dtype), np.array(Ytr[:s.train_size])
        Xte, Yte = np.array(Xte[:s.test_size], dtype=dtype), np.array(Yte[:s.test_size])
        cfg = TrainConfig(**{"threads": 1, **s.train})  # one core per session: the pages stay responsive
        if r.model is None:
            with seeded(cfg.seed):
                model = nets.build(s.arch, **s.net)
        else:
            model = r.model  # continue from the current weights
        r.n_params = analysis.parameter_count(model)
        r._test = (Xte, Yte)
        r._trainer = Trainer(model, cfg, train=(Xtr, Ytr), test=(Xte, Yte), temperature=s.temperature)
        r._gen = r._trainer.run(clock="busy")
        r._trainer.request_event()  # the first point after one batch, not one epoch

    def _advance(self, r: Run, unit: str) -> None:
        if r._gen is None:
            self._start(r)
        if r._trainer.cancelled and not r.finished:
            for ev in r._gen:
                last = ev
            self._record(r, last)
            return
        if unit == "batch":
            r._trainer.request_event()
        with self._lock:
            r.status = "running"
        ev = next(r._gen)
        self._record(r, ev)
        if ev.done:
            return
        with self._lock:
            if self.mode != "play":
                r.status = "paused"

    def _record(self, r: Run, ev) -> None:
        d = ev.as_dict()
        d["epoch_x"] = r.offset[0] + d["progress"]
        d["seconds"] = round(r.offset[1] + d["elapsed"], 3)
        maps = analysis.field_maps(r._trainer.model, self.probe) if self.probe is not None else None
        if ev.done:
            model = r._trainer.model
            model.eval()
            preds = metrics.predict(model, r._test[0])
        with self._lock:
            r.events.append(d)
            if maps is not None:
                r.maps, r.maps_epoch = maps, d["epoch_x"]
            if ev.done:
                r.model, r.finished = model, True
                r.predictions, r.labels = preds, np.asarray(r._test[1], dtype=np.float64)
                r.status = STATUS.get(ev.reason, ev.reason)
                r._trainer = r._gen = None


def checkpoint_bytes(run: Run) -> tuple[bytes, bytes]:
    """(safetensors, json) of an ended run, written by ``efnn_core.checkpoint.save`` to a temp dir."""
    from efnn_core import checkpoint

    s = run.spec
    result = dict((run.events[-1] if run.events else {}))
    with tempfile.TemporaryDirectory() as d:
        stem = Path(d) / s.name
        checkpoint.save(stem, run.model, system=s.system, dataset={"train": s.train_set, "test": s.test_set},
                        metrics={k: v for k, v in result.items() if isinstance(v, (int, float)) and
                                 (not isinstance(v, float) or math.isfinite(v))},
                        training=s.train, extra={"train_size": s.train_size, "test_size": s.test_size,
                                                 "trained_in": "EFNN Explorer"})
        w, j = checkpoint.paths(stem)
        return w.read_bytes(), j.read_bytes()


def session_meta(run: Run) -> dict:
    """Metadata for a session model, shaped like a checkpoint's (system, model.config, metrics, training)."""
    cfg = getattr(run.model, "config", None)
    last = run.events[-1] if run.events else {}
    return {"system": run.spec.system,
            "model": {"config": asdict(cfg) if is_dataclass(cfg) else dict(run.spec.net, arch=run.spec.arch)},
            "metrics": {k: last.get(k) for k in ("rmse", "rel_error", "r2", "test_rmse")}, "training": run.spec.train,
            "dataset": {"train": run.spec.train_set, "test": run.spec.test_set}, "train_size": run.spec.train_size}
