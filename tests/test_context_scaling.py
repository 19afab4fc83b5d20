import numpy as np
import pytest

from icl_support.chapters.context_scaling import run_context_scaling, summarise
from icl_support.model.weights import make_tabicl


def test_sweep_shares_contexts_and_skips_large_tabicl(blob_table, random_weights):
    runs = run_context_scaling(
        blob_table,
        fractions=(0.1, 1.0),
        seeds=[0, 1],
        tabicl=lambda s: make_tabicl(random_weights, seed=s),
        tabicl_max_context=50,
        progress=False,
    )
    assert set(runs.evaluator) == {"tabicl", "nearest_mean", "knn", "logreg"}
    assert len(runs[runs.fraction == 0.1]) == 8 and len(runs[runs.fraction == 1.0]) == 4  # full pool run once
    full = runs[(runs.fraction == 1.0) & (runs.evaluator == "tabicl")]
    assert full.status.item() == "skipped" and np.isnan(full.accuracy.item())  # 120 rows > 50
    small = runs[runs.fraction == 0.1]
    assert (small.n_context == 12).all()
    summary = summarise(runs)
    logreg = summary[(summary.evaluator == "logreg") & (summary.fraction == 1.0)]
    assert logreg["mean"].item() > 0.9 and logreg.n.item() == 1
    assert summary[(summary.evaluator == "tabicl") & (summary.fraction == 0.1)].n.item() == 2


def test_unknown_evaluator(blob_table):
    with pytest.raises(ValueError, match="unknown evaluator"):
        run_context_scaling(blob_table, (1.0,), [0], tabicl=None, evaluators=("svm",), progress=False)
