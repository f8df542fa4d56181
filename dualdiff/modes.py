"""Choosing between forward and reverse mode.

Forward mode (:class:`~dualdiff.dual.Dual`) pushes k input directions through
one run of f; the Jacobian costs ``ceil(n / k)`` runs.  Reverse mode
(:mod:`dualdiff.tape`) records f once and sweeps k output cotangents back per
sweep; the Jacobian costs one recording and ``ceil(m / k)`` sweeps.

``mode="auto"`` uses the cost model below.  The output size m is only known
after f has run once, so the first call on a given f records a tape (a run of
f that reverse mode reuses as is) and, if forward turns out cheaper, runs the
same recording forward (no further call of f); the observed m and timings are
remembered per (f, x.shape) so later calls go straight to the cheaper mode.

Cost model (times relative to one plain evaluation of f, measured by the
benchmark ``python -m dualdiff bench``):

    forward(n) = P_f * ceil(n / k_f) * (1 + w_f * k_f)
    reverse(m) = P_r + S_r * ceil(m / k_r) * (1 + w_r * k_r)

Only the ratio matters; with one pass of each direction costing about the
same, auto picks forward iff ``n <= RHO * m`` (RHO below), and uses measured
pass times when it has them.  When sizes are close, or when f works on scalars
(a recording of tiny nodes: Python overhead per operation, not n or m, decides
the cost), auto times both modes on its first calls and keeps the faster.
"""

from __future__ import annotations

import math
import threading
import time
import weakref

import numpy as np

from .drivers import MEMORY_BUDGET, basis_seeds, check_scalar, forward_columns
from .tape import NoReverseRule, Recording

#: forward wins when n <= RHO * m (a forward column costs about as much as a reverse row)
RHO = 1.0
#: sizes settle the choice when max(n, m) > SPREAD * min(n, m) + SLACK; closer than that,
#: per-pass overheads decide, so auto times each mode once and keeps the faster
SPREAD, SLACK = 4.0, 32
#: a recording whose nodes hold fewer elements than this on average is Python-bound
#: (scalar loops): per-operation overhead, not n or m, decides, so auto times both modes
SMALL_NODES = 16
#: timed calls of each mode before auto settles on the faster one (when sizes are close)
TRIALS = 3
#: after that, two of every RECHECK calls time forward and reverse again
RECHECK = 32

_memory: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def reverse_chunk(rec, m: int) -> int:
    """Cotangents per sweep: as many as fit MEMORY_BUDGET for the largest node.

    >>> from dualdiff.tape import Recording
    >>> reverse_chunk(Recording(lambda x: x * 2, np.ones(3)), 3)
    3
    """
    return int(max(1, min(m, MEMORY_BUDGET // (8 * rec.max_size))))


def _basis_blocks(count: int, k: int, shape: tuple, apply):
    """``apply`` on the basis of R^count, k vectors (shaped (k,) + shape) at a time,
    results stacked into (count, -1)."""
    return np.concatenate([
        np.reshape(apply(basis_seeds(count, start, min(k, count - start), shape)),
                   (min(k, count - start), -1))
        for start in range(0, count, k)])


def reverse_rows(rec, chunk: int | None = None):
    """The Jacobian of a recording, ``chunk`` cotangent rows per backward sweep.

    >>> from dualdiff.tape import Recording
    >>> reverse_rows(Recording(lambda x: x[::-1] * 2, np.ones(2)), chunk=1).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    y_shape, x_shape = rec.y_shape, rec.x_shape
    m, n = math.prod(y_shape), math.prod(x_shape)
    if m == 0 or n == 0:
        return np.zeros(y_shape + x_shape)
    rows = _basis_blocks(m, chunk or reverse_chunk(rec, m), y_shape, rec.sweep)
    return np.reshape(rows, y_shape + x_shape)


def reverse_jacobian(f, x, chunk: int | None = None):
    """``(f(x), J)`` by reverse mode: one recording, ceil(m / chunk) sweeps.

    >>> reverse_jacobian(lambda x: np.sum(x**2), np.array([1.0, 2.0]))[1].tolist()
    [2.0, 4.0]
    """
    rec = Recording(f, x)
    return rec.value, reverse_rows(rec, chunk)


def choose(n: int, m: int) -> str:
    """The model's pick for an n -> m Jacobian before anything is measured.

    >>> choose(1000, 1), choose(1, 1000)
    ('reverse', 'forward')
    """
    return "forward" if n <= RHO * m else "reverse"


def clear_cut(n: int, m: int) -> bool:
    """True when the sizes alone settle the choice (overheads cannot reverse it).

    >>> clear_cut(1000, 1), clear_cut(20, 15)
    (True, False)
    """
    return max(n, m) > SPREAD * min(n, m) + SLACK


def _entry(f, shape):
    try:
        per_f = _memory.get(f)
        if per_f is None:
            per_f = _memory.setdefault(f, {})
    except TypeError:  # f cannot be weakly referenced: nothing is remembered
        return {}
    entry = per_f.get(shape)
    return entry if entry is not None else per_f.setdefault(shape, {})


def _timed(mode, fn, entry):
    t = time.perf_counter()
    out = fn()
    t = time.perf_counter() - t
    with _lock:
        entry[mode] = min(t, entry.get(mode, np.inf))
    return out


def run_jacobian(f, x, mode, chunk):
    if mode == "forward":
        return forward_columns(f, x, chunk)
    if mode == "reverse":
        return reverse_jacobian(f, x, chunk)
    n = int(np.size(x))
    entry = _entry(f, np.shape(x))
    m, tf, tr = entry.get("m"), entry.get("forward"), entry.get("reverse")
    if m is None and n <= 1:  # one forward pass can not be beaten
        value, jac = forward_columns(f, x, chunk)
        entry["m"] = int(np.size(value))
        return value, jac
    if m is None:  # first call: record once, then sweep whichever way is cheaper
        try:
            rec = Recording(f, x)
        except NoReverseRule:  # f uses a rule with no reverse form: forward only
            value, jac = forward_columns(f, x, chunk)
            entry["m"] = 0
            entry["forward_only"] = True
            return value, jac
        m = math.prod(rec.y_shape)
        entry["m"] = m
        entry["small_nodes"] = rec.mean_size < SMALL_NODES
        if choose(n, m) == "reverse":
            return rec.value, reverse_rows(rec, chunk)
        return rec.value, forward_rows(rec, chunk)
    trials = entry.get("trials", 0)
    if entry.get("forward_only"):
        pick = "forward"
    elif trials >= 2 * TRIALS:
        pick = "forward" if tf <= tr else "reverse"
        # now and then time both again (times only go down), so that trials slowed by
        # a cold start or a busy machine do not fix the choice for good
        entry["trials"] = trials + 1
        phase = (trials - 2 * TRIALS) % RECHECK
        if phase >= RECHECK - 2:
            pick = "forward" if phase == RECHECK - 2 else "reverse"
            return _timed(pick, lambda: _run(pick, f, x, chunk), entry)
    elif clear_cut(n, m) and not entry.get("small_nodes"):
        pick = choose(n, m)
    else:  # sizes are close: time each mode TRIALS times (first call excluded), keep the faster
        entry["trials"] = trials + 1
        pick = "forward" if trials % 2 == 0 else "reverse"
        return _timed(pick, lambda: _run(pick, f, x, chunk), entry)
    return _run(pick, f, x, chunk)


def _run(mode, f, x, chunk):
    return forward_columns(f, x, chunk) if mode == "forward" else reverse_jacobian(f, x, chunk)


def forward_rows(rec, chunk: int | None = None):
    """The Jacobian of a recording by forward sweeps over it (f is not called again),
    ``chunk`` basis columns per sweep.

    >>> from dualdiff.tape import Recording
    >>> forward_rows(Recording(lambda x: x[::-1] * 2, np.ones(2)), chunk=1).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    y_shape, x_shape = rec.y_shape, rec.x_shape
    m, n = math.prod(y_shape), math.prod(x_shape)
    if m == 0 or n == 0:
        return np.zeros(y_shape + x_shape)
    k = chunk or int(max(1, min(n, MEMORY_BUDGET // (8 * rec.max_size))))
    return np.reshape(_basis_blocks(n, k, x_shape, rec.push).T, y_shape + x_shape)


def run_gradient(f, x, mode):
    """Gradient of a scalar f.  auto: the Jacobian model with m = 1 (reverse, except
    for small n, where both modes are timed), so the gradient is one sweep."""
    if mode == "forward":
        value, jac = forward_columns(f, x, None)
    elif mode == "reverse":
        rec = Recording(f, x)
        check_scalar(rec.value)
        return rec.sweep(np.ones((1,)))[0]
    else:
        value, jac = run_jacobian(f, x, "auto", None)
    check_scalar(value)
    return jac
