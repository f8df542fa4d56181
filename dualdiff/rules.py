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

def _inverse_hypot1(x):
    """1 / sqrt(1 + x^2), as 1 / hypot(1, x) for real x (x^2 overflows past 1e154)."""
    return 1.0 / np.sqrt(1.0 + x * x) if np.iscomplexobj(x) else 1.0 / np.hypot(1.0, x)


def _sech2(x):
    """sech^2 x, as 4 e / (1 + e)^2 with e = exp(-2|x|) <= 1 for real x (1/cosh^2 overflows
    inside nested derivatives past |x| = 355; complex x: the analytic 1/cosh^2)."""
    if np.iscomplexobj(x):
        return 1.0 / np.cosh(x) ** 2
    e = np.exp(-2.0 * np.abs(x))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


def _arccosh_d1(x, y):
    """1 / sqrt(x^2 - 1); for complex x NumPy's branch, 1 / (sqrt(x - 1) sqrt(x + 1))
    (arccosh z = log(z + sqrt(z + 1) sqrt(z - 1)), which differs from the principal
    sqrt(z^2 - 1) where Re z < 0)."""
    if np.iscomplexobj(x):
        return 1.0 / (np.sqrt(x - 1.0) * np.sqrt(x + 1.0))
    return 1.0 / np.sqrt((x - 1.0) * (x + 1.0))


# sinc x = sin(t)/t, t = pi x; below |t| = 1 its derivatives come from the Taylor series
# (the closed forms cancel there), above from (cos t - sinc)/t and the ODE
# t f'' + 2 f' + t f = 0.  Series coefficients of d/dt and d2/dt2 of sin(t)/t:
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
    return np.pi * np.where(small, t * _series(_SINC1, t * t), (np.cos(ts) - y) / ts)


def _sinc_d2(x, y, d):
    t = np.pi * x
    small = np.abs(t) < 1.0
    ts = np.where(small, 1.0, t)
    return np.pi**2 * np.where(small, _series(_SINC2, t * t), -2.0 * (d / np.pi) / ts - y)


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
    # 1 - x^2 as (1 - x)(1 + x): exact near |x| = 1 (Sterbenz), where x * x rounds
    np.arcsin: (lambda x, y: 1.0 / np.sqrt((1.0 - x) * (1.0 + x)), lambda x, y, d: x * d**3),
    np.arccos: (lambda x, y: -1.0 / np.sqrt((1.0 - x) * (1.0 + x)), lambda x, y, d: x * d**3),
    np.arctan: (lambda x, y: _inverse_hypot1(x) ** 2, lambda x, y, d: -2.0 * x * d * d),
    np.sinh: (lambda x, y: np.cosh(x), lambda x, y, d: y),
    np.cosh: (lambda x, y: np.sinh(x), lambda x, y, d: y),
    # sech^2, not 1 - y^2 (cancels where tanh saturates)
    np.tanh: (lambda x, y: _sech2(x), lambda x, y, d: -2.0 * y * d),
    np.arcsinh: (lambda x, y: _inverse_hypot1(x), lambda x, y, d: -x * d**3),
    np.arccosh: (_arccosh_d1, lambda x, y, d: -x * d**3),
    np.arctanh: (lambda x, y: 1.0 / ((1.0 - x) * (1.0 + x)), lambda x, y, d: 2.0 * x * d * d),
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
    sc.erf: (lambda x, y: TWO_OVER_SQRT_PI * np.exp(-x * x), lambda x, y, d: -2.0 * x * d),
    sc.erfc: (lambda x, y: -TWO_OVER_SQRT_PI * np.exp(-x * x), lambda x, y, d: -2.0 * x * d),
    sc.ndtr: (lambda x, y: np.exp(-0.5 * x * x) / SQRT_2PI, lambda x, y, d: -x * d),
    sc.log_ndtr: (lambda x, y: np.exp(-0.5 * x * x - y) / SQRT_2PI, lambda x, y, d: -d * (x + d)),
    sc.gammaln: (lambda x, y: sc.digamma(x), lambda x, y, d: zeta(2.0, x)),
    sc.digamma: (lambda x, y: zeta(2.0, x), lambda x, y, d: -2.0 * zeta(3.0, x)),
    sc.gamma: (lambda x, y: y * sc.digamma(x),
               lambda x, y, d: d * sc.digamma(x) + y * zeta(2.0, x)),
    np.sinc: (_sinc_d1, _sinc_d2),  # a Python function in NumPy, applied like a ufunc
}

def _pow_dx(x, y, z):
    # y x**(y-1), taken as 0 where y == 0 and x == 0 (x**0 is constant; 0 * 0**-1 would be
    # nan).  Only there: where x != 0 the product is a finite 0 whose own derivative (in
    # y: x**(y-1)) a nested pass needs (forward-over-reverse Hessians of x**y at y = 0)
    if isinstance(y, (int, float, np.integer)):  # a constant exponent: the common x**2
        return y * x ** (y - 1.0) if y != 0 else 0.0
    d = y * x ** (y - 1.0)
    zero = (y == 0) & (x == 0)
    return np.where(zero, 0.0, d) if np.any(zero) else d


def _pow_dy(x, y, z):
    # d/dy x**y = x**y log x, taken as 0 where x == 0 (0**y is flat in y for y > 0).
    return np.where(x == 0, 0.0, z * np.log(np.where(x == 0, 1.0, x)))


def _pow_dxx(x, y, z):
    c = y * (y - 1.0)
    zero = (c == 0) & (x == 0)  # as _pow_dx: only where c x**(y-2) would be 0 * inf
    return np.where(zero, 0.0, c * x ** (y - 2.0)) if np.any(zero) else c * x ** (y - 2.0)


def _pow_dxy(x, y, z):
    return x ** (y - 1.0) * (1.0 + y * np.log(np.where(x == 0, 1.0, x)))


def _pow_dyy(x, y, z):
    lx = np.log(np.where(x == 0, 1.0, x))
    return np.where(x == 0, 0.0, z * lx * lx)


_POWER = ((_pow_dx, _pow_dy), (_pow_dxx, _pow_dxy, _pow_dyy))
_ZERO2 = ((0.0, 0.0), (0.0, 0.0, 0.0))


def _first(pick):
    """Partials of a selector (maximum, minimum, ...) that takes x where ``pick``."""
    def fx(x, y, z):
        return np.asarray(pick(x, y), dtype=float)

    def fy(x, y, z):
        return 1.0 - np.asarray(pick(x, y), dtype=float)

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
    np.fmax: _first(lambda x, y: (x >= y) | np.isnan(y)),
    np.fmin: _first(lambda x, y: (x <= y) | np.isnan(y)),
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
