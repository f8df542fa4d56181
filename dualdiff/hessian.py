"""Second-order drivers: Hessians and Hessian-vector products with hyper-duals.

A pass seeds ``eps1`` with the basis block I (k_I directions), ``eps2`` with
block J and ``eps12 = 0``; the e1e2 part of the scalar output is then the
block ``H[I, J]``, and the e1 / e2 parts are the gradient blocks ``g[I]`` /
``g[J]``.  As H is symmetric only the p(p+1)/2 blocks with I <= J are run
(p = ceil(n / k)); k is bounded by a memory budget on the k x k x n cross
part (blocked hyper-duals as in HyperHessians.jl).

Past one block, ``method="auto"`` switches to forward-over-reverse: a Dual pass
(k directions) over a reverse sweep gives k Hessian columns for about the cost
of k gradients, and ``H v`` for one gradient's cost in O(n) memory.  Measured
on Rosenbrock (``python -m dualdiff bench --section hessian``): n = 1000,
0.18 s instead of 7 s; hyper-duals stay exact, and win for a single block.
"""

from __future__ import annotations

import math

import numpy as np

from . import fanout
from .arrays import zeros
from .core import new_tag
from .dual import Dual
from .hyperdual import HyperDual
from .modes import check_scalar, forward_jacobian
from .reverse import Recording
from .seeding import basis_seeds, default_chunk, fresh, unpack
from .tape import NoReverseRule

METHODS = ("auto", "hyperdual", "forward-over-reverse")

#: Bytes the k x k cross part of a Hessian pass may take; bounds the default block.
HESSIAN_BUDGET = 2**21
#: Bytes the k x n cross part of a Hessian-vector pass may take.
HVP_BUDGET = 2**24
#: hvp's auto uses hyper-duals up to this n: their cost grows like n f, the
#: reverse sweep's stays a few f (Rosenbrock: 0.40 vs 0.77 ms at n = 100).
HVP_HYPERDUAL_MAX = 128


def hessian_chunk(n: int) -> int:
    """Directions per block: the largest k with ``8 k^2 n <= HESSIAN_BUDGET`` (at least 1).

    >>> hessian_chunk(10), hessian_chunk(1000)
    (10, 16)
    """
    return max(1, min(n, math.isqrt(HESSIAN_BUDGET // (8 * max(n, 1)))))


def _blocks(n: int, k: int) -> list:
    return [(s, min(k, n - s)) for s in range(0, n, k)] or [(0, 0)]


def _gradient_recorder(f, what: str):
    """z -> gradient of f at z by one reverse sweep; f's value is kept in ``.value`` with
    the forward pass's own perturbation taken off (outer ones stay)."""
    def gradient_of_f(z):
        rec = Recording(f, z)
        check_scalar(rec.value, what)
        y = rec.value
        gradient_of_f.value = y.value if isinstance(y, Dual) and y.tag == z.tag else y
        return rec.sweep(np.ones((1,), np.result_type(rec.x_dtype)))[0]

    return gradient_of_f


def _method(method: str, n: int, k: int) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "auto":
        return "hyperdual" if n <= k else "forward-over-reverse"
    return method


class ValueAndGradient:
    """``z -> [f(z), *gradient of f at z]`` (flat) by one reverse sweep: a Dual pass
    over it gives the gradient and k Hessian columns (forward-over-reverse).  f's
    value comes without the forward pass's own perturbation (outer ones stay).  A
    module-level class, so it pickles (to executors) whenever f does.

    >>> ValueAndGradient(lambda x: np.sum(x ** 2))(np.array([1.0, 2.0])).tolist()
    [5.0, 2.0, 4.0]
    """

    def __init__(self, f, what: str = "hessian"):
        self.f, self.what = f, what

    def __call__(self, z):
        rec = Recording(self.f, z)
        check_scalar(rec.value, self.what)
        y = rec.value
        y = y.value if isinstance(y, Dual) and y.tag == z.tag else y
        g = rec.sweep(np.ones((1,), np.result_type(rec.x_dtype)))[0]
        return np.concatenate([np.reshape(y, (1,)), np.reshape(g, (-1,))])


def hyperdual_block(f, x, si: int, ki: int, sj: int, kj: int):
    """One hyper-dual pass: ``(f(x), g[I], g[J], H[I, J])`` for the index blocks
    I = si .. si + ki - 1 and J = sj .. sj + kj - 1.

    >>> hyperdual_block(lambda x: x[0] ** 2 * x[1], np.array([3.0, 2.0]), 0, 1, 1, 1)[3]
    array([[6.]])
    """
    shape, n = np.shape(x), math.prod(np.shape(x))
    seed_i = basis_seeds(n, si, ki, shape, x.dtype)
    seed_j = seed_i.copy() if (si, ki) == (sj, kj) else basis_seeds(n, sj, kj, shape, x.dtype)
    xin = HyperDual._make(fresh(x), (seed_i, seed_j, zeros((ki * kj,) + shape, x.dtype)),
                          new_tag())
    value, (g_i, g_j, h) = unpack(f(xin), xin)
    check_scalar(value, "hessian")
    return value, g_i, g_j, np.reshape(h, (ki, kj))


def value_gradient_and_hessian(f, x, chunk: int | None = None, method: str = "auto",
                               executor=None):
    """``(f(x), gradient, Hessian)`` of a scalar f at an input array x (see
    :func:`dualdiff.value_gradient_and_hessian`); the passes on ``executor`` when given."""
    shape, n = np.shape(x), int(np.prod(np.shape(x)))
    if _method(method, n, chunk or hessian_chunk(n)) == "forward-over-reverse":
        try:
            # the pass returns n + 1 values: fix the chunk for that size up front
            out, jac = forward_jacobian(ValueAndGradient(f), x, chunk or default_chunk(n, n + 1),
                                        executor)
        except NoReverseRule:
            if method != "auto":
                raise
        else:
            return out[0], np.reshape(out[1:], shape), np.reshape(jac[1:], shape + shape)
    k = chunk or hessian_chunk(n)
    blocks = _blocks(n, k)
    pairs = [(i, j) for i in range(len(blocks)) for j in range(i, len(blocks))]
    results = fanout.run(executor, hyperdual_block,
                         [(f, x) + blocks[i] + blocks[j] for i, j in pairs])
    rows: list = [[None] * len(blocks) for _ in blocks]
    grad: list = [None] * len(blocks)
    value = results[0][0]
    for (i, j), (_, g_i, g_j, h) in zip(pairs, results):
        rows[i][j] = h
        if j != i:
            rows[j][i] = np.swapaxes(h, 0, 1)
        grad[i], grad[j] = g_i, g_j
    hess = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    grad = np.concatenate(grad)
    return value, np.reshape(grad, shape), np.reshape(hess, shape + shape)


def hvp(f, x, v, chunk: int | None = None, method: str = "auto"):
    """``H(x) v`` of a scalar f at an input array x (see :func:`dualdiff.hvp`)."""
    shape, n = np.shape(x), int(np.prod(np.shape(x)))
    k = chunk or max(1, min(n, HVP_BUDGET // (8 * max(n, 1))))
    v = np.array(np.broadcast_to(np.asarray(v, dtype=x.dtype), shape))
    if _method(method, n, HVP_HYPERDUAL_MAX) == "forward-over-reverse":
        try:
            grad_f = _gradient_recorder(f, "hvp")
            xin = Dual._make(fresh(x), (v[None].copy(),), new_tag())
            return unpack(grad_f(xin), xin)[1][0][0]
        except NoReverseRule:
            if method != "auto":
                raise
    out = []
    for s, kk in _blocks(n, k):
        seeds = (basis_seeds(n, s, kk, shape, x.dtype), v[None].copy(),
                 zeros((kk,) + shape, x.dtype))
        xin = HyperDual._make(fresh(x), seeds, new_tag())
        value, (_, _, h) = unpack(f(xin), xin)
        check_scalar(value, "hvp")
        out.append(np.reshape(h, (kk,)))
    return np.reshape(np.concatenate(out), shape)
