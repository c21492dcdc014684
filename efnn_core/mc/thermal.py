"""Thermal datasets: equilibrium configurations of the double exchange model at T = 0.1, from SLMC chains.

Random spins (the shipped de_L* sets) sit at E/site ~ -0.511; a chain at T = 0.1
visits E/site ~ -0.57, where models trained on random spins are off by several T.
``generate`` runs independent SLMC chains (exact results whatever the
surrogate), keeps one configuration every ``thin`` cumulative updates after
burn-in, relabels the kept configurations by exact diagonalization *as
stored* (float32 spins, cast to float64: the label is exact for the stored
array) and writes ``<name>.json`` + ``<name>.npz`` (spins float32, energies
float64) that ``efnn_core.data.load`` reads with sha256 checks.  Chains are
split into datasets by chain index, never by sample, so a test set is an
independent chain.  Resumable: the chains checkpoint under ``work``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .. import __version__
from .chains import MCConfig, run

__all__ = ["generate"]


def generate(splits: dict, *, L: int, chains: int, per_chain: int, thin: int, burn_in: int, seed: int,
             surrogate: str = "de_effective_translation", out_dir=None, work=None, workers: int = 1,
             chunk: int = 100, progress=None) -> list[dict]:
    """Run the chains and write one dataset per entry of ``splits`` (name -> list of chain indices).

    Args:
        L: lattice size; chains: number of independent chains; per_chain: kept configurations per chain;
        thin: cumulative updates (of L^2 surrogate steps) between kept configurations; burn_in: sweeps
        discarded first; seed: SeedSequence seed of the chains.
    """
    from .. import data
    from ..solvers import ed

    out = Path(out_dir) if out_dir else data.DATA_DIR
    work = Path(work) if work else out / ".partial" / f"thermal_L{L}_s{seed}"
    cfg = MCConfig(method="slmc", L=L, sweeps=burn_in + per_chain * thin, burn_in=burn_in,
                   surrogate=surrogate, keep_every=thin)
    t0 = time.perf_counter()
    res = run(cfg, chains=chains, seed=seed, workers=workers, checkpoint=work, progress=progress, chunk=chunk)
    summary = res.summary()
    system = cfg.model()
    written = []
    for name, idx in splits.items():
        spins = np.stack([x for k in idx for x, _ in res.states[k].kept[:per_chain]]).astype(np.float32)
        chain_e = np.array([e for k in idx for _, e in res.states[k].kept[:per_chain]])
        energies = np.asarray(ed.energies(system, spins.astype(np.float64), workers=workers), dtype=np.float64)
        m = {"name": name, "system": "double_exchange", "params": system.params(),
             "generator_version": data.GENERATOR_VERSION, "library_version": __version__, "L": int(L),
             "count": int(len(spins)), "sampler": "thermal (SLMC chains)", "precision": "double",
             "spins_stored": "float32",
             "chain": {"method": "slmc", "surrogate": surrogate, "local_steps": cfg.m, "seed": int(seed),
                       "chains": [int(k) for k in idx], "of_chains": int(chains), "burn_in_sweeps": int(burn_in),
                       "thin_updates": int(thin), "per_chain": int(per_chain), "temperature": system.T,
                       "acceptance": summary.get("acceptance"), "tau_int_sweeps": summary.get("tau_int"),
                       "rhat_all_chains": summary.get("rhat"),
                       "relabel_max_abs_change": float(np.abs(energies - chain_e).max()),
                       "note": "labels recomputed by ED on the stored float32 spins (cast to float64); "
                               "relabel_max_abs_change is the effect of the float32 rounding"},
             "sha256_spins": data.sha256(spins), "sha256_energies": data.sha256(energies),
             "labels": data.label_stats(energies, L * L),
             "generation_seconds": round(time.perf_counter() - t0, 2), "hardware": data._hardware()}
        np.savez_compressed(out / f"{name}.npz", spins=spins, energies=energies)
        (out / f"{name}.json").write_text(json.dumps(m, indent=1) + "\n")
        written.append(m)
    return written


if __name__ == "__main__":  # python -m efnn_core.mc.thermal  (the shipped thermal sets; resumable)
    import sys

    which = sys.argv[1:] or ["10", "20", "10large"]
    if "10" in which:
        for m in generate({"de_thermal_L10_train": list(range(8)), "de_thermal_L10_test": [8, 9]},
                          L=10, chains=10, per_chain=600, thin=3, burn_in=40, seed=1210,
                          progress=lambda d, t, s: print(f"L=10 {d}/{t}", flush=True)):
            print(m["name"], m["count"], m["labels"]["mean_per_site"], flush=True)
    if "20" in which:
        for m in generate({"de_thermal_L20_test": [0, 1, 2, 3]}, L=20, chains=4, per_chain=80, thin=3,
                          burn_in=60, seed=1220, surrogate="de_effective_translation_mc", progress=lambda d, t, s: print(f"L=20 {d}/{t}", flush=True)):
            print(m["name"], m["count"], m["labels"]["mean_per_site"], flush=True)
    if "10large" in which:  # a larger training set (independent chains, other seed) for the networks
        for m in generate({"de_thermal_L10_train_large": list(range(20))}, L=10, chains=20, per_chain=600, thin=2,
                          burn_in=40, seed=1211, surrogate="de_effective_translation_mc",
                          progress=lambda d, t, s: print(f"L=10 large {d}/{t}", flush=True)):
            print(m["name"], m["count"], m["labels"]["mean_per_site"], flush=True)
