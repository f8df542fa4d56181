"""Sparse Jacobians and plans: values against hand-derived formulas and complex steps,
and scipy's least_squares / solve_ivp as real clients."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from refs import cs_jacobian
from scipy.integrate import solve_ivp
from scipy.optimize import least_squares
from scipy.optimize._numdiff import group_columns

import dualdiff as dd
from dualdiff.dual import Dual
from dualdiff.problems import (
    broyden,
    broyden_jacobian,
    brusselator,
    brusselator_jacobian,
    brusselator_y0,
)


class Counter:
    """Wraps f and records the type and direction count of every call."""

    def __init__(self, f):
        self.f, self.log = f, []

    def __call__(self, x, *args):
        kind = type(x).__name__
        self.log.append((kind, x.tangent.shape[0] if isinstance(x, Dual) else None))
        return self.f(x, *args)

    def count(self, kind):
        return sum(1 for k, _ in self.log if k == kind)


def test_elementwise_is_one_pass_of_width_one():
    f = Counter(lambda x: np.exp(np.sin(x)) / (1.0 + x * x))
    x = np.linspace(-2.0, 2.0, 50)
    J = dd.jacobian(f, x, sparsity="auto")
    assert isinstance(J, sp.csr_array) and J.shape == (50, 50) and J.nnz == 50
    assert f.log == [("Tracer", None), ("Dual", 1)]
    np.testing.assert_allclose(J.toarray(), cs_jacobian(f.f, x), rtol=1e-13, atol=0)


def test_broyden_three_colours_exact_values():
    x = np.random.default_rng(1).uniform(-2.0, 2.0, 40)
    f = Counter(broyden)
    J = dd.jacobian(f, x, sparsity="auto")
    assert f.log == [("Tracer", None), ("Dual", 3)]
    assert J.nnz == 3 * 40 - 2
    np.testing.assert_allclose(J.toarray(), broyden_jacobian(x), rtol=1e-14, atol=0)


def test_shapes_are_flattened():
    x = np.arange(6.0).reshape(2, 3) + 1.0
    f = lambda x: (x * x[:, ::-1])[None]
    J = dd.jacobian(f, x, sparsity="auto")
    assert J.shape == (6, 6)
    np.testing.assert_allclose(J.toarray(), cs_jacobian(f, x).reshape(6, 6), rtol=1e-14, atol=0)


def test_user_patterns_all_forms():
    x = np.linspace(0.1, 1.0, 8)
    ref = broyden_jacobian(x)
    tri = sp.diags([np.ones(7), np.ones(8), np.ones(7)], [-1, 0, 1], format="csr")
    for pattern in (tri, sp.csr_matrix(tri), tri.toarray() != 0,
                    (tri, group_columns(tri.toarray()))):
        J = dd.jacobian(broyden, x, sparsity=pattern)
        assert J.nnz == 22
        np.testing.assert_allclose(J.toarray(), ref, rtol=1e-14, atol=0)


def test_pattern_nonzeros_kept_even_when_value_is_zero():
    # x = 0.75 makes 3 - 4x = 0: the entry stays stored (exactly the pattern's nonzeros)
    J = dd.jacobian(broyden, np.full(5, 0.75), sparsity="auto")
    assert J.nnz == 13 and np.all(J.diagonal() == 0.0)


def test_bad_patterns_raise():
    x = np.ones(4)
    with pytest.raises(ValueError, match="does not fit"):
        dd.jacobian(broyden, x, sparsity=np.eye(3))
    with pytest.raises(ValueError, match="groups"):
        dd.jacobian(broyden, x, sparsity=(np.ones((4, 4)), np.zeros(4)))
    with pytest.raises(ValueError, match="auto"):
        dd.jacobian(broyden, x, sparsity="yes")


def test_plan_detects_once():
    f = Counter(broyden)
    plan = dd.jacobian_plan(f, np.zeros(30))
    rng = np.random.default_rng(2)
    for _ in range(5):
        x = rng.normal(size=30)
        np.testing.assert_allclose(plan(x).toarray(), broyden_jacobian(x), rtol=1e-14, atol=0)
    assert plan.detections == 1 and f.count("Tracer") == 1 and f.count("Dual") == 5
    assert plan.ncolors == 3 and not plan.local


def test_plan_with_python_branch_rechecks():
    def f(x):  # the pattern depends on which branch runs
        if x[0] > 0:
            return x * x
        return x * x[::-1]

    plan = dd.jacobian_plan(f, np.ones(4))
    assert plan.local and plan.ncolors == 1
    x = -np.arange(1.0, 5.0)
    np.testing.assert_allclose(plan(x).toarray(), cs_jacobian(f, x), rtol=1e-14, atol=0)
    assert plan.detections == 2
    plan(x - 1.0)  # the same branch: no new detection
    assert plan.detections == 2


def arrow(x):
    """A dense first row and a diagonal: n column colours, two row colours."""
    return np.concatenate([np.sum(x * x, keepdims=True), np.sin(x[1:]) * x[1:]])


def test_reverse_mode_with_row_colouring():
    x = np.linspace(0.5, 1.5, 9)
    plan = dd.jacobian_plan(arrow, x)
    assert plan.mode == "reverse" and plan.ncolors == 2
    np.testing.assert_allclose(plan(x).toarray(), cs_jacobian(arrow, x), rtol=1e-14, atol=0)
    J = dd.jacobian(arrow, x, sparsity="auto", mode="reverse")
    np.testing.assert_allclose(J.toarray(), cs_jacobian(arrow, x), rtol=1e-14, atol=0)


def test_forward_fallback_for_arrow():
    x = np.linspace(0.5, 1.5, 9)
    plan = dd.jacobian_plan(arrow, x, mode="forward")
    assert plan.mode == "forward" and plan.ncolors == 9
    np.testing.assert_allclose(plan(x).toarray(), cs_jacobian(arrow, x), rtol=1e-14, atol=0)


def test_least_squares_broyden_fewer_evaluations():
    n = 10**4
    x0 = -np.ones(n)
    runs = {}
    for name in ("dualdiff", "2-point"):
        f = Counter(broyden)
        if name == "dualdiff":
            kw = {"jac": dd.jacobian_plan(f, x0)}
        else:
            kw = {"jac": "2-point", "jac_sparsity": sp.diags(
                [np.ones(n - 1), np.ones(n), np.ones(n - 1)], [-1, 0, 1])}
        res = least_squares(f, x0, tr_solver="lsmr", **kw)
        assert res.success and res.cost < 1e-16
        np.testing.assert_allclose(broyden(res.x), 0.0, atol=1e-8)
        runs[name] = (res, len(f.log))
    (r_dd, calls_dd), (r_fd, calls_fd) = runs["dualdiff"], runs["2-point"]
    # every evaluation of F counted, Jacobian work included: one pass (3 directions)
    # per Jacobian plus one detection, against 3 coloured differences per Jacobian
    assert calls_dd < calls_fd
    assert r_dd.nfev <= r_fd.nfev
    np.testing.assert_allclose(r_dd.x, r_fd.x, atol=1e-10)


N_GRID = 500


def test_solve_ivp_bdf_brusselator():
    y0 = brusselator_y0(N_GRID)
    plan = dd.jacobian_plan(lambda y, t: brusselator(t, y), y0, args=(0.0,))
    assert plan.ncolors <= 5
    np.testing.assert_allclose(plan(y0, 0.0).toarray(), brusselator_jacobian(y0),
                               rtol=1e-14, atol=1e-10)
    counts = {"fd": 0, "dd": 0}

    def rhs(key):
        def f(t, y):
            counts[key] += 1
            return brusselator(t, y)
        return f

    opts = dict(method="BDF", rtol=1e-6, atol=1e-8)
    ref = solve_ivp(rhs("fd"), (0.0, 10.0), y0, **opts)
    sol = solve_ivp(rhs("dd"), (0.0, 10.0), y0, jac=lambda t, y: plan(y, t), **opts)
    assert ref.success and sol.success
    # both runs take the same steps to 1e-6 tolerance; the end states agree far below it
    np.testing.assert_allclose(sol.y[:, -1], ref.y[:, -1], rtol=1e-6, atol=1e-8)
    assert counts["dd"] < counts["fd"]
    assert plan.detections == 1


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 12), st.integers(0, 10**6), st.floats(0.05, 0.5))
def test_random_sparse_functions_match_complex_step(n, seed, density):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n + 2, n)) * (rng.random((n + 2, n)) < density)
    f = lambda x: np.tanh(A @ x) * np.concatenate([x, x[:1], x[-1:]]) + np.cumsum(A @ (x * x))
    x = rng.uniform(-1.0, 1.0, n)
    J = dd.jacobian(f, x, sparsity="auto")
    assert J.shape == (n + 2, n)
    np.testing.assert_allclose(J.toarray(), cs_jacobian(f, x), rtol=1e-12, atol=1e-15)


def test_plan_refuses_changed_output_size():
    plan = dd.jacobian_plan(lambda x, k: x[:k] * 2.0, np.ones(4), args=(3,))
    assert plan(np.ones(4)).shape == (3, 4)
    with pytest.raises(ValueError, match="new plan"):
        plan(np.ones(4), 2)


def test_lstsq_rank_is_the_discrete_result():
    # lstsq reported its whole result (solution, residuals, rank, singular values) as a
    # discrete result: the sparse plan's record of it crashed on the ragged tuple.  The
    # rank is what decides; hand formula: a square invertible A gives x = A^-1 b, dx/db = A^-1
    A = np.array([[2.0, 0.3], [0.1, 1.5]])

    def f(b):
        return np.linalg.lstsq(A * b[2], b[:2], rcond=None)[0]

    b = np.array([0.4, -0.7, 1.3])
    J = dd.jacobian(f, b, sparsity="auto").toarray()
    inv = np.linalg.inv(A * b[2])
    np.testing.assert_allclose(J[:, :2], inv, rtol=1e-14)
    np.testing.assert_allclose(J[:, 2], -inv @ A @ (inv @ b[:2]), rtol=1e-13)
