"""Self-learning Monte Carlo (Liu, Qi, Meng, Fu, PRB 95, 041101(R) 2017): exact results, cheap moves.

A *cumulative update* from configuration a runs m local Metropolis steps
(random site, s_i -> normalize(s_i + step*xi)) with a cheap surrogate energy
E^s, ending at b, and accepts b with

    p = min(1, exp(-[(E_b - E_a) - (E^s_b - E^s_a)] / T)),

E the exact energy (one ED per update).  Why it is exact: the m-step surrogate
chain satisfies detailed balance for exp(-E^s/T), so its m-step transition
density obeys K(a->b) e^{-E^s_a/T} = K(b->a) e^{-E^s_b/T}; the acceptance above
then makes K(a->b) p(a->b) e^{-E_a/T} symmetric in a and b -- detailed balance
for the exact weight whatever the surrogate.  The surrogate only changes the
acceptance, ~ erfc(sigma / (2 sqrt2 T)) with sigma the spread of
dE - dE^s (performance notes, section 6).  The surrogate step size is tuned in
burn-in only; m and the surrogate are fixed for the whole chain.
"""

from __future__ import annotations

import math


from .metropolis import tune_step

__all__ = ["cumulative_update"]


def cumulative_update(state, system, surrogate, T: float, m: int, tune: bool, target: float = 0.5,
                      labels: list | None = None):
    """One cumulative update of ``state`` (a ``chains.ChainState``), in place.

    Args:
        surrogate: has ``sweep(spins, sites, noise, uniforms, step, T) -> (dE^s, accepted)``.
        m: local surrogate steps per update.
        labels: if a list, (b, E_b) of every proposed end point is appended (the
            exact energy is computed anyway): the training data of ``mc learn``.
    Returns:
        (accepted 0/1, local acceptance of the surrogate steps, dE - dE^s of the proposal).
    """
    rng = state.rng
    n = state.spins.shape[0] * state.spins.shape[1]
    sites = rng.integers(0, n, m)
    noise = rng.standard_normal((m, 3))
    uniforms = rng.random(m)
    u = rng.random()
    b = state.spins.copy()
    ds, local = surrogate.sweep(b, sites, noise, uniforms, state.step, T)
    e_b = float(system.energy(b))
    state.ed_calls += 1
    if labels is not None:
        labels.append((b.copy(), e_b))
    mismatch = (e_b - state.energy) - ds
    accepted = mismatch <= 0.0 or u < math.exp(-mismatch / T)
    if accepted:
        state.spins, state.energy = b, e_b
    if tune:
        state.step = tune_step(state.step, local / m, target)
    return int(accepted), local / m, float(mismatch)
