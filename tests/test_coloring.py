"""Colourings: validity, lower bounds, and scipy's group_columns on the same patterns."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize._numdiff import group_columns

from dualdiff import coloring


def banded(n, lower, upper):
    return sp.diags([np.ones(n - abs(k)) for k in range(-lower, upper + 1)],
                    list(range(-lower, upper + 1)), shape=(n, n), format="csr")


def ncolors(c):
    return int(c.max()) + 1


def test_diagonal_one_colour_tridiagonal_three():
    assert ncolors(coloring.column_coloring(sp.eye(10**5, format="csr"))) == 1
    for n in (30, 10**5):
        c = coloring.column_coloring(banded(n, 1, 1))
        assert ncolors(c) == 3 and coloring.is_valid(banded(n, 1, 1), c)
    assert ncolors(coloring.row_coloring(banded(30, 1, 1))) == 3


def test_banded_reaches_lower_bound_at_a_million():
    p = banded(10**6, 2, 3)
    c = coloring.column_coloring(p)
    assert ncolors(c) == coloring.lower_bound(p) == 6


def test_arrow_pattern_rows_beat_columns():
    # a dense first row forces n column colours; rows 1.. are orthogonal: 2 row colours
    n = 12
    p = np.eye(n, dtype=bool)
    p[0] = True
    assert ncolors(coloring.column_coloring(p)) == n
    assert ncolors(coloring.row_coloring(p)) == 2
    r = coloring.report(p)
    assert (r["columns"], r["column_bound"], r["rows"], r["row_bound"]) == (n, n, 2, 2)


def test_is_valid_rejects_conflicts():
    p = banded(5, 1, 1)
    assert not coloring.is_valid(p, np.array([0, 1, 0, 1, 0]))
    assert coloring.is_valid(p, np.array([0, 1, 2, 0, 1]))


def test_greedy_path_on_interleaved_pattern():
    # two interleaved species coupled to neighbours (Brusselator-like): not j mod bound
    n = 40
    p = banded(n, 2, 2).tolil()
    p[0::2, 1::2] = 0
    p = p.tocsr()
    p = p + sp.eye(n, k=1, format="csr") + sp.eye(n, k=-1, format="csr")
    c = coloring.column_coloring(p)
    assert coloring.is_valid(p, c)
    assert coloring.lower_bound(p) <= ncolors(c) <= coloring.scipy_groups(p)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 25), st.integers(1, 25), st.floats(0.05, 0.5), st.integers(0, 10**6))
def test_random_patterns_valid_and_bounded(m, n, density, seed):
    p = sp.csr_array(np.random.default_rng(seed).random((m, n)) < density)
    for colors, pat in ((coloring.column_coloring(p), p), (coloring.row_coloring(p), p.T)):
        assert colors.shape == (pat.shape[1],)
        assert coloring.is_valid(pat, colors)
        assert ncolors(colors) >= coloring.lower_bound(pat)
        # greedy never needs more than (max degree of the column graph) + 1 colours
        g = (sp.csr_array(pat).T @ sp.csr_array(pat)).tocsr()
        assert ncolors(colors) <= max(int(np.diff(g.indptr).max()), 1)
    groups = group_columns(sp.csc_matrix(p))
    assert coloring.scipy_groups(p) == groups.max() + 1


@pytest.mark.parametrize("form", [np.asarray, sp.csr_matrix, sp.csc_array])
def test_pattern_forms(form):
    a = np.array([[1, 0, 2], [0, 0, 3]])
    p = coloring.as_pattern(form(a))
    assert p.dtype == bool and np.array_equal(p.toarray(), a != 0)
