"""Distribution shift: corrupted test embeddings (cached) and the per-strategy scores."""

import numpy as np
import torch

from icl_support.chapters.shift import corrupted_embeddings, run_shift, severity_table
from icl_support.contexts.strategies import select_rows as select
from icl_support.core.config import resolve_settings
from icl_support.embedding.image_pool import prepare_images
from icl_support.evaluation.run import Run


def test_run_shift_on_digits(cache_dir, random_weights):
    s = resolve_settings("smoke", cache_dir=str(cache_dir), corruptions=["contrast", "jpeg"], severities=[1, 5])
    data = prepare_images(s, progress=False)
    contexts = {
        "class_mean": [select("class_mean", data.Z_pool, data.y_pool, 1)],
        "random": [select("random", data.Z_pool, data.y_pool, 1, seed) for seed in (0, 1)],
    }
    run = Run(s, random_weights, torch.device("cpu"), random_weights)
    out = run_shift(run, data, contexts, reduce=lambda Z: Z, progress=False)
    res = out["results"]
    assert out["tabicl"].startswith("not run")  # random weights: TabICL's accuracy under shift is not computed
    assert set(res["random"]) == {"clean", "contrast", "jpeg"} and set(res["random"]["jpeg"]) == {"1", "5"}
    assert res["random"]["jpeg"]["5"]["nearest_mean"]["n"] == 2
    assert set(res["class_mean"]["clean"]["0"]) == {"logreg", "nearest_mean", "one_nn"}
    # the strongest contrast reduction costs the class means accuracy on real digits
    assert (
        res["class_mean"]["contrast"]["5"]["nearest_mean"]["mean"]
        < res["class_mean"]["clean"]["0"]["nearest_mean"]["mean"]
    )
    table = severity_table(res, 5, "nearest_mean")
    assert list(table.columns) == ["clean", "contrast", "jpeg"] and set(table.index) == {"class_mean", "random"}
    # cached: a second call returns the same embeddings from disk; they differ from the clean ones
    Z1 = corrupted_embeddings(s, data, "jpeg", 5)
    assert len(list((s.cache_path / "shift").glob("test-digits-jpeg-5-*.npz"))) == 1
    np.testing.assert_array_equal(Z1, corrupted_embeddings(s, data, "jpeg", 5))
    assert Z1.shape == data.Z_test.shape and not np.allclose(Z1, data.Z_test)
