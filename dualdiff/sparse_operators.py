"""scipy.sparse matrices as linear maps on dualdiff arrays: ``A @ x``, ``x @ A``,
``A.dot(x)`` and ``A * x`` (``spmatrix``), and ``spsolve(A, b)``.

A is a constant (csr/csc/coo/dia/..., ``sparray`` or ``spmatrix``) and never densified.
``y = A @ x`` is a :class:`~dualdiff.primitives.Primitive` whose rules apply A to all k
directions at once: tangents ``A @ T`` along x's first axis, cotangents ``A^T @ U``, the
sparsity pattern A's own (``kron(A, I)`` for a matrix x); ``x @ A`` is the transpose.  The
rules call ``A @ ...`` themselves, so nested carriers (hyper-duals, Hessians by
forward-over-reverse) go through the same map.

SciPy converts an unknown right operand with ``np.asanyarray``; a dualdiff array answers
that call from SciPy's matmul dispatch with an opaque object, so SciPy returns
NotImplemented and Python hands ``A @ x`` to the dualdiff array (see
:meth:`dualdiff.core.Carrier.__array__`).

``spsolve(A, b)`` with a dualdiff b (A constant): ``x = A^-1 b``, ``dx = A^-1 db`` and
``b_bar = A^-T x_bar``, all from one sparse LU factorisation of A.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .core import find_owner, primitive
from .primitives import Primitive


def _apply(S, t, axis: int):
    """``S @`` along ``axis`` of t (whose length is S's column count), every other axis
    batched into one sparse product: never a dense S, never a loop over directions."""
    t = np.moveaxis(t, axis, 0)
    shape = np.shape(t)
    out = S @ np.reshape(t, (shape[0], -1))
    return np.moveaxis(np.reshape(out, (S.shape[0],) + shape[1:]), 0, axis)


def _pattern(A) -> sp.csr_array:
    """A's nonzeros as a boolean csr_array (a copy: A's own index arrays stay as they are)."""
    p = sp.csr_array(A).astype(bool, copy=True)
    p.eliminate_zeros()
    return p


def matmul_primitive(A, left: bool, ndim: int) -> Primitive:
    """The Primitive ``x -> A @ x`` (left) or ``x -> x @ A`` for an x of ``ndim`` (1, 2).

    >>> from dualdiff import Dual
    >>> A = sp.csr_array(np.array([[1.0, 2.0], [0.0, 3.0]]))
    >>> primitive(matmul_primitive(A, True, 1), Dual(np.ones(2), np.eye(2))).tangent.tolist()
    [[1.0, 0.0], [2.0, 3.0]]
    """
    AT = A.T

    if left:
        def fn(v):
            return A @ v

        def jvp(out, primals, tangents):
            return _apply(A, tangents[0], 1)

        def vjp(out, primals, u, needs):
            return (_apply(AT, u, 1),)
    else:
        def fn(v):
            return v @ A

        def jvp(out, primals, tangents):
            return _apply(AT, tangents[0], tangents[0].ndim - 1)

        def vjp(out, primals, u, needs):
            return (_apply(A, u, u.ndim - 1),)

    def structure(out, primals, masks, live):
        p = _pattern(A if left else AT)
        if ndim == 2:  # x (n, c) from the left: kron(A, I_c); x (r, m) from the right
            other = np.shape(primals[0])[1 if left else 0]
            eye = sp.identity(other, dtype=bool, format="csr")
            p = sp.kron(p, eye) if left else sp.kron(eye, p)
        return [sp.csr_array(p, dtype=bool)]

    name = "A @ x (scipy.sparse A)" if left else "x @ A (scipy.sparse A)"
    return Primitive(name, fn, jvp, vjp, structure)


def matmul(a, b):
    """``a @ b`` where one of a, b is a scipy.sparse matrix or array and the other a
    dualdiff array (or a plain one).

    >>> from dualdiff import Dual
    >>> A = sp.csr_array(np.array([[1.0, 2.0], [0.0, 3.0]]))
    >>> (Dual(np.ones(2), np.eye(2)) @ A).tangent.tolist()
    [[1.0, 2.0], [0.0, 3.0]]
    """
    left = sp.issparse(a)
    A, x = (a, b) if left else (b, a)
    if sp.issparse(x) or find_owner((x,)) is None:
        return a @ b
    nd = np.ndim(x)
    if nd == 0:
        raise ValueError("matmul: a scalar operand is not allowed with a scipy.sparse "
                         "matrix; use '*' (A * x) for scaling")
    if nd > 2 or A.ndim != 2:
        raise ValueError(f"matmul of a scipy.sparse matrix of shape {A.shape} and a dualdiff "
                         f"array of shape {np.shape(x)}: scipy.sparse multiplies 1-D and 2-D "
                         f"arrays only")
    inner = np.shape(x)[0] if left else np.shape(x)[-1]
    need = A.shape[1] if left else A.shape[0]
    if inner != need:
        raise ValueError(f"matmul: dimension mismatch, {'A @ x' if left else 'x @ A'} with A "
                         f"of shape {A.shape} and x of shape {np.shape(x)}")
    return primitive(matmul_primitive(A, left, nd), x)


def multiply(a, b):
    """``a * b`` with a scipy.sparse operand: matrix product for ``spmatrix`` (np.matrix
    semantics, as SciPy); refused for ``sparray`` (element-wise)."""
    A = a if sp.issparse(a) else b
    if isinstance(A, sp.spmatrix) and np.ndim(b if A is a else a) >= 1:
        return matmul(a, b)
    raise TypeError(
        f"an element-wise product of a scipy.sparse {type(A).__name__} and a dualdiff array "
        f"is not supported; write A @ x for the matrix product, or A.toarray() * x")


def _factor(A):
    """A's sparse LU factorisation (one per call of spsolve, shared by its tangent and
    cotangent solves; nothing is kept across calls)."""
    A = sp.csc_array(A)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"spsolve needs a square matrix, got shape {A.shape}")
    return spla.splu(A)


def spsolve(A, b, permc_spec=None, use_umfpack=True):
    """``scipy.sparse.linalg.spsolve(A, b)`` with derivatives in b (A a constant
    scipy.sparse matrix); falls through to SciPy when b is a plain array.

    >>> from dualdiff import Dual
    >>> A = sp.csr_array(np.array([[2.0, 0.0], [1.0, 4.0]]))
    >>> spsolve(A, Dual(np.array([2.0, 9.0]), np.eye(2))).tangent.tolist()
    [[0.5, -0.125], [0.0, 0.25]]
    """
    if find_owner((b,)) is None:
        if find_owner((A,)) is not None:
            raise TypeError("spsolve: a dualdiff matrix A is not supported (A must be a "
                            "scipy.sparse matrix of constants); derivatives flow through b")
        return spla.spsolve(A, b, permc_spec=permc_spec, use_umfpack=use_umfpack)
    if not sp.issparse(A):
        raise TypeError(f"spsolve: A must be a scipy.sparse matrix, got {type(A).__name__}")
    nd = np.ndim(b)
    if nd not in (1, 2) or np.shape(b)[0] != A.shape[0]:
        raise ValueError(f"spsolve: b of shape {np.shape(b)} does not fit A of shape "
                         f"{A.shape}")
    factor: list = []  # A's LU, made by the first tangent or cotangent solve

    def solve(rhs, trans="N"):
        """A^-1 (or A^-T) along axis 1 of (k, n, ...) right-hand sides, one LU."""
        rhs = np.moveaxis(rhs, 1, 0)
        shape = np.shape(rhs)
        flat = np.reshape(rhs, (shape[0], -1))
        if find_owner((flat,)) is not None:  # nested: a solve of a carrier is this rule again
            out = spsolve(A if trans == "N" else A.T, flat)
            out = np.reshape(out, (shape[0], -1))
        else:
            dtype = np.result_type(flat.dtype, A.dtype)
            if not factor:
                factor.append(_factor(A))
            out = factor[0].solve(np.asarray(flat, dtype=dtype), trans=trans) if flat.size \
                else np.zeros(flat.shape, dtype)
        return np.moveaxis(np.reshape(out, shape), 0, 1)

    def fn(v):  # the value is SciPy's own
        return spsolve(A, v, permc_spec=permc_spec, use_umfpack=use_umfpack)

    def jvp(out, primals, tangents):
        return solve(tangents[0])

    def vjp(out, primals, u, needs):
        return (solve(u, "T"),)

    return primitive(Primitive("scipy.sparse.linalg.spsolve", fn, jvp, vjp), b)


__all__ = ["matmul", "multiply", "spsolve", "matmul_primitive"]
