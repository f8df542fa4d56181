"""scipy.sparse matrices as linear maps on dualdiff arrays (A @ x, x @ A, A.dot(x),
spmatrix A * x) in every mode and format, A's own sparsity pattern for the tracer, never a
dense A; dualdiff.scipy.sparse.linalg.spsolve.  References: A.toarray() and
np.linalg.inv, computed on plain arrays."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import dualdiff as dd
from dualdiff.scipy.sparse.linalg import spsolve

MODES = ["forward", "reverse", "auto"]
N = 6
L = sp.diags_array([1.0, -2.0, 0.5], offsets=[-1, 0, 1], shape=(N, N), format="csr")
R = sp.random_array((4, N), density=0.4, rng=np.random.default_rng(5), format="csr")
R.data[0] = 0.0  # an explicitly stored zero: not part of the pattern
U = np.linspace(0.2, 1.4, N)

FORMATS = {
    "csr_array": sp.csr_array, "csc_array": sp.csc_array, "coo_array": sp.coo_array,
    "dia_array": sp.dia_array, "csr_matrix": sp.csr_matrix, "csc_matrix": sp.csc_matrix,
    "coo_matrix": sp.coo_matrix, "bsr_matrix": sp.bsr_matrix,
}


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("mode", MODES)
def test_matmul_both_sides_in_every_format(fmt, mode):
    A = FORMATS[fmt](R)
    Ad = R.toarray()
    np.testing.assert_array_equal(dd.jacobian(lambda x: A @ x, U, mode=mode), Ad)
    np.testing.assert_array_equal(dd.jacobian(lambda x: A.dot(x), U, mode=mode), Ad)
    np.testing.assert_array_equal(dd.jacobian(lambda y: y @ A, np.ones(4), mode=mode), Ad.T)
    if isinstance(A, sp.spmatrix):  # np.matrix semantics: * is the matrix product
        np.testing.assert_array_equal(dd.jacobian(lambda x: A * x, U, mode=mode), Ad)
        np.testing.assert_array_equal(dd.jacobian(lambda y: y * A, np.ones(4), mode=mode),
                                      Ad.T)


def test_values_are_scipys():
    d = dd.Dual(U, np.eye(N))
    np.testing.assert_array_equal((L @ d).value, L @ U)
    np.testing.assert_array_equal((d @ L).value, U @ L)
    np.testing.assert_array_equal((sp.csr_matrix(L) * d).value, sp.csr_matrix(L) * U)


def test_pattern_is_As_and_A_is_never_dense():
    before = (R.data.copy(), R.indices.copy(), R.indptr.copy())
    P = dd.jacobian_sparsity(lambda x: R @ x, U).toarray()
    assert np.array_equal(P, R.toarray() != 0) and not P[0].all()
    assert all(np.array_equal(a, b) for a, b in zip(before, (R.data, R.indices, R.indptr)))
    assert np.array_equal(dd.jacobian_sparsity(lambda y: y @ R, np.ones(4)).toarray(),
                          R.toarray().T != 0)
    # n = 200000: a dense A would take 320 GB
    n = 200_000
    A = sp.diags_array([1.0, -2.0, 1.0], offsets=[-1, 0, 1], shape=(n, n), format="csr")
    x = np.linspace(0, 1, n)
    J = dd.jacobian(lambda u: A @ u + u**3, x, sparsity="auto")
    assert J.nnz == A.nnz
    np.testing.assert_allclose(J.diagonal(), -2.0 + 3 * x**2, rtol=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_pde_residual(mode):
    f = lambda u: L @ u + u**3 - 1.0
    want = L.toarray() + np.diag(3 * U**2)
    np.testing.assert_allclose(dd.jacobian(f, U, mode=mode), want, rtol=1e-15)
    np.testing.assert_allclose(dd.jacobian(f, U, sparsity="auto", mode=mode).toarray(), want,
                               rtol=1e-15)


def test_matrix_right_hand_sides_and_patterns():
    X = np.arange(12.0).reshape(N, 2) / 10
    Ld = L.toarray()
    for mode in ["forward", "reverse"]:
        np.testing.assert_array_equal(dd.jacobian(lambda X: L @ X, X, mode=mode),
                                      np.einsum("ij,ab->iajb", Ld, np.eye(2)))
        np.testing.assert_array_equal(dd.jacobian(lambda X: X.T @ L, X, mode=mode),
                                      np.einsum("ji,ab->aijb", Ld, np.eye(2)))
    P = dd.jacobian_sparsity(lambda X: L @ X, X).toarray()
    assert np.array_equal(P, np.kron(Ld != 0, np.eye(2, dtype=bool)))
    P = dd.jacobian_sparsity(lambda X: X.T @ L, X).toarray()
    want = np.einsum("ji,ab->aijb", Ld != 0, np.eye(2, dtype=bool)).reshape(2 * N, 2 * N)
    assert np.array_equal(P, want)


def test_second_derivatives_through_A():
    g = lambda u: np.sum((L @ u) ** 2) + (u @ L) @ u
    Ld = L.toarray()
    want = 2 * Ld.T @ Ld + Ld + Ld.T
    for method in ["hyperdual", "forward-over-reverse"]:
        np.testing.assert_allclose(dd.hessian(g, U, method=method), want, rtol=1e-14,
                                   atol=1e-14)


def test_operations_that_would_densify_A_are_refused():
    d = dd.Dual(U, np.eye(N))
    with pytest.raises(TypeError, match=r"np\.add of a scipy\.sparse csr_array.*A @ x"):
        L + d
    with pytest.raises(TypeError, match=r"csr_array\.__mul__ cannot take.*linear maps only"):
        L * d  # sparray: element-wise
    with pytest.raises(TypeError, match=r"np\.multiply of a scipy\.sparse csr_array"):
        d * L
    with pytest.raises(TypeError, match=r"np\.add of a scipy\.sparse csr_matrix"):
        d + sp.csr_matrix(L)
    with pytest.raises(ValueError, match="scalar operand"):
        L @ dd.Dual(1.0, 1.0)
    with pytest.raises(ValueError, match="dimension mismatch"):
        R @ dd.Dual(np.ones(3), np.eye(3))


def test_float32_x_with_a_float64_A_promotes_as_scipy():
    x32 = U.astype(np.float32)
    assert (L @ x32).dtype == np.float64
    assert dd.jacobian(lambda x: L @ x, x32).dtype == np.float64
    L32 = L.astype(np.float32)
    assert dd.jacobian(lambda x: L32 @ x, x32, mode="reverse").dtype == np.float32


# -- spsolve ---------------------------------------------------------------------------------

A_SOLVE = sp.diags_array([1.0, -3.0, 1.5], offsets=[-1, 0, 1], shape=(N, N), format="csr")
A_INV = np.linalg.inv(A_SOLVE.toarray())


@pytest.mark.parametrize("mode", MODES)
def test_spsolve_first_order(mode):
    f = lambda b: spsolve(A_SOLVE, b**2)
    np.testing.assert_allclose(dd.jacobian(f, U, mode=mode), A_INV @ np.diag(2 * U),
                               rtol=1e-13, atol=1e-15)
    B = np.stack([U, U**2], axis=1)
    np.testing.assert_allclose(dd.jacobian(lambda B: spsolve(A_SOLVE, B), B, mode=mode),
                               np.einsum("ij,ab->iajb", A_INV, np.eye(2)), rtol=1e-13,
                               atol=1e-15)


def test_spsolve_value_is_scipys_and_second_order():
    np.testing.assert_array_equal(spsolve(A_SOLVE, U), spla.spsolve(A_SOLVE, U))
    np.testing.assert_array_equal(dd.jvp(lambda b: spsolve(A_SOLVE, b), U, U)[0],
                                  spla.spsolve(A_SOLVE, U))
    g = lambda b: np.sum(spsolve(A_SOLVE, b) ** 2)
    for method in ["hyperdual", "forward-over-reverse"]:
        np.testing.assert_allclose(dd.hessian(g, U, method=method), 2 * A_INV.T @ A_INV,
                                   rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dd.jacobian(lambda b: spsolve(A_SOLVE, b), U,
                                           sparsity="auto").toarray(), A_INV, rtol=1e-13,
                               atol=1e-15)


def test_scipys_own_spsolve_names_the_twin():
    with pytest.raises(TypeError, match=r"scipy\.sparse\.linalg\.spsolve cannot take a "
                                        r"dualdiff array.*dualdiff\.scipy\.sparse\.linalg"
                                        r"\.spsolve"):
        dd.jacobian(lambda b: spla.spsolve(A_SOLVE, b), U)
