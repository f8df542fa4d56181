"""The one table of element-wise derivative rules.

Every element-wise function gives its first and second derivatives in one row;
every carrier (Dual, HyperDual, the reverse tape, the sparsity tracer) reads the
same row through :mod:`dualdiff.core`, which is the one place that applies it.
A row is written with NumPy calls on its arguments, so it also runs when the
argument is itself a carrier (nested derivatives).

Unary row   ``ufunc: (d1(x, y), d2(x, y, d1))`` with ``y = f(x)``.
Binary row  ``ufunc: ((fx, fy), (fxx, fxy, fyy))``, each a function of
``(x, y, z)`` with ``z = f(x, y)``.

An entry may be a number instead of a function (``1`` and ``0`` let carriers
skip the multiplication; a ``0`` is a structural zero for the sparsity tracer),
:data:`NONDIFF` for an argument that cannot carry a derivative (an integer
exponent, zeta's order), or :data:`KINK` for ``|x|``'s slope (see
:func:`dualdiff.core.kink_sign`: the sign of x, +1 at a kink).
Non-element-wise operations are :mod:`dualdiff.primitives`.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special as sc
from scipy.special._ufuncs import _zeta as zeta  # the ufunc behind zeta(x, q)

NONDIFF = "not differentiable"
#: the slope of |x|: sign(x), resolved by the core where x == 0
KINK = "kink"
LN2 = math.log(2.0)
LN10 = math.log(10.0)
SQRT_2PI = math.sqrt(2.0 * math.pi)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
SQRT2 = math.sqrt(2.0)
PI = math.pi

def _inverse_hypot1(x):
    """1 / sqrt(1 + x^2), as 1 / hypot(1, x) for real x (x^2 overflows past 1e154)."""
    return 1.0 / np.sqrt(1.0 + x * x) if np.iscomplexobj(x) else 1.0 / np.hypot(1.0, x)


def _one_minus_square(x):
    """1 - x^2: as (1 - x)(1 + x) from |x| = 1/2 on (exact near |x| = 1, Sterbenz, where
    x * x rounds) and as 1 - x * x below, whose derivative -2x does not cancel (that of
    (1 - x)(1 + x) is (1 - x) - (1 + x): all of it at |x| = 1e-300)."""
    if isinstance(x, float):  # (Python and NumPy float scalars)
        return 1.0 - x * x if -0.5 < x < 0.5 else (1.0 - x) * (1.0 + x)
    small = np.abs(x) < 0.5
    if np.all(small):
        return 1.0 - x * x
    if not np.any(small):
        return (1.0 - x) * (1.0 + x)
    return np.where(small, 1.0 - x * x, (1.0 - x) * (1.0 + x))


#: below this |x|, sech^2 x = 1 / cosh^2 x (its derivatives neither cancel nor overflow)
_SECH_EXP = 20.0


def _sech2(x):
    """sech^2 x: 1 / cosh^2 x up to |x| = 20, 4 e / (1 + e)^2 with e = exp(-2|x|) beyond
    (the derivative of 1 / cosh^2 taken on carriers divides by cosh^4, which underflows
    the quotient past |x| ~ 177 and overflows past 355; that of the exponential form,
    4 e' (1 - e) / (1 + e)^3 taken term by term, would cancel as e -> 1, i.e. near 0)."""
    if isinstance(x, float):  # (Python and NumPy float scalars)
        if -_SECH_EXP < x < _SECH_EXP:
            c = math.cosh(x)
            return np.float64(1.0 / (c * c))
        e = math.exp(-2.0 * abs(x))
        return np.float64(4.0 * e / ((1.0 + e) * (1.0 + e)))
    if np.iscomplexobj(x):
        c = np.cosh(x)
        return 1.0 / (c * c)
    small = np.abs(x) < _SECH_EXP
    if np.all(small):
        c = np.cosh(x)
        return 1.0 / (c * c)
    e = np.exp(-2.0 * np.abs(np.where(small, _SECH_EXP, x) if np.any(small) else x))
    tail = 4.0 * e / ((1.0 + e) * (1.0 + e))
    if not np.any(small):
        return tail
    c = np.cosh(np.where(small, x, 0.0))
    return np.where(small, 1.0 / (c * c), tail)


def _x_times(x, d):
    """x d, taken as 0 where d == 0: a row's f'' = x f' * ... at x = +-inf, where f' has
    underflowed to 0 (the limit, not inf * 0 = nan)."""
    out = x * d
    if np.any(np.isinf(x)):
        return np.where(d == 0, 0.0, out)
    return out


def _gauss(x, c):
    """exp(-c x^2), with |x| clipped where the value underflows to 0: past 1e154, x * x
    overflows, and its derivative (taken on carriers) with it, to inf * 0 = nan."""
    lim = math.sqrt(750.0 / c)
    big = np.abs(x) >= lim  # (False at nan: nan stays)
    return np.exp(-c * np.square(np.where(big, lim, x) if np.any(big) else x))


def sinpi_cospi(x):
    """(sin(pi x), cos(pi x)) without the rounding of pi * x: x = n + r, |r| <= 1/2.

    >>> [float(v) for v in sinpi_cospi(1e16)]  # pi * 1e16 rounds by ~2
    [0.0, 1.0]
    """
    n = np.round(x)
    r = x - n
    sign = np.where(np.remainder(n, 2.0) != 0, -1.0, 1.0)
    return sign * np.sin(PI * r), sign * np.cos(PI * r)


def mills_rest(u):
    """K(u) - u with K(u) = 1 / (sqrt(pi) erfcx(u)), for u >= 3/2: Laplace's continued
    fraction K = u + (1/2)/(u + 1/(u + (3/2)/(u + ...))) to 100 levels, all terms positive
    (relative truncation error < 1e-17 at u = 3/2, less above), without its leading u: no
    cancellation, and its derivative (taken on carriers) does not cancel either."""
    t = u
    for k in range(100, 1, -1):
        t = u + (0.5 * k) / t
    return 0.5 / t


def mills(u):
    """K(u) = 1 / (sqrt(pi) erfcx(u)) for u >= 3/2 (:func:`mills_rest`)."""
    return u + mills_rest(u)


#: log_ndtr's rows use the Mills ratio from u = -x / sqrt 2 >= 3/2 on; above, the closed
#: forms -d (x + d) and its derivative on carriers cancel by at most a factor 15 (at the
#: seam; 7 at x = -sqrt 2), where the continued fraction converges too slowly
_LOG_NDTR_TAIL = -1.5 * SQRT2


def _log_ndtr_rest(x):
    """K(u) - u for u = -x / sqrt 2 >= 3/2 (elsewhere a placeholder)."""
    tail = x <= _LOG_NDTR_TAIL
    u = np.where(tail, -x / SQRT2, 2.0) if not np.all(tail) else -x / SQRT2
    return mills_rest(u)


def _log_ndtr_d1(x, y):
    """phi(x) / Phi(x): exp(-x^2/2 - log Phi) / sqrt(2 pi) for x > -3/sqrt 2; below, where
    its derivative -x - phi/Phi cancels (and x^2 overflows to nan past |x| ~ 1e154),
    sqrt 2 K(u) with u = -x/sqrt 2, written -x + sqrt 2 (K - u): no cancellation in it or
    in its derivative (taken on carriers)."""
    if np.iscomplexobj(x):
        return np.exp(-0.5 * x * x - y) / SQRT_2PI
    tail = x <= _LOG_NDTR_TAIL
    if not np.any(tail):
        return np.exp(-0.5 * x * x - y) / SQRT_2PI
    t = -x + SQRT2 * _log_ndtr_rest(x)
    if np.all(tail):
        return t
    xb = np.where(tail, 0.0, x)
    return np.where(tail, t, np.exp(-0.5 * xb * xb - np.where(tail, 0.0, y)) / SQRT_2PI)


def _log_ndtr_d2(x, y, d):
    """-d (x + d); in the tail x + d = sqrt 2 (K(u) - u) exactly (no cancellation)."""
    if np.iscomplexobj(x):
        return -d * (x + d)
    tail = x <= _LOG_NDTR_TAIL
    if not np.any(tail):
        return -_x_times(x + d, d)
    return np.where(tail, -d * (SQRT2 * _log_ndtr_rest(x)), -_x_times(x + d, d))


# sinc x = sin(t)/t, t = pi x; below |t| = 1 its derivatives come from the Taylor series
# (the closed forms cancel there), above from (cos t - sinc)/t and the ODE
# t f'' + 2 f' + t f = 0, with sin(pi x), cos(pi x) by exact reduction (pi x rounds by
# more than 1 past x ~ 1e15).  Series coefficients of d/dt and d2/dt2 of sin(t)/t:
_SINC1 = [(-1) ** k * 2 * k / math.factorial(2 * k + 1) for k in range(1, 13)]
_SINC2 = [(-1) ** k * 2 * k * (2 * k - 1) / math.factorial(2 * k + 1) for k in range(1, 13)]


def _series(coeffs, t2):
    acc = 0.0
    for c in reversed(coeffs):
        acc = acc * t2 + c
    return acc


def _sinc_d1(x, y):
    t = np.pi * x
    small = np.abs(t) < 1.0
    ts = np.where(small, 1.0, t)
    xs = np.where(small, 1.0, x)
    _, c = sinpi_cospi(xs)
    return np.pi * np.where(small, t * _series(_SINC1, t * t), (c - y) / ts)


def _sinc_d2(x, y, d):
    t = np.pi * x
    small = np.abs(t) < 1.0
    ts = np.where(small, 1.0, t)
    s, _ = sinpi_cospi(np.where(small, 1.0, x))
    return np.pi**2 * np.where(small, _series(_SINC2, t * t), -2.0 * (d / np.pi) / ts - s / ts)


UNARY = {
    np.negative: (-1.0, 0.0),
    np.positive: (1.0, 0.0),
    np.conjugate: (1.0, 0.0),
    np.square: (lambda x, y: 2.0 * x, 2.0),
    # (y + 0.0: sqrt(-0.0) = -0.0, and f' there is +inf; f'' = -x**-1.5 / 4 = -2 f'^3)
    np.sqrt: (lambda x, y: 0.5 / (y + 0.0), lambda x, y, d: -2.0 * d * d * d),
    np.cbrt: (lambda x, y: 1.0 / (3.0 * y * y), lambda x, y, d: -2.0 * d / (3.0 * x)),
    np.reciprocal: (lambda x, y: -y * y, lambda x, y, d: 2.0 * y * y * y),
    np.exp: (lambda x, y: y, lambda x, y, d: y),
    np.exp2: (lambda x, y: LN2 * y, lambda x, y, d: LN2 * d),
    np.expm1: (lambda x, y: np.exp(x), lambda x, y, d: d),  # y + 1 cancels for x < -37
    np.log: (lambda x, y: 1.0 / x, lambda x, y, d: -d * d),
    np.log2: (lambda x, y: 1.0 / (LN2 * x), lambda x, y, d: -d / x),
    np.log10: (lambda x, y: 1.0 / (LN10 * x), lambda x, y, d: -d / x),
    np.log1p: (lambda x, y: 1.0 / (1.0 + x), lambda x, y, d: -d * d),
    np.sin: (lambda x, y: np.cos(x), lambda x, y, d: -y),
    np.cos: (lambda x, y: -np.sin(x), lambda x, y, d: -y),
    np.tan: (lambda x, y: 1.0 + y * y, lambda x, y, d: 2.0 * y * d),
    np.arcsin: (lambda x, y: 1.0 / np.sqrt(_one_minus_square(x)), lambda x, y, d: x * d**3),
    np.arccos: (lambda x, y: -1.0 / np.sqrt(_one_minus_square(x)), lambda x, y, d: x * d**3),
    # products ordered so that no partial product overflows where the result does not
    np.arctan: (lambda x, y: _inverse_hypot1(x) ** 2, lambda x, y, d: -2.0 * _x_times(x, d) * d),
    np.sinh: (lambda x, y: np.cosh(x), lambda x, y, d: y),
    np.cosh: (lambda x, y: np.sinh(x), lambda x, y, d: y),
    # sech^2, not 1 - y^2 (cancels where tanh saturates)
    np.tanh: (lambda x, y: _sech2(x), lambda x, y, d: -2.0 * y * d),
    np.arcsinh: (lambda x, y: _inverse_hypot1(x), lambda x, y, d: -(x * d) * (d * d)),
    np.arccosh: (lambda x, y: 1.0 / (np.sqrt(x - 1.0) * np.sqrt(x + 1.0)),
                 lambda x, y, d: -(x * d) * (d * d)),
    np.arctanh: (lambda x, y: 1.0 / _one_minus_square(x), lambda x, y, d: 2.0 * x * d * d),
    np.deg2rad: (math.pi / 180.0, 0.0),
    np.radians: (math.pi / 180.0, 0.0),
    np.rad2deg: (180.0 / math.pi, 0.0),
    np.degrees: (180.0 / math.pi, 0.0),
    np.absolute: (KINK, 0.0),
    np.fabs: (KINK, 0.0),
    # expit' = sech^2(x/2) / 4; expit'' = -expit' tanh(x / 2) (1 - 2 expit(x) cancels near 0)
    sc.expit: (lambda x, y: 0.25 * _sech2(0.5 * x),
               lambda x, y, d: -d * np.tanh(0.5 * x)),
    sc.logit: (lambda x, y: 1.0 / (x * (1.0 - x)), lambda x, y, d: (2.0 * x - 1.0) * d * d),
    sc.erf: (lambda x, y: TWO_OVER_SQRT_PI * _gauss(x, 1.0),
             lambda x, y, d: -2.0 * _x_times(x, d)),
    sc.erfc: (lambda x, y: -TWO_OVER_SQRT_PI * _gauss(x, 1.0),
              lambda x, y, d: -2.0 * _x_times(x, d)),
    sc.ndtr: (lambda x, y: _gauss(x, 0.5) / SQRT_2PI, lambda x, y, d: -_x_times(x, d)),
    sc.log_ndtr: (_log_ndtr_d1, _log_ndtr_d2),
    sc.gammaln: (lambda x, y: sc.digamma(x), lambda x, y, d: zeta(2.0, x)),
    sc.digamma: (lambda x, y: zeta(2.0, x), lambda x, y, d: -2.0 * zeta(3.0, x)),
    sc.gamma: (lambda x, y: y * sc.digamma(x),
               lambda x, y, d: d * sc.digamma(x) + y * zeta(2.0, x)),
    np.sinc: (_sinc_d1, _sinc_d2),  # a Python function in NumPy, applied like a ufunc
}

def _pow_shift(x, y, k: float):
    """x**(y - k) with the rounding of y - k accounted for: y - k = e + r exactly (TwoSum),
    x**(y - k) = x**e (1 + r log x) (|r log x| < 1e-13); x**e alone is off by |log x| ulps
    (160 at x = 1e-300, y = -1e-8)."""
    e = y - k
    bb = e - y
    r = (y - (e - bb)) + (-k - bb)
    if (r == 0) if isinstance(r, float) else not np.any(r != 0):
        return x ** e
    # |y| >= 2**53: r is a whole number and x**r is exact (also for x < 0); where x**e is
    # already 0 or inf, x**r changes only the sign.  (r is NaN at y = +-inf: no correction)
    p = x ** e
    r = np.where(np.isfinite(r), r, 0.0)
    whole = np.abs(r) >= 1.0
    fix = np.where(r == 0, 1.0, 1.0 + r * np.log(np.where(x == 0, 1.0, np.abs(x))))
    if not np.any(whole):
        return p * fix
    rw = np.where(whole, r, 0.0)
    fix = np.where(whole, x ** rw, fix)
    sign = np.where((x < 0) & (np.remainder(rw, 2.0) != 0), -1.0, 1.0)
    return np.where((p == 0) | np.isinf(p), p * sign, p * fix)


def _pow_dx(x, y, z):
    # y x**(y-1), taken as 0 where y == 0 == x (x**0 is constant; 0 * 0**-1 would be nan);
    # (y / x) x**y where x**(y-1) overflows but the product may not (1 / a subnormal)
    if isinstance(y, (int, float, np.integer)):  # a constant exponent: the common x**2
        if y == 2:
            return 2.0 * x  # = 2 x**1.0, bit for bit
        if y == 0:
            return 0.0
        e = y - 1.0
        bb = e - y
        if (y - (e - bb)) + (-1.0 - bb) == 0:  # y - 1 is exact (TwoSum's error is 0)
            return y * x ** e
        return y * _pow_shift(x, y, 1.0)
    d = y * _pow_shift(x, y, 1.0)
    over = ~np.isfinite(d) & (x != 0) & np.isfinite(z)
    if np.any(over):
        xs, ys, zs = (np.where(over, v, w) for v, w in ((x, 1.0), (y, 0.0), (z, 0.0)))
        d = np.where(over, (ys / xs) * zs, d)
    zero = (y == 0) & (x == 0)
    return np.where(zero, 0.0, d) if np.any(zero) else d


def _pow_dy(x, y, z):
    # d/dy x**y = x**y log x, taken as 0 where x == 0 (0**y is flat in y for y > 0).
    return np.where(x == 0, 0.0, z * np.log(np.where(x == 0, 1.0, x)))


def _pow_dxx(x, y, z):
    # y (y - 1) x**(y-2): the three factors multiplied in the first order that neither
    # over- nor underflows where the result does not ((y x**(y-2)) (y - 1), then
    # (y (y - 1)) x**(y-2), then f_x ((y - 1) / x))
    c = y * (y - 1.0)
    out = (y * _pow_shift(x, y, 2.0)) * (y - 1.0)
    bad = ~np.isfinite(out) | (out == 0)
    if np.any(bad & (c != 0)):
        for alt in (c * _pow_shift(x, y, 2.0),
                    _pow_dx(x, y, z) * ((y - 1.0) / np.where(x == 0, 1.0, x))):
            better = bad & np.isfinite(alt) & (alt != 0) & (x != 0)
            out = np.where(better, alt, out)
            bad = bad & ~better
    # 0 only where c x**(y-2) is 0 * inf: elsewhere a finite 0 whose own derivative
    # (in y) a nested pass needs (forward-over-reverse Hessians of x**y at y = 0 or 1)
    zero = (c == 0) & ((x == 0) | ~np.isfinite(out))
    return np.where(zero, 0.0, out) if np.any(zero) else out


def _pow_dxy(x, y, z):
    # x**(y-1) (1 + y log x); where y log x overflows (and the power underflows),
    # x**(y-1) + f_x log x
    lx = np.log(np.where(x == 0, 1.0, x))
    w = 1.0 + y * lx
    p = _pow_shift(x, y, 1.0)
    out = p * w
    inf = np.isinf(w)
    if np.any(inf):
        out = np.where(inf, p + _pow_dx(x, y, z) * lx, out)
    return out


def _pow_dyy(x, y, z):
    lx = np.log(np.where(x == 0, 1.0, x))
    return np.where(x == 0, 0.0, z * lx * lx)


_POWER = ((_pow_dx, _pow_dy), (_pow_dxx, _pow_dxy, _pow_dyy))
_ZERO2 = ((0.0, 0.0), (0.0, 0.0, 0.0))


def _first(pick, nan: bool = True):
    """Partials of a selector (maximum, minimum, ...) that takes x where ``pick``; with
    ``nan``, both are nan where the result is (NaN propagates: no finite slope there)."""
    def fx(x, y, z):
        p = np.asarray(pick(x, y), dtype=float)
        if nan:
            miss = np.isnan(z)
            if np.any(miss):
                return np.where(miss, np.nan, p)
        return p

    def fy(x, y, z):
        return 1.0 - fx(x, y, z)

    return ((fx, fy), (0.0, 0.0, 0.0))


def _at0(num, z, p):
    """num / z**p, taken as 0 where z == 0."""
    zero = z == 0
    if not np.any(zero):
        return num / z**p
    return np.where(zero, 0.0, num / np.where(zero, 1.0, z) ** p)


def _share(u):
    """expit(u) = 1/(1 + e**-u) from an exponential <= 1 on either side (complex-capable,
    and its derivative on carriers cancels by at most a factor 2); exp(x - logaddexp(x, y))
    would give 1 - 1e-14 at x - y = 30, whose derivative then cancels."""
    neg = np.real(u) < 0
    e = np.exp(np.where(neg, u, -u))
    return np.where(neg, e / (1.0 + e), 1.0 / (1.0 + e))


#: powers of two that bring max(|x|, |y|) into [2^-174, 2^150], by the range it is in
_SCALES = ((2.0**750, 2.0**-900), (2.0**450, 2.0**-600), (2.0**150, 2.0**-300),
           (2.0**-150, 1.0), (2.0**-450, 2.0**300), (2.0**-750, 2.0**600), (0.0, 2.0**900))


def _scaled(x, y):
    """(c, c x, c y, hypot(c x, c y)) with c a power of two that brings max(|x|, |y|) into
    [2^-174, 2^150] (exact and piecewise constant: no derivative), so that powers of h up
    to h^-3 (the derivatives of a / h^2 taken on carriers) neither over- nor underflow
    where the result does not: hypot(x, y) overflows from 1.3e308 on, 1 / h from h < 5e-309."""
    ax, ay = np.abs(x), np.abs(y)
    lo, hi = _SCALES[3][0], _SCALES[2][0]
    out = (ax > hi) | (ay > hi) | ((ax < lo) & (ay < lo))
    if not np.any(out):
        return 1.0, x, y, np.hypot(x, y)
    m = np.maximum(ax, ay)
    c = np.select([m > t for t, _ in _SCALES[:-1]], [c for _, c in _SCALES[:-1]],
                  _SCALES[-1][1])
    x, y = x * c, y * c
    return c, x, y, np.hypot(x, y)


def _unit(a, b):
    """a / hypot(a, b): sign(a) / hypot(1, b/a) where |a| >= |b|, else (a/|b|) / hypot(1,
    a/b) -- forms whose derivatives (taken on carriers: b^2 / h^3, -ab / h^3) do not cancel
    as those of a / h do (1/h - a^2/h^3 loses the digits of b^2 / h^2); 0 at the origin."""
    if np.iscomplexobj(a) or np.iscomplexobj(b):  # the analytic continuation
        return a / np.sqrt(a * a + b * b)
    aa, ab = np.abs(a), np.abs(b)
    big = aa >= ab
    zero = (aa == 0) & (ab == 0)
    if np.all(big) and not np.any(zero):
        return np.sign(a) / np.hypot(1.0, b / a)
    a1 = np.where(big & ~zero, a, 1.0)
    b2 = np.where(big, 1.0, b)
    return np.where(zero, 0.0, np.where(big, np.sign(a) / np.hypot(1.0, b / a1),
                                        (a / np.abs(b2)) / np.hypot(1.0, a / b2)))


def _over_h(which, x, y):
    """Partials of arctan2(x, y) and hypot(x, y) with the powers of h = hypot(x, y) taken
    on scaled arguments (:func:`_scaled`); hypot's are 0 at the origin, arctan2's nan.
    which: "atan_x", "atan_y" (y / h^2, -x / h^2), "atan_xx", "atan_xy", "atan_yy" (-2xy,
    x^2 - y^2, 2xy over h^4), "hyp_xx", "hyp_xy", "hyp_yy" (y^2, -xy, x^2 over h^3)."""
    c, xs, ys, h = _scaled(x, y)
    zero = (h == 0) & which.startswith("hyp")  # (arctan2 jumps at the origin: nan there)
    hs = np.where(zero, 1.0, h) if np.any(zero) else h
    ux, uy = _unit(x, y), _unit(y, x)
    if which == "atan_x":
        out = (uy / hs) * c
    elif which == "atan_y":
        out = -(ux / hs) * c
    elif which.startswith("atan"):
        q = {"atan_xx": -2.0 * ux * uy, "atan_xy": (ux - uy) * (ux + uy),
             "atan_yy": 2.0 * ux * uy}[which]
        out = ((q / hs) * c / hs) * c
    else:
        q = {"hyp_xx": uy * uy, "hyp_xy": -ux * uy, "hyp_yy": ux * ux}[which]
        out = (q / hs) * c
    return np.where(zero, 0.0, out) if np.any(zero) else out


def _piece(x, y, z):
    """The integer quotient of the piece NumPy's remainder/fmod value z lies on,
    (x - z) / y rounded (floor(x / y) of the rounded quotient can be the next piece)."""
    return np.round((x - z) / y)


BINARY = {
    np.add: ((1.0, 1.0), (0.0, 0.0, 0.0)),
    np.subtract: ((1.0, -1.0), (0.0, 0.0, 0.0)),
    np.multiply: ((lambda x, y, z: y, lambda x, y, z: x), (0.0, 1.0, 0.0)),
    np.divide: (  # (divided by y twice: y * y underflows for |y| < 1e-162)
        (lambda x, y, z: 1.0 / y, lambda x, y, z: -z / y),
        (0.0, lambda x, y, z: -(1.0 / y) / y, lambda x, y, z: 2.0 * (z / y) / y),
    ),
    np.power: _POWER,
    np.float_power: _POWER,
    # arctan2(x, y) = angle of (y, x): partials y / h^2, -x / h^2 with h = hypot(x, y),
    # written with x / h and y / h so that h^2 never overflows
    np.arctan2: (
        (lambda x, y, z: _over_h("atan_x", x, y), lambda x, y, z: _over_h("atan_y", x, y)),
        (lambda x, y, z: _over_h("atan_xx", x, y), lambda x, y, z: _over_h("atan_xy", x, y),
         lambda x, y, z: _over_h("atan_yy", x, y)),
    ),
    # hypot at (0, 0) is a norm at 0: every partial is taken as 0 (as np.linalg.norm)
    np.hypot: (
        (lambda x, y, z: _unit(x, y), lambda x, y, z: _unit(y, x)),
        (lambda x, y, z: _over_h("hyp_xx", x, y), lambda x, y, z: _over_h("hyp_xy", x, y),
         lambda x, y, z: _over_h("hyp_yy", x, y)),
    ),
    # Ties go to the first argument.
    np.maximum: _first(lambda x, y: x >= y),
    np.minimum: _first(lambda x, y: x <= y),
    np.fmax: _first(lambda x, y: (x >= y) | np.isnan(y), nan=False),
    np.fmin: _first(lambda x, y: (x <= y) | np.isnan(y), nan=False),
    # (np.copysign is |x| * sign-of-y in dualdiff.functions, so it shares abs's kink rule)
    np.remainder: ((1.0, lambda x, y, z: -_piece(x, y, z)), (0.0, 0.0, 0.0)),
    np.fmod: ((1.0, lambda x, y, z: -_piece(x, y, z)), (0.0, 0.0, 0.0)),
    np.logaddexp: (  # f_x = expit(x - y): its own derivative (nesting) does not cancel
        (lambda x, y, z: _share(x - y), lambda x, y, z: _share(y - x)),
        # e^(x-z) e^(y-z) = s (1 - s) = sech^2((x - y)/2) / 4 (x - z cancels when z rounds)
        (
            lambda x, y, z: 0.25 * _sech2(0.5 * (x - y)),
            lambda x, y, z: -0.25 * _sech2(0.5 * (x - y)),
            lambda x, y, z: 0.25 * _sech2(0.5 * (x - y)),
        ),
    ),
    np.logaddexp2: (
        (lambda x, y, z: _share(LN2 * (x - y)), lambda x, y, z: _share(LN2 * (y - x))),
        (
            lambda x, y, z: 0.25 * LN2 * _sech2(0.5 * LN2 * (x - y)),
            lambda x, y, z: -0.25 * LN2 * _sech2(0.5 * LN2 * (x - y)),
            lambda x, y, z: 0.25 * LN2 * _sech2(0.5 * LN2 * (x - y)),
        ),
    ),
    np.ldexp: ((lambda x, y, z: np.exp2(y), NONDIFF), (0.0, 0.0, 0.0)),
    np.heaviside: _ZERO2,
    np.floor_divide: _ZERO2,
    sc.xlogy: (
        (lambda x, y, z: np.log(y), lambda x, y, z: x / y),
        (0.0, lambda x, y, z: 1.0 / y, lambda x, y, z: -(x / y) / y),
    ),
    sc.xlog1py: (
        (lambda x, y, z: np.log1p(y), lambda x, y, z: x / (1.0 + y)),
        (0.0, lambda x, y, z: 1.0 / (1.0 + y), lambda x, y, z: -(x / (1.0 + y)) / (1.0 + y)),
    ),
    zeta: (
        (NONDIFF, lambda s, q, z: -s * zeta(s + 1.0, q)),
        (0.0, 0.0, lambda s, q, z: s * (s + 1.0) * zeta(s + 2.0, q)),
    ),
}
BINARY[np.true_divide] = BINARY[np.divide]

# Piecewise-constant float functions: derivative zero almost everywhere.
PIECEWISE_CONSTANT = {np.sign, np.floor, np.ceil, np.trunc, np.rint, np.spacing}

# Ufuncs whose output is boolean: computed from the values, a discrete result (no derivative).
DISCRETE_UFUNCS = {
    np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
    np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
    np.isnan, np.isinf, np.isfinite, np.signbit, np.isnat,
}
