"""Reverse mode: a carrier that records a program as NumPy code runs on it.

``Tape(value, node, tag)`` holds a value and the :class:`Node` that produced
it (None for a constant of the pass).  Operations run through the same core
and rules as :class:`~dualdiff.dual.Dual`; instead of pushing tangents forward
each records an instruction: its inputs (parent nodes or constants), how to
recompute its value, the local partials it saved, and its transposed (``vjp``)
and forward (``jvp``) maps:

* element-wise rows: ``u * f'(x)``, summed over broadcast axes;
* linear maps: the given adjoint, or else the transpose of the map's index map
  (a gather when the map is injective, a scatter-add otherwise);
* primitives: their ``vjp`` rule;
* writes ``x[i] = y`` (also through views): the written elements take their
  adjoint from y, the rest from x's previous node.

Values follow NumPy exactly (views alias, writes are in place); a write into a
value that a node saved for its sweep copies it first (copy-on-write), and
constant operands are copied when recorded, so no later write changes a sweep.  There is
no global tape: a program hangs off its output, so threads and nested passes
never share state.  Tags work as for Dual, so reverse-over-forward and
forward-over-reverse both nest.

>>> from dualdiff.core import new_tag
>>> x = Tape(np.array([1.0, 2.0]), Leaf((2,), np.dtype(float)), new_tag())
>>> y = np.sum(np.sin(x) * x)
>>> g = backward(y.node, x.node, np.ones((1,)), order(y.node))
>>> bool(np.allclose(g[0], np.sin([1.0, 2.0]) + np.cos([1.0, 2.0]) * [1.0, 2.0]))
True
"""

from __future__ import annotations

import math

import numpy as np

from .arrays import expand, loud, quiet, sum_to, zeros
from .core import (
    Carrier,
    Index,
    evaluate,
    first_partials,
    index_map,
    nan_safe_product,
    root_of,
)


def _adjoint_term(f, u):
    """``f * u`` for a local partial f and cotangents u, NaN-safe: 0 where f is 0 (u
    inf/nan: a zero partial nearer the input, as forward mode's zero tangent), and, for
    plain cotangents, 0 where u is 0 (f inf/nan: no path from this output through the
    element -- the rows of the reverse Jacobian of sqrt at [0, 4] are [inf, 0] and
    [0, 0.25], not [nan, 0.25]).  Carrier cotangents (nested passes) keep 0 * inf = nan:
    their zeros are computed (norm(x)**2 at 0: 2 norm(x) = 0 against norm's inf second
    derivative), and their own parts are NaN-safe."""
    tf = type(f)
    if type(u) is np.ndarray:
        if tf is np.ndarray:
            term = f * u
            if np.isfinite(term).all():  # then f and u are finite: nothing to make safe
                return term
        elif (tf is float or tf is np.float64) and f != 0.0 and f - f == 0.0:
            return f * u  # a finite non-zero constant partial: inf and nan pass as they are
    term = nan_safe_product(f, u)
    if isinstance(u, Carrier) or ((f - f == 0) if isinstance(f, float)
                                  else np.isfinite(f).all()):
        return term
    return np.where(u == 0, 0.0, term)


class NoReverseRule(TypeError):
    """Something the tape cannot record (a primitive without a vjp rule); auto mode
    falls back to forward mode."""


def snapshot(a):
    """A constant operand as the program keeps it: a copy when it is a writeable array
    (the caller could change it in place after the operation).  Values of Tapes need no
    copy: a write into a Tape whose value a node saved copies it first (copy-on-write)."""
    if type(a) is np.ndarray and a.flags.writeable and a.size:
        return a.copy()
    return a


# -- the instructions ------------------------------------------------------------------

class Node:
    """An instruction: ``inputs`` (parent Nodes or constants), the value's shape and
    dtype, and what it ``saved`` at recording for its sweeps.

    ``vjp(saved, u)`` maps the adjoint u (a leading axis of k cotangents) to one
    contribution per parent (None: none); ``jvp(saved, ts)`` the parents' tangents
    to this node's; ``value(vals)`` and ``local(vals, out)`` recompute the value and
    the saved data from the inputs' values (prepared plans replay them)."""

    __slots__ = ("inputs", "parents", "shape", "dtype", "saved")

    def __init__(self, inputs, shape, dtype, saved=None):
        self.inputs = tuple(inputs)
        self.parents = tuple(a for a in self.inputs if isinstance(a, Node))
        self.shape, self.dtype, self.saved = tuple(shape), dtype, saved

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def local(self, vals, out):
        return None


class Leaf(Node):
    """An input of the recording."""

    __slots__ = ()

    def __init__(self, shape, dtype):
        super().__init__((), shape, dtype)


class Elementwise(Node):
    """``ufunc(*inputs)``; saves the first partials of the live inputs."""

    __slots__ = ("ufunc",)

    def __init__(self, ufunc, inputs, shape, dtype, saved):
        super().__init__(inputs, shape, dtype, saved)
        self.ufunc = ufunc

    def value(self, vals):
        return evaluate(self.ufunc, vals)

    def local(self, vals, out):
        return first_partials(self.ufunc, vals, out, [isinstance(a, Node) for a in self.inputs])

    def vjp(self, saved, u):
        out = []
        for a, f in zip(self.inputs, saved):
            if isinstance(a, Node):
                if f is None:
                    out.append(None)
                    continue
                term = u if type(f) is float and f == 1.0 else _adjoint_term(f, u)
                out.append(sum_to(term, a.shape))
        return tuple(out)

    def jvp(self, saved, ts):
        it, out = iter(ts), None
        nd = len(self.shape)
        for a, f in zip(self.inputs, saved):
            if isinstance(a, Node):
                t = next(it)
                if f is None:
                    continue
                t = expand(t, nd)
                term = t if type(f) is float and f == 1.0 else nan_safe_product(t, f)
                out = term if out is None else out + term
        k = np.shape(ts[0])[0]
        if out is None:
            return zeros((k,) + self.shape, self.dtype)
        return out if np.shape(out)[1:] == self.shape else np.broadcast_to(
            out, (k,) + self.shape)


class Transpose:
    """Transpose of an element-moving map from its index map (0 = filled zero):
    ``apply(u)`` maps the output adjoint (k, M) flattened to (k, N), as a reshape
    (identity order), a gather (injective) or a scatter-add (repeats)."""

    __slots__ = ("idx", "n", "kind", "inv", "layers")

    def __init__(self, idx, n: int):
        self.idx, self.n = np.ravel(idx), n
        hit = self.idx[self.idx > 0]
        if hit.size == n and np.array_equal(self.idx, np.arange(1, n + 1)):
            self.kind = "identity"
            return
        counts = np.bincount(hit, minlength=n + 1)
        if counts.max(initial=0) <= 1:
            self.kind = "gather"
            inv = np.full(n + 1, self.idx.size)  # points at an appended zero column
            inv[self.idx] = np.arange(self.idx.size)
            self.inv = inv[1:]
        else:
            self.kind = "scatter"
            self.layers = None

    def apply(self, u):
        k = np.shape(u)[0]
        if self.kind == "identity":
            return u
        if self.kind == "gather":
            return np.concatenate([u, np.zeros((k, 1), np.result_type(u))], axis=1)[:, self.inv]
        if type(u) is np.ndarray and u.dtype.kind == "f":
            m = self.idx.size
            bins = (self.idx[None, :] + (self.n + 1) * np.arange(k)[:, None]).ravel()
            out = np.bincount(bins, weights=u.reshape(k * m), minlength=k * (self.n + 1))
            return out.reshape(k, self.n + 1)[:, 1:]
        # a carrier (nested pass) or complex: sum injective layers of gathers, exactly
        if self.layers is None:
            order = np.argsort(self.idx, kind="stable")
            sidx = self.idx[order]
            first = np.searchsorted(sidx, sidx)
            rank = np.arange(sidx.size) - first
            self.layers = []
            for r in range(int(rank.max(initial=0)) + 1):
                sel = (rank == r) & (sidx > 0)
                inv = np.full(self.n + 1, self.idx.size)
                inv[sidx[sel]] = order[sel]
                self.layers.append(inv[1:])
        padded = np.concatenate([u, np.zeros((k, 1), np.result_type(u))], axis=1)
        total = None
        for inv in self.layers:
            term = padded[:, inv]
            total = term if total is None else total + term
        return total


class Linear(Node):
    """A linear map ``op(*inputs)`` (``g`` batched over a leading axis; ``adjoint`` its
    transpose, or None for a movement of elements, transposed from its index map)."""

    __slots__ = ("op", "g", "adjoint", "_t")

    def __init__(self, op, g, adjoint, inputs, shape, dtype):
        super().__init__(inputs, shape, dtype)
        self.op, self.g, self.adjoint, self._t = op, g, adjoint, None

    def value(self, vals):
        return self.op(*vals)

    def _shapes(self):
        return [a.shape if isinstance(a, Node) else np.shape(a) for a in self.inputs]

    def vjp(self, saved, u):
        k = np.shape(u)[0]
        if self.adjoint is not None:
            (shape,) = self._shapes()
            return (np.reshape(self.adjoint(u), (k,) + shape),)
        op = self.op
        if type(op) is Index and op.basic and type(u) is np.ndarray:
            # x[basic index]: each element taken at most once, the transpose writes u
            # into zeros (as the index map's gather would, without building it)
            out = np.zeros((k,) + self.inputs[0].shape, u.dtype)
            out[(slice(None),) + op.index] = np.reshape(u, (k,) + self.shape)
            return (out,)
        shapes = self._shapes()
        if self._t is None:
            self._t = Transpose(index_map(self.op, shapes), sum(math.prod(s) for s in shapes))
        flat = self._t.apply(np.reshape(u, (k, -1)))
        out, start = [], 0
        for a, s in zip(self.inputs, shapes):
            size = math.prod(s)
            if isinstance(a, Node):
                out.append(np.reshape(flat[:, start:start + size], (k,) + s))
            start += size
        return tuple(out)

    def jvp(self, saved, ts):
        it, k = iter(ts), np.shape(ts[0])[0]
        return self.g(*[next(it) if isinstance(a, Node) else
                        zeros((k,) + np.shape(a), np.result_type(a, ts[0]))
                        for a in self.inputs])


class Primitive(Node):
    """A :class:`~dualdiff.primitives.Primitive`; saves its inputs' values and output."""

    __slots__ = ("prim", "nout")

    def __init__(self, prim, inputs, shape, dtype, saved, nout=0):
        super().__init__(inputs, shape, dtype, saved)
        self.prim, self.nout = prim, nout

    def value(self, vals):
        return self.prim.fn(*vals)

    def local(self, vals, out):
        return list(vals), out

    def vjp(self, saved, u):
        vals, out = saved
        needs = tuple(isinstance(a, Node) for a in self.inputs)
        adj = self.prim.vjp(out, vals, u, needs)
        return tuple(a for a, n in zip(adj, needs) if n)

    def jvp(self, saved, ts):
        vals, out = saved
        it = iter(ts)
        return self.prim.jvp(out, vals, [next(it) if isinstance(a, Node) else None
                                         for a in self.inputs])


class Slot(Node):
    """Output ``index`` of a multi-output primitive node."""

    __slots__ = ("index",)

    def __init__(self, parent, index, shape, dtype):
        super().__init__((parent,), shape, dtype)
        self.index = index

    def value(self, vals):
        return vals[0][self.index]

    def vjp(self, saved, u):
        slots = [None] * self.parents[0].nout
        slots[self.index] = u
        return (slots,)

    def jvp(self, saved, ts):
        t = ts[0][self.index]
        return zeros((np.shape(ts[0][0] if ts[0][0] is not None else 0)[:1]) + self.shape,
                     self.dtype) if t is None else t


class Write(Node):
    """``root[...] = item`` in flat terms: ``written`` marks the root's elements (C
    order) that were written, ``src`` the item element each received.  Inputs: the
    root's previous node or value, then the item's node or value.

    ``component`` "real" / "imag": a write through ``z.real`` / ``z.imag`` of a complex
    root replaces that component of each written element and keeps the other.  With
    the pairing Re(u t) of cotangents and tangents, a written element's adjoint goes
    to the item as Re u ("real") or -Im u ("imag") and to the old value as i Im u
    ("real") or Re u ("imag")."""

    __slots__ = ("written", "src", "component")

    def __init__(self, old, item, written, src, shape, dtype, component=None):
        super().__init__((old, item), shape, dtype)
        self.written, self.src, self.component = written, src, component

    def value(self, vals):
        old, item = vals
        new = np.array(old, dtype=np.result_type(old, item), copy=True)
        # .flat counts in C order whatever the layout (reshape(-1) of an F-ordered copy
        # would be a copy, and the write would be lost)
        target = new if self.component is None else getattr(new, self.component)
        target.flat[self.written] = np.reshape(item, -1)[self.src]
        return new

    def vjp(self, saved, u, live=None):
        """``live``: which of (old, item) carry a derivative (default: the Nodes)."""
        old, item = self.inputs
        live_old, live_item = live or (isinstance(old, Node), isinstance(item, Node))
        k = np.shape(u)[0]
        flat = np.reshape(u, (k, -1))
        out = []
        comp = self.component
        if live_old:
            kept = np.copy(flat)
            if comp == "real" and np.iscomplexobj(kept):
                kept[:, self.written] = 1j * np.imag(flat[:, self.written])
            elif comp == "imag":
                kept[:, self.written] = np.real(flat[:, self.written])
            else:
                kept[:, self.written] = 0
            out.append(np.reshape(kept, (k,) + self.shape))
        if live_item:
            got = flat[:, self.written]
            if comp is not None:
                got = np.real(got) if comp == "real" else -np.imag(got)
            if item.size == self.src.size and np.array_equal(self.src, np.arange(item.size)):
                out.append(np.reshape(got, (k,) + item.shape))
            elif type(got) is np.ndarray and got.dtype.kind == "f":
                bins = (self.src[None, :] + item.size * np.arange(k)[:, None]).ravel()
                acc = np.bincount(bins, weights=got.reshape(-1), minlength=k * item.size)
                out.append(np.reshape(acc, (k,) + item.shape))
            else:  # complex or nested: scatter-add by a linear map's transpose
                t = Transpose(np.concatenate([[0], 1 + self.src]), item.size)
                padded = np.concatenate([np.zeros((k, 1), np.result_type(got)), got], axis=1)
                out.append(np.reshape(t.apply(padded), (k,) + item.shape))
        return tuple(out)

    def jvp(self, saved, ts, live=None):
        old, item = self.inputs
        live_old, live_item = live or (isinstance(old, Node), isinstance(item, Node))
        it = iter(ts)
        told = next(it) if live_old else None
        titem = next(it) if live_item else None
        k = np.shape(ts[0])[0]
        dtype = np.result_type(*[t for t in (told, titem) if t is not None])
        comp = self.component
        if comp is not None:
            dtype = np.result_type(dtype, self.dtype)  # the root is complex
        new = np.zeros((k, self.size), dtype) if told is None else \
            np.reshape(np.copy(told), (k, -1)).astype(dtype, copy=False)
        if titem is None:
            item = 0.0
        else:
            if isinstance(titem, Carrier) and not isinstance(new, Carrier):
                new = np.zeros(np.shape(new), like=titem) + new
            item = np.reshape(titem, (k, -1))[:, self.src]
        if comp is None:
            new[:, self.written] = item
        elif isinstance(new, Carrier):  # nested: the component replaced arithmetically
            old = new[:, self.written]
            new[:, self.written] = item + 1j * np.imag(old) if comp == "real" else \
                np.real(old) + 1j * item
        else:
            getattr(new, comp)[:, self.written] = item
        return np.reshape(new, (k,) + self.shape)


class Guard(Node):
    """A discrete result (comparison, arg-reduction, branch) computed from the inputs;
    a prepared plan recomputes it and re-records when it differs."""

    __slots__ = ("fn", "kwargs", "result", "select")

    def __init__(self, fn, inputs, kwargs, result, select):
        super().__init__(inputs, np.shape(result), np.asarray(result).dtype)
        self.fn, self.kwargs, self.result, self.select = fn, kwargs, result, select

    def value(self, vals):
        return self.fn(*vals, **self.kwargs)


# -- the carrier ---------------------------------------------------------------------------

class Tape(Carrier):
    """A value recorded for reverse mode: ``Tape(value, node, tag)``, ``node`` None for a
    constant of the pass.  Use :func:`dualdiff.vjp` rather than building Tapes by hand.

    >>> import dualdiff as dd
    >>> y, pullback = dd.vjp(lambda x: x * x, np.array([1.0, 3.0]))
    >>> pullback(np.array([1.0, 1.0])).tolist()
    [2.0, 6.0]
    """

    __slots__ = ("node", "_captured")
    _part_names = ("value",)
    _aliasing = False

    def __init__(self, value, node: Node | None = None, tag: int = 0):
        if not isinstance(value, Carrier):
            value = np.asarray(value)
            if value.dtype.kind not in "fc":
                value = value.astype(float)
        self._init(value, tag)
        self.node, self._captured = node, False

    @classmethod
    def _make(cls, value, parts, tag):
        t = object.__new__(cls)
        t.value, t.node, t.tag, t._view, t._version, t._epoch = value, parts[0], tag, None, 0, 0
        t._captured = False
        return t

    @property
    def parts(self) -> tuple:
        return (self.node,)

    def _set_parts(self, parts) -> None:
        (self.node,) = parts

    def _orders(self):
        return ()

    @classmethod
    def _constant_parts(cls, value, like):
        return (None,)

    def __repr__(self) -> str:
        return f"Tape(value={self.value!r}, tag={self.tag})"

    # -- recording -------------------------------------------------------------------
    @classmethod
    def _elementwise(cls, ufunc, z, sp, first, second, tag, args):
        if all(f is None for f in first):
            return cls._make(z, (None,), tag)
        if any(p is not None and p[0] is None for _, p in sp):
            # a Tape of this pass without a node (np.zeros_like(x)) is a constant: its
            # value, not None, enters the program, and it gets no partial
            first = [None if p is None or p[0] is None else f for (_, p), f in zip(sp, first)]
            if all(f is None for f in first):
                return cls._make(z, (None,), tag)
            sp = [(v, None if p is None or p[0] is None else p) for v, p in sp]
        inputs = [p[0] if p is not None else snapshot(v) for v, p in sp]
        for (v, p), c in zip(sp, inputs):
            if p is None and c is not v:  # a writeable constant, snapshotted: so are the
                first = _unalias(first, v, c)  # partials that are (views of) it (x * c)
        node = Elementwise(ufunc, inputs, np.shape(z), _dtype(z), first)
        out = cls._make(z, (node,), tag)
        _capture(first, sp, args, out)
        return out

    @classmethod
    def _linear(cls, op, g, adjoint, sp, value, tag, args):
        if all(p is None or p[0] is None for _, p in sp):
            return cls._make(value, (None,), tag)
        inputs = [p[0] if p is not None and p[0] is not None else snapshot(v) for v, p in sp]
        return cls._make(value, (Linear(op, g, adjoint, inputs, np.shape(value),
                                        _dtype(value)),), tag)

    @classmethod
    def _primitive(cls, prim, sp, out, tag, args):
        if prim.vjp is None:
            raise NoReverseRule(f"{prim.name} has no reverse-mode (vjp) rule; use "
                                f"mode='forward' (for a function registered with "
                                f"dd.primitive: give it vjp=...)")
        multi = isinstance(out, tuple)
        if all(p is None or p[0] is None for _, p in sp):
            return tuple(cls._make(o, (None,), tag) for o in out) if multi \
                else cls._make(out, (None,), tag)
        inputs = [p[0] if p is not None and p[0] is not None else snapshot(v) for v, p in sp]
        vals = [v if isinstance(a, Node) else a for a, (v, _) in zip(inputs, sp)]
        node = Primitive(prim, inputs, (sum(np.size(o) for o in out),) if multi else
                         np.shape(out), None if multi else _dtype(out), (vals, out),
                         nout=len(out) if multi else 0)
        if not multi:
            result = cls._make(out, (node,), tag)
            _capture(vals + [out], sp, args, result)
            return result
        results = tuple(cls._make(o, (Slot(node, i, np.shape(o), _dtype(o)),), tag)
                        for i, o in enumerate(out))
        _capture(vals, sp, args, None)
        for r in results:
            r._captured = True
        return results

    @classmethod
    def _write_root(cls, root, written, src, parts, item_value, component=None):
        old = root.node
        item = parts[0] if parts is not None else None
        if old is None and item is None:
            return
        value = root.value
        root.node = Write(old if old is not None else _placeholder(value),
                          item if item is not None else snapshot(item_value),
                          written, src, np.shape(value), _dtype(value), component)

    @classmethod
    def _before_write(cls, root) -> bool:
        """Copy-on-write: a value some node saved is copied before it is written into."""
        if not getattr(root, "_captured", False):
            return False
        root.value = np.copy(root.value, order="K")  # the layout decides what NumPy views
        root._captured = False
        return True


def _unalias(first, v, copy) -> list:
    """The partials with every one that refers to the constant array v (which the
    caller may change in place later) replaced by its snapshot ``copy`` or a copy."""
    return [copy if f is v else f.copy() if type(f) is np.ndarray and
            np.may_share_memory(f, v) else f for f in first]


def _capture(saved, sp, args, out) -> None:
    """Mark the roots whose value arrays ``saved`` refers to (a later write copies them)."""
    for s in saved:
        if not isinstance(s, (np.ndarray, Carrier)):
            continue
        for (v, p), a in zip(sp, args):
            if p is not None and _shares(s, v):
                root_of(a)._captured = True
        if out is not None and _shares(s, out.value):
            out._captured = True


def _shares(s, v) -> bool:
    """Whether saved data s refers to (part of) the value v."""
    if s is v:
        return True
    if type(s) is np.ndarray and type(v) is np.ndarray:
        return np.may_share_memory(s, v)
    if isinstance(s, Carrier) and isinstance(v, Carrier):
        return root_of(s) is root_of(v)
    return False


def _dtype(v):
    return np.asarray(v).dtype if not isinstance(v, Carrier) else np.dtype(v.dtype)


def _placeholder(value):
    """A constant input of a Write whose value a plan recomputes from the write itself
    (the constant root's content before the write)."""
    return np.array(value, copy=True) if not isinstance(value, Carrier) else value.copy()


def _placeholder_shape(shape, like):
    return np.zeros(shape, _dtype(like))


# -- sweeps ---------------------------------------------------------------------------------

def postorder(roots, natural: bool = False) -> list:
    """Every node reachable from roots, each after its parents (depth first from each
    root; ``natural``: a node's parents are visited in their order, else last first).

    >>> leaf = Leaf((1,), np.dtype(float)); postorder([leaf, leaf]) == [leaf]
    True
    """
    out, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                out.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for p in (reversed(node.parents) if natural else node.parents):
                if id(p) not in seen:
                    stack.append((p, False))
    return out


def order(root: Node) -> list:
    """Nodes reachable from root, each after all of its consumers (root first).

    >>> leaf = Leaf((1,), np.dtype(float)); order(leaf) == [leaf]
    True
    """
    out = postorder([root])
    out.reverse()
    return out


def accumulate(a, b):
    """``a + b`` of two contributions to an adjoint, either of which may be None (none
    yet), lists summed element by element."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, list):
        return [accumulate(x, y) for x, y in zip(a, b)]
    return a + b


def backward(root: Node, leaf: Node, u, nodes: list, saved=None):
    """Adjoint at ``leaf`` of ``u`` (k, *root.shape) seeded at root: ``u @ J`` batched
    (None when root does not depend on leaf).  ``saved`` maps nodes to their saved
    data (default: what each node saved at recording)."""
    adj = {id(root): u}
    token = quiet()
    try:
        for node in nodes:
            a = adj.pop(id(node), None)
            if a is None:
                continue
            if node is leaf:
                return a
            s = node.saved if saved is None else saved[id(node)]
            for p, c in zip(node.parents, node.vjp(s, a)):
                if c is not None:
                    adj[id(p)] = accumulate(adj.get(id(p)), c)
    finally:
        loud(token)
    return None


def forward(root: Node, leaf: Node, t, nodes: list, saved=None):
    """Tangent at root of tangents t (k, *leaf.shape) seeded at leaf: ``J @ t`` batched,
    through the recorded program (f is not called again)."""
    k = np.shape(t)[0]
    users: dict = {}
    for node in nodes:
        for p in node.parents:
            users[id(p)] = users.get(id(p), 0) + 1
    tan = {id(leaf): t}
    token = quiet()
    try:
        for node in reversed(nodes):
            if node is leaf:
                continue
            ts = [tan[id(p)] if id(p) in tan else zeros((k,) + p.shape, p.dtype)
                  for p in node.parents]
            s = node.saved if saved is None else saved[id(node)]
            out = node.jvp(s, ts)
            for p in node.parents:
                users[id(p)] -= 1
                if not users[id(p)]:
                    tan.pop(id(p), None)
            tan[id(node)] = out
    finally:
        loud(token)
    return tan[id(root)]
