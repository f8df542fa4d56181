"""executor=: the same passes on a thread pool, a process pool and a dask cluster give
the same bits as the serial run (compared byte for byte), and values stay right
(hand-derived references)."""

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp

import dualdiff as dd
from dualdiff.sparse import JacobianPlan

# module-level functions: a ProcessPoolExecutor pickles them by reference


def mixer(x):
    """n -> n with a dense Jacobian; J = diag(cos x) * (1 + s) + sin(x) outer 1 ... (below)."""
    s = np.sum(x * x)
    return np.sin(x) * s + np.cumsum(x) ** 2


def mixer_jacobian(x):
    """Hand-derived: d/dx_j [sin(x_i) s + c_i^2] = cos(x_i) s [i = j] + 2 x_j sin(x_i)
    + 2 c_i [j <= i], with s = sum x^2 and c = cumsum x."""
    n = len(x)
    s, c = np.sum(x * x), np.cumsum(x)
    return (np.diag(np.cos(x) * s) + 2.0 * np.outer(np.sin(x), x)
            + 2.0 * c[:, None] * np.tril(np.ones((n, n))))


def few_outputs(x):
    return np.array([np.sum(x**2), np.prod(x[:3]), np.sum(np.exp(x))])


def scalar(x):
    return np.sum(np.exp(x[:-1] * x[1:])) + np.sum(x**4)


def chained(x):
    return np.sum((x - 1.0) ** 2) + np.sum((x[1:] - x[:-1] ** 2) ** 2)


def wide(x):
    """More outputs than inputs: the default chunk shrinks after the first pass, so the
    passes guessed at first are replaced (n = 600 > one pass's default width)."""
    return np.sin(np.concatenate([x, 2.0 * x])) * x[0]


def branching(x):
    """Its structure hangs on a comparison: sparse plans record it per pass."""
    return np.cumsum(x) * (x[0] > -5.0)


def same_bits(a, b):
    if sp.issparse(a):
        assert sp.issparse(b)
        a, b = a.tocsr(), b.tocsr()
        assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
        a, b = a.data, b.data
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


X = np.random.default_rng(0).uniform(-1.0, 1.0, 11)

CASES = {  # name -> (call(executor), reference or None)
    "forward chunks": (lambda ex: dd.jacobian(mixer, X, mode="forward", chunk=3, executor=ex),
                       mixer_jacobian(X)),
    "forward default chunk": (lambda ex: dd.jacobian(mixer, X, mode="forward", executor=ex),
                              mixer_jacobian(X)),
    "forward, output wider": (
        lambda ex: dd.jacobian(wide, np.linspace(0.0, 1.0, 600), mode="forward", executor=ex),
        None),
    "reverse rows": (lambda ex: dd.jacobian(mixer, X, mode="reverse", chunk=4, executor=ex),
                     mixer_jacobian(X)),
    "auto reverse": (lambda ex: dd.jacobian(few_outputs, X, chunk=1, executor=ex), None),
    "hessian hyperdual blocks": (
        lambda ex: dd.hessian(scalar, X, chunk=3, method="hyperdual", executor=ex), None),
    "hessian forward-over-reverse": (
        lambda ex: dd.hessian(scalar, X, chunk=2, method="forward-over-reverse", executor=ex),
        None),
    "sparse hessian": (lambda ex: dd.SparseHessianPlan(chained, X, chunk=1, executor=ex)(X),
                       None),
    "sparse jacobian": (lambda ex: JacobianPlan(branching, np.ones(600), mode="forward",
                                                executor=ex)(np.linspace(0, 1, 600)), None),
}


def _check_all(executor, names=tuple(CASES)):
    for name in names:
        call, ref = CASES[name]
        serial, fanned = call(None), call(executor)
        same_bits(serial, fanned)
        if ref is not None:
            np.testing.assert_allclose(fanned, ref, rtol=1e-13, atol=1e-13, err_msg=name)


def test_hessian_cases_match_hand_formulas():
    # the scalar test function: d2/dx_i^2 = 12 x_i^2 + x_{i-1}^2 e_{i-1} + x_{i+1}^2 e_i
    # with e_i = exp(x_i x_{i+1}); d2/dx_i dx_{i+1} = e_i (1 + x_i x_{i+1})
    e = np.exp(X[:-1] * X[1:])
    d = 12.0 * X**2
    d[1:] += X[:-1] ** 2 * e
    d[:-1] += X[1:] ** 2 * e
    off = e * (1.0 + X[:-1] * X[1:])
    ref = np.diag(d) + np.diag(off, 1) + np.diag(off, -1)
    for method in ("hyperdual", "forward-over-reverse"):
        with ThreadPoolExecutor(2) as pool:
            H = dd.hessian(scalar, X, chunk=3, method=method, executor=pool)
        np.testing.assert_allclose(H, ref, rtol=1e-13, atol=1e-13)


def test_thread_pool_same_bits():
    with ThreadPoolExecutor(max_workers=3) as pool:
        _check_all(pool)


def test_process_pool_same_bits():
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        _check_all(pool)
        with pytest.raises(TypeError, match="module level"):
            dd.jacobian(lambda x: x * x[0], X, mode="forward", chunk=2, executor=pool)


def test_sparse_plan_checks_each_pass_and_detects_once():
    # two seed blocks, each recording the comparison: the pattern is not re-detected
    plan = JacobianPlan(branching, np.ones(600), mode="forward")
    assert len(plan._seeds) > 1 and plan.local
    for _ in range(3):
        plan(np.linspace(0.0, 1.0, 600))
    assert plan.detections == 1


def test_not_an_executor():
    with pytest.raises(TypeError, match="Executor"):
        dd.jacobian(mixer, X, executor=4)


def test_dask_local_cluster_same_bits():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.CRITICAL
                                  ) as cluster, distributed.Client(cluster) as client:
        ex = client.get_executor(pure=False)
        # a few passes of each kind (every case costs seconds of worker start-up here)
        _check_all(ex, ("forward chunks", "hessian forward-over-reverse", "sparse hessian"))
        # dask pickles with cloudpickle: closures travel too
        a = 3.0
        closure = lambda x: np.sin(a * x) * x[0]  # noqa: E731
        same_bits(dd.jacobian(closure, X, mode="forward", chunk=2),
                  dd.jacobian(closure, X, mode="forward", chunk=2, executor=ex))
