"""Mode selection benchmark: forward vs reverse vs auto on f: R^n -> R^m.

For four families (a dense two-layer map, an element-wise map, a banded map
and a scalar loss) over a grid of (n, m), it times the Jacobian in forward,
reverse and auto mode, each relative to one plain evaluation of f, checks the
three agree, and reports the winner, auto's pick, auto's regret (its time over
the faster mode's) and the winner's cost over ``min(n, m)`` evaluations of f.
Writes ``modes.json`` and ``modes.png`` into ``args.out``; ``args.peers`` adds
JAX, torch.func, autograd and scipy finite differences when importable.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from scipy.optimize._numdiff import approx_derivative

from .. import jacobian, modes
from ..reverse import Recording

HIDDEN = 64


# -- the families, written once against an array namespace xp ----------------------

def dense(xp, n, m, rng):
    w1 = xp.asarray(rng.normal(size=(HIDDEN, n)) / np.sqrt(n))
    w2 = xp.asarray(rng.normal(size=(m, HIDDEN)) / np.sqrt(HIDDEN))
    b = xp.asarray(rng.normal(size=HIDDEN))
    return lambda x: w2 @ xp.tanh(w1 @ x + b)


def elementwise(xp, n, m, rng):
    return lambda x: xp.sin(x) * xp.exp(-x * x) + x * x * x


def banded(xp, n, m, rng):
    def f(x):  # f_i = 2 sin x_i - x_{i-1} x_i - x_{i+1}, zero boundary
        z = np.zeros(1) if xp is np else xp.zeros(1, dtype=x.dtype)
        lo = xp.concatenate([z, x[:-1]])
        hi = xp.concatenate([x[1:], z])
        return 2.0 * xp.sin(x) - lo * x - hi

    return f


def loss(xp, n, m, rng):
    a = xp.asarray(rng.normal(size=(HIDDEN, n)) / np.sqrt(n))
    b = xp.asarray(rng.normal(size=HIDDEN))
    return lambda x: xp.sum(xp.log1p((a @ x - b) ** 2))


FAMILIES = {"dense": dense, "elementwise": elementwise, "banded": banded, "loss": loss}


def grid(quick: bool) -> list:
    sizes = [1, 30, 300] if quick else [1, 10, 100, 1000, 3000]
    square = [30, 300] if quick else [10, 100, 1000, 3000]
    cells = [("dense", n, m) for n in sizes for m in sizes]
    cells += [("elementwise", n, n) for n in square] + [("banded", n, n) for n in square]
    cells += [("loss", n, 1) for n in sizes if n > 1]
    return cells


# -- timing -----------------------------------------------------------------------

def time_f(f, x, budget=0.02) -> float:
    """Seconds per plain call of f: best of 5 batches of >= 1 ms."""
    number, t = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            f(x)
        t = time.perf_counter() - t0
        if t > 1e-3:
            break
        number *= 4
    best = t / number
    for _ in range(4):
        t0 = time.perf_counter()
        for _ in range(number):
            f(x)
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def best_of(calls: dict, rounds: int, budget: float = 0.0) -> tuple[dict, dict]:
    """Interleaved rounds of each call in rotating order (at least ``rounds``, more while
    the time budget lasts, at most 200); the fastest time of each and its last result."""
    times = {k: np.inf for k in calls}
    out = {}
    names = list(calls)
    start, done = time.perf_counter(), 0
    while done < rounds or (time.perf_counter() - start < budget and done < 200):
        # rotate the order: a call right after a big one of another mode runs on cold
        # caches, and every mode should get every position
        for k in names[done % len(names):] + names[:done % len(names)]:
            fn = calls[k]
            t0 = time.perf_counter()
            out[k] = fn()
            times[k] = min(times[k], time.perf_counter() - t0)
        done += 1
    return times, out


def auto_pick(f, x) -> str:
    """The mode auto takes at x: its rule on the sizes and the recording's node sizes."""
    rec = Recording(f, x)
    return modes.choose(x.size, int(np.size(rec.value)), rec.mean_size < modes.SMALL_NODES)


def cell(family, n, m, rounds, budget, seed):
    f = FAMILIES[family](np, n, m, _rng(seed))
    x = _rng(seed + 7919).normal(size=n)
    tf = time_f(f, x)
    t0 = time.perf_counter()
    jac_auto = jacobian(f, x)  # the first call: a recording swept the cheaper way
    first = time.perf_counter() - t0
    times, out = best_of({
        "forward": lambda: jacobian(f, x, mode="forward"),
        "reverse": lambda: jacobian(f, x, mode="reverse"),
        "auto": lambda: jacobian(f, x, mode="auto")}, rounds, budget)
    scale = max(1.0, float(np.max(np.abs(out["forward"]))))
    agree = all(np.allclose(out[k], out["forward"], rtol=1e-10, atol=1e-12 * scale)
                for k in ("reverse", "auto")) and np.allclose(jac_auto, out["forward"],
                                                              rtol=1e-10, atol=1e-12 * scale)
    winner = "forward" if times["forward"] <= times["reverse"] else "reverse"
    best = times[winner]
    mm = int(np.size(out["forward"]) // max(n, 1))
    return dict(
        family=family, n=n, m=mm, f_us=tf * 1e6,
        forward=times["forward"] / tf, reverse=times["reverse"] / tf, auto=times["auto"] / tf,
        auto_first=first / tf, winner=winner, auto_pick=auto_pick(f, x),
        regret=times["auto"] / best, winner_cost=best / (min(n, mm) * tf), agree=bool(agree),
    ), f, x, out["forward"]


# -- peers --------------------------------------------------------------------------

def peers(family, n, m, rng_seed, jac_ref, tf, rounds):
    """Times (relative to f) of the tools users would otherwise pick, each checked first."""
    res = {}
    scale = max(1.0, float(np.max(np.abs(jac_ref))))

    def run(name, make, tol):
        try:
            fn = make()
            fn()  # warm up (JIT compilation is not timed)
            t, out = best_of({name: fn}, rounds)
            ok = np.allclose(np.asarray(out[name]), jac_ref, rtol=tol, atol=tol * scale)
            res[name] = t[name] / tf if ok else f"disagrees (tol {tol:g})"
        except Exception as e:  # noqa: BLE001 - a peer failing is reported, not fatal
            res[name] = f"failed: {type(e).__name__}"

    x = _rng(rng_seed + 7919).normal(size=n)
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        fj = FAMILIES[family](jnp, n, m, _rng(rng_seed))
        xj = jnp.asarray(x)
        for name, tr in (("jax.jacfwd", jax.jacfwd), ("jax.jacrev", jax.jacrev)):
            run(name, lambda tr=tr: (lambda j: lambda: j(xj).block_until_ready())(tr(fj)), 1e-10)
            run(name + "+jit",
                lambda tr=tr: (lambda j: lambda: j(xj).block_until_ready())(jax.jit(tr(fj))),
                1e-10)
    except ImportError:
        pass
    try:
        import torch
        import torch.func as tf_

        ft = FAMILIES[family](_TorchNS(torch), n, m, _rng(rng_seed))
        xt = torch.asarray(x)
        run("torch.func.jacfwd", lambda: lambda: tf_.jacfwd(ft)(xt).numpy(), 1e-10)
        run("torch.func.jacrev", lambda: lambda: tf_.jacrev(ft)(xt).numpy(), 1e-10)
    except ImportError:
        pass
    try:
        import autograd
        import autograd.numpy as anp

        fa = FAMILIES[family](anp, n, m, _rng(rng_seed))
        run("autograd", lambda: lambda: autograd.jacobian(fa)(x), 1e-10)
    except ImportError:
        pass

    fs = FAMILIES[family](np, n, m, _rng(rng_seed))
    # 3-point differences: truncation + rounding error ~ eps**(2/3) ~ 4e-11 relative to
    # the scale of f''' and f; 1e-6 leaves room for the curvature of these families
    run("scipy FD (3-point)",
        lambda: lambda: np.reshape(approx_derivative(lambda v: np.atleast_1d(fs(v)), x),
                                   jac_ref.shape), 1e-6)
    return res


class _TorchNS:
    """torch under the numpy names the families use."""

    def __init__(self, torch):
        self.t = torch

    def asarray(self, a):
        return self.t.asarray(a)

    def __getattr__(self, name):
        return getattr(self.t, {"concatenate": "cat"}.get(name, name))


def _rng(seed):
    return np.random.default_rng(seed)


# -- report -------------------------------------------------------------------------

def _plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dense_rows = [r for r in rows if r["family"] == "dense"]
    ns = sorted({r["n"] for r in dense_rows})
    ms = sorted({r["m"] for r in dense_rows})
    ratio = np.full((len(ms), len(ns)), np.nan)
    for r in dense_rows:
        ratio[ms.index(r["m"]), ns.index(r["n"])] = np.log10(r["forward"] / r["reverse"])
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    lim = np.nanmax(np.abs(ratio))
    im = ax.imshow(ratio, origin="lower", cmap="coolwarm", vmin=-lim, vmax=lim)
    for r in dense_rows:
        i, j = ms.index(r["m"]), ns.index(r["n"])
        ax.text(j, i, f"{r['forward'] / r['reverse']:.2g}\nauto: {r['auto_pick'][:3]}",
                ha="center", va="center", fontsize=7)
    # auto's boundary n = RHO * m, drawn in the log-spaced index coordinates
    pos = np.arange(len(ns))
    ax.plot(pos, np.interp(np.log(np.asarray(ns, float)), np.log(ms),
                           np.arange(len(ms))), "k--", label="auto: n = m (model)")
    ax.set_xticks(pos, ns)
    ax.set_yticks(np.arange(len(ms)), ms)
    ax.set_xlabel("n (inputs)")
    ax.set_ylabel("m (outputs)")
    ax.set_title("dense map: forward time / reverse time (log colour)")
    fig.colorbar(im, label="log10(forward / reverse)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args) -> dict:
    quick = bool(getattr(args, "quick", False))
    out_dir = getattr(args, "out", ".") or "."
    want_peers = bool(getattr(args, "peers", False))
    os.makedirs(out_dir, exist_ok=True)
    rounds, budget = (3, 0.35) if quick else (4, 0.8)
    cells = grid(quick)
    start = time.perf_counter()
    print(f"modes: forward vs reverse vs auto, {len(cells)} cells "
          f"(times relative to one evaluation of f)")
    if not any(os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")):
        print("note: multithreaded BLAS on a busy machine makes matmul times erratic; "
              "set OPENBLAS_NUM_THREADS=1 for stable ratios")
    head = (f"{'family':12s}{'n':>6s}{'m':>6s}{'f us':>8s}{'fwd':>9s}{'rev':>9s}{'auto':>9s}"
            f"{'1st':>9s}  {'winner':8s}{'auto':9s}{'regret':>7s}{'cost':>6s}")
    print(head)
    rows = []
    for i, (family, n, m) in enumerate(cells):
        row, f, x, jac = cell(family, n, m, rounds, budget, 1000 + i)
        if want_peers and max(n, row["m"]) <= 1000:
            row["peers"] = peers(family, n, m, 1000 + i, jac, row["f_us"] * 1e-6, rounds)
        rows.append(row)
        flag = "" if row["agree"] else "  DISAGREE"
        print(f"{family:12s}{n:6d}{row['m']:6d}{row['f_us']:8.1f}{row['forward']:9.1f}"
              f"{row['reverse']:9.1f}{row['auto']:9.1f}{row['auto_first']:9.1f}  "
              f"{row['winner']:8s}{row['auto_pick']:9s}{row['regret']:7.2f}"
              f"{row['winner_cost']:6.1f}  [{i + 1}/{len(cells)} "
              f"{time.perf_counter() - start:.0f}s]{flag}", flush=True)
        for name, v in row.get("peers", {}).items():
            print(f"{'':14s}{name:22s}" + (f"{v:9.1f}" if isinstance(v, float) else f"  {v}"))
    regrets = [r["regret"] for r in rows]
    costs = [r["winner_cost"] for r in rows]
    summary = dict(
        cells=len(rows), seconds=time.perf_counter() - start, all_agree=all(r["agree"]
                                                                             for r in rows),
        max_regret=max(regrets), median_regret=float(np.median(regrets)),
        cells_regret_over_1_15=[(r["family"], r["n"], r["m"], round(r["regret"], 2))
                                for r in rows if r["regret"] > 1.15],
        max_winner_cost=max(costs),
        cells_winner_cost_over_3=[(r["family"], r["n"], r["m"], round(r["winner_cost"], 1))
                                  for r in rows if r["winner_cost"] > 3],
        auto_matches_winner=sum(r["auto_pick"] == r["winner"] for r in rows),
    )
    print(f"max regret {summary['max_regret']:.2f} (median {summary['median_regret']:.2f}); "
          f"cells over 1.15: {len(summary['cells_regret_over_1_15'])}; winner cost max "
          f"{summary['max_winner_cost']:.1f} x min(n,m) f, cells over 3: "
          f"{len(summary['cells_winner_cost_over_3'])}; "
          f"{summary['seconds']:.0f} s")
    result = {"rows": rows, "summary": summary, "quick": quick}
    with open(os.path.join(out_dir, "modes.json"), "w") as fh:
        json.dump(result, fh, indent=1)
    try:
        _plot(rows, os.path.join(out_dir, "modes.png"))
    except ImportError:
        print("matplotlib not installed: modes.png skipped")
    return result
