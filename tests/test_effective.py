"""Effective model (paper Eq. 3): recovery of known couplings, invariances, storage."""

import json

import numpy as np
import pytest

from efnn_core.nets import EffectiveModel
from efnn_core.nets.effective import tiled_feature_count, translation_terms
from efnn_core.systems import uniform_sphere


def pair_sum(s, d):
    return (s * np.roll(s, (-d[0], -d[1]), (1, 2))).sum(-1).sum((1, 2))


COUPLINGS = {(0, 1): 0.8, (1, 0): 0.8, (1, 1): -0.3, (0, 2): 0.1}
E0 = -0.5


def pair_model(s):
    return E0 * s.shape[1] ** 2 + sum(g * pair_sum(s, d) for d, g in COUPLINGS.items())


@pytest.fixture(scope="module")
def pair_data():
    rng = np.random.default_rng(3)
    s = uniform_sphere(rng, (1500, 6, 6))
    return s, pair_model(s)


def test_translation_model_recovers_pair_couplings(pair_data):
    s, e = pair_data
    m = EffectiveModel("translation", max_range=2, window=2, ridge=1e-10).fit(s, e, batch=500)
    two, four = translation_terms(2, 2)
    assert m.coef_.shape == (1 + len(two) + len(four),) == (m.num_parameters(),)
    assert m.coef_[0] == pytest.approx(E0, abs=1e-6)
    expected = np.array([COUPLINGS.get(d, 0.0) for d in two])
    np.testing.assert_allclose(m.coef_[1:1 + len(two)], expected, atol=1e-6)
    np.testing.assert_allclose(m.coef_[1 + len(two):], 0.0, atol=1e-6)


def test_translation_model_invariances_and_other_sizes(pair_data):
    s, e = pair_data
    m = EffectiveModel("translation", max_range=2, window=2).fit(s, e)
    rng = np.random.default_rng(4)
    x = uniform_sphere(rng, (5, 8, 8))
    p = m.predict(x)
    np.testing.assert_allclose(m.predict(np.roll(x, (2, 5), (1, 2))), p, rtol=1e-10)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q[:, 0] *= np.sign(np.linalg.det(q))  # rotation ...
    for R in (q, q @ np.diag([1.0, 1.0, -1.0])):  # ... and a reflection
        np.testing.assert_allclose(m.predict(x @ R.T), p, rtol=1e-10)
    big = uniform_sphere(rng, (3, 20, 20))  # predicting at L = 20 works and is exact for a pair model
    np.testing.assert_allclose(m.predict(big), pair_model(big), rtol=1e-6)


def test_tiled_model_fits_a_tile_local_model_exactly():
    rng = np.random.default_rng(5)
    s = uniform_sphere(rng, (2000, 4, 4))
    g = rng.normal(size=(16, 16))
    tiles = [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]

    def local(x):  # pair couplings inside each 2x2 tile plus a 4-body term
        f = x.reshape(len(x), 16, 3)
        dots = np.einsum("bic,bjc->bij", f, f)
        return 1.5 + sum(g[i, j] * dots[:, i, j] for t in tiles for i in t for j in t if i < j) \
            + 0.3 * dots[:, 0, 1] * dots[:, 4, 5]
    m = EffectiveModel("tiled", tile=2, ridge=1e-12).fit(s, local(s))
    assert m.num_parameters() == tiled_feature_count(4, 2) == 4 * (10 + 55) + 1
    test = uniform_sphere(rng, (200, 4, 4))
    np.testing.assert_allclose(m.predict(test), local(test), atol=1e-6)
    with pytest.raises(ValueError, match="fitted at L=4"):
        m.predict(uniform_sphere(rng, (2, 6, 6)))


@pytest.mark.parametrize("tile,expected", [(2, 1626), (3, 9885), (5, 213201)],
                         ids=["tile2", "tile3", "tile5-paper"])
def test_tiled_counts_at_L10(tile, expected):
    assert tiled_feature_count(10, tile) == expected


def test_too_large_tiled_model_is_refused():
    s = uniform_sphere(np.random.default_rng(0), (4, 10, 10))
    with pytest.raises(ValueError, match="GB"):
        EffectiveModel("tiled", tile=5).fit(s, np.zeros(4))


@pytest.mark.parametrize("kind", ["tiled", "translation"])
def test_to_dict_round_trip(pair_data, kind):
    s, e = pair_data
    m = EffectiveModel(kind, tile=2, max_range=1, window=2).fit(s[:300], e[:300])
    d = m.to_dict()
    params = {k: v for k, v in d.items() if k != "coef"}
    json.dumps(params)
    m2 = EffectiveModel.from_dict(json.loads(json.dumps(params)) | {"coef": d["coef"]})
    np.testing.assert_array_equal(m2.predict(s[:10]), m.predict(s[:10]))


def test_unfitted_and_bad_input():
    m = EffectiveModel("translation")
    with pytest.raises(ValueError, match="not fitted"):
        m.predict(np.zeros((1, 5, 5, 3)))
    with pytest.raises(ValueError, match=r"\(B, L, L, 3\)"):
        m.fit(np.zeros((3, 5, 5)), np.zeros(3))
    with pytest.raises(ValueError, match="kind"):
        EffectiveModel("full")
