"""NumPy curves and statistics on carriers (interp, polynomials, cov, quantile,
gradient, linspace, ...), all composites of supported calls."""

from __future__ import annotations

import numpy as np

from .carrier import Carrier, find_owner, primal
from .dispatch import implements
from .reductions import _to_last
from .structure import _axes, _reject


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
