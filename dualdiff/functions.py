"""NumPy functions on carriers.

Each function is one of: a linear map batched over the leading direction
axis (:func:`linear`), a pure movement of elements (:func:`gather`), a rule of
:mod:`dualdiff.rules` (:func:`primitive`), or a composite of other supported
NumPy calls (then every carrier, and every rule, comes for free).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from . import rules
from .carrier import Carrier, find_owner, primal
from .dispatch import (
    HANDLED,
    PRIMAL_ONLY,
    UNSUPPORTED,
    gather,
    implements,
    linear,
    primitive,
    strip,
)
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


# -- reductions -------------------------------------------------------------------

def _keep(x, axes, keepdims):
    return x if keepdims else np.squeeze(x, axis=axes)


@implements(np.sum)
def _sum(a, axis=None, dtype=None, keepdims=False, initial=np._NoValue, where=np._NoValue):
    _reject("sum", initial=initial, where=where)
    axes = _axes(axis, np.ndim(a))
    shape = np.shape(a)

    def adjoint(u):  # broadcast the cotangent back over the summed axes
        u = u if keepdims else np.expand_dims(u, _shift(axes))
        return np.broadcast_to(u, u.shape[:1] + shape)

    return linear(lambda p: np.sum(p, axis=_shift(axes), keepdims=keepdims), a,
                  op=lambda v: np.sum(v, axis=axes, keepdims=keepdims), adjoint=adjoint)


@implements(np.mean)
def _mean(a, axis=None, dtype=None, keepdims=False, *, where=np._NoValue):
    _reject("mean", where=where)
    axes = _axes(axis, np.ndim(a))
    count = int(np.prod([np.shape(a)[i] for i in axes]))
    return np.sum(a, axis=axes, keepdims=keepdims) / count


@implements(np.average)
def _average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    if weights is None:
        avg = np.mean(a, axis=axis, keepdims=keepdims)
        wsum = np.size(a) / np.size(avg)
    else:
        if np.ndim(weights) == 1 and np.ndim(a) > 1:
            shape = [1] * np.ndim(a)
            shape[normalize_axis_index(axis, np.ndim(a))] = -1
            weights = np.reshape(weights, shape)
        wsum = np.sum(weights * np.ones_like(primal(a)), axis=axis, keepdims=keepdims)
        avg = np.sum(a * weights, axis=axis, keepdims=keepdims) / wsum
    return (avg, wsum) if returned else avg


@implements(np.var)
def _var(a, axis=None, dtype=None, ddof=0, keepdims=False, *, where=np._NoValue,
         mean=np._NoValue, correction=np._NoValue):
    _reject("var", where=where, mean=mean)
    ddof = ddof if correction is np._NoValue else correction
    axes = _axes(axis, np.ndim(a))
    count = int(np.prod([np.shape(a)[i] for i in axes]))
    d = a - np.mean(a, axis=axes, keepdims=True)
    return np.sum(d * d, axis=axes, keepdims=keepdims) / (count - ddof)


def root_at_zero(s, p=2):
    """s ** (1/p), p > 1, for norms and standard deviations: where s == 0 (the norm at 0,
    the std of constant data) the derivative is taken as 0, a subgradient, not 0 * inf = nan.

    >>> from dualdiff import Dual
    >>> root_at_zero(Dual(np.array([0.0, 4.0]), np.ones((1, 2)))).tangent.tolist()
    [[0.0, 0.25]]
    """
    zero = primal(s) == 0
    if not np.any(zero):
        return np.sqrt(s) if p == 2 else s ** (1.0 / p)
    safe = np.where(zero, 1.0, s)
    return np.where(zero, 0.0, np.sqrt(safe) if p == 2 else safe ** (1.0 / p))


@implements(np.std)
def _std(a, axis=None, dtype=None, ddof=0, keepdims=False, **kwargs):
    return root_at_zero(_var(a, axis=axis, ddof=ddof, keepdims=keepdims, **kwargs))


def _to_last(a, axis):
    """a with the reduced axes flattened into one last axis, and those axes."""
    axes = _axes(axis, np.ndim(a))
    rest = [i for i in range(np.ndim(a)) if i not in axes]
    moved = np.transpose(a, rest + list(axes))
    return np.reshape(moved, [np.shape(a)[i] for i in rest] + [-1]), axes


def _restore(r, a, axes, keepdims):
    if not keepdims:
        return r
    return np.reshape(r, [1 if i in axes else s for i, s in enumerate(np.shape(a))])


def _selector(argfn, name):
    def impl(a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=np._NoValue):
        _reject(name, initial=initial, where=where)
        flat, axes = _to_last(a, axis)
        i = argfn(primal(flat), axis=-1)[..., None]
        return _restore(np.take_along_axis(flat, i, axis=-1)[..., 0], a, axes, keepdims)

    return impl


HANDLED[np.max] = HANDLED[np.amax] = _selector(np.argmax, "max")
HANDLED[np.min] = HANDLED[np.amin] = _selector(np.argmin, "min")
HANDLED[np.nanmax] = _selector(np.nanargmax, "nanmax")
HANDLED[np.nanmin] = _selector(np.nanargmin, "nanmin")


@implements(np.ptp)
def _ptp(a, axis=None, out=None, keepdims=False):
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


@implements(np.median)
def _median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    flat, axes = _to_last(a, axis)
    s = np.sort(flat, axis=-1)
    n = np.shape(s)[-1]
    mid = s[..., (n - 1) // 2: n // 2 + 1]
    return _restore(np.mean(mid, axis=-1), a, axes, keepdims)


@implements(np.prod)
def _prod(a, axis=None, dtype=None, keepdims=False, initial=np._NoValue, where=np._NoValue):
    # pairwise tree: log2(n) vectorised products, exact with zeros
    _reject("prod", initial=initial, where=where)
    p, axes = _to_last(a, axis)
    while np.shape(p)[-1] > 1:
        if np.shape(p)[-1] % 2:
            p = np.concatenate([p, np.ones(np.shape(p)[:-1] + (1,))], axis=-1)
        p = p[..., 0::2] * p[..., 1::2]
    if np.shape(p)[-1] == 0:
        p = np.ones(np.shape(p)[:-1] + (1,)) + 0.0 * np.sum(p, axis=-1, keepdims=True)
    return _restore(p[..., 0], a, axes, keepdims)


@implements(np.cumsum, np.cumulative_sum)
def _cumsum(a, axis=None, dtype=None, out=None, *, include_initial=False):
    if axis is None:
        a, axis = np.ravel(a), 0
    ax = normalize_axis_index(axis, np.ndim(a))
    def adjoint(u):  # reversed cumulative sum
        return np.flip(np.cumsum(np.flip(u, ax + 1), axis=ax + 1), ax + 1)

    c = linear(lambda p: np.cumsum(p, axis=ax + 1), a,
               op=lambda v: np.cumsum(v, axis=ax), adjoint=adjoint)
    if include_initial:
        shape = list(np.shape(a))
        shape[ax] = 1
        c = np.concatenate([np.zeros(shape), c], axis=ax)
    return c


@implements(np.cumprod, np.cumulative_prod)
def _cumprod(a, axis=None, dtype=None, out=None, *, include_initial=False):
    # Hillis-Steele scan: log2(n) vectorised products, exact with zeros
    if axis is None:
        a, axis = np.ravel(a), 0
    ax = normalize_axis_index(axis, np.ndim(a))
    c = np.moveaxis(a, ax, -1)
    n, s = np.shape(c)[-1], 1
    while s < n:
        c = np.concatenate([c[..., :s], c[..., s:] * c[..., :-s]], axis=-1)
        s *= 2
    if include_initial:
        c = np.concatenate([np.ones(np.shape(c)[:-1] + (1,)), c], axis=-1)
    return np.moveaxis(c, -1, ax)


def _nan_filled(fill, func):
    def impl(a, *args, **kwargs):
        return func(np.where(np.isnan(primal(a)), fill, a), *args, **kwargs)

    return impl


HANDLED[np.nansum] = _nan_filled(0.0, np.sum)
HANDLED[np.nancumsum] = _nan_filled(0.0, np.cumsum)
HANDLED[np.nanprod] = _nan_filled(1.0, np.prod)
HANDLED[np.nancumprod] = _nan_filled(1.0, np.cumprod)


@implements(np.nanmean)
def _nanmean(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    count = np.sum(~np.isnan(primal(a)), axis=axis, keepdims=keepdims)
    return np.nansum(a, axis=axis, keepdims=keepdims) / count


@implements(np.nanvar)
def _nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
    count = np.sum(~np.isnan(primal(a)), axis=axis, keepdims=keepdims)
    d = np.where(np.isnan(primal(a)), 0.0, a - np.nanmean(a, axis=axis, keepdims=True))
    return np.sum(d * d, axis=axis, keepdims=keepdims) / (count - ddof)


@implements(np.nanstd)
def _nanstd(a, *args, **kwargs):
    return root_at_zero(_nanvar(a, *args, **kwargs))


@implements(np.trace)
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    return np.sum(np.diagonal(a, offset, axis1, axis2), axis=-1)


@implements(np.linalg.trace)
def _linalg_trace(x, /, *, offset=0, dtype=None):
    return _trace(x, offset, -2, -1)


@implements(np.diff)
def _diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    ax = normalize_axis_index(axis, np.ndim(a))
    parts = [a]
    for extra, where in ((prepend, 0), (append, 1)):
        if extra is not np._NoValue:
            if np.ndim(extra) == 0:
                shape = list(np.shape(a))
                shape[ax] = 1
                extra = np.broadcast_to(extra, shape)
            parts.insert(0 if where == 0 else len(parts), extra)
    if len(parts) > 1:
        a = np.concatenate(parts, axis=ax)
    head = (slice(None),) * ax
    for _ in range(n):
        a = a[head + (slice(1, None),)] - a[head + (slice(None, -1),)]
    return a


@implements(np.ediff1d)
def _ediff1d(ary, to_end=None, to_begin=None):
    d = np.diff(np.ravel(ary))
    parts = [np.ravel(x) for x in (to_begin, d, to_end) if x is not None]
    return np.concatenate(parts) if len(parts) > 1 else d


@implements(np.trapezoid)
def _trapezoid(y, x=None, dx=1.0, axis=-1):
    ax = normalize_axis_index(axis, np.ndim(y))
    head = (slice(None),) * ax
    hi, lo = y[head + (slice(1, None),)], y[head + (slice(None, -1),)]
    if x is not None:
        dx = np.diff(x, axis=axis if np.ndim(x) > 1 else -1)
        if np.ndim(x) == 1:
            dx = np.reshape(dx, [-1 if i == ax else 1 for i in range(np.ndim(y))])
    return np.sum((hi + lo) * dx / 2.0, axis=ax)


# -- products ---------------------------------------------------------------------

HANDLED[np.matmul] = HANDLED[np.linalg.matmul] = lambda a, b, **kw: primitive(rules.MATMUL, a, b)


@implements(np.einsum)
def _einsum(*operands, out=None, optimize=False, **kwargs):
    if not isinstance(operands[0], str):
        raise TypeError("np.einsum: only the subscripts-string form is supported")
    spec, ops = operands[0], operands[1:]
    return primitive(rules.einsum_primitive(spec, len(ops)), *ops)


@implements(np.tensordot, np.linalg.tensordot)
def _tensordot(a, b, axes=2):
    na, nb = np.ndim(a), np.ndim(b)
    if isinstance(axes, (int, np.integer)):
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
    ax_a = [normalize_axis_index(i, na) for i in ax_a]
    ax_b = [normalize_axis_index(i, nb) for i in ax_b]
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sa = [next(letters) for _ in range(na)]
    sb = [next(letters) for _ in range(nb)]
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in ax_a] + \
        [c for j, c in enumerate(sb) if j not in ax_b]
    return np.einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b)


@implements(np.dot)
def _dot(a, b, out=None):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return a * b
    if np.ndim(b) <= 2:
        return np.matmul(a, b)
    return np.tensordot(a, b, axes=([-1], [-2]))


@implements(np.vdot)
def _vdot(a, b):
    return np.sum(np.ravel(a) * np.ravel(b))


@implements(np.inner)
def _inner(a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return a * b
    return np.tensordot(a, b, axes=([-1], [-1]))


@implements(np.outer, np.linalg.outer)
def _outer(a, b, out=None):
    return np.multiply(np.reshape(a, (-1, 1)), np.reshape(b, (1, -1)))


@implements(np.kron)
def _kron(a, b):
    nd = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (nd - np.ndim(a)) + np.shape(a)
    sb = (1,) * (nd - np.ndim(b)) + np.shape(b)
    ai = np.reshape(a, [d for s in sa for d in (s, 1)])
    bi = np.reshape(b, [d for s in sb for d in (1, s)])
    return np.reshape(ai * bi, [x * y for x, y in zip(sa, sb)])


@implements(np.cross, np.linalg.cross)
def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = np.moveaxis(a, axisa, -1), np.moveaxis(b, axisb, -1)
    if np.shape(a)[-1] == 2 and np.shape(b)[-1] == 2:
        return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    if np.shape(a)[-1] != 3 or np.shape(b)[-1] != 3:
        raise TypeError("np.cross: dualdiff supports vectors of length 2 or 3 of equal length")
    c = np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                  a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                  a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)
    return np.moveaxis(c, -1, axisc)


@implements(np.vecdot, np.linalg.vecdot)
def _vecdot(x1, x2, /, *, axis=-1, **kwargs):
    return np.sum(x1 * x2, axis=axis)


@implements(np.matvec)
def _matvec(x1, x2, /, **kwargs):
    return np.matmul(x1, x2[..., None])[..., 0]


@implements(np.vecmat)
def _vecmat(x1, x2, /, **kwargs):
    return np.matmul(x1[..., None, :], x2)[..., 0, :]


def _toeplitz(v, rows, cols, shift):
    """Matrix M with M[i, j] = v[i - j + shift] (zero outside v)."""
    i, j = np.indices((rows, cols))
    k = i - j + shift
    n = np.shape(v)[0]
    index = np.where((k >= 0) & (k < n), k + 1, 0)  # 0 picks the padded zero

    def op(vv):  # NumPy calls only, so it also runs on nested carriers
        return np.concatenate([np.zeros(1, getattr(vv, "dtype", float)), vv])[index]

    return gather(op, v)


@implements(np.convolve)
def _convolve(a, v, mode="full"):
    na, nv = np.shape(a)[0], np.shape(v)[0]
    n = na + nv - 1
    full = np.matmul(_toeplitz(v, n, na, 0), a)
    if mode == "full":
        return full
    if mode == "same":
        m = max(na, nv)
        start = (n - m) // 2
        return full[start:start + m]
    if mode == "valid":
        return full[min(na, nv) - 1: max(na, nv)]
    raise ValueError(f"np.convolve: unknown mode {mode!r}")


@implements(np.correlate)
def _correlate(a, v, mode="valid"):
    return np.convolve(a, v[::-1], mode=mode)


# -- curves and statistics ------------------------------------------------------------

@implements(np.interp)
def _interp(x, xp, fp, left=None, right=None, period=None):
    if period is not None:
        raise TypeError("np.interp(..., period=) is not supported by dualdiff")
    xpv = primal(xp)
    i = np.clip(np.searchsorted(xpv, primal(x), side="right") - 1, 0, len(xpv) - 2)
    x0, x1 = xp[i], xp[i + 1]
    t = (x - x0) / (x1 - x0)
    y = fp[i] * (1.0 - t) + fp[i + 1] * t
    y = np.where(primal(x) < xpv[0], fp[0] if left is None else left, y)
    return np.where(primal(x) > xpv[-1], fp[-1] if right is None else right, y)


@implements(np.polyval)
def _polyval(p, x):
    y = np.zeros_like(x) if isinstance(x, Carrier) else np.zeros(np.shape(x))
    for i in range(len(p)):
        y = y * x + p[i]
    return y


@implements(np.cov)
def _cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
         *, dtype=None):
    _reject("cov", fweights=fweights, aweights=aweights)
    x = np.atleast_2d(m)
    if not rowvar and np.shape(x)[0] != 1:
        x = x.T
    if y is not None:
        y = np.atleast_2d(y)
        x = np.concatenate([x, y if rowvar or np.shape(y)[0] == 1 else y.T], axis=0)
    ddof = (0 if bias else 1) if ddof is None else ddof
    d = x - np.mean(x, axis=1, keepdims=True)
    c = np.matmul(d, d.T) / (np.shape(x)[1] - ddof)
    return np.squeeze(c)


@implements(np.corrcoef)
def _corrcoef(x, y=None, rowvar=True, *, dtype=None):
    c = np.cov(x, y, rowvar)
    if np.ndim(c) == 0:
        return c / c
    s = np.sqrt(np.diagonal(c))
    return c / s[:, None] / s[None, :]


@implements(np.sinc)
def _sinc(x):
    y = np.pi * np.where(primal(x) == 0, 1.0e-20, x)
    return np.sin(y) / y


@implements(np.unwrap)
def _unwrap(p, discont=None, axis=-1, *, period=2 * np.pi):
    # the correction is piecewise constant: computed on the primal
    return p + (np.unwrap(primal(p), discont, axis, period=period) - primal(p))


@implements(np.vander)
def _vander(x, N=None, increasing=False):
    n = np.shape(x)[0] if N is None else N
    powers = np.arange(n) if increasing else np.arange(n)[::-1]
    return np.power(np.reshape(x, (-1, 1)), powers.astype(float))


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


def _poly_pad(a, n):
    return np.concatenate([np.zeros(n - np.shape(a)[0]), a]) if np.shape(a)[0] < n else a


@implements(np.polyadd)
def _polyadd(a1, a2):
    n = max(np.shape(a1)[0], np.shape(a2)[0])
    return _poly_pad(np.atleast_1d(a1), n) + _poly_pad(np.atleast_1d(a2), n)


@implements(np.polysub)
def _polysub(a1, a2):
    return _polyadd(a1, -np.asarray(a2) if find_owner([a2]) is None else -a2)


@implements(np.polymul)
def _polymul(a1, a2):
    return np.convolve(np.atleast_1d(a1), np.atleast_1d(a2))


@implements(np.polyder)
def _polyder(p, m=1):
    for _ in range(m):
        n = np.shape(p)[0] - 1
        p = p[:-1] * np.arange(n, 0, -1.0) if n > 0 else np.zeros_like(p[:1]) * 0.0
    return p


@implements(np.polyint)
def _polyint(p, m=1, k=None):
    ks = np.zeros(m) if k is None else np.broadcast_to(k, (m,))
    for i in range(m):
        n = np.shape(p)[0]
        p = np.concatenate([p / np.arange(n, 0, -1.0), np.reshape(ks[i], (1,))])
    return p


@implements(np.gradient)
def _gradient(f, *varargs, axis=None, edge_order=1):
    # second-order central differences inside, one-sided of order edge_order at the ends:
    # a fixed linear combination of shifted slices (uniform scalar spacings only)
    nd = np.ndim(f)
    axes = _axes(axis, nd)
    spacing = list(varargs) if varargs else [1.0]
    if len(spacing) == 1:
        spacing = spacing * len(axes)
    if any(np.ndim(h) != 0 or find_owner([h]) is not None for h in spacing):
        raise TypeError("np.gradient: dualdiff supports constant scalar spacings only; "
                        "write coordinate-array differences with np.diff")
    outs = []
    for ax, h in zip(axes, spacing):
        n = np.shape(f)[ax]
        if n < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, "
                             "at least (edge_order + 1) elements are required.")

        def sl(a, b, ax=ax):
            return f[(slice(None),) * ax + (slice(a, b),)]

        mid = (sl(2, None) - sl(None, -2)) / (2.0 * h)
        if edge_order == 1:
            first = (sl(1, 2) - sl(0, 1)) / h
            last = (sl(-1, None) - sl(-2, -1)) / h
        else:
            first = (-1.5 * sl(0, 1) + 2.0 * sl(1, 2) - 0.5 * sl(2, 3)) / h
            last = (0.5 * sl(-3, -2) - 2.0 * sl(-2, -1) + 1.5 * sl(-1, None)) / h
        outs.append(np.concatenate([first, mid, last], axis=ax))
    return outs[0] if len(outs) == 1 else tuple(outs)


def _quantile_impl(a, q, axis, keepdims, method, name):
    if method != "linear":
        raise TypeError(f"np.{name}(..., method={method!r}): dualdiff supports 'linear' only")
    if find_owner([q]) is not None:
        raise TypeError(f"np.{name}: q must be a constant")
    q = np.asarray(q, dtype=float)
    flat, axes = _to_last(a, axis)
    s = np.sort(flat, axis=-1)
    n = np.shape(s)[-1]
    pos = q * (n - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, n - 1)
    hi = np.clip(lo + 1, 0, n - 1)
    w = pos - lo
    out = s[..., lo] * (1.0 - w) + s[..., hi] * w  # shape rest + q.shape
    out = np.moveaxis(out, tuple(range(np.ndim(out) - q.ndim, np.ndim(out))),
                      tuple(range(q.ndim))) if q.ndim else out
    if keepdims:
        shape = [1 if i in axes else d for i, d in enumerate(np.shape(a))]
        out = np.reshape(out, q.shape + tuple(shape))
    return out


@implements(np.quantile)
def _quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
              keepdims=False, *, weights=None, interpolation=None):
    _reject("quantile", weights=weights, interpolation=interpolation)
    return _quantile_impl(a, q, axis, keepdims, method, "quantile")


@implements(np.percentile)
def _percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, weights=None, interpolation=None):
    _reject("percentile", weights=weights, interpolation=interpolation)
    if find_owner([q]) is not None:
        raise TypeError("np.percentile: q must be a constant")
    return _quantile_impl(a, np.asarray(q, dtype=float) / 100.0, axis, keepdims, method,
                          "percentile")


# -- the rest: answered on the primal, or refused with a reason ---------------------

PRIMAL_ONLY.update({
    np.argmax, np.argmin, np.nanargmax, np.nanargmin, np.argsort, np.argpartition,
    np.argwhere, np.nonzero, np.flatnonzero, np.count_nonzero, np.searchsorted,
    np.digitize, np.lexsort, np.shape, np.ndim, np.size, np.isclose, np.allclose,
    np.array_equal, np.array_equiv, np.all, np.any, np.isreal, np.iscomplex,
    np.isrealobj, np.iscomplexobj, np.isneginf, np.isposinf, np.isin, np.may_share_memory,
    np.shares_memory, np.result_type, np.can_cast, np.min_scalar_type, np.common_type,
    np.array2string, np.array_repr, np.array_str, np.diag_indices_from, np.tril_indices_from,
    np.triu_indices_from, np.ravel_multi_index, np.unravel_index, np.linalg.matrix_rank,
    np.bincount, np.histogram_bin_edges, np.ix_, np.packbits, np.unpackbits,
    np.busday_count, np.busday_offset, np.is_busday, np.datetime_as_string,
    np.einsum_path,  # a contraction order: no values to differentiate
})

HANDLED[np.astype] = lambda x, dtype, /, *, copy=True, **kw: x.astype(dtype, copy=copy)

_REASONS = {
    "complex-valued result; dualdiff differentiates real functions": [
        np.angle, np.sort_complex, np.roots, np.linalg.eig, np.linalg.eigvals,
        *[getattr(np.fft, n) for n in ("fft", "fft2", "fftn", "hfft", "ifft", "ifft2",
                                       "ifftn", "ihfft", "irfft", "irfft2", "irfftn",
                                       "rfft", "rfft2", "rfftn")]],
    "it writes into its argument in place; use index assignment x[idx] = value": [
        np.place, np.put, np.put_along_axis, np.putmask],
    "its output depends on the values through counting or set logic; apply it to .value": [
        np.unique, np.unique_all, np.unique_counts, np.unique_inverse, np.unique_values,
        np.union1d, np.intersect1d, np.setdiff1d, np.setxor1d, np.trim_zeros,
        np.histogram, np.histogram2d, np.histogramdd],
    "no derivative rule yet; write it with supported operations": [
        np.nanpercentile, np.nanquantile, np.nanmedian, np.i0,
        np.poly, np.polydiv, np.polyfit, np.geomspace, np.linalg.qr, np.linalg.svd,
        np.linalg.cond, np.linalg.tensorinv, np.linalg.tensorsolve],
    "it calls a Python function per slice on plain arrays; loop over the slices yourself": [
        np.apply_along_axis, np.apply_over_axes],
    "it does file or text I/O": [np.save, np.savez, np.savez_compressed, np.savetxt],
    "integer or bit-level operation": [
        np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.bitwise_not, np.bitwise_count,
        np.left_shift, np.right_shift, np.invert, np.gcd, np.lcm],
    "it has several outputs with no derivative rule (write x - np.floor(x) etc.)": [
        np.divmod, np.modf, np.frexp, np.nextafter],
}
for _reason, _funcs in _REASONS.items():
    for _f in _funcs:
        UNSUPPORTED[_f] = _reason
