"""Run a function explicitly on every carrier and compare each with one reference.

``check(f, x, ref=None)`` evaluates f at x

* forward (Dual): ``mode="forward"`` with the default chunk and with chunk 1 (for
  n > 6: one direction by ``jvp`` and three passes of ragged chunks instead of n passes);
* reverse (Tape): ``mode="reverse"``;
* hyper-dual, one pass with ``eps1`` = the basis of R^n, ``eps2`` = a random v and
  ``eps12 = 0``: the e1 parts are the Jacobian (first parts), the e2 parts ``J v`` and
  the e1e2 parts the second-derivative tensor contracted with v,
  ``T[o, i] = sum_j d^2 f_o / dx_i dx_j v_j`` (second parts);
* the Hessian of the random weighted sum ``g = sum(w * f)`` by ``method="hyperdual"``
  and ``method="forward-over-reverse"``: ``H v`` against ``w . T`` of the reference,
  the two methods against each other, and symmetry;
* the sparsity tracer: the detected pattern covers every nonzero of the reference
  Jacobian.

References share no code with dualdiff.  ``kind="cs"``: the complex step of ``ref``
(default f) in plain NumPy, exact to rounding where ref is analytic; ``kind="cd"``:
central differences (refs.cd_jacobian, h = 1e-6, rtol ~1e-6).  The second-order
reference is a central difference along v of that Jacobian,
``T = (J(x + h v) - J(x - h v)) / 2h`` with h = 1e-5 on the complex step: truncation
``h^2/6 |f''''| ~ 2e-11``, rounding ``eps |J| / h ~ 1e-11``, so ``rtol2 = 1e-7`` of the
scale ``max |T| + max |J|``; on central differences (h = 1e-3 along v of J by
h = 1e-6): rounding ``eps |f| / (1e-6 * 1e-3) ~ 1e-7``, truncation ``1e-6 |f''''|``:
``rtol2 = 1e-4``.
"""

from __future__ import annotations

import numpy as np
from refs import cd_jacobian, cs_jacobian

import dualdiff as dd
from dualdiff.core import new_tag
from dualdiff.seeding import unpack

#: every carrier path check runs (a test may leave some out, saying why)
PATHS = ("forward", "forward1", "reverse", "hyperdual", "hessian", "tracer")


def _reference(f, x, kind):
    return (cs_jacobian if kind == "cs" else cd_jacobian)(f, x)


def second_reference(f, x, v, kind="cs"):
    """``T[o..., i...] = sum_j d^2 f_o / dx_i dx_j v_j`` by central differences along v of
    the first-order reference."""
    h = 1e-5 if kind == "cs" else 1e-3
    return (_reference(f, x + h * v, kind) - _reference(f, x - h * v, kind)) / (2 * h)


def _close(what, got, want, rtol, atol):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def hyperdual_pass(f, x, v):
    """``(value, J, J v, T)`` from one HyperDual pass: eps1 = basis, eps2 = v."""
    n = x.size
    eps1 = np.eye(n).reshape((n,) + x.shape)
    xin = dd.HyperDual(x.copy(), eps1, v[None].copy(), np.zeros((n, 1) + x.shape),
                       tag=new_tag())
    value, (e1, e2, e12) = unpack(f(xin), xin)
    move = lambda p: np.moveaxis(p, 0, -1).reshape(np.shape(value) + x.shape)  # noqa: E731
    return value, move(e1), e2[0], move(e12)


def jacobians(f, x) -> dict:
    """The Jacobian of f at x from each first-order carrier path (for conventions that
    must be the same in every mode: kinks, ties, knots)."""
    x = np.array(x, dtype=float)
    v = np.ones(x.shape)
    return {"forward": dd.jacobian(f, x, mode="forward"),
            "forward1": dd.jacobian(f, x, mode="forward", chunk=1),
            "reverse": dd.jacobian(f, x, mode="reverse"),
            "hyperdual": hyperdual_pass(f, x, v)[1]}


def same_in_every_mode(f, x, expected):
    """Assert that every first-order path gives exactly ``expected`` and that the tracer's
    pattern covers its nonzeros."""
    expected = np.asarray(expected, dtype=float)
    for path, j in jacobians(f, x).items():
        np.testing.assert_array_equal(j, expected, err_msg=path)
    pattern = dd.jacobian_sparsity(f, x).toarray()
    assert not np.any(np.reshape(expected != 0, pattern.shape) & ~pattern), "tracer"


def check_first(f, x, jac, value=None, *, rtol: float = 1e-12, atol: float = 1e-13,
                skip: dict | None = None, seed: int = 0):
    """The Jacobian of f at x on every carrier against the reference ``jac`` (and f's
    value against ``value`` when given): forward (chunk 1 and default), reverse, the
    first parts of a HyperDual pass (e1: J, e2: J v) and the tracer's pattern.  ``skip``
    maps a path of :data:`PATHS` to the reason it cannot run."""
    skip = skip or {}
    x = np.array(x, dtype=float)
    jac = np.asarray(jac)
    scale = max(1.0, float(np.max(np.abs(jac), initial=0.0)))
    tol = dict(rtol=rtol, atol=atol * scale)
    y_shape = jac.shape[:jac.ndim - x.ndim]

    def first(what, y, j):
        assert np.shape(j) == jac.shape, (what, np.shape(j), jac.shape)
        assert np.shape(y) == y_shape, (what, np.shape(y), y_shape)
        if value is not None:
            _close(f"{what}: value", np.real(y), np.real(value), 1e-13, 1e-13 * max(
                1.0, float(np.max(np.abs(value), initial=0.0))))
        _close(f"{what}: Jacobian", j, jac, **tol)

    if "forward" not in skip:
        first("forward", *dd.value_and_jacobian(f, x, mode="forward"))
    if "forward1" not in skip:
        if x.size <= 6:
            first("forward chunk=1", *dd.value_and_jacobian(f, x, mode="forward", chunk=1))
        else:  # one direction (k = 1) by jvp, and ragged chunks: n passes cost too much
            u = np.random.default_rng(seed + 1).normal(size=x.shape)
            y, ju = dd.jvp(f, x, u)
            _close("forward k=1 (jvp)", ju, np.tensordot(jac, u, x.ndim), **tol)
            k = -(-x.size // 3) + 1  # 3 passes, the last one shorter
            first(f"forward chunk={k}", *dd.value_and_jacobian(f, x, mode="forward", chunk=k))
    if "reverse" not in skip:
        first("reverse", *dd.value_and_jacobian(f, x, mode="reverse"))
    if "tracer" not in skip:
        pattern = dd.jacobian_sparsity(f, x).toarray()
        nz = np.reshape(jac != 0, (pattern.shape[0], x.size))
        missed = np.argwhere(nz & ~pattern)
        assert not missed.size, f"tracer: pattern misses (output, input) {missed[:5].tolist()}"
    if "hyperdual" not in skip and x.size:
        v = np.random.default_rng(seed).normal(size=x.shape)
        y, j1, jv, _ = hyperdual_pass(f, x, v)
        first("hyperdual eps1", y, j1)
        _close("hyperdual eps2 (J v)", jv, np.tensordot(jac, v, x.ndim), **tol)


def check(f, x, ref=None, *, kind: str = "cs", rtol: float = 1e-12, atol: float = 1e-13,
          rtol2: float | None = None, skip: dict | None = None, seed: int = 0):
    """f at x on every carrier (see the module docstring) against ``ref`` (default f):
    :func:`check_first`, then the second parts of a HyperDual pass and both Hessian
    methods on a random weighted sum of f.  Returns the reference Jacobian."""
    skip = dict(skip or {})
    x = np.array(x, dtype=float)
    ref = ref or f
    y = np.asarray(ref(x.copy()))
    jac = _reference(ref, x, kind)
    scale = max(1.0, float(np.max(np.abs(jac), initial=0.0)))
    second = "hyperdual" not in skip
    check_first(f, x, jac, y, rtol=rtol, atol=atol, skip=skip | {"hyperdual": "below"},
                seed=seed)
    if np.iscomplexobj(jac) or not x.size or not y.size:
        return jac
    rng = np.random.default_rng(seed)
    v = rng.normal(size=x.shape)
    w = rng.normal(size=y.shape)
    rtol2 = rtol2 if rtol2 is not None else (1e-7 if kind == "cs" else 1e-4)
    if second or "hessian" not in skip:
        t_ref = second_reference(ref, x, v, kind)
        scale2 = float(np.max(np.abs(t_ref), initial=0.0)) + scale
    if second:
        value, j1, jv, t = hyperdual_pass(f, x, v)
        _close("hyperdual: value", np.real(value), np.real(y), 1e-13, 1e-13 * max(
            1.0, float(np.max(np.abs(y), initial=0.0))))
        _close("hyperdual eps1 (J)", j1, jac, rtol, atol * scale)
        _close("hyperdual eps2 (J v)", jv, np.tensordot(jac, v, x.ndim), rtol, atol * scale)
        _close("hyperdual eps12 (second parts)", t, t_ref, rtol2, rtol2 * scale2)
    if "hessian" not in skip:
        def g(z):
            return np.sum(w * f(z))

        hv_ref = np.tensordot(w, t_ref, y.ndim)
        hess = {}
        for method in ("hyperdual", "forward-over-reverse"):
            h = dd.hessian(g, x, method=method)
            assert h.shape == x.shape * 2, (method, h.shape)
            hv = np.tensordot(h, v, x.ndim)
            _close(f"hessian {method}: H v", hv, hv_ref, rtol2,
                   rtol2 * (float(np.max(np.abs(hv_ref), initial=0.0)) + scale * np.abs(w).sum()))
            hm = h.reshape(x.size, x.size)
            hs = 1e-12 * max(1.0, float(np.max(np.abs(hm), initial=0.0)))
            _close(f"hessian {method}: symmetric", hm, hm.T, 0, hs)
            hess[method] = (hm, hs)
        _close("hessian: hyperdual vs forward-over-reverse", hess["hyperdual"][0],
               hess["forward-over-reverse"][0], 0, hess["hyperdual"][1] * 10)
    return jac


#: the driver modes of check_modes: one direction per pass, the default chunk, reverse
MODES = ({"mode": "forward", "chunk": 1}, {"mode": "forward"}, {"mode": "reverse"})
HESSIANS = ("hyperdual", "forward-over-reverse")


def check_modes(f, x, ref, *, rtol: float, atol: float) -> None:
    """dd.jacobian in each of MODES against ref (chunk=1 only where n <= 8: n passes)."""
    for kw in MODES if np.size(x) <= 8 else MODES[1:]:
        np.testing.assert_allclose(dd.jacobian(f, x, **kw), ref, rtol=rtol, atol=atol,
                                   err_msg=str(kw))


def check_hessians(f, x, ref, *, rtol: float, atol: float) -> None:
    """dd.hessian by both methods against ref."""
    for method in HESSIANS:
        np.testing.assert_allclose(dd.hessian(f, x, method=method), ref, rtol=rtol, atol=atol,
                                   err_msg=method)
