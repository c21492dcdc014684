"""The self-learning loop: sample with the surrogate, label what the chain visits, refit, repeat.

Each round runs SLMC chains with the current surrogate.  Every proposed end
point b of a cumulative update gets its exact energy E_b anyway (the
accept/reject step needs it), so the round's proposals are free labels.  The
surrogate is then refitted -- a translation-invariant ``EffectiveModel``
(460 coefficients, ridge least squares, seconds) -- on all labels so far,
pulled towards the starting model's coefficients (``refit``), so that the first
rounds' few hundred labels fine-tune it rather than overfit it.
Per round the loop reports the acceptance and the surrogate's RMSE (and its
spread, the RMSE with the mean offset removed, which is what the acceptance
feels) in units of T on that round's configurations *before* refitting: an
honest out-of-sample number for the surrogate that produced them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .chains import MCConfig, MCError, run
from .surrogates import LocalEffective, load_surrogate

__all__ = ["loop", "surrogate_errors", "refit"]


def surrogate_errors(surrogate, spins, energies) -> np.ndarray:
    """E^s - E over configurations (B, L, L, 3)."""
    if isinstance(surrogate, LocalEffective):
        pred = surrogate.model.predict(np.asarray(spins, float))
    else:
        pred = np.array([surrogate.energy(s) for s in spins])
    return pred - np.asarray(energies, float)


def refit(spins, energies, L: int, prior=None, strength: float = 2000.0) -> LocalEffective:
    """Refit the translation effective model on (spins, energies), pulled towards ``prior``'s coefficients.

    Solves (X^T X + k D) c = X^T y + k D c_prior, D = diag(X^T X)/n (a feature's mean square): ridge
    towards the previous model with the weight of ``strength`` configurations, so a round with few labels
    fine-tunes the surrogate instead of overfitting 460 coefficients.  Without a prior: plain ridge fit.
    """
    import scipy.linalg

    from ..nets.effective import EffectiveModel

    if prior is None:
        return LocalEffective(EffectiveModel("translation").fit(spins, energies), L)
    p = prior.model
    model = EffectiveModel("translation", ridge=p.ridge, max_range=p.max_range, window=p.window)
    x = np.concatenate([model.features(spins[i:i + 2000]) for i in range(0, len(spins), 2000)])
    xtx, xty = x.T @ x, x.T @ np.asarray(energies, float)
    d = np.maximum(np.diag(xtx) / len(x), 1e-12)
    k = float(strength) * d
    model.coef_ = scipy.linalg.solve(xtx + np.diag(k), xty + k * p.coef_, assume_a="pos")
    model.L = L
    return LocalEffective(model, L)


def loop(surrogate, *, L: int = 10, rounds: int = 3, sweeps: int = 40, chains: int = 4, seed: int = 0,
         local_steps: int | None = None, out=None, workers: int = 1, command: str | None = None):
    """Yield one dict per round: round, acceptance, rmse_T, spread_T, labels, fit_rmse_T, summary."""
    if isinstance(rounds, bool) or int(rounds) != rounds or not 1 <= rounds <= 100:
        raise MCError(f"rounds must be an integer in 1..100, got {rounds!r}")
    cfg0 = MCConfig(method="slmc", L=L, sweeps=sweeps, local_steps=local_steps, surrogate=str(surrogate),
                    labels=True)
    system = cfg0.model()
    sur, _ = load_surrogate(surrogate, L, system=system)
    prior = sur if isinstance(sur, LocalEffective) else None  # refits are pulled towards the starting model
    X, Y = [], []
    for r in range(1, int(rounds) + 1):
        res = run(cfg0, chains=chains, seed=seed + 1000 * r, workers=1, surrogate=sur)
        xs = np.stack([x for s in res.states for x, _ in s.labels])
        ys = np.array([e for s in res.states for _, e in s.labels])
        err = surrogate_errors(sur, xs, ys)
        X.append(xs)
        Y.append(ys)
        sur = refit(np.concatenate(X), np.concatenate(Y), L, prior=prior)
        fit_err = surrogate_errors(sur, np.concatenate(X), np.concatenate(Y))
        summary = res.summary()
        yield {"round": r, "acceptance": summary["acceptance"], "rmse_T": float(np.sqrt((err ** 2).mean()) / system.T),
               "spread_T": float(err.std() / system.T), "labels": int(sum(len(y) for y in Y)),
               "fit_rmse_T": float(np.sqrt((fit_err ** 2).mean()) / system.T), "summary": summary}
    if out is not None:
        from .. import checkpoint

        Path(out).mkdir(parents=True, exist_ok=True)
        checkpoint.save(Path(out) / "surrogate", sur.model, system="double_exchange", system_params=system.params(),
                        training={"selection": "closed form (ridge) on SLMC labels", "rounds": int(rounds),
                                  "labels": int(sum(len(y) for y in Y)), "command": command},
                        extra={"arch": "effective", "family": "effective",
                               "hp": {"kind": "translation", "ridge": sur.model.ridge,
                                      "max_range": sur.model.max_range, "window": sur.model.window}})
