"""Array helpers shared by the rules and every carrier: leading direction axes,
broadcasting and its transpose, NaN-safe products, and a cheap floating-point
error state.

Derivative parts carry ``lead`` leading axes (a Dual tangent one axis of k
directions, a hyper-dual cross part two) in front of the value's shape.
"""

from __future__ import annotations

import numpy as np

try:  # NumPy >= 2 keeps np.errstate in a context variable: setting it directly
    # costs ~0.1 us where entering np.errstate costs ~1 us (once per operation).
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRSTATE
    from numpy._core._ufunc_config import _make_extobj

    _IGNORE = _make_extobj(all="ignore")
    #: for hot paths: ``token = ERRSTATE.set(IGNORE)`` ... ``ERRSTATE.reset(token)`` is
    #: :func:`quiet` / :func:`loud` without the two calls
    ERRSTATE, IGNORE = _ERRSTATE, _IGNORE

    def quiet():
        """Start ignoring floating-point warnings (derivative code must not warn
        where NumPy on the value would not); pass the result to :func:`loud`.

        >>> token = quiet()
        >>> float(np.float64(1.0) / np.float64(0.0))  # no RuntimeWarning
        inf
        >>> loud(token)
        """
        return _ERRSTATE.set(_IGNORE)

    def loud(token) -> None:
        """Restore the floating-point warning state saved by :func:`quiet`.

        >>> before = np.geterr()
        >>> loud(quiet())
        >>> np.geterr() == before
        True
        """
        _ERRSTATE.reset(token)
except ImportError:  # pragma: no cover - other NumPy layouts
    def quiet():
        """Start ignoring floating-point warnings; pass the result to :func:`loud`."""
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def loud(token) -> None:
        """Restore the floating-point warning state saved by :func:`quiet`."""
        token.__exit__(None, None, None)

    class _State:
        set = staticmethod(lambda _: quiet())
        reset = staticmethod(loud)

    ERRSTATE, IGNORE = _State(), None


def expand(t, ndim: int, lead: int = 1):
    """Insert unit axes after ``lead`` leading axes so that ``t`` has rank ``lead + ndim``
    (a part broadcasting against a value of rank ndim).

    >>> expand(np.zeros((3, 4)), 3).shape
    (3, 1, 1, 4)
    >>> expand(np.ones((2, 3, 4)), 2, lead=2).shape
    (2, 3, 1, 4)
    """
    shape = np.shape(t)
    missing = ndim - (len(shape) - lead)
    if missing <= 0:
        return t
    return np.reshape(t, shape[:lead] + (1,) * missing + shape[lead:])


def sum_to(u, shape: tuple, lead: int = 1):
    """Transpose of broadcasting: sum ``u`` (lead axes, ...) down to ``lead axes + shape``.

    >>> sum_to(np.ones((2, 3, 4)), (1, 4)).tolist()
    [[[3.0, 3.0, 3.0, 3.0]], [[3.0, 3.0, 3.0, 3.0]]]
    """
    shape = tuple(shape)
    ushape = np.shape(u)
    if ushape[lead:] == shape:
        return u
    extra = len(ushape) - lead - len(shape)
    axes = tuple(range(lead, lead + extra)) + tuple(
        lead + extra + i for i, s in enumerate(shape) if s == 1 and ushape[lead + extra + i] != 1)
    if axes:
        u = np.sum(u, axis=axes, keepdims=True)
    if np.shape(u)[lead:] != shape or extra:
        head = np.shape(u)[:lead]
        if np.shape(u)[lead + extra:] == shape:
            u = np.reshape(u, head + shape)
        else:  # u was smaller than shape (a broadcast factor): fill out
            u = np.broadcast_to(u, head + shape)
    return u


def zeros(shape: tuple, dtype=float):
    """A read-only zero part: a broadcast view, no memory.

    >>> z = zeros((2, 3)); z.shape, z.flags.writeable, is_zero(z)
    ((2, 3), False, True)
    """
    return np.broadcast_to(np.zeros((), dtype), tuple(shape))


def is_zero(t) -> bool:
    """True for a part made by :func:`zeros` (a constant-zero broadcast view).

    >>> is_zero(np.broadcast_to(0.0, (2, 3))), is_zero(np.zeros(3))
    (True, False)
    """
    return bool(type(t) is np.ndarray and not t.flags.writeable and not any(t.strides)
                and (t.size == 0 or not t.flat[0]))


def total(terms):
    """Sum of the terms that are not None (None when all are).

    >>> total([None, 1.0, 2.0])
    3.0
    """
    out = None
    for t in terms:
        if t is not None:
            out = t if out is None else out + t
    return out


def periodic_knots(x, xp, fp, period):
    """``np.interp(x, xp, fp, period=period)`` as NumPy computes it: ``(x, xp, fp)`` for
    the interpolation without a period (queries and knots taken modulo the period, the
    knots sorted, one wrapped knot added at each end).

    >>> [a.tolist() for a in periodic_knots(np.array([370.0]), np.array([350.0, 10.0]),
    ...                                     np.array([1.0, 2.0]), 360.0)]
    [[10.0], [-10.0, 10.0, 350.0, 370.0], [1.0, 2.0, 1.0, 2.0]]
    """
    if period == 0:
        raise ValueError("period must be a non-zero value")
    period = abs(period)
    if np.ndim(xp) != 1 or np.ndim(fp) != 1:
        raise ValueError("Data points must be 1-D sequences")
    if np.shape(xp)[0] != np.shape(fp)[0]:
        raise ValueError("fp and xp are not of the same length")
    x, xp = x % period, xp % period
    order = np.argsort(xp)
    xp, fp = xp[order], fp[order]
    return (x, np.concatenate((xp[-1:] - period, xp, xp[0:1] + period)),
            np.concatenate((fp[-1:], fp, fp[0:1])))
