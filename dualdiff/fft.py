"""``numpy.fft`` on carriers: every transform is a linear map with an explicit adjoint.

The values are NumPy's own (the n-dimensional transforms are the same sequence of
one-dimensional ones NumPy runs).  Reverse mode uses JAX's pairing ``Re(u t)`` of a
cotangent u and a tangent t, so a complex-linear map transposes to its plain transpose.
The DFT matrix F (``F_jk = exp(-2 pi i j k / n)``) is symmetric, and R below crops or
zero-pads the input to the transform length n along the axis (R^T crops or pads back):

==========  ==================================  ============================================
transform   map (c: the norm's factor)          transpose
==========  ==================================  ============================================
fft         c F R a                             R^T fft(u)          (same norm)
ifft        c conj(F) R a                       R^T ifft(u)         (same norm)
rfft        first n//2+1 rows of c F R a        R^T Re fft(u, n)    (u zero-padded to n)
irfft       Re(c conj(F)_:,k w_k (R a)_k)       R^T (w o conj(rfft(Re u, n, swapped norm)))
==========  ==================================  ============================================

irfft reads only the half spectrum a_0 .. a_{n//2} (the imaginary parts of a_0 and, for
even n, of a_{n/2} drop out): ``x_j = c Re(sum_k w_k a_k e^{2 pi i j k / n})`` with
w_0 = 1, w_{n/2} = 1 (even n) and w_k = 2 otherwise — the hermitian doubling, which
its transpose carries.  hfft and ihfft are NumPy's compositions of irfft/rfft and conj.

For the sparsity tracer every output along the transformed axis depends on every input
it uses along that axis (a dense block per axis, the rest untouched); an n-dimensional
transform of more than :data:`dualdiff.tracer.MAX_ENTRIES` dependencies is refused as dense.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse as sp
from numpy.lib.array_utils import normalize_axis_index

from .core import find_owner, implements, linear, primal
from .tracer import MAX_ENTRIES

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fftn", "ifftn", "fft2", "ifft2",
           "rfftn", "irfftn", "rfft2", "irfft2"]

_SWAP = {"backward": "forward", None: "forward", "ortho": "ortho", "forward": "backward"}


def _resize(p, axis: int, n: int):
    """p cropped, or zero-padded at the end, to length n along axis (NumPy calls only, so
    it runs on carriers too)."""
    m = np.shape(p)[axis]
    if n == m:
        return p
    if n < m:
        index = [slice(None)] * np.ndim(p)
        index[axis] = slice(0, n)
        return p[tuple(index)]
    shape = list(np.shape(p))
    shape[axis] = n - m
    return np.concatenate([p, np.zeros(shape, primal(p).dtype)], axis=axis)


def along_structure(in_shape, out_shape, axis: int, used: int) -> sp.csr_array:
    """0/1 structure (out.size, in.size) of a map along ``axis``: every output element
    depends on the first ``used`` input elements along the axis with the same other
    indices.

    >>> along_structure((2, 3), (2, 2), 1, 2).toarray().astype(int).tolist()
    [[1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 1, 0]]
    """
    pre = math.prod(in_shape[:axis])
    post = math.prod(in_shape[axis + 1:])
    m, nout = in_shape[axis], out_shape[axis]
    total = pre * post * nout * used
    if total > MAX_ENTRIES:
        raise ValueError(
            f"sparsity detection: an FFT along an axis of length {m} of an array of shape "
            f"{tuple(in_shape)} makes every output depend on {used} inputs ({total} "
            f"dependencies, more than {MAX_ENTRIES}); this Jacobian is dense. Use the dense "
            f"dd.jacobian (sparsity=None).")
    p, j, i, q = np.meshgrid(np.arange(pre), np.arange(nout), np.arange(used), np.arange(post),
                             indexing="ij", sparse=True)
    rows = np.broadcast_to((p * nout + j) * post + q, (pre, nout, used, post)).ravel()
    cols = np.broadcast_to((p * m + i) * post + q, (pre, nout, used, post)).ravel()
    out = sp.csr_array((np.ones(total, bool), (rows, cols)),
                       shape=(pre * nout * post, pre * m * post))
    out.sum_duplicates()
    return out


def _weights(n: int, axis: int, ndim: int):
    """irfft's weights w_k (1, 2, ..., 2, [1]) along ``axis`` of an array of ``ndim`` axes."""
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return np.reshape(w, (-1,) + (1,) * (ndim - axis - 1))


def _adjoint(kind: str, n: int, ax: int, m: int, norm, real_in: bool):
    """The transpose of transform ``kind`` along axis ``ax`` (of the value; ax + 1 of a
    batch u), from length m to the output, with its structure for the tracer."""
    b = ax + 1
    if kind == "fft":
        def adjoint(u):
            return _resize(np.fft.fft(u, None, b, norm), b, m)
    elif kind == "ifft":
        def adjoint(u):
            return _resize(np.fft.ifft(u, None, b, norm), b, m)
    elif kind == "rfft":
        def adjoint(u):
            return _resize(np.real(np.fft.fft(u, n, b, norm)), b, m)
    else:  # irfft
        def adjoint(u):
            half = np.conjugate(np.fft.rfft(np.real(u), n, b, _SWAP[norm]))
            return _resize(half * _weights(n, b, np.ndim(u)), b, m)
    if real_in and kind != "rfft":
        full = adjoint

        def adjoint(u):  # a real input's cotangent is the real part (JAX's convention)
            return np.real(full(u))

    used = min(m, n // 2 + 1 if kind == "irfft" else n)
    adjoint.structure = lambda i, o: along_structure(i, o, ax, used)
    return adjoint


def _transform(kind: str, a, n, axis, norm):
    func = getattr(np.fft, kind)
    if find_owner([a]) is None:
        return func(a, n, axis, norm)
    value = primal(a)
    ax = normalize_axis_index(axis, value.ndim)
    m = value.shape[ax]
    if n is None:
        n = 2 * (m - 1) if kind == "irfft" else m
    adjoint = _adjoint(kind, n, ax, m, norm, value.dtype.kind != "c")
    return linear(lambda p: func(p, n, ax + 1, norm), a,
                  op=lambda v: func(v, n, ax, norm), adjoint=adjoint)


@implements(np.fft.fft)
def fft(a, n=None, axis=-1, norm=None, out=None):
    """``np.fft.fft`` on carriers (a linear map; transpose ``R^T fft(u)``).

    >>> import dualdiff as dd
    >>> dd.jacobian(np.fft.fft, [1.0, 2.0]).tolist()
    [[(1+0j), (1+0j)], [(1+0j), (-1+0j)]]
    """
    return _transform("fft", a, n, axis, norm)


@implements(np.fft.ifft)
def ifft(a, n=None, axis=-1, norm=None, out=None):
    """``np.fft.ifft`` on carriers (a linear map; transpose ``R^T ifft(u)``).

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.ifft(x).real, [1.0, 2.0]).tolist()
    [[0.5, 0.5], [0.5, -0.5]]
    """
    return _transform("ifft", a, n, axis, norm)


@implements(np.fft.rfft)
def rfft(a, n=None, axis=-1, norm=None, out=None):
    """``np.fft.rfft`` of a real carrier (transpose ``R^T Re fft(u, n)``).

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.rfft(x).imag, [1.0, 2.0, 3.0]).round(6).tolist()
    [[0.0, 0.0, 0.0], [0.0, -0.866025, 0.866025]]
    """
    return _transform("rfft", a, n, axis, norm)


@implements(np.fft.irfft)
def irfft(a, n=None, axis=-1, norm=None, out=None):
    """``np.fft.irfft`` of a complex carrier: real output, R-linear in a.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.irfft(x + 0j, 4), [1.0, 2.0, 3.0]).tolist()[0]
    [0.25, 0.5, 0.25]
    """
    return _transform("irfft", a, n, axis, norm)


@implements(np.fft.hfft)
def hfft(a, n=None, axis=-1, norm=None, out=None):
    """``np.fft.hfft``: ``irfft(conj(a), n, norm=swapped)``, as NumPy computes it.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.hfft(x + 0j), [1.0, 2.0]).tolist()
    [[1.0, 1.0], [1.0, -1.0]]
    """
    if n is None:
        n = (np.shape(a)[axis] - 1) * 2
    return irfft(np.conjugate(a), n, axis, norm=_swap(norm))


@implements(np.fft.ihfft)
def ihfft(a, n=None, axis=-1, norm=None, out=None):
    """``np.fft.ihfft``: ``conj(rfft(a, n, norm=swapped))``, as NumPy computes it.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.ihfft(x).real, [1.0, 2.0]).tolist()
    [[0.5, 0.5], [0.5, -0.5]]
    """
    if n is None:
        n = np.shape(a)[axis]
    return np.conjugate(rfft(a, n, axis, norm=_swap(norm)))


def _swap(norm):
    if norm not in _SWAP:
        raise ValueError(f'Invalid norm value {norm}; should be "backward", "ortho" or '
                         f'"forward".')
    return _SWAP[norm]


def _cook(shape, s, axes, invreal: bool = False):
    """NumPy's ``_cook_nd_args``: the lengths and axes of an n-dimensional transform."""
    shapeless = s is None
    if s is None:
        s = list(shape) if axes is None else [shape[a] for a in axes]
    s = list(s)
    if axes is None:
        if not shapeless:
            warnings.warn("`axes` should not be `None` if `s` is not `None` (Deprecated in "
                          "NumPy 2.0).", DeprecationWarning, stacklevel=5)
        axes = list(range(-len(s), 0))
    axes = list(axes)
    if len(s) != len(axes):
        raise ValueError("Shape and axes have different lengths.")
    if invreal and shapeless:
        s[-1] = (shape[axes[-1]] - 1) * 2
    if None in s:
        warnings.warn("Passing an array containing `None` values to `s` is deprecated in "
                      "NumPy 2.0.", DeprecationWarning, stacklevel=5)
    s = [shape[a] if n == -1 else n for n, a in zip(s, axes)]
    return s, axes


def _nd(kind: str, a, s, axes, norm):
    s, axes = _cook(np.shape(a), s, axes)
    for ii in reversed(range(len(axes))):
        a = _transform(kind, a, s[ii], axes[ii], norm)
    return a


@implements(np.fft.fftn)
def fftn(a, s=None, axes=None, norm=None, out=None):
    """``np.fft.fftn``: one-dimensional transforms along the axes, last axis first.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.fftn(x).real, np.ones((1, 2)))[0, 1].tolist()
    [[1.0, -1.0]]
    """
    return _nd("fft", a, s, axes, norm)


@implements(np.fft.ifftn)
def ifftn(a, s=None, axes=None, norm=None, out=None):
    """``np.fft.ifftn``: one-dimensional inverse transforms along the axes.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.ifftn(x).real, np.ones((1, 2)))[0, 1].tolist()
    [[0.5, -0.5]]
    """
    return _nd("ifft", a, s, axes, norm)


@implements(np.fft.fft2)
def fft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """``np.fft.fft2`` = fftn over the last two axes.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.fft2(x).real, np.ones((1, 2)))[0, 1].tolist()
    [[1.0, -1.0]]
    """
    return _nd("fft", a, s, axes, norm)


@implements(np.fft.ifft2)
def ifft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """``np.fft.ifft2`` = ifftn over the last two axes.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.ifft2(x).real, np.ones((1, 2)))[0, 1].tolist()
    [[0.5, -0.5]]
    """
    return _nd("ifft", a, s, axes, norm)


@implements(np.fft.rfftn)
def rfftn(a, s=None, axes=None, norm=None, out=None):
    """``np.fft.rfftn``: rfft along the last axis, then fft along the others.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.rfftn(x).real, np.ones((1, 2)))[0, 1].tolist()
    [[1.0, -1.0]]
    """
    s, axes = _cook(np.shape(a), s, axes)
    a = _transform("rfft", a, s[-1], axes[-1], norm)
    for ii in range(len(axes) - 2, -1, -1):
        a = _transform("fft", a, s[ii], axes[ii], norm)
    return a


@implements(np.fft.rfft2)
def rfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """``np.fft.rfft2`` = rfftn over the last two axes.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.rfft2(x).real, np.ones((1, 2)))[0, 1].tolist()
    [[1.0, -1.0]]
    """
    return rfftn(a, s, axes, norm)


@implements(np.fft.irfftn)
def irfftn(a, s=None, axes=None, norm=None, out=None):
    """``np.fft.irfftn``: ifft along all but the last axis, then irfft along it.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.irfftn(x + 0j), np.ones((1, 2)))[0, 1].tolist()
    [[0.5, -0.5]]
    """
    s, axes = _cook(np.shape(a), s, axes, invreal=True)
    for ii in range(len(axes) - 1):
        a = _transform("ifft", a, s[ii], axes[ii], norm)
    return _transform("irfft", a, s[-1], axes[-1], norm)


@implements(np.fft.irfft2)
def irfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """``np.fft.irfft2`` = irfftn over the last two axes.

    >>> import dualdiff as dd
    >>> dd.jacobian(lambda x: np.fft.irfft2(x + 0j), np.ones((1, 2)))[0, 1].tolist()
    [[0.5, -0.5]]
    """
    return irfftn(a, s, axes, norm)
