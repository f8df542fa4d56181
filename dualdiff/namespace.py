"""The array-API namespace of dualdiff's carriers: what ``x.__array_namespace__()`` returns.

Libraries written against the array API standard (SciPy with ``SCIPY_ARRAY_API=1`` set
before it is first imported) ask each input for its namespace ``xp`` and call ``xp.exp``,
``xp.sum``, ``xp.asarray`` ... instead of NumPy.  NumPy 2's own namespace already follows
the standard and its functions dispatch on carriers, so the namespace is NumPy's with:

* **creation bound to the carrier that was asked**: ``xp.zeros``, ``xp.asarray``,
  ``xp.full_like`` ... of floating (or complex) dtype make a constant carrier of that pass
  (so ``Hp = xp.zeros(n); Hp[0] = <carrier>`` keeps the derivative, as in
  ``scipy.optimize.rosen_hess_prod``); integer and boolean arrays stay NumPy arrays
  (indices and masks carry no derivative).  ``xp.asarray`` passes carriers through.
* ``max`` / ``min`` whose derivative at a tie is the mean over the tied elements (the
  array-API libraries' convention: JAX, PyTorch's amax) instead of NumPy's first index,
  and whose second derivative there is that of the log-mean-exp of the tied elements.
  SciPy's ``logsumexp`` shifts by the max and moves the tied elements out of its sum:
  with this convention (and only with it) it differentiates exactly at a tie, to every
  order -- unless weights ``b`` differ across the tie, where no convention for max can
  (SciPy's formula then only sees their sum): use ``dualdiff.scipy.special.logsumexp``;
* dtype queries (``finfo``, ``iinfo``, ``result_type``, ``can_cast``) that accept carriers;
* ``xp.special``: SciPy's special functions by name (``xp.special.erf`` is the ufunc,
  which applies dualdiff's row on carriers, or refuses by name when it has none), the
  composites polygamma, multigammaln, zeta, and betainc / betaincc differentiable in x.
  SciPy's ``scipy.special`` wrappers look functions up there;
* ``vecdot(x1, x2, axis=...)`` (NumPy's gufunc takes no ``axis=`` on carriers);

Every carrier's namespace compares equal to every other's (SciPy refuses arguments whose
namespaces differ), and holds only a 0-d constant of its pass, so a namespace kept in a
cache keeps nothing of a computation alive.  A plain NumPy array passed next to a carrier
still makes SciPy's ``array_namespace`` raise "Multiple namespaces": make it a carrier
first with ``np.asarray(a, like=x)``.  The same holds for array_api_extra's
``apply_where(cond, args, f1, f2)``: a comparison of carriers is a plain NumPy boolean
array (a discrete result), so the namespace it infers from ``cond`` and ``args`` is mixed;
given ``xp=`` it works (its output is created by ``xp`` and the branches written into
it), but SciPy's own calls (``scipy.stats.variation``, ``tmean`` ...) do not pass it.

dualdiff never sets ``SCIPY_ARRAY_API``: it is process-wide, must be set before SciPy is
imported, and slows every ``scipy.special`` call (each becomes a Python wrapper).
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import scipy.special._ufuncs as U

from . import core, rules_special
from .core import Carrier, constant_like, primal
from .scipy import special as _mirror

__all__ = ["Namespace", "namespace_of", "special"]


def _zeta(x: Any, q: Any = None) -> Any:
    """zeta(x) (Riemann) or zeta(x, q) (Hurwitz), as ``scipy.special.zeta``."""
    return U._riemann_zeta(x) if q is None else U._zeta(x, q)


def _special() -> types.SimpleNamespace:
    """SciPy's special ufuncs by public name (on a carrier each applies its row, or
    refuses by name when it has none) and the composites."""
    names = {n: f for n, f in vars(U).items() if isinstance(f, np.ufunc) and not n.startswith("_")}
    names.update(digamma=U.psi, zeta=_zeta, sinc=np.sinc, betainc=_mirror.betainc,
                 betaincc=_mirror.betaincc, **rules_special.COMPOSITES)
    return types.SimpleNamespace(**dict(sorted(names.items())))


#: ``xp.special``: SciPy's special functions by their public names.
special = _special()

_FLOATING = "fc"


def _dtype_of(x):
    return primal(x).dtype if isinstance(x, Carrier) else x


def _at_ties(x, axis, keepdims, largest: bool):
    """np.max (``largest``) or np.min of x whose derivatives at a tie are those of the
    log-mean-exp of the tied elements (of -x for min): the mean of their first
    derivatives, and the curvature that makes m e^max = sum_tied e^x hold to every order.

    The value is np.max's own: every tied x - out is an exact zero, so the correction
    log(count / sum e^(x - out)) is log(1.0) = +0.0 and out - 0.0 is out (-0.0 included).
    """
    reduce = np.max if largest else np.min
    if not isinstance(x, Carrier):
        return reduce(x, axis=axis, keepdims=keepdims)
    out = reduce(x, axis=axis, keepdims=True)
    ties = (x == out) & np.isfinite(out)
    count = np.sum(ties, axis=axis, keepdims=True)
    if np.all(count <= 1):
        return out if keepdims else np.squeeze(out, axis=axis)
    gap = np.where(ties, x - out if largest else out - x, -np.inf)
    total = np.sum(np.exp(gap), axis=axis, keepdims=True)
    many = count > 1
    if largest:
        out = out - np.log(np.where(many, count, 1.0) / np.where(many, total, 1.0))
    else:
        out = out - np.log(np.where(many, total, 1.0) / np.where(many, count, 1.0))
    return out if keepdims else np.squeeze(out, axis=axis)


class Namespace:
    """The array-API namespace of one carrier's pass: NumPy's namespace, whose functions
    dispatch on carriers, with creation bound to the pass (see the module docstring).

    >>> from dualdiff import Dual
    >>> xp = Dual(np.array([1.0, 2.0]), np.eye(2)).__array_namespace__()
    >>> h = xp.zeros(2)
    >>> h[0] = xp.exp(Dual(0.0, [1.0, 0.0]))
    >>> type(h).__name__, h.tangent.tolist(), type(xp.arange(2)).__name__
    ('Dual', [[1.0, 0.0], [0.0, 0.0]], 'ndarray')
    """

    __name__ = "dualdiff.namespace"
    __array_api_version__ = np.__array_api_version__
    __array_namespace_info__ = np.__array_namespace_info__  # capabilities, dtypes: NumPy's
    special = special

    def __init__(self, like: Carrier):
        self._like = constant_like(np.zeros(()), like)

    def __repr__(self) -> str:
        return "<array namespace 'dualdiff.namespace'>"

    # every dualdiff namespace is the same namespace to SciPy's array_namespace()
    def __eq__(self, other) -> bool:
        return isinstance(other, Namespace)

    def __hash__(self) -> int:
        return hash(Namespace)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(np, name)

    # -- creation -----------------------------------------------------------------------
    def _bind(self, value):
        """A floating plain array as a constant of this pass; other values unchanged."""
        if isinstance(value, Carrier) or np.asarray(value).dtype.kind not in _FLOATING:
            return value
        return constant_like(value, self._like)

    def asarray(self, obj, /, *, dtype=None, device=None, copy=None):
        if isinstance(obj, Carrier) or core.find_owner([obj]) is not None:
            out = np.asarray(obj, like=self._like) if not isinstance(obj, Carrier) else obj
            if dtype is not None and np.dtype(dtype) != out.dtype:
                return out.astype(dtype)
            return out.copy() if copy else out
        return self._bind(np.asarray(obj, dtype=dtype, copy=copy))

    def zeros(self, shape, *, dtype=None, device=None):
        return self._bind(np.zeros(shape, dtype=dtype))

    def ones(self, shape, *, dtype=None, device=None):
        return self._bind(np.ones(shape, dtype=dtype))

    def empty(self, shape, *, dtype=None, device=None):
        return self._bind(np.zeros(shape, dtype=dtype))  # zeros: a carrier's parts are set

    def full(self, shape, fill_value, *, dtype=None, device=None):
        if isinstance(fill_value, Carrier):
            return np.zeros(shape, dtype=dtype, like=fill_value) + fill_value
        return self._bind(np.full(shape, fill_value, dtype=dtype))

    def eye(self, n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
        return self._bind(np.eye(n_rows, n_cols, k=k, dtype=dtype))

    def arange(self, start, /, stop=None, step=1, *, dtype=None, device=None):
        return self._bind(np.arange(start, stop, step, dtype=dtype))

    def linspace(self, start, stop, /, num, *, dtype=None, device=None, endpoint=True):
        if core.find_owner([start, stop]) is not None:
            return np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype)
        return self._bind(np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype))

    def _like_of(self, func, x, dtype, **kwargs):
        if isinstance(x, Carrier) and (dtype is None or np.dtype(dtype).kind in _FLOATING):
            return func(x, dtype=dtype, **kwargs)
        return self._bind(func(primal(x), dtype=dtype, **kwargs))

    def zeros_like(self, x, /, *, dtype=None, device=None):
        return self._like_of(np.zeros_like, x, dtype)

    def ones_like(self, x, /, *, dtype=None, device=None):
        return self._like_of(np.ones_like, x, dtype)

    def empty_like(self, x, /, *, dtype=None, device=None):
        return self._like_of(np.zeros_like, x, dtype)

    def full_like(self, x, /, fill_value, *, dtype=None, device=None):
        if isinstance(fill_value, Carrier):
            return self.zeros_like(x, dtype=dtype) + fill_value
        return self._like_of(np.full_like, x, dtype, fill_value=fill_value)

    # -- reductions with ties -----------------------------------------------------------
    def max(self, x, /, *, axis=None, keepdims=False):
        return _at_ties(x, axis, keepdims, True)

    def min(self, x, /, *, axis=None, keepdims=False):
        return _at_ties(x, axis, keepdims, False)

    def vecdot(self, x1, x2, /, *, axis=-1):
        if axis != -1:
            x1, x2 = np.broadcast_arrays(x1, x2)
            x1, x2 = np.moveaxis(x1, axis, -1), np.moveaxis(x2, axis, -1)
        return np.vecdot(x1, x2)

    # -- dtypes and devices ---------------------------------------------------------------
    def astype(self, x, dtype, /, *, copy=True, device=None):
        return np.astype(x, dtype, copy=copy)

    def finfo(self, type, /):
        return np.finfo(_dtype_of(type))

    def iinfo(self, type, /):
        return np.iinfo(_dtype_of(type))

    def result_type(self, *arrays_and_dtypes):
        return np.result_type(*[_dtype_of(a) for a in arrays_and_dtypes])

    def can_cast(self, from_, to, /):
        return np.can_cast(_dtype_of(from_), to)

    def isdtype(self, dtype, kind):
        return np.isdtype(_dtype_of(dtype), kind)

    def device(self, x, /):
        return "cpu"

    def to_device(self, x, device, /, *, stream=None):
        if device not in ("cpu", None):
            raise ValueError(f"dualdiff arrays live on the CPU only, not on {device!r}")
        return x


def namespace_of(x: Carrier) -> Namespace:
    """``x.__array_namespace__()``: the namespace of x's pass.

    >>> from dualdiff import Dual
    >>> namespace_of(Dual(1.0, 1.0)) == namespace_of(Dual(2.0, 1.0, tag=7))
    True
    """
    return Namespace(x)


core.HOOKS["namespace"] = namespace_of
