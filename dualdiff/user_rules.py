"""User rules: derivatives for functions dualdiff cannot look into.

``dd.rule(func, d1, d2=None)`` gives an element-wise function (a ufunc, e.g. one made by
numba's ``@vectorize`` or ``np.frompyfunc``, or a vectorised callable such as a compiled
kernel) its first and second derivatives.  The row goes into the one table
(``rules.UNARY`` / ``rules.BINARY``), read by every carrier like the built-in rows:
forward, reverse, auto, hyper-duals and sparsity detection.

``dd.primitive(func, jvp, vjp=None, pattern=None)`` makes any function (a compiled model,
a call into C) a :class:`~dualdiff.primitives.Primitive` with the user's forward rule, and
optionally its reverse rule and sparsity pattern.

Registering is an explicit, process-wide act (like JAX's ``defjvp``), done once, under a
lock; a built-in rule cannot be replaced, a user rule can (the last registration wins).
Nothing else is global: a registered function called on plain arrays runs as before.

Signatures (a leading axis of k directions on tangents and cotangents):

* ``d1(x)`` or ``d1(x, y)`` with ``y = func(x)``; ``d2(x)``, ``d2(x, y)`` or
  ``d2(x, y, d1)``.  A function of two arguments gives ``d1 = (fx, fy)`` and
  ``d2 = (fxx, fxy, fyy)``, each ``f(x, y)`` or ``f(x, y, z)`` with ``z = func(x, y)``.
  Without d2, second derivatives differentiate d1 itself (it must be written with NumPy
  calls); a number stands for a constant derivative.
* ``jvp(out, primals, tangents)`` returns out's tangent ``(k,) + out.shape``;
  ``tangents[i]`` is ``(k,) + primals[i].shape``, or None where argument i is constant.
  ``vjp(out, primals, u)`` returns one adjoint ``(k,) + primals[i].shape`` per argument
  (None where there is none) for cotangents u ``(k,) + out.shape``.  ``pattern`` is a
  boolean (out.size, arg.size) matrix (a list of them, one per argument), or a function
  ``pattern(out, *primals)`` returning them; without it every output depends on every
  input.  Second derivatives run the jvp on dualdiff values (write it with NumPy calls,
  or with functions registered here).

>>> import numpy as np, dualdiff as dd
>>> cube = dd.rule(np.frompyfunc(lambda t: t ** 3, 1, 1), lambda x: 3 * x**2, lambda x: 6 * x)
>>> float(dd.derivative(cube, 2.0)), float(dd.hessian(lambda x: cube(x), 2.0))
(12.0, 12.0)
"""

from __future__ import annotations

import functools
import inspect
import threading

import numpy as np
import scipy.sparse as sp

from . import rules
from .core import (
    HANDLED,
    Carrier,
    apply_ufunc,
    find_owner,
    new_tag,
    primal,
    primitive,
    public_name,
)
from .dual import Dual
from .primitives import Primitive

_lock = threading.Lock()
#: what the user registered: function object -> its table key (element-wise) or Primitive
_REGISTERED: dict = {}


def _name(func, name=None) -> str:
    """How messages name a registered function: ``name=``, else as the user spells it."""
    return name or public_name(func)


def _numeric(out, values):
    """A result computed by a function outside NumPy, as NumPy would hold it: object
    arrays (np.frompyfunc) and Python numbers become floats of the arguments' precision."""
    if isinstance(out, Carrier) or (isinstance(out, np.ndarray) and out.dtype != object) \
            or isinstance(out, np.generic):
        return out
    dtype = np.result_type(*[primal(v).dtype for v in values], np.float16)
    arr = np.asarray(out)
    if arr.dtype == object:
        arr = arr.astype(np.result_type(dtype, *{type(e) for e in arr.ravel().tolist()})
                         if arr.size else dtype)
    arr = arr.astype(np.result_type(dtype, arr.dtype), copy=False)
    return arr[()] if arr.ndim == 0 else arr


def _arity(fn, least: int, most: int) -> int:
    """How many of the table's arguments a user's derivative function takes: its
    required positional parameters (``least``, the function's own arguments, for a ufunc
    or a ``*args`` function)."""
    nin = getattr(fn, "nin", None)
    if isinstance(nin, int):
        return nin
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return least
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return least
    required = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and
                   p.default is p.empty for p in params)
    return min(most, max(least, required))


# -- element-wise rules ----------------------------------------------------------------------

class Elementwise:
    """The table's key for a user's element-wise function: on plain values it calls the
    function (object results made numeric); given dualdiff values (a rule of a nested
    derivative calls it so) it applies its own row through the core."""

    def __init__(self, func, name: str, nin: int):
        self.func, self._dualdiff_name, self.nin = func, name, nin
        self.__name__ = name

    def __call__(self, *values):
        if find_owner(values) is not None:
            return apply_ufunc(self, values)
        return _numeric(self.func(*values), values)

    def __repr__(self) -> str:
        return f"<dualdiff rule for {self._dualdiff_name}>"


def _missing(name: str, what: str):
    def entry(*args):
        raise TypeError(f"{name}: no {what} was registered; give it to dd.rule "
                        f"(d2=...) to take second derivatives")
    return entry


def _table_entry(fn, least: int, most: int):
    """A user's derivative (number, or function of the first k table arguments) as a table
    entry taking all ``most`` arguments, numeric on plain values."""
    if fn is None or isinstance(fn, (int, float)) and not isinstance(fn, bool):
        return fn
    if not callable(fn):
        raise TypeError(f"a derivative must be a function or a number, got {type(fn).__name__}")
    k = _arity(fn, least, most)

    def entry(*args):
        vals = args[:k]
        out = fn(*vals)
        return out if find_owner(args) is not None else _numeric(out, vals)

    return entry


def _nested(entry, carried, name: str, what: str, nin: int = 1):
    """``entry`` for values that may carry an outer derivative: ``carried`` (a table
    key of the function's ``nin`` arguments whose row differentiates the entry) when there
    is one, else the user's function itself on the carriers (written with NumPy calls)."""
    def call(*args):
        if find_owner(args) is None:
            return entry(*args)
        if carried is not None:
            return carried(*args[:nin])
        try:
            return entry(*args)
        except TypeError as e:
            raise TypeError(f"{name}: second derivatives need {what}: its registered first "
                            f"derivative could not be differentiated (it does not take "
                            f"dualdiff arrays); pass {what}=... to dd.rule") from e
    return call


def _unit(x):
    """x as a Dual of one direction with unit tangent (an element-wise derivative)."""
    v = np.asarray(x) if not isinstance(x, Carrier) else x
    dtype = np.result_type(primal(v).dtype, np.float16)
    return Dual._make(v, (np.ones((1,) + np.shape(v), dtype),), new_tag())


def _tangent_of(y, like):
    if isinstance(y, Dual) and y.tag == like.tag:
        return y.tangent[0]
    return np.zeros(np.shape(primal(like)), primal(like).dtype)


def _unary_row(func, name, d1, d2):
    e1 = _table_entry(d1, 1, 2)
    if d2 is not None:
        e2 = _table_entry(d2, 1, 3)
        # d1 on carriers (nested derivatives): a key of its own whose derivative is f''
        d1_key = Elementwise(lambda x: e1(x, func(x)), f"{name}'", 1) if callable(e1) else None
        if d1_key is not None:
            _put(d1_key, (lambda x, y: e2(x, func(x), y), _missing(name, "third derivative")))
        first = _nested(e1, d1_key, name, "d2") if callable(e1) else e1
        return first, e2
    if not callable(e1):
        return e1, 0.0
    first = _nested(e1, None, name, "d2")

    def second(x, y, d):  # f'' by differentiating d1(x, f(x)) along x
        xd = _unit(x)
        yd = Dual._make(np.asarray(y) if not isinstance(y, Carrier) else y,
                        (np.reshape(d, (1,) + np.shape(y)),), xd.tag)
        return _tangent_of(first(xd, yd), xd)

    return first, second


def _binary_row(func, name, d1, d2):
    if not (isinstance(d1, (tuple, list)) and len(d1) == 2):
        raise TypeError(f"dd.rule({name}): a function of two arguments needs d1=(fx, fy)")
    fx, fy = (_table_entry(e, 2, 3) for e in d1)
    if d2 is not None:
        if not (isinstance(d2, (tuple, list)) and len(d2) == 3):
            raise TypeError(f"dd.rule({name}): a function of two arguments needs "
                            f"d2=(fxx, fxy, fyy)")
        fxx, fxy, fyy = (_table_entry(e, 2, 3) for e in d2)
        keys = []
        for e, (a, b) in ((fx, (fxx, fxy)), (fy, (fxy, fyy))):
            if not callable(e):
                keys.append(None)
                continue
            key = Elementwise(functools.partial(lambda e, x, y: e(x, y, func(x, y)), e),
                              f"{name}'", 2)
            third = _missing(name, "third derivative")
            _put(key, ((_with_z(a, func), _with_z(b, func)), (third, third, third)))
            keys.append(key)
        first = tuple(_nested(e, k, name, "d2", 2) if callable(e) else e
                      for e, k in zip((fx, fy), keys))
        return first, (fxx, fxy, fyy)
    first = tuple(_nested(e, None, name, "d2") if callable(e) else e for e in (fx, fy))

    def seconds(i, j):
        def f(x, y, z):
            e = first[i]
            if not callable(e):
                return 0.0
            xs = [x, y]
            xs[j] = _unit(xs[j])
            tag = xs[j].tag
            dz = first[j](x, y, z) if callable(first[j]) else first[j]
            zd = Dual._make(np.asarray(z) if not isinstance(z, Carrier) else z,
                            (np.reshape(np.broadcast_to(dz, np.shape(z)), (1,) + np.shape(z)),),
                            tag)
            return _tangent_of(e(xs[0], xs[1], zd), xs[j])
        return f

    return first, (seconds(0, 0), seconds(0, 1), seconds(1, 1))


def _with_z(entry, func):
    if not callable(entry):
        return entry
    return lambda x, y, z: entry(x, y, func(x, y))


def _put(key, row) -> None:
    """A row into the one table (under the registration lock)."""
    table = rules.UNARY if len(row) == 2 and not isinstance(row[0], tuple) else rules.BINARY
    table[key] = row


def _ufunc_like(func) -> bool:
    return isinstance(func, np.ufunc) or (callable(func) and hasattr(func, "nin") and
                                         hasattr(func, "reduce") and hasattr(func, "types"))


def _check_new(func, name):
    if func in _REGISTERED:
        return
    if func in rules.UNARY or func in rules.BINARY or func in rules.PIECEWISE_CONSTANT or \
            func in HANDLED:
        raise ValueError(f"{name} already has a built-in derivative rule in dualdiff; "
                         f"register a function of your own instead")


def rule(func, d1, d2=None, *, name: str | None = None):
    """Register the derivatives of an element-wise function of one or two arguments;
    returns the function to call (func itself for a ufunc, else a wrapper that falls
    through to func on plain arrays).  See the module docstring for the signatures.

    >>> import numpy as np, dualdiff as dd
    >>> sq = dd.rule(np.frompyfunc(lambda t: t * t, 1, 1), lambda x: 2 * x)
    >>> dd.jacobian(lambda x: sq(x), np.array([1.0, 3.0])).diagonal().tolist()
    [2.0, 6.0]
    """
    label = _name(func, name)
    if not callable(func):
        raise TypeError(f"dd.rule: func must be a function or ufunc, got {type(func).__name__}")
    nin = getattr(func, "nin", None)
    if not isinstance(nin, int):
        nin = 2 if isinstance(d1, (tuple, list)) else 1
    if nin not in (1, 2) or getattr(func, "nout", 1) != 1:
        raise TypeError(f"dd.rule({label}): element-wise functions of one or two arguments "
                        f"with one output only; use dd.primitive for others")
    key = Elementwise(func, label, nin)
    with _lock:
        _check_new(func, label)
        row = _unary_row(key, label, d1, d2) if nin == 1 else _binary_row(key, label, d1, d2)
        old = _REGISTERED.get(func)
        if old is not None:
            rules.UNARY.pop(old, None)
            rules.BINARY.pop(old, None)
        _put(key, row)
        _REGISTERED[func] = key
        if _ufunc_like(func):  # its calls reach the core as this ufunc: route them
            HANDLED[func] = lambda *inputs: apply_ufunc(key, inputs)
            return func

    @functools.wraps(func)
    def wrapper(*args):
        return apply_ufunc(key, args) if find_owner(args) is not None else func(*args)

    return wrapper


# -- primitives ---------------------------------------------------------------------------

def _structure(pattern, name):
    """A user's pattern as a Primitive's structure rule."""
    if pattern is None:
        return None

    def as_matrix(p, out_size, arg_size):
        m = sp.csr_array(p if sp.issparse(p) else np.asarray(p, dtype=bool), dtype=bool)
        if m.shape != (out_size, arg_size):
            raise ValueError(f"{name}: pattern of shape {m.shape} for an argument of "
                             f"{arg_size} elements and an output of {out_size}; expected "
                             f"({out_size}, {arg_size})")
        return m

    def structure(out, primals, masks, live):
        p = pattern(out, *primals) if callable(pattern) else pattern
        ps = list(p) if isinstance(p, (list, tuple)) else [p]
        if len(ps) != len(primals):
            raise ValueError(f"{name}: the pattern gives {len(ps)} matrices for "
                             f"{len(primals)} arguments")
        return [as_matrix(q, np.size(out), np.size(a)) if on and q is not None else None
                for q, a, on in zip(ps, primals, live)]

    return structure


def _jvp_rule(jvp, name):
    def rule_(out, primals, tangents):
        try:
            return jvp(out, primals, tangents)
        except TypeError as e:
            if find_owner(list(primals) + list(tangents)) is None:
                raise
            raise TypeError(f"{name}: second derivatives run its jvp on dualdiff values, "
                            f"and it failed ({e}); write the jvp with NumPy calls or with "
                            f"functions registered by dd.rule / dd.primitive") from e
    return rule_


def _vjp_rule(vjp, name):
    if vjp is None:
        return None

    def rule_(out, primals, u, needs):
        adj = vjp(out, primals, u)
        adj = tuple(adj) if isinstance(adj, (tuple, list)) else (adj,)
        if len(adj) != len(primals):
            raise ValueError(f"{name}: vjp returned {len(adj)} adjoints for {len(primals)} "
                             f"arguments")
        return tuple(a if n else None for a, n in zip(adj, needs))

    return rule_


def primitive_rule(func, jvp, vjp=None, pattern=None, *, name: str | None = None):
    """Register a general function with its forward rule (and optionally its reverse rule
    and sparsity pattern); returns the function to call, which falls through to func on
    plain arrays.  See the module docstring for the signatures.  (Public as
    ``dd.primitive``.)

    >>> import numpy as np, dualdiff as dd
    >>> A = np.array([[2.0, 1.0], [0.0, 3.0]])
    >>> apply = dd.primitive(lambda x: A @ x, jvp=lambda out, p, t: t[0] @ A.T,
    ...                      vjp=lambda out, p, u: (u @ A,))
    >>> dd.jacobian(apply, np.ones(2), mode="reverse").tolist()
    [[2.0, 1.0], [0.0, 3.0]]
    """
    label = _name(func, name)
    if not callable(func) or not callable(jvp):
        raise TypeError(f"dd.primitive({label}): func and jvp must be functions")
    if vjp is not None and not callable(vjp):
        raise TypeError(f"dd.primitive({label}): vjp must be a function or None")

    def make(kwargs):
        fn = functools.partial(func, **kwargs) if kwargs else func
        j = functools.partial(jvp, **kwargs) if kwargs else jvp
        v = functools.partial(vjp, **kwargs) if kwargs and vjp is not None else vjp
        prim = Primitive(label, None, _jvp_rule(j, label), _vjp_rule(v, label),
                         _structure(pattern, label))

        def value(*args):  # nested derivatives call it on carriers: apply the rule again
            if find_owner(args) is not None:
                return primitive(prim, *args)
            return fn(*args)

        prim.fn = value
        return prim

    plain = make({})

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if find_owner(args) is None:
            if find_owner(tuple(kwargs.values())) is not None:
                raise TypeError(f"{label}: pass differentiated arguments positionally")
            return func(*args, **kwargs)
        if find_owner(tuple(kwargs.values())) is not None:
            raise TypeError(f"{label}: pass differentiated arguments positionally")
        return primitive(make(kwargs) if kwargs else plain, *args)

    with _lock:
        _check_new(func, label)
        _REGISTERED[func] = plain
        if hasattr(func, "_implementation"):  # a NumPy function: its own calls dispatch here
            HANDLED[func] = wrapper
    return wrapper


__all__ = ["rule", "primitive_rule", "Elementwise"]
