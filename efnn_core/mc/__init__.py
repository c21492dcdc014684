"""Monte Carlo samplers: moves, exact ED-Metropolis, self-learning Monte Carlo, diagnostics."""
