"""Section ``hessian``: ``hessian`` and ``hvp`` of Rosenbrock (:func:`dualdiff.problems.rosen`)
relative to one call of f, by method, with the calls of f each makes.

Methods: ``hyperdual`` (blocks of hyper-dual passes), ``forward-over-reverse`` (forward
sweeps over the recorded gradient), ``auto`` (the default), and the prepared plans
``hessian_plan`` / ``hvp_plan``.  Every Hessian is checked against the hand-derived
:func:`dualdiff.problems.rosen_hessian`.  ``--peers``: jit-compiled ``jax.hessian``
(compile time apart), ``autograd.hessian`` and ``numdifftools.Hessian`` (n <= 100).
"""

from __future__ import annotations

import numpy as np

from .. import hessian, hessian_plan, hvp, hvp_plan, problems
from . import peers as peer_tools
from .report import COLORS, pyplot
from .timing import Counted, compare, measure, once

METHODS = ("auto", "hyperdual", "forward-over-reverse")


def _check(h, ref, what):
    if not np.allclose(h, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max()):
        raise AssertionError(f"{what} disagrees with the hand-derived Rosenbrock Hessian")


def dualdiff_rows(n, x, v, budget):
    """{tool: (t_hessian, t_hvp, calls of f per hessian, per hvp)}; the methods timed in
    interleaved rounds.  Hyper-dual Hessians beyond n = 100 take ceil(n/k)^2 / 2 block
    passes (seconds): skipped."""
    ref = problems.rosen_hessian(x)
    calls, hess_calls, hvp_calls = {}, {}, {}
    for method in METHODS:
        counted = Counted(problems.rosen)
        if method != "hyperdual" or n <= 100:
            _check(hessian(counted, x, method=method), ref, f"hessian(method={method!r})")
            calls[method] = [counted.calls]
            hess_calls[method] = lambda m=method: hessian(problems.rosen, x, method=m)
        else:
            calls[method] = ["-"]
        counted = Counted(problems.rosen)
        _check(hvp(counted, x, v, method=method), ref @ v, f"hvp(method={method!r})")
        calls[method].append(counted.calls)
        hvp_calls[method] = lambda m=method: hvp(problems.rosen, x, v, method=m)
    hp, vp = hessian_plan(problems.rosen, x), hvp_plan(problems.rosen, x)
    _check(hp(x), ref, "hessian_plan")
    _check(vp(x, v), ref @ v, "hvp_plan")
    hess_calls["plans"], hvp_calls["plans"] = (lambda: hp(x)), (lambda: vp(x, v))
    calls["plans"] = [0, 0]
    th = compare(hess_calls, budget, min_repeats=2)
    tv = compare(hvp_calls, budget)
    out = {f"dualdiff {k}": (th[k].min if k in th else None, tv[k].min, *calls[k])
           for k in calls}
    return out, ref


def peer_rows(ctx, n, x, v, ref, budget):
    out = {}
    if ctx.has("jax"):
        jax, jnp = peer_tools.jax()
        f = lambda z: problems.rosen(z, jnp)
        hess = jax.jit(jax.hessian(f))
        hv = jax.jit(lambda z, w: jax.jvp(jax.grad(f), (z,), (w,))[1])
        xj, vj = jnp.asarray(x), jnp.asarray(v)
        h, compile_s = once(lambda: np.asarray(hess(xj).block_until_ready()))
        _check(h, ref, "jax.hessian")
        _check(np.asarray(hv(xj, vj)), ref @ v, "jax hvp")
        out["jax.hessian jit"] = (measure(lambda: hess(xj).block_until_ready(), budget).min,
                                  measure(lambda: hv(xj, vj).block_until_ready(), budget).min,
                                  f"first call (trace + compile) {compile_s * 1e3:.0f} ms")
    if ctx.has("autograd"):
        import autograd
        import autograd.numpy as anp

        f = lambda z: problems.rosen(z, anp)
        hess, hv = autograd.hessian(f), autograd.hessian_vector_product(f)
        _check(hess(x), ref, "autograd.hessian")
        _check(hv(x, v), ref @ v, "autograd hvp")
        out["autograd.hessian"] = (measure(lambda: hess(x), budget, min_repeats=1).min,
                                   measure(lambda: hv(x, v), budget).min, "")
    if ctx.has("numdifftools") and n <= (10 if ctx.quick else 100):
        import numdifftools as nd

        h, t = once(lambda: nd.Hessian(problems.rosen)(x))  # seconds at n = 100: one call
        err = float(np.abs(h - ref).max() / np.abs(ref).max())
        out["numdifftools.Hessian"] = (t, None, f"finite differences, rel. error {err:.0e}")
    return out


def plot(ctx, rows) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    tools = list(dict.fromkeys(r["tool"] for r in rows))
    style = {"dualdiff auto": ("k", "o-"), "dualdiff hyperdual": (COLORS["hyperdual"], "s--"),
             "dualdiff forward-over-reverse": (COLORS["forward-over-reverse"], "^--"),
             "dualdiff plans": (COLORS["plan"], "D-"), "jax.hessian jit": (COLORS["jax"], "v:"),
             "autograd.hessian": (COLORS["autograd"], "<:"),
             "numdifftools.Hessian": (COLORS["numdifftools"], ">:")}
    for ax, key, what in ((axes[0], "hessian_f", "hessian"), (axes[1], "hvp_f", "hvp")):
        for tool in tools:
            pts = [(r["n"], r[key]) for r in rows if r["tool"] == tool and r[key] is not None]
            if pts:
                color, ls = style.get(tool, ("gray", "x:"))
                ax.loglog(*zip(*pts), ls, color=color, label=tool)
        ax.set_xlabel("n (inputs of Rosenbrock)")
        ax.set_title(f"{what}: time / time of f")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("time / time of f   (lower is better)")
    axes[0].legend(fontsize=8)
    fig.suptitle("hessian: second derivatives of Rosenbrock by method (plans: prepared once)")
    fig.tight_layout()
    ctx.figure(fig, "hessian.png")


def run(ctx) -> dict:
    sizes = (10, 100) if ctx.quick else (10, 100, 1000)
    budget = 0.05 if ctx.quick else 0.25
    table = ctx.table(
        "Rosenbrock Hessians and Hessian-vector products; ratios are multiples of one call of f",
        [("n", "n", "d", "inputs"), ("tool", "tool / method", "<30", "who computes it"),
         ("hessian_ms", "hessian [ms]", ".3f", "one Hessian, fastest repeat"),
         ("hessian_f", "hessian/f", ".0f", "Hessian time / time of f"),
         ("hvp_ms", "hvp [ms]", ".3f", "one Hessian-vector product"),
         ("hvp_f", "hvp/f", ".0f", "hvp time / time of f"),
         ("calls", "f calls", "", "calls of f per hessian / per hvp (plans: none, they replay)")])
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        x, v = rng.uniform(-1.0, 2.0, n), rng.normal(size=n)
        tf = measure(lambda x=x: problems.rosen(x), 0.05).min
        tools, ref = dualdiff_rows(n, x, v, budget)
        tools = {k: (th, thv, f"{ch} / {cv}") for k, (th, thv, ch, cv) in tools.items()}
        if ctx.peers:
            tools.update(peer_rows(ctx, n, x, v, ref, budget))
        if n > 100:
            tools["dualdiff hyperdual"] = tools["dualdiff hyperdual"][:2] + (
                "- / 1 (hessian skipped: ceil(n/k)^2/2 block passes take seconds)",)
        for tool, (th, thv, note) in tools.items():
            rows.append(table.add(
                n=n, tool=tool, hessian_ms=None if th is None else th * 1e3,
                hessian_f=None if th is None else th / tf,
                hvp_ms=None if thv is None else thv * 1e3,
                hvp_f=None if thv is None else thv / tf,
                calls=note if tool.startswith("dualdiff") else "-",
                note="" if tool.startswith("dualdiff") else note))
    for r in rows:
        if r["tool"] == "dualdiff auto":
            ctx.headline(f"Rosenbrock n = {r['n']}: hessian / f = {r['hessian_f']:.0f} "
                         f"({r['hessian_ms']:.2f} ms), hvp / f = {r['hvp_f']:.0f}")
    plan = [r for r in rows if r["tool"] == "dualdiff plans"]
    ctx.headline("prepared plans: hessian_plan / f = " +
                 " / ".join(f"{r['hessian_f']:.0f}" for r in plan) + ", hvp_plan / f = " +
                 " / ".join(f"{r['hvp_f']:.0f}" for r in plan) +
                 f" at n = {' / '.join(str(r['n']) for r in plan)}")
    if ctx.peers:
        fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
        ctx.md_table("Rosenbrock Hessian and hvp, time / time of f (lower is better)",
                     ["n", "tool", "hessian / f", "hvp / f"],
                     [[r["n"], r["tool"], fmt(r["hessian_f"]), fmt(r["hvp_f"])] for r in rows])
    plot(ctx, rows)
    return {"rows": rows}
