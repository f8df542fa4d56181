"""Dual numbers: forward mode with k directions at once.

``Dual(a, t)`` stands for ``a + sum_k t[k] eps_k`` with ``eps_i eps_j = 0``, so
``f(a + t eps) = f(a) + f'(a) t eps``.  ``value`` is an array (0-d for a
scalar); ``tangent`` has one extra leading axis for the k seeded directions,
so element-wise rules broadcast over it unchanged.
"""

from __future__ import annotations

import operator

import numpy as np

from . import rules
from .carrier import Carrier, direction_part

try:  # NumPy >= 2 keeps np.errstate in a context variable: setting it directly
    # costs ~0.1 us where entering np.errstate costs ~1 us (once per operation).
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRSTATE
    from numpy._core._ufunc_config import _make_extobj

    _IGNORE = _make_extobj(all="ignore")

    def quiet():
        """Start ignoring floating-point warnings (derivative code must not warn
        where NumPy on the primal would not); pass the result to :func:`loud`.

        >>> token = quiet()
        >>> float(np.float64(1.0) / np.float64(0.0))  # no RuntimeWarning
        inf
        >>> loud(token)
        """
        return _ERRSTATE.set(_IGNORE)

    def loud(token) -> None:
        """Restore the floating-point warning state saved by :func:`quiet`.

        >>> before = np.geterr()
        >>> loud(quiet())
        >>> np.geterr() == before
        True
        """
        _ERRSTATE.reset(token)
except ImportError:  # pragma: no cover - other NumPy layouts
    def quiet():
        """Start ignoring floating-point warnings; pass the result to :func:`loud`."""
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def loud(token) -> None:
        """Restore the floating-point warning state saved by :func:`quiet`."""
        token.__exit__(None, None, None)


# Values of scalar duals are NumPy float64 scalars; NumPy's scalar arithmetic
# gives the same results and warnings as the ufunc at a fraction of the call
# cost (checked on signed zeros, inf, nan, overflow, ints; power differs in
# warnings, so it is left out).
_SCALAR_OPS = {np.add: operator.add, np.subtract: operator.sub, np.multiply: operator.mul,
               np.divide: operator.truediv}
_F64 = np.float64
_NUMBERS = {np.float64, np.int64, float, int}  # Python numbers arrive as NumPy scalars


def expand(t, ndim: int):
    """Insert unit axes after the leading direction axis so ``t`` has rank ``1 + ndim``.

    >>> expand(np.zeros((3, 4)), 3).shape
    (3, 1, 1, 4)
    """
    missing = ndim - (t.ndim - 1)
    if missing <= 0:
        return t
    return t.reshape(t.shape[:1] + (1,) * missing + t.shape[1:])


def fit(t, shape: tuple):
    """``t`` (k, ...) broadcast to (k, *shape) as a fresh writeable array.

    >>> fit(np.ones((2, 3)), (4, 3)).shape
    (2, 4, 3)
    """
    full = t.shape[:1] + tuple(shape)
    if t.shape == full:
        return t.copy()
    return np.broadcast_to(expand(t, len(shape)), full).copy()


def zeros(k: int, shape: tuple):
    """A read-only zero tangent of k directions (a broadcast view: no memory).

    >>> zeros(2, (3,)).shape
    (2, 3)
    """
    return np.broadcast_to(np.zeros(()), (k,) + tuple(shape))


def nan_safe_product(t, d, multiply=None):
    """``t * d`` where a zero tangent stays zero even if the partial d is inf or nan
    (d sqrt(x_0) / d x_1 is 0 at x_0 = 0, not 0 * inf = nan).  ``multiply`` replaces
    ``*`` (HyperDual passes one that writes into recycled buffers).

    >>> with np.errstate(invalid="ignore"):  # callers run it under errstate
    ...     out = nan_safe_product(np.array([[1.0, 0.0]]), np.array([np.inf, np.inf]))
    >>> out.tolist()
    [[inf, 0.0]]
    """
    out = t * d if multiply is None else multiply(t, d)
    if isinstance(d, float):  # Python float or NumPy scalar: the 0-d fast path
        if d - d == 0.0:  # finite
            return out
    elif isinstance(d, (int, np.integer)) or np.isfinite(d).all():  # integers are finite
        return out
    return np.where(t == 0, 0.0, out)


def promote(part, item):
    """``part`` as a carrier able to hold ``item`` (unchanged if it already can): item
    assignment in nested passes, where the item carries an older perturbation.

    >>> promote(np.zeros(2), Dual(1.0, 1.0, tag=5)).tag
    5
    """
    if not isinstance(item, Carrier):
        return part
    if isinstance(part, Carrier) and part.tag >= item.tag:
        return part
    return np.zeros(np.shape(part), like=item) + part


class Dual(Carrier):
    """A dual number array: ``value + tangent . eps``.

    ``Dual(2.0, 1.0)`` is a scalar with one direction; ``Dual(x, T)`` with
    ``T.shape == (k,) + x.shape`` carries k directions.

    >>> import numpy as np
    >>> y = np.sin(Dual(0.0, 1.0)) * 3
    >>> float(y.value), y.tangent.tolist()
    (0.0, [3.0])
    """

    __slots__ = ("value", "tangent", "tag")
    _part_names = ("value", "tangent")
    _lead = (0, 1)

    def __init__(self, value, tangent=None, tag: int = 0):
        if not isinstance(value, Carrier):
            value = np.asarray(value, dtype=float)
        tangent = direction_part(tangent, np.shape(value), "Dual: tangent")
        self.value, self.tangent, self.tag = value, tangent, tag

    @classmethod
    def _new(cls, value, tangent, tag):
        d = object.__new__(cls)
        d.value, d.tangent, d.tag = value, tangent, tag
        return d

    @property
    def parts(self) -> tuple:
        return (self.value, self.tangent)

    @classmethod
    def _from_parts(cls, parts, tag):
        return cls._new(parts[0], parts[1], tag)

    @staticmethod
    def zero_parts(k: int, shape: tuple) -> tuple:
        """Derivative parts of a constant for a pass of k directions."""
        return (np.zeros((k,) + tuple(shape)),)

    @staticmethod
    def _split(x, tag):
        """(value, tangent or None) of ``x`` as seen by a pass of ``tag``."""
        if isinstance(x, Dual) and x.tag == tag:
            return x.value, x.tangent
        return x, None

    # -- the four kinds of rule ----------------------------------------------
    @classmethod
    def _unary(cls, ufunc, x):
        v, t = x.value, x.tangent
        y = ufunc(v)
        if ufunc in rules.PIECEWISE_CONSTANT:
            return cls._new(y, np.zeros_like(t), x.tag)
        d1 = rules.UNARY[ufunc][0]
        token = quiet()
        try:
            out = nan_safe_product(t, d1(v, y) if callable(d1) else d1)
        finally:
            loud(token)
        if ufunc in rules.KINKS:
            # at 0 the sign comes from the tangent: |0 + t eps| = |t| eps
            out = np.where(v == 0, np.abs(t), out)
        return cls._new(y, out, x.tag)

    @classmethod
    def _binary(cls, ufunc, a, b, tag):
        (fa, fb), _ = rules.BINARY[ufunc]
        if isinstance(a, Dual) and a.tag == tag:
            av, at = a.value, a.tangent
        else:
            av, at = a, None
        if isinstance(b, Dual) and b.tag == tag:
            bv, bt = b.value, b.tangent
        else:
            bv, bt = b, None
        op = _SCALAR_OPS.get(ufunc)
        if op is not None and ((type(av) is _F64 and type(bv) in _NUMBERS)
                               or (type(bv) is _F64 and type(av) in _NUMBERS)):
            z = op(av, bv)
        else:
            z = ufunc(av, bv)
        shape = z.shape if hasattr(z, "shape") else np.shape(z)
        ndim = len(shape)
        out = None
        token = quiet()
        try:
            for deriv, t, pos in ((fa, at, "first"), (fb, bt, "second")):
                if t is None or (type(deriv) is float and deriv == 0.0):
                    continue
                if deriv is rules.NONDIFF:
                    raise TypeError(
                        f"{ufunc.__name__}: no derivative with respect to its {pos} "
                        f"argument; pass a constant there."
                    )
                if t.ndim - 1 < ndim:
                    t = expand(t, ndim)
                term = t if type(deriv) is float and deriv == 1.0 else nan_safe_product(
                    t, deriv(av, bv, z) if callable(deriv) else deriv)
                out = term if out is None else out + term
        finally:
            loud(token)
        k = (at if at is not None else bt).shape[0]
        if at is not None and bt is not None and at.shape[0] != bt.shape[0]:
            raise ValueError(f"{ufunc.__name__}: operands carry {at.shape[0]} and "
                             f"{bt.shape[0]} directions")
        if out is None:
            out = np.zeros((k,) + shape)
        elif out is at or out is bt or out.shape[1:] != shape:
            out = fit(out, shape)
        return cls._new(z, out, tag)

    @classmethod
    def _linear(cls, g, xs, tag, op, adjoint=None):
        if len(xs) == 1 and isinstance(xs[0], Dual) and xs[0].tag == tag:  # x[i], x.T, ...
            return cls._new(op(xs[0].value), g(xs[0].tangent), tag)
        split = [cls._split(x, tag) for x in xs]
        k = next(t.shape[0] for _, t in split if t is not None)
        value = op(*[v for v, _ in split])
        tangent = g(*[t if t is not None else zeros(k, np.shape(v)) for v, t in split])
        return cls._new(value, tangent, tag)

    @classmethod
    def _primitive(cls, prim, args, tag):
        split = [cls._split(x, tag) for x in args]
        values = [v for v, _ in split]
        out = prim.fn(*values)
        token = quiet()
        try:
            t = prim.jvp(out, values, [t for _, t in split])
        finally:
            loud(token)
        if isinstance(out, tuple):
            return tuple(o if dt is None else cls._new(o, dt, tag) for o, dt in zip(out, t))
        return cls._new(out, t, tag)

    def _setitem(self, index, item):
        value, tangent = self._split(item, self.tag)
        # nested passes: an item whose parts carry an older perturbation turns this
        # array's parts into carriers of that perturbation first (a fresh copy)
        self.value = promote(self.value, value)
        if not isinstance(self.value, (np.ndarray, Carrier)):  # a NumPy scalar from a 0-d op
            self.value = np.array(self.value)
        if tangent is not None:
            self.tangent = promote(self.tangent, tangent)
        slot = self.value[index]
        self.value[index] = value
        head = (slice(None),) + (index if isinstance(index, tuple) else (index,))
        self.tangent[head] = 0.0 if tangent is None else expand(tangent, np.ndim(slot))
