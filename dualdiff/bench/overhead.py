"""Section ``overhead``: what a Jacobian costs relative to f, and what one scalar Dual
operation costs relative to a float operation.

* the MLP of :mod:`dualdiff.problems` at n = m = 100 and 300: ``jacobian(f, x,
  mode="forward", chunk=k)`` / f for k = 1, 8, 32 and the default, with the calls of f
  (dense forward mode makes ceil(n / k) passes of k directions);
* :func:`dualdiff.problems.rosen_loop` at n = 100 on floats, NumPy float64 scalars and
  Duals: time per operation (11 per loop iteration, counted by hand from the code:
  3 reads x[i], x[i+1], x[i]; 2 squares and a square; 2 subtractions, a product, 2 additions);
* (full run) time per Jacobian column of an element-wise f at n = 10^4, 10^5 by chunk size.
"""

from __future__ import annotations

import numpy as np

from .. import Dual, gradient, jacobian, jvp, problems
from .report import pyplot
from .timing import Counted, measure

#: operations per iteration of problems.rosen_loop (see the module docstring)
OPS_PER_ITERATION = 11


def mlp_rows(ctx) -> list:
    table = ctx.table(
        "MLP Jacobian by chunk size (forward mode); ratios are multiples of one call of f",
        [("n", "n = m", "d", "inputs = outputs (hidden width 64)"),
         ("chunk", "chunk", "", "directions per pass (default: chosen from a memory budget)"),
         ("calls", "f calls", "d", "calls of f per Jacobian: ceil(n / chunk)"),
         ("ms", "time [ms]", ".3f", "one Jacobian, fastest repeat"),
         ("ratio", "J/f", ".0f", "time of the Jacobian / time of f"),
         ("per_call", "J/(calls f)", ".1f", "J/f per call of f: the cost of one pass in f")])
    rows = []
    for n in (100, 300):
        f = problems.MLP(n, n)
        x = f.x0
        tf = measure(lambda f=f: f(x), 0.05).min
        for chunk in (1, 8, 32, None):
            counted = Counted(f)
            jac = jacobian(counted, x, mode="forward", chunk=chunk)
            assert np.allclose(jac, f.jacobian(x), rtol=1e-10, atol=1e-12)
            t = measure(lambda c=chunk, f=f: jacobian(f, x, mode="forward", chunk=c),
                        0.05 if ctx.quick else 0.25, max_repeats=30).min
            rows.append(table.add(n=n, chunk="default" if chunk is None else str(chunk),
                                  calls=counted.calls, ms=t * 1e3, ratio=t / tf,
                                  per_call=t / tf / counted.calls, f_us=tf * 1e6))
    return rows


def scalar_rows(ctx) -> list:
    n = 100
    x = np.random.default_rng(1).normal(size=n)
    ops = OPS_PER_ITERATION * (n - 1)
    table = ctx.table(
        f"scalar code: problems.rosen_loop at n = {n} ({ops} operations)",
        [("case", "number type", "<28", "what the loop computes on"),
         ("ns", "ns / op", ".0f", "time per operation, nanoseconds"),
         ("ratio", "x float", ".1f", "time per operation / a Python float's")])
    cases = {"Python float": lambda: problems.rosen_loop(x.tolist()),
             "NumPy float64": lambda: problems.rosen_loop(x),
             "Dual, 1 direction (jvp)": lambda: jvp(problems.rosen_loop, x, np.ones(n)),
             f"Dual, {n} directions (grad)": lambda: gradient(problems.rosen_loop, x,
                                                               mode="forward")}
    rows, floor = [], None
    for name, fn in cases.items():
        per_op = measure(fn, 0.05 if ctx.quick else 0.2, max_repeats=30).min / ops
        floor = floor or per_op
        rows.append(table.add(case=name, ns=per_op * 1e9, ratio=per_op / floor))
    return rows


def chunk_rows(ctx) -> list:
    table = ctx.table(
        "element-wise f (problems.elementwise): seconds per Jacobian column by chunk size",
        [("n", "n", "d", "inputs = outputs"), ("chunk", "chunk", "d", "directions per pass"),
         ("us", "us / column", ".1f",
          "time of one pass of `chunk` directions / chunk, microseconds")])
    rows = []
    for n in (10**4, 10**5):
        x = np.random.default_rng(2).normal(size=n)
        for k in (1, 4, 16, 64):
            # the first k columns of the Jacobian: one pass of k directions (a Dual seeded
            # with k unit vectors)
            seed = np.eye(k, n)
            t = measure(lambda s=seed: problems.elementwise(Dual(x, s)), 0.1,
                        max_repeats=10).min
            rows.append(table.add(n=n, chunk=k, us=t / k * 1e6))
    return rows


def plot(ctx, rows) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for n, color in ((100, "C0"), (300, "C3")):
        rs = [r for r in rows if r["n"] == n]
        ax.loglog([r["calls"] for r in rs], [r["ratio"] for r in rs], "o-", color=color,
                  label=f"MLP n = m = {n}")
        for r in rs:
            ax.annotate(f"chunk {r['chunk']}", (r["calls"], r["ratio"]),
                        textcoords="offset points", xytext=(5, -11), fontsize=7)
    ax.set_xlabel("calls of f per Jacobian (passes, ceil(n / chunk))")
    ax.set_ylabel("time of jacobian / time of f   (lower is better)")
    ax.set_title("overhead: forward-mode Jacobian cost by chunk size\n"
                 "fewer, wider passes are cheaper; the default takes one pass here")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ctx.figure(fig, "overhead.png")


def run(ctx) -> dict:
    mlp = mlp_rows(ctx)
    scalar = scalar_rows(ctx)
    result = {"mlp": mlp, "scalar": scalar}
    if not ctx.quick:
        result["chunk"] = chunk_rows(ctx)
    for n in (100, 300):
        r = next(r for r in mlp if r["n"] == n and r["chunk"] == "default")
        ctx.headline(f"MLP n = m = {n}: jacobian / f = {r['ratio']:.0f} in {r['calls']} pass "
                     f"({r['ms']:.2f} ms; f = {r['f_us']:.1f} us)")
    dual = scalar[2]
    ctx.headline(f"scalar code (Rosenbrock loop): one Dual operation {dual['ns'] / 1e3:.1f} us "
                 f"= {dual['ratio']:.0f}x a Python float operation "
                 f"(NumPy float64: {scalar[1]['ratio']:.1f}x)")
    plot(ctx, mlp)
    return result
