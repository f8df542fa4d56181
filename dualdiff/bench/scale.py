"""Benchmark section "scale": passes on executors, and sparse Hessians as n grows.

1. ``executor=``: wall time of a dense Jacobian (forward mode, 8 passes of 2
   directions) and a Hessian (forward-over-reverse, 8 passes of 2 directions) of an f
   that takes ~50 ms per call, serial against a ThreadPoolExecutor, a
   ProcessPoolExecutor and (when installed) a dask.distributed LocalCluster, each
   with 2 workers (this machine's cores).  Two f's: one that waits 50 ms (a
   simulator or a remote call: threads overlap the waits) and one that computes for
   ~50 ms in NumPy (needs processes to use both cores).  Every result is checked to
   be bit-identical to the serial one.
2. Sparse Hessians (``SparseHessianPlan``: star colouring, one forward-over-reverse
   pass of #colours directions) of a chained objective (tridiagonal Hessian) and an
   arrowhead one, n = 1e4 .. 1e6: preparation (detection + colouring) and the cost of
   a call relative to one f(x), beside one reverse-mode gradient.

``--quick``: the waiting f on threads only; n up to 10^5.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np

import dualdiff as dd

from .report import COLORS, Target, pyplot
from .timing import measure, once

DELAY = 0.05  # seconds per call of the slow f's
WORKERS = 2


def waiting(x):
    """~50 ms per call, mostly waiting (time.sleep releases the GIL)."""
    time.sleep(DELAY)
    return np.sum(np.exp(x[:-1] * x[1:])) + np.sum(x**4)


class Computing:
    """~50 ms per call of element-wise NumPy work (``rounds`` passes over 2e5 values,
    single-threaded, releasing the GIL; the result scales f by a constant).  An instance
    pickles with its rounds, so every worker does the same work."""

    def __init__(self, rounds: int = 1):
        self.rounds = rounds

    def __call__(self, x):
        a = np.linspace(0.0, 1.0, 200_000)
        for _ in range(self.rounds):  # in place: dask workers trim freed memory eagerly
            np.sin(a, out=a)
            a *= 1.0001
        scale = 1.0 + float(np.mean(a)) ** 2
        return scale * (np.sum(np.exp(x[:-1] * x[1:])) + np.sum(x**4))

    @classmethod
    def calibrated(cls) -> Computing:
        """An instance whose call takes about DELAY seconds here."""
        t = measure(lambda: cls(10)(np.ones(4)), 0.3).min / 10
        return cls(max(1, int(round(DELAY / max(t, 1e-9)))))


def chained(x):
    """sum (x_i - 1)^2 + (x_{i+1} - x_i^2)^2: tridiagonal Hessian."""
    return np.sum((x - 1.0) ** 2) + np.sum((x[1:] - x[:-1] ** 2) ** 2)


def arrowhead(x):
    """sum (x_0 x_i - 1)^2 + sum x^2: x_0 couples to every x_i (arrowhead Hessian)."""
    return np.sum((x[0] * x[1:] - 1.0) ** 2) + np.sum(x * x)


def _executors(quick: bool):
    """(name, factory) of the executors to compare (dask when installed, not with --quick)."""
    out = [("threads", lambda: ThreadPoolExecutor(WORKERS)),
           ("processes", lambda: ProcessPoolExecutor(
               WORKERS, mp_context=multiprocessing.get_context("spawn")))]
    if quick:
        return out[:1], None
    try:
        import dask
        from dask import distributed
    except ImportError:
        return out, None
    if quick:
        return out, distributed.__version__

    class Dask:
        def __enter__(self):
            # the workers' statistical profiler samples every 10 ms: off for timing
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                self.cluster = distributed.LocalCluster(
                    n_workers=WORKERS, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.CRITICAL)
            self.client = distributed.Client(self.cluster)
            # pure=False: dask would otherwise return a cached result for a repeated call
            return self.client.get_executor(pure=False)

        def __exit__(self, *exc):
            self.client.close()
            self.cluster.close()

    return out + [("dask LocalCluster", Dask)], distributed.__version__


def _same(a, b) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


class Outputs:
    """x -> f(x) x: 16 outputs from the scalar f, so its Jacobian has 16 columns (8
    forward passes of 2).  Module-level: pickles with its f."""

    def __init__(self, f):
        self.f = f

    def __call__(self, z):
        return self.f(z) * z


def executor_rows(ctx) -> list:
    x = np.linspace(-0.5, 0.5, 16)
    ops = {
        "jacobian fwd": lambda f, ex: dd.jacobian(Outputs(f), x, mode="forward", chunk=2,
                                                  executor=ex),
        "hessian FoR": lambda f, ex: dd.hessian(f, x, chunk=2, method="forward-over-reverse",
                                                executor=ex),
    }
    repeat = 1 if ctx.quick else 3
    fs = {"waiting": waiting} if ctx.quick else {"waiting": waiting,
                                                  "computing": Computing.calibrated()}
    serial = {}
    for fname, f in fs.items():
        t_f = measure(lambda f=f: f(x), 0.0, min_repeats=3, warm=False).min
        for opname, op in ops.items():
            ref = op(f, None)
            t = measure(lambda op=op, f=f: op(f, None), 0.0, min_repeats=repeat,
                        warm=False).min
            serial[fname, opname] = (t_f, ref, t)
    executors, _ = _executors(ctx.quick)
    table = ctx.table(
        f"executor=: 8 independent passes of an f of ~{DELAY * 1e3:.0f} ms on {WORKERS} workers",
        [("f", "f", "<9", "waiting: sleeps (a simulator, a remote call); computing: NumPy work"),
         ("operation", "operation", "<12", "jacobian fwd: 8 passes of 2 directions; hessian "
                                           "FoR: 8 forward-over-reverse passes"),
         ("executor", "executor", "<17", "where the passes run"),
         ("t_serial", "serial [s]", ".2f", "wall time without an executor"),
         ("t_executor", "executor [s]", ".2f", "wall time with it (workers warmed up)"),
         ("speedup", "speed-up", ".2f", "serial / executor (higher is better; ideal 2)"),
         ("bits", "same bits", "", "result bit-identical to the serial one")])
    rows = []
    for exname, make in executors:  # one executor (one cluster) for every case
        with make() as ex:
            for (fname, opname), (t_f, ref, t_serial) in serial.items():
                f, op = fs[fname], ops[opname]
                out = op(f, ex)  # warm-up (worker start, imports), checked
                t_ex = measure(lambda op=op, f=f, ex=ex: op(f, ex), 0.0, min_repeats=repeat,
                               warm=False).min
                rows.append({"f": fname, "t_f": t_f, "operation": opname, "executor": exname,
                             "t_serial": t_serial, "t_executor": t_ex,
                             "speedup": t_serial / t_ex,
                             "bits": "same" if _same(ref, out) else "DIFFERENT"})
    rows.sort(key=lambda r: (list(fs).index(r["f"]), list(ops).index(r["operation"])))
    for r in rows:
        table.add(**r)
    return rows


def sparse_hessian_rows(ctx) -> list:
    sizes = [10**4, 10**5] if ctx.quick else [10**4, 10**5, 10**6]
    table = ctx.table(
        "sparse Hessians (SparseHessianPlan): cost / one call of f as n grows",
        [("f", "f", "<9", "chained: tridiagonal H; arrowhead: x_0 couples to every x_i"),
         ("n", "n", "d", "inputs"), ("nnz", "nnz", "d", "nonzeros of H"),
         ("star", "colours", "d", "star colours (directions of the one pass)"),
         ("columns", "col. colours", "d", "what column colouring would need"),
         ("f_ms", "f [ms]", ".3f", "one call of f"),
         ("prep_s", "prep [s]", ".2f", "detection + colouring, once"),
         ("hessian_f", "H/f", ".0f", "a plan call / f (lower is better)"),
         ("gradient_f", "grad/f", ".0f", "one reverse-mode gradient / f, for scale")])
    rows = []
    for name, f in (("chained", chained), ("arrowhead", arrowhead)):
        for n in sizes:
            if name == "arrowhead" and n > sizes[-2]:
                continue  # greedy star colouring is a Python loop: seconds at 1e6
            x = np.linspace(-1.0, 1.0, n) + 1.5
            t_f = measure(lambda f=f, x=x: f(x), 0.1).min
            plan, t_prep = once(lambda f=f, x=x: dd.SparseHessianPlan(f, x))
            t_h = measure(lambda plan=plan, x=x: plan(x), 0.1 if ctx.quick else 0.4,
                          max_repeats=10).min
            t_g = measure(lambda f=f, x=x: dd.gradient(f, x, mode="reverse"),
                          0.1 if ctx.quick else 0.3, max_repeats=10).min
            c = plan.coloring
            rows.append(table.add(f=name, n=n, nnz=int(plan.pattern.nnz), star=c["star"],
                                  columns=c["columns"], f_ms=t_f * 1e3, prep_s=t_prep,
                                  hessian_f=t_h / t_f, gradient_f=t_g / t_f))
    return rows


def plot(ctx, ex_rows, sh_rows) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.6))
    labels = list(dict.fromkeys(f"{r['f']}\n{r['operation']}" for r in ex_rows))
    exs = list(dict.fromkeys(r["executor"] for r in ex_rows))
    width = 0.8 / max(len(exs), 1)
    for i, ex in enumerate(exs):
        vals = [next((r["speedup"] for r in ex_rows if r["executor"] == ex and
                      f"{r['f']}\n{r['operation']}" == lab), np.nan) for lab in labels]
        ax.bar([j + (i - (len(exs) - 1) / 2) * width for j in range(len(labels))], vals,
               width, label=ex, color=f"C{i}")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axhline(WORKERS, color="gray", ls="--", lw=0.8, label=f"ideal ({WORKERS} workers)")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("speed-up: serial time / executor time (higher is better)")
    ax.set_title(f"executor=: 8 passes of a {DELAY * 1e3:.0f} ms f, same bits as serial")
    ax.legend(fontsize=8)
    for name, mk in (("chained", "o"), ("arrowhead", "s")):
        rs = [r for r in sh_rows if r["f"] == name]
        if rs:
            bx.loglog([r["n"] for r in rs], [r["hessian_f"] for r in rs], mk + "-",
                      color=COLORS["plan"], label=f"{name}: SparseHessianPlan call")
            bx.loglog([r["n"] for r in rs], [r["gradient_f"] for r in rs], mk + ":",
                      color=COLORS["reverse"], label=f"{name}: one reverse gradient")
    bx.set_xlabel("n (inputs)")
    bx.set_ylabel("time / time of f (lower is better)")
    bx.set_title("sparse Hessians: cost stays bounded as n grows")
    bx.grid(True, which="both", alpha=0.3)
    bx.legend(fontsize=8)
    fig.suptitle("scale: passes on executors; sparse Hessians as n grows")
    fig.tight_layout()
    ctx.figure(fig, "scale.png")


def run(ctx) -> dict:
    ex_rows = executor_rows(ctx)
    sh_rows = sparse_hessian_rows(ctx)
    waiting_rows = [r for r in ex_rows if r["f"] == "waiting"]
    best = max(waiting_rows, key=lambda r: r["speedup"])
    ctx.target(Target("executor speed-up on the waiting f (best executor, 2 workers)",
                      best["speedup"], 1.5, higher=True,
                      why=f"{best['executor']}, {best['operation']}"))
    ctx.headline("executor= speed-ups (8 passes, waiting f, 2 workers): " + ", ".join(
        f"{r['executor']} {r['operation']} {r['speedup']:.2f}x" for r in waiting_rows)
        + ("; bits identical" if all(r["bits"] == "same" for r in ex_rows)
           else "; **bits differ**"))
    computing = [r for r in ex_rows if r["f"] == "computing"]
    if computing:
        ctx.headline("computing f (NumPy work): " + ", ".join(
            f"{r['executor']} {r['operation']} {r['speedup']:.2f}x" for r in computing))
    ch = [r for r in sh_rows if r["f"] == "chained"]
    ctx.headline("sparse Hessian plan / f, chained (tridiagonal, "
                 f"{ch[0]['star']} colours): " + " / ".join(f"{r['hessian_f']:.0f}" for r in ch)
                 + " at n = " + " / ".join(f"{r['n']:.0e}" for r in ch))
    plot(ctx, ex_rows, sh_rows)
    return {"executors": ex_rows, "sparse_hessian": sh_rows}
