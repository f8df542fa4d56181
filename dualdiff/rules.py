"""The one table of derivative rules.

Element-wise functions give their first and second derivatives here; every
carrier (Dual, HyperDual, the reverse tape) reads the same row.  A row is
written with NumPy calls on its arguments, so it also runs when the argument
is itself a carrier (nested derivatives).

Unary row   ``ufunc: (d1(x, y), d2(x, y, d1))`` with ``y = f(x)``.
Binary row  ``ufunc: ((fx, fy), (fxx, fxy, fyy))``, each a function of
``(x, y, z)`` with ``z = f(x, y)``.

A derivative entry may be a number instead of a function (``1`` and ``0`` let
carriers skip the multiplication), or :data:`NONDIFF` for an argument that
cannot carry a derivative (an integer exponent, zeta's order).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special as sc
from scipy.special._ufuncs import _zeta as zeta  # the ufunc behind zeta(x, q)

NONDIFF = "not differentiable"
LN2 = math.log(2.0)
LN10 = math.log(10.0)
SQRT_2PI = math.sqrt(2.0 * math.pi)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

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
    np.expm1: (lambda x, y: y + 1.0, lambda x, y, d: d),
    np.log: (lambda x, y: 1.0 / x, lambda x, y, d: -d * d),
    np.log2: (lambda x, y: 1.0 / (LN2 * x), lambda x, y, d: -d / x),
    np.log10: (lambda x, y: 1.0 / (LN10 * x), lambda x, y, d: -d / x),
    np.log1p: (lambda x, y: 1.0 / (1.0 + x), lambda x, y, d: -d * d),
    np.sin: (lambda x, y: np.cos(x), lambda x, y, d: -y),
    np.cos: (lambda x, y: -np.sin(x), lambda x, y, d: -y),
    np.tan: (lambda x, y: 1.0 + y * y, lambda x, y, d: 2.0 * y * d),
    np.arcsin: (lambda x, y: 1.0 / np.sqrt(1.0 - x * x), lambda x, y, d: x * d**3),
    np.arccos: (lambda x, y: -1.0 / np.sqrt(1.0 - x * x), lambda x, y, d: x * d**3),
    np.arctan: (lambda x, y: 1.0 / (1.0 + x * x), lambda x, y, d: -2.0 * x * d * d),
    np.sinh: (lambda x, y: np.cosh(x), lambda x, y, d: y),
    np.cosh: (lambda x, y: np.sinh(x), lambda x, y, d: y),
    np.tanh: (lambda x, y: 1.0 - y * y, lambda x, y, d: -2.0 * y * d),
    np.arcsinh: (lambda x, y: 1.0 / np.sqrt(x * x + 1.0), lambda x, y, d: -x * d**3),
    np.arccosh: (lambda x, y: 1.0 / np.sqrt(x * x - 1.0), lambda x, y, d: -x * d**3),
    np.arctanh: (lambda x, y: 1.0 / (1.0 - x * x), lambda x, y, d: 2.0 * x * d * d),
    np.deg2rad: (math.pi / 180.0, 0.0),
    np.rad2deg: (180.0 / math.pi, 0.0),
    # |x|: at x == 0 the carrier takes the sign from the first non-zero part
    # (value, then derivatives), so |-x**2| has second derivative 2.
    np.absolute: (lambda x, y: np.sign(x), 0.0),
    np.fabs: (lambda x, y: np.sign(x), 0.0),
    sc.expit: (lambda x, y: y * (1.0 - y), lambda x, y, d: d * (1.0 - 2.0 * y)),
    sc.logit: (lambda x, y: 1.0 / (x * (1.0 - x)), lambda x, y, d: (2.0 * x - 1.0) * d * d),
    sc.erf: (lambda x, y: TWO_OVER_SQRT_PI * np.exp(-x * x), lambda x, y, d: -2.0 * x * d),
    sc.erfc: (lambda x, y: -TWO_OVER_SQRT_PI * np.exp(-x * x), lambda x, y, d: -2.0 * x * d),
    sc.ndtr: (lambda x, y: np.exp(-0.5 * x * x) / SQRT_2PI, lambda x, y, d: -x * d),
    sc.log_ndtr: (lambda x, y: np.exp(-0.5 * x * x - y) / SQRT_2PI, lambda x, y, d: -d * (x + d)),
    sc.gammaln: (lambda x, y: sc.digamma(x), lambda x, y, d: zeta(2.0, x)),
    sc.digamma: (lambda x, y: zeta(2.0, x), lambda x, y, d: -2.0 * zeta(3.0, x)),
    sc.gamma: (lambda x, y: y * sc.digamma(x),
               lambda x, y, d: d * sc.digamma(x) + y * zeta(2.0, x)),
}

# |x| and its kin: carriers resolve the sign at 0 from the first non-zero part.
KINKS = {np.absolute, np.fabs}


def _pow_dx(x, y, z):
    return y * x ** (y - 1.0)


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


def _first(pick):
    """Partials of a selector (maximum, minimum, ...) that takes x where ``pick``."""
    def fx(x, y, z):
        return np.asarray(pick(x, y), dtype=float)

    def fy(x, y, z):
        return 1.0 - np.asarray(pick(x, y), dtype=float)

    return ((fx, fy), (0.0, 0.0, 0.0))


def _r2(x, y):
    return x * x + y * y


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
    np.arctan2: (
        (lambda x, y, z: y / _r2(x, y), lambda x, y, z: -x / _r2(x, y)),
        (
            lambda x, y, z: -2.0 * x * y / _r2(x, y) ** 2,
            lambda x, y, z: (x * x - y * y) / _r2(x, y) ** 2,
            lambda x, y, z: 2.0 * x * y / _r2(x, y) ** 2,
        ),
    ),
    np.hypot: (
        (lambda x, y, z: x / z, lambda x, y, z: y / z),
        (lambda x, y, z: y * y / z**3, lambda x, y, z: -x * y / z**3, lambda x, y, z: x * x / z**3),
    ),
    # Ties go to the first argument.
    np.maximum: _first(lambda x, y: x >= y),
    np.minimum: _first(lambda x, y: x <= y),
    np.fmax: _first(lambda x, y: (x >= y) | np.isnan(y)),
    np.fmin: _first(lambda x, y: (x <= y) | np.isnan(y)),
    np.copysign: ((lambda x, y, z: np.sign(x) * np.copysign(1.0, y), 0.0), (0.0, 0.0, 0.0)),
    np.remainder: ((1.0, lambda x, y, z: -np.floor(x / y)), (0.0, 0.0, 0.0)),
    np.fmod: ((1.0, lambda x, y, z: -np.trunc(x / y)), (0.0, 0.0, 0.0)),
    np.logaddexp: (
        (lambda x, y, z: np.exp(x - z), lambda x, y, z: np.exp(y - z)),
        (
            lambda x, y, z: np.exp(x - z) * np.exp(y - z),
            lambda x, y, z: -np.exp(x - z) * np.exp(y - z),
            lambda x, y, z: np.exp(x - z) * np.exp(y - z),
        ),
    ),
    np.logaddexp2: (
        (lambda x, y, z: np.exp2(x - z), lambda x, y, z: np.exp2(y - z)),
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

# Ufuncs whose output is boolean or integer: evaluated on the primal, no derivative.
PRIMAL_ONLY_UFUNCS = {
    np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
    np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
    np.isnan, np.isinf, np.isfinite, np.signbit, np.isnat,
}


def unary_derivatives(ufunc, x, y):
    """(f'(x), f''(x)) of a unary row; numbers stay numbers."""
    d1, d2 = UNARY[ufunc]
    d = d1(x, y) if callable(d1) else d1
    dd = d2(x, y, d) if callable(d2) else d2
    return d, dd


# -- Primitives with an explicit rule ------------------------------------------
# ``fn(*primals)`` computes the output; ``jvp(out, primals, tangents)`` its
# tangent, where tangents carry a leading direction axis and are None for
# constant arguments.  Rules use NumPy calls only, so they also run on nested
# carriers (this is how HyperDual gets the linear algebra for free).


class Primitive:
    """A non-element-wise operation with its forward rule."""

    def __init__(self, name, fn, jvp):
        self.name, self.fn, self.jvp = name, fn, jvp

    def __repr__(self):
        return f"Primitive({self.name})"


def _lead_expand(t, ndim):
    missing = ndim - (t.ndim - 1)
    return t if missing <= 0 else t.reshape(t.shape[:1] + (1,) * missing + t.shape[1:])


def _total(terms):
    terms = [t for t in terms if t is not None]
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def _matmul_jvp(z, primals, tangents):
    a, b = primals
    ta, tb = tangents
    avec, bvec = np.ndim(a) == 1, np.ndim(b) == 1
    a2 = a[None, :] if avec else a
    b2 = b[:, None] if bvec else b
    nd = max(np.ndim(a2), np.ndim(b2))
    terms = []
    if ta is not None:
        terms.append(np.matmul(_lead_expand(ta[:, None, :] if avec else ta, nd), b2))
    if tb is not None:
        terms.append(np.matmul(a2, _lead_expand(tb[..., None] if bvec else tb, nd)))
    out = _total(terms)
    if bvec:
        out = out[..., 0]
    if avec:
        out = out[..., 0, :] if not bvec else out[..., 0]
    return out


MATMUL = Primitive("matmul", np.matmul, _matmul_jvp)


def einsum_parts(subscripts: str, nops: int):
    """(input subscripts, output subscripts) of an einsum spec, made explicit."""
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        ins, out = spec.split("->")
    else:
        ins = spec
        letters = ins.replace(",", "").replace(".", "")
        out = ("..." if "..." in ins else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    ins = ins.split(",")
    if len(ins) != nops:
        raise ValueError(f"einsum: {subscripts!r} names {len(ins)} operands, got {nops}")
    return ins, out


def einsum_primitive(subscripts: str, nops: int) -> Primitive:
    """Einsum is multilinear: the tangent sums one einsum per varying operand,
    that operand replaced by its tangent under a fresh batch letter."""
    ins, out = einsum_parts(subscripts, nops)
    used = set(subscripts)
    k = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in used)
    explicit = ",".join(ins) + "->" + out

    def fn(*ops):
        return np.einsum(explicit, *ops)

    def jvp(z, primals, tangents):
        terms = []
        for i, t in enumerate(tangents):
            if t is not None:
                spec = ",".join(k + s if j == i else s for j, s in enumerate(ins)) + "->" + k + out
                ops = list(primals)
                ops[i] = t
                terms.append(np.einsum(spec, *ops, optimize=True))
        return _total(terms)

    return Primitive(f"einsum({explicit})", fn, jvp)


def _swap(m):
    return np.swapaxes(m, -1, -2)


def _solve_jvp(x, primals, tangents):
    a, b = primals
    ta, tb = tangents
    vec = np.ndim(b) == 1
    nd = np.ndim(x)
    rhs = _total([None if tb is None else _lead_expand(tb, nd),
                  None if ta is None else -np.matmul(_lead_expand(ta, nd), x)])
    if vec:
        return np.linalg.solve(a, rhs[..., None])[..., 0]
    return np.linalg.solve(a, rhs)


SOLVE = Primitive("solve", np.linalg.solve, _solve_jvp)


def _slogdet_jvp(out, primals, tangents):
    (a,), (ta,) = primals, tangents
    # d log|det A| = tr(A^-1 dA)
    return None, np.trace(np.linalg.solve(a, ta), axis1=-2, axis2=-1)


SLOGDET = Primitive("slogdet", lambda a: tuple(np.linalg.slogdet(a)), _slogdet_jvp)


def lower_symmetric(t, lower=True):
    """The symmetric matrix LAPACK reads from one triangle of t."""
    if lower:
        return np.tril(t) + _swap(np.tril(t, -1))
    return np.triu(t) + _swap(np.triu(t, 1))


def _cholesky_jvp(L, primals, tangents):
    # dL = L Phi(L^-1 dA L^-T), Phi = lower triangle with halved diagonal
    (ta,) = tangents
    x = np.linalg.solve(L, lower_symmetric(ta))
    m = np.linalg.solve(L, _swap(x))
    n = np.shape(L)[-1]
    return np.matmul(L, np.tril(m, -1) + 0.5 * m * np.eye(n))


CHOLESKY = Primitive("cholesky", np.linalg.cholesky, _cholesky_jvp)


def eigh_primitive(uplo: str) -> Primitive:
    def fn(a):
        return tuple(np.linalg.eigh(a, UPLO=uplo))

    def jvp(out, primals, tangents):
        # P = V^T dA V; dw = diag P; dV = V (F o P), F_ij = 1/(w_j - w_i), F_ii = 0
        w, v = out
        p = np.matmul(np.matmul(_swap(v), lower_symmetric(tangents[0], uplo == "L")), v)
        n = np.shape(w)[-1]
        off = ~np.eye(n, dtype=bool)
        gap = w[..., None, :] - w[..., :, None]
        f = np.where(off, 1.0 / np.where(off, gap, 1.0), 0.0)
        return np.diagonal(p, axis1=-2, axis2=-1), np.matmul(v, f * p)

    return Primitive("eigh", fn, jvp)


def _lstsq_fn(a, b):
    return np.linalg.lstsq(a, b, rcond=None)[0]


def _lstsq_jvp(x, primals, tangents):
    # full column rank: A^T A dx = A^T (db - dA x) + dA^T r, r = b - A x
    a, b = primals
    ta, tb = tangents
    vec = np.ndim(b) == 1
    if vec:
        b, x = b[:, None], x[:, None]
        tb = None if tb is None else tb[..., None]
    r = b - np.matmul(a, x)
    inner = _total([tb, None if ta is None else -np.matmul(ta, x)])
    rhs = _total([np.matmul(_swap(a), _lead_expand(inner, 2)),
                  None if ta is None else np.matmul(_swap(ta), r)])
    dx = np.linalg.solve(np.matmul(_swap(a), a), rhs)
    return dx[..., 0] if vec else dx


LSTSQ = Primitive("lstsq", _lstsq_fn, _lstsq_jvp)
