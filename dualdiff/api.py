"""The public drivers: derivatives of plain NumPy functions.

Shapes follow JAX: ``jacobian(f, x).shape == f(x).shape + x.shape``.  ``x`` may be
a Python scalar, a (nested) list or an array of any shape, or a structure (dict, tuple,
list of arrays, nested; see :mod:`dualdiff.pytrees`), and f may return one: results then
have f's structure outside and x's inside.  Integers become float64, float32 stays float32
(derivatives in float32), and x itself is never written.  Results are plain ndarrays (or a
scipy.sparse array for sparse Jacobians).

Every driver takes ``args=()`` and ``kwargs=None`` (SciPy's convention: f(x, *args,
**kwargs) is differentiated in x), ``argnums`` (JAX's: which positional arguments of f,
given as the tuple x, are differentiated) and, where f's value is returned or dropped,
``has_aux`` (f returns ``(output, aux)``; aux comes back undifferentiated, as in JAX).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import hessian as _hessian
from .core import new_tag
from .dual import Dual
from .fanout import check_executor
from .modes import check_scalar, run_gradient, run_jacobian
from .plans import DenseJacobianPlan, GradientPlan, HessianPlan, HvpPlan
from .pytrees import Problem
from .reverse import Recording
from .seeding import check_chunk, check_mode, fresh, unpack
from .sparse import JacobianPlan, detect, sparse_jacobian
from .sparse_hessian import detect as detect_hessian
from .sparse_hessian import sparse_hessian

ArrayLike = Any
Function = Callable[..., Any]


def _with_kwargs(f, kwargs):
    return functools.partial(f, **kwargs) if kwargs else f


def _problem(f, x, args, kwargs, argnums=None, has_aux=False) -> Problem:
    return Problem(f, x, args, kwargs, argnums, has_aux)


class _scalar:
    """Context: a non-scalar error from a structured output of f names the structure (a
    forgotten has_aux is the likely cause)."""

    def __init__(self, p: Problem, what: str):
        self.p, self.what = p, what

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if kind is ValueError and self.p.out is not None and "scalar-valued" in str(err):
            raise ValueError(
                f"{self.what} needs a scalar-valued f, but f returned a "
                f"{self.p.out.describe()}; if f returns (value, auxiliary data), pass "
                f"has_aux=True; for several outputs use jacobian.") from None
        return False


def jvp(f: Function, x: ArrayLike, v: ArrayLike, *, args: tuple = (), kwargs=None,
        argnums=None, has_aux: bool = False):
    """Jacobian-vector product in one forward pass: ``(f(x), J(x) v)``, and aux last
    with ``has_aux``.  v has x's structure; the results have f's.

    >>> y, t = jvp(np.sin, 0.0, 2.0)
    >>> float(y), float(t)
    (0.0, 2.0)
    """
    p = _problem(f, x, args, kwargs, argnums, has_aux)
    v = p.tangent(v)
    xin = Dual._make(fresh(p.x), (v[None],), new_tag())
    value, (t,) = unpack(p.fn(xin), xin)
    out = (p.output(value), p.output(t[0]))
    return out + (p.aux,) if has_aux else out


def vjp(f: Function, x: ArrayLike, *, args: tuple = (), kwargs=None, argnums=None,
        has_aux: bool = False):
    """Vector-Jacobian product by reverse mode: ``(f(x), pullback)`` (and aux last with
    ``has_aux``).

    f runs once on a recording carrier; ``pullback(u)`` returns ``u @ J(x)``
    shaped like x, any number of times, and a leading axis on u (on every leaf of a
    structured output) batches k cotangents into one backward sweep.  For a complex
    output ``u @ J`` is complex (linear in complex u; two sweeps, as a reverse Jacobian's
    complex rows).

    >>> y, pullback = vjp(lambda x: x[0] * x[1], [2.0, 3.0])
    >>> float(y), pullback(1.0).tolist()
    (6.0, [3.0, 2.0])
    """
    p = _problem(f, x, args, kwargs, argnums, has_aux)
    rec = Recording(p.fn, p.x)

    def pullback(u):
        u = p.cotangent(u)
        lead = np.ndim(u) - len(rec.y_shape)
        return p.input(rec.pullback(u), lead)

    pullback.__doc__ = "``u @ J(x)`` shaped like x; a leading axis on u batches cotangents."
    out = (p.output(rec.value), pullback)
    return out + (p.aux,) if has_aux else out


def derivative(f: Function, x: ArrayLike, *, args: tuple = (), kwargs=None,
               has_aux: bool = False):
    """f'(x) for a real scalar x, shaped like f's output (``(f'(x), aux)`` with has_aux).

    >>> float(derivative(lambda x: x**3, 2.0))
    12.0
    >>> float(derivative(lambda x, a: a * x**2, 3.0, args=(0.5,)))
    3.0
    """
    p = _problem(f, x, args, kwargs, None, has_aux)
    if p.inp is not None or np.ndim(p.x) != 0:
        raise ValueError(f"derivative needs a scalar x, got "
                         f"{'a structure' if p.inp is not None else f'shape {np.shape(p.x)}'}"
                         f"; use jacobian")
    xin = Dual._make(fresh(p.x), (np.ones((1,), p.x.dtype),), new_tag())
    value, (t,) = unpack(p.fn(xin), xin)
    return p.with_aux(p.output(t[0]))


def value_and_jacobian(f: Function, x: ArrayLike, mode: str = "auto", chunk: int | None = None,
                       *, args: tuple = (), kwargs=None, argnums=None,
                       has_aux: bool = False, executor=None):
    """``(f(x), J)`` from the same passes, ``J[i..., j...] = d f_i / d x_j``; with
    ``has_aux`` ``((f(x), aux), J)``.  ``executor``: see :func:`jacobian`.

    >>> y, J = value_and_jacobian(lambda x: x**2, np.array([1.0, 3.0]))
    >>> J.tolist()
    [[2.0, 0.0], [0.0, 6.0]]
    """
    p = _problem(f, x, args, kwargs, argnums, has_aux)
    check_executor(executor)
    value, jac = run_jacobian(p.fn, p.x, check_mode(mode), check_chunk(chunk), memo=f,
                              executor=executor)
    return p.with_aux(p.output(value)), p.jacobian(jac)


def jacobian(f: Function, x: ArrayLike, mode: str = "auto", chunk: int | None = None,
             sparsity=None, *, args: tuple = (), kwargs=None, argnums=None,
             has_aux: bool = False, executor=None):
    """Jacobian ``J[i..., j...] = d f(x)_i / d x_j`` of shape ``f(x).shape + x.shape``
    (``(J, aux)`` with has_aux).

    ``mode`` is "forward", "reverse" or "auto" (the cheaper one, decided from the
    sizes: the same call always takes the same path); ``chunk`` is the number of
    directions per pass (default: bounded by a memory budget).  ``sparsity``
    ("auto" or a pattern) returns a scipy.sparse csr_array (m, n) instead (over the
    flattened leaves when x or f(x) is a structure).  Structures: ``J[out][in]``.
    ``executor`` (any ``concurrent.futures.Executor``): the passes run there, with
    the same bits as without (a process pool needs a picklable, module-level f;
    see :mod:`dualdiff.fanout`).

    >>> jacobian(lambda x: np.array([x[0] * x[1], np.sin(x[0])]), [0.0, 2.0]).tolist()
    [[2.0, 0.0], [1.0, 0.0]]
    >>> J = jacobian(lambda t: {"y": t["a"] * t["b"]}, {"a": np.ones(2), "b": 3.0})
    >>> J["y"]["a"].tolist(), J["y"]["b"].tolist()
    ([[3.0, 0.0], [0.0, 3.0]], [1.0, 1.0])
    """
    if sparsity is not None:
        p = _problem(f, x, args, kwargs, argnums, has_aux)
        check_executor(executor)
        return p.with_aux(sparse_jacobian(p.fn, p.x, sparsity=sparsity, mode=check_mode(mode),
                                          executor=executor))
    value, jac = value_and_jacobian(f, x, mode, chunk, args=args, kwargs=kwargs,
                                    argnums=argnums, has_aux=has_aux, executor=executor)
    return (jac, value[1]) if has_aux else jac


def value_and_gradient(f: Function, x: ArrayLike, mode: str = "auto", *, args: tuple = (),
                       kwargs=None, argnums=None, has_aux: bool = False):
    """``(f(x), gradient)`` of a real scalar f from the same passes; the gradient has x's
    structure.  With ``has_aux``: ``((f(x), aux), gradient)`` (JAX's value_and_grad).

    >>> v, g = value_and_gradient(lambda x: np.sum(x**2), [1.0, 2.0])
    >>> float(v), g.tolist()
    (5.0, [2.0, 4.0])
    """
    p = _problem(f, x, args, kwargs, argnums, has_aux)
    with _scalar(p, "gradient"):
        value, grad = run_gradient(p.fn, p.x, check_mode(mode), memo=f)
    return p.with_aux(value), p.input(grad)


def gradient(f: Function, x: ArrayLike, mode: str = "auto", *, args: tuple = (),
             kwargs=None, argnums=None, has_aux: bool = False):
    """Gradient of a real scalar f, shaped like x: ``g_j = d f / d x_j`` (``(g, aux)``
    with has_aux).

    >>> gradient(lambda x: np.sum(x**2), [1.0, 2.0]).tolist()
    [2.0, 4.0]
    >>> g = gradient(lambda a, b: np.sum(a * b), (np.ones(2), 3.0), argnums=(0, 1))
    >>> g[0].tolist(), float(g[1])
    ([3.0, 3.0], 2.0)
    """
    value, grad = value_and_gradient(f, x, mode, args=args, kwargs=kwargs, argnums=argnums,
                                     has_aux=has_aux)
    return (grad, value[1]) if has_aux else grad


def value_gradient_and_hessian(f: Function, x: ArrayLike, chunk: int | None = None,
                               method: str = "auto", *, args: tuple = (), kwargs=None,
                               argnums=None, has_aux: bool = False, executor=None):
    """``(f(x), gradient, Hessian)`` of a scalar f from the same passes (the value is
    ``(f(x), aux)`` with has_aux).

    The gradient is shaped like x, the Hessian ``x.shape + x.shape`` (x's structure of
    x's structures).  ``method="hyperdual"``: blocked hyper-duals, ``chunk`` the block
    size k (default bounded by a memory budget), ``p(p+1)/2`` passes with
    ``p = ceil(n / k)``.  ``"forward-over-reverse"``: Dual passes of ``chunk``
    directions over reverse sweeps.  ``"auto"``: hyper-duals when one block
    holds x, else forward-over-reverse (hyper-duals if f uses a rule with no
    reverse form).  ``executor``: the passes (blocks, or chunks of directions) run
    there, same bits (see :func:`jacobian`).

    >>> v, g, H = value_gradient_and_hessian(lambda x: x[0] ** 2 * x[1], [3.0, 2.0])
    >>> float(v), g.tolist(), H.tolist()
    (18.0, [12.0, 9.0], [[4.0, 6.0], [6.0, 0.0]])
    """
    p = _problem(f, x, args, kwargs, argnums, has_aux)
    check_executor(executor)
    with _scalar(p, "hessian"):
        value, grad, hess = _hessian.value_gradient_and_hessian(p.fn, p.x, check_chunk(chunk),
                                                                method, executor)
    return p.with_aux(value), p.input(grad), p.hessian(hess)


def hessian(f: Function, x: ArrayLike, chunk: int | None = None, method: str = "auto",
            sparsity=None, *, args: tuple = (), kwargs=None, argnums=None,
            has_aux: bool = False, executor=None):
    """Hessian ``H[i..., j...] = d^2 f / dx_i dx_j`` of a scalar f, shape ``x.shape * 2``
    (``(H, aux)`` with has_aux).

    Exact (no step size); symmetric to rounding.  See
    :func:`value_gradient_and_hessian` for ``chunk``, ``method`` and the cost.
    ``sparsity`` ("auto" or a pattern) returns a scipy.sparse csr_array (n, n): the
    pattern detected (or given), star-coloured, and read from forward-over-reverse
    passes of one Hessian-vector product per colour (``chunk`` colours per pass; see
    :mod:`dualdiff.sparse_hessian`).  ``executor``: the passes run there, same bits.

    >>> hessian(lambda x: np.sum(x ** 3), [1.0, 2.0]).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    >>> hessian(lambda x: np.sum(x[1:] * x[:-1]), np.ones(3), sparsity="auto").nnz
    4
    """
    if sparsity is not None:
        if method not in ("auto", "forward-over-reverse"):
            raise ValueError(f"hessian(..., sparsity=...) computes H S by forward-over-reverse "
                             f"passes; method={method!r} is not available with sparsity")
        p = _problem(f, x, args, kwargs, argnums, has_aux)
        check_executor(executor)
        with _scalar(p, "hessian"):
            H = sparse_hessian(p.fn, p.x, sparsity=sparsity, executor=executor,
                               chunk=check_chunk(chunk))
        return p.with_aux(H)
    value, _, hess = value_gradient_and_hessian(f, x, chunk, method, args=args, kwargs=kwargs,
                                                argnums=argnums, has_aux=has_aux,
                                                executor=executor)
    return (hess, value[1]) if has_aux else hess


def hvp(f: Function, x: ArrayLike, v: ArrayLike, chunk: int | None = None,
        method: str = "auto", *, args: tuple = (), kwargs=None, argnums=None,
        has_aux: bool = False):
    """Hessian-vector product ``H(x) v`` of a scalar f, shaped like x (``(Hv, aux)``
    with has_aux).

    ``"forward-over-reverse"`` (auto's choice for larger n): one Dual pass with
    tangent v over a reverse sweep, about the cost of a gradient, O(n) memory.
    ``"hyperdual"``: each pass seeds ``eps2 = v`` and ``eps1`` with k basis
    directions, ``ceil(n / k)`` passes.

    >>> hvp(lambda x: x[0] ** 2 * x[1], [3.0, 2.0], [1.0, 0.0]).tolist()
    [4.0, 6.0]
    """
    p = _problem(f, x, args, kwargs, argnums, has_aux)
    with _scalar(p, "hvp"):
        out = _hessian.hvp(p.fn, p.x, p.tangent(v), check_chunk(chunk), method)
    return p.with_aux(p.input(out))


def jacobian_sparsity(f: Function, x: ArrayLike, args: tuple = (), kwargs=None,
                      argnums=None) -> sp.csr_array:
    """Boolean sparsity pattern (m, n) of the Jacobian of f at x, by index-set tracing
    (over the flattened leaves when x or f(x) is a structure).

    Never allocates an m x n or n x n dense array.  Selections NumPy can see
    (where, maximum, abs, max, sort, interp) keep every outcome, so for f whose
    structure does not hang on comparisons or branches the pattern holds at every x.

    >>> f = lambda x: np.append(np.sin(x[1:]) * x[:-1], np.sum(x))
    >>> jacobian_sparsity(f, np.ones(3)).toarray().astype(int).tolist()
    [[1, 1, 0], [0, 1, 1], [1, 1, 1]]
    """
    p = _problem(f, x, args, kwargs, argnums)
    return detect(p.fn, p.x)[1]


def hessian_sparsity(f: Function, x: ArrayLike, args: tuple = (), kwargs=None,
                     argnums=None) -> sp.csr_array:
    """Symmetric boolean pattern (n, n) of the Hessian of a scalar f at x, by tracing which
    inputs each non-linear operation couples (a superset of the true pattern, exact on
    branch-free code; see :mod:`dualdiff.sparse_hessian`).

    >>> f = lambda x: np.sum(np.exp(x[1:] - x[:-1])) + x[0] * x[-1]
    >>> hessian_sparsity(f, np.ones(4)).toarray().astype(int).tolist()
    [[1, 1, 0, 1], [1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 1, 1]]
    """
    p = _problem(f, x, args, kwargs, argnums)
    return detect_hessian(p.fn, p.x)[1]


def jacobian_plan(f: Function, x0: ArrayLike, sparsity="auto", mode: str = "auto",
                  args: tuple = (), kwargs=None, executor=None) -> JacobianPlan | DenseJacobianPlan:
    """Detect (or take) the pattern of f's Jacobian and colour it once; call it at new x.

    ``plan(x, *args)`` (x of x0's structure) returns the csr_array (m, n).  The plan
    re-checks at every call the discrete results (comparisons, branches, arg-reductions)
    its pattern rests on, and detects again where they differ.
    ``sparsity=None``: a dense plan (:class:`dualdiff.plans.DenseJacobianPlan`)
    that records f once and replays the recording's NumPy kernels at each x,
    returning the dense ``f(x).shape + x.shape`` Jacobian.

    >>> f = lambda x: np.append(x[:1], x[1:] - x[:-1])
    >>> plan = jacobian_plan(f, np.zeros(5))
    >>> plan.ncolors, plan(np.ones(5)).toarray()[1].tolist()
    (2, [-1.0, 1.0, 0.0, 0.0, 0.0])
    """
    if sparsity is None:
        return DenseJacobianPlan(_with_kwargs(f, kwargs), x0, mode=mode, args=args)
    return JacobianPlan(f, x0, sparsity=sparsity, mode=mode, args=args, kwargs=kwargs,
                        executor=executor)


def gradient_plan(f: Function, x0: ArrayLike, args: tuple = ()) -> GradientPlan:
    """Record a real scalar f once at x0; ``plan(x, *args)`` is its gradient at x, replayed
    without carriers (see :mod:`dualdiff.plans`; never stale: it re-records where a
    discrete result of f differs).  Drops into ``scipy.optimize.minimize(jac=plan)``.

    >>> plan = gradient_plan(lambda x: np.sum(x ** 2), [0.0, 0.0])
    >>> plan([1.0, 2.0]).tolist()
    [2.0, 4.0]
    """
    return GradientPlan(f, x0, args)


def hessian_plan(f: Function, x0: ArrayLike, args: tuple = (), sparsity=None) -> HessianPlan:
    """Record the gradient of a real scalar f once at x0; ``plan(x, *args)`` is its
    Hessian at x (``minimize(hess=plan)``).  With ``sparsity="auto"`` (or a pattern) the
    plan star-colours the Hessian's pattern, replays one direction per colour and
    returns a scipy.sparse csr_array (the bits of ``hessian(f, x, sparsity=...)``).

    >>> hessian_plan(lambda x: x[0] ** 2 * x[1], [1.0, 1.0])([3.0, 2.0]).tolist()
    [[4.0, 6.0], [6.0, 0.0]]
    >>> hessian_plan(lambda x: np.sum(x ** 3), [1.0, 1.0], sparsity="auto")([1.0, 2.0]).nnz
    2
    """
    return HessianPlan(f, x0, args, sparsity)


def hvp_plan(f: Function, x0: ArrayLike, args: tuple = ()) -> HvpPlan:
    """Record the gradient of a real scalar f once at x0; ``plan(x, v, *args)`` is the
    Hessian-vector product H(x) v (``minimize(hessp=plan)``).

    >>> hvp_plan(lambda x: x[0] * x[1], [0.0, 0.0])([1.0, 1.0], [1.0, 0.0]).tolist()
    [0.0, 1.0]
    """
    return HvpPlan(f, x0, args)


__all__ = ["jvp", "vjp", "derivative", "value_and_jacobian", "jacobian", "gradient",
           "value_and_gradient", "value_gradient_and_hessian", "hessian", "hvp",
           "jacobian_sparsity", "hessian_sparsity", "jacobian_plan", "gradient_plan",
           "hessian_plan", "hvp_plan", "check_scalar"]
