"""Element-wise NumPy functions beyond the ufunc rows: selections (where, select,
piecewise, clip), rounding, copysign, nan_to_num, sinc, interp, unwrap — each a
composite of rows and linear maps, so every carrier gets them (real, imag, angle:
:mod:`dualdiff.complexes`)."""

from __future__ import annotations

import numpy as np
import scipy.special as sc

from .arrays import expand, periodic_knots
from .core import (
    Carrier,
    apply_ufunc,
    discrete,
    implements,
    linear,
    operand,
    primal,
)
from .shape import condition


@implements(np.where)
def _where(cond, x=None, y=None):
    if x is None and y is None:
        return discrete(np.nonzero, (cond,))
    c = condition(cond)
    nd = len(np.broadcast_shapes(np.shape(c), np.shape(x), np.shape(y)))
    return linear(lambda a, b: np.where(c, expand(a, nd), expand(b, nd)), x, y,
                  op=lambda a, b: np.where(c, a, b))


@implements(np.select)
def _select(condlist, choicelist, default=0):
    out = default
    for c, v in reversed(list(zip(condlist, choicelist))):
        out = np.where(c, v, out)
    return out


@implements(np.choose)
def _choose(a, choices, out=None, mode="raise"):
    # a: integers (a dualdiff array is float: NumPy refuses it too); mode as NumPy's
    if isinstance(a, Carrier) or np.asarray(a).dtype.kind not in "iub":
        raise TypeError("np.choose: the index array must be integers (as in NumPy)")
    idx, n = np.asarray(a), len(choices)
    if mode == "raise":
        if np.any((idx < 0) | (idx >= n)):
            raise ValueError("invalid entry in choice array")
    elif mode == "wrap":
        idx = idx % n
    elif mode == "clip":
        idx = np.clip(idx, 0, n - 1)
    else:
        raise ValueError("clipmode must be one of 'clip', 'raise', or 'wrap'")
    return np.select([idx == i for i in range(n)], list(choices))


@implements(np.piecewise)
def _piecewise(x, condlist, funclist, *args, **kw):
    conds = [condition(c) for c in (condlist if isinstance(condlist, list) else [condlist])]
    if len(funclist) == len(conds) + 1:
        conds.append(~np.any(conds, axis=0))
    out = np.zeros_like(x)
    for c, f in zip(conds, funclist):
        out = np.where(c, f(x, *args, **kw) if callable(f) else f, out)
    return out


@implements(np.clip)
def _clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue,
          max=np._NoValue, **kwargs):
    lo = a_min if a_min is not np._NoValue else min
    hi = a_max if a_max is not np._NoValue else max
    if lo is not None and lo is not np._NoValue:
        a = np.maximum(a, lo)
    if hi is not None and hi is not np._NoValue:
        a = np.minimum(a, hi)
    return a


@implements(np.copysign)
def _copysign(x1, x2, /, **kwargs):
    # |x1| with the sign bit of x2: abs's kink convention at x1 == 0, no derivative in x2
    if primal(x1).dtype.kind == "c" or primal(x2).dtype.kind == "c":
        raise TypeError("ufunc 'copysign' not supported for complex input (as NumPy)")
    return np.abs(x1) * np.where(np.signbit(x2), -1.0, 1.0)


@implements(np.divmod)
def _divmod(x1, x2, /, **kwargs):
    return np.floor_divide(x1, x2), np.remainder(x1, x2)


@implements(np.modf)
def _modf(x, /, **kwargs):
    # (x - trunc(x), trunc(x)) with C's signs: -0.0 for negative whole numbers, (+-0, +-inf)
    # at infinities; the fractional part has slope 1, the whole part 0
    whole = np.trunc(x)
    v = primal(x)
    with np.errstate(invalid="ignore"):  # inf - inf, replaced below (NumPy warns not)
        frac = x - whole
        frac = np.where((primal(frac) == 0) & np.signbit(v), -(whole - x), frac)
    return np.where(np.isinf(v), np.copysign(0.0, v), frac), whole


@implements(np.frexp)
def _frexp(x, /, **kwargs):
    # x = m 2**e: the exponent is a discrete result, the mantissa x 2**-e (exact)
    e = discrete(lambda v: np.frexp(v)[1], (x,))
    return np.ldexp(x, -e), e


@implements(np.round, np.around)
def _round(a, decimals=0, out=None):
    scale = 10.0**decimals
    return np.rint(a * scale) / scale


@implements(np.fix)
def _fix(x, out=None):
    return np.trunc(x)


@implements(np.nan_to_num)
def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    if primal(x).dtype.kind == "c":
        raise TypeError("np.nan_to_num of a complex dualdiff array is not supported; apply "
                        "it to np.real(z) and np.imag(z) and combine them")
    big = np.finfo(primal(x).dtype if primal(x).dtype.kind == "f" else float).max
    x = np.where(np.isnan(x), nan, x)
    x = np.where(np.isposinf(x), big if posinf is None else posinf, x)
    return np.where(np.isneginf(x), -big if neginf is None else neginf, x)


@implements(np.sinc)
def _sinc(x):
    return apply_ufunc(np.sinc, (x,))  # a row of the table (exact second order at 0)


@implements(np.interp)
def _interp(x, xp, fp, left=None, right=None, period=None):
    x, xp, fp = operand(x), operand(xp), operand(fp)  # (lists, also of carriers)
    if period is not None:  # (NumPy ignores left and right then)
        x, xp, fp = periodic_knots(x, xp, fp, period)
        left = right = None
    n = np.shape(xp)[0]
    i = np.clip(discrete(np.searchsorted, (xp, x), {"side": "right"}, select=True) - 1,
                0, n - 2)
    x0, x1 = xp[i], xp[i + 1]
    t = (x - x0) / (x1 - x0)
    y = fp[i] * (1.0 - t) + fp[i + 1] * t
    y = np.where(x < xp[0], fp[0] if left is None else left, y)
    return np.where(x > xp[n - 1], fp[n - 1] if right is None else right, y)


@implements(np.i0)
def _i0(x):
    """The modified Bessel function I0, by scipy.special.i0's row (I0' = I1)."""
    return sc.i0(x)


@implements(np.unwrap)
def _unwrap(p, discont=None, axis=-1, *, period=2 * np.pi):
    # the correction is a multiple of the period, piecewise constant: a discrete result
    jump = discrete(lambda v: np.unwrap(v, discont, axis, period=period) - v, (p,))
    return p + jump
