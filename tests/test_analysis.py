"""T4 analysis: paired cosine and the activation-clustering isolation score on constructed data."""
import numpy as np
import pytest

from slm_backdoor.analysis import cluster_isolation, paired_cosine, separability


def blobs(n_clean=60, n_trig=60, shift=0.0, d=16, seed=0):
    rng = np.random.default_rng(seed)
    clean = rng.normal(size=(n_clean, d))
    trig = rng.normal(size=(n_trig, d))
    trig[:, 0] += shift
    x = np.concatenate([clean, trig])
    return x, np.r_[np.zeros(n_clean, bool), np.ones(n_trig, bool)]


def test_paired_cosine_hand_computed():
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    b = np.array([[1.0, 1.0], [0.0, -1.0]])
    assert paired_cosine(a, b) == pytest.approx((1 / np.sqrt(2) - 1) / 2)
    assert paired_cosine(a, a) == pytest.approx(1.0)


def test_separated_triggered_clips_form_their_own_cluster():
    x, trig = blobs(shift=12.0)
    res = cluster_isolation(x, trig, k=2, pca_components=5, seed=0)
    assert res["precision"] == 1.0 and res["recall"] == 1.0 and res["size"] == 60


def test_indistinguishable_clips_are_not_isolated():
    x, trig = blobs(shift=0.0)
    res = cluster_isolation(x, trig, k=2, pca_components=5, seed=0)
    assert res["precision"] < 0.7  # about the base rate of 0.5: no cluster holds the poison


def test_k4_isolates_a_small_poisoned_group_that_k2_mixes():
    """A minority of triggered clips far along one axis, two clean modes far along another:
    with k=2 the split follows the larger clean structure; with k=4 one cluster is the poison."""
    rng = np.random.default_rng(1)
    clean = np.concatenate([rng.normal(size=(80, 8)) + [30, 0, 0, 0, 0, 0, 0, 0],
                            rng.normal(size=(80, 8)) - [30, 0, 0, 0, 0, 0, 0, 0]])
    trig = rng.normal(size=(20, 8)) + [30, 6, 0, 0, 0, 0, 0, 0]
    x = np.concatenate([clean, trig])
    is_trig = np.r_[np.zeros(160, bool), np.ones(20, bool)]
    k2 = cluster_isolation(x, is_trig, k=2, pca_components=4, seed=0)
    k4 = cluster_isolation(x, is_trig, k=4, pca_components=4, seed=0)
    assert k2["precision"] < 0.3
    assert k4["precision"] == 1.0 and k4["recall"] == 1.0


def test_separability_reports_both_layers_and_each_k():
    x, trig = blobs(shift=8.0)
    clean = {"encoder": x[~trig], "connector": x[~trig] * 2}
    triggered = {"encoder": x[trig], "connector": x[trig] * 2}
    res = separability(clean, triggered, [2, 4], pca_components=5, seed=0)
    assert set(res) == {"encoder", "connector"}
    for layer in res.values():
        assert set(layer) == {"cosine", "k2", "k4"}
        assert layer["k2"]["recall"] == 1.0
