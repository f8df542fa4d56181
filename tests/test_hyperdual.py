"""HyperDual algebra and every element-wise rule's second derivatives.

References are hand-derived formulas written here (not read from
dualdiff.rules) and evaluated with plain NumPy / SciPy.
"""

import math

import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special._ufuncs import _zeta as zeta

import dualdiff as dd
from dualdiff import Dual, HyperDual
from dualdiff.core import new_tag

LN2, LN10 = math.log(2.0), math.log(10.0)


def _parts(y):
    return (y.value, y.eps1, y.eps2, y.eps12)


def phi(x):
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def sec2(x):
    return 1.0 / np.cos(x) ** 2


# f: (f', f'', domain) written by hand
UNARY_REF = {
    np.negative: (lambda x: -np.ones_like(x), lambda x: 0 * x, (-5, 5)),
    np.positive: (lambda x: np.ones_like(x), lambda x: 0 * x, (-5, 5)),
    np.conjugate: (lambda x: np.ones_like(x), lambda x: 0 * x, (-5, 5)),
    np.square: (lambda x: 2 * x, lambda x: 2 + 0 * x, (-5, 5)),
    np.sqrt: (lambda x: 0.5 * x**-0.5, lambda x: -0.25 * x**-1.5, (0.1, 5)),
    np.cbrt: (lambda x: x ** (-2 / 3) / 3, lambda x: -2 / 9 * x ** (-5 / 3), (0.1, 5)),
    np.reciprocal: (lambda x: -1 / x**2, lambda x: 2 / x**3, (0.2, 5)),
    np.exp: (np.exp, np.exp, (-5, 5)),
    np.exp2: (lambda x: LN2 * 2**x, lambda x: LN2**2 * 2**x, (-5, 5)),
    np.expm1: (np.exp, np.exp, (-5, 5)),
    np.log: (lambda x: 1 / x, lambda x: -1 / x**2, (0.1, 5)),
    np.log2: (lambda x: 1 / (x * LN2), lambda x: -1 / (x**2 * LN2), (0.1, 5)),
    np.log10: (lambda x: 1 / (x * LN10), lambda x: -1 / (x**2 * LN10), (0.1, 5)),
    np.log1p: (lambda x: 1 / (1 + x), lambda x: -1 / (1 + x) ** 2, (-0.9, 5)),
    np.sin: (np.cos, lambda x: -np.sin(x), (-5, 5)),
    np.cos: (lambda x: -np.sin(x), lambda x: -np.cos(x), (-5, 5)),
    np.tan: (sec2, lambda x: 2 * sec2(x) * np.tan(x), (-1.4, 1.4)),
    np.arcsin: (lambda x: (1 - x * x) ** -0.5, lambda x: x * (1 - x * x) ** -1.5, (-0.9, 0.9)),
    np.arccos: (lambda x: -((1 - x * x) ** -0.5), lambda x: -x * (1 - x * x) ** -1.5,
                (-0.9, 0.9)),
    np.arctan: (lambda x: 1 / (1 + x * x), lambda x: -2 * x / (1 + x * x) ** 2, (-5, 5)),
    np.sinh: (np.cosh, np.sinh, (-5, 5)),
    np.cosh: (np.sinh, np.cosh, (-5, 5)),
    np.tanh: (lambda x: 1 / np.cosh(x) ** 2, lambda x: -2 * np.tanh(x) / np.cosh(x) ** 2,
              (-5, 5)),
    np.arcsinh: (lambda x: (x * x + 1) ** -0.5, lambda x: -x * (x * x + 1) ** -1.5, (-5, 5)),
    np.arccosh: (lambda x: (x * x - 1) ** -0.5, lambda x: -x * (x * x - 1) ** -1.5, (1.1, 5)),
    np.arctanh: (lambda x: 1 / (1 - x * x), lambda x: 2 * x / (1 - x * x) ** 2, (-0.9, 0.9)),
    np.deg2rad: (lambda x: np.pi / 180 + 0 * x, lambda x: 0 * x, (-5, 5)),
    np.rad2deg: (lambda x: 180 / np.pi + 0 * x, lambda x: 0 * x, (-5, 5)),
    np.absolute: (np.sign, lambda x: 0 * x, (0.1, 5)),
    np.fabs: (np.sign, lambda x: 0 * x, (-5, -0.1)),
    sc.expit: (lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
               lambda x: np.exp(-x) * (np.exp(-x) - 1) / (1 + np.exp(-x)) ** 3, (-5, 5)),
    sc.logit: (lambda x: 1 / x + 1 / (1 - x), lambda x: -1 / x**2 + 1 / (1 - x) ** 2,
               (0.05, 0.95)),
    sc.erf: (lambda x: 2 / np.sqrt(np.pi) * np.exp(-x * x),
             lambda x: -4 * x / np.sqrt(np.pi) * np.exp(-x * x), (-3, 3)),
    sc.erfc: (lambda x: -2 / np.sqrt(np.pi) * np.exp(-x * x),
              lambda x: 4 * x / np.sqrt(np.pi) * np.exp(-x * x), (-3, 3)),
    sc.ndtr: (phi, lambda x: -x * phi(x), (-5, 5)),
    sc.log_ndtr: (lambda x: phi(x) / sc.ndtr(x),
                  lambda x: -x * phi(x) / sc.ndtr(x) - (phi(x) / sc.ndtr(x)) ** 2, (-5, 5)),
    sc.gammaln: (sc.psi, lambda x: sc.polygamma(1, x), (0.2, 6)),
    sc.digamma: (lambda x: sc.polygamma(1, x), lambda x: sc.polygamma(2, x), (0.2, 6)),
    sc.gamma: (lambda x: sc.gamma(x) * sc.psi(x),
               lambda x: sc.gamma(x) * (sc.psi(x) ** 2 + sc.polygamma(1, x)), (0.2, 5)),
}


def test_the_issue_example():
    y = HyperDual(2.0, 1.0, 1.0, 0.0) ** 3
    assert [float(np.squeeze(p)) for p in _parts(y)] == [8.0, 12.0, 12.0, 12.0]
    assert y.eps1.shape == (1,) and y.eps12.shape == (1, 1)


def test_multiplication_table_fike_alonso():
    # (a + b e1 + c e2 + d e1e2)(p + q e1 + r e2 + s e1e2), e1^2 = e2^2 = 0
    a, b, c, d, p, q, r, s = 1.5, -2.0, 0.25, 3.0, 0.5, 4.0, -1.0, 2.5
    y = HyperDual(a, b, c, d) * HyperDual(p, q, r, s)
    got = [float(np.squeeze(t)) for t in _parts(y)]
    assert got == [a * p, a * q + b * p, a * r + c * p, a * s + b * r + c * q + d * p]


def test_division_and_identities():
    # 1 / (a + b e1 + c e2 + d e1e2) = 1/a - b/a^2 e1 - c/a^2 e2 + (2bc/a^3 - d/a^2) e1e2
    a, b, c, d = 2.0, 3.0, -1.0, 0.5
    y = 1.0 / HyperDual(a, b, c, d)
    ref = [1 / a, -b / a**2, -c / a**2, 2 * b * c / a**3 - d / a**2]
    np.testing.assert_allclose([np.squeeze(t) for t in _parts(y)], ref, rtol=1e-15)
    # x e1 and x e2 nilpotent: (b e1)^2 = 0, so (a + b e1)^2 has no e1e2 part
    z = HyperDual(a, b, 0.0, 0.0) ** 2
    assert float(np.squeeze(z.eps12)) == 0.0
    # f(x + e1 + e2) = f + f' e1 + f' e2 + f'' e1e2 (Fike's test function)
    x = 1.5
    f = lambda x: np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)
    y = f(HyperDual(x, 1.0, 1.0, 0.0))
    # reference: complex step on a hand-derived f'
    def fp(x):
        s, co = np.sin(x), np.cos(x)
        u = s**3 + co**3
        du = 3 * s * s * co - 3 * co * co * s
        return np.exp(x) * (u ** -0.5 - 0.5 * du * u ** -1.5)
    h = 1e-200
    np.testing.assert_allclose(np.squeeze(y.eps1), fp(x), rtol=1e-13)
    np.testing.assert_allclose(np.squeeze(y.eps12), np.imag(fp(x + 1j * h)) / h, rtol=1e-12)


def _random_hyper(rng, shape, k1, k2, tag):
    return (rng.normal(size=(k1,) + shape), rng.normal(size=(k2,) + shape),
            rng.normal(size=(k1, k2) + shape))


@pytest.mark.parametrize("ufunc", list(UNARY_REF), ids=lambda u: u.__name__)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_unary_rows(ufunc, data):
    d1, d2, (lo, hi) = UNARY_REF[ufunc]
    # the tanh row computes 1 - tanh(x)^2, which cancels: relative error up to
    # eps / sech(x)^2 ~ 2e-16 / 1.8e-4 ~ 1.2e-12 at |x| = 5
    rtol = 1e-10 if ufunc is np.tanh else 1e-12
    x = data.draw(arrays(float, (4,), elements=st.floats(lo, hi)))
    seed = data.draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    b, c, d = _random_hyper(rng, (4,), 2, 3, 0)
    y = ufunc(HyperDual(x, b, c, d, tag=new_tag()))
    f1, f2 = d1(x), d2(x)
    np.testing.assert_allclose(y.value, ufunc(x), rtol=1e-14)
    np.testing.assert_allclose(y.eps1, b * f1, rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(y.eps2, c * f1, rtol=rtol, atol=1e-300)
    ref = d * f1 + b[:, None] * c[None, :] * f2
    scale = np.abs(d * f1) + np.abs(b[:, None] * c[None, :] * f2)
    assert np.all(np.abs(y.eps12 - ref) <= 10 * rtol * scale + 1e-300)


def _partials(name):
    """Hand-derived (fx, fy, fxx, fxy, fyy) of the smooth binary rows."""
    r2 = lambda x, y: x * x + y * y
    one, zero = (lambda x, y: 1 + 0 * x), (lambda x, y: 0 * x)
    return {
        "add": (one, one, zero, zero, zero),
        "subtract": (one, lambda x, y: -1 + 0 * x, zero, zero, zero),
        "multiply": (lambda x, y: y, lambda x, y: x, zero, one, zero),
        "divide": (lambda x, y: 1 / y, lambda x, y: -x / y**2, zero, lambda x, y: -1 / y**2,
                   lambda x, y: 2 * x / y**3),
        "power": (lambda x, y: y * x ** (y - 1), lambda x, y: x**y * np.log(x),
                  lambda x, y: y * (y - 1) * x ** (y - 2),
                  lambda x, y: x ** (y - 1) * (1 + y * np.log(x)),
                  lambda x, y: x**y * np.log(x) ** 2),
        "arctan2": (lambda x, y: y / r2(x, y), lambda x, y: -x / r2(x, y),
                    lambda x, y: -2 * x * y / r2(x, y) ** 2,
                    lambda x, y: (x * x - y * y) / r2(x, y) ** 2,
                    lambda x, y: 2 * x * y / r2(x, y) ** 2),
        "hypot": (lambda x, y: x / np.sqrt(r2(x, y)), lambda x, y: y / np.sqrt(r2(x, y)),
                  lambda x, y: y * y / r2(x, y) ** 1.5, lambda x, y: -x * y / r2(x, y) ** 1.5,
                  lambda x, y: x * x / r2(x, y) ** 1.5),
        "logaddexp": (lambda x, y: 1 / (1 + np.exp(y - x)), lambda x, y: 1 / (1 + np.exp(x - y)),
                      lambda x, y: np.exp(x + y) / (np.exp(x) + np.exp(y)) ** 2,
                      lambda x, y: -np.exp(x + y) / (np.exp(x) + np.exp(y)) ** 2,
                      lambda x, y: np.exp(x + y) / (np.exp(x) + np.exp(y)) ** 2),
        "logaddexp2": (lambda x, y: 2**x / (2**x + 2**y), lambda x, y: 2**y / (2**x + 2**y),
                       lambda x, y: LN2 * 2 ** (x + y) / (2**x + 2**y) ** 2,
                       lambda x, y: -LN2 * 2 ** (x + y) / (2**x + 2**y) ** 2,
                       lambda x, y: LN2 * 2 ** (x + y) / (2**x + 2**y) ** 2),
        "xlogy": (lambda x, y: np.log(y), lambda x, y: x / y, zero, lambda x, y: 1 / y,
                  lambda x, y: -x / y**2),
        "xlog1py": (lambda x, y: np.log1p(y), lambda x, y: x / (1 + y), zero,
                    lambda x, y: 1 / (1 + y), lambda x, y: -x / (1 + y) ** 2),
        # selectors / piecewise-linear: second partials vanish
        "maximum": (lambda x, y: (x >= y) * 1.0, lambda x, y: (x < y) * 1.0, zero, zero, zero),
        "minimum": (lambda x, y: (x <= y) * 1.0, lambda x, y: (x > y) * 1.0, zero, zero, zero),
        "fmax": (lambda x, y: (x >= y) * 1.0, lambda x, y: (x < y) * 1.0, zero, zero, zero),
        "fmin": (lambda x, y: (x <= y) * 1.0, lambda x, y: (x > y) * 1.0, zero, zero, zero),
        "copysign": (lambda x, y: np.sign(x) * np.copysign(1.0, y), zero, zero, zero, zero),
        "remainder": (one, lambda x, y: -np.floor(x / y), zero, zero, zero),
        "fmod": (one, lambda x, y: -np.trunc(x / y), zero, zero, zero),
        "heaviside": (zero, zero, zero, zero, zero),
        "floor_divide": (zero, zero, zero, zero, zero),
    }[name]


BINARY_CASES = [
    (np.add, (-3, 3), (-3, 3)), (np.subtract, (-3, 3), (-3, 3)),
    (np.multiply, (-3, 3), (-3, 3)), (np.divide, (-3, 3), (0.5, 3)),
    (np.true_divide, (-3, 3), (-3, -0.5)), (np.power, (0.2, 3), (-2, 3)),
    (np.float_power, (0.2, 3), (-2, 3)), (np.arctan2, (0.2, 3), (-3, 3)),
    (np.hypot, (-3, 3), (0.2, 3)), (np.logaddexp, (-3, 3), (-3, 3)),
    (np.logaddexp2, (-3, 3), (-3, 3)), (sc.xlogy, (-3, 3), (0.2, 3)),
    (sc.xlog1py, (-3, 3), (-0.8, 3)), (np.maximum, (-3, 3), (-3, 3)),
    (np.minimum, (-3, 3), (-3, 3)), (np.fmax, (-3, 3), (-3, 3)), (np.fmin, (-3, 3), (-3, 3)),
    (np.copysign, (0.2, 3), (-3, 3)), (np.remainder, (-3, 3), (0.5, 2)),
    (np.fmod, (-3, 3), (0.5, 2)), (np.heaviside, (0.1, 3), (-3, 3)),
    (np.floor_divide, (-3, 3), (0.5, 2)),
]


@pytest.mark.parametrize("ufunc,xd,yd", BINARY_CASES, ids=lambda u: getattr(u, "__name__", ""))
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_binary_rows(ufunc, xd, yd, data):
    name = {"true_divide": "divide", "float_power": "power"}.get(ufunc.__name__, ufunc.__name__)
    fx, fy, fxx, fxy, fyy = _partials(name)
    # x of shape (3,), y of shape (2, 3): the rule must broadcast the parts
    x = data.draw(arrays(float, (3,), elements=st.floats(*xd)))
    y = data.draw(arrays(float, (2, 3), elements=st.floats(*yd)))
    if ufunc in (np.remainder, np.fmod, np.floor_divide):  # keep away from the jumps
        q = x / y
        if np.any(np.abs(q - np.round(q)) < 1e-3):
            return
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    tag = new_tag()
    xb, xc, xd_ = _random_hyper(rng, (3,), 2, 3, tag)
    yb, yc, yd_ = _random_hyper(rng, (2, 3), 2, 3, tag)
    z = ufunc(HyperDual(x, xb, xc, xd_, tag), HyperDual(y, yb, yc, yd_, tag))
    gx, gy = fx(x, y), fy(x, y)
    bx, cx, dx = xb[:, None], xc[:, None], xd_[:, :, None]  # to (k, 2, 3)
    o = lambda s, t: s[:, None] * t[None, :]
    terms1 = [gx * bx, gy * yb]
    terms12 = [gx * dx, gy * yd_, fxx(x, y) * o(bx, cx),
               fxy(x, y) * (o(bx, yc) + o(yb, cx)), fyy(x, y) * o(yb, yc)]
    np.testing.assert_allclose(z.value, ufunc(x, y), rtol=1e-14)
    np.testing.assert_allclose(z.eps1, sum(terms1), rtol=1e-11,
                               atol=1e-12 * sum(np.abs(t) for t in terms1).max())
    np.testing.assert_allclose(z.eps2, gx * cx + gy * yc, rtol=1e-11,
                               atol=1e-12 * (np.abs(gx * cx) + np.abs(gy * yc)).max())
    scale = sum(np.abs(t) for t in terms12)
    assert np.all(np.abs(z.eps12 - sum(terms12)) <= 1e-11 * scale + 1e-300)


def test_binary_with_constants_and_nondiff():
    x = HyperDual(np.array([1.0, 2.0]), np.ones((1, 2)), np.ones((1, 2)), tag=new_tag())
    y = np.ldexp(x, 3)
    np.testing.assert_array_equal(np.squeeze(y.eps1), [8.0, 8.0])
    with pytest.raises(TypeError, match="ldexp"):
        np.ldexp(2.0, x)
    with pytest.raises(TypeError, match="first"):
        zeta(x, 2.0)
    z = zeta(3.0, x)  # d2/dq2 zeta(s, q) = s (s + 1) zeta(s + 2, q)
    np.testing.assert_allclose(np.squeeze(z.eps12), 12 * zeta(5.0, x.value), rtol=1e-13)
    w = 2.0 ** x  # constant base: (ln 2)^2 2^x
    np.testing.assert_allclose(np.squeeze(w.eps12), LN2**2 * 2**x.value, rtol=1e-14)


def test_kinks_take_sign_from_first_nonzero_part():
    y = np.abs(HyperDual(0.0, 1.0, 1.0, 0.0))
    assert [float(np.squeeze(p)) for p in _parts(y)] == [0.0, 1.0, 1.0, 0.0]
    assert float(dd.hessian(lambda x: np.abs(-x**2), 0.0)) == 2.0
    assert float(dd.hessian(lambda x: np.abs(x**3 - x**2), 0.0)) == 2.0
    g = dd.value_gradient_and_hessian(lambda x: np.fabs(x), 0.0)
    assert (float(g[1]), float(g[2])) == (1.0, 0.0)


def test_piecewise_constant_gives_zero_parts():
    x = HyperDual(np.array([0.5, 1.5]), np.ones((2, 2)), np.ones((3, 2)), tag=new_tag())
    for uf in (np.floor, np.ceil, np.sign, np.rint, np.trunc):
        y = uf(x)
        assert y.eps1.shape == (2, 2) and y.eps12.shape == (2, 3, 2)
        assert not np.any(y.eps1) and not np.any(y.eps2) and not np.any(y.eps12)


def test_constructor_shapes_and_errors():
    h = HyperDual(np.zeros(3))
    assert (h.eps1.shape, h.eps2.shape, h.eps12.shape) == ((1, 3), (1, 3), (1, 1, 3))
    with pytest.raises(ValueError, match="eps12"):
        HyperDual(np.zeros(3), np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="eps1"):
        HyperDual(np.zeros(3), np.zeros((2, 4)))
    with pytest.raises(TypeError, match="derivative would be lost"):
        np.asarray(HyperDual(np.zeros(3)), dtype=float)
    elements = np.asarray(HyperDual(np.zeros(2), np.ones(2)))  # an object array of scalars
    assert elements.dtype == object and all(isinstance(e, HyperDual) for e in elements)


def test_setitem_and_array_idioms():
    # out = zeros_like(x); out[1:] = ...  and np.stack keep all four parts
    def f(x):
        out = np.zeros_like(x)
        out[1:] = x[:-1] ** 2
        out[0] = np.sin(x[-1])
        return np.sum(np.stack([out, x]) ** 2) + np.max(x) * np.prod(x)

    x = np.array([0.3, -1.2, 2.0])
    H = dd.hessian(f, x)
    # hand: sum(out^2) = sin(x2)^2 + x0^4 + x1^4 ; + sum x^2 ; + x2 * x0 x1 x2
    a, b, c = x
    ref = np.array([
        [12 * a * a + 2, c * c, 2 * b * c],
        [c * c, 12 * b * b + 2, 2 * a * c],
        [2 * b * c, 2 * a * c, 2 * np.cos(2 * c) + 2 + 2 * a * b],
    ])
    np.testing.assert_allclose(H, ref, rtol=1e-13)


def test_linear_ops_keep_parts_apart():
    rng = np.random.default_rng(3)
    x = HyperDual(rng.normal(size=(2, 3)), rng.normal(size=(4, 2, 3)),
                  rng.normal(size=(5, 2, 3)), rng.normal(size=(4, 5, 2, 3)), tag=new_tag())
    for op in (lambda v: np.sum(v, axis=0), lambda v: v.T, lambda v: np.cumsum(v, axis=1),
               lambda v: np.concatenate([v, v[:1]]), lambda v: v[:, ::-1].reshape(6)):
        y = op(x)
        np.testing.assert_array_equal(y.value, op(x.value))
        for i in range(4):
            np.testing.assert_array_equal(y.eps1[i], op(x.eps1[i]))
            for j in range(5):
                np.testing.assert_array_equal(y.eps12[i, j], op(x.eps12[i, j]))
        for j in range(5):
            np.testing.assert_array_equal(y.eps2[j], op(x.eps2[j]))


def test_hyperdual_inside_dual_and_dual_inside_hyperdual():
    # d/da of the Hessian of a x^3 + a^2 x^2 at x = 2: 6x + 4a = 18 at a = 1.5
    assert float(dd.derivative(lambda a: dd.hessian(lambda x: a * x**3 + a**2 * x**2, 2.0),
                               1.5)) == 18.0
    # Hessian of x * d/dy (x y^2)|_{y=x} = 2 x^3: 12 x
    assert float(dd.hessian(lambda x: x * dd.derivative(lambda y: x * y**2, x), 2.0)) == 24.0
    # an explicit Dual inside a HyperDual pass: perturbations stay apart
    outer = HyperDual(1.0, 1.0, 1.0, 0.0, tag=new_tag())
    inner = Dual(2.0, 1.0, tag=new_tag())
    y = outer * inner**2  # d/d(inner) = 2 outer inner; eps12 w.r.t. outer only: 0
    assert isinstance(y, Dual) and isinstance(y.value, HyperDual)
    assert float(np.squeeze(y.tangent.eps1)) == 4.0  # d2/(d outer d inner) = 2 inner
    assert float(np.squeeze(y.value.eps12)) == 0.0


def test_parts_of_broadcast_results_are_laid_out_like_the_value():
    # x + zeros((2, 1)) broadcasts; its parts were laid out in the broadcast's stride
    # order, so a.ravel() (a NumPy view of the value) was a copy of the parts, a detached
    # view whose write crashed.  Hand formula: sum(a.T ** 3) with a[1, -1] += tanh(x3)
    x = np.array([-1.4, -0.6, 0.9, -1.0, 1.1])

    def f(x):
        a = x + np.zeros((2, 1))
        r = a.ravel()
        r[-1] += np.tanh(x[3])
        return np.sum(a.T ** 3)

    h = dd.hessian(f, x, method="hyperdual")
    y = x.copy()
    y[4] += np.tanh(x[3])
    want = np.diag(6 * x + 6 * y)  # the rows x and y of a
    t, s = np.tanh(x[3]), 1 - np.tanh(x[3]) ** 2
    want[3, 3] += 6 * y[4] * s ** 2 + 3 * y[4] ** 2 * (-2 * t * s)
    want[3, 4] = want[4, 3] = 6 * y[4] * s
    np.testing.assert_allclose(h, want, rtol=1e-14)


def test_writes_through_detached_views_land_by_position():
    # the base class's _write_root: a view whose parts are copies (not NumPy views) still
    # writes every part of its root, by position, whatever the parts' layout
    root = HyperDual(np.zeros((2, 3)), np.zeros((2, 2, 3)), np.zeros((1, 2, 3)),
                     np.zeros((2, 1, 2, 3)))
    root._set_parts(tuple(np.asfortranarray(p) for p in root.parts))
    item = HyperDual(np.array([1.0, 2.0]), np.array([[1.0, 2.0], [3.0, 4.0]]),
                     np.array([[5.0, 6.0]]), np.array([[[7.0, 8.0]], [[9.0, 10.0]]]))
    written = np.zeros(6, bool)
    written[[1, 5]] = True
    HyperDual._write_root(root, written, np.array([1, 0]), item.parts, item.value)
    assert root.eps1[:, 0, 1].tolist() == [2.0, 4.0] and root.eps1[:, 1, 2].tolist() == [1, 3]
    assert root.eps2[0].ravel().tolist() == [0, 6, 0, 0, 0, 5]
    assert root.parts[2][:, 1, 2].tolist() == [7.0, 9.0]
