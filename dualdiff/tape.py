"""Reverse mode: a carrier that records a graph as NumPy code runs on it.

``Tape(value, node, tag)`` holds a primal value and the :class:`Node` that
produced it.  Operations run through the same dispatch and the same rules
table as :class:`~dualdiff.dual.Dual`; instead of pushing tangents forward
they record, for each result, its parents and a ``backward`` function that
maps the result's adjoint ``u`` (a leading axis of k cotangents) to each
parent's contribution:

* element-wise rows of :mod:`dualdiff.rules`: ``u * f'(x)`` (the same first
  derivative Dual multiplies the tangent by), summed over broadcast axes;
* linear maps: the given ``adjoint``, or else the transpose of the map's
  index map (a gather when the map is injective, a scatter-add otherwise);
* primitives: their ``vjp`` rule (``rules.Primitive.vjp``).

There is no global tape: a graph hangs off its output, so threads and nested
passes never share state.  Tags work as for Dual (the newest tag owns an
operation), so reverse-over-forward and forward-over-reverse both nest.
Item assignment is recorded functionally: the assigned Tape gets a new node
and a new value array, and the old ones stay intact for earlier nodes.

>>> import numpy as np
>>> from dualdiff.carrier import new_tag
>>> x = Tape(np.array([1.0, 2.0]), Node(shape=(2,)), new_tag())
>>> y = np.sum(np.sin(x) * x)
>>> g = backward(y, x.node, np.ones((1,)))
>>> bool(np.allclose(g[0], np.sin([1.0, 2.0]) + np.cos([1.0, 2.0]) * [1.0, 2.0]))
True
"""

from __future__ import annotations

import math

import numpy as np

from . import rules
from .carrier import Carrier, new_tag
from .dispatch import index_map, lift
from .dual import expand, fit, nan_safe_product, promote, zeros


class NoReverseRule(TypeError):
    """A primitive without a vjp rule met the tape (auto mode falls back to forward)."""


class Node:
    """A vertex of the graph: ``parents`` and ``backward(u) -> contributions``
    (``Node(shape=x.shape)`` is a leaf: an input).

    ``backward`` returns one adjoint (leading cotangent axis) or None per parent.
    ``forward(tangents) -> tangent`` pushes the parents' tangents (k, ...)
    through the same local derivative (a forward sweep over the recording).
    A multi-output primitive has one node whose adjoint is a list (one slot per
    output); each output's node feeds its slot."""

    __slots__ = ("parents", "backward", "forward", "size", "slot", "nout", "shape")

    def __init__(self, parents=(), backward=None, forward=None, shape=(), slot=None, nout=0):
        self.parents, self.backward, self.forward = parents, backward, forward
        self.shape, self.size = tuple(shape), math.prod(shape)
        self.slot, self.nout = slot, nout


def _unbroadcast(u, shape: tuple):
    """Sum ``u`` (k, ...) over the axes that broadcasting added to ``shape``."""
    shape = tuple(shape)
    extra = np.ndim(u) - 1 - len(shape)
    axes = tuple(range(1, 1 + extra)) + tuple(
        1 + extra + i for i, s in enumerate(shape) if s == 1 and np.shape(u)[1 + extra + i] != 1)
    if axes:
        u = np.sum(u, axis=axes, keepdims=True)
        if extra:
            u = np.reshape(u, np.shape(u)[:1] + np.shape(u)[1 + extra:])
    if np.shape(u)[1:] != shape:  # u was smaller (a broadcast factor): fill out
        u = np.broadcast_to(u, np.shape(u)[:1] + shape)
    return u


class _Transpose:
    """_Transpose of an element-moving map, from its index map (0 = filled zero).

    ``apply(u)`` takes the output adjoint (k, M) flattened and returns (k, N):
    a reshape when the map is the identity order, a gather when it is
    injective, else a scatter-add (np.bincount; layers of gathers on carriers)."""

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
            return np.concatenate([u, np.zeros((k, 1))], axis=1)[:, self.inv]
        if isinstance(u, np.ndarray):
            m = self.idx.size
            bins = (self.idx[None, :] + (self.n + 1) * np.arange(k)[:, None]).ravel()
            out = np.bincount(bins, weights=u.reshape(k * m), minlength=k * (self.n + 1))
            return out.reshape(k, self.n + 1)[:, 1:]
        # a carrier (nested pass): sum injective layers of gathers, exactly
        if self.layers is None:
            order = np.argsort(self.idx, kind="stable")
            sidx = self.idx[order]
            first = np.searchsorted(sidx, sidx)
            rank = np.arange(sidx.size) - first
            self.layers = []
            for r in range(int(rank.max()) + 1):
                sel = (rank == r) & (sidx > 0)
                inv = np.full(self.n + 1, self.idx.size)
                inv[sidx[sel]] = order[sel]
                self.layers.append(inv[1:])
        padded = np.concatenate([u, np.zeros((k, 1))], axis=1)
        total = None
        for inv in self.layers:
            term = padded[:, inv]
            total = term if total is None else total + term
        return total


class Tape(Carrier):
    """A value recorded for reverse mode: ``Tape(value, node, tag)``.

    ``node`` is None for a constant of this pass.  Use :func:`dualdiff.vjp`
    rather than building Tapes by hand.

    >>> import numpy as np, dualdiff as dd
    >>> y, pullback = dd.vjp(lambda x: x * x, np.array([1.0, 3.0]))
    >>> pullback(np.array([1.0, 1.0])).tolist()
    [2.0, 6.0]
    """

    # _base: (base Tape, index, base's version) when self is a view x[basic index];
    # _version counts assignments into self (see _setitem).
    __slots__ = ("value", "node", "tag", "_base", "_version")
    _part_names = ("value",)
    _lead = (0,)

    def __init__(self, value, node: Node | None = None, tag: int = 0):
        if not isinstance(value, Carrier):
            value = np.asarray(value, dtype=float)
        self.value, self.node, self.tag, self._base, self._version = value, node, tag, None, 0

    @classmethod
    def _new(cls, value, node, tag):
        t = object.__new__(cls)
        t.value, t.node, t.tag, t._base, t._version = value, node, tag, None, 0
        return t

    def __getitem__(self, index):
        """``x[index]``; with a basic index the result is a view of x, as in NumPy:
        assignments into it are written back into x."""
        out = super().__getitem__(index)
        parts = index if isinstance(index, tuple) else (index,)
        if isinstance(out, Tape) and out.tag == self.tag and all(
                i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))
                for i in parts):
            out._base = (self, index, self._version)
        return out

    @property
    def parts(self) -> tuple:
        return (self.value,)

    @classmethod
    def _from_parts(cls, parts, tag):
        return cls._new(parts[0], None, tag)

    def _map_parts(self, fn):  # copy / astype(float): the identity on adjoints
        value = fn(self.value)
        if self.node is None:
            return self._new(value, None, self.tag)
        return self._new(value, Node((self.node,), _identity, _same, np.shape(value)),
                         self.tag)

    @staticmethod
    def zero_parts(k: int, shape: tuple) -> tuple:
        return ()

    @staticmethod
    def _split(x, tag):
        """(value, node or None) of x as seen by a pass of ``tag``."""
        if isinstance(x, Tape) and x.tag == tag:
            if x._base is not None and x._base[0]._version != x._base[2]:
                raise TypeError(
                    "reverse mode: this array is a view (x[...]) of an array that was "
                    "assigned into after the view was taken; the recording would use stale "
                    "values. Take the slice after the assignment, or use mode='forward'.")
            return x.value, x.node
        return x, None

    def __repr__(self) -> str:
        return f"Tape(value={self.value!r}, tag={self.tag})"

    # -- the four kinds of rule ----------------------------------------------
    @classmethod
    def _unary(cls, ufunc, x):
        v, node = x.value, x.node
        y = ufunc(v)
        if node is None or ufunc in rules.PIECEWISE_CONSTANT:
            return cls._new(y, None, x.tag)
        d1 = rules.UNARY[ufunc][0]
        with np.errstate(all="ignore"):
            d = d1(v, y) if callable(d1) else d1
        kink = ufunc in rules.KINKS
        if kink:
            # Dual's basis seeding gives |t| at 0, i.e. slope +1 along each seeded input
            d = np.where(v == 0, 1.0, d)
        if type(d) is float and d == 1.0:
            back, fwd = _identity, _same
        else:
            def back(u):
                with np.errstate(all="ignore"):
                    return (nan_safe_product(u, d),)

            def fwd(ts):
                with np.errstate(all="ignore"):
                    out = nan_safe_product(ts[0], d)
                return np.where(v == 0, np.abs(ts[0]), out) if kink else out
        return cls._new(y, Node((node,), back, fwd, np.shape(y)), x.tag)

    @classmethod
    def _binary(cls, ufunc, a, b, tag):
        (fa, fb), _ = rules.BINARY[ufunc]
        av, an = cls._split(a, tag)
        bv, bn = cls._split(b, tag)
        z = ufunc(av, bv)
        parents, factors, shapes = [], [], []
        with np.errstate(all="ignore"):
            for deriv, node, val, pos in ((fa, an, av, "first"), (fb, bn, bv, "second")):
                if node is None or (type(deriv) is float and deriv == 0.0):
                    continue
                if deriv is rules.NONDIFF:
                    raise TypeError(
                        f"{ufunc.__name__}: no derivative with respect to its {pos} "
                        f"argument; pass a constant there.")
                parents.append(node)
                factors.append(deriv(av, bv, z) if callable(deriv) else deriv)
                shapes.append(np.shape(val))
        if not parents:
            return cls._new(z, None, tag)

        def back(u):
            out = []
            with np.errstate(all="ignore"):
                for f, s in zip(factors, shapes):
                    term = u if type(f) is float and f == 1.0 else nan_safe_product(u, f)
                    out.append(_unbroadcast(term, s))
            return tuple(out)

        zshape = np.shape(z)

        def fwd(ts):
            out = None
            with np.errstate(all="ignore"):
                for f, t in zip(factors, ts):
                    t = expand(t, len(zshape))
                    term = t if type(f) is float and f == 1.0 else nan_safe_product(t, f)
                    out = term if out is None else out + term
            return out if out.shape[1:] == zshape else fit(out, zshape)

        return cls._new(z, Node(tuple(parents), back, fwd, zshape), tag)

    @classmethod
    def _linear(cls, g, xs, tag, op, adjoint=None):
        split = [cls._split(x, tag) for x in xs]
        values = [v for v, _ in split]
        value = op(*values)
        nodes = [n for _, n in split]
        if all(n is None for n in nodes):
            return cls._new(value, None, tag)
        shapes = [np.shape(v) for v in values]
        out_shape = np.shape(value)
        if adjoint is not None:
            if len(xs) != 1:
                raise TypeError("a linear map with an explicit adjoint takes one argument")
            shape = shapes[0]

            def back(u):
                return (np.reshape(adjoint(u), np.shape(u)[:1] + shape),)

            return cls._new(value, Node((nodes[0],), back, lambda ts: g(ts[0]), out_shape), tag)
        live = [i for i, n in enumerate(nodes) if n is not None]
        sizes = [math.prod(s) for s in shapes]
        offsets = np.cumsum([0] + sizes)
        plan = []

        def back(u):
            if not plan:
                plan.append(_Transpose(index_map(op, shapes), int(offsets[-1])))
            k = np.shape(u)[0]
            flat = plan[0].apply(np.reshape(u, (k, -1)))
            return tuple(np.reshape(flat[:, offsets[i]:offsets[i + 1]], (k,) + shapes[i])
                         for i in live)

        def fwd(ts):
            it = iter(ts)
            k = np.shape(ts[0])[0]
            return g(*[next(it) if n is not None else zeros(k, s) for n, s in zip(nodes, shapes)])

        node = Node(tuple(nodes[i] for i in live), back, fwd, out_shape)
        return cls._new(value, node, tag)

    @classmethod
    def _primitive(cls, prim, args, tag):
        if prim.vjp is None:
            raise NoReverseRule(f"{prim.name} has no reverse-mode (vjp) rule yet; use "
                                f"mode='forward'")
        split = [cls._split(x, tag) for x in args]
        values = [v for v, _ in split]
        out = prim.fn(*values)
        nodes = [n for _, n in split]
        live = tuple(i for i, n in enumerate(nodes) if n is not None)
        if not live:
            if isinstance(out, tuple):
                return tuple(cls._new(o, None, tag) for o in out)
            return cls._new(out, None, tag)
        needs = tuple(n is not None for n in nodes)
        multi = isinstance(out, tuple)

        def back(u):
            adj = prim.vjp(out, values, u, needs)
            return tuple(adj[i] for i in live)

        def fwd(ts):
            it = iter(ts)
            return prim.jvp(out, values, [next(it) if n is not None else None for n in nodes])

        size = (sum(math.prod(np.shape(o)) for o in out),) if multi else np.shape(out)
        node = Node(tuple(nodes[i] for i in live), back, fwd, size,
                    nout=len(out) if multi else 0)
        if not multi:
            return cls._new(out, node, tag)
        return tuple(cls._new(o, Node((node,), _identity, None, np.shape(o), slot=i), tag)
                     for i, o in enumerate(out))

    def _setitem(self, index, item):
        """``self[index] = item`` recorded as a new node; old value and node stay intact."""
        value, inode = self._split(item, self.tag)
        base = self.value
        base = promote(base.copy() if isinstance(base, Carrier) else np.array(base), value)
        base[index] = value
        old = self.node
        self._version += 1
        if old is None and inode is None:
            self.value = base
            self._write_back()
            return
        head = (slice(None),) + (index if isinstance(index, tuple) else (index,))
        item_shape = np.shape(value)
        parents = tuple(n for n in (old, inode) if n is not None)

        def back(u):
            out = []
            if old is not None:
                kept = u.copy()
                kept[head] = 0.0
                out.append(kept)
            if inode is not None:
                out.append(_unbroadcast(u[head], item_shape))
            return tuple(out)

        shape = np.shape(base)
        nd = np.ndim(self.value[index])

        def fwd(ts):
            k = np.shape(ts[0])[0]
            t = ts[0].copy() if old is not None else np.zeros((k,) + shape)
            if inode is not None:
                t = promote(t, ts[-1])
            t[head] = 0.0 if inode is None else expand(ts[-1], nd)
            return t

        self.value, self.node = base, Node(parents, back, fwd, shape)
        self._write_back()

    def _write_back(self):
        """A view's new content goes back into its base (NumPy's view semantics)."""
        if self._base is not None:
            base, index, _ = self._base
            base[index] = Tape._new(self.value, self.node, self.tag)
            self._base = (base, index, base._version)


def _identity(u):
    return (u,)


def _same(ts):
    return ts[0]


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, list):
        return [_add(x, y) for x, y in zip(a, b)]
    return a + b


def _topological(root: Node) -> list:
    """Nodes reachable from root, each after all of its consumers (root first)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for p in node.parents:
            if id(p) not in seen:
                stack.append((p, False))
    order.reverse()
    return order


def backward(y: Tape, leaf: Node, u, order: list | None = None):
    """Adjoint at ``leaf`` of ``u`` (k, *y.shape) seeded at y: ``u @ J`` batched.

    Returns None when y does not depend on leaf."""
    root = y.node if isinstance(y, Tape) else None
    if root is None:
        return None
    if order is None:
        order = _topological(root)
    adj = {id(root): u}
    for node in order:
        a = adj.pop(id(node), None)
        if a is None or node is leaf:
            if node is leaf:
                return a
            continue
        if node.slot is not None:  # one output of a multi-output primitive
            (p,) = node.parents
            slots = [None] * p.nout
            slots[node.slot] = a
            adj[id(p)] = _add(adj.get(id(p)), slots)
            continue
        for p, c in zip(node.parents, node.backward(a)):
            if c is not None:
                adj[id(p)] = _add(adj.get(id(p)), c)
    return None


def _forward_sweep(y: Tape, leaf: Node, t, order: list):
    """Tangent at y of tangents t (k, *x.shape) seeded at leaf: ``J @ t`` batched,
    through the recorded graph (f is not called again)."""
    root = y.node if isinstance(y, Tape) else None
    k = np.shape(t)[0]
    if root is None:
        return np.zeros((k,) + np.shape(y))
    users: dict = {}
    for node in order:
        for p in node.parents:
            users[id(p)] = users.get(id(p), 0) + 1
    tan = {id(leaf): t}
    for node in reversed(order):
        if node is leaf:
            continue
        if node.slot is not None:
            (p,) = node.parents
            out = tan[id(p)][node.slot]
            if out is None:
                out = zeros(k, node.shape)
        else:
            out = node.forward([tan[id(p)] for p in node.parents])
        for p in node.parents:
            users[id(p)] -= 1
            if not users[id(p)]:
                del tan[id(p)]
        tan[id(node)] = out
    return tan[id(root)]


def _collect(y, tag: int) -> Tape:
    """f's output as one Tape of this pass (lists, tuples, object arrays stacked)."""
    y = lift(y)
    if isinstance(y, Tape) and y.tag == tag:
        return y
    if isinstance(y, Carrier):
        return Tape._new(y, None, tag)
    from .drivers import output_constant

    return Tape._new(output_constant(y), None, tag)


class Recording:
    """One run of f on a Tape: its value and the graph to sweep through.

    ``sweep(u)`` maps cotangents u (k, *y.shape) to u @ J (k, *x.shape), ``push(t)``
    tangents t (k, *x.shape) to J @ t; both can be called any number of times and
    share nothing with other recordings.

    >>> import numpy as np
    >>> rec = Recording(lambda x: x[0] * x, np.array([2.0, 3.0]))
    >>> rec.sweep(np.eye(2)).tolist(), rec.push(np.eye(2)).T.tolist()
    ([[4.0, 0.0], [3.0, 2.0]], [[4.0, 0.0], [3.0, 2.0]])
    """

    def __init__(self, f, x):
        self.tag = new_tag()
        self.leaf = Node(shape=np.shape(x))
        self.x_shape = tuple(np.shape(x))
        self.out = _collect(f(Tape._new(x, self.leaf, self.tag)), self.tag)
        self.value = self.out.value
        self.y_shape = tuple(np.shape(self.value))
        self._order = None

    @property
    def order(self) -> list:
        if self._order is None and self.out.node is not None:
            self._order = _topological(self.out.node)
        return self._order or []

    @property
    def mean_size(self) -> float:
        """Mean elements per node: small for scalar-loop code (Python-bound)."""
        sizes = [n.size for n in self.order]
        return sum(sizes) / len(sizes) if sizes else float(self.leaf.size)

    @property
    def max_size(self) -> int:
        """Largest node (elements): bounds the memory of one cotangent in a sweep."""
        return max([n.size for n in self.order] + [math.prod(self.y_shape), self.leaf.size, 1])

    def sweep(self, u, copy: bool = True):
        """``u @ J`` for cotangents u (k, *y.shape) in one backward sweep: (k, *x.shape)."""
        k = np.shape(u)[0]
        a = None
        if self.out.node is not None:
            a = backward(self.out, self.leaf, u, self.order)
        if a is None:
            return np.zeros((k,) + self.x_shape)
        if isinstance(a, np.ndarray):
            a = np.broadcast_to(a, (k,) + self.x_shape)
            return np.array(a, dtype=float) if copy else a
        return np.reshape(a, (k,) + self.x_shape)

    def push(self, t):
        """``J @ t`` for tangents t (k, *x.shape), by a forward sweep over the recording."""
        k = np.shape(t)[0]
        out = _forward_sweep(self.out, self.leaf, t, self.order)
        if isinstance(out, np.ndarray):
            return np.broadcast_to(out, (k,) + self.y_shape)
        return out

    def pullback(self, u):
        """``u @ J`` shaped like x; a leading axis of u batches cotangents."""
        if not isinstance(u, Carrier):
            u = np.asarray(u, dtype=float)
        shape = np.shape(u)
        if shape == self.y_shape:
            return self.sweep(u[None])[0]
        if shape[1:] == self.y_shape:
            return self.sweep(u)
        raise ValueError(
            f"pullback: cotangent of shape {shape} does not fit f's output of shape "
            f"{self.y_shape}; pass {self.y_shape} or (k,) + {self.y_shape} for k at once.")
