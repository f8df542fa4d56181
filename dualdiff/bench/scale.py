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

Writes ``scale.json`` into ``--out``.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np

import dualdiff as dd

from .timing import best_time

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
        t = best_time(lambda: cls(10)(np.ones(4)), budget=0.3) / 10
        return cls(max(1, int(round(DELAY / max(t, 1e-9)))))


def chained(x):
    """sum (x_i - 1)^2 + (x_{i+1} - x_i^2)^2: tridiagonal Hessian."""
    return np.sum((x - 1.0) ** 2) + np.sum((x[1:] - x[:-1] ** 2) ** 2)


def arrowhead(x):
    """sum (x_0 x_i - 1)^2 + sum x^2: x_0 couples to every x_i (arrowhead Hessian)."""
    return np.sum((x[0] * x[1:] - 1.0) ** 2) + np.sum(x * x)


def _executors():
    """(name, factory) of the executors to compare; dask when installed."""
    out = [("threads", lambda: ThreadPoolExecutor(WORKERS)),
           ("processes", lambda: ProcessPoolExecutor(
               WORKERS, mp_context=multiprocessing.get_context("fork")))]
    try:
        import dask
        from dask import distributed
    except ImportError:
        return out, None

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


def run_executors(quick: bool) -> tuple:
    x = np.linspace(-0.5, 0.5, 16)
    ops = {
        "jacobian fwd": lambda f, ex: dd.jacobian(Outputs(f), x, mode="forward", chunk=2,
                                                  executor=ex),
        "hessian FoR": lambda f, ex: dd.hessian(f, x, chunk=2, method="forward-over-reverse",
                                                executor=ex),
    }
    repeat = 2 if quick else 3
    fs = {"waiting": waiting, "computing": Computing.calibrated()}
    serial = {}
    for fname, f in fs.items():
        t_f = best_time(lambda f=f: f(x), budget=0.2, max_repeat=5)
        for opname, op in ops.items():
            ref = op(f, None)
            t = best_time(lambda op=op, f=f: op(f, None), budget=0.0, min_repeat=repeat,
                          max_repeat=repeat)
            serial[fname, opname] = (t_f, ref, t)
    executors, dask_version = _executors()
    rows = []
    for exname, make in executors:  # one executor (one cluster) for every case
        with make() as ex:
            for (fname, opname), (t_f, ref, t_serial) in serial.items():
                f, op = fs[fname], ops[opname]
                out = op(f, ex)  # warm-up (worker start, imports), checked
                t_ex = best_time(lambda op=op, f=f, ex=ex: op(f, ex), budget=0.0,
                                 min_repeat=repeat, max_repeat=repeat)
                rows.append({"f": fname, "t_f": t_f, "operation": opname, "passes": 8,
                             "executor": exname, "workers": WORKERS, "t_serial": t_serial,
                             "t_executor": t_ex, "speedup": t_serial / t_ex,
                             "bit_identical": _same(ref, out)})
    rows.sort(key=lambda r: (list(fs).index(r["f"]), list(ops).index(r["operation"])))
    return rows, dask_version


class Outputs:
    """x -> f(x) x: 16 outputs from the scalar f, so its Jacobian has 16 columns (8
    forward passes of 2).  Module-level: pickles with its f."""

    def __init__(self, f):
        self.f = f

    def __call__(self, z):
        return self.f(z) * z


def run_sparse(quick: bool) -> list:
    sizes = [10**4, 10**5] if quick else [10**4, 10**5, 10**6]
    rows = []
    for name, f in (("chained", chained), ("arrowhead", arrowhead)):
        for n in sizes:
            if name == "arrowhead" and n > sizes[-2]:
                continue  # greedy star colouring is a Python loop: seconds at 1e6
            x = np.linspace(-1.0, 1.0, n) + 1.5
            t_f = best_time(lambda f=f, x=x: f(x), budget=0.3)
            t0 = time.perf_counter()
            plan = dd.SparseHessianPlan(f, x)
            t_prep = time.perf_counter() - t0
            t_h = best_time(lambda plan=plan, x=x: plan(x), budget=0.5, max_repeat=5)
            t_g = best_time(lambda f=f, x=x: dd.gradient(f, x, mode="reverse"), budget=0.3,
                            max_repeat=5)
            c = plan.coloring
            rows.append({"f": name, "n": n, "nnz": int(plan.pattern.nnz), "star": c["star"],
                         "columns": c["columns"], "column_bound": c["column_bound"],
                         "t_f": t_f, "t_prepare": t_prep, "t_hessian": t_h,
                         "ratio_hessian": t_h / t_f, "ratio_gradient": t_g / t_f,
                         "ratio_prepare": t_prep / t_f})
    return rows


def run(args) -> dict:
    """Run the section; print two tables; write scale.json into args.out."""
    quick = getattr(args, "quick", False)
    out = getattr(args, "out", ".")
    print("executor= : a Jacobian / Hessian of 8 independent passes of an f of ~50 ms; "
          f"{WORKERS} workers.\n  columns: f (waiting: sleeps; computing: NumPy work), "
          "T_f (one call), operation, executor, serial and executor wall times, speed-up, "
          "bits = result identical to the serial one")
    rows, dask_version = run_executors(quick)
    print(f"{'f':10s} {'T_f':>7s} {'operation':13s} {'executor':18s} {'serial':>8s} "
          f"{'executor':>9s} {'speed-up':>8s} {'bits':>5s}")
    for r in rows:
        print(f"{r['f']:10s} {r['t_f'] * 1e3:5.0f}ms {r['operation']:13s} {r['executor']:18s} "
              f"{r['t_serial']:7.2f}s {r['t_executor']:8.2f}s {r['speedup']:8.2f} "
              f"{'same' if r['bit_identical'] else 'DIFF':>5s}", flush=True)
    if dask_version is None:
        print("  (dask.distributed not installed: pip install -e '.[dist]' adds the dask row)")
    print("\nsparse Hessians (SparseHessianPlan): cost / T_f as n grows.\n  columns: f, n, "
          "nnz of H, colours (star; column colouring; its lower bound = max row count), "
          "T_f, preparation (detect + colour) s, plan call / T_f, one reverse gradient / T_f")
    srows = run_sparse(quick)
    print(f"{'f':10s} {'n':>8s} {'nnz':>8s} {'star':>5s} {'cols':>7s} {'bound':>7s} "
          f"{'T_f':>9s} {'prep':>7s} {'H/T_f':>7s} {'grad/T_f':>8s}")
    for r in srows:
        print(f"{r['f']:10s} {r['n']:8d} {r['nnz']:8d} {r['star']:5d} {r['columns']:7d} "
              f"{r['column_bound']:7d} {r['t_f'] * 1e3:7.2f}ms {r['t_prepare']:6.2f}s "
              f"{r['ratio_hessian']:7.0f} {r['ratio_gradient']:8.0f}", flush=True)
    result = {"executors": rows, "dask": dask_version, "sparse_hessian": srows}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "scale.json"), "w") as fh:
        json.dump(result, fh, indent=1)
    return result
