"""Reverse mode: one recording of f on a :class:`~dualdiff.tape.Tape`, swept any
number of times in either direction.

``Recording(f, x).sweep(u)`` maps cotangents u (k, *y.shape) to ``u @ J``
(k, *x.shape); ``push(t)`` maps tangents to ``J @ t`` over the same recording (f
is not called again).  With ``guards=True`` the recording also keeps every
discrete result computed from x (comparisons, arg-reductions, branches) as a
:class:`~dualdiff.tape.Guard`, so a prepared plan can tell when a new x takes
another path.
"""

from __future__ import annotations

import math

import numpy as np

from .core import Carrier, new_tag, recording
from .seeding import fresh, unpack
from .tape import Guard, Leaf, Node, Tape, backward, forward, order


class _Guards(list):
    """Collects the discrete results of one recording (the ones computed from x)."""

    def __init__(self, tag):
        super().__init__()
        self.tag = tag

    def observe(self, fn, args, kwargs, result, select=False):
        inputs = [_at_level(a, self.tag) for a in args]
        if any(isinstance(a, Node) for a in inputs) or any(
                isinstance(v, Carrier) for v in kwargs.values()):
            self.append(Guard(fn, inputs, {k: _plain(v) for k, v in kwargs.items()},
                              np.copy(result) if isinstance(result, np.ndarray) else result,
                              select))


def _at_level(a, tag):
    """An argument of a discrete function as the recording of ``tag`` sees it: the node
    of a Tape of that tag (found through nested carriers), else the plain value."""
    while isinstance(a, Carrier):
        if isinstance(a, Tape) and a.tag == tag:
            return a.node if a.node is not None else np.copy(a.value)
        a = a.value
    return a


def _plain(v):
    while isinstance(v, Carrier):
        v = v.value
    return v


def at_input(a, k: int, shape: tuple, dtype):
    """The adjoint ``a`` a backward sweep left at the input (None: none reached) as the
    (k,) + shape array a sweep returns.

    >>> at_input(None, 2, (3,), np.dtype(float)).shape
    (2, 3)
    """
    if a is None:
        return np.zeros((k,) + shape, dtype)
    if dtype.kind != "c" and np.iscomplexobj(a):
        a = np.real(a)  # the transpose of a real input's inclusion into C
    if isinstance(a, np.ndarray):
        return np.array(np.broadcast_to(a, (k,) + shape), dtype=np.result_type(a.dtype, dtype))
    return np.reshape(a, (k,) + shape)


class Recording:
    """One run of f on a Tape: its value and the program to sweep through.

    >>> rec = Recording(lambda x: x[0] * x, np.array([2.0, 3.0]))
    >>> rec.sweep(np.eye(2)).tolist(), rec.push(np.eye(2)).T.tolist()
    ([[4.0, 0.0], [3.0, 2.0]], [[4.0, 0.0], [3.0, 2.0]])
    """

    def __init__(self, f, x, guards: bool = False, inputs: tuple = ()):
        self.tag = tag = new_tag()
        self.x_shape, self.x_dtype = tuple(np.shape(x)), np.dtype(x.dtype)
        self.leaf = Leaf(self.x_shape, self.x_dtype)
        xin = Tape._make(fresh(x), (self.leaf,), tag)
        # further inputs that are not differentiated (a prepared plan's float args):
        # recorded as leaves of their own, so a replay can take new values for them
        self.input_leaves = [Leaf(np.shape(a), np.asarray(a).dtype) for a in inputs]
        extra = [Tape._make(fresh(a) if isinstance(a, np.ndarray) else a, (leaf,), tag)
                 for a, leaf in zip(inputs, self.input_leaves)]
        self.guards = _Guards(tag) if guards else None
        if guards:
            with recording(self.guards):
                y = f(xin, *extra)
        else:
            y = f(xin, *extra)
        self.value, (self.out,) = unpack(y, xin)
        self.y_shape = tuple(np.shape(self.value))
        self._order = None

    @property
    def order(self) -> list:
        """The recorded nodes reachable from the output, consumers first."""
        if self._order is None:
            self._order = order(self.out) if self.out is not None else []
        return self._order

    @property
    def mean_size(self) -> float:
        """Mean elements per node: small for scalar-loop code (Python-bound)."""
        sizes = [n.size for n in self.order]
        return sum(sizes) / len(sizes) if sizes else float(math.prod(self.x_shape))

    @property
    def max_size(self) -> int:
        """Largest node (elements): bounds the memory of one cotangent in a sweep."""
        return max([n.size for n in self.order] + [math.prod(self.y_shape),
                                                  math.prod(self.x_shape), 1])

    def sweep(self, u):
        """``u @ J`` for cotangents u (k, *y.shape) in one backward sweep: (k, *x.shape)."""
        a = backward(self.out, self.leaf, u, self.order) if self.out is not None else None
        return at_input(a, np.shape(u)[0], self.x_shape, self.x_dtype)

    def push(self, t):
        """``J @ t`` for tangents t (k, *x.shape), by a forward sweep over the recording."""
        k = np.shape(t)[0]
        if self.out is None:
            return np.zeros((k,) + self.y_shape, np.result_type(self.value, t))
        out = forward(self.out, self.leaf, t, self.order)
        if isinstance(out, np.ndarray):
            return np.broadcast_to(out, (k,) + self.y_shape)
        return out

    def pullback(self, u):
        """``u @ J`` shaped like x; a leading axis of u batches cotangents.

        A complex output of a real x has a complex J: ``u @ J`` is complex too (linear
        in complex u), from two sweeps as the rows of a reverse Jacobian are: a sweep
        gives ``Re(u @ J)`` (a real input takes the real part of its cotangent), so
        ``u @ J = sweep(u) - i sweep(i u)``.  JAX's vjp returns ``Re(u @ J)`` here:
        take ``np.real(pullback(u))`` for that.

        >>> rec = Recording(lambda x: np.exp(1j * x), np.zeros(1))
        >>> rec.pullback(np.ones(1)).tolist()
        [1j]
        """
        if not isinstance(u, Carrier):
            u = np.asarray(u)
            if u.dtype.kind not in "fc":
                u = u.astype(float)
        shape = np.shape(u)
        if shape == self.y_shape:
            return self._pull(u[None])[0]
        if shape[1:] == self.y_shape:
            return self._pull(u)
        raise ValueError(
            f"pullback: cotangent of shape {shape} does not fit f's output of shape "
            f"{self.y_shape}; pass {self.y_shape} or (k,) + {self.y_shape} for k at once.")

    def _pull(self, u):
        if self.x_dtype.kind != "c" and np.iscomplexobj(self.value):
            return self.sweep(u) - 1j * self.sweep(1j * u)
        return self.sweep(u)
