"""NumPy's aliasing (views, writes through them, copies) in every mode (issue 9.1).

Ground truth is NumPy itself: every function here is run on plain arrays, and the reference
Jacobian is the central difference of that plain run (refs.cd_jacobian, h = 1e-6: truncation
h^2/6 |f'''| ~ 1e-12 and rounding eps |f| / h ~ 1e-10 for these O(1) polynomials and
sines: rtol 1e-7); second parts by a central difference of it (carriers.second_reference,
rtol 1e-4).  Each function runs in forward mode (chunk 1 and default), reverse, auto, the
first and second parts of a hyper-dual pass, both Hessian methods, the tracer
(tests/carriers.py) and nested (forward over forward, forward over reverse).
"""

from __future__ import annotations

import numpy as np
import pytest
from carriers import check, second_reference

import dualdiff as dd

RTOL = 1e-7


def run_all(f, x):
    """f at x in every mode against the central differences of NumPy's own run."""
    x = np.array(x, dtype=float)
    jac = check(f, x, kind="cd", rtol=RTOL, atol=1e-8)
    scale = max(1.0, float(np.max(np.abs(jac))))
    np.testing.assert_allclose(dd.jacobian(f, x), jac, rtol=RTOL, atol=1e-8 * scale,
                               err_msg="auto")
    v = np.random.default_rng(1).normal(size=x.shape)
    t_ref = second_reference(f, x, v, kind="cd")
    tol = 1e-4 * (float(np.max(np.abs(t_ref), initial=0.0)) + scale)
    for outer, inner in (("forward", "forward"), ("forward", "reverse")):
        nested = dd.jacobian(lambda y: dd.jacobian(f, y, mode=inner), x, mode=outer)
        np.testing.assert_allclose(np.tensordot(nested, v, x.ndim), t_ref, rtol=1e-4,
                                   atol=tol, err_msg=f"{outer} over {inner}")


X = np.array([0.7, -1.3, 0.4, 2.1, -0.6, 1.1])


def swap_scalars(x):
    y = x * 1.0
    y[0], y[1] = y[1], y[0]  # scalars: copies, a true swap
    return y * x


def swap_rows(x):
    a = np.sin(x).reshape(2, 3)
    a[0], a[1] = a[1], a[0]  # rows are views: a[1] (the old a[0] view) sees the new a[0]
    return a * x[0]


def swap_rows_copied(x):
    a = np.sin(x).reshape(2, 3)
    a[0], a[1] = a[1].copy(), a[0].copy()
    return a


def broadcast_sum_then_write(x):
    z = x[:3] + np.zeros((1, 3))
    z[0, 0] = 0
    return z * x[3:]


def write_through_reshape(x):
    out = np.zeros((2, 2), like=x)
    out.reshape(4)[1] = x[0] * x[1]
    out.reshape(4)[2:] = np.sin(x[2:4])
    return out


def write_through_transpose(x):
    out = np.zeros((2, 3), like=x)
    out.T[...] = x.reshape(3, 2) ** 2
    out.T[1] = x[:2] * x[4]
    return out


def write_through_ravel(x):
    out = np.ones((2, 3)) * x[0]
    out.ravel()[::2] = x[1:4] ** 3
    return out


def views_of_views(x):
    out = np.zeros((3, 4), like=x)
    v = out[1:, ::2]
    w = v[:, 1:]
    w[...] = x[:2].reshape(2, 1) * x[2]
    v[0, 0] = np.cos(x[3])
    u = out.T[1:3]
    u[0, 0] += x[4] ** 2
    return out


def view_read_after_base_write(x):
    out = np.zeros(4, like=x)
    v = out[1:]  # returned: must show the writes made to out after it was taken
    out[2] = x[0] ** 2
    out[:2] += x[1] * x[2]
    return v


def view_of_input_read_after_write(x):
    v = x[::2]
    x[2] = x[1] ** 2  # f writes into its argument
    return v * x[0]


def duplicate_indices(x):
    out = np.zeros(4, like=x)
    out[[0, 2, 0, 3]] = x[:4] ** 2  # the last write to 0 wins
    out[np.array([1, 1])] += x[4]  # buffered: added once
    return out


def transposed_copy_diagonal(x):
    a = np.outer(x[:3], x[3:]).T.copy()  # C-ordered copy of a transpose
    a.ravel()[::4] = 0
    return a


def in_place_on_items(x):
    a = x**2
    a[1] += x[0] * x[2]
    a[2:4] *= np.sin(x[4])
    a[-1] -= a[0]
    a[[0, 0]] += x[3]  # buffered: added once
    return a


def f_mutates_its_argument(x):
    x *= 2.0
    x[0] = x[1] ** 2
    x[2:] += x[:-2]
    return x[::-1] * 1.5


FUNCTIONS = [swap_scalars, swap_rows, swap_rows_copied, broadcast_sum_then_write,
             write_through_reshape, write_through_transpose, write_through_ravel,
             views_of_views, view_read_after_base_write, view_of_input_read_after_write,
             duplicate_indices, transposed_copy_diagonal, in_place_on_items,
             f_mutates_its_argument]


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_numpy_aliasing_in_every_mode(f):
    run_all(f, X)


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_the_callers_x_and_seeds_are_never_written(f):
    """Every driver passes a private copy: x and v are unchanged afterwards (f here may
    write into its argument and so into the seeded tangent)."""
    x, v = X.copy(), np.linspace(-1.0, 1.0, X.size)
    x0, v0 = x.copy(), v.copy()
    g = lambda y: np.sum(np.sin(f(y)))  # noqa: E731
    calls = [lambda: dd.jacobian(f, x, mode="forward", chunk=1),
             lambda: dd.jacobian(f, x, mode="reverse"), lambda: dd.jacobian(f, x),
             lambda: dd.jvp(f, x, v), lambda: dd.vjp(f, x)[1](np.ones(np.shape(f(X.copy())))),
             lambda: dd.jacobian_sparsity(f, x), lambda: dd.jacobian(f, x, sparsity="auto"),
             lambda: dd.hessian(g, x, method="hyperdual"),
             lambda: dd.hessian(g, x, method="forward-over-reverse"),
             lambda: dd.hvp(g, x, v, method="hyperdual"),
             lambda: dd.hvp(g, x, v, method="forward-over-reverse")]
    for call in calls:
        call()
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(v, v0)


def test_outer_perturbation_written_into_a_view_of_an_inner_array():
    """Nested passes: an item carrying the outer pass's perturbation (t) is stored through a
    view into an array of the inner pass."""
    z0 = np.array([0.5, -1.5, 2.0])

    def inner(z, t):
        out = np.zeros((2, 3), like=z)
        v = out[1, ::-1]  # a view into out
        v[0] = t * z[0]  # inner and outer
        v[1] = t**2  # outer only
        out.T[0] += np.sin(t) * z[1] * z[2]
        return out

    def jac_ref(t):  # d inner / dz by hand, as a function of t (complex-step capable)
        j = np.zeros((2, 3, 3), dtype=np.result_type(t, float))
        j[1, 2, 0] = t
        j[0, 0, 1], j[0, 0, 2] = np.sin(t) * z0[2], np.sin(t) * z0[1]
        j[1, 0, 1], j[1, 0, 2] = np.sin(t) * z0[2], np.sin(t) * z0[1]
        return j

    for mode in ("forward", "reverse"):
        check(lambda t: dd.jacobian(lambda z: inner(z, t[0]), z0, mode=mode), [0.8],
              lambda t: jac_ref(t[0]), skip={"hessian": "a Jacobian, not a scalar"})
