"""Hyper-dual numbers: exact first and second derivatives (Fike & Alonso).

``HyperDual(a, b, c, d)`` stands for ``a + b e1 + c e2 + d e1e2`` with
``e1**2 = e2**2 = 0`` and ``e1 e2 != 0``.  For an element-wise f,

    f(a + b e1 + c e2 + d e1e2) = f(a) + f'(a) b e1 + f'(a) c e2
                                  + (f'(a) d + f''(a) b c) e1e2,

so seeding ``b = e_i``, ``c = e_j`` leaves ``d^2 f / dx_i dx_j`` in the e1e2
part, without a step size.  Parts are arrays: ``eps1`` has k1 leading
directions, ``eps2`` k2 and ``eps12`` the k1 x k2 cross terms, so one pass
seeded with identity blocks gives a whole block of a Hessian.

Element-wise rules read value, f' and f'' from :mod:`dualdiff.rules`; the
other primitives (matmul, solve, cholesky, ...) run their first-order rule on
nested duals, ``HyperDual(a, b, c, d) = Dual_1(Dual_2(a, c), Dual_2(b, d))``,
so there is no second copy of any rule.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from . import rules
from .carrier import Carrier, direction_part, new_tag
from .dual import Dual, nan_safe_product


def expand(t, lead: int, ndim: int):
    """Insert unit axes after ``lead`` direction axes so ``t`` has rank ``lead + ndim``.

    >>> expand(np.ones((2, 3, 4)), 2, 2).shape
    (2, 3, 1, 4)
    """
    missing = ndim - (np.ndim(t) - lead)
    if missing <= 0:
        return t
    shape = np.shape(t)
    return np.reshape(t, shape[:lead] + (1,) * missing + shape[lead:])


def outer(b, c):
    """Cross term ``b (k1, ...) x c (k2, ...) -> (k1, k2, ...)`` (same rank, broadcast),
    NaN-safe like every product of parts: 0 times inf is 0.

    >>> outer(np.ones((2, 5)), np.ones((3, 5))).shape
    (2, 3, 5)
    >>> with np.errstate(invalid="ignore"):
    ...     outer(np.array([[np.inf]]), np.array([[0.0], [1.0]]))[0, :, 0].tolist()
    [0.0, inf]
    """
    b, c = b[:, None], c[None, :]
    out = _multiply(b, c)
    if np.isfinite(np.sum(b)) and np.isfinite(np.sum(c)):  # any inf/nan shows in the sum
        return out
    return np.where((b == 0) | (c == 0), 0.0, out)


# Cross parts are large (k1 k2 n) and short-lived; allocating each afresh makes
# malloc map and unmap them, and the page faults cost more than the arithmetic.
# Big plain products therefore go into recycled buffers: a buffer is free again
# once nothing but this pool refers to it (CPython reference counts).
_POOL: list = []
_POOL_MIN = 2**17  # bytes: smaller arrays come from malloc's free lists anyway
_POOL_MAX = 2**26  # bytes held by the pool at most


def _buffer(shape: tuple):
    nbytes = 8 * math.prod(shape)
    if nbytes < _POOL_MIN:
        return np.empty(shape)
    for buf in _POOL:
        if buf.shape == shape and sys.getrefcount(buf) == 3:  # pool, loop variable, argument
            return buf
    buf = np.empty(shape)
    held = sum(b.nbytes for b in _POOL)
    while _POOL and held + nbytes > _POOL_MAX:
        held -= _POOL.pop(0).nbytes
    if nbytes <= _POOL_MAX:
        _POOL.append(buf)
    return buf


def _multiply(t, g):
    """``t * g``; a large plain float result goes into a recycled buffer."""
    if type(t) is np.ndarray and t.dtype == np.float64 and (
            type(g) is float or (type(g) is np.ndarray and g.dtype == np.float64)):
        return np.multiply(t, g, out=_buffer(np.broadcast_shapes(t.shape, np.shape(g))))
    return t * g


def zero(shape: tuple):
    """A read-only zero part (a broadcast view: no memory, skipped by the rules).

    >>> is_zero(zero((4, 4, 100))), is_zero(np.zeros(3))
    (True, False)
    """
    return np.broadcast_to(np.zeros(()), tuple(shape))


def is_zero(t) -> bool:
    """True for a part made by :func:`zero` (or any constant-zero broadcast view).

    >>> is_zero(np.broadcast_to(0.0, (2, 3))), is_zero(np.broadcast_to(1.0, (2, 3)))
    (True, False)
    """
    return bool(type(t) is np.ndarray and not t.flags.writeable and not any(t.strides)
                and (t.size == 0 or t.flat[0] == 0))


def _fit(t, lead_shape: tuple, shape: tuple, *avoid):
    """t broadcast to ``lead_shape + shape``, as a fresh array when it is one of ``avoid``."""
    full = tuple(lead_shape) + tuple(shape)
    if t is None or is_zero(t):
        return zero(full)
    if np.shape(t) == full and not any(t is a for a in avoid):
        return t
    return np.broadcast_to(expand(t, len(lead_shape), len(shape)), full).copy()


def _times(t, g):
    """(t * g, fresh?): g == 1 returns t itself, not a copy."""
    if type(g) is float and g == 1.0:
        return t, False
    return _safe(t, g), True


def _scaled_outer(s, t, g):
    """``g (s x t)``, NaN-safe; as ``(g s) x t`` (k1 n products, not k1 k2 n) when g is
    finite, where both orders are exact."""
    if type(g) is float and g == 1.0:
        return outer(s, t)
    if np.isfinite(np.sum(g)):
        return outer(_multiply(s, g), t)
    return _safe(outer(s, t), g)


def _safe(t, g):
    """``t * g`` with Dual's NaN-safety (a zero part times an inf partial stays 0),
    in a recycled buffer when large."""
    return nan_safe_product(t, g, _multiply)


def _acc(acc, term):
    """Running sum of derivative terms; ``acc`` is (array or None, fresh?)."""
    total, fresh = acc
    if total is None:
        return term
    if fresh and type(total) is np.ndarray and type(term[0]) is np.ndarray and \
            np.broadcast_shapes(total.shape, term[0].shape) == total.shape:
        total += term[0]
        return total, True
    return total + term[0], True


def _is(entry, number: float) -> bool:
    return type(entry) is float and entry == number


def _at(entry, *args):
    return entry(*args) if callable(entry) else entry


class HyperDual(Carrier):
    """A hyper-dual number array: ``value + eps1 e1 + eps2 e2 + eps12 e1e2``.

    ``eps1.shape == (k1,) + value.shape``, ``eps2.shape == (k2,) + value.shape``
    and ``eps12.shape == (k1, k2) + value.shape``; scalars (one direction each)
    may be given without the direction axes.

    >>> y = HyperDual(2.0, 1.0, 1.0, 0.0) ** 3
    >>> [float(p.squeeze()) for p in y.parts]   # x**3, 3x**2, 3x**2, 6x at x = 2
    [8.0, 12.0, 12.0, 12.0]
    """

    __slots__ = ("value", "eps1", "eps2", "eps12", "tag")
    _part_names = ("value", "eps1", "eps2", "eps12")
    _lead = (0, 1, 1, 2)

    def __init__(self, value, eps1=None, eps2=None, eps12=None, tag: int = 0):
        if not isinstance(value, Carrier):
            value = np.asarray(value, dtype=float)
        shape = np.shape(value)
        eps1, eps2 = (direction_part(e, shape, f"HyperDual: {name}") for e, name in
                      ((eps1, "eps1"), (eps2, "eps2")))
        k = (np.shape(eps1)[0], np.shape(eps2)[0])
        if eps12 is None:
            eps12 = np.zeros(k + shape)
        elif not isinstance(eps12, Carrier):
            eps12 = np.asarray(eps12, dtype=float)
        if np.shape(eps12) == shape and k == (1, 1):
            eps12 = eps12[None, None]
        if np.shape(eps12) != k + shape:
            raise ValueError(
                f"HyperDual: eps12 of shape {np.shape(eps12)} does not fit eps1/eps2 of "
                f"{k[0]}/{k[1]} directions and value of shape {shape}; expected {k + shape}."
            )
        self.value, self.eps1, self.eps2, self.eps12, self.tag = value, eps1, eps2, eps12, tag

    @classmethod
    def _new(cls, value, eps1, eps2, eps12, tag):
        h = object.__new__(cls)
        h.value, h.eps1, h.eps2, h.eps12, h.tag = value, eps1, eps2, eps12, tag
        return h

    @property
    def parts(self) -> tuple:
        return (self.value, self.eps1, self.eps2, self.eps12)

    @property
    def k(self) -> tuple:
        """(k1, k2): the numbers of eps1 and eps2 directions."""
        return np.shape(self.eps1)[0], np.shape(self.eps2)[0]

    @classmethod
    def _from_parts(cls, parts, tag):
        return cls._new(*parts, tag)

    @staticmethod
    def zero_parts(k, shape: tuple) -> tuple:
        """Derivative parts of a constant for a pass of ``k = (k1, k2)`` directions."""
        k1, k2 = (k, k) if np.ndim(k) == 0 else k
        shape = tuple(shape)
        return (np.zeros((k1,) + shape), np.zeros((k2,) + shape), np.zeros((k1, k2) + shape))

    @staticmethod
    def _split(x, tag):
        """(value, eps1, eps2, eps12) of x as seen by a pass of ``tag`` (None: constant)."""
        if isinstance(x, HyperDual) and x.tag == tag:
            return x.parts
        return x, None, None, None

    # -- the four kinds of rule ----------------------------------------------
    @classmethod
    def _unary(cls, ufunc, x):
        v, b, c, d = x.parts
        y = ufunc(v)
        k1, k2 = x.k
        if ufunc in rules.PIECEWISE_CONSTANT:
            shape = np.shape(y)
            return cls._new(y, zero((k1,) + shape), zero((k2,) + shape),
                            zero((k1, k2) + shape), x.tag)
        with np.errstate(all="ignore"):
            d1, d2 = rules.unary_derivatives(ufunc, v, y)
            out1, out2 = _safe(b, d1), _safe(c, d1)
            out12 = None if is_zero(d) else _safe(d, d1)
            if not _is(d2, 0.0):
                out12 = _acc((out12, True), (_scaled_outer(b, c, d2), True))[0]
            if ufunc in rules.KINKS:
                # at 0 the sign comes from the first non-zero part: value, then
                # eps1 / eps2, then eps12 (so |-x**2| has second derivative 2)
                at0 = v == 0
                bb, cc = b[:, None], c[None, :]
                s12 = np.where(bb != 0, np.sign(bb), np.where(cc != 0, np.sign(cc), np.sign(d)))
                out1 = np.where(at0, np.abs(b), out1)
                out2 = np.where(at0, np.abs(c), out2)
                out12 = np.where(at0, s12 * d, 0.0 if out12 is None else out12)
        return cls._new(y, _fit(out1, (k1,), np.shape(y), b), _fit(out2, (k2,), np.shape(y), c),
                        _fit(out12, (k1, k2), np.shape(y), d), x.tag)

    @classmethod
    def _binary(cls, ufunc, a, b, tag):
        (fx, fy), (fxx, fxy, fyy) = rules.BINARY[ufunc]
        av, a1, a2, a12 = cls._split(a, tag)
        bv, b1, b2, b12 = cls._split(b, tag)
        for deriv, t, pos in ((fx, a1, "first"), (fy, b1, "second")):
            if t is not None and deriv is rules.NONDIFF:
                raise TypeError(f"{ufunc.__name__}: no derivative with respect to its {pos} "
                                f"argument; pass a constant there.")
        k = a.k if a1 is not None else b.k
        if a1 is not None and b1 is not None and a.k != b.k:
            raise ValueError(f"{ufunc.__name__}: operands carry {a.k} and {b.k} directions")
        z = ufunc(av, bv)
        shape = np.shape(z)
        nd = len(shape)
        if a1 is not None:
            a1, a2, a12 = expand(a1, 1, nd), expand(a2, 1, nd), expand(a12, 2, nd)
        if b1 is not None:
            b1, b2, b12 = expand(b1, 1, nd), expand(b2, 1, nd), expand(b12, 2, nd)
        out1 = out2 = out12 = (None, False)
        with np.errstate(all="ignore"):
            for f1, t1, t2, t12 in ((fx, a1, a2, a12), (fy, b1, b2, b12)):
                if t1 is None or _is(f1, 0.0):
                    continue
                g = 1.0 if _is(f1, 1.0) else _at(f1, av, bv, z)
                out1, out2 = _acc(out1, _times(t1, g)), _acc(out2, _times(t2, g))
                if not is_zero(t12):
                    out12 = _acc(out12, _times(t12, g))
            for f2, s, t in ((fxx, a1, a2), (fyy, b1, b2)):
                if s is not None and not _is(f2, 0.0):
                    out12 = _acc(out12, (_scaled_outer(s, t, _at(f2, av, bv, z)), True))
            if a1 is not None and b1 is not None and not _is(fxy, 0.0):
                g = 1.0 if _is(fxy, 1.0) else _at(fxy, av, bv, z)
                out12 = _acc(out12, (_scaled_outer(a1, b2, g), True))
                out12 = _acc(out12, (_scaled_outer(b1, a2, g), True))
        out1, out2, out12 = out1[0], out2[0], out12[0]
        k1, k2 = k
        parts = [_fit(out1, (k1,), shape, a1, b1), _fit(out2, (k2,), shape, a2, b2),
                 _fit(out12, (k1, k2), shape, a12, b12)]
        return cls._new(z, *parts, tag)

    @classmethod
    def _linear(cls, g, xs, tag, op, adjoint=None):
        split = [cls._split(x, tag) for x in xs]
        k = next(x.k for x, (_, e, _, _) in zip(xs, split) if e is not None)
        value = op(*[s[0] for s in split])
        out = [value]
        for i, lead in ((1, (k[0],)), (2, (k[1],)), (3, k)):
            flat = []
            for s in split:
                if s[i] is None:  # a constant: zero derivative (a broadcast view)
                    flat.append(np.broadcast_to(np.zeros(()), (int(np.prod(lead)),)
                                                + np.shape(s[0])))
                else:
                    p = s[i]
                    flat.append(np.reshape(p, (-1,) + np.shape(p)[len(lead):]))
            r = g(*flat)
            out.append(np.reshape(r, lead + np.shape(r)[1:]))
        return cls._new(*out, tag)

    @classmethod
    def _primitive(cls, prim, args, tag):
        # HyperDual(a, b, c, d) == Dual_outer(Dual_inner(a, c), Dual_inner(b, d')),
        # d' = d with its k2 axis first; the outer Dual owns the operation.
        inner, outer_tag = new_tag(), new_tag()
        nested = []
        for x in args:
            v, e1, e2, e12 = cls._split(x, tag)
            if e1 is None:
                nested.append(x)
            else:
                nested.append(Dual._new(Dual._new(v, e2, inner),
                                        Dual._new(e1, np.swapaxes(e12, 0, 1), inner), outer_tag))
        k = next(x.k for x in args if isinstance(x, HyperDual) and x.tag == tag)
        from .dispatch import primitive

        out = primitive(prim, *nested)
        if isinstance(out, tuple):
            return tuple(cls._unnest(o, k, inner, outer_tag, tag) for o in out)
        return cls._unnest(out, k, inner, outer_tag, tag)

    @classmethod
    def _unnest(cls, y, k, inner, outer_tag, tag):
        k1, k2 = k
        if isinstance(y, Dual) and y.tag == outer_tag:
            v, t = y.value, y.tangent
        else:
            v, t = y, None
        if isinstance(v, Dual) and v.tag == inner:
            a, c = v.value, v.tangent
        else:
            if t is None:  # a constant output (slogdet's sign)
                return y
            a, c = v, np.zeros((k2,) + np.shape(v))
        shape = np.shape(a)
        if t is None:
            b, d = np.zeros((k1,) + shape), np.zeros((k1, k2) + shape)
        elif isinstance(t, Dual) and t.tag == inner:
            b, d = t.value, np.swapaxes(t.tangent, 0, 1)
        else:
            b, d = t, np.zeros((k1, k2) + shape)
        return cls._new(a, b, c, d, tag)

    def _setitem(self, index, item):
        value, e1, e2, e12 = self._split(item, self.tag)
        slot = self.value[index]
        self.value[index] = value
        index = index if isinstance(index, tuple) else (index,)
        nd = np.ndim(slot)
        for name, lead, t in (("eps1", 1, e1), ("eps2", 1, e2), ("eps12", 2, e12)):
            part = getattr(self, name)
            if type(part) is np.ndarray and not part.flags.writeable:  # a zero() view
                part = part.copy()
                setattr(self, name, part)
            part[(slice(None),) * lead + index] = 0.0 if t is None else expand(t, lead, nd)
