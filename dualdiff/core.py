"""The carrier core: the one place that applies the rules, for every carrier.

A *carrier* holds a ``value`` (what NumPy would compute) and derivative
*parts*: a Dual one tangent, a HyperDual eps1, eps2 and their cross part, the
reverse tape a graph node, the sparsity tracer an index-set pattern.  The core
owns everything the carriers share:

* NumPy's protocols (``__array_ufunc__``, ``__array_function__``), operators and
  the array surface, and the registries of handled, discrete and refused
  functions;
* the appliers: :func:`apply_ufunc` (an element-wise row of :mod:`dualdiff.rules`:
  the value, the first and second partials, the not-differentiable check, the
  kink convention), :func:`linear` and :func:`gather` (maps that move or sum
  elements), :func:`primitive` (a :class:`~dualdiff.primitives.Primitive`) and
  :func:`discrete` (results computed from values without derivative:
  comparisons, arg-reductions, sort orders, Python branches);
* NumPy's aliasing: a view of a carrier records its root and the chain of view
  operations, reads refresh it when the root changed, and writes through it
  reach the root in value and in every part (:func:`setitem`), with promotion
  across nesting levels.

A carrier class supplies only what is truly its own: how its parts combine
(``_elementwise``, ``_linear``, ``_primitive``), how a constant's parts look
(``_constant_parts``) and how a write lands in its parts (``_write``).

Each derivative pass gets a fresh integer tag; when carriers of several tags
meet, the newest (highest) tag owns the operation and treats the others as
constants, so nested derivatives never confuse their perturbations.
"""

from __future__ import annotations

import contextvars
import itertools
import math
import operator
import sys

import numpy as np
import scipy.sparse as _sparse
from numpy.lib.array_utils import normalize_axis_index

from . import rules, rules_special
from .arrays import ERRSTATE, IGNORE, loud, quiet

rules_special.register(rules.UNARY, rules.BINARY)  # the scipy.special rows join the table

_tags = itertools.count(1)


def new_tag() -> int:
    """A tag newer than every tag handed out before.

    >>> new_tag() < new_tag()
    True
    """
    return next(_tags)


#: NumPy function -> implementation on carriers (filled by the function modules)
HANDLED: dict = {}
#: NumPy functions whose result is computed from the values with no derivative
DISCRETE: set = set()
#: NumPy function -> the reason dualdiff refuses it
REFUSED: dict = {}
#: ufunc -> implementation used when its operand is complex: the functions whose real row
#: would be wrong there because they are not holomorphic (conjugate, absolute, sign; filled
#: by dualdiff.complexes)
COMPLEX_UFUNCS: dict = {}

#: Filled by upper layers (the core imports none of them): "namespace" -> the function
#: giving a carrier's array-API namespace (dualdiff.namespace); "hints" -> functions
#: ``hint(frame) -> str`` adding a sentence to the error of a conversion to a plain
#: array, given the frame that asked for it (dualdiff.scipy names the SciPy function
#: that received a carrier and its twin).
HOOKS: dict = {"namespace": None, "hints": []}


def implements(*funcs):
    """Register the decorated function as the implementation of ``funcs`` on carriers.

    >>> HANDLED[np.sum] is not None
    True
    """
    def register(impl):
        for f in funcs:
            HANDLED[f] = impl
        return impl

    return register


def public_name(func) -> str:
    """How a user spells ``func``: ``np.sin``, ``np.linalg.solve``, ``scipy.special.jv``.

    >>> public_name(np.linalg.solve), public_name(np.sin)
    ('np.linalg.solve', 'np.sin')
    >>> public_name(np.frompyfunc(abs, 1, 1))
    'abs'
    """
    label = getattr(func, "_dualdiff_name", None)  # a user rule's own name
    if label is not None:
        return label
    mod = getattr(func, "__module__", None) or ""
    if mod and not mod.startswith(("numpy", "scipy", "dualdiff")):  # the user's function
        return getattr(func, "__name__", None) or repr(func)
    if isinstance(func, np.ufunc) and func.__name__.endswith(" (vectorized)"):  # frompyfunc
        return func.__name__[:-len(" (vectorized)")]
    if isinstance(func, np.ufunc) or hasattr(func, "__wrapped__"):
        return rules_special.special_name(func)
    name = getattr(func, "__name__", repr(func))
    mod = getattr(func, "__module__", None) or ""
    if mod.startswith("scipy"):
        return mod.split("._")[0] + "." + name
    for sub in ("linalg", "fft", "random", "polynomial", "ma"):
        if f"numpy.{sub}" in mod or f"numpy._core.{sub}" in mod:
            return f"np.{sub}.{name}"
    return "np." + name


# -- discrete results and their recorders ---------------------------------------
# A reused pattern or prepared plan must be re-made when a value-dependent discrete
# result (a comparison, an arg-reduction, a sort order, a Python branch) differs at
# the new x.  Every such result computed from a carrier goes through discrete(),
# which tells the recorders active in this context (per thread, per call).

_RECORDERS: contextvars.ContextVar = contextvars.ContextVar("dualdiff_recorders", default=())


class recording:
    """Context manager: ``recorder.observe(fn, args, kwargs, result)`` is called for every
    discrete result computed from a carrier inside the block (this thread only).

    >>> class Log(list):
    ...     def observe(self, fn, args, kwargs, result): self.append(fn.__name__)
    >>> from dualdiff import Dual
    >>> with recording(Log()) as log:
    ...     _ = Dual(1.0, 1.0) > 0
    >>> log
    ['greater']
    """

    def __init__(self, recorder):
        self.recorder = recorder

    def __enter__(self):
        self._token = _RECORDERS.set(_RECORDERS.get() + (self.recorder,))
        return self.recorder

    def __exit__(self, *exc):
        _RECORDERS.reset(self._token)


def recorders() -> tuple:
    """The recorders active in this context (outermost first).

    >>> recorders()
    ()
    """
    return _RECORDERS.get()


def frozen(x):
    """The plain value of x taken as a constant of the computation (a composite that
    computes, say, an SVD of the value and keeps it fixed): reported to the recorders like
    a discrete result, so a prepared plan re-records when the value differs.

    >>> from dualdiff import Dual
    >>> frozen(Dual(2.0, 1.0)).tolist()
    2.0
    """
    v = primal(x)
    if isinstance(x, Carrier):
        for r in _RECORDERS.get():
            r.observe(frozen, (x,), {}, v, True)
    return v


def discrete(fn, args, kwargs=None, select: bool = False):
    """``fn(*args, **kwargs)`` on the values (no derivative), reported to the recorders.

    ``select=True`` marks an index computed inside a selection whose sparsity
    pattern already covers every outcome (max, sort, interp): reused sparsity
    patterns need not re-check it, prepared plans do.

    >>> from dualdiff import Dual
    >>> int(discrete(np.argmax, (Dual(np.array([1.0, 3.0]), np.eye(2)),)))
    1
    """
    kwargs = kwargs or {}
    result = fn(*strip(args), **strip(kwargs))
    for r in _RECORDERS.get():
        r.observe(fn, args, kwargs, result, select) if select else \
            r.observe(fn, args, kwargs, result)
    return result


# -- the carrier base ----------------------------------------------------------------

class View:
    """How a view carrier hangs off its root: the chain of view operations from the
    root's value to this value, the root's version and epoch when the view was last
    brought up to date, and whether its parts are true NumPy views of the root's."""

    __slots__ = ("root", "path", "seen", "epoch", "detached")

    def __init__(self, root, path, detached):
        self.root, self.path, self.detached = root, path, detached
        self.seen, self.epoch = root._version, root._epoch


class Carrier:
    """Base of every number type (see the module docstring).

    >>> from dualdiff import Dual
    >>> x = Dual(np.array([1.0, 2.0]), np.eye(2))
    >>> isinstance(x, Carrier), x.shape, (x > 1).tolist()
    (True, (2,), [False, True])
    """

    __slots__ = ("value", "tag", "_view", "_version", "_epoch")
    __array_priority__ = 1000.0
    __hash__ = None  # mutable, like ndarray
    #: derivative parts are arrays shaped (k,) + value.shape, so NumPy views alias them
    _aliasing = True
    #: highest derivative order the carrier holds (2: second partials are passed too)
    _order = 1
    _part_names: tuple = ()
    #: how users call this type in messages
    _label = "dualdiff array"

    # -- what a carrier type supplies -------------------------------------------------
    # parts (property): the derivative parts; _make(value, parts, tag); _constant_parts(
    # value, like); _elementwise(ufunc, z, split, factors, seconds, tag); _linear(op, g,
    # adjoint, split, value, tag); _primitive(prim, split, out, tag); _write(index, parts);
    # _write_root(root, written, src, item_parts, item_shape).

    @classmethod
    def _before_write(cls, root) -> bool:
        """Called before a write into root's value; True when it replaced the value."""
        return False

    @classmethod
    def _write_root(cls, root, written, src, parts, item_value, component=None) -> None:
        """A write through a detached view (its parts are copies, not NumPy views of the
        root's) of an aliasing carrier: the written elements of every part of the root,
        by position (any layout), take the item's parts (``src``), or zero."""
        shape = np.shape(root.value)
        where = np.unravel_index(np.flatnonzero(written), shape)
        items = parts if parts is not None else (None,) * len(root.parts)
        for part, item in zip(root.parts, items):
            lead = np.shape(part)[:np.ndim(part) - len(shape)]
            target = part if component is None else getattr(part, component)
            head = (slice(None),) * len(lead)
            target[head + where] = 0 if item is None else \
                np.reshape(item, lead + (-1,))[..., src]

    def _init(self, value, tag):
        self.value, self.tag, self._view, self._version, self._epoch = value, tag, None, 0, 0

    # -- NumPy protocols --------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if len(inputs) == 1 and method == "__call__" and not kwargs:  # np.sin(x)
            return apply_ufunc(ufunc, inputs)
        if any(type(x) is np.ndarray and x.dtype == object for x in inputs):
            inputs = tuple(lift(x) for x in inputs)  # np.array([d1, d2]) of carriers
            if any(type(x) is np.ndarray and x.dtype == object for x in inputs):
                return NotImplemented
        out = kwargs.pop("out", None)
        owner = find_owner(inputs)
        if type(owner) is not type(self):
            return NotImplemented
        result = call_ufunc(ufunc, method, inputs, kwargs)
        return write_out(result, out, public_name(ufunc)) if out is not None else result

    def __array_function__(self, func, types, args, kwargs):
        owner = find_owner(args)
        if owner is None:
            owner = find_owner(tuple(kwargs.values()))
        if owner is None:  # NEP 35: np.zeros(n, like=self)
            return create(func, args, kwargs, self)
        if type(owner) is not type(self):
            return NotImplemented
        return call_function(func, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        # np.array([d1, d2]) of scalar carriers builds an object array that lift()
        # stacks; any conversion to a numeric array would drop the derivative.  SciPy's
        # sparse matmul (A @ x, A.dot(x), spmatrix A * x) gets the same opaque object, so
        # it returns NotImplemented and Python asks x (sparse_operators applies A).  A hint
        # (a library function with a dualdiff twin asked) refuses even a scalar.
        frame = sys._getframe(1)
        hints = "".join(" " + h for h in (hint(frame) for hint in HOOKS["hints"]) if h)
        if (dtype is None or np.dtype(dtype) == object) and not hints:
            asked = "defer" if self.ndim == 0 else _sparse_asks(frame)
            if asked == "defer":
                wrapped = np.empty((), dtype=object)
                wrapped[()] = self
                return wrapped
            if asked == "probe":  # coo's dot only reads ndim and dtype, then uses x itself
                return np.empty((0,) * self.ndim)
        if hints:
            raise TypeError(hints.strip() + " (SciPy converts its inputs with np.asarray, and "
                            "the derivative would be lost.)")
        scipy_name, fix = _scipy_caller(frame)
        if scipy_name is not None:
            raise TypeError(
                f"{scipy_name} cannot take a {self._label}: SciPy converts its inputs with "
                f"np.asarray, and the derivative would be lost. {fix}")
        if dtype is None or np.dtype(dtype) == object:
            return _elements(self, copy is True)
        if frame.f_globals.get("__name__") == "numpy._core._methods":  # np.mean([d1, d2])
            raise TypeError(
                "np.mean / np.var / np.std of a list of dualdiff values: NumPy converts "
                "their sum with np.float64, which would drop the derivative. Stack them "
                "first: np.mean(np.stack([...])).")
        raise TypeError(
            f"cannot convert a {self._label} of shape {self.shape} to a plain numeric "
            f"array ({np.dtype(dtype).name}: np.asarray(x, dtype=...), or writing it into "
            f"a float ndarray): the derivative would be lost. Build arrays with "
            f"np.zeros_like(x), np.zeros(n, like=x) or np.stack([...]), copy with "
            f"x.copy(), and use .value for the value."
        )

    def __array_namespace__(self, *, api_version=None):
        """The array-API namespace of this carrier's pass (:mod:`dualdiff.namespace`)."""
        build = HOOKS["namespace"]
        if build is None:
            raise TypeError("import dualdiff (the package) for the array-API namespace of "
                            f"a {self._label}")
        return build(self)

    @property
    def device(self) -> str:
        """The array API's device: carriers live on the CPU, as NumPy arrays do."""
        return "cpu"

    def to_device(self, device, /, *, stream=None):
        if device != "cpu":
            raise ValueError(f"a {self._label} lives on the CPU only, not on {device!r}")
        return self

    def _refuse(self, what: str):
        raise TypeError(
            f"{what}() of a {self._label} would drop the derivative. Use NumPy functions "
            f"(np.sin, not math.sin) and keep values as arrays; use .value if you really "
            f"want the plain value."
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
        return bool(discrete(bool, (self,)))

    # -- array surface -----------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype(self):
        return primal(self).dtype

    @property
    def T(self):
        return np.transpose(self)

    @property
    def mT(self):
        return np.matrix_transpose(self)

    @property
    def real(self):
        return np.real(self)

    @real.setter
    def real(self, value):
        np.real(self)[...] = value  # a view of a complex array; the array itself if real

    @property
    def imag(self):
        return np.imag(self)

    @imag.setter
    def imag(self, value):
        if primal(self).dtype.kind != "c":
            raise TypeError("array does not have imaginary part to set (as NumPy)")
        np.imag(self)[...] = value

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError(f"len() of an unsized {self._label}")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index):
        return getitem(self, index)

    def __setitem__(self, index, item):
        if not isinstance(innermost(self), np.ndarray):  # a NumPy scalar, as x[0] gives
            raise TypeError(f"'{type(innermost(self)).__name__}' object does not support "
                            f"item assignment (NumPy gives a scalar here, not an array)")
        setitem(self, index, item)

    @property
    def flat(self) -> Flat:
        """``x.flat``: the elements in C order, read (copies) and written (into x)."""
        return Flat(self)

    def reshape(self, *shape, order="C", copy=None):
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return np.reshape(self, shape, order=order)

    def transpose(self, *axes):
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = axes[0]
        return np.transpose(self, axes or None)

    def flatten(self, order="C"):
        return np.ravel(self.copy(order=order), order=order)

    def copy(self, order="C"):
        """A copy, C-ordered like ``ndarray.copy`` (``np.copy`` keeps the layout)."""
        return np.copy(self, order=order)

    def view(self, *args):
        if args:
            raise TypeError(f"x.view(dtype) of a {self._label} would reinterpret the bits of "
                            f"its derivative; use x.astype(dtype)")
        return linear(lambda p: p.view(), self, op=lambda v: v.view())

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        dtype = np.dtype(dtype)
        if dtype.kind not in "fc":
            raise TypeError(
                f"astype({dtype}) on a {self._label} would drop the derivative; use "
                f"np.floor/np.rint (zero derivative) or .value.")
        if dtype.kind == "f" and self.dtype.kind == "c":
            raise TypeError(f"astype({dtype}) of a complex {self._label} discards the "
                            f"imaginary part; write np.real(z) instead.")
        if not copy and dtype == self.dtype:
            return self
        return linear(lambda p: p.astype(np.result_type(p.dtype, dtype)), self,
                      op=lambda v: v.astype(dtype))

    def tolist(self):
        return [x.tolist() for x in self] if self.ndim else self

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={p!r}" for n, p in zip(self._part_names,
                                                        (self.value,) + tuple(self.parts)))
        return f"{type(self).__name__}({body}, tag={self.tag})"

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()


class Flat:
    """``ndarray.flat`` of a dualdiff array: ``flat[i]`` reads element(s) i of the C-order
    flattening (a copy, as NumPy's), ``flat[i] = v`` writes them into the array (values
    repeated to fill, as NumPy does), ``for e in x.flat`` iterates."""

    def __init__(self, base):
        self.base = base

    def _positions(self, index):
        shape = self.base.shape
        return np.arange(math.prod(shape)).reshape(-1)[index], shape

    def __getitem__(self, index):
        return np.reshape(self.base, (-1,))[index].copy()

    def __setitem__(self, index, value):
        pos, shape = self._positions(index)
        if np.ndim(value) and np.shape(value) != np.shape(pos):
            value = np.resize(np.ravel(value), np.shape(pos))
        self.base[np.unravel_index(pos, shape)] = value

    def __len__(self) -> int:
        return self.base.size

    def __iter__(self):
        flat = np.reshape(self.base, (-1,)).copy()
        return (flat[i] for i in range(len(self)))


def _elements(x, writeable: bool) -> np.ndarray:
    """``np.array(x)`` / ``np.asarray(x)`` of a dualdiff array (and x inside
    ``np.array([x, y])``, ``np.r_``, ``np.c_``): an object array of copies of its elements,
    each a 0-d dualdiff value, which :func:`lift` stacks back into one carrier.  NumPy's
    object loops carry the derivatives (slowly: use np.stack / np.concatenate in hot
    code).  Read-only unless NumPy asked for a copy: ``np.asarray(x)`` would alias x,
    and a write into it must fail rather than miss x."""
    out = np.empty(x.shape, dtype=object)
    cells = out.reshape(-1)
    flat = np.copy(np.reshape(x, (-1,)))  # a private copy: x's later writes stay out
    for i in range(cells.size):
        cells[i] = flat[i]  # a scalar, as NumPy's elements: e = a[0]; e += 1 rebinds e
    out.flags.writeable = writeable
    return out


def _sparse_asks(frame) -> str | None:
    """How scipy.sparse asked for the conversion: "defer" from its matmul dispatch (an
    opaque object makes it return NotImplemented, so Python asks the dualdiff array),
    "probe" from coo's dot (which reads only ndim and dtype of the result), else None."""
    if frame is None or not frame.f_globals.get("__name__", "").startswith("scipy.sparse._"):
        return None
    name = frame.f_code.co_name
    return "defer" if name == "_matmul_dispatch" else "probe" if name == "dot" else None


def _scipy_caller(frame):
    """``(public name, the fix)`` of the SciPy function (the outermost SciPy frame below
    user code) that asked for a conversion, or (None, None)."""
    found = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("scipy."):
            owner = frame.f_locals.get("self") if "self" in frame.f_code.co_varnames else None
            found = (module, frame.f_code.co_name, None if owner is None else
                     type(owner).__name__)
        elif found is not None:
            break
        frame = frame.f_back
    if found is None:
        return None, None
    module, name, cls = found
    if cls is not None:  # a method: csr_array.multiply
        fix = ("dualdiff applies scipy.sparse matrices as linear maps only (A @ x, x @ A, "
               "A.dot(x), and A * x for spmatrix); write A.toarray() for a dense operand."
               if module.startswith("scipy.sparse") else
               "Apply it to .value if no derivative is needed.")
        return f"{cls}.{name}", fix
    parts = []
    for p in module.split("."):
        if p.startswith("_"):
            break
        parts.append(p)
    public = ".".join(parts)
    mirror = sys.modules.get("dualdiff." + public)  # dualdiff.scipy.<...>, when loaded
    if callable(getattr(mirror, name, None)):
        return f"{public}.{name}", f"Call dualdiff.{public}.{name} (same signature) instead."
    return f"{public}.{name}", ("Apply it to .value if no derivative is needed, or register "
                                "it with dd.primitive.")


def _method(func):
    def method(self, *args, **kwargs):
        return func(self, *args, **kwargs)

    method.__name__ = func.__name__
    method.__doc__ = f"Same as ``np.{func.__name__}(self, ...)``."
    return method


for _f in (np.sum, np.mean, np.prod, np.std, np.var, np.max, np.min, np.cumsum,
           np.cumprod, np.clip, np.dot, np.ravel, np.squeeze, np.swapaxes, np.repeat,
           np.take, np.diagonal, np.trace, np.argmax, np.argmin, np.argsort, np.sort,
           np.nonzero, np.round, np.conjugate, np.all, np.any, np.ptp, np.searchsorted):
    setattr(Carrier, _f.__name__, _method(_f))
Carrier.conj = Carrier.conjugate


def _element_method(ufunc):
    def method(self, *args):
        return ufunc(self, *args)

    method.__name__ = ufunc.__name__
    method.__doc__ = (f"``np.{ufunc.__name__}(self, ...)``: NumPy's object loop calls it on "
                      f"each element of an object array (``np.array([d1, d2])``).")
    return method


# np.sin(np.array([d1, d2])) of scalar carriers runs NumPy's object loop, which calls the
# method named after the ufunc on every element (math.floor & co. for floor/ceil/trunc)
for _uf in sorted(set(rules.UNARY) | set(rules.BINARY) | rules.PIECEWISE_CONSTANT, key=str):
    _name = getattr(_uf, "__name__", "")
    if isinstance(_uf, np.ufunc) and getattr(np, _name, None) is _uf \
            and not hasattr(Carrier, _name):
        setattr(Carrier, _name, _element_method(_uf))
Carrier.__floor__ = _element_method(np.floor)
Carrier.__ceil__ = _element_method(np.ceil)
Carrier.__trunc__ = _element_method(np.trunc)


# ndarray methods that work in place (NumPy returns None): the result is written back
# through setitem, so views of the array see it and every part follows

def _in_place(fn):
    def method(self, *args, **kwargs):
        if not isinstance(innermost(self), np.ndarray):
            return fn(innermost(self), *args, **kwargs)  # a NumPy scalar: as NumPy does
        self[...] = fn(self, *args, **kwargs)
        return None

    return method


Carrier.sort = _in_place(lambda a, axis=-1, kind=None, order=None, **kw: np.sort(
    a, axis=axis, kind=kind, order=order, **kw))
Carrier.sort.__doc__ = "Sort in place, as ``ndarray.sort`` (views see the sorted values)."
Carrier.partition = _in_place(lambda a, kth, axis=-1, kind="introselect", order=None:
                              np.partition(a, kth, axis=axis, kind=kind, order=order))
Carrier.partition.__doc__ = "Partition in place, as ``ndarray.partition``."


def _fill(self, value):
    """Set every element to ``value`` in place, as ``ndarray.fill`` (a carrier value
    brings its derivative)."""
    if isinstance(innermost(self), np.ndarray):
        self[...] = value


def _put_method(self, indices, values, mode="raise"):
    """``np.put(self, indices, values, mode)``, as ``ndarray.put``."""
    np.put(self, indices, values, mode=mode)


def _divmod(self, other):
    return apply_ufunc(np.floor_divide, (self, other)), apply_ufunc(np.remainder, (self, other))


def _rdivmod(self, other):
    return apply_ufunc(np.floor_divide, (other, self)), apply_ufunc(np.remainder, (other, self))


Carrier.fill, Carrier.put = _fill, _put_method
Carrier.__divmod__, Carrier.__rdivmod__ = _divmod, _rdivmod
Carrier.__contains__ = lambda self, item: bool(np.any(self == item))
Carrier.argpartition = _method(np.argpartition)
Carrier.compress = lambda self, condition, axis=None: np.compress(condition, self, axis=axis)


def _binop(ufunc):
    # Operators go straight to apply_ufunc: NumPy's dispatch has nothing to add.
    def forward(self, other):
        if type(other) is np.ndarray and other.dtype == object:
            return NotImplemented
        return apply_ufunc(ufunc, (self, other))

    def reflected(self, other):
        if type(other) is np.ndarray and other.dtype == object:
            return NotImplemented
        return apply_ufunc(ufunc, (other, self))

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
        """In place, like NumPy: views of this array see the change; a scalar rebinds."""
        result = ufunc(self, other) if ufunc is not np.matmul else np.matmul(self, other)
        if not isinstance(innermost(self), np.ndarray):
            return result  # NumPy scalars are immutable: x += y rebinds, as in NumPy
        rtype, stype = primal(result).dtype, self.dtype
        if not np.can_cast(rtype, stype, casting="same_kind"):
            raise TypeError(f"Cannot cast ufunc '{ufunc.__name__}' output from {rtype!r} to "
                            f"{stype!r} with casting rule 'same_kind' (as NumPy)")
        self[...] = result
        return self

    return method


for _name, _uf in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                   ("truediv", np.divide), ("floordiv", np.floor_divide),
                   ("mod", np.remainder), ("pow", np.power), ("matmul", np.matmul)]:
    setattr(Carrier, f"__i{_name}__", _inplace(_uf))
Carrier.__neg__ = lambda self: apply_ufunc(np.negative, (self,))
Carrier.__pos__ = lambda self: apply_ufunc(np.positive, (self,))
Carrier.__abs__ = lambda self: apply_ufunc(np.absolute, (self,))


# -- operands ---------------------------------------------------------------------------

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
                    f"cannot combine a dd.{type(o).__name__} and a dd.{type(best).__name__} "
                    f"made with the same tag={o.tag}: they would be taken as one derivative "
                    f"pass. Give one of them another tag= (each nested derivative its own), "
                    f"or use one number type.")
        elif isinstance(o, (list, tuple)):
            inner = find_owner(o)
            if inner is not None and (best is None or inner.tag > best.tag):
                best = inner
    return best


def innermost(x):
    """The plain value inside x (through nested carriers), as NumPy holds it: an ndarray,
    or a NumPy scalar for the result of scalar arithmetic.

    >>> from dualdiff import Dual
    >>> type(innermost(Dual(2.0, 1.0) * 1.0)).__name__
    'float64'
    """
    while isinstance(x, Carrier):
        x = x.value
    return x


def primal(x):
    """The innermost plain value of x (through nested carriers), as an array.

    >>> from dualdiff import Dual
    >>> float(primal(Dual(Dual(2.0, 1.0, tag=1), 0.0, tag=2)))
    2.0
    """
    while isinstance(x, Carrier):
        x = x.value
    return np.asarray(x)


def strip(obj):
    """Every carrier in obj (through lists, tuples, dicts) replaced by its plain value.

    >>> from dualdiff import Dual
    >>> strip([Dual(2.0, 1.0), 3])[0].tolist()
    2.0
    """
    if isinstance(obj, Carrier):
        value = obj.value
        while isinstance(value, Carrier):
            value = value.value
        return value
    if isinstance(obj, (list, tuple)):
        return type(obj)(strip(o) for o in obj)
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items()}
    return obj


def lift(x):
    """A list, tuple or object array holding carriers as one stacked carrier (else x
    unchanged), so ``np.concatenate([x[:2], [np.sum(x)]])`` and arithmetic on
    ``np.array([d1, d2])`` keep every derivative.

    >>> from dualdiff import Dual
    >>> lift([Dual(1.0, 1.0), 2.0]).tangent.tolist()
    [[1.0, 0.0]]
    >>> lift(np.array([Dual(1.0, 2.0), 3.0])).tangent.tolist()
    [[2.0, 0.0]]
    """
    if isinstance(x, (list, tuple)) and find_owner(x) is not None:
        return np.stack([lift(e) for e in x])
    if type(x) is np.ndarray and x.dtype == object:
        items = x.ravel().tolist()
        if find_owner(items) is not None:
            return np.reshape(np.stack(items), x.shape) if items else x
        return np.array(x.tolist()) if x.size else np.zeros(x.shape)
    return x


#: the NumPy scalar types (real, complex) a Python number takes beside a carrier of lower
#: than double precision, by the dtype's character: NEP 50 (a Python number adopts the
#: array's precision), so float32 code stays float32 in value and derivative
_WEAK = {"e": (np.float16, np.complex64), "f": (np.float32, np.complex64),
         "F": (np.float32, np.complex64)}
#: ufuncs whose Python-int operands stay integers (an integer loop, as NumPy picks)
_INT_OPERAND = {np.ldexp}


def weak_types(owner):
    """``(real, complex)`` scalar types for Python numbers used with ``owner`` (a
    carrier), or None for double precision (they become float64 / complex128).

    >>> from dualdiff import Dual
    >>> weak_types(Dual(np.float32(1.0), 1.0)), weak_types(Dual(1.0, 1.0))
    ((<class 'numpy.float32'>, <class 'numpy.complex64'>), None)
    """
    v = owner.value
    while isinstance(v, Carrier):
        v = v.value
    dt = getattr(v, "dtype", None)
    return None if dt is None else _WEAK.get(dt.char)


def operand(x, owner=None):
    """An operand as the rules expect it: sequences lifted or made arrays, Python
    numbers as NumPy scalars (``1.0 / y`` at y = 0 gives inf like NumPy, not
    ZeroDivisionError) of the precision of ``owner``, the carrier they meet (see
    :func:`weak_types`; None: double precision)."""
    t = type(x)
    if t is float:
        weak = weak_types(owner) if owner is not None else None
        return np.float64(x) if weak is None else weak[0](x)
    if t is int:
        weak = weak_types(owner) if owner is not None else None
        if weak is not None:
            return weak[0](x)
        return np.int64(x) if -2**63 <= x < 2**63 else np.float64(x)
    if t is complex:
        weak = weak_types(owner) if owner is not None else None
        return np.complex128(x) if weak is None else weak[1](x)
    if t is list or t is tuple or (t is np.ndarray and x.dtype == object):
        x = lift(x)
        return np.asarray(x) if isinstance(x, (list, tuple)) else x
    if t is not np.ndarray and isinstance(x, _sparse.sparray | _sparse.spmatrix):
        raise SparseOperand
    return x


class SparseOperand(Exception):
    """A scipy.sparse operand met in a ufunc (apply_ufunc hands it to the matmul rules)."""


def _sparse_ufunc(ufunc, inputs):
    """A ufunc with a scipy.sparse operand: ``spmatrix * x`` is a matrix product (as in
    SciPy); anything else would densify A or lose the derivative and is refused."""
    spm = next(x for x in inputs if isinstance(x, _sparse.sparray | _sparse.spmatrix))
    other = [x for x in inputs if x is not spm]
    if ufunc is np.multiply and isinstance(spm, _sparse.spmatrix) and len(other) == 1 and \
            np.ndim(other[0]) >= 1:
        return HANDLED[np.matmul](*inputs)
    raise TypeError(
        f"{public_name(ufunc)} of a scipy.sparse {type(spm).__name__} and a dualdiff array "
        f"is not supported: dualdiff applies scipy.sparse matrices as linear maps (A @ x, "
        f"x @ A, A.dot(x), and A * x for spmatrix); write A.toarray() for a dense operand.")


def refresh(x) -> None:
    """Bring a view up to date with its root: re-derive its parts (and its value, when
    the root's parts were replaced) along the chain of view operations."""
    v = x._view
    root = v.root
    if root._version == v.seen and root._epoch == v.epoch:
        return
    if x._aliasing and not v.detached and root._epoch == v.epoch:
        v.seen = root._version  # true NumPy views: nothing to do
        return
    fresh = root
    for op, g, adjoint in v.path:
        fresh = linear(g, fresh, op=op, adjoint=adjoint)
    x.value, x.tag = fresh.value, fresh.tag
    x._set_parts(fresh.parts)
    v.seen, v.epoch = root._version, root._epoch
    if fresh._view is not None:
        v.detached = fresh._view.detached


def split(x, cls, tag):
    """``(value, parts)`` of x as seen by a pass of ``tag`` of carrier type ``cls``:
    parts is None for a constant of that pass.

    >>> from dualdiff import Dual
    >>> split(3.0, Dual, 1)
    (3.0, None)
    """
    if type(x) is cls and x.tag == tag:
        if x._view is not None:
            refresh(x)
        return x.value, x.parts
    return x, None


def root_of(x):
    return x if x._view is None else x._view.root


def _mark_view(out, x, op, g, adjoint=None) -> None:
    """Record that ``out`` (made by view op from x) is a view of x's root."""
    root = root_of(x)
    path = (x._view.path if x._view is not None else ()) + ((op, g, adjoint),)
    detached = not out._aliasing or (x._view is not None and x._view.detached)
    if not detached:
        for p, q in zip(out.parts, x.parts):
            if isinstance(p, np.ndarray) and p.size and not np.may_share_memory(p, q):
                detached = True
                break
    out._view = View(root, path, detached)


def _is_view(out, v) -> bool:
    """True when NumPy made ``out`` as a view of ``v`` (their memory is the same)."""
    if isinstance(out, Carrier):
        return out._view is not None
    if type(out) is not np.ndarray or out.base is None or not isinstance(v, np.ndarray):
        return False
    return out.base is (v if v.base is None else v.base)


def _detach(out) -> None:
    """NumPy made a copy: the carrier's parts must not alias what they came from (a part
    that is a view of anything is copied; fresh parts stay)."""
    parts = out.parts
    for p in parts:
        if type(p) is np.ndarray and p.base is not None:
            out._set_parts(tuple(q.copy() if type(q) is np.ndarray and q.base is not None
                                 else q for q in parts))
            return


# -- NaN-safe products ---------------------------------------------------------------

def all_zero(t):
    """Where ``t`` is zero in its value and in every derivative part (nested carriers:
    a Dual(0, 2v) is not zero), as a plain boolean array shaped like t.

    >>> from dualdiff import Dual
    >>> all_zero(Dual(np.zeros(2), np.array([[0.0, 1.0]]))).tolist()
    [True, False]
    """
    if not isinstance(t, Carrier):
        return np.asarray(t) == 0
    z = all_zero(t.value)
    for p, _, _lead in t._orders():
        pz = all_zero(p)
        z = z & np.all(np.reshape(pz, (-1,) + z.shape), axis=0) if pz.size else z
    return z


def nan_safe_product(t, d):
    """``t * d`` where a zero ``t`` stays zero even if ``d`` is inf or nan.

    Forward mode passes a tangent as t: d sqrt(x_0) / d x_1 is 0 at x_0 = 0, not
    0 * inf.  Reverse mode passes the local partial as t (and the adjoint as d), which
    reproduces forward mode's result along every path.  Callers run it quietly.

    >>> with np.errstate(invalid="ignore"):
    ...     nan_safe_product(np.array([[1.0, 0.0]]), np.array([np.inf, np.inf])).tolist()
    [[inf, 0.0]]
    """
    out = t * d
    if type(d) is np.float64 or type(d) is float:
        if d - d == 0.0:  # finite
            return out
    elif isinstance(d, (int, np.integer)) or all_finite(d):
        return out
    zero = all_zero(t)
    if isinstance(t, Carrier):  # a mask from the values of a pass another pass records
        _report(all_zero, (t,), zero)
    return np.where(zero, 0.0, out)


def _report(fn, args, result) -> None:
    """Tell the recorders about a plain result computed from carriers' values that the
    computation keeps as a constant (as :func:`frozen` does): a prepared plan re-checks it."""
    for r in _RECORDERS.get():
        r.observe(fn, args, {}, result, True)


def all_finite(d) -> bool:
    """True when d is finite in its value and in every derivative part (nested carriers:
    a Dual(1e300, inf) is not finite, and 0 times it must stay 0).

    >>> from dualdiff import Dual
    >>> all_finite(np.ones(2)), all_finite(Dual(1.0, np.inf))
    (True, False)
    """
    if not isinstance(d, Carrier):
        return bool(np.isfinite(d).all())
    return all_finite(d.value) and all(
        all_finite(p) for p, _, _ in d._orders() if isinstance(p, (np.ndarray, Carrier)))


# -- kinks -------------------------------------------------------------------------------

def _by_order(x, base: int, lead: int, out: dict) -> None:
    """Parts of x grouped by total derivative order (through nested carriers), each with
    its number of leading direction axes."""
    if not isinstance(x, Carrier):
        out.setdefault(base, []).append((x, lead))
        return
    _by_order(x.value, base, lead, out)
    for p, order, plead in x._orders():
        _by_order(p, base + order, lead + plead, out)


def kink_sign(x):
    """The slope of ``|x|``: sign(x), with one convention at x == 0 for every carrier.

    Where an element's first-order parts are not all zero, |x| has a genuine kink
    and the slope is +1 (as ``maximum(x, -x)``, whose ties go to the first
    argument; a valid subgradient, and linear in the seeds).  Where x is
    stationary (all first-order parts zero) the sign comes from the first non-zero
    part of the lowest higher order, so ``|-x**2|`` has second derivative 2.

    >>> from dualdiff import HyperDual
    >>> kink_sign(HyperDual(0.0, 0.0, 0.0, -2.0)).tolist()
    -1.0
    """
    v = primal(x)
    s = np.sign(v).astype(float) if v.dtype.kind != "c" else np.ones(v.shape)
    if isinstance(x, Carrier) and isinstance(x.value, Carrier) and v.dtype.kind != "c":
        # the slope becomes a constant of the outer pass (reverse over reverse): report it
        _report(np.sign, (x,), np.sign(v))
    zero = v == 0
    if not zero.any() or not isinstance(x, Carrier):
        return np.where(zero, 1.0, s) if zero.any() else s
    groups: dict = {}
    _by_order(x, 0, 0, groups)
    undecided = zero
    for order in sorted(o for o in groups if o > 0):
        first = np.zeros(v.shape)
        for p, lead in groups[order]:
            p = np.asarray(p)
            if p.size == 0:
                continue
            flat = np.reshape(np.broadcast_to(p, p.shape[:lead] + v.shape), (-1,) + v.shape)
            nz = flat != 0
            pick = np.argmax(nz, axis=0)
            val = np.take_along_axis(flat, pick[None], axis=0)[0]
            first = np.where((first == 0) & nz.any(axis=0), np.sign(val), first)
        if order == 1:
            s = np.where(undecided & (first != 0), 1.0, s)
        else:
            s = np.where(undecided & (first != 0), first, s)
        undecided = undecided & (first == 0)
        if not undecided.any():
            break
    return np.where(undecided, 1.0, s)


# -- element-wise rows ------------------------------------------------------------------

_SCALAR_OPS = {np.add: operator.add, np.subtract: operator.sub,
               np.multiply: operator.mul, np.divide: operator.truediv, np.power: operator.pow}
_F64 = np.float64
_NUMBERS = (np.float64, np.int64, float, int)
#: NumPy scalar types whose arithmetic with a float64 scalar is the ufunc's, bit for bit
_SCALARS = {np.float64, np.int64}


def evaluate(ufunc, values):
    """The value of ``ufunc(*values)``: NumPy scalar arithmetic for scalar +, -, *, /, **
    (the same bits as the ufunc, and the warnings NumPy gives for scalars, at a fraction of
    the call cost).

    >>> float(evaluate(np.multiply, (np.float64(2.0), np.float64(3.0))))
    6.0
    """
    if len(values) == 2:
        a, b = values
        op = _SCALAR_OPS.get(ufunc)
        if op is not None and ((type(a) is _F64 and type(b) in _NUMBERS)
                               or (type(b) is _F64 and type(a) in _NUMBERS)):
            return op(a if type(a) is _F64 else np.float64(a), b)
    return ufunc(*values)


class Row:
    """A row of the table made ready to apply: per argument its first partial (None for a
    structural zero, a float, :data:`~dualdiff.rules.NONDIFF`, :data:`~dualdiff.rules.KINK`
    or a function of ``(*values, z)``) and its second partials."""

    __slots__ = ("ufunc", "unary", "first", "second", "constant", "scalar_op", "special")

    def __init__(self, ufunc):
        self.ufunc = ufunc
        self.scalar_op = _SCALAR_OPS.get(ufunc)
        self.special = ufunc in COMPLEX_UFUNCS  # checked per call (the operand's dtype)
        self.constant = ufunc in rules.PIECEWISE_CONSTANT
        row = rules.UNARY.get(ufunc)
        self.unary = row is not None or (self.constant and ufunc.nin == 1)
        if self.constant:
            self.first, self.second = (None,) * ufunc.nin, ()
            return
        firsts, seconds = ((row[0],), ((0, 0, row[1]),)) if row is not None else (
            rules.BINARY[ufunc][0], tuple((i, j, e) for (i, j), e in zip(
                ((0, 0), (0, 1), (1, 1)), rules.BINARY[ufunc][1])))
        self.first = tuple(None if not callable(e) and not isinstance(e, str) and e == 0
                           else e if callable(e) or isinstance(e, str) else float(e)
                           for e in firsts)
        self.second = tuple((i, j, e if callable(e) else float(e)) for i, j, e in seconds
                            if callable(e) or e != 0)


_ROWS: dict = {}


def row_of(ufunc) -> Row:
    """The prepared row of ``ufunc`` (made once, remade when the table changes).

    >>> row_of(np.sin).unary
    True
    """
    row = _ROWS.get(ufunc)
    if row is None:
        row = _ROWS[ufunc] = Row(ufunc)
    return row


def table_changed() -> None:
    """Forget the prepared rows (after a row was added or replaced in the table)."""
    _ROWS.clear()


def narrow(partials, z):
    """Partials (a list or a dict of them) cast to the precision of the value z when z is
    of lower than double precision: a row that computes in float64 (a Python-float
    constant array, a SciPy function with double loops only) still gives float32
    derivatives of a float32 value, as the value's own dtype says.

    >>> narrow([np.ones(2), None, 2.0], np.float32(1.0))[0].dtype
    dtype('float32')
    """
    t = type(z)
    if t is np.float64:
        return partials
    dt = z.dtype if t is np.ndarray else getattr(z, "dtype", None)
    low = _WEAK.get(dt.char) if dt is not None else None
    if low is None:
        return partials
    real, cplx = low

    def cast(f):
        dt = getattr(f, "dtype", None)
        if dt is None:
            return f
        if dt.char in "dg":
            return f.astype(real)
        if dt.char in "DG":
            return f.astype(cplx)
        return f

    if isinstance(partials, dict):
        return {k: cast(f) for k, f in partials.items()}
    return [cast(f) for f in partials]


def first_partials(ufunc, values, z, live, x=None):
    """The first partials of ``ufunc`` at ``values`` (result z) for the live arguments:
    a number or array, or None for a structural zero.  ``x`` is the carrier itself
    for the kink convention.  Raises for a live argument with no derivative.

    >>> first_partials(np.multiply, (2.0, 3.0), 6.0, [True, False])
    [3.0, None]
    """
    row = row_of(ufunc)
    out = []
    for i, e in enumerate(row.first):
        if e is None or not live[i]:
            out.append(None)
        elif type(e) is float:
            out.append(e)
        elif e is rules.NONDIFF:
            which = ("first", "second")[i]
            raise TypeError(f"{public_name(ufunc)}: no derivative with respect to its {which} "
                            f"argument; pass a constant there.")
        elif e is rules.KINK:
            out.append(kink_sign(values[0] if x is None else x))
        else:
            out.append(e(*values, z))
    return narrow(out, z)


def second_partials(ufunc, values, z, first, live):
    """Second partials ``{(i, j): f_ij}`` (i <= j) for live arguments, structural zeros
    left out; ``first`` are the first partials.

    >>> second_partials(np.multiply, (2.0, 3.0), 6.0, [3.0, 2.0], [True, True])
    {(0, 1): 1.0}
    """
    row = row_of(ufunc)
    out = {}
    for i, j, e in row.second:
        if live[i] and live[j]:
            if type(e) is float:
                out[(i, j)] = e
            elif row.unary:
                out[(i, j)] = e(values[0], z, first[0])
            else:
                out[(i, j)] = e(values[0], values[1], z)
    return narrow(out, z)


def _any_complex(inputs) -> bool:
    for x in inputs:
        v = innermost(x)
        if type(v) is complex or (getattr(v, "dtype", None) is not None and v.dtype.kind == "c"):
            return True
    return False


def _object_loop(ufunc, inputs):
    """A ufunc with object loops only (``np.frompyfunc``): NumPy calls its Python
    function on each element, here a dualdiff scalar, and the results are stacked."""
    out = ufunc(*[_elements(a, True) if isinstance(a, Carrier) else a for a in inputs])
    return tuple(lift(o) for o in out) if isinstance(out, tuple) else lift(out)


def _special(ufunc, inputs):
    """What apply_ufunc does for a ufunc without a row (or with a complex operand):
    a discrete result, a composite, or a refusal; None when the row applies."""
    if ufunc in COMPLEX_UFUNCS and _any_complex(inputs):
        return COMPLEX_UFUNCS[ufunc](*inputs)
    if ufunc in rules.DISCRETE_UFUNCS:
        return discrete(ufunc, inputs)
    if not (ufunc in rules.UNARY or ufunc in rules.BINARY or ufunc in rules.PIECEWISE_CONSTANT):
        impl = HANDLED.get(ufunc)
        if impl is not None:  # composites (copysign, ...)
            return impl(*inputs)
        if ufunc.types and all(set(t.replace("->", "")) == {"O"} for t in ufunc.types):
            return _object_loop(ufunc, inputs)
        raise TypeError(
            f"dualdiff cannot differentiate {public_name(ufunc)}: "
            f"{REFUSED.get(ufunc, 'it has no derivative rule')}. Apply it to .value if "
            f"no derivative is needed, or add a rule with dd.rule.")
    return None


#: plain operands the fast path of apply_ufunc takes as they are (as NumPy scalars)
_PLAIN = {float: np.float64, np.float64: np.float64, int: lambda v: np.int64(v)
          if -2**63 <= v < 2**63 else np.float64(v), np.int64: np.int64}
_F64_DTYPE = np.dtype(np.float64)


def _nondiff(ufunc, i):
    raise TypeError(f"{public_name(ufunc)}: no derivative with respect to its "
                    f"{('first', 'second')[i]} argument; pass a constant there.")


def apply_ufunc(ufunc, inputs):
    """``ufunc(*inputs)`` (no keywords) with at least one carrier among the inputs: the
    value, the first partials (and the second, for second-order carriers) of the row,
    handed to the carrier type to combine with the operands' parts.

    >>> from dualdiff import Dual
    >>> apply_ufunc(np.multiply, (Dual(3.0, 1.0), 2.0)).tangent.tolist()
    [2.0]
    """
    row = _ROWS.get(ufunc)
    if row is None or row.special:
        done = _special(ufunc, inputs)
        if done is not None:
            return done
        row = row_of(ufunc)
    if len(inputs) == 1:
        x = inputs[0]
        cls, tag = type(x), x.tag
        if x._view is not None:
            refresh(x)
        v = x.value
        sp = [(v, x.parts)]
        z = ufunc(v)
        if row.constant and _RECORDERS.get():
            # floor / sign / rint ...: a value-dependent constant of the pass (derivative
            # zero), so a prepared plan re-checks it like a comparison
            _report(ufunc, inputs, innermost(z))  # plain (z is a carrier when nested)
        token = ERRSTATE.set(IGNORE)
        try:
            e = row.first[0]
            if e is None:
                first = [None]
            elif type(e) is float:
                first = [e]
            else:
                first = [kink_sign(x) if e is rules.KINK else e(v, z)]
            if type(z) is not _F64:
                first = narrow(first, z)
            second = None
            if cls._order > 1:
                second = second_partials(ufunc, (v,), z, first, (True,))
            return cls._elementwise(ufunc, z, sp, first, second, tag, inputs)
        finally:
            ERRSTATE.reset(token)
    a, b = inputs
    ca, cb = isinstance(a, Carrier), isinstance(b, Carrier)
    if ca and cb and a.tag == b.tag and type(a) is type(b):
        owner = a
    elif ca is not cb and type(b if ca else a) in _PLAIN and ufunc not in _INT_OPERAND and (
            type((a if ca else b).value) is _F64 or (
                type((a if ca else b).value) is np.ndarray and
                (a if ca else b).value.dtype is _F64_DTYPE)):
        owner = a if ca else b  # a carrier of double precision and a plain number
        if ca:
            b = _PLAIN[type(b)](b)
        else:
            a = _PLAIN[type(a)](a)
        inputs = (a, b)
    else:
        owner = find_owner(inputs)
        weak = owner if ufunc not in _INT_OPERAND else None
        try:
            if not ca:
                a = operand(a, weak)
            if not cb:
                b = operand(b, weak)
        except SparseOperand:
            return _sparse_ufunc(ufunc, inputs)
        if (not ca and isinstance(a, Carrier)) or (not cb and isinstance(b, Carrier)):
            owner = find_owner((a, b))  # a list of carriers, stacked
        inputs = (a, b)
    cls, tag = type(owner), owner.tag
    if type(a) is cls and a.tag == tag:
        if a._view is not None:
            refresh(a)
        av, pa = a.value, a.parts
    else:
        av, pa = a, None
    if type(b) is cls and b.tag == tag:
        if b._view is not None:
            refresh(b)
        bv, pb = b.value, b.parts
    else:
        bv, pb = b, None
    op = row.scalar_op
    ta, tb = type(av), type(bv)
    if op is not None and ((ta is _F64 and tb in _SCALARS) or (tb is _F64 and ta in _SCALARS)):
        z = op(av, bv)
    else:
        z = ufunc(av, bv)
    if row.constant and _RECORDERS.get():
        _report(ufunc, inputs, innermost(z))
    token = ERRSTATE.set(IGNORE)
    try:
        fa, fb = row.first
        if fa is None or pa is None:
            fa = None
        elif type(fa) is not float:
            fa = _nondiff(ufunc, 0) if fa is rules.NONDIFF else fa(av, bv, z)
        if fb is None or pb is None:
            fb = None
        elif type(fb) is not float:
            fb = _nondiff(ufunc, 1) if fb is rules.NONDIFF else fb(av, bv, z)
        first = [fa, fb]
        if type(z) is not _F64:
            first = narrow(first, z)
        second = None
        if cls._order > 1:
            second = second_partials(ufunc, (av, bv), z, first, (pa is not None, pb is not None))
        return cls._elementwise(ufunc, z, [(av, pa), (bv, pb)], first, second, tag, inputs)
    finally:
        ERRSTATE.reset(token)


_REDUCE = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max, np.minimum: np.min,
           np.fmax: np.nanmax, np.fmin: np.nanmin}


def _running_selection(ufunc):
    """``ufunc.accumulate`` of maximum / minimum / fmax / fmin: each output selects an
    input (the running winner; at a tie the earlier one, as ``ufunc(earlier, later)``
    keeps its first argument), gathered so its derivative comes along."""
    def accumulate(a, axis=0):
        v = np.asarray(primal(a))
        ax = normalize_axis_index(axis, v.ndim)
        acc = ufunc.accumulate(v, axis=ax)
        lead = (slice(None),) * ax
        prev = acc[lead + (slice(None, -1),)]
        cur = acc[lead + (slice(1, None),)]
        new = ~((cur == prev) | (np.isnan(cur) & np.isnan(prev)))
        first = np.ones_like(acc[lead + (slice(0, 1),)], dtype=bool)
        pos = np.reshape(np.arange(v.shape[ax]), [-1 if i == ax else 1 for i in range(v.ndim)])
        idx = np.maximum.accumulate(np.where(np.concatenate([first, new], axis=ax), pos, 0),
                                    axis=ax)
        return np.take_along_axis(a, idx, axis=ax)

    return accumulate


_ACCUMULATE = {np.add: np.cumsum, np.multiply: np.cumprod}
_ACCUMULATE.update({uf: _running_selection(uf) for uf in (np.maximum, np.minimum, np.fmax,
                                                          np.fmin)})


def call_ufunc(ufunc, method, inputs, kwargs):
    """Entry point of ``__array_ufunc__``: methods and keywords, then :func:`apply_ufunc`.

    >>> from dualdiff import Dual
    >>> call_ufunc(np.multiply, "__call__", (Dual(3.0, 1.0), 2.0), {}).tangent.tolist()
    [2.0]
    """
    if method == "__call__" and not kwargs:
        return apply_ufunc(ufunc, inputs)
    name = public_name(ufunc)
    dtype = kwargs.pop("dtype", None)
    if dtype is not None and np.dtype(dtype).kind not in "fc":
        raise TypeError(f"{name}(..., dtype={dtype}) would drop the derivative")
    for key in ("casting", "order", "subok"):
        kwargs.pop(key, None)
    if method == "reduce" and ufunc in _REDUCE:
        # np.add.reduce is np.sum (which takes NumPy's where= and initial=), and so on
        return _REDUCE[ufunc](inputs[0], axis=kwargs.pop("axis", 0), **kwargs)
    if kwargs.pop("where", True) is not True:
        raise TypeError(f"{name}(..., where=) is not supported by dualdiff; use np.where")
    if method == "accumulate" and ufunc in _ACCUMULATE:
        return _ACCUMULATE[ufunc](inputs[0], axis=kwargs.get("axis", 0))
    if method == "at" and not kwargs:
        return _ufunc_at(ufunc, inputs, name)
    if method == "outer" and ufunc.nin == 2 and not kwargs:
        owner = find_owner(inputs)
        a, b = (operand(x, owner) for x in inputs)
        return ufunc(np.reshape(a, np.shape(a) + (1,) * np.ndim(b)), b)
    if method != "__call__" or kwargs:
        raise TypeError(f"{name}.{method} with {sorted(kwargs)} is not supported by "
                        f"dualdiff; write it with supported calls")
    return apply_ufunc(ufunc, inputs)


def _ufunc_at(ufunc, inputs, name) -> None:
    """``ufunc.at(a, indices[, b])``: unbuffered in place, every occurrence of a repeated
    index applied in order (``np.add.at(a, [0, 0], 1)`` adds twice).  Applied in layers
    (the r-th occurrence of each index in layer r), which is NumPy's order per element,
    so the values are NumPy's bits; every layer is a read and a write through setitem.

    >>> from dualdiff import Dual
    >>> a = Dual(np.zeros(2), np.zeros((1, 2)))
    >>> np.add.at(a, [0, 0, 1], Dual(np.array([1.0, 2.0, 3.0]), np.ones((1, 3))))
    >>> a.value.tolist(), a.tangent.tolist()
    ([3.0, 3.0], [[2.0, 1.0]])
    """
    a, indices, rest = inputs[0], inputs[1], inputs[2:]
    if not isinstance(a, Carrier):
        raise TypeError(f"{name}.at into a plain array would lose the derivative of the "
                        f"values; make the array with np.zeros_like(x)")
    if find_owner([indices]) is not None:
        raise TypeError(f"{name}.at: the indices must be integers or masks, not a "
                        f"{a._label}")
    shape = a.shape
    pos = np.arange(math.prod(shape)).reshape(shape)[indices]
    flat = np.ravel(pos)
    # the operands are read before a is changed (NumPy buffers an operand that overlaps a)
    items = [np.copy(np.reshape(np.broadcast_to(operand(b), np.shape(pos)), -1)) for b in rest]
    order = np.argsort(flat, kind="stable")
    ranks = np.empty_like(flat)
    ranks[order] = np.arange(flat.size) - np.searchsorted(flat[order], flat[order])
    for r in range(int(ranks.max(initial=-1)) + 1):
        sel = np.flatnonzero(ranks == r)
        where = np.unravel_index(flat[sel], shape)
        a[where] = ufunc(a[where], *[b[sel] for b in items])


#: functions whose dtype= is the precision NumPy computes in (the input is cast first)
_DTYPE_OF_INPUT = {np.sum, np.prod, np.cumsum, np.cumprod, np.cumulative_sum,
                   np.cumulative_prod, np.trace, np.linalg.trace, np.mean, np.var, np.std,
                   np.nansum, np.nanprod, np.nanmean, np.nanvar, np.nanstd, np.nancumsum,
                   np.nancumprod}
#: ... and those whose dtype= is the type of the result
_DTYPE_ARG = _DTYPE_OF_INPUT | {np.concatenate, np.stack, np.hstack, np.vstack,
                                np.linspace, np.logspace}


def call_function(func, args, kwargs):
    """Entry point of ``__array_function__``: handled, discrete, or refused by name.

    >>> from dualdiff import Dual
    >>> call_function(np.sum, (Dual(np.ones(2), np.ones((1, 2))),), {}).tangent.tolist()
    [2.0]
    """
    impl = HANDLED.get(func)
    if impl is not None:
        out = kwargs.pop("out", None)
        dtype = kwargs.pop("dtype", None) if func in _DTYPE_ARG else None
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind not in "fc":
                raise TypeError(f"{public_name(func)}(..., dtype={dtype.name}) would drop the "
                                f"derivative")
            if func in _DTYPE_OF_INPUT:  # NumPy computes in dtype: so do we
                args = (np.asarray(args[0]).astype(dtype) if not isinstance(args[0], Carrier)
                        else args[0].astype(dtype),) + tuple(args[1:])
        result = impl(*args, **kwargs)
        if dtype is not None and func not in _DTYPE_OF_INPUT:
            result = result.astype(dtype)
        return result if out is None else write_out(result, out, public_name(func))
    if func in DISCRETE:
        return discrete(func, args, kwargs)
    reason = REFUSED.get(func, "it has no derivative rule in dualdiff")
    raise TypeError(
        f"dualdiff cannot differentiate {public_name(func)}: {reason}. Rewrite it with "
        f"supported NumPy operations, or apply it to .value if no derivative is needed.")


def write_out(result, out, name: str):
    """Honour NumPy's ``out=``: only a carrier can receive a derivative.

    >>> write_out(np.ones(2), None, "np.add").tolist()
    [1.0, 1.0]
    """
    if out is None:
        return result
    if isinstance(out, tuple):
        if len(out) != 1:
            raise TypeError(f"{name}: out= with several outputs is not supported")
        out = out[0]
    if type(out) is np.ndarray and out.dtype == object:  # np.array([...]) of carriers:
        # its elements are dualdiff scalars, so the result goes in element by element
        out[...] = _elements(result, True) if isinstance(result, Carrier) and \
            np.ndim(result) else result
        return out
    if not isinstance(out, Carrier):
        raise TypeError(
            f"{name}(..., out=<plain array>) would write a derivative into a plain array "
            f"and lose it; drop out= or pass an array made with np.zeros_like(x).")
    out[...] = result
    return out


# -- linear maps, gathers, primitives ----------------------------------------------------

def linear(g, *xs, op, adjoint=None):
    """Apply a linear map to the value and every part of xs.

    ``op(*values)`` is the map on plain arrays, ``g`` the same map batched over
    one leading axis.  ``adjoint`` (batched too) is its transpose, given only when
    op is not a pure movement of elements (sum, cumsum); without it op only moves
    elements or fills zeros, so its transpose and sparsity follow from op applied
    to arrays of indices (:func:`index_map`).  An adjoint may carry a
    ``structure(in_shape, out_shape)`` attribute: the map's 0/1 structure as a
    scipy.sparse matrix (out.size, in.size), which the sparsity tracer then uses
    instead of probing the map.  A result that NumPy makes as a view of its one
    input is recorded as a view (writes through it reach the input).

    >>> from dualdiff import Dual
    >>> x = Dual(np.arange(3.0), np.eye(3))
    >>> linear(lambda p: p[:, ::-1], x, op=lambda v: v[::-1]).tangent[0].tolist()
    [0.0, 0.0, 1.0]
    """
    if len(xs) == 1 and isinstance(xs[0], Carrier):  # the common case: one carrier
        x = xs[0]
        cls, tag = type(x), x.tag
        if x._view is not None:
            refresh(x)
        v = x.value
        value = op(v)
        out = cls._linear(op, g, adjoint, [(v, x.parts)], value, tag, xs)
        if _is_view(value, v):
            _mark_view(out, x, op, g, adjoint)
        elif cls._aliasing:
            _detach(out)
        return out
    owner = find_owner(xs)
    if owner is None:
        return op(*xs)
    xs = tuple(lift(x) for x in xs)
    cls, tag = type(owner), owner.tag
    sp = [split(x, cls, tag) for x in xs]
    value = op(*[v for v, _ in sp])
    out = cls._linear(op, g, adjoint, sp, value, tag, xs)
    if len(xs) == 1 and sp[0][1] is not None and _is_view(value, sp[0][0]):
        _mark_view(out, xs[0], op, g, adjoint)
    elif cls._aliasing:
        _detach(out)
    return out


def index_map(op, shapes):
    """op applied to arrays of indices 1, 2, ... of the given shapes (0: a filled zero).

    >>> index_map(lambda v: np.pad(v, 1), [(2,)]).tolist()
    [0, 1, 2, 0]
    """
    offsets = np.cumsum([1] + [math.prod(s) for s in shapes])
    return np.asarray(op(*[np.arange(o, o + math.prod(s)).reshape(s)
                           for o, s in zip(offsets, shapes)]))


def gather(op, *xs):
    """Apply op, which only moves elements of xs (or fills zeros), to every part,
    gathering each part with op's index map.

    >>> from dualdiff import Dual
    >>> gather(lambda v: np.roll(v, 1), Dual(np.arange(3.0), np.eye(3))).tangent[0].tolist()
    [0.0, 1.0, 0.0]
    """
    index = index_map(op, [np.shape(x) for x in xs])

    def g(*parts):
        k = parts[0].shape[0]
        dtype = np.result_type(*parts)
        flat = np.concatenate([np.zeros((k, 1), dtype)] + [p.reshape(k, -1) for p in parts],
                              axis=1)
        return flat[:, index]

    return linear(g, *xs, op=op)


def primitive(prim, *args):
    """Apply a :class:`~dualdiff.primitives.Primitive`; with no carrier, just evaluate it.

    >>> from dualdiff import Dual, primitives
    >>> primitive(primitives.MATMUL, np.eye(2), Dual(np.ones(2), np.eye(2))).tangent.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    owner = find_owner(args)
    if owner is None:
        return prim.fn(*args)
    args = tuple(lift(a) for a in args)
    cls, tag = type(owner), owner.tag
    sp = [split(a, cls, tag) for a in args]
    out = prim.fn(*[v for v, _ in sp])
    token = quiet()
    try:
        return cls._primitive(prim, sp, out, tag, args)
    finally:
        loud(token)


def constant_like(value, like, writeable: bool = False):
    """A carrier of like's type and tag holding a constant (zero derivative parts,
    ``writeable`` ones laid out like the value when it will be written into).

    >>> from dualdiff import Dual
    >>> constant_like([1.0, 2.0], Dual(0.0, [1.0, 1.0, 1.0])).tangent.shape
    (3, 2)
    """
    if not isinstance(value, Carrier):
        value = np.asarray(value)
        if value.dtype.kind not in "fc":
            value = value.astype(float)
    parts = type(like)._constant_parts(value, like)
    if writeable and type(like)._aliasing:
        parts = tuple(mirrored(p, value) if isinstance(p, np.ndarray) else p for p in parts)
    return type(like)._make(value, parts, like.tag)


def create(func, args, kwargs, like):
    """``np.zeros(n, like=x)`` and friends: a constant carrier shaped as asked.

    >>> from dualdiff import Dual
    >>> np.zeros(3, like=Dual(1.0, 1.0)).tangent.tolist()
    [[0.0, 0.0, 0.0]]
    """
    if func in (np.array, np.asarray, np.asanyarray, np.ascontiguousarray):
        obj = args[0] if args else kwargs.pop("object", kwargs.pop("a", None))
        if isinstance(obj, Carrier):
            return obj.copy() if func is np.array and kwargs.get("copy", True) else obj
        if find_owner([obj]) is not None:
            return np.stack(obj)
        return constant_like(func(obj, *args[1:], **kwargs), like)
    return constant_like(func(*args, **kwargs), like)


# -- indexing ----------------------------------------------------------------------------

def _index(index) -> tuple:
    if isinstance(index, Carrier):
        raise TypeError(f"cannot index with a {index._label}; index with an integer or "
                        f"boolean array computed from .value (or np.argmax(x) and friends)")
    index = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, Carrier) for i in index):
        return _index(next(i for i in index if isinstance(i, Carrier)))
    return tuple(np.asarray(i) if isinstance(i, list) else i for i in index)


def _basic(index: tuple) -> bool:
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))
               for i in index)


def _adjacent(index: tuple) -> bool:
    """True when NumPy keeps the advanced indices where they stand (they are adjacent;
    integers count as advanced once any array index is present)."""
    pos = [i for i, v in enumerate(index) if not (v is None or v is Ellipsis or
                                                   isinstance(v, slice))]
    return not pos or pos[-1] - pos[0] == len(pos) - 1


def advanced_front(index) -> int:
    """How many axes NumPy puts in front of ``part[(slice(None),) + index]`` (a part with
    one leading direction axis) that ``value[index]`` does not have before it: where
    advanced indices are separated by a slice, ellipsis or newaxis NumPy moves their
    broadcast axes to the front, ahead of the direction axis; 0 otherwise.

    >>> advanced_front((1, slice(1, None), [0, 2])), advanced_front((slice(None), [0, 1]))
    (1, 0)
    """
    index = index if isinstance(index, tuple) else (index,)
    if _basic(index) or _adjacent(index):
        return 0
    shapes = [np.shape(np.nonzero(i)[0]) if np.asarray(i).dtype == bool else np.shape(i)
              for i in index if not (i is None or i is Ellipsis or isinstance(i, slice))]
    return len(np.broadcast_shapes(*shapes))


class Index:
    """``v[index]`` as a callable (the op of :func:`linear` for indexing); ``basic`` when
    the index holds only integers, slices, None and Ellipsis, so that every element is
    taken at most once and the transpose is a write into zeros."""

    __slots__ = ("index", "basic")

    def __init__(self, index, basic: bool):
        self.index, self.basic = index, basic

    def __call__(self, v):
        return v[self.index]


def getitem(x, index):
    """``x[index]`` on a carrier: basic indexing is one linear map (a view where NumPy
    makes one), advanced indexing a gather (a copy).

    >>> from dualdiff import Dual
    >>> getitem(Dual(np.arange(3.0), np.eye(3)), [2, 0]).tangent.tolist()
    [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]]
    """
    if type(index) is int:  # x[i] in a Python loop
        v = x.value
        if x._aliasing and x._view is None and type(v) is np.ndarray and v.ndim == 1:
            # an element of a vector is a NumPy scalar: a copy, parts copied with it
            return type(x)._make(v[index], tuple(p[:, index].copy() for p in x.parts), x.tag)
        return linear(Index((slice(None), index), True), x, op=Index((index,), True))
    index = _index(index)
    basic = _basic(index)
    if basic or _adjacent(index):
        return linear(Index((slice(None),) + index, basic), x, op=Index(index, basic))
    return gather(operator.itemgetter(index), x)


def setitem(x, index, item) -> None:
    """``x[index] = item``, with NumPy's semantics in value and in every part: through
    a view the write reaches the root; with repeated indices the last write wins.

    >>> from dualdiff import Dual
    >>> x = Dual(np.zeros(2), np.zeros((1, 2)))
    >>> setitem(x, 1, Dual(5.0, 1.0))
    >>> x.value.tolist(), x.tangent.tolist()
    ([0.0, 5.0], [[0.0, 1.0]])
    """
    index = _index(index)
    index = index[0] if len(index) == 1 else index
    item = operand(item) if not isinstance(item, Carrier) else item
    owner = find_owner((x, item))
    if owner.tag > x.tag or type(owner) is not type(x):
        raise TypeError(
            "cannot store a value of an inner derivative (one taken inside this one, e.g. "
            "by a dd.gradient called within f) into an array made outside it: the array "
            "cannot hold the inner derivative. Build the array inside the inner function "
            "(np.zeros_like of one of its values, or np.stack).")
    if not isinstance(innermost(x), np.ndarray):
        raise TypeError(f"'{type(innermost(x)).__name__}' object does not support item "
                        f"assignment (a scalar, as in NumPy)")
    if x._view is not None:
        refresh(x)
    root = root_of(x)
    if type(item) is type(x) and item.tag == x.tag and root_of(item) is root:
        split(item, type(x), x.tag)  # brings a view up to date
        if np.may_share_memory(primal(item), primal(x)):
            item = _overlapping_item(x, index, item, root)
    if x._view is not None and x._aliasing and x._view.detached and \
            primal(x).dtype != primal(root).dtype:
        raise TypeError(
            f"writing through z.real or z.imag of a complex {x._label} whose derivative "
            f"parts were copied from the array's (a detached view) is not supported; "
            f"build the array as re + 1j * im instead.")
    value, parts = split(item, type(x), x.tag)
    changed = _promote(root, value, parts)
    changed = (_materialize(root) if x._aliasing else type(x)._before_write(root)) or changed
    if changed:
        root._epoch += 1
        if x._view is not None:
            refresh(x)
        value, parts = split(item, type(x), x.tag)
    x.value[index] = value  # NumPy's semantics, errors and casting for the value
    if x._aliasing and (x._view is None or not x._view.detached):
        x._write(index, parts)
    else:
        written, src, component = _positions(x, index, np.shape(value))
        # a write through z.real / z.imag replaces one component of each written element
        kw = {"component": component} if component is not None else {}
        type(x)._write_root(root, written, src, parts, value, **kw)
    root._version += 1
    if x._view is not None and not x._view.detached:
        x._view.seen = root._version


def _overlapping_item(x, index, item, root):
    """``x[index] = item`` where the item is a view of the memory it is written into
    (``a[:, -1] = a[1, :]``): NumPy's copy may pass on a value written a moment
    before, or buffer the item first, as its copy loop decides for these strides.  The
    same assignment on an array of positions laid out like the root's value (same
    dtype, same strides) tells which element of the root each written element gets;
    the item becomes that gather from the root as it was (a copy: no overlap left)."""
    base = primal(root.value)
    pos = np.empty_like(base)
    pos[...] = np.arange(base.size).reshape(base.shape)
    views = []
    for c in (x, item):
        view = pos
        for op, _, _ in (c._view.path if c._view is not None else ()):
            view = op(view)
        if view.size and not np.may_share_memory(view, pos):
            return item  # not traceable as a view: NumPy's own semantics are a copy
        views.append(view)
    dst, src = views
    dst[index] = src
    taken = np.real(dst[index]).astype(np.intp)
    return np.ravel(root.copy())[taken]


def _promote(root, value, parts) -> bool:
    """Nested passes: before an item carrying an older perturbation is stored, the
    root's value (and the parts receiving the item's parts) become carriers able to
    hold it: same memory, zero derivative parts.  The root's views re-derive theirs."""
    old = (root.value,) + tuple(root.parts)
    new = list(old)
    for i, q in enumerate((value,) + (tuple(parts) if parts is not None else ())):
        o = find_owner([q])
        if o is not None and not (isinstance(new[i], Carrier) and new[i].tag >= o.tag):
            p = new[i]
            if i and isinstance(p, np.ndarray) and not p.flags.writeable:  # zero parts
                p = mirrored(p, root.value)
            new[i] = constant_like(p, o, writeable=True)
    if all(a is b for a, b in zip(new, old)):
        return False
    root.value = new[0]
    root._set_parts(tuple(new[1:]))
    return True


def _materialize(root) -> bool:
    """Aliasing carriers: read-only parts (broadcast zeros) of the root replaced by
    writeable ones laid out like the value, so writes through views reach them."""
    parts = root.parts
    if all(not isinstance(p, np.ndarray) or p.flags.writeable for p in parts):
        return False
    root._set_parts(tuple(p if not isinstance(p, np.ndarray) or p.flags.writeable
                          else mirrored(p, root.value) for p in parts))
    return True


def mirrored(part, value):
    """A writeable copy of ``part`` (one leading axis) whose every direction is laid out
    in memory like ``value``, so NumPy makes a view of it exactly where it makes a view
    of the value (reshape, ravel).

    >>> v = np.ones((2, 3)).T
    >>> mirrored(np.zeros((4, 3, 2)), v)[0].strides == v.strides
    True
    """
    v = primal(value)
    if v.ndim < 2 or v.flags.c_contiguous:
        return np.array(part, order="C")
    perm = sorted(range(v.ndim), key=lambda a: -abs(v.strides[a]))
    buf = np.empty(part.shape[:1] + tuple(v.shape[a] for a in perm), part.dtype)
    out = np.transpose(buf, [0] + [1 + perm.index(j) for j in range(v.ndim)])
    out[...] = part
    return out


def _positions(x, index, item_shape):
    """Where ``x[index] = item`` lands in x's root: a boolean mask over the root's
    elements (C order) and, for each written element, the flat index of the item
    element written there (NumPy's last write wins with repeated indices); and which
    component a real view of a complex root (z.real, z.imag) writes ("real", "imag";
    None for whole elements)."""
    root = root_of(x)
    base = primal(root.value)
    part = base.dtype.kind == "c" and primal(x).dtype.kind != "c"
    where = np.empty_like(base, dtype=complex if part else np.intp)
    where[...] = complex(-1, -1) if part else -1
    view = where
    if x._view is not None:
        for op, _, _ in x._view.path:
            view = op(view)
        if view.size and not np.may_share_memory(view, where):
            raise TypeError("dualdiff: a write through this view cannot be traced to the "
                            "array it views; copy it with .copy() before writing")
    view[index] = np.arange(math.prod(item_shape)).reshape(item_shape)
    flat = where.reshape(-1)
    component = None
    if part:  # positions are exact in float64; the view wrote one component
        component = "real" if np.any(flat.real >= 0) else "imag"
        flat = (flat.real if component == "real" else flat.imag).astype(np.intp)
    written = flat >= 0
    return written, flat[written], component
