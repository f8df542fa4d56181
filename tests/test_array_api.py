"""The array-API route: unchanged SciPy code differentiates when SCIPY_ARRAY_API=1.

SciPy reads the variable once, when it is first imported, so those checks run in a
subprocess with it set; the script prints its derivatives as JSON and this process checks
them against references that share no code with dualdiff:

* logsumexp / softmax / log_softmax: their closed-form derivatives (softmax weights,
  diag(p) - p p^T), also at exact ties;
* rosen / rosen_der / rosen_hess_prod: SciPy's own hand-written rosen_der and rosen_hess;
  d/dx of rosen_hess_prod(x, p) by central differences, exact to rounding since it is
  quadratic in x (truncation h^2/6 f''' = 0);
* trapezoid: its weights (x[i+1] - x[i-1]) / 2 and, in x, (y[i-1] - y[i+1]) / 2.

The namespace itself (creation bound to the pass, dtype queries, ties of max/min) is
checked here directly: it needs no SciPy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.optimize as so
from refs import cd_jacobian

import dualdiff as dd
from dualdiff.namespace import Namespace, special

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
X = [0.3, -1.2, 2.0, 0.7, 1.1]
TIE = [0.5, 0.5, -1.0, 0.5]
W = [1.0, 2.0, 0.5, 3.0, 1.5]

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import scipy.integrate as si, scipy.optimize as so, scipy.special as sc
    import dualdiff as dd
    from scipy._lib._array_api import SCIPY_ARRAY_API
    X, TIE, W = (np.array(v) for v in json.loads(sys.argv[1]))
    out = {"enabled": bool(SCIPY_ARRAY_API)}

    def firsts(f, x):
        return {m: dd.jacobian(f, x, mode=m).tolist() for m in ("forward", "reverse")} | {
            "chunk1": dd.jacobian(f, x, mode="forward", chunk=1).tolist(),
            "pattern": dd.jacobian_sparsity(f, x).toarray().tolist()}

    def seconds(f, x):
        return {m: dd.hessian(f, x, method=m).tolist()
                for m in ("hyperdual", "forward-over-reverse")}

    out["lse"] = firsts(sc.logsumexp, X) | seconds(sc.logsumexp, X)
    out["lse_tie"] = firsts(sc.logsumexp, TIE) | seconds(sc.logsumexp, TIE)
    out["lse_value"] = [float(dd.vjp(sc.logsumexp, X)[0]), float(sc.logsumexp(X))]
    lse_b = lambda x: sc.logsumexp(x, b=np.asarray(W, like=x))
    out["lse_b"] = firsts(lse_b, X) | seconds(lse_b, X)
    try:
        dd.gradient(lambda x: sc.logsumexp(x, b=W), X)
    except TypeError as e:
        out["mixed"] = str(e)
    out["softmax"] = firsts(sc.softmax, X)
    out["log_softmax"] = firsts(sc.log_softmax, X)
    out["rosen"] = firsts(so.rosen, X) | seconds(so.rosen, X)
    out["rosen_der"] = firsts(so.rosen_der, X)
    p = np.linspace(-1.0, 1.0, X.size)
    out["hess_prod_p"] = firsts(lambda q: so.rosen_hess_prod(np.asarray(X, like=q), q), p)
    out["hess_prod_x"] = firsts(lambda x: so.rosen_hess_prod(x, np.asarray(p, like=x)), X)
    out["trapezoid"] = firsts(si.trapezoid, X)
    grid = np.cumsum(np.abs(X)) + 1.0
    out["trapezoid_x"] = firsts(lambda g: si.trapezoid(np.asarray(X, like=g), g), grid)
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def run():
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in env.get("PYTHONPATH", "").split(
        os.pathsep) if p])
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps([X, TIE, W])], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def firsts(got, ref, rtol=1e-13, atol=1e-14, pattern=None):
    for mode in ("forward", "reverse", "chunk1"):
        np.testing.assert_allclose(got[mode], ref, rtol=rtol, atol=atol, err_msg=mode)
    expected = np.asarray(ref) != 0 if pattern is None else pattern
    np.testing.assert_array_equal(np.reshape(got["pattern"], np.shape(expected)), expected)


def seconds(got, ref, rtol=1e-13, atol=1e-14):
    for mode in ("hyperdual", "forward-over-reverse"):
        np.testing.assert_allclose(got[mode], ref, rtol=rtol, atol=atol, err_msg=mode)


def softmax_ref(x, b=1.0):
    e = b * np.exp(np.asarray(x))
    return e / e.sum()


def test_the_variable_reaches_scipy_in_the_subprocess(run):
    assert run["enabled"]


def test_logsumexp_softmax_log_softmax(run):
    p = softmax_ref(X)
    n = len(X)
    assert run["lse_value"][0] == run["lse_value"][1]  # SciPy's value, bit for bit
    firsts(run["lse"], p, pattern=np.ones(n, bool))
    seconds(run["lse"], np.diag(p) - np.outer(p, p))
    firsts(run["softmax"], np.diag(p) - np.outer(p, p), pattern=np.ones((n, n), bool))
    firsts(run["log_softmax"], np.eye(n) - p, pattern=np.ones((n, n), bool))


def test_logsumexp_is_exact_at_ties(run):
    # SciPy moves the tied maxima out of its sum: exact only with the namespace's max,
    # whose derivatives at a tie are those of the log-mean-exp of the tied elements
    p = softmax_ref(TIE)
    firsts(run["lse_tie"], p, pattern=np.ones(len(TIE), bool))
    seconds(run["lse_tie"], np.diag(p) - np.outer(p, p))


def test_logsumexp_with_weights_made_carriers(run):
    q = softmax_ref(X, np.array(W))
    firsts(run["lse_b"], q, pattern=np.ones(len(X), bool))
    seconds(run["lse_b"], np.diag(q) - np.outer(q, q))
    # a plain array next to a carrier: SciPy's own refusal (fix: np.asarray(b, like=x))
    assert "Multiple namespaces" in run["mixed"]


def test_rosenbrock(run):
    x = np.array(X)
    firsts(run["rosen"], so.rosen_der(x), pattern=np.ones(len(X), bool))
    seconds(run["rosen"], so.rosen_hess(x), rtol=1e-14)
    hess = so.rosen_hess(x)
    firsts(run["rosen_der"], hess, pattern=hess != 0)
    firsts(run["hess_prod_p"], hess, pattern=hess != 0)
    p = np.linspace(-1.0, 1.0, x.size)
    ref = cd_jacobian(lambda v: so.rosen_hess_prod(v, p), x, h=1e-3)
    band = np.abs(np.subtract.outer(np.arange(x.size), np.arange(x.size))) <= 1
    band[-1, -1] = False  # (H p)[-1] = -400 x[-2] p[-2] + 200 p[-1] does not read x[-1]
    firsts(run["hess_prod_x"], ref, rtol=1e-9, atol=1e-9, pattern=band)  # p[2] = 0: structural


def test_trapezoid(run):
    y = np.array(X)
    firsts(run["trapezoid"], np.r_[0.5, np.ones(len(y) - 2), 0.5])  # dx = 1
    ref = np.r_[-(y[0] + y[1]) / 2, (y[:-2] - y[2:]) / 2, (y[-2] + y[-1]) / 2]
    firsts(run["trapezoid_x"], ref, rtol=1e-14, atol=1e-15)


# -- the namespace itself -------------------------------------------------------------------

def test_namespace_creation_binds_to_the_pass():
    x = dd.Dual(np.array([1.0, 2.0]), np.eye(2))
    xp = x.__array_namespace__()
    assert isinstance(xp, Namespace) and xp == dd.Dual(0.0, 1.0, tag=99).__array_namespace__()
    assert hash(xp) == hash(Namespace(dd.Dual(0.0, 1.0)))
    assert xp.asarray(x) is x
    z = xp.zeros(2)
    z[1] = x[0] * 3  # a write of a carrier into a created array keeps its derivative
    np.testing.assert_array_equal(z.tangent, [[0.0, 3.0], [0.0, 0.0]])
    for made in (xp.ones(2), xp.empty(3), xp.full(2, 1.5), xp.eye(2), xp.linspace(0, 1, 3),
                 xp.asarray([1.0, 2.0]), xp.zeros_like(np.ones(2)), xp.full_like(x, 2.0),
                 xp.arange(3.0)):
        assert type(made) is dd.Dual and not made.tangent.any()
    for plain in (xp.arange(3), xp.zeros(2, dtype=xp.bool), xp.asarray([1, 2])):
        assert type(plain) is np.ndarray  # indices and masks carry no derivative
    assert xp.full(2, x[0]).tangent.tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert xp.finfo(x).eps == np.finfo(float).eps and xp.iinfo(np.int32).max == 2**31 - 1
    assert xp.result_type(x, np.float32) == np.float64 and xp.isdtype(x.dtype, "real floating")
    assert xp.can_cast(x, np.complex128) and xp.device(x) == "cpu" == x.device
    assert x.to_device("cpu") is x and xp.to_device(x, "cpu") is x
    with pytest.raises(ValueError, match="CPU"):
        x.to_device("cuda")
    assert xp.special.erf is special.erf and xp.special.digamma is special.psi
    np.testing.assert_array_equal(xp.vecdot(np.ones((2, 3)), x[:, None] * np.ones((2, 3)),
                                            axis=0).value, [3.0, 3.0, 3.0])
    assert xp.sin is np.sin and xp.linalg is np.linalg
    assert xp.__array_namespace_info__().capabilities()["boolean indexing"]


def test_namespace_max_and_min_at_ties():
    xp = dd.Dual(0.0, 1.0).__array_namespace__()
    a = np.array([[1.0, 3.0, 3.0], [2.0, -0.0, 1.0]])
    t = np.arange(1.0, 7.0).reshape(1, 2, 3)
    d = dd.Dual(a, t)
    m = xp.max(d, axis=1)
    np.testing.assert_array_equal(m.value, np.max(a, axis=1))
    np.testing.assert_array_equal(m.tangent, [[2.5, 4.0]])  # the mean of the tied 2 and 3
    mn = xp.min(dd.Dual(np.array([-0.0, -0.0, 1.0]), np.array([[1.0, 3.0, 9.0]])))
    assert mn.value == 0 and np.signbit(mn.value) and mn.tangent.tolist() == [2.0]
    # the curvature of the log-mean-exp of the tied elements: d2/dx_i dx_j (1/m) log sum e^x
    h = dd.hessian(lambda v: xp.max(v), np.array([0.0, 0.0, -1.0]))
    np.testing.assert_allclose(h, [[0.25, -0.25, 0.0], [-0.25, 0.25, 0.0], [0.0, 0.0, 0.0]],
                               rtol=1e-15)
    assert xp.max(np.array([1.0, 2.0])) == 2.0  # plain stays plain


def test_dualdiff_leaves_the_variable_alone():
    env = {k: v for k, v in os.environ.items() if k != "SCIPY_ARRAY_API"}
    env["PYTHONPATH"] = ROOT
    code = ("import os, dualdiff; "
            "from scipy._lib._array_api import SCIPY_ARRAY_API as A; "
            "print('SCIPY_ARRAY_API' in os.environ, bool(A))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.stdout.split() == ["False", "False"], proc.stderr


def test_apply_where_with_the_carriers_namespace():
    # SciPy's array_api_extra.apply_where given the namespace: its output array is created
    # by xp (a constant of the pass) and the branches are written into it
    import scipy._lib.array_api_extra as xpx

    cond = np.array([True, False, True, False])
    x = np.array([1.0, -2.0, 3.0, 0.5])

    def f(v):
        xp = v.__array_namespace__()
        return xpx.apply_where(cond, (v,), lambda a: a**2, lambda a: -a, xp=xp)

    def g(v):
        xp = v.__array_namespace__()
        return xpx.apply_where(cond, (v,), lambda a: a**2, fill_value=7.0, xp=xp)

    for mode in ("forward", "reverse"):
        np.testing.assert_array_equal(dd.jacobian(f, x, mode=mode), np.diag(np.where(cond, 2 * x,
                                                                                     -1.0)))
        np.testing.assert_array_equal(dd.jacobian(g, x, mode=mode), np.diag(np.where(cond, 2 * x,
                                                                                     0.0)))
    assert np.array_equal(dd.vjp(g, x)[0], [1.0, 7.0, 9.0, 7.0])
