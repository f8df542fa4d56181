"""Sparsity detection: patterns against hand-derived structure and complex-step Jacobians."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from refs import cd_jacobian, cs_jacobian

import dualdiff as dd


def dense(p):
    return np.asarray(p.toarray(), dtype=int)


def test_elementwise_is_diagonal_sparse_bool():
    p = dd.jacobian_sparsity(lambda x: np.exp(np.sin(x)) * x + 2.0, np.ones(7))
    assert sp.issparse(p) and p.dtype == bool and p.shape == (7, 7)
    assert np.array_equal(dense(p), np.eye(7, dtype=int))


def test_broadcasting_outer_product():
    p = dd.jacobian_sparsity(lambda x: x[:, None] * x[None, :2], np.ones(3))
    expect = np.zeros((6, 3), int)
    for i in range(3):
        for j in range(2):
            expect[2 * i + j, [i, j]] = 1
    assert np.array_equal(dense(p), expect)


def test_piecewise_constant_has_no_dependence():
    assert dd.jacobian_sparsity(np.floor, np.ones(4)).nnz == 0
    p = dd.jacobian_sparsity(lambda x: x + np.sign(x[::-1]), np.ones(4))
    assert np.array_equal(dense(p), np.eye(4, dtype=int))


def test_value_selections_keep_both_branches():
    # at x = [1, 2, 3] maximum, where and abs pick one side only; the pattern keeps both
    x = np.array([1.0, 2.0, 3.0])
    both = np.eye(3, dtype=int) | np.eye(3, dtype=int)[::-1]
    for f in (lambda x: np.maximum(x, x[::-1]), lambda x: np.where(x > 0, x, x[::-1] ** 2),
              lambda x: np.abs(x - x[::-1]), lambda x: np.clip(x, x[::-1], None)):
        assert np.array_equal(dense(dd.jacobian_sparsity(f, x)), both)
    assert np.array_equal(dense(dd.jacobian_sparsity(np.max, x)), [[1, 1, 1]])
    assert dense(dd.jacobian_sparsity(np.sort, x)).sum() == 9
    m = dd.jacobian_sparsity(lambda x: np.max(x.reshape(2, 2), axis=1), np.ones(4))
    assert np.array_equal(dense(m), [[1, 1, 0, 0], [0, 0, 1, 1]])


def test_reductions_and_scans():
    x = np.ones((2, 3))
    s = dd.jacobian_sparsity(lambda x: np.sum(x, axis=0), x)
    assert np.array_equal(dense(s), [[1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 1]])
    c = dd.jacobian_sparsity(lambda x: np.cumsum(x), np.ones(4))
    assert np.array_equal(dense(c), np.tril(np.ones((4, 4), int)))
    d = dd.jacobian_sparsity(lambda x: np.diff(x), np.ones(4))
    assert np.array_equal(dense(d), [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]])


def test_matmul_follows_constant_nonzeros():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 6)) * (rng.random((5, 6)) < 0.3)
    assert np.array_equal(dense(dd.jacobian_sparsity(lambda x: A @ x, np.ones(6))), A != 0)
    assert np.array_equal(dense(dd.jacobian_sparsity(lambda x: x @ A, np.ones(5))), A.T != 0)
    # 2-D operand: (A X)[i, j] depends on X[k, j] where A[i, k] != 0
    X = np.ones((6, 2))
    expect = np.kron(A != 0, np.eye(2, dtype=bool))
    assert np.array_equal(dense(dd.jacobian_sparsity(lambda X: A @ X, X)), expect)
    assert np.array_equal(dense(dd.jacobian_sparsity(lambda x: np.einsum("ij,j->i", A, x),
                                                     np.ones(6))), A != 0)
    # both operands traced: every term of the product counts
    assert dense(dd.jacobian_sparsity(lambda x: x @ x, np.ones(3))).sum() == 3
    assert dense(dd.jacobian_sparsity(lambda x: np.outer(x, x), np.ones(3))).sum() == 18 - 3
    # batched matmul: each batch follows its own constant matrix
    B = np.stack([np.eye(2), np.ones((2, 2))])
    p = dense(dd.jacobian_sparsity(lambda x: (B @ x.reshape(2, 2, 1)).ravel(), np.ones(4)))
    assert np.array_equal(p, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]])


def test_other_primitives_depend_on_all_inputs():
    A = np.eye(3) * 2
    p = dd.jacobian_sparsity(lambda x: np.linalg.solve(A, x), np.ones(3))
    assert dense(p).sum() == 9
    q = dd.jacobian_sparsity(lambda x: np.linalg.det(np.diag(x)), np.ones(3))
    assert np.array_equal(dense(q), [[1, 1, 1]])


def test_item_assignment_replaces_rows():
    def f(x):
        out = np.zeros_like(x)
        out[1:] = x[:-1] ** 2
        out[0] = 1.0
        out[2] = out[2] + x[3]
        return out

    expect = np.zeros((4, 4), int)
    expect[1, 0] = expect[2, 1] = expect[2, 3] = expect[3, 2] = 1
    assert np.array_equal(dense(dd.jacobian_sparsity(f, np.ones(4))), expect)


def test_list_outputs_and_constants():
    f = lambda x: [x[0] * x[1], 3.0, np.sin(x[2])]
    assert np.array_equal(dense(dd.jacobian_sparsity(f, np.ones(3))),
                          [[1, 1, 0], [0, 0, 0], [0, 0, 1]])


def test_discrete_results_are_recorded_with_the_pattern():
    from dualdiff.sparse import detect

    _, _, seen = detect(lambda x: x * 2 if x[0] > 0 else x[::-1], np.ones(3))
    assert [name for name, _ in seen] == ["greater"]
    _, _, seen = detect(lambda x: x * 2 if x[0] else x[::-1], np.ones(3))
    assert [name for name, _ in seen] == ["bool"]
    # selections whose pattern covers every outcome record nothing
    _, pattern, seen = detect(lambda x: np.maximum(x, 0.0) + np.sort(x) + np.max(x), np.ones(3))
    assert seen == [] and pattern.toarray().all()


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 8), st.integers(0, 10**6), st.floats(0.1, 0.6))
def test_pattern_matches_complex_step_nonzeros(n, seed, density):
    # for branch-free f the detected pattern is exactly where J(x) != 0 at a generic x
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n)) * (rng.random((n, n)) < density)
    B = rng.normal(size=(n, n)) * (rng.random((n, n)) < density)
    f = lambda x: np.cos(A @ x) * np.exp(x[::-1]) + B @ (x * x)
    x = rng.uniform(0.5, 1.5, n)
    got = dense(dd.jacobian_sparsity(f, x))
    ref = np.abs(cs_jacobian(f, x)) > 0
    assert np.array_equal(got.astype(bool), ref)
    # a product with a structural zero (sin(0) for an empty row of A) is kept: a superset
    g = lambda x: np.sin(A @ x) * np.exp(x[::-1])
    assert np.all(dense(dd.jacobian_sparsity(g, x)) >= (np.abs(cs_jacobian(g, x)) > 0))


def test_million_elementwise_inputs_little_memory():
    n = 10**6
    x = np.linspace(-1.0, 1.0, n)
    tracemalloc.start()
    p = dd.jacobian_sparsity(lambda x: np.tanh(x) * x + np.exp(-x * x) / (1 + x * x), x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert p.shape == (n, n) and p.nnz == n
    assert np.array_equal(p.indices, np.arange(n))
    # a dense n x n boolean pattern would be 10^12 bytes; stay within ~100 vectors of n
    assert peak < 100 * 8 * n


def test_refuses_nondiff_argument():
    with pytest.raises(TypeError, match="ldexp"):
        dd.jacobian_sparsity(lambda x: np.ldexp(1.0, x), np.ones(2))




def test_interp_keeps_every_interval():
    # which knot interval a query falls in is a selection: the pattern of np.interp holds
    # the query and every knot and value, so a plan reused where a query moves to another
    # interval (from 1 at x0 to 2 at x1, the ends not crossed) stays right
    def f(x):
        return np.interp(x[0] + 1.5, np.arange(5.0) + 0.1 * x[1:], x[1:] ** 3)

    x0, x1 = np.array([0.0, 1.0, 1.0, 1.0, 1.0, 1.0]), np.array([1.1, 1.0, 0.9, 1.1, 1.0, 0.8])
    assert np.array_equal(dense(dd.jacobian_sparsity(f, x0)), np.ones((1, 6), int))
    plan = dd.jacobian_plan(f, x0)
    # central differences (rtol 1e-7, see refs.cd_jacobian): the query 2.6 lies at least
    # 0.39 from the knots 0.1, 1.09, 2.11, 3.1, 4.08, far beyond the step h = 1e-6
    np.testing.assert_allclose(plan(x1).toarray()[0], cd_jacobian(f, x1), rtol=1e-7, atol=1e-9)
