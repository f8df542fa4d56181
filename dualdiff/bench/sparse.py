"""Section ``sparse``: coloured sparse Jacobians relative to one call of f as n grows.

For the element-wise map and Broyden's tridiagonal function (:mod:`dualdiff.problems`)
at n = 10^4 .. 10^6: a prepared ``jacobian_plan`` (one pass of #colours directions
plus decompression), detection + colouring once, and SciPy's coloured finite
differences with the same pattern and colours (``approx_derivative(...,
sparsity=(pattern, groups))``, what ``least_squares(jac_sparsity=...)`` runs); dense
forward mode at small n, whose cost grows like n.  ``--peers``: JAX's dense ``jacfwd``
(jit) where an n x n array fits.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize._numdiff import approx_derivative  # scipy's own coloured differences

from .. import jacobian, jacobian_plan, jacobian_sparsity, problems
from . import peers as peer_tools
from .report import COLORS, Target, pyplot
from .timing import Counted, compare, measure, once

#: plan / f allowed: one pass of #colours directions costs a few f
TARGETS = {"elementwise": 10.0, "broyden": 15.0}
DENSE_BYTES = 2**27  # the largest dense n x n Jacobian a dense peer may build
FUNCTIONS = {"elementwise": (problems.elementwise,
                             lambda x: np.diag(problems.elementwise_derivative(x))),
             "broyden": (problems.broyden, problems.broyden_jacobian)}


def jax_dense(name, x, budget):
    jax, jnp = peer_tools.jax()
    f = peer_tools.broyden_jax if name == "broyden" else (
        lambda z: problems.elementwise(z, jnp))
    jac = jax.jit(jax.jacfwd(f))
    xj = jnp.asarray(x)
    jac(xj).block_until_ready()  # trace + compile outside the timing
    return measure(lambda: jac(xj).block_until_ready(), budget, max_repeats=20).min


def sparse_row(ctx, name, n, budget):
    f, _ = FUNCTIONS[name]
    x = np.linspace(-1.0, 1.0, n)
    pattern, t_detect = once(lambda: jacobian_sparsity(f, x))
    counted = Counted(f)
    plan, t_colour = once(lambda: jacobian_plan(counted, x, sparsity=pattern))
    J = plan(x)
    calls = counted.calls
    ref_diag = problems.elementwise_derivative(x) if name == "elementwise" else 3.0 - 4.0 * x
    assert np.allclose(J.diagonal(), ref_diag, rtol=1e-12, atol=1e-12), name
    groups = plan.colors
    t = compare({"f": lambda: f(x), "plan": lambda: plan(x),
                 "fd": lambda: approx_derivative(f, x, sparsity=(pattern, groups))}, budget,
                max_repeats=50)
    tf, t_plan, t_fd = t["f"].min, t["plan"].min, t["fd"].min
    err = abs(approx_derivative(f, x, sparsity=(pattern, groups)) - J).max() / abs(J).max()
    row = {"function": name, "n": n, "nnz": int(pattern.nnz), "colours": plan.ncolors,
           "f_us": tf * 1e6, "plan": t_plan / tf, "with_detection": (t_plan + t_detect +
                                                                    t_colour) / tf,
           "detect_ms": (t_detect + t_colour) * 1e3, "calls": calls, "fd": t_fd / tf,
           "fd_error": float(err), "jax_dense": None}
    if ctx.has("jax") and n * n * 8 <= DENSE_BYTES:
        row["jax_dense"] = jax_dense(name, x, budget) / tf
    return row


def dense_row(ctx, name, n, budget):
    f, ref = FUNCTIONS[name]
    x = np.linspace(-1.0, 1.0, n)
    tf = measure(lambda: f(x), budget / 2).min
    assert np.allclose(jacobian(f, x), ref(x), rtol=1e-12, atol=1e-12)
    t = measure(lambda: jacobian(f, x), budget, min_repeats=2, max_repeats=10).min
    row = {"function": name, "n": n, "f_us": tf * 1e6, "dense": t / tf, "jax_dense": None}
    if ctx.has("jax"):
        row["jax_dense"] = jax_dense(name, x, budget) / tf
    return row


def plot(ctx, rows, dense_rows) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    for ax, name in zip(axes, FUNCTIONS):
        sr = [r for r in rows if r["function"] == name]
        dr = [r for r in dense_rows if r["function"] == name]
        ns = [r["n"] for r in sr]
        ax.loglog(ns, [r["plan"] for r in sr], "o-", color=COLORS["plan"],
                  label="dualdiff jacobian_plan (sparse, exact)")
        ax.loglog(ns, [r["with_detection"] for r in sr], "o:", color=COLORS["plan"],
                  label="dualdiff, detection + colouring included")
        ax.loglog(ns, [r["fd"] for r in sr], "^-", color=COLORS["scipy"],
                  label="SciPy coloured finite differences (approximate)")
        ax.loglog([r["n"] for r in dr], [r["dense"] for r in dr], "x-", color=COLORS["dense"],
                  label="dualdiff dense forward (no sparsity)")
        jd = sorted((r["n"], r["jax_dense"]) for r in dr + sr if r.get("jax_dense"))
        if jd:
            ax.loglog(*zip(*jd), "d:", color=COLORS["jax"], label="JAX jacfwd jit (dense)")
        ax.axhline(TARGETS[name], color="k", lw=0.8, ls="--",
                   label=f"target for the plan: {TARGETS[name]:g} f")
        ax.set_title(f"{name}: {sr[0]['colours']} colour(s)" if sr else name)
        ax.set_xlabel("n (inputs = outputs)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("time of Jacobian / time of f   (lower is better)")
    fig.suptitle("sparse: Jacobian cost as n grows; coloured Jacobians stay flat, dense ones "
                 "grow like n")
    fig.tight_layout()
    ctx.figure(fig, "sparse.png")


def run(ctx) -> dict:
    sizes = [10**4, 10**5] if ctx.quick else [10**4, 10**5, 10**6]
    dense_sizes = [100, 1000] if ctx.quick else [100, 300, 1000]
    budget = 0.05 if ctx.quick else 0.4
    table = ctx.table(
        "sparse Jacobians (scipy.sparse results); ratios are multiples of one call of f",
        [("function", "function", "<11", "elementwise: diagonal J; broyden: tridiagonal J"),
         ("n", "n", "d", "inputs = outputs"),
         ("colours", "colours", "d", "seed directions after column colouring"),
         ("f_us", "f [us]", ".0f", "one call of f, microseconds"),
         ("plan", "plan/f", ".1f", "a prepared jacobian_plan call / f"),
         ("with_detection", "+detect/f", ".1f",
          "plan call + detection + colouring (the first call) / f"),
         ("fd", "scipyFD/f", ".1f", "SciPy coloured finite differences, same colours / f"),
         ("fd_error", "FD error", ".0e", "finite differences' max error / max |J|"),
         ("jax_dense", "jaxdense/f", ".0f", "JAX jacfwd (jit, dense n x n) / f; --peers")])
    rows = []
    for name in FUNCTIONS:
        for n in sizes:
            rows.append(table.add(**sparse_row(ctx, name, n, budget)))
    dtable = ctx.table(
        "dense forward mode (jacobian without sparsity) for comparison",
        [("function", "function", "<11", "as above"), ("n", "n", "d", "inputs = outputs"),
         ("dense", "dense/f", ".0f", "jacobian(f, x) / f: grows like n"),
         ("jax_dense", "jaxdense/f", ".0f", "JAX jacfwd (jit) / f; --peers")])
    dense_rows = [dtable.add(**dense_row(ctx, name, n, budget))
                  for name in FUNCTIONS for n in dense_sizes]
    for name, limit in TARGETS.items():
        rs = [r for r in rows if r["function"] == name]
        worst = max(rs, key=lambda r: r["plan"])
        ctx.target(Target(f"{name} jacobian_plan / f, worst n", worst["plan"], limit,
                          why=f"at n = {worst['n']}; {worst['colours']} colour(s)"))
        ctx.headline(f"{name} ({rs[0]['colours']} colours): jacobian_plan / f = "
                     + " / ".join(f"{r['plan']:.1f}" for r in rs) + " at n = "
                     + " / ".join(f"{r['n']:.0e}" for r in rs) + "; with detection "
                     + " / ".join(f"{r['with_detection']:.0f}" for r in rs)
                     + "; SciPy coloured FD " + " / ".join(f"{r['fd']:.0f}" for r in rs))
    plot(ctx, rows, dense_rows)
    return {"sparse": rows, "dense": dense_rows}
