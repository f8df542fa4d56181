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

from .carrier import new_tag, primal
from .drivers import (
    ArrayLike,
    Function,
    as_input,
    basis_seeds,
    check_chunk,
    check_scalar,
    forward_columns,
    jvp,
    unpack,
    vjp,
)
from .hyperdual import HyperDual, zero
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


def _gradient_recorder(f: Function, what: str):
    """z -> gradient of f at z by one reverse sweep; f's value is kept in ``.value``."""
    def gradient_of_f(z):
        y, pullback = vjp(f, z)
        check_scalar(y, what)
        gradient_of_f.value = y
        return pullback(np.ones(()))

    return gradient_of_f


def _method(method: str, n: int, k: int) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "auto":
        return "hyperdual" if n <= k else "forward-over-reverse"
    return method


def value_gradient_and_hessian(f: Function, x: ArrayLike, chunk: int | None = None,
                               method: str = "auto"):
    """``(f(x), gradient, Hessian)`` of a scalar f from the same passes.

    The gradient is shaped like x, the Hessian ``x.shape + x.shape``.
    ``method="hyperdual"``: blocked hyper-duals, ``chunk`` the block size k
    (default bounded by :data:`HESSIAN_BUDGET`), ``p(p+1)/2`` passes with
    ``p = ceil(n / k)``.  ``"forward-over-reverse"``: Dual passes of ``chunk``
    directions over reverse sweeps.  ``"auto"``: hyper-duals when one block
    holds x, else forward-over-reverse (hyper-duals if f uses a rule with no
    reverse form).

    >>> import numpy as np
    >>> v, g, H = value_gradient_and_hessian(lambda x: x[0] ** 2 * x[1], [3.0, 2.0])
    >>> float(v), g.tolist(), H.tolist()
    (18.0, [12.0, 9.0], [[4.0, 6.0], [6.0, 0.0]])
    """
    x = as_input(x)
    shape, n = np.shape(x), int(np.prod(np.shape(x)))
    chunk = check_chunk(chunk)
    if _method(method, n, chunk or hessian_chunk(n)) == "forward-over-reverse":
        grad_f = _gradient_recorder(f, "hessian")
        try:
            grad, hess = forward_columns(grad_f, x, chunk)
        except NoReverseRule:
            if method != "auto":
                raise
        else:
            return primal(grad_f.value)[()], grad, hess
    k = chunk or hessian_chunk(n)
    blocks = _blocks(n, k)
    rows: list = [[None] * len(blocks) for _ in blocks]
    grad: list = [None] * len(blocks)
    value = None
    for i, (si, ki) in enumerate(blocks):
        seed_i = basis_seeds(n, si, ki, shape)
        for j in range(i, len(blocks)):
            sj, kj = blocks[j]
            seed_j = seed_i if j == i else basis_seeds(n, sj, kj, shape)
            tag = new_tag()
            y = f(HyperDual._new(x, seed_i, seed_j, zero((ki, kj) + shape), tag))
            value, (g_i, g_j, h) = unpack(y, HyperDual, tag, (ki, kj))
            check_scalar(value, "hessian")
            rows[i][j] = h
            if j != i:
                rows[j][i] = np.swapaxes(h, 0, 1)
            grad[i], grad[j] = g_i, g_j
    hess = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    grad = np.concatenate(grad)
    return value, np.reshape(grad, shape), np.reshape(hess, shape + shape)


def hessian(f: Function, x: ArrayLike, chunk: int | None = None, method: str = "auto"):
    """Hessian ``H[i..., j...] = d^2 f / dx_i dx_j`` of a scalar f, shape ``x.shape * 2``.

    Exact (no step size); symmetric to rounding.  See
    :func:`value_gradient_and_hessian` for ``chunk`` and the cost.

    >>> import numpy as np
    >>> hessian(lambda x: np.sum(x ** 3), [1.0, 2.0]).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    return value_gradient_and_hessian(f, x, chunk, method)[2]


def hvp(f: Function, x: ArrayLike, v: ArrayLike, chunk: int | None = None,
        method: str = "auto"):
    """Hessian-vector product ``H(x) v`` of a scalar f, shaped like x.

    ``"forward-over-reverse"`` (auto's choice past :data:`HVP_HYPERDUAL_MAX`): one Dual pass with
    tangent v over a reverse sweep, about the cost of a gradient, O(n) memory.
    ``"hyperdual"``: each pass seeds ``eps2 = v`` and ``eps1`` with k basis
    directions, k entries of ``H v`` per pass in memory O(k n) (k bounded by
    :data:`HVP_BUDGET`), ``ceil(n / k)`` passes.

    >>> import numpy as np
    >>> hvp(lambda x: x[0] ** 2 * x[1], [3.0, 2.0], [1.0, 0.0]).tolist()
    [4.0, 6.0]
    """
    x = as_input(x)
    shape, n = np.shape(x), int(np.prod(np.shape(x)))
    k = check_chunk(chunk) or max(1, min(n, HVP_BUDGET // (8 * max(n, 1))))
    if _method(method, n, HVP_HYPERDUAL_MAX) == "forward-over-reverse":
        try:
            return jvp(_gradient_recorder(f, "hvp"), x, v)[1]
        except NoReverseRule:
            if method != "auto":
                raise
    v = np.broadcast_to(np.asarray(v, dtype=float), shape)[None]
    out = []
    for s, kk in _blocks(n, k):
        tag = new_tag()
        y = f(HyperDual._new(x, basis_seeds(n, s, kk, shape), v, zero((kk, 1) + shape), tag))
        value, (_, _, h) = unpack(y, HyperDual, tag, (kk, 1))
        check_scalar(value, "hvp")
        out.append(h[:, 0])
    return np.reshape(np.concatenate(out), shape)
