"""NumPy's creation, shape and indexing functions on carriers: reshapes, transposes,
concatenation and movements of elements (each a linear map or a gather).  Where
NumPy returns a view (reshape, transpose, ravel of a contiguous array, ...) the
result is a view here too, in value and in every derivative part."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from .arrays import expand
from .core import (
    HANDLED,
    Carrier,
    constant_like,
    discrete,
    find_owner,
    gather,
    implements,
    linear,
    primal,
    strip,
)


def axes_of(axis, ndim) -> tuple:
    """``axis`` (None, int or tuple) as a tuple of non-negative axes.

    >>> axes_of(None, 2), axes_of(-1, 3)
    ((0, 1), (2,))
    """
    return tuple(range(ndim)) if axis is None else normalize_axis_tuple(axis, ndim)


def shifted(axes) -> tuple:
    """Axes of a value as axes of a part (one leading direction axis).

    >>> shifted((0, 2))
    (1, 3)
    """
    return tuple(a + 1 for a in axes)


def given(v) -> bool:
    """Whether a keyword of NumPy's reductions was passed (not None or its ``_NoValue``).

    >>> given(np._NoValue), given(None), given(0)
    (False, False, True)
    """
    return v is not np._NoValue and v is not None


def reject(name, **kwargs):
    """Refuse keyword arguments dualdiff does not support, naming them.

    >>> reject("sum", where=None)
    """
    bad = [k for k, v in kwargs.items() if given(v)]
    if bad:
        raise TypeError(f"np.{name}(..., {', '.join(bad)}=) is not supported by dualdiff")


def condition(c):
    """A condition (mask, index) as a plain array; from a carrier, a discrete result.

    >>> condition([True, False]).tolist()
    [True, False]
    """
    if isinstance(c, Carrier):
        return np.not_equal(c, 0)
    if isinstance(c, (list, tuple)) and find_owner(c) is not None:
        return np.asarray([condition(e) for e in c])
    return np.asarray(c)


# -- creation (NEP 35 like=, *_like) ------------------------------------------

def _like(func):
    """zeros_like & co.: a constant of a's carrier type and tag (plain when a is plain)."""
    def impl(a, *args, **kwargs):
        if find_owner(list(args) + list(kwargs.values())) is not None:  # full_like(a, dual)
            args, fill = list(args), kwargs.pop("fill_value", None)
            fill = args.pop(0) if fill is None else fill
            return np.zeros_like(a, *args, **kwargs) + fill
        value = func(primal(a), *strip(args), **strip(kwargs))
        return constant_like(value, a) if isinstance(a, Carrier) else value

    return impl


for _f in (np.zeros_like, np.ones_like, np.empty_like, np.full_like):
    HANDLED[_f] = _like(_f)


@implements(np.copy)
def _copy(a, order="K", subok=False):
    return linear(lambda p: np.copy(p, order=order), a, op=lambda v: np.copy(v, order=order))


@implements(np.linspace)
def _linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
              device=None):
    # start + (stop - start) t with t = linspace(0, 1): affine in the end points
    div = (num - 1) if endpoint else num
    t = np.arange(num) / div if div > 0 else np.zeros(num)
    if endpoint and num > 1:
        t[-1] = 1.0
    nd = max(np.ndim(start), np.ndim(stop))
    t = np.reshape(t, (num,) + (1,) * nd)
    out = np.moveaxis(start + (stop - start) * t, 0, axis) if nd else start + (stop - start) * t
    if retstep:
        return out, (stop - start) / div if div > 0 else np.nan * (stop - start)
    return out


@implements(np.logspace)
def _logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    return np.power(base, _linspace(start, stop, num, endpoint, axis=axis))


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


# -- shape ---------------------------------------------------------------------------

def _reshaped(x, shape, order="C"):
    return linear(lambda p: np.reshape(p, p.shape[:1] + shape, order=order), x,
                  op=lambda v: np.reshape(v, shape, order=order))


@implements(np.reshape)
def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    shape = newshape if shape is None else shape
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        shape = tuple(np.size(a) // max(known, 1) if s == -1 else s for s in shape)
    if order == "A":
        order = "F" if primal(a).flags.f_contiguous and not primal(a).flags.c_contiguous else "C"
    if order == "F":  # the parts' leading axis goes last, where F order keeps it apart
        return linear(lambda p: np.moveaxis(np.reshape(np.moveaxis(p, 0, -1), shape + p.shape[:1],
                                                       order="F"), -1, 0),
                      a, op=lambda v: np.reshape(v, shape, order="F"))
    if copy:
        a = np.copy(a)
    return _reshaped(a, shape)


@implements(np.ravel)
def _ravel(a, order="C"):
    if order == "C":  # NumPy copies unless a is C-contiguous (a[::-1].ravel() is a copy,
        # where np.reshape(a, -1) of a 1-d array is a view): the value decides, as NumPy
        return linear(lambda p: np.reshape(p, p.shape[:1] + (-1,)), a, op=np.ravel)
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
    return linear(lambda p: np.transpose(p, (0,) + shifted(axes)), a,
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


# -- joining and splitting ---------------------------------------------------------

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


@implements(np.vstack, np.row_stack) if hasattr(np, "row_stack") else implements(np.vstack)
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


# -- movements of elements -------------------------------------------------------------

def _view_of(f, batched):
    """A NumPy function that returns a view (flip, rot90, diagonal): one linear map."""
    return lambda a, *args, **kw: linear(lambda p: batched(p, *args, **kw), a,
                                         op=lambda v: f(v, *args, **kw))


def _flip_batched(p, axis=None):
    return np.flip(p, tuple(range(1, p.ndim)) if axis is None else
                   shifted(normalize_axis_tuple(axis, p.ndim - 1)))


HANDLED[np.flip] = _view_of(np.flip, _flip_batched)
HANDLED[np.fliplr] = lambda m: np.flip(m, 1)
HANDLED[np.flipud] = lambda m: np.flip(m, 0)
HANDLED[np.diagonal] = _view_of(
    np.diagonal, lambda p, offset=0, axis1=0, axis2=1: np.diagonal(
        p, offset, *shifted(normalize_axis_tuple((axis1, axis2), p.ndim - 1))))


@implements(np.rot90)
def _rot90(m, k=1, axes=(0, 1)):
    # NumPy's own composition of flips and a transpose: a view, as in NumPy
    k %= 4
    a0, a1 = normalize_axis_tuple(axes, np.ndim(m))
    if k == 0:
        return m[...]
    if k == 2:
        return np.flip(np.flip(m, a0), a1)
    order = list(range(np.ndim(m)))
    order[a0], order[a1] = order[a1], order[a0]
    return np.transpose(np.flip(m, a1), order) if k == 1 else np.flip(np.transpose(m, order), a1)


@implements(np.diag)
def _diag(v, k=0):
    if np.ndim(v) == 2:  # NumPy returns the (read-only) diagonal view
        return np.diagonal(v, k)
    return gather(lambda a: np.diag(a, k), v)


# Structural functions whose first argument is the array and the rest are
# parameters (copies in NumPy): each is one gather.
for _f in (np.roll, np.tile, np.repeat, np.diagflat, np.triu,
           np.tril, np.resize, np.delete, np.take, np.take_along_axis):
    HANDLED[_f] = (lambda f: lambda a, *args, **kw: gather(
        lambda v: f(v, *strip(args), **strip(kw)), a))(_f)
for _f in (np.fft.fftshift, np.fft.ifftshift):
    HANDLED[_f] = (lambda f: lambda x, axes=None: gather(lambda v: f(v, axes), x))(_f)
for _f in (np.compress, np.extract):
    HANDLED[_f] = (lambda f: lambda c, a, *args, **kw:
                   gather(lambda v: f(condition(c), v, *args, **kw), a))(_f)


@implements(np.insert)
def _insert(arr, obj, values, axis=None):
    obj = condition(obj) if isinstance(obj, Carrier) else obj
    return gather(lambda a, v: np.insert(a, obj, v, axis=axis), arr, values)


@implements(np.pad)
def _pad(array, pad_width, mode="constant", **kwargs):
    if mode in _PAD_STATS:
        return _pad_with_statistic(array, pad_width, _PAD_STATS[mode], **kwargs)
    if mode not in ("constant", "edge", "wrap", "symmetric", "reflect"):
        raise TypeError(f"np.pad(..., mode={mode!r}) is not supported by dualdiff; build the "
                        f"padding with np.concatenate")
    c = kwargs.pop("constant_values", 0)
    if mode != "constant" or kwargs:  # these modes move elements
        return gather(lambda v: np.pad(v, pad_width, mode=mode, **kwargs), array)
    moved = gather(lambda v: np.pad(v, pad_width), array)
    if find_owner([c]) is None and np.all(np.asarray(c) == 0):
        return moved
    if find_owner([c]) is not None:  # a carrier fill value: moved + mask * c
        if np.ndim(c) != 0:
            raise TypeError("np.pad: a differentiated constant_values must be one scalar")
        return moved + np.pad(np.zeros(np.shape(array)), pad_width, constant_values=1.0) * c
    return moved + np.pad(np.zeros(np.shape(array)), pad_width, constant_values=c)


_PAD_STATS = {"maximum": np.max, "minimum": np.min, "mean": np.mean, "median": np.median}


def _pad_with_statistic(array, pad_width, stat, stat_length=None):
    """NumPy's statistic modes: axis by axis, each side filled with the statistic of the
    array along that axis (corners from the axes padded before), so derivatives flow
    through the statistic (a selection for maximum / minimum / median)."""
    if stat_length is not None:
        raise TypeError("np.pad(..., stat_length=) is not supported by dualdiff")
    nd = np.ndim(array)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (nd, 2))
    out = array
    for ax, (before, after) in enumerate(widths):
        if not (before or after):
            continue
        value = stat(out, axis=ax, keepdims=True)
        reps = [np.repeat(value, k, axis=ax) for k in (before, after)]
        out = np.concatenate([reps[0], out, reps[1]], axis=ax)
    return out


@implements(np.copyto)
def _copyto(dst, src, casting="same_kind", where=True):
    if not isinstance(dst, Carrier):
        raise TypeError("np.copyto: cannot copy a derivative into a plain array; "
                        "make dst with np.zeros_like(x)")
    dst[...] = np.where(where, src, dst) if where is not True else src


@implements(np.fill_diagonal)
def _fill_diagonal(a, val, wrap=False):
    if np.ndim(a) == 2:  # NumPy's own steps through a.flat (a tall matrix wraps on request)
        cols = np.shape(a)[1]
        a.flat[:None if wrap else cols * cols:cols + 1] = val
        return
    n = min(np.shape(a))
    a[(np.arange(n),) * np.ndim(a)] = val


def _target(a, name):
    if not isinstance(a, Carrier):
        raise TypeError(f"np.{name}: cannot write a derivative into a plain array; make it "
                        f"with np.zeros_like(x)")
    return a


@implements(np.put)
def _put(a, ind, v, mode="raise"):
    if mode != "raise":
        raise TypeError(f"np.put(..., mode={mode!r}) is not supported by dualdiff")
    ind = np.ravel(ind)
    ind = np.where(ind < 0, ind + math.prod(np.shape(a)), ind)  # NumPy wraps negatives once
    v = np.ravel(v) if np.ndim(v) else v
    if np.ndim(v) and np.shape(v)[0] != ind.size:  # NumPy repeats the values
        v = np.resize(v, ind.size) if ind.size else v[:0]
    _target(a, "put")[np.unravel_index(ind, np.shape(a))] = v


@implements(np.lib.stride_tricks.sliding_window_view)
def _sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    # a movement of elements (each may appear in several windows): read-only, as NumPy's
    if writeable:
        raise TypeError("sliding_window_view(..., writeable=True) is not supported by "
                        "dualdiff (its windows share elements); take copies instead")
    swv = np.lib.stride_tricks.sliding_window_view
    nd = np.ndim(x)
    axes = tuple(range(nd)) if axis is None else normalize_axis_tuple(
        axis, nd, allow_duplicate=True)
    return linear(lambda p: swv(p, window_shape, axis=tuple(a + 1 for a in axes)), x,
                  op=lambda v: swv(v, window_shape, axis=axes))


@implements(np.place)
def _place(arr, mask, vals):
    # the selected elements take ``vals`` in turn (C order), repeated as needed
    mask = np.broadcast_to(condition(mask), np.shape(arr))
    count = int(np.count_nonzero(mask))
    if count:
        _target(arr, "place")[mask] = np.resize(np.ravel(vals), count)


@implements(np.putmask)
def _putmask(a, mask, values):
    # element n (flat, C order) takes values[n % len(values)] where mask is True
    mask = np.broadcast_to(condition(mask), np.shape(a))
    if np.count_nonzero(mask):
        flat = np.resize(np.ravel(values), math.prod(np.shape(a)))
        _target(a, "putmask")[mask] = flat[np.ravel(mask)]


@implements(np.put_along_axis)
def _put_along_axis(arr, indices, values, axis):
    nd = np.ndim(arr)
    if axis is None:
        return _put(arr, indices, values)
    ax = normalize_axis_index(axis, nd)
    idx = tuple(np.asarray(indices) if i == ax else
                np.arange(np.shape(arr)[i]).reshape([-1 if j == i else 1 for j in range(nd)])
                for i in range(nd))
    _target(arr, "put_along_axis")[idx] = values


@implements(np.sort)
def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    if axis is None:
        a, axis = np.ravel(a), 0
    idx = discrete(np.argsort, (a,), {"axis": axis, "kind": "stable"}, select=True)
    return np.take_along_axis(a, idx, axis=axis)


@implements(np.partition)
def _partition(a, kth, axis=-1, kind="introselect", order=None):
    if axis is None:
        a, axis = np.ravel(a), -1
    idx = discrete(np.argpartition, (a, kth), {"axis": axis}, select=True)
    return np.take_along_axis(a, idx, axis=axis)
