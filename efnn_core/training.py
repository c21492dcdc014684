"""Training energy models: a small config, a generator of progress events, cancel from any thread.

The trainer fits E_theta(S) to labelled energies by mean squared error with
Adam(W), as the authors do (spec §3), with three additions an interactive app
needs: an ``Event`` after every epoch (and every ``eval_every`` steps) carrying
the test metrics of ``efnn_core.metrics``; ``cancel()`` from another thread,
effective within one optimizer step; and the best weights (lowest test RMSE)
restored at the end, so the model is usable however the run ended (when fine-tuning a
trained ``Standardized`` model, its starting weights count as the first candidate).

**Target standardization.**  DE energies at L = 10 are -51.2 +- 0.88: a net
that must output them raw spends its first hundreds of steps learning the
constant, and Adam's step size is mismatched to the 1.7 % variation that
matters.  With ``normalize=True`` the net is wrapped as

    E(S) = scale * net(S) + offset_per_site * sites(S),

scale = std(E - mean(E)) over the training set, offset_per_site = mean(E / sites)
minus scale * mean(net(S)) / sites of the freshly initialized net (so training
starts centred instead of spending epochs walking a sites-times-bias offset
back), and the loss is the MSE of net(S) against the standardized labels.
Both terms are size-consistent: the offset is extensive (a per-site
constant, exactly what a learned bias in the quasi-particle q gives), and
``scale`` is a fixed change of units of the net's own output, so a lattice
net trained at L = 10 predicts at L = 40 unchanged.  The wrapper
(``Standardized``) behaves as an energy model (spins -> (B,) energies) and
checkpoints store the two numbers.

**L-BFGS** (``optimizer="lbfgs"``) is for the end of a run, when Adam's
noisy steps stall (continuous 3-spin: a 1,500-epoch Adam fit at RMSE 0.11 falls
below 0.06 in a few hundred L-BFGS iterations).  It is deterministic and
full-batch: the loss and gradient are those of the whole training set,
accumulated in chunks of ``batch_size`` (so memory stays bounded); each
"epoch" is ``LBFGS_ITERATIONS`` iterations with a strong-Wolfe line search
(``lr`` is the initial step length: use 1); ``schedule`` does not apply.

Speed: the data are one contiguous tensor on the device, each epoch is a
``torch.randperm`` from a seeded ``torch.Generator``, batches are index
slices (no DataLoader), evaluation runs under ``torch.inference_mode`` in
large batches, and the loss is synchronised to the host only at events.

    >>> import numpy as np, torch
    >>> from efnn_core.training import Trainer, TrainConfig
    >>> X = np.random.default_rng(0).normal(size=(64, 4)); Y = X.sum(1)
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 1), torch.nn.Flatten(0))
    >>> trainer = Trainer(net, TrainConfig(epochs=3, batch_size=16, lr=1e-2), train=(X, Y), test=(X, Y))
    >>> final = trainer.fit()          # dict of metrics of the best weights
    >>> trainer.history[-1].done
    True
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from . import metrics as _metrics
from .device import pick_device, resolve_dtype, set_threads

LBFGS_ITERATIONS = 10  # L-BFGS iterations per "epoch" (one event each)

__all__ = ["TrainConfig", "Trainer", "Event", "Standardized", "seeded", "standardization", "AUTHORS"]


@dataclass
class TrainConfig:
    """How to train.  Defaults follow the authors' DE setup (spec §3) scaled to ``epochs``."""

    optimizer: str = "adam"  # "adam", "adamw" (decoupled weight decay) or "lbfgs" (full batch, see below)
    lr: float = 1e-3  # initial learning rate (L-BFGS: initial step length, 1 is the usual choice)
    schedule: str = "step"  # "step" (StepLR, per epoch), "cosine" (per step), "constant"
    step_size: int | None = None  # StepLR period in epochs; None: epochs // 20 (authors: 50 of 1000)
    gamma: float = 0.1 ** (1 / 20)  # StepLR factor 0.891: lr falls 10x over 20 periods
    min_lr: float = 0.0  # cosine floor
    weight_decay: float = 1e-5  # authors: 1e-5 DE, 1e-3 3-spin baselines, 1e-2 classical EFNN
    batch_size: int = 1000  # authors: 1000 everywhere
    epochs: int = 100  # authors: 1000 DE, 8000-16000 3-spin
    seed: int = 0  # shuffling order (the model's init is seeded where it is built)
    dtype: str = "float32"  # "float32" (DE, authors) or "float64" (3-spin, authors)
    device: str = "auto"  # "auto" (cuda > mps > cpu), "cpu", "cuda", "cuda:N", "mps"
    eval_every: int = 0  # also emit an event every k optimizer steps; 0: per epoch only
    eval_batch_size: int = 4096  # configurations per forward pass in evaluation
    threads: int | None = None  # torch CPU threads; None: all usable cores
    max_seconds: float | None = None  # wall-clock budget; the run stops cleanly when it is spent
    normalize: bool = True  # train on standardized targets (see module docstring)

    def __post_init__(self):
        self.validate()

    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the first bad field; return self."""
        if self.optimizer not in ("adam", "adamw", "lbfgs"):
            raise ValueError(f"optimizer must be 'adam', 'adamw' or 'lbfgs', got {self.optimizer!r}")
        if self.schedule not in ("step", "cosine", "constant"):
            raise ValueError(f"schedule must be 'step', 'cosine' or 'constant', got {self.schedule!r}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < 10):
            raise ValueError(f"lr must be in (0, 10), got {self.lr!r}")
        if not (isinstance(self.gamma, (int, float)) and 0 < self.gamma <= 1):
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma!r}")
        if self.step_size is not None and int(self.step_size) < 1:
            raise ValueError(f"step_size must be >= 1 epoch, got {self.step_size!r}")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"min_lr must be in [0, lr], got {self.min_lr!r}")
        if not 0 <= self.weight_decay <= 10:  # also refuses inf and NaN (null metrics, unloadable weights)
            raise ValueError(f"weight_decay must be in [0, 10], got {self.weight_decay!r}")
        for name in ("batch_size", "epochs", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.eval_every < 0:
            raise ValueError(f"eval_every must be >= 0 (0: per epoch only), got {self.eval_every!r}")
        if self.threads is not None and int(self.threads) < 1:
            raise ValueError(f"threads must be >= 1 or None, got {self.threads!r}")
        if self.max_seconds is not None and not 0 < self.max_seconds < 1e7:
            raise ValueError(f"max_seconds must be > 0 or None, got {self.max_seconds!r}")
        resolve_dtype(self.dtype)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Rebuild from ``to_dict()``; unknown keys raise ValueError."""
        known = {f.name for f in fields(cls)}
        extra = set(d) - known
        if extra:
            raise ValueError(f"unknown TrainConfig field(s) {sorted(extra)}; known: {sorted(known)}")
        return cls(**d)


# The authors' setups (spec §3) as TrainConfig keyword sets; combine with dataclasses.replace.
AUTHORS = {
    "double_exchange": dict(
        lr=1e-3,
        batch_size=1000,
        weight_decay=1e-5,
        epochs=1000,
        schedule="step",
        step_size=50,
        gamma=0.1 ** (1 / 20),
        dtype="float32",
    ),
    "three_spin_efnn": dict(
        lr=1e-3,
        batch_size=1000,
        weight_decay=1e-2,
        epochs=8000,
        schedule="step",
        step_size=100,
        gamma=0.9,
        dtype="float64",
    ),
    "three_spin_baselines": dict(
        lr=1e-3,
        batch_size=1000,
        weight_decay=1e-3,
        epochs=16000,
        schedule="step",
        step_size=400,
        gamma=0.01 ** (1 / 40),
        dtype="float64",
    ),
}


@dataclass(frozen=True)
class Event:
    """Progress of a training run (one point of the live curves).  Energies in units of t.

    Test fields are None when the trainer has no test set; ``test_rmse_T`` is
    None without a temperature.
    """

    kind: str  # "step" (every eval_every steps), "epoch", or "final"
    epoch: int  # 1-based epoch in progress (final: epochs started)
    step: int  # optimizer steps so far
    progress: float  # epochs done, fractional: the x axis of the curves
    train_loss: float  # mean training loss (standardized MSE) over steps since the last event
    train_rmse: float  # sqrt(train_loss) in energy units (running; weights moved meanwhile)
    test_rmse: float | None  # RMSE on the test set
    test_rmse_T: float | None  # test RMSE / T
    rel_error: float | None  # test RMSE / |mean test label| (the paper's metric)
    rmse_per_site: float | None  # test RMSE / sites
    r2: float | None  # coefficient of determination on the test set
    mae: float | None  # mean absolute test error
    lr: float  # learning rate of the last step
    elapsed: float  # seconds since run() started
    best: bool  # the weights just evaluated are the best so far (final: always)
    best_rmse: float  # best test RMSE so far (train RMSE without a test set)
    done: bool = False  # last event of the run
    cancelled: bool = False  # the run ended by cancel() or Ctrl-C
    reason: str = ""  # final event: "completed", "cancelled", "time budget" or "diverged"

    def as_dict(self) -> dict:
        return asdict(self)


class _Stop(Exception):
    """Raised inside an L-BFGS closure to abandon the step (cancel, time budget)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Standardized(torch.nn.Module):
    """An energy model from a net trained on standardized targets.

        E(S) = scale * net(S) + offset_per_site * sites(S)

    with sites = L*L for spins (B, L, L, 3) and n for (B, n).  Forwards
    ``config`` and ``num_parameters()`` to the net; ``state_dict`` keys carry
    the prefix ``net.``; ``scale`` and ``offset_per_site`` are plain floats
    (stored in checkpoint JSON, not as tensors).

    Example (the offset follows the lattice size)::

        >>> class Magnetization(torch.nn.Module):     # net(S) = sum_i s_i^z, (B, L, L, 3) -> (B,)
        ...     def forward(self, s): return s[..., 2].sum((1, 2))
        >>> m = Standardized(Magnetization(), scale=2.0, offset_per_site=-0.5)
        >>> up = torch.zeros(1, 3, 3, 3); up[..., 2] = 1
        >>> m(up)                                         # 2 * 9 - 0.5 * 9
        tensor([13.5000])
    """

    def __init__(self, net: torch.nn.Module, *, scale: float = 1.0, offset_per_site: float = 0.0):
        super().__init__()
        if not (math.isfinite(scale) and scale > 0 and math.isfinite(offset_per_site)):
            raise ValueError(
                f"scale must be finite and > 0 and offset finite; got {scale}, {offset_per_site}"
            )
        self.net = net
        self.scale = float(scale)
        self.offset_per_site = float(offset_per_site)

    @property
    def config(self):
        return self.net.config

    def num_parameters(self) -> int:
        if hasattr(self.net, "num_parameters"):
            return int(self.net.num_parameters())
        return sum(p.numel() for p in self.net.parameters())

    def output(self) -> dict:
        """``{"scale": ..., "offset_per_site": ...}`` as stored in checkpoints."""
        return {"scale": self.scale, "offset_per_site": self.offset_per_site}

    def forward(self, spins: torch.Tensor) -> torch.Tensor:
        # spins (B, L, L, 3) or (B, n) -> (B,)
        return self.net(spins) * self.scale + self.offset_per_site * _metrics.sites_of(spins.shape)

    def intermediates(self, spins: torch.Tensor) -> dict:
        """The net's ``intermediates`` with ``site_energy`` (B, L, L) in energy units
        (scale * site + offset_per_site), so it still sums to the energy."""
        rec = self.net.intermediates(spins)
        if "site_energy" in rec:
            rec["site_energy"] = rec["site_energy"] * self.scale + self.offset_per_site
        return rec

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)  # parameters, buffers, submodules (net)
        except AttributeError:
            modules = self.__dict__.get("_modules")
            if name.startswith("__") or not modules or "net" not in modules:
                raise
            return getattr(modules["net"], name)  # anything else the net offers (engine, ...)

    def extra_repr(self) -> str:
        return f"scale={self.scale:.6g}, offset_per_site={self.offset_per_site:.6g}"


def standardization(spins_shape, energies) -> dict:
    """``{"scale", "offset_per_site"}`` for training labels ``energies`` (n,) of spins of ``spins_shape``."""
    e = np.asarray(energies, dtype=np.float64)
    sites = _metrics.sites_of(spins_shape)
    offset = float(np.mean(e) / sites)
    scale = float(np.std(e - offset * sites))
    return {"scale": scale if scale > 0 and math.isfinite(scale) else 1.0, "offset_per_site": offset}


@contextlib.contextmanager
def seeded(seed: int):
    """Run a block (e.g. building a model) under ``torch.manual_seed(seed)`` without
    leaking into the global RNG: the CPU RNG state is restored afterwards.

        >>> with seeded(0):
        ...     a = torch.rand(2)
        >>> with seeded(0):
        ...     b = torch.rand(2)
        >>> bool((a == b).all())
        True
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


class Trainer:
    """Fit an energy model to labelled configurations.

    Args:
        model: torch module mapping spins (B, L, L, 3) or (B, n) to energies (B,)
            (e.g. ``efnn_core.nets.build(...)``), or a ``Standardized`` one
            (fine-tuning keeps its scale and offset).  With ``config.normalize``
            a bare net is wrapped; use ``trainer.model`` afterwards.
        config: ``TrainConfig`` (default: its defaults).
        train: ``(spins, energies)``, numpy or torch, (n, L, L, 3) / (n, sites) and (n,).
        test: same, for the events' metrics and for choosing the best weights;
            None: the running train RMSE chooses them and test fields are None.
        temperature: T for ``test_rmse_T`` (DE: 0.1); None for classical systems.
        sites: sites per configuration for ``rmse_per_site`` (default: from the shape).

    Attributes:
        model: the energy model being trained (best weights restored at the end).
        history: list of every ``Event`` emitted.
        result: metrics dict of the final model after the run (None before).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainConfig | None = None,
        *,
        train,
        test=None,
        temperature: float | None = None,
        sites: int | None = None,
    ):
        self.config = copy.deepcopy(config) if config is not None else TrainConfig()
        self.config.validate()
        cfg = self.config
        self.device = pick_device(cfg.device)
        self.dtype = resolve_dtype(cfg.dtype, self.device)
        set_threads(cfg.threads)
        if temperature is not None and not temperature > 0:
            raise ValueError(f"temperature must be > 0 or None, got {temperature!r}")
        self.temperature = temperature

        X, Y = self._tensors(train, "train")
        self.sites = int(sites) if sites else None  # None: from the evaluated spins' shape
        self._fine_tune = isinstance(model, Standardized)  # a trained model: never end worse than it began
        if self._fine_tune:
            self.model = model
        elif cfg.normalize:
            self.model = Standardized(model, **standardization(X.shape, Y.numpy()))
        else:
            self.model = model
        self._net = self.model.net if isinstance(self.model, Standardized) else self.model
        self.model.to(device=self.device, dtype=self.dtype)
        if cfg.normalize and not isinstance(model, Standardized):
            self._center(X)
        scale, offset = self._affine()
        # standardized targets, computed in float64 then cast once: (n,)
        Yn = (Y - offset * _metrics.sites_of(X.shape)) / scale
        self._X = X.to(device=self.device, dtype=self.dtype).contiguous()  # (n, L, L, 3) or (n, sites)
        self._Y = Yn.to(device=self.device, dtype=self.dtype).contiguous()  # (n,)
        if test is not None:
            Xt, Yt = self._tensors(test, "test")
            if Xt.ndim != X.ndim or (X.ndim == 2 and Xt.shape[1] != X.shape[1]):
                raise ValueError(f"test spins {tuple(Xt.shape)} do not match train spins {tuple(X.shape)}")
            self._Xtest = Xt.to(device=self.device, dtype=self.dtype).contiguous()
            self._Ytest = Yt.numpy()
        else:
            self._Xtest = self._Ytest = None
        self._cancel = threading.Event()
        self._event_now = threading.Event()
        self.history: list[Event] = []
        self.result: dict | None = None
        self._started = False
        self.best_state: dict | None = None
        self.best_metrics: dict | None = None

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _tensors(pair, what) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            spins, energies = pair
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be a pair (spins, energies)") from None
        X = (
            torch.as_tensor(np.asarray(spins) if not isinstance(spins, torch.Tensor) else spins)
            .detach()
            .cpu()
        )
        Y = torch.as_tensor(np.asarray(energies) if not isinstance(energies, torch.Tensor) else energies)
        Y = Y.detach().cpu().to(torch.float64)
        _metrics.sites_of(X.shape)  # (n, L, L, 3), (n, L, L) or (n, sites), else a ValueError
        if Y.shape != (len(X),):
            raise ValueError(f"{what} energies must have shape ({len(X)},); got {tuple(Y.shape)}")
        if len(X) == 0:
            raise ValueError(f"{what} set is empty")
        if not bool(torch.isfinite(Y).all()) or not bool(torch.isfinite(X).all()):
            raise ValueError(f"{what} set contains NaN or infinite values")
        return X, Y

    def _center(self, X: torch.Tensor) -> None:
        """Fold the fresh net's mean output into the offset, so training starts centred.

        A sum-over-sites net starts with output ~ sites * (per-site bias), tens of
        standard deviations off at L = 10; Adam would spend epochs walking that
        bias back.  The shift is extensive (a mean over i.i.d. configurations of
        a sum of per-site terms), so it stays size-consistent.
        """
        m = self.model
        was_training = m.net.training
        m.net.eval()
        with torch.no_grad():
            xb = X[:1024].to(device=self.device, dtype=self.dtype)
            mu = float(m.net(xb).mean())
        m.net.train(was_training)
        if math.isfinite(mu):
            m.offset_per_site -= m.scale * mu / _metrics.sites_of(X.shape)

    def _affine(self) -> tuple[float, float]:
        if isinstance(self.model, Standardized):
            return self.model.scale, self.model.offset_per_site
        return 1.0, 0.0

    def _lr(self, step: int, epoch0: int, total_steps: int) -> float:
        """Learning rate for optimizer step ``step`` (0-based) in epoch ``epoch0`` (0-based)."""
        c = self.config
        if c.schedule == "constant":
            return c.lr
        if c.schedule == "step":
            size = c.step_size or max(1, c.epochs // 20)
            return c.lr * c.gamma ** (epoch0 // size)
        t = min(1.0, step / max(1, total_steps))
        return c.min_lr + (c.lr - c.min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))

    def _optimizer(self) -> torch.optim.Optimizer:
        c = self.config
        params = [p for p in self._net.parameters() if p.requires_grad]
        if not params:
            raise ValueError("the model has no trainable parameters")
        if c.optimizer == "lbfgs":
            return torch.optim.LBFGS(params, lr=c.lr, max_iter=LBFGS_ITERATIONS, max_eval=5 * LBFGS_ITERATIONS,
                                     history_size=50,
                                     line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)
        cls = torch.optim.AdamW if c.optimizer == "adamw" else torch.optim.Adam
        return cls(params, lr=c.lr, weight_decay=c.weight_decay)

    def _full_batch_loss(self, stop: Callable[[], str | None]) -> torch.Tensor:
        """Loss and gradients of the WHOLE training set (standardized MSE, plus
        weight_decay/2 |theta|^2 as Adam's L2 term), in chunks of ``batch_size``.

        ``stop()`` is asked before every chunk; a reason (cancel, time budget)
        aborts the L-BFGS step by raising ``_Stop``.
        """
        X, Y, n = self._X, self._Y, len(self._X)
        bs = min(int(self.config.batch_size), n)
        params = [p for p in self._net.parameters() if p.requires_grad]
        for p in params:
            p.grad = None
        total = torch.zeros((), device=self.device, dtype=torch.float64)
        for i in range(0, n, bs):
            reason = stop()
            if reason:
                raise _Stop(reason)
            part = ((self._net(X[i : i + bs]) - Y[i : i + bs]) ** 2).sum() / n
            part.backward()
            total += part.detach()
        wd = self.config.weight_decay
        if wd:
            penalty = 0.5 * wd * sum((p * p).sum() for p in params)
            penalty.backward()
            total += penalty.detach()
        return total

    def cancel(self) -> None:
        """Ask the run to stop (thread-safe); it stops within one optimizer step,
        restores the best weights and emits a final event with ``cancelled=True``."""
        self._cancel.set()

    def request_event(self) -> None:
        """Ask for an event after the next optimizer step (thread-safe): with it, a consumer of
        ``run()`` can advance training one batch at a time (one ``next()`` per batch)."""
        self._event_now.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def evaluate(self, spins=None, energies=None) -> dict:
        """``metrics.evaluate`` of the current model on (spins, energies) (default: the test set)."""
        if spins is None:
            if self._Xtest is None:
                raise ValueError("no test set given; pass spins and energies")
            spins, energies = self._Xtest, self._Ytest
        return _metrics.evaluate(
            self.model,
            spins,
            energies,
            temperature=self.temperature,
            batch_size=self.config.eval_batch_size,
            sites=self.sites,
        )

    def _stop_reason(self, t0: float) -> str | None:
        """The reason the run must stop now ("cancelled" or "time budget"), else None."""
        if self._cancel.is_set():
            return "cancelled"
        if self.config.max_seconds is not None and time.perf_counter() - t0 > self.config.max_seconds:
            return "time budget"
        return None

    def _snapshot(self) -> dict:
        return {k: v.detach().clone() for k, v in self._net.state_dict().items()}

    # ------------------------------------------------------------------ the loop
    def run(self, *, clock: str = "wall") -> Iterator[Event]:
        """Train, yielding an ``Event`` per epoch (and every ``eval_every`` steps, or after a step
        asked for by ``request_event``), then a final one.

        The final event (``done=True``) reports the metrics of the restored best
        weights.  A KeyboardInterrupt inside the loop counts as ``cancel()``;
        closing the generator early also restores the best weights.

        ``clock="wall"``: ``elapsed`` and ``max_seconds`` count wall time since the start;
        ``clock="busy"``: only the time spent training, not the time the consumer holds the
        generator at an event (a paused run, or runs of a comparison advanced in turn).
        """
        if clock not in ("wall", "busy"):
            raise ValueError(f"clock must be 'wall' or 'busy', got {clock!r}")
        if self._started:
            raise RuntimeError("a Trainer runs once; build a new Trainer to train again")
        self._started = True
        cfg = self.config
        net, X, Y = self._net, self._X, self._Y
        n = len(X)
        bs = min(int(cfg.batch_size), n)
        per_epoch = math.ceil(n / bs)
        total = per_epoch * cfg.epochs
        lbfgs = cfg.optimizer == "lbfgs"
        if lbfgs:  # an "epoch" is LBFGS_ITERATIONS full-batch iterations
            per_epoch, total = LBFGS_ITERATIONS, LBFGS_ITERATIONS * cfg.epochs
        opt = self._optimizer()
        gen = torch.Generator().manual_seed(int(cfg.seed))
        scale, _ = self._affine()
        t0 = time.perf_counter()
        state = {
            "loss_sum": torch.zeros((), device=self.device, dtype=torch.float64),
            "count": 0,
            "best": math.inf,
            "lr": cfg.lr,
        }
        step, epoch, reason = 0, 0, "completed"

        def emit(ev: Event):
            nonlocal t0
            held = time.perf_counter()
            yield ev
            if clock == "busy":
                t0 += time.perf_counter() - held

        if self._fine_tune and self._Xtest is not None:  # the starting weights are the first candidate
            m0 = self.evaluate()
            if math.isfinite(m0["rmse"]):
                state["best"], self.best_state, self.best_metrics = m0["rmse"], self._snapshot(), m0

        def event(kind: str) -> Event:
            count = state["count"]
            train_loss = (state["loss_sum"] / count).item() if count else math.nan
            state["loss_sum"].zero_()
            state["count"] = 0
            train_rmse = math.sqrt(train_loss) * scale if train_loss >= 0 else math.nan
            m = self.evaluate() if self._Xtest is not None else None
            crit = m["rmse"] if m is not None else train_rmse
            is_best = math.isfinite(crit) and crit < state["best"]
            if is_best:
                state["best"] = crit
                self.best_state = self._snapshot()
                self.best_metrics = m
            ev = make_event(kind, m, train_loss, train_rmse, best=is_best)
            self.history.append(ev)
            return ev

        def make_event(kind: str, m: dict | None, train_loss, train_rmse, **flags) -> Event:
            return Event(kind=kind, epoch=epoch, step=step, progress=step / per_epoch, train_loss=train_loss,
                         train_rmse=train_rmse, test_rmse=m and m["rmse"], test_rmse_T=m and m["rmse_T"],
                         rel_error=m and m["rel_error"], rmse_per_site=m and m["rmse_per_site"],
                         r2=m and m["r2"], mae=m and m["mae"], lr=state["lr"],
                         elapsed=time.perf_counter() - t0, best_rmse=state["best"], **flags)

        try:
            while epoch < cfg.epochs and reason == "completed":
                epoch += 1
                net.train()
                if lbfgs:
                    losses = []  # every evaluation of this step; the last is (almost always) the accepted point

                    def closure():
                        losses.append(self._full_batch_loss(lambda: self._stop_reason(t0)))
                        return losses[-1]

                    try:
                        opt.step(closure)
                    except _Stop as e:
                        reason = e.reason
                    step = int(opt.state_dict()["state"].get(0, {}).get("n_iter", step))
                    if losses:
                        state["loss_sum"] += losses[-1]
                        state["count"] += 1
                    if reason != "completed":
                        break
                    ev = event("epoch")
                    yield from emit(ev)
                    if not math.isfinite(ev.train_loss):
                        reason = "diverged"
                    continue
                perm = torch.randperm(n, generator=gen).to(self.device)  # (n,) this epoch's order
                for b in range(per_epoch):
                    reason = self._stop_reason(t0) or reason
                    if reason != "completed":
                        break
                    lr = self._lr(step, epoch - 1, total)
                    if lr != state["lr"] or step == 0:
                        for g in opt.param_groups:
                            g["lr"] = lr
                        state["lr"] = lr
                    idx = perm[b * bs : (b + 1) * bs]
                    loss = F.mse_loss(net(X[idx]), Y[idx])  # standardized units
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    step += 1
                    state["loss_sum"] += loss.detach()
                    state["count"] += 1
                    asked = self._event_now.is_set()
                    if (asked or cfg.eval_every and step % cfg.eval_every == 0) and b < per_epoch - 1:
                        self._event_now.clear()
                        ev = event("step")
                        yield from emit(ev)
                        if not math.isfinite(ev.train_loss):
                            reason = "diverged"
                            break
                if reason != "completed":
                    break
                self._event_now.clear()
                ev = event("epoch")
                yield from emit(ev)
                if not math.isfinite(ev.train_loss):
                    reason = "diverged"
        except KeyboardInterrupt:
            reason = "cancelled"
            self._cancel.set()
        except GeneratorExit:
            self._finish()
            raise

        if state["count"]:  # steps after the last event: score them too, they may be the best
            try:
                event("step")
            except KeyboardInterrupt:
                pass
        if reason == "completed" and self._cancel.is_set():
            reason = "cancelled"
        final = self._finish()
        m = self.best_metrics
        last = self.history[-1] if self.history else None
        ev = make_event("final", m, last.train_loss if last else math.nan, last.train_rmse if last else math.nan,
                        best=True, done=True, cancelled=reason == "cancelled", reason=reason)
        self.history.append(ev)
        self.result = {
            **(m or {}),
            **final,
            "epochs": epoch,
            "steps": step,
            "elapsed": ev.elapsed,
            "cancelled": ev.cancelled,
            "reason": reason,
            "train_loss": ev.train_loss,
        }
        yield ev

    def _finish(self) -> dict:
        """Restore the best weights (if any were scored); return where they came from."""
        best = [e for e in self.history if e.best]
        if self.best_state is not None:
            self._net.load_state_dict(self.best_state)
        self._net.eval()
        if not best and self.best_state is not None:  # fine-tuning never beat the starting weights
            return {"best_step": 0, "best_epoch": 0}
        return {"best_step": best[-1].step if best else None, "best_epoch": best[-1].epoch if best else None}

    def fit(self, callback: Callable[[Event], None] | None = None) -> dict:
        """Run to the end, calling ``callback(event)`` on every event.

        Ctrl-C (KeyboardInterrupt) in the callback or the loop cancels cleanly.

        Returns:
            ``self.result``: the final (best) model's test metrics (``metrics.evaluate``
            keys; absent without a test set) plus epochs, steps, elapsed,
            cancelled, reason, best_step, best_epoch, train_loss.
        """
        gen = self.run()
        while True:
            try:
                ev = next(gen)
            except StopIteration:
                break
            try:
                if callback is not None:
                    callback(ev)
            except KeyboardInterrupt:
                self.cancel()
        return self.result
