import numpy as np

import dualdiff as dd


def test_jacobian_of_mlp_matches_hand_derived():
    rng = np.random.default_rng(0)
    w1, w2, b = rng.normal(size=(64, 30)), rng.normal(size=(20, 64)), rng.normal(size=64)
    x = rng.normal(size=30)
    jac = dd.jacobian(lambda x: w2 @ np.tanh(w1 @ x + b), x)
    ref = w2 @ ((1 - np.tanh(w1 @ x + b) ** 2)[:, None] * w1)
    np.testing.assert_allclose(jac, ref, rtol=1e-13, atol=1e-13)
