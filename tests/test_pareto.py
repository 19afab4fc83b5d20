"""Chapter 5's runner, tables and explorer on a tiny synthetic pool (no backbone needed)."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
import torch
from conftest import blobs

from icl_support.chapters.explorer import context_images, describe, gallery
from icl_support.chapters.pareto import (
    SWEEP_EVALUATORS as EVALUATORS,
)
from icl_support.chapters.pareto import (
    distillation_gap,
    distillation_gap_table,
    front,
    long_table,
    pareto_front,
    plot_accuracy,
    split_numbers,
    sweep_evaluators,
    wide_table,
)
from icl_support.contexts.sweep import run_sweep
from icl_support.core.config import resolve_settings
from icl_support.embedding.image_pool import ImageData
from icl_support.evaluation.run import Run


def cpu_run(settings, weights) -> Run:
    return Run(settings, weights, torch.device("cpu"), weights)


@pytest.fixture(scope="module")
def tiny(random_weights, cache_dir):
    Z, y = blobs(n_per_class=12, n_classes=3, dim=16, seed=4)
    Zt, yt = blobs(n_per_class=5, n_classes=3, dim=16, seed=4)
    pool = torch.rand(len(y), 3, 8, 8, generator=torch.Generator().manual_seed(0))
    data = ImageData(
        features=None, classes=("a", "b", "c"), pool=pool, y_pool=y, Z_pool=Z, Z_test=Zt, y_test=yt, key={}, crop=8
    )
    s = resolve_settings(
        "smoke",
        cache_dir=str(cache_dir),
        ks=[1, 2],
        strategies=["random", "class_mean", "herding", "row_lgm", "pixel_lgm", "tabicl_lgm", "retrieval", "full"],
        ipc=3,
        lgm_ipcs=[4],  # pixel LGM would need a backbone: ipc and lgm_ipcs outside ks, so it is skipped with a note
        pca_dim=4,
        n_tabicl_test=6,
    )
    return s, data, run_sweep(cpu_run(s, random_weights), data, progress=False)


def test_sweep_structure(tiny):
    s, data, run = tiny
    res = run["results"]
    assert set(res) == {"random", "class_mean", "herding", "row_lgm", "full"}
    assert set(res["random"]) == {"1", "2"} and set(res["full"]) == {"all"}
    assert res["random"]["2"]["rows"] == 6 and res["full"]["all"]["rows"] == 36
    for ev in EVALUATORS:
        e = res["random"]["1"][ev]
        assert 0 <= e["mean"] <= 1 and e["n"] == s.selection_seeds
    assert res["herding"]["1"]["logreg"]["n"] == 1  # deterministic strategy: one context
    assert res["class_mean"]["2"]["logreg"]["n"] == s.selection_seeds  # k-means for k > 1: seeded
    assert res["random"]["1"]["tabicl_seconds"]["mean"] > 0
    assert run["tabicl_test_rows"] == 6
    assert "lgm_ipcs" in run["skipped"]["pixel_lgm"]["1"]
    assert "random weights" in run["skipped"]["tabicl_lgm"]["1"]
    assert "random weights" in run["skipped"]["retrieval"]["1"]
    # well-separated blobs: the class means classify the test rows perfectly with nearest class mean
    assert res["class_mean"]["1"]["nearest_mean"]["mean"] == 1.0


def test_tables_and_figures(tiny):
    s, data, run = tiny
    res = run["results"]
    t = long_table(res)
    drawn = sweep_evaluators(res)  # the sweep's four, and the split mode ("columns from the pool") at every k
    assert drawn == (*EVALUATORS, "tabicl_split") and len(t) == len(drawn) * sum(len(v) for v in res.values())
    split = t[t.evaluator == "tabicl_split"]
    # the split mode's rows carry its own seconds, not the plain mode's
    assert (split.tabicl_seconds.to_numpy() != t[t.evaluator == "tabicl"].tabicl_seconds.to_numpy()).all()
    assert split_numbers(res, "1")["split_best"].count("(") == 1
    w = wide_table(res, "logreg")
    assert list(w.columns) == ["1", "2", "all"] and "random" in w.index
    f = front(res, "logreg")
    assert f["rows"].is_monotonic_increasing and f["mean"].is_monotonic_increasing
    assert distillation_gap(res).empty  # no pixel LGM in this run
    assert len(plot_accuracy(res, "rows").axes) == len(EVALUATORS)
    assert len(plot_accuracy(res, "tabicl_seconds", evaluators=("logreg",)).axes) == 1


def test_explorer_images(tiny):
    s, data, run = tiny
    images, caption = context_images(run, data, "herding", "2", 1)
    assert images.shape == (2, 8, 8, 3) and caption == "real images"
    images, caption = context_images(run, data, "class_mean", "1", 0)
    assert images.shape == (1, 8, 8, 3) and "rows, not images" in caption
    with pytest.raises(KeyError, match="no context for strategy"):
        context_images(run, data, "kcenter", "1", 0)
    assert gallery(run, data, "1").axes
    assert "tabicl (RANDOM WEIGHTS: chance)" in describe(run, data, "herding", "1", 0)


def test_distillation_gap_table_reads_pixel_minus_embedding():
    cell = lambda m, sec=None: {"mean": m, "std": 0.0, "n": 1} if sec is None else {"mean": sec}  # noqa: E731
    both = {ev: None for ev in ("logreg", "nearest_mean", "one_nn")}
    res = {"pixel_lgm": {"1": {"build_seconds": cell(0, 120.04), **{ev: cell(0.4) for ev in both}}},
           "row_lgm": {"1": {"build_seconds": cell(0, 2.0), **{ev: cell(0.25) for ev in both}}, "2": {}}}  # fmt: skip
    table = distillation_gap_table(res)
    assert table.index.tolist() == ["1"] and table.index.name == "k"  # k = 2 has no pixel LGM
    assert table.loc["1", ("build seconds", "pixel")] == 120.0 and table.loc["1", ("nearest mean", "gap")] == 0.15
    assert ("1-NN", "gap") not in table and distillation_gap_table(res, ("one_nn",)).loc["1", ("1-NN", "gap")] == 0.15
    assert distillation_gap_table({"row_lgm": res["row_lgm"]}).empty
    res["pixel_lgm"]["1"]["logreg"], res["row_lgm"]["1"]["logreg"] = cell(0.1755), cell(0.3855)  # shown 0.175, 0.386
    shown = distillation_gap_table(res).loc["1", "logistic regression"]
    assert shown.tolist() == [0.175, 0.386, -0.211]  # the gap of the numbers shown (the raw gap, -0.210, would not)


def test_pareto_front():
    rows = np.array([10, 10, 20, 50, 50, 100])
    acc = np.array([0.3, 0.5, 0.4, 0.6, 0.7, 0.65])
    assert pareto_front(rows, acc).tolist() == [1, 4]


def test_tabicl_aware_strategy_plumbing(tiny, random_weights):
    """The tabicl_lgm path end to end. The checkpoint is the random one passed as a local file, so the
    strategy runs (plumbing only: RANDOM WEIGHTS, the rows mean nothing)."""
    from sklearn.decomposition import PCA

    from icl_support.contexts.strategies import BuildInputs, build
    from icl_support.core.config import with_overrides
    from icl_support.model.weights import TabICLWeights

    s, data, _ = tiny
    pca = PCA(4, random_state=0).fit(data.Z_pool)
    local = TabICLWeights("local", random_weights.path)
    run = cpu_run(with_overrides(s, tabicl_distill_steps=2), local)
    built = build("tabicl_lgm", BuildInputs(run, data, pca), 1)
    (ctx,) = built.contexts
    assert ctx.X.shape == (3, 16) and ctx.index is None and list(ctx.y) == [0, 1, 2]
    # rows were optimised in PCA space and mapped back: they lie on the PCA subspace (raw pool rows do not)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(ctx.X)), ctx.X, atol=1e-4)
    assert not np.allclose(pca.inverse_transform(pca.transform(data.Z_pool[:3])), data.Z_pool[:3], atol=1e-4)
    assert built.seconds[0] > 0


def test_retrieval_in_the_sweep_with_real_weights(tiny, cache_dir):
    """Retrieval contexts are scored by TabICL (both statistics at k = 1, and the split mode) beside the global
    contexts, timed, with C * k rows; the Pareto tables and figures take them (peers absent)."""
    from icl_support.core.config import with_overrides
    from icl_support.model.weights import resolve_weights

    s, data, _ = tiny
    s = with_overrides(s, strategies=["random", "retrieval"])
    mini = resolve_weights("mini", cache_dir)
    res = run_sweep(cpu_run(s, mini), data, progress=False)["results"]
    r1, r2 = res["retrieval"]["1"], res["retrieval"]["2"]
    assert r1["rows"] == 3 and r2["rows"] == 6 and set(r1) >= {"tabicl", "tabicl_pool", "tabicl_seconds"}
    assert "tabicl_pool" not in r2 and r2["tabicl_seconds"]["mean"] > 0
    assert r2["tabicl"]["mean"] > 0.5  # well-separated blobs: each test row's neighbours give its class
    # and in the split mode, through the cached pool representations, with its own seconds
    assert r2["tabicl_split"]["mean"] > 0.5 and r2["tabicl_split_seconds"]["mean"] > 0
    t = long_table(res)
    assert set(t[t.strategy == "retrieval"].evaluator) == {"tabicl", "tabicl_split"}
    assert len(plot_accuracy(res, "tabicl_seconds", evaluators=("tabicl",)).axes) == 1
