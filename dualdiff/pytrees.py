"""Structured inputs and outputs, extra arguments and auxiliary output, for every driver.

Every strategy (forward, reverse, Hessians, sparse, plans) differentiates a function of
one array.  :class:`Problem` is the layer between: it sees ``f(x, *args, **kwargs)`` as a
function ``p.fn`` of one array ``p.x`` and maps results back to the user's structures
with JAX's layout: the output's structure outside, the input's inside, so
``jacobian(f, {"a": a, "b": b})["y"]["a"]`` is ``d y / d a`` of shape
``y.shape + a.shape``.

What is a structure (a "pytree").  A dict, or a list / tuple that holds an array of
ndim >= 1 (an ndarray or a dualdiff array), a dict, or another structure; namedtuples keep
their type, and None inside a structure is an empty subtree.  Its leaves are arrays.  A list
or tuple of *scalars* only (Python or NumPy numbers, 0-d arrays, 0-d dualdiff values, nested
to any depth) is one array, as ``np.array`` reads it: ``[1.0, 2.0]`` is an input of
shape (2,), and an f returning ``[x[0] * x[1], np.sin(x[0])]`` has an output of shape (2,).

Flat order.  The leaves of a structure are laid end to end (dict keys sorted, each leaf in
C order) in one vector of the leaves' common dtype; sparse Jacobians and patterns of
structured functions are (m, n) in that order.

Positional arguments.  ``argnums`` (an int or a tuple of ints, as in JAX) says which
positional arguments of f are differentiated; x is then the tuple of f's first positional
arguments, and the result has the structure of ``x[argnums]`` (a tuple when argnums is a
tuple).  ``args`` and ``kwargs`` (SciPy's convention) are passed after them, constant.

Auxiliary output.  With ``has_aux=True`` f returns ``(output, aux)``; aux comes back with
this call's derivative parts taken off (values of an outer derivative pass stay).

>>> import numpy as np
>>> p = Problem(lambda t: {"y": t["a"] * t["b"]}, {"a": np.ones(2), "b": 3.0})
>>> p.x.tolist()
[1.0, 1.0, 3.0]
>>> p.output(p.fn(p.x))["y"].tolist()
[3.0, 3.0]
"""

from __future__ import annotations

import math
import operator

import numpy as np

from .core import Carrier, lift, new_tag, refresh
from .seeding import as_input, output_constant

# -- structures ---------------------------------------------------------------------------

def _array_like(obj) -> bool:
    """An array of ndim >= 1 (which makes a list holding it a structure)."""
    return isinstance(obj, (np.ndarray, Carrier)) and np.ndim(obj) > 0


def is_structure(obj) -> bool:
    """Whether obj is a structure of arrays rather than one array (see the module doc).

    >>> is_structure([1.0, 2.0]), is_structure([np.ones(2), 2.0]), is_structure({"a": 1.0})
    (False, True, True)
    """
    if isinstance(obj, dict):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_array_like(e) or is_structure(e) for e in obj)
    return False


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(type(obj), "_fields")


class TreeDef:
    """The shape of a structure without its leaves: a leaf, or a container type with its
    keys (dicts) and children."""

    __slots__ = ("kind", "keys", "children")

    def __init__(self, kind=None, keys=(), children=()):
        self.kind, self.keys, self.children = kind, tuple(keys), tuple(children)

    @property
    def num_leaves(self) -> int:
        if self.kind is None:
            return 1
        return sum(c.num_leaves for c in self.children)

    def _key(self):
        return (self.kind, self.keys, tuple(c._key() for c in self.children))

    def __eq__(self, other) -> bool:
        return isinstance(other, TreeDef) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        if self.kind is None:
            return "*"
        if self.kind is dict:
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.keys, self.children)) + "}"
        if self.kind is type(None):
            return "None"
        body = ", ".join(repr(c) for c in self.children)
        if self.kind is list:
            return f"[{body}]"
        if self.kind is tuple:
            return f"({body}{',' if len(self.children) == 1 else ''})"
        return f"{self.kind.__name__}({body})"


def _sorted_keys(d: dict) -> list:
    try:
        return sorted(d)
    except TypeError:  # keys of mixed types: insertion order
        return list(d)


def flatten(tree, top: bool = False) -> tuple[list, TreeDef]:
    """``(leaves, treedef)`` of a structure; anything that is not a structure is one leaf.
    ``top=True`` reads a top-level tuple / list as a container even if it holds scalars
    only (a tuple of positional arguments).

    >>> leaves, d = flatten({"b": [np.ones(2), 1.0], "a": 2.0})
    >>> len(leaves), d
    (3, {'a': *, 'b': [*, *]})
    """
    leaves: list = []

    def walk(t, container: bool) -> TreeDef:
        if isinstance(t, dict):
            keys = _sorted_keys(t)
            return TreeDef(dict, keys, [walk(t[k], is_structure(t[k]) or t[k] is None)
                                        for k in keys])
        if container and t is None:  # None inside a structure: an empty subtree
            return TreeDef(type(None))
        if container and isinstance(t, (list, tuple)):
            kind = type(t) if _is_namedtuple(t) else (tuple if isinstance(t, tuple) else list)
            return TreeDef(kind, (), [walk(e, is_structure(e) or e is None) for e in t])
        leaves.append(t)
        return TreeDef()

    return leaves, walk(tree, top or is_structure(tree))


def unflatten(treedef: TreeDef, leaves) -> object:
    """The structure ``treedef`` with ``leaves`` in flat order.

    >>> unflatten(flatten({"a": 1.0, "b": (2.0, np.ones(1))})[1], [1, 2, 3])
    {'a': 1, 'b': (2, 3)}
    """
    it = iter(leaves)

    def build(d: TreeDef):
        if d.kind is None:
            return next(it)
        if d.kind is type(None):
            return None
        children = [build(c) for c in d.children]
        if d.kind is dict:
            return dict(zip(d.keys, children))
        if d.kind is list:
            return children
        if d.kind is tuple:
            return tuple(children)
        return d.kind(*children)  # namedtuple

    return build(treedef)


def tree_map(fn, treedef: TreeDef, leaves) -> object:
    """``unflatten(treedef, [fn(leaf) for leaf in leaves])``."""
    return unflatten(treedef, [fn(leaf) for leaf in leaves])


# -- a structure laid out in one flat vector ---------------------------------------------

class Layout:
    """Where each leaf of a structure sits in one flat vector (leaves end to end, each in
    C order), with the leaves' shapes and dtypes.

    >>> lay = Layout(flatten({"a": np.ones(2), "b": 1.0})[1], [(2,), ()], [np.float64] * 2)
    >>> lay.n, lay.split(np.arange(3.0), 0)["a"].tolist()
    (3, [0.0, 1.0])
    """

    def __init__(self, treedef: TreeDef, shapes, dtypes):
        self.treedef = treedef
        self.shapes = [tuple(s) for s in shapes]
        self.dtypes = [np.dtype(d) for d in dtypes]
        self.sizes = [math.prod(s) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes, dtype=np.int64)]).tolist()
        self.n = int(self.offsets[-1])
        self.dtype = np.result_type(*self.dtypes) if self.dtypes else np.dtype(float)
        self.mixed = any(d != self.dtype for d in self.dtypes)

    def same(self, treedef: TreeDef, shapes) -> bool:
        return treedef == self.treedef and [tuple(s) for s in shapes] == self.shapes

    def describe(self) -> str:
        return f"structure {self.treedef!r} with leaf shapes {self.shapes}"

    def unravel(self, flat):
        """The structure with its leaves read from flat (n,) (an array or a carrier):
        views of flat where the dtypes agree."""
        leaves = []
        for a, b, shape, dtype in zip(self.offsets, self.offsets[1:], self.shapes,
                                      self.dtypes):
            leaf = flat[a:b].reshape(shape)
            if dtype != self.dtype:
                leaf = leaf.astype(dtype)
            leaves.append(leaf)
        return unflatten(self.treedef, leaves)

    def split_leaves(self, arr, axis: int, dtype_of=None) -> list:
        """The blocks cut from ``arr`` along ``axis`` (of length n), each block's axis
        reshaped to its leaf's shape.  ``dtype_of(leaf dtype, block)`` casts a block back
        (mixed dtypes were promoted in the flat vector)."""
        if not isinstance(arr, Carrier):  # (a carrier in a nested derivative)
            arr = np.asarray(arr)
        axis = axis % arr.ndim
        head, tail = arr.shape[:axis], arr.shape[axis + 1:]
        leaves = []
        for a, b, shape, dtype in zip(self.offsets, self.offsets[1:], self.shapes,
                                      self.dtypes):
            block = arr[(slice(None),) * axis + (slice(a, b),)].reshape(head + shape + tail)
            leaves.append(block if dtype_of is None else dtype_of(dtype, block))
        return leaves

    def split(self, arr, axis: int, dtype_of=None):
        """The structure of the blocks of :meth:`split_leaves`."""
        return unflatten(self.treedef, self.split_leaves(arr, axis, dtype_of))

    def join(self, tree, what: str, dtype, top: bool = False):
        """A structure shaped like this layout (each leaf its shape, or ``(k,) + shape``
        for k at once) as one array (n,) or (k, n)."""
        leaves, treedef = flatten(tree, top)
        if treedef != self.treedef:
            raise ValueError(f"{what} has structure {treedef!r}; expected {self.treedef!r} "
                             f"(the structure of {'x' if what != 'cotangent' else 'f(x)'})")
        ks, blocks = set(), []
        for leaf, shape in zip(leaves, self.shapes):
            arr = leaf if isinstance(leaf, Carrier) else np.asarray(leaf, dtype=dtype)
            s = np.shape(arr)
            if s == shape:
                ks.add(None)
            elif len(s) == len(shape) + 1 and s[1:] == shape:
                ks.add(s[0])
            else:
                raise ValueError(f"{what}: a leaf of shape {s} does not fit {shape} (or "
                                 f"(k,) + {shape} for k at once)")
            blocks.append(arr)
        if len(ks) > 1:
            raise ValueError(f"{what}: give every leaf its shape, or every leaf (k,) + its "
                             f"shape with the same k")
        k = ks.pop() if ks else None
        if not blocks:
            return np.zeros((0,) if k is None else (k, 0), dtype)
        return np.concatenate([np.reshape(b, (-1,) if k is None else (k, -1))
                               for b in blocks], axis=-1)


def _cast_out(dtype, block):
    """A block of a flat output (value or derivative) back to its leaf's dtype: a real
    leaf of a complex flat output is real (its imaginary part is exactly zero), a float32
    leaf of a float64 flat output float32 (its values are float32 numbers)."""
    if dtype.kind not in "fc":
        return block
    if block.dtype.kind == "c" and dtype.kind != "c":
        block = block.real
    return block.astype(dtype, copy=False)


def _cast_in(dtype, block):
    """A block of a derivative along a flat input, in its input leaf's precision (inputs
    are real; a complex output's derivative stays complex)."""
    if dtype.kind not in "fc":
        return block
    if block.dtype.kind == "c":
        return block.astype(np.result_type(dtype, np.complex64), copy=False)
    return block.astype(dtype, copy=False)


# -- arguments ----------------------------------------------------------------------------

def check_args(args) -> tuple:
    """f's extra positional arguments as a tuple (SciPy's ``args=``).

    >>> check_args([1, 2]), check_args(())
    ((1, 2), ())
    """
    if isinstance(args, (tuple, list)):
        return tuple(args)
    raise TypeError(f"args must be a tuple of f's extra positional arguments, got "
                    f"{type(args).__name__}: write args=({args!r},)")


def check_kwargs(kwargs) -> dict:
    """f's extra keyword arguments as a dict.

    >>> check_kwargs(None), check_kwargs({"a": 1})
    ({}, {'a': 1})
    """
    if kwargs is None:
        return {}
    if isinstance(kwargs, dict):
        return dict(kwargs)
    raise TypeError(f"kwargs must be a dict of f's keyword arguments, got "
                    f"{type(kwargs).__name__}")


def _argnums(argnums, x):
    if argnums is None:
        return None
    if not isinstance(x, (tuple, list)):
        raise TypeError(
            f"argnums={argnums!r} selects positional arguments of f: pass x as the tuple of "
            f"f's positional arguments, e.g. dd.jacobian(f, (a, b), argnums=1) for "
            f"d f(a, b) / d b; got x of type {type(x).__name__}")
    many = isinstance(argnums, (tuple, list))
    nums = tuple(argnums) if many else (argnums,)
    out = []
    for i in nums:
        try:
            i = operator.index(i)
        except TypeError:
            raise TypeError(f"argnums must be an int or a tuple of ints, got "
                            f"{argnums!r}") from None
        if not -len(x) <= i < len(x):
            raise ValueError(f"argnums={argnums!r}: f gets {len(x)} positional arguments "
                             f"from x, so {i} is out of range")
        out.append(i % len(x))
    if len(set(out)) != len(out):
        raise ValueError(f"argnums={argnums!r} names an argument twice")
    return tuple(out) if many else out[0]


def _strip_ours(tree, start: int):
    """tree with the derivative parts of carriers newer than tag ``start`` taken off."""
    if isinstance(tree, Carrier):
        while isinstance(tree, Carrier) and tree.tag > start:
            if tree._view is not None:
                refresh(tree)
            tree = tree.value
        return tree
    if isinstance(tree, dict):
        return type(tree)((k, _strip_ours(v, start)) for k, v in tree.items())
    if _is_namedtuple(tree):
        return type(tree)(*[_strip_ours(v, start) for v in tree])
    if isinstance(tree, (list, tuple)):
        return type(tree)(_strip_ours(v, start) for v in tree)
    return tree


# -- the problem in flat form -------------------------------------------------------------

#: NumPy's message when an array element is assigned something it reads as a sequence
_SEQUENCE = "setting an array element with a sequence"


class ArrayWriteError(ValueError):
    """NumPy's "setting an array element with a sequence" raised inside f, with the fix
    (NumPy checks for a sequence before a dualdiff value can answer)."""


class ObjectArrayError(TypeError):
    """NumPy's "not supported for the input types" raised inside f (a ufunc without an
    object loop, e.g. scipy.special's, met an np.array([...]) of dualdiff values), with
    the fix."""


_NO_LOOP = "not supported for the input types"


def call_f(f, *args, **kwargs):
    """``f(*args, **kwargs)`` on dualdiff values, NumPy's errors for what f did with them
    told with the fix (every driver and plan calls the user's f through this)."""
    try:
        return f(*args, **kwargs)
    except ValueError as e:
        if type(e) is ValueError and _SEQUENCE in str(e):
            raise ArrayWriteError(
                f"{e} Inside f, a dualdiff value was probably written into a plain "
                f"NumPy array (out = np.zeros(n); out[i] = ...), which cannot hold its "
                f"derivative: create the array with np.zeros_like(x) or np.zeros(n, "
                f"like=x).") from e
        raise
    except TypeError as e:
        if type(e) is TypeError and _NO_LOOP in str(e):
            raise ObjectArrayError(
                f"{e}. Inside f, np.array(...) of dualdiff values probably made an object "
                f"array, which this ufunc has no object loop for: build the array with "
                f"x.copy(), np.stack([...]) or np.concatenate([...]) instead.") from e
        raise


class Problem:
    """``f(x, *args, **kwargs)`` as a function ``fn`` of one array ``x`` (see the module
    docstring), and the maps from flat results back to the user's structures.

    ``x`` is a fresh float array (never the caller's): x itself when x is one array, else
    the leaves laid end to end.  ``fn(z)`` calls f on z's leaves and returns its output as
    one array (leaves raveled and concatenated when it is a structure, learned on the first
    call: ``out``).  One Problem serves one driver call or one plan; with ``has_aux`` the
    last call's aux is kept in ``aux``.

    >>> p = Problem(lambda a, b: a * b, (2.0, np.ones(2)), argnums=0)
    >>> p.x.tolist(), p.fn(p.x).tolist()
    (2.0, [2.0, 2.0])
    """

    def __init__(self, f, x, args=(), kwargs=None, argnums=None, has_aux: bool = False):
        if not callable(f):
            raise TypeError(f"f must be a function, got {type(f).__name__}")
        self.f = f
        self.args, self.kwargs = check_args(args), check_kwargs(kwargs)
        self.has_aux = bool(has_aux)
        self.argnums = _argnums(argnums, x)
        self.positional = None if self.argnums is None else list(x)
        if self.argnums is None:
            diff = x
        elif isinstance(self.argnums, tuple):
            diff = tuple(x[i] for i in self.argnums)
        else:
            diff = x[self.argnums]
        top = isinstance(self.argnums, tuple)
        if top or is_structure(diff):
            leaves, treedef = flatten(diff, top)
            arrays = [_leaf_input(leaf) for leaf in leaves]
            self.inp = Layout(treedef, [a.shape for a in arrays], [a.dtype for a in arrays])
            self.x = self._ravel_arrays(arrays)
        else:
            self.inp = None
            self.x = as_input(diff)
        self.out: Layout | None = None
        self.aux = None
        self._start = new_tag() if self.has_aux else 0  # tags newer than this are ours
        self.fn = self.call

    # -- calling f ----------------------------------------------------------------------
    def call(self, z, args: tuple | None = None):
        """f at z (an array or carrier shaped like ``x``), its output as one array."""
        tree = z if self.inp is None else self.inp.unravel(z)
        args = self.args if args is None else args
        if self.positional is None:
            pos = [tree]
        else:
            pos = list(self.positional)
            if isinstance(self.argnums, tuple):
                for i, t in zip(self.argnums, tree):
                    pos[i] = t
            else:
                pos[self.argnums] = tree
        y = call_f(self.f, *pos, *args, **self.kwargs)
        if self.has_aux:
            if not (isinstance(y, (tuple, list)) and len(y) == 2):
                raise TypeError(f"has_aux=True: f must return a pair (output, aux); it "
                                f"returned {type(y).__name__}"
                                + (f" of length {len(y)}" if isinstance(y, (tuple, list))
                                   else ""))
            y, aux = y
            self.aux = _strip_ours(aux, self._start)
        return self._flat_output(y)

    def _flat_output(self, y):
        if not is_structure(y):
            if self.out is not None:
                raise ValueError(f"f returned one array here but a {self.out.describe()} "
                                 f"on an earlier pass; return the same structure every time")
            return y
        leaves, treedef = flatten(y)
        items = [lift(leaf) for leaf in leaves]
        items = [i if isinstance(i, Carrier) else output_constant(i) for i in items]
        shapes = [np.shape(i) for i in items]
        if self.out is None:
            self.out = Layout(treedef, shapes, [i.dtype for i in items])
        elif not self.out.same(treedef, shapes):
            raise ValueError(f"f returned a structure {treedef!r} with leaf shapes {shapes} "
                             f"here but a {self.out.describe()} on an earlier pass; return "
                             f"the same structure every time")
        if not items:
            return np.zeros((0,))
        return np.concatenate([np.reshape(i, (-1,)) for i in items])

    def _ravel_arrays(self, arrays):
        if any(isinstance(a, Carrier) for a in arrays):  # a nested call: keep the parts
            return np.concatenate([np.reshape(a, (-1,)).astype(self.inp.dtype)
                                   for a in arrays])
        flat = np.empty(self.inp.n, self.inp.dtype)
        for a, b, arr in zip(self.inp.offsets, self.inp.offsets[1:], arrays):
            flat[a:b] = np.reshape(arr, -1)
        return flat

    # -- the user's structures in, flat arrays out ---------------------------------------
    def ravel(self, x) -> np.ndarray:
        """A new x of the same structure (a plan's argument) as a flat fresh array."""
        if self.argnums is not None:
            raise TypeError("a plan takes x itself, not a tuple of f's arguments")
        if self.inp is None:
            if is_structure(x):
                raise ValueError("x is a structure here but was one array when this was "
                                 "prepared")
            return as_input(x)
        leaves, treedef = flatten(x)
        arrays = [_leaf_input(leaf) for leaf in leaves]
        if not self.inp.same(treedef, [a.shape for a in arrays]):
            raise ValueError(f"x has structure {treedef!r} with leaf shapes "
                             f"{[a.shape for a in arrays]}; this was prepared for a "
                             f"{self.inp.describe()}")
        return self._ravel_arrays(arrays)

    def tangent(self, v) -> np.ndarray:
        """A direction v shaped like x (a structure like x) as one array like ``x``."""
        if self.inp is None:
            if is_structure(v):
                raise ValueError("v is a structure but x is one array; give v x's shape")
            return np.array(np.broadcast_to(np.asarray(v, dtype=self.x.dtype), self.x.shape))
        flat = self.inp.join(v, "v", self.x.dtype, top=isinstance(self.argnums, tuple))
        if flat.shape != (self.inp.n,):
            raise ValueError(f"v must have x's structure and shapes ({self.inp.describe()})")
        return flat

    def cotangent(self, u):
        """A cotangent shaped like f(x) (or ``(k,) +`` its leaves) as one array."""
        if self.out is None:
            return u
        return self.out.join(u, "cotangent", np.result_type(self.out.dtype, self.x.dtype))

    # -- flat results out, the user's structures back ------------------------------------
    def output(self, y):
        """f's flat output (value or one tangent) in f's structure."""
        if self.out is None:
            return y
        return self.out.split(y, 0, _cast_out)

    def input(self, g, lead: int = 0):
        """An array shaped ``lead axes + x.shape`` in x's structure (gradients, pullbacks)."""
        if self.inp is None:
            return g
        return self.inp.split(g, lead, _cast_in)

    def jacobian(self, jac):
        """J of shape ``flat output + flat input`` as f's structure of x's structures."""
        if self.out is None:
            return jac if self.inp is None else self.inp.split(jac, -1, _cast_in)
        blocks = self.out.split_leaves(jac, 0, _cast_out)
        if self.inp is not None:
            blocks = [self.inp.split(b, -1, _cast_in) for b in blocks]
        return unflatten(self.out.treedef, blocks)

    def hessian(self, hess):
        """H (n, n) as x's structure of x's structures."""
        if self.inp is None:
            return hess
        return unflatten(self.inp.treedef, [self.inp.split(b, -1, _cast_in) for b in
                                            self.inp.split_leaves(hess, 0, _cast_in)])

    def with_aux(self, result):
        """``(result, aux)`` when f has aux, else result."""
        return (result, self.aux) if self.has_aux else result


def _leaf_input(leaf):
    if isinstance(leaf, Carrier):
        return leaf
    return as_input(leaf)


__all__ = ["Problem", "ArrayWriteError", "Layout", "TreeDef", "flatten", "unflatten",
           "is_structure", "check_args", "check_kwargs"]
