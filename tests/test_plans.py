"""Prepared plans: bit-identical replays, guards that re-record, SciPy clients, threads.

References: the unprepared drivers of the same mode at the same x (bits), the
complex step (values at new x; tests/refs.py shares no code with dualdiff) and
hand-derived formulas.
"""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
import scipy.optimize as so
from refs import cs_jacobian
from scipy.integrate import solve_ivp

import dualdiff as dd
from dualdiff import plans
from dualdiff.modes import forward_rows
from dualdiff.problems import MLP, rosen, rosen_hessian, rosen_loop
from dualdiff.reverse import Recording


def identical(a, b) -> bool:
    """Same shape, dtype and bits (signs of zeros and NaN payloads included)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def scalar_mix(x):
    """Scalar code with transcendental kernels (replayed one call per node), divisions,
    square roots and a stack of scalars."""
    out = []
    for i in range(len(x) - 1):
        out.append(np.sin(x[i]) * x[i + 1] / (1.0 + x[i] ** 2) + np.sqrt(x[i + 1] ** 2 + 1.0))
    return np.sum(np.stack(out) * np.exp(x[0]))


def views_and_writes(x):
    """Writes through views into a buffer and into the argument itself."""
    buf = np.zeros_like(x)
    buf[1:] = x[:-1] * x[1:]
    view = buf[::2]
    view *= 3.0
    x[0] = x[0] ** 2  # f mutates its argument
    x[1:] += buf[:-1]
    return np.sum(np.tanh(x) * buf) + x[0]


def fortran_write(x):
    """A write into an F-ordered array (the replay must write it in C order, as NumPy)."""
    a = np.copy(np.outer(x[:3], x[1:4]), order="F")
    a[0, 1:] = 7.0 * x[0]
    return np.sum(a ** 2 * np.arange(9.0).reshape(3, 3))


def mutate_only(x):
    x *= x
    return np.sum(x[::-1] * np.arange(1.0, x.size + 1))


RNG = np.random.default_rng(7)
X0 = np.linspace(-0.9, 1.1, 9)
X1 = X0 + 0.05 * RNG.standard_normal(9)
SCALAR_FUNCS = [rosen, rosen_loop, scalar_mix, views_and_writes, fortran_write, mutate_only]


@pytest.mark.parametrize("f", SCALAR_FUNCS, ids=lambda f: f.__name__)
def test_gradient_plan_is_the_reverse_driver_bit_for_bit(f):
    plan = dd.gradient_plan(f, X0)
    for x in (X0, X1, X1 * 1.5):
        x_before = x.copy()
        g = plan(x)
        assert identical(x, x_before)  # the caller's x is never written
        assert identical(g, dd.gradient(f, x, mode="reverse"))
    assert plan.rerecords == 0
    value, _ = plan.value_and_gradient(X1)
    assert value == f(X1.copy())  # the replayed value is f's, bit for bit
    # and the numbers are right: complex step at a new x (views_and_writes mutates a copy)
    ref = cs_jacobian(lambda z: f(np.array(z, copy=True)), X1)
    np.testing.assert_allclose(plan(X1), ref, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("f", SCALAR_FUNCS, ids=lambda f: f.__name__)
def test_hessian_and_hvp_plans_are_forward_over_reverse_bit_for_bit(f):
    hplan, vplan = dd.hessian_plan(f, X0), dd.hvp_plan(f, X0)
    v = RNG.standard_normal(X0.size)
    for x in (X0, X1):
        assert identical(hplan(x), dd.hessian(f, x, method="forward-over-reverse"))
        assert identical(vplan(x, v), dd.hvp(f, x, v, method="forward-over-reverse"))
    assert hplan.rerecords == 0 and vplan.rerecords == 0
    grad = lambda z: dd.gradient(f, z, mode="reverse")  # noqa: E731
    # the Hessian is the Jacobian of the exact gradient: complex step through it is
    # not possible (the gradient is real code), so compare with central differences of
    # the exact gradient: truncation h^2 |g'''| / 6 ~ 1e-12, rounding eps |g| / h ~ 1e-10
    h = 1e-6
    fd = np.stack([(grad(X1 + h * e) - grad(X1 - h * e)) / (2 * h) for e in np.eye(X1.size)],
                  axis=1)
    np.testing.assert_allclose(hplan(X1), fd, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(vplan(X1, v), fd @ v, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("f", SCALAR_FUNCS, ids=lambda f: f.__name__)
def test_sparse_hessian_plan_is_the_sparse_driver_bit_for_bit(f):
    plan = dd.hessian_plan(f, X0, sparsity="auto")
    for x in (X0, X1):
        h = plan(x)
        want = dd.hessian(f, x, sparsity="auto")
        assert (h.indptr == want.indptr).all() and (h.indices == want.indices).all()
        assert identical(h.data, want.data)
        np.testing.assert_allclose(h.toarray(), dd.hessian(f, x), rtol=1e-12, atol=1e-12)


def coupling_by_sign(x):
    # which pairs couple depends on the sign of x[0]: the pattern is local to x
    return np.sum(x[1:] * x[:-1]) if x[0] > 0 else np.sum(x ** 3)


def test_sparse_hessian_plan_detects_again_on_another_path():
    x0, x = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 2.0, 3.0])
    plan = dd.hessian_plan(coupling_by_sign, x0, sparsity="auto")
    assert plan.colouring.local
    assert plan(x0).nnz == dd.hessian_sparsity(coupling_by_sign, x0).nnz > 3
    h = plan(x)  # another path: the plan records again and the pattern is detected again
    assert plan.rerecords == 1 and h.nnz == 3
    np.testing.assert_array_equal(h.toarray(), np.diag(6 * x))


def test_sparse_hessian_plan_on_two_paths_from_threads():
    # each replay reads the pattern of its own recording, while other threads record again
    plan = dd.hessian_plan(coupling_by_sign, np.array([1.0, 2.0, 3.0]), sparsity="auto")
    xs = [np.array([s, 2.0 + k, 3.0]) for k in range(4) for s in (1.0, -1.0)]
    want = [dd.hessian(coupling_by_sign, x) for x in xs]
    errors = []

    def work():
        for _ in range(10):
            for x, w in zip(xs, want):
                if not np.array_equal(plan(x).toarray(), w):
                    errors.append(x)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_sparse_hessian_plan_of_the_chained_rosenbrock_uses_three_colours():
    x = np.linspace(-1.0, 1.0, 50)
    plan = dd.hessian_plan(rosen, x, sparsity="auto")
    assert plan.colouring.ncolors == 3
    np.testing.assert_allclose(plan(x).toarray(), rosen_hessian(x), rtol=1e-13, atol=1e-12)


mlp = MLP(5, 4, hidden=6, seed=3)


def tall(x):
    return np.concatenate([np.sin(x) * x[0], np.cumsum(x) ** 2, [np.prod(x)]])


@pytest.mark.parametrize("f", [mlp, tall, np.sin], ids=["mlp", "tall", "sin"])
def test_dense_jacobian_plan_matches_its_mode(f):
    x0 = RNG.standard_normal(5)
    for mode in ("reverse", "forward"):
        plan = dd.jacobian_plan(f, x0, sparsity=None, mode=mode)
        for x in (x0, x0 + 0.3):
            jac = plan(x)
            if mode == "reverse":
                assert identical(jac, dd.jacobian(f, x, mode="reverse"))
            else:  # forward sweeps over the program: Recording.push's bits
                assert identical(jac, forward_rows(Recording(f, x)))
                np.testing.assert_array_equal(jac, dd.jacobian(f, x, mode="forward"))
            np.testing.assert_allclose(jac, cs_jacobian(f, x), rtol=1e-13, atol=1e-13)
    auto = dd.jacobian_plan(f, x0, sparsity=None)
    m = np.size(f(x0))
    assert auto.mode == ("reverse" if m < 5 else "forward")


def test_scalar_code_jacobian_plan():
    def f(x):
        return np.stack([x[0] * x[1], np.cos(x[1]) - x[2] ** 2, x[2] / x[0]])
    plan = dd.jacobian_plan(f, np.array([1.0, 2.0, 3.0]), sparsity=None, mode="reverse")
    x = np.array([1.5, -0.5, 2.0])
    assert identical(plan(x), dd.jacobian(f, x, mode="reverse"))


def test_args_enter_as_inputs_and_constants():
    def f(x, a, t, n, name):
        assert name == "label"
        return np.sum(a[:n] * x[:n] ** 2) * np.exp(-t)

    a = np.array([1.0, 2.0, 3.0])
    plan = dd.gradient_plan(f, X0, args=(a, 0.5, 3, "label"))
    assert plan.args_as_inputs
    for args in ((a, 0.5, 3, "label"), (a * 2, 1.5, 3, "label")):
        ref = dd.gradient(lambda z: f(z, *args), X1, mode="reverse")  # noqa: B023
        assert identical(plan(X1, *args), ref)
    assert plan.rerecords == 0  # new float values replay
    plan(X1, a, 0.5, 2, "label")  # an int arg is a constant: a new value re-records
    assert plan.rerecords == 1
    plan(X1, np.ones(4), 0.5, 2, "label")  # a float arg of another shape re-records
    assert plan.rerecords == 2
    assert identical(plan(X1, np.ones(4), 0.5, 2, "label"),
                     dd.gradient(lambda z: f(z, np.ones(4), 0.5, 2, "label"), X1,
                                 mode="reverse"))
    # called without args: the ones it was made with
    assert identical(plan(X1), dd.gradient(lambda z: f(z, a, 0.5, 3, "label"), X1,
                                           mode="reverse"))


def test_args_that_f_needs_as_plain_values_are_constants():
    import math

    def f(x, t):
        return np.sum(x ** 2) * math.exp(-t)  # math.exp refuses a recorded input

    plan = dd.gradient_plan(f, X0, args=(0.5,))
    assert not plan.args_as_inputs
    assert identical(plan(X1, 0.5), dd.gradient(lambda z: f(z, 0.5), X1, mode="reverse"))
    before = plan.rerecords
    assert identical(plan(X1, 0.7), dd.gradient(lambda z: f(z, 0.7), X1, mode="reverse"))
    assert plan.rerecords == before + 1


def branchy(x):
    if x[0] > 0:  # a Python branch on a value
        y = np.sin(x) * x[0]
    else:
        y = np.cos(x) * x[1]
    k = np.argmax(x)  # an arg-reduction
    pos = x[x > 0.5]  # a mask whose size depends on x
    return np.sum(y) + x[k] ** 3 + np.sum(pos ** 2)


@pytest.mark.parametrize("x_new, why", [
    (np.array([-1.0, 0.2, 0.3, 0.4]), "branch"),
    (np.array([1.0, 2.0, 0.3, 0.4]), "argmax"),
    (np.array([1.0, 0.2, 0.9, 0.8]), "mask size"),
])
def test_guards_re_record_when_a_discrete_result_changes(x_new, why):
    x0 = np.array([1.0, 0.2, 0.3, 0.4])
    for make, ref in ((dd.gradient_plan, lambda f, x: dd.gradient(f, x, mode="reverse")),
                      (dd.hessian_plan,
                       lambda f, x: dd.hessian(f, x, method="forward-over-reverse"))):
        plan = make(branchy, x0)
        assert plan.guards > 0
        assert identical(plan(x0 * 1.01), ref(branchy, x0 * 1.01)), why
        assert plan.rerecords == 0
        assert identical(plan(x_new), ref(branchy, x_new)), why
        assert plan.rerecords == 1, why
        assert identical(plan(x_new), ref(branchy, x_new))
        assert plan.rerecords == 1  # the new program replays


def test_kink_and_selection_partials_are_recomputed_not_guarded():
    def f(x):
        return np.sum(np.abs(x) * np.maximum(x, 0.5))

    plan = dd.gradient_plan(f, np.array([1.0, -2.0, 0.3]))
    for x in (np.array([-1.0, 2.0, 0.7]), np.array([0.0, 0.5, -0.1])):
        assert identical(plan(x), dd.gradient(f, x, mode="reverse"))
    assert plan.rerecords == 0


def test_hessian_plan_rechecks_slopes_baked_into_the_gradient_program():
    # |x|'s slope and the NaN-safe masks of the recorded backward sweep are constants of
    # the gradient program: where a sign flips the plan must re-record, not reuse them
    def f(x):
        return np.sum(np.abs(x) * x ** 2) + np.sum(np.sqrt(x ** 2 + 1.0) * np.maximum(x, 0.0))

    plan = dd.hessian_plan(f, np.array([1.0, -2.0, 0.5]))
    x = np.array([-1.0, 2.0, 0.5])
    assert identical(plan(x), dd.hessian(f, x, method="forward-over-reverse"))
    assert plan.rerecords == 1
    # |x| x^2 = sign(x) x^3: second derivative 6 |x| (hand formula), plus the smooth part
    smooth = np.where(x > 0, (3 * x + 2 * x ** 3) / (x ** 2 + 1.0) ** 1.5, 0.0)
    np.testing.assert_allclose(np.diag(plan(x)), 6 * np.abs(x) + smooth, rtol=1e-14)


def test_shape_change_of_x_re_records():
    plan = dd.gradient_plan(rosen, np.ones(4))
    assert identical(plan(X1), dd.gradient(rosen, X1, mode="reverse"))
    assert plan.rerecords == 1


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="scalar"):
        dd.gradient_plan(np.sin, np.ones(3))
    with pytest.raises(ValueError, match="mode"):
        dd.jacobian_plan(np.sin, np.ones(3), sparsity=None, mode="sideways")


def test_memory_and_repr():
    plan = dd.gradient_plan(lambda x: np.sum(np.sin(x) * np.arange(50.0)), np.ones(50))
    # the constant np.arange(50.0) is held once (a snapshot): 400 bytes
    assert plan.nbytes >= 400
    assert "GradientPlan" in repr(plan) and plan.nodes > 0


def test_threads_share_a_plan():
    plan = dd.gradient_plan(branchy, np.array([1.0, 0.2, 0.3, 0.4]))
    xs = [np.array([1.0, 0.2, 0.3, 0.4]) * (1 + 0.01 * i) * (-1) ** i for i in range(16)]
    refs = [dd.gradient(branchy, x, mode="reverse") for x in xs]
    results = [None] * len(xs)

    def work(i):
        for _ in range(5):
            results[i] = plan(xs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(identical(r, ref) for r, ref in zip(results, refs))


# -- SciPy clients ----------------------------------------------------------------------

def test_minimize_with_plans():
    x0 = np.full(6, -0.5)
    for method, kw, opts in (("Newton-CG", {"hessp": dd.hvp_plan(rosen, x0)}, {"xtol": 1e-12}),
                             ("trust-exact", {"hess": dd.hessian_plan(rosen, x0)},
                              {"gtol": 1e-10})):
        jac = dd.gradient_plan(rosen, x0)
        res = so.minimize(rosen, x0, method=method, jac=jac, options=opts, **kw)
        ref = so.minimize(rosen, x0, method=method, options=opts,
                          jac=lambda z: dd.gradient(rosen, z),
                          **({"hessp": lambda z, p: dd.hvp(rosen, z, p)} if "hessp" in kw
                             else {"hess": lambda z: dd.hessian(rosen, z)}))
        assert res.success and ref.success
        np.testing.assert_allclose(res.x, np.ones(6), atol=1e-6)
        np.testing.assert_allclose(res.x, ref.x, atol=1e-9)


def test_minimize_passes_args():
    def f(x, a):
        return np.sum((x - a) ** 2) + np.sum(x[1:] * x[:-1]) * 0.1

    a = np.array([1.0, 2.0, 3.0])
    x0 = np.zeros(3)
    res = so.minimize(f, x0, args=(a,), method="trust-exact",
                      jac=dd.gradient_plan(f, x0, args=(a,)),
                      hess=dd.hessian_plan(f, x0, args=(a,)))
    ref = so.minimize(f, x0, args=(a,), method="trust-exact",
                      jac=lambda z, a: dd.gradient(lambda w: f(w, a), z),
                      hess=lambda z, a: dd.hessian(lambda w: f(w, a), z))
    assert res.success
    np.testing.assert_allclose(res.x, ref.x, atol=1e-10)


def test_least_squares_and_root_with_a_jacobian_plan():
    def resid(x, t, y):
        return x[0] * np.exp(-x[1] * t) + x[2] - y

    t = np.linspace(0.0, 3.0, 20)
    y = 2.0 * np.exp(-1.3 * t) + 0.5
    x0 = np.array([1.0, 1.0, 0.0])
    plan = dd.jacobian_plan(resid, x0, sparsity=None, args=(t, y))
    res = so.least_squares(resid, x0, jac=plan, args=(t, y))
    np.testing.assert_allclose(res.x, [2.0, 1.3, 0.5], atol=1e-8)
    assert plan.mode == "forward" and plan.rerecords == 0

    def g(x):
        return np.array([x[0] ** 2 + x[1] ** 2 - 4.0, np.exp(x[0]) + x[1] - 1.0])

    sol = so.root(g, [1.0, 1.0], jac=dd.jacobian_plan(g, np.ones(2), sparsity=None))
    assert sol.success
    np.testing.assert_allclose(g(sol.x), 0.0, atol=1e-10)


def test_solve_ivp_bdf_with_a_jacobian_plan():
    def robertson(t, y, k1, k2, k3):
        return np.array([-k1 * y[0] + k3 * y[1] * y[2],
                         k1 * y[0] - k2 * y[1] ** 2 - k3 * y[1] * y[2],
                         k2 * y[1] ** 2])

    k = (0.04, 3e7, 1e4)
    y0 = np.array([1.0, 0.0, 0.0])
    plan = dd.jacobian_plan(lambda y, t, *k: robertson(t, y, *k), y0, sparsity=None,
                            args=(0.0,) + k)
    sol = solve_ivp(robertson, (0.0, 100.0), y0, method="BDF", args=k,
                    jac=lambda t, y, *k: plan(y, t, *k), rtol=1e-8, atol=1e-10)
    ref = solve_ivp(robertson, (0.0, 100.0), y0, method="BDF", args=k,
                    jac=lambda t, y, *k: dd.jacobian(lambda z: robertson(t, z, *k), y),
                    rtol=1e-8, atol=1e-10)
    assert sol.success
    np.testing.assert_array_equal(sol.y[:, -1], ref.y[:, -1])  # same Jacobians, same steps
    assert plan.rerecords == 0


# -- classes of bugs the differential fuzzer (tests/differential.py) found ----------------

def test_operations_on_constants_made_from_x_are_replayed():
    # np.zeros_like(x) is a Tape without a node: ufuncs of it are constants of the
    # recording (their values, not None, enter the program), and a program whose live
    # element-wise nodes have only constant partials (np.diff: -1, +1) compiles
    def f(x):
        a = np.zeros_like(x)
        b = a.copy()
        b[-1] = np.expm1(np.tanh(a[2])) + np.cos(a[0])
        return np.concatenate([b * x, np.diff(x) - b[1:]])

    x0, x1 = np.array([-0.98, 0.6, 0.46]), np.array([0.3, -1.2, 2.0])
    plan = dd.jacobian_plan(f, x0, sparsity=None)
    for x in (x0, x1):
        # hand formula: d(b x)/dx = diag(b), b = (0, 0, expm1(tanh 0) + cos 0 = 1)
        want = np.vstack([np.diag([0.0, 0.0, 1.0]), [[-1.0, 1.0, 0.0], [0.0, -1.0, 1.0]]])
        assert identical(plan(x), want)
    assert dd.gradient_plan(lambda x: np.sum(f(x)), x0)(x1).tolist() == [-1.0, 0.0, 2.0]


def test_piecewise_constant_values_are_guarded():
    # floor / sign of x are constants of the recording (zero derivative) whose values
    # the program keeps: where they differ at the new x the plan must re-record
    def f(x):
        return np.sign(np.clip(x, -0.5, 0.5)) * x + np.floor(2.0 * x) * x ** 2

    x0, x1 = np.array([0.3, -0.7, 1.2]), np.array([-0.3, 0.7, 0.2])
    for plan in (dd.jacobian_plan(f, x0, sparsity=None),
                 dd.gradient_plan(lambda x: np.sum(f(x)), x0)):
        got = plan(x1)
        assert plan.rerecords == 1
        # hand formula: d/dx (s x + k x^2) = s + 2 k x with s, k the constants at x1
        want = np.sign(x1) + 2 * np.floor(2 * x1) * x1
        np.testing.assert_allclose(np.diagonal(got) if got.ndim == 2 else got, want,
                                   rtol=1e-15)
    # nested (the Hessian plan records the gradient program): the reported value is plain
    plan = dd.hessian_plan(lambda x: np.sum(np.sign(x) * x ** 3), x0)
    np.testing.assert_allclose(plan(x1), np.diag(6 * np.abs(x1)), rtol=1e-15)
    assert plan.rerecords == 1


def test_constants_of_the_program_are_never_shadowed_by_its_locals():
    # constants were named c<N> like the backward sweep's contribution variables c<i>:
    # here node 30's contribution overwrote the matmul's constant matrix c30 before its
    # vjp read it (a crash here; with matching shapes a silently wrong gradient)
    w = np.array([[0.241, -0.773], [1.064, -0.113], [-1.048, 0.313]])

    def f(x):
        a = np.outer(x[0:4], np.cos(x[3:6]) + -0.376) @ w
        s = 3.0 * np.eye(3) + 0.4 * np.tanh(np.outer(x[0:3], np.cos(x[1:4]) + -1.484))
        np.linalg.det(s)  # unused, but its guards are part of the program
        return np.sum(np.prod(1.0 + 0.3 * np.sin(np.std(a, axis=-1)), keepdims=True) * 0.3)

    x0 = np.array([-0.142, -0.417, -1.241, -0.714, 1.152, 0.749])
    x1 = np.array([-0.406, 1.11, 0.727, -0.102, -1.242, -0.723])
    plan = dd.gradient_plan(f, x0)
    assert identical(plan(x1), dd.gradient(f, x1, mode="reverse"))
    for p in (plan, dd.hessian_plan(f, x0), dd.jacobian_plan(f, x0, sparsity=None)):
        program = p._program
        assigned = set(re.findall(r"^\s+(\w+) = ", program.source, re.M))
        consts = {k for k in program._backward.__globals__ if k not in plans._ENV}
        assert not assigned & consts
