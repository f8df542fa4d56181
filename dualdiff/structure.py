"""NumPy's creation and structure functions on carriers: reshapes, transposes,
concatenation, indexing-like movements (each a linear map or a gather), where/select."""

from __future__ import annotations

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from .carrier import Carrier, find_owner, primal
from .dispatch import HANDLED, gather, implements, linear, strip
from .dual import expand


def _axes(axis, ndim) -> tuple:
    return tuple(range(ndim)) if axis is None else normalize_axis_tuple(axis, ndim)


def _shift(axes) -> tuple:
    return tuple(a + 1 for a in axes)


def _reject(name, **given):
    bad = [k for k, v in given.items() if v is not None and v is not np._NoValue]
    if bad:
        raise TypeError(f"np.{name}(..., {', '.join(bad)}=) is not supported by dualdiff")


# -- creation (NEP 35 like=, *_like) ------------------------------------------

def constant_like(value, like):
    """A carrier of like's type and tag holding a constant (zero derivative parts).

    >>> from dualdiff import Dual
    >>> c = constant_like([1.0, 2.0], Dual(0.0, [1.0, 1.0, 1.0]))
    >>> c.tangent.shape
    (3, 2)
    """
    value = np.array(value, dtype=float)
    parts = [value] + [np.zeros(np.shape(p)[:lead] + value.shape)
                       for p, lead in zip(like.parts[1:], like._lead[1:])]
    return like._from_parts(tuple(parts), like.tag)


def create(func, args, kwargs, like):
    """np.zeros(n, like=x) and friends: a constant carrier shaped as asked.

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


def _like(func):
    """zeros_like & co.: a constant of a's carrier type and tag (plain when a is plain)."""
    def impl(a, *args, **kwargs):
        if find_owner(list(args) + list(kwargs.values())) is not None:  # full_like(a, dual)
            args, fill = list(args), kwargs.pop("fill_value", None)
            fill = args.pop(0) if fill is None else fill
            return np.zeros_like(a, *args, **kwargs) + fill
        value = func(primal(a), *[primal(x) for x in args], **strip(kwargs))
        return constant_like(value, a) if isinstance(a, Carrier) else value

    return impl


for _f in (np.zeros_like, np.ones_like, np.empty_like, np.full_like):
    HANDLED[_f] = _like(_f)


@implements(np.copy)
def _copy(a, order="K", subok=False):
    return a._map_parts(np.copy) if isinstance(a, Carrier) else np.copy(a)


# -- shape and structure --------------------------------------------------------

def _reshaped(x, shape):
    return linear(lambda p: p.reshape(p.shape[:1] + shape), x,
                  op=lambda v: np.reshape(v, shape))


@implements(np.reshape)
def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    shape = newshape if shape is None else shape
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if order != "C":
        return gather(lambda v: np.reshape(v, shape, order=order), a)
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        shape = tuple(np.size(a) // max(known, 1) if s == -1 else s for s in shape)
    return _reshaped(a, shape)


@implements(np.ravel)
def _ravel(a, order="C"):
    return _reshape(a, (-1,), order=order)


@implements(np.squeeze)
def _squeeze(a, axis=None):
    shape = np.shape(a)
    axes = tuple(i for i, s in enumerate(shape) if s == 1) if axis is None \
        else normalize_axis_tuple(axis, len(shape))
    return _reshaped(a, tuple(s for i, s in enumerate(shape) if i not in axes))


@implements(np.expand_dims)
def _expand_dims(a, axis):
    nd = np.ndim(a) + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    axes = normalize_axis_tuple(axis, nd)
    it = iter(np.shape(a))
    return _reshaped(a, tuple(1 if i in axes else next(it) for i in range(nd)))


@implements(np.transpose, np.permute_dims)
def _transpose(a, axes=None):
    nd = np.ndim(a)
    axes = tuple(range(nd))[::-1] if axes is None else normalize_axis_tuple(axes, nd)
    return linear(lambda p: np.transpose(p, (0,) + _shift(axes)), a,
                  op=lambda v: np.transpose(v, axes))


@implements(np.moveaxis)
def _moveaxis(a, source, destination):
    nd = np.ndim(a)
    src, dst = normalize_axis_tuple(source, nd), normalize_axis_tuple(destination, nd)
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return _transpose(a, order)


@implements(np.swapaxes)
def _swapaxes(a, axis1, axis2):
    order = list(range(np.ndim(a)))
    i, j = normalize_axis_index(axis1, len(order)), normalize_axis_index(axis2, len(order))
    order[i], order[j] = order[j], order[i]
    return _transpose(a, order)


@implements(np.rollaxis)
def _rollaxis(a, axis, start=0):
    nd = np.ndim(a)
    axis, start = normalize_axis_index(axis, nd), normalize_axis_index(start, nd + 1)
    return _moveaxis(a, axis, start - 1 if axis < start else start)


@implements(np.matrix_transpose, np.linalg.matrix_transpose)
def _matrix_transpose(x):
    return _swapaxes(x, -1, -2)


@implements(np.broadcast_to)
def _broadcast_to(array, shape, subok=False):
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return linear(lambda p: np.broadcast_to(expand(p, len(shape)), p.shape[:1] + shape),
                  array, op=lambda v: np.broadcast_to(v, shape))


@implements(np.broadcast_arrays)
def _broadcast_arrays(*args, subok=False):
    shape = np.broadcast_shapes(*[np.shape(a) for a in args])
    return tuple(_broadcast_to(a, shape) for a in args)


def _atleast_nd(n):
    def one(a):
        s = np.shape(a)
        if len(s) >= n:
            return a
        if n == 3:
            s = {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)]
        else:
            s = (1,) * (n - len(s)) + s
        return np.reshape(a, s)

    def impl(*arys):
        res = [one(a) for a in arys]
        return res[0] if len(res) == 1 else tuple(res)

    return impl


for _n, _f in ((1, np.atleast_1d), (2, np.atleast_2d), (3, np.atleast_3d)):
    HANDLED[_f] = _atleast_nd(_n)


@implements(np.concatenate, np.concat)
def _concatenate(arrays, axis=0, dtype=None, casting=None):
    arrays = list(arrays)
    if axis is None:
        arrays, axis = [np.ravel(a) for a in arrays], 0
    ax = normalize_axis_index(axis, np.ndim(arrays[0]))
    return linear(lambda *ps: np.concatenate(ps, axis=ax + 1), *arrays,
                  op=lambda *vs: np.concatenate(vs, axis=ax))


@implements(np.stack)
def _stack(arrays, axis=0, out=None, dtype=None, casting=None):
    arrays = list(arrays)
    ax = normalize_axis_index(axis, np.ndim(arrays[0]) + 1)
    return _concatenate([np.expand_dims(a, ax) for a in arrays], axis=ax)


@implements(np.hstack)
def _hstack(tup, dtype=None, casting=None):
    arrs = [np.atleast_1d(a) for a in tup]
    return _concatenate(arrs, axis=0 if arrs[0].ndim == 1 else 1)


@implements(np.vstack)
def _vstack(tup, dtype=None, casting=None):
    return _concatenate([np.atleast_2d(a) for a in tup], axis=0)


@implements(np.dstack)
def _dstack(tup):
    return _concatenate([np.atleast_3d(a) for a in tup], axis=2)


@implements(np.column_stack)
def _column_stack(tup):
    return _concatenate([np.reshape(a, (-1, 1)) if np.ndim(a) < 2 else a for a in tup], axis=1)


@implements(np.append)
def _append(arr, values, axis=None):
    return _concatenate([arr, values], axis=axis) if axis is not None else \
        _concatenate([np.ravel(arr), np.ravel(values)])


@implements(np.block)
def _block(arrays):
    depth, probe = 0, arrays
    while isinstance(probe, list):
        depth, probe = depth + 1, probe[0]

    def join(a, level):
        if level == depth:
            return a
        parts = [join(x, level + 1) for x in a]
        nd = max(max(np.ndim(p) for p in parts), depth)
        parts = [np.reshape(p, (1,) * (nd - np.ndim(p)) + np.shape(p)) for p in parts]
        return _concatenate(parts, axis=-(depth - level))

    return join(arrays, 0)


def _split_points(n, indices_or_sections, exact):
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if exact and n % sections:
            raise ValueError("array split does not result in an equal division")
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        return np.cumsum([0] + sizes)
    return [0] + list(indices_or_sections) + [n]


def _splitter(exact, axis_default=0):
    def impl(ary, indices_or_sections, axis=axis_default):
        ax = normalize_axis_index(axis, np.ndim(ary))
        pts = _split_points(np.shape(ary)[ax], indices_or_sections, exact)
        head = (slice(None),) * ax
        return [ary[head + (slice(a, b),)] for a, b in zip(pts[:-1], pts[1:])]

    return impl


HANDLED[np.split] = _splitter(True)
HANDLED[np.array_split] = _splitter(False)
HANDLED[np.vsplit] = lambda ary, ios: _splitter(True)(ary, ios, 0)
HANDLED[np.hsplit] = lambda ary, ios: _splitter(True)(ary, ios, 1 if np.ndim(ary) > 1 else 0)
HANDLED[np.dsplit] = lambda ary, ios: _splitter(True)(ary, ios, 2)


@implements(np.unstack)
def _unstack(x, axis=0):
    ax = normalize_axis_index(axis, np.ndim(x))
    return tuple(x[(slice(None),) * ax + (i,)] for i in range(np.shape(x)[ax]))


# Structural functions whose first argument is the array and the rest are
# parameters: each is one gather.
for _f in (np.flip, np.fliplr, np.flipud, np.roll, np.rot90, np.tile, np.repeat,
           np.diag, np.diagflat, np.diagonal, np.triu, np.tril, np.resize, np.delete,
           np.take, np.take_along_axis):
    HANDLED[_f] = (lambda f: lambda a, *args, **kw: gather(lambda v: f(v, *args, **kw), a))(_f)
for _f in (np.fft.fftshift, np.fft.ifftshift):
    HANDLED[_f] = (lambda f: lambda x, axes=None: gather(lambda v: f(v, axes), x))(_f)
for _f in (np.compress, np.extract):
    HANDLED[_f] = (lambda f: lambda c, a, *args, **kw:
                   gather(lambda v: f(primal(c), v, *args, **kw), a))(_f)


@implements(np.insert)
def _insert(arr, obj, values, axis=None):
    return gather(lambda a, v: np.insert(a, primal(obj), v, axis=axis), arr, values)


@implements(np.pad)
def _pad(array, pad_width, mode="constant", **kwargs):
    c = kwargs.pop("constant_values", 0)
    if mode != "constant" or kwargs:
        return gather(lambda v: np.pad(v, pad_width, mode=mode, **kwargs), array)
    moved = gather(lambda v: np.pad(v, pad_width), array)
    if find_owner([c]) is None and np.all(np.asarray(c) == 0):
        return moved
    if find_owner([c]) is not None:  # a carrier fill value: moved + mask * c
        if np.ndim(c) != 0:
            raise TypeError("np.pad: a differentiated constant_values must be one scalar")
        return moved + np.pad(np.zeros(np.shape(array)), pad_width, constant_values=1.0) * c
    frame = np.pad(np.zeros(np.shape(array)), pad_width, constant_values=c)
    return moved + frame


@implements(np.sort)
def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    if axis is None:
        a, axis = np.ravel(a), 0
    idx = np.argsort(primal(a), axis=axis, kind="stable")
    return np.take_along_axis(a, idx, axis=axis)


@implements(np.partition)
def _partition(a, kth, axis=-1, kind="introselect", order=None):
    if axis is None:
        a, axis = np.ravel(a), -1
    return np.take_along_axis(a, np.argpartition(primal(a), kth, axis=axis), axis=axis)


@implements(np.where)
def _where(condition, x=None, y=None):
    if x is None and y is None:
        return np.nonzero(primal(condition))
    cond = primal(condition)
    nd = len(np.broadcast_shapes(np.shape(cond), np.shape(x), np.shape(y)))
    return linear(lambda a, b: np.where(cond, expand(a, nd), expand(b, nd)), x, y,
                  op=lambda a, b: np.where(cond, a, b))


@implements(np.select)
def _select(condlist, choicelist, default=0):
    out = default
    for c, v in reversed(list(zip(condlist, choicelist))):
        out = np.where(c, v, out)
    return out


@implements(np.choose)
def _choose(a, choices, out=None, mode="raise"):
    idx = np.asarray(primal(a))
    return np.select([idx == i for i in range(len(choices))], list(choices))


@implements(np.piecewise)
def _piecewise(x, condlist, funclist, *args, **kw):
    condlist = [primal(c) for c in (condlist if isinstance(condlist, list) else [condlist])]
    if len(funclist) == len(condlist) + 1:
        condlist.append(~np.any(condlist, axis=0))
    out = np.zeros_like(x)
    for c, f in zip(condlist, funclist):
        val = f(x, *args, **kw) if callable(f) else f
        out = np.where(c, val, out)
    return out


@implements(np.clip)
def _clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue,
          max=np._NoValue, **kwargs):
    lo = a_min if a_min is not np._NoValue else min
    hi = a_max if a_max is not np._NoValue else max
    if lo is not None and lo is not np._NoValue:
        a = np.maximum(a, lo)
    if hi is not None and hi is not np._NoValue:
        a = np.minimum(a, hi)
    return a


@implements(np.copysign)
def _copysign(x1, x2, /, **kwargs):
    # |x1| with the sign bit of x2: abs's kink convention at x1 == 0, no derivative in x2
    return np.abs(x1) * np.where(np.signbit(primal(x2)), -1.0, 1.0)


@implements(np.real, np.real_if_close)
def _real(val, *args, **kwargs):
    return val


@implements(np.imag)
def _imag(val):
    return np.zeros_like(val)


@implements(np.round, np.around)
def _round(a, decimals=0, out=None):
    scale = 10.0**decimals
    return np.rint(a * scale) / scale


@implements(np.fix)
def _fix(x, out=None):
    return np.trunc(x)


@implements(np.nan_to_num)
def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    big = np.finfo(float).max
    v = primal(x)
    x = np.where(np.isnan(v), nan, x)
    x = np.where(np.isposinf(v), big if posinf is None else posinf, x)
    return np.where(np.isneginf(v), -big if neginf is None else neginf, x)


@implements(np.copyto)
def _copyto(dst, src, casting="same_kind", where=True):
    if not isinstance(dst, Carrier):
        raise TypeError("np.copyto: cannot copy a derivative into a plain array; "
                        "make dst with np.zeros_like(x)")
    dst[...] = np.where(where, src, dst) if where is not True else src


@implements(np.fill_diagonal)
def _fill_diagonal(a, val, wrap=False):
    n = min(np.shape(a))
    a[(np.arange(n),) * np.ndim(a)] = val


@implements(np.meshgrid)
def _meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    nd = len(xi)
    out = []
    for i, x in enumerate(xi):
        shape = [1] * nd
        shape[i] = -1
        out.append(np.reshape(x, shape))
    if indexing == "xy" and nd > 1:
        out = [np.swapaxes(o, 0, 1) for o in out]
    if not sparse:
        out = np.broadcast_arrays(*out)
        if copy:
            out = [o.copy() for o in out]
    return tuple(out)
