"""``scipy.signal``'s convolutions with derivatives: convolve, fftconvolve, correlate.

Each is linear in each argument.  The value is SciPy's (same method, same mode); the
rules are convolutions themselves, computed by these same functions (so they nest for
second derivatives):

* forward: ``d(a * b) = da * b + a * db``, each a full convolution batched over the k
  directions (a leading axis convolved with a kernel of length 1), cropped to the mode
  (``same`` and ``valid`` are centred crops of ``full``, as in SciPy);
* reverse: the cotangent padded back to the full output, then ``valid`` convolutions with
  the flipped other argument: ``a_bar = u_full * flip(b)``, ``b_bar = u_full * flip(a)``;
* ``correlate(a, b)`` is ``convolve(a, flip(b))`` (real b; SciPy conjugates a complex
  in2, which has no complex derivative, so a complex carrier there is refused);
* sparsity: output element p reads a[i] b[p + s - i] (s the crop offset).
"""

from __future__ import annotations

import numpy as np
import scipy.signal as _ss
import scipy.sparse as sp

from ..arrays import sum_to
from ..core import find_owner, primal, primitive
from ..primitives import Primitive

__all__ = ["convolve", "fftconvolve", "correlate"]


def __getattr__(name: str):
    return getattr(_ss, name)  # every other scipy.signal name: SciPy's own


def _value(kind, a, b, mode, method, axes):
    """The mirror of ``kind`` (so carriers of an outer pass nest)."""
    if kind == "fft":
        return fftconvolve(a, b, mode=mode, axes=axes)
    if kind == "correlate":
        return correlate(a, b, mode=mode, method=method)
    return convolve(a, b, mode=mode, method=method)


def _conv_axes(kind, axes, ndim):
    if kind != "fft" or axes is None:
        return tuple(range(ndim))
    axes = (axes,) if np.ndim(axes) == 0 else tuple(axes)
    return tuple(sorted(int(a) % ndim for a in axes))


def _batched(kind, t, c, mode, method, axes, lead_on_t=True):
    """The convolution (mode) of every direction of t (K, ...) with c, as one call."""
    if kind == "fft":
        sh = [a + 1 for a in axes]
        return fftconvolve(t, c[None], mode=mode, axes=sh) if lead_on_t else \
            fftconvolve(c[None], t, mode=mode, axes=sh)
    if lead_on_t:
        return convolve(t, c[None], mode=mode, method=method)
    return convolve(c[None], t, mode=mode, method=method)


def _flip(x, axes, lead=0):
    return np.flip(x, axis=tuple(a + lead for a in axes))


def _crop(shape_a, shape_b, out_shape, axes):
    """Start of the output inside the full convolution along each convolution axis."""
    return {a: (shape_a[a] + shape_b[a] - 1 - out_shape[a]) // 2 for a in axes}


def _primitive(kind, mode, method, axes_arg):
    flip_b = kind == "correlate"

    def geometry(out, a, b):
        nd = np.ndim(out)
        axes = _conv_axes(kind, axes_arg, nd)
        start = _crop(np.shape(a), np.shape(b), np.shape(out), axes)
        return axes, start

    def crop(full, out, axes, start):
        idx = [slice(None)] * np.ndim(full)
        for a in axes:
            idx[a + 1] = slice(start[a], start[a] + np.shape(out)[a])
        return full[tuple(idx)]

    def jvp(out, primals, tangents):
        a, b = primals
        ta, tb = tangents
        axes, start = geometry(out, a, b)
        ck = "fft" if kind == "fft" else "convolve"
        bb = _flip(b, axes) if flip_b else b
        full = None
        if ta is not None:
            full = _batched(ck, ta, bb, "full", method, axes)
        if tb is not None:
            tbb = _flip(tb, axes, lead=1) if flip_b else tb
            term = _batched(ck, tbb, a, "full", method, axes, lead_on_t=False)
            full = term if full is None else full + term
        return np.broadcast_to(crop(full, out, axes, start), np.shape(full)[:1] + np.shape(out))

    def vjp(out, primals, u, needs):
        a, b = primals
        axes, start = geometry(out, a, b)
        ck = "fft" if kind == "fft" else "convolve"
        pad = [(0, 0)] * np.ndim(u)
        for ax in axes:
            full = np.shape(a)[ax] + np.shape(b)[ax] - 1
            pad[ax + 1] = (start[ax], full - start[ax] - np.shape(out)[ax])
        uf = np.pad(u, pad)
        bb = _flip(b, axes) if flip_b else b
        ga = gb = None
        if needs[0]:
            ga = sum_to(_batched(ck, uf, _flip(bb, axes), "valid", method, axes), np.shape(a))
        if needs[1]:
            g = _batched(ck, uf, _flip(a, axes), "valid", method, axes)
            gb = sum_to(_flip(g, axes, lead=1) if flip_b else g, np.shape(b))
        return ga, gb

    def structure(out, primals, masks, live):
        a, b = primals
        if np.ndim(a) != np.ndim(b) or (kind == "fft" and axes_arg is not None
                                         and len(_conv_axes(kind, axes_arg, np.ndim(a)))
                                         != np.ndim(a)):
            return [None, None]
        axes, start = geometry(out, a, b)
        ma, mb = (np.asarray(m, bool).reshape(np.shape(p)) for m, p in zip(masks, primals))
        if flip_b:
            mb = np.flip(mb)
        oshape = np.shape(out)
        off = np.array([start[ax] for ax in range(np.ndim(out))])
        result = []
        for i, on in enumerate(live):
            if not on:
                result.append(None)
                continue
            this, other = (np.shape(a), mb) if i == 0 else (np.shape(b), ma)
            src = np.indices(this).reshape(np.ndim(out), -1).T          # (n_this, nd)
            ker = np.argwhere(other)                                     # (n_other, nd)
            if i == 1 and flip_b:
                src_pos = np.array(this) - 1 - src                       # b's flipped position
            else:
                src_pos = src
            pos = src_pos[:, None, :] + ker[None, :, :] - off             # output positions
            ok = np.all((pos >= 0) & (pos < np.array(oshape)), axis=-1)
            rows = np.ravel_multi_index(tuple(pos[ok].T), oshape) if np.any(ok) else \
                np.zeros(0, int)
            cols = np.broadcast_to(np.arange(src.shape[0])[:, None], ok.shape)[ok]
            m = sp.coo_array((np.ones(rows.size, bool), (rows, cols)),
                             shape=(int(np.prod(oshape)), src.shape[0])).tocsr()
            m.sum_duplicates()
            result.append(m)
        return result

    name = {"fft": "fftconvolve", "correlate": "correlate"}.get(kind, "convolve")
    return Primitive(name, lambda a, b: _value(kind, a, b, mode, method, axes_arg), jvp, vjp,
                     structure)


def _apply(kind, in1, in2, mode, method, axes):
    if np.ndim(in1) == 0 and np.ndim(in2) == 0 and kind != "fft":
        return in1 * in2
    if kind == "correlate" and np.iscomplexobj(primal(in2)) and find_owner([in2]) is not None:
        raise TypeError("dualdiff.scipy.signal.correlate conjugates a complex in2, which has "
                        "no complex derivative; pass a real in2 or a constant.")
    if np.ndim(in1) != np.ndim(in2):
        raise ValueError("in1 and in2 should have the same dimensionality")
    return primitive(_primitive(kind, mode, method, axes), in1, in2)


def convolve(in1, in2, mode="full", method="auto"):
    """``scipy.signal.convolve`` (N-D; modes full, same, valid; methods direct, fft, auto),
    linear in each argument.

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacobian(lambda a: convolve(a, np.array([1.0, 2.0])), np.ones(2)).tolist()
    [[1.0, 0.0], [2.0, 1.0], [0.0, 2.0]]
    """
    if find_owner([in1, in2]) is None:
        return _ss.convolve(in1, in2, mode=mode, method=method)
    return _apply("convolve", in1, in2, mode, method, None)


def fftconvolve(in1, in2, mode="full", axes=None):
    """``scipy.signal.fftconvolve`` (convolution along ``axes`` by FFT, the other axes
    broadcast), linear in each argument.

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacobian(lambda b: fftconvolve(np.array([1.0, 2.0]), b), np.ones(1)).round(12).tolist()
    [[1.0], [2.0]]
    """
    if find_owner([in1, in2]) is None:
        return _ss.fftconvolve(in1, in2, mode=mode, axes=axes)
    return _apply("fft", in1, in2, mode, "fft", axes)


def correlate(in1, in2, mode="full", method="auto"):
    """``scipy.signal.correlate`` (``convolve(in1, flip(in2))`` for real in2), linear in
    each argument.

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacobian(lambda a: correlate(a, np.array([1.0, 2.0])), np.ones(2)).tolist()
    [[2.0, 0.0], [1.0, 2.0], [0.0, 1.0]]
    """
    if find_owner([in1, in2]) is None:
        return _ss.correlate(in1, in2, mode=mode, method=method)
    return _apply("correlate", in1, in2, mode, method, None)
