"""``python -m dualdiff bench``: dualdiff's benchmark, reported as ratios from one run.

Sections (each also runnable alone with ``--section NAME``):

* ``modes``    forward vs reverse vs auto over a grid of (n, m): the main table;
* ``overhead`` Jacobian cost / cost of f for a small MLP, scalar-op overhead;
* ``hessian``  hessian and hvp cost / cost of f (Rosenbrock);
* ``sparse``   coloured sparse Jacobians vs n (element-wise, Broyden tridiagonal);
* ``prepared`` prepared plans vs CasADi and jit-compiled JAX, and in SciPy clients.
* ``scale``    ``executor=`` speed-ups on an f of ~50 ms, sparse Hessians vs n.

Results go to ``--out`` as ``<section>.json`` (and PNG plots).
"""

from __future__ import annotations

import argparse
import importlib
import os
import time

SECTIONS = ("modes", "overhead", "hessian", "sparse", "prepared", "scale")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="dualdiff bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small grids, about 20 s in all")
    parser.add_argument("--peers", action="store_true",
                        help="add JAX, torch.func, autograd, numdifftools when installed")
    parser.add_argument("--out", default=".", help="directory for JSON and PNG results")
    parser.add_argument("--section", choices=SECTIONS, action="append",
                        help="run only this section (repeatable)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    for name in args.section or SECTIONS:
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(f".{name}", __name__).run(args)
    print(f"\nbenchmark done in {time.perf_counter() - start:.1f} s; results in {args.out}")
    return 0
