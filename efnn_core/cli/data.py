"""``python -m efnn_core data generate|list|verify``: labelled datasets."""

from __future__ import annotations

from ._common import add_scheduler_option


def cmd_data_generate(a) -> int:
    from .. import data, parallel

    with parallel.executor_from(a.scheduler) as ex:
        if a.shipped:
            names = a.name.split(",") if a.name else None
            for m in data.generate_shipped(names, out_dir=a.out, workers=a.workers, executor=ex):
                print(f"{m['name']}: {m['count']} configurations, mean E/site {m['labels']['mean_per_site']:.5f}, "
                      f"{m['generation_seconds']} s")
            return 0
        if a.name in data.SHIPPED and a.L is None:  # regenerate one shipped set by name
            m = data.generate_shipped([a.name], out_dir=a.out, workers=a.workers, executor=ex)[0]
        else:
            if a.L is None:
                raise ValueError("--L is required (or use --shipped)")
            from ..systems import recipe

            prefix = (recipe(a.system).train_set or a.system).split("_L")[0]  # de, ising, heisenberg
            name = a.name or f"{prefix}_L{a.L}_n{a.count}_s{a.seed}"
            m = data.generate(name, system=a.system, L=a.L, count=a.count, seed=a.seed, sampler=a.sampler,
                              precision=a.precision, out_dir=a.out, workers=a.workers, chunk=a.chunk,
                              executor=ex)
    print(f"wrote {m['name']}: {m['count']} configurations in {m['generation_seconds']} s; "
          f"E/site = {m['labels']['mean_per_site']:.5f} +- {m['labels']['std_per_site']:.5f}")
    return 0


def cmd_data_list(a) -> int:
    from .. import data

    print(f"{'name':30s} {'system':24s} {'L':>3s} {'count':>6s} {'E/site mean':>12s} {'std':>9s}")
    for n in data.list(a.dir):
        m = data.manifest(n, a.dir)
        print(f"{n:30s} {m['system']:24s} {m.get('L', '-')!s:>3s} {m['count']:6d} "
              f"{m['labels']['mean_per_site']:12.5f} {m['labels']['std_per_site']:9.5f}")
    return 0


def cmd_data_verify(a) -> int:
    from .. import data

    names = [a.name] if a.name else data.list(a.dir)
    for n in names:
        spins, e = data.load(n, a.dir)
        print(f"ok  {n}: spins {spins.shape}, energies {e.shape}")
    return 0


def add(sub) -> None:
    from ..systems import SYSTEMS

    d = sub.add_parser("data", help="generate, list and verify datasets")
    dsub = d.add_subparsers(dest="data_command", required=True)
    g = dsub.add_parser("generate", help="label configurations by exact diagonalization (resumable)",
                        description="Label random spin configurations with E_MC from exact diagonalization, "
                                    "on all cores, resumable after an interruption.")
    g.add_argument("--system", default="double_exchange",
                   choices=[n for n, c in SYSTEMS.items() if not c.recipe.fixed_size])
    g.add_argument("--L", type=int, help="lattice size")
    g.add_argument("--count", type=int, default=1000, help="number of configurations")
    g.add_argument("--seed", type=int, default=0, help="seed of the spin sampler")
    g.add_argument("--sampler", default="uniform", choices=["uniform", "reference"],
                   help="uniform on the sphere, or the authors' theta~U[0,pi], phi=2 theta")
    g.add_argument("--precision", default="double", choices=["double", "single"],
                   help="single (complex64) is faster; its measured error goes into the manifest")
    g.add_argument("--name", help="dataset name (default <prefix>_L{L}_n{count}_s{seed}, e.g. de_L10_n1000_s0); with --shipped a "
                                  "comma-separated subset of the shipped sets")
    g.add_argument("--shipped", action="store_true", help="(re)generate the datasets shipped in data/")
    g.add_argument("--out", help="output folder (default: the package's data/)")
    g.add_argument("--workers", type=int, help="processes (default: all cores)")
    g.add_argument("--chunk", type=int, help="configurations per shard (default: ~10 s of ED each)")
    add_scheduler_option(g)
    g.set_defaults(func=cmd_data_generate)
    ls = dsub.add_parser("list", help="list datasets with their label statistics")
    ls.add_argument("--dir", help="data folder (default: data/)")
    ls.set_defaults(func=cmd_data_list)
    v = dsub.add_parser("verify", help="regenerate spins and check every checksum")
    v.add_argument("name", nargs="?", help="one dataset (default: all)")
    v.add_argument("--dir", help="data folder (default: data/)")
    v.set_defaults(func=cmd_data_verify)
