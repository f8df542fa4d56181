"""``scipy.integrate``'s fixed-sample rules with derivatives: trapezoid, simpson,
cumulative_trapezoid.

Each is SciPy's own algorithm written with calls that dispatch on carriers (so the value
is SciPy's, bit for bit): linear in the samples y, and differentiable in the sample points
x too (trapezoid is bilinear in (x, y); Simpson's weights for uneven spacing are rational
in the spacings).  SciPy's ``np.true_divide(a, b, out=zeros, where=b != 0)`` becomes
``where(b != 0, a / b', 0)`` with b' = 1 where b == 0, the same values.
"""

from __future__ import annotations

import numpy as np
import scipy.integrate as _si

from ..core import find_owner

__all__ = ["trapezoid", "simpson", "cumulative_trapezoid"]


def __getattr__(name: str):
    return getattr(_si, name)  # quad, solve_ivp, ... : SciPy's own


def _array(a):
    return a if find_owner([a]) is not None else np.asarray(a)


def _tupleset(t, i, value):
    out = list(t)
    out[i] = value
    return tuple(out)


def _divide(num, den):
    """num / den where den != 0, else 0 (SciPy's true_divide with out= and where=)."""
    nz = den != 0
    if np.all(nz):
        return num / den
    return np.where(nz, num / np.where(nz, den, 1.0), 0.0)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """``scipy.integrate.trapezoid``: sum of (x[i+1] - x[i]) (y[i+1] + y[i]) / 2.

    >>> import numpy as np, dualdiff as dd
    >>> dd.gradient(trapezoid, np.array([1.0, 2.0, 4.0])).tolist()
    [0.5, 1.0, 0.5]
    """
    if find_owner([y, x, dx]) is None:
        return _si.trapezoid(y, x=x, dx=dx, axis=axis)
    y = _array(y)
    nd = np.ndim(y)
    slice1 = _tupleset((slice(None),) * nd, axis, slice(1, None))
    slice2 = _tupleset((slice(None),) * nd, axis, slice(None, -1))
    if x is None:
        d = dx
    else:
        x = _array(x)
        if np.ndim(x) == 1:
            d = x[1:] - x[:-1]
            d = d[_tupleset((None,) * nd, axis, slice(None))]
        else:
            x = np.broadcast_to(x, np.shape(y))
            d = x[slice1] - x[slice2]
    return np.sum(d * (y[slice1] + y[slice2]) / 2.0, axis=axis)


def cumulative_trapezoid(y, x=None, dx=1.0, axis=-1, initial=None):
    """``scipy.integrate.cumulative_trapezoid``: running sums of the trapezoids.

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacobian(cumulative_trapezoid, np.array([1.0, 2.0, 4.0])).tolist()
    [[0.5, 0.5, 0.0], [0.5, 1.0, 0.5]]
    """
    if find_owner([y, x, dx]) is None:
        return _si.cumulative_trapezoid(y, x=x, dx=dx, axis=axis, initial=initial)
    y = _array(y)
    if np.shape(y)[axis] == 0:
        raise ValueError("At least one point is required along `axis`.")
    nd = np.ndim(y)
    if x is None:
        d = dx
    else:
        x = _array(x)
        if np.ndim(x) == 1:
            d = np.diff(x)
            d = np.reshape(d, _tupleset((1,) * nd, axis, -1))
        elif np.ndim(x) != nd:
            raise ValueError("If given, shape of x must be 1-D or the same as y.")
        else:
            d = np.diff(x, axis=axis)
        if np.shape(d)[axis] != np.shape(y)[axis] - 1:
            raise ValueError("If given, length of x along axis must be the same as y.")
    slice1 = _tupleset((slice(None),) * nd, axis, slice(1, None))
    slice2 = _tupleset((slice(None),) * nd, axis, slice(None, -1))
    res = np.cumulative_sum(d * (y[slice1] + y[slice2]) / 2.0, axis=axis)
    if initial is not None:
        if initial != 0:
            raise ValueError("`initial` must be `None` or `0`.")
        if not np.isscalar(initial):
            raise ValueError("`initial` parameter should be a scalar.")
        shape = _tupleset(np.shape(res), axis, 1)
        res = np.concatenate((np.full(shape, initial, dtype=res.dtype), res), axis=axis)
    return res


def _basic_simpson(y, start, stop, x, dx, axis):
    nd = np.ndim(y)
    step = 2
    slice_all = (slice(None),) * nd
    slice0 = _tupleset(slice_all, axis, slice(start, stop, step))
    slice1 = _tupleset(slice_all, axis, slice(start + 1, stop + 1, step))
    slice2 = _tupleset(slice_all, axis, slice(start + 2, stop + 2, step))
    if x is None:  # evenly spaced
        result = np.sum(y[slice0] + 4.0 * y[slice1] + y[slice2], axis=axis)
        return result * (dx / 3.0)
    h = np.diff(x, axis=axis)
    h0 = h[slice0].astype(float, copy=False)
    h1 = h[slice1].astype(float, copy=False)
    hsum = h0 + h1
    hprod = h0 * h1
    h0divh1 = _divide(h0, h1)
    tmp = hsum / 6.0 * (y[slice0] * (2.0 - _divide(1.0, h0divh1))
                        + y[slice1] * (hsum * _divide(hsum, hprod))
                        + y[slice2] * (2.0 - h0divh1))
    return np.sum(tmp, axis=axis)


def simpson(y, x=None, *, dx=1.0, axis=-1):
    """``scipy.integrate.simpson`` (composite Simpson's rule; an even number of samples
    closes with Cartwright's correction on the last interval), differentiable in y and x.

    >>> import numpy as np, dualdiff as dd
    >>> dd.gradient(simpson, np.array([1.0, 2.0, 4.0])).tolist()  # weights 1/3, 4/3, 1/3
    [0.3333333333333333, 1.3333333333333333, 0.3333333333333333]
    """
    if find_owner([y, x, dx]) is None:
        return _si.simpson(y, x=x, dx=dx, axis=axis)
    y = _array(y)
    nd = np.ndim(y)
    n = np.shape(y)[axis]
    if x is not None:
        x = _array(x)
        if np.ndim(x) == 1:
            x = np.reshape(x, _tupleset((1,) * nd, axis, np.shape(x)[0]))
        elif np.ndim(x) != nd:
            raise ValueError("If given, shape of x must be 1-D or the same as y.")
        if np.shape(x)[axis] != n:
            raise ValueError("If given, length of x along axis must be the same as y.")
    if n % 2:
        return _basic_simpson(y, 0, n - 2, x, dx, axis)
    slice_all = (slice(None),) * nd
    slice1 = _tupleset(slice_all, axis, -1)
    slice2 = _tupleset(slice_all, axis, -2)
    if n == 2:
        last_dx = dx if x is None else x[slice1] - x[slice2]
        return 0.0 + (0.0 + 0.5 * last_dx * (y[slice1] + y[slice2]))
    result = _basic_simpson(y, 0, n - 3, x, dx, axis)
    slice3 = _tupleset(slice_all, axis, -3)
    h = [dx, dx]
    if x is not None:
        diffs = np.diff(x, axis=axis)
        h = [np.squeeze(diffs[_tupleset(slice_all, axis, slice(-2, -1, 1))], axis=axis),
             np.squeeze(diffs[_tupleset(slice_all, axis, slice(-1, None, 1))], axis=axis)]
    alpha = _divide(2 * h[1] ** 2 + 3 * h[0] * h[1], 6 * (h[1] + h[0]))
    beta = _divide(h[1] ** 2 + 3.0 * h[0] * h[1], 6 * h[0])
    eta = _divide(1 * h[1] ** 3, 6 * h[0] * (h[0] + h[1]))
    result = result + (alpha * y[slice1] + beta * y[slice2] - eta * y[slice3])
    return result + 0.0
