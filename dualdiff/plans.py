"""Prepared plans: record f once, then replay only NumPy kernels at every new x.

A call of an unprepared driver does the Python work of f again at each x: every
operation dispatches through NumPy's protocols, builds carriers and looks up
its rule.  A plan records f once on the reverse tape (:mod:`dualdiff.reverse`,
with guards) and compiles the recording into straight-line Python source: the
value of every node, the local partials, and the backward (or forward) sweep,
each node replayed with the very call the unprepared driver makes, with its
constants, shapes, index maps and rule functions bound at compile time.  A
later call ``plan(x, *args)`` runs that source: no carriers, no dispatch, no
rule look-ups.

* :class:`GradientPlan` ``plan(x, *args)``: the gradient by one backward sweep,
  bit for bit ``dd.gradient(f, x, mode="reverse")``.
* :class:`DenseJacobianPlan`: the Jacobian by backward sweeps (``m < n``) or
  forward sweeps over the program, with the chunks of the unprepared driver:
  bit for bit ``dd.jacobian(f, x, mode="reverse")``, resp. the forward sweeps
  of ``mode="forward"``.
* :class:`HessianPlan` and :class:`HvpPlan` (``plan(x, v, *args)``): the
  gradient of f is itself recorded as a program (reverse mode over the reverse
  tape: every operation of the backward sweep becomes a node), and the Hessian
  is the forward sweep of n basis tangents (``hvp``: of v) through it, which is
  forward-over-reverse without carriers — bit for bit
  ``dd.hessian(f, x, method="forward-over-reverse")`` and ``dd.hvp(...)``.

**Never stale.**  The recording keeps every discrete result computed from x
(comparisons, arg-reductions, sort orders, mask sizes, Python branches, values
frozen by a composite) as a :class:`~dualdiff.tape.Guard`; the replay
recomputes each one as soon as its inputs are known and compares.  When one
differs (or x's shape or dtype, or an arg's type, shape, dtype or, for an arg
that is not a float array, its value differs; or a replayed kernel raises) the
plan records f again at this x, transparently, and counts it in
``plan.rerecords``.

**Args** (SciPy's convention, ``plan(x, *args)`` calls ``f(x, *args)``).  Float
arrays and float scalars enter the program as inputs (leaves that are not
differentiated): new values replay without recording; discrete results computed
from them are guarded like x's.  Every other arg (ints, strings, integer arrays,
objects) is a constant of the recording: arrays and numbers are compared by
value at every call, other objects by identity (do not mutate them between
calls).  If f cannot take an arg as a recorded input (``float(t)``,
``math.exp(t)``, an arg used as an index), the plan records with all args as
constants instead (``plan.args_as_inputs`` is then False).  Called without
args, a plan uses the ones it was made with.

**Scalar code** (Python loops over ``x[i]``) records thousands of scalar nodes.
The compiler groups nodes of one kind at the same depth of the graph (their
inputs all known) and replays each group as one gather, one ufunc call and one
scatter where that gives the same bits: for the correctly rounded kernels
(``+ - * /``, negation, sqrt, absolute value), whose array and scalar paths
round alike; every other function keeps one call per node.

**Memory.**  A plan holds its program: the recording's constants (snapshots of
constant operands), index maps of element moves, the guards' recorded results
and the generated code; no values of the recording (``plan.nbytes`` counts
the arrays).  Values of a replay live in the call's own frame and are freed
when it returns; nothing is reused across calls, so a plan is thread-safe: a
call's state is its own, a re-recording swaps the program atomically, and the
counters are updated under a lock.

>>> import numpy as np
>>> plan = GradientPlan(lambda x: np.sum(x ** 3), np.ones(3))
>>> plan(np.array([1.0, 2.0, 3.0])).tolist(), plan.rerecords
([3.0, 12.0, 27.0], 0)
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from . import rules
from .arrays import expand, loud, quiet, zeros
from .core import Carrier, all_zero, index_map, kink_sign
from .modes import check_scalar, choose, reverse_rows
from .pytrees import call_f
from .reverse import Recording, at_input
from .seeding import as_input, basis_seeds, default_chunk
from .sparse_hessian import SparseHessianPlan
from .tape import (
    Elementwise,
    Guard,
    Leaf,
    Linear,
    Node,
    Primitive,
    Slot,
    Transpose,
    Write,
    accumulate,
    postorder,
)

Function = Callable[..., Any]

#: kernels whose array and scalar paths round alike (IEEE correctly rounded), so one
#: call on a gathered batch gives the same bits as one call per element
BATCHABLE = {np.add, np.subtract, np.multiply, np.divide, np.true_divide, np.negative,
             np.positive, np.sqrt, np.absolute, np.fabs, np.square}


class Stale(Exception):
    """A replay's guard failed: x takes another path than the recording."""


# -- the program -------------------------------------------------------------------------

def _generic_values(nodes, leaves, inputs) -> dict:
    """Every node's value by the nodes' own ``value`` methods (the compile-time replay)."""
    vals = dict(zip(map(id, leaves), inputs))
    for n in nodes:
        if id(n) in vals:
            continue
        ins = [vals[id(a)] if isinstance(a, Node) else a for a in n.inputs]
        v = n.value(ins)
        if isinstance(n, Guard) and not same(v, n.result):
            raise Stale(f"guard {getattr(n.fn, '__name__', n.fn)} differs")
        vals[id(n)] = v
    return vals


def same(a, b) -> bool:
    """Whether a replayed discrete result equals the recorded one (NaNs equal).

    >>> same(np.array([True, False]), np.array([True, False])), same(1.0, 2.0)
    (True, False)
    """
    if type(a) is np.ndarray or type(b) is np.ndarray:
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.tobytes() == b.tobytes():
            return True
        return bool(a.dtype.kind in "fc" and np.array_equal(a, b, equal_nan=True))
    if type(a) is not type(b):
        return False
    try:
        eq = a == b
        if isinstance(eq, (bool, np.bool_)):
            return bool(eq) or bool(a != a and b != b)
    except Exception:  # noqa: BLE001 - an exotic result: compare by identity
        pass
    return a is b


def _nbytes(obj, seen) -> int:
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(o, seen) for o in obj)
    return 0


def _static_sum_to(tshape: tuple, shape: tuple):
    """What :func:`~dualdiff.arrays.sum_to` does to a (k,) + tshape array for ``shape``:
    (axes summed with keepdims or None, "reshape" / "broadcast" / None)."""
    lead, shape = 1, tuple(shape)
    ushape = (1,) + tuple(tshape)
    extra = len(ushape) - lead - len(shape)
    axes = tuple(range(lead, lead + extra)) + tuple(
        lead + extra + i for i, s in enumerate(shape)
        if s == 1 and ushape[lead + extra + i] != 1)
    after = list(ushape)
    for a in axes:
        after[a] = 1
    after = tuple(after)
    final = None
    if after[lead:] != shape or extra:
        final = "reshape" if after[lead + extra:] == shape else "broadcast"
    return (axes or None), final


class _Source:
    """Lines of generated Python and the constants they name."""

    def __init__(self, env: dict):
        self.lines: list = []
        self.env = env
        self._ids: dict = {}

    def const(self, obj, hint: str = "c") -> str:
        key = id(obj)
        if key in self._ids:
            return self._ids[key]
        name = f"{hint}_{len(self.env)}"  # never a local (c{i}, r{i}, c{i}_{j} ...)
        self.env[name] = obj
        self._ids[key] = name
        return name

    def emit(self, line: str, depth: int = 1) -> None:
        self.lines.append("    " * depth + line)


#: largest (output x input) size probed for a pure-move adjoint at compile time
PROBE_LIMIT = 2**20


def _moves(adjoint, out_shape, in_shape, dtype):
    """Where a linear adjoint (k, *out_shape) -> (k, *in_shape) takes each input
    element from when it only moves elements (every column of its matrix one unit
    vector, as the adjoint of a sum, which broadcasts): an index array; else None.
    Probed at compile time with the basis and with values that arithmetic would change
    (-0.0, inf, nan), so the gather that replaces it gives the same bits."""
    m, n = math.prod(out_shape), math.prod(in_shape)
    if np.dtype(dtype).kind != "f" or m * n > PROBE_LIMIT or m == 0 or n == 0:
        return None
    token = quiet()
    try:
        basis = np.reshape(np.eye(m), (m,) + tuple(out_shape))
        mat = np.reshape(np.asarray(adjoint(basis)), (m, n))
        if mat.dtype.kind != "f" or not np.all((mat == 0) | (mat == 1)) or \
                not np.all(mat.sum(axis=0) == 1):
            return None
        idx = np.argmax(mat, axis=0)
        probe = np.random.default_rng(0).standard_normal((2, m))
        probe.reshape(-1)[:4] = [-0.0, np.inf, np.nan, -np.inf][:min(4, 2 * m)]
        want = np.reshape(np.asarray(adjoint(np.reshape(probe, (2,) + tuple(out_shape)))),
                          (2, n))
        got = probe[:, idx]
        if want.dtype != got.dtype or want.tobytes() != got.tobytes():
            return None
        return idx
    except Exception:  # noqa: BLE001 - an adjoint that wants other input: keep it
        return None
    finally:
        loud(token)


def _fin(d) -> bool:
    """Whether ``d`` is finite, exactly as :func:`~dualdiff.core.nan_safe_product` asks."""
    if type(d) is np.float64 or type(d) is float:
        return d - d == 0.0
    return isinstance(d, (int, np.integer)) or bool(np.isfinite(d).all())


def _term(f, u, fin):
    """Elementwise.vjp's term for a partial f computed at replay (``fin``: u finite)."""
    if type(f) is float and f == 1.0:
        return u
    out = f * u
    return out if fin else np.where(all_zero(f), 0.0, out)


def _tangent_term(t, f):
    """Elementwise.jvp's term ``nan_safe_product(t, f)`` (1.0 passes t)."""
    if type(f) is float and f == 1.0:
        return t
    out = t * f
    return out if _fin(f) else np.where(all_zero(t), 0.0, out)


_ENV = {"np": np, "_F64": np.float64, "_quiet": quiet, "_loud": loud, "_Stale": Stale,
        "_same": same, "_kink": kink_sign, "_term": _term, "_tterm": _tangent_term,
        "_add": accumulate, "_isfinite": np.isfinite, "_where": np.where, "_az": all_zero,
        "_reshape": np.reshape, "_sumr": np.add.reduce, "_bto": np.broadcast_to,
        "_zeros": np.zeros, "_rzeros": zeros, "_rt": np.result_type, "_expand": expand,
        "_take": np.take, "_fin": _fin}
_SCALAR_OPS = {np.add: "+", np.subtract: "-", np.multiply: "*", np.divide: "/",
               np.true_divide: "/"}
_NUMBERS = (np.float64, np.int64, float, int)


class Program:
    """A recording compiled for replay.

    ``prepare(x, *inputs)`` returns ``(value, state)`` (values, guards, local
    partials; raises :class:`Stale` when a guard differs); ``backward(state, u)``
    returns ``u @ J`` at x as Recording.sweep does; ``forward(state, t)`` returns
    ``J @ t`` as Recording.push does.
    """

    def __init__(self, rec: Recording, x, inputs: tuple, sweeps=("backward", "forward")):
        self.x_shape, self.x_dtype = rec.x_shape, rec.x_dtype
        self.y_shape, self.value = rec.y_shape, rec.value
        self.guards = len(rec.guards)
        out, leaf = rec.out, rec.leaf
        leaves = [leaf] + list(rec.input_leaves)
        roots = leaves + ([out] if out is not None else []) + list(rec.guards)
        nodes = postorder(roots, natural=True)
        self.nodes = len(nodes)
        live = {id(leaf)}
        for n in nodes:
            if any(id(p) in live for p in n.parents):
                live.add(id(n))
        self._live = live
        sweep = [n for n in rec.order if id(n) in live]
        self.max_size = rec.max_size
        vals = _generic_values(nodes, leaves, (x,) + tuple(inputs))
        self._index = {id(n): i for i, n in enumerate(nodes)}
        self._ptype = self._partial_types(nodes, vals)
        env = dict(_ENV)
        src = _Source(env)
        batched = None
        if "forward" not in sweeps and out is not None:
            batched = _Batched.plan(self, nodes, sweep, vals, leaf, out)
        self.batched = batched is not None
        if batched is not None:
            prepare, backward = batched.emit(src, nodes, leaves)
            forward = ["    raise NotImplementedError"]
            outv = batched.ref(out)
        else:
            self._emit_prepare(src, nodes, leaves, vals)
            prepare = src.lines
            src.lines = []
            backward = forward = ["    raise NotImplementedError"]
            if "backward" in sweeps:
                self._emit_backward(src, sweep, out, leaf, vals)
                backward = src.lines
                src.lines = []
            if "forward" in sweeps:
                self._emit_forward(src, sweep, out, leaf, vals)
                forward = src.lines
            outv = f"v{self._index[id(out)]}" if out is not None else src.const(self.value)
        # the state a sweep needs: the partials and the values it reads
        used = set(re.findall(r"\b(?:v\d+|p\d+_\d+|V|P)\b", "\n".join(backward + forward)))
        state = sorted(used, key=lambda s: (s[0], [int(t) for t in re.findall(r"\d+", s)]))
        prepare.append(f"    return {outv}, ({', '.join(state)}{',' if state else ''})")
        names = ", ".join(f"I{j}" for j in range(len(leaves) - 1))
        code = "\n".join(
            [f"def prepare(x{', ' if names else ''}{names}):"] + prepare +
            ["def backward(S, U):", "    " + (", ".join(state) + ", = S" if state else "pass")]
            + backward +
            ["def forward(S, T):", "    " + (", ".join(state) + ", = S" if state else "pass")]
            + forward)
        self.source = code
        exec(compile(code, f"<dualdiff plan of {len(nodes)} nodes>", "exec"), env)
        self.prepare, self._backward, self._forward = (
            env["prepare"], env["backward"], env["forward"])
        self.nbytes = _nbytes([v for k, v in env.items() if k not in _ENV], set()) + \
            sum(_nbytes(g.result, set()) for g in rec.guards)

    # -- code generation ---------------------------------------------------------------
    def _v(self, src, a) -> str:
        """The expression of an input: a node's value variable or a bound constant."""
        if isinstance(a, Node):
            return f"v{self._index[id(a)]}"
        return src.const(a)

    def _emit_value(self, src, n, target, args, vals) -> None:
        """The line computing node n's value into ``target`` from the input expressions
        ``args`` (a guard: the check that raises Stale when its result differs)."""
        if isinstance(n, Elementwise):
            src.emit(f"{target} = {self._evaluate(src, n, args, vals)}")
        elif isinstance(n, Linear):
            src.emit(f"{target} = {src.const(n.op, 'op')}({', '.join(args)})")
        elif isinstance(n, Primitive):
            src.emit(f"{target} = {src.const(n.prim.fn, 'fn')}({', '.join(args)})")
        elif isinstance(n, Slot):
            src.emit(f"{target} = {args[0]}[{n.index}]")
        elif isinstance(n, Write):
            src.emit(f"{target} = {src.const(n.value, 'write')}(({args[0]}, {args[1]}))")
        elif isinstance(n, Guard):
            kw = "".join(f", {k}={src.const(v)}" for k, v in n.kwargs.items())
            src.emit(f"if not _same({src.const(n.fn, 'g')}({', '.join(args)}{kw}), "
                     f"{src.const(n.result, 'r')}):")
            src.emit("raise _Stale", 2)
        else:  # pragma: no cover - a node type this compiler does not know
            raise TypeError(f"dualdiff plans cannot replay a {type(n).__name__} node")

    def _emit_prepare(self, src, nodes, leaves, vals) -> None:
        """Values and guards in program order, then the local partials (quietly)."""
        locals_: list = []
        for j, leaf in enumerate(leaves):
            src.emit(f"v{self._index[id(leaf)]} = {'x' if j == 0 else f'I{j - 1}'}")
        for n in nodes:
            i = self._index[id(n)]
            if isinstance(n, Leaf):
                continue
            args = [self._v(src, a) for a in n.inputs]
            self._emit_value(src, n, f"v{i}", args, vals)
            if isinstance(n, Elementwise) and id(n) in self._live:
                locals_.append((n, args))
        locals_ = [(n, args) for n, args in locals_
                   if any(callable(e) or e is rules.KINK for _, e in self._partials(n))]
        if locals_:
            src.emit("t_ = _quiet()")
            src.emit("try:")
            for n, args in locals_:
                i = self._index[id(n)]
                for j, e in self._partials(n):
                    if callable(e):
                        name = f"p{i}_{j}"
                        ev = src.const(e, "rule")
                        call = f"{ev}({args[0]}, v{i})" if n.ufunc in rules.UNARY else \
                            f"{ev}({args[0]}, {args[1]}, v{i})"
                        src.emit(f"{name} = {call}", 2)
                    elif e is rules.KINK:
                        src.emit(f"p{i}_{j} = _kink({args[0]})", 2)
            src.emit("finally:")
            src.emit("_loud(t_)", 2)

    def _evaluate(self, src, n, args, vals) -> str:
        """``evaluate(ufunc, values)`` as the recording ran it (NumPy scalar arithmetic
        for + - * / on float64 scalars, else the ufunc)."""
        ins = [vals[id(a)] if isinstance(a, Node) else a for a in n.inputs]
        op = _SCALAR_OPS.get(n.ufunc)
        if op is not None and len(ins) == 2:
            a, b = ins
            if (type(a) is np.float64 and type(b) in _NUMBERS) or (
                    type(b) is np.float64 and type(a) in _NUMBERS):
                first = args[0] if type(a) is np.float64 else f"_F64({args[0]})"
                return f"{first} {op} {args[1]}"
        return f"{src.const(n.ufunc, 'uf')}({', '.join(args)})"

    def _partials(self, n):
        """(input position, rule entry) for the live inputs whose partial is not a
        structural zero: a callable, KINK or a number."""
        if n.ufunc in rules.PIECEWISE_CONSTANT:
            return []
        row = rules.UNARY.get(n.ufunc)
        entries = (row[0],) if row is not None else rules.BINARY[n.ufunc][0]
        out = []
        for j, (a, e) in enumerate(zip(n.inputs, entries)):
            if not (isinstance(a, Node) and id(a) in self._live):
                continue
            if e is rules.NONDIFF:  # pragma: no cover - refused at recording already
                raise TypeError(f"{n.ufunc.__name__}: no derivative")
            if e is rules.KINK or callable(e):
                out.append((j, e))
            elif e != 0:
                out.append((j, float(e)))
        return out

    def _at_input(self, a, k):
        """:func:`~dualdiff.reverse.at_input` (a copy of the adjoint at x), with a fast
        path for the common exact-shape real array."""
        if (type(a) is np.ndarray and a.dtype == self.x_dtype and a.dtype.kind == "f"
                and a.shape[1:] == self.x_shape and a.shape[0] == k):
            return a.copy()
        return at_input(a, k, self.x_shape, self.x_dtype)

    def _partial_types(self, nodes, vals) -> dict:
        """{(node index, input): type} of every computed partial at the recording's x (a
        partial's type follows from its inputs' types, so it is the same at every x)."""
        types = {}
        token = quiet()
        try:
            for n in nodes:
                if not (isinstance(n, Elementwise) and id(n) in self._live):
                    continue
                ins = [vals[id(a)] if isinstance(a, Node) else a for a in n.inputs]
                z = vals[id(n)]
                for j, e in self._partials(n):
                    if e is rules.KINK:
                        v = kink_sign(ins[0])
                    elif callable(e):
                        v = e(ins[0], z) if n.ufunc in rules.UNARY else e(ins[0], ins[1], z)
                    else:
                        v = e
                    types[(self._index[id(n)], j)] = type(v)
        finally:
            loud(token)
        return types

    def _emit_backward(self, src, sweep, out, leaf, vals) -> None:
        """Mirror of :func:`dualdiff.tape.backward` over the live nodes."""
        if out is None:
            src.emit("return at_(None, U.shape[0])")
            src.env["at_"] = self._at_input
            return
        src.env["at_"] = self._at_input
        have: dict = {id(out): "yes"}  # adjoint variable: "yes", or "maybe" (may be None)
        src.emit(f"A{self._index[id(out)]} = U")
        for node in sweep:
            i = self._index[id(node)]
            status = have.pop(id(node), None)
            if status is None:
                continue
            a = f"A{i}"
            depth = 1
            if status == "maybe":
                src.emit(f"if {a} is not None:")
                depth = 2
            if node is leaf:
                src.emit(f"return at_({a}, U.shape[0])", depth)
                if depth == 2:
                    src.emit("return at_(None, U.shape[0])")
                return
            contributions = self._vjp(src, node, a, vals, depth)
            for _, p, c, dynamic in contributions:
                if c is None:
                    continue
                pa = f"A{self._index[id(p)]}"
                prev = have.get(id(p))
                certain = depth == 1 and not dynamic  # c is an array, always reached
                if certain and prev is None:
                    src.emit(f"{pa} = {c}", depth)
                elif certain and prev == "yes":
                    src.emit(f"{pa} = {pa} + {c}", depth)
                else:
                    if prev is None:
                        self._declare(src, pa)
                    src.emit(f"{pa} = _add({pa}, {c})", depth)
                have[id(p)] = "yes" if certain or prev == "yes" else "maybe"
        src.emit("return at_(None, U.shape[0])")

    def _declare(self, src, name) -> None:
        """A variable set to None at the top of the function being emitted."""
        src.lines.insert(0, f"    {name} = None")

    def _vjp(self, src, node, a, vals, depth) -> list:
        """Emit one node's vjp; [(input position, parent, contribution or None, dynamic)]."""
        i = self._index[id(node)]
        live = [isinstance(p, Node) and id(p) in self._live for p in node.inputs]
        if isinstance(node, Elementwise):
            partials = dict(self._partials(node))
            fin = None
            result = []
            for j, inp in enumerate(node.inputs):
                if not live[j]:
                    continue
                e = partials.get(j)
                if e is None:
                    result.append((j, inp, None, False))
                    continue
                if type(e) is float and e == 1.0:
                    term = a
                elif type(e) is float:
                    term = f"t{i}_{j}"
                    src.emit(f"{term} = {e!r} * {a}", depth)
                else:
                    if fin is None:
                        fin = f"fin{i}"
                        src.emit(f"{fin} = _isfinite({a}).all()", depth)
                    term = f"t{i}_{j}"
                    if self._ptype[(i, j)] is float:  # may be the float 1.0: as _term
                        src.emit(f"{term} = _term(p{i}_{j}, {a}, {fin})", depth)
                    else:  # nan_safe_product(f, u), u's finiteness known
                        src.emit(f"{term} = p{i}_{j} * {a}", depth)
                        src.emit(f"if not {fin}:", depth)
                        src.emit(f"{term} = _where(_az(p{i}_{j}), 0.0, {term})", depth + 1)
                axes, final = _static_sum_to(node.shape, inp.shape)
                c = term
                if axes is not None:
                    c = f"c{i}_{j}"
                    src.emit(f"{c} = _sumr({term}, {axes!r}, None, None, True)", depth)
                if final is not None:
                    shape = f"({c}.shape[0],) + {tuple(inp.shape)!r}"
                    src.emit(f"c{i}_{j} = {c}.reshape({shape})" if final == "reshape" else
                             f"c{i}_{j} = _bto({c}, {shape})", depth)
                    c = f"c{i}_{j}"
                result.append((j, inp, c, False))
            return result
        if isinstance(node, Linear):
            if node.adjoint is not None:
                (inp,) = node.inputs
                moves = _moves(node.adjoint, node.shape, inp.shape, node.dtype)
                if moves is not None:  # a pure move (sum's broadcast): a gather
                    src.emit(f"c{i} = _take({a}.reshape(({a}.shape[0], -1)), "
                             f"{src.const(moves, 'ix')}, axis=1).reshape(({a}.shape[0],) + "
                             f"{tuple(inp.shape)!r})", depth)
                    return [(0, inp, f"c{i}", False)]
                adj = src.const(node.adjoint, "adj")
                src.emit(f"c{i} = _reshape({adj}({a}), ({a}.shape[0],) + "
                         f"{tuple(inp.shape)!r})", depth)
                return [(0, inp, f"c{i}", False)]
            shapes = [a_.shape if isinstance(a_, Node) else np.shape(a_) for a_ in node.inputs]
            total = sum(math.prod(s) for s in shapes)
            t = Transpose(index_map(node.op, shapes), total)
            src.emit(f"u{i} = {a}.reshape(({a}.shape[0], -1))", depth)
            flat = self._transpose(src, t, f"u{i}", i, depth)
            result, start = [], 0
            for j, (inp, s) in enumerate(zip(node.inputs, shapes)):
                size = math.prod(s)
                if live[j]:
                    if len(node.inputs) == 1:
                        src.emit(f"c{i}_{j} = {flat}.reshape(({a}.shape[0],) + {tuple(s)!r})",
                                 depth)
                    else:
                        src.emit(f"c{i}_{j} = {flat}[:, {start}:{start + size}].reshape("
                                 f"({a}.shape[0],) + {tuple(s)!r})", depth)
                    result.append((j, inp, f"c{i}_{j}", False))
                start += size
            return result
        if isinstance(node, Primitive):
            needs = tuple(live)
            vjp = src.const(node.prim.vjp, "vjp")
            ins = ", ".join(self._v(src, x) for x in node.inputs)
            src.emit(f"r{i} = {vjp}(v{i}, [{ins}{',' if len(node.inputs) == 1 else ''}], {a}, "
                     f"{needs!r})", depth)
            return [(j, inp, f"r{i}[{j}]", True) for j, inp in enumerate(node.inputs)
                    if live[j]]
        if isinstance(node, Slot):
            src.emit(f"r{i} = [None] * {node.parents[0].nout}", depth)
            src.emit(f"r{i}[{node.index}] = {a}", depth)
            return [(0, node.inputs[0], f"r{i}", True)]
        if isinstance(node, Write):
            w = src.const(node, "node")
            src.emit(f"r{i} = {w}.vjp(None, {a}, {tuple(live[:2])!r})", depth)
            result, k = [], 0
            for j in range(2):
                if live[j]:
                    result.append((j, node.inputs[j], f"r{i}[{k}]", False))
                    k += 1
            return result
        raise TypeError(  # pragma: no cover - a node type this compiler does not know
            f"dualdiff plans cannot sweep a {type(node).__name__} node")

    def _transpose(self, src, t, u, i, depth) -> str:
        """Emit the transpose of an element-moving map (a gather or scatter-add): the
        same moves as Transpose.apply (pure moves give the same bits however made)."""
        if t.kind == "identity":
            return u
        if t.kind == "gather":
            inv = t.inv
            m = t.idx.size
            hit = np.flatnonzero(inv < m)
            srcpos = inv[hit]
            f = f"f{i}"
            if hit.size == inv.size:
                src.emit(f"{f} = _take({u}, {src.const(inv, 'ix')}, axis=1)", depth)
                return f
            src.emit(f"{f} = _zeros(({u}.shape[0], {inv.size}), {u}.dtype)", depth)
            if hit.size == 0:
                return f
            contiguous = (hit[-1] - hit[0] + 1 == hit.size and
                          srcpos[-1] - srcpos[0] + 1 == srcpos.size and
                          np.all(np.diff(srcpos) == 1))
            if contiguous:
                tgt = f"{hit[0]}:{hit[-1] + 1}"
                srcs = f"{srcpos[0]}:{srcpos[-1] + 1}" if srcpos.size != m else ""
                src.emit(f"{f}[:, {tgt}] = {u}[:, {srcs}]" if srcs else f"{f}[:, {tgt}] = {u}",
                         depth)
            else:
                src.emit(f"{f}[:, {src.const(hit, 'ix')}] = {u}[:, {src.const(srcpos, 'ix')}]",
                         depth)
            return f
        src.emit(f"f{i} = {src.const(t.apply, 'tr')}({u})", depth)
        return f"f{i}"

    def _emit_forward(self, src, sweep, out, leaf, vals) -> None:
        """Mirror of :func:`dualdiff.tape.forward` over the live nodes."""
        if out is None:
            src.env["zero_out_"] = lambda t: np.zeros((t.shape[0],) + self.y_shape,
                                                      np.result_type(self.value, t))
            src.emit("return zero_out_(T)")
            return
        src.emit(f"T{self._index[id(leaf)]} = T")
        for node in reversed(sweep):
            if node is leaf:
                continue
            i = self._index[id(node)]
            live = [isinstance(p, Node) and id(p) in self._live for p in node.inputs]
            ts = [f"T{self._index[id(p)]}" for p, on in zip(node.inputs, live) if on]
            k = f"{ts[0]}.shape[0]"
            if isinstance(node, Elementwise):
                partials = dict(self._partials(node))
                nd = len(node.shape)
                terms = []
                for j, inp in enumerate(node.inputs):
                    if not live[j] or partials.get(j) is None:
                        continue
                    e = partials[j]
                    t = f"T{self._index[id(inp)]}"
                    if len(inp.shape) < nd:
                        src.emit(f"e{i}_{j} = _expand({t}, {nd})")
                        t = f"e{i}_{j}"
                    if type(e) is float and e == 1.0:
                        terms.append((t, None))
                    elif type(e) is float:  # a finite constant: nan_safe_product is t * e
                        src.emit(f"e{i}_{j} = {t} * {e!r}")
                        terms.append((f"e{i}_{j}", None))
                    elif self._ptype[(i, j)] is float:  # may be the float 1.0: as jvp
                        src.emit(f"e{i}_{j} = _tterm({t}, p{i}_{j})")
                        terms.append((f"e{i}_{j}", None))
                    else:  # nan_safe_product(t, f): t * f, zero where t is and f is not finite
                        src.emit(f"e{i}_{j} = {t} * p{i}_{j}")
                        src.emit(f"if not _fin(p{i}_{j}):")
                        src.emit(f"e{i}_{j} = _where(_az({t}), 0.0, e{i}_{j})", 2)
                        terms.append((f"e{i}_{j}", None))
                if not terms:
                    src.emit(f"T{i} = _rzeros(({k},) + {tuple(node.shape)!r}, "
                             f"{src.const(node.dtype, 'dt')})")
                    continue
                src.emit(f"T{i} = {' + '.join(t for t, _ in terms)}")
                src.emit(f"if T{i}.shape[1:] != {tuple(node.shape)!r}:")
                src.emit(f"T{i} = _bto(T{i}, ({k},) + {tuple(node.shape)!r})", 2)
            elif isinstance(node, Linear):
                g = src.const(node.g, "g")
                args = []
                for j, inp in enumerate(node.inputs):
                    if live[j]:
                        args.append(f"T{self._index[id(inp)]}")
                    else:
                        v = self._v(src, inp)
                        args.append(f"_rzeros(({k},) + _np_shape({v}), _rt({v}, {ts[0]}))")
                src.env["_np_shape"] = np.shape
                src.emit(f"T{i} = {g}({', '.join(args)})")
            elif isinstance(node, Primitive):
                jvp = src.const(node.prim.jvp, "jvp")
                ins = ", ".join(self._v(src, x) for x in node.inputs)
                tans = ", ".join(f"T{self._index[id(x)]}" if on else "None"
                                 for x, on in zip(node.inputs, live))
                comma = "," if len(node.inputs) == 1 else ""
                src.emit(f"T{i} = {jvp}(v{i}, [{ins}{comma}], [{tans}{comma}])")
            elif isinstance(node, Slot):
                w = src.const(node, "node")
                src.emit(f"T{i} = {w}.jvp(None, ({ts[0]},))")
            elif isinstance(node, Write):
                w = src.const(node, "node")
                src.emit(f"T{i} = {w}.jvp(None, ({', '.join(ts)},), {tuple(live[:2])!r})")
            else:  # pragma: no cover
                raise TypeError(f"dualdiff plans cannot sweep a {type(node).__name__} node")
        src.emit(f"return T{self._index[id(out)]}")

    # -- sweeps as Recording has them ----------------------------------------------------
    def backward(self, state, u):
        """``u @ J`` (k, *x.shape) for cotangents u (k, *y.shape), quietly."""
        token = quiet()
        try:
            return self._backward(state, u)
        finally:
            loud(token)

    def forward(self, state, t):
        """``J @ t`` (k, *y.shape) for tangents t (k, *x.shape), quietly."""
        token = quiet()
        try:
            out = self._forward(state, t)
        finally:
            loud(token)
        if isinstance(out, np.ndarray):
            return np.broadcast_to(out, (np.shape(t)[0],) + self.y_shape)
        return out


#: a group of scalar nodes this large is replayed as one array operation
BATCH_MIN = 8
#: a program is compiled in batches when it has at least this many scalar nodes
SCALAR_MIN = 32


def _square(n) -> bool:
    """``x ** 2`` with a constant exponent 2: NumPy's power loop squares (x * x, correctly
    rounded) for a scalar exponent 2 whatever the length, and its partial ``2 * x ** 1.0``
    is exact."""
    if n.ufunc is not np.power or isinstance(n.inputs[1], Node):
        return False
    e = n.inputs[1]
    return type(e) in (int, float, np.int64, np.float64) and e == 2


def _batchable(n) -> bool:
    return n.ufunc in BATCHABLE or _square(n)


class _Batched:
    """Scalar code compiled in batches: the 0-d float64 nodes (``S``) live in a flat
    value buffer ``V``, their partials in ``P`` and their adjoints in rows of ``A``
    (one column per cotangent).  Nodes of one kind at one depth of the graph are
    independent: a correctly rounded kernel replays them as one gather, one ufunc call
    and one scatter; any other kernel keeps one scalar call per node (as recorded).
    Adjoints are summed in the order the unprepared backward sweep sums them."""

    def __init__(self, prog, nodes, sweep, vals, leaf, out):
        self.prog, self.nodes, self.sweep, self.vals = prog, nodes, sweep, vals
        self.leaf, self.out = leaf, out
        self.idx = prog._index

    @classmethod
    def plan(cls, prog, nodes, sweep, vals, leaf, out):
        """A batched compilation of the program, or None where it does not apply."""
        self = cls(prog, nodes, sweep, vals, leaf, out)
        live = prog._live
        S, gathers = {}, {}
        for n in nodes:
            if n.shape != () or type(vals[id(n)]) is not np.float64:
                continue
            if isinstance(n, Elementwise):
                if all(not isinstance(a, Node) or id(a) in S for a in n.inputs):
                    S[id(n)] = len(S)
            elif isinstance(n, Linear) and len(n.inputs) == 1 and isinstance(
                    n.inputs[0], Node) and n.adjoint is None:
                imap = np.ravel(index_map(n.op, [n.inputs[0].shape]))
                if imap.size == 1 and imap[0] > 0:
                    S[id(n)] = len(S)
                    gathers[id(n)] = int(imap[0]) - 1
        if len(S) < SCALAR_MIN:
            return None
        self.S, self.gathers = S, gathers
        # the static structure of the backward sweep: which nodes get an adjoint, and the
        # contributions (edges) each parent receives, in the order backward adds them
        has = {id(out)}
        edges: dict = {}
        for n in sweep:
            if id(n) not in has:
                continue
            if n is leaf:
                break
            if isinstance(n, (Primitive, Slot)):
                return None  # contributions known only at run time
            for j, p in self._contributions(n):
                has.add(id(p))
                edges.setdefault(id(p), []).append((n, j))
        for n in sweep:
            if id(n) in has and id(n) not in S and id(n) in edges:
                kinds = {id(c) in gathers for c, _ in edges[id(n)]}
                if len(kinds) > 1:
                    return None  # gathers mixed with array contributions: keep it plain
        self.has, self.edges = has, edges
        level = {}
        for n in nodes:
            level[id(n)] = 1 + max((level[id(p)] for p in n.parents), default=-1)
        self.level = level
        self.live = live
        return self

    def _contributions(self, n):
        """(input position, parent) of the contributions n's vjp makes (static)."""
        live = self.prog._live
        if isinstance(n, Elementwise):
            partials = dict(self.prog._partials(n))
            return [(j, a) for j, a in enumerate(n.inputs)
                    if isinstance(a, Node) and id(a) in live and j in partials]
        return [(j, a) for j, a in enumerate(n.inputs) if isinstance(a, Node) and id(a) in live]

    def ref(self, n) -> str:
        """The expression of a node's value."""
        if id(n) in self.S:
            return f"V[{self.S[id(n)]}]"
        return f"v{self.idx[id(n)]}"

    # -- prepare -------------------------------------------------------------------------
    def emit(self, src, nodes, leaves):
        prog = self.prog
        prog._v = lambda src_, a: self.ref(a) if isinstance(a, Node) else src_.const(a)
        src.lines = []
        src.emit(f"V = _empty({len(self.S)})")
        src.env["_empty"] = np.empty
        for j, lf in enumerate(leaves):
            src.emit(f"v{self.idx[id(lf)]} = {'x' if j == 0 else f'I{j - 1}'}")
        by_level: dict = {}
        for n in nodes:
            if not isinstance(n, Leaf):
                by_level.setdefault(self.level[id(n)], []).append(n)
        for lv in sorted(by_level):
            groups: dict = {}
            for n in by_level[lv]:
                if id(n) in self.S:
                    groups.setdefault(self._value_key(n), []).append(n)
                elif isinstance(n, Guard) and self._guard_key(n) is not None:
                    groups.setdefault(self._guard_key(n), []).append(n)
                else:
                    self._single(src, n)
            for key, group in groups.items():
                self._value_group(src, key, group)
        self._partials(src)
        prepare = src.lines
        src.lines = []
        self._backward(src)
        return prepare, src.lines

    def _value_key(self, n):
        if id(n) in self.gathers:
            p = n.inputs[0]
            return ("gather", id(p) in self.S, id(p))
        kinds = tuple("S" if isinstance(a, Node) else "c" for a in n.inputs)
        if not _batchable(n):
            return ("single", id(n))
        exponent = (float(n.inputs[1]),) if n.ufunc is np.power else ()
        return ("ufunc", n.ufunc, kinds) + exponent

    def _guard_key(self, n):
        if not isinstance(n.fn, np.ufunc) or n.kwargs or not any(
                isinstance(a, Node) for a in n.inputs):
            return None
        if not all(not isinstance(a, Node) or id(a) in self.S for a in n.inputs):
            return None
        if type(n.result) is not np.bool_:
            return None
        return ("guard", n.fn, tuple("S" if isinstance(a, Node) else "c" for a in n.inputs))

    def _operand(self, src, group, j) -> str:
        """Input j of a group of nodes as an array expression (gathered or constant)."""
        first = group[0].inputs[j]
        if isinstance(first, Node):
            ix = np.array([self.S[id(n.inputs[j])] for n in group], dtype=np.intp)
            return f"V[{src.const(ix, 'ix')}]"
        consts = [n.inputs[j] for n in group]
        if all(type(c) is type(first) and c == first for c in consts):
            return src.const(first)
        return src.const(np.array(consts, dtype=np.float64), "k")

    def _value_group(self, src, key, group) -> None:
        if len(group) < BATCH_MIN or key[0] == "single":
            for n in group:
                self._single(src, n)
            return
        dst = src.const(np.array([self.S[id(n)] for n in group], dtype=np.intp), "ix")
        if key[0] == "gather":
            p = group[0].inputs[0]
            pos = np.array([self.gathers[id(n)] for n in group], dtype=np.intp)
            if key[1]:
                src.emit(f"V[{dst}] = V[{src.const(np.array([self.S[id(p)]] * len(pos)), 'ix')}]")
            else:
                src.emit(f"V[{dst}] = {self.ref(p)}.reshape(-1)[{src.const(pos, 'ix')}]")
            return
        if key[0] == "guard":
            ops = ", ".join(self._operand(src, group, j) for j in range(len(group[0].inputs)))
            want = src.const(np.array([n.result for n in group], dtype=bool), "r")
            src.emit(f"if not ({src.const(key[1], 'g')}({ops}) == {want}).all():")
            src.emit("raise _Stale", 2)
            return
        n0 = group[0]
        ops = [self._operand(src, group, j) for j in range(len(n0.inputs))]
        if n0.ufunc is np.power:  # the scalar exponent, as recorded (NumPy's fast path)
            ops[1] = src.const(n0.inputs[1])
        src.emit(f"V[{dst}] = {src.const(n0.ufunc, 'uf')}({', '.join(ops)})")

    def _single(self, src, n) -> None:
        """One node as the straight compiler emits it, S values read from / stored to V."""
        args = [self.ref(a) if isinstance(a, Node) else src.const(a) for a in n.inputs]
        self.prog._emit_value(src, n, self.ref(n), args, self.vals)

    def _partials(self, src) -> None:
        """The local partials of the live S nodes into P (batched where exact), and of the
        other live nodes into variables, quietly."""
        prog = self.prog
        self.pslot: dict = {}
        groups: dict = {}
        other = []
        for n in self.nodes:
            if not (isinstance(n, Elementwise) and id(n) in prog._live and id(n) in self.has):
                continue
            for j, e in prog._partials(n):
                if not (callable(e) or e is rules.KINK):
                    continue
                if id(n) in self.S:
                    self.pslot[(id(n), j)] = len(self.pslot)
                    key = (("rule", n.ufunc, j, tuple(isinstance(a, Node) for a in n.inputs))
                           + ((float(n.inputs[1]),) if n.ufunc is np.power else ())
                           if _batchable(n) else ("single", id(n), j))
                    groups.setdefault(key, []).append((n, j, e))
                else:
                    other.append((n, j, e))
        src.emit(f"P = _empty({len(self.pslot)})")
        src.emit("t_ = _quiet()")
        src.emit("try:")
        for key, group in groups.items():
            n0, j, e = group[0]
            if len(group) < BATCH_MIN or key[0] == "single":
                for n, j, e in group:
                    self._partial_single(src, n, j, e, f"P[{self.pslot[(id(n), j)]}]")
                continue
            dst = src.const(np.array([self.pslot[(id(n), j)] for n, j, _ in group],
                                     dtype=np.intp), "ix")
            nodes = [n for n, _, _ in group]
            ops = [self._operand(src, nodes, q) for q in range(len(n0.inputs))]
            if n0.ufunc is np.power:
                ops[1] = src.const(n0.inputs[1])
            z = f"V[{src.const(np.array([self.S[id(n)] for n in nodes], dtype=np.intp), 'ix')}]"
            if e is rules.KINK:
                src.emit(f"P[{dst}] = _kink({ops[0]})", 2)
            else:
                call = f"{src.const(e, 'rule')}({ops[0]}, {z})" if n0.ufunc in rules.UNARY \
                    else f"{src.const(e, 'rule')}({ops[0]}, {ops[1]}, {z})"
                src.emit(f"P[{dst}] = {call}", 2)
        for n, j, e in other:
            self._partial_single(src, n, j, e, f"p{self.idx[id(n)]}_{j}")
        src.emit("finally:")
        src.emit("_loud(t_)", 2)

    def _partial_single(self, src, n, j, e, target) -> None:
        args = [self.ref(a) if isinstance(a, Node) else src.const(a) for a in n.inputs]
        if e is rules.KINK:
            src.emit(f"{target} = _kink({args[0]})", 2)
            return
        ev = src.const(e, "rule")
        z = self.ref(n)
        call = f"{ev}({args[0]}, {z})" if n.ufunc in rules.UNARY else \
            f"{ev}({args[0]}, {args[1]}, {z})"
        src.emit(f"{target} = {call}", 2)

    # -- backward --------------------------------------------------------------------------
    def _backward(self, src) -> None:
        """The backward sweep level by level, deepest first."""
        S, edges = self.S, self.edges
        src.env["at_"] = self.prog._at_input
        src.emit("k_ = U.shape[0]")
        src.emit(f"A = _empty(({max(len(S), 1)}, k_))")
        # where each contribution goes: an S parent with one edge takes it in its row of A,
        # one with several in a row of C (summed in order later), an array parent in a
        # variable (summed in order later); gathers into an array parent are summed by
        # np.add.at in order
        self.crow: dict = {}
        for pid, es in edges.items():
            if pid in S and len(es) > 1:
                for c, j in es:
                    self.crow[(id(c), j)] = len(self.crow)
        if self.crow:
            src.emit(f"C = _empty(({len(self.crow)}, k_))")
        out = self.out
        if id(out) in S:
            src.emit(f"A[{S[id(out)]}] = U")
        else:
            src.emit(f"A{self.idx[id(out)]} = U")
        by_level: dict = {}
        for n in self.sweep:
            if id(n) in self.has:
                by_level.setdefault(self.level[id(n)], []).append(n)
        src.env["_addat"] = np.add.at
        src.env["_full"] = np.full
        for lv in sorted(by_level, reverse=True):
            level = by_level[lv]
            for n in level:  # adjoints complete at this level: sum their contributions
                if n is not out:
                    self._assemble(src, n)
            if self.leaf in level:
                src.emit(f"return at_(A{self.idx[id(self.leaf)]}, k_)")
                return
            groups: dict = {}
            for n in level:
                if id(n) in S:
                    for j, p in self._contributions(n):
                        groups.setdefault(self._vjp_key(n, j), []).append((n, j, p))
                else:
                    self._vjp_single(src, n)
            for key, group in groups.items():
                self._vjp_group(src, key, group)
        src.emit("return at_(None, k_)")

    def _dest(self, n, j, p) -> str:
        """Where the contribution of (n, input j) to parent p is stored."""
        if id(p) in self.S:
            if (id(n), j) in self.crow:
                return f"C[{self.crow[(id(n), j)]}]"
            return f"A[{self.S[id(p)]}]"
        return f"E{self.idx[id(n)]}_{j}"

    def _assemble(self, src, n) -> None:
        es = self.edges.get(id(n), [])
        if id(n) in self.S:
            if len(es) > 1:
                row = self.S[id(n)]
                src.emit(f"A[{row}] = C[{self.crow[(id(es[0][0]), es[0][1])]}]")
                for c, j in es[1:]:
                    src.emit(f"A[{row}] += C[{self.crow[(id(c), j)]}]")
            return
        a = f"A{self.idx[id(n)]}"
        if es and id(es[0][0]) in self.gathers:
            # contributions of scalar reads x[i]: each a full array (+0.0 elsewhere) in
            # the unprepared sweep, summed in order; here the reads' adjoints are added in
            # the same order onto -0.0 (the identity of +), and +0.0 is added where some
            # read left a filled zero (it turns -0.0 into +0.0, as those zeros do)
            rows = np.array([self.S[id(c)] for c, _ in es], dtype=np.intp)
            pos = np.array([self.gathers[id(c)] for c, _ in es], dtype=np.intp)
            size = n.size
            fill = np.bincount(pos, minlength=size) < len(es)
            dtype = src.const(np.dtype(np.float64), "dt")
            src.emit(f"{a} = _full(({size}, k_), -0.0, {dtype})")
            src.emit(f"_addat({a}, {src.const(pos, 'ix')}, A[{src.const(rows, 'ix')}])")
            if fill.any():
                src.emit(f"{a}[{src.const(fill, 'ix')}] += 0.0")
            src.emit(f"{a} = {a}.T.reshape((k_,) + {tuple(n.shape)!r})")
            return
        for q, (c, j) in enumerate(es):
            e = f"E{self.idx[id(c)]}_{j}"
            src.emit(f"{a} = {e}" if q == 0 else f"{a} = {a} + {e}")

    def _vjp_key(self, n, j):
        if id(n) in self.gathers:
            return ("gather", id(n.inputs[0]) in self.S)
        partials = dict(self.prog._partials(n))
        e = partials[j]
        if type(e) is float:
            return ("const", e)
        return ("partial",)

    def _vjp_group(self, src, key, group) -> None:
        if len(group) < BATCH_MIN:
            for n, j, p in group:
                self._vjp_scalar(src, n, j, p)
            return
        rows = src.const(np.array([self.S[id(n)] for n, _, _ in group], dtype=np.intp), "ix")
        if key[0] == "gather" and not key[1]:
            return  # summed at the array parent (np.add.at)
        if key[0] in ("gather",) or key == ("const", 1.0):
            term = f"A[{rows}]"
        elif key[0] == "const":
            term = f"{key[1]!r} * A[{rows}]"
        else:
            pix = src.const(np.array([self.pslot[(id(n), j)] for n, j, _ in group],
                                     dtype=np.intp), "ix")
            src.emit(f"u_ = A[{rows}]")
            src.emit(f"f_ = P[{pix}]")
            src.emit("t_ = f_[:, None] * u_")
            # nan_safe_product(f, u) per node: where u is not all finite, f == 0 gives 0
            src.emit("bad_ = ~_isfinite(u_).all(axis=1) & (f_ == 0)")
            src.emit("if bad_.any():")
            src.emit("t_[bad_] = 0.0", 2)
            term = "t_"
        direct = [(n, j, p) for n, j, p in group if (id(n), j) not in self.crow]
        queued = [(n, j, p) for n, j, p in group if (id(n), j) in self.crow]
        if term != "t_":
            src.emit(f"t_ = {term}")
        sel = np.array([(id(n), j) not in self.crow for n, j, _ in group])
        if direct:
            d = src.const(np.array([self.S[id(p)] for _, _, p in direct], dtype=np.intp), "ix")
            src.emit(f"A[{d}] = t_" if sel.all() else
                     f"A[{d}] = t_[{src.const(np.flatnonzero(sel), 'ix')}]")
        if queued:
            c = src.const(np.array([self.crow[(id(n), j)] for n, j, _ in queued],
                                   dtype=np.intp), "ix")
            src.emit(f"C[{c}] = t_" if not sel.any() else
                     f"C[{c}] = t_[{src.const(np.flatnonzero(~sel), 'ix')}]")

    def _vjp_scalar(self, src, n, j, p) -> None:
        """One scalar node's contribution to input j (exactly Elementwise.vjp's)."""
        u = f"A[{self.S[id(n)]}]"
        dest = self._dest(n, j, p)
        if id(n) in self.gathers:
            if id(p) in self.S:
                src.emit(f"{dest} = {u}")
            return
        e = dict(self.prog._partials(n))[j]
        if type(e) is float:
            src.emit(f"{dest} = {u}" if e == 1.0 else f"{dest} = {e!r} * {u}")
            return
        f = f"P[{self.pslot[(id(n), j)]}]"
        src.emit(f"u_ = {u}")
        src.emit(f"t_ = {f} * u_")
        src.emit(f"if {f} == 0 and not _isfinite(u_).all():")
        src.emit("t_ = _where(True, 0.0, t_)", 2)
        src.emit(f"{dest} = t_")

    def _vjp_single(self, src, n) -> None:
        """An array node's vjp as the straight compiler emits it; contributions stored."""
        a = f"A{self.idx[id(n)]}"
        for j, p, c, _ in self.prog._vjp(src, n, a, self.vals, 1):
            if c is not None:
                src.emit(f"{self._dest(n, j, p)} = {c}")


class _Replayed:
    """One replay's view of a program with Recording's surface (value, shapes, sweep,
    push), so the unprepared drivers' block logic runs on it unchanged."""

    def __init__(self, program: Program, value, state):
        self.program, self.value, self.state = program, value, state
        self.x_shape, self.x_dtype = program.x_shape, program.x_dtype
        self.y_shape, self.max_size = program.y_shape, program.max_size

    def sweep(self, u):
        return self.program.backward(self.state, u)

    def push(self, t):
        return self.program.forward(self.state, t)


# -- args ------------------------------------------------------------------------------

def _is_input(a) -> bool:
    return (type(a) is float or isinstance(a, np.floating) or
            (type(a) is np.ndarray and a.dtype.kind == "f"))


def _equal(a, b) -> bool:
    """Whether a constant arg equals the recorded one (by value for arrays, numbers,
    strings and sequences of them; else by identity)."""
    if a is b and not isinstance(a, np.ndarray):
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and
                a.shape == b.shape and a.dtype == b.dtype and
                a.tobytes() == b.tobytes())
    if isinstance(a, (list, tuple)) and type(a) is type(b):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float, complex, str, bytes, bool, np.generic, type(None))):
        return type(a) is type(b) and bool(a == b)
    return False


def _keep(a):
    """How a constant arg is remembered for comparison (arrays copied)."""
    if isinstance(a, np.ndarray):
        return a.copy()
    if isinstance(a, (list, tuple)):
        return type(a)(_keep(x) for x in a) if type(a) in (list, tuple) else a
    return a


class _Signature:
    """Which args are inputs, their types, shapes and dtypes; the constants' values."""

    def __init__(self, args: tuple, as_inputs: bool):
        self.kinds = tuple(as_inputs and _is_input(a) for a in args)
        self.meta = tuple((type(a) is np.ndarray, np.shape(a), np.asarray(a).dtype) if k
                          else _keep(a) for a, k in zip(args, self.kinds))

    def inputs(self, args) -> tuple:
        return tuple(np.float64(a) if type(a) is float else a
                     for a, k in zip(args, self.kinds) if k)

    def matches(self, args) -> bool:
        if len(args) != len(self.kinds):
            return False
        for a, k, m in zip(args, self.kinds, self.meta):
            if k:  # a float array, or a float scalar (Python's or NumPy's)
                if not _is_input(a) or (type(a) is np.ndarray) != m[0] or \
                        np.shape(a) != m[1] or np.asarray(a).dtype != m[2]:
                    return False
            elif not _equal(a, m):
                return False
        return True

    def merge(self, inputs, args):
        """f's args from the recorded inputs (Tapes) and the constants."""
        it = iter(inputs)
        return tuple(next(it) if k else a for a, k in zip(args, self.kinds))


# -- plans -----------------------------------------------------------------------------

class Plan:
    """Base of the prepared plans: recording, compiling, guards, re-recording.

    Attributes: ``rerecords`` (recordings after the first), ``calls``, ``guards``
    (discrete results the current program re-checks), ``nodes`` (its size),
    ``nbytes`` (the arrays it holds), ``args_as_inputs``.
    """

    kind = "plan"
    order = 1

    def __init__(self, f: Function, x0, args: tuple = ()):
        self.f, self.args = f, tuple(args)
        self.rerecords, self.calls = 0, 0
        self.args_as_inputs = True
        self._lock = threading.Lock()
        x0 = as_input(x0)
        if isinstance(x0, Carrier):
            raise TypeError(f"{self.kind}_plan needs a plain array x0, not a dualdiff array")
        self._program = self._make(x0, self.args)

    # -- recording -----------------------------------------------------------------------
    def _target(self, sig, args):
        f = self.f
        if self.order == 1:
            def target(z, *inputs):
                return call_f(f, z, *sig.merge(inputs, args))
            return target
        what = self.kind

        def gradient_of_f(z, *inputs):
            rec = Recording(lambda w: call_f(f, w, *sig.merge(inputs, args)), z)
            check_scalar(rec.value, what)
            return rec.sweep(np.ones((1,), np.result_type(rec.x_dtype)))[0]
        return gradient_of_f

    def _record(self, x, args):
        for as_inputs in ((True, False) if self.args_as_inputs and args else (False,)):
            sig = _Signature(args, as_inputs)
            inputs = sig.inputs(args)
            try:
                rec = Recording(self._target(sig, args), x, guards=True, inputs=inputs)
            except TypeError:
                if not as_inputs or not any(sig.kinds):
                    raise
                self.args_as_inputs = False  # f needs its args as plain values
                continue
            return rec, sig, inputs
        raise AssertionError("unreachable")  # pragma: no cover

    def _make(self, x, args):
        rec, sig, inputs = self._record(x, args)
        self._check(rec)
        program = Program(rec, x, inputs, self._sweeps(rec))
        program.signature = sig
        return program

    def _sweeps(self, rec) -> tuple:
        """The sweeps this plan replays (only those are compiled)."""
        return ("forward",) if self.order == 2 else ("backward",)

    def _check(self, rec) -> None:
        if self.kind == "gradient":
            check_scalar(rec.value, "gradient")

    def _rerecord(self, x, args):
        program = self._make(x, args)
        with self._lock:
            self.rerecords += 1
        self._program = program
        return program

    # -- calling -------------------------------------------------------------------------
    def _prepare(self, x, args):
        """(program, value, state) at x: the replay, or a new recording where it is stale."""
        x = as_input(x)
        args = args or self.args
        with self._lock:
            self.calls += 1
        program = self._program
        if (x.shape == program.x_shape and x.dtype == program.x_dtype
                and program.signature.matches(args)):
            try:
                value, state = program.prepare(x, *program.signature.inputs(args))
                return program, value, state
            except Exception:  # noqa: BLE001 - stale (a guard) or a kernel raised
                pass  # record again here: a genuine error in f raises from the recording
        program = self._rerecord(x, args)
        try:
            value, state = program.prepare(x, *program.signature.inputs(args))
        except Stale as e:
            raise ValueError(f"{self.kind}_plan: f took another path when replayed at the "
                             f"x it was just recorded at ({e or 'a guard differs'}); f must "
                             f"be a deterministic function of x and args") from None
        return program, value, state

    @property
    def guards(self) -> int:
        return self._program.guards

    @property
    def nodes(self) -> int:
        return self._program.nodes

    @property
    def nbytes(self) -> int:
        return self._program.nbytes

    def __repr__(self) -> str:
        p = self._program
        return (f"{type(self).__name__}(x{p.x_shape}, {p.nodes} nodes, {p.guards} guards, "
                f"rerecords={self.rerecords})")


class GradientPlan(Plan):
    """``plan(x, *args)``: the gradient of a real scalar f at x, by one replayed backward
    sweep (the bits of ``dd.gradient(f, x, mode="reverse")``).

    >>> plan = GradientPlan(lambda x, a: a * np.sum(np.sin(x)), np.zeros(2), args=(2.0,))
    >>> plan(np.zeros(2), 3.0).tolist()
    [3.0, 3.0]
    """

    kind = "gradient"

    def __call__(self, x, *args) -> np.ndarray:
        program, _, state = self._prepare(x, args)
        return program.backward(state, np.ones((1,), program.x_dtype))[0]

    def value_and_gradient(self, x, *args):
        """``(f(x), gradient)`` from the same replay (for ``minimize(..., jac=True)``).

        >>> plan = GradientPlan(lambda x: np.sum(x * x), np.ones(2))
        >>> v, g = plan.value_and_gradient(np.array([1.0, 2.0])); float(v), g.tolist()
        (5.0, [2.0, 4.0])
        """
        program, value, state = self._prepare(x, args)
        return value, program.backward(state, np.ones((1,), program.x_dtype))[0]


class DenseJacobianPlan(Plan):
    """``plan(x, *args)``: the dense Jacobian ``f(x).shape + x.shape`` by replayed sweeps:
    backward ones when ``mode`` is "reverse" (auto: m < n, as the unprepared driver
    decides), else forward ones, with the unprepared driver's chunks.

    >>> plan = DenseJacobianPlan(lambda x: x[::-1] * x[0], np.ones(2))
    >>> plan(np.array([2.0, 3.0])).tolist()
    [[3.0, 2.0], [4.0, 0.0]]
    """

    kind = "jacobian"

    def __init__(self, f: Function, x0, mode: str = "auto", args: tuple = ()):
        if mode not in ("auto", "forward", "reverse"):
            raise ValueError(f"mode must be 'auto', 'forward' or 'reverse', got {mode!r}")
        self._mode = mode
        super().__init__(f, x0, args)

    def _sweeps(self, rec) -> tuple:
        return ("backward",) if self._choose(rec.x_shape, rec.y_shape) == "reverse" \
            else ("forward",)

    def _choose(self, x_shape, y_shape) -> str:
        if self._mode != "auto":
            return self._mode
        return choose(math.prod(x_shape), math.prod(y_shape))

    @property
    def mode(self) -> str:
        """"reverse" or "forward": the sweeps this plan replays (auto: reverse iff m < n)."""
        return self._choose(self._program.x_shape, self._program.y_shape)

    def __call__(self, x, *args) -> np.ndarray:
        program, value, state = self._prepare(x, args)
        replayed = _Replayed(program, value, state)
        if self.mode == "reverse":
            return reverse_rows(replayed)
        return forward_columns(replayed)

    def value_and_jacobian(self, x, *args):
        """``(f(x), J)`` from the same replay.

        >>> plan = DenseJacobianPlan(lambda x: x * x, np.ones(2))
        >>> [a.tolist() for a in plan.value_and_jacobian(np.array([1.0, 2.0]))]
        [[1.0, 4.0], [[2.0, 0.0], [0.0, 4.0]]]
        """
        program, value, state = self._prepare(x, args)
        replayed = _Replayed(program, value, state)
        jac = reverse_rows(replayed) if self.mode == "reverse" else forward_columns(replayed)
        return value, jac


def forward_columns(rec, chunk: int | None = None):
    """The Jacobian of a recording (or replay) by forward sweeps, in the chunks of
    :func:`dualdiff.modes.forward_jacobian` (``default_chunk(n)`` directions first, then
    ``default_chunk(n, m)``), laid out as it does.

    >>> forward_columns(Recording(lambda x: x[::-1] * 2, np.ones(2))).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    shape, n = rec.x_shape, math.prod(rec.x_shape)
    m = math.prod(rec.y_shape)
    k = chunk or default_chunk(n)
    cols, start, first = [], 0, True
    while start < n or first:
        kk = min(k, n - start)
        t = rec.push(basis_seeds(n, start, kk, shape, rec.x_dtype))
        cols.append(np.moveaxis(np.asarray(t), 0, -1))
        if chunk is None and first:
            k = default_chunk(n, m)
        first = False
        start += kk
    jac = cols[0] if len(cols) == 1 else np.concatenate(cols, axis=-1)
    return np.reshape(jac, rec.y_shape + shape)


class HessianPlan(Plan):
    """``plan(x, *args)``: the Hessian of a real scalar f, ``x.shape * 2``: forward sweeps
    of basis tangents through the recorded program of f's gradient (the bits of
    ``dd.hessian(f, x, method="forward-over-reverse")``).

    With ``sparsity`` ("auto" or a pattern, as :class:`~dualdiff.SparseHessianPlan`
    takes it) the sweeps carry one direction per colour of a star colouring and the
    plan returns the csr_array (n, n) (the bits of ``dd.hessian(f, x, sparsity=...)``);
    a pattern detected at x0 that rests on discrete results of x is detected again
    whenever the plan records again (each recording keeps its own).

    >>> plan = HessianPlan(lambda x: x[0] ** 2 * x[1], np.ones(2))
    >>> plan(np.array([3.0, 2.0])).tolist()
    [[4.0, 6.0], [6.0, 0.0]]
    >>> sparse = HessianPlan(lambda x: np.sum(x ** 3), np.ones(3), sparsity="auto")
    >>> sparse(np.arange(3.0)).toarray().diagonal().tolist(), sparse.colouring.ncolors
    ([0.0, 6.0, 12.0], 1)
    """

    kind = "hessian"
    order = 2

    def __init__(self, f: Function, x0, args: tuple = (), sparsity=None):
        self._sparsity = sparsity
        super().__init__(f, x0, args)

    def _make(self, x, args):
        # a sparse plan's program carries its pattern and colouring (a SparseHessianPlan
        # used for them only), detected at the x it was recorded at unless it holds for
        # every x: a replay always reads the pattern of its own path, also under threads
        program = super()._make(x, args)
        if self._sparsity is not None:
            old = self.colouring if hasattr(self, "_program") else None
            program.colouring = old if old is not None and not old.local else \
                SparseHessianPlan(self.f, x, sparsity=self._sparsity, args=args or self.args)
        return program

    @property
    def colouring(self):
        """The pattern and star colouring of the current program (None: a dense plan)."""
        return getattr(self._program, "colouring", None)

    def _hessian(self, program, value, state):
        replayed = _Replayed(program, value, state)
        c = getattr(program, "colouring", None)
        if c is None:
            return forward_columns(replayed)
        if not c.seeds:
            return c.assemble(np.zeros((0, c.n)))
        return c.assemble(np.concatenate([np.reshape(replayed.push(s.astype(
            program.x_dtype)), (s.shape[0], -1)) for s in c.seeds]))

    def __call__(self, x, *args):
        return self._hessian(*self._prepare(x, args))

    def gradient_and_hessian(self, x, *args):
        """``(gradient, Hessian)`` from the same replay.

        >>> plan = HessianPlan(lambda x: np.sum(x ** 3), np.ones(2))
        >>> [a.tolist() for a in plan.gradient_and_hessian(np.array([1.0, 2.0]))]
        [[3.0, 12.0], [[6.0, 0.0], [0.0, 12.0]]]
        """
        program, value, state = self._prepare(x, args)
        return value, self._hessian(program, value, state)


class HvpPlan(Plan):
    """``plan(x, v, *args)``: the Hessian-vector product H(x) v of a real scalar f (the
    signature of SciPy's ``hessp``), one forward sweep of v through the recorded
    program of f's gradient (the bits of ``dd.hvp(f, x, v,
    method="forward-over-reverse")``).

    >>> plan = HvpPlan(lambda x: np.sum(x ** 3), np.ones(2))
    >>> plan(np.array([1.0, 2.0]), np.array([1.0, 1.0])).tolist()
    [6.0, 12.0]
    """

    kind = "hvp"
    order = 2

    def __call__(self, x, v, *args) -> np.ndarray:
        program, _, state = self._prepare(x, args)
        shape = program.x_shape
        v = np.array(np.broadcast_to(np.asarray(v, dtype=program.x_dtype), shape))
        return np.asarray(program.forward(state, v[None]))[0]
