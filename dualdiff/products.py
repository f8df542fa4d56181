"""NumPy products on carriers: matmul and einsum are rules; dot, inner, outer,
tensordot, kron, cross, convolve are composites of them."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.lib.array_utils import normalize_axis_index

from . import primitives, sparse_operators
from .core import HANDLED, gather, implements, primitive


def _matmul(a, b, **kwargs):
    if sp.issparse(a) or sp.issparse(b):  # a scipy.sparse matrix: a linear map
        return sparse_operators.matmul(a, b)
    return primitive(primitives.MATMUL, a, b)


HANDLED[np.matmul] = HANDLED[np.linalg.matmul] = _matmul


@implements(np.einsum)
def _einsum(*operands, out=None, optimize=False, **kwargs):
    if not isinstance(operands[0], str):  # interleaved (op, sublist, ..., [out sublist])
        spec, ops = _interleaved(operands)
    else:
        spec, ops = operands[0], operands[1:]
    return primitive(primitives.einsum_primitive(spec, len(ops)), *ops)


def _interleaved(operands):
    """einsum(op0, sublist0, op1, sublist1, ..., [sublistout]) as (subscripts, ops)."""
    ops, subs = list(operands[0::2]), list(operands[1::2])
    out = None
    if len(ops) > len(subs):  # the trailing output sublist sits at an even position
        out = ops.pop()
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def spell(sub):
        return "".join("..." if s is Ellipsis else letters[s] for s in sub)

    spec = ",".join(spell(s) for s in subs)
    return (spec + "->" + spell(out) if out is not None else spec), ops


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


def _conj(a):
    """a, conjugated when complex (vdot, vecdot and vecmat conjugate their first
    argument, correlate its second)."""
    return np.conjugate(a) if np.iscomplexobj(a) else a


@implements(np.vdot)
def _vdot(a, b):
    return np.sum(np.ravel(_conj(a)) * np.ravel(b))


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
    return np.sum(_conj(x1) * x2, axis=axis)


@implements(np.matvec)
def _matvec(x1, x2, /, **kwargs):
    return np.matmul(x1, x2[..., None])[..., 0]


@implements(np.vecmat)
def _vecmat(x1, x2, /, **kwargs):
    return np.matmul(_conj(x1)[..., None, :], x2)[..., 0, :]


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
    return np.convolve(a, _conj(v)[::-1], mode=mode)  # NumPy conjugates v
