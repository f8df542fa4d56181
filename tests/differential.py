"""Differential checks of dualdiff on generated programs (:mod:`programs`).

Every check runs one driver of dualdiff on a program and compares the result with an
**independent reference** computed from plain NumPy runs of the same source (no dualdiff
code; nested programs bind ``dd`` to a complex-step stand-in, ``programs.REF_DD``):

* the value: plain NumPy's ``f(x)``;
* Jacobians: the complex step ``imag(f(x + i h e_j)) / h`` where the program is analytic
  and runs on complex input (verified against differences before it is trusted), else
  Richardson-extrapolated central differences (error model below);
* gradients / Hessians of the scalarised program ``g(x) = sum(f(x) * w)`` (real and
  imaginary parts weighted separately for complex f): the same differences applied to a
  reference gradient.

Each check ends in one of: ``pass``; ``refused`` (a TypeError/ValueError raised by a
``raise`` statement in dualdiff, i.e. a refusal that names the operation - never counted
as agreement); ``disagree`` (a wrong number, shape, value, a modified input or results
that differ between identical calls); ``crash`` (any other exception, or a time-out);
``skip`` (no trustworthy reference: a kink inside the difference stencil); ``n/a``
(the API does not exist yet; checks for future APIs switch on by themselves).

Error model of the central-difference reference.  With ``D(h) = (f(x+h e) - f(x-h e))/2h``,
Taylor gives ``D(h) = f' + c h^2 + O(h^4)``, so ``R = (4 D(h) - D(2h)) / 3 = f' + O(h^4)``
and ``D(2h) - D(h) = 3 c h^2 + O(h^4)``: the measured ``|D(2h) - D(h)|`` bounds R's
truncation error by a wide margin whenever the series behaves (h^2 |f^(5)| << 20 |f'''|).
Rounding: each evaluation of f carries an absolute error up to ``delta`` (taken as
``64 eps max|f|``: a few ulps per operation, some cancellation), which reaches R as at most
``(4/3 + 1/6) delta / h <= 1.5 delta / h``; we allow ``4 delta / h``.  With h = 2e-4 this is
about 1e-10 relative, while truncation differences are about ``7e-9 |f'''|``.  A kink or
jump inside the stencil shows as a large ``|D(2h) - D(h)|``; such a reference is declared
unreliable (``skip``) instead of widening the tolerance.  The stencil (at most 4e-4 per
coordinate, twice that for Hessians) stays well inside the generator's MARGIN of 0.05 from
every tie for derivatives below ~100.

Results of exact methods must then match to ``EXACT_RTOL`` times the scale of the
reference (1 + its largest entry): a few ulps times the condition of these small,
well-conditioned programs is far below that, and real bugs are O(1).

>>> import dualdiff as dd, programs
>>> res = run_program(programs.make_program("straight", 1), dd, checks=["jac_forward"])
>>> res.outcomes["jac_forward"].status
'pass'
"""

from __future__ import annotations

import dis
import os
import re
import signal
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from programs import REF_DD, Program, valid

EPS = np.finfo(float).eps
#: exact methods agree with the reference to this fraction of its scale
EXACT_RTOL = 1e-9
#: central-difference step (relative to max(1, |x_j|)) and rounding allowance per f value
FD_STEP = 2e-4
NOISE = 64 * EPS
#: ``|D(2h) - D(h)|`` above this fraction of the scale means a kink in the stencil
UNRELIABLE = 1e-5
CS_STEP = 1e-20
#: second-difference step for Hessian references (rounding grows like 1/h^2)
HESS_STEP = 1e-3
STATUSES = ("pass", "refused", "disagree", "crash", "skip", "n/a")


class Disagreement(AssertionError):
    """A wrong number (or shape, value, input modification, nondeterminism)."""


class NoReference(Exception):
    """No trustworthy reference for this quantity (a kink inside the stencil)."""


class Timeout(BaseException):
    """A program ran past its time limit (BaseException: dualdiff must not swallow it)."""


# ------------------------------------------------------------------ references

def _richardson(F: Callable, x: np.ndarray, noise_of: Callable, h0: float = FD_STEP):
    """(R, tol): Richardson central differences of F at x, shape F(x).shape + x.shape,
    with the tolerance of the module docstring; NoReference on a kink."""
    x = np.asarray(x, dtype=float)
    y0 = np.asarray(F(x.copy()))
    cols, tols = [], []
    fmax = float(np.max(np.abs(y0), initial=0.0))
    for j in range(x.size):
        h = h0 * max(1.0, abs(float(x.flat[j])))
        e = np.zeros(x.size)
        e[j] = 1.0
        e = e.reshape(x.shape)
        vals = {s: np.asarray(F(x + s * h * e)) for s in (-2, -1, 1, 2)}
        fmax = max(fmax, *(float(np.max(np.abs(v), initial=0.0)) for v in vals.values()))
        d1 = (vals[1] - vals[-1]) / (2 * h)
        d2 = (vals[2] - vals[-2]) / (4 * h)
        cols.append((4 * d1 - d2) / 3)
        tols.append((np.abs(d2 - d1), h))
    ref = np.stack(cols, axis=-1).reshape(y0.shape + x.shape) if cols else \
        np.zeros(y0.shape + x.shape)
    scale = 1.0 + float(np.max(np.abs(ref), initial=0.0))
    delta = noise_of(fmax)
    tol = np.stack([t + 4 * delta / h for t, h in tols], axis=-1).reshape(ref.shape)
    if any(np.any(t > UNRELIABLE * scale + 4 * delta / h) for t, h in tols):
        raise NoReference("central differences disagree between steps h and 2h: a kink or "
                          "a jump inside the stencil")
    return ref, tol


def _complex_step(F: Callable, x: np.ndarray):
    x = np.asarray(x, dtype=float)
    y0 = np.asarray(F(x.copy()))
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = CS_STEP
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cols.append(np.imag(np.asarray(F(x + 1j * e.reshape(x.shape)))) / CS_STEP)
    return np.stack(cols, axis=-1).reshape(y0.shape + x.shape) if cols else \
        np.zeros(y0.shape + x.shape)


class References:
    """Lazily computed references of one program at x0 (which=0) and x1 (which=1)."""

    def __init__(self, prog: Program, w_seed: int = 0):
        self.prog = prog
        self.f = prog.function(REF_DD)
        self.xs = (prog.x0, prog.x1)
        self._cache: dict = {}
        self.cs_mismatch = False
        y = np.asarray(self.f(prog.x0.copy()))
        rng = np.random.default_rng((prog.seed, prog.index, 7 + w_seed))
        self.out_shape, self.complex_out = y.shape, y.dtype.kind == "c"
        self.w = np.round(rng.uniform(-1, 1, y.shape), 3)
        self.w2 = np.round(rng.uniform(-1, 1, y.shape), 3)
        self.v = np.round(rng.uniform(-1, 1, prog.x0.shape), 3)
        self.u = np.round(rng.uniform(-1, 1, y.shape), 3)
        self.U = np.round(rng.uniform(-1, 1, (2,) + y.shape), 3)
        if self.complex_out:
            self.u = self.u + 0j
            self.U = self.U + 0j

    def _memo(self, key, fn):
        if key not in self._cache:
            try:
                self._cache[key] = fn()
            except NoReference as e:
                self._cache[key] = e
            except Exception as e:  # a reference that cannot be computed is no reference
                self._cache[key] = NoReference(f"reference failed: {type(e).__name__}: {e}")
        out = self._cache[key]
        if isinstance(out, NoReference):
            raise out
        return out

    def scalarise(self, f: Callable) -> Callable:
        """g(x) = sum(real(f(x)) w + imag(f(x)) w2) (just sum(f(x) w) for real f)."""
        w, w2, cpx = self.w, self.w2, self.complex_out

        def g(x):
            y = f(x)
            if cpx:
                return np.sum(np.real(y) * w + np.imag(y) * w2)
            return np.sum(y * w)
        return g

    def value(self, which: int):
        return self._memo(("value", which), lambda: np.asarray(self.f(self.xs[which].copy())))

    def jac(self, which: int):
        """(J, tol) at x0 / x1."""
        return self._memo(("jac", which), lambda: self._jac(self.f, self.xs[which]))

    def _jac(self, F, x):
        fd = _richardson(F, x, lambda fmax: NOISE * (1.0 + fmax))
        if self.prog.analytic:
            cs = _complex_step(F, x)
            scale = 1.0 + float(np.max(np.abs(fd[0]), initial=0.0))
            if np.all(np.abs(cs - fd[0]) <= fd[1] + EXACT_RTOL * scale):
                return cs, np.zeros_like(cs, dtype=float)
            self.cs_mismatch = True  # the generator's analytic flag was wrong: keep differences
        return fd

    def grad(self, which: int):
        """(gradient, tol) of the scalarised program."""
        def compute():
            jac, tol = self.jac(which)
            axes = len(self.out_shape)
            if self.complex_out:
                g = np.tensordot(self.w, jac.real, axes) + np.tensordot(self.w2, jac.imag, axes)
                t = np.tensordot(np.abs(self.w) + np.abs(self.w2), tol, axes)
            else:
                g = np.tensordot(self.w, jac, axes)
                t = np.tensordot(np.abs(self.w), tol, axes)
            return g, t
        return self._memo(("grad", which), compute)

    def hess(self, which: int):
        """(H, tol): central differences of the complex-step gradient when analytic, else
        Richardson second differences (:func:`_second_differences`)."""
        def compute():
            g = self.scalarise(self.f)
            x = self.xs[which]
            if self.prog.analytic and not self.cs_mismatch:
                def grad(z):
                    return _complex_step(g, z)
                return _richardson(grad, x, lambda gmax: NOISE * (1.0 + gmax))
            return _second_differences(g, x)
        return self._memo(("hess", which), compute)


def _second_differences(g: Callable, x: np.ndarray, h0: float = HESS_STEP):
    """(H, tol) of scalar g at x by Richardson-extrapolated second differences.

    ``D_ij(h) = [g(x + h_i e_i + h_j e_j) - g(x + h_i e_i - h_j e_j)
    - g(x - h_i e_i + h_j e_j) + g(x - h_i e_i - h_j e_j)] / (4 h_i h_j)`` (for i = j the
    usual 3-point formula with step 2h) is ``H_ij + c h^2 + O(h^4)``; as for first
    derivatives ``R = (4 D(h) - D(2h)) / 3`` and ``|D(2h) - D(h)|`` bounds its truncation
    error.  Rounding: four values with error delta give at most ``delta / h^2`` in D(h)
    and about ``1.4 delta / h^2`` in R; we allow ``4 delta / h^2``.  n(n+1)/2 pairs, 8
    evaluations each.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    steps = h0 * np.maximum(1.0, np.abs(x.ravel()))
    g0 = float(np.asarray(g(x.copy())))
    gmax = abs(g0)
    hess, tol = np.zeros((n, n)), np.zeros((n, n))
    unit = np.eye(n)

    def d(i, j, k):
        nonlocal gmax
        hi, hj = k * steps[i], k * steps[j]
        vals = []
        for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            z = x + (si * hi * unit[i] + sj * hj * unit[j]).reshape(x.shape)
            vals.append(float(np.asarray(g(z))))
        gmax = max(gmax, *(abs(v) for v in vals))
        return (vals[0] - vals[1] - vals[2] + vals[3]) / (4 * hi * hj)

    for i in range(n):
        for j in range(i, n):
            d1, d2 = d(i, j, 1), d(i, j, 2)
            hess[i, j] = hess[j, i] = (4 * d1 - d2) / 3
            tol[i, j] = tol[j, i] = abs(d2 - d1) + 4 * NOISE * (1.0 + gmax) / (steps[i] * steps[j])
    scale = 1.0 + float(np.max(np.abs(hess), initial=0.0))
    if np.any(tol > UNRELIABLE * 10 * scale + 4 * NOISE * (1.0 + gmax) / np.outer(steps, steps)):
        raise NoReference("second differences disagree between steps h and 2h: a kink or "
                          "a jump inside the stencil")
    return hess.reshape(x.shape * 2), tol.reshape(x.shape * 2)


# ------------------------------------------------------------------ comparisons

def _dense(a, shape):
    if hasattr(a, "toarray"):
        a = a.toarray()
    a = np.asarray(a)
    if a.size != int(np.prod(shape)):
        raise Disagreement(f"result has {a.size} entries ({a.shape}); expected shape {shape}")
    return a.reshape(shape)


def compare(what: str, got, want, tol=0.0, exact_shape: bool = True):
    """Disagreement unless ``|got - want| <= tol + EXACT_RTOL * (1 + max|want|)``."""
    want = np.asarray(want)
    if hasattr(got, "toarray"):
        got = got.toarray()
    try:
        got = np.asarray(got)
    except Exception as e:
        raise Disagreement(f"{what}: result is not an array ({type(got).__name__}: {e})") from e
    if got.dtype == object:
        raise Disagreement(f"{what}: result is an object array ({got.ravel()[:1]!r}...)")
    if exact_shape and got.shape != want.shape:
        raise Disagreement(f"{what}: shape {got.shape}, expected {want.shape}")
    if got.size != want.size:
        raise Disagreement(f"{what}: {got.size} entries, expected shape {want.shape}")
    got = got.reshape(want.shape)
    scale = 1.0 + float(np.max(np.abs(want), initial=0.0))
    allowed = np.asarray(tol) + EXACT_RTOL * scale
    err = np.abs(got - want)
    bad = ~(err <= allowed)
    if np.any(bad):
        i = np.unravel_index(int(np.argmax(np.where(bad, err - allowed, -np.inf))), want.shape)
        if want.ndim == 0:
            i = ()
        lim = float(np.broadcast_to(allowed, want.shape)[i])
        raise Disagreement(
            f"{what}: {int(bad.sum())} of {want.size} entries differ; at {tuple(map(int, i))}"
            f" got {got[i]!r}, reference {want[i]!r} (allowed {lim:.2g})")


def identical(what: str, a, b):
    a, b = (x.toarray() if hasattr(x, "toarray") else np.asarray(x) for x in (a, b))
    if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
        diff = np.max(np.abs(a - b)) if a.shape == b.shape else f"shapes {a.shape}, {b.shape}"
        raise Disagreement(f"{what}: two identical calls returned different bits "
                           f"(max difference {diff})")


# --------------------------------------------------------------------- the case

class Case:
    """What the checks of one program share: f compiled against the dualdiff under test,
    the references, and :meth:`call` (copies x in, checks it is not modified)."""

    def __init__(self, prog: Program, dd, refs: References):
        self.prog, self.dd, self.refs = prog, dd, refs
        self.f = prog.function(dd)
        self.g = refs.scalarise(self.f)

    def arg(self, which: int) -> np.ndarray:
        return np.array(self.refs.xs[which], copy=True)

    def call(self, fn, which: int, *args, **kwargs):
        """fn(copy of x_which, *args, **kwargs); Disagreement if the caller's x changed."""
        x = self.arg(which)
        out = fn(x, *args, **kwargs)
        if not np.array_equal(x, self.refs.xs[which]):
            raise Disagreement(f"the caller's x was modified: {x.tolist()} instead of "
                               f"{self.refs.xs[which].tolist()}")
        return out

    def api(self, name: str, which: int, *args, scalar: bool = False, **kwargs):
        """``dd.<name>(f or g, copy of x_which, *args, **kwargs)`` through :meth:`call`."""
        fn = getattr(self.dd, name)
        return self.call(lambda x: fn(self.g if scalar else self.f, x, *args, **kwargs), which)

    def jac_shape(self):
        return self.refs.out_shape + self.prog.x0.shape


# --------------------------------------------------------------------- the table

@dataclass
class Check:
    """A named check: ``run(case)`` raises Disagreement on a wrong result; ``needs(dd)``
    says whether the API it exercises exists (checks for future APIs switch on by
    themselves); ``scalar``: it works on the scalarised program (gradients, Hessians)."""

    name: str
    run: Callable
    needs: Callable = field(default=lambda dd: True)
    scalar: bool = False


CHECKS: dict = {}


def check(name: str, needs: Callable | None = None, scalar: bool = False):
    """Register a check in :data:`CHECKS` (adding a mode is one decorated function)."""
    def deco(fn):
        CHECKS[name] = Check(name, fn, needs or (lambda dd: True), scalar)
        return fn
    return deco


_PROBES: dict = {}


def supports(dd, key: str, probe: Callable) -> bool:
    """Whether ``probe(dd)`` runs and returns True (cached per dualdiff module): detects
    APIs and options that exist but are refused today (e.g. ``jacobian_plan(sparsity=None)``)."""
    k = (id(dd), key)
    if k not in _PROBES:
        try:
            _PROBES[k] = bool(probe(dd))
        except Exception:
            _PROBES[k] = False
    return _PROBES[k]


def _jac_check(mode, chunk=None):
    def run(c: Case):
        y, jac = c.api("value_and_jacobian", 0, mode=mode, chunk=chunk)
        compare("value", y, c.refs.value(0))
        compare("jacobian", jac, *c.refs.jac(0))
    return run


for _mode in ("forward", "reverse", "auto"):
    check(f"jac_{_mode}")(_jac_check(_mode))
check("jac_forward_chunk1")(_jac_check("forward", 1))
check("jac_reverse_chunk1")(_jac_check("reverse", 1))


def _repeat_check(*modes):
    def run(c: Case):
        for mode in modes:
            first = c.api("jacobian", 0, mode=mode)
            for _ in range(2):
                identical(f"jacobian(mode={mode!r})", first, c.api("jacobian", 0, mode=mode))
        first = c.api("gradient", 0, mode=modes[0], scalar=True)
        identical(f"gradient(mode={modes[0]!r})", first,
                  c.api("gradient", 0, mode=modes[0], scalar=True))
    return run


check("repeat")(_repeat_check("forward", "reverse"))
check("repeat_auto")(_repeat_check("auto"))


@check("jvp")
def _jvp(c: Case):
    jac, tol = c.refs.jac(0)
    v = c.refs.v
    nd = v.ndim
    y, t = c.api("jvp", 0, v)
    compare("value", y, c.refs.value(0))
    want = np.tensordot(jac, v, nd) if nd else jac * v
    compare("J v", t, want, np.tensordot(tol, np.abs(v), nd) if nd else tol * abs(v))


@check("vjp")
def _vjp(c: Case):
    jac, tol = c.refs.jac(0)
    k = len(c.refs.out_shape)
    y, pullback = c.api("vjp", 0)
    compare("value", y, c.refs.value(0))
    u, U = c.refs.u, c.refs.U
    if not c.refs.complex_out:
        u, U = u.real, U.real
    first = pullback(u)
    compare("u J", first, np.tensordot(u, jac, k), np.tensordot(np.abs(u), tol, k))
    identical("pullback(u)", first, pullback(u))
    compare("U J (batched cotangents)", pullback(U), np.tensordot(U, jac, k),
            np.tensordot(np.abs(U), tol, k))


@check("sparse_auto")
def _sparse(c: Case):
    jac, tol = c.refs.jac(0)
    got = c.api("jacobian", 0, sparsity="auto")
    compare("sparse jacobian", _dense(got, c.jac_shape()), jac, tol)


@check("sparse_reverse")
def _sparse_reverse(c: Case):
    jac, tol = c.refs.jac(0)
    got = c.api("jacobian", 0, sparsity="auto", mode="reverse")
    compare("sparse jacobian (reverse)", _dense(got, c.jac_shape()), jac, tol)


@check("sparsity_pattern")
def _pattern(c: Case):
    jac, tol = c.refs.jac(0)
    pat = _dense(c.api("jacobian_sparsity", 0), c.jac_shape()).astype(bool)
    scale = 1.0 + float(np.max(np.abs(jac), initial=0.0))
    missing = (np.abs(jac) > tol + EXACT_RTOL * scale) & ~pat
    if np.any(missing):
        i = tuple(int(k) for k in np.argwhere(missing)[0])
        raise Disagreement(f"pattern misses {int(missing.sum())} nonzeros of the Jacobian, "
                           f"e.g. {i} = {jac[i]!r}")


def _plan_check(mode):
    def run(c: Case):
        plan = c.api("jacobian_plan", 0, mode=mode)
        compare("plan(x1)", _dense(c.call(plan, 1), c.jac_shape()), *c.refs.jac(1))
        compare("plan(x0) after plan(x1)", _dense(c.call(plan, 0), c.jac_shape()),
                *c.refs.jac(0))
    return run


check("plan_x1")(_plan_check("auto"))
check("plan_reverse_x1")(_plan_check("reverse"))
check("plan_forward_x1")(_plan_check("forward"))


def _has_dense_plan(dd):
    return supports(dd, "jacobian_plan(sparsity=None)", lambda dd: np.allclose(
        _dense(dd.jacobian_plan(lambda x: x * x[0], np.ones(2), sparsity=None)(
            np.array([2.0, 3.0])), (2, 2)), [[4.0, 0.0], [3.0, 2.0]]))


@check("plan_dense_x1", needs=_has_dense_plan)
def _plan_dense(c: Case):
    plan = c.api("jacobian_plan", 0, sparsity=None)
    compare("dense plan(x1)", _dense(c.call(plan, 1), c.jac_shape()), *c.refs.jac(1))
    compare("dense plan(x0)", _dense(c.call(plan, 0), c.jac_shape()), *c.refs.jac(0))


def _grad_check(mode):
    def run(c: Case):
        compare("gradient", c.api("gradient", 0, mode=mode, scalar=True), *c.refs.grad(0))
    return run


for _mode in ("forward", "reverse", "auto"):
    check(f"grad_{_mode}", scalar=True)(_grad_check(_mode))


@check("value_and_gradient", needs=lambda dd: hasattr(dd, "value_and_gradient"), scalar=True)
def _vg(c: Case):
    v, g = c.api("value_and_gradient", 0, scalar=True)
    compare("value", v, c.refs.scalarise(c.refs.f)(c.arg(0)))
    compare("gradient", g, *c.refs.grad(0))


def _hess_check(method, chunk=None):
    def run(c: Case):
        v, g, h = _vgh(c, method, chunk)
        compare("value", v, c.refs.scalarise(c.refs.f)(c.arg(0)))
        compare("gradient (first parts)", g, *c.refs.grad(0))
        compare("hessian", h, *c.refs.hess(0))
    return run


def _vgh(c: Case, method, chunk):
    return c.api("value_gradient_and_hessian", 0, chunk=chunk, method=method, scalar=True)


check("hess_hyperdual", scalar=True)(_hess_check("hyperdual"))
check("hess_hyperdual_chunk1", scalar=True)(_hess_check("hyperdual", 1))
check("hess_forward_over_reverse", scalar=True)(_hess_check("forward-over-reverse"))


def _hvp_check(method):
    def run(c: Case):
        h, tol = c.refs.hess(0)
        v = c.refs.v
        nd = v.ndim
        got = c.api("hvp", 0, v, method=method, scalar=True)
        compare("H v", got, np.tensordot(h, v, nd), np.tensordot(tol, np.abs(v), nd))
    return run


check("hvp_hyperdual", scalar=True)(_hvp_check("hyperdual"))
check("hvp_forward_over_reverse", scalar=True)(_hvp_check("forward-over-reverse"))


@check("gradient_plan_x1", needs=lambda dd: hasattr(dd, "gradient_plan"), scalar=True)
def _gplan(c: Case):
    plan = c.api("gradient_plan", 0, scalar=True)
    compare("gradient plan(x1)", c.call(plan, 1), *c.refs.grad(1))
    compare("gradient plan(x0)", c.call(plan, 0), *c.refs.grad(0))


@check("hessian_plan_x1", needs=lambda dd: hasattr(dd, "hessian_plan"), scalar=True)
def _hplan(c: Case):
    plan = c.api("hessian_plan", 0, scalar=True)
    shape = c.prog.x0.shape * 2
    compare("hessian plan(x1)", _dense(c.call(plan, 1), shape), *c.refs.hess(1))
    compare("hessian plan(x0)", _dense(c.call(plan, 0), shape), *c.refs.hess(0))


@check("hvp_plan_x1", needs=lambda dd: hasattr(dd, "hvp_plan"), scalar=True)
def _hvplan(c: Case):
    plan = c.api("hvp_plan", 0, scalar=True)
    v = c.refs.v
    nd = v.ndim
    for which in (1, 0):
        h, tol = c.refs.hess(which)
        got = c.call(lambda x: plan(x, v.copy()), which)
        compare(f"hvp plan(x{which}, v)", got, np.tensordot(h, v, nd),
                np.tensordot(tol, np.abs(v), nd))


# ------------------------------------------------------------------ running

@dataclass
class Outcome:
    status: str
    detail: str = ""
    seconds: float = 0.0


@dataclass
class ProgramResult:
    prog: Program
    outcomes: dict
    seconds: float = 0.0
    cs_mismatch: bool = False

    def failures(self) -> list:
        return [(k, o) for k, o in self.outcomes.items() if o.status in ("disagree", "crash")]


def _dd_dir(dd) -> str:
    return os.path.dirname(os.path.abspath(dd.__file__))


def classify(exc: BaseException, dd) -> str:
    """"refused" for a TypeError/ValueError raised by a ``raise`` statement in dualdiff
    (the instruction that raised is RAISE_VARARGS in a dualdiff frame), or NumPy's
    documented "setting an array element with a sequence"; else "crash" (e.g. NumPy's
    own TypeError from a call dualdiff made with arguments it should not have).

    >>> import dualdiff as dd
    >>> try:
    ...     dd.jacobian(lambda x: float(x), 1.0)
    ... except TypeError as e:
    ...     print(classify(e, dd))
    refused
    """
    if not isinstance(exc, (TypeError, ValueError)):
        return "crash"
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return "crash"
    code = last.tb_frame.f_code
    inside = os.path.abspath(code.co_filename).startswith(_dd_dir(dd) + os.sep)
    if not inside:
        # NumPy's own check when the program writes a carrier into a plain array (raised
        # in the program's frame) is a refusal; any other error from outside is a crash
        return "refused" if "setting an array element with a sequence" in str(exc) else "crash"
    ops = {i.offset: i.opname for i in dis.get_instructions(code)}
    return "refused" if ops.get(last.tb_lasti) == "RAISE_VARARGS" else "crash"


def _alarm(seconds: float | None):
    if seconds is None or not hasattr(signal, "setitimer"):
        return None

    def handler(signum, frame):
        raise Timeout(f"time limit of {seconds} s")
    try:
        old = signal.signal(signal.SIGALRM, handler)
    except ValueError:  # not the main thread
        return None
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return old


def _disarm(old):
    if old is not None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _short(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" [{os.path.basename(tb[-1].filename)}:{tb[-1].lineno} in {tb[-1].name}]" if tb \
        else ""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg[:300]}{where}"


def run_check(chk: Check, case: Case) -> Outcome:
    """One check on one case: its Outcome (never raises, except Timeout)."""
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            chk.run(case)
            status, detail = "pass", ""
        except Disagreement as e:
            status, detail = "disagree", str(e)
        except NoReference as e:
            status, detail = "skip", str(e)
        except Timeout:
            raise
        except Exception as e:
            status, detail = classify(e, case.dd), _short(e)
    kinds = sorted({w.category.__name__ for w in caught
                    if w.category.__name__ in ("ComplexWarning",)})
    if kinds and status != "pass":
        detail += f" (warnings: {', '.join(kinds)})"
    return Outcome(status, detail, time.perf_counter() - t0)


def run_program(prog: Program, dd, checks=None, timeout: float | None = None) -> ProgramResult:
    """Every applicable check (or those named) on one program.

    A time-out marks the running check "crash" and the remaining ones "skip"."""
    names = list(checks) if checks is not None else list(CHECKS)
    outcomes: dict = {}
    t0 = time.perf_counter()
    refs = References(prog)
    case = Case(prog, dd, refs)
    old = _alarm(timeout)
    try:
        for name in names:
            chk = CHECKS[name]
            if not chk.needs(dd):
                outcomes[name] = Outcome("n/a")
                continue
            try:
                outcomes[name] = run_check(chk, case)
            except Timeout as e:
                outcomes[name] = Outcome("crash", f"Timeout: {e}")
                for rest in names[names.index(name) + 1:]:
                    outcomes[rest] = Outcome("skip", "after a time-out")
                break
    finally:
        _disarm(old)
    return ProgramResult(prog, outcomes, time.perf_counter() - t0, refs.cs_mismatch)


def signature(outcome: Outcome) -> str:
    """The detail with numbers and names of variables removed, for grouping failures."""
    s = re.sub(r"0x[0-9a-f]+", "#", outcome.detail)
    s = re.sub(r"\b(Dual|HyperDual|Tape|Tracer)\b", "<carrier>", s)
    s = re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", s)
    s = re.sub(r"\[[^\]]*\]", "[]", s)
    return s[:160]


def fingerprints(res: ProgramResult) -> list:
    """Distinct failures of one program as ``(key, representative check, Outcome)``:
    one per crash message shape, and one for the set of checks that disagree (the set
    says which modes are affected, e.g. every reverse-mode check, or only chunk=1)."""
    out, seen = [], set()
    for name, o in res.outcomes.items():
        if o.status == "crash":
            key = "crash | " + signature(o)
            if key not in seen:
                seen.add(key)
                out.append((key, name, o))
    bad = [n for n, o in res.outcomes.items() if o.status == "disagree"]
    if len(bad) > 1 and "repeat_auto" in bad:  # auto follows whichever mode it picked
        bad.remove("repeat_auto")
    if bad:
        rep = next((n for n in bad if n not in ("repeat_auto", "repeat")), bad[0])
        out.append(("disagree | " + ", ".join(bad), rep, res.outcomes[rep]))
    return out


# ------------------------------------------------------------------ shrinking

def _reproduces(prog: Program, dd, name: str, status: str, kind: str,
                timeout: float | None) -> bool:
    if not valid(prog):
        return False
    try:
        out = run_program(prog, dd, [name], timeout).outcomes[name]
    except Exception:
        return False
    return out.status == status and (status != "crash" or out.detail.split(":")[0] == kind)


def shrink(prog: Program, dd, name: str, outcome: Outcome, budget: float = 20.0,
           timeout: float | None = None) -> Program:
    """A smaller program on which check ``name`` still ends as ``outcome`` did: drop
    statements (and narrow a concatenated return to one part) while that holds."""
    t_end = time.perf_counter() + budget
    kind = outcome.detail.split(":")[0]
    best = prog
    improved = True
    while improved and time.perf_counter() < t_end:
        improved = False
        # narrow the return expression to one of the names it uses
        names = [n for n in re.findall(r"\b([A-Za-z_]\w*)\b", best.ret)
                 if n not in ("np", "ravel", "concatenate", "x") or n == "x"]
        for n in dict.fromkeys(names):
            if n != best.ret and time.perf_counter() < t_end:
                cand = Program(best.cls, best.index, best.seed, best.stmts, n, best.x0, best.x1,
                               best.analytic, best.nested)
                if _reproduces(cand, dd, name, outcome.status, kind, timeout):
                    best, improved = cand, True
                    break
        for i in reversed(range(len(best.stmts))):
            if time.perf_counter() > t_end:
                break
            if i >= len(best.stmts):
                continue
            cand = best.with_stmts(best.stmts[:i] + best.stmts[i + 1:])
            if _reproduces(cand, dd, name, outcome.status, kind, timeout):
                best, improved = cand, True
    return best
