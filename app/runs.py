"""Training runs of one browser session, driven like TF Playground: play, pause, one epoch or one
batch at a time, reset, continue from the current weights.  No Streamlit here.

The training itself runs in a worker process of the server's job pool (``app.jobs``, an interactive job:
commands in, events out), never in the server: :class:`Manager` is the page's proxy.  It queues one job
per comparison when training is first asked for (play or a step), sends the commands, and a reader
thread files the child's events into ``runs`` (the page reads ``snapshot()``, copies under a lock).  While
the job waits for a worker the table shows its queue position; Stop on a queued comparison cancels it
("not started").  The child (:func:`train_child`) advances every run of the comparison in turn (one event
each), so they grow side by side; each run's clock counts only its own training time
(``Trainer.run(clock="busy")``), so a wall-clock axis compares them fairly.  Each event comes back as a
dict (plus ``analysis.field_maps`` on the probe configuration, when one is set); an ended run comes back
as a checkpoint (safetensors + JSON, loaded by the validating ``checkpoint.load_bytes``: nothing is
unpickled from a model) with its test predictions.  A comparison paused for ``IDLE_S`` is stopped (best
weights kept) so it does not hold a worker; Continue trains it further.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import threading
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from efnn_core import analysis, metrics

IDLE_S = 300.0  # a paused comparison is stopped (best weights kept) after this long: it holds a worker
MiB = 1 << 20
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


class Manager:
    """All runs of one session: the page's proxy of the training job in the pool (see the module docstring)."""

    def __init__(self, data: dict | None = None):
        self.runs: dict[str, Run] = {}
        self.data = data or {}          # dataset name -> (spins, energies), read-only
        self.mode = "pause"             # "play" or "pause"
        self.probe: np.ndarray | None = None  # configuration whose maps are drawn
        self.error: str | None = None   # why the last job could not be queued or ended early
        self._lock = threading.Lock()
        self._job = None                # the pool job training the unfinished runs (None: none yet)
        self._steps = 0                 # steps and pauses sent and not yet acknowledged by the child
        self._owner: str | None = None

    # -------------------------------------------------------------- commands (page thread)
    def add(self, specs: list[RunSpec], data: dict) -> None:
        from app.jobs import current_session

        with self._lock:
            self._owner = self._owner or current_session()
            self.data.update(data)
            for s in specs:
                self.runs[s.name] = Run(s)

    def play(self) -> None:
        self._command(mode="play")

    def pause(self) -> None:
        self._command(mode="pause")

    def step(self, unit: str = "epoch") -> None:
        if unit not in ("epoch", "batch"):
            raise ValueError(f"unit must be 'epoch' or 'batch', got {unit!r}")
        self._command(mode="pause", step=unit)

    def stop(self) -> None:
        """End every run now, keeping its best weights; a run that never started says so (a queued
        comparison is taken out of the queue)."""
        with self._lock:
            self.mode = "pause"
            job = self._job
            if job is not None and job.state == "running" and job.send(("stop",)):
                self._steps += 1  # busy until the job has ended (its final events are in): _read sets 0
                return
            self._steps = 0
            self._job = None
            if job is not None:
                job.cancel()
            self._end_unstarted()

    def reset(self) -> None:
        """Fresh weights for every run (same seeds), curves cleared, paused (the job, if any, ends)."""
        with self._lock:
            job, self._job = self._job, None
            self.runs = {name: Run(r.spec) for name, r in self.runs.items()}
            self.mode, self._steps, self.error = "pause", 0, None
        if job is not None:
            job.cancel()

    def extend(self, epochs: int) -> None:
        """Continue every ended run from its current weights for ``epochs`` more epochs."""
        with self._lock:
            more = []
            for r in self.runs.values():
                if r.finished and r.model is not None:
                    last = r.events[-1] if r.events else {}
                    r.offset = (last.get("epoch_x", 0.0), last.get("seconds", 0.0))
                    r.spec = replace(r.spec, train=dict(r.spec.train, epochs=int(epochs)))
                    r.finished, r.status, r.registered = False, "ready", False
                    more.append(r)
            self.mode = "play"
            if self._job is not None and not self._job.ended and more:
                self._job.send(("add", [self._payload(r) for r in more]))
            self._ensure_job()
            self._send_mode("play")

    def clear(self) -> None:
        with self._lock:
            for k in [k for k, r in self.runs.items() if r.finished]:
                del self.runs[k]

    def _command(self, *, mode: str, step: str | None = None) -> None:
        """Send a mode (and a step). A pause is acknowledged by the child once the round of epochs it was in
        has been sent: until then the page keeps polling, so the last events of a paused run are drawn."""
        with self._lock:
            self.mode = mode
            self._ensure_job()
            self._send_mode(mode)
            if step and self._job is not None and self._job.send(("step", step)):
                self._steps += 1

    def _send_mode(self, mode: str) -> None:
        if self._job is not None and self._job.send(("mode", mode)) and mode != "play":
            self._steps += 1  # the child acknowledges a pause (lock held)

    @property
    def active(self) -> bool:
        return any(not r.finished for r in self.runs.values())

    @property
    def busy(self) -> bool:
        """Training is progressing or waiting for a worker (playing, or a step or pause not yet acknowledged)."""
        return self.active and (self.mode == "play" or self._steps > 0)

    def position(self) -> int | None:
        """0 while the training job runs, k >= 1 while it is k-th in the pool's queue, None without one."""
        job = self._job
        return job.position() if job is not None else None

    # -------------------------------------------------------------- read side
    def snapshot(self) -> dict[str, dict]:
        """Per run: spec, status, events (copies), maps, finished, model etc."""
        with self._lock:
            return {n: {"spec": r.spec, "status": r.status, "error": r.error, "events": list(r.events),
                        "maps": r.maps, "maps_epoch": r.maps_epoch, "finished": r.finished, "model": r.model,
                        "predictions": r.predictions, "labels": r.labels, "n_params": r.n_params, "run": r}
                    for n, r in self.runs.items()}

    def table(self, snap: dict | None = None) -> list[dict]:
        """One row per run from its last event; ``snap``: the snapshot the page's curves were drawn from, so
        that the table and the curves show the same events."""
        rows = []
        pos = self.position()
        for name, r in (self.snapshot() if snap is None else snap).items():
            last = r["events"][-1] if r["events"] else {}
            status = f"queued: position {pos}" if pos and not r["finished"] else r["status"]
            rows.append({"run": name, "arch": r["spec"].arch, "parameters": r["n_params"], "status": status,
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

    # -------------------------------------------------------------- the job (no st.* here; lock held)
    def _payload(self, r: Run) -> dict:
        s = r.spec
        dtype = np.float32 if s.train.get("dtype", "float32") == "float32" else np.float64
        Xtr, Ytr = self.data[s.train_set]
        Xte, Yte = self.data[s.test_set]
        return {"spec": s, "offset": r.offset, "model": model_bytes(r.model, s) if r.model is not None else None,
                "train": (np.array(Xtr[:s.train_size], dtype=dtype), np.array(Ytr[:s.train_size])),
                "test": (np.array(Xte[:s.test_size], dtype=dtype), np.array(Yte[:s.test_size]))}

    def _ensure_job(self) -> None:
        """Queue a training job for the unfinished runs, unless one is queued or running."""
        from app import jobs

        if self._job is not None and not self._job.ended:
            return
        todo = [r for r in self.runs.values() if not r.finished]
        if not todo:
            return
        try:
            payload = {"runs": [self._payload(r) for r in todo], "probe": self.probe}
        except KeyError as err:
            self._fail(todo, f"no data for {err}")
            return
        data_bytes = sum(a.nbytes for p in payload["runs"] for part in ("train", "test") for a in p[part])
        try:
            self._job = jobs.get_pool().submit(train_child, payload, owner=self._owner or "local",
                                               memory=TRAIN_BASE + 4 * data_bytes, channel=True,
                                               label=f"training {len(todo)} network(s)")
        except jobs.JobError as err:
            self._fail(todo, str(err))
            return
        self.error = None
        threading.Thread(target=self._read, args=(self._job,), daemon=True, name="efnn-train-events").start()

    def _fail(self, todo: list[Run], message: str) -> None:
        self.error, self.mode, self._steps = message, "pause", 0
        for r in todo:
            r.status, r.error, r.finished = "failed", message, True

    def _end_unstarted(self) -> None:
        """Runs whose job ended before they did: "not started", or stopped (earlier weights kept, if any)."""
        for r in self.runs.values():
            if not r.finished:
                r.status = (STATUS["cancelled"] if r.model is not None else
                            "stopped (its worker was cancelled)" if r.events else "not started")
                r.finished = True

    def _read(self, job) -> None:
        """Reader thread: file the child's events until the job ends, then settle what it left."""
        from app.jobs import END

        while True:
            msg = job.events.get()
            if msg is END:
                break
            with self._lock:
                if job is self._job:
                    self._apply(msg)
        with self._lock:
            if job is not self._job:
                return  # replaced (reset) or taken out (stop): nothing of it is wanted
            self._job = None
            todo = [r for r in self.runs.values() if not r.finished]
            if job.state == "failed":
                self._fail(todo, job.error or "the training worker failed")
            elif job.state == "cancelled":
                self._steps = 0
                self._end_unstarted()
            elif todo:  # runs added after the child had decided it was done: a new job continues them
                self._steps = 0  # nothing the old job left unacknowledged will be
                self._ensure_job()
                self._send_mode(self.mode)
            else:
                self._steps = 0

    def _apply(self, msg: tuple) -> None:
        kind, name = msg[0], msg[1] if len(msg) > 1 else None
        if kind == "step_done":
            self._steps = max(0, self._steps - 1)
            return
        r = self.runs.get(name)
        if r is None or r.finished:
            return
        if kind == "start":
            r.n_params = msg[2]
        elif kind == "status":
            r.status = msg[2]
        elif kind == "event":
            _, _, d, maps, status = msg
            r.events.append(d)
            r.status = status
            if maps is not None:
                r.maps, r.maps_epoch = maps, d["epoch_x"]
        elif kind == "final":
            _, _, d, maps, status, weights, meta, preds, labels = msg
            from efnn_core import checkpoint

            r.events.append(d)
            if maps is not None:
                r.maps, r.maps_epoch = maps, d["epoch_x"]
            try:
                r.model = checkpoint.load_bytes(weights, meta)[0]
                r.model.eval()
                r.status = status
            except (checkpoint.CheckpointError, ValueError) as err:
                r.status, r.error = "failed", f"the trained model could not be read back: {err}"
            r.predictions, r.labels, r.finished = preds, labels, True
        elif kind == "ended":  # never started in the child before a stop
            r.status = STATUS["cancelled"] if r.model is not None else "not started"
            r.finished = True
        elif kind == "failed":
            r.status, r.error, r.finished = "failed", msg[2], True


TRAIN_BASE = 320 * MiB  # a training worker beyond its data: torch's allocations, a small net, batches


def model_bytes(model, spec: RunSpec) -> tuple[bytes, bytes]:
    """(safetensors, json) of a model, written by ``efnn_core.checkpoint.save`` (no dataset fingerprint)."""
    from efnn_core import checkpoint

    with tempfile.TemporaryDirectory() as d:
        stem = Path(d) / "model"
        checkpoint.save(stem, model, system=spec.system, system_params={}, training=spec.train)
        w, j = checkpoint.paths(stem)
        return w.read_bytes(), j.read_bytes()


# ------------------------------------------------------------------ the child (a pool worker process)
class _ChildRun:
    def __init__(self, p: dict):
        self.spec: RunSpec = p["spec"]
        self.offset = tuple(p["offset"])
        self.train, self.test = p["train"], p["test"]
        self.model = None
        if p["model"] is not None:
            from efnn_core import checkpoint

            self.model = checkpoint.load_bytes(*p["model"])[0]
        self.trainer = self.gen = None
        self.finished = False
        self.events = 0


def train_child(chan, payload: dict) -> dict:
    """Pool worker: train the runs of one comparison under the page's commands (``("mode", "play" |
    "pause")``, ``("step", "epoch" | "batch")``, ``("stop",)``, ``("add", [runs])``), sending
    ``("start", name, n_params)``, ``("event", name, event, maps, status)``, ``("final", name, event, maps,
    status, weights, meta, predictions, labels)``, ``("ended", name)``, ``("failed", name, message)`` and
    ``("step_done",)`` (after each step, and after each pause once the round in progress has been sent).
    Returns once every run has ended."""
    import time

    runs = {p["spec"].name: _ChildRun(p) for p in payload["runs"]}
    probe = payload.get("probe")
    mode, steps, idle_since = "pause", [], time.time()

    def handle(cmd) -> None:
        nonlocal mode
        if cmd[0] == "mode":
            mode = cmd[1]
            if mode != "play":
                for r in runs.values():
                    if r.gen is not None and not r.finished:
                        chan.send(("status", r.spec.name, "paused"))
                chan.send(("step_done",))
        elif cmd[0] == "step":
            steps.append(cmd[1])
        elif cmd[0] == "add":
            for p in cmd[1]:
                runs[p["spec"].name] = _ChildRun(p)
        elif cmd[0] == "stop":
            mode = "pause"
            steps.clear()
            for r in runs.values():
                if r.finished:
                    continue
                if r.trainer is not None:
                    r.trainer.cancel()
                    steps.append("finish")
                else:
                    r.finished = True
                    chan.send(("ended", r.spec.name))

    while True:
        for cmd in chan.drain():
            handle(cmd)
        todo = [r for r in runs.values() if not r.finished]
        if not todo:
            return {"runs": len(runs)}
        unit = steps.pop(0) if steps else None
        if unit is None and mode != "play":
            cmd = chan.recv(timeout=1.0)
            if cmd is not None:
                handle(cmd)
                idle_since = time.time()
            elif time.time() - idle_since > IDLE_S:
                handle(("stop",))
            continue
        idle_since = time.time()
        for r in todo:
            try:
                _advance(chan, r, "batch" if unit == "batch" else "epoch", mode, probe)
            except Exception as err:  # noqa: BLE001 - reported on the page as one line
                r.finished = True
                chan.send(("failed", r.spec.name, f"{type(err).__name__}: {err}".splitlines()[0]))
        if unit in ("epoch", "batch"):
            chan.send(("step_done",))


def _start(chan, r: _ChildRun) -> None:
    from efnn_core import nets
    from efnn_core.training import TrainConfig, Trainer, seeded

    s = r.spec
    cfg = TrainConfig(**{"threads": 1, **s.train})  # one core per worker
    if r.model is None:
        with seeded(cfg.seed):
            model = nets.build(s.arch, **s.net)
    else:
        model = r.model  # continue from the current weights
    chan.send(("start", s.name, analysis.parameter_count(model)))
    r.trainer = Trainer(model, cfg, train=r.train, test=r.test, temperature=s.temperature)
    r.gen = r.trainer.run(clock="busy")
    r.trainer.request_event()  # the first point after one batch, not one epoch


def _advance(chan, r: _ChildRun, unit: str, mode: str, probe) -> None:
    if r.gen is None:
        _start(chan, r)
    if r.trainer.cancelled:
        for ev in r.gen:
            last = ev
        _record(chan, r, last, probe, mode)
        return
    if unit == "batch":
        r.trainer.request_event()
    ev = next(r.gen)
    _record(chan, r, ev, probe, mode)


def _record(chan, r: _ChildRun, ev, probe, mode: str) -> None:
    d = ev.as_dict()
    d["epoch_x"] = r.offset[0] + d["progress"]
    d["seconds"] = round(r.offset[1] + d["elapsed"], 3)
    maps = analysis.field_maps(r.trainer.model, probe) if probe is not None else None
    if not ev.done:
        chan.send(("event", r.spec.name, d, maps, "running" if mode == "play" else "paused"))
        return
    model = r.trainer.model
    model.eval()
    preds = metrics.predict(model, r.test[0])
    weights, meta = model_bytes(model, r.spec)
    r.finished, r.trainer, r.gen = True, None, None
    chan.send(("final", r.spec.name, d, maps, STATUS.get(ev.reason, ev.reason), weights, meta, preds,
               np.asarray(r.test[1], dtype=np.float64)))


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
