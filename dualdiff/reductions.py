"""NumPy reductions on carriers: sum and cumsum are linear maps; mean, var, std,
prod (a pairwise tree), cumprod (a scan), max/min (a gather at argmax) are composites."""

from __future__ import annotations

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from .carrier import primal
from .dispatch import HANDLED, implements, linear
from .structure import _axes, _reject, _shift


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
