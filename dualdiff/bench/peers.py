"""The tools users would otherwise pick, found at run time (never dependencies).

Every peer runs the problem from :mod:`dualdiff.problems` through its own array
namespace (``xp``), or, where the peer cannot run the NumPy code (JAX has no item
assignment), the rewrite its users would have to write, kept here.  Each result is
checked against dualdiff's before it is timed.
"""

from __future__ import annotations

import importlib.util

import numpy as np

#: peer -> (module to import, how to install it)
PEERS = {
    "jax": ("jax", 'pip install "jax[cpu]"   (or pip install -e ".[peers]")'),
    "autograd": ("autograd", 'pip install autograd   (or pip install -e ".[peers]")'),
    "casadi": ("casadi", 'pip install casadi   (or pip install -e ".[peers]")'),
    "numdifftools": ("numdifftools",
                     'pip install numdifftools   (or pip install -e ".[peers]")'),
    "torch": ("torch", "pip install torch==2.13.0   (a CPU build; not in the peers extra: "
                       "the default build of another spec downloads gigabytes of GPU libraries)"),
}


def available() -> dict:
    """``{peer: True/False}``: which peers import here.

    >>> set(available()) == set(PEERS)
    True
    """
    found = {}
    for name, (module, _) in PEERS.items():
        try:
            found[name] = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found[name] = False
    return found


def missing_lines(found: dict) -> list:
    """One line per missing peer with the command that installs it.

    >>> missing_lines({"jax": True, "torch": False})[0].startswith("torch: pip install torch")
    True
    """
    return [f"{name}: {PEERS[name][1]}" for name, ok in found.items() if not ok]


def jax():
    """``(jax, jax.numpy)`` with float64 enabled (dualdiff computes in float64)."""
    import jax as jax_
    import jax.numpy as jnp

    jax_.config.update("jax_enable_x64", True)
    return jax_, jnp


def broyden_jax(x):
    """:func:`dualdiff.problems.broyden` as JAX users must write it (no item assignment)."""
    F = (3.0 - 2.0 * x) * x + 1.0
    F = F.at[1:].add(-x[:-1])
    return F.at[:-1].add(-2.0 * x[1:])


def broyden_functional(x, xp):
    """:func:`dualdiff.problems.broyden` without writes (autograd and torch.func refuse them)."""
    zero = x[:1] * 0.0
    return ((3.0 - 2.0 * x) * x + 1.0 - xp.concatenate([zero, x[:-1]])
            - 2.0 * xp.concatenate([x[1:], zero]))


class TorchNumpy:
    """torch under the NumPy names the problems use (``concatenate`` is ``cat``)."""

    def __init__(self):
        import torch

        self.torch = torch

    def asarray(self, a):
        return self.torch.asarray(np.asarray(a))

    def __getattr__(self, name):
        return getattr(self.torch, {"concatenate": "cat"}.get(name, name))
