"""Section ``prepared``: prepared plans (record once, replay NumPy kernels) against the
unprepared drivers and the tools that prepare (CasADi, jit-compiled JAX), then in SciPy
clients.

Cells (problems from :mod:`dualdiff.problems`): the gradient of Rosenbrock (vectorised,
n = 100 and 1000, and its Python loop, n = 100), its Hessian (n = 100) and the Jacobian
of the MLP (100 x 100, and 300 x 300 in the full run).  Per cell: one call of f, the
unprepared driver (``dd.gradient`` / ``dd.hessian`` / ``dd.jacobian``, auto), the plan's
call, its preparation (record + compile + first call), and with ``--peers`` CasADi's
``Function`` call (SX graph; MX for the MLP; build apart) and jit-compiled JAX (first call
apart), all checked against the unprepared result.  Then whole SciPy solves with plans
vs the unprepared drivers (same solution), and the memory each plan holds.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize as so
from scipy.integrate import solve_ivp

import dualdiff as dd

from .. import problems
from . import peers as peer_tools
from .report import COLORS, Target, pyplot
from .timing import compare, measure, once


def cells(quick: bool) -> list:
    """(label, kind, n, f, unprepared driver, plan maker).

    >>> [c[0] for c in cells(True)][:2]
    ['gradient, Rosenbrock', 'gradient, Rosenbrock']
    """
    out = [("gradient, Rosenbrock", "gradient", n, problems.rosen,
            lambda f, x: dd.gradient(f, x), dd.gradient_plan) for n in (100, 1000)]
    out += [("Hessian, Rosenbrock", "hessian", 100, problems.rosen,
             lambda f, x: dd.hessian(f, x), dd.hessian_plan),
            ("Hessian sparse, Rosenbrock", "hessian", 100, problems.rosen,
             lambda f, x: dd.hessian(f, x, sparsity="auto"),
             lambda f, x: dd.hessian_plan(f, x, sparsity="auto")),
            ("gradient, Rosenbrock loop", "gradient-loop", 30 if quick else 100,
             problems.rosen_loop, lambda f, x: dd.gradient(f, x), dd.gradient_plan)]
    out += [(f"Jacobian, MLP {n}x{n}", "jacobian", n, problems.MLP(n, n),
             lambda f, x: dd.jacobian(f, x),
             lambda f, x: dd.jacobian_plan(f, x, sparsity=None))
            for n in ((100,) if quick else (100, 300))]
    return out


def _dense(a):
    return a.toarray() if hasattr(a, "toarray") else a


def casadi_cell(kind, n, f, x, budget):
    """(seconds per call, build seconds, result) of CasADi's Function."""
    import casadi as ca

    def build():
        if kind == "jacobian":  # matrix code: CasADi's MX graph (SX would build n^2 nodes)
            z = ca.MX.sym("x", n)
            out = ca.jacobian(ca.mtimes(ca.DM(f.w2), ca.tanh(ca.mtimes(ca.DM(f.w1), z)
                                                              + ca.DM(f.b))), z)
            return ca.Function("J", [z], [out])
        z = ca.SX.sym("x", n)
        if kind == "gradient-loop":
            expr = problems.rosen_loop([z[i] for i in range(n)])  # the same Python loop
        else:
            expr = ca.sum1(100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2)
        out = ca.hessian(expr, z)[0] if kind == "hessian" else ca.gradient(expr, z)
        return ca.Function("d", [z], [out])

    fn, t_build = once(build)
    return measure(lambda: fn(x), budget).min, t_build, np.asarray(fn(x).full())


def jax_cell(kind, n, f, x, budget):
    """(seconds per call, first-call seconds, result) of jit-compiled JAX."""
    jax, jnp = peer_tools.jax()
    if kind == "jacobian":
        fn = jax.jit(jax.jacrev(f.on(jnp)))
    elif kind == "gradient-loop":
        fn = jax.jit(jax.grad(problems.rosen_loop))
    else:
        g = lambda z: problems.rosen(z, jnp)
        fn = jax.jit(jax.hessian(g) if kind == "hessian" else jax.grad(g))
    xj = jnp.asarray(x)
    result, first = once(lambda: np.asarray(fn(xj).block_until_ready()))
    return measure(lambda: fn(xj).block_until_ready(), budget).min, first, result


def cell_rows(ctx, budget) -> list:
    table = ctx.table(
        "prepared plans vs unprepared calls and the peers that prepare; times per call",
        [("cell", "cell", "<26", "what is differentiated"), ("n", "n", "d", "inputs"),
         ("f_ms", "f [ms]", ".4f", "one call of f"),
         ("unprep_ms", "unprep [ms]", ".3f", "the driver without preparation (mode auto)"),
         ("plan_ms", "plan [ms]", ".3f", "a call of the prepared plan"),
         ("prep_ms", "prep [ms]", ".1f", "making a plan: record + compile + first call "
                                          "(the fastest of a few)"),
         ("speedup", "unprep/plan", ".1f", "how much faster the plan is (higher is better)"),
         ("casadi_ms", "casadi [ms]", ".3f", "CasADi Function call (--peers)"),
         ("casadi_build_ms", "build [ms]", ".0f", "building CasADi's Function"),
         ("jax_ms", "jax jit [ms]", ".3f", "jit-compiled JAX call (--peers)"),
         ("jax_first_ms", "1st jax [ms]", ".0f", "JAX's first call: trace + compile"),
         ("plan_vs_casadi", "plan/casadi", ".2f", "plan time / CasADi's (lower is better)"),
         ("plan_vs_jax", "plan/jax", ".2f", "plan time / JAX jit's (lower is better)")])
    rows = []
    rng = np.random.default_rng(1)
    for label, kind, n, f, unprepared, make in cells(ctx.quick):
        x0 = rng.standard_normal(n) if kind == "jacobian" else np.linspace(-1.0, 1.0, n)
        x = x0 + 0.01 * rng.standard_normal(n)
        make_and_call = lambda f=f, make=make, x0=x0, x=x: (p := make(f, x0), p(x))[0]  # noqa: E731
        plan = make_and_call()  # (the process's first plan also pays one-time warm-up)
        t_prep = measure(make_and_call, budget, max_repeats=10).min
        ref = _dense(unprepared(f, x))
        assert np.allclose(_dense(plan(x)), ref, rtol=1e-12, atol=1e-12), label
        t = compare({"f": lambda f=f, x=x: f(x), "unprep": lambda f=f, x=x: unprepared(f, x),
                     "plan": lambda p=plan, x=x: p(x)}, budget, min_repeats=3)
        row = {"cell": label, "n": n, "f_ms": t["f"].min * 1e3,
               "unprep_ms": t["unprep"].min * 1e3, "plan_ms": t["plan"].min * 1e3,
               "prep_ms": t_prep * 1e3, "speedup": t["unprep"].min / t["plan"].min,
               "plan_nodes": plan.nodes, "plan_kib": plan.nbytes / 1024}
        for peer, run in (("casadi", casadi_cell), ("jax", jax_cell)):
            if ctx.has(peer):
                t_call, t_setup, res = run(kind, n, f, x, budget)
                assert np.allclose(np.reshape(res, np.shape(ref)), ref, rtol=1e-9,
                                   atol=1e-9), (peer, label)
                row[f"{peer}_ms"] = t_call * 1e3
                row[f"{peer}_{'build' if peer == 'casadi' else 'first'}_ms"] = t_setup * 1e3
                row[f"plan_vs_{peer}"] = t["plan"].min / t_call
        rows.append(table.add(**row))
    mem = ctx.table("memory a plan holds (its program's constants, index maps and guards' "
                    "results; no values of the recording)",
                    [("cell", "cell", "<26", "as above"), ("n", "n", "d", "inputs"),
                     ("plan_nodes", "nodes", "d", "operations in the recorded program"),
                     ("plan_kib", "KiB", ".1f", "plan.nbytes / 1024")])
    for r in rows:
        mem.add(**{k: r[k] for k in ("cell", "n", "plan_nodes", "plan_kib")})
    return rows


def client_rows(ctx) -> list:
    """Whole SciPy solves with plans vs with the unprepared drivers (same solution)."""
    n = 10 if ctx.quick else 100
    x0 = np.full(n, -0.5)
    x0[::2] = 1.2
    rosen = problems.rosen

    def newton_cg(plans):
        jac, hessp = ((dd.gradient_plan(rosen, x0), dd.hvp_plan(rosen, x0)) if plans else
                      (lambda z: dd.gradient(rosen, z), lambda z, p: dd.hvp(rosen, z, p)))
        return so.minimize(rosen, x0, method="Newton-CG", jac=jac, hessp=hessp,
                           options={"xtol": 1e-10}).x

    def trust_exact(plans):
        y0 = np.resize(x0, 30)
        jac, hess = ((dd.gradient_plan(rosen, y0), dd.hessian_plan(rosen, y0)) if plans else
                     (lambda z: dd.gradient(rosen, z), lambda z: dd.hessian(rosen, z)))
        return so.minimize(rosen, y0, method="trust-exact", jac=jac, hess=hess,
                           options={"gtol": 1e-9}).x

    t = np.linspace(0.0, 4.0, 200)

    def model(p, t):
        return p[0] * np.exp(-p[1] * t) + p[2] * np.sin(p[4] * t + p[3])

    y = model(np.array([2.0, 1.3, 0.5, 0.7, 3.0]), t)

    def resid(p, t, y):
        return model(p, t) - y

    def lsq(plans):
        p0 = np.array([1.5, 1.0, 0.6, 0.5, 2.9])
        jac = (dd.jacobian_plan(resid, p0, sparsity=None, args=(t, y)) if plans else
               (lambda p, t, y: dd.jacobian(resid, p, args=(t, y))))
        return so.least_squares(resid, p0, jac=jac, args=(t, y), xtol=1e-14, ftol=1e-14).x

    m = 20 if ctx.quick else 100
    y0 = problems.brusselator_y0(m)

    def bdf(plans):
        if plans:
            plan = dd.jacobian_plan(lambda u, s: problems.brusselator(s, u), y0, args=(0.0,))
            jac = lambda s, u: plan(u, s)  # noqa: E731
        else:
            jac = lambda s, u: dd.jacobian(lambda z: problems.brusselator(s, z), u,  # noqa: E731
                                           sparsity="auto")
        return solve_ivp(problems.brusselator, (0.0, 10.0), y0, method="BDF", jac=jac,
                         rtol=1e-6, atol=1e-8).y[:, -1]

    table = ctx.table(
        "SciPy solves: wall time of a whole solve with plans vs with unprepared drivers",
        [("client", "client", "<40", "the solver and its problem"),
         ("unprep_s", "unprep [s]", ".3f", "jac / hess / hessp from dd.gradient & co."),
         ("plans_s", "plans [s]", ".3f", "the same from plans made at x0 (their making "
                                         "included)"),
         ("speedup", "unprep/plans", ".1f", "higher is better"),
         ("same", "same x", "", "both solves reach the same solution (rtol 1e-9)")])
    rows = []
    for label, solve in ((f"minimize Newton-CG + hessp, Rosenbrock n={n}", newton_cg),
                         ("minimize trust-exact + hess, Rosenbrock n=30", trust_exact),
                         ("least_squares, 200 residuals x 5", lsq),
                         (f"solve_ivp BDF, Brusselator {2 * m} (sparse)", bdf)):
        tt = compare({"unprep": lambda s=solve: s(False), "plans": lambda s=solve: s(True)},
                     0.0, min_repeats=1 if ctx.quick else 2, warm=False)
        same = bool(np.allclose(solve(False), solve(True), rtol=1e-9, atol=1e-12))
        rows.append(table.add(client=label, unprep_s=tt["unprep"].min, plans_s=tt["plans"].min,
                              speedup=tt["unprep"].min / tt["plans"].min,
                              same="yes" if same else "NO"))
    return rows


def plot(ctx, rows) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(11, 4.8))
    series = [("f_ms", "one call of f", "lightgray"),
              ("unprep_ms", "dualdiff unprepared", COLORS["forward"]),
              ("plan_ms", "dualdiff plan", COLORS["plan"]),
              ("casadi_ms", "CasADi Function", COLORS["casadi"]),
              ("jax_ms", "JAX jit", COLORS["jax"])]
    series = [s for s in series if any(r.get(s[0]) for r in rows)]
    width = 0.8 / len(series)
    for i, (key, label, color) in enumerate(series):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(rows))]
        ax.bar(xs, [r.get(key) or np.nan for r in rows], width, label=label, color=color)
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)), [f"{r['cell'].replace(', ', chr(10))}\nn = {r['n']}"
                                      for r in rows], fontsize=8)
    ax.set_ylabel("milliseconds per call (log; lower is better)")
    ax.set_title("prepared: time per call of a plan vs unprepared calls and compiled peers "
                 "(preparation / compile time not included)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ctx.figure(fig, "prepared.png")


def targets(ctx, rows) -> None:
    """Issue 10's targets for plans, from this run's rows."""
    loop = [r for r in rows if r["cell"].endswith("loop") and r["n"] == 100]
    if loop:
        ctx.target(Target("loop Rosenbrock: unprepared / plan", loop[0]["speedup"], 20.0,
                          higher=True, why="scalar code replayed as batched array operations"))
    worst = max(rows, key=lambda r: r["prep_ms"] / r["unprep_ms"])
    ctx.target(Target("record + compile + first call / one unprepared call, worst cell",
                      worst["prep_ms"] / worst["unprep_ms"], 10.0,
                      why=f"worst: {worst['cell']} n = {worst['n']}"))
    for peer, key in (("CasADi", "plan_vs_casadi"), ("JAX jit", "plan_vs_jax")):
        timed = [r for r in rows if r.get(key)]
        if not timed:
            continue
        first = [r for r in timed if not r["cell"].startswith("Hessian")]
        if first:
            worst = max(first, key=lambda r: r[key])
            ctx.target(Target(f"gradient and Jacobian plans / {peer}, worst cell", worst[key],
                              2.0, why=f"worst: {worst['cell']} n = {worst['n']}"))
        hess = [r[key] for r in timed if r["cell"].startswith("Hessian")]
        if hess and peer == "CasADi":
            ctx.target(Target("Hessian plan (dense or sparse, the faster) / CasADi, "
                              "Rosenbrock n = 100", min(hess), 3.0,
                              why="CasADi returns the sparse Hessian"))


def run(ctx) -> dict:
    rows = cell_rows(ctx, 0.1 if ctx.quick else 0.4)
    clients = client_rows(ctx)
    for r in rows:
        line = (f"{r['cell']} n = {r['n']}: plan {r['plan_ms']:.3f} ms, {r['speedup']:.1f}x "
                f"faster than unprepared")
        for name, key in (("CasADi", "plan_vs_casadi"), ("JAX jit", "plan_vs_jax")):
            if r.get(key):
                line += f"; plan / {name} = {r[key]:.2f}"
        ctx.headline(line)
    targets(ctx, rows)
    ctx.headline("SciPy solves with plans vs unprepared: " + ", ".join(
        f"{c['client'].split(',')[0]} {c['speedup']:.1f}x" for c in clients))
    if ctx.peers:
        fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        ctx.md_table("Prepared plans beside the tools that prepare: milliseconds per call "
                     "(lower is better; build / compile apart)",
                     ["cell", "n", "unprepared", "plan", "CasADi", "JAX jit"],
                     [[r["cell"], r["n"], fmt(r["unprep_ms"]), fmt(r["plan_ms"]),
                       fmt(r.get("casadi_ms")), fmt(r.get("jax_ms"))] for r in rows])
    plot(ctx, rows)
    return {"cells": rows, "scipy": clients}
