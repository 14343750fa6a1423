"""The one Adam of optimize and fit: hand-computed steps, per-parameter learning rates."""
import numpy as np
import pytest

from scratchlight.optimize import Adam


def test_first_step_is_minus_lr_sign_of_gradient():
    # t = 1: m_hat = g and v_hat = g^2, so the step is -lr g / (|g| + eps) = -lr sign(g)
    x = np.array([0.5, 0.5, 0.5, 0.5])
    g = np.array([3.0, -0.25, 1e-3, -40.0])
    new = Adam(0.02).step(x, g)
    np.testing.assert_allclose(new, x - 0.02 * g / (np.abs(g) + 1e-8), rtol=0, atol=1e-15)
    np.testing.assert_allclose(new, x - 0.02 * np.sign(g), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(x, [0.5] * 4)        # the input is left alone


def test_second_step_by_hand():
    adam = Adam(0.1)
    x1 = adam.step(np.array([1.0]), np.array([2.0]))
    x2 = adam.step(x1, np.array([-1.0]))
    m = 0.9 * (0.1 * 2.0) + 0.1 * -1.0                  # 0.08
    v = 0.999 * (0.001 * 4.0) + 0.001 * 1.0             # 0.004996
    m_hat, v_hat = m / (1 - 0.9 ** 2), v / (1 - 0.999 ** 2)
    assert x1[0] == pytest.approx(0.9, abs=1e-8)
    assert x2[0] == pytest.approx(x1[0] - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8), rel=1e-12)
    assert adam.t == 2


def test_named_parameters_have_their_own_learning_rates_and_moments():
    adam = Adam({"envmap": 0.02, "roughness": 0.01})
    E = np.full((2, 4, 1), 0.5)
    gE = np.where(np.arange(8).reshape(2, 4, 1) % 2 == 0, 1.0, -2.0)
    new = adam.step({"envmap": E, "roughness": np.float64(0.3)}, {"envmap": gE, "roughness": -5.0})
    np.testing.assert_allclose(new["envmap"], E - 0.02 * np.sign(gE), atol=1e-9)
    assert new["roughness"] == pytest.approx(0.3 + 0.01, abs=1e-9)
    # a parameter that is not stepped keeps its own step count (its first step is still
    # -lr sign(g))
    again = adam.step({"envmap": new["envmap"]}, {"envmap": gE})
    assert adam.steps("envmap") == 2 and adam.steps("roughness") == 1
    np.testing.assert_allclose(again["envmap"], new["envmap"] - 0.02 * np.sign(gE), atol=1e-9)


def test_both_forms_give_the_same_numbers():
    rng = np.random.default_rng(1)
    single, named = Adam(0.03), Adam({"x": 0.03})
    x = y = rng.random((3, 5))
    for _ in range(20):
        g = rng.normal(size=x.shape)
        x = single.step(x, g)
        y = named.step({"x": y}, {"x": g})["x"]
    np.testing.assert_array_equal(x, y)
    # one number as lr applies to every name
    assert Adam(0.5).step({"a": 1.0}, {"a": 2.0})["a"] == pytest.approx(0.5, abs=1e-8)


def test_inverse_scale_and_misuse():
    adam = Adam({"envmap": 0.02})
    assert adam.inverse_scale("envmap") == 1.0                    # no step yet
    adam.step({"envmap": np.zeros(3)}, {"envmap": np.array([1.0, 2.0, 0.0])})
    # sqrt(v_hat) = |g| = (1, 2, 0): 1 / (|g| + 0.01 * 2)
    np.testing.assert_allclose(adam.inverse_scale("envmap"), 1 / (np.array([1.0, 2.0, 0.0]) + 0.02))
    with pytest.raises(TypeError):
        adam.step(np.zeros(3), np.ones(3))                        # per-name rates need dicts
    with pytest.raises(KeyError):
        adam.step({"roughness": 0.1}, {"roughness": 1.0})         # no rate for that name
    with pytest.raises(KeyError):
        adam.step({"envmap": np.zeros(3)}, {})                    # no gradient
