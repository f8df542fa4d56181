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
pass times when it has them.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from .drivers import MEMORY_BUDGET, check_scalar, forward_columns

#: forward wins when n <= RHO * m (a forward column costs about as much as a reverse row)
RHO = 1.0

_memory: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def reverse_chunk(rec, m: int) -> int:
    """Cotangents per sweep: as many as fit MEMORY_BUDGET for the largest node."""
    return int(max(1, min(m, MEMORY_BUDGET // (8 * rec.max_size))))


def reverse_rows(rec, chunk: int | None = None):
    """The Jacobian of a recording, ``chunk`` cotangent rows per backward sweep."""
    y_shape, x_shape = rec.y_shape, rec.x_shape
    m, n = int(np.prod(y_shape)), int(np.prod(x_shape))
    k = chunk or reverse_chunk(rec, m)
    rows = []
    for start in range(0, m, k):
        kk = min(k, m - start)
        u = np.zeros((kk, m))
        u[np.arange(kk), start + np.arange(kk)] = 1.0
        rows.append(np.reshape(rec.sweep(u.reshape((kk,) + y_shape)), (kk, n)))
    jac = np.concatenate(rows) if rows else np.zeros((0, n))
    return np.reshape(jac, y_shape + x_shape)


def reverse_jacobian(f, x, chunk: int | None = None):
    """``(f(x), J)`` by reverse mode: one recording, ceil(m / chunk) sweeps."""
    from .tape import Recording

    rec = Recording(f, x)
    return rec.value, reverse_rows(rec, chunk)


def choose(n: int, m: int, t_fwd: float | None = None, t_rev: float | None = None) -> str:
    """"forward" or "reverse" for an n -> m Jacobian (see the module's cost model).

    ``t_fwd`` / ``t_rev`` are measured costs per direction when known.

    >>> choose(1000, 1), choose(1, 1000)
    ('reverse', 'forward')
    """
    if t_fwd is not None and t_rev is not None:
        return "forward" if n * t_fwd <= m * t_rev else "reverse"
    return "forward" if n <= RHO * m else "reverse"


def _key(f, x):
    try:
        return _memory.setdefault(f, {}), tuple(np.shape(x))
    except TypeError:  # f cannot be weakly referenced: no memory
        return None, None


def run_jacobian(f, x, mode, chunk):
    if mode == "forward":
        return forward_columns(f, x, chunk)
    if mode == "reverse":
        return reverse_jacobian(f, x, chunk)
    n = int(np.prod(np.shape(x)))
    if n <= 1:
        return forward_columns(f, x, chunk)
    with _lock:
        store, key = _key(f, x)
        known = store.get(key) if store is not None else None
    if known is not None:
        pick = choose(n, known)
        return forward_columns(f, x, chunk) if pick == "forward" else \
            reverse_jacobian(f, x, chunk)
    from .tape import Recording

    rec = Recording(f, x)
    m = int(np.prod(rec.y_shape))
    if store is not None:
        with _lock:
            store[key] = m
    if choose(n, m) == "reverse":
        return rec.value, reverse_rows(rec, chunk)
    return rec.value, forward_rows(rec, chunk)


def forward_rows(rec, chunk: int | None = None):
    """The Jacobian of a recording by forward sweeps over it (f is not called again),
    ``chunk`` basis columns per sweep."""
    y_shape, x_shape = rec.y_shape, rec.x_shape
    m, n = int(np.prod(y_shape)), int(np.prod(x_shape))
    k = chunk or int(max(1, min(n, MEMORY_BUDGET // (8 * rec.max_size))))
    cols = []
    for start in range(0, n, k):
        kk = min(k, n - start)
        t = np.zeros((kk, n))
        t[np.arange(kk), start + np.arange(kk)] = 1.0
        cols.append(np.reshape(rec.push(t.reshape((kk,) + x_shape)), (kk, m)))
    jac = np.concatenate(cols).T if cols else np.zeros((m, 0))
    return np.reshape(jac, y_shape + x_shape)


def run_gradient(f, x, mode):
    if mode == "forward":
        value, jac = forward_columns(f, x, None)
        check_scalar(value)
        return jac
    from .tape import Recording

    rec = Recording(f, x)
    check_scalar(rec.value)
    return rec.sweep(np.ones((1,)))[0]

