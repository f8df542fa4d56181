"""Rows for scipy.special: first and second derivatives in their real arguments.

Same format as :mod:`dualdiff.rules` (``UNARY_SPECIAL[ufunc] = (d1(x, y), d2(x, y, d1))``,
``BINARY_SPECIAL[ufunc] = ((fx, fy), (fxx, fxy, fyy))``); :func:`register` merges them
into the core tables.  Rows are keyed on the ufunc objects of ``scipy.special._ufuncs``:
with ``SCIPY_ARRAY_API=1`` the public names (``scipy.special.erf``) are Python wrappers
that end in those same ufuncs (see :func:`register`), so one key serves both settings.

Every row uses NumPy / SciPy calls that have rows themselves, so it also runs on
carriers (second derivatives by nesting), and its first-derivative entries are written
so that their own derivatives do not cancel either.  Rows avoid cancellation and
intermediate overflow: inverse functions in their tails (erfinv, erfcinv, ndtri) take
f' from x through Laplace's continued fraction for erfc instead of exp(y**2) (which
multiplies the rounding of y by 2 y**2: 1400 ulps at erfcinv(1e-300)); digamma
differences (beta, betaln) are one asymptotic difference; gammainc's density goes
through Temme's form where x**(a-1) e**-x / Gamma(a) would over- or underflow; the
scaled Bessel functions (i0e, i1e, ive) use the derivative of their asymptotic series
for large |x|; Bessel values of orders 0, 1 come from cephes and tiny x from the power
series (SciPy's AMOS iv / jv return 0 below x ~ 1e-155).

Known limits (measured in tests/test_special_rows.py):

* ive for 1 <= |x| < max(25, v**2) sums Kummer's series (i0e, i1e: v = 0, 1), exact
  for v = 0; for v > 0 the second derivative sums terms of both signs: about v ulps
  (13 at v = 7); nested (forward-over-reverse) the carriers differentiate the series
  term by term, d/dz (z^k e^-z) = (k/z - 1) z^k e^-z, which cancels by about sqrt(2|x|)
  more.  Below |x| = 1 the recurrence form, which cancels by at most 2|x|.
* beta's mixed partial B (L_a L_b + L_ab), L = log B, is a sum of positive terms here
  (:func:`_beta_ab`); taken by nesting (forward-over-reverse: the b-derivative of
  -B (psi(a) - psi(a+b))) it cancels where a and b are both small or far apart (a = b =
  0.01: 5 digits).  betaln's partials do not.
* kv returns 0 (SciPy's primal, AMOS) from x ~ 699 on; so does its derivative.  k0, k1
  and their rows hold to x ~ 705.
* gammainc / gammaincc are differentiable in x only: d/da has no closed form (a
  hypergeometric 2F2 / Meijer G), and no series here is exact over the whole (a, x)
  range (the uniform asymptotics at a ~ x large would be needed): a is NONDIFF.
* Non-ufuncs (polygamma, multigammaln) are composites of rows below; SciPy's own
  functions convert their argument with np.asarray and cannot take a carrier.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.special._ufuncs as U

from .rules import NONDIFF
from .rules import mills as _mills
from .rules import sinpi_cospi as _sinpi_cospi

zeta = U._zeta  # Hurwitz zeta(s, q), the ufunc behind scipy.special.zeta

PI = math.pi
SQRT_2PI = math.sqrt(2.0 * math.pi)
SQRT_PI_2 = math.sqrt(math.pi) / 2.0
LN10 = math.log(10.0)
LN2 = math.log(2.0)
LOG_PI = math.log(math.pi)


# -- shared helpers (all written with calls that run on carriers) ---------------

def _tail(x, y, w, u, body, scale):
    """f' of an inverse of erfc-like functions: ``scale / (w K(u))`` where |y| is in the
    tail (u >= 3/2, w the complement of x there), ``body(y)`` elsewhere (where
    body's e**(u^2) multiplies the rounding of y by at most 2 u^2 < 4.5)."""
    tail = (u >= 1.5) & np.isfinite(u)
    if not np.any(tail):  # the common case: skip the 100 levels of the fraction
        return body(y)
    uu = np.where(tail, u, 2.0)
    ww = np.where(tail, w, 1.0)
    yb = np.where(tail, 0.0, y)
    return np.where(tail, scale / (ww * _mills(uu)), body(yb))


# Bernoulli numbers B_2 ... B_16 for the asymptotic series of lgamma / digamma
_B = (1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730, 7.0 / 6,
      -3617.0 / 510)
_SHIFT = 12.0  # the asymptotic series below hold to < 1e-17 relative from here on


def _frac(x, h):
    """h / (x + h), written so that its derivatives (taken on carriers) do not cancel:
    d/dh [h / (x + h)] = x / (x + h)^2 comes out of 1 / (1 + x/h) as one product where
    |h| > |x|, while the quotient rule on h / (x + h) subtracts two terms of size 1/h."""
    near = np.abs(h) <= np.abs(x)
    hs = np.where(near, 1.0, h)
    return np.where(near, h / (x + h), 1.0 / (1.0 + x / hs))


def _dpsi_asym(x, h):
    """psi(x + h) - psi(x) for x, x + h >= 12: the asymptotic series differenced term by
    term (log1p / expm1, so no cancellation however small h / x)."""
    lg = np.log1p(h / x)
    out = lg + _frac(x, h) / (2.0 * x)
    x2 = x * x
    xp = x2
    for k, b in enumerate(_B, start=1):
        out = out - (b / (2 * k)) * np.expm1(-2.0 * k * lg) / xp
        xp = xp * x2
    return out


def _dpsi1_asym(x, h):
    """psi'(x + h) - psi'(x) for x, x + h >= 12, as :func:`_dpsi_asym`."""
    lg = np.log1p(h / x)
    out = -h / (x * (x + h)) + 0.5 * np.expm1(-2.0 * lg) / (x * x)
    x2 = x * x
    xp = x2 * x
    for k, b in enumerate(_B, start=1):
        out = out + b * np.expm1(-(2.0 * k + 1.0) * lg) / xp
        xp = xp * x2
    return out


def _shifted(x, h, asym, term):
    """Difference of psi (or psi') at x + h and x for x > 0, x + h > 0: shift both up by m
    (recurrence psi(z + 1) = psi(z) + 1/z) until they pass 12, then the asymptotic
    difference; elsewhere the plain difference of the two values."""
    ok = (x > 0) & (x + h > 0)
    xs = np.where(ok, x, _SHIFT)
    hs = np.where(ok, h, 0.0)
    base = np.minimum(xs, xs + hs)
    m = np.where(base < _SHIFT, np.ceil(_SHIFT - base), 0.0)  # piecewise constant
    out = asym(xs + m, hs)
    for j in range(int(_SHIFT) + 1):
        inside = j < m
        if not np.any(inside):
            break
        xj = np.where(inside, xs + j, 1.0)
        out = out + np.where(inside, term(xj, hs), 0.0)
    return ok, out


def _dpsi(x, h):
    """psi(x + h) - psi(x), accurate for x > 0, x + h > 0 (plain difference elsewhere).

    >>> float(_dpsi(1e6, 1e-3))  # the plain difference of psi values loses 7 digits here
    1.0000004995001662e-09
    """
    ok, out = _shifted(x, h, _dpsi_asym, lambda xj, hs: _frac(xj, hs) / xj)
    if np.all(ok):
        return out
    return np.where(ok, out, U.psi(x + h) - U.psi(x))


def _dpsi1(x, h):
    """psi'(x + h) - psi'(x), accurate for x > 0, x + h > 0 (plain difference elsewhere).

    >>> float(_dpsi1(1e6, 1e-3))
    -1.0000009990004983e-15
    """
    ok, out = _shifted(x, h, _dpsi1_asym,
                       lambda xj, hs: -hs * (2.0 * xj + hs) / (xj * xj * (xj + hs) * (xj + hs)))
    if np.all(ok):
        return out
    return np.where(ok, out, zeta(2.0, x + h) - zeta(2.0, x))


def _psi_gap(x, h):
    """Q = (psi(x+h) - psi(x))/h - psi'(x+h) > 0 for x > 0, h > 0: the mean of psi' over
    [x, x+h] minus its last value.  For h <= 2x the Taylor series at x + h,
    Q = sum_{n>=2} zeta(n+1, x+h) h^(n-1) (positive terms, ratio <= 2/3); beyond, the
    difference itself (the mean then exceeds the last value 2.5 times or more)."""
    t = x + h
    series = h <= 2.0 * x
    hs = np.where(series, h, 0.0)
    ts = np.where(series, t, 1.0)
    out = 0.0
    power = hs
    for n in range(2, 120):  # (2/3)**100 < 1e-17
        term = zeta(n + 1.0, ts) * power
        out = out + term
        if np.all(term <= 1e-17 * out):
            break
        power = power * hs
    if np.all(series):
        return out
    xd, hd = np.where(series, 1.0, x), np.where(series, 1.0, h)
    return np.where(series, out, _dpsi(xd, hd) / hd - zeta(2.0, xd + hd))


def _beta_ab(a, b, z):
    """d^2 B / da db = B (L_a L_b + L_ab), L = log B.  Written with psi(x) = psi(1+x) - 1/x
    the poles cancel exactly and what is left is a sum of positive terms (a, b > 0):
    L_a L_b + L_ab = (a/s) Q(1+a, b) + (b/s) Q(1+b, a) + D(1+a, b) D(1+b, a), s = a + b,
    D = psi difference (:func:`_dpsi`), Q = :func:`_psi_gap`."""
    pos = (a > 0) & (b > 0)
    if np.all(pos):
        s_ = a + b
        return z * ((a / s_) * _psi_gap(1.0 + a, b) + (b / s_) * _psi_gap(1.0 + b, a)
                    + _dpsi(1.0 + a, b) * _dpsi(1.0 + b, a))
    ap, bp = np.where(pos, a, 1.0), np.where(pos, b, 1.0)
    plain = z * (_dpsi(a, b) * _dpsi(b, a) - zeta(2.0, a + b))
    return np.where(pos, _beta_ab(ap, bp, z), plain)


def _stirling_corr(a):
    """lgamma(a) - [(a - 1/2) log a - a + log(2 pi) / 2] for a >= 10 (8 terms: < 1e-17)."""
    inv = 1.0 / a
    inv2 = inv * inv
    out = 0.0
    for k in range(len(_B), 0, -1):
        out = out * inv2 + _B[k - 1] / (2 * k * (2 * k - 1))
    return out * inv


def _temme_phi(a, x):
    """phi = t - log1p(t) >= 0 at t = (x - a) / a, without cancellation: for 1/2 <= x/a <= 4
    through u = (x - a) / (x + a) (log1p(t) = 2 atanh u): phi = 2u^2/(1 - u) - 2 sum_k
    u^(2k+1)/(2k+1); outside, (x - a)/a - log(x/a), two terms of one sign."""
    r = x / a
    mid = (r >= 0.5) & (r <= 4.0)
    xm = np.where(mid, x, a)
    u = (xm - a) / (xm + a)
    u2 = u * u
    s = 0.0
    for k in range(40, -1, -1):  # |u| <= 0.6: 0.36**41 / 85 < 1e-20
        s = s * u2 + 1.0 / (2 * k + 3)
    series = 2.0 * u2 / (1.0 - u) - 2.0 * u2 * u * s
    ro = np.where(mid, 2.0, r)
    return np.where(mid, series, (ro - 1.0) - np.log(ro))


def _gamma_density(a, x):
    """x**(a-1) e**-x / Gamma(a), d/dx gammainc(a, x), free of cancellation and of
    intermediate overflow.  Where no factor over- or underflows, the product
    x**(a-1) e**(-x/2) e**(-x/2) / Gamma(a) (each factor to an ulp); elsewhere (a >= 10)
    Temme's form sqrt(a / 2 pi) exp(-a phi - corr(a)) / x, which is exact to
    a |log(x/a)| ulps (the condition in a; in x it is |a - 1 - x|)."""
    with np.errstate(divide="ignore"):
        lx = np.log(np.where(x > 0, x, 1.0))
    prod_ok = (a < 10.0) | ((a < 170.0) & (np.abs((a - 1.0) * lx) < 700.0))
    lo = prod_ok & (x <= 1400.0)  # beyond 1400 the product underflows (a < 170)
    xs = np.where(lo, x, 1.0)
    a_s = np.where(prod_ok, a, 1.0)
    half = np.exp(-0.5 * xs)
    prod = (xs ** (a_s - 1.0) * half) * half * U.rgamma(a_s)
    big = ~prod_ok & (x > 0)
    if not np.any(big):
        return np.where(lo, prod, 0.0)
    ab = np.where(big, a, 10.0)
    xb = np.where(big, x, 10.0)
    temme = np.sqrt(ab / (2.0 * PI)) * np.exp(-ab * _temme_phi(ab, xb) - _stirling_corr(ab)) / xb
    return np.where(lo, prod, np.where(big, temme, 0.0))


def _gammainc_dx(a, x, z):
    return np.where(np.isnan(z), np.nan, _gamma_density(a, x))  # x < 0: nan, like gammainc


def _gammainc_dxx(a, x, z):
    return np.where(np.isnan(z), np.nan, _gamma_density(a, x) * (((a - 1.0) - x) / x))


# -- scaled modified Bessel functions ive(v, x) = iv(v, x) e**-|x| -----------------

_IVE_TERMS = 40


def _ive_far(v, x):
    """|x| from which the asymptotic series of ive(v, x) is summed (34 terms: the
    smallest term is about e**(-2|x|) once |x| >= max(25, v**2); 25: relative
    error < 1e-19 in the second derivative, which is 3/(4x^2) of ive)."""
    return np.maximum(25.0, v * v)


def _ive_asym(v, ax, order):
    """d^order/dx^order of (2 pi x)**-1/2 sum_k (-1)**k a_k(v) x**-k at x = ax > 0,
    a_k = prod_{j<=k} (4v^2 - (2j-1)^2) / (8 j), differentiated term by term."""
    mu = 4.0 * v * v
    inv = 1.0 / ax
    coef = 1.0
    out = 0.0
    power = inv ** (0.5 + order)
    for k in range(_IVE_TERMS):
        if k:
            coef = coef * (-(mu - (2 * k - 1) ** 2) / (8.0 * k))
        c = coef
        for j in range(order):
            c = c * -(k + 0.5 + j)
        out = out + c * power
        power = power * inv
    return out / SQRT_2PI


def _ive_series(v, ax, order):
    """d^order/dx^order of ive(v, x) at x = ax > 0 from Kummer's form
    ive(v, x) = (x/2)^v / Gamma(v+1) e^-z M(a, 2a, z), z = 2x, a = v + 1/2, summed as
    e^-z sum_k t_k w_k with t_k the (positive) terms of M and, from the contiguous
    relations, w_k = v - z a/(2a + k) (first order) or v(v-1) - 2vz a/(2a + k) +
    z^2 a (a + (a + k)/(2a + k + 1))/(2a + k)^2 (second).  For v = 0 every w_k has one
    sign; for v > 0 the terms of the other sign lie in the tail of t_k, so the sum
    cancels by a factor about v, not the 2x (x^2) of the recurrence form."""
    z = 2.0 * ax
    a = v + 0.5
    b = 2.0 * v + 1.0
    ez = np.exp(-z)
    t = ez  # e^-z t_k, kept scaled so that nothing overflows
    total = 0.0
    for k in range(4000):
        w = v - z * a / (b + k) if order == 1 else (
            v * (v - 1.0) - 2.0 * v * z * a / (b + k)
            + z * z * a * (a + (a + k) / (b + k + 1.0)) / ((b + k) * (b + k)))
        total = total + t * w
        # |w_k| <= (v + z)^order: stop once the terms left are below rounding
        if np.all(k > z) and np.all(np.abs(t) * (v + z) ** order <= 1e-18 * np.abs(total)):
            break
        t = t * ((a + k) / (b + k)) * (z / (k + 1.0))
    return total * (0.5 ** v) * U.rgamma(v + 1.0) * ax ** (v - order)


def _ive_d(v, x, y, d2=False):
    """First (or second) derivative of ive(v, x) in x.  |x| < 1: from the recurrences
    (2 I_v' = I_(v-1) + I_(v+1)); up to :func:`_ive_far`: :func:`_ive_series` (the
    recurrence form cancels there to 1/(2|x|) of its terms, 3/(4x^2) in the second
    derivative); beyond: the asymptotic series, differentiated term by term."""
    s = np.sign(x)
    if d2:
        near = 0.25 * (U.ive(v - 2.0, x) + 2.0 * y + U.ive(v + 2.0, x)) \
            - s * (U.ive(v - 1.0, x) + U.ive(v + 1.0, x)) + y
    else:
        near = 0.5 * (U.ive(v - 1.0, x) + U.ive(v + 1.0, x)) - s * y
    ax = np.abs(x)
    far = ax >= _ive_far(v, x)
    mid = ~far & (ax >= 1.0) & (v >= 0)
    if not np.any(far | mid):
        return near
    # ive(v, -x) = (-1)**v ive(v, x) for integer v (non-integer v: nan, like ive itself)
    parity = np.where(np.remainder(v, 2.0) == 0, 1.0,
                      np.where(np.remainder(v, 2.0) == 1, -1.0, np.nan))
    flip = np.where(x < 0, parity * (1.0 if d2 else -1.0), 1.0)
    order = 2 if d2 else 1
    out = near
    if np.any(mid):
        vm = np.where(mid, v, 0.0)
        out = np.where(mid, flip * _ive_series(vm, np.where(mid, ax, 1.0), order), out)
    if np.any(far):
        out = np.where(far, flip * _ive_asym(v, np.where(far, ax, 30.0), order), out)
    return out


# -- rows -------------------------------------------------------------------------

def _erfinv_d1(x, y):
    # erf(y) = x: y' = sqrt(pi)/2 e**(y^2); in the tails e**(y^2) = erfcx(|y|)/(1 - |x|)
    return _tail(x, y, 1.0 - np.abs(x), np.abs(y), lambda yb: SQRT_PI_2 * np.exp(yb * yb), 0.5)


def _erfcinv_d1(x, y):
    # erfc(y) = x: y' = -sqrt(pi)/2 e**(y^2); tails: erfc(|y|) = x (y > 0) or 2 - x (y < 0)
    return _tail(x, y, np.where(y > 0, x, 2.0 - x), np.abs(y),
                 lambda yb: -SQRT_PI_2 * np.exp(yb * yb), -0.5)


def _ndtri_d1(x, y):
    # ndtr(y) = x: y' = sqrt(2 pi) e**(y^2/2); tails: erfc(|y|/sqrt 2) / 2 = x or 1 - x
    return _tail(x, y, np.where(y < 0, x, 1.0 - x), np.abs(y) / math.sqrt(2.0),
                 lambda yb: SQRT_2PI * np.exp(0.5 * yb * yb), 1.0 / math.sqrt(2.0))


def _rgamma_d1(x, y):
    # x >= 1/2: -psi(x) / Gamma(x); below, the reflection 1/Gamma(x) = Gamma(1-x) sin(pi x)/pi
    # differentiated: Gamma(1-x) (cos(pi x) - psi(1-x) sin(pi x) / pi), so no 0 * inf at the
    # poles of psi (x = 0, -1, ...) and no cancellation near them.
    refl = x < 0.5
    xr = np.where(refl, x, 0.0)
    xd = np.where(refl, 1.0, x)
    s, c = _sinpi_cospi(xr)
    g = U.gamma(1.0 - xr)
    r = g * (c - U.psi(1.0 - xr) * s / PI)
    return np.where(refl, r, -U.psi(xd) * np.where(refl, 0.0, y))


def _rgamma_d2(x, y, d):
    refl = x < 0.5
    xr = np.where(refl, x, 0.0)
    xd = np.where(refl, 1.0, x)
    s, c = _sinpi_cospi(xr)
    g = U.gamma(1.0 - xr)
    p1 = U.psi(1.0 - xr)
    r = g * (-2.0 * p1 * c + (p1 * p1 + zeta(2.0, 1.0 - xr) - PI * PI) * s / PI)
    p = U.psi(xd)
    return np.where(refl, r, np.where(refl, 0.0, y) * (p * p - zeta(2.0, xd)))


def _pos_part(s):
    return np.where(np.abs(s) < 1.0, s / (1.0 + s * s), 1.0 / (s + 1.0 / s))


def _t_const(df):
    """Gamma((df+1)/2) / (Gamma(df/2) sqrt(df pi)); for df >= 20 through Stirling's
    corrections (the plain form subtracts two logs of size log(df))."""
    big = df >= 20.0
    a = 0.5 * np.where(big, df, 20.0)
    far = np.exp(a * np.log1p(0.5 / a) - 0.5 + _stirling_corr(a + 0.5)
                 - _stirling_corr(a)) / SQRT_2PI
    dn = np.where(big, 1.0, df)
    near = np.exp(-0.5 * np.log(dn) - U.betaln(0.5 * dn, 0.5))
    return np.where(big, far, near)


def _stdtr_dt(df, t, z):
    # Student t density: c(df) (1 + s^2)**(-(df+1)/2), s = t / sqrt(df)
    s = t / np.sqrt(df)
    a = np.abs(s)
    inner = np.where(a < 1.0, a, 1.0)
    outer = np.where(a < 1.0, 1.0, a)
    log1ps2 = np.where(a < 1.0, np.log1p(inner * inner),
                       2.0 * np.log(outer) + np.log1p(1.0 / (outer * outer)))
    return _t_const(df) * np.exp(-0.5 * (df + 1.0) * log1ps2)


def _stdtr_dtt(df, t, z):
    s = t / np.sqrt(df)
    return -_stdtr_dt(df, t, z) * ((df + 1.0) / np.sqrt(df)) * _pos_part(s)


def _pseudo_huber_rows():
    """f = d^2 (s - 1), s = sqrt(1 + t^2), t = r/d.  Every partial is written with bounded
    ratios A = t/s, B = t/(s + 1) (= (s - 1)/t, no s - 1 cancellation), C = 1/s: in t
    where |r| <= |d|, in w = d/r = 1/t beyond (A = sgn/h, B = sgn/(h + |w|), C = |w|/h,
    h = sqrt(1 + w^2)), so nothing overflows, and the derivatives of f_d, f_r taken on
    carriers (second derivatives by nesting) cancel by at most a factor 2."""
    def split(d, r):
        near = np.abs(r) <= np.abs(d)
        dn, rn = np.where(near, d, 1.0), np.where(near, r, 0.0)
        dn = np.where(dn == 0, 1.0, dn)
        df, rf = np.where(near, 1.0, d), np.where(near, 1.0, r)
        t = rn / dn
        w = df / rf
        return near, dn, rn, df, rf, t, np.hypot(1.0, t), w, np.hypot(1.0, w)

    def abc(d, r):
        near, dn, rn, df, rf, t, s, w, h = split(d, r)
        sg = np.sign(rf) * np.where(df < 0, -1.0, 1.0)
        return (np.where(near, t / s, sg / h), np.where(near, t / (s + 1.0), sg / (h + np.abs(w))),
                np.where(near, 1.0 / s, np.abs(w) / h))

    def fd(d, r, z):
        near, dn, rn, df, rf, t, s, w, h = split(d, r)
        sd = np.where(df < 0, -1.0, 1.0)
        return np.where(near, rn * (t / s) * (t / (s + 1.0)) ** 2,
                        np.abs(rf) * sd / (h * (h + np.abs(w)) ** 2))

    def fr(d, r, z):
        near, dn, rn, df, rf, t, s, w, h = split(d, r)
        return np.where(near, rn / s, np.sign(rf) * df / h)

    def fdd(d, r, z):
        a, b, c = abc(d, r)
        return -(a * b) ** 2 * (2.0 + c)

    def fdr(d, r, z):
        return abc(d, r)[0] ** 3

    def frr(d, r, z):
        return abc(d, r)[2] ** 3

    return ((fd, fr), (fdd, fdr, frr))


def _huber_rows():
    # |r| <= d: r^2/2; else d (|r| - d/2).  Kinks at |r| = d take the inner branch.
    def inner(d, r):
        return np.abs(r) <= d

    return (
        (lambda d, r, z: np.where(inner(d, r), 0.0, np.abs(r) - d),
         lambda d, r, z: np.where(inner(d, r), r, d * np.sign(r))),
        (lambda d, r, z: np.where(inner(d, r), 0.0, -1.0),
         lambda d, r, z: np.where(inner(d, r), 0.0, np.sign(r)),
         lambda d, r, z: np.where(inner(d, r), 1.0, 0.0)),
    )


def _log_ratio(x, y):
    """log(x / y) from a correctly rounded ratio, as log(x/y) or -log(y/x), whichever
    keeps the intermediates of its derivatives in range (on carriers d/dy log(x/y)
    forms (x/y)/y); log x - log y only where the ratio itself leaves the normal range
    (there |log(x/y)| > 708 and the difference cannot cancel)."""
    r = x / y
    ok = (r > 2.2250738585072014e-308) & (r < 1.7976931348623157e308)
    # log(x/y): its y-derivative passes through r/y; -log(y/x): its x-derivative through
    # (y/x)/x.  Take the first unless r/y leaves the range.
    q = np.abs(np.where(ok, r, 1.0) / np.where(ok, y, 1.0))
    first = ok & (q < 1e300) & (q > 1e-300)
    second = ok & ~first
    xb, yb = np.where(first, x, 1.0), np.where(first, y, 2.0)
    xa, ya = np.where(second, x, 2.0), np.where(second, y, 1.0)
    xo, yo = np.where(ok, 1.0, x), np.where(ok, 1.0, y)
    return np.where(first, np.log(xb / yb),
                    np.where(second, -np.log(ya / xa), np.log(xo) - np.log(yo)))


def _one_minus_ratio(x, y):
    """1 - x/y: (y - x)/y near x = y (no cancellation in the value), 1 - x/y away from it
    (no cancellation in the derivative in y, which (y - x)/y would give as 1/y - (y-x)/y^2)."""
    close = np.abs(y - x) < 0.5 * np.abs(y)
    xc, yc = np.where(close, x, 0.0), np.where(close, y, 1.0)
    xf, yf = np.where(close, 0.0, x), np.where(close, 1.0, y)
    return np.where(close, (yc - xc) / yc, 1.0 - xf / yf)


_TINY_X = 1e-8  # below, two terms of the power series of I_v, J_v are exact to rounding


def _series(v, x, sign):
    # (x/2)^v / Gamma(v+1) (1 + sign (x/2)^2 / (v+1)), v >= 0 (relative error < 1e-17)
    h = 0.5 * x
    return h ** v * U.rgamma(v + 1.0) * (1.0 + sign * h * h / (v + 1.0))


def _order(v, x, fn, f0, f1, sign, odd):
    """fn(v, x) for the orders that the recurrences reach: SciPy's order-0/1 functions
    (cephes) for v = 0, +-1, the power series for tiny x (SciPy's iv, jv are AMOS: they
    return 0 from x ~ 1e-155 on, for values around 1e-160, and lose digits for
    non-integer orders at x ~ 1e-200), fn elsewhere."""
    out = np.where(v == 0, f0(x), np.where(np.abs(v) == 1, odd(v) * f1(x), fn(v, x)))
    if sign is None:
        return out
    # (negative integer orders excluded: their leading term is not (x/2)^v / Gamma(v+1))
    small = (np.abs(x) < _TINY_X) & ((v >= 0) | (v != np.round(v)))
    if not np.any(small):
        return out
    xs = np.where(small, x, 1.0)
    vs = np.where(small, v, 2.0)
    return np.where(small, _series(vs, xs, sign), out)


def _one(v):
    return 1.0


def _alt(v):
    return np.sign(v)  # J_-1 = -J_1, Y_-1 = -Y_1


def _I(v, x):
    return _order(v, x, U.iv, U.i0, U.i1, 1.0, _one)


def _J(v, x):
    return _order(v, x, U.jv, U.j0, U.j1, -1.0, _alt)


def _Y(v, x):
    return _order(v, x, U.yv, U.y0, U.y1, None, _alt)


def _K(v, x):
    """K_v(x); integer |v| <= 3 by the upward recurrence K_(n+1) = K_(n-1) + (2n/x) K_n
    from k0, k1 (positive terms: stable; SciPy's kv underflows to 0 from x ~ 699 on,
    where k0, k1 still hold 1e-306)."""
    k0, k1 = U.k0(x), U.k1(x)
    k2 = k0 + (2.0 / x) * k1
    k3 = k1 + (4.0 / x) * k2
    av = np.abs(v)
    return np.where(av == 0, k0, np.where(av == 1, k1, np.where(av == 2, k2, np.where(
        av == 3, k3, U.kv(v, x)))))


def _bessel(fn, sign):
    """Row of C_v(x) in x from 2 C_v' = C_(v-1) + sign C_(v+1) (J, Y: sign -1; I: +1)."""
    return ((NONDIFF, lambda v, x, z: 0.5 * (fn(v - 1.0, x) + sign * fn(v + 1.0, x))),
            (0.0, 0.0,  # fn(v, x), not z: SciPy's iv(1, 1e-300) is 0
             lambda v, x, z: 0.25 * (fn(v - 2.0, x) + 2.0 * sign * fn(v, x) + fn(v + 2.0, x))))


UNARY_SPECIAL = {
    U.erfinv: (_erfinv_d1, lambda x, y, d: 2.0 * y * d * d),
    U.erfcinv: (_erfcinv_d1, lambda x, y, d: 2.0 * y * d * d),
    U.ndtri: (_ndtri_d1, lambda x, y, d: y * d * d),
    # log expit(x) = -softplus(-x): f' = expit(-x), f'' = -expit(x) expit(-x)
    U.log_expit: (lambda x, y: U.expit(-x), lambda x, y, d: -U.expit(x) * d),
    # real loggamma is nan for x < 0 (not an integer): so are its derivatives
    U.loggamma: (lambda x, y: np.where(np.isnan(y), np.nan, U.psi(x)),
                 lambda x, y, d: np.where(np.isnan(y), np.nan, zeta(2.0, x))),
    U.rgamma: (_rgamma_d1, _rgamma_d2),
    U.i0: (lambda x, y: U.i1(x), lambda x, y, d: 0.5 * (y + _I(2.0, x))),
    U.i1: (lambda x, y: 0.5 * (U.i0(x) + _I(2.0, x)),
           lambda x, y, d: 0.25 * (3.0 * y + _I(3.0, x))),
    U.i0e: (lambda x, y: _ive_d(0.0, x, y), lambda x, y, d: _ive_d(0.0, x, y, d2=True)),
    U.i1e: (lambda x, y: _ive_d(1.0, x, y), lambda x, y, d: _ive_d(1.0, x, y, d2=True)),
    U.j0: (lambda x, y: -U.j1(x), lambda x, y, d: 0.5 * (_J(2.0, x) - y)),
    U.j1: (lambda x, y: 0.5 * (U.j0(x) - _J(2.0, x)),
           lambda x, y, d: 0.25 * (_J(3.0, x) - 3.0 * y)),
    U.y0: (lambda x, y: -U.y1(x), lambda x, y, d: 0.5 * (_Y(2.0, x) - y)),
    U.y1: (lambda x, y: 0.5 * (U.y0(x) - _Y(2.0, x)),
           lambda x, y, d: 0.25 * (_Y(3.0, x) - 3.0 * y)),
    # K_0' = -K_1, K_0'' = K_0 + K_1/x; K_1' = -(K_0 + K_1/x), K_1'' = K_1 + K_0/x + 2 K_1/x^2
    # (recurrences with positive terms only, and no kv, which underflows early)
    U.k0: (lambda x, y: -U.k1(x), lambda x, y, d: y + U.k1(x) / x),
    U.k1: (lambda x, y: -(U.k0(x) + y / x),
           lambda x, y, d: y + (U.k0(x) + 2.0 * y / x) / x),
    # entr(x) = -x log x
    U.entr: (lambda x, y: -(np.log(x) + 1.0), lambda x, y, d: -1.0 / x),
    U.exp10: (lambda x, y: LN10 * y, lambda x, y, d: LN10 * d),
}

BINARY_SPECIAL = {
    # beta(a, b) = e**betaln: partials B (psi(a) - psi(a+b)), ...
    U.beta: (
        (lambda a, b, z: -z * _dpsi(a, b), lambda a, b, z: -z * _dpsi(b, a)),
        (lambda a, b, z: z * (_dpsi(a, b) ** 2 - _dpsi1(a, b)),
         _beta_ab,
         lambda a, b, z: z * (_dpsi(b, a) ** 2 - _dpsi1(b, a))),
    ),
    U.betaln: (
        (lambda a, b, z: -_dpsi(a, b), lambda a, b, z: -_dpsi(b, a)),
        (lambda a, b, z: -_dpsi1(a, b), lambda a, b, z: -zeta(2.0, a + b),
         lambda a, b, z: -_dpsi1(b, a)),
    ),
    # gammainc(a, x) in x: the Gamma(a) density; a: NONDIFF (no closed form, see module doc)
    U.gammainc: ((NONDIFF, _gammainc_dx), (0.0, 0.0, _gammainc_dxx)),
    U.gammaincc: ((NONDIFF, lambda a, x, z: -_gammainc_dx(a, x, z)),
                  (0.0, 0.0, lambda a, x, z: -_gammainc_dxx(a, x, z))),
    U.iv: _bessel(_I, 1.0),
    U.jv: _bessel(_J, -1.0),
    U.yv: _bessel(_Y, -1.0),
    U.kv: ((NONDIFF, lambda v, x, z: -0.5 * (_K(v - 1.0, x) + _K(v + 1.0, x))),
           (0.0, 0.0, lambda v, x, z: 0.25 * (_K(v - 2.0, x) + 2.0 * _K(v, x) + _K(v + 2.0, x)))),
    U.ive: ((NONDIFF, lambda v, x, z: _ive_d(v, x, z)),
            (0.0, 0.0, lambda v, x, z: _ive_d(v, x, z, d2=True))),
    # rel_entr(x, y) = x log(x/y); kl_div(x, y) = x log(x/y) - x + y
    U.rel_entr: (
        (lambda x, y, z: _log_ratio(x, y) + 1.0, lambda x, y, z: -x / y),
        (lambda x, y, z: 1.0 / x, lambda x, y, z: -1.0 / y, lambda x, y, z: x / y / y),
    ),
    U.kl_div: (
        (lambda x, y, z: _log_ratio(x, y), lambda x, y, z: _one_minus_ratio(x, y)),
        (lambda x, y, z: 1.0 / x, lambda x, y, z: -1.0 / y, lambda x, y, z: x / y / y),
    ),
    U.huber: _huber_rows(),
    U.pseudo_huber: _pseudo_huber_rows(),
    # stdtr(df, t) in t: the Student t density; df: NONDIFF
    U.stdtr: ((NONDIFF, _stdtr_dt), (0.0, 0.0, _stdtr_dtt)),
}

# SciPy's own copies of NumPy ufuncs take NumPy's rows (see register)
SAME_AS_NUMPY = {U.log1p: np.log1p, U.expm1: np.expm1, U.cbrt: np.cbrt, U.exp2: np.exp2}


# -- composites (not ufuncs in SciPy) ---------------------------------------------

def polygamma(n: Any, x: Any) -> Any:
    """psi^(n)(x), differentiable in x: psi(x) for n = 0, else (-1)**(n+1) n! zeta(n+1, x)
    (SciPy's definition; scipy.special.polygamma itself converts x with np.asarray).

    >>> from dualdiff import Dual
    >>> round(float(polygamma(1, Dual(1.0, 1.0)).tangent[0]), 12)  # psi''(1) = -2 zeta(3)
    -2.404113806319
    """
    n = np.asarray(n)
    fac = (-1.0) ** (n + 1) * U.gamma(n + 1.0)
    if n.ndim == 0:
        return U.psi(x) if n == 0 else fac * zeta(n + 1.0, x)
    return np.where(n == 0, U.psi(x), fac * zeta(np.where(n == 0, 2.0, n + 1.0), x))


def multigammaln(a: Any, d: int) -> Any:
    """log Gamma_d(a) = d(d-1)/4 log(pi) + sum_{j<d} gammaln(a - j/2), differentiable in a.

    >>> from dualdiff import Dual
    >>> out = multigammaln(Dual(3.0, 1.0), 2)  # d/da = psi(3) + psi(2.5)
    >>> round(float(out.tangent[0]), 12)
    1.625940975744
    """
    dd = np.asarray(d)[()]
    if not np.isscalar(dd) or np.floor(dd) != dd:
        raise ValueError("multigammaln: d should be a positive integer (dimension)")
    dd = int(dd)
    if np.any(a <= 0.5 * (dd - 1)):
        raise ValueError(f"multigammaln: condition a > 0.5 * (d-1) = {0.5 * (dd - 1)} not met")
    out = (dd * (dd - 1) * 0.25) * LOG_PI
    for j in range(dd):
        out = out + U.gammaln(a - 0.5 * j)
    return out


COMPOSITES = {"polygamma": polygamma, "multigammaln": multigammaln}
# every key that register() adds (besides aliases of SciPy array-API wrappers)
KEYS = frozenset(UNARY_SPECIAL) | frozenset(BINARY_SPECIAL) | frozenset(SAME_AS_NUMPY)


# -- registration and naming --------------------------------------------------------

def register(unary: dict, binary: dict) -> None:
    """Merge the rows above into ``unary`` / ``binary``, and key every existing row whose
    key is a SciPy array-API wrapper (``SCIPY_ARRAY_API=1``: ``scipy.special.erf`` is a
    Python function around ``_ufuncs.erf``) on the ufunc that the wrapper calls too.

    >>> u, b = {np.log1p: 1}, {}
    >>> register(u, b)
    >>> U.erfinv in u and U.jv in b and u[U.log1p] is u.get(np.log1p)
    True
    """
    for table in (unary, binary):
        for key in list(table):
            inner = getattr(key, "__wrapped__", None)
            if isinstance(inner, np.ufunc) and not isinstance(key, np.ufunc):
                table.setdefault(inner, table[key])
    unary.update(UNARY_SPECIAL)
    binary.update(BINARY_SPECIAL)
    for ours, theirs in SAME_AS_NUMPY.items():
        if theirs in unary:
            unary[ours] = unary[theirs]


_SCIPY_UFUNCS = {id(obj) for obj in vars(U).values() if isinstance(obj, np.ufunc)}


def special_name(func: Any) -> str:
    """How an error message names func: ``scipy.special.jv`` for SciPy's ufuncs (and their
    array-API wrappers), ``np.sin`` for NumPy's.

    >>> special_name(U.jv), special_name(U._zeta), special_name(np.log1p), special_name(U.log1p)
    ('scipy.special.jv', 'scipy.special.zeta', 'np.log1p', 'scipy.special.log1p')
    """
    inner = getattr(func, "__wrapped__", func)
    name = inner.__name__ if id(inner) in _SCIPY_UFUNCS else None
    if name is None and getattr(inner, "__module__", "") == "scipy.special":
        name = getattr(inner, "__name__", None)
    if name is not None:
        return "scipy.special." + name.lstrip("_")
    mod = getattr(func, "__module__", None) or ""
    short = "np.linalg." if "linalg" in mod else "np.fft." if "fft" in mod else "np."
    return short + getattr(func, "__name__", repr(func))
