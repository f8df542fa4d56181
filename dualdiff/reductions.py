"""NumPy reductions on carriers: sum and cumsum are linear maps; prod (a pairwise
tree), cumprod (a scan), max/min (a gather at the arg-reduction), differences,
gradient and trapezoid are composites."""

from __future__ import annotations

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from .core import HANDLED, discrete, find_owner, implements, linear, strip
from .shape import axes_of, given, shifted


def masked(a, where, fill):
    """a with the elements ``where`` leaves out replaced by ``fill`` (NumPy's ``where=``
    of reductions: those elements do not take part), in a's shape."""
    return np.where(np.broadcast_to(where, np.shape(a)), a, fill) if given(where) else a


@implements(np.sum)
def _sum(a, axis=None, dtype=None, keepdims=False, initial=np._NoValue, where=np._NoValue):
    if given(where) or given(initial):
        total = np.sum(masked(a, where, 0.0), axis=axis, keepdims=keepdims)
        return total + initial if given(initial) else total
    axes = axes_of(axis, np.ndim(a))
    shape = np.shape(a)

    def adjoint(u):  # broadcast the cotangent back over the summed axes
        u = u if keepdims else np.expand_dims(u, shifted(axes))
        return np.broadcast_to(u, u.shape[:1] + shape)

    return linear(lambda p: np.sum(p, axis=shifted(axes), keepdims=keepdims), a,
                  op=lambda v: np.sum(v, axis=axes, keepdims=keepdims), adjoint=adjoint)


@implements(np.bincount)
def _bincount(x, weights=None, minlength=0):
    """Counts are a discrete result; with weights each bin is a sum of weights, linear in
    them: ``w @ M`` with the one-hot matrix ``M[i, x_i] = 1``.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda w: np.bincount([0, 2, 0], weights=w), np.ones(3)).tolist()
    [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    if find_owner([weights]) is None:
        return discrete(np.bincount, (x,), {"weights": weights, "minlength": minlength})
    idx = np.asarray(strip(x))
    bins = np.bincount(idx, minlength=minlength).size  # (NumPy's errors for bad x)
    onehot = np.zeros((idx.size, bins))
    onehot[np.arange(idx.size), idx] = 1.0
    return linear(lambda p: np.matmul(p, onehot), weights,
                  op=lambda w: np.bincount(idx, weights=w, minlength=minlength),
                  adjoint=lambda u: u[:, idx])


def to_last(a, axis):
    """a with the reduced axes flattened into one last axis, and those axes.

    >>> to_last(np.ones((2, 3, 4)), (0, 2))[0].shape
    (3, 8)
    """
    axes = axes_of(axis, np.ndim(a))
    rest = [i for i in range(np.ndim(a)) if i not in axes]
    moved = np.transpose(a, rest + list(axes))
    return np.reshape(moved, [np.shape(a)[i] for i in rest] + [-1]), axes


def restore(r, a, axes, keepdims):
    """Put back the reduced axes (as unit axes) when keepdims is asked for.

    >>> restore(np.ones(3), np.ones((2, 3)), (0,), True).shape
    (1, 3)
    """
    if not keepdims:
        return r
    return np.reshape(r, [1 if i in axes else s for i, s in enumerate(np.shape(a))])


def _selector(argfn, name, pick):
    def impl(a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=np._NoValue):
        if given(where) and not given(initial):
            raise ValueError(f"reduction operation '{name}' does not have an identity, so to "
                             f"use a where mask one has to specify 'initial'")
        if given(initial):  # initial takes part first: at a tie it wins (slope 0)
            return pick(initial, impl(masked(a, where, initial), axis, keepdims=keepdims))
        flat, axes = to_last(a, axis)
        i = discrete(argfn, (flat,), {"axis": -1}, select=True)[..., None]
        return restore(np.take_along_axis(flat, i, axis=-1)[..., 0], a, axes, keepdims)

    return impl


HANDLED[np.max] = HANDLED[np.amax] = _selector(np.argmax, "maximum", np.maximum)
HANDLED[np.min] = HANDLED[np.amin] = _selector(np.argmin, "minimum", np.minimum)
HANDLED[np.nanmax] = _selector(np.nanargmax, "fmax", np.fmax)
HANDLED[np.nanmin] = _selector(np.nanargmin, "fmin", np.fmin)


@implements(np.ptp)
def _ptp(a, axis=None, out=None, keepdims=False):
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


@implements(np.prod)
def _prod(a, axis=None, dtype=None, keepdims=False, initial=np._NoValue, where=np._NoValue):
    # pairwise tree: log2(n) vectorised products, exact with zeros
    if given(where) or given(initial):
        total = np.prod(masked(a, where, 1.0), axis=axis, keepdims=keepdims)
        return initial * total if given(initial) else total
    p, axes = to_last(a, axis)
    while np.shape(p)[-1] > 1:
        if np.shape(p)[-1] % 2:
            p = np.concatenate([p, np.ones(np.shape(p)[:-1] + (1,))], axis=-1)
        p = p[..., 0::2] * p[..., 1::2]
    if np.shape(p)[-1] == 0:
        p = np.ones(np.shape(p)[:-1] + (1,)) + 0.0 * np.sum(p, axis=-1, keepdims=True)
    return restore(p[..., 0], a, axes, keepdims)


@implements(np.cumsum, np.cumulative_sum)
def _cumsum(a, axis=None, dtype=None, out=None, *, include_initial=False):
    if axis is None:
        a, axis = np.ravel(a), 0
    ax = normalize_axis_index(axis, max(np.ndim(a), 1))
    if np.ndim(a) == 0:
        a = np.reshape(a, (1,))

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
    if np.ndim(a) == 0:
        a = np.reshape(a, (1,))
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
        return func(np.where(np.isnan(a), fill, a), *args, **kwargs)

    return impl


HANDLED[np.nansum] = _nan_filled(0.0, np.sum)
HANDLED[np.nancumsum] = _nan_filled(0.0, np.cumsum)
HANDLED[np.nanprod] = _nan_filled(1.0, np.prod)
HANDLED[np.nancumprod] = _nan_filled(1.0, np.cumprod)


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


@implements(np.gradient)
def _gradient(f, *varargs, axis=None, edge_order=1):
    """NumPy's formulas: second-order differences inside, one-sided of order edge_order at
    the ends; a spacing is a scalar or the coordinates along its axis (constant or
    traced), non-uniform coordinates weighting the three neighbours as NumPy does."""
    nd = np.ndim(f)
    axes = axes_of(axis, nd)
    spacing = list(varargs) if varargs else [1.0]
    if len(spacing) == 1:
        spacing = spacing * len(axes)
    if len(spacing) != len(axes):
        raise TypeError("invalid number of arguments")
    outs = []
    for ax, h in zip(axes, spacing):
        n = np.shape(f)[ax]
        if n < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, "
                             "at least (edge_order + 1) elements are required.")
        if np.ndim(h) == 1:
            if np.shape(h)[0] != n:
                raise ValueError("when 1d, distances must match the length of the "
                                 "corresponding dimension")
            dx = np.diff(h)
            uniform = bool(np.all(dx == dx[0]))  # NumPy takes the scalar formulas then
            h = dx[0] if uniform else dx
        elif np.ndim(h) != 0:
            raise ValueError("distances must be either scalars or 1d")
        outs.append(_gradient_along(f, ax, h, edge_order, nd))
    return outs[0] if len(outs) == 1 else tuple(outs)


def _gradient_along(f, ax, h, edge_order, nd):
    def sl(a, b):
        return f[(slice(None),) * ax + (slice(a, b),)]

    if np.ndim(h) == 0:
        mid = (sl(2, None) - sl(None, -2)) / (2.0 * h)
        if edge_order == 1:
            first = (sl(1, 2) - sl(0, 1)) / h
            last = (sl(-1, None) - sl(-2, -1)) / h
        else:
            first = -1.5 / h * sl(0, 1) + 2.0 / h * sl(1, 2) - 0.5 / h * sl(2, 3)
            last = 0.5 / h * sl(-3, -2) - 2.0 / h * sl(-2, -1) + 1.5 / h * sl(-1, None)
        return np.concatenate([first, mid, last], axis=ax)
    shape = [-1 if i == ax else 1 for i in range(nd)]
    dx1, dx2 = h[:-1], h[1:]
    a = np.reshape(-dx2 / (dx1 * (dx1 + dx2)), shape)
    b = np.reshape((dx2 - dx1) / (dx1 * dx2), shape)
    c = np.reshape(dx1 / (dx2 * (dx1 + dx2)), shape)
    mid = a * sl(None, -2) + b * sl(1, -1) + c * sl(2, None)
    if edge_order == 1:
        first = (sl(1, 2) - sl(0, 1)) / h[0]
        last = (sl(-1, None) - sl(-2, -1)) / h[-1]
    else:
        d1, d2 = h[0], h[1]
        first = (-(2.0 * d1 + d2) / (d1 * (d1 + d2)) * sl(0, 1) + (d1 + d2) / (d1 * d2)
                 * sl(1, 2) - d1 / (d2 * (d1 + d2)) * sl(2, 3))
        d1, d2 = h[-2], h[-1]
        last = (d2 / (d1 * (d1 + d2)) * sl(-3, -2) - (d2 + d1) / (d1 * d2) * sl(-2, -1)
                + (2.0 * d2 + d1) / (d2 * (d1 + d2)) * sl(-1, None))
    return np.concatenate([first, mid, last], axis=ax)
