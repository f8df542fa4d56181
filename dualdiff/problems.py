"""Test problems shared by the demo, the benchmark, the tests and the notebooks.

Each is written once, in plain NumPy, with its derivative derived by hand (the
references share no code with dualdiff's rules):

* :func:`rosen` (vectorised) and :func:`rosen_loop` (a Python loop over scalars):
  Rosenbrock's function, :func:`rosen_gradient`, :func:`rosen_hessian`;
* :func:`broyden`: Broyden's tridiagonal function (Moré, Garbow, Hillstrom no. 30),
  written with in-place writes; :func:`broyden_jacobian`;
* :func:`brusselator`: the 1-D Brusselator (Hairer & Wanner II), a stiff ODE
  right-hand side ``f(t, y)``; :func:`brusselator_jacobian`, :func:`brusselator_y0`;
* :class:`MLP`: ``W2 tanh(W1 x + b)``, a dense map with :meth:`MLP.jacobian`;
* :func:`elementwise`: ``sin(x) exp(-x^2) + x^3``, :func:`elementwise_derivative`.

``xp`` (where present) is the array namespace, NumPy by default: the benchmark
passes ``jax.numpy``, ``autograd.numpy`` or ``torch`` so the peers run the same code.

>>> import dualdiff as dd
>>> x = np.array([0.5, -1.0, 2.0])
>>> bool(np.allclose(dd.jacobian(broyden, x), broyden_jacobian(x)))
True
"""

from __future__ import annotations

import numpy as np

# -- Rosenbrock ---------------------------------------------------------------------


def rosen(x, xp=np):
    """Rosenbrock: ``sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2`` (as scipy.optimize.rosen).

    >>> float(rosen(np.ones(4))), float(rosen(np.zeros(3)))
    (0.0, 2.0)
    """
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosen_loop(x):
    """Rosenbrock as a Python loop over scalars (the code dualdiff must also take).

    >>> rosen_loop([1.0, 1.0, 1.0]), rosen_loop([0.0, 0.0])
    (0.0, 1.0)
    """
    s = 0.0
    for i in range(len(x) - 1):
        s = s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def rosen_gradient(x) -> np.ndarray:
    """By hand: ``g[i] = -400 x[i] (x[i+1] - x[i]^2) - 2 (1 - x[i]) + 200 (x[i] - x[i-1]^2)``.

    >>> rosen_gradient(np.array([2.0, 0.0])).tolist()
    [3202.0, -800.0]
    """
    x = np.asarray(x, dtype=float)
    d = x[1:] - x[:-1] ** 2
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * d - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * d
    return g


def rosen_hessian(x) -> np.ndarray:
    """By hand (tridiagonal): ``H[i,i] = 1200 x[i]^2 - 400 x[i+1] + 2 (+200 if i > 0)``,
    ``H[i,i+1] = -400 x[i]``.

    >>> rosen_hessian(np.ones(2)).tolist()
    [[802.0, -400.0], [-400.0, 200.0]]
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    diag = np.zeros(n)
    diag[:-1] = 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    diag[1:] += 200.0
    off = -400.0 * x[:-1]
    return np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)


# -- Broyden tridiagonal --------------------------------------------------------------


def broyden(x):
    """Broyden tridiagonal: ``F_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1``, x_0 = x_{n+1}
    = 0, written with in-place writes into slices.

    >>> broyden(np.zeros(3)).tolist(), broyden(np.ones(2)).tolist()
    ([1.0, 1.0, 1.0], [0.0, 1.0])
    """
    F = (3.0 - 2.0 * x) * x + 1.0
    F[1:] -= x[:-1]
    F[:-1] -= 2.0 * x[1:]
    return F


def broyden_jacobian(x) -> np.ndarray:
    """By hand: diagonal ``3 - 4 x_i``, sub-diagonal -1, super-diagonal -2.

    >>> broyden_jacobian(np.zeros(2)).tolist()
    [[3.0, -2.0], [-1.0, 3.0]]
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    return np.diag(3.0 - 4.0 * x) - np.eye(n, k=-1) - 2.0 * np.eye(n, k=1)


# -- Brusselator ------------------------------------------------------------------------

#: the Brusselator's diffusion coefficient
ALPHA = 1.0 / 50.0


def brusselator(t, y):
    """1-D Brusselator ``y' = f(t, y)``: u and v interleaved in y (``u = y[0::2]``), N = len(y)
    / 2 grid points, Dirichlet boundaries u = 1, v = 3, c = ALPHA (N + 1)^2::

        u' = 1 + u^2 v - 4 u + c (u_{i-1} - 2 u_i + u_{i+1})
        v' = 3 u - u^2 v + c (v_{i-1} - 2 v_i + v_{i+1})

    >>> brusselator(0.0, np.array([1.0, 3.0])).tolist()
    [0.0, 0.0]
    """
    u, v = y[0::2], y[1::2]
    c = ALPHA * (u.shape[0] + 1) ** 2
    up = np.concatenate([[1.0], u, [1.0]])
    vp = np.concatenate([[3.0], v, [3.0]])
    du = 1.0 + u * u * v - 4.0 * u + c * (up[:-2] - 2.0 * u + up[2:])
    dv = 3.0 * u - u * u * v + c * (vp[:-2] - 2.0 * v + vp[2:])
    return np.stack([du, dv], axis=1).ravel()


def brusselator_jacobian(y) -> np.ndarray:
    """By hand: per grid point ``[[2uv - 4 - 2c, u^2], [3 - 2uv, -u^2 - 2c]]``, and c between
    neighbours of one species.

    >>> brusselator_jacobian(np.array([1.0, 3.0])).tolist()
    [[1.84, 1.0], [-3.0, -1.16]]
    """
    y = np.asarray(y, dtype=float)
    u, v = y[0::2], y[1::2]
    N = u.size
    c = ALPHA * (N + 1) ** 2
    J = np.zeros((2 * N, 2 * N))
    i = np.arange(N)
    J[2 * i, 2 * i] = 2.0 * u * v - 4.0 - 2.0 * c
    J[2 * i, 2 * i + 1] = u * u
    J[2 * i + 1, 2 * i] = 3.0 - 2.0 * u * v
    J[2 * i + 1, 2 * i + 1] = -u * u - 2.0 * c
    for s in (0, 1):
        J[2 * i[1:] + s, 2 * i[:-1] + s] = c
        J[2 * i[:-1] + s, 2 * i[1:] + s] = c
    return J


def brusselator_y0(N: int) -> np.ndarray:
    """Hairer & Wanner's initial state on N grid points: ``u = 1 + sin(2 pi x)``, ``v = 3``.

    >>> brusselator_y0(2).shape
    (4,)
    """
    xg = np.arange(1, N + 1) / (N + 1)
    return np.stack([1.0 + np.sin(2.0 * np.pi * xg), np.full(N, 3.0)], axis=1).ravel()


# -- a small neural network ---------------------------------------------------------------


class MLP:
    """``f(x) = W2 tanh(W1 x + b)``: R^n -> R^m, hidden width ``hidden``, weights drawn from
    ``seed`` and scaled by 1/sqrt(fan-in); ``x0`` a point drawn from the same seed.

    >>> f = MLP(5, 3)
    >>> f(f.x0).shape, f.jacobian(f.x0).shape
    ((3,), (3, 5))
    """

    def __init__(self, n: int, m: int, hidden: int = 64, seed: int = 0, bias: bool = True):
        rng = np.random.default_rng(seed)
        self.n, self.m, self.hidden = n, m, hidden
        self.w1 = rng.normal(size=(hidden, n)) / np.sqrt(n)
        self.w2 = rng.normal(size=(m, hidden)) / np.sqrt(hidden)
        self.b = rng.normal(size=hidden) if bias else np.zeros(hidden)
        self.x0 = rng.normal(size=n)

    def __call__(self, x):
        return _mlp(x, self.w1, self.b, self.w2, np)

    def on(self, xp):
        """This function over the arrays of namespace ``xp`` (weights converted once)."""
        w1, b, w2 = (xp.asarray(a) for a in (self.w1, self.b, self.w2))
        return lambda x: _mlp(x, w1, b, w2, xp)

    def jacobian(self, x) -> np.ndarray:
        """By hand: ``W2 diag(1 - tanh^2(W1 x + b)) W1``."""
        z = np.tanh(self.w1 @ np.asarray(x, dtype=float) + self.b)
        return self.w2 @ ((1.0 - z * z)[:, None] * self.w1)

    def __repr__(self) -> str:
        return f"MLP(n={self.n}, m={self.m}, hidden={self.hidden})"


def _mlp(x, w1, b, w2, xp):
    return w2 @ xp.tanh(w1 @ x + b)


# -- element-wise --------------------------------------------------------------------------


def elementwise(x, xp=np):
    """``sin(x) exp(-x^2) + x^3``, element by element (a diagonal Jacobian).

    >>> elementwise(np.zeros(2)).tolist()
    [0.0, 0.0]
    """
    return xp.sin(x) * xp.exp(-x * x) + x * x * x


def elementwise_derivative(x) -> np.ndarray:
    """By hand: ``(cos x - 2 x sin x) exp(-x^2) + 3 x^2``.

    >>> elementwise_derivative(np.zeros(1)).tolist()
    [1.0]
    """
    x = np.asarray(x, dtype=float)
    return (np.cos(x) - 2.0 * x * np.sin(x)) * np.exp(-x * x) + 3.0 * x * x
