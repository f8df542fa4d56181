"""Dual numbers: forward mode with k directions at once.

``Dual(a, t)`` stands for ``a + sum_k t[k] eps_k`` with ``eps_i eps_j = 0``, so
``f(a + t eps) = f(a) + f'(a) t eps``.  ``value`` is an array (0-d for a
scalar); ``tangent`` has one extra leading axis for the k seeded directions,
so element-wise rules broadcast over it unchanged.  The rules are applied by
:mod:`dualdiff.core`; this module holds how tangents combine.
"""

from __future__ import annotations

import numpy as np

from .arrays import expand, zeros
from .core import Carrier, advanced_front, nan_safe_product, primal

_F64 = np.float64


def direction_part(e, shape: tuple, what: str, dtype=float):
    """A derivative part for a value of ``shape``: None -> zeros of one direction, an
    array of ``shape`` -> one direction, ``(k,) + shape`` -> k directions.

    >>> direction_part([1.0, 2.0], (2,), "tangent").shape
    (1, 2)
    """
    if e is None:
        return np.zeros((1,) + tuple(shape), dtype)
    if not isinstance(e, Carrier):
        e = np.asarray(e)
        if e.dtype.kind not in "fc":
            e = e.astype(dtype)
    if np.shape(e) == tuple(shape):
        e = e[None]
    if np.shape(e)[1:] != tuple(shape):
        raise ValueError(
            f"{what} of shape {np.shape(e)} does not fit value of shape "
            f"{shape}; expected {shape} (one direction) or (k,) + {shape}.")
    return e


def part_dtype(value, *parts):
    """The dtype of a derivative part of ``value``: at least the value's own, so that a
    complex value never holds a real tangent (its imaginary part would be lost).

    >>> part_dtype(np.zeros(2, complex), np.zeros((1, 2)))
    dtype('complex128')
    """
    return np.result_type(primal(value).dtype, *[primal(p).dtype for p in parts])


def fit_item(t, ndim: int, lead: int = 1):
    """An item's part reshaped to broadcast into a slot of rank ``ndim`` (NumPy drops an
    item's leading unit axes on assignment; the lead axes stay in front).

    >>> fit_item(np.ones((2, 1, 3)), 1).shape
    (2, 3)
    """
    shape = np.shape(t)
    extra = len(shape) - lead - ndim
    if extra > 0 and all(s == 1 for s in shape[lead:lead + extra]):
        return np.reshape(t, shape[:lead] + shape[lead + extra:])
    return expand(t, ndim, lead)


class Dual(Carrier):
    """A dual number array: ``value + tangent . eps``.

    ``Dual(2.0, 1.0)`` is a scalar with one direction; ``Dual(x, T)`` with
    ``T.shape == (k,) + x.shape`` carries k directions.

    >>> y = np.sin(Dual(0.0, 1.0)) * 3
    >>> float(y.value), y.tangent.tolist()
    (0.0, [3.0])
    """

    __slots__ = ("tangent",)
    _part_names = ("value", "tangent")

    def __init__(self, value, tangent=None, tag: int = 0):
        if not isinstance(value, Carrier):
            value = np.asarray(value)
            if value.dtype.kind not in "fc":
                value = value.astype(float)
        self._init(value, tag)
        self.tangent = direction_part(tangent, np.shape(value), "Dual: tangent",
                                      primal(value).dtype)

    @classmethod
    def _make(cls, value, parts, tag):
        d = object.__new__(cls)
        d.value, d.tangent, d.tag, d._view, d._version, d._epoch = value, parts[0], tag, None, 0, 0
        return d

    @property
    def parts(self) -> tuple:
        return (self.tangent,)

    def _set_parts(self, parts) -> None:
        (self.tangent,) = parts

    def _orders(self):
        return ((self.tangent, 1, 1),)

    @classmethod
    def _constant_parts(cls, value, like):
        k = np.shape(like.tangent)[0]
        return (zeros((k,) + np.shape(value), part_dtype(value, like.tangent)),)

    # -- how tangents combine -----------------------------------------------------------
    @classmethod
    def _elementwise(cls, ufunc, z, sp, first, second, tag, args):
        shape = z.shape
        nd = len(shape)
        out, k, fresh = None, 0, False
        for i in range(len(sp)):
            p = sp[i][1]
            if p is None:
                continue
            t = p[0]
            k = t.shape[0]
            f = first[i]
            if f is None:
                continue
            if t.ndim <= nd:
                t = expand(t, nd)
            tf = type(f)
            if tf is _F64 and f - f == 0.0:  # a finite scalar partial
                term, new = t * f, True
            elif tf is float and (f == 1.0 or f == -1.0):
                term, new = (t, False) if f == 1.0 else (-t, True)
            else:
                term, new = nan_safe_product(t, f), True
            if out is None:
                out, fresh = term, new
            else:
                out, fresh = out + term, True
        if out is None:
            return cls._make(z, (zeros((k,) + shape, part_dtype(z)),), tag)
        if not fresh or out.shape[1:] != shape:
            out = np.broadcast_to(out, out.shape[:1] + shape).copy()
        if out.dtype.kind != "c" and z.dtype.kind == "c":
            out = out.astype(np.result_type(out.dtype, z.dtype))
        d = object.__new__(cls)
        d.value, d.tangent, d.tag, d._view, d._version, d._epoch = z, out, tag, None, 0, 0
        return d

    @classmethod
    def _linear(cls, op, g, adjoint, sp, value, tag, args):
        if len(sp) == 1:
            return cls._make(value, (g(sp[0][1][0]),), tag)
        k = next(p[0].shape[0] for _, p in sp if p is not None)
        dtype = part_dtype(value, *[p[0] for _, p in sp if p is not None])
        t = g(*[p[0] if p is not None else zeros((k,) + np.shape(v), dtype) for v, p in sp])
        return cls._make(value, (t,), tag)

    @classmethod
    def _primitive(cls, prim, sp, out, tag, args):
        t = prim.jvp(out, [v for v, _ in sp], [None if p is None else p[0] for _, p in sp])
        if isinstance(out, tuple):
            return tuple(o if dt is None else cls._make(o, (dt,), tag) for o, dt in zip(out, t))
        return cls._make(out, (t,), tag)

    # -- writes ---------------------------------------------------------------------------
    def _write(self, index, parts) -> None:
        head = (slice(None),) + (index if isinstance(index, tuple) else (index,))
        if parts is None:
            self.tangent[head] = 0
        else:
            t = fit_item(parts[0], np.ndim(self.value[index]))
            front = advanced_front(index)  # (NumPy moved advanced axes ahead of k)
            self.tangent[head] = np.moveaxis(t, 0, front) if front else t
