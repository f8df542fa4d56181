"""Jacobians in forward, reverse or the cheaper mode.

Forward mode (:class:`~dualdiff.dual.Dual`) pushes k input directions through
one run of f; the Jacobian costs ``ceil(n / k)`` runs.  Reverse mode
(:mod:`dualdiff.reverse`) records f once and sweeps k output cotangents back per
sweep; the Jacobian costs one recording and ``ceil(m / k)`` sweeps.

``mode="auto"`` decides from sizes, never from timings, so the same call always
takes the same path and returns the same bits.  The output size m is only known
after f has run, so the first call on an f records a tape, decides, and either
sweeps that recording backwards (reverse) or runs the forward passes (forward,
the path every later call takes).  What it learned — m, and whether the
recording was scalar-bound (many tiny nodes: Python loops over elements) — is
remembered per function object and input shape and dtype (a weak, lock-guarded
table, nothing else); a later forward call whose output size differs
re-decides.  ``forget(f)`` drops what was remembered.

Decision (costs in units of one run of f, calibrated by ``python -m dualdiff
bench --section modes``): forward costs ``ceil(n / k)`` passes.  Reverse costs
one recording and ``ceil(m / k)`` sweeps; for vectorised code a recording or a
sweep costs about a pass, so auto picks reverse iff ``m < n``; for scalar-bound
code recording and sweeping cost :data:`SCALAR_REVERSE` passes in all, so auto
picks reverse iff ``SCALAR_REVERSE * ceil(m / k) < ceil(n / k)``.
"""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np

from . import fanout
from .core import new_tag
from .dual import Dual
from .reverse import Recording
from .seeding import MEMORY_BUDGET, basis_seeds, default_chunk, fresh, unpack
from .tape import NoReverseRule

#: a recording whose nodes hold fewer elements than this on average is Python-bound
SMALL_NODES = 16
#: scalar-bound code: a recording plus one sweep costs about this many forward passes
SCALAR_REVERSE = 3.0

_memory: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def forget(f) -> None:
    """Drop what auto mode remembered about ``f`` (its output size per input shape).

    >>> forget(np.sin)
    """
    with _lock:
        try:
            _memory.pop(f, None)
        except TypeError:
            pass


def _recall(f, key):
    with _lock:
        try:
            return _memory.get(f, {}).get(key)
        except TypeError:  # f cannot be weakly referenced: nothing is remembered
            return None


def _remember(f, key, entry) -> None:
    with _lock:
        try:
            _memory.setdefault(f, {})[key] = entry
        except TypeError:
            pass


def forward_pass(f, x, start: int, k: int):
    """One forward pass: ``(f(x), (tangent,))`` seeded with basis directions ``start ..
    start + k - 1``, on a fresh copy of x (f may write into its argument).

    >>> forward_pass(lambda x: x * x, np.array([1.0, 2.0]), 1, 1)[1][0].tolist()
    [[0.0, 4.0]]
    """
    shape, n = np.shape(x), math.prod(np.shape(x))
    xin = Dual._make(fresh(x), (basis_seeds(n, start, k, shape, x.dtype),), new_tag())
    return unpack(f(xin), xin)


def forward_jacobian(f, x, chunk: int | None, executor=None):
    """``(f(x), J)`` by forward passes of ``chunk`` basis directions each (on
    ``executor`` when given: the same passes, so the same bits).

    >>> y, J = forward_jacobian(lambda x: x * x[0], np.array([1.0, 2.0]), chunk=1)
    >>> J.tolist()
    [[2.0, 0.0], [2.0, 1.0]]
    """
    shape, n = np.shape(x), math.prod(np.shape(x))
    k = chunk or default_chunk(n)
    parallel = executor is not None and n > k

    def passes(start, k):
        items = [(f, x, s, min(k, n - s)) for s in range(start, n, max(k, 1))] or [(f, x, 0, 0)]
        if parallel:
            return fanout.submit(executor, forward_pass, items)
        return [_Lazy(forward_pass, item) for item in items]

    futures = passes(0, k)
    value, (t,) = fanout.gather(futures[:1])[0]
    m = math.prod(np.shape(value))
    if chunk is None and n > k and default_chunk(n, m) != k:
        # the output is larger than the input: later passes carry fewer directions
        for fu in futures[1:]:
            fu.cancel()
        futures = futures[:1] + passes(k, default_chunk(n, m))
    cols = [np.moveaxis(t, 0, -1)] + [np.moveaxis(t, 0, -1)
                                      for _, (t,) in fanout.gather(futures, 1)]
    jac = cols[0] if len(cols) == 1 else np.concatenate(cols, axis=-1)
    return value, np.reshape(jac, np.shape(value) + shape)


class _Lazy:
    """A pass run when its result is asked for (serial mode: one pass in memory at a time
    besides the columns kept)."""

    __slots__ = ("fn", "item")

    def __init__(self, fn, item):
        self.fn, self.item = fn, item

    def result(self):
        return self.fn(*self.item)

    def cancel(self) -> bool:
        return True


def _blocks(count: int, k: int, shape: tuple, apply, dtype):
    """``apply`` on the basis of R^count, k vectors (shaped (k,) + shape) at a time,
    results stacked into (count, -1)."""
    return np.concatenate([
        np.reshape(apply(basis_seeds(count, s, min(k, count - s), shape, dtype)),
                   (min(k, count - s), -1)) for s in range(0, count, k)])


def reverse_chunk(rec, m: int) -> int:
    """Cotangents per sweep: as many as fit MEMORY_BUDGET for the largest node.

    >>> reverse_chunk(Recording(lambda x: x * 2, np.ones(3)), 3)
    3
    """
    return int(max(1, min(m, MEMORY_BUDGET // (8 * rec.max_size))))


def sweep_rows(rec, start: int, k: int, complex_out: bool):
    """Rows ``start .. start + k - 1`` of the Jacobian of a recording: (k, n).

    >>> sweep_rows(Recording(lambda x: x * x, np.array([1.0, 2.0])), 1, 1, False).tolist()
    [[0.0, 4.0]]
    """
    u = basis_seeds(math.prod(rec.y_shape), start, k, rec.y_shape, rec.x_dtype)
    rows = np.reshape(rec.sweep(u), (k, -1))
    if complex_out:  # u = i e_j gives -Im J: J = sweep(e) - i sweep(i e)
        rows = rows - 1j * np.reshape(rec.sweep(1j * u), (k, -1))
    return rows


def record_and_sweep_rows(f, x, start: int, k: int, complex_out: bool):
    """:func:`sweep_rows` of a recording of f at x made here (a worker process).

    >>> record_and_sweep_rows(lambda x: x * x, np.array([1.0, 2.0]), 0, 1, False).tolist()
    [[2.0, 0.0]]
    """
    return sweep_rows(Recording(f, x), start, k, complex_out)


def reverse_rows(rec, chunk: int | None = None, executor=None, source=None):
    """The Jacobian of a recording, ``chunk`` cotangent rows per backward sweep (a
    complex output takes a second sweep for the imaginary parts).  With ``executor``
    the sweeps run there: threads share the recording; other executors get
    ``source = (f, x)`` and record f again in each work item (same bits).

    >>> reverse_rows(Recording(lambda x: x[::-1] * 2, np.ones(2)), chunk=1).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    y_shape, x_shape = rec.y_shape, rec.x_shape
    m, n = math.prod(y_shape), math.prod(x_shape)
    dtype = np.result_type(rec.value, rec.x_dtype)
    if m == 0 or n == 0:
        return np.zeros(y_shape + x_shape, dtype)
    k = chunk or reverse_chunk(rec, m)
    complex_out = dtype.kind == "c"
    bounds = [(s, min(k, m - s), complex_out) for s in range(0, m, k)]
    if fanout.shares_memory(executor) or source is None:
        parts = fanout.run(executor, sweep_rows, [(rec,) + b for b in bounds])
    else:
        parts = fanout.run(executor, record_and_sweep_rows, [source + b for b in bounds])
    return np.reshape(np.concatenate(parts), y_shape + x_shape)


def reverse_jacobian(f, x, chunk: int | None = None, executor=None):
    """``(f(x), J)`` by reverse mode: one recording, ceil(m / chunk) sweeps.

    >>> reverse_jacobian(lambda x: np.sum(x**2), np.array([1.0, 2.0]))[1].tolist()
    [2.0, 4.0]
    """
    rec = Recording(f, x)
    return rec.value, reverse_rows(rec, chunk, executor, (f, x))


def choose(n: int, m: int, scalar: bool = False) -> str:
    """The pick for an n -> m Jacobian (``scalar``: the recording is Python-bound).

    >>> choose(1000, 1), choose(1, 1000), choose(100, 1, scalar=True)
    ('reverse', 'forward', 'forward')
    """
    if not scalar:
        return "reverse" if m < n else "forward"
    forward_passes = math.ceil(n / default_chunk(n, m)) if n else 0
    reverse_passes = SCALAR_REVERSE * math.ceil(m / default_chunk(m, n)) if m else 0
    return "reverse" if reverse_passes < forward_passes else "forward"


def auto_mode(f, x, memo=None) -> str:
    """The mode ``mode="auto"`` takes for f at x ("forward" or "reverse"): remembered (per
    ``memo``, default f: the user's function when f wraps it), or learned from one
    recording (which is then remembered).

    >>> auto_mode(lambda x: np.sum(x * x), np.ones(50)), auto_mode(np.sin, np.ones(1))
    ('reverse', 'forward')
    """
    x = np.asarray(x, dtype=float) if not hasattr(x, "dtype") else x
    memo = f if memo is None else memo
    n, key = math.prod(np.shape(x)), (np.shape(x), np.dtype(x.dtype))
    known = _recall(memo, key)
    if known is None and n > 1:
        try:
            rec = Recording(f, x)
        except NoReverseRule:
            _remember(memo, key, ("forward-only",))
            return "forward"
        known = (math.prod(rec.y_shape), rec.mean_size < SMALL_NODES)
        _remember(memo, key, known)
    if known is None or known[0] == "forward-only":
        return "forward"
    return choose(n, *known)


def run_jacobian(f, x, mode: str, chunk: int | None, memo=None, executor=None):
    """``(f(x), J)`` in ``mode`` ("forward", "reverse" or "auto"); auto remembers what it
    learned per ``memo`` (default f); the passes on ``executor`` when given (see
    :mod:`dualdiff.fanout`)."""
    if mode == "forward":
        return forward_jacobian(f, x, chunk, executor)
    if mode == "reverse":
        return reverse_jacobian(f, x, chunk, executor)
    memo = f if memo is None else memo
    n = math.prod(np.shape(x))
    key = (np.shape(x), np.dtype(x.dtype))
    known = _recall(memo, key)
    if known is None and n > 1:
        try:
            rec = Recording(f, x)
        except NoReverseRule:  # a rule with no reverse form: forward only
            _remember(memo, key, ("forward-only",))
            return forward_jacobian(f, x, chunk, executor)
        m = math.prod(rec.y_shape)
        scalar = rec.mean_size < SMALL_NODES
        _remember(memo, key, (m, scalar))
        if choose(n, m, scalar) == "reverse":
            return rec.value, reverse_rows(rec, chunk, executor, (f, x))
        return forward_jacobian(f, x, chunk, executor)
    if known is None or known[0] == "forward-only":
        return forward_jacobian(f, x, chunk, executor)
    m, scalar = known
    if choose(n, m, scalar) == "reverse":
        return reverse_jacobian(f, x, chunk, executor)
    value, jac = forward_jacobian(f, x, chunk, executor)
    if math.prod(np.shape(value)) != m:  # f changed: decide afresh next time
        forget(memo)
    return value, jac


def forward_rows(rec, chunk: int | None = None):
    """The Jacobian of a recording by forward sweeps over it (f is not called again),
    ``chunk`` basis columns per sweep.

    >>> forward_rows(Recording(lambda x: x[::-1] * 2, np.ones(2)), chunk=1).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    y_shape, x_shape = rec.y_shape, rec.x_shape
    m, n = math.prod(y_shape), math.prod(x_shape)
    if m == 0 or n == 0:
        return np.zeros(y_shape + x_shape, np.result_type(rec.value, rec.x_dtype))
    k = chunk or int(max(1, min(n, MEMORY_BUDGET // (8 * rec.max_size))))
    return np.reshape(_blocks(n, k, x_shape, rec.push, rec.x_dtype).T, y_shape + x_shape)


def check_scalar(value, what: str = "gradient") -> None:
    """A ValueError unless f's value is a real scalar (for gradient and friends).

    >>> check_scalar(1.0)
    """
    if np.shape(value) != ():
        raise ValueError(
            f"{what} needs a scalar-valued f, but f returned shape {np.shape(value)}; "
            f"use jacobian for vector outputs (or return f(x)[0] / np.sum(...)).")
    if np.iscomplexobj(value):
        raise TypeError(f"{what} needs a real-valued f, but f returned a complex number; "
                        f"differentiate np.real(f(x)) and np.imag(f(x)), or use jacobian "
                        f"(which gives a complex Jacobian).")


def run_gradient(f, x, mode: str, memo=None):
    """``(f(x), gradient)`` of a scalar f.  auto: the Jacobian rule with m = 1 (once it
    has picked reverse for f, one recording and one sweep, as ``mode="reverse"``)."""
    if mode == "auto":
        known = _recall(f if memo is None else memo, (np.shape(x), np.dtype(x.dtype)))
        if known is not None and known[0] != "forward-only" and \
                choose(math.prod(np.shape(x)), *known) == "reverse":
            mode = "reverse"
    if mode == "reverse":
        rec = Recording(f, x)
        check_scalar(rec.value)
        return rec.value, rec.sweep(np.ones((1,), rec.x_dtype))[0]
    value, jac = run_jacobian(f, x, mode, None, memo)
    check_scalar(value)
    return value, jac
