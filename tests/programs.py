"""Seeded random programs over the NumPy surface dualdiff supports, for differential testing.

A program is the *source* of ``def f(x): ...``: a list of statements (each a block that
shrinking may drop as a whole) and a return expression, so a failure prints readably and
can be minimised.  Programs are grown statement by statement; each candidate statement is
run in plain NumPy at both points x0 and x1 and kept only if

* it runs without error or warning and every intermediate is finite and below ``BOUND``;
* every value-dependent selection it makes (a maximum, a comparison, a sort order, a knot
  of ``interp``, a kink of ``abs`` ...) is at least ``MARGIN`` away from its tie at both
  points (its *guard*), so finite differences with steps far below MARGIN see one branch.

Plain NumPy's run of the source is the ground truth, aliasing included: a generator only
writes code; whatever NumPy makes of it (a ``ravel`` that copies, a swap through a row
view that duplicates a row, a buffered ``a[[0, 0]] += 1`` that adds once) is what the
derivative drivers must reproduce.

Classes (``CLASSES``), each a named generator: ``straight`` (element-wise ufuncs,
broadcasting, powers), ``reduce`` (reductions, reshapes, products, linalg), ``views``
(aliasing and in-place idioms), ``nested`` (f calls dd.derivative / gradient / jacobian
/ jvp / vjp), ``complex`` (complex intermediates and outputs, FFT filters) and ``select``
(argmax, masks, sort, interp, searchsorted: discrete choices that differ at x1).

>>> p = make_program("straight", 0, seed=0)
>>> p.source().startswith("def f(x):")
True
>>> bool(np.all(np.isfinite(p.function(REF_DD)(p.x0.copy()))))
True
"""

from __future__ import annotations

import linecache
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

#: distance every guarded selection keeps from its tie (at x0 and at x1)
MARGIN = 0.05
#: every intermediate value stays below this in magnitude
BOUND = 1e4


# --------------------------------------------------------------------------- programs

@dataclass(frozen=True)
class Program:
    """One generated program: ``def f(x)`` with ``stmts`` and ``return ret``.

    ``analytic``: every operation is holomorphic and f runs on complex input in plain
    NumPy, so the complex step is a valid reference (verified, not just claimed, by
    :func:`make_program`).  ``nested``: f calls ``dd.*`` itself.

    >>> p = Program("straight", 0, 0, ("y = np.sin(x)",), "y * 2", np.zeros(2), np.ones(2))
    >>> print(p.source(), end="")
    def f(x):
        y = np.sin(x)
        return y * 2
    """

    cls: str
    index: int
    seed: int
    stmts: tuple
    ret: str
    x0: np.ndarray
    x1: np.ndarray
    analytic: bool = False
    nested: bool = False

    def source(self) -> str:
        """The program as Python source."""
        body = "".join(textwrap.indent(s, "    ") + "\n" for s in self.stmts)
        return f"def f(x):\n{body}    return {self.ret}\n"

    def function(self, dd_module) -> Callable:
        """Compile the source with ``np`` and ``dd`` (dualdiff, or :data:`REF_DD`) bound."""
        src = self.source()
        name = f"<program {self.cls}#{self.index} seed {self.seed}>"
        linecache.cache[name] = (len(src), None, src.splitlines(True), name)
        ns = {"np": np, "dd": dd_module}
        exec(compile(src, name, "exec"), ns)
        return ns["f"]

    def with_stmts(self, stmts) -> Program:
        """The same program with other statements (for shrinking)."""
        return replace(self, stmts=tuple(stmts))

    def describe(self) -> str:
        """Source plus the two points, runnable as is."""
        def arr(a):
            return f"np.array({np.asarray(a).tolist()!r})"
        return (f"# class {self.cls}, program {self.index}, seed {self.seed}"
                f"{', complex-step reference' if self.analytic else ''}\n"
                f"import numpy as np, dualdiff as dd\n{self.source()}"
                f"x0 = {arr(self.x0)}\nx1 = {arr(self.x1)}\n")


# --------------------------------------------------------- reference derivatives for nesting

class _ComplexStepDD:
    """Stand-in for ``dualdiff`` inside nested programs when computing references: the
    complex step ``imag(g(z + i h v)) / h`` (exact to rounding for holomorphic g; the
    nested class only builds holomorphic inner functions).  Shares no code with dualdiff.

    >>> float(REF_DD.derivative(lambda t: t ** 3, 2.0))
    12.0
    """

    H = 1e-30

    def _dir(self, g, z, v):
        z = np.asarray(z, dtype=float)
        return np.imag(np.asarray(g(z + 1j * self.H * np.asarray(v, dtype=float)))) / self.H

    def _jac(self, g, z):
        z = np.asarray(z, dtype=float)
        y = np.asarray(g(z.copy()))
        cols = [self._dir(g, z, np.eye(z.size)[j].reshape(z.shape)) for j in range(z.size)]
        return np.stack(cols, axis=-1).reshape(y.shape + z.shape)

    def derivative(self, g, t):
        return self._dir(g, t, 1.0)

    def gradient(self, g, z, mode="auto"):
        return self._jac(g, z)

    def jacobian(self, g, z, mode="auto", chunk=None):
        return self._jac(g, z)

    def jvp(self, g, z, v):
        return np.asarray(g(np.array(z, dtype=float))).real, self._dir(g, z, v)

    def vjp(self, g, z):
        jac, y = self._jac(g, z), np.asarray(g(np.array(z, dtype=float))).real
        zs = np.shape(z)

        def pullback(u):
            u = np.asarray(u)
            lead = u.shape[: u.ndim - y.ndim]
            return np.reshape(np.reshape(u, lead + (-1,)) @ np.reshape(jac, (y.size, -1)),
                              lead + zs)
        return y, pullback


REF_DD = _ComplexStepDD()


# ------------------------------------------------------------------------ guard helpers

def top_gap(a, axis=None):
    """Gap between the largest and the second largest entry (along axis): a max's margin.

    >>> float(top_gap(np.array([1.0, 3.0, 2.5])))
    0.5
    """
    a = np.asarray(a, dtype=float)
    if axis is None:
        a, axis = a.ravel(), 0
    if a.shape[axis] < 2:
        return np.asarray(np.inf)
    s = np.sort(a, axis=axis)
    return np.take(s, -1, axis=axis) - np.take(s, -2, axis=axis)


def sort_gap(a, axis=-1):
    """Smallest gap between neighbours in sorted order: a sort's margin.

    >>> float(sort_gap(np.array([3.0, 1.0, 1.5])))
    0.5
    """
    a = np.asarray(a, dtype=float)
    if axis is None:
        a, axis = a.ravel(), 0
    if a.shape[axis] < 2:
        return np.asarray(np.inf)
    return np.min(np.diff(np.sort(a, axis=axis), axis=axis))


def knot_gap(q, knots):
    """Distance of the queries from the nearest knot.

    >>> float(knot_gap(np.array([0.4]), np.array([0.0, 1.0])))
    0.4
    """
    q, k = np.ravel(q), np.ravel(knots)
    return np.min(np.abs(q[:, None] - k[None, :]))


def branch_gap(c):
    """Distance of complex c from the cut of sqrt/log/angle (the negative real axis).

    >>> branch_gap(np.array([-1.0 + 0.3j, 2.0])).tolist()
    [0.3, 2.0]
    """
    c = np.asarray(c)
    return np.where(np.real(c) > 0, np.abs(c), np.abs(np.imag(c)))


GUARD_NS = {"np": np, "top_gap": top_gap, "sort_gap": sort_gap, "knot_gap": knot_gap,
            "branch_gap": branch_gap}


# ---------------------------------------------------------------------------- builder

def _numeric(v) -> bool:
    return isinstance(v, (np.ndarray, np.number, float, int, complex)) and \
        not isinstance(v, bool) and np.asarray(v).dtype.kind in "biufc"


def run_body(stmts, x, dd_module=REF_DD) -> dict:
    """Run statements at module level on a copy of x (warnings are errors); the namespace.

    >>> run_body(["y = x * 2"], np.ones(2))["y"].tolist()
    [2.0, 2.0]
    """
    ns = {"np": np, "dd": dd_module, "x": np.array(x, copy=True)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec("\n".join(stmts), ns)
    return ns


def _fmt(v: float) -> str:
    return repr(float(np.round(v, 3)))


class Builder:
    """Grows a program one statement at a time, keeping only statements that run cleanly
    and respect their guards at x0 and x1 (see the module docstring)."""

    def __init__(self, rng: np.random.Generator, x0: np.ndarray, x1: np.ndarray):
        self.rng, self.x0, self.x1 = rng, x0, x1
        self.stmts: list = []
        self.analytic = True
        self.nested = False
        self.count = 0
        self.pending: list = []  # guards of sub-expressions used through code()
        self.env0 = run_body([], x0)
        self.env1 = run_body([], x1)

    # -- randomness helpers
    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def name(self, prefix: str = "a") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def const(self, lo=-1.5, hi=1.5) -> str:
        return _fmt(self.rng.uniform(lo, hi))

    def const_array(self, shape, lo=-1.5, hi=1.5) -> str:
        return f"np.array({np.round(self.rng.uniform(lo, hi, shape), 3).tolist()})"

    # -- the environment (values at x0)
    def value(self, code: str):
        return eval(code, {**GUARD_NS, **self.env0})

    def shape(self, code: str) -> tuple:
        return np.shape(self.value(code))

    def arrays(self, kind="f", ndim=None, writable=False, min_size=1) -> list:
        """Names of array variables (dtype kind in ``kind``) at x0."""
        out = []
        for k, v in self.env0.items():
            if k in ("np", "dd", "__builtins__") or not isinstance(v, np.ndarray):
                continue
            if v.dtype.kind not in kind or v.size < min_size:
                continue
            if (ndim is not None and v.ndim not in np.atleast_1d(ndim)) or \
                    (writable and not v.flags.writeable):
                continue
            out.append(k)
        return out  # creation order, x first

    def recent(self, names: list) -> str:
        """One of ``names``, most often one of the two newest (so programs chain)."""
        if len(names) > 2 and self.chance(0.6):
            return self.pick(names[-2:])
        return self.pick(names)

    def scalar(self, kind="f") -> str:
        """A traced real scalar: an element of a variable, e.g. ``x[2]`` or ``a3[1, 0]``."""
        name = self.pick(self.arrays(kind))
        shape = self.env0[name].shape
        if not shape:
            return name
        idx = tuple(int(self.rng.integers(s)) for s in shape)
        return f"{name}[{', '.join(map(str, idx))}]"

    def sub(self, name: str, length: int) -> str | None:
        """A slice of 1-D variable ``name`` of the given length, or None."""
        n = self.env0[name].shape[0]
        if n < length:
            return None
        s = int(self.rng.integers(n - length + 1))
        return name if (s == 0 and length == n) else f"{name}[{s}:{s + length}]"

    def of_shape(self, shape: tuple, kind="f") -> str:
        """A traced expression of exactly this shape, built from existing variables."""
        same = [k for k in self.arrays(kind) if self.env0[k].shape == shape]
        if same and self.chance(0.7):
            return self.pick(same)
        if shape == ():
            return self.scalar(kind)
        size = int(np.prod(shape))
        flat = [k for k in self.arrays(kind) if self.env0[k].size >= size]
        if not flat:
            return f"({self.scalar(kind)} * {self.const_array(shape)})"
        name = self.pick(flat)
        s = int(self.rng.integers(self.env0[name].size - size + 1))
        base = f"{name}.ravel()" if self.env0[name].ndim > 1 else name
        code = f"{base}[{s}:{s + size}]"
        return code if len(shape) == 1 else f"{code}.reshape{shape}"

    def code(self, spec) -> str:
        """The code of an expression spec ``(code, analytic, guards)`` used inside a larger
        statement; its guards hold for the next :meth:`add` (a kink of a sub-expression
        must keep its margin as much as the statement's own)."""
        self.pending.extend(spec[2])
        return spec[0]

    # -- adding statements
    def add(self, code: str, analytic: bool = True, guards=()) -> bool:
        """Keep ``code`` if it runs cleanly at x0 and x1 and its guards (and those of the
        sub-expressions taken through :meth:`code`) hold there."""
        guards, self.pending = list(guards) + self.pending, []
        try:
            for env in (self.env0, self.env1):
                for g in guards:
                    val = np.asarray(eval(g, {**GUARD_NS, **env}), dtype=float)
                    if not (np.all(np.isfinite(val)) and np.min(np.abs(val), initial=np.inf)
                            >= MARGIN):
                        return False
            new = [run_body(self.stmts + [code], x) for x in (self.x0, self.x1)]
        except Exception:
            return False
        for env in new:
            for v in env.values():
                if _numeric(v) and not (np.all(np.isfinite(v)) and
                                        np.max(np.abs(v), initial=0.0) < BOUND):
                    return False
        self.stmts.append(code)
        self.env0, self.env1 = new
        self.analytic &= analytic
        return True

    def add_expr(self, spec) -> str | None:
        """Assign an expression spec ``(code, analytic, guards)`` to a new name."""
        if spec is None:
            return None
        code, analytic, guards = spec
        name = self.name()
        return name if self.add(f"{name} = {code}", analytic, guards) else None


# ---------------------------------------------------------------- smooth expressions

# (template, analytic, guard template or None); {0} is the argument
UNARY = [
    ("np.sin({0})", True, None), ("np.cos({0})", True, None), ("np.tanh({0})", True, None),
    ("np.exp(np.sin({0}))", True, None), ("np.log(2.0 + np.cos({0}))", True, None),
    ("np.log1p({0} ** 2)", True, None), ("np.sqrt(1.0 + {0} ** 2)", True, None),
    ("np.arctan({0})", True, None), ("np.arcsinh({0})", True, None),
    ("({0}) ** 2", True, None), ("({0}) ** 3", True, None), ("np.square({0})", True, None),
    ("1.0 / (1.5 + np.sin({0}))", True, None), ("np.expm1(np.tanh({0}))", True, None),
    ("np.log10(3.0 + np.cos({0}))", True, None), ("np.cosh(np.tanh({0}))", True, None),
    ("np.reciprocal(2.0 + np.cos({0}))", True, None), ("(1.5 + np.sin({0})) ** 2.5", True, None),
    ("np.exp2(np.sin({0}))", True, None), ("np.sinc(0.3 * {0} + 0.1)", True, None),
    ("np.arcsin(0.5 * np.tanh({0}))", True, None), ("np.negative({0})", True, None),
    ("np.hypot({0}, 0.5)", False, None), ("np.abs(1.5 + np.sin({0}))", False, None),
    ("np.cbrt(2.0 + np.cos({0}))", False, None), ("np.arctan2({0}, 1.5)", False, None),
    ("np.abs({0})", False, "{0}"), ("np.clip({0}, -0.5, 0.5)", False, "np.abs({0}) - 0.5"),
    ("np.maximum({0}, 0.2)", False, "{0} - 0.2"),
]
BINARY = [
    ("({0} + {1})", True, None), ("({0} - {1})", True, None), ("({0} * {1})", True, None),
    ("{0} / (1.5 + np.cos({1}))", True, None), ("{0} / (1.0 + {1} ** 2)", True, None),
    ("np.power(1.5 + np.sin({0}), np.tanh({1}))", True, None),
    ("np.arctan2({0}, 2.0 + np.cos({1}))", False, None),
    ("np.hypot({0}, 0.5 + {1} ** 2)", False, None),
    ("np.logaddexp({0}, {1})", False, None),
    ("np.maximum({0}, {1})", False, "{0} - {1}"), ("np.minimum({0}, {1})", False, "{0} - {1}"),
    ("np.where({0} > {1}, {0} * {1}, np.sin({1}))", False, "{0} - {1}"),
]


def smooth(b: Builder, pool: list, depth: int, analytic_only: bool = False,
           scalars: Callable | None = None):
    """A random expression ``(code, analytic, guards)`` shaped like the entries of ``pool``
    (codes of one shape); scalars and constants broadcast into it."""
    scalars = scalars or b.scalar
    unary = [u for u in UNARY if u[1] or not analytic_only]
    binary = [u for u in BINARY if u[1] or not analytic_only]

    def leaf(need_array):
        r = b.rng.random()
        if need_array or r < 0.45:
            return b.pick(pool)
        if r < 0.75:
            return scalars()
        if r < 0.9:
            return b.const()
        return b.const(0.5, 1.5)

    def grow(d, need_array):
        if d == 0 or b.chance(0.2):
            return leaf(need_array), True, []
        if b.chance(0.5):
            t, an, g = b.pick(unary)
            c, a2, gs = grow(d - 1, need_array)
            return t.format(c), an and a2, gs + ([g.format(c)] if g else [])
        t, an, g = b.pick(binary)
        left = grow(d - 1, need_array)
        right = grow(d - 1, False)
        if b.chance(0.5) and t in ("({0} + {1})", "({0} - {1})", "({0} * {1})"):
            left, right = right, left  # constants and scalars on either side
        code = t.format(left[0], right[0])
        guards = left[2] + right[2] + ([g.format(left[0], right[0])] if g else [])
        return code, an and left[1] and right[1], guards

    code, an, guards = grow(depth, True)
    if not any(p in code for p in pool):
        code = f"({code} + 0.0 * {pool[0]})"
    return code, an, guards


def smooth_of(b: Builder, shape: tuple, depth: int = 2, analytic_only: bool = False):
    """A smooth expression of the given shape over existing variables."""
    return smooth(b, [b.of_shape(shape)], depth, analytic_only)


# --------------------------------------------------------------------------- points

def _points(rng: np.random.Generator, shape: tuple):
    """x0 with entries in [-1.5, 1.5] at least 0.1 apart; x1 a permutation of x0 (a different
    argmax, sort order and mask, the same mask sizes) plus a little noise."""
    n = int(np.prod(shape))
    while True:
        x0 = np.round(rng.uniform(-1.5, 1.5, n), 3)
        if n < 2 or np.min(np.diff(np.sort(x0))) >= 0.1:
            break
    perm = rng.permutation(n)
    if n > 1 and np.all(perm == np.arange(n)):
        perm = np.roll(perm, 1)
    x1 = np.round(x0[perm] + rng.uniform(-0.05, 0.05, n), 3)
    return x0.reshape(shape), x1.reshape(shape)


# ----------------------------------------------------------------- class: straight

def gen_straight(b: Builder):
    """Element-wise ufuncs, arithmetic with broadcasting constants, powers, maximum/where."""
    for _ in range(int(b.rng.integers(2, 6))):
        for _attempt in range(10):
            r = b.rng.random()
            arrs = b.arrays()
            if r < 0.55:
                base = b.recent(arrs)
                name = b.add_expr(smooth(b, [base], int(b.rng.integers(1, 4))))
            elif r < 0.65:
                ones = [a for a in arrs if b.env0[a].ndim == 1]
                if not ones:
                    continue
                p, q = b.recent(ones), b.recent(ones)
                name = b.add_expr((f"{p}[:, None] * np.cos({q})[None, :]", True, []))
            elif r < 0.75:
                a = b.recent(arrs)
                shp = b.env0[a].shape
                c = b.const_array((2,) + shp[-1:] if shp else (2,))
                name = b.add_expr((f"{a} * {c} + {b.scalar()}", True, []))
            elif r < 0.85:
                a = b.recent(arrs)
                p = b.pick(["2", "3", "0.5", "1.5", "-1", "-0.5", "x[0]"] + [b.scalar()])
                if p in ("0.5", "1.5", "-0.5") or "[" in p:
                    base = f"(1.0 + {a} ** 2)"
                elif p == "-1":
                    base = f"(2.0 + np.cos({a}))"
                else:
                    base = a
                fn = b.pick(["{0} ** {1}", "np.power({0}, {1})", "np.float_power({0}, {1})"])
                name = b.add_expr((fn.format(base, p), True, []))
            else:
                a = b.recent(arrs)
                name = b.add_expr((f"{b.scalar()} * {a} - {b.const()} * {b.scalar()}", True, []))
            if name:
                break
    return _default_return(b)


def _default_return(b: Builder, kind="f"):
    """The newest variable, or (often) the newest few concatenated, so most statements
    reach the output."""
    names = [k for k in b.arrays(kind) if k != "x"] or ["x"]
    if len(names) > 1 and b.chance(0.4):
        parts = names[-int(b.rng.integers(2, 4)):]
        return f"np.concatenate([{', '.join(f'np.ravel({p})' for p in parts)}])"
    return names[-1]


# ------------------------------------------------------------------- class: reduce

def _matrix(b: Builder, k: int | None = None) -> str | None:
    """A traced 2-D expression (square k x k if k is given)."""
    mats = [a for a in b.arrays(ndim=2) if k is None or b.env0[a].shape == (k, k)]
    if mats and b.chance(0.6):
        return b.recent(mats)
    ones = [a for a in b.arrays(ndim=1) if b.env0[a].size >= (k or 2)]
    if not ones:
        return None
    a = b.recent(ones)
    n = b.env0[a].size
    kk = k or int(b.rng.integers(2, min(n, 4) + 1))
    if k is not None and n == k * k and b.chance(0.5):
        return f"{a}.reshape({k}, {k})"
    cols = k or int(b.rng.integers(2, 4))
    return f"np.outer({b.sub(a, kk)}, np.cos({b.sub(a, min(cols, n))}) + {b.const()})"


def _axis_args(b: Builder, ndim: int) -> str:
    ax = b.pick([None] + list(range(-ndim, ndim)))
    kd = ", keepdims=True" if b.chance(0.3) else ""
    return ("" if ax is None and not kd else f", axis={ax}") + kd


def gen_reduce(b: Builder):
    """Reductions over axes, keepdims, reshapes, concatenation, matmul/einsum, linalg."""
    for _ in range(int(b.rng.integers(2, 6))):
        for _attempt in range(12):
            r = b.rng.random()
            arrs = b.arrays()
            a = b.recent(arrs)
            v = b.env0[a]
            if r < 0.25:
                fn = b.pick(["np.sum", "np.mean", "np.cumsum", "np.var", "np.std", "np.prod",
                             "np.max", "np.min", "np.average", "np.nansum", "np.cumprod",
                             "np.linalg.norm"])
                arg = a
                if fn in ("np.prod", "np.cumprod"):
                    arg = f"(1.0 + 0.3 * np.sin({a}))"
                ax = _axis_args(b, v.ndim)
                if fn in ("np.cumsum", "np.cumprod"):
                    ax = b.pick(["", f", axis={int(b.rng.integers(v.ndim))}"]) if v.ndim else ""
                if fn == "np.linalg.norm":
                    ax = "" if v.ndim > 2 else b.pick(["", f", axis={int(b.rng.integers(v.ndim))}"]
                                                       if v.ndim else [""])
                guards = []
                if fn in ("np.max", "np.min"):
                    axis = None if "axis" not in ax else int(ax.split("axis=")[1].split(",")[0])
                    guards = [f"top_gap({'' if fn == 'np.max' else '-'}{a}, axis={axis})"]
                if fn in ("np.std", "np.linalg.norm"):
                    guards = [f"np.max(np.abs({a})) + 1.0"]
                    arg = f"(1.5 + {a})" if fn == "np.linalg.norm" else arg
                name = b.add_expr((f"{fn}({arg}{ax})", fn not in ("np.max", "np.min", "np.std",
                                                                  "np.linalg.norm"), guards))
            elif r < 0.45:
                if v.ndim == 0:
                    continue
                sz = v.size
                shapes = [(sz,), (-1,)] + [(p, sz // p) for p in range(2, sz) if sz % p == 0]
                opts = [f"{a}.reshape{b.pick(shapes)}", f"np.reshape({a}, {b.pick(shapes)})",
                        f"{a}.ravel()", f"np.ravel({a})", f"{a}.flatten()", f"{a}[::-1]",
                        f"np.flip({a}, axis=0)", f"np.roll({a}, 1, axis=0)",
                        f"np.concatenate([{a}, np.sin({a})], axis={int(b.rng.integers(v.ndim))})",
                        f"np.stack([{a}, {a} ** 2], axis={int(b.rng.integers(v.ndim + 1))})",
                        f"np.expand_dims({a}, 0)", f"np.tile({a}, 2)", f"np.repeat({a}, 2, axis=0)",
                        f"np.hstack([{a}, {a}])", f"np.vstack([{a}, np.cos({a})])",
                        f"np.diff({a}, axis=0)", f"np.append({a}, {b.scalar()})",
                        f"np.pad({a}, 1)"]
                if v.ndim == 2:
                    opts += [f"{a}.T", f"np.transpose({a})", f"np.swapaxes({a}, 0, 1)",
                             f"np.moveaxis({a}, 0, -1)", f"np.trace({a})", f"np.diagonal({a})",
                             f"np.triu({a})", f"np.tril({a}, -1)"]
                name = b.add_expr((b.pick(opts), True, []))
            elif r < 0.7:
                m = _matrix(b)
                if m is None:
                    continue
                rows, cols = b.shape(m)
                vecs = [x for x in b.arrays(ndim=1) if b.env0[x].size >= cols]
                vec = b.sub(b.pick(vecs), cols) if vecs else None
                opts = [f"{m} @ {b.const_array((cols, 2))}", f"{m} @ {m}.T", f"{m}.T @ {m}",
                        f"np.einsum('ij,jk->ik', {m}, {b.const_array((cols, 3))})",
                        f"np.einsum('ij,ij->i', {m}, np.sin({m}))",
                        f"np.einsum('ij->j', {m})", f"np.dot({m}, {b.const_array((cols,))})",
                        f"np.tensordot({m}, np.cos({m}), axes=2)",
                        f"np.matmul({b.const_array((2, rows))}, {m})"]
                if vec:
                    opts += [f"{m} @ {vec}", f"{vec} @ {m}.T", f"np.einsum('ij,j->i', {m}, {vec})",
                             f"np.inner({vec}, {vec})", f"np.outer({vec}, {vec}) @ {m}.T",
                             f"np.kron({vec}, {b.const_array((2,))})"]
                name = b.add_expr((b.pick(opts), True, []))
            else:
                k = int(b.rng.integers(2, 4))
                m = _matrix(b, k)
                if m is None:
                    continue
                s = b.name("S")
                if not b.add(f"{s} = {k}.0 * np.eye({k}) + 0.4 * np.tanh({m})", True, ()):
                    continue
                vecs = [x for x in b.arrays(ndim=1) if b.env0[x].size >= k and x != s]
                vec = b.sub(b.pick(vecs), k) if vecs else f"np.ones({k})"
                opts = [f"np.linalg.solve({s}, {vec})", f"np.linalg.solve({s}, np.sin({s}))",
                        f"np.linalg.det({s})", f"np.linalg.inv({s})",
                        f"np.linalg.slogdet({s})[1]", f"np.linalg.inv({s}) @ {vec}",
                        f"np.linalg.cholesky({s} @ {s}.T)", f"np.linalg.matrix_power({s}, 3)",
                        f"np.linalg.eigh({s} + {s}.T)[0]", f"np.linalg.norm({s})",
                        f"np.linalg.lstsq({s}, {vec}, rcond=None)[0]"]
                pick = b.pick(opts)
                guards = [f"sort_gap(np.linalg.eigvalsh({s} + {s}.T))"] if "eigh" in pick else []
                name = b.add_expr((pick, "eigh" not in pick and "norm" not in pick, guards))
            if name:
                break
    return _default_return(b)


# -------------------------------------------------------------------- class: views

def _fresh(b: Builder) -> str | None:
    """A new array owning its data (possibly 2-D), derived from x."""
    n = b.x0.size
    opts = ["np.zeros_like(x)", "np.sin(x)", "x.copy()", "x * 1.0", "np.ones_like(x) * x[0]",
            "np.copy(x)", "x ** 2", "np.zeros_like(x)", "x.copy()"]
    if b.chance(0.1):  # an object array of x's elements (NumPy's object loops)
        opts = ["np.array(x)"]
    if b.x0.ndim == 1:
        opts += [f"np.outer(x[:2], x[{n - 3 if n >= 3 else 0}:])", "x + np.zeros((2, 1))",
                 f"x + np.zeros((1, {n}))", "np.stack([x, np.cos(x)])"]
        if n >= 3:
            opts += ["np.outer(x[:3], x[-3:]).T.copy()", "np.copy(np.outer(x[:3], x[-3:]).T)",
                     "np.outer(x[:3], np.sin(x[:3])).T"]
        if n % 2 == 0:
            opts += [f"x.reshape(2, {n // 2}) * 1.0"]
    else:
        opts += ["x.T.copy()", "np.copy(x.T)", "x.T * 1.0", "x[::-1].copy()"]
    return b.add_expr((b.pick(opts), True, []))


def _index(b: Builder, shape: tuple) -> str:
    """A random basic index into an array of this shape."""
    def one(n):
        r = b.rng.random()
        if r < 0.35:
            return str(int(b.rng.integers(-n, n)))
        if r < 0.75 and n > 1:
            i = int(b.rng.integers(n - 1))
            j = int(b.rng.integers(i + 1, n + 1))
            return f"{i}:{j}"
        if r < 0.9 and n > 1:
            return b.pick(["::2", "::-1", "1::2", ":"])
        return ":"
    parts = [one(n) for n in shape[: int(b.rng.integers(1, len(shape) + 1))]]
    if len(shape) > 1 and b.chance(0.15):
        parts = ["...", one(shape[-1])]
    return ", ".join(parts)


def _rhs(b: Builder, shape: tuple, depth: int = 1):
    return smooth_of(b, shape, depth)


def gen_views(b: Builder):
    """NumPy aliasing idioms: writes through views (of views), reshape/ravel/T views and
    copies, the swap idiom, repeated fancy indices, in-place operators, accumulation loops,
    f that mutates its argument, a view returned after its base was written."""
    if b.chance(0.15):  # f mutates its argument first
        b.add(b.pick(["x *= 2.0", "x[0] = np.sin(x[-1])", "x += 1.0", "x[::2] *= x[-1]"]), True)
    for _ in range(int(b.rng.integers(1, 3))):
        _fresh(b)
    for _ in range(int(b.rng.integers(2, 7))):
        for _attempt in range(12):
            if _view_step(b):
                break
    # prefer returning something that was written
    names = b.arrays()
    ret = names[-1] if names else "x"
    if b.chance(0.5):
        written = [n for n in names if any(s.startswith(n + "[") or s.startswith(n + " ")
                                           or s.startswith(n + ".") for s in b.stmts[-3:])]
        ret = b.pick(written) if written else ret
    if b.chance(0.25) and len(names) > 1:
        ret = f"np.concatenate([np.ravel({ret}), np.ravel({b.pick(names)})])"
    return ret


def _view_step(b: Builder) -> bool:
    targets = b.arrays(writable=True)
    t = b.recent(targets)
    v = b.env0[t]
    shape = v.shape
    r = b.rng.random()
    if r < 0.2:  # make a view (or a copy that looks like one)
        opts = [f"{t}[{_index(b, shape)}]"] if shape else []
        if v.ndim >= 1 and shape[0] > 2:
            opts += [f"{t}[1:][::2]", f"{t}[0:2][0:1]", f"{t}[::-1][1:]"]
        if v.ndim == 2:
            opts += [f"{t}.T", f"{t}[:, {int(b.rng.integers(shape[1]))}]", f"{t}[..., ::-1]",
                     f"np.transpose({t})", f"{t}.swapaxes(0, 1)",
                     f"{t}[{int(b.rng.integers(shape[0]))}]"]
        if v.ndim >= 1:
            opts += [f"{t}.reshape(-1)", f"{t}.ravel()", f"np.ravel({t})", f"{t}[None]",
                     f"{t}.view()", f"{t}.real", f"{t}.reshape({v.size}, 1)"]
        opts += [f"{t}.copy()", f"np.copy({t})", f"{t}.flatten()"] if v.ndim else []
        if not opts:
            return False
        return b.add_expr((b.pick(opts), True, [])) is not None
    if r < 0.45 and v.ndim:  # item / slice assignment
        idx = _index(b, shape)
        target = f"{t}[{idx}]"
        try:
            tshape = b.shape(target)
        except Exception:
            return False
        code, an, g = _rhs(b, tshape)
        op = b.pick(["=", "=", "+=", "-=", "*="])
        return b.add(f"{target} {op} {code}", an, g)
    if r < 0.55:  # whole-array in-place operator
        code, an, g = _rhs(b, b.pick([shape, ()]))
        op = b.pick(["+=", "-=", "*="])
        if op == "*=":
            code = f"(1.0 + 0.5 * np.sin({code}))"
        return b.add(f"{t} {op} {code}", an, g)
    if r < 0.65 and v.ndim:  # repeated fancy indices
        n = shape[0]
        i, j = int(b.rng.integers(n)), int(b.rng.integers(n))
        idx = b.pick([f"[{i}, {i}]", f"[{i}, {j}, {i}]", f"[{j}, {i}, {i}]"])
        k = idx.count(",") + 1
        tshape = (k,) + shape[1:]
        op = b.pick(["=", "=", "+=", "*="])
        if b.chance(0.3) and len(tshape) == 1:
            items = ", ".join(_rhs(b, ())[0] for _ in range(k))
            code, an, g = f"[{items}]", True, []
        else:
            code, an, g = _rhs(b, tshape)
        return b.add(f"{t}[{idx}] {op} {code}", an, g)
    if r < 0.72 and v.ndim:  # ravel / reshape / T writes (view when contiguous, else a copy)
        opts = [f"{t}.ravel()[{b.pick(['::2', '::4', '1:3', '0', '-1', '::3'])}]",
                f"{t}.reshape(-1)[{int(b.rng.integers(v.size))}]"]
        if v.ndim == 2:
            opts += [f"{t}.T[{int(b.rng.integers(shape[1]))}]", f"{t}.T[:, 0]",
                     f"{t}.ravel()[::{shape[1] + 1}]", f"{t}[:, {int(b.rng.integers(shape[1]))}]"]
        target = b.pick(opts)
        try:
            tshape = b.shape(target)
        except Exception:
            return False
        if b.chance(0.3):
            return b.add(f"{target} = 0.0", True)
        code, an, g = _rhs(b, tshape)
        return b.add(f"{target} {b.pick(['=', '+='])} {code}", an, g)
    if r < 0.78 and v.ndim and shape[0] > 1:  # the swap idiom
        i, j = (int(k) for k in b.rng.choice(shape[0], 2, replace=False))
        tmp = b.name("t")
        if b.chance(0.25):
            return b.add(f"{t}[[{i}, {j}]] = {t}[[{j}, {i}]]", True)
        return b.add(f"{tmp} = {t}[{i}]\n{t}[{i}] = {t}[{j}]\n{t}[{j}] = {tmp}", True)
    if r < 0.84 and v.ndim and shape[0] > 1:  # overlapping in-place shifts
        op = b.pick(["=", "-=", "+="])
        return b.add(b.pick([f"{t}[1:] {op} {t}[:-1]", f"{t}[:-1] {op} {t}[1:]"]), True)
    if r < 0.88 and v.ndim:  # accumulation loop
        s = b.name("s")
        body = b.pick([f"{s} += {t}[i] ** 2", f"{s} = {s} + np.sin({t}[i]) * {t}[i - 1]",
                       f"{s} *= 1.0 + 0.5 * np.tanh({t}[i])"])
        init = "1.0" if "*=" in body else "0.0"
        return b.add(f"{s} = {init}\nfor i in range({t}.shape[0]):\n    {body}", True)
    if r < 0.91:  # a constant mask / constant block written
        if not v.ndim:
            return False
        mask = b.rng.random(shape[0]) < 0.5
        code, an, g = _rhs(b, (int(mask.sum()),) + shape[1:])
        return b.add(f"{t}[np.array({mask.tolist()})] = {code}", an, g)
    if r < 0.94 and v.ndim:  # a plain constant used, then changed in place (the recording
        c = b.name("c")        # must keep the value it had when it was used)
        a = b.name()
        cshape = b.pick([shape, shape[-1:]])
        use = b.pick([f"{t} * {c}", f"np.sin({t}) * {c}", f"{t} / (2.0 + {c} ** 2)",
                      f"{c} - {t} ** 2"])
        change = b.pick([f"{c}[0] = 3.0", f"{c} *= -2.0", f"{c}[...] = 0.0",
                         f"{c}[::-1].sort()" if len(cshape) == 1 else f"{c}.fill(1.0)"])
        return b.add(f"{c} = {b.const_array(cshape)}\n{a} = {use}\n{change}\ndel {c}", True)
    # rarer NumPy entry points that write in place
    code, an, g = _rhs(b, shape)
    opts = [(f"{t}.fill({b.const()})", True, []), (f"{t}.fill({b.scalar()})", True, []),
            (f"np.copyto({t}, {code})", an, g)]
    if v.ndim == 2 and shape[0] == shape[1]:
        opts.append((f"np.fill_diagonal({t}, {b.scalar()})", True, []))
    if v.ndim:  # unbuffered ufunc.at: repeated indices accumulate
        n = shape[0]
        i, j = int(b.rng.integers(n)), int(b.rng.integers(n))
        rep = f"[{i}, {j}, {i}]"
        c3, an3, g3 = _rhs(b, (3,) + shape[1:])
        opts += [(f"np.add.at({t}, [{i}, {i}], {b.scalar()})", True, []),
                 (f"np.add.at({t}, {rep}, {c3})", an3, g3),
                 (f"np.subtract.at({t}, {rep}, {c3})", an3, g3),
                 (f"np.multiply.at({t}, {rep}, 1.0 + 0.5 * np.sin({c3}))", an3, g3),
                 (f"{t}.sort(axis=0)", False, [f"sort_gap({t}, axis=0)"])]
        if v.ndim == 1 and n > 2:
            c2, an2, g2 = _rhs(b, (2,))
            opts += [(f"{t}.put([{i}, -1, {i}], {c2})", an2, g2),  # values repeat
                     (f"{t}[1:].sort()", False, [f"sort_gap({t}[1:])"]),
                     (f"{t}[::2].partition(0)", False, [f"sort_gap({t}[::2])"])]
    code, an, g = b.pick(opts)
    return b.add(code, an, g)


# ------------------------------------------------------------------- class: nested

def gen_nested(b: Builder):
    """f calls dd.derivative / gradient / jacobian / jvp / vjp on inner functions of x,
    including item assignment of outer (perturbed) values into inner arrays."""
    n = b.x0.size
    outs = []
    for _ in range(int(b.rng.integers(1, 4))):
        for _attempt in range(10):
            r = b.rng.random()
            k = int(b.rng.integers(2, n + 1))
            zvec = b.pick([f"x[:{k}]", f"np.sin(x[-{k}:])", f"x[:{k}] ** 2 + {b.const()}",
                           f"x[::-1][:{k}] * 1.0"])
            mode = b.pick(["", ", mode='forward'", ", mode='reverse'"])
            if r >= 0.4 and r < 0.8 and b.chance(0.2):
                mode += ", chunk=1"

            def inner_expr(zname="z", shape=(k,)):
                xs = [f"x[{i}:{i + k}]" for i in range(n - k + 1)] if shape else []
                pool = [zname] + ([] if not shape else b.pick([[], xs]))

                def scal():
                    return b.pick([f"x[{int(b.rng.integers(n))}]"] +
                                  ([f"{zname}[{int(b.rng.integers(k))}]"] if shape else []))
                return smooth(b, pool, int(b.rng.integers(1, 3)), analytic_only=True,
                              scalars=scal)[0]
            name = b.name("d")
            if r < 0.2:
                code = (f"{name} = dd.derivative(lambda t: {inner_expr('t', ())} * "
                        f"{b.pick(['x', 'x[0]', 'np.cos(x)'])}, {b.scalar()})")
            elif r < 0.4:
                code = f"{name} = dd.gradient(lambda z: np.sum({inner_expr()}), {zvec}{mode})"
            elif r < 0.6:
                code = f"{name} = dd.jacobian(lambda z: {inner_expr()}, {zvec}{mode})"
            elif r < 0.8:
                i, j = int(b.rng.integers(k)), int(b.rng.integers(n))
                sl = b.pick([":", "1:", "::2"])
                fn = b.name("inner")
                body = b.pick([
                    f"    out[{i}] = x[{j}] * z[{(i + 1) % k}]\n"
                    f"    out[{sl}] += ({inner_expr()})[{sl}]\n",
                    f"    v = out[{sl}]\n"  # a view of the inner array, written through
                    f"    v *= x[{j}] + z[{sl}]\n"
                    f"    out[{i}] += {inner_expr()}[{(i + 1) % k}]\n",
                    f"    out[[{i}, {i}]] = [x[{j}] * z[0], np.sin(z[-1])]\n",
                    f"    out = out + np.linalg.solve({k}.0 * np.eye({k}) + 0.2 * "
                    f"np.outer(np.sin(x[:{k}] * 1.0), z), z)\n" if n >= k else
                    f"    out[{i}] = x[{j}] * z[{(i + 1) % k}]\n"])
                code = (f"def {fn}(z):\n"
                        f"    out = {b.pick(['np.zeros_like(z)', 'z * 1.0', 'np.cos(z)'])}\n"
                        f"{body}"
                        f"    return out\n"
                        f"{name} = dd.jacobian({fn}, {zvec}{mode})")
            elif r < 0.9:
                v = b.const_array((k,))
                code = (f"{name}y, {name} = dd.jvp(lambda z: {inner_expr()}, {zvec}, {v})\n"
                        f"{name} = {name} * {name}y")
            else:
                u = b.pick([b.const_array((k,)), f"x[:{k}]"])
                code = (f"{name}y, {name}pb = dd.vjp(lambda z: {inner_expr()}, {zvec})\n"
                        f"{name} = {name}pb({u}) + {name}y")
            if b.add(code, False):
                b.nested = True
                outs.append(name)
                break
    if not outs:
        return "x"
    post = []
    for o in outs:
        post.append(f"np.ravel({o})" if b.chance(0.5) else f"np.ravel({o} * x[0])")
    if b.chance(0.5):
        return f"np.concatenate([{', '.join(post)}])"
    last = outs[-1]
    mixed = b.add_expr((f"np.sin({last}) * {b.scalar()} + {last}", False, []))
    return mixed or last


# ------------------------------------------------------------------ class: complex

def _filter(b: Builder, m: int) -> str:
    """A constant complex transfer function of length m (a frequency-domain filter)."""
    return f"({b.const_array((m,))} + 1j * {b.const_array((m,))})"


def gen_complex(b: Builder):
    """Real input, complex intermediates (holomorphic maps, conj/real/imag/abs/angle,
    writes through z.real / z.imag, numpy.fft filters), real or complex output."""
    n = b.x0.size
    for _ in range(int(b.rng.integers(2, 6))):
        for _attempt in range(12):
            cpx = b.arrays("c")
            real = b.arrays("f")
            r = b.rng.random()
            if r < 0.25 or not cpx:  # make a complex array
                e = b.code(smooth(b, [b.recent(real)], 1))
                e2 = b.code(smooth(b, [b.recent(real)], 1))
                w = b.const_array((n,), 0.5, 3.0)
                opts = [f"np.exp(1j * {e})", f"{e} + 1j * {e2}", f"({e} + 1j) ** 2",
                        f"1.0 / (1j * {w} * {b.scalar()} + 1.5 + {b.scalar()} ** 2)",
                        f"np.exp(1j * {w} * {b.scalar()})",
                        f"({b.const_array((3, n))} + 1j * {b.const_array((3, n))}) @ {e}",
                        f"np.fft.fft({e})", f"np.fft.rfft({e})", f"{e} * (1.0 - 0.5j)",
                        f"np.fft.fft({e}, n={n + 2})", f"np.fft.rfft({e}, norm='ortho')",
                        f"np.fft.ifft({e}, norm='forward')", "np.ones_like(x) * (1.0 + 0.0j)"]
                if n % 2 == 0:
                    opts.append(f"np.fft.fft2({e}.reshape(2, {n // 2})).ravel()")
                name = b.add_expr((b.pick(opts), False, []))
            elif r < 0.5:  # complex -> complex
                c = b.recent(cpx)
                c2 = b.recent(cpx)
                same = b.env0[c].shape == b.env0[c2].shape
                opts = [f"{c} * {c2}" if same else f"{c} * {c}", f"np.exp(0.5 * {c})",
                        f"np.sin({c})", f"{c} ** 2", f"np.conj({c})", f"{c}.conj()",
                        f"{c} / (3.0 + {c})", f"{c} * {b.scalar()} + 1j * {b.scalar()}",
                        f"np.sqrt({c})", f"np.log({c})", f"np.cumsum({c})", f"{c}[::-1]",
                        f"np.outer({c}, np.conj({c}))" if b.env0[c].ndim == 1 else f"{c}.T"]
                if b.env0[c].ndim == 1:
                    m = b.env0[c].size
                    opts += [f"np.fft.ifft({c} * {b.const_array((m,))})",
                             f"np.fft.fft({c}) * {_filter(b, m)}",
                             f"np.fft.fftshift({c})", f"np.fft.ifftshift(np.fft.fft({c}))",
                             f"({b.const_array((m, m))} + 1j * {b.const_array((m, m))}) @ {c}"]
                pick = b.pick(opts)
                guards = []
                if "sqrt" in pick or "log" in pick:
                    guards = [f"branch_gap({c})"]
                if "3.0 +" in pick:
                    guards = [f"np.abs(3.0 + {c})"]
                if "np.log(" in pick:
                    guards.append(f"np.abs({c})")
                name = b.add_expr((pick, False, guards))
            elif r < 0.7:  # complex -> real
                c = b.recent(cpx)
                opts = [f"np.abs({c})", f"np.real({c})", f"np.imag({c})", f"{c}.real",
                        f"{c}.imag", f"np.angle({c})", f"np.abs({c}) ** 2",
                        f"np.real({c} * np.conj({c}))", f"np.hypot({c}.real, {c}.imag)"]
                if b.env0[c].ndim == 1:
                    m = b.env0[c].size
                    opts += [f"np.real(np.vdot({c}, {c}))", f"np.real(np.fft.ifft({c}))",
                             f"np.fft.irfft({c}, {2 * (m - 1)})",
                             f"np.fft.hfft({c})" if m > 1 else f"np.real({c})",
                             f"np.abs(np.sum({c} * {b.const_array((m,))}))"]
                pick = b.pick(opts)
                # abs(z) ** 2 too: dualdiff documents nan second derivatives of abs at a
                # complex zero (the cone's curvature), so Hessian checks need |z| > 0
                guards = [f"np.abs({c})"] if "abs(" in pick else []
                if "angle" in pick:
                    guards = [f"branch_gap({c})"]
                if "hypot" in pick:
                    guards = [f"np.abs({c})"]
                name = b.add_expr((pick, False, guards))
            elif r < 0.85:  # a real-to-real FFT filter
                a = b.recent([k for k in real if b.env0[k].ndim == 1] or ["x"])
                m = b.env0[a].size
                e = b.code(smooth(b, [a], 1))
                opts = [f"np.real(np.fft.ifft(np.fft.fft({e}) * {_filter(b, m)}))",
                        f"np.fft.irfft(np.fft.rfft({e}) * {_filter(b, m // 2 + 1)}, {m})",
                        f"np.abs(np.fft.rfft({e})) ** 2",
                        f"np.fft.irfft(np.fft.rfft({e}, norm='ortho') ** 2, {m}, norm='ortho')"]
                pick = b.pick(opts)
                guards = [f"np.abs(np.fft.rfft({e}))"] if "abs(" in pick else []
                name = b.add_expr((pick, False, guards))
            else:  # writes into complex arrays
                c = b.recent(cpx)
                if not b.env0[c].ndim:
                    continue
                k = b.env0[c].shape[0]
                i, j = int(b.rng.integers(k)), int(b.rng.integers(k))
                opts = [f"{c}[{i}] = {b.scalar()} ** 2", f"{c}[{i}] *= 1j",
                        f"{c}.real[{i}] = {b.scalar()}", f"{c}.imag[:] = 0.0",
                        f"{c}[{i}] = {c}[{i}] + 1j * {b.scalar()}",
                        f"{c}.imag[[{i}, {j}, {i}]] = [{b.scalar()}, 0.5, {b.scalar()} ** 2]",
                        f"{c}[::2].real *= {b.scalar()}", f"{c}.real += {c}.imag",
                        f"np.add.at({c}, [{i}, {i}], 1j * {b.scalar()})"]
                name = b.add(b.pick(opts), False) or None
            if name:
                break
    real = [k for k in b.arrays("f") if k != "x"]
    cpx = b.arrays("c")
    if cpx and (not real or b.chance(0.4)):
        return cpx[-1]
    return real[-1] if real else "x"


# ------------------------------------------------------------------- class: select

def gen_select(b: Builder):
    """Value-dependent selections without Python if: argmax, masks, where, sort, interp,
    searchsorted, max/median, clip; x1 is a permutation of x0, so the choices differ there."""
    for _ in range(int(b.rng.integers(2, 5))):
        for _attempt in range(12):
            r = b.rng.random()
            ones = [a for a in b.arrays(ndim=1) if b.env0[a].size >= 2]
            a = b.recent(ones)
            m = b.env0[a].size
            e = b.code(smooth(b, [a], 1))
            if r < 0.15:
                fn = b.pick(["np.argmax", "np.argmin"])
                sign = "" if fn == "np.argmax" else "-"
                i = b.name("i")
                tgt = b.recent(ones)
                ok = b.add(f"{i} = {fn}({e})", False, [f"top_gap({sign}{e})"])
                if ok and b.env0[tgt].size == m:
                    name = b.add_expr(b.pick([(f"{tgt} * {tgt}[{i}]", True, []),
                                              (f"np.sin({tgt}[{i}]) + {tgt}", True, [])]))
                    if name is None:
                        o = b.name("o")
                        name = b.add(f"{o} = np.zeros_like({tgt})\n{o}[{i}] = np.sum({tgt} ** 2)")
                else:
                    name = None
            elif r < 0.3:
                c = b.const(-1.0, 1.0)
                opts = [(f"{a}[{a} > {c}]", [f"{a} - {c}"]),
                        (f"np.sum({e}[{a} > {c}] ** 2)", [f"{a} - {c}"]),
                        (f"{e} * ({a} > {c})", [f"{a} - {c}"]),
                        (f"np.count_nonzero({a} > {c}) * {a}", [f"{a} - {c}"])]
                code, g = b.pick(opts)
                name = b.add_expr((code, False, g))
            elif r < 0.42:
                c = b.const(-1.0, 1.0)
                e2 = b.code(smooth(b, [a], 1))
                name = b.add_expr((f"np.where({e} > {c}, {e2}, {a} ** 2)", False, [f"{e} - {c}"]))
            elif r < 0.58:
                opts = [(f"np.sort({e})", [f"sort_gap({e})"]),
                        (f"-np.sort(-{e})", [f"sort_gap({e})"]),
                        (f"{a}[np.argsort({e})]", [f"sort_gap({e})"]),
                        (f"np.median({e})", [f"sort_gap({e})"]),
                        (f"np.max({e})", [f"top_gap({e})"]), (f"np.min({e})", [f"top_gap(-{e})"]),
                        (f"np.ptp({e})", [f"top_gap({e})", f"top_gap(-{e})"]),
                        (f"np.percentile({e}, 30.0)", [f"sort_gap({e})"])]
                code, g = b.pick(opts)
                if b.chance(0.3):
                    s = b.name("s")
                    name = b.add(f"{s} = {e}\n{s}.sort()", False, [f"sort_gap({e})"])
                else:
                    name = b.add_expr((code, False, g))
            elif r < 0.75:
                knots = f"np.cumsum(0.3 + {e} ** 2)"
                vals = b.code(smooth(b, [a], 1))
                q = b.pick([b.const_array((3,), -1.0, 3.0), f"{b.scalar()} + 1.0",
                            f"np.linspace(-0.5, 3.0, 4) + {b.scalar()}"])
                name = b.add_expr((f"np.interp({q}, {knots}, {vals})", False,
                                   [f"knot_gap({q}, {knots})"]))
            elif r < 0.85:
                knots = f"np.cumsum(0.3 + {e} ** 2)"
                q = b.pick([f"{b.scalar()} + 1.0", b.const(0.0, 3.0)])
                k = b.name("k")
                tgt = b.recent(ones)
                mt = b.env0[tgt].size
                name = b.add(f"{k} = np.minimum(np.searchsorted({knots}, {q}), {mt - 1})\n"
                             f"{b.name()} = {tgt}[{k}] * {b.scalar()}", False,
                             [f"knot_gap({q}, {knots})"])
            else:
                c = b.const(-1.0, 1.0)
                opts = [(f"np.abs({e})", [e]), (f"np.clip({e}, -0.5, 0.5)", [f"np.abs({e}) - 0.5"]),
                        (f"np.maximum({e}, {c})", [f"{e} - {c}"]),
                        (f"np.fmin({e}, {a})", [f"{e} - {a}"]),
                        (f"np.sign({e}) * {a}", [e]), (f"np.floor(2.0 * {e}) + {a}",
                                                       [f"2.0 * {e} - np.round(2.0 * {e})"])]
                code, g = b.pick(opts)
                if b.chance(0.3):
                    y = b.name("y")
                    name = b.add(f"{y} = {a}.copy()\n{y}[{y} < {c}] = {b.scalar()}", False,
                                 [f"{a} - {c}"])
                else:
                    name = b.add_expr((code, False, g))
            if name:
                break
    return _default_return(b)


# ------------------------------------------------------------------------ registry

CLASSES: dict = {
    "straight": (gen_straight, [(2,), (3,), (4,), (5,), (6,), (2, 3)]),
    "reduce": (gen_reduce, [(4,), (6,), (9,), (2, 3), (3, 3)]),
    "views": (gen_views, [(3,), (4,), (5,), (6,), (2, 3), (3, 3)]),
    "nested": (gen_nested, [(3,), (4,)]),
    "complex": (gen_complex, [(3,), (4,), (5,), (6,)]),
    "select": (gen_select, [(4,), (5,), (6,), (7,)]),
}


def _class_id(cls: str) -> int:
    return list(CLASSES).index(cls)


def _valid_output(y) -> bool:
    try:
        a = np.asarray(y)
    except Exception:
        return False
    return a.dtype.kind in "fc" and 0 < a.size <= 200 and bool(np.all(np.isfinite(a))) and \
        float(np.max(np.abs(a))) < BOUND


def complex_step_works(prog: Program) -> bool:
    """True when f runs on complex input in plain NumPy with no warning, returns a real
    dtype on real input, and agrees with itself on the real part (a holomorphic extension
    is then at least plausible; :mod:`fuzz_checks` also checks it against differences).

    >>> p = Program("straight", 0, 0, (), "np.sin(x)", np.zeros(2), np.ones(2))
    >>> complex_step_works(p)
    True
    """
    try:
        f = prog.function(REF_DD)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = np.asarray(f(prog.x0.copy()))
            if y.dtype.kind != "f":
                return False
            yc = np.asarray(f(prog.x0 + 1e-30j * np.ones_like(prog.x0)))
        return yc.shape == y.shape and bool(np.allclose(yc.real, y, rtol=1e-13, atol=1e-13))
    except Exception:
        return False


def make_program(cls: str, index: int, seed: int = 0) -> Program:
    """Program ``index`` of class ``cls`` for ``seed``: deterministic, independent of
    which other programs are generated (its own ``default_rng((seed, class, index))``).

    >>> make_program("views", 3).source() == make_program("views", 3).source()
    True
    """
    gen, shapes = CLASSES[cls]
    for attempt in range(50):
        rng = np.random.default_rng((seed, _class_id(cls), index, attempt))
        shape = shapes[int(rng.integers(len(shapes)))]
        x0, x1 = _points(rng, shape)
        b = Builder(rng, x0, x1)
        try:
            ret = gen(b)
        except Exception:  # a generator bug must not stop a run: try the next attempt
            continue
        prog = Program(cls, index, seed, tuple(b.stmts), ret, x0, x1, False, b.nested)
        if not valid(prog):
            continue
        if b.analytic and not b.nested:
            prog = replace(prog, analytic=complex_step_works(prog))
        return prog
    raise RuntimeError(f"no valid {cls} program for index {index}, seed {seed}")


def valid(prog: Program) -> bool:
    """f runs cleanly at x0 and x1 in plain NumPy, returns finite real or complex values
    of the same shape at both, and does not return x itself (aliasing the caller's input).

    >>> valid(Program("straight", 0, 0, (), "x ** 2", np.zeros(2), np.ones(2)))
    True
    """
    try:
        f = prog.function(REF_DD)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ys = []
            for x in (prog.x0, prog.x1):
                xc = x.copy()
                y = f(xc)
                if not _valid_output(y):
                    return False
                ys.append(np.asarray(y))
        return ys[0].shape == ys[1].shape and ys[0].dtype == ys[1].dtype
    except Exception:
        return False
