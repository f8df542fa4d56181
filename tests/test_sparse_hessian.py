"""Sparse Hessians: detected patterns, star colourings, values, plans, and scipy's
trust-constr as a real client.

References share no code with dualdiff: hand-derived Hessians, and where none is
handy a central difference of the complex-step gradient on plain complex NumPy
(``G_i(x) = Im f(x + i h e_i) / h`` exact to rounding; ``(G(x + d e_j) - G(x - d
e_j)) / 2d`` has truncation ``d^2 |f''''| / 6`` ~ 1e-10 for d = 1e-5 and rounding
``eps |G| / d`` ~ 1e-11, hence rtol 1e-7).  Colourings are checked by a plain loop
over the definition (every entry readable from its own row or its mirror's).
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

import dualdiff as dd
from dualdiff import coloring
from dualdiff.tape import Tape


def cs_fd_hessian(f, x, h=1e-200, d=1e-5):
    n = x.size

    def grad(x):
        return np.array([np.imag(f(x + 1j * h * e)) / h for e in np.eye(n)])

    return np.stack([(grad(x + d * e) - grad(x - d * e)) / (2 * d) for e in np.eye(n)], axis=1)


def chained(x):
    """sum (x_i - 1)^2 + (x_{i+1} - x_i^2)^2: minimum 0 at x = 1, tridiagonal Hessian."""
    return np.sum((x - 1.0) ** 2) + np.sum((x[1:] - x[:-1] ** 2) ** 2)


def chained_hessian(x):
    """Hand-derived: with r_i = x_{i+1} - x_i^2, d2/dx_i^2 = 2 + 2 [i > 0] + (12 x_i^2 -
    4 x_{i+1}) [i < n-1], d2/dx_i dx_{i+1} = -4 x_i."""
    n = len(x)
    d = np.full(n, 2.0)
    d[1:] += 2.0
    d[:-1] += 12.0 * x[:-1] ** 2 - 4.0 * x[1:]
    off = -4.0 * x[:-1]
    return np.diag(d) + np.diag(off, 1) + np.diag(off, -1)


def readable(pattern, colors):
    """The definition, by loops: each nonzero h_ij of the symmetric pattern (with its
    diagonal) is the only one of its colour in row i, or h_ji is in row j."""
    P = np.asarray(pattern.toarray() if sp.issparse(pattern) else pattern) != 0
    P = P | P.T | np.eye(len(P), dtype=bool)
    n = len(P)
    for i, j in zip(*np.nonzero(P)):
        own = sum(P[i, k] and colors[k] == colors[j] for k in range(n)) == 1
        mirror = sum(P[j, k] and colors[k] == colors[i] for k in range(n)) == 1
        if not (own or mirror):
            return False
    return True


# -- patterns -----------------------------------------------------------------------------

_A = np.random.default_rng(3).normal(size=(6, 6))
BRANCH_FREE = {  # the detected pattern must equal the true nonzeros at a generic point
    "chained": chained,
    "arrow": lambda x: np.sum(x[0] * x[1:] ** 2) + np.sum(np.cos(x)),
    "broadcast_pairs": lambda x: np.sum(np.exp(x[:3, None] * x[None, 3:5])),
    "quadratic_form": lambda x: x @ (_A * (np.abs(_A) > 0.8)) @ x,
    "bilinear_matmul": lambda x: np.sum(x[:2] @ np.reshape(x[2:], (2, 2))),
    "writes_and_views": lambda x: _writes(x),
    "ratio_chain": lambda x: np.sum(x[:-1] / (1.0 + x[1:] ** 2)),
    "prod_of_three": lambda x: np.prod(x[1:4]) + np.sum(np.log(x)),
    "reshape_sum": lambda x: np.sum(np.sum(np.reshape(x, (2, 3)), axis=0) ** 2),
}


def _writes(x):
    y = np.zeros_like(x)
    y[1:] = x[1:] * x[:-1]
    v = y[::2]
    v *= 2.0  # through a view
    y[0] = np.exp(x[0] + x[5])
    return np.sum(y * y)


@pytest.mark.parametrize("name", list(BRANCH_FREE))
def test_pattern_is_exact_on_branch_free_code(name):
    f = BRANCH_FREE[name]
    x = np.random.default_rng(5).uniform(0.5, 1.5, 6)
    ref = cs_fd_hessian(f, x)
    P = dd.hessian_sparsity(f, x)
    assert P.dtype == bool and (P != P.T).nnz == 0
    truth = np.abs(ref) > 1e-6 * np.abs(ref).max()
    np.testing.assert_array_equal(P.toarray(), truth)


SELECTIONS = {  # selections keep every outcome: a superset of the nonzeros at x
    "where": lambda x: np.sum(np.where(x > 1.0, x**3, np.sin(x)) * x[::-1]),
    "maximum": lambda x: np.sum(np.maximum(x, 0.9) ** 2) + np.maximum(x[0], x[1]) * x[2],
    "max": lambda x: np.max(x * x[::-1]),
    "sort": lambda x: np.sum(np.sort(x)[:2] ** 2),
    "solve": lambda x: np.sum(np.linalg.solve(np.diag(x[:3]) + 4 * np.eye(3), x[3:])),
}


@pytest.mark.parametrize("name", list(SELECTIONS))
def test_pattern_is_a_superset_with_selections_and_primitives(name):
    f = SELECTIONS[name]
    x = np.random.default_rng(6).uniform(0.5, 1.5, 6)
    ref = cs_fd_hessian(f, x)
    P = dd.hessian_sparsity(f, x).toarray()
    assert not np.any((np.abs(ref) > 1e-6 * np.abs(ref).max()) & ~P)


def test_second_order_is_per_pass_and_first_order_unchanged():
    # a plain Jacobian detection pass records no pairs; the two passes share nothing
    x = np.ones(5)
    f = lambda x: x[1:] * x[:-1]
    assert dd.jacobian_sparsity(f, x).nnz == 8
    assert dd.hessian_sparsity(lambda x: np.sum(f(x)), x).nnz == 8
    assert dd.hessian_sparsity(lambda x: np.sum(3.0 * x + 1.0), x).nnz == 0


def test_dense_hessian_is_refused_clearly():
    with pytest.raises(ValueError, match="dense"):
        dd.hessian_sparsity(lambda x: np.sum(x) ** 2, np.ones(10**4))


def test_non_scalar_f_is_refused():
    with pytest.raises(ValueError, match="scalar"):
        dd.hessian(lambda x: x * x, np.ones(3), sparsity="auto")


# -- colourings ---------------------------------------------------------------------------

def banded(n, b):
    return sp.diags([np.ones(n - abs(k)) for k in range(-b, b + 1)], list(range(-b, b + 1)),
                    shape=(n, n), format="csr")


def test_tridiagonal_three_colours_arrowhead_two():
    for n in (30, 10**5):
        c = coloring.star_coloring(banded(n, 1))
        assert int(c.max()) + 1 == 3
    assert readable(banded(30, 1), coloring.star_coloring(banded(30, 1)))
    n = 40
    arrow = banded(n, 1).tolil()
    arrow[0, :] = 1
    arrow[:, 0] = 1
    r = coloring.symmetric_report(arrow.tocsr())
    # the dense row forces n column colours (and is the column bound); a star needs 4
    assert (r["columns"], r["column_bound"]) == (n, n) and r["star"] <= 4
    c = coloring.star_coloring(arrow.tocsr())
    assert readable(arrow.tocsr(), c)


def test_banded_star_equals_columns_and_no_fewer_exists():
    # a band of half-width b: 2b + 1 colours both ways; exhaustive search shows that
    # no star colouring with 2b colours exists (b = 2 from n = 7 on)
    for b in (2, 3):
        r = coloring.symmetric_report(banded(50, b))
        assert r["star"] == r["columns"] == 2 * b + 1
    P = banded(7, 2).toarray()
    assert not any(readable(P, c) for c in itertools.product(range(4), repeat=7)
                   if c[0] == 0 and c[1] == 1)  # fix two colours: symmetry of names


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 18), st.floats(0.05, 0.5), st.integers(0, 10**6))
def test_random_symmetric_patterns(n, density, seed):
    a = np.random.default_rng(seed).random((n, n)) < density
    p = sp.csr_array(a | a.T)
    c = coloring.star_coloring(p)
    assert c.shape == (n,) and readable(p, c) and coloring.is_star(p, c)
    assert int(c.max()) + 1 <= int(coloring.column_coloring(coloring.symmetric(p, True)).max()) + 1


def test_is_star_rejects_a_bicoloured_path():
    path = banded(4, 1)
    assert not coloring.is_star(path, [0, 1, 0, 1]) and not readable(path, [0, 1, 0, 1])
    assert coloring.symmetric_reads(path, [0, 1, 0, 1]) is None


# -- values -------------------------------------------------------------------------------

def test_chained_values_are_exact_and_symmetric():
    x = np.random.default_rng(1).uniform(-2.0, 2.0, 50)
    H = dd.hessian(chained, x, sparsity="auto")
    assert isinstance(H, sp.csr_array) and H.shape == (50, 50) and H.nnz == 3 * 50 - 2
    np.testing.assert_allclose(H.toarray(), chained_hessian(x), rtol=1e-14, atol=1e-14)
    assert (H != H.T).nnz == 0  # exactly symmetric: h_ij and h_ji are read from one place
    np.testing.assert_allclose(H.toarray(), dd.hessian(chained, x), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("name", list(BRANCH_FREE) + list(SELECTIONS))
def test_values_match_complex_step_and_dense(name):
    f = {**BRANCH_FREE, **SELECTIONS}[name]
    x = np.random.default_rng(9).uniform(0.5, 1.5, 6)
    H = dd.hessian(f, x, sparsity="auto").toarray()
    ref = cs_fd_hessian(f, x)
    np.testing.assert_allclose(H, ref, rtol=1e-7, atol=1e-7 * np.abs(ref).max())
    dense = dd.hessian(f, x)
    np.testing.assert_allclose(H, dense, rtol=1e-13, atol=1e-13 * np.abs(dense).max())


def test_matrix_input_flattened():
    f = lambda x: np.sum(x[:, 1:] * x[:, :-1] ** 2)
    x = np.arange(1.0, 7.0).reshape(2, 3)
    H = dd.hessian(f, x, sparsity="auto")
    assert H.shape == (6, 6)
    np.testing.assert_allclose(H.toarray(), cs_fd_hessian(lambda z: f(z.reshape(2, 3)),
                                                          x.ravel()), rtol=1e-7, atol=1e-7)


# -- plans --------------------------------------------------------------------------------

class Counter:
    def __init__(self, f):
        self.f, self.kinds = f, []

    def __call__(self, x, *args):
        self.kinds.append(type(x).__name__ if not isinstance(x, Tape) else
                          "Tape(" + type(x.value).__name__ + ")")
        return self.f(x, *args)


def test_plan_detects_once_one_pass_of_three_directions():
    f = Counter(chained)
    plan = dd.SparseHessianPlan(f, np.zeros(40))
    rng = np.random.default_rng(2)
    for _ in range(4):
        x = rng.normal(size=40)
        np.testing.assert_allclose(plan(x).toarray(), chained_hessian(x), rtol=1e-14,
                                   atol=1e-14)
    assert f.kinds == ["Tracer"] + ["Tape(Dual)"] * 4
    assert plan.detections == 1 and not plan.local
    assert plan.coloring == {"star": 3, "columns": 3, "column_bound": 3}


def test_plan_with_branch_detects_again():
    def f(x):
        if x[0] > 0:
            return np.sum(x * x)
        return np.sum(x * x[::-1] ** 2)

    plan = dd.SparseHessianPlan(f, np.ones(5))
    assert plan.local and plan.ncolors == 1
    x = -np.arange(1.0, 6.0)
    np.testing.assert_allclose(plan(x).toarray(), cs_fd_hessian(f, x), rtol=1e-7, atol=1e-7)
    assert plan.detections == 2


def test_given_patterns_and_colours():
    x = np.random.default_rng(4).uniform(-1, 1, 12)
    upper = sp.triu(banded(12, 1), format="csr")  # symmetrised
    H = dd.hessian(chained, x, sparsity=upper)
    np.testing.assert_allclose(H.toarray(), chained_hessian(x), rtol=1e-14, atol=1e-14)
    colours = np.arange(12) % 4  # valid, not the fewest
    plan = dd.SparseHessianPlan(chained, x, sparsity=(banded(12, 1), colours))
    assert plan.ncolors == 4 and plan.detections == 0
    np.testing.assert_allclose(plan(x).toarray(), chained_hessian(x), rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match="star"):
        dd.SparseHessianPlan(chained, x, sparsity=(banded(12, 1), np.arange(12) % 2))
    with pytest.raises(ValueError, match="does not fit"):
        dd.hessian(chained, x, sparsity=np.eye(5))
    with pytest.raises(ValueError, match="auto"):
        dd.hessian(chained, x, sparsity="yes")
    with pytest.raises(ValueError, match="forward-over-reverse"):
        dd.hessian(chained, x, sparsity="auto", method="hyperdual")


def test_trust_constr_client_converges_at_ten_thousand():
    n = 10**4
    hess = dd.SparseHessianPlan(chained, np.zeros(n))
    x0 = np.full(n, 0.5)
    res = minimize(chained, x0, jac=lambda x: dd.gradient(chained, x), hess=hess,
                   method="trust-constr", options={"gtol": 1e-10, "xtol": 1e-12})
    assert res.status in (1, 2) and np.abs(res.x - 1.0).max() < 1e-8
    assert hess.detections == 1 and hess.calls == res.nhev
