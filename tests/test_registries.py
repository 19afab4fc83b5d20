"""The strategy and evaluator registries: the one place their names live."""

import numpy as np
import pytest
import torch
from conftest import blobs

from icl_support.book.params import settings_from_parameters
from icl_support.contexts import strategies as registry
from icl_support.contexts.selection import Context
from icl_support.contexts.strategies import (
    STRATEGIES,
    BuildInputs,
    Made,
    build,
    check_strategy_names,
    get_strategy,
    register_strategy,
    seeds_for,
    sweep_names,
)
from icl_support.core.config import resolve_settings
from icl_support.embedding.image_pool import ImageData
from icl_support.evaluation.run import Run
from icl_support.evaluation.scoring import EVALUATORS, EvalEnv, Scorer, get_evaluator
from icl_support.model.weights import TabICLWeights


def test_aliases_resolve_to_one_strategy():
    assert get_strategy("centroid") is get_strategy("nearest_centroid")
    assert get_strategy("distilled").name == "pixel_lgm" and get_strategy("neighbors").name == "lgm_neighbors"
    with pytest.raises(ValueError, match="unknown strategy 'herd'.*herding.*centroid \\(= nearest_centroid\\)"):
        get_strategy("herd")
    with pytest.raises(ValueError, match=r"unknown strategies \['nope'\]"):
        check_strategy_names(["random", "centroid", "nope"])


def test_seeding_metadata():
    seeded = {n for n, s in STRATEGIES.items() if s.is_seeded(1)}
    distilled = {"pixel_lgm", "pixel_lgm_anchored", "tabicl_pixels", "tabicl_pixels_anchored"}  # distill_seeds
    assert seeded == {"random", "kmeans_medoids", "row_lgm"} | distilled
    assert get_strategy("class_mean").is_seeded(2) and not get_strategy("class_mean").is_seeded(1)
    assert not get_strategy("class_mean").real_images and get_strategy("herding").real_images
    assert "lgm_neighbors" not in sweep_names() and sweep_names()[-1] == "full"
    opt_in = {"tabicl_pixels", "tabicl_pixels_anchored", "pixel_lgm_anchored"}
    assert opt_in <= set(STRATEGIES) and not opt_in & set(sweep_names())
    assert get_strategy("pixel_lgm_anchored").needs_backbone and not get_strategy("pixel_lgm_anchored").real_images
    assert sweep_names(["centroid", "distilled"]) == ("nearest_centroid", "pixel_lgm")


def _inputs(**overrides) -> BuildInputs:
    Z, y = blobs(n_per_class=6, n_classes=3, dim=4, seed=1)
    pool = torch.zeros(len(y), 3, 4, 4)
    data = ImageData(
        features=None, classes=("a", "b", "c"), pool=pool, y_pool=y, Z_pool=Z, Z_test=Z, y_test=y, key={}, crop=4
    )
    s = resolve_settings("smoke", selection_seeds=3, **overrides)
    w = TabICLWeights("random", "")
    return BuildInputs(Run(s, w, torch.device("cpu"), w), data)


def test_adding_a_strategy_is_one_registered_function(monkeypatch):
    monkeypatch.setattr(registry, "STRATEGIES", dict(STRATEGIES))
    monkeypatch.setattr(registry, "_ALIASES", dict(registry._ALIASES))

    @register_strategy("first_rows", aliases=("head",), seeded_from_k=1)
    def first_rows(inputs, k, seed):
        """The first k rows of each class, rolled by the seed."""
        d = inputs.data
        idx = np.concatenate([np.roll(np.flatnonzero(d.y_pool == c), seed)[:k] for c in np.unique(d.y_pool)])
        return Made(Context(d.Z_pool[idx], d.y_pool[idx], idx))

    inputs = _inputs()
    built = build("head", inputs, 2)
    assert len(built.contexts) == 3 and seeds_for(inputs, "first_rows", 2) == [0, 1, 2]
    assert [c.index[:2].tolist() for c in built.contexts] == [[0, 1], [5, 0], [4, 5]]
    assert "first_rows" in registry.sweep_names() and registry.get_strategy("first_rows").summary.startswith(
        "The first"
    )
    with pytest.raises(ValueError, match="already registered"):
        register_strategy("random")(first_rows)


def test_synthetic_images_run_distill_seeds_selections_run_selection_seeds():
    inputs = _inputs(distill_seeds=2)  # selection_seeds = 3
    for name in ("pixel_lgm", "pixel_lgm_anchored", "tabicl_pixels", "tabicl_pixels_anchored"):
        assert seeds_for(inputs, name, 1) == [0, 1], name
    assert seeds_for(inputs, "random", 1) == [0, 1, 2] and seeds_for(inputs, "nearest_centroid", 1) == [0]
    assert seeds_for(_inputs(), "pixel_lgm", 1) == [0]  # default: one distillation, the run's seed
    with pytest.raises(ValueError, match="'distill_seeds' must be >= 1"):
        _inputs(distill_seeds=0)


def test_a_strategy_that_cannot_run_is_skipped_with_its_reason():
    built = build("tabicl_lgm", _inputs(), 1)
    assert built.contexts == [] and "random weights" in built.note
    built = build("pixel_lgm", _inputs(ipc=2, lgm_ipcs=[5]), 1)
    assert built.contexts == [] and "lgm_ipcs=[5]" in built.note


def test_scorer_reads_reduced_rows_except_raw_evaluators():
    X, y = blobs(n_per_class=10, n_classes=3, dim=6, seed=5)
    Xt, yt = blobs(n_per_class=10, n_classes=3, dim=6, seed=6)
    flip = lambda Z: -Z[:, :2]  # noqa: E731  a "reduction" that keeps two features
    scorer = Scorer(("nearest_mean", "one_nn"), Xt, yt, EvalEnv(seed=0), reduce=flip, raw=("one_nn",))
    out = scorer(X, y)
    from icl_support.evaluation.peers import make_peer

    assert out["nearest_mean"] == make_peer("nearest_mean").fit(flip(X), y).score(flip(Xt), yt)
    assert out["one_nn"] == make_peer("one_nn").fit(X, y).score(Xt, yt)
    assert set(EVALUATORS) >= {"logreg", "nearest_mean", "knn", "one_nn", "tabicl", "linear_probe"}
    with pytest.raises(ValueError, match="unknown evaluator 'svm'"):
        get_evaluator("svm")
    with pytest.raises(ValueError, match="needs the context's images"):
        Scorer(("linear_probe",), Xt, yt, EvalEnv())(X, y)


def test_notebook_parameters_resolve_without_repeating_names():
    namespace = {"profile": "smoke", "seed": 3, "ks": [1, 2], "pca_dim": None, "results_json": "", "plt": object()}
    s = settings_from_parameters(namespace)
    assert (s.seed, s.ks, s.pca_dim) == (3, (1, 2), 16)  # None keeps the profile's value
    with pytest.raises(ValueError, match="unknown strategies"):
        settings_from_parameters({"profile": "smoke", "strategies": ["herd"]})
    with pytest.raises(ValueError, match="lgm_image_size"):
        resolve_settings("smoke", lgm_image_size=64)  # above distill_res (32)
