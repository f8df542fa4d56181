"""Reverse mode (dualdiff.tape): against forward mode on every rule, against
hand-derived formulas and the complex step, and its promises (accumulation,
assignment, threads, batched cotangents, nesting)."""

import threading

import numpy as np
import pytest
import scipy.special as sc
from hypothesis import example, given, settings
from hypothesis import strategies as st

import dualdiff as dd
from dualdiff import rules, rules_special  # (special rows: test_special_rows.py)
from dualdiff.reverse import Recording
from dualdiff.tape import Tape

RTOL = 1e-12

# inputs u in [0.1, 0.9] mapped into each function's domain
POSITIVE = {np.sqrt, np.cbrt, np.log, np.log2, np.log10, np.reciprocal, sc.gamma, sc.gammaln,
            sc.digamma}
UNIT = {np.arcsin, np.arccos, np.arctanh, sc.logit, np.log1p}


def domain(ufunc, u):
    if ufunc in POSITIVE:
        return 0.2 + 3.0 * u
    if ufunc in UNIT:
        return u
    if ufunc is np.arccosh:
        return 1.1 + 2.0 * u
    return 4.0 * u - 2.0


def rev_jac(f, x, chunk=None):
    return dd.jacobian(f, x, mode="reverse", chunk=chunk)


def fwd_jac(f, x):
    return dd.jacobian(f, x, mode="forward")


def close(a, b, rtol=RTOL, atol=1e-12):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


units = st.lists(st.floats(0.1, 0.9), min_size=2, max_size=6).map(np.array)


#: edge points pinned in the property tests (zeros, kinks, domain ends, +-inf, NaN,
#: subnormal, huge): reverse must give forward's bits there too, NaN and inf included
EDGES = np.array([0.0, -0.0, 1.0, -1.0, 5e-324, 1e300, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("ufunc", sorted(set(rules.UNARY) - rules_special.KEYS,
                                         key=lambda u: u.__name__), ids=lambda u: u.__name__)
@settings(max_examples=5, deadline=None)
@given(u=units)
@example(u=EDGES)  # (taken as x itself)
def test_unary_reverse_matches_forward(ufunc, u):
    x = domain(ufunc, u) if u is not EDGES else EDGES
    w = np.linspace(0.5, 1.5, x.size)
    f = lambda x: ufunc(x) * w  # diagonal Jacobian: reverse must put u*f' back in place
    with np.errstate(all="ignore"):
        rev, fwd = rev_jac(f, x), fwd_jac(f, x)
    if u is EDGES:
        np.testing.assert_array_equal(rev, fwd)
    else:
        close(rev, fwd)


def test_unary_rows_against_complex_step():
    # a reference sharing no code with dualdiff, for the analytic rows numpy can take complex
    x = np.array([0.3, 0.45, 0.7])
    h = 1e-200
    for uf in (np.sin, np.cos, np.tan, np.exp, np.log, np.sqrt, np.tanh, np.arctan, np.sinh,
               np.cosh, np.log1p, np.expm1, np.arcsin, np.square, np.reciprocal):
        ref = np.diag(uf(x + 1j * h).imag / h)
        close(rev_jac(uf, x), ref)


BINARY_DOMAINS = {  # (range of the first argument, range of the second)
    np.power: ((0.2, 2.0), (-2.0, 2.0)), np.float_power: ((0.2, 2.0), (-2.0, 2.0)),
    sc.xlogy: ((-2.0, 2.0), (0.2, 2.0)), sc.xlog1py: ((-2.0, 2.0), (-0.5, 2.0)),
    np.remainder: ((-2.0, 2.0), (0.3, 1.0)), np.fmod: ((-2.0, 2.0), (0.3, 1.0)),
    rules.zeta: ((1.5, 3.0), (0.5, 2.0)),
}


EDGE_A = [0.0, np.inf, np.nan]  # against EDGE_B: ties, zeros, infinities, NaN
EDGE_B = [0.0, -0.0, np.inf, 1.0]


@pytest.mark.parametrize("ufunc", sorted(set(rules.BINARY) - rules_special.KEYS,
                                         key=lambda u: u.__name__), ids=lambda u: u.__name__)
@settings(max_examples=5, deadline=None)
@given(a=st.lists(st.floats(0.1, 0.9), min_size=3, max_size=3),
       b=st.lists(st.floats(0.1, 0.9), min_size=4, max_size=4))
@example(a=EDGE_A, b=EDGE_B)  # (taken as the points themselves)
def test_binary_reverse_matches_forward_with_broadcasting(ufunc, a, b):
    (fa, fb), _ = rules.BINARY[ufunc]
    edge = a is EDGE_A
    a, b = np.array(a), np.array(b)
    if not edge:
        (alo, ahi), (blo, bhi) = BINARY_DOMAINS.get(ufunc, ((-2.0, 2.0), (0.3, 1.5)))
        a, b = alo + (ahi - alo) * a, blo + (bhi - blo) * b
    x = np.concatenate([a, b])

    def f(x):  # a (3, 1) against b (1, 4): both adjoints must be summed over broadcasting
        xa = x[:3].reshape(3, 1) if fa is not rules.NONDIFF else a.reshape(3, 1)
        xb = x[3:].reshape(1, 4) if fb is not rules.NONDIFF else b.reshape(1, 4)
        if ufunc is np.ldexp:  # an integer exponent
            xb = np.arange(-2, 2).reshape(1, 4)
        return ufunc(xa, xb)

    with np.errstate(all="ignore"):
        rev, fwd = rev_jac(f, x), fwd_jac(f, x)
    if edge:
        np.testing.assert_array_equal(rev, fwd)
    else:
        close(rev, fwd)


def main_functions():
    rng = np.random.default_rng(7)
    A = rng.normal(size=(4, 4))
    S = A @ A.T + 4 * np.eye(4)
    return {
        "mlp": lambda x: np.tanh(A @ np.sin(x) + 1.0) @ A,
        "reshape_T": lambda x: (x.reshape(2, 2).T * x[:2]).ravel(),
        "concat_stack": lambda x: np.concatenate([np.stack([x, x**2]).ravel(), x[::-1]]),
        "where_sum_mean": lambda x: np.array([np.sum(np.where(x > 0, x, x**2)), np.mean(x)]),
        "cumsum_prod": lambda x: np.concatenate([np.cumsum(x), [np.prod(x)]]),
        "max_sort": lambda x: np.concatenate([[np.max(x)], np.sort(x**3)]),
        "diff_pad_roll": lambda x: np.diff(np.pad(x, 1) * np.roll(x + 1, 1, )[0]),
        "tile_repeat_bcast": lambda x: np.tile(x, 2) * np.repeat(x, 2)
        + np.broadcast_to(x[:1], (8,)),
        "take_outer_kron": lambda x: np.kron(np.outer(x[:2], np.take(x, [3, 1])), x[:2]).ravel(),
        "dot_tensordot": lambda x: np.tensordot(np.outer(x, x), A, axes=2) + np.dot(x, x),
        "einsum_diag": lambda x: np.einsum("ii,i->i", np.outer(x, x) + A, x),
        "einsum_ellipsis": lambda x: np.einsum("...ij,...j->...i",
                                                np.stack([A, A * x]), x),
        "solve_inv": lambda x: np.linalg.solve(S + np.diag(x), x)
        + np.linalg.inv(S * x[0]) @ x,
        "det_slogdet": lambda x: np.array([np.linalg.det(S + np.outer(x, x)),
                                           np.linalg.slogdet(S * x[1] ** 2)[1]]),
        "cholesky": lambda x: np.linalg.cholesky(S + np.outer(x, x)).ravel(),
        "eigh": lambda x: np.concatenate([np.linalg.eigvalsh(S + np.diag(x)),
                                          np.abs(np.linalg.eigh(S + np.diag(x))[1][:, 0])]),
        "eigh_upper": lambda x: np.linalg.eigh(S + np.outer(x, x ** 2), UPLO="U")[0],
        "lstsq": lambda x: np.linalg.lstsq(A[:, :3] + np.outer(x, x[:3]), x)[0],
        "norm_trace_std": lambda x: np.array([np.linalg.norm(x), np.trace(np.outer(x, x)),
                                              np.std(x), np.var(x)]),
        "setitem": lambda x: _assign(x),
        "matmul_batched": lambda x: (np.stack([A, A.T]) @ np.stack([x, x**2])[..., None]).ravel(),
        "vec_mat": lambda x: x @ (np.outer(x, x) * x[0]),
    }


def _assign(x):
    out = np.zeros_like(x)
    out[1:] = x[:-1] ** 2
    out[0] = np.sum(x)
    out[2] = out[2] * out[1]  # reads values that the assignment replaces
    return out


@pytest.mark.parametrize("name", sorted(main_functions()))
@settings(max_examples=4, deadline=None)
@given(x=st.lists(st.floats(0.2, 1.5), min_size=4, max_size=4).map(np.array))
def test_main_functions_reverse_matches_forward(name, x):
    f = main_functions()[name]
    x = x + 0.37 * np.arange(4)  # distinct entries: no ties in max/sort, std > 0
    jf = fwd_jac(f, x)
    close(rev_jac(f, x), jf, rtol=1e-10, atol=1e-10)


def test_mlp_against_hand_derived():
    rng = np.random.default_rng(0)
    w1, w2, b = rng.normal(size=(16, 6)), rng.normal(size=(3, 16)), rng.normal(size=16)
    x = rng.normal(size=6)
    ref = w2 @ ((1 - np.tanh(w1 @ x + b) ** 2)[:, None] * w1)
    close(rev_jac(lambda x: w2 @ np.tanh(w1 @ x + b), x), ref)


@settings(max_examples=10, deadline=None)
@given(x=st.lists(st.floats(-2, 2), min_size=3, max_size=3).map(np.array),
       v=st.lists(st.floats(-2, 2), min_size=3, max_size=3).map(np.array),
       u=st.lists(st.floats(-2, 2), min_size=4, max_size=4).map(np.array))
def test_vjp_jvp_duality(x, v, u):
    f = lambda x: np.array([x[0] * np.sin(x[1]), np.exp(x[2] / 3) * x[0], np.sum(x**2),
                            np.prod(x) + np.hypot(x[0], 1.0)])
    _, jv = dd.jvp(f, x, v)
    _, pullback = dd.vjp(f, x)
    assert np.isclose(u @ jv, pullback(u) @ v, rtol=1e-12, atol=1e-12)


def test_adjoints_accumulate_and_pullback_reusable():
    x = np.array([0.3, -1.2, 2.0])
    f = lambda x: np.sum(x * x + np.sin(x) * x)  # x reaches the sum four times
    ref = 2 * x + np.cos(x) * x + np.sin(x)
    y, pullback = dd.vjp(f, x)
    close(pullback(1.0), ref)
    close(pullback(1.0), ref)  # a second sweep gives the same
    close(pullback(np.array(-2.0)), -2 * ref)
    assert float(y) == pytest.approx(f(x))


def test_batched_cotangents_equal_single_sweeps():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(5, 4))
    f = lambda x: np.tanh(A @ x).reshape(5, 1) * x[:2]
    x = rng.normal(size=4)
    y, pullback = dd.vjp(f, x)
    u = rng.normal(size=(6,) + y.shape)
    batch = pullback(u)
    assert batch.shape == (6, 4)
    for i in range(6):
        close(batch[i], pullback(u[i]))


def test_assignment_is_recorded_functionally():
    x = np.array([1.5, -0.5, 2.0])

    def f(x):
        y = x * 1.0
        z = y * y  # keeps y's old value for its adjoint
        y[0] = 10.0 * x[1]
        y[1:] = y[1:] ** 3
        return z + y

    ref = np.diag(2 * x)
    ref[0] = [0.0, 10.0, 0.0]
    ref[0, 0] += 2 * x[0]
    ref[1, 1] += 3 * x[1] ** 2
    ref[2, 2] += 3 * x[2] ** 2
    close(rev_jac(f, x), ref)
    close(fwd_jac(f, x), ref)


def test_kink_convention_matches_forward_basis_seeding():
    x = np.array([0.0, -1.0, 2.0])
    f = lambda x: np.abs(x) * 2 + np.abs(x[0] + x[2])
    close(rev_jac(f, x), fwd_jac(f, x))
    assert rev_jac(np.abs, np.zeros(2)).tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_two_threads_do_not_interfere():
    rng = np.random.default_rng(5)
    A = rng.normal(size=(20, 20))
    xs = [rng.normal(size=20) for _ in range(2)]
    fs = [lambda x: np.sum(np.sin(A @ x)), lambda x: np.sum((A @ x) ** 2)]
    refs = [A.T @ np.cos(A @ xs[0]), 2 * A.T @ (A @ xs[1])]
    errors = []

    def work(i):
        for _ in range(30):
            g = dd.gradient(fs[i], xs[i], mode="reverse")
            if not np.allclose(g, refs[i], rtol=1e-12, atol=1e-12):
                errors.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def _hessian_case():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 4))
    x, v = rng.normal(size=4), rng.normal(size=4)
    f = lambda x: np.sum(np.sin(A @ x) * x) + x[0] ** 2 * x[1]
    s = A @ x
    H = A.T @ np.diag(-np.sin(s) * x) @ A + A.T * np.cos(s) + (A.T * np.cos(s)).T
    H[0, 0] += 2 * x[1]
    H[0, 1] += 2 * x[0]
    H[1, 0] += 2 * x[0]
    return f, x, v, H


def test_forward_over_reverse_hessian_vector_product():
    f, x, v, H = _hessian_case()
    close(dd.jvp(lambda x: dd.gradient(f, x, mode="reverse"), x, v)[1], H @ v)
    close(fwd_jac(lambda x: dd.gradient(f, x, mode="reverse"), x), H)


def test_reverse_over_forward_hessian_vector_product():
    f, x, v, H = _hessian_case()
    close(dd.gradient(lambda x: dd.jvp(f, x, v)[1], x, mode="reverse"), H @ v)
    close(rev_jac(lambda x: dd.gradient(f, x, mode="forward"), x), H)


def test_nested_tags_stay_apart():
    inner = lambda x: dd.gradient(lambda y: x + y, 1.0, mode="reverse")
    assert dd.derivative(lambda x: x * inner(x), 1.0) == 1.0
    assert dd.gradient(lambda x: x * dd.derivative(lambda y: x + y, 1.0), 1.0,
                       mode="reverse") == 1.0


def test_recording_forward_sweep_matches():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(3, 5))
    f = lambda x: np.linalg.slogdet(np.eye(3) * 4 + np.outer(A @ x, A @ x))[1] * (A @ x)
    x = rng.normal(size=5)
    rec = Recording(f, x)
    t = rng.normal(size=(2, 5))
    close(rec.push(t), t @ fwd_jac(f, x).T)


def test_errors_name_the_problem():
    _, pullback = dd.vjp(lambda x: x * 2, np.ones(3))
    with pytest.raises(ValueError, match="cotangent of shape"):
        pullback(np.ones(4))
    with pytest.raises(TypeError, match="float"):
        dd.vjp(lambda x: float(x[0]), np.ones(2))
    with pytest.raises(TypeError, match="no derivative with respect to its first"):
        dd.vjp(lambda x: rules.zeta(x + 1.0, x), np.ones(2))


def test_constant_output_and_outputs_as_lists():
    y, pullback = dd.vjp(lambda x: np.ones(2), np.ones(3))
    assert pullback(np.ones(2)).tolist() == [0.0, 0.0, 0.0]
    y, pullback = dd.vjp(lambda x: [x[0] * x[1], 3.0, x[2]], np.array([1.0, 2.0, 3.0]))
    assert y.tolist() == [2.0, 3.0, 3.0]
    assert pullback(np.array([1.0, 1.0, 1.0])).tolist() == [2.0, 1.0, 1.0]


def test_tape_is_a_carrier_with_array_surface():
    y, _ = dd.vjp(lambda x: (isinstance(x, Tape), x.shape, x.T.shape)[2] and x, np.ones((2, 3)))
    assert np.shape(y) == (2, 3)


def test_writes_through_views_reach_the_base_in_reverse_mode():
    # out[0:2] is a view in NumPy: in-place updates of it change out (hand-derived J)
    def f(x):
        out = np.zeros_like(x)
        row = out[0:2]
        row += x[:2]
        row *= x[2]
        out[1:] += x[1:]
        return out

    x = np.array([1.0, 2.0, 3.0])
    expected = [[3.0, 0.0, 1.0], [0.0, 4.0, 2.0], [0.0, 0.0, 1.0]]
    for mode in ("reverse", "auto", "forward"):
        np.testing.assert_array_equal(dd.jacobian(f, x, mode=mode), expected)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_a_view_read_after_its_base_was_written_sees_the_write(mode):
    def f(x):
        out = np.zeros_like(x)
        view = out[0:2]
        out[0] = x[0]          # NumPy's view sees this write, so does the recording
        return view * 1.0

    np.testing.assert_array_equal(dd.jacobian(f, np.array([1.0, 2.0, 3.0]), mode=mode),
                                  [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def test_a_constant_changed_in_place_after_use_does_not_change_the_sweep():
    # y = x * c saves c as the partial of x: a later c[0] = 5 or c *= 3 (plain NumPy
    # writes) must not reach the recorded program; nor may a write into the inner
    # tangent (reverse over forward: the inner Dual's tangent is a constant of the tape)
    def f(x):
        c = np.ones(2)
        y = np.sin(x) * c
        c[0] = 5.0
        c *= 3.0
        return y

    x = np.array([1.0, 2.0])
    close(rev_jac(f, x), np.diag(np.cos(x)))

    def g(x):
        def inner(z):
            out = z * 1.0
            out[0:1] *= x[0]  # d out_0 / d z_0 = x_0
            return out
        return dd.jacobian(inner, x * 1.0, mode="forward")[0, 0]

    close(dd.gradient(g, x, mode="reverse"), [1.0, 0.0])


def test_copy_on_write_keeps_the_layout_numpy_decides_views_by():
    # a = np.copy(x.T) is F-ordered, so np.ravel(a) is a copy in NumPy; copy-on-write
    # (a *= ... after a node saved a) made a C-ordered copy, ravel became a view and a
    # later write into a reached the returned ravel
    def f(x):
        a = np.copy(x.T)
        a *= 1.0 + 0.5 * np.sin(a[1, 1])
        r = np.ravel(a)
        a[[1, 0, 1]] *= x[0]
        return r

    x = np.array([[0.3, -0.7], [1.1, 0.4]])
    y, J = dd.value_and_jacobian(f, x, mode="reverse")
    np.testing.assert_array_equal(y, f(x.copy()))
    close(J, dd.jacobian(f, x, mode="forward"))
