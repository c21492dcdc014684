"""Accuracy of an energy model on a labelled set: the numbers every page and report quotes.

For predictions E_pred and labels E over n configurations of ``sites`` sites:

    rmse          = sqrt(mean (E_pred - E)^2)                     (energy units, t = 1)
    rmse_T        = rmse / T        what Monte Carlo acceptance exp(-dE/T) feels
    rel_error     = rmse / |mean E|  the paper's relative error
    rmse_per_site = rmse / sites
    r2            = 1 - sum (E_pred - E)^2 / sum (E - mean E)^2
    mae           = mean |E_pred - E|

The relative error's denominator is the mean of the labels *being evaluated*.
The paper uses |mean(Y_train)| at L = 10 (Fig. 4b; for i.i.d. uniform spins
train and test means agree to ~1e-3 relative) and |mean(Y_test, N)| at other
sizes (Fig. 4c); using the evaluated set's mean everywhere is the latter rule
and makes the number meaningful at any L.  Note that |mean E| grows as L^2
while the RMSE of a size-consistent model grows roughly as L, so the relative
error falls with L even at fixed per-site accuracy.

    >>> import numpy as np
    >>> from efnn_core.metrics import scores
    >>> s = scores(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]), sites=3)
    >>> round(s["rmse"], 4), round(s["r2"], 4)
    (0.5774, 0.7857)
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from .device import pick_device

__all__ = ["evaluate", "predict", "scores", "sites_of"]


def sites_of(spins_shape) -> int:
    """Number of sites of one configuration of a batch: L*L for vector spins (B, L, L, 3) and
    scalar lattice spins (B, L, L), n for (B, n) vectors."""
    shape = tuple(spins_shape)
    if len(shape) == 4 and shape[-1] == 3:
        return int(shape[1] * shape[2])
    if len(shape) in (2, 3):
        return int(np.prod(shape[1:]))
    raise ValueError(f"spins must have shape (B, L, L, 3), (B, L, L) or (B, n); got {shape}")


def _model_place(model) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, p.dtype
    for b in model.buffers():
        return b.device, b.dtype
    return torch.device("cpu"), torch.float32


def predict(model, spins, *, batch_size: int = 4096, device=None) -> np.ndarray:
    """Energies the model predicts, float64 numpy (B,).

    Args:
        model: torch module mapping spins (B, L, L, 3) or (B, n) to energies (B,), or a
            numpy model with ``predict(spins, batch=...)`` (the effective model).
        spins: numpy array or torch tensor, (B, L, L, 3) or (B, n).
        batch_size: configurations per forward pass (memory, not results).
        device: where to compute; default: where the model's parameters are.
            The model is moved there if needed.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not isinstance(model, torch.nn.Module) and hasattr(model, "predict"):  # numpy models (EffectiveModel)
        return np.asarray(model.predict(np.asarray(spins), batch=batch_size), dtype=np.float64)
    mdev, dtype = _model_place(model)
    dev = mdev if device is None else pick_device(device)
    if dev != mdev:
        model.to(dev)
    x = torch.as_tensor(spins)
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.inference_mode():
            for i in range(0, len(x), batch_size):
                xb = x[i : i + batch_size].to(device=dev, dtype=dtype, non_blocking=True)
                yb = model(xb)
                if yb.shape != (len(xb),):
                    raise ValueError(
                        f"model returned shape {tuple(yb.shape)} for a batch of {len(xb)}; "
                        f"energy models must return (B,)"
                    )
                out.append(yb.to("cpu", torch.float64))
    finally:
        model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0)


def scores(pred, energies, *, sites: int, temperature: float | None = None) -> dict:
    """The metrics of the module docstring from predictions and labels (both (n,), energy units).

    Returns:
        dict with rmse, rmse_T (None without a temperature), rel_error,
        rmse_per_site, r2 (nan when all labels are equal), mae, n,
        label_mean, label_std.
    """
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    y = np.asarray(energies, dtype=np.float64).reshape(-1)
    if p.shape != y.shape:
        raise ValueError(f"{len(p)} predictions for {len(y)} labels")
    if len(y) == 0:
        raise ValueError("cannot score an empty set")
    err = p - y
    mse = float(np.mean(err**2))
    rmse = math.sqrt(mse)
    mean = float(y.mean())
    var = float(np.mean((y - mean) ** 2))
    return {
        "rmse": rmse,
        "rmse_T": rmse / temperature if temperature else None,
        "rel_error": rmse / abs(mean) if mean != 0 else math.inf,
        "rmse_per_site": rmse / sites,
        "r2": 1.0 - mse / var if var > 0 else math.nan,
        "mae": float(np.mean(np.abs(err))),
        "n": int(len(y)),
        "label_mean": mean,
        "label_std": math.sqrt(var),
    }


def evaluate(
    model,
    spins,
    energies,
    *,
    temperature: float | None = None,
    batch_size: int = 4096,
    device=None,
    sites: int | None = None,
) -> dict:
    """Score ``model`` on labelled configurations (under ``torch.inference_mode``, large batches).

    Args:
        model: energy model, spins -> (B,) energies.
        spins: (n, L, L, 3) or (n, sites), numpy or torch.
        energies: (n,) labels in energy units.
        temperature: T of the system (DE: 0.1) for ``rmse_T``; None for the 3-spin model.
        batch_size: configurations per forward pass.
        device: where to compute (default: the model's device).
        sites: sites per configuration for ``rmse_per_site`` (default: from the spins' shape).
    Returns:
        ``scores(...)`` plus ``seconds`` (wall time of the predictions) and
        ``seconds_per_config``.
    """
    t0 = time.perf_counter()
    pred = predict(model, spins, batch_size=batch_size, device=device)
    seconds = time.perf_counter() - t0
    out = scores(pred, energies, sites=sites or sites_of(np.shape(spins)), temperature=temperature)
    out["seconds"] = seconds
    out["seconds_per_config"] = seconds / max(1, len(pred))
    return out
