"""dualdiff: exact derivatives of plain NumPy code.

>>> import numpy as np, dualdiff as dd
>>> dd.jacobian(lambda x: np.sin(x) * x[0], np.array([0.0, 1.0])).round(6).tolist()
[[0.0, 0.0], [0.841471, 0.0]]
"""

from . import complexes as _complexes  # noqa: F401  (the function modules register)
from . import decompositions as _decompositions  # noqa: F401
from . import elementwise as _elementwise  # noqa: F401
from . import fft as _fft  # noqa: F401
from . import linalg as _linalg  # noqa: F401
from . import namespace as _namespace  # noqa: F401  (carriers' array-API namespace)
from . import polynomials as _polynomials  # noqa: F401
from . import products as _products  # noqa: F401
from . import reductions as _reductions  # noqa: F401
from . import registry as _registry  # noqa: F401
from . import scipy as _scipy  # noqa: F401  (SciPy's names with derivatives; errors name them)
from . import shape as _shape  # noqa: F401
from . import statistics as _statistics  # noqa: F401
from .api import (
    derivative,
    gradient,
    gradient_plan,
    hessian,
    hessian_plan,
    hessian_sparsity,
    hvp,
    hvp_plan,
    jacobian,
    jacobian_plan,
    jacobian_sparsity,
    jvp,
    value_and_gradient,
    value_and_jacobian,
    value_gradient_and_hessian,
    vjp,
)
from .dual import Dual
from .hyperdual import HyperDual
from .plans import DenseJacobianPlan, GradientPlan, HessianPlan, HvpPlan
from .sparse import JacobianPlan
from .sparse_hessian import SparseHessianPlan
from .user_rules import primitive_rule as primitive
from .user_rules import rule

__version__ = "0.2.0.dev0"
__all__ = ["Dual", "HyperDual", "derivative", "gradient", "jacobian", "jvp", "vjp",
           "value_and_jacobian", "value_and_gradient", "hessian", "hvp",
           "value_gradient_and_hessian", "jacobian_sparsity", "hessian_sparsity",
           "jacobian_plan", "JacobianPlan", "gradient_plan", "hessian_plan", "hvp_plan",
           "GradientPlan", "HessianPlan", "HvpPlan", "DenseJacobianPlan", "SparseHessianPlan",
           "rule", "primitive", "__version__"]
