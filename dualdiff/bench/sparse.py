"""Benchmark section "sparse": cost of sparse Jacobians relative to one f(x).

For an element-wise f and the Broyden tridiagonal function at n = 1e4, 1e5,
1e6 it times a prepared plan (``jacobian_plan``: one Dual pass of width
#colours plus decompression), the detection + colouring once, scipy's
``approx_derivative(..., sparsity=(pattern, groups))`` with the same pattern,
and (``--peers``) JAX's dense ``jacfwd`` where an n x n array fits in memory.
Dense dualdiff forward mode runs at small n to show that its cost grows like n.
Ratios are time / time of f(x); calls of f are reported beside them.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from scipy.optimize._numdiff import approx_derivative

import dualdiff as dd

from .timing import Counted, best_time

DENSE_BYTES = 2**28  # largest dense n x n Jacobian (float64) a dense method may build


def elementwise(x):
    return np.sin(x) * np.exp(-0.5 * x * x) + np.log1p(x * x)


def broyden(x):
    """Broyden tridiagonal (More, Garbow, Hillstrom no. 30)."""
    F = (3.0 - 2.0 * x) * x + 1.0
    F[1:] = F[1:] - x[:-1]
    F[:-1] = F[:-1] - 2.0 * x[1:]
    return F


FUNCTIONS = {"elementwise": elementwise, "broyden": broyden}


def _jax_dense(name, n):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def jf(x):
        if name == "elementwise":
            return jnp.sin(x) * jnp.exp(-0.5 * x * x) + jnp.log1p(x * x)
        F = (3.0 - 2.0 * x) * x + 1.0
        F = F.at[1:].add(-x[:-1])
        return F.at[:-1].add(-2.0 * x[1:])

    jac = jax.jit(jax.jacfwd(jf))
    x = jnp.linspace(-1.0, 1.0, n)
    jac(x).block_until_ready()  # compile outside the timing
    return best_time(lambda: jac(x).block_until_ready())


def run_one(name, n, peers):
    f = FUNCTIONS[name]
    x = np.linspace(-1.0, 1.0, n)
    tf = best_time(lambda: f(x), budget=0.4)
    t = time.perf_counter()
    pattern = dd.jacobian_sparsity(f, x)
    t_detect = time.perf_counter() - t
    t = time.perf_counter()
    plan = dd.jacobian_plan(f, x, sparsity=pattern)
    t_colour = time.perf_counter() - t
    calls = Counted(f)
    plan.f = calls
    t_plan = best_time(lambda: plan(x), budget=0.4)
    calls_per_jac = calls.calls / max(plan.calls, 1)
    groups = plan.colors
    fd_calls = Counted(f)
    t_fd = best_time(lambda: approx_derivative(fd_calls, x, sparsity=(pattern, groups)), budget=0.4)
    J = plan(x)
    J_fd = approx_derivative(f, x, sparsity=(pattern, groups))
    row = {
        "function": name, "n": n, "nnz": int(pattern.nnz), "colours": plan.ncolors,
        "t_f": tf, "t_detect": t_detect, "t_colour": t_colour, "t_plan": t_plan,
        "ratio_plan": t_plan / tf, "ratio_with_detection": (t_plan + t_detect + t_colour) / tf,
        "f_calls_per_jacobian": calls_per_jac,
        "t_scipy_fd": t_fd, "ratio_scipy_fd": t_fd / tf,
        "scipy_fd_max_rel_err": float(abs(J - J_fd).max() / abs(J).max()),
    }
    if peers and n * n * 8 <= DENSE_BYTES:
        tj = _jax_dense(name, n)
        row["ratio_jax_jacfwd_dense"] = None if tj is None else tj / tf
    return row


def run_dense(name, n, peers):
    f = FUNCTIONS[name]
    x = np.linspace(-1.0, 1.0, n)
    tf = best_time(lambda: f(x), budget=0.4)
    td = best_time(lambda: dd.jacobian(f, x), budget=0.3, max_repeat=5)
    row = {"function": name, "n": n, "t_f": tf, "t_dense": td, "ratio_dense": td / tf}
    if peers:
        tj = _jax_dense(name, n)
        row["ratio_jax_jacfwd_dense"] = None if tj is None else tj / tf
    return row


def _plot(rows, dense_rows, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, name in zip(axes, FUNCTIONS):
        sr = [r for r in rows if r["function"] == name]
        dr = [r for r in dense_rows if r["function"] == name]
        ns = [r["n"] for r in sr]
        ax.loglog(ns, [r["ratio_plan"] for r in sr], "o-", label="dualdiff sparse (plan)")
        ax.loglog(ns, [r["ratio_with_detection"] for r in sr], "s--",
                  label="dualdiff sparse incl. detection")
        ax.loglog(ns, [r["ratio_scipy_fd"] for r in sr], "^-", label="scipy FD, same colouring")
        ax.loglog([r["n"] for r in dr], [r["ratio_dense"] for r in dr], "x-",
                  label="dualdiff dense forward")
        jd = [(r["n"], r["ratio_jax_jacfwd_dense"]) for r in dr + sr
              if r.get("ratio_jax_jacfwd_dense")]
        if jd:
            ax.loglog(*zip(*sorted(jd)), "d:", label="JAX jacfwd (dense)")
        ax.set_title(name)
        ax.set_xlabel("n")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("time of Jacobian / time of f(x)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(args) -> dict:
    """Run the section; print a table; write sparse.json and sparse.png into args.out."""
    quick = getattr(args, "quick", False)
    peers = getattr(args, "peers", False)
    out = getattr(args, "out", ".")
    sizes = [10**4, 10**5] if quick else [10**4, 10**5, 10**6]
    dense_sizes = [100, 1000] if quick else [100, 300, 1000, 3000]
    rows, dense_rows = [], []
    print("sparse Jacobians: time / time of f(x)  (targets: elementwise <= 10, broyden <= 15)")
    print(f"{'function':12s} {'n':>8s} {'col':>4s} {'plan':>7s} {'+detect':>8s} "
          f"{'scipyFD':>8s} {'f calls':>7s} {'jax dense':>9s}")
    for name in FUNCTIONS:
        for n in sizes:
            r = run_one(name, n, peers)
            rows.append(r)
            jx = r.get("ratio_jax_jacfwd_dense")
            print(f"{name:12s} {n:8d} {r['colours']:4d} {r['ratio_plan']:7.1f} "
                  f"{r['ratio_with_detection']:8.1f} {r['ratio_scipy_fd']:8.1f} "
                  f"{r['f_calls_per_jacobian']:7.0f} "
                  f"{'-' if jx is None else f'{jx:9.0f}':>9s}", flush=True)
    print("dense forward mode (dualdiff.jacobian without sparsity): time / time of f(x)")
    for name in FUNCTIONS:
        for n in dense_sizes:
            r = run_dense(name, n, peers)
            dense_rows.append(r)
            jx = r.get("ratio_jax_jacfwd_dense")
            print(f"{name:12s} {n:8d}      {r['ratio_dense']:9.1f}"
                  f"{'' if jx is None else f'   jax {jx:.1f}'}", flush=True)
    result = {"sparse": rows, "dense": dense_rows}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "sparse.json"), "w") as fh:
        json.dump(result, fh, indent=1)
    png = _plot(rows, dense_rows, os.path.join(out, "sparse.png"))
    if png:
        result["png"] = png
    return result
