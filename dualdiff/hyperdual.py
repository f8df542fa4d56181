"""Hyper-dual numbers: exact first and second derivatives (Fike & Alonso).

``HyperDual(a, b, c, d)`` stands for ``a + b e1 + c e2 + d e1e2`` with
``e1**2 = e2**2 = 0`` and ``e1 e2 != 0``.  For an element-wise f,

    f(a + b e1 + c e2 + d e1e2) = f(a) + f'(a) b e1 + f'(a) c e2
                                  + (f'(a) d + f''(a) b c) e1e2,

so seeding ``b = e_i``, ``c = e_j`` leaves ``d^2 f / dx_i dx_j`` in the e1e2
part, without a step size.  Parts are arrays: ``eps1`` has k1 leading
directions, ``eps2`` k2 and ``eps12`` the k1 x k2 cross terms (held with the two
axes merged into one, so every part has one leading axis), so one pass seeded
with identity blocks gives a whole block of a Hessian.

Element-wise rows come with f' and f'' from :mod:`dualdiff.core`; the other
primitives (matmul, solve, cholesky, ...) run their first-order rule on nested
duals, ``HyperDual(a, b, c, d) = Dual_1(Dual_2(a, c), Dual_2(b, d))``, so there
is no second copy of any rule.
"""

from __future__ import annotations

import numpy as np

from .arrays import expand, zeros
from .core import Carrier, advanced_front, mirrored, nan_safe_product, new_tag, primitive
from .dual import Dual, direction_part, fit_item, part_dtype


def outer(b, c):
    """Cross term ``b (k1, ...) x c (k2, ...) -> (k1 k2, ...)`` (broadcast), NaN-safe like
    every product of parts: 0 times inf is 0.

    >>> outer(np.ones((2, 5)), np.ones((3, 5))).shape
    (6, 5)
    >>> with np.errstate(invalid="ignore"):
    ...     outer(np.array([[np.inf]]), np.array([[0.0], [1.0]]))[:, 0].tolist()
    [0.0, inf]
    """
    k1, k2 = np.shape(b)[0], np.shape(c)[0]
    bb, cc = b[:, None], c[None, :]
    out = bb * cc
    if not (np.isfinite(np.sum(b)) and np.isfinite(np.sum(c))):  # inf/nan show in the sum
        out = np.where((bb == 0) | (cc == 0), 0.0, out)
    return np.reshape(out, (k1 * k2,) + np.shape(out)[2:])


class HyperDual(Carrier):
    """A hyper-dual number array: ``value + eps1 e1 + eps2 e2 + eps12 e1e2``.

    ``eps1.shape == (k1,) + value.shape``, ``eps2.shape == (k2,) + value.shape``
    and ``eps12.shape == (k1, k2) + value.shape``; scalars (one direction each)
    may be given without the direction axes.

    >>> y = HyperDual(2.0, 1.0, 1.0, 0.0) ** 3
    >>> [float(np.squeeze(p)) for p in (y.value, y.eps1, y.eps2, y.eps12)]  # x^3, 3x^2, 3x^2, 6x
    [8.0, 12.0, 12.0, 12.0]
    """

    __slots__ = ("eps1", "eps2", "_eps12")
    _part_names = ("value", "eps1", "eps2", "eps12")
    _order = 2

    def __init__(self, value, eps1=None, eps2=None, eps12=None, tag: int = 0):
        if not isinstance(value, Carrier):
            value = np.asarray(value)
            if value.dtype.kind not in "fc":
                value = value.astype(float)
        self._init(value, tag)
        shape, dtype = np.shape(value), np.asarray(value).dtype if not isinstance(
            value, Carrier) else float
        self.eps1, self.eps2 = (direction_part(e, shape, f"HyperDual: {name}", dtype)
                                for e, name in ((eps1, "eps1"), (eps2, "eps2")))
        k = (np.shape(self.eps1)[0], np.shape(self.eps2)[0])
        if eps12 is None:
            eps12 = np.zeros(k + shape, dtype)
        elif not isinstance(eps12, Carrier):
            eps12 = np.asarray(eps12, dtype=np.result_type(eps12, dtype))
        if np.shape(eps12) == shape and k == (1, 1):
            eps12 = eps12[None, None]
        if np.shape(eps12) != k + shape:
            raise ValueError(
                f"HyperDual: eps12 of shape {np.shape(eps12)} does not fit eps1/eps2 of "
                f"{k[0]}/{k[1]} directions and value of shape {shape}; expected {k + shape}.")
        self._eps12 = np.reshape(eps12, (k[0] * k[1],) + shape)

    @property
    def eps12(self):
        """The cross part, shape ``(k1, k2) + value.shape``."""
        return np.reshape(self._eps12, self.k + self.shape)

    @property
    def k(self) -> tuple:
        """(k1, k2): the numbers of eps1 and eps2 directions."""
        return np.shape(self.eps1)[0], np.shape(self.eps2)[0]

    @classmethod
    def _make(cls, value, parts, tag):
        h = object.__new__(cls)
        h.value, h.tag, h._view, h._version, h._epoch = value, tag, None, 0, 0
        h.eps1, h.eps2, h._eps12 = parts
        return h

    @property
    def parts(self) -> tuple:
        return (self.eps1, self.eps2, self._eps12)

    def _set_parts(self, parts) -> None:
        self.eps1, self.eps2, self._eps12 = parts

    def _orders(self):
        return ((self.eps1, 1, 1), (self.eps2, 1, 1), (self._eps12, 2, 1))

    @classmethod
    def _constant_parts(cls, value, like):
        k1, k2 = like.k
        shape, dtype = np.shape(value), part_dtype(value, like.eps1)
        return (zeros((k1,) + shape, dtype), zeros((k2,) + shape, dtype),
                zeros((k1 * k2,) + shape, dtype))

    # -- how parts combine --------------------------------------------------------------
    @classmethod
    def _elementwise(cls, ufunc, z, sp, first, second, tag, args):
        shape = np.shape(z)
        nd = len(shape)
        k1, k2 = next((np.shape(p[0])[0], np.shape(p[1])[0]) for _, p in sp if p is not None)
        parts = [None if p is None else tuple(expand(q, nd) for q in p) for _, p in sp]
        out1 = out2 = out12 = None
        for p, f in zip(parts, first):
            if p is None or f is None:
                continue
            b, c, d = p
            if type(f) is float and f == 1.0:
                terms = (b, c, d)
            else:
                terms = (nan_safe_product(b, f), nan_safe_product(c, f), nan_safe_product(d, f))
            out1, out2, out12 = (t if o is None else o + t
                                 for o, t in zip((out1, out2, out12), terms))
        for (i, j), f in (second or {}).items():
            terms = [outer(parts[i][0], parts[j][1])]
            if i != j:
                terms.append(outer(parts[j][0], parts[i][1]))
            for t in terms:
                t = t * f if np.isfinite(np.sum(f)) else nan_safe_product(t, f)
                out12 = t if out12 is None else out12 + t
        dtype = part_dtype(z, *[o for o in (out1, out2, out12) if o is not None])
        inputs = [q for p in parts if p is not None for q in p]
        return cls._make(z, tuple(_full(o, k, z, dtype, inputs) for o, k in
                                  ((out1, k1), (out2, k2), (out12, k1 * k2))), tag)

    @classmethod
    def _linear(cls, op, g, adjoint, sp, value, tag, args):
        live = [p for _, p in sp if p is not None]
        k1, k2 = np.shape(live[0][0])[0], np.shape(live[0][1])[0]
        dtype = part_dtype(value, *live[0])
        out = []
        for i, k in enumerate((k1, k2, k1 * k2)):
            out.append(g(*[p[i] if p is not None else zeros((k,) + np.shape(v), dtype)
                           for v, p in sp]))
        return cls._make(value, tuple(out), tag)

    @classmethod
    def _primitive(cls, prim, sp, out, tag, args):
        # HyperDual(a, b, c, d) == Dual_o(Dual_i(a, c), Dual_i(b, d')), d' = d with its
        # k2 axis first; the outer Dual owns the operation and runs prim's jvp on Duals.
        inner, outer_tag = new_tag(), new_tag()
        nested = []
        for v, p in sp:
            if p is None:
                nested.append(v)
                continue
            b, c, d = p
            k1, k2 = np.shape(b)[0], np.shape(c)[0]
            d2 = np.swapaxes(np.reshape(d, (k1, k2) + np.shape(v)), 0, 1)
            nested.append(Dual._make(Dual._make(v, (c,), inner),
                                     (Dual._make(b, (d2,), inner),), outer_tag))
        k1, k2 = next((np.shape(p[0])[0], np.shape(p[1])[0]) for _, p in sp if p is not None)
        y = primitive(prim, *nested)
        if isinstance(y, tuple):
            return tuple(_unnest(o, k1, k2, inner, outer_tag, tag) for o in y)
        return _unnest(y, k1, k2, inner, outer_tag, tag)

    # -- writes ---------------------------------------------------------------------------
    def _write(self, index, parts) -> None:
        head = (slice(None),) + (index if isinstance(index, tuple) else (index,))
        nd = np.ndim(self.value[index])
        front = advanced_front(index)  # (NumPy moved advanced axes ahead of k)
        for part, item in zip(self.parts, parts or (None, None, None)):
            t = 0 if item is None else fit_item(item, nd)
            part[head] = np.moveaxis(t, 0, front) if front and item is not None else t


def _full(t, k, z, dtype, inputs):
    """A part of k directions for the value z: t broadcast, never sharing memory with an
    input part, or zeros; a new array is laid out like z (so NumPy makes views of the
    part exactly where it makes views of the value)."""
    full = (k,) + tuple(np.shape(z))
    if t is None:
        return zeros(full, dtype)
    if isinstance(t, Carrier):  # nested: a pass-through part must not be shared
        return np.broadcast_to(t, full).copy()
    dtype = np.result_type(t, dtype)
    if np.shape(t) != full or t.dtype != dtype or (
            isinstance(t, np.ndarray) and any(np.may_share_memory(t, q) for q in inputs)):
        return mirrored(np.broadcast_to(t, full).astype(dtype, copy=False), z)
    return t


def _unnest(y, k1, k2, inner, outer_tag, tag):
    """A nested-Dual result back as a HyperDual of ``tag`` (constants stay as they are)."""
    if isinstance(y, Dual) and y.tag == outer_tag:
        v, t = y.value, y.tangent
    else:
        v, t = y, None
    if isinstance(v, Dual) and v.tag == inner:
        a, c = v.value, v.tangent
    else:
        if t is None:  # a constant output (slogdet's sign)
            return y
        a, c = v, None
    shape = np.shape(a)
    dtype = part_dtype(a)
    if c is None:
        c = zeros((k2,) + shape, dtype)
    if t is None:
        b, d = zeros((k1,) + shape, dtype), zeros((k1 * k2,) + shape, dtype)
    elif isinstance(t, Dual) and t.tag == inner:
        b = t.value
        d = np.reshape(np.swapaxes(t.tangent, 0, 1), (k1 * k2,) + shape)
    else:
        b, d = t, zeros((k1 * k2,) + shape, dtype)
    return HyperDual._make(a, (b, c, d), tag)
