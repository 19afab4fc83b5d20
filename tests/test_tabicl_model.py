import numpy as np
import pytest
from conftest import blobs

from icl_support.model.weights import RANDOM_BANNER, make_tabicl, resolve_weights, timing_weights


def test_random_checkpoint_is_built_once_and_labelled(random_weights, cache_dir):
    assert random_weights.kind == "random" and random_weights.is_random
    assert RANDOM_BANNER in random_weights.label
    again = resolve_weights("random", cache_dir, seed=0)
    assert again.path == random_weights.path


def test_local_path_and_bad_spec(random_weights, tmp_path):
    local = resolve_weights(random_weights.path, tmp_path)
    assert local.kind == "local" and not local.is_random and "local" in local.label
    with pytest.raises(ValueError, match="'mini', 'mini-v1', 'mini-w64', 'mini-w64-fs2' nor an existing file"):
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


def test_every_shipped_mini_resolves_named_and_labelled(tmp_path):
    from icl_support.book.notebook import weights_note
    from icl_support.evaluation.records import weights_name
    from icl_support.model.weights import SHIPPED_MINI

    first, best = resolve_weights("mini-v1", tmp_path), resolve_weights("mini-w64", tmp_path)
    shipped = resolve_weights("mini", tmp_path)
    assert first.kind == best.kind == shipped.kind == "mini" and len({first.path, best.path, shipped.path}) == 3
    assert (shipped.name, first.name, best.name) == ("TabICL-mini", "TabICL-mini-v1", "TabICL-mini-w64")
    assert "0.65M" in first.label and "2.46M" in best.label and best.label == SHIPPED_MINI["mini-w64"][1]
    assert "2.46M" in shipped.label and "embedding-table" in shipped.label
    retired = resolve_weights("mini-w64-fs2", tmp_path)  # the mini shipped before: loadable by its recipe's name
    assert retired.name == "TabICL-mini-w64-fs2" and retired.path != shipped.path and "few-shot" in retired.label
    assert timing_weights(best, tmp_path).kind == "random"  # time: the released architecture, as for mini
    assert "TabICL-mini-w64" in weights_note(best.kind, best.name)
    # a record names the variant it was made with; records from before the variant existed are the first mini
    assert weights_name({"provenance": {"tabicl_weights": "mini", "tabicl_variant": "mini-w64"}}) == "TabICL-mini-w64"
    assert weights_name({"provenance": {"tabicl_weights": "mini"}}) == "TabICL-mini"
    assert weights_name({"provenance": {"tabicl_weights": "mini", "tabicl_variant": "mini-v1"}}) == "TabICL-mini-v1"
    assert weights_name({"provenance": {"tabicl_weights": "random"}}) == "TabICL (RANDOM WEIGHTS)"
    local = {"tabicl_weights": "local", "tabicl_checkpoint": "tabicl-mini-w64-fs.ckpt"}
    assert weights_name({"provenance": local}) == "TabICL (tabicl-mini-w64-fs)"
