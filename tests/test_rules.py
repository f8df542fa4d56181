"""Every element-wise row of dualdiff.rules against references that share no code with it.

References:
* first derivatives: the complex-step derivative ``imag(F(x + ih)) / h`` (h = 1e-200), where F
  is a complex-analytic continuation of f near x written here with plain NumPy (for |x| that is
  x or -x on either side of 0, for maximum the branch that is picked, ...), exact to rounding;
  plus hand-derived formulas written independently of rules.py (other algebraic forms).
* second derivatives: the complex step of the row's own first derivative (validated above)
  evaluated on complex arguments, and hand formulas; for zeta a central difference.
Points are drawn inside each function's domain and away from kinks; shapes (0-d included,
broadcasting between operands of different rank) are drawn by hypothesis.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sc
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import (
    BroadcastableShapes,
    array_shapes,
    mutually_broadcastable_shapes,
)

import dualdiff as dd
from dualdiff import Dual, core, rules, rules_special, user_rules
from dualdiff.rules import zeta

H = 1e-200
RTOL = 1e-12  # complex step and closed forms are exact to a few ulps
PI = math.pi
SQPI = math.sqrt(PI)
SQ2PI = math.sqrt(2 * PI)
LN2, LN10 = math.log(2.0), math.log(10.0)


def cs(F, x, *args):
    """Complex-step derivative of F in its first argument."""
    return np.imag(F(np.asarray(x) + 1j * H, *args)) / H


def close(a, b, rtol=RTOL, atol=1e-12):
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * max(1.0, float(np.max(np.abs(b),
                                                                               initial=0.0))))


def away(lo, hi, gap=0.0):
    """Sampler on [lo, hi] that avoids (-gap, gap)."""
    def draw(rng, shape):
        x = rng.uniform(lo, hi, shape)
        return np.where(np.abs(x) < gap, np.where(x < 0, -gap, gap), x)

    return draw


def _re(x):
    return np.real(x)


def _cbrt_c(x):  # analytic continuation of cbrt near a non-zero real point
    return np.where(_re(x) > 0, (x + 0j) ** (1 / 3), -((-x + 0j) ** (1 / 3)))


def _abs_c(x):
    return np.where(_re(x) > 0, x, -x)


def _expit_c(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit_c(x):
    return np.log(x / (1.0 - x))


def _sinc_c(x):
    return np.sin(PI * x) / (PI * x)


def _phi(x):
    return np.exp(-0.5 * x * x) / SQ2PI


# ufunc: (sampler, complex continuation F (or None), hand f', hand f'')
UNARY = {
    np.negative: (away(-3, 3), np.negative, lambda x: -1.0, lambda x: 0.0),
    np.positive: (away(-3, 3), np.positive, lambda x: 1.0, lambda x: 0.0),
    np.conjugate: (away(-3, 3), None, lambda x: 1.0, lambda x: 0.0),  # conj is not analytic
    np.square: (away(-3, 3), np.square, lambda x: 2 * x, lambda x: 2.0),
    np.sqrt: (away(0.05, 5), np.sqrt, lambda x: 0.5 * x**-0.5, lambda x: -0.25 * x**-1.5),
    np.cbrt: (away(-5, 5, 0.05), _cbrt_c, lambda x: np.abs(x) ** (-2 / 3) / 3,
              lambda x: -2 / 9 * np.sign(x) * np.abs(x) ** (-5 / 3)),
    np.reciprocal: (away(-4, 4, 0.1), np.reciprocal, lambda x: -(x**-2.0), lambda x: 2 * x**-3.0),
    np.exp: (away(-5, 5), np.exp, np.exp, np.exp),
    np.exp2: (away(-5, 5), np.exp2, lambda x: LN2 * 2**x, lambda x: LN2**2 * 2**x),
    np.expm1: (away(-5, 5), np.expm1, np.exp, np.exp),
    np.log: (away(0.05, 5), np.log, lambda x: 1 / x, lambda x: -1 / x**2),
    np.log2: (away(0.05, 5), np.log2, lambda x: 1 / (x * LN2), lambda x: -1 / (x**2 * LN2)),
    np.log10: (away(0.05, 5), np.log10, lambda x: 1 / (x * LN10), lambda x: -1 / (x**2 * LN10)),
    np.log1p: (away(-0.9, 5), np.log1p, lambda x: 1 / (1 + x), lambda x: -1 / (1 + x) ** 2),
    np.sin: (away(-4, 4), np.sin, np.cos, lambda x: -np.sin(x)),
    np.cos: (away(-4, 4), np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x)),
    np.tan: (away(-1.4, 1.4), np.tan, lambda x: np.cos(x) ** -2,
             lambda x: 2 * np.sin(x) / np.cos(x) ** 3),
    np.arcsin: (away(-0.95, 0.95), np.arcsin, lambda x: (1 - x * x) ** -0.5,
                lambda x: x * (1 - x * x) ** -1.5),
    np.arccos: (away(-0.95, 0.95), np.arccos, lambda x: -((1 - x * x) ** -0.5),
                lambda x: -x * (1 - x * x) ** -1.5),
    np.arctan: (away(-4, 4), np.arctan, lambda x: 1 / (1 + x * x),
                lambda x: -2 * x / (1 + x * x) ** 2),
    np.sinh: (away(-4, 4), np.sinh, np.cosh, np.sinh),
    np.cosh: (away(-4, 4), np.cosh, np.sinh, np.cosh),
    np.tanh: (away(-4, 4), np.tanh, lambda x: np.cosh(x) ** -2,
              lambda x: -2 * np.sinh(x) / np.cosh(x) ** 3),
    np.arcsinh: (away(-4, 4), np.arcsinh, lambda x: (1 + x * x) ** -0.5,
                 lambda x: -x * (1 + x * x) ** -1.5),
    np.arccosh: (away(1.1, 5), np.arccosh, lambda x: (x * x - 1) ** -0.5,
                 lambda x: -x * (x * x - 1) ** -1.5),
    np.arctanh: (away(-0.95, 0.95), np.arctanh, lambda x: 1 / (1 - x * x),
                 lambda x: 2 * x / (1 - x * x) ** 2),
    np.deg2rad: (away(-400, 400), lambda x: x * (PI / 180), lambda x: PI / 180, lambda x: 0.0),
    np.radians: (away(-400, 400), lambda x: x * (PI / 180), lambda x: PI / 180, lambda x: 0.0),
    np.rad2deg: (away(-7, 7), lambda x: x * (180 / PI), lambda x: 180 / PI, lambda x: 0.0),
    np.degrees: (away(-7, 7), lambda x: x * (180 / PI), lambda x: 180 / PI, lambda x: 0.0),
    np.absolute: (away(-3, 3, 0.01), _abs_c, np.sign, lambda x: 0.0),
    np.fabs: (away(-3, 3, 0.01), _abs_c, np.sign, lambda x: 0.0),
    sc.expit: (away(-8, 8), _expit_c, lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
               lambda x: np.exp(-x) * (np.exp(-x) - 1) / (1 + np.exp(-x)) ** 3),
    sc.logit: (away(0.05, 0.95), _logit_c, lambda x: 1 / x + 1 / (1 - x),
               lambda x: -1 / x**2 + 1 / (1 - x) ** 2),
    sc.erf: (away(-3, 3), sc.erf, lambda x: 2 / SQPI * np.exp(-x * x),
             lambda x: -4 * x / SQPI * np.exp(-x * x)),
    sc.erfc: (away(-3, 3), sc.erfc, lambda x: -2 / SQPI * np.exp(-x * x),
              lambda x: 4 * x / SQPI * np.exp(-x * x)),
    sc.ndtr: (away(-5, 5), sc.ndtr, _phi, lambda x: -x * _phi(x)),
    sc.log_ndtr: (away(-6, 6), sc.log_ndtr, lambda x: _phi(x) / sc.ndtr(x),
                  lambda x: -x * _phi(x) / sc.ndtr(x) - (_phi(x) / sc.ndtr(x)) ** 2),
    sc.gammaln: (away(0.2, 6), sc.loggamma, sc.psi, lambda x: sc.polygamma(1, x)),
    sc.digamma: (away(0.2, 6), sc.psi, lambda x: sc.polygamma(1, x),
                 lambda x: sc.polygamma(2, x)),
    sc.gamma: (away(0.2, 5), sc.gamma, lambda x: sc.gamma(x) * sc.psi(x),
               lambda x: sc.gamma(x) * (sc.psi(x) ** 2 + sc.polygamma(1, x))),
    np.sinc: (away(-3, 3, 0.05), _sinc_c,
              lambda x: (np.cos(PI * x) * PI * x - np.sin(PI * x)) / (PI * x * x),
              lambda x: ((2 - (PI * x) ** 2) * np.sin(PI * x) - 2 * PI * x * np.cos(PI * x))
              / (PI * x**3)),
}

SHAPES = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
SEEDS = st.integers(0, 2**32 - 1)


def test_every_unary_row_is_tested():  # (the scipy.special rows: test_special_rows.py)
    builtin = {k for k in rules.UNARY if not isinstance(k, user_rules.Elementwise)}
    assert builtin - rules_special.KEYS <= set(UNARY) | {np.negative}


def _derivs(ufunc, x):
    y = ufunc(x)
    (d,) = core.first_partials(ufunc, (x,), y, [True])
    dd = core.second_partials(ufunc, (x,), y, [d], [True]).get((0, 0), 0.0)
    return y, np.broadcast_to(d, np.shape(x)), np.broadcast_to(dd, np.shape(x))



#: edge points pinned in every property test of the rows: zeros, kinks (|x| at 0),
#: domain ends (+-1 for arcsin/arctanh, 1 for arccosh, 0 for log), infinities, NaN, a
#: subnormal and a huge value
EDGES = np.array([0.0, -0.0, 1.0, -1.0, 5e-324, 1e300, np.inf, -np.inf, np.nan])


def close_at_edges(got, want, what, value):
    """At edge points where the function's value is a number, the row must equal the hand
    formula where that is finite, and be the same infinity (or NaN) where it is infinite;
    where the hand formula is NaN (its own inf/inf or inf * 0 at the edge) the row is not
    constrained.  (Where the value is NaN -- outside the domain -- nothing is asked.)"""
    got, want, value = np.broadcast_arrays(np.asarray(got, float), np.asarray(want, float),
                                           np.asarray(value))
    inside = ~np.isnan(value)
    got, want = got[inside], want[inside]
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=RTOL, atol=1e-300, err_msg=what)
    inf = np.isinf(want)
    assert np.all((got[inf] == want[inf]) | np.isnan(got[inf])), (what, got[inf], want[inf])


@pytest.mark.parametrize("ufunc", list(UNARY), ids=lambda u: u.__name__)
@settings(max_examples=8)
@given(shape=SHAPES, seed=SEEDS, edge=st.just(False))
@example(shape=EDGES.shape, seed=0, edge=True)
def test_unary_row(ufunc, shape, seed, edge):
    sample, F, h1, h2 = UNARY[ufunc]
    rng = np.random.default_rng(seed)
    if edge:
        with np.errstate(all="ignore"):
            x = EDGES.copy()
            y, d, dd = _derivs(ufunc, x)
            kink = ufunc in (np.absolute, np.fabs)  # the convention: slope +1 at 0
            close_at_edges(d, np.where(x == 0, 1.0, h1(x)) if kink else h1(x),
                           f"{ufunc.__name__}'", y)
            close_at_edges(dd, h2(x), f"{ufunc.__name__}''", y)
            out = ufunc(Dual(x, np.eye(x.size)))  # NaN-safe: the other columns stay 0
            np.testing.assert_array_equal(out.value, y)
            np.testing.assert_array_equal(out.tangent[~np.eye(x.size, dtype=bool)], 0.0)
            np.testing.assert_array_equal(np.diag(out.tangent), d)
        return
    x = sample(rng, shape)
    y, d, dd = _derivs(ufunc, x)
    close(d, h1(x))
    close(dd, h2(x))
    if F is not None:
        close(d, cs(F, x))
        close(np.real(F(x + 0j)), y)
    # second derivative: complex step of the row's own f' (on the continuation's values)
    d1 = rules.UNARY[ufunc][0]
    # (zeta is real-only; sign is not analytic, and abs'' = 0 is checked by hand above)
    if callable(d1) and F is not None and ufunc not in (sc.digamma, np.absolute, np.fabs,
                                                        np.sinc):
        close(dd, np.imag(d1(x + 1j * H, F(x + 1j * H))) / H)
    # the Dual carries it: k = 2 directions with different tangents
    t = rng.normal(size=(2,) + shape)
    out = ufunc(Dual(x, t))
    assert isinstance(out, Dual) and out.value.shape == shape and out.tangent.shape == t.shape
    close(out.value, y)
    close(out.tangent, t * h1(x))


def test_digamma_second_derivative_by_central_difference():
    # zeta(2, x) has no complex continuation in scipy: central difference of the row's f',
    # h = 1e-4: truncation h^2/6 |f''''| < 1e-8 * 100, rounding 1e-16 / 1e-4 -> rtol 1e-6
    x = np.linspace(0.5, 5, 7)
    h = 1e-4
    d1 = rules.UNARY[sc.digamma][0]
    _, _, dd = _derivs(sc.digamma, x)
    close(dd, (d1(x + h, None) - d1(x - h, None)) / (2 * h), rtol=1e-6)


def test_gammaln_on_negative_non_integers():
    x = np.array([-2.5, -1.3, -0.7])
    _, d, dd = _derivs(sc.gammaln, x)
    close(d, sc.psi(x))
    close(dd, sc.polygamma(1, x))


# -- binary rows -------------------------------------------------------------------

def _sel(c, a, b):
    return np.where(c, a, b)


def pos(lo, hi):
    return lambda rng, s: rng.uniform(lo, hi, s)


def integer(lo, hi):
    return lambda rng, s: np.asarray(rng.integers(lo, hi, s))


def _mod_x(rng, s):  # a quotient x / y away from the jumps of floor / trunc
    return rng.integers(-3, 4, s) + rng.uniform(0.1, 0.9, s)


# ufunc: (x sampler, y sampler, F(x, y) complex continuation or None,
#         hand (fx, fy), hand (fxx, fxy, fyy), which arguments are differentiable)
# For _mod_x the sampled "x" is the quotient x / y (kept away from integers).
BINARY = {
    np.add: (away(-3, 3), away(-3, 3), np.add, (lambda x, y: 1.0, lambda x, y: 1.0),
             (lambda x, y: 0.0,) * 3, "xy"),
    np.subtract: (away(-3, 3), away(-3, 3), np.subtract, (lambda x, y: 1.0, lambda x, y: -1.0),
                  (lambda x, y: 0.0,) * 3, "xy"),
    np.multiply: (away(-3, 3), away(-3, 3), np.multiply, (lambda x, y: y, lambda x, y: x),
                  (lambda x, y: 0.0, lambda x, y: 1.0, lambda x, y: 0.0), "xy"),
    np.divide: (away(-3, 3), away(-3, 3, 0.2), np.divide,
                (lambda x, y: 1 / y, lambda x, y: -x / y**2),
                (lambda x, y: 0.0, lambda x, y: -(y**-2), lambda x, y: 2 * x / y**3), "xy"),
    np.power: (pos(0.1, 3), away(-3, 3), np.power,
               (lambda x, y: y * x ** (y - 1), lambda x, y: np.log(x) * x**y),
               (lambda x, y: y * (y - 1) * x ** (y - 2),
                lambda x, y: x ** (y - 1) + y * np.log(x) * x ** (y - 1),
                lambda x, y: np.log(x) ** 2 * x**y), "xy"),
    np.arctan2: (away(-3, 3, 0.1), away(-3, 3, 0.1), None,
                 (lambda x, y: y / (x * x + y * y), lambda x, y: -x / (x * x + y * y)),
                 (lambda x, y: -2 * x * y / (x * x + y * y) ** 2,
                  lambda x, y: (x * x - y * y) / (x * x + y * y) ** 2,
                  lambda x, y: 2 * x * y / (x * x + y * y) ** 2), "xy"),
    np.hypot: (away(-3, 3, 0.1), away(-3, 3, 0.1), lambda x, y: np.sqrt(x * x + y * y),
               (lambda x, y: x / np.hypot(x, y), lambda x, y: y / np.hypot(x, y)),
               (lambda x, y: y * y / np.hypot(x, y) ** 3, lambda x, y: -x * y / np.hypot(x, y) ** 3,
                lambda x, y: x * x / np.hypot(x, y) ** 3), "xy"),
    np.logaddexp: (away(-5, 5), away(-5, 5), lambda x, y: np.log(np.exp(x) + np.exp(y)),
                   (lambda x, y: 1 / (1 + np.exp(y - x)), lambda x, y: 1 / (1 + np.exp(x - y))),
                   (lambda x, y: np.exp(x + y) / (np.exp(x) + np.exp(y)) ** 2,
                    lambda x, y: -np.exp(x + y) / (np.exp(x) + np.exp(y)) ** 2,
                    lambda x, y: np.exp(x + y) / (np.exp(x) + np.exp(y)) ** 2), "xy"),
    np.logaddexp2: (away(-5, 5), away(-5, 5), lambda x, y: np.log2(2**x + 2**y),
                    (lambda x, y: 1 / (1 + 2 ** (y - x)), lambda x, y: 1 / (1 + 2 ** (x - y))),
                    (lambda x, y: LN2 * 2 ** (x + y) / (2**x + 2**y) ** 2,
                     lambda x, y: -LN2 * 2 ** (x + y) / (2**x + 2**y) ** 2,
                     lambda x, y: LN2 * 2 ** (x + y) / (2**x + 2**y) ** 2), "xy"),
    np.maximum: (away(-3, 3), away(-3, 3), lambda x, y: _sel(_re(x) >= _re(y), x, y),
                 (lambda x, y: (x >= y) * 1.0, lambda x, y: (x < y) * 1.0),
                 (lambda x, y: 0.0,) * 3, "xy"),
    np.minimum: (away(-3, 3), away(-3, 3), lambda x, y: _sel(_re(x) <= _re(y), x, y),
                 (lambda x, y: (x <= y) * 1.0, lambda x, y: (x > y) * 1.0),
                 (lambda x, y: 0.0,) * 3, "xy"),
    np.remainder: (_mod_x, away(-3, 3, 0.3), lambda x, y: x - np.floor(_re(x / y)) * y,
                   (lambda x, y: 1.0, lambda x, y: -np.floor(x / y)),
                   (lambda x, y: 0.0,) * 3, "xy"),
    np.fmod: (_mod_x, away(-3, 3, 0.3), lambda x, y: x - np.trunc(_re(x / y)) * y,
              (lambda x, y: 1.0, lambda x, y: -np.trunc(x / y)),
              (lambda x, y: 0.0,) * 3, "xy"),
    np.ldexp: (away(-3, 3), integer(-4, 5), lambda x, y: x * 2.0**y,
               (lambda x, y: 2.0**y, None), (lambda x, y: 0.0,) * 3, "x"),
    np.heaviside: (away(-3, 3, 0.1), pos(0, 1), None, (lambda x, y: 0.0,) * 2,
                   (lambda x, y: 0.0,) * 3, "xy"),
    np.floor_divide: (_mod_x, away(-3, 3, 0.3), None, (lambda x, y: 0.0,) * 2,
                      (lambda x, y: 0.0,) * 3, "xy"),
    sc.xlogy: (away(-3, 3), pos(0.1, 4), sc.xlogy, (lambda x, y: np.log(y), lambda x, y: x / y),
               (lambda x, y: 0.0, lambda x, y: 1 / y, lambda x, y: -x / y**2), "xy"),
    sc.xlog1py: (away(-3, 3), pos(-0.9, 4), sc.xlog1py,
                 (lambda x, y: np.log1p(y), lambda x, y: x / (1 + y)),
                 (lambda x, y: 0.0, lambda x, y: 1 / (1 + y), lambda x, y: -x / (1 + y) ** 2),
                 "xy"),
    zeta: (pos(1.5, 5), pos(0.5, 4), None, (None, None), (None, None, None), "y"),
}
BINARY[np.true_divide] = BINARY[np.divide]
BINARY[np.float_power] = BINARY[np.power]
BINARY[np.fmax] = BINARY[np.maximum]
BINARY[np.fmin] = BINARY[np.minimum]


def test_every_binary_row_is_tested():  # (the scipy.special rows: test_special_rows.py)
    builtin = {k for k in rules.BINARY if not isinstance(k, user_rules.Elementwise)}
    assert builtin - rules_special.KEYS <= set(BINARY)


def lift(t, nd):
    """A (k, ...) tangent with unit axes inserted after k to rank 1 + nd (NumPy broadcasting)."""
    return t.reshape(t.shape[:1] + (1,) * (nd - t.ndim + 1) + t.shape[1:])


def _entry(e, x, y, z):
    if e is rules.NONDIFF:
        return None
    return e(x, y, z) if callable(e) else e


def _zeta_partials(s, q):
    # central differences in q: h = 1e-4, truncation h^2/6 |d^3 zeta/dq^3| (< 1e3 here),
    # rounding ~1e-16 |zeta| / h: rtol 1e-6
    h = 1e-4
    f = lambda qq: zeta(s, qq)  # noqa: E731
    fy = (f(q + h) - f(q - h)) / (2 * h)
    fyy = (f(q + h) - 2 * f(q) + f(q - h)) / h**2
    return fy, fyy


#: edge pairs pinned in the binary property tests: ties (kinks of the selectors), zeros,
#: signed zeros, infinities, NaN on either side
EDGE_X = np.array([0.0, 0.0, 1.0, -1.0, 2.0, 2.0, np.inf, 1.0, np.nan, 1.0, -np.inf, 3.0])
EDGE_Y = np.array([0.0, 1.0, 1.0, -1.0, 2.0, -0.0, 1.0, np.inf, 1.0, np.nan, 2.0, 3.0])


@pytest.mark.parametrize("ufunc", list(BINARY), ids=lambda u: u.__name__)
@settings(max_examples=8)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=SEEDS,
       edge=st.just(False))
@example(shapes=BroadcastableShapes(input_shapes=(EDGE_X.shape, EDGE_Y.shape),
                                    result_shape=EDGE_X.shape), seed=0, edge=True)
def test_binary_row(ufunc, shapes, seed, edge):
    xs, ys, F, (h_x, h_y), (h_xx, h_xy, h_yy), which = BINARY[ufunc]
    sx, sy = shapes.input_shapes
    rng = np.random.default_rng(seed)
    if edge:
        _binary_row_at_edges(ufunc, which, (h_x, h_y), (h_xx, h_xy, h_yy))
        return
    y = ys(rng, sy)
    if xs is _mod_x:  # x = q * y with the quotient q away from integers (the jumps)
        sx = shapes.result_shape
        x = xs(rng, sx) * y
    else:
        x = xs(rng, sx)
    z = ufunc(x, y)
    (fx, fy), (fxx, fxy, fyy) = rules.BINARY[ufunc]
    gx, gy = _entry(fx, x, y, z), _entry(fy, x, y, z)
    gxx, gxy, gyy = (_entry(e, x, y, z) for e in (fxx, fxy, fyy))
    if ufunc is zeta:
        assert fx is rules.NONDIFF
        ref_y, ref_yy = _zeta_partials(x, y)
        close(gy, ref_y, rtol=1e-6)
        close(gyy, ref_yy, rtol=1e-5)  # second difference: rounding 1e-16/h^2 = 1e-8
    else:
        if "x" in which:
            close(gx, h_x(x, y))
            close(gxx, h_xx(x, y))
            close(gxy, h_xy(x, y))
        if "y" in which:
            close(gy, h_y(x, y))
            close(gyy, h_yy(x, y))
        else:
            assert fy is rules.NONDIFF
        if F is not None:
            close(np.real(F(x + 0j, y + 0j)), z)
            close(gx, np.imag(F(x + 1j * H, y)) / H)
            if "y" in which:
                close(gy, np.imag(F(x, y + 1j * H)) / H)
            # second partials: complex step of the row's own first partials
            for e, ref in ((fx, gxx), (fy, gyy)):
                if callable(e) and ufunc not in (np.maximum, np.minimum, np.fmax, np.fmin,
                                                 np.remainder, np.fmod):
                    xc = x + 1j * H if e is fx else x
                    yc = y + 1j * H if e is fy else y
                    close(ref, np.imag(e(xc, yc, F(xc, yc))) / H)
            if callable(fx) and "y" in which and ufunc not in (np.maximum, np.minimum, np.fmax,
                                                               np.fmin, np.remainder, np.fmod):
                close(gxy, np.imag(fx(x, y + 1j * H, F(x, y + 1j * H))) / H)
    # through Dual: both operands vary (same tag), then each alone, then a Python scalar
    k = 2
    tx, ty = rng.normal(size=(k,) + sx), rng.normal(size=(k,) + sy)
    nd = np.ndim(z)
    gx_ = 0.0 if gx is None else gx
    gy_ = 0.0 if gy is None else gy
    tx, ty = lift(tx, nd), lift(ty, nd)
    if which == "xy":
        out = ufunc(Dual(x, tx.reshape((k,) + sx)), Dual(y, ty.reshape((k,) + sy)))
        assert out.tangent.shape == (k,) + np.shape(z)
        close(out.value, z)
        close(out.tangent, tx * gx_ + ty * gy_)
    if "x" in which:
        out = ufunc(Dual(x, tx.reshape((k,) + sx)), y)
        close(out.tangent, np.broadcast_to(tx * gx_, (k,) + np.shape(z)))
    if "y" in which:
        out = ufunc(x, Dual(y, ty.reshape((k,) + sy)))
        close(out.tangent, np.broadcast_to(ty * gy_, (k,) + np.shape(z)))
        if np.ndim(x) == 0:
            out = ufunc(float(x), Dual(y, ty.reshape((k,) + sy)))
            close(out.tangent, np.broadcast_to(ty * gy_, (k,) + np.shape(z)))


def _binary_row_at_edges(ufunc, which, firsts, seconds):
    x, y = EDGE_X.copy(), EDGE_Y.copy()
    if ufunc is np.ldexp:
        y = np.array([0, 1, 1, -1, 2, 0, 1, 1074, 1, -1074, 2, 3])
    if ufunc is zeta:
        return  # (no hand formula: its partials are checked against differences above)
    with np.errstate(all="ignore"):
        z = ufunc(x, y)
        (fx, fy), (fxx, fxy, fyy) = rules.BINARY[ufunc]
        got = [_entry(e, x, y, z) for e in (fx, fy, fxx, fxy, fyy)]
        hands = list(firsts) + list(seconds)
        names = ("x", "y", "xx", "xy", "yy")
        for g, h, name in zip(got, hands, names):
            if g is None or h is None or ("y" in name and "y" not in which):
                continue
            if ufunc in (np.maximum, np.minimum) and name in ("x", "y"):
                # NaN propagates through maximum/minimum: both partials are NaN there
                h = lambda a, b, h=h: np.where(np.isnan(a) | np.isnan(b), np.nan, h(a, b))
            if ufunc in (np.fmax, np.fmin) and name in ("x", "y"):
                # fmax/fmin follow the argument that is not NaN
                pick = np.where(np.isnan(y), 1.0, np.where(np.isnan(x), 0.0, np.nan))
                h = lambda a, b, h=h, pick=pick, name=name: np.where(
                    np.isnan(pick), h(a, b), pick if name == "x" else 1.0 - pick)
            if ufunc in (np.power, np.float_power) and name in ("y", "xy", "yy"):
                # the convention: 0**y is flat in y (README): log x is taken as 0 at x = 0
                h = lambda a, b, h=h, name=name: np.where(
                    a == 0, a ** (b - 1.0) if name == "xy" else 0.0, h(a, b))
            close_at_edges(g, h(x, y), f"{ufunc.__name__}_{name}", z)
        # the Dual through the ufunc: NaN-safe, the tangent of one operand alone
        out = ufunc(Dual(x, np.eye(x.size)), y)
        np.testing.assert_array_equal(out.value, z)
        np.testing.assert_array_equal(out.tangent[~np.eye(x.size, dtype=bool)], 0.0)


# -- conventions at non-differentiable points ---------------------------------------

def test_abs_at_a_kink_has_slope_one_in_every_mode():
    # |u| at u = 0 with u moving: slope +1 (as maximum(u, -u), whose ties go to the first
    # argument) - a subgradient, linear in the seeds, the same in every mode and chunk
    out = np.abs(Dual(np.zeros(3), np.array([[1.0, -2.0, 0.0]])))
    assert out.tangent.tolist() == [[1.0, -2.0, 0.0]]
    assert np.fabs(Dual(0.0, -3.0)).tangent.tolist() == [-3.0]

    def f(x):
        return np.abs(x[0] - x[1])

    for mode in ("forward", "reverse", "auto"):
        for chunk in (1, None):
            assert dd.jacobian(f, [1.0, 1.0], mode=mode, chunk=chunk).tolist() == [1.0, -1.0]
    for method in ("hyperdual", "forward-over-reverse"):
        assert dd.hessian(f, [1.0, 1.0], method=method).tolist() == [[0.0, 0.0], [0.0, 0.0]]


@pytest.mark.parametrize("ufunc", [np.maximum, np.minimum, np.fmax, np.fmin])
def test_selector_ties_go_to_the_first_argument(ufunc):
    out = ufunc(Dual(1.0, 2.0), Dual(1.0, 5.0))
    assert out.tangent.tolist() == [2.0]
    out = ufunc(Dual(1.0, 2.0), 1.0)
    assert out.tangent.tolist() == [2.0]
    out = ufunc(1.0, Dual(1.0, 5.0))
    assert out.tangent.tolist() == [0.0]


@settings(max_examples=10)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=SEEDS)
def test_copysign(shapes, seed):
    # |x| with the sign of y: complex step of the continuation x sign(x) sign(y) in x,
    # zero in y; at x == 0 it follows abs (slope +1, then the sign of y)
    sx, sy = shapes.input_shapes
    rng = np.random.default_rng(seed)
    x, y = away(-3, 3, 0.1)(rng, sx), away(-3, 3, 0.1)(rng, sy)
    tx, ty = rng.normal(size=(2,) + sx), rng.normal(size=(2,) + sy)
    out = np.copysign(Dual(x, tx), Dual(y, ty))
    close(out.value, np.copysign(x, y))
    ref = np.imag(np.sign(x) * np.sign(y) * (x + 1j * H)) / H
    close(out.tangent, lift(tx, out.value.ndim) * ref)
    out = np.copysign(Dual(0.0, [1.0, -2.0]), -1.0)
    assert out.tangent.tolist() == [-1.0, 2.0]


def test_hypot_at_the_origin_is_flat():
    (fx, fy), second = rules.BINARY[np.hypot]
    for e in (fx, fy, *second):
        assert e(0.0, 0.0, 0.0) == 0.0
    out = np.hypot(Dual(np.zeros(2), np.eye(2)), 0.0)
    assert out.tangent.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_fmax_fmin_ignore_nan():
    for uf in (np.fmax, np.fmin):
        out = uf(Dual(np.nan, 2.0), Dual(1.0, 5.0))
        assert out.value == 1.0 and out.tangent.tolist() == [5.0]
        out = uf(Dual(1.0, 2.0), Dual(np.nan, 5.0))
        assert out.value == 1.0 and out.tangent.tolist() == [2.0]


def test_power_at_zero_base():
    # x**y at x = 0: d/dx follows y x**(y-1) (0 for y > 1, 1 for y = 1, inf for 0 < y < 1),
    # x**0 is constant (0, not nan), d/dy is taken as 0 (0**y is flat for y > 0).
    for y, ref in ((2.0, 0.0), (3.0, 0.0), (1.0, 1.0), (0.0, 0.0), (0.5, np.inf)):
        assert Dual(0.0, 1.0) ** y == 0.0 ** y
        assert (Dual(0.0, 1.0) ** y).tangent[0] == ref
    assert (0.0 ** Dual(2.0, 1.0)).tangent[0] == 0.0
    # negative base with an integer exponent
    out = Dual(-2.0, 1.0) ** 3.0
    assert out.value == -8.0 and out.tangent[0] == 12.0


PIECEWISE = [np.sign, np.floor, np.ceil, np.trunc, np.rint, np.spacing]


@pytest.mark.parametrize("ufunc", PIECEWISE, ids=lambda u: u.__name__)
@settings(max_examples=5)
@given(shape=SHAPES, seed=SEEDS)
def test_piecewise_constant_has_zero_tangent(ufunc, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, shape)
    out = ufunc(Dual(x, rng.normal(size=(3,) + shape)))
    np.testing.assert_array_equal(out.value, ufunc(x))
    assert out.tangent.shape == (3,) + shape and not np.any(out.tangent)


@pytest.mark.parametrize("ufunc", sorted(rules.DISCRETE_UFUNCS - {np.isnat},
                                         key=lambda u: u.__name__), ids=lambda u: u.__name__)
def test_comparisons_and_predicates_return_plain_bools(ufunc):
    x = Dual(np.array([-1.0, 0.0, 2.0, np.nan]), np.ones((1, 4)))
    args = (x,) * ufunc.nin
    out = ufunc(*args)
    assert type(out) is np.ndarray and out.dtype == bool
    np.testing.assert_array_equal(out, ufunc(*(x.value,) * ufunc.nin))


def test_operators_compare_to_plain_bools():
    x = Dual(np.array([1.0, 2.0]), np.ones((1, 2)))
    for out in (x < 1.5, x <= 1.0, x > 1.0, x >= 2.0, x == 1.0, x != 1.0, 1.5 < x):
        assert type(out) is np.ndarray and out.dtype == bool
    assert (x < 1.5).tolist() == [True, False]


def test_zeta_order_has_no_derivative():
    with pytest.raises(TypeError, match="first argument"):
        zeta(Dual(2.0, 1.0), 1.5)
    assert np.isclose(sc.zeta(2.0, Dual(1.5, 1.0)).tangent[0], -2 * zeta(3.0, 1.5), rtol=1e-14)


def test_abs_kink_resolved_from_the_first_nonzero_part_when_nested():
    from dualdiff import derivative

    # |-x^2| = x^2: second derivative 2 at 0 (sign from the first non-zero part)
    assert derivative(lambda x: derivative(lambda y: np.abs(-y * y), x), 0.0) == 2.0
    assert dd.hessian(lambda y: np.abs(-y[0] * y[0]), [0.0], method="hyperdual")[0, 0] == 2.0
    assert derivative(lambda x: derivative(lambda y: np.fabs(y * y * y), x), 0.0) == 0.0
    # relu through maximum: ties go to the first argument
    assert derivative(lambda x: np.maximum(x, 0.0), 0.0) == 1.0
    assert derivative(lambda x: np.maximum(0.0, x), 0.0) == 0.0


def test_saturating_rows_keep_relative_accuracy():
    # 1 - tanh(x)^2 and y (1 - y) cancel to 0 for large x; the exact values are tiny
    x = 20.0
    assert np.isclose(dd.derivative(np.tanh, x), 1.0 / np.cosh(x) ** 2, rtol=1e-14, atol=0)
    e = np.exp(-40.0)
    assert np.isclose(dd.derivative(sc.expit, 40.0), e / (1 + e) ** 2, rtol=1e-14, atol=0)
