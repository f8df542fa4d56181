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
    small = np.abs(x) < 0.5
    if np.all(small):
        return 1.0 - x * x
    if not np.any(small):
        return (1.0 - x) * (1.0 + x)
    return np.where(small, 1.0 - x * x, (1.0 - x) * (1.0 + x))


def _sech2(x):
    """sech^2 x: 1 / cosh^2 x below |x| = 1, 4 e / (1 + e)^2 with e = exp(-2|x|) <= 1 above
    (1/cosh^2 overflows inside nested derivatives past |x| = 355; the derivative of the
    exponential form, 4 e' (1 - e) / (1 + e)^3 taken term by term, cancels as e -> 1)."""
    if np.iscomplexobj(x):
        return 1.0 / np.cosh(x) ** 2
    small = np.abs(x) < 1.0
    if np.all(small):
        return 1.0 / np.cosh(x) ** 2
    e = np.exp(-2.0 * np.abs(np.where(small, 1.0, x) if np.any(small) else x))
    tail = 4.0 * e / ((1.0 + e) * (1.0 + e))
    if not np.any(small):
        return tail
    return np.where(small, 1.0 / np.cosh(np.where(small, x, 0.0)) ** 2, tail)


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
        return -d * (x + d)
    return np.where(tail, -d * (SQRT2 * _log_ndtr_rest(x)), -d * (x + d))


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
    np.sqrt: (lambda x, y: 0.5 / y, lambda x, y, d: -0.5 * d / x),
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
    np.arctan: (lambda x, y: _inverse_hypot1(x) ** 2, lambda x, y, d: -2.0 * (x * d) * d),
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
    sc.erf: (lambda x, y: TWO_OVER_SQRT_PI * _gauss(x, 1.0), lambda x, y, d: -2.0 * (x * d)),
    sc.erfc: (lambda x, y: -TWO_OVER_SQRT_PI * _gauss(x, 1.0), lambda x, y, d: -2.0 * (x * d)),
    sc.ndtr: (lambda x, y: _gauss(x, 0.5) / SQRT_2PI, lambda x, y, d: -x * d),
    sc.log_ndtr: (_log_ndtr_d1, _log_ndtr_d2),
    sc.gammaln: (lambda x, y: sc.digamma(x), lambda x, y, d: zeta(2.0, x)),
    sc.digamma: (lambda x, y: zeta(2.0, x), lambda x, y, d: -2.0 * zeta(3.0, x)),
    sc.gamma: (lambda x, y: y * sc.digamma(x),
               lambda x, y, d: d * sc.digamma(x) + y * zeta(2.0, x)),
    np.sinc: (_sinc_d1, _sinc_d2),  # a Python function in NumPy, applied like a ufunc
}

def _pow_dx(x, y, z):
    # y x**(y-1), taken as 0 where y == 0 (x**0 is constant; 0 * 0**-1 would be nan)
    if isinstance(y, (int, float, np.integer)):  # a constant exponent: the common x**2
        return y * x ** (y - 1.0) if y != 0 else 0.0
    d = y * x ** (y - 1.0)
    return np.where(y == 0, 0.0, d) if np.any(y == 0) else d


def _pow_dy(x, y, z):
    # d/dy x**y = x**y log x, taken as 0 where x == 0 (0**y is flat in y for y > 0).
    return np.where(x == 0, 0.0, z * np.log(np.where(x == 0, 1.0, x)))


def _pow_dxx(x, y, z):
    c = y * (y - 1.0)
    return np.where(c == 0, 0.0, c * x ** (y - 2.0))


def _pow_dxy(x, y, z):
    return x ** (y - 1.0) * (1.0 + y * np.log(np.where(x == 0, 1.0, x)))


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


def _unit(a, x, y):
    """a / hypot(x, y) (a one of x, y): a component of the unit vector, never overflowing
    (0 at the origin)."""
    h = np.hypot(x, y)
    return a / np.where(h == 0, 1.0, h)


BINARY = {
    np.add: ((1.0, 1.0), (0.0, 0.0, 0.0)),
    np.subtract: ((1.0, -1.0), (0.0, 0.0, 0.0)),
    np.multiply: ((lambda x, y, z: y, lambda x, y, z: x), (0.0, 1.0, 0.0)),
    np.divide: (
        (lambda x, y, z: 1.0 / y, lambda x, y, z: -z / y),
        (0.0, lambda x, y, z: -1.0 / (y * y), lambda x, y, z: 2.0 * z / (y * y)),
    ),
    np.power: _POWER,
    np.float_power: _POWER,
    # arctan2(x, y) = angle of (y, x): partials y / h^2, -x / h^2 with h = hypot(x, y),
    # written with x / h and y / h so that h^2 never overflows
    np.arctan2: (
        (lambda x, y, z: _unit(y, x, y) / np.hypot(x, y),
         lambda x, y, z: -_unit(x, x, y) / np.hypot(x, y)),
        (
            lambda x, y, z: -2.0 * _unit(x, x, y) * _unit(y, x, y) / np.hypot(x, y) ** 2,
            lambda x, y, z: (_unit(x, x, y) - _unit(y, x, y)) * (_unit(x, x, y) + _unit(y, x, y))
            / np.hypot(x, y) ** 2,
            lambda x, y, z: 2.0 * _unit(x, x, y) * _unit(y, x, y) / np.hypot(x, y) ** 2,
        ),
    ),
    # hypot at (0, 0) is a norm at 0: every partial is taken as 0 (as np.linalg.norm)
    np.hypot: (
        (lambda x, y, z: _at0(x, z, 1), lambda x, y, z: _at0(y, z, 1)),
        (lambda x, y, z: _at0(_unit(y, x, y) ** 2, z, 1),
         lambda x, y, z: _at0(-_unit(x, x, y) * _unit(y, x, y), z, 1),
         lambda x, y, z: _at0(_unit(x, x, y) ** 2, z, 1)),
    ),
    # Ties go to the first argument.
    np.maximum: _first(lambda x, y: x >= y),
    np.minimum: _first(lambda x, y: x <= y),
    np.fmax: _first(lambda x, y: (x >= y) | np.isnan(y), nan=False),
    np.fmin: _first(lambda x, y: (x <= y) | np.isnan(y), nan=False),
    # (np.copysign is |x| * sign-of-y in dualdiff.functions, so it shares abs's kink rule)
    np.remainder: ((1.0, lambda x, y, z: -np.floor(x / y)), (0.0, 0.0, 0.0)),
    np.fmod: ((1.0, lambda x, y, z: -np.trunc(x / y)), (0.0, 0.0, 0.0)),
    np.logaddexp: (  # f_x = expit(x - y): its own derivative (nesting) does not cancel
        (lambda x, y, z: _share(x - y), lambda x, y, z: _share(y - x)),
        (
            lambda x, y, z: np.exp(x - z) * np.exp(y - z),
            lambda x, y, z: -np.exp(x - z) * np.exp(y - z),
            lambda x, y, z: np.exp(x - z) * np.exp(y - z),
        ),
    ),
    np.logaddexp2: (
        (lambda x, y, z: _share(LN2 * (x - y)), lambda x, y, z: _share(LN2 * (y - x))),
        (
            lambda x, y, z: LN2 * np.exp2(x - z) * np.exp2(y - z),
            lambda x, y, z: -LN2 * np.exp2(x - z) * np.exp2(y - z),
            lambda x, y, z: LN2 * np.exp2(x - z) * np.exp2(y - z),
        ),
    ),
    np.ldexp: ((lambda x, y, z: np.exp2(y), NONDIFF), (0.0, 0.0, 0.0)),
    np.heaviside: _ZERO2,
    np.floor_divide: _ZERO2,
    sc.xlogy: (
        (lambda x, y, z: np.log(y), lambda x, y, z: x / y),
        (0.0, lambda x, y, z: 1.0 / y, lambda x, y, z: -x / (y * y)),
    ),
    sc.xlog1py: (
        (lambda x, y, z: np.log1p(y), lambda x, y, z: x / (1.0 + y)),
        (0.0, lambda x, y, z: 1.0 / (1.0 + y), lambda x, y, z: -x / ((1.0 + y) * (1.0 + y))),
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
