"""NumPy statistics on carriers: mean, average, var, std, median, quantile,
percentile, cov, corrcoef and their nan-variants, composites of reductions.

Standard deviations are plain ``np.sqrt`` of the variance: at a constant sample its
first derivative is 0 (a zero tangent times sqrt's infinite slope stays 0) and
its second derivative inf or nan, like NumPy would say, never a finite wrong
number."""

from __future__ import annotations

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from .core import find_owner, implements
from .reductions import restore, to_last
from .shape import axes_of, given, reject


@implements(np.mean)
def _mean(a, axis=None, dtype=None, keepdims=False, *, where=np._NoValue):
    if given(where):
        count = np.sum(np.broadcast_to(where, np.shape(a)), axis=axis, keepdims=keepdims)
        return np.sum(a, axis=axis, keepdims=keepdims, where=where) / count
    axes = axes_of(axis, np.ndim(a))
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
        wsum = np.sum(weights * np.ones(np.shape(a)), axis=axis, keepdims=keepdims)
        avg = np.sum(a * weights, axis=axis, keepdims=keepdims) / wsum
    return (avg, wsum) if returned else avg


@implements(np.var)
def _var(a, axis=None, dtype=None, ddof=0, keepdims=False, *, where=np._NoValue,
         mean=np._NoValue, correction=np._NoValue):
    reject("var", mean=mean)
    ddof = ddof if correction is np._NoValue else correction
    if given(where):
        count = np.sum(np.broadcast_to(where, np.shape(a)), axis=axis, keepdims=keepdims)
        d = a - np.mean(a, axis=axis, keepdims=True, where=where)
        dd = np.real(d * np.conj(d)) if np.iscomplexobj(d) else d * d
        return np.sum(dd, axis=axis, keepdims=keepdims, where=where) / (count - ddof)
    axes = axes_of(axis, np.ndim(a))
    count = int(np.prod([np.shape(a)[i] for i in axes]))
    d = a - np.mean(a, axis=axes, keepdims=True)
    dd = np.real(d * np.conj(d)) if np.iscomplexobj(d) else d * d
    return np.sum(dd, axis=axes, keepdims=keepdims) / (count - ddof)


@implements(np.std)
def _std(a, axis=None, dtype=None, ddof=0, keepdims=False, **kwargs):
    return np.sqrt(_var(a, axis=axis, ddof=ddof, keepdims=keepdims, **kwargs))


@implements(np.median)
def _median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    flat, axes = to_last(a, axis)
    s = np.sort(flat, axis=-1)
    n = np.shape(s)[-1]
    mid = s[..., (n - 1) // 2: n // 2 + 1]
    return restore(np.mean(mid, axis=-1), a, axes, keepdims)


def _kept(a, where):
    """The elements the nan-reductions use: not NaN, and selected by ``where=``."""
    keep = ~np.isnan(a)
    return keep & np.broadcast_to(where, np.shape(a)) if given(where) else keep


@implements(np.nanmean)
def _nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=np._NoValue):
    keep = _kept(a, where)
    count = np.sum(keep, axis=axis, keepdims=keepdims)
    return np.sum(np.where(keep, a, 0.0), axis=axis, keepdims=keepdims) / count


@implements(np.nanvar)
def _nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
            where=np._NoValue, mean=np._NoValue, correction=np._NoValue):
    reject("nanvar", mean=mean)
    ddof = ddof if correction is np._NoValue else correction
    keep = _kept(a, where)
    count = np.sum(keep, axis=axis, keepdims=keepdims)
    d = np.where(keep, a - np.nanmean(a, axis=axis, keepdims=True, where=where), 0.0)
    return np.sum(d * d, axis=axis, keepdims=keepdims) / (count - ddof)


@implements(np.nanstd)
def _nanstd(a, *args, **kwargs):
    return np.sqrt(_nanvar(a, *args, **kwargs))


@implements(np.cov)
def _cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
         *, dtype=None):
    reject("cov", fweights=fweights, aweights=aweights)
    x = np.atleast_2d(m)
    if not rowvar and np.shape(x)[0] != 1:
        x = x.T
    if y is not None:
        y = np.atleast_2d(y)
        x = np.concatenate([x, y if rowvar or np.shape(y)[0] == 1 else y.T], axis=0)
    ddof = (0 if bias else 1) if ddof is None else ddof
    d = x - np.mean(x, axis=1, keepdims=True)
    dh = np.conjugate(d) if np.iscomplexobj(d) else d  # NumPy: X X^H
    c = np.matmul(d, dh.T) / (np.shape(x)[1] - ddof)
    return np.squeeze(c)


@implements(np.corrcoef)
def _corrcoef(x, y=None, rowvar=True, *, dtype=None):
    c = np.cov(x, y, rowvar)
    if np.ndim(c) == 0:
        return c / c
    s = np.sqrt(np.diagonal(c))
    return c / s[:, None] / s[None, :]


#: methods that pick sorted elements (their positions depend on q and n only)
_PICKING = ("lower", "higher", "nearest", "midpoint")


def _quantile_impl(a, q, axis, keepdims, method, name):
    if method != "linear" and method not in _PICKING:
        raise TypeError(f"np.{name}(..., method={method!r}): dualdiff supports 'linear', "
                        f"{', '.join(map(repr, _PICKING))}")
    if find_owner([q]) is not None:
        raise TypeError(f"np.{name}: q must be a constant")
    q = np.asarray(q, dtype=float)
    flat, axes = to_last(a, axis)
    s = np.sort(flat, axis=-1)
    n = np.shape(s)[-1]
    if method in _PICKING:  # NumPy's own choice of positions, read off an index array
        pos = np.quantile(np.arange(n, dtype=float), q, method=method)
        lo, hi = np.floor(pos).astype(int), np.ceil(pos).astype(int)
        out = s[..., lo] if method != "midpoint" else (s[..., lo] + s[..., hi]) * 0.5
    else:
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
    reject("quantile", weights=weights, interpolation=interpolation)
    return _quantile_impl(a, q, axis, keepdims, method, "quantile")


@implements(np.percentile)
def _percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, weights=None, interpolation=None):
    reject("percentile", weights=weights, interpolation=interpolation)
    if find_owner([q]) is not None:
        raise TypeError("np.percentile: q must be a constant")
    return _quantile_impl(a, np.asarray(q, dtype=float) / 100.0, axis, keepdims, method,
                          "percentile")
