import numpy as np

import dualdiff as dd
from dualdiff.problems import MLP


def test_jacobian_of_mlp_matches_hand_derived():
    f = MLP(30, 20, seed=0)
    np.testing.assert_allclose(dd.jacobian(f, f.x0), f.jacobian(f.x0), rtol=1e-13, atol=1e-13)
