"""dualdiff's benchmark: every figure a ratio measured in one run on this machine.

Sections (run all, or pick with --section NAME, repeatable):
  modes      forward vs reverse vs auto on Jacobians over a grid of sizes (n, m)
  overhead   Jacobian / f by chunk size (MLP); one scalar Dual operation vs a float
  hessian    hessian and hvp / f (Rosenbrock), by method
  sparse     coloured sparse Jacobians / f as n grows (element-wise, Broyden)
  prepared   prepared plans vs unprepared calls, CasADi and jit-compiled JAX; SciPy solves
  scale      executor= speed-ups on a slow f; sparse Hessians / f as n grows

Each section prints tables whose header explains every column, checks its targets
(met / MISSED), and writes <section>.json (with provenance: versions, date, CPUs,
BLAS threads, command line) and <section>.png into --out; summary.md lists the
headline figures.  Set OPENBLAS_NUM_THREADS=1 first: BLAS threads on a shared
machine make small matrix products erratic.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

from . import peers as peer_tools
from .report import Context, blas_threads, provenance, write_json

SECTIONS = ("modes", "overhead", "hessian", "sparse", "prepared", "scale")


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m dualdiff bench``.

    >>> parser().parse_args([]).out
    'bench-out'
    """
    p = argparse.ArgumentParser(
        prog="python -m dualdiff bench", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smaller grids and fewer repeats: all sections in about 35 s on a "
                        "shared 2-core machine (about 80 s with --peers)")
    p.add_argument("--peers", action="store_true",
                   help="also time JAX, torch.func, autograd, CasADi and numdifftools where "
                        "installed (lists the missing ones and how to install them)")
    p.add_argument("--out", default="bench-out",
                   help="directory for the JSON, PNG and summary.md files (default: bench-out)")
    p.add_argument("--section", choices=SECTIONS, action="append",
                   help="run only this section (repeatable)")
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    blas = blas_threads()
    print(f"BLAS threads: {blas['threads']} ({blas['source']})")
    if blas["threads"] != 1:
        print("warning: BLAS may use more than one thread; on a shared machine that makes small "
              "matrix products erratic. Run with OPENBLAS_NUM_THREADS=1 (set before Python "
              "starts).")
    found = {}
    if args.peers:
        found = peer_tools.available()
        print("peers found: " + (", ".join(k for k, v in found.items() if v) or "none"))
        for line in peer_tools.missing_lines(found):
            print("  missing " + line)
    start = time.perf_counter()
    summary = {}
    for name in args.section or SECTIONS:
        print(f"\n=== {name} ===", flush=True)
        ctx = Context(quick=args.quick, peers=found, out=args.out, argv=argv)
        t0 = time.perf_counter()
        extra = importlib.import_module(f".{name}", __name__).run(ctx)
        seconds = time.perf_counter() - t0
        result = ctx.result(name, seconds, extra)
        write_json(ctx.path(f"{name}.json"), result, argv)
        summary[name] = result
        print(f"[{name}: {seconds:.1f} s]", flush=True)
    total = time.perf_counter() - start
    write_summary(args.out, summary, total, argv)
    missed = [t for r in summary.values() for t in r["targets"] if not t["met"]]
    print(f"\nbenchmark done in {total:.1f} s; results in {args.out}/ (summary.md); "
          f"targets: {sum(len(r['targets']) for r in summary.values()) - len(missed)} met, "
          f"{len(missed)} missed")
    return 0


def write_summary(out: str, summary: dict, total: float, argv) -> str:
    """summary.md: per section its headline figures and targets; and summary.json."""

    prov = provenance(argv)
    lines = [f"Command: `{'OPENBLAS_NUM_THREADS=1 ' if prov['blas']['threads'] == 1 else ''}"
             f"{prov['command']}` — {total:.0f} s; dualdiff {prov['dualdiff']}, NumPy "
             f"{prov['numpy']}, SciPy {prov['scipy']}, Python {prov['python']}, "
             f"{prov['cpu_count']} CPUs, BLAS threads {prov['blas']['threads']}, {prov['date']}.",
             "", "| section | figure |", "|---|---|"]
    for name, r in summary.items():
        for h in r["headlines"]:
            lines.append(f"| {name} | {h} |")
        for t in r["targets"]:
            op = ">=" if t["better"] == "higher" else "<="
            lines.append(f"| {name} | target {t['name']}: {t['value']:.3g} {op} {t['limit']:g}"
                         f" — **{'met' if t['met'] else 'missed'}** |")
    for r in summary.values():
        lines += r["markdown"]
    path = os.path.join(out, "summary.md")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    write_json(os.path.join(out, "summary.json"),
               {"seconds": total, "sections": {k: {"headlines": r["headlines"],
                                                   "targets": r["targets"],
                                                   "seconds": r["seconds"]}
                                               for k, r in summary.items()}}, argv)
    return path
