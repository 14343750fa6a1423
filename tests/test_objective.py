"""The paper's objective against hand-computed values and finite differences."""
import numpy as np
import pytest

from scratchlight.objectives import gradient_l1, luminance, scratch_objective


def _gray(Y):
    return np.repeat(np.asarray(Y, float)[..., None], 3, axis=2)


Y = np.array([[0, 1, 0], [2, 0, 0], [0, 0, 0]], float)
M = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 0]], bool)
E = np.array([[0.5, 0.5, 0.5, 0.5], [1.0, 0.0, 0.0, 0.0]])[..., None]


def test_loss_matches_hand_computation():
    # masked terms: (0,0): 2+1, (0,1): 1+1, (1,0): 2+2, (1,1): 0  -> S = 9, sum(M) = 4
    # L_l2 = (4 * 0.25 + 1) / 8 = 0.25
    v = scratch_objective(_gray(Y), E, M, lam=30.0, l2_target="env", eps=0.0)
    assert v.l_grad == pytest.approx(4 / 9)
    assert v.l_l2 == pytest.approx(0.25)
    assert v.loss == pytest.approx(4 / 9 + 30 * 0.25)
    assert v.mean_gradient == pytest.approx(9 / 4)


def test_l2_on_image_and_none():
    v = scratch_objective(_gray(Y), E, M, lam=2.0, l2_target="image", eps=0.0)
    # masked Y^2: 0 + 1 + 4 + 0 over 4 pixels
    assert v.l_l2 == pytest.approx(5 / 4)
    assert v.loss == pytest.approx(4 / 9 + 2 * 5 / 4)
    assert np.all(v.dL_dE == 0)
    v = scratch_objective(_gray(Y), E, M, lam=2.0, l2_target="none", eps=0.0)
    assert v.loss == pytest.approx(4 / 9)


def test_luminance_weights_sum_to_one():
    rgb = np.random.default_rng(0).random((4, 5, 3))
    assert luminance(np.ones((2, 2, 3))) == pytest.approx(np.ones((2, 2)))
    assert luminance(rgb)[1, 2] == pytest.approx(rgb[1, 2] @ [0.2126, 0.7152, 0.0722])


@pytest.mark.parametrize("l2_target", ["env", "image", "none"])
def test_gradients_match_finite_differences(l2_target):
    rng = np.random.default_rng(1)
    img = rng.random((7, 9, 3))
    Em = rng.random((4, 8, 1))
    mask = rng.random((7, 9)) > 0.3
    mask[-1], mask[:, -1] = False, False
    v = scratch_objective(img, Em, mask, lam=3.0, l2_target=l2_target)
    h = 1e-6
    for _ in range(12):
        idx = tuple(rng.integers(0, s) for s in img.shape)
        d = np.zeros_like(img)
        d[idx] = h
        fd = (scratch_objective(img + d, Em, mask, 3.0, l2_target).loss
              - scratch_objective(img - d, Em, mask, 3.0, l2_target).loss) / (2 * h)
        assert v.dL_dI[idx] == pytest.approx(fd, rel=1e-4, abs=1e-7)
    idx = (1, 3, 0)
    d = np.zeros_like(Em)
    d[idx] = h
    fd = (scratch_objective(img, Em + d, mask, 3.0, l2_target).loss
          - scratch_objective(img, Em - d, mask, 3.0, l2_target).loss) / (2 * h)
    assert v.dL_dE[idx] == pytest.approx(fd, rel=1e-4, abs=1e-9)


def test_gradient_l1_derivative():
    rng = np.random.default_rng(2)
    Yr = rng.random((5, 6))
    mask = np.ones((5, 6))
    S, dS = gradient_l1(Yr, mask)
    h = 1e-7
    for idx in [(0, 0), (2, 3), (4, 5), (4, 0)]:
        d = np.zeros_like(Yr)
        d[idx] = h
        fd = (gradient_l1(Yr + d, mask)[0] - gradient_l1(Yr - d, mask)[0]) / (2 * h)
        assert dS[idx] == pytest.approx(fd, rel=1e-5, abs=1e-6)  # FD rounding: ~1e-8


def test_bad_arguments():
    with pytest.raises(ValueError, match="lam"):
        scratch_objective(_gray(Y), E, M, lam=-1)
    with pytest.raises(ValueError, match="mask"):
        scratch_objective(_gray(Y), E, np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="no pixel"):
        scratch_objective(_gray(Y), E, np.zeros((3, 3), bool))


def test_inputs_not_modified():
    img, Ec, Mc = _gray(Y), E.copy(), M.copy()
    scratch_objective(img, Ec, Mc)
    assert np.array_equal(img, _gray(Y)) and np.array_equal(Ec, E) and np.array_equal(Mc, M)


@pytest.mark.parametrize("l2_target", ["env", "image", "none"])
def test_defect_contrast_gradients_match_finite_differences(l2_target):
    from scratchlight.objectives import defect_contrast_objective

    rng = np.random.default_rng(2)
    img = rng.random((8, 10, 3))
    Em = rng.random((4, 8, 1))
    mask = np.ones((8, 10), bool)
    mask[-1], mask[:, -1] = False, False
    prior = np.zeros((8, 10), bool)
    prior[2:5, 3:7] = True
    v = defect_contrast_objective(img, Em, mask, prior, lam=3.0, l2_target=l2_target)
    f = lambda I, E: defect_contrast_objective(I, E, mask, prior, 3.0, l2_target).loss
    h = 1e-6
    for _ in range(16):
        idx = tuple(rng.integers(0, s) for s in img.shape)
        d = np.zeros_like(img)
        d[idx] = h
        assert v.dL_dI[idx] == pytest.approx((f(img + d, Em) - f(img - d, Em)) / (2 * h),
                                             rel=1e-4, abs=1e-7)
    d = np.zeros_like(Em)
    d[1, 3, 0] = h
    assert v.dL_dE[1, 3, 0] == pytest.approx((f(img, Em + d) - f(img, Em - d)) / (2 * h),
                                             rel=1e-4, abs=1e-9)


def test_defect_contrast_by_hand():
    """L_dc = 1/a + b/a^2 with a, b the mean |differences| inside and outside the prior;
    brightening the marks outside the prior makes it worse, the paper's L_grad better."""
    from scratchlight.objectives import defect_contrast_objective

    Y = np.zeros((4, 4))
    Y[1, 1] = 0.2          # a 'defect' inside the prior
    Y[1, 3] = 0.1          # a 'feed mark' outside it
    M = np.zeros((4, 4), bool)
    M[:3, :3] = True       # the surface; column 3 and row 3 are off it
    prior = np.zeros((4, 4), bool)
    prior[1, 0:2] = True
    prior[0, 1] = True
    v = defect_contrast_objective(np.repeat(Y[..., None], 3, 2), np.zeros((2, 4, 1)), M, prior,
                                  lam=0.0, eps=0.0)
    g = np.zeros((4, 4))
    g[:-1] += np.abs(Y[1:] - Y[:-1])
    g[:, :-1] += np.abs(Y[:, 1:] - Y[:, :-1])
    a, b = g[prior].mean(), g[M & ~prior].mean()
    assert v.l_grad == pytest.approx(1 / a + b / a ** 2, rel=1e-12)
    brighter = Y.copy()
    brighter[1, 3] = 0.4
    w = defect_contrast_objective(np.repeat(brighter[..., None], 3, 2), np.zeros((2, 4, 1)), M,
                                  prior, lam=0.0)
    assert w.l_grad > v.l_grad
    with pytest.raises(ValueError):
        defect_contrast_objective(np.repeat(Y[..., None], 3, 2), np.zeros((2, 4, 1)), M, M)


def _gradient_l1_numpy(Y, M):
    """The L1 gradient sum written with whole-array NumPy operations (an independent route)."""
    dv = np.zeros_like(Y)
    dh = np.zeros_like(Y)
    dv[:-1] = Y[1:] - Y[:-1]
    dh[:, :-1] = Y[:, 1:] - Y[:, :-1]
    S = float(np.sum(M * (np.abs(dv) + np.abs(dh))))
    sv, sh = M * np.sign(dv), M * np.sign(dh)
    dS = -(sv + sh)
    dS[1:] += sv[:-1]
    dS[:, 1:] += sh[:, :-1]
    return S, dS


@pytest.mark.parametrize("shape", [(1, 5), (7, 1), (37, 53), (128, 96)])
def test_compiled_gradient_l1_equals_numpy(shape):
    """The compiled pass gives the NumPy formula's S and dS/dY, including ties (sign 0),
    fractional mask weights and one-row or one-column images; the same for one thread."""
    import numba

    rng = np.random.default_rng(3)
    Y = np.round(rng.random(shape) * 4) / 4  # many equal neighbours
    M = rng.random(shape) * (rng.random(shape) > 0.3)
    S, dS = gradient_l1(Y, M)
    S_ref, dS_ref = _gradient_l1_numpy(Y, M)
    assert S == pytest.approx(S_ref, rel=1e-12)
    np.testing.assert_allclose(dS, dS_ref, rtol=0, atol=1e-12)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        S1, dS1 = gradient_l1(Y, M)
    finally:
        numba.set_num_threads(before)
    assert S1 == S and np.array_equal(dS1, dS)


def test_l2_term_by_hand():
    """The one L2 term (the full objectives and the subset estimator both add it)."""
    from scratchlight.objectives import l2_term

    E = np.array([[[0.5], [1.0]]])
    Y, w = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 2.0])
    l_l2, dE, dY = l2_term(E, Y, w, 3.0, 2.0, "env")
    assert l_l2 == pytest.approx(0.625) and dY is None  # (0.25 + 1) / 2
    np.testing.assert_allclose(dE, 2.0 * 2.0 * E / 2)
    l_l2, dE, dY = l2_term(E, Y, w, 3.0, 2.0, "image")
    assert l_l2 == pytest.approx(19 / 3) and not dE.any()  # (1 + 0 + 2 * 9) / 3
    np.testing.assert_allclose(dY, [4 / 3, 0.0, 8.0])  # 2 lam w Y / n
    l_l2, dE, dY = l2_term(E, Y, w, 3.0, 2.0, "none")
    assert l_l2 == 0.0 and not dE.any() and dY is None
    with pytest.raises(ValueError, match="l2_target"):
        l2_term(E, Y, w, 3.0, 2.0, "both")
