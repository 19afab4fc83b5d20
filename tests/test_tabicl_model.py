import numpy as np
import pytest
from conftest import blobs

from icl_support.evaluation.tabicl_model import RANDOM_BANNER, make_tabicl, resolve_weights, timing_weights


def test_random_checkpoint_is_built_once_and_labelled(random_weights, cache_dir):
    assert random_weights.kind == "random" and random_weights.is_random
    assert RANDOM_BANNER in random_weights.label
    again = resolve_weights("random", cache_dir, seed=0)
    assert again.path == random_weights.path


def test_local_path_and_bad_spec(random_weights, tmp_path):
    local = resolve_weights(random_weights.path, tmp_path)
    assert local.kind == "local" and not local.is_random and "local" in local.label
    with pytest.raises(ValueError, match="neither 'released', 'mini', 'auto', 'random' nor an existing file"):
        resolve_weights(str(tmp_path / "missing.ckpt"), tmp_path)


def test_offline_auto_falls_back_to_the_shipped_mini(tmp_path):
    weights = resolve_weights("auto", tmp_path)
    assert weights.kind == "mini" and not weights.is_random
    assert timing_weights(weights, tmp_path).kind == "random"  # time: the full-size architecture
    assert timing_weights(resolve_weights("random", tmp_path), tmp_path).kind == "random"


def test_offline_released_explains_the_way_out(tmp_path):
    with pytest.raises(RuntimeError, match="tabicl_checkpoint='/path/to/"):
        resolve_weights("released", tmp_path)


def test_classifier_runs_and_fit_once_matches_default(random_weights):
    X, y = blobs(10, 3, 6)
    Xt, _ = blobs(4, 3, 6, seed=5)
    default = make_tabicl(random_weights, seed=0).fit(X, y).predict_proba(Xt)
    cached = make_tabicl(random_weights, seed=0, kv_cache=True).fit(X, y).predict_proba(Xt)
    assert default.shape == (12, 3) and np.allclose(default.sum(1), 1)
    np.testing.assert_allclose(cached, default, atol=1e-5)
