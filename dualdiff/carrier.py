"""What every number type shares: tags, NumPy's protocols, operators, array surface.

A carrier holds a primal ``value`` and derivative parts that carry leading
direction axes (Dual: one tangent; HyperDual: eps1, eps2, eps1eps2).  It knows
how to apply four kinds of rule, which are all the dispatch needs:

* ``_unary`` / ``_binary``: an element-wise row of :mod:`dualdiff.rules`;
* ``_linear``: a linear map ``g`` batched over one leading axis, applied to
  every part alike (reshape, indexing, sum, concatenate, ...);
* ``_primitive``: a non-linear primitive with an explicit forward rule.

Each derivative pass gets a fresh integer tag; when carriers of several tags
meet, the newest (highest) tag owns the operation and treats the others as
constants, so nested derivatives never confuse their perturbations.
"""

from __future__ import annotations

import itertools

import numpy as np

_tags = itertools.count(1)


def new_tag() -> int:
    """A tag newer than every tag handed out before.

    >>> new_tag() < new_tag()
    True
    """
    return next(_tags)


class Carrier:
    """Base of Dual and HyperDual (see module docstring).

    >>> import numpy as np
    >>> from dualdiff import Dual
    >>> x = Dual(np.array([1.0, 2.0]), np.eye(2))
    >>> isinstance(x, Carrier), x.shape, (x > 1).tolist()
    (True, (2,), [False, True])
    """

    __slots__ = ()
    __array_priority__ = 1000.0
    __hash__ = None  # mutable, like ndarray

    # -- to be provided by the number types ---------------------------------
    # parts: tuple of arrays (value first); _lead: leading direction axes of
    # each part; _from_parts(parts, tag); _unary, _binary, _linear, _primitive.

    # -- NumPy protocols -----------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(isinstance(x, np.ndarray) and x.dtype == object for x in inputs):
            # np.array([d1, d2]) of scalar carriers: stack them into one carrier
            inputs = tuple(_dispatch.lift(x) for x in inputs)
            if any(isinstance(x, np.ndarray) and x.dtype == object for x in inputs):
                return NotImplemented
        out = kwargs.pop("out", None)
        owner = inputs[0] if len(inputs) == 1 else find_owner(inputs)
        if type(owner) is not type(self):
            return NotImplemented
        result = _dispatch.call_ufunc(ufunc, method, inputs, kwargs)
        return write_out(result, out, ufunc.__name__) if out is not None else result

    def __array_function__(self, func, types, args, kwargs):
        owner = find_owner(args)
        if owner is None:
            owner = find_owner(tuple(kwargs.values()))
        if owner is None:  # NEP 35: np.zeros(n, like=self)
            from .structure import create

            return create(func, args, kwargs, self)
        if type(owner) is not type(self):
            return NotImplemented
        return _dispatch.call_function(func, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        # np.array([d1, d2]) of scalar duals builds an object array that the
        # drivers assemble; any conversion to a numeric array would drop the
        # derivative and is refused.
        if (dtype is None or np.dtype(dtype) == object) and self.ndim == 0:
            wrapped = np.empty((), dtype=object)
            wrapped[()] = self
            return wrapped
        raise TypeError(
            f"cannot convert a {type(self).__name__} of shape {self.shape} to a plain "
            f"numeric array (np.asarray/np.array, or writing it into a float ndarray): "
            f"the derivative would be lost. Build arrays with np.zeros_like(x), "
            f"np.zeros(n, like=x) or np.stack([...]) instead, and use .value for the primal."
        )

    def _refuse(self, what: str):
        raise TypeError(
            f"{what}({type(self).__name__}) would drop the derivative. Use NumPy "
            f"functions (np.sin, not math.sin) and keep values as arrays; "
            f"use .value if you really want the primal."
        )

    def __float__(self):
        self._refuse("float")

    def __int__(self):
        self._refuse("int")

    def __complex__(self):
        self._refuse("complex")

    def __index__(self):
        self._refuse("operator.index")

    def item(self, *args):
        self._refuse("item")

    def __bool__(self):
        return bool(self.value)

    # -- array surface -------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def dtype(self):
        return primal(self).dtype

    @property
    def T(self):
        return np.transpose(self)

    @property
    def real(self):
        return self

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError(f"len() of an unsized {type(self).__name__}")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index):
        return _dispatch.getitem(self, index)

    def __setitem__(self, index, item):
        _dispatch.setitem(self, index, item)

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = shape[0]
        return np.reshape(self, shape, order=order)

    def transpose(self, *axes):
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = axes[0]
        return np.transpose(self, axes or None)

    def flatten(self, order="C"):
        return np.ravel(self, order=order).copy()

    def copy(self):
        return np.copy(self)

    def astype(self, dtype, copy=True):
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise TypeError(
                f"astype({np.dtype(dtype)}) on a {type(self).__name__} would drop the "
                f"derivative; use np.floor/np.rint (zero derivative) or .value."
            )
        return self._map_parts(lambda p: p.astype(dtype, copy=copy))

    def tolist(self):
        return [x.tolist() for x in self] if self.ndim else self

    def __repr__(self) -> str:
        names = self._part_names
        body = ", ".join(f"{n}={p!r}" for n, p in zip(names, self.parts))
        return f"{type(self).__name__}({body}, tag={self.tag})"

    def _map_parts(self, fn):
        return self._from_parts(tuple(fn(p) for p in self.parts), self.tag)


def _method(func):
    def method(self, *args, **kwargs):
        return func(self, *args, **kwargs)

    method.__name__ = func.__name__
    method.__doc__ = f"Same as ``np.{func.__name__}(self, ...)``."
    return method


for _f in (np.sum, np.mean, np.prod, np.std, np.var, np.max, np.min, np.cumsum,
           np.cumprod, np.clip, np.dot, np.ravel, np.squeeze, np.swapaxes, np.repeat,
           np.take, np.diagonal, np.trace, np.argmax, np.argmin, np.argsort,
           np.nonzero, np.round, np.conjugate, np.all, np.any):
    setattr(Carrier, _f.__name__, _method(_f))
Carrier.conj = Carrier.conjugate


def _binop(ufunc):
    # Operators call the dispatch directly (no keywords to check), not through NumPy.
    def forward(self, other):
        if isinstance(other, np.ndarray) and other.dtype == object:
            return NotImplemented
        return _dispatch.apply_ufunc(ufunc, (self, other))

    def reflected(self, other):
        if isinstance(other, np.ndarray) and other.dtype == object:
            return NotImplemented
        return _dispatch.apply_ufunc(ufunc, (other, self))

    return forward, reflected


for _name, _uf in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                   ("truediv", np.divide), ("floordiv", np.floor_divide),
                   ("mod", np.remainder), ("pow", np.power), ("matmul", np.matmul)]:
    _fwd, _ref = _binop(_uf)
    setattr(Carrier, f"__{_name}__", _fwd)
    setattr(Carrier, f"__r{_name}__", _ref)
for _name, _uf in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                   ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)]:
    setattr(Carrier, f"__{_name}__", _binop(_uf)[0])


def _inplace(ufunc):
    def method(self, other):
        """In place, like NumPy: views of this array see the change."""
        result = ufunc(self, other)
        owner = find_owner((result,))
        if owner is not None and (owner.tag > self.tag or type(owner) is not type(self)):
            return result  # a newer perturbation cannot live in self: rebind instead
        self[...] = result
        return self

    return method


for _name, _uf in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                   ("truediv", np.divide), ("floordiv", np.floor_divide),
                   ("mod", np.remainder), ("pow", np.power)]:
    setattr(Carrier, f"__i{_name}__", _inplace(_uf))
Carrier.__neg__ = lambda self: np.negative(self)
Carrier.__pos__ = lambda self: np.positive(self)
Carrier.__abs__ = lambda self: np.absolute(self)


# -- helpers shared by the dispatch and the drivers ----------------------------

def direction_part(e, shape: tuple, what: str):
    """A derivative part for a value of ``shape``: None -> zeros of one direction, an
    array of ``shape`` -> one direction, ``(k,) + shape`` -> k directions.

    >>> direction_part([1.0, 2.0], (2,), "tangent").shape
    (1, 2)
    """
    if e is None:
        return np.zeros((1,) + tuple(shape))
    if not isinstance(e, Carrier):
        e = np.asarray(e, dtype=float)
    if np.shape(e) == tuple(shape):
        e = e[None]
    if np.shape(e)[1:] != tuple(shape):
        raise ValueError(
            f"{what} of shape {np.shape(e)} does not fit value of shape "
            f"{shape}; expected {shape} (one direction) or (k,) + {shape}."
        )
    return e


def find_owner(objs) -> Carrier | None:
    """The carrier with the newest tag among ``objs`` (searched into lists/tuples).

    >>> from dualdiff import Dual
    >>> find_owner([1.0, [Dual(1.0, 1.0, tag=3)], Dual(2.0, 1.0, tag=2)]).tag
    3
    """
    best = None
    for o in objs:
        if isinstance(o, Carrier):
            if best is None or o.tag > best.tag:
                best = o
            elif o.tag == best.tag and type(o) is not type(best):
                raise TypeError(
                    f"cannot mix a {type(o).__name__} and a {type(best).__name__} of the "
                    f"same tag {o.tag}; give them different tags or one type."
                )
        elif isinstance(o, (list, tuple)):
            inner = find_owner(o)
            if inner is not None and (best is None or inner.tag > best.tag):
                best = inner
    return best


def primal(x):
    """The innermost plain value of x (through nested carriers).

    >>> from dualdiff import Dual
    >>> float(primal(Dual(Dual(2.0, 1.0, tag=1), 0.0, tag=2)))
    2.0
    """
    while isinstance(x, Carrier):
        x = x.value
    return np.asarray(x)


def write_out(result, out, name: str):
    """Honour NumPy's ``out=``: only a carrier can receive a derivative.

    >>> import numpy as np
    >>> write_out(np.ones(2), None, "add").tolist()
    [1.0, 1.0]
    """
    if out is None:
        return result
    if isinstance(out, tuple):
        if len(out) != 1:
            raise TypeError(f"{name}: out= with several outputs is not supported")
        out = out[0]
    if not isinstance(out, Carrier):
        raise TypeError(
            f"{name}(..., out=<{type(out).__name__}>) would write a derivative into a plain "
            f"array and lose it; drop out= or pass an array made with np.zeros_like(x)."
        )
    out[...] = result
    return out



# Bound once here (dispatch imports this module) rather than imported in every
# operation: a function-level import costs about as much as a scalar operation.
from . import dispatch as _dispatch  # noqa: E402
