"""dualdiff: exact derivatives of plain NumPy code with dual numbers.

>>> import numpy as np, dualdiff as dd
>>> dd.jacobian(lambda x: np.sin(x) * x[0], np.array([0.0, 1.0])).round(6).tolist()
[[0.0, 0.0], [0.841471, 0.0]]
"""

from . import functions as _functions  # noqa: F401  (registers NumPy functions)
from . import linalg as _linalg  # noqa: F401
from .drivers import derivative, gradient, jacobian, jvp, value_and_jacobian, vjp
from .dual import Dual
from .hessian import hessian, hvp, value_gradient_and_hessian
from .hyperdual import HyperDual
from .sparse import JacobianPlan, jacobian_plan, jacobian_sparsity

__version__ = "0.1.0"
__all__ = ["Dual", "HyperDual", "derivative", "gradient", "jacobian", "jvp", "vjp",
           "value_and_jacobian", "hessian", "hvp", "value_gradient_and_hessian",
           "jacobian_sparsity", "jacobian_plan", "JacobianPlan", "__version__"]
