"""NumPy functions on Duals: Jacobians against the complex step of plain NumPy, chunk independence.

Most NumPy composites accept complex input and are analytic in it, so ``cs_jacobian(f, x)``
(the complex step of the very same NumPy call, not of dualdiff) is an exact reference.
Where NumPy's complex version is not analytic (abs, var/std via |.|^2) the reference is a
plain-NumPy expression written differently; sort/max/min/clip compare complex numbers by their
real part first, so with distinct values they pick the same elements and stay exact.
"""

from __future__ import annotations

import numpy as np
import pytest
from carriers import check, same_in_every_mode
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from refs import cs_jacobian

import dualdiff as dd

RTOL = 1e-12


def rnd(*shape, seed=0, lo=-2.0, hi=2.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


X3 = rnd(3, 4, 2)

# -- reductions ---------------------------------------------------------------------------

# (axis, keepdims): every kind of axis once, keepdims on the multi-axis ones
AXES = [(None, False), (1, False), (-1, True), ((0, 2), True), ((2, 0, 1), False)]


@pytest.mark.parametrize("axis, keepdims", AXES, ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min", "nansum", "nanmean",
                                  "nanmax", "nanmin", "nanprod", "ptp"])
def test_reductions(name, axis, keepdims):
    fn = getattr(np, name)
    check(lambda x: fn(x, axis=axis, keepdims=keepdims), X3)


@pytest.mark.parametrize("axis, keepdims, ddof", [(None, False, 0), (1, True, 1),
                                                  ((0, 2), False, 1), (-1, False, 0)], ids=str)
def test_var_std(axis, keepdims, ddof):
    def var_ref(x):  # analytic in x: no |.|^2
        m = np.mean(x, axis=axis, keepdims=True)
        n = x.size // m.size
        return np.sum((x - m) ** 2, axis=axis, keepdims=keepdims) / (n - ddof)

    check(lambda x: np.var(x, axis=axis, keepdims=keepdims, ddof=ddof), X3, var_ref)
    check(lambda x: np.std(x, axis=axis, keepdims=keepdims, ddof=ddof), X3,
          lambda x: np.sqrt(var_ref(x)))
    check(lambda x: np.nanvar(x, axis=axis, keepdims=keepdims, ddof=ddof), X3, var_ref)
    check(lambda x: np.nanstd(x, axis=axis, keepdims=keepdims, ddof=ddof), X3,
          lambda x: np.sqrt(var_ref(x)))


@settings(max_examples=8)
@given(shape=array_shapes(min_dims=0, max_dims=3, max_side=3), data=st.data())
def test_reductions_on_random_shapes(shape, data):
    nd = len(shape)
    axis = data.draw(st.none() | (st.integers(-nd, nd - 1) if nd else st.none()))
    keepdims = data.draw(st.booleans())
    x = rnd(*shape, seed=7)
    for fn in (np.sum, np.mean, np.prod, np.max, np.min, np.cumsum, np.cumprod):
        kw = {} if fn in (np.cumsum, np.cumprod) else {"keepdims": keepdims}
        if fn in (np.cumsum, np.cumprod) and nd == 0 and axis is not None:
            continue
        check(lambda x, fn=fn, kw=kw: fn(x, axis=axis, **kw), x)


def test_prod_with_zeros():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 0.5]])
    check(lambda x: np.prod(x, axis=1), x)
    check(np.prod, x)
    check(lambda x: np.cumprod(x, axis=1), x)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumulative(axis):
    x = rnd(3, 5)
    check(lambda x: np.cumsum(x, axis=axis), x)
    check(lambda x: np.cumprod(x, axis=axis), x)
    check(lambda x: np.nancumsum(x, axis=axis), x)
    check(lambda x: np.nancumprod(x, axis=axis), x)
    if axis is not None:
        check(lambda x: np.cumulative_sum(x, axis=axis, include_initial=True), x)
        check(lambda x: np.cumulative_prod(x, axis=axis, include_initial=True), x)


def test_median_average_trace_diff():
    x = rnd(4, 5)
    check(np.median, x)
    check(lambda x: np.median(x, axis=0), x)
    check(lambda x: np.median(x, axis=1, keepdims=True), x)
    check(lambda x: np.median(x[:, :4], axis=1), x)
    w = rnd(5, seed=3, lo=0.5, hi=1.0)
    check(lambda x: np.average(x, axis=1, weights=w), x)
    check(lambda x: np.average(x[0], weights=x[1] ** 2), x)
    check(np.trace, x)
    check(lambda x: np.trace(x, offset=1), x)
    for n in (1, 2, 3):
        check(lambda x, n=n: np.diff(x, n=n), x)
        check(lambda x, n=n: np.diff(x, n=n, axis=0), x)
    check(lambda x: np.diff(x, prepend=0.0, append=x[:, :1]), x)
    check(lambda x: np.ediff1d(x, to_begin=x[0, 0], to_end=[1.0, 2.0]), x)
    check(lambda x: np.trapezoid(x, axis=0), x)
    check(lambda x: np.trapezoid(x[1], x=np.cumsum(x[0] ** 2)), x)


def test_nan_reductions_skip_nans():
    x = rnd(3, 4)
    mask = np.zeros((3, 4), bool)
    mask[1, 2] = mask[0, 0] = True

    def f(x):
        return np.nansum(np.where(mask, np.nan, x), axis=0)

    # (the NaN-free value: check compares f's value with the reference's)
    check(f, x, lambda x: np.sum(np.where(mask, 0, x), axis=0))
    check(lambda x: np.nanmean(np.where(mask, np.nan, x), axis=1), x,
          lambda x: np.sum(np.where(mask, 0, x), axis=1) / np.sum(~mask, axis=1))
    check(lambda x: np.nanmax(np.where(mask, np.nan, x), axis=1), x,
          lambda x: np.max(np.where(mask, -10.0, x), axis=1))


# -- structure ------------------------------------------------------------------------------

STRUCTURE = {
    "reshape": lambda x: np.reshape(x, (4, -1)),
    "reshape_F": lambda x: np.reshape(x, (2, 12), order="F"),
    "method_reshape": lambda x: x.reshape(6, 4),
    "ravel": np.ravel,
    "ravel_F": lambda x: np.ravel(x, order="F"),
    "flatten": lambda x: x.flatten(),
    "transpose": np.transpose,
    "transpose_axes": lambda x: np.transpose(x, (1, 2, 0)),
    "T": lambda x: x.T,
    "swapaxes": lambda x: np.swapaxes(x, 0, 2),
    "moveaxis": lambda x: np.moveaxis(x, 0, -1),
    "moveaxis_multi": lambda x: np.moveaxis(x, [0, 1], [-1, 0]),
    "rollaxis": lambda x: np.rollaxis(x, 2),
    "squeeze": lambda x: np.squeeze(x[:, :1, :], axis=1),
    "squeeze_all": lambda x: np.squeeze(x[:1, :, :1]),
    "expand_dims": lambda x: np.expand_dims(x, (0, 3)),
    "broadcast_to": lambda x: np.broadcast_to(x[0, 0], (3, 2, 2)),
    "broadcast_arrays": lambda x: sum(np.broadcast_arrays(x[0, :, :1], x[1, :1, :])),
    "concatenate": lambda x: np.concatenate([x[0], x[1] * 2, x[2]], axis=1),
    "concatenate_none": lambda x: np.concatenate([x[0], x[1]], axis=None),
    "concatenate_const": lambda x: np.concatenate([x[0], np.ones((4, 1))], axis=1),
    "stack": lambda x: np.stack([x[0], x[2]], axis=-1),
    "hstack": lambda x: np.hstack([x[0], x[1]]),
    "hstack_1d": lambda x: np.hstack([x[0, 0], x[1, 1], 3.0]),
    "vstack": lambda x: np.vstack([x[0], x[1]]),
    "vstack_1d": lambda x: np.vstack([x[0, 0], x[1, 1]]),
    "dstack": lambda x: np.dstack([x[0], x[1]]),
    "column_stack": lambda x: np.column_stack([x[0, :, 0], x[1]]),
    "append": lambda x: np.append(x[0], x[1]),
    "append_axis": lambda x: np.append(x[0], x[1], axis=0),
    "block": lambda x: np.block([[x[0], x[1]], [x[2], x[2]]]),
    "split": lambda x: np.split(x, 2, axis=1)[1],
    "split_idx": lambda x: np.split(x, [1, 3], axis=1)[2],
    "array_split": lambda x: np.array_split(x, 3, axis=1)[0],
    "hsplit": lambda x: np.hsplit(x, 2)[0],
    "vsplit": lambda x: np.vsplit(x, 3)[2],
    "unstack": lambda x: np.unstack(x, axis=1)[2],
    "flip": lambda x: np.flip(x, axis=1),
    "flip_all": np.flip,
    "fliplr": lambda x: np.fliplr(x),
    "flipud": lambda x: np.flipud(x),
    "roll": lambda x: np.roll(x, 2, axis=1),
    "roll_flat": lambda x: np.roll(x, -5),
    "rot90": lambda x: np.rot90(x, 1, axes=(1, 2)),
    "tile": lambda x: np.tile(x[0], (2, 1, 3)),
    "repeat": lambda x: np.repeat(x, 2, axis=1),
    "repeat_list": lambda x: np.repeat(x[0], [1, 0, 2, 1], axis=0),
    "pad": lambda x: np.pad(x[0], ((1, 2), (0, 1))),
    "pad_const": lambda x: np.pad(x[0], 1, constant_values=3.0),
    "pad_reflect": lambda x: np.pad(x[0], 2, mode="reflect"),
    "pad_edge": lambda x: np.pad(x[0], ((1, 0), (2, 1)), mode="edge"),
    "pad_const_pairs": lambda x: np.pad(x[0], 1, constant_values=(1.0, 2.0)),
    "pad_wrap": lambda x: np.pad(x[0], ((0, 1), (2, 0)), mode="wrap"),
    "take": lambda x: np.take(x, [3, 0, 0, 7]),
    "take_axis": lambda x: np.take(x, [2, 0], axis=1),
    "take_along_axis": lambda x: np.take_along_axis(x, np.array([[[1], [0], [1], [0]]]), axis=2),
    "diag_1d": lambda x: np.diag(x[0, :, 0]),
    "diag_1d_k": lambda x: np.diag(x[0, :, 0], k=-1),
    "diag_2d": lambda x: np.diag(x[:, :, 0]),
    "diagflat": lambda x: np.diagflat(x[0]),
    "diagonal": lambda x: np.diagonal(x, axis1=0, axis2=1),
    "diagonal_off": lambda x: np.diagonal(x[:, :, 0], 1),
    "triu": lambda x: np.triu(x[:, :, 1]),
    "tril": lambda x: np.tril(x, -1),
    "resize": lambda x: np.resize(x[0], (3, 5)),
    "delete": lambda x: np.delete(x, [0, 2], axis=1),
    "insert": lambda x: np.insert(x[0], 1, x[1, 1], axis=0),
    "insert_flat": lambda x: np.insert(x[0, :, 0], [0, 2], 5.0),
    "compress": lambda x: np.compress([True, False, True], x, axis=0),
    "extract": lambda x: np.extract(x > 0, x),
    "atleast_3d": lambda x: np.atleast_3d(x[0, 0]),
    "atleast_2d": lambda x: np.atleast_2d(x[0, 0, 0]),
    "meshgrid": lambda x: np.meshgrid(x[0, :, 0], x[1, :2, 1])[0] * np.meshgrid(
        x[0, :, 0], x[1, :2, 1])[1],
    "meshgrid_ij": lambda x: np.meshgrid(x[0, :, 0], x[1, :3, 1], indexing="ij")[1],
    "copy": np.copy,
}


@pytest.mark.parametrize("name", list(STRUCTURE))
def test_structure(name):
    check(STRUCTURE[name], X3)


def test_pad_with_a_differentiated_fill_value():
    check(lambda x: np.pad(x[0], 1, constant_values=x[1, 0, 0]), X3,
          lambda x: np.pad(x[0], 1) + np.pad(np.zeros((4, 2)), 1, constant_values=1.0) * x[1, 0, 0])


@pytest.mark.parametrize("fn", [np.putmask, np.place, np.put])
def test_put_place_putmask_repeat_values_as_numpy_does(fn):
    # putmask: element n takes values[n % len]; place: the selected ones take them in
    # turn; put: index i takes values[i % len]. References: the same call on the real
    # and imaginary parts of the complex step (NumPy's own semantics, no dualdiff code)
    x = rnd(3, 4, seed=21)
    mask = np.arange(12).reshape(3, 4) % 3 != 1
    where = mask if fn is not np.put else np.flatnonzero(mask)
    for vals in (lambda x: x[0, :3] ** 2, lambda x: x ** 2, lambda x: x[1, 1] * 3):
        def f(x, vals=vals):
            a = x * 1.0
            fn(a, where, vals(x))
            return a

        check(f, x)


def test_copyto_fill_diagonal_unwrap_average():
    x = rnd(3, 4, seed=13)

    def copyto(x):
        o = np.ones_like(x)
        np.copyto(o, x * 2, where=x > 0)
        return o

    check(copyto, x, lambda x: np.where(np.real(x) > 0, 2 * x, 1.0))

    def fill(x):
        o = x[:, :3] * 1.0
        np.fill_diagonal(o, x[0, 0])
        return o

    def fill_ref(x):
        o = x[:, :3] * 1.0
        o[np.arange(3), np.arange(3)] = x[0, 0]
        return o

    check(fill, x, fill_ref)

    def tall(x, wrap, val):  # a tall matrix: wrap=True starts the diagonal again below
        o = np.concatenate([x, x ** 2, x[:1]])[:, :2] * 1.0
        np.fill_diagonal(o, val(x), wrap=wrap)
        return o

    for wrap in (False, True):
        for val in (lambda x: x[0, 0], lambda x: x[1, :3] * 2):
            check(lambda x, w=wrap, v=val: tall(x, w, v), x)
    # dtype= of reductions is the precision NumPy computes in; of joins, the result's
    for f, f64 in ((lambda x, d=np.float32: np.sum(x, axis=1, dtype=d), np.float64),
                   (lambda x, d=np.float32: np.mean(x, axis=0, dtype=d), np.float64),
                   (lambda x, d=np.float32: np.cumsum(x, dtype=d), np.float64),
                   (lambda x, d=np.float32: np.var(x, dtype=d), np.float64),
                   (lambda x, d=np.float32: np.concatenate([x[0], x[1]], dtype=d), np.float64)):
        value = dd.jvp(f, x, np.ones_like(x))[0]
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, f(x))  # NumPy's float32 bits
        # the derivative of the same map in float64 (hand-checked elsewhere), to float32
        np.testing.assert_allclose(dd.jacobian(f, x), dd.jacobian(lambda x: f(x, f64), x),
                                   rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="drop the derivative"):
        dd.jacobian(lambda x: np.sum(x, dtype=int), x)
    check(lambda x: np.unwrap(3 * x, axis=1), x,
          lambda x: 3 * x + (np.unwrap(3 * np.real(x), axis=1) - 3 * np.real(x)))
    check(lambda x: np.average(x, axis=1, weights=x[0] ** 2 + 1, returned=True)[0], x)
    check(lambda x: np.average(x, axis=1, weights=x[0] ** 2 + 1, returned=True)[1], x)


def test_real_is_identity_imag_is_zero():
    check(np.real, X3, lambda x: x)  # np.real of a complex step would drop the step
    check(np.imag, X3, lambda x: 0.0 * x)


INDEXING = {
    "int": lambda x: x[1],
    "neg": lambda x: x[-1, 2],
    "scalar": lambda x: x[1, 2, 0],
    "slices": lambda x: x[::2, 1:, ::-1],
    "step": lambda x: x[:, ::3],
    "ellipsis": lambda x: x[..., 1],
    "newaxis": lambda x: x[:, None, 1],
    "fancy": lambda x: x[[0, 2, 2]],
    "fancy2": lambda x: x[[0, 2], [1, 3]],
    "fancy_sep": lambda x: x[[0, 2], :, [1, 0]],
    "fancy_mixed": lambda x: x[1:, [0, 0, 3]],
    "mask": lambda x: x[x > 0],
    "mask_axis": lambda x: x[:, np.array([True, False, True, True])],
    "iter": lambda x: sum(row for row in x),
}


@pytest.mark.parametrize("name", list(INDEXING))
def test_indexing(name):
    check(INDEXING[name], X3)


def test_where_clip_sort():
    x = rnd(4, 5)
    check(lambda x: np.where(x > 0, x**2, -x), x)
    check(lambda x: np.where(x[0] > 0, x, 1.0), x)
    check(lambda x: np.where(x > 0, 2.0, x[0]), x)
    check(lambda x: np.clip(x, -1, 1), x)
    check(lambda x: np.clip(x, x[0], 1.5), x)
    check(lambda x: np.clip(x, min=-0.5), x)
    check(lambda x: x.clip(None, 0.3), x)
    check(np.sort, x)
    check(lambda x: np.sort(x, axis=0), x)
    check(lambda x: np.sort(x, axis=None), x)
    check(lambda x: np.partition(x, 2, axis=1)[:, 2], x)
    check(lambda x: np.select([x < -1, x > 1], [x**2, 3 * x], default=x), x)
    check(lambda x: np.choose([0, 1, 0, 1, 1], [x[0], x[1] * 2]), x)
    check(lambda x: np.piecewise(x, [x < 0, x >= 0], [lambda v: v**2, lambda v: 3 * v]), x)


def test_interp_and_polyval():
    xp = np.array([-1.0, 0.0, 0.5, 2.0])
    fp = np.array([1.0, -1.0, 3.0, 2.0])
    x = np.array([-2.0, -0.5, 0.2, 0.7, 1.9, 3.0])
    # interp is piecewise linear in x: its slope is (fp[i+1]-fp[i])/(xp[i+1]-xp[i]) inside,
    # 0 outside; written out by hand
    slope = np.array([0.0, -2.0, 8.0, -1 / 1.5, -1 / 1.5, 0.0])
    start = np.interp(x, xp, fp) - slope * x
    check(lambda x: np.interp(x, xp, fp), x, lambda x: start + slope * x)
    check(lambda x: np.interp(x, list(xp), list(fp)), x, lambda x: start + slope * x)
    # linear in fp: complex step on fp (np.interp supports complex fp)
    check(lambda f: np.interp(x, xp, f), fp)
    # in xp (x fixed strictly inside the intervals): smooth, central differences
    check(lambda p: np.interp(x[1:5], p, fp), xp, kind="cd", rtol=1e-7, atol=1e-8)
    c = np.array([1.0, -2.0, 0.5, 3.0])
    check(lambda x: np.polyval(c, x), x)
    check(lambda p: np.polyval(p, x), c)
    check(lambda p: np.polyval(p, 0.7), c)
    check(lambda x: np.polyval(x[:3], x), x)
    # polyfit: NumPy's scaled least squares, in y (linear: complex step), x and w
    t = np.linspace(0.0, 1.0, 6)
    for deg in (1, 2):
        check(lambda y, deg=deg: np.polyfit(t, y, deg), x)
        check(lambda y, deg=deg: np.polyfit(t, np.stack([y, y ** 2], 1), deg), x)
        check(lambda s, deg=deg: np.polyfit(np.cumsum(np.exp(s)), x, deg), x, kind="cd",
              rtol=1e-6, atol=1e-7)
        check(lambda w, deg=deg: np.polyfit(t, x, deg, w=1.0 + 0.1 * w ** 2), x, kind="cd",
              rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(dd.jvp(lambda y, deg=deg: np.polyfit(t, y, deg), x,
                                             x)[0], np.polyfit(t, x, deg))


def test_interp_with_a_period_sliding_windows_and_i0():
    # interp(period=): NumPy's normalisation (modulo the period, sorted, wrapped knots),
    # in the queries, the knots and the values (queries away from the knots)
    xp, fp = np.array([350.0, 10.0, 100.0, 200.0]), np.array([1.0, 2.0, -1.0, 0.5])
    q = np.array([5.0, 372.5, -20.0, 150.0, 355.0])
    check(lambda q: np.interp(q, xp, fp, period=360), q, kind="cd", rtol=1e-7, atol=1e-8)
    check(lambda f: np.interp(q, xp, f, period=360), fp)
    check(lambda p: np.interp(q, p, fp, period=360), xp + [0.0, 1.0, 3.0, 7.0], kind="cd",
          rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(
        dd.jvp(lambda q: np.interp(q, xp, fp, period=360), q, np.ones(5))[0],
        np.interp(q, xp, fp, period=360))
    swv = np.lib.stride_tricks.sliding_window_view
    x = rnd(3, 4, seed=5)
    check(lambda x: swv(x.ravel(), 3).sum(axis=1), x)
    check(lambda x: swv(x, (2, 2)) ** 2, x)
    check(lambda x: swv(x, 2, axis=1) * x[0, 0], x)
    check(lambda x: np.i0(x) * x, x, kind="cd", rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(dd.jvp(np.i0, x, x)[0], np.i0(x), rtol=4e-16)


def test_interp_conventions_at_knots_and_ends():
    xp = np.array([0.0, 1.0, 2.0])
    fp = np.array([0.0, 1.0, 3.0])
    # at a knot the slope is that of the interval to the right; at the last knot, the left one
    same_in_every_mode(lambda x: np.interp(x, xp, fp), [0.0, 1.0, 2.0], np.diag([1.0, 2, 2]))
    same_in_every_mode(lambda x: np.interp(x, xp, fp, left=-1.0, right=5.0), [-1.0, 3.0],
                       np.zeros((2, 2)))


# -- products -----------------------------------------------------------------------------

A = rnd(3, 4, seed=1)
B = rnd(4, 2, seed=2)
V4 = rnd(4, seed=3)

PRODUCTS = {
    "matmul_mv": (lambda x: A @ x, V4),
    "matmul_vm": (lambda x: x @ B, V4),
    "matmul_vv": (lambda x: x @ x, V4),
    "matmul_mm_left": (lambda x: x.reshape(2, 2) @ B[:2], V4),
    "matmul_mm": (lambda x: x.reshape(4, 3).T @ x.reshape(4, 3), rnd(12, seed=4)),
    "matmul_batch": (lambda x: x.reshape(2, 2, 3) @ x.reshape(2, 3, 2), rnd(12, seed=5)),
    "matmul_batch_bcast": (lambda x: x.reshape(2, 2, 3) @ A, rnd(12, seed=5)),
    "matmul_batch_vec": (lambda x: x.reshape(2, 3, 2) @ x[:2], rnd(12, seed=5)),
    "matmul_vec_batch": (lambda x: x[:3] @ x.reshape(2, 3, 2), rnd(12, seed=5)),
    "rmatmul": (lambda x: B.T @ x, V4),
    "dot_vv": (lambda x: np.dot(x, x), V4),
    "dot_mv": (lambda x: np.dot(A, x), V4),
    "dot_scalar": (lambda x: np.dot(x, 3.0), V4),
    "dot_3d": (lambda x: np.dot(x.reshape(2, 3, 2), x.reshape(2, 6)), rnd(12, seed=6)),
    "dot_method": (lambda x: x.dot(B), V4),
    # (NumPy conjugates the first operand of vdot/vecdot/vecmat/correlate/cov for complex
    # input: those get a conjugate-free plain-NumPy reference in test_conjugating_products)
    "inner": (lambda x: np.inner(x.reshape(2, 2), A[:, :2]), V4),
    "inner_vv": (lambda x: np.inner(x, V4), V4),
    "outer": (lambda x: np.outer(x, x[:2]), V4),
    "tensordot": (lambda x: np.tensordot(x.reshape(2, 3, 2), x.reshape(3, 2, 2), axes=2),
                  rnd(12, seed=7)),
    "tensordot_axes": (lambda x: np.tensordot(x.reshape(2, 3, 2), A, axes=([1], [0])),
                       rnd(12, seed=7)),
    "einsum_ij_jk": (lambda x: np.einsum("ij,jk->ik", x.reshape(3, 4), B), rnd(12, seed=8)),
    "einsum_trace": (lambda x: np.einsum("ii", x.reshape(3, 3)), rnd(9, seed=8)),
    "einsum_implicit": (lambda x: np.einsum("ij,kj", x.reshape(3, 3), x.reshape(3, 3)),
                        rnd(9, seed=8)),
    "einsum_ellipsis": (lambda x: np.einsum("...i,...i->...", x.reshape(3, 3), x.reshape(3, 3)),
                        rnd(9, seed=8)),
    "einsum_three": (lambda x: np.einsum("i,ij,j->", x[:3], A, x), V4),
    "einsum_diag_out": (lambda x: np.einsum("ii->i", x.reshape(3, 3)), rnd(9, seed=8)),
    "kron": (lambda x: np.kron(x.reshape(2, 2), A[:2, :3]), V4),
    "kron_self": (lambda x: np.kron(x, x[:2]), V4),
    "cross3": (lambda x: np.cross(x[:3], x[1:]), V4),
    "cross_batch": (lambda x: np.cross(x.reshape(4, 3), A.T[:, :3]), rnd(12, seed=9)),
    "cross2": (lambda x: np.cross(x[:2], x[2:]), V4),
    "matvec": (lambda x: np.matvec(A, x), V4),
    "multi_dot": (lambda x: np.linalg.multi_dot([A, x.reshape(4, 1), x[None, :3]]), V4),
    "convolve": (lambda x: np.convolve(x, [1.0, -2.0, 0.5]), V4),
    "convolve_same": (lambda x: np.convolve(x[:3], x, mode="same"), V4),
    "convolve_valid": (lambda x: np.convolve(x, x[:2], mode="valid"), V4),
    "vander": (lambda x: np.vander(x, 3), V4),
    "sinc": (np.sinc, V4),
}


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors:DeprecationWarning")
@pytest.mark.parametrize("name", list(PRODUCTS))
def test_products(name):
    f, x = PRODUCTS[name]
    check(f, x)


def _cov_ref(m, ddof=1):  # rows are variables
    d = m - np.mean(m, axis=1, keepdims=True)
    return d @ d.T / (m.shape[1] - ddof)


def test_conjugating_products():
    x = rnd(12, seed=9)
    check(lambda x: np.vdot(x, x[::-1]), x, lambda x: np.sum(x * x[::-1]))
    check(lambda x: np.vecdot(x.reshape(3, 4), A), x, lambda x: np.sum(x.reshape(3, 4) * A, -1))
    check(lambda x: np.vecmat(x[:3], A), x, lambda x: x[:3] @ A)
    check(lambda x: np.correlate(x, x[1:3], mode="full"), x,
          lambda x: np.convolve(x, x[1:3][::-1], mode="full"))
    check(lambda x: np.correlate(x, [1.0, 2.0]), x,
          lambda x: np.convolve(x, [2.0, 1.0], mode="valid"))
    check(lambda x: np.cov(x.reshape(3, 4)), x, lambda x: _cov_ref(x.reshape(3, 4)))
    check(lambda x: np.cov(x.reshape(4, 3), rowvar=False, ddof=0), x,
          lambda x: _cov_ref(x.reshape(4, 3).T, 0))
    check(lambda x: np.cov(x[:4], x[4:8]), x, lambda x: _cov_ref(x[:8].reshape(2, 4)))

    def corr_ref(x):
        c = _cov_ref(x.reshape(3, 4))
        s = np.sqrt(np.diagonal(c))
        return c / s[:, None] / s[None, :]

    check(lambda x: np.corrcoef(x.reshape(3, 4)), x, corr_ref)


def _bins(idx, w, n):  # np.bincount written out (plain sums: complex-step capable)
    return np.stack([sum((w[i] for i in range(len(idx)) if idx[i] == b), 0 * w[0])
                     for b in range(n)])


def test_bincount_is_linear_in_its_weights():
    x = rnd(6, seed=14)
    idx = [0, 2, 2, 1, 0, 4]
    check(lambda x: np.bincount(idx, weights=x**2, minlength=7), x,
          lambda x: _bins(idx, x**2, 7))
    check(lambda x: np.bincount(np.array([3, 0, 3]), weights=np.sin(x[:3])) * x[3], x,
          lambda x: _bins([3, 0, 3], np.sin(x[:3]), 4) * x[3])


def test_misc_elementwise_wrappers():
    x = rnd(6, seed=11) * 3
    # rounding is piecewise constant: the reference rounds the real part only
    check(lambda x: np.round(x, 1) + x, x, lambda x: np.round(np.real(x), 1) + x)
    check(lambda x: np.around(x) * x, x, lambda x: np.around(np.real(x)) * x)
    check(lambda x: np.fix(x) + x**2, x, lambda x: np.fix(np.real(x)) + x**2)
    check(lambda x: np.nan_to_num(x) * 2, x)
    same_in_every_mode(np.sinc, [0.0], [[0.0]])  # sinc'(0) = 0


def test_ufunc_methods():
    x = rnd(3, 4)
    check(lambda x: np.add.reduce(x, axis=1), x)
    check(lambda x: np.multiply.reduce(x), x)
    check(lambda x: np.maximum.reduce(x, axis=0), x)
    check(lambda x: np.add.accumulate(x, axis=1), x)
    check(lambda x: np.multiply.accumulate(x), x)
    # running maxima and minima select an input: the earlier one at a tie
    for uf in (np.maximum, np.minimum, np.fmax, np.fmin):
        check(lambda x, uf=uf: uf.accumulate(x, axis=1), x, kind="cd", rtol=1e-8, atol=1e-8)
        check(lambda x, uf=uf: uf.accumulate(x), x, kind="cd", rtol=1e-8, atol=1e-8)
    ties = np.array([1.0, 3.0, 3.0, 2.0, 5.0])
    running = np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 1, 0, 0, 0],
                        [0, 0, 0, 0, 1]], dtype=float)
    same_in_every_mode(np.maximum.accumulate, ties, running)
    check(lambda x: np.multiply.outer(x[0], x[1]), x)
    check(lambda x: np.subtract.outer(x[0], x[1, :2]), x)


def test_reductions_with_where_and_initial():
    # NumPy's where= (left-out elements take no part) and initial= (it takes part first:
    # at a tie with it the slope is 0), values bit for bit
    x = rnd(3, 4, seed=7)
    mask = x > -0.3
    cases = [lambda x: np.sum(x, axis=1, where=mask), lambda x: np.sum(x, initial=1.5),
             lambda x: np.prod(x, axis=0, where=mask, initial=2.0),
             lambda x: np.max(x, axis=1, initial=0.3),
             lambda x: np.min(x, axis=0, where=mask, initial=5.0),
             lambda x: np.nanmax(x, initial=-1.0), lambda x: np.mean(x, axis=1, where=mask),
             lambda x: np.var(x, axis=1, where=mask, ddof=1), lambda x: np.std(x, where=mask)]
    for f in cases:
        check(f, x, kind="cd", rtol=1e-7, atol=1e-8)
        np.testing.assert_array_equal(dd.jvp(f, x, np.ones_like(x))[0], f(x))
    same_in_every_mode(lambda x: np.max(x, initial=2.0), [1.0, 2.0, 0.5], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="specify 'initial'"):
        dd.jacobian(lambda x: np.max(x, where=mask), x)
    # the nan-reductions take where= too (NaN and left-out elements take no part)
    y = x.copy()
    y[0, 1] = np.nan
    for f in (lambda x: np.nanmean(x, axis=1, where=mask),
              lambda x: np.nanvar(x, axis=1, where=mask, ddof=1),
              lambda x: np.nanstd(x, where=mask), lambda x: np.nanvar(x, axis=0, correction=1)):
        got = dd.jacobian(f, y)
        h = 1e-6
        fd = np.stack([(f(y + h * e) - f(y - h * e)) / (2 * h)
                       for e in np.eye(y.size).reshape((y.size,) + y.shape)], axis=-1)
        np.testing.assert_allclose(np.reshape(got, np.shape(fd)), fd, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(dd.jvp(f, y, np.ones_like(y))[0], f(y), rtol=1e-15)


def test_pad_modes_and_choose_modes():
    # pad's statistic modes compute their fill (derivatives through max / min / mean /
    # median, corners from the axes padded first); the others move elements. choose's
    # modes clip or wrap the indices. Values are NumPy's, bit for bit
    x = rnd(3, 4, seed=17)
    for mode in ("maximum", "minimum", "mean", "median", "edge", "wrap", "symmetric",
                 "reflect"):
        for f in (lambda x, m=mode: np.pad(x[0], 2, mode=m),
                  lambda x, m=mode: np.pad(x, ((1, 0), (2, 1)), mode=m)):
            check(f, x, kind="cd", rtol=1e-7, atol=1e-8)
            np.testing.assert_array_equal(dd.jvp(f, x, np.ones_like(x))[0], f(x))
    with pytest.raises(TypeError, match="mode='linear_ramp'"):
        dd.jacobian(lambda x: np.pad(x, 1, mode="linear_ramp"), x)
    choices = lambda x: [x[0, :3], x[1, :3], x[2, :3]]  # noqa: E731
    for mode, idx in (("clip", [0, 5, -1]), ("wrap", [0, 4, -2]), ("raise", [2, 0, 1])):
        check(lambda x, m=mode, i=idx: np.choose(np.array(i), choices(x), mode=m), x)
    with pytest.raises(ValueError, match="invalid entry"):
        dd.jacobian(lambda x: np.choose(np.array([0, 5, 1]), choices(x)), x)


def test_several_output_ufuncs_and_object_loop_ufuncs():
    # divmod, modf, frexp: NumPy's values and signs (bit for bit), slopes of their pieces
    y = np.array([-2.3, 0.3, 1.7, 7.25, 0.9, -5.5])
    check(lambda x: np.concatenate([np.divmod(x, 0.7)[1], np.divmod(x, 0.7)[0] * x,
                                    np.modf(x)[0], np.frexp(x)[0] * np.frexp(x)[1]]), y,
          kind="cd", rtol=1e-7, atol=1e-8)
    edge = np.array([-2.5, -2.0, -0.0, 0.0, 1e-310, 5e-324, np.inf, -np.inf, np.nan])
    for f in (lambda x: np.divmod(x, 0.7)[0], lambda x: np.divmod(x, 0.7)[1],
              lambda x: np.modf(x)[0], lambda x: np.modf(x)[1], lambda x: np.frexp(x)[0]):
        with np.errstate(all="ignore"):
            got, want = dd.jvp(f, edge, np.ones_like(edge))[0], f(edge)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    # np.frompyfunc ufuncs (object loops only) call their function on dualdiff scalars
    u1 = np.frompyfunc(lambda t: t * 2.0 + np.sin(t), 1, 1)
    u2 = np.frompyfunc(lambda a, b: (a * b + 1.0, a - b), 2, 2)
    check(lambda x: u1(x), y, lambda x: x * 2.0 + np.sin(x))
    check(lambda x: np.concatenate(u2(x[:3], x[3:])), y,
          lambda x: np.concatenate([x[:3] * x[3:] + 1.0, x[:3] - x[3:]]))


def test_max_min_ties_go_to_the_first_index():
    x = np.array([1.0, 3.0, 3.0, -2.0, -2.0])
    same_in_every_mode(np.max, x, [0, 1, 0, 0, 0])
    same_in_every_mode(np.min, x, [0, 0, 0, 1, 0])
    same_in_every_mode(lambda x: np.max(x.reshape(1, 5), axis=1), x, [[0, 1, 0, 0, 0]])
    same_in_every_mode(lambda x: np.argmax(x) + 0.0 * x[0], x, [0, 0, 0, 0, 0])
    # sort is stable: tied elements keep their order
    same_in_every_mode(np.sort, [2.0, 1.0, 2.0], [[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    # clip at a bound: the bound is picked (maximum/minimum ties go to the first argument,
    # which is x), so the derivative at x == bound is 1
    same_in_every_mode(lambda x: np.clip(x, 0.0, 1.0), [0.0, 1.0], np.eye(2))
    same_in_every_mode(lambda x: np.maximum(x, x[::-1]), [1.0, 1.0], np.eye(2))
    same_in_every_mode(lambda x: np.abs(x), [0.0, -1.0], [[1, 0], [0, -1]])
    same_in_every_mode(lambda x: np.median(x), [1.0, 1.0, 1.0], [0, 1, 0])


def test_methods_of_dual():
    x = rnd(3, 4)
    check(lambda x: x.sum(axis=0) + x.mean() + x.prod(axis=1).sum(), x)
    check(lambda x: x.std() + x.var(axis=1).sum() + x.max() - x.min(axis=0).sum(), x,
          lambda x: np.sqrt(np.mean((x - np.mean(x)) ** 2))
          + np.sum(np.mean((x - np.mean(x, axis=1, keepdims=True)) ** 2, axis=1))
          + np.max(x) - np.sum(np.min(x, axis=0)))
    check(lambda x: x.cumsum(axis=1) * x.cumprod(axis=1), x)
    check(lambda x: x.transpose(1, 0).ravel()[2:5] + x.squeeze()[0, :3], x)
    check(lambda x: x.swapaxes(0, 1).repeat(2, axis=0).take([0, 3]), x)
    check(lambda x: x.diagonal() * x.trace() + x.copy()[0, :3], x)
    check(lambda x: x.astype(np.float64).conj().round(2) + x, x, lambda x: np.real(x).round(2) + x)
    check(lambda x: x.clip(-0.5, 0.5), x)
    d = dd.Dual(x, np.ones((1,) + x.shape))
    assert (d.shape, d.ndim, d.size, d.dtype, len(d)) == ((3, 4), 2, 12, np.float64, 3)
    assert d.argmax() == np.argmax(x) and d.argmin() == np.argmin(x)
    np.testing.assert_array_equal(d.argsort(), np.argsort(x))


# -- second order: forward over forward through every kind of function ------------------

_A4 = np.random.default_rng(0).normal(size=(4, 4)) + 4 * np.eye(4)
la = np.linalg

# name: (f, analytic): analytic means plain NumPy on complex input is the analytic
# continuation of f, so the complex-step gradient is exact
SECOND_ORDER = {
    "sin_matmul": (lambda x: np.sum(np.sin(_A4 @ x)), True),
    "prod": (lambda x: np.prod(x), True),
    "max": (lambda x: np.max(x * x[::-1]), True),
    "sort": (lambda x: np.sort(x**3) @ np.arange(4.0), True),
    "solve": (lambda x: np.sum(la.solve(_A4 + np.diag(x), x)), True),
    "solve_matrix": (lambda x: np.sum(la.solve(_A4 + np.diag(x), np.outer(x, x))), True),
    "inv": (lambda x: np.sum(la.inv(_A4 + np.outer(x, x))), True),
    "det": (lambda x: la.det(_A4 + np.outer(x, x[::-1])), True),
    "slogdet": (lambda x: la.slogdet(_A4 + np.diag(x**2))[1], False),
    "cholesky": (lambda x: np.sum(la.cholesky(np.outer(x, x) + 5 * np.eye(4))), False),
    "eigh": (lambda x: la.eigvalsh(np.outer(x, x) + np.diag(np.arange(4.0)))[1], False),
    "einsum": (lambda x: np.einsum("i,ij,j", x, _A4, x**2), True),
    "norm": (lambda x: la.norm(x) ** 3, False),
    "cumprod": (lambda x: np.sum(np.cumprod(x)), True),
    "where": (lambda x: np.sum(np.where(x > 0, x**3, np.exp(x))), True),
    "setitem": (lambda x: _setitem_f(x), True),
    "interp": (lambda x: np.sum(np.interp(np.array([0.1, 0.5]), np.sort(x), x**2)), False),
    "polyval": (lambda x: np.polyval(x, x[0]), True),
    "lstsq": (lambda x: np.sum(la.lstsq(np.vstack([_A4, np.diag(x)]), np.ones(8))[0]), False),
    "var_std": (lambda x: np.var(x) * np.std(x), False),
    "median": (lambda x: np.median(x**2), True),
    "tensordot": (lambda x: np.tensordot(np.outer(x, x), _A4, axes=2), True),
    "kron": (lambda x: np.sum(np.kron(x, x) ** 2), True),
    "pad": (lambda x: np.sum(np.pad(x, 1, constant_values=2.0) ** 3), True),
    "clip": (lambda x: np.sum(np.clip(x, -0.5, 0.5) * x), True),
    "maximum": (lambda x: np.sum(np.maximum(x, x[::-1] ** 2)), True),
    "power": (lambda x: np.sum(np.abs(x) ** x[0]), False),
    "arctan2": (lambda x: np.sum(np.arctan2(x, x[::-1] + 1)), False),
    "hypot": (lambda x: np.sum(np.hypot(x, 1.0 + x[::-1])), False),
    "stack": (lambda x: np.sum(np.stack([x, x**2]) @ x), True),
    "cross": (lambda x: np.sum(np.cross(x[:3], x[1:]) ** 2), True),
    "matrix_power": (lambda x: np.sum(la.matrix_power(_A4 + np.diag(x), 3)), True),
    "svdvals": (lambda x: np.sum(la.svdvals(_A4 + np.outer(x, x))), False),
    "convolve": (lambda x: np.sum(np.convolve(x, x) ** 2), True),
    "abs": (lambda x: np.sum(np.abs(x) ** 3), False),
}


def _setitem_f(x):
    out = np.zeros_like(x)
    out[1:] = x[:-1] * x[1:]
    out[0] = x[0] ** 3
    return np.sum(out**2)


def _hessian_ref(f, x, analytic):
    n = x.size
    eye = np.eye(n)
    if analytic:
        # central difference (h = 1e-5) of the exact complex-step gradient:
        # truncation h^2/6 |f''''| ~ 1e-10, rounding eps |g| / h ~ 1e-11 -> rtol 1e-7
        h = 1e-5
        return np.stack([(cs_jacobian(f, x + h * e) - cs_jacobian(f, x - h * e)) / (2 * h)
                         for e in eye], axis=-1), 1e-7
    # four-point second difference, h = 1e-4: truncation ~h^2 |f''''| ~ 1e-8,
    # rounding ~eps |f| / h^2 ~ 1e-8 -> rtol 1e-5
    h = 1e-4
    H = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            a, b = h * eye[i], h * eye[j]
            H[i, j] = (f(x + a + b) - f(x + a - b) - f(x - a + b) + f(x - a - b)) / (4 * h * h)
    return H, 1e-5


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_second_order_by_nesting(name):
    f, analytic = SECOND_ORDER[name]
    x = np.array([0.3, -0.7, 1.1, 0.45])
    ref, tol = _hessian_ref(f, x, analytic)
    for chunk in (1, None):
        hess = dd.jacobian(lambda y: dd.gradient(f, y), x, chunk=chunk)
        np.testing.assert_allclose(hess, ref, rtol=tol, atol=tol * np.max(np.abs(ref)))


def _quantile_ref(x, q, axis=None, keepdims=False):
    """Linear-method quantile written out: sorted by the real part, then interpolated."""
    if axis is None:
        x, axis = x.ravel(), 0
    s = np.take_along_axis(x, np.argsort(np.real(x), axis=axis), axis=axis)
    s = np.moveaxis(s, axis, -1)
    n = s.shape[-1]
    q = np.asarray(q, dtype=float)
    pos = q * (n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    out = np.moveaxis(s[..., lo] * (1 - (pos - lo)) + s[..., hi] * (pos - lo),
                      tuple(range(s.ndim - 1, s.ndim - 1 + q.ndim)), tuple(range(q.ndim)))
    return np.expand_dims(out, q.ndim + axis) if keepdims else out


def test_spaces_polynomials_gradient_quantiles():
    x = rnd(3, 5, seed=12)
    check(lambda x: np.linspace(x[0, 0], x[0, 1], 7), x)
    check(lambda x: np.linspace(x[0], x[1], 4, axis=1), x)
    check(lambda x: np.linspace(x[0, 0], 3.0, 5, endpoint=False, retstep=True)[1], x)
    check(lambda x: np.logspace(x[0, 0], x[0, 1], 4), x)
    check(lambda x: np.polyadd(x[0], x[1, :2]), x)
    check(lambda x: np.polysub(x[0, :2], x[1]), x)
    check(lambda x: np.polymul(x[0], x[1, :3]), x)
    check(lambda x: np.polyder(x[0], 2), x)
    check(lambda x: np.polyint(x[0], 2, k=[1.0, 2.0]), x)
    check(lambda x: np.stack(np.gradient(x)), x)
    check(lambda x: np.gradient(x, 0.5, axis=1, edge_order=2), x)
    check(lambda x: np.gradient(x, 2.0, 3.0)[1], x)
    check(lambda x: np.quantile(x, 0.3), x, lambda x: _quantile_ref(x, 0.3))
    check(lambda x: np.quantile(x, [0.1, 0.5, 1.0], axis=1), x,
          lambda x: _quantile_ref(x, [0.1, 0.5, 1.0], axis=1))
    check(lambda x: np.percentile(x, [10, 90], axis=0, keepdims=True), x,
          lambda x: _quantile_ref(x, [0.1, 0.9], axis=0, keepdims=True))
    # the methods that pick sorted elements (positions from q and n alone)
    for method in ("lower", "higher", "nearest", "midpoint"):
        for f in (lambda x, m=method: np.percentile(x, [10, 50, 75, 100], method=m),
                  lambda x, m=method: np.quantile(x, [0.25, 0.4], axis=0, method=m,
                                                  keepdims=True)):
            check(f, x, kind="cd", rtol=1e-7, atol=1e-8)
            np.testing.assert_array_equal(dd.jvp(f, x, np.ones_like(x))[0], f(x))
    with pytest.raises(TypeError, match="linear"):
        dd.jacobian(lambda x: np.quantile(x, 0.5, method="weibull"), x)
    # coordinates along an axis, constant or traced, uniform or not (NumPy's weights)
    coords = np.arange(5.0) ** 2 + 1.0
    check(lambda x: np.gradient(x[0], coords), x)
    check(lambda x: np.gradient(x, 0.5, coords, edge_order=2)[1], x)
    check(lambda x: np.gradient(x[0], np.cumsum(np.exp(x[1]))), x)
    check(lambda x: np.gradient(x[1], 0.5 * np.arange(5.0), edge_order=2), x)
    for spacing in (coords, 0.5 * np.arange(5.0)):
        for order in (1, 2):
            np.testing.assert_array_equal(  # NumPy's own formulas, bit for bit
                dd.jvp(lambda y: np.gradient(y, spacing, edge_order=order), x[0],
                       np.ones(5))[0], np.gradient(x[0], spacing, edge_order=order))
    with pytest.raises(ValueError, match="must match the length"):
        dd.jacobian(lambda x: np.gradient(x[0], np.arange(3.0)), x)
