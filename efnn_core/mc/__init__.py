"""Monte Carlo samplers for lattice spin systems: moves, exact ED-Metropolis, self-learning MC.

    from efnn_core.mc import MCConfig, run
    res = run(MCConfig(method="slmc", L=10, sweeps=200, surrogate="de_effective_translation"), chains=4, seed=0)
    res.summary()     # mean_per_site, error_per_site, acceptance, tau_int, ess, rhat, ess_per_second, ...

Modules: ``moves`` (spin moves), ``metropolis`` (exact single-site Metropolis,
in-place Hamiltonian updates), ``slmc`` (cumulative updates), ``surrogates``
(O(1) local effective model, batch-1 networks), ``chains`` (seeded chains,
parallel driver, checkpoint/resume, cancel), ``diagnostics`` (tau, ESS, R-hat,
S(q)), ``learn`` (the self-learning loop), ``thermal`` (thermal datasets).
"""

from . import moves
from .chains import ChainState, MCConfig, MCError, MCResult, load_checkpoint, run, save_checkpoint
from .diagnostics import ess, mean_error, rhat, structure_factor, tau_int
from .surrogates import GlobalEnergy, LocalEffective, SurrogateError, load_surrogate

__all__ = ["moves", "MCConfig", "MCResult", "ChainState", "MCError", "run", "save_checkpoint", "load_checkpoint",
           "tau_int", "ess", "rhat", "mean_error", "structure_factor", "LocalEffective", "GlobalEnergy",
           "load_surrogate", "SurrogateError"]
