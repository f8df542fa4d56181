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
    np.tanh: (lambda x, y: 1.0 / np.cosh(x) ** 2, lambda x, y, d: -2.0 * y * d),  # 1 - y^2 cancels
    np.arcsinh: (lambda x, y: 1.0 / np.sqrt(x * x + 1.0), lambda x, y, d: -x * d**3),
    np.arccosh: (lambda x, y: 1.0 / np.sqrt(x * x - 1.0), lambda x, y, d: -x * d**3),
    np.arctanh: (lambda x, y: 1.0 / (1.0 - x * x), lambda x, y, d: 2.0 * x * d * d),
    np.deg2rad: (math.pi / 180.0, 0.0),
    np.radians: (math.pi / 180.0, 0.0),
    np.rad2deg: (180.0 / math.pi, 0.0),
    np.degrees: (180.0 / math.pi, 0.0),
    # |x|: at x == 0 the carrier takes the sign from the first non-zero part
    # (value, then derivatives), so |-x**2| has second derivative 2.
    np.absolute: (lambda x, y: np.sign(x), 0.0),
    np.fabs: (lambda x, y: np.sign(x), 0.0),
    sc.expit: (lambda x, y: 0.5 / (1.0 + np.cosh(x)), lambda x, y, d: d * (1.0 - 2.0 * y)),
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
    # hypot at (0, 0) is a norm at 0: every partial is taken as 0 (as np.linalg.norm)
    np.hypot: (
        (lambda x, y, z: _at0(x, z, 1), lambda x, y, z: _at0(y, z, 1)),
        (lambda x, y, z: _at0(y * y, z, 3), lambda x, y, z: _at0(-x * y, z, 3),
         lambda x, y, z: _at0(x * x, z, 3)),
    ),
    # Ties go to the first argument.
    np.maximum: _first(lambda x, y: x >= y),
    np.minimum: _first(lambda x, y: x <= y),
    np.fmax: _first(lambda x, y: (x >= y) | np.isnan(y)),
    np.fmin: _first(lambda x, y: (x <= y) | np.isnan(y)),
    # (np.copysign is |x| * sign-of-y in dualdiff.functions, so it shares abs's kink rule)
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
    """(f'(x), f''(x)) of a unary row; numbers stay numbers.

    >>> unary_derivatives(np.sin, 0.0, 0.0)
    (np.float64(1.0), -0.0)
    """
    d1, d2 = UNARY[ufunc]
    d = d1(x, y) if callable(d1) else d1
    dd = d2(x, y, d) if callable(d2) else d2
    return d, dd


# -- Primitives with an explicit rule ------------------------------------------
# ``fn(*primals)`` computes the output; ``jvp(out, primals, tangents)`` its
# tangent, where tangents carry a leading direction axis and are None for
# constant arguments.  Rules use NumPy calls only, so they also run on nested
# carriers (this is how HyperDual gets the linear algebra for free).
# ``vjp(out, primals, u, needs)`` is the reverse rule: u is the output's
# cotangent with a leading axis of k cotangents (for tuple outputs a list, None
# where no cotangent reached); it returns one adjoint (k, *shape) per primal,
# None where ``needs`` is False.


class Primitive:
    """A non-element-wise operation with its forward (and reverse) rule.

    >>> Primitive("twice", lambda a: 2 * a, lambda out, primals, tangents: 2 * tangents[0])
    Primitive(twice)
    """

    def __init__(self, name, fn, jvp, vjp=None):
        self.name, self.fn, self.jvp, self.vjp = name, fn, jvp, vjp

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
    # the common cases first, all k directions in one GEMM: A @ x and x @ B
    if ta is None and np.ndim(b) == 1 and np.ndim(a) == 2:
        return tb @ np.transpose(a)
    if tb is None and np.ndim(a) == 1 and np.ndim(b) == 2:
        return ta @ b
    avec, bvec = np.ndim(a) == 1, np.ndim(b) == 1
    a2 = a[None, :] if avec else a
    b2 = b[:, None] if bvec else b
    nd = max(np.ndim(a2), np.ndim(b2))
    terms = []
    if ta is not None:
        if np.ndim(b) == 2:  # all k directions in one GEMM: (k*..., n) @ (n, p)
            tshape = np.shape(ta)
            terms.append(np.reshape(np.reshape(ta, (-1, tshape[-1])) @ b,
                                    tshape[:-1] + (np.shape(b)[1],)))
            terms[-1] = terms[-1][:, None, :] if avec else terms[-1]
        else:
            terms.append(np.matmul(_lead_expand(ta[:, None, :] if avec else ta, nd), b2))
    if tb is not None:
        if bvec and np.ndim(a) == 2:  # A @ t_k for all k in one GEMM: T (k, n) @ A^T
            terms.append((tb @ np.transpose(a))[..., None])
        else:
            terms.append(np.matmul(a2, _lead_expand(tb[..., None] if bvec else tb, nd)))
    out = _total(terms)
    if bvec:
        out = out[..., 0]
    if avec:
        out = out[..., 0, :] if not bvec else out[..., 0]
    return out


def _sum_to(u, shape):
    """Sum u (k, ...) down to (k, *shape) over broadcast axes."""
    extra = np.ndim(u) - 1 - len(shape)
    axes = tuple(range(1, 1 + extra)) + tuple(
        1 + extra + i for i, s in enumerate(shape) if s == 1 and np.shape(u)[1 + extra + i] != 1)
    if axes:
        u = np.sum(u, axis=axes, keepdims=True)
    return np.reshape(u, np.shape(u)[:1] + tuple(shape))


def _matmul_vjp(z, primals, u, needs):
    # z = a b: a_bar = u b^T, b_bar = a^T u (vectors promoted to matrices)
    a, b = primals
    avec, bvec = np.ndim(a) == 1, np.ndim(b) == 1
    if np.ndim(a) == 2 and bvec:  # matrix-vector: one GEMM per adjoint
        return (u[:, :, None] * b if needs[0] else None,
                np.matmul(u, a) if needs[1] else None)
    if avec and np.ndim(b) == 2:
        return (np.matmul(u, _swap(b)) if needs[0] else None,
                a[:, None] * u[:, None, :] if needs[1] else None)
    a2 = a[None, :] if avec else a
    b2 = b[:, None] if bvec else b
    u2 = u[..., None] if bvec else u
    u2 = u2[..., None, :] if avec else u2
    ga = gb = None
    if needs[0]:
        ga = _sum_to(np.matmul(u2, _swap(b2)), np.shape(a2))
        ga = ga[..., 0, :] if avec else ga
    if needs[1]:
        gb = _sum_to(np.matmul(_swap(a2), u2), np.shape(b2))
        gb = gb[..., 0] if bvec else gb
    return ga, gb


MATMUL = Primitive("matmul", np.matmul, _matmul_jvp, _matmul_vjp)


def einsum_parts(subscripts: str, nops: int):
    """(input subscripts, output subscripts) of an einsum spec, made explicit.

    >>> einsum_parts("ij,jk", 2)
    (['ij', 'jk'], 'ik')
    """
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
    that operand replaced by its tangent under a fresh batch letter.

    >>> einsum_primitive("ij,j", 2)
    Primitive(einsum(ij,j->i))
    """
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

    def vjp(z, primals, u, needs):
        # multilinear: operand i's adjoint is one einsum of u with the others
        shapes = [np.shape(p) for p in primals]
        subs, osub, fresh = _explicit(ins, out, shapes, used | {k})
        out_adj = []
        for i, need in enumerate(needs):
            if not need:
                out_adj.append(None)
                continue
            others = [(s, p) for j, (s, p) in enumerate(zip(subs, primals)) if j != i]
            seen = set(osub) | {c for s, _ in others for c in s}
            target, eyes, extra = "", [], []
            for pos, c in enumerate(subs[i]):
                if c in subs[i][:pos]:  # repeated letter: put the adjoint on the diagonal
                    d = next(fresh)
                    target += d
                    eyes.append((c + d, np.eye(shapes[i][pos])))
                else:
                    target += c
                    if c not in seen:  # summed only inside operand i: broadcast
                        extra.append((c, np.ones(shapes[i][pos])))
            ops = [(k + osub, u)] + others + extra + eyes
            spec = ",".join(s for s, _ in ops) + "->" + k + target
            out_adj.append(np.einsum(spec, *[p for _, p in ops], optimize=True))
        return tuple(out_adj)

    return Primitive(f"einsum({explicit})", fn, jvp, vjp)


def _explicit(ins, out, shapes, used):
    """Subscripts with every ellipsis spelled out in fresh letters; a size-1 broadcast
    axis gets a letter of its own so that the adjoint sums over it."""
    pool = iter(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                if c not in used)
    if "..." not in "".join(ins) + out:
        return ins, out, pool
    nd = [len(sh) - (len(s) - 3 if "..." in s else len(s)) for s, sh in zip(ins, shapes)]
    width = max(nd)
    full = [next(pool) for _ in range(width)]
    sizes = [1] * width
    for s, sh, n in zip(ins, shapes, nd):
        if "..." in s:
            start = s.index("...")
            for j in range(n):
                sizes[width - n + j] = max(sizes[width - n + j], sh[start + j])
    new_ins = []
    for s, sh, n in zip(ins, shapes, nd):
        if "..." not in s:
            new_ins.append(s)
            continue
        start = s.index("...")
        letters = ""
        for j in range(n):
            pos = width - n + j
            letters += full[pos] if sh[start + j] == sizes[pos] else next(pool)
        new_ins.append(s.replace("...", letters))
    return new_ins, out.replace("...", "".join(full)), pool


def _swap(m):
    return np.swapaxes(m, -1, -2)


def _solve_jvp(x, primals, tangents):
    # dx = A^-1 (db - dA x); tangents lead-expanded before any product so that their
    # direction axis never meets a batch axis of the primals (nested carriers)
    a, b = primals
    ta, tb = tangents
    vec = np.ndim(b) == 1
    xc = x[..., None] if vec else x
    nd = np.ndim(xc)
    rhs = _total([None if tb is None else _lead_expand(tb[..., None] if vec else tb, nd),
                  None if ta is None else -np.matmul(_lead_expand(ta, nd), xc)])
    out = np.linalg.solve(a, rhs)
    return out[..., 0] if vec else out


def _solve_vjp(x, primals, u, needs):
    # x = A^-1 b: b_bar = A^-T u, A_bar = -b_bar x^T
    a, b = primals
    vec = np.ndim(b) == 1
    if np.ndim(a) == 2 and np.ndim(b) <= 2:  # one factorisation for all k cotangents
        k = np.shape(u)[0]
        cols = np.reshape(np.moveaxis(u, 0, -1), (np.shape(a)[0], -1))
        gb = np.moveaxis(np.reshape(np.linalg.solve(_swap(a), cols),
                                    np.shape(u)[1:] + (k,)), -1, 0)
    else:
        uu = u[..., None] if vec else u
        gb = np.linalg.solve(_swap(a), uu)
        gb = gb[..., 0] if vec else gb
    ga = None
    if needs[0]:
        g2, x2 = (gb[..., None], x[..., None]) if vec else (gb, x)
        ga = _sum_to(-np.matmul(g2, _swap(x2)), np.shape(a))
    return ga, (_sum_to(gb, np.shape(b)) if needs[1] else None)


SOLVE = Primitive("solve", np.linalg.solve, _solve_jvp, _solve_vjp)


def _slogdet_jvp(out, primals, tangents):
    (a,), (ta,) = primals, tangents
    # d log|det A| = tr(A^-1 dA)
    return None, np.trace(np.linalg.solve(a, ta), axis1=-2, axis2=-1)


def _slogdet_vjp(out, primals, u, needs):
    # log|det A| has gradient A^-T; the sign has none
    (a,) = primals
    ul = u[1]
    if ul is None:
        return (None,)
    return (ul[..., None, None] * np.linalg.inv(_swap(a)),)


SLOGDET = Primitive("slogdet", lambda a: tuple(np.linalg.slogdet(a)), _slogdet_jvp,
                    _slogdet_vjp)


def lower_symmetric(t, lower=True):
    """The symmetric matrix LAPACK reads from one triangle of t.

    >>> lower_symmetric(np.array([[1.0, 9.0], [2.0, 3.0]])).tolist()
    [[1.0, 2.0], [2.0, 3.0]]
    """
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


def lower_symmetric_adjoint(g, lower=True):
    """Transpose of :func:`lower_symmetric`: fold the other triangle onto the read one.

    >>> lower_symmetric_adjoint(np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [[1.0, 0.0], [5.0, 4.0]]
    """
    if lower:
        return np.tril(g) + np.tril(_swap(g), -1)
    return np.triu(g) + np.triu(_swap(g), 1)


def _cholesky_vjp(L, primals, u, needs):
    # transpose of the jvp: P = Phi(L^T L_bar), S_bar = L^-T P L^-1
    n = np.shape(L)[-1]
    m = np.matmul(_swap(L), u)
    p = np.tril(m, -1) + 0.5 * m * np.eye(n)
    y = np.linalg.solve(_swap(L), p)
    s = _swap(np.linalg.solve(_swap(L), _swap(y)))
    return (lower_symmetric_adjoint(s),)


CHOLESKY = Primitive("cholesky", np.linalg.cholesky, _cholesky_jvp, _cholesky_vjp)


def eigh_primitive(uplo: str) -> Primitive:
    """The eigh rule reading triangle ``uplo`` ("L" or "U").

    >>> eigh_primitive("L")
    Primitive(eigh)
    """
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

    def vjp(out, primals, u, needs):
        # P_bar = diag(w_bar) + F o (V^T V_bar); S_bar = V P_bar V^T
        w, v = out
        uw, uv = u
        n = np.shape(w)[-1]
        off = ~np.eye(n, dtype=bool)
        gap = w[..., None, :] - w[..., :, None]
        f = np.where(off, 1.0 / np.where(off, gap, 1.0), 0.0)
        terms = []
        if uw is not None:
            terms.append(uw[..., :, None] * np.eye(n))
        if uv is not None:
            terms.append(f * np.matmul(_swap(v), uv))
        pbar = _total(terms)
        s = np.matmul(np.matmul(v, pbar), _swap(v))
        return (lower_symmetric_adjoint(s, uplo == "L"),)

    return Primitive("eigh", fn, jvp, vjp)


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


def _lstsq_vjp(x, primals, u, needs):
    # c = (A^T A)^-1 x_bar: b_bar = A c, A_bar = -(A c) x^T + r c^T, r = b - A x
    a, b = primals
    vec = np.ndim(b) == 1
    if vec:
        b, x, u = b[:, None], x[:, None], u[..., None]
    c = np.linalg.solve(np.matmul(_swap(a), a), u)
    ac = np.matmul(a, c)
    ga = gb = None
    if needs[0]:
        r = b - np.matmul(a, x)
        ga = np.matmul(r, _swap(c)) - np.matmul(ac, _swap(x))
    if needs[1]:
        gb = ac[..., 0] if vec else ac
    return ga, gb


LSTSQ = Primitive("lstsq", _lstsq_fn, _lstsq_jvp, _lstsq_vjp)
