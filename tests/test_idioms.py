"""Idioms of ordinary NumPy code, each differentiated exactly (hand-derived references)."""

from __future__ import annotations

import numpy as np
import pytest
from carriers import check
from hypothesis import given, settings
from hypothesis.extra.numpy import array_shapes
from refs import cs_jacobian

import dualdiff as dd
from dualdiff.problems import rosen_gradient, rosen_loop


def test_zeros_like_and_slice_assignment():
    def f(x):
        out = np.zeros_like(x)
        out[0] = x[0] ** 2
        out[1:] = x[:-1] * x[1:]
        out[::2] += 1.0
        return out

    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(dd.jacobian(f, x), [[2, 0, 0], [2, 1, 0], [0, 3, 2]])


def test_assignment_of_constants_and_fancy_and_mask():
    def f(x):
        out = np.ones_like(x) * x
        out[[0, 2]] = 7.0                 # constants wipe the derivative
        out[x > 2.5] = x[x > 2.5] ** 2    # boolean mask
        out[..., -1] = np.sin(x[0])
        return out

    x = np.array([1.0, 2.0, 3.0, 4.0])
    jac = dd.jacobian(f, x)
    ref = np.zeros((4, 4))
    ref[1, 1] = 1.0
    ref[2, 2] = 6.0
    ref[3, 0] = np.cos(1.0)
    np.testing.assert_allclose(jac, ref, rtol=1e-15)


def test_zeros_with_like_and_empty_like():
    def f(x):
        out = np.zeros(3, like=x)
        out[0], out[2] = x[1], np.exp(x[0])
        e = np.empty_like(x)
        e[:] = 2 * x
        f = np.full_like(x, 5.0)
        f[1] = x[0]
        return out + np.concatenate([e, [0.0]]) + np.concatenate([f, [0.0]])

    x = np.array([0.5, 2.0])
    np.testing.assert_allclose(dd.jacobian(f, x), [[2, 1], [1, 2], [np.exp(0.5), 0]],
                               rtol=1e-15)
    assert dd.jacobian(lambda x: np.ones((2, 2), like=x) * x[0], x).shape == (2, 2, 2)
    assert dd.jacobian(lambda x: np.asarray([1.0, 2.0], like=x) * x, x).tolist() == \
        [[1, 0], [0, 2]]


@pytest.mark.parametrize("wrap", [list, tuple, np.array, lambda v: [[v[0], v[1]], [v[2], 1.0]]],
                         ids=["list", "tuple", "np.array", "nested"])
def test_list_tuple_array_outputs(wrap):
    def f(x):
        return wrap([x[0] * x[1], np.sin(x[1]), 3.0])

    x = np.array([2.0, 0.5])
    jac = dd.jacobian(f, x)
    ref = np.array([[0.5, 2.0], [0.0, np.cos(0.5)], [0.0, 0.0]])
    if jac.ndim == 3:  # the nested 2 x 2 case
        ref = np.concatenate([ref, [[0.0, 0.0]]]).reshape(2, 2, 2)
    np.testing.assert_allclose(jac, ref, rtol=1e-15)


def test_scipy_root_style_output():
    # scipy.optimize.root's examples return lists of scalar expressions
    def fun(x):
        return [x[0] + 0.5 * (x[0] - x[1]) ** 3 - 1.0, 0.5 * (x[1] - x[0]) ** 3 + x[1]]

    x = np.array([0.3, 0.8])
    d = x[0] - x[1]
    ref = [[1 + 1.5 * d**2, -1.5 * d**2], [-1.5 * d**2, 1 + 1.5 * d**2]]
    np.testing.assert_allclose(dd.jacobian(fun, x), ref, rtol=1e-14)


def test_python_loops_over_scalars():
    x = np.array([1.2, 0.7, -0.4, 2.0])
    np.testing.assert_allclose(dd.gradient(rosen_loop, x), rosen_gradient(x), rtol=1e-13)
    # iterating over the Dual, sum() of Python objects, comprehension
    np.testing.assert_allclose(dd.gradient(lambda x: sum(v * v for v in x), x), 2 * x)


def test_branches_on_values():
    def f(x):
        if x[0] > 0:
            return x**2
        return -x

    np.testing.assert_array_equal(dd.jacobian(f, [1.0, 2.0]), [[2, 0], [0, 4]])
    np.testing.assert_array_equal(dd.jacobian(f, [-1.0, 2.0]), -np.eye(2))

    def g(x):
        y = x.copy()
        while np.max(np.abs(y)) > 1:
            y = y / 2
        return y

    np.testing.assert_array_equal(dd.jacobian(g, [3.0, 1.0]), np.eye(2) / 4)
    assert bool(dd.Dual(1.0, 1.0)) and not bool(dd.Dual(0.0, 1.0))


def test_nested_derivatives_with_tags():
    d = dd.derivative
    assert d(lambda x: x * d(lambda y: x + y, 1.0), 1.0) == 1.0
    # perturbation confusion (Siskind & Pearlmutter): d/dx [x * d/dy (x * y)] = d/dx x^2 = 2x
    assert d(lambda x: x * d(lambda y: x * y, 2.0), 3.0) == 6.0
    # a second derivative by nesting, and a Hessian as the Jacobian of a gradient
    assert d(lambda x: d(lambda y: y**3, x), 2.0) == 12.0
    x = np.array([1.0, 2.0])
    hess = dd.jacobian(lambda x: dd.gradient(lambda y: np.sum(y**3) * y[0], x), x)
    # f = (y0^3 + y1^3) y0: f_00 = 12 y0^2, f_01 = 3 y1^2, f_11 = 6 y0 y1
    np.testing.assert_allclose(hess, [[12.0, 12.0], [12.0, 12.0]], rtol=1e-15)


def test_self_calling_function_keeps_perturbations_apart():
    # ForwardDiff #313: tags by function type fail when f differentiates itself
    def f(x, depth=1):
        if depth == 0:
            return x * x
        return x * dd.derivative(lambda y: f(x * y, depth - 1), 1.0)

    # inner: d/dy (x y)^2 at y = 1 = 2 x^2; f = 2 x^3; f' = 6 x^2
    assert dd.derivative(f, 2.0) == 24.0


def test_nested_with_item_assignment():
    def inner(x):
        def g(y):
            o = np.zeros_like(y)
            o[0] = x * y[0]
            o[1] = y[1] * y[0]
            return o

        return dd.jacobian(g, np.array([1.0, 2.0]))

    np.testing.assert_array_equal(inner(2.0), [[2, 0], [2, 1]])
    assert dd.derivative(lambda x: inner(x)[0, 0], 2.0) == 1.0
    jac = dd.jacobian(lambda x: inner(x[0] * x[1]), np.array([2.0, 3.0]))
    assert jac[0, 0].tolist() == [3.0, 2.0] and not jac[1].any() and not jac[0, 1].any()


def test_inputs_int_list_scalar_empty():
    np.testing.assert_array_equal(dd.jacobian(lambda x: x**2, np.array([1, 2])),
                                  [[2, 0], [0, 4]])
    np.testing.assert_array_equal(dd.jacobian(lambda x: x**2, [1, 2]), [[2, 0], [0, 4]])
    assert dd.derivative(lambda x: x**2, 3) == 6.0
    assert dd.jacobian(lambda x: x**2, 3).shape == ()
    assert dd.jacobian(lambda x: 2 * x, np.zeros(0)).shape == (0, 0)
    assert dd.jacobian(lambda x: np.sum(x), np.zeros((0, 3))).shape == (0, 3)
    assert dd.jacobian(lambda x: x[:0], np.ones(3)).shape == (0, 3)
    assert dd.gradient(lambda x: np.sum(x), np.zeros(0)).shape == (0,)


@settings(max_examples=10)
@given(shape=array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
def test_any_shape_input(shape):
    x = np.random.default_rng(0).uniform(-1, 1, shape)

    def f(x):
        return np.sin(x) * np.sum(x**2)

    jac = dd.jacobian(f, x, chunk=2)
    assert jac.shape == shape + shape
    np.testing.assert_allclose(jac, cs_jacobian(f, x), rtol=1e-13, atol=1e-15)


def test_x_is_never_mutated():
    def f(x):
        x[0] = 5.0 * x[1]
        x *= 2
        return x

    x = np.array([1.0, 2.0])
    before = x.copy()
    np.testing.assert_array_equal(dd.jacobian(f, x), [[0, 10], [0, 2]])
    dd.gradient(lambda x: np.sum(f(x)), x)
    dd.value_and_jacobian(f, x, chunk=1)
    dd.jvp(f, x, np.ones(2))
    np.testing.assert_array_equal(x, before)
    xl = [1.0, 2.0]
    dd.jacobian(f, xl)
    assert xl == [1.0, 2.0]


def test_f_returning_constants():
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(dd.jacobian(lambda x: 3.0, x), [0, 0])
    np.testing.assert_array_equal(dd.jacobian(lambda x: np.ones(3), x), np.zeros((3, 2)))
    np.testing.assert_array_equal(dd.jacobian(lambda x: [1, 2], x), np.zeros((2, 2)))
    assert dd.derivative(lambda x: 7, 1.0) == 0.0
    y, t = dd.jvp(lambda x: 2.0, x, x)
    assert y == 2.0 and t == 0.0
    assert dd.gradient(lambda x: 1.0, x).tolist() == [0.0, 0.0]


def test_stack_of_scalar_duals_and_mixed_lists():
    def f(x):
        parts = [x[0] * x[1], x[1], 2.0]
        return np.stack(parts) + np.array(parts) + np.hstack(parts)

    np.testing.assert_array_equal(dd.jacobian(f, [2.0, 3.0]), [[9, 6], [0, 3], [0, 0]])


def test_value_and_jacobian_and_jvp_agree():
    def f(x):
        return np.array([np.sum(x**2), np.prod(x)])

    x = np.array([1.0, 2.0, 3.0])
    y, jac = dd.value_and_jacobian(f, x)
    np.testing.assert_array_equal(y, f(x))
    v = np.array([0.5, -1.0, 2.0])
    y2, jv = dd.jvp(f, x, v)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_allclose(jv, jac @ v, rtol=1e-15)


def test_in_place_operators_write_through_views():
    def f(x):
        out = np.zeros_like(x)
        row = out[0:2]      # a view, as in NumPy
        row += x[:2]
        row *= x[2]
        out[1:] += x[1:]    # getitem, iadd, setitem
        out[2] -= 1.0
        out[2] /= 2.0
        out **= 1.0
        return out

    x = np.array([1.0, 2.0, 3.0])
    # out = [x0 x2, x1 x2 + x1, (x2 - 1) / 2]
    np.testing.assert_array_equal(dd.jacobian(f, x), [[3, 0, 1], [0, 4, 2], [0, 0, 0.5]])

    def g(x):  # a newer perturbation cannot be stored in place: the name is rebound
        a = x * 1.0
        a += dd.derivative(lambda y: x * y * y, 1.0)
        return a

    assert dd.derivative(g, 2.0) == 3.0


def test_scalar_and_0d_assignment_follow_numpy():
    def f(x):
        s = np.zeros_like(x[0])  # a 0-d array, as in NumPy: assignable in place
        t = s[...]               # a view of it
        s[...] = x[1]
        s += x[0]
        return np.stack([s, t])

    np.testing.assert_array_equal(dd.jacobian(f, [1.0, 2.0]), [[1, 1], [1, 1]])

    def g(x):
        s = x[0] * 1.0  # a NumPy scalar: immutable, so item assignment fails as in NumPy
        s[...] = x[1]
        return s

    with pytest.raises(TypeError, match="does not support item assignment"):
        dd.jacobian(g, [1.0, 2.0], mode="forward")

    def h(x):
        s = 0.0
        for i in range(2):
            s += x[i] ** 2  # rebinds, as with NumPy scalars
        return s

    for mode in ("forward", "reverse"):
        np.testing.assert_array_equal(dd.jacobian(h, [1.0, 2.0], mode=mode), [2, 4])
    np.testing.assert_array_equal(dd.hessian(h, [1.0, 2.0]), [[2, 0], [0, 2]])
    np.testing.assert_array_equal(dd.hvp(h, [1.0, 2.0], [1.0, 0.0]), [2, 0])


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_lists_holding_duals_inside_numpy_calls(mode):
    # a list constant that holds a carrier must not be treated as a constant
    x = np.array([1.0, 2.0, 3.0])
    jac = dd.jacobian(lambda x: np.concatenate([x[:2], [np.sum(x)]]), x, mode=mode)
    np.testing.assert_array_equal(jac, [[1, 0, 0], [0, 1, 0], [1, 1, 1]])
    jac = dd.jacobian(lambda x: x[:2] * [x[2], 1.0], x, mode=mode)
    np.testing.assert_array_equal(jac, [[3, 0, 1], [0, 1, 0]])


def test_division_by_a_python_zero_follows_numpy():
    with np.errstate(divide="ignore"):
        assert dd.derivative(lambda x: x / 0.0, 1.0) == np.inf
        assert dd.derivative(lambda x: x / 0, 1.0) == np.inf


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_ndarray_methods_that_work_in_place(mode):
    # ndarray.sort / partition / fill / put change the array (NumPy returns None), and
    # views of it see the change; hand-derived: a permutation or a write of x's elements
    x = np.array([0.3, -1.2, 0.8, -0.1])
    order = np.argsort(x)
    perm = np.eye(4)[order]

    def sort_arg(x):
        s = x  # f sorts its argument in place
        assert s.sort() is None
        return s * 1.0

    def sort_view(x):
        y = x * 2.0
        y[1:].sort()
        return y

    def fill_put(x):
        y = np.sin(x)
        y[:2].fill(x[3])
        y.put([-1, 2, -1], x[:2] ** 2)  # values repeat (x0², x1², x0²); the last write wins
        return y

    def partition(x):
        y = x * 1.0
        y.partition(1)
        return y[:2]

    np.testing.assert_array_equal(dd.jacobian(sort_arg, x, mode=mode), perm)
    tail = np.eye(4)[1 + np.argsort(x[1:])]
    np.testing.assert_array_equal(dd.jacobian(sort_view, x, mode=mode),
                                  2.0 * np.vstack([np.eye(4)[:1], tail]))
    want = np.zeros((4, 4))
    want[0, 3] = want[1, 3] = 1.0
    want[2, 1] = 2 * x[1]
    want[3, 0] = 2 * x[0]
    np.testing.assert_allclose(dd.jacobian(fill_put, x, mode=mode), want, rtol=1e-15)
    np.testing.assert_array_equal(dd.jacobian(partition, x, mode=mode), perm[:2])


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_ufunc_at_applies_every_repeated_index(mode):
    # np.add.at / multiply.at are unbuffered: a repeated index accumulates, as NumPy
    x = np.array([0.3, -1.2, 0.8])

    def f(x):
        y = np.zeros_like(x)
        np.add.at(y, [0, 0, 2], x ** 2)  # y0 = x0² + x1², y2 = x2²
        np.multiply.at(y[::2], [1, 1], x[0])  # through a view: y2 *= x0 twice
        return y

    y, J = dd.value_and_jacobian(f, x, mode=mode)
    np.testing.assert_array_equal(y, f(x.copy()))  # NumPy's bits
    want = np.array([[2 * x[0], 2 * x[1], 0.0], [0.0, 0.0, 0.0],
                     [2 * x[0] * x[2] ** 2, 0.0, 2 * x[2] * x[0] ** 2]])
    np.testing.assert_allclose(J, want, rtol=1e-15)
    with pytest.raises(TypeError, match="add.at into a plain array"):
        dd.jacobian(lambda x: np.add.at(np.zeros(3), [0, 1], x[:2]), x, mode=mode)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_ravel_copies_where_numpy_copies(mode):
    # a.ravel() is a view only of a C-contiguous a (np.reshape(a, -1) of a 1-d strided a
    # would be a view): writes into the ravel of a reversed or strided view are lost
    x = np.array([0.3, -1.2, 0.8, -0.1])
    for view in (lambda a: a[::-1][1:], lambda a: a[::2], lambda a: a.reshape(2, 2).T,
                 lambda a: a[1:]):
        def f(x):
            y = x * 2.0
            v = view(y)
            v.ravel()[0] += x[0] ** 2
            return y

        np.testing.assert_array_equal(dd.value_and_jacobian(f, x, mode=mode)[0], f(x.copy()))
        written = np.shares_memory(view(x).ravel(), x)  # NumPy decides
        want = 2.0 * np.eye(4)
        if written:
            want[1, 0] += 2 * x[0]  # view(y)[0] is y[1] for a[1:]
        np.testing.assert_array_equal(dd.jacobian(f, x, mode=mode), want)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_assignment_from_an_overlapping_view_follows_numpy_copy_order(mode):
    # a[:, -1] = a[1, :] writes a row into a column that crosses it: NumPy's copy loop
    # passes on the element written just before (a[2, 2] gets the new a[1, 2] = old
    # a[1, 1]); np.subtract.at reads its operand before changing a
    def f(x):
        a = np.sin(x)
        a[:, -1] = a[1, :]
        b = x[0] * 1.0
        np.subtract.at(b, [0, 2, 0], b[:3])  # b0 = -x02 (b2 read before), b2 = x02 - x01
        return np.concatenate([a.ravel(), b])

    x = np.arange(9.0).reshape(3, 3) / 10
    y, J = dd.value_and_jacobian(f, x, mode=mode)
    np.testing.assert_array_equal(y, f(x.copy()))
    J = J.reshape(12, 9)
    src = {2: 3, 5: 4, 8: 4}  # the root element each written element of a holds
    for row in range(9):
        want = np.zeros(9)
        want[src.get(row, row)] = np.cos(x.ravel()[src.get(row, row)])
        np.testing.assert_allclose(J[row], want, rtol=1e-15)
    np.testing.assert_array_equal(J[9:, :3], [[0, 0, -1], [0, 1, 0], [0, -1, 1]])
    np.testing.assert_array_equal(J[9:, 3:], 0)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_writes_of_a_view_into_itself_move_what_numpy_moves(mode):
    # pure moves: NumPy's value on distinct numbers says which element each output holds
    # (the reference); the derivative must be that one-hot row
    def f(x):
        a = x + np.zeros((1, 3))
        v = a.reshape(3, 1)
        v[[2, 1, 2]] = v  # the item is the view written into
        b = x * 1.0
        b[1:][::-1] = b[:-1]  # a reversed, overlapping copy
        return np.concatenate([a.ravel(), b])

    x = np.array([2.0, 3.0, 5.0])
    y = f(x.copy())
    want = (y[:, None] == x[None, :]).astype(float)
    assert np.all(want.sum(axis=1) == 1)
    np.testing.assert_array_equal(dd.jacobian(f, x, mode=mode), want)
    np.testing.assert_array_equal(dd.value_and_jacobian(f, x, mode=mode)[0], y)


def test_flat_reads_copies_and_writes_into_the_array():
    # ndarray.flat: C-order elements; a write repeats the values to fill, as NumPy's
    def f(x):
        a = x.reshape(2, 3).T.copy()
        a.flat[[0, 2, 4]] = x[:2] ** 2
        a.T.flat[1:3] = x[4] * 3  # through a view: reaches a
        s = sum(e for e in a.flat)
        return np.concatenate([a.ravel(), [s], [a.flat[3] * 2], a.flat[1:3]])

    x = np.array([0.3, -1.2, 0.7, 1.5, -0.4, 2.0])
    check(f, x)
    # a NumPy scalar (what x[0] + 1 is) takes no item assignment, as in NumPy
    with pytest.raises(TypeError, match="does not support item assignment"):
        dd.jacobian(lambda x: (x[0] + 1.0).__setitem__((), 2.0), x)
