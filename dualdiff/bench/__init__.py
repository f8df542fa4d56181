"""``python -m dualdiff bench``: the benchmark (see its --help)."""

from __future__ import annotations

import argparse


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="dualdiff bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small grid, under 20 s")
    parser.add_argument("--peers", action="store_true", help="add JAX, torch, autograd, ...")
    parser.add_argument("--out", default=".", help="directory for JSON and PNG results")
    args = parser.parse_args(argv)
    from .modes import run as run_modes  # TEMPORARY wiring on branch tape; lead merges

    run_modes(args)
    return 0
