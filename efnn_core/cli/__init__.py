"""Command line: ``python -m efnn_core <command> ...`` (``--help`` on every command).

One module per command in this package, each with ``add(subparsers)`` adding
its parser and setting ``func``; ``COMMANDS`` lists them in help order (no
registration side effects, no import cycle).  A command module imports the
library lazily inside its ``cmd_*`` function, so ``--help`` stays fast.

Every error a user can cause (bad arguments, a missing, corrupt or hostile
file, an unwritable folder) is a ``ValueError`` subclass or an ``OSError`` in
the library; ``main`` prints it as one line ``error: ...`` and exits with 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("data", "train", "evaluate", "fit_effective", "pretrain", "reproduce", "mc", "sweep")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m efnn_core",
                                description="Effective Field Neural Networks: data, training, evaluation.")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add(sub)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in checkpoints
    try:
        return args.func(args)
    except (ValueError, OSError) as err:  # every library error a user can cause
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: not enough memory for this request; use a smaller size or count", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished chunks are kept and a rerun resumes", file=sys.stderr)
        return 130
