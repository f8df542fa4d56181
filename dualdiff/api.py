"""The public drivers: derivatives of plain NumPy functions.

Shapes follow JAX: ``jacobian(f, x).shape == f(x).shape + x.shape``.  ``x`` may be
a Python scalar, a (nested) list or an array of any shape; integers become
float64, float32 stays float32, and x itself is never written.  Results are plain
ndarrays (or a scipy.sparse array for sparse Jacobians).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import hessian as _hessian
from .core import new_tag
from .dual import Dual
from .modes import check_scalar, run_gradient, run_jacobian
from .plans import DenseJacobianPlan, GradientPlan, HessianPlan, HvpPlan
from .reverse import Recording
from .seeding import as_input, check_chunk, check_mode, fresh, unpack
from .sparse import JacobianPlan, detect, sparse_jacobian

ArrayLike = Any
Function = Callable[..., Any]


def jvp(f: Function, x: ArrayLike, v: ArrayLike):
    """Jacobian-vector product in one forward pass: ``(f(x), J(x) v)``.

    >>> y, t = jvp(np.sin, 0.0, 2.0)
    >>> float(y), float(t)
    (0.0, 2.0)
    """
    x = as_input(x)
    v = np.array(np.broadcast_to(np.asarray(v, dtype=x.dtype), np.shape(x)))
    xin = Dual._make(fresh(x), (v[None],), new_tag())
    value, (t,) = unpack(f(xin), xin)
    return value, t[0]


def vjp(f: Function, x: ArrayLike):
    """Vector-Jacobian product by reverse mode: ``(f(x), pullback)``.

    f runs once on a recording carrier; ``pullback(u)`` returns ``u @ J(x)``
    shaped like x, any number of times, and a leading axis on u batches k
    cotangents into one backward sweep.  For a complex output ``u @ J`` is complex
    (linear in complex u; two sweeps, as a reverse Jacobian's complex rows).

    >>> y, pullback = vjp(lambda x: x[0] * x[1], [2.0, 3.0])
    >>> float(y), pullback(1.0).tolist()
    (6.0, [3.0, 2.0])
    """
    rec = Recording(f, as_input(x))
    return rec.value, rec.pullback


def derivative(f: Function, x: ArrayLike):
    """f'(x) for a real scalar x, shaped like f's output.

    >>> float(derivative(lambda x: x**3, 2.0))
    12.0
    """
    x = as_input(x)
    if np.ndim(x) != 0:
        raise ValueError(f"derivative needs a scalar x, got shape {np.shape(x)}; use jacobian")
    return jvp(f, x, 1.0)[1]


def value_and_jacobian(f: Function, x: ArrayLike, mode: str = "auto", chunk: int | None = None):
    """``(f(x), J)`` from the same passes, ``J[i..., j...] = d f_i / d x_j``.

    >>> y, J = value_and_jacobian(lambda x: x**2, np.array([1.0, 3.0]))
    >>> J.tolist()
    [[2.0, 0.0], [0.0, 6.0]]
    """
    return run_jacobian(f, as_input(x), check_mode(mode), check_chunk(chunk))


def jacobian(f: Function, x: ArrayLike, mode: str = "auto", chunk: int | None = None,
             sparsity=None):
    """Jacobian ``J[i..., j...] = d f(x)_i / d x_j`` of shape ``f(x).shape + x.shape``.

    ``mode`` is "forward", "reverse" or "auto" (the cheaper one, decided from the
    sizes: the same call always takes the same path); ``chunk`` is the number of
    directions per pass (default: bounded by a memory budget).  ``sparsity``
    ("auto" or a pattern) returns a scipy.sparse csr_array (m, n) instead.

    >>> jacobian(lambda x: np.array([x[0] * x[1], np.sin(x[0])]), [0.0, 2.0]).tolist()
    [[2.0, 0.0], [1.0, 0.0]]
    """
    if sparsity is not None:
        return sparse_jacobian(f, as_input(x), sparsity=sparsity, mode=check_mode(mode))
    return value_and_jacobian(f, x, mode, chunk)[1]


def gradient(f: Function, x: ArrayLike, mode: str = "auto"):
    """Gradient of a real scalar f, shaped like x: ``g_j = d f / d x_j``.

    >>> gradient(lambda x: np.sum(x**2), [1.0, 2.0]).tolist()
    [2.0, 4.0]
    """
    return run_gradient(f, as_input(x), check_mode(mode))[1]


def value_gradient_and_hessian(f: Function, x: ArrayLike, chunk: int | None = None,
                               method: str = "auto"):
    """``(f(x), gradient, Hessian)`` of a scalar f from the same passes.

    The gradient is shaped like x, the Hessian ``x.shape + x.shape``.
    ``method="hyperdual"``: blocked hyper-duals, ``chunk`` the block size k
    (default bounded by a memory budget), ``p(p+1)/2`` passes with
    ``p = ceil(n / k)``.  ``"forward-over-reverse"``: Dual passes of ``chunk``
    directions over reverse sweeps.  ``"auto"``: hyper-duals when one block
    holds x, else forward-over-reverse (hyper-duals if f uses a rule with no
    reverse form).

    >>> v, g, H = value_gradient_and_hessian(lambda x: x[0] ** 2 * x[1], [3.0, 2.0])
    >>> float(v), g.tolist(), H.tolist()
    (18.0, [12.0, 9.0], [[4.0, 6.0], [6.0, 0.0]])
    """
    return _hessian.value_gradient_and_hessian(f, as_input(x), check_chunk(chunk), method)


def hessian(f: Function, x: ArrayLike, chunk: int | None = None, method: str = "auto"):
    """Hessian ``H[i..., j...] = d^2 f / dx_i dx_j`` of a scalar f, shape ``x.shape * 2``.

    Exact (no step size); symmetric to rounding.  See
    :func:`value_gradient_and_hessian` for ``chunk``, ``method`` and the cost.

    >>> hessian(lambda x: np.sum(x ** 3), [1.0, 2.0]).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    return value_gradient_and_hessian(f, x, chunk, method)[2]


def hvp(f: Function, x: ArrayLike, v: ArrayLike, chunk: int | None = None,
        method: str = "auto"):
    """Hessian-vector product ``H(x) v`` of a scalar f, shaped like x.

    ``"forward-over-reverse"`` (auto's choice for larger n): one Dual pass with
    tangent v over a reverse sweep, about the cost of a gradient, O(n) memory.
    ``"hyperdual"``: each pass seeds ``eps2 = v`` and ``eps1`` with k basis
    directions, ``ceil(n / k)`` passes.

    >>> hvp(lambda x: x[0] ** 2 * x[1], [3.0, 2.0], [1.0, 0.0]).tolist()
    [4.0, 6.0]
    """
    return _hessian.hvp(f, as_input(x), v, check_chunk(chunk), method)


def jacobian_sparsity(f: Function, x: ArrayLike, *args) -> sp.csr_array:
    """Boolean sparsity pattern (m, n) of the Jacobian of f at x, by index-set tracing.

    Never allocates an m x n or n x n dense array.  Selections NumPy can see
    (where, maximum, abs, max, sort, interp) keep every outcome, so for f whose
    structure does not hang on comparisons or branches the pattern holds at every x.

    >>> f = lambda x: np.append(np.sin(x[1:]) * x[:-1], np.sum(x))
    >>> jacobian_sparsity(f, np.ones(3)).toarray().astype(int).tolist()
    [[1, 1, 0], [0, 1, 1], [1, 1, 1]]
    """
    return detect(f, as_input(x), args)[1]


def jacobian_plan(f: Function, x0: ArrayLike, sparsity="auto", mode: str = "auto",
                  args: tuple = ()) -> JacobianPlan | DenseJacobianPlan:
    """Detect (or take) the pattern of f's Jacobian and colour it once; call it at new x.

    The plan re-checks at every call the discrete results (comparisons, branches,
    arg-reductions) its pattern rests on, and detects again where they differ.
    ``sparsity=None``: a dense plan (:class:`dualdiff.plans.DenseJacobianPlan`)
    that records f once and replays the recording's NumPy kernels at each x,
    returning the dense ``f(x).shape + x.shape`` Jacobian.

    >>> f = lambda x: np.append(x[:1], x[1:] - x[:-1])
    >>> plan = jacobian_plan(f, np.zeros(5))
    >>> plan.ncolors, plan(np.ones(5)).toarray()[1].tolist()
    (2, [-1.0, 1.0, 0.0, 0.0, 0.0])
    """
    if sparsity is None:
        return DenseJacobianPlan(f, x0, mode=mode, args=args)
    return JacobianPlan(f, x0, sparsity=sparsity, mode=mode, args=args)


def gradient_plan(f: Function, x0: ArrayLike, args: tuple = ()) -> GradientPlan:
    """Record a real scalar f once at x0; ``plan(x, *args)`` is its gradient at x, replayed
    without carriers (see :mod:`dualdiff.plans`; never stale: it re-records where a
    discrete result of f differs).  Drops into ``scipy.optimize.minimize(jac=plan)``.

    >>> plan = gradient_plan(lambda x: np.sum(x ** 2), [0.0, 0.0])
    >>> plan([1.0, 2.0]).tolist()
    [2.0, 4.0]
    """
    return GradientPlan(f, x0, args)


def hessian_plan(f: Function, x0: ArrayLike, args: tuple = ()) -> HessianPlan:
    """Record the gradient of a real scalar f once at x0; ``plan(x, *args)`` is its
    Hessian at x (``minimize(hess=plan)``).

    >>> hessian_plan(lambda x: x[0] ** 2 * x[1], [1.0, 1.0])([3.0, 2.0]).tolist()
    [[4.0, 6.0], [6.0, 0.0]]
    """
    return HessianPlan(f, x0, args)


def hvp_plan(f: Function, x0: ArrayLike, args: tuple = ()) -> HvpPlan:
    """Record the gradient of a real scalar f once at x0; ``plan(x, v, *args)`` is the
    Hessian-vector product H(x) v (``minimize(hessp=plan)``).

    >>> hvp_plan(lambda x: x[0] * x[1], [0.0, 0.0])([1.0, 1.0], [1.0, 0.0]).tolist()
    [0.0, 1.0]
    """
    return HvpPlan(f, x0, args)


__all__ = ["jvp", "vjp", "derivative", "value_and_jacobian", "jacobian", "gradient",
           "value_gradient_and_hessian", "hessian", "hvp", "jacobian_sparsity",
           "jacobian_plan", "gradient_plan", "hessian_plan", "hvp_plan", "check_scalar"]
