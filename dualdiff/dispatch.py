"""NumPy dispatch: maps ufunc and ``__array_function__`` calls to rules.

``HANDLED`` maps NumPy functions to implementations (see
:mod:`dualdiff.functions`); ``PRIMAL_ONLY`` functions return integers,
booleans or shapes and run on the primal; everything else raises a TypeError
naming the function, so no derivative is ever silently dropped.

Three appliers serve every implementation and every carrier:

* :func:`linear` applies a linear map batched over one leading axis;
* :func:`gather` does the same for a map that only moves elements, from its
  index map (the map evaluated once on an array of indices);
* :func:`primitive` applies a rule with an explicit forward derivative.
"""

from __future__ import annotations

import numpy as np

from . import rules
from .carrier import Carrier, find_owner, primal

HANDLED: dict = {}
PRIMAL_ONLY: set = set()
UNSUPPORTED: dict = {}


def implements(*funcs):
    """Register the decorated function as the implementation of ``funcs``.

    >>> import numpy as np
    >>> HANDLED[np.sum] is not None
    True
    """
    def register(impl):
        for f in funcs:
            HANDLED[f] = impl
        return impl

    return register


def strip(obj):
    """Replace every carrier in obj (through lists, tuples, dicts) by its primal.

    >>> from dualdiff import Dual
    >>> strip([Dual(2.0, 1.0), 3])[0].tolist()
    2.0
    """
    if isinstance(obj, Carrier):
        return primal(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(strip(o) for o in obj)
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items()}
    return obj


def _name(func) -> str:
    mod = getattr(func, "__module__", "") or ""
    short = "np.linalg." if "linalg" in mod else "np.fft." if "fft" in mod else "np."
    return short + func.__name__


def call_function(func, args, kwargs):
    """Entry point of ``__array_function__``.

    >>> import numpy as np
    >>> from dualdiff import Dual
    >>> call_function(np.sum, (Dual(np.ones(2), np.ones((1, 2))),), {}).tangent.tolist()
    [2.0]
    """
    impl = HANDLED.get(func)
    if impl is not None:
        out = kwargs.pop("out", None)
        from .carrier import write_out

        return write_out(impl(*args, **kwargs), out, _name(func))
    if func in PRIMAL_ONLY:
        return func(*strip(args), **strip(kwargs))
    reason = UNSUPPORTED.get(func, "it has no derivative rule in dualdiff")
    raise TypeError(
        f"dualdiff cannot differentiate {_name(func)}: {reason}. Rewrite it with "
        f"supported NumPy operations, or apply it to .value if no derivative is needed."
    )


_REDUCE = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max, np.minimum: np.min,
           np.fmax: np.nanmax, np.fmin: np.nanmin}
_ACCUMULATE = {np.add: np.cumsum, np.multiply: np.cumprod}


def call_ufunc(ufunc, method, inputs, kwargs):
    """Entry point of ``__array_ufunc__`` and of the Python operators.

    >>> import numpy as np
    >>> from dualdiff import Dual
    >>> call_ufunc(np.multiply, "__call__", (Dual(3.0, 1.0), 2.0), {}).tangent.tolist()
    [2.0]
    """
    if method == "__call__" and not kwargs:
        return apply_ufunc(ufunc, inputs)
    if kwargs.get("where", True) is not True:
        raise TypeError(f"{ufunc.__name__}(..., where=) is not supported; use np.where")
    dtype = kwargs.pop("dtype", None)
    if dtype is not None and not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"{ufunc.__name__}(..., dtype={dtype}) would drop the derivative")
    kwargs.pop("casting", None)
    kwargs.pop("where", None)
    if method == "reduce" and ufunc in _REDUCE:
        return _REDUCE[ufunc](inputs[0], axis=kwargs.get("axis", 0),
                              keepdims=kwargs.get("keepdims", False),
                              initial=kwargs.get("initial", np._NoValue))
    if method == "accumulate" and ufunc in _ACCUMULATE:
        return _ACCUMULATE[ufunc](inputs[0], axis=kwargs.get("axis", 0))
    if method == "outer" and ufunc.nin == 2:
        a, b = inputs
        return ufunc(np.reshape(a, np.shape(a) + (1,) * np.ndim(b)), b)
    if method != "__call__" or kwargs:
        raise TypeError(f"np.{ufunc.__name__}.{method} with {sorted(kwargs)} is not supported "
                        f"by dualdiff; write it with supported calls")
    return apply_ufunc(ufunc, inputs)


def apply_ufunc(ufunc, inputs):
    """``ufunc(*inputs)`` (no keywords) with at least one carrier among the inputs.

    The Python operators call this directly: NumPy's dispatch has nothing to add.

    >>> import numpy as np
    >>> from dualdiff import Dual
    >>> apply_ufunc(np.multiply, (Dual(3.0, 1.0), 2.0)).tangent.tolist()
    [2.0]
    """
    if ufunc in rules.PRIMAL_ONLY_UFUNCS:
        return ufunc(*strip(inputs))
    if len(inputs) == 1 and isinstance(inputs[0], Carrier):
        owner = inputs[0]
    else:
        inputs = tuple(x if isinstance(x, Carrier) else _operand(x) for x in inputs)
        owner = find_owner(inputs)
    cls = type(owner)
    if ufunc in rules.UNARY or ufunc in rules.PIECEWISE_CONSTANT:
        return cls._unary(ufunc, inputs[0])
    if ufunc in rules.BINARY:
        return cls._binary(ufunc, inputs[0], inputs[1], owner.tag)
    impl = HANDLED.get(ufunc)
    if impl is not None:
        return impl(*inputs)
    raise TypeError(
        f"dualdiff cannot differentiate the ufunc np.{ufunc.__name__}: "
        f"{UNSUPPORTED.get(ufunc, 'it has no derivative rule')}; apply it to .value "
        f"if no derivative is needed."
    )


# -- appliers -----------------------------------------------------------------

def lift(x):
    """A list, tuple or object array holding carriers as one stacked carrier (else x
    unchanged), so ``np.concatenate([x[:2], [np.sum(x)]])`` and arithmetic on
    ``np.array([d1, d2])`` keep every derivative.

    >>> import numpy as np
    >>> from dualdiff import Dual
    >>> lift([Dual(1.0, 1.0), 2.0]).tangent.tolist()
    [[1.0, 0.0]]
    >>> lift(np.array([Dual(1.0, 2.0), 3.0])).tangent.tolist()
    [[2.0, 0.0]]
    """
    if isinstance(x, (list, tuple)) and find_owner(x) is not None:
        return np.stack([lift(e) for e in x])
    if isinstance(x, np.ndarray) and x.dtype == object:
        items = x.ravel().tolist()
        if find_owner(items) is not None:
            return np.reshape(np.stack(items), x.shape)
    return x


def _operand(x):
    """A ufunc operand: sequences lifted, Python numbers as NumPy scalars (so a
    rule's ``1.0 / y`` at y = 0 gives inf like NumPy, not ZeroDivisionError)."""
    if type(x) is float:
        return np.float64(x)
    if type(x) is int:
        return np.int64(x) if -2**63 <= x < 2**63 else np.float64(x)
    return lift(x)


def linear(g, *xs, op, adjoint=None):
    """Apply a linear map to every part of xs.

    ``op(*xs)`` is the map on plain arrays and ``g`` the same map batched over
    one leading axis.  ``adjoint`` (batched too) is its transpose, given only
    when op is not a pure movement of elements (sum, cumsum); without it op
    only moves elements or fills zeros, so its transpose and its sparsity
    follow from op applied to arrays of indices (see :func:`index_map`).

    >>> import numpy as np
    >>> from dualdiff import Dual
    >>> x = Dual(np.arange(3.0), np.eye(3))
    >>> linear(lambda p: p[:, ::-1], x, op=lambda v: v[::-1]).tangent[0].tolist()
    [0.0, 0.0, 1.0]
    """
    owner = find_owner(xs)
    if owner is None:
        return op(*xs)
    xs = tuple(lift(x) for x in xs)
    return type(owner)._linear(g, xs, owner.tag, op, adjoint)


def index_map(op, shapes):
    """op applied to arrays of indices 1, 2, ... of the given shapes (0: a filled zero).

    >>> import numpy as np
    >>> index_map(lambda v: np.pad(v, 1), [(2,)]).tolist()
    [0, 1, 2, 0]
    """
    offsets = np.cumsum([1] + [int(np.prod(s)) for s in shapes])
    return np.asarray(op(*[np.arange(o, o + int(np.prod(s))).reshape(s)
                           for o, s in zip(offsets, shapes)]))


def gather(op, *xs):
    """Apply op, which only moves elements of xs (or fills zeros), to every part,
    gathering each part with op's index map.

    >>> import numpy as np
    >>> from dualdiff import Dual
    >>> gather(lambda v: np.roll(v, 1), Dual(np.arange(3.0), np.eye(3))).tangent[0].tolist()
    [0.0, 1.0, 0.0]
    """
    index = index_map(op, [np.shape(x) for x in xs])

    def g(*parts):
        k = parts[0].shape[0]
        flat = np.concatenate([np.zeros((k, 1))] + [p.reshape(k, -1) for p in parts], axis=1)
        return flat[:, index]

    return linear(g, *xs, op=op)


def primitive(prim, *args):
    """Apply a rules.Primitive; with no carrier among args, just evaluate it.

    >>> import numpy as np
    >>> from dualdiff import Dual, rules
    >>> primitive(rules.MATMUL, np.eye(2), Dual(np.ones(2), np.eye(2))).tangent.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    owner = find_owner(args)
    if owner is None:
        return prim.fn(*args)
    return type(owner)._primitive(prim, tuple(lift(a) for a in args), owner.tag)


# -- indexing -------------------------------------------------------------------

def _is_advanced(i) -> bool:
    return not (i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)))


def _index(index) -> tuple:
    if isinstance(index, Carrier):
        raise TypeError("cannot index with a Dual; index with an integer array (.value)")
    index = index if isinstance(index, tuple) else (index,)
    return tuple(strip(i) if isinstance(i, Carrier) else i for i in index)


def _adjacent(index: tuple) -> bool:
    """True when the advanced indices stand together (NumPy keeps their place)."""
    pos = [i for i, v in enumerate(index) if _is_advanced(v)]
    return not pos or pos[-1] - pos[0] == len(pos) - 1


def getitem(x, index):
    """``x[index]`` on a carrier: basic indexing is one linear map, the rest a gather.

    >>> import numpy as np
    >>> from dualdiff import Dual
    >>> getitem(Dual(np.arange(3.0), np.eye(3)), [2, 0]).tangent.tolist()
    [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]]
    """
    if type(index) is int:  # x[i] in a Python loop: the general path below, inlined
        head = (slice(None), index)
        return type(x)._linear(lambda p: p[head], (x,), x.tag, lambda v: v[index])
    index = _index(index)
    if _adjacent(index):
        head = (slice(None),) + index
        return linear(lambda p: p[head], x, op=lambda v: v[index])
    return gather(lambda v: v[index], x)


def setitem(x, index, item):
    """``x[index] = item`` on a carrier, refusing an item of a newer perturbation.

    >>> import numpy as np
    >>> from dualdiff import Dual
    >>> x = Dual(np.zeros(2), np.zeros((1, 2)))
    >>> setitem(x, 1, Dual(5.0, 1.0))
    >>> x.value.tolist(), x.tangent.tolist()
    ([0.0, 5.0], [[0.0, 1.0]])
    """
    index = _index(index)
    owner = find_owner((x, item))
    if owner.tag > x.tag or (owner.tag == x.tag and type(owner) is not type(x)):
        raise TypeError(
            f"cannot store a {type(owner).__name__} of tag {owner.tag} into a "
            f"{type(x).__name__} of tag {x.tag}: build the array from the newer "
            f"number instead (np.zeros_like on it, or np.stack)."
        )
    if not _adjacent(index):
        raise TypeError("assignment with advanced indices separated by slices is not "
                        "supported on carriers; index one axis at a time")
    x._setitem(index if len(index) != 1 else index[0], item)
