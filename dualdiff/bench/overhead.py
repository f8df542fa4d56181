"""Overhead of forward mode: what a Jacobian costs relative to f, and what one
scalar Dual operation costs relative to one float operation.

Three tables, all times from :func:`time.perf_counter` (min and median over
repeats, garbage collector paused like :mod:`timeit`):

* ``mlp``: ``f(x) = W2 @ tanh(W1 @ x + b)`` (hidden width 64) at (n, m) =
  (100, 100) and (300, 300); time of ``jacobian(f, x, "forward", c)`` / time of
  ``f(x)`` for c = 1, 8, 32 and None (the default), with the number of f calls.
  Dense forward mode needs ceil(n / k) passes of a k-wide pass.
* ``scalar``: a Python-loop Rosenbrock (n = 100) on floats, on NumPy float64
  scalars and on scalar Duals (k = 1: ``jvp``; k = n: ``gradient`` in one
  pass).  Operations are counted (each creates one Dual), and the table gives
  time per operation and its ratio to a float operation.
* ``chunk`` (not with ``--quick``): time per Jacobian column of one forward
  pass of k directions through an element-wise function at n = 10^4 and 10^5,
  for several k and the default chunk, to check the memory budget.
"""

from __future__ import annotations

import gc
import json
import math
import os
import statistics
import time

import numpy as np

from .. import seeding as drivers
from ..api import gradient, jacobian, jvp
from ..dual import Dual
from ..seeding import default_chunk
from .timing import Counted


def measure(fn, target: float = 0.02, repeats: int = 5) -> dict:
    """Seconds per call of ``fn()``: min and median over ``repeats`` runs of
    ``number`` calls each, ``number`` chosen so one run takes about ``target`` s.

    >>> m = measure(lambda: sum(range(10)), target=0.001, repeats=2)
    >>> sorted(m) == ["median", "min", "number"] and m["min"] > 0
    True
    """
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(target / once))
    runs = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            runs.append((time.perf_counter() - t0) / number)
    finally:
        if enabled:
            gc.enable()
    return {"min": min(runs), "median": statistics.median(runs), "number": number}


def mlp(n: int, m: int, hidden: int = 64, seed: int = 0):
    """``(f, x)`` with ``f(x) = W2 @ tanh(W1 @ x + b)``, weights scaled by 1/sqrt(fan-in).

    >>> f, x = mlp(5, 3)
    >>> f(x).shape
    (3,)
    """
    rng = np.random.default_rng(seed)
    w1 = rng.normal(size=(hidden, n)) / math.sqrt(n)
    w2 = rng.normal(size=(m, hidden)) / math.sqrt(hidden)
    b = rng.normal(size=hidden)

    def f(x):
        return w2 @ np.tanh(w1 @ x + b)

    return f, rng.normal(size=n)


def rosenbrock(x):
    """Rosenbrock's function written as a plain Python loop over scalars.

    >>> rosenbrock([1.0, 1.0, 1.0])
    0.0
    """
    s = 0.0
    for i in range(len(x) - 1):
        s = s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def count_ops(f, x) -> int:
    """Number of Dual operations (each makes one new Dual) in one jvp of f at x.

    >>> count_ops(lambda x: x[0] * x[1] + 1.0, np.array([2.0, 3.0]))  # 2 x getitem, *, +
    4
    """
    count = [0]
    original = Dual.__dict__["_make"]

    def counting(cls, value, parts, tag):
        count[0] += 1
        return original.__func__(cls, value, parts, tag)

    Dual._make = classmethod(counting)
    try:
        jvp(f, x, np.ones_like(x))
    finally:
        Dual._make = original
    return count[0] - 1  # the seed made by jvp is not an operation of f


def _mlp_table(quick: bool, log) -> list:
    rows = []
    for n, m in ((100, 100), (300, 300)):
        f, x = mlp(n, m)
        reps = 3 if quick else 5
        base = measure(lambda f=f, x=x: f(x), 0.005 if quick else 0.01, reps)
        row = {"n": n, "m": m, "f_seconds": base, "chunks": []}
        for chunk in (1, 8, 32, None):
            counted = Counted(f)
            jac = jacobian(counted, x, mode="forward", chunk=chunk)
            assert jac.shape == (m, n)
            t = measure(lambda c=chunk, f=f, x=x: jacobian(f, x, mode="forward", chunk=c),
                        0.01 if quick else 0.03, reps)
            k = chunk or default_chunk(n, m)
            entry = {"chunk": chunk, "k": min(k, n), "f_calls": counted.calls,
                     "seconds": t, "ratio_min": t["min"] / base["min"],
                     "ratio_median": t["median"] / base["median"]}
            row["chunks"].append(entry)
            log(f"  mlp n={n:4d} m={m:4d} chunk={chunk!s:>4} (k={entry['k']:3d}) "
                f"f calls {counted.calls:4d}  jacobian {t['min'] * 1e3:8.3f} ms  "
                f"= {entry['ratio_min']:7.1f} x f ({base['min'] * 1e6:.1f} us)")
        rows.append(row)
    return rows


def _scalar_table(quick: bool, log) -> dict:
    n = 100
    x = np.random.default_rng(1).normal(size=n)
    ops = count_ops(rosenbrock, x)
    target, reps = (0.01, 3) if quick else (0.03, 5)
    cases = {
        "float": lambda: rosenbrock(x.tolist()),
        "numpy float64": lambda: rosenbrock(x),
        "Dual k=1 (jvp)": lambda: jvp(rosenbrock, x, np.ones(n)),
        f"Dual k={n} (gradient)": lambda: gradient(rosenbrock, x, mode="forward"),
    }
    out = {"n": n, "ops": ops, "cases": {}}
    for name, fn in cases.items():
        t = measure(fn, target, reps)
        out["cases"][name] = {"seconds": t, "per_op": t["min"] / ops}
    floor = out["cases"]["float"]["per_op"]
    for name, c in out["cases"].items():
        c["ratio_to_float"] = c["per_op"] / floor
        log(f"  rosenbrock n={n} ({ops} ops)  {name:20s} {c['per_op'] * 1e9:8.0f} ns/op "
            f"= {c['ratio_to_float']:6.1f} x float")
    return out


def _elementwise(x):
    return np.sin(x) * np.exp(-x * x) + np.tanh(x) * x


def _chunk_table(log) -> list:
    rows = []
    for n in (10**4, 10**5):
        x = np.random.default_rng(2).normal(size=n)
        kd = default_chunk(n, n)
        ks = sorted({k for k in (1, 4, 16, 64, 256) if k * n <= 2**21} | {kd})
        row = {"n": n, "default_chunk": kd, "per_column_seconds": {}}
        for k in ks:
            seed = np.zeros((k, n))
            seed[np.arange(k), np.arange(k)] = 1.0
            t = measure(lambda s=seed: _elementwise(Dual._make(x, (s,), 0)), 0.02, 3)
            row["per_column_seconds"][k] = t["min"] / k
        best = min(row["per_column_seconds"], key=row["per_column_seconds"].get)
        row["best_chunk"] = best
        log(f"  element-wise n={n:6d}  per-column us: " + "  ".join(
            f"k={k}{'*' if k == kd else ''}:{s * 1e6:.0f}"
            for k, s in row["per_column_seconds"].items()) + f"   (* default, best k={best})")
        rows.append(row)
    return rows


def run(args) -> dict:
    """Run the overhead benchmark, print its tables, write ``overhead.json`` (+ ``overhead.png``).

    >>> import argparse, contextlib, io, tempfile
    >>> with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(io.StringIO()):
    ...     r = run(argparse.Namespace(quick=True, out=d))
    ...     written = os.path.exists(os.path.join(d, "overhead.json"))
    >>> written, [row["n"] for row in r["mlp"]], r["scalar"]["ops"] > 0
    (True, [100, 300], True)
    """
    quick = bool(getattr(args, "quick", False))
    out_dir = getattr(args, "out", ".") or "."

    def log(msg):
        print(msg, flush=True)

    log(f"overhead: cost of a Jacobian relative to f, and of a scalar Dual op "
        f"(memory budget {drivers.MEMORY_BUDGET} bytes)")
    result = {"quick": quick, "memory_budget": drivers.MEMORY_BUDGET,
              "numpy": np.__version__,
              "blas_threads_env": {k: os.environ.get(k) for k in (
                  "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")},
              "mlp": _mlp_table(quick, log),
              "scalar": _scalar_table(quick, log)}
    if not quick:
        result["chunk"] = _chunk_table(log)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "overhead.json"), "w") as fh:
        json.dump(result, fh, indent=1, default=str)
    _plot(result["mlp"], os.path.join(out_dir, "overhead.png"))
    return result


def _plot(rows, path: str) -> None:
    """Jacobian time / f time against the number of f calls (skipped without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is optional
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for row in rows:
        calls = [c["f_calls"] for c in row["chunks"]]
        ratios = [c["ratio_min"] for c in row["chunks"]]
        ax.loglog(calls, ratios, "o-", label=f"n = m = {row['n']}")
        for c, x, y in zip(row["chunks"], calls, ratios):
            ax.annotate(f"k={c['k']}", (x, y), textcoords="offset points", xytext=(4, -10),
                        fontsize=7)
    ax.set_xlabel("calls of f (passes)")
    ax.set_ylabel("time of jacobian / time of f")
    ax.set_title("MLP Jacobian cost by chunk size")
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
