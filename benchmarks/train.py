"""Training throughput of the project's lattice EFNN against the straightforward implementation.

Both networks hold the same weights; one "step" is forward + backward of the
MSE loss on a batch of random unit spins (L = 10, batch 1024 by default).
The two are timed in alternating rounds in this process, so machine load
affects both alike; the best round of each is reported, and the ratio.

    python benchmarks/train.py            # C=3, n=2, batch 1024, L=10
    python benchmarks/train.py --quick    # fewer rounds
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))  # run from anywhere

from efnn_core.nets import build
from efnn_core.nets._reference import reference


def step_time(model, x, y) -> float:
    t = time.perf_counter()
    model.zero_grad(set_to_none=True)
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--L", type=int, default=10)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--quick", action="store_true", help="3 rounds")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds = 3 if args.quick else args.rounds

    model = build("efnn", "lattice", channels=args.channels, layers=args.layers, seed=0)
    ref = reference(model)
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(args.batch, args.L, args.L, 3, generator=g), dim=-1)
    y = torch.randn(args.batch, generator=g) - 50.0

    with torch.no_grad():
        e, e_ref = model(x), ref(x)
    rel = ((e - e_ref).abs().max() / e_ref.abs().max()).item()
    print(f"EFNN C={args.channels} n={args.layers} ({model.num_parameters()} parameters), L={args.L}, "
          f"batch {args.batch}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"numerics: max |E_fast - E_reference| / max |E| = {rel:.2e}")

    best = {"reference": float("inf"), "project": float("inf")}
    for m in (ref, model):  # warm-up
        step_time(m, x, y)
    for _ in range(rounds):
        best["reference"] = min(best["reference"], step_time(ref, x, y))
        best["project"] = min(best["project"], step_time(model, x, y))
    for name, t in best.items():
        print(f"{name:>10}: {t * 1e3:8.1f} ms/step  {args.batch / t:9.0f} samples/s (forward+backward)")
    print(f"speed-up: {best['reference'] / best['project']:.2f}x  (goal >= 3x)")


if __name__ == "__main__":
    main()
