"""The scipy.special rows of dualdiff.rules_special against mpmath, in every mode.

References share no code with the rows: each is a closed form from DLMF (or the inverse
function's derivative from a Newton solve) evaluated in mpmath at 30 digits at the exact
double point, where the rows use other forms (continued fractions, asymptotic series,
reflection, differenced series) in double precision.

Tolerance ("a few ulps times the condition"): a computed derivative g~ of g at x passes when

    |g~ - g(x)| <= K eps (|g(x)| + sum_i |x_i d g / d x_i (x)|) + tiny

i.e. when g~ = g(x (1 + d)) (1 + d') with |d|, |d'| <= K eps: K = 8 ulps of backward error
in each argument, and `tiny` = 8 smallest normals for results at the underflow threshold.
The x_i dg/dx_i terms come from a central difference in mpmath with relative step 1e-20
(at 30 digits good to ~1e-10 relative, plenty for a tolerance; the step stays inside
every domain, whose ends are >= 2**-53 relative away from a double).  Rows whose derivative is a
multiple of SciPy's own value (beta) also get that value's measured error, which no rule
written with it can remove.  Documented exceptions: ive's second derivative for 1 <= |x| <
max(25, v^2) (see IVE_MID) and beta's mixed partial (see _beta_ab_loss).  Each point is
run in forward mode (dd.jacobian forward, dd.derivative), reverse mode (dd.gradient),
hyper-dual and forward-over-reverse Hessians, and a derivative of a derivative (jvp of jvp).
"""

from __future__ import annotations

import functools
import math
import os
import subprocess
import sys
import textwrap

import mpmath as mp
import numpy as np
import pytest
import scipy.special as sc
import scipy.special._ufuncs as U
from hypothesis import given, settings
from hypothesis import strategies as st

import dualdiff as dd
from dualdiff import Dual, rules, rules_special

EPS = 2.0**-52
K = 8.0
TINY = 8 * 2.0**-1022
DPS = 30
# ive(v, x) / i0e / i1e for 1 <= |x| < max(25, v^2): Kummer's series, whose second
# derivative sums terms of both signs for v > 0 (documented in rules_special._ive_series):
# K is multiplied by 1 + v for the second derivative there (1 + v + sqrt(2|x|) nested).
IVE_MID = 25.0

mp.mp.dps = DPS


def M(x):
    return mp.mpf(float(x))


# -- tolerance --------------------------------------------------------------------

def scale(g, args):
    """|g| + sum_i |x_i dg/dx_i| at args (mpmath central difference, relative step)."""
    d = mp.mpf("1e-20")
    val = g(*args)
    out = abs(val)
    for i, a in enumerate(args):
        if a == 0:
            continue
        up = list(args)
        dn = list(args)
        up[i] = a * (1 + d)
        dn[i] = a * (1 - d)
        out += abs((g(*up) - g(*dn)) / (2 * d))
    return val, out


def reference(g, args, dg=None):
    """(value, scale) of the mpmath callable g at one argument (mpf); with dg (g's own
    derivative in closed form) the scale is |g| + |x dg| without a difference."""
    if dg is None:
        return scale(g, args)
    val = g(*args)
    return val, abs(val) + abs(args[0] * dg(*args))


def assert_close(got, ref, what, factor=1.0, extra=0.0):
    """got (float) against ref = (value, scale) from :func:`reference`, tolerance above."""
    val, sc_ = ref
    got = float(got)
    if not mp.isfinite(val) or abs(val) > mp.mpf(np.finfo(float).max):
        # true value overflows: the row must overflow too, with the right sign
        assert math.isinf(got) and (got > 0) == (val > 0), f"{what}: {got} vs {val}"
        return
    tol = K * factor * EPS * sc_ + extra + TINY
    err = abs(mp.mpf(got) - val) if math.isfinite(got) else mp.inf
    assert err <= tol, (f"{what}: got {got!r}, want {mp.nstr(val, 17)}; error "
                        f"{mp.nstr(err, 3)} > tolerance {mp.nstr(tol, 3)}")


# -- running a function in every mode -------------------------------------------------

def modes_1d(f, xs):
    """{mode: (f'(xs), f''(xs))} for an element-wise f of a 1-D array xs, with the
    Jacobian's and Hessians' off-diagonals checked to be zero."""
    xs = np.asarray(xs, dtype=float)
    n = xs.size
    off = ~np.eye(n, dtype=bool)
    with np.errstate(all="ignore"):
        jf = dd.jacobian(f, xs, mode="forward")
        gr = dd.gradient(lambda v: np.sum(f(v)), xs, mode="reverse")
        h1 = dd.hessian(lambda v: np.sum(f(v)), xs, method="hyperdual")
        h2 = dd.hessian(lambda v: np.sum(f(v)), xs, method="forward-over-reverse")
        one = np.ones_like(xs)
        nest = dd.jvp(lambda v: dd.jvp(f, v, one)[1], xs, one)[1]  # derivative of derivative
        d0 = dd.derivative(lambda t: f(t), float(xs[0]))
    for m in (jf, h1, h2):
        assert np.all(m[off] == 0)
    return {"jacobian(forward)": (np.diag(jf), None), "gradient(reverse)": (gr, None),
            "hessian(hyperdual)": (None, np.diag(h1)),
            "hessian(forward-over-reverse)": (None, np.diag(h2)),
            "jvp(forward-over-forward)": (None, nest),
            "derivative": (np.array([d0] + [np.nan] * (n - 1)), None)}


def check_1d(f, xs, d1, d2, name, factor=None, d3=None):
    """Every mode's f', f'' at xs against the mpmath callables d1, d2 (of one argument;
    d3, if given, is the third derivative, for the tolerance of f'')."""
    out = modes_1d(f, xs)
    for i, x in enumerate(xs):
        fac = factor(x) if factor else (1.0, 1.0)
        fac1, fac2 = fac[:2]
        nested = fac[2] if len(fac) > 2 else fac2  # forward-over-reverse f''
        r1, r2 = reference(d1, [M(x)], d2), reference(d2, [M(x)], d3)
        for mode, (g1, g2) in out.items():
            if g1 is not None and not (mode == "derivative" and i):
                assert_close(g1[i], r1, f"{name} f' at {x!r} ({mode})", fac1)
            if g2 is not None:
                assert_close(g2[i], r2, f"{name} f'' at {x!r} ({mode})",
                             nested if "over" in mode else fac2)


# -- references (mpmath, DLMF) ----------------------------------------------------

SQPI = mp.sqrt(mp.pi)


def inverse(G, G12, guess):
    """f' and f'' of the inverse of G (with G', G'' in G12) at x: y from Newton at 40
    digits started from SciPy's value."""
    cache = {}

    def y_of(x):
        if x not in cache:
            y = mp.mpf(float(guess(float(x)))) if math.isfinite(guess(float(x))) else mp.mpf(0)
            for _ in range(200):
                step = (G(y) - x) / G12(y)[0]
                y -= step
                if abs(step) <= abs(y) * mp.mpf(10) ** (-DPS + 3) + mp.mpf(10) ** -400:
                    break
            cache[x] = y
        return cache[x]

    def d1(x):
        return 1 / G12(y_of(x))[0]

    def d2(x):
        g1, g2 = G12(y_of(x))
        return -g2 / g1**3

    return d1, d2


def _erf12(sign):
    return lambda y: (sign * 2 / SQPI * mp.exp(-y * y), sign * -4 * y / SQPI * mp.exp(-y * y))


def _bessel_k(fn, v, k, x, sgn):
    # DLMF 10.6.7 / 10.29.5: C^(k) = 2^-k sum_j binom(k, j) sgn^j C_(v-k+2j)
    v = int(v) if v == int(v) else v  # mpmath is exact at huge x for integer orders only
    return sum(mp.binomial(k, j) * sgn**j * fn(v - k + 2 * j, x) for j in range(k + 1)) / 2**k


def memo(fn):
    """Cache mpmath values per (arguments, working precision)."""
    cached = functools.lru_cache(maxsize=8192)(lambda *a: fn(*a[:-1]))
    return lambda *a: cached(*a, mp.mp.dps)


@memo
def _I(v, x):
    return mp.besseli(abs(int(v)) if v == int(v) else v, x)


@memo
def _J(v, x):
    return mp.besselj(v, x)


@memo
def _Y(v, x):
    # integer orders by the upward recurrence Y_(n+1) = (2n/x) Y_n - Y_(n-1) (stable for Y)
    if v == int(v) and abs(v) >= 2:
        n = abs(int(v))
        y = (2 * (n - 1) / x) * _Y(n - 1, x) - _Y(n - 2, x)
        return y if v > 0 or n % 2 == 0 else -y
    if v == -1:
        return -_Y(1, x)
    return mp.bessely(v, x)


@memo
def _K(v, x):
    # integer orders by the upward recurrence K_(n+1) = K_(n-1) + (2n/x) K_n (stable for K)
    if v == int(v) and abs(v) >= 2:
        n = abs(int(v))
        return _K(n - 2, x) + (2 * (n - 1) / x) * _K(n - 1, x)
    return mp.besselk(abs(v) if v == int(v) else v, x)


def bes(fn, v, sgn, minus=False):
    """(f', f'', no factor, f''') of C_v by DLMF 10.6.7 / 10.29.5 (K: minus at odd k)."""
    m = -1 if minus else 1
    return (lambda x: m * _bessel_k(fn, v, 1, x, sgn), lambda x: _bessel_k(fn, v, 2, x, sgn),
            None, lambda x: m * _bessel_k(fn, v, 3, x, sgn))


def _ive_k(v, k, x):
    """d^k/dx^k of e^-|x| I_v(x) (x != 0) by Leibniz."""
    s = mp.sign(x)
    with mp.workdps(DPS + 2 * int(mp.log10(abs(x) + 1)) + 5):  # the sum cancels to x^-k
        return +mp.exp(-abs(x)) * sum(mp.binomial(k, j) * (-s) ** (k - j)
                                      * _bessel_k(_I, v, j, x, 1) for j in range(k + 1))


def _gamma_density(a):
    def g(x):
        return mp.exp((a - 1) * mp.log(x) - x - mp.loggamma(a)) if x > 0 else mp.mpf(0)
    return g


def _gamma_density_dx(a):
    def g(x):
        return _gamma_density(a)(x) * ((a - 1) / x - 1) if x > 0 else mp.mpf(0)
    return g


def _t_pdf(df):
    c = mp.gamma((df + 1) / 2) / (mp.sqrt(df * mp.pi) * mp.gamma(df / 2))

    def p(t):
        return c * (1 + t * t / df) ** (-(df + 1) / 2)

    def dp(t):
        return -p(t) * (df + 1) * t / (df + t * t)
    return p, dp


# -- samplers: u in [0, 1] -> a point --------------------------------------------

def lin(lo, hi):
    return lambda u: lo + (hi - lo) * u


def logu(lo, hi, signed=False):
    """log-uniform magnitude in [lo, hi]; with signed, the sign from the first half of u."""
    def f(u):
        if signed:
            s, u = (-1.0, 2 * u) if u < 0.5 else (1.0, 2 * u - 1)
        else:
            s = 1.0
        return s * math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * u)
    return f


def unit_tail(u):
    """(0, 1) with both tails: 10**-300 ... 1 - 1e-16."""
    if u < 0.4:
        return 10.0 ** (-300 * (1 - u / 0.4))
    if u > 0.6:
        return 1.0 - 10.0 ** (-16 * (1 - (u - 0.6) / 0.4)) * 0.5
    return (u - 0.4) / 0.2 * 0.98 + 0.01


# name: (f on carriers, sampler, edge points, mpmath f', mpmath f'', tolerance factors)
ERFINV = inverse(mp.erf, _erf12(1), U.erfinv)
ERFCINV = inverse(mp.erfc, _erf12(-1), U.erfcinv)
NDTRI = inverse(mp.ncdf, lambda y: (mp.npdf(y), -y * mp.npdf(y)), U.ndtri)


def _ive_factor_v(p):
    def factor(x):
        # nested (forward-over-reverse): the carriers differentiate the series term by
        # term, d/dz (z^k e^-z) = (k/z - 1) z^k e^-z, which cancels by about sqrt(2|x|)
        if abs(x) >= max(IVE_MID, p * p) or abs(x) < 1:
            return (1.0, 1.0)
        return (1.0, 1.0 + p, 1.0 + p + math.sqrt(2 * abs(x)))
    return factor


_ive_factor = _ive_factor_v(1.0)


UNARY_CASES = {
    "erfinv": (U.erfinv, lambda u: 2 * unit_tail(u) - 1 if u > 0.5 else -unit_tail(u),
               [0.0, 1e-300, 0.3, -0.9, 0.995, -0.9999999, 1 - 2**-52, -1 + 2**-53],
               *ERFINV),
    "erfcinv": (U.erfcinv, lambda u: 2 * unit_tail(u),
                [1e-300, 1e-100, 1e-10, 0.0046, 0.3, 1.0, 1.7, 2 - 2**-51],
                *ERFCINV),
    "ndtri": (U.ndtri, unit_tail,
              [1e-300, 1e-100, 1e-10, 0.0046, 0.5, 0.7, 0.999, 1 - 2**-53], *NDTRI),
    "log_expit": (U.log_expit, logu(1e-300, 1e300, signed=True),
                  [-745.0, -700.0, -40.0, 0.0, 1e-300, 36.0, 40.0, 700.0, 1e300],
                  lambda x: 1 / (1 + mp.exp(x)), lambda x: -mp.exp(x) / (1 + mp.exp(x)) ** 2),
    "loggamma": (U.loggamma, logu(1e-300, 1e300),
                 [1e-300, 1e-5, 0.5, 1.4616321449683622, 3.0, 1e5, 1e300],
                 lambda x: mp.psi(0, x), lambda x: mp.psi(1, x)),
    "rgamma": (U.rgamma, lin(-30, 30),
               [-160.5, -30.0, -3.0, -3.0000001, -2.5, -1e-9, 0.0, 1e-300, 0.3, 0.5, 1.0,
                1.4616321449683622, 5.0, 100.0, 170.0],
               lambda x: mp.diff(mp.rgamma, x), lambda x: mp.diff(mp.rgamma, x, 2)),
    "i0": (U.i0, logu(1e-3, 700, signed=True), [0.0, 1e-300, 0.5, -3.0, 30.0, 700.0],
           *bes(_I, 0, 1)),
    "i1": (U.i1, logu(1e-3, 700, signed=True), [0.0, 1e-300, 0.5, -3.0, 30.0, 700.0],
           *bes(_I, 1, 1)),
    "i0e": (U.i0e, logu(1e-3, 1e12, signed=True),
            [1e-300, 0.5, -3.0, 24.9, 25.0, 30.0, -700.0, 1e5, 1e12],
            lambda x: _ive_k(0, 1, x), lambda x: _ive_k(0, 2, x), _ive_factor),
    "i1e": (U.i1e, logu(1e-3, 1e12, signed=True),
            [0.0, 1e-300, 0.5, -3.0, 24.9, 25.0, 30.0, -700.0, 1e5, 1e12],
            lambda x: _ive_k(1, 1, x), lambda x: _ive_k(1, 2, x), _ive_factor),
    "j0": (U.j0, logu(1e-3, 1e4, signed=True), [0.0, 1e-300, 2.404825557695773, -7.0, 1e4],
           *bes(_J, 0, -1)),
    "j1": (U.j1, logu(1e-3, 1e4, signed=True), [0.0, 1e-300, 3.8317059702075125, -7.0, 1e4],
           *bes(_J, 1, -1)),
    "y0": (U.y0, logu(1e-3, 1e4), [1e-300, 0.8935769662791675, 7.0, 1e4],
           *bes(_Y, 0, -1)),
    "y1": (U.y1, logu(1e-3, 1e4), [1e-150, 2.197141326031017, 7.0, 1e4],
           *bes(_Y, 1, -1)),
    "k0": (U.k0, logu(1e-3, 700), [1e-300, 0.5, 30.0, 700.0, 705.0],
           *bes(_K, 0, 1, minus=True)),
    "k1": (U.k1, logu(1e-3, 700), [1e-150, 0.5, 30.0, 700.0, 705.0],
           *bes(_K, 1, 1, minus=True)),
    "entr": (U.entr, logu(1e-300, 1e300), [1e-300, 1 / math.e, 1.0, 1e300],
             lambda x: -(mp.log(x) + 1), lambda x: -1 / x),
    "exp10": (U.exp10, lin(-300, 300), [-320.0, 0.0, 1e-300, 308.0],
              lambda x: mp.log(10) * mp.power(10, x), lambda x: mp.log(10) ** 2 * mp.power(10, x)),
    # SciPy's own copies of NumPy ufuncs
    "sc.log1p": (U.log1p, logu(1e-300, 1e300), [-0.5, 0.0, 1e-300, 1e300],
                 lambda x: 1 / (1 + x), lambda x: -1 / (1 + x) ** 2),
    "sc.expm1": (U.expm1, lin(-700, 700), [-800.0, 0.0, 1e-300, 709.0],
                 lambda x: mp.exp(x), lambda x: mp.exp(x)),
    "sc.cbrt": (U.cbrt, logu(1e-300, 1e300, signed=True), [-8.0, 1e-300, 1e300],
                lambda x: mp.cbrt(abs(x)) ** -2 / 3,
                lambda x: -2 * mp.sign(x) * mp.cbrt(abs(x)) ** -5 / 9),
    "sc.exp2": (U.exp2, lin(-1000, 1000), [-1074.0, 0.0, 1023.0],
                lambda x: mp.log(2) * mp.power(2, x), lambda x: mp.log(2) ** 2 * mp.power(2, x)),
}


def _unary(name):
    case = UNARY_CASES[name]
    fn, _, _, d1, d2 = case[:5]
    factor = case[5] if len(case) > 5 else None
    d3 = case[6] if len(case) > 6 else None
    return (lambda v: fn(v)), d1, d2, factor, d3


@pytest.mark.parametrize("name", sorted(UNARY_CASES))
@settings(max_examples=3)  # (edge points are pinned in the *_edge_points tests)
@given(us=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3))
def test_unary_rows_random_points(name, us):
    f, d1, d2, factor, d3 = _unary(name)
    xs = [UNARY_CASES[name][1](u) for u in us]
    check_1d(f, xs, d1, d2, name, factor, d3)


@pytest.mark.parametrize("name", sorted(UNARY_CASES))
def test_unary_rows_edge_points(name):
    f, d1, d2, factor, d3 = _unary(name)
    check_1d(f, UNARY_CASES[name][2], d1, d2, name, factor, d3)


# -- rows of two arguments, differentiable in the second only ----------------------

def _pdf3(df):
    p, dp = _t_pdf(df)

    def d2p(t):
        q = (df + 1) * t / (df + t * t)
        return p(t) * (q * q - (df + 1) * (df - t * t) / (df + t * t) ** 2)
    return p, dp, d2p


def _gamma3(a, sign):
    g, dg = _gamma_density(a), _gamma_density_dx(a)

    def d2g(x):
        u = (a - 1) / x - 1
        return g(x) * (u * u - (a - 1) / (x * x)) if x > 0 else mp.mpf(0)
    return (lambda x: sign * g(x)), (lambda x: sign * dg(x)), (lambda x: sign * d2g(x))


def _bes3(fn, sgn, minus=False):
    m = -1 if minus else 1
    return lambda p: (lambda x: m * _bessel_k(fn, p, 1, x, sgn),
                      lambda x: _bessel_k(fn, p, 2, x, sgn),
                      lambda x: m * _bessel_k(fn, p, 3, x, sgn))


def _ive3(p):
    return (lambda x: _ive_k(p, 1, x), lambda x: _ive_k(p, 2, x), lambda x: _ive_k(p, 3, x))


def _gsample(a):
    return lambda u: a * math.exp(-6 + 9 * u)  # a e^-6 ... a e^3 (peak, both tails)


# name: (ufunc, parameters, sampler(p) -> (u -> x), edge points (p, x),
#        p -> (f', f'', f''') in mpmath, p -> tolerance factor or None)
BIN1_CASES = {
    "iv": (U.iv, [0.0, 1.0, 2.5, 7.0], lambda p: logu(1e-3, 700),
           [(0.0, 0.0), (1.0, 1e-300), (2.0, -3.0), (1.0, 700.0), (2.5, 1e-200)],
           _bes3(_I, 1), None),
    "jv": (U.jv, [0.0, 1.0, 2.5, 7.0], lambda p: logu(1e-3, 1e4),
           [(0.0, 0.0), (1.0, 1e-300), (2.0, -3.0), (3.0, 1e4), (2.5, 1e-200)],
           _bes3(_J, -1), None),
    "yv": (U.yv, [0.0, 1.0, 2.5, 7.0], lambda p: logu(1e-2, 1e4),
           [(0.0, 1e-300), (2.0, 3.0), (3.0, 1e4)], _bes3(_Y, -1), None),
    "kv": (U.kv, [0.0, 1.0, 2.5, 7.0], lambda p: logu(1e-3, 690),
           [(0.0, 1e-300), (2.0, 3.0), (1.0, 690.0), (2.5, 600.0)],
           _bes3(_K, 1, minus=True), None),
    "ive": (U.ive, [0.0, 1.0, 2.5, 7.0], lambda p: logu(1e-3, 1e12),
            [(0.0, 1e-300), (2.0, -3.0), (1.0, 1e12), (2.5, 49.0), (7.0, 49.0), (7.0, 1e4)],
            _ive3, _ive_factor_v),
    "gammainc": (U.gammainc, [0.5, 3.0, 9.9, 10.0, 50.0, 169.0, 171.0, 1e4, 1e8], _gsample,
                 [(0.5, 1e-300), (3.0, 1e-5), (10.0, 1e-5), (50.0, 0.5), (171.0, 171.0),
                  (1e8, 1e8 + 1e4), (1e8, 1e8), (3.0, 1400.0), (3.0, 1e5)],
                 lambda a: _gamma3(M(a), 1), None),
    "gammaincc": (U.gammaincc, [0.5, 3.0, 10.0, 1e4], _gsample,
                  [(0.5, 1e-300), (10.0, 1e-5), (1e4, 1e4)],
                  lambda a: _gamma3(M(a), -1), None),
    "stdtr": (U.stdtr, [0.5, 1.0, 3.0, 30.0, 1e6], lambda p: logu(1e-3, 1e200, signed=True),
              [(0.5, 0.0), (1.0, 1e-300), (3.0, -1e100), (30.0, 5.0), (1e6, 1e3), (1e6, 1.0),
               (0.5, 1e200)],
              lambda df: _pdf3(M(df)), None),
}


def _bin1(name, p, xs):
    uf, _, _, _, refs, factor = BIN1_CASES[name]
    d1, d2, d3 = refs(p)
    check_1d(lambda v: uf(p, v), xs, d1, d2, f"{name}({p!r}, x)",
             factor(p) if factor else None, d3)


@pytest.mark.parametrize("name", sorted(BIN1_CASES))
@settings(max_examples=3)  # (edge points are pinned in the *_edge_points tests)
@given(data=st.data())
def test_rows_in_the_second_argument_random_points(name, data):
    uf, params, sampler, _, _, _ = BIN1_CASES[name]
    p = data.draw(st.sampled_from(params), label="parameter")
    us = data.draw(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3), label="u")
    _bin1(name, p, [sampler(p)(u) for u in us])


@pytest.mark.parametrize("name", sorted(BIN1_CASES))
def test_rows_in_the_second_argument_edge_points(name):
    for p, x in BIN1_CASES[name][3]:
        _bin1(name, p, [x])


@pytest.mark.parametrize("name", sorted(BIN1_CASES))
def test_the_parameter_has_no_derivative(name):
    uf = BIN1_CASES[name][0]
    with pytest.raises(TypeError, match="first argument"):
        dd.derivative(lambda p: uf(p, 2.0), 1.5)


# -- rows differentiable in both arguments ------------------------------------------

def _psi(n):
    return lambda x: mp.psi(n, x)


def _beta_partials():
    def lb(k1, k2):  # partials of log B in closed form (DLMF 5.12.1, 5.15.1)
        def f(a, b):
            if (k1, k2) == (1, 0):
                return mp.psi(0, a) - mp.psi(0, a + b)
            if (k1, k2) == (0, 1):
                return mp.psi(0, b) - mp.psi(0, a + b)
            if (k1, k2) == (2, 0):
                return mp.psi(1, a) - mp.psi(1, a + b)
            if (k1, k2) == (0, 2):
                return mp.psi(1, b) - mp.psi(1, a + b)
            return -mp.psi(1, a + b)
        return f
    betaln = {"a": lb(1, 0), "b": lb(0, 1), "aa": lb(2, 0), "ab": lb(1, 1), "bb": lb(0, 2)}
    la, lbb = lb(1, 0), lb(0, 1)
    beta = {"a": lambda a, b: mp.beta(a, b) * la(a, b),
            "b": lambda a, b: mp.beta(a, b) * lbb(a, b),
            "aa": lambda a, b: mp.beta(a, b) * (la(a, b) ** 2 + lb(2, 0)(a, b)),
            "ab": lambda a, b: mp.beta(a, b) * (la(a, b) * lbb(a, b) - mp.psi(1, a + b)),
            "bb": lambda a, b: mp.beta(a, b) * (lbb(a, b) ** 2 + lb(0, 2)(a, b))}
    return betaln, beta


BETALN_P, BETA_P = _beta_partials()


def _beta_ab_loss(a, b):
    """beta's mixed partial is B (L_a L_b + L_ab), L = log B: taken by nesting (the
    b-derivative of the row's -B (psi(a) - psi(a+b))), the two terms cancel where a, b are
    both small or one is much smaller than the other (documented in rules_special): the
    tolerance grows by the ratio |L_a L_b| + |L_ab| : |sum| there; the row's own mixed
    partial (hyper-dual) is held to the plain tolerance."""
    la, lb_, lab = BETALN_P["a"](a, b), BETALN_P["b"](a, b), BETALN_P["ab"](a, b)
    return float((abs(la * lb_) + abs(lab)) / abs(la * lb_ + lab))


def _huber_partials():
    def inner(d, r):
        return abs(r) <= d
    return {"a": lambda d, r: 0 if inner(d, r) else abs(r) - d,
            "b": lambda d, r: r if inner(d, r) else d * mp.sign(r),
            "aa": lambda d, r: 0 if inner(d, r) else -1,
            "ab": lambda d, r: 0 if inner(d, r) else mp.sign(r),
            "bb": lambda d, r: 1 if inner(d, r) else 0}


def _ph(fn):
    def f(d, r):
        with mp.workdps(500):  # the plain forms below cancel (s - 1 for small r/d, ...)
            s = mp.sqrt(1 + (r / d) ** 2)
            return +fn(d, r, s)
    return f


PSEUDO_HUBER_P = {  # f = d^2 (s - 1), s = sqrt(1 + r^2/d^2), differentiated by hand
    "a": _ph(lambda d, r, s: 2 * d * (s - 1) - r * r / (d * s)),
    "b": _ph(lambda d, r, s: r / s),
    "aa": _ph(lambda d, r, s: 2 * (s - 1) - r**2 / (d**2 * s) - r**4 / (d**4 * s**3)),
    "ab": _ph(lambda d, r, s: r**3 / (d**3 * s**3)),
    "bb": _ph(lambda d, r, s: 1 / s**3),
}

REL_ENTR_P = {"a": lambda x, y: mp.log(x / y) + 1, "b": lambda x, y: -x / y,
              "aa": lambda x, y: 1 / x, "ab": lambda x, y: -1 / y, "bb": lambda x, y: x / y**2}
KL_DIV_P = dict(REL_ENTR_P, a=lambda x, y: mp.log(x / y), b=lambda x, y: 1 - x / y)


def _pair(lo, hi):
    f = logu(lo, hi)
    return lambda u, w: (f(u), f(w))


# name: (ufunc, sampler(u, w) -> (a, b), edge points, partials, mpmath f (primal) or None,
#        {partial: tolerance factor(a, b) when it is taken by nesting (forward-over-reverse)})
BIN2_CASES = {
    "betaln": (U.betaln, _pair(1e-3, 1e6), [(1e6, 1e-3), (1e-3, 1e6), (0.5, 0.5), (-0.5, 2.0)],
               BETALN_P, None),
    "beta": (U.beta, _pair(1e-2, 1e3), [(1e3, 1e-3), (20.0, 0.01), (0.5, 0.5), (-0.5, 2.0)],
             BETA_P, mp.beta, {"ab": _beta_ab_loss}),
    "rel_entr": (U.rel_entr, _pair(1e-300, 1e300),
                 [(1e300, 1e-300), (1e-300, 1e300), (1.0, 1.0 + 2**-52), (1 / math.e, 1.0)],
                 REL_ENTR_P, None),
    "kl_div": (U.kl_div, _pair(1e-300, 1e300),
               [(1e300, 1e-300), (1e-300, 1e300), (1.0, 1.0 + 2**-52), (3.0, 3.0)],
               KL_DIV_P, None),
    "huber": (U.huber, lambda u, w: (4 * u + 0.01, 10 * w - 5),
              [(1.0, 0.5), (1.0, -3.0), (2.0, 2.0), (2.0, -2.0), (0.0, 1.0)],
              _huber_partials(), None),
    "pseudo_huber": (U.pseudo_huber, _pair(1e-200, 1e200),
                     [(1.0, 1e-8), (1.0, -1e200), (1e-200, 1.0), (3.0, -4.0), (1e-300, 1e-300)],
                     PSEUDO_HUBER_P, None),
}


def check_2d(name, pts):
    uf, _, _, parts, primal = BIN2_CASES[name][:5]
    factors = BIN2_CASES[name][5] if len(BIN2_CASES[name]) > 5 else {}
    n = len(pts)
    w = np.array([p[0] for p in pts] + [p[1] for p in pts])

    def f(v):
        return uf(v[:n], v[n:])

    with np.errstate(all="ignore"):
        jf = dd.jacobian(f, w, mode="forward")
        gr = dd.gradient(lambda v: np.sum(f(v)), w, mode="reverse")
        hs = {m: dd.hessian(lambda v: np.sum(f(v)), w, method=m)
              for m in ("hyperdual", "forward-over-reverse")}
        ea = np.concatenate([np.ones(n), np.zeros(n)])
        eb = 1.0 - ea
        nest = {key: dd.jvp(lambda v, s=s_: dd.jvp(f, v, s)[1], w, t)[1]
                for key, s_, t in (("aa", ea, ea), ("ab", ea, eb), ("bb", eb, eb))}
    for i, (a, b) in enumerate(pts):
        args = [M(a), M(b)]
        extra = 0.0
        if primal is not None:  # rows that are multiples of SciPy's value inherit its error
            true = primal(*args)
            extra = abs(mp.mpf(float(uf(a, b))) - true) / abs(true)
        refs = {k: reference(g, args) for k, g in parts.items()}

        fac = {k: f(*args) for k, f in factors.items()}

        def ok(got, key, mode):
            val = refs[key][0]
            nested = "over" in mode
            assert_close(got, refs[key], f"{name}{(a, b)} d{key} ({mode})",
                         factor=fac.get(key, 1.0) if nested else 1.0,
                         extra=2 * extra * abs(val))

        ok(jf[i, i], "a", "jacobian(forward)")
        ok(jf[i, n + i], "b", "jacobian(forward)")
        ok(gr[i], "a", "gradient(reverse)")
        ok(gr[n + i], "b", "gradient(reverse)")
        for m, h in hs.items():
            ok(h[i, i], "aa", m)
            ok(h[i, n + i], "ab", m)
            ok(h[n + i, i], "ab", m)
            ok(h[n + i, n + i], "bb", m)
        for key, got in nest.items():
            ok(got[i], key, "jvp(forward-over-forward)")


@pytest.mark.parametrize("name", sorted(BIN2_CASES))
@settings(max_examples=3)  # (edge points are pinned in the *_edge_points tests)
@given(uw=st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=1,
                   max_size=3))
def test_rows_in_both_arguments_random_points(name, uw):
    check_2d(name, [BIN2_CASES[name][1](u, w) for u, w in uw])


@pytest.mark.parametrize("name", sorted(BIN2_CASES))
def test_rows_in_both_arguments_edge_points(name):
    check_2d(name, BIN2_CASES[name][2])


# -- composites: polygamma(n, x), multigammaln(a, d); SciPy's softplus --------------------

@settings(max_examples=3)  # (edge points are pinned in the *_edge_points tests)
@given(n=st.integers(0, 4), us=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=2))
def test_polygamma_in_x(n, us):
    xs = [logu(1e-3, 1e6)(u) for u in us]
    check_1d(lambda v: rules_special.polygamma(n, v), xs, lambda x: mp.psi(n + 1, x),
             lambda x: mp.psi(n + 2, x), f"polygamma({n}, x)", d3=lambda x: mp.psi(n + 3, x))


def test_polygamma_matches_scipy_and_takes_an_array_of_orders():
    x = np.array([0.5, 2.0, 30.0])
    n = np.array([0, 1, 3])
    np.testing.assert_array_equal(rules_special.polygamma(n, x), sc.polygamma(n, x))
    tangent = rules_special.polygamma(n, Dual(x, np.eye(3))).tangent
    for i in range(3):
        assert_close(tangent[i, i], reference(lambda t, k=int(n[i]): mp.psi(k + 1, t), [M(x[i])]),
                     f"polygamma({n[i]}, {x[i]})'")


@settings(max_examples=3)  # (edge points are pinned in the *_edge_points tests)
@given(d=st.integers(1, 6), us=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=2))
def test_multigammaln_in_a(d, us):
    xs = [0.5 * (d - 1) + logu(1e-3, 1e6)(u) for u in us]

    def ref(k):
        return lambda a: sum(mp.psi(k, a - mp.mpf(j) / 2) for j in range(d))

    check_1d(lambda v: rules_special.multigammaln(v, d), xs, ref(0), ref(1),
             f"multigammaln(a, {d})", d3=ref(2))
    assert rules_special.multigammaln(xs[0], d) == pytest.approx(sc.multigammaln(xs[0], d),
                                                                  rel=1e-14)


def test_multigammaln_refuses_like_scipy():
    with pytest.raises(ValueError, match="a > 0.5"):
        rules_special.multigammaln(Dual(0.5, 1.0), 3)
    with pytest.raises(ValueError, match="integer"):
        rules_special.multigammaln(Dual(3.0, 1.0), 2.5)


def test_scipy_softplus_needs_no_row():
    # scipy.special.softplus is np.logaddexp(0, x): the logaddexp row, in both tails
    xs = [-745.0, -40.0, 0.0, 1e-300, 30.0, 700.0, 1e300]
    check_1d(lambda v: sc.softplus(v), xs, lambda x: 1 / (1 + mp.exp(-x)),
             lambda x: mp.exp(-x) / (1 + mp.exp(-x)) ** 2, "softplus")


# -- keys, names, refusals ------------------------------------------------------------

NEW_UNARY = ["erfinv", "erfcinv", "ndtri", "log_expit", "loggamma", "rgamma", "i0", "i1",
             "i0e", "i1e", "j0", "j1", "y0", "y1", "k0", "k1", "entr", "exp10", "log1p",
             "expm1", "cbrt", "exp2"]
NEW_BINARY = ["beta", "betaln", "gammainc", "gammaincc", "iv", "ive", "jv", "yv", "kv",
              "rel_entr", "kl_div", "huber", "pseudo_huber", "stdtr"]


def test_every_new_row_is_in_the_tables_keyed_on_the_ufunc():
    for name in NEW_UNARY:
        assert getattr(U, name) in rules.UNARY, name
    for name in NEW_BINARY:
        assert getattr(U, name) in rules.BINARY, name
    assert all(isinstance(k, np.ufunc) for k in rules_special.UNARY_SPECIAL)
    assert all(isinstance(k, np.ufunc) for k in rules_special.BINARY_SPECIAL)
    assert U.log1p is not np.log1p and rules.UNARY[U.log1p] is rules.UNARY[np.log1p]


def test_special_name():
    assert rules_special.special_name(U.jv) == "scipy.special.jv"
    assert rules_special.special_name(sc.kve) == "scipy.special.kve"
    assert rules_special.special_name(U._zeta) == "scipy.special.zeta"
    assert rules_special.special_name(U.log1p) == "scipy.special.log1p"
    assert rules_special.special_name(np.log1p) == "np.log1p"
    assert rules_special.special_name(np.linalg.det) == "np.linalg.det"


REFUSED = [sc.kve, sc.ellipk, sc.struve, sc.hyp2f1, sc.airy]


@pytest.mark.parametrize("func", REFUSED, ids=lambda f: f.__name__)
def test_other_scipy_special_ufuncs_are_refused(func):
    args = [Dual(np.array([0.3, 0.6]), np.eye(2))] + [0.5] * (func.nin - 1)
    with pytest.raises(TypeError, match=func.__name__):
        func(*args[::-1] if func.nin > 1 else args)


def test_refusals_name_scipy_functions_by_their_scipy_name():
    with pytest.raises(TypeError, match=r"scipy\.special\.kve"):
        sc.kve(0.5, Dual(np.array([0.3, 0.6]), np.eye(2)))


# -- SCIPY_ARRAY_API=1 ----------------------------------------------------------------

ARRAY_API_SCRIPT = textwrap.dedent("""
    import json, numpy as np
    import scipy.special as sc, scipy.special._ufuncs as U
    import dualdiff as dd
    from dualdiff import rules, rules_special
    out = {"erf_is_ufunc": isinstance(sc.erf, np.ufunc),
           "erf_wraps": sc.erf.__wrapped__ is U.erf,
           "name": rules_special.special_name(sc.erf)}
    # every public scipy.special function that wraps a ufunc with a row has that row
    out["wrappers_keyed"] = all(
        getattr(f, "__wrapped__", None) in rules.UNARY or getattr(f, "__wrapped__", None)
        in rules.BINARY for f in (sc.erf, sc.expit, sc.gammaln, sc.digamma, sc.xlogy,
                                  sc.erfinv, sc.betaln, sc.i0e, sc.exp10, sc.rgamma))
    try:
        dd.derivative(sc.erf, 0.5)
        out["plain"] = "ok"
    except TypeError as e:
        out["plain"] = str(e)
    # the wrappers find the ufuncs in the carriers' namespace (xp.special) and their rows
    out["d_erf"] = dd.derivative(sc.erf, 0.5)
    out["d_expit"] = dd.derivative(sc.expit, 0.5)
    out["d_erfinv"] = dd.derivative(sc.erfinv, 0.5)
    out["d_jv"] = dd.derivative(lambda x: sc.jv(1.0, x), 0.5)
    out["h_gammaln"] = dd.hessian(lambda x: np.sum(sc.gammaln(x)), np.array([2.5]),
                                  method="forward-over-reverse").tolist()
    out["h_betaln"] = dd.hessian(lambda x: sc.betaln(x[0], x[1]), np.array([2.0, 3.0]),
                                 method="hyperdual").tolist()
    try:
        sc.ellipk(dd.Dual(0.5, 1.0))
    except TypeError as e:
        out["refused"] = str(e)
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def array_api_run():
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", ARRAY_API_SCRIPT], env=env, cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    import json

    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_array_api_wrappers_find_the_rows(array_api_run):
    out = array_api_run
    assert not out["erf_is_ufunc"] and out["erf_wraps"]  # SciPy's wrappers are in place
    assert out["name"] == "scipy.special.erf"
    assert out["wrappers_keyed"]
    # a carrier that answers __array_namespace__ with NumPy reaches the ufunc and its row
    assert out["d_erf"] == pytest.approx(2 / math.sqrt(math.pi) * math.exp(-0.25), rel=1e-15)
    assert out["d_expit"] == pytest.approx(sc.expit(0.5) * sc.expit(-0.5), rel=1e-15)
    assert out["d_erfinv"] == pytest.approx(math.sqrt(math.pi) / 2 * math.exp(U.erfinv(0.5) ** 2),
                                            rel=1e-15)
    assert out["d_jv"] == pytest.approx(0.5 * (U.j0(0.5) - U.jv(2.0, 0.5)), rel=1e-15)
    assert out["h_gammaln"][0][0] == pytest.approx(float(mp.psi(1, 2.5)), rel=1e-14)
    assert out["h_betaln"][0][1] == pytest.approx(-float(mp.psi(1, 5.0)), rel=1e-14)
    assert "ellipk" in out["refused"] and "dualdiff" in out["refused"]


def test_array_api_wrappers_accept_carriers_as_they_are(array_api_run):
    assert array_api_run["plain"] == "ok"


def test_outside_the_domain_the_derivative_is_nan_like_the_value():
    with np.errstate(all="ignore"):
        for f, x in ((U.loggamma, -1.5), (lambda t: U.gammainc(2.0, t), -1.0),
                     (U.erfinv, 1.5), (U.ndtri, -0.5), (lambda t: U.jv(0.5, t), -2.0)):
            assert np.isnan(f(x))
            assert np.isnan(dd.derivative(f, x))
            assert np.isnan(dd.hessian(lambda v: np.sum(f(v)), np.array([x]),
                                       method="hyperdual")[0, 0])
