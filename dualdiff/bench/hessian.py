"""Hessian section: cost of ``hessian`` and ``hvp`` relative to one call of f.

f is the vectorised Rosenbrock function.  Each tool's time is the best of a
few repeats; ``calls`` counts calls of f per operator (peers trace f once or
call it on their own number types).  Peers (``--peers``): jax.hessian (jit,
float64; compile time reported apart), autograd.hessian and
numdifftools.Hessian, each checked against dualdiff's Hessian first.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from scipy.optimize import rosen_hess

import dualdiff as dd
from dualdiff.hessian import HVP_HYPERDUAL_MAX, hessian_chunk

from .timing import Counted, best_time


def rosen(x):
    """The Rosenbrock function, written once for NumPy and the peers' numpy modules."""
    return _rosen(x, np)


def _rosen(x, xp):
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def timed(fn):
    """(fn(), wall seconds of that call)."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _calls(op, f) -> int:
    c = Counted(f)
    op(c)
    return c.calls


def _peers(n, x, v, ref_h, ref_hv):
    """{tool: (seconds per Hessian, seconds per hvp or None, note)} for installed peers."""
    out = {}
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        f = lambda x: _rosen(x, jnp)
        hess = jax.jit(jax.hessian(f))
        hvp = jax.jit(lambda x, v: jax.jvp(jax.grad(f), (x,), (v,))[1])
        xj, vj = jnp.asarray(x), jnp.asarray(v)
        t0 = time.perf_counter()
        h = np.asarray(hess(xj).block_until_ready())
        compile_s = time.perf_counter() - t0
        np.testing.assert_allclose(h, ref_h, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(np.asarray(hvp(xj, vj)), ref_hv, rtol=1e-10, atol=1e-10)
        out["jax.hessian (jit)"] = (
            best_time(lambda: hess(xj).block_until_ready()),
            best_time(lambda: hvp(xj, vj).block_until_ready()),
            f"first call incl. compile {compile_s * 1e3:.0f} ms; hvp = jvp of grad")
    except ImportError:
        pass
    try:
        import autograd
        import autograd.numpy as anp

        f = lambda x: _rosen(x, anp)
        hess = autograd.hessian(f)
        np.testing.assert_allclose(hess(x), ref_h, rtol=1e-10, atol=1e-10)
        hvp = autograd.hessian_vector_product(f)
        np.testing.assert_allclose(hvp(x, v), ref_hv, rtol=1e-10, atol=1e-10)
        out["autograd.hessian"] = (best_time(lambda: hess(x)), best_time(lambda: hvp(x, v)),
                                   "reverse over reverse")
    except ImportError:
        pass
    try:
        import numdifftools as nd

        if n > 100:
            out["numdifftools.Hessian"] = (None, None, f"skipped at n={n}: O(n^2) calls of f")
        else:
            hess = nd.Hessian(rosen)
            h, t_h = timed(lambda: hess(x))  # one call: seconds at n = 100
            err = float(np.max(np.abs(h - ref_h)) / np.max(np.abs(ref_h)))
            np.testing.assert_allclose(h, ref_h, rtol=1e-5, atol=1e-5 * np.abs(ref_h).max())
            out["numdifftools.Hessian"] = (t_h, None,
                                           f"finite differences, 1 call; rel. error {err:.0e}")
    except ImportError:
        pass
    return out


def run(args) -> dict:
    sizes = (10, 100) if getattr(args, "quick", False) else (10, 100, 1000)
    rows = []
    print(f"{'n':>5} {'tool':<30} {'hessian':>11} {'/f':>10} {'hvp':>10} {'/f':>8}  calls  note")
    for n in sizes:
        rng = np.random.default_rng(n)
        x = rng.uniform(-1.0, 2.0, n)
        v = rng.normal(size=n)
        t_f = best_time(lambda: rosen(x), budget=0.1)

        tools = {}
        for method in ("hyperdual", "forward-over-reverse"):
            # one checked call (at n = 1000 hyper-dual Hessians take seconds), then repeats
            h, t_h = timed(lambda: dd.hessian(rosen, x, method=method))
            np.testing.assert_allclose(h, rosen_hess(x), rtol=1e-12, atol=1e-12)
            if t_h < 1.0:
                t_h = min(t_h, best_time(lambda: dd.hessian(rosen, x, method=method)))
            hv = dd.hvp(rosen, x, v, method=method)
            t_hv = best_time(lambda: dd.hvp(rosen, x, v, method=method))
            calls_h = _calls(lambda f: dd.hessian(f, x, method=method), rosen) \
                if t_h < 1.0 else -(-n // hessian_chunk(n)) * (-(-n // hessian_chunk(n)) + 1) // 2
            calls_hv = _calls(lambda f: dd.hvp(f, x, v, method=method), rosen)
            tools[f"dualdiff {method}"] = (t_h, t_hv, calls_h,
                                           f"{calls_h} / {calls_hv} calls (hessian / hvp)")

        pick = lambda small: "hyperdual" if small else "forward-over-reverse"
        print(f"{n:5d} method='auto' picks {pick(n <= hessian_chunk(n))} for hessian, "
              f"{pick(n <= HVP_HYPERDUAL_MAX)} for hvp")
        if getattr(args, "peers", False):
            tools.update({k: (th, thv, None, note) for k, (th, thv, note)
                          in _peers(n, x, v, h, hv).items()})
        for tool, (th, thv, calls, note) in tools.items():
            row = {"n": n, "tool": tool, "t_f": t_f, "t_hessian": th, "t_hvp": thv,
                   "hessian_over_f": None if th is None else th / t_f,
                   "hvp_over_f": None if thv is None else thv / t_f, "note": note}
            rows.append(row)
            fmt = lambda t: "-" if t is None else f"{t * 1e3:9.3f}ms"
            ratio = lambda t, w: "-" if t is None else f"{t / t_f:{w}.0f}"
            calls = "    -" if calls is None else f"{calls:5d}"
            print(f"{n:5d} {tool:<30} {fmt(th):>11} {ratio(th, 10):>10} {fmt(thv):>10} "
                  f"{ratio(thv, 8):>8}  {calls}  {note}", flush=True)
    result = {"section": "hessian", "function": "Rosenbrock (vectorised)", "rows": rows,
              "note": "times are best-of-repeats wall seconds; ratios are time / time of f"}
    out = getattr(args, "out", ".")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "hessian.json"), "w") as fh:
        json.dump(result, fh, indent=1)
    return result
