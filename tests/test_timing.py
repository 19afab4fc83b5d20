import numpy as np
import pytest

from icl_support.evaluation.timing import fit_power_law, kv_cache_comparison, time_vs_context
from icl_support.model.weights import make_tabicl


def test_power_law_recovers_exponent():
    n = np.array([10, 100, 1000, 10000])
    law = fit_power_law(n, 0.003 * n**1.7)
    assert law.exponent == pytest.approx(1.7) and law.coef == pytest.approx(0.003) and law.r2 == pytest.approx(1)
    assert law(20) == pytest.approx(0.003 * 20**1.7)
    with pytest.raises(ValueError):
        fit_power_law([10, 10], [1, 2])


def test_stage_times_add_up(blob_table, random_weights):
    rows = time_vs_context(blob_table, [6, 30], n_test=9, tabicl=lambda: make_tabicl(random_weights), progress=False)
    assert list(rows.n_context) == [6, 30] and (rows.n_test == 9).all()
    for stage in ("column_s", "row_s", "icl_s"):
        assert (rows[stage] > 0).all()
    assert np.allclose(rows.preprocessing_s + rows.column_s + rows.row_s + rows.icl_s, rows.total_s)
    assert (rows.preprocessing_s >= 0).all() and rows.peak_mb.notna().all()


def test_context_larger_than_pool_is_refused(blob_table, random_weights):
    with pytest.raises(ValueError, match="exceeds the train pool"):
        time_vs_context(blob_table, [10_000], n_test=5, tabicl=lambda: make_tabicl(random_weights), progress=False)


def test_kv_cache_comparison(blob_table, random_weights):
    out = kv_cache_comparison(blob_table, 30, 9, lambda **kw: make_tabicl(random_weights, **kw))
    assert out["n_context"] == 30 and out["max_abs_prob_diff"] < 1e-4
    assert out["kv_cache_fit_s"] > 0 and out["default_predict_s"] > 0


def test_power_law_over_the_largest_sizes():
    n = np.array([10, 100, 1000, 10000])
    t = 5.0 + 1e-5 * n**2  # fixed cost hides the quadratic at small N
    assert fit_power_law(n, t).exponent < 1.0
    assert fit_power_law(n, t, min_n=1000).exponent > 1.5


def test_cost_model_recovers_terms():
    from icl_support.evaluation.timing import fit_cost_model

    n = np.array([10, 30, 100, 300, 1000, 3000, 10000], dtype=float)
    model = fit_cost_model(n, 0.5 + 2e-3 * n + 1e-7 * n**2)
    assert model.fixed == pytest.approx(0.5, rel=1e-3) and model.linear == pytest.approx(2e-3, rel=1e-3)
    assert model.quadratic == pytest.approx(1e-7, rel=1e-3) and model.crossover == pytest.approx(2e4, rel=1e-3)
    assert fit_cost_model(n, 1 + 0 * n).crossover == float("inf")


def test_chapter2_fits_recover_known_exponents_from_synthetic_timings():
    """The chapter's fits on made-up timings with a known law: total ~ n**1.5 plus a fixed cost, icl ~ n**2."""
    import pandas as pd

    from icl_support.chapters.inference_time import STAGES, fit_timings

    n = np.array([100, 300, 1000, 3000, 10000], dtype=float)
    icl = 1e-8 * n**2
    stages = {f"{s}_s": 1e-6 * n for s in STAGES if s != "icl"}
    total = 0.02 + 2e-5 * n**1.5
    timings = pd.DataFrame({"n_context": n, "total_s": total, "icl_s": icl, **stages, "preprocessing_s": 1e-6 * n})
    fits = fit_timings(timings)
    assert fits.icl.exponent == pytest.approx(2.0, abs=1e-9)
    assert fits.total_upper.exponent == pytest.approx(1.5, abs=0.1)  # the fixed cost fades at the largest sizes
    assert fits.total.exponent < fits.total_upper.exponent  # and flattens the all-sizes fit


def test_stage_split_comparison_times_every_stage_of_both_modes(blob_table, one_torch_thread):
    """The split mode's fit spends column- and row-stage time on the pool; its predict's in-context stage reads the
    k rows, as the plain k-row context's does; the whole pool's column stage reads every row."""
    from icl_support.evaluation.timing import stage_split_comparison
    from icl_support.model.weights import resolve_weights

    df = stage_split_comparison(blob_table, resolve_weights("mini", "."), n_test=20, pool_cap=64)
    whole, plain, split = (df.iloc[i] for i in range(3))
    assert "columns from the pool" in split["mode"] and plain["context_rows"] == split["context_rows"]
    assert whole["column_rows"] == len(blob_table.y_train) and split["column_rows"] > split["context_rows"]
    assert split["fit_column_s"] > 0 and split["fit_row_s"] > 0 and plain["fit_column_s"] == 0
    assert (df[["column_s", "row_s", "icl_s"]] > 0).all().all()


def test_stage_timer_times_tabicls_cached_entry_points(blob_table, random_weights):
    """With kv_cache, predict calls the stages' cached methods, not forward: they are timed too, and restored."""
    from icl_support.evaluation.timing import stage_timer

    t = blob_table
    clf = make_tabicl(random_weights, kv_cache=True).fit(t.X_train[:40], t.y_train[:40])
    with stage_timer(clf.model_) as seconds:
        clf.predict_proba(t.X_test[:10])
    assert seconds["column"] > 0 and seconds["icl"] > 0
    assert "forward_with_cache" not in vars(clf.model_.col_embedder)  # the instance wrapper is gone
    with stage_timer(clf.model_) as outer:  # nested timers: each counts, and each exit restores what it found
        with stage_timer(clf.model_) as inner:
            clf.predict_proba(t.X_test[:10])
        clf.predict_proba(t.X_test[:10])
    assert outer["icl"] > inner["icl"] > 0 and "forward_with_cache" not in vars(clf.model_.col_embedder)


def test_chapter2_quotes_the_claims_pages_crossover():
    """With >= 4 sizes chapter 2's crossover is the relative-error fit the claims page reads, with its interval;
    with 3 it says there are too few sizes for one."""
    import pandas as pd

    from icl_support.chapters.inference_time import crossover_text
    from icl_support.evaluation.timing import crossover_interval

    n = np.array([100.0, 200, 400, 800, 1600])
    t = 0.05 + 1e-3 * n + 2e-7 * n**2
    t = t * (1 + 0.02 * np.array([1, -1, 1, -1, 1]))
    text = crossover_text(pd.DataFrame({"n_context": n, "total_s": t}))
    c = crossover_interval(n, t)
    assert text.startswith(f"N ≈ {c.value:,.0f} context rows (95% interval {c.low:,.0f} to {c.high:,.0f}")
    assert "too few for an interval" in crossover_text(pd.DataFrame({"n_context": n[:3], "total_s": t[:3]}))
