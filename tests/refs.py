"""Reference derivatives that share no code with dualdiff (plain NumPy only)."""

from __future__ import annotations

import numpy as np

H = 1e-200


def cs_jacobian(f, x):
    """Complex-step Jacobian of f at real x: exact to rounding where f is analytic and its
    plain-NumPy implementation accepts complex input.  Shape f(x).shape + x.shape."""
    x = np.asarray(x, dtype=float)
    y0 = np.asarray(f(x.copy()))  # (f may write into its argument)
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size, dtype=complex)
        e[j] = 1j * H
        cols.append(np.imag(np.asarray(f(x + e.reshape(x.shape)))) / H)
    jac = np.stack(cols, axis=-1) if cols else np.zeros(y0.shape + (0,))
    return jac.reshape(y0.shape + x.shape)


def cd_jacobian(f, x, h=1e-6):
    """Central-difference Jacobian: truncation h^2/6 |f'''|, rounding ~eps |f| / h, so about
    1e-10 relative for h = 1e-6 on well-scaled smooth functions (use rtol ~1e-7)."""
    x = np.asarray(x, dtype=float)
    y0 = np.asarray(f(x.copy()))  # (f may write into its argument)
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        e = e.reshape(x.shape)
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    jac = np.stack(cols, axis=-1) if cols else np.zeros(y0.shape + (0,))
    return jac.reshape(y0.shape + x.shape)


def cs_cd_hessian(g, x):
    """Hessian of a scalar g: central differences (h = 1e-5) of the complex-step gradient
    (rounding ~eps / h, truncation h^2: use rtol ~1e-7)."""
    return cd_jacobian(lambda y: cs_jacobian(g, y), x, h=1e-5)


def rnd(*shape, seed=0):
    """Standard normal numbers of ``shape``, seeded."""
    return np.random.default_rng(seed).normal(size=shape)
