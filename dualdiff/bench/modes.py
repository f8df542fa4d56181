"""Section ``modes``: forward vs reverse vs auto on Jacobians of f: R^n -> R^m.

Four families from :mod:`dualdiff.problems` over a grid of (n, m): the MLP (dense,
every (n, m)), the element-wise map and Broyden's tridiagonal function (n = m),
Rosenbrock (m = 1).  Each cell times the Jacobian in forward, reverse and auto mode
(interleaved rounds), relative to one call of f, checks all three against the
hand-derived Jacobian, and reports auto's pick (``dualdiff.modes.auto_mode``, decided
from sizes), auto's regret (its time / the faster mode's time) and the faster mode's
cost per ``min(n, m)`` calls of f.  ``--peers`` adds JAX (jit or not), torch.func,
autograd and SciPy's finite differences on the cells with n, m <= 300.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import approx_fprime

from .. import jacobian, problems
from ..modes import auto_mode
from . import peers as peer_tools
from .report import COLORS, Target, pyplot
from .timing import compare, measure, once

#: auto's regret allowed in a cell (its time / the faster mode's)
REGRET_TARGET = 1.15
#: the faster mode's time / (min(n, m) calls of f) allowed where min(n, m) >= 100
COST_TARGET = 3.0


def family(name: str, n: int, m: int, seed: int):
    """``(f, x, reference Jacobian)`` of a family at size (n, m).

    >>> f, x, ref = family("banded", 4, 4, 0)
    >>> ref.shape
    (4, 4)
    """
    rng = np.random.default_rng(seed)
    if name == "dense":
        f = problems.MLP(n, m, seed=seed)
        return f, f.x0, f.jacobian(f.x0)
    x = rng.normal(size=n)
    if name == "elementwise":
        return problems.elementwise, x, np.diag(problems.elementwise_derivative(x))
    if name == "banded":
        return problems.broyden, x, problems.broyden_jacobian(x)
    return problems.rosen, x, problems.rosen_gradient(x)


def grid(quick: bool) -> list:
    """The cells (family, n, m).

    >>> len(grid(True)), len(grid(False))
    (15, 37)
    """
    sizes = [1, 30, 300] if quick else [1, 10, 100, 1000, 3000]
    square = [30, 300] if quick else [10, 100, 1000, 3000]
    cells = [("dense", n, m) for n in sizes for m in sizes]
    cells += [("elementwise", n, n) for n in square] + [("banded", n, n) for n in square]
    cells += [("loss", n, 1) for n in sizes if n > 1]
    return cells


def cell(name, n, m, seed, budget):
    f, x, ref = family(name, n, m, seed)
    first, t_first = once(lambda: jacobian(f, x))  # auto's first call: records, then decides
    pick = auto_mode(f, x)  # the mode auto takes, decided from sizes (public)
    calls = {mode: (lambda mode=mode: jacobian(f, x, mode=mode))
             for mode in ("forward", "reverse", "auto")}
    times = compare({"f": lambda: f(x), **calls}, budget, min_repeats=3)
    tf = times["f"].min
    scale = max(1.0, float(np.max(np.abs(ref))))
    agree = all(np.allclose(np.reshape(out, ref.shape), ref, rtol=1e-10, atol=1e-12 * scale)
                for out in [first] + [fn() for fn in calls.values()])
    t = {k: v.min for k, v in times.items()}
    winner = "forward" if t["forward"] <= t["reverse"] else "reverse"
    mm = ref.size // max(n, 1)
    return {"family": name, "n": n, "m": mm, "f_us": tf * 1e6,
            "forward": t["forward"] / tf, "reverse": t["reverse"] / tf, "auto": t["auto"] / tf,
            "auto_first": t_first / tf, "winner": winner, "pick": pick,
            "regret": t[pick] / t[winner], "winner_cost": t[winner] / (min(n, mm) * tf),
            "slower_pick": pick != winner, "agree": bool(agree)}, (f, x, ref, tf)


# -- peers ---------------------------------------------------------------------------------

def peer_cells(ctx, name, n, m, seed, f, x, ref, tf, budget) -> dict:
    """Time / f of each installed peer on one cell, after checking it against ``ref``."""
    out = {}
    scale = max(1.0, float(np.max(np.abs(ref))))

    def run(label, make, tol=1e-10):
        try:
            fn = make()
            got = np.reshape(np.asarray(fn()), ref.shape)  # warm-up: traces / compiles
            if not np.allclose(got, ref, rtol=tol, atol=tol * scale):
                out[label] = "disagrees"
                return
            out[label] = measure(fn, budget).min / tf
        except Exception as e:  # noqa: BLE001 - a failing peer is reported, not fatal
            out[label] = f"failed: {type(e).__name__}"

    def make_f(xp):
        if name == "dense":
            return problems.MLP(n, m, seed=seed).on(xp)
        if name == "elementwise":
            return lambda z: problems.elementwise(z, xp)
        if name == "banded":
            return lambda z: peer_tools.broyden_functional(z, xp)
        return lambda z: problems.rosen(z, xp)

    if ctx.has("jax"):
        jax, jnp = peer_tools.jax()
        fj, xj = (peer_tools.broyden_jax if name == "banded" else make_f(jnp)), jnp.asarray(x)
        for label, tr in (("jax.jacfwd", jax.jacfwd), ("jax.jacrev", jax.jacrev)):
            run(label, lambda tr=tr: (lambda j=tr(fj): j(xj).block_until_ready()))
            run(label + " jit",
                lambda tr=tr: (lambda j=jax.jit(tr(fj)): j(xj).block_until_ready()))
    if ctx.has("torch"):
        import torch.func

        tnp = peer_tools.TorchNumpy()
        ft, xt = make_f(tnp), tnp.asarray(x)
        run("torch.func.jacfwd", lambda: lambda: torch.func.jacfwd(ft)(xt).numpy())
        run("torch.func.jacrev", lambda: lambda: torch.func.jacrev(ft)(xt).numpy())
    if ctx.has("autograd"):
        import autograd
        import autograd.numpy as anp

        fa = make_f(anp)
        run("autograd.jacobian", lambda: lambda: autograd.jacobian(fa)(x))
    # SciPy's public forward differences (2-point, step sqrt(eps) |x|): error ~ 1e-8
    run("scipy approx_fprime", lambda: lambda: approx_fprime(x, f), tol=1e-5)
    return out


# -- figure --------------------------------------------------------------------------------

def plot(ctx, rows) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5.2), width_ratios=[1, 1.15])
    dense = [r for r in rows if r["family"] == "dense"]
    ns = sorted({r["n"] for r in dense})
    ms = sorted({r["m"] for r in dense})
    ratio = np.full((len(ms), len(ns)), np.nan)
    for r in dense:
        ratio[ms.index(r["m"]), ns.index(r["n"])] = np.log10(r["forward"] / r["reverse"])
    lim = max(0.3, float(np.nanmax(np.abs(ratio))))
    im = ax.imshow(ratio, origin="lower", cmap="coolwarm", vmin=-lim, vmax=lim)
    for r in dense:
        i, j = ms.index(r["m"]), ns.index(r["n"])
        ax.text(j, i, f"{r['forward'] / r['reverse']:.2g}\nauto: {r['pick']}"
                      f"\nregret {r['regret']:.2f}", ha="center", va="center", fontsize=7,
                color="darkred" if r["slower_pick"] else "black",
                fontweight="bold" if r["slower_pick"] else "normal")
        if r["slower_pick"]:
            ax.add_patch(plt.Rectangle((j - 0.48, i - 0.48), 0.96, 0.96, fill=False,
                                       ec="darkred", lw=2))
    ax.set_xticks(range(len(ns)), ns)
    ax.set_yticks(range(len(ms)), ms)
    ax.set_xlabel("n (inputs)")
    ax.set_ylabel("m (outputs)")
    ax.set_title("dense MLP: forward time / reverse time\n"
                 "blue: forward faster, red: reverse faster; boxed: auto picked the slower")
    fig.colorbar(im, ax=ax, label="log10(forward time / reverse time)")
    markers = {"elementwise": "o", "banded": "s", "loss": "^"}
    for fam, mk in markers.items():
        rs = sorted((r for r in rows if r["family"] == fam), key=lambda r: r["n"])
        if not rs:
            continue
        n = [r["n"] for r in rs]
        label = {"elementwise": "element-wise (m = n)", "banded": "Broyden (m = n)",
                 "loss": "Rosenbrock (m = 1)"}[fam]
        for mode, ls in (("forward", "-"), ("reverse", "--")):
            bx.loglog(n, [r[mode] for r in rs], ls, marker=mk, color=COLORS[mode],
                      label=f"{label}, {mode}")
        bx.loglog(n, [r["auto"] for r in rs], "none", marker=mk, mec="k", ms=11, mew=1.2)
        bad = [r for r in rs if r["slower_pick"]]
        if bad:
            bx.loglog([r["n"] for r in bad], [r["auto"] for r in bad], "x", color="darkred",
                      ms=13, mew=2)
    bx.plot([], [], "o", mfc="none", mec="k", ms=11, label="auto (ringed)")
    bx.plot([], [], "x", color="darkred", ms=11, mew=2, label="auto picked the slower mode")
    bx.set_xlabel("n (inputs)")
    bx.set_ylabel("time of jacobian / time of f   (lower is better)")
    bx.set_title("the other families: forward (solid) vs reverse (dashed)")
    bx.grid(True, which="both", alpha=0.3)
    bx.legend(fontsize=7, ncol=2)
    fig.suptitle("modes: which mode is faster, and what auto picks (from sizes)")
    fig.tight_layout()
    ctx.figure(fig, "modes.png")


# -- the section ---------------------------------------------------------------------------

def run(ctx) -> dict:
    budget = 0.06 if ctx.quick else 0.3
    cells = grid(ctx.quick)
    table = ctx.table(
        f"Jacobians in each mode, {len(cells)} cells; times are multiples of one call of f",
        [("family", "family", "<11", "dense = MLP W2 tanh(W1 x + b); elementwise; banded = "
                                   "Broyden; loss = Rosenbrock (m = 1)"),
         ("n", "n", "d", "inputs"), ("m", "m", "d", "outputs"),
         ("f_us", "f [us]", ".1f", "one call of f, microseconds"),
         ("forward", "fwd/f", ".1f", "jacobian(mode='forward') / f"),
         ("reverse", "rev/f", ".1f", "jacobian(mode='reverse') / f"),
         ("auto", "auto/f", ".1f", "jacobian(mode='auto') / f, later calls"),
         ("auto_first", "auto1st/f", ".1f",
          "auto's first call / f (it records f once to learn m)"),
         ("winner", "faster", "", "the faster of forward and reverse here"),
         ("pick", "auto picks", "", "the mode auto takes (dualdiff.modes.auto_mode)"),
         ("regret", "regret", ".2f", "auto's regret: time of the mode auto picks / time of the "
                                    "faster mode (1 is ideal; auto/f is that time measured "
                                    "through auto, the same within noise)"),
         ("winner_cost", "per min(n,m)", ".2f",
          "faster mode's time / (min(n, m) x time of f)")])
    rows = []
    for i, (name, n, m) in enumerate(cells):
        row, (f, x, ref, tf) = cell(name, n, m, 1000 + i, budget)
        notes = [] if row["agree"] else ["DISAGREES with the hand-derived Jacobian"]
        if row["slower_pick"]:
            notes.append("<- auto picked the slower mode")
        table.add(note="; ".join(notes), **row)
        if ctx.peers and max(n, row["m"]) <= 300 and n > 1:
            row["peers"] = peer_cells(ctx, name, n, m, 1000 + i, f, x, ref, tf, budget)
            for label, v in row["peers"].items():
                ctx.log(f"        peer {label:22s} " +
                        (f"{v:9.1f} x f" if isinstance(v, float) else v))
        rows.append(row)
    regrets = np.array([r["regret"] for r in rows])
    slower = [r for r in rows if r["slower_pick"]]
    big = [r for r in rows if min(r["n"], r["m"]) >= 100]
    ctx.target(Target("auto's worst regret (its time / the faster mode's)",
                      float(regrets.max()), REGRET_TARGET,
                      why=f"median {np.median(regrets):.2f}; auto picked the slower mode in "
                          f"{len(slower)} of {len(rows)} cells"))
    if big:
        ctx.target(Target("faster mode's time / (min(n, m) f) where min(n, m) >= 100",
                          max(r["winner_cost"] for r in big), COST_TARGET,
                          why="a pass costs a few f; one pass carries many directions"))
    ctx.headline(f"auto's regret (its time / the faster mode's), {len(rows)} cells of 4 "
                 f"families: max {regrets.max():.2f}, median {np.median(regrets):.2f}; "
                 f"slower mode picked in {len(slower)} cells "
                 + ("(" + ", ".join(f"{r['family']} {r['n']}x{r['m']}" for r in slower) + ")"
                    if slower else ""))
    if big:
        costs = [r["winner_cost"] for r in big]
        ctx.headline(f"faster mode's time / (min(n, m) x f) where min(n, m) >= 100: "
                     f"{min(costs):.2f}-{max(costs):.2f}")
    if not all(r["agree"] for r in rows):
        ctx.headline("**some cells disagree with the hand-derived Jacobian**")
    with_peers = [r for r in rows if r.get("peers")]
    if with_peers:
        names = list(dict.fromkeys(k for r in with_peers for k in r["peers"]))
        fmt = lambda v: f"{v:.0f}" if isinstance(v, float) else str(v)  # noqa: E731
        ctx.md_table("Jacobian time / time of f beside the peers (each checked against the "
                     "hand-derived Jacobian first; lower is better)",
                     ["cell", "n x m", "dualdiff auto"] + names,
                     [[r["family"], f"{r['n']} x {r['m']}", f"{r['auto']:.0f}"]
                      + [fmt(r["peers"].get(k, "-")) for k in names] for r in with_peers])
    plot(ctx, rows)
    return {"rows": rows}
