"""Prepared section: plans (record once, replay NumPy kernels) vs the tools that prepare.

Columns of the main table (median wall time of one call, same run, same machine):

* ``f``          one call of the plain NumPy function;
* ``unprepared`` today's dualdiff driver (``dd.gradient`` / ``dd.hessian`` /
  ``dd.jacobian``, mode auto), which does all its Python work at every call;
* ``plan``       the prepared plan's call (``dd.gradient_plan`` & co.);
* ``prep``       recording + compiling + the first call of the plan, and its ratio
  to one unprepared call (``prep/unprep``);
* ``casadi``     CasADi's ordinary ``Function`` call (SX graph, MX for the MLP; build
  time apart);
* ``jax``        jit-compiled JAX, float64 (first call, i.e. tracing + compiling, apart);
* ``plan/casadi``, ``plan/jax``, ``unprep/plan``: the ratios the targets are about.

Then SciPy clients: wall time of a whole solve with plans vs the unprepared
drivers (same solution checked), and the memory each plan holds.  Peers are
optional (``pip install casadi "jax[cpu]"``) and detected at run time.  Run BLAS
single-threaded on a shared machine (``OPENBLAS_NUM_THREADS=1``): a 100 x 100
GEMM took 40-70 ms with OpenBLAS's threads on a loaded 2-core machine, 0.1 ms
without.  Results go to ``prepared.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import time

import numpy as np

import dualdiff as dd


def per_call(fn, budget: float = 0.3, min_calls: int = 5, max_calls: int = 2000) -> float:
    """Median wall time of one call of fn over repeats filling about ``budget`` seconds.

    >>> per_call(lambda: None, budget=0.0) >= 0.0
    True
    """
    times, start = [], time.perf_counter()
    while len(times) < max_calls and (len(times) < min_calls or
                                      time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def once(fn) -> float:
    """Wall time of one call of fn."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# -- the functions (written once for NumPy and the peers' numpy modules) -------------------

def rosen(x, xp=np):
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosen_loop(x):
    s = 0.0
    for i in range(len(x) - 1):
        s = s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def mlp_weights(n: int):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n),
            rng.standard_normal((n, n)) / np.sqrt(n))


# -- peers ----------------------------------------------------------------------------------

def _casadi():
    try:
        import casadi
    except ImportError:
        return None
    return casadi


def _jax():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax, jnp


def casadi_cell(kind: str, n: int, x0, budget: float):
    """(seconds per call, build seconds, result) of CasADi's Function for a cell."""
    ca = _casadi()
    if ca is None:
        return None
    t0 = time.perf_counter()
    x = ca.SX.sym("x", n)
    if kind in ("gradient", "hessian"):
        f = ca.sum1(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
        out = ca.gradient(f, x) if kind == "gradient" else ca.hessian(f, x)[0]
    elif kind == "gradient-loop":
        f = 0
        for i in range(n - 1):
            f = f + 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
        out = ca.gradient(f, x)
    else:  # the MLP's Jacobian: matrix code is CasADi's MX graph (SX would build n^2 nodes)
        x = ca.MX.sym("x", n)
        w1, b, w2 = mlp_weights(n)
        out = ca.jacobian(ca.mtimes(ca.DM(w2), ca.tanh(ca.mtimes(ca.DM(w1), x) + ca.DM(b))), x)
    fn = ca.Function("f", [x], [out])
    build = time.perf_counter() - t0
    result = np.asarray(fn(x0).full())
    return per_call(lambda: fn(x0), budget), build, result


def jax_cell(kind: str, n: int, x0, budget: float):
    """(seconds per call, first-call seconds, result) of jit-compiled JAX for a cell."""
    peer = _jax()
    if peer is None:
        return None
    jax, jnp = peer
    if kind == "gradient":
        fn = jax.jit(jax.grad(lambda x: rosen(x, jnp)))
    elif kind == "hessian":
        fn = jax.jit(jax.hessian(lambda x: rosen(x, jnp)))
    elif kind == "gradient-loop":
        fn = jax.jit(jax.grad(rosen_loop))
    else:
        w1, b, w2 = (jnp.asarray(a) for a in mlp_weights(n))
        fn = jax.jit(jax.jacrev(lambda x: w2 @ jnp.tanh(w1 @ x + b)))
    xj = jnp.asarray(x0)
    t0 = time.perf_counter()
    result = np.asarray(fn(xj).block_until_ready())
    first = time.perf_counter() - t0
    return per_call(lambda: np.asarray(fn(xj)), budget), first, result


# -- the table ------------------------------------------------------------------------------

def cells(quick: bool):
    """(name, kind, n, f, unprepared driver, plan maker)."""
    out = [
        ("gradient, Rosenbrock", "gradient", 100, rosen,
         lambda f, x: dd.gradient(f, x), dd.gradient_plan),
        ("gradient, Rosenbrock", "gradient", 1000, rosen,
         lambda f, x: dd.gradient(f, x), dd.gradient_plan),
        ("Hessian, Rosenbrock", "hessian", 100, rosen,
         lambda f, x: dd.hessian(f, x), dd.hessian_plan),
        ("gradient, Rosenbrock loop", "gradient-loop", 100, rosen_loop,
         lambda f, x: dd.gradient(f, x), dd.gradient_plan),
    ]
    for n in ((100,) if quick else (100, 300)):
        w1, b, w2 = mlp_weights(n)
        f = (lambda w1, b, w2: lambda x: w2 @ np.tanh(w1 @ x + b))(w1, b, w2)
        out.append((f"Jacobian, MLP {n}x{n}", "jacobian", n, f,
                    lambda f, x: dd.jacobian(f, x),
                    lambda f, x: dd.jacobian_plan(f, x, sparsity=None)))
    return out


def _fmt(s) -> str:
    if s is None:
        return "-"
    return f"{s * 1e3:.3f}" if s < 1 else f"{s:.2f}s"


def _ratio(a, b) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}"


def run(args) -> dict:
    quick = getattr(args, "quick", False)
    budget = 0.15 if quick else 0.5
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        print("note: OPENBLAS_NUM_THREADS is not 1; on a shared machine BLAS threads can make "
              "GEMMs 100x slower (set it to 1 before starting Python)")
    print("median ms per call; prep = record + compile + first call; casadi/jax: "
          "Function call / jit call (build / first call apart)")
    header = (f"{'cell':28} {'n':>5} {'f':>8} {'unprep':>9} {'plan':>8} {'prep':>9} "
              f"{'prep/unp':>8} {'casadi':>8} {'(build)':>8} {'jax':>8} {'(first)':>8} "
              f"{'plan/ca':>7} {'plan/jax':>8} {'unp/plan':>8}")
    print(header)
    rows = []
    rng = np.random.default_rng(1)
    for name, kind, n, f, unprepared, make in cells(quick):
        x0 = np.linspace(-1.0, 1.0, n) if kind != "jacobian" else rng.standard_normal(n)
        x = x0 + 0.01 * rng.standard_normal(n)
        t_f = per_call(lambda: f(x), budget / 3)  # noqa: B023
        t_unprep = per_call(lambda: unprepared(f, x), budget,  # noqa: B023
                            min_calls=3 if kind == "gradient-loop" else 5)
        preps = []
        for _ in range(3):  # a build is deterministic work: the median of three
            t0 = time.perf_counter()
            plan = make(f, x0)
            first = plan(x)
            preps.append(time.perf_counter() - t0)
        t_prep = statistics.median(preps)
        t_plan = per_call(lambda: plan(x), budget)  # noqa: B023
        ref = unprepared(f, x)
        assert np.allclose(first, ref, rtol=1e-12, atol=1e-12), name
        ca = casadi_cell(kind, n, x, budget)
        jx = jax_cell(kind, n, x, budget)
        for peer in (ca, jx):
            if peer is not None:
                assert np.allclose(np.reshape(peer[2], np.shape(ref)), ref, rtol=1e-9,
                                   atol=1e-9), name
        row = {"cell": name, "n": n, "f": t_f, "unprepared": t_unprep, "plan": t_plan,
               "prep": t_prep, "casadi": ca and ca[0], "casadi_build": ca and ca[1],
               "jax": jx and jx[0], "jax_first": jx and jx[1], "plan_nbytes": plan.nbytes,
               "plan_nodes": plan.nodes}
        rows.append(row)
        print(f"{name:28} {n:>5} {_fmt(t_f):>8} {_fmt(t_unprep):>9} {_fmt(t_plan):>8} "
              f"{_fmt(t_prep):>9} {_ratio(t_prep, t_unprep):>8} {_fmt(row['casadi']):>8} "
              f"{_fmt(row['casadi_build']):>8} {_fmt(row['jax']):>8} "
              f"{_fmt(row['jax_first']):>8} {_ratio(t_plan, row['casadi']):>7} "
              f"{_ratio(t_plan, row['jax']):>8} {_ratio(t_unprep, t_plan):>8}", flush=True)
    print("\nmemory a plan holds (its program's arrays: constants, index maps, guards' "
          "results; no values of the recording)")
    for row in rows:
        print(f"  {row['cell']:28} n={row['n']:>5}: {row['plan_nodes']:>5} nodes, "
              f"{row['plan_nbytes'] / 1024:.1f} KiB")
    clients = scipy_clients(quick)
    result = {"cells": rows, "scipy": clients}
    out = getattr(args, "out", ".")
    with open(os.path.join(out, "prepared.json"), "w") as fh:
        json.dump(result, fh, indent=1)
    return result


def scipy_clients(quick: bool) -> list:
    """Whole SciPy solves with plans vs with the unprepared drivers (same solution)."""
    import scipy.optimize as so
    from scipy.integrate import solve_ivp

    n = 50 if quick else 100
    x0 = np.full(n, -0.5)
    x0[::2] = 1.2
    cases = []

    def newton_cg(plans: bool):
        if plans:
            return so.minimize(rosen, x0, method="Newton-CG", jac=dd.gradient_plan(rosen, x0),
                               hessp=dd.hvp_plan(rosen, x0), options={"xtol": 1e-10})
        return so.minimize(rosen, x0, method="Newton-CG", jac=lambda z: dd.gradient(rosen, z),
                           hessp=lambda z, p: dd.hvp(rosen, z, p), options={"xtol": 1e-10})

    def trust_exact(plans: bool):
        m = 30 if quick else 60
        y0 = x0[:m]
        if plans:
            return so.minimize(rosen, y0, method="trust-exact",
                               jac=dd.gradient_plan(rosen, y0), hess=dd.hessian_plan(rosen, y0),
                               options={"gtol": 1e-9})
        return so.minimize(rosen, y0, method="trust-exact", jac=lambda z: dd.gradient(rosen, z),
                           hess=lambda z: dd.hessian(rosen, z), options={"gtol": 1e-9})

    t = np.linspace(0.0, 4.0, 200)
    truth = np.array([2.0, 1.3, 0.5, 0.7, 3.0])

    def model(p, t):
        return p[0] * np.exp(-p[1] * t) + p[2] * np.sin(p[4] * t + p[3])

    y = model(truth, t)

    def resid(p, t, y):
        return model(p, t) - y

    def lsq(plans: bool):
        p0 = np.array([1.5, 1.0, 0.6, 0.5, 2.9])
        jac = dd.jacobian_plan(resid, p0, sparsity=None, args=(t, y)) if plans else \
            (lambda p, t, y: dd.jacobian(lambda q: resid(q, t, y), p))
        return so.least_squares(resid, p0, jac=jac, args=(t, y), xtol=1e-14, ftol=1e-14)

    k = (0.04, 3e7, 1e4)

    def robertson(t, u, k1, k2, k3):
        return np.array([-k1 * u[0] + k3 * u[1] * u[2],
                         k1 * u[0] - k2 * u[1] ** 2 - k3 * u[1] * u[2], k2 * u[1] ** 2])

    def bdf(plans: bool):
        u0 = np.array([1.0, 0.0, 0.0])
        if plans:
            plan = dd.jacobian_plan(lambda u, t, *k: robertson(t, u, *k), u0, sparsity=None,
                                    args=(0.0,) + k)
            jac = lambda t, u, *k: plan(u, t, *k)  # noqa: E731
        else:
            jac = lambda t, u, *k: dd.jacobian(lambda z: robertson(t, z, *k), u)  # noqa: E731
        return solve_ivp(robertson, (0.0, 1e5), u0, method="BDF", args=k, jac=jac,
                         rtol=1e-8, atol=1e-12)

    print("\nSciPy clients: whole solve, wall seconds (best of 3), with plans vs unprepared")
    print(f"{'client':34} {'unprepared':>10} {'plans':>8} {'ratio':>6}  same solution")
    for name, solve, pick in (
            (f"minimize Newton-CG+hessp n={n}", newton_cg, lambda r: r.x),
            (f"minimize trust-exact+hess n={30 if quick else 60}", trust_exact, lambda r: r.x),
            ("least_squares 200x5", lsq, lambda r: r.x),
            ("solve_ivp BDF Robertson", bdf, lambda r: r.y[:, -1])):
        t_without = min(once(lambda: solve(False)) for _ in range(3))  # noqa: B023
        t_with = min(once(lambda: solve(True)) for _ in range(3))  # noqa: B023
        a, b = pick(solve(False)), pick(solve(True))
        same = bool(np.allclose(a, b, rtol=1e-9, atol=1e-12))
        cases.append({"client": name, "unprepared": t_without, "plans": t_with, "same": same})
        print(f"{name:34} {t_without:>10.3f} {t_with:>8.3f} {t_without / t_with:>6.1f}  {same}")
    return cases
