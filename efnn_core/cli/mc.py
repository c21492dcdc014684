"""``python -m efnn_core mc``: exact ED-Metropolis and self-learning Monte Carlo; ``mc learn``: the self-learning loop."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ._common import add_scheduler_option


def add(sub) -> None:
    p = sub.add_parser("mc", help="Monte Carlo: exact ED-Metropolis and self-learning MC (SLMC)",
                       description="Sample the double exchange model at its temperature with exact "
                                   "ED-Metropolis and/or SLMC (surrogate moves, exact accept/reject). "
                                   "`mc learn` runs the self-learning loop. Rerunning with the same --out "
                                   "resumes an interrupted run to the same result.")
    p.add_argument("action", nargs="?", default="run", choices=["run", "learn"])
    p.add_argument("--method", default="ed,slmc", help="ed, slmc or both comma-separated (default ed,slmc)")
    p.add_argument("--surrogate", default="de_effective_translation",
                   help="SLMC surrogate: a pretrained name or a checkpoint path")
    p.add_argument("--L", type=int, default=10, help="lattice size (3..40)")
    p.add_argument("--sweeps", type=int, default=200, help="sweeps per chain (L^2 local moves), burn-in included")
    p.add_argument("--burn-in", type=int, help="sweeps discarded (default sweeps // 5)")
    p.add_argument("--chains", type=int, default=4, help="independent chains (>= 4 for R-hat)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--local-steps", type=int, help="SLMC cumulative-update length (default L^2)")
    p.add_argument("--step", type=float, default=0.5, help="initial proposal step (tuned in burn-in)")
    p.add_argument("--start", help="start configuration .npy (L, L, 3) for every chain (default random)")
    p.add_argument("--workers", type=int, default=1, help="processes for the chains")
    add_scheduler_option(p)
    p.add_argument("--rounds", type=int, default=3, help="mc learn: sampling / refit rounds")
    p.add_argument("--out", required=True, help="output folder (traces CSV, final spins, summary.json)")
    p.set_defaults(func=cmd_mc)


def _progress(desc, total):
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="unit", file=sys.stderr)

    def cb(done, _total, _states):
        bar.update(done - bar.n)

    return bar, cb


def _start(path, L):
    if path is None:
        return None
    import numpy as np

    from ..mc import MCError

    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise MCError(f"cannot read start spins {path}: {err}") from None


def _write(out: Path, name: str, res) -> dict:
    import numpy as np

    cfg = res.config
    rows = ["chain,unit,sweep,energy,energy_per_site,abs_magnetization"]
    for s in res.states:
        for k, (e, m) in enumerate(zip(s.trace_e, s.trace_m)):
            rows.append(f"{s.index},{k + 1},{(k + 1) / cfg.units_per_sweep:.6g},{e:.12g},"
                        f"{e / cfg.L ** 2:.12g},{m:.8g}")
    (out / f"traces_{name}.csv").write_text("\n".join(rows) + "\n")
    np.save(out / f"final_spins_{name}.npy", np.stack([s.spins for s in res.states]))
    sq = res.structure_factor()
    if sq is not None:
        np.save(out / f"structure_factor_{name}.npy", sq)
    return res.summary()


def _table(summary: dict) -> str:
    cols = [("mean_per_site", "<E>/site", ".5f"), ("error_per_site", "+-", ".5f"), ("acceptance", "accept", ".3f"),
            ("tau_int", "tau(sweeps)", ".2f"), ("ess", "ESS", ".0f"), ("rhat", "R-hat", ".3f"),
            ("ess_per_second", "ESS/s", ".3g"), ("ed_calls", "ED calls", "d"), ("seconds", "seconds", ".1f")]
    lines = [f"{'method':8s} " + " ".join(f"{h:>11s}" for _, h, _ in cols)]
    for name, s in summary.items():
        lines.append(f"{name:8s} " + " ".join(f"{s.get(k, float('nan')):>11{f}}" if k in s else f"{'-':>11s}"
                                                for k, _, f in cols))
    return "\n".join(lines)


def cmd_mc(a) -> int:
    from ..mc import MCConfig, MCError, run
    from ..parallel import executor_from

    if a.action == "learn":
        return _learn(a)
    methods = [m.strip() for m in a.method.split(",") if m.strip()]
    if not methods or any(m not in ("ed", "slmc") for m in methods):
        raise MCError(f"--method must be ed, slmc or ed,slmc; got {a.method!r}")
    start = _start(a.start, a.L)
    cfgs = {m: MCConfig(method=m, L=a.L, sweeps=a.sweeps, burn_in=a.burn_in, local_steps=a.local_steps,
                        step=a.step, surrogate=a.surrogate if m == "slmc" else None) for m in methods}
    if "slmc" in cfgs:  # a bad surrogate fails here, before any work
        from ..mc import load_surrogate

        load_surrogate(a.surrogate, a.L, system=cfgs["slmc"].model())
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    with executor_from(a.scheduler) as ex:  # None: this machine's processes (--workers)
        for name, cfg in cfgs.items():
            bar, cb = _progress(name, cfg.units * a.chains)
            try:
                res = run(cfg, chains=a.chains, seed=a.seed, workers=a.workers, executor=ex,
                          checkpoint=out / f"checkpoint_{name}", progress=cb, start=start)
            finally:
                bar.close()
            summary[name] = _write(out, name, res)
    if len(summary) == 2 and all("error_per_site" in s for s in summary.values()):
        e, s = summary["ed"], summary["slmc"]
        diff = abs(e["mean_per_site"] - s["mean_per_site"])
        sigma = (e["error_per_site"] ** 2 + s["error_per_site"] ** 2) ** 0.5
        summary["comparison"] = {"difference_per_site": diff, "sigma_per_site": sigma,
                                 "agree_within_3_sigma": bool(diff <= 3 * sigma),
                                 "ess_per_second_ratio": s["ess_per_second"] / e["ess_per_second"]}
    doc = {"command": "python -m efnn_core " + " ".join(a.argv), "seed": a.seed, "chains": a.chains,
           **{k: v for k, v in summary.items()}}
    (out / "summary.json").write_text(json.dumps(doc, indent=1, default=float) + "\n")
    print(_table({k: v for k, v in summary.items() if k != "comparison"}))
    if "comparison" in summary:
        c = summary["comparison"]
        print(f"SLMC - ED: {c['difference_per_site']:.5f} per site ({'agree' if c['agree_within_3_sigma'] else 'DISAGREE'}"
              f" within 3 sigma = {3 * c['sigma_per_site']:.5f}); ESS/s ratio {c['ess_per_second_ratio']:.3g}")
    print(f"wrote {out}/summary.json, traces_*.csv, final_spins_*.npy")
    return 0


def _learn(a) -> int:
    from ..mc import learn

    out = Path(a.out)
    for r in learn.loop(a.surrogate, L=a.L, rounds=a.rounds, sweeps=a.sweeps, chains=a.chains, seed=a.seed,
                        local_steps=a.local_steps, out=out, workers=a.workers, command="python -m efnn_core "
                        + " ".join(a.argv)):
        print(f"round {r['round']}: acceptance {r['acceptance']:.3f}, surrogate RMSE on this round's "
              f"configurations {r['rmse_T']:.3f} T (spread {r['spread_T']:.3f} T), refit on {r['labels']} labels: "
              f"in-sample RMSE {r['fit_rmse_T']:.3f} T", flush=True)
    print(f"wrote {out} (final surrogate checkpoint {out / 'surrogate'})")
    return 0
