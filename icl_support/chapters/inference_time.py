"""Chapter 2: TabICL's inference time against context size: power laws, a cost model, stage shares, memory.

The timings come from :func:`icl_support.evaluation.timing.time_vs_context` on the full-size architecture
(what a user pays); this module fits them and draws the chapter's figures. Usage::

    timings = time_vs_context(table, sizes, n_test=n, tabicl=run.timing_tabicl, repeats=2, seed=0, device=run.device)
    fits = fit_timings(timings)
    fig = time_figure(timings, fits, run.device.type, run.timing_weights)
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..evaluation.plots import stamp_weights
from ..evaluation.timing import (
    STAGES,
    CostModel,
    PowerLaw,
    crossover_interval,
    fit_cost_model,
    fit_power_law,
    upper_half,
)


@dataclass(frozen=True)
class TimeFits:
    """Fits of the timings: power laws over all sizes and over the upper half (``n_upper`` and above) for the
    total and the in-context stage, the cost model ``a + bN + cN^2``, local exponents, stage shares."""

    total: PowerLaw
    total_upper: PowerLaw
    icl: PowerLaw
    icl_upper: PowerLaw
    n_upper: float
    cost: CostModel
    local: pd.DataFrame
    stage_share: pd.Series

    @property
    def dominant(self) -> str:
        return self.stage_share.idxmax().removesuffix("_s")


def fit_timings(timings: pd.DataFrame) -> TimeFits:
    """Fit the columns ``n_context``, ``total_s``, ``icl_s`` and the stage seconds of ``timings``."""
    n, total, icl = timings.n_context, timings.total_s, timings.icl_s
    n_upper = upper_half(n)
    local = timings[["n_context"]].assign(
        local_exponent_total=np.gradient(np.log(total), np.log(n)),
        local_exponent_icl=np.gradient(np.log(icl), np.log(n)),
    )
    share = timings[[f"{s}_s" for s in STAGES] + ["preprocessing_s"]].sum() / total.sum()
    return TimeFits(
        fit_power_law(n, total), fit_power_law(n, total, min_n=n_upper), fit_power_law(n, icl),
        fit_power_law(n, icl, min_n=n_upper), n_upper, fit_cost_model(n, total), local, share,
    )  # fmt: skip


def time_figure(timings: pd.DataFrame, fits: TimeFits, device: str, weights) -> plt.Figure:
    """Left: seconds against N (log-log) with the fits and the extrapolated region; right: seconds by stage."""
    largest = timings.iloc[-1]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    grid = np.geomspace(timings.n_context.min(), timings.n_context.max() * 10, 50)
    up = grid >= fits.n_upper
    ax1.loglog(timings.n_context, timings.total_s, "o", label="total (fit + predict)")
    ax1.loglog(grid, fits.total(grid), "-", lw=0.8, label=f"all sizes: N^{fits.total.exponent:.2f}")
    ax1.loglog(
        grid[up], fits.total_upper(grid[up]), "-", label=f"N ≥ {fits.n_upper:.0f}: N^{fits.total_upper.exponent:.2f}"
    )
    ax1.loglog(grid, fits.cost(grid), "--", color="0.4", label="a + bN + cN²")
    ax1.loglog(timings.n_context, timings.icl_s, "s", label="in-context stage")
    label = f"its fit, N ≥ {fits.n_upper:.0f}: N^{fits.icl_upper.exponent:.2f}"
    ax1.loglog(grid[up], fits.icl_upper(grid[up]), ":", label=label)
    ax1.axvspan(timings.n_context.max(), grid.max(), color="0.9", label="extrapolated")
    ax1.set(xlabel="context rows N", ylabel="seconds")
    ax1.set_title(f"{int(largest.n_test)} test rows · {int(largest.n_features)} features · {device}")
    ax1.legend(fontsize=8)
    bottom, x = np.zeros(len(timings)), np.arange(len(timings))
    for column in ["preprocessing_s"] + [f"{s}_s" for s in STAGES]:
        ax2.bar(x, timings[column], bottom=bottom, label=column.removesuffix("_s"))
        bottom += timings[column].to_numpy()
    ax2.set_xticks(x, timings.n_context)
    ax2.set(xlabel="context rows N", ylabel="seconds", title="where the time goes")
    ax2.legend(fontsize=8)
    stamp_weights(fig, weights)
    fig.tight_layout()
    return fig


def memory_figure(timings: pd.DataFrame, weights) -> plt.Figure:
    """Peak memory rise against N."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(timings.n_context, timings.peak_mb, "o-")
    ax.set_xscale("log")
    ax.set(xlabel="context rows N", ylabel="peak memory rise (MiB)")
    ax.grid(alpha=0.3)
    stamp_weights(fig, weights)
    return fig


def crossover_text(timings: pd.DataFrame) -> str:
    """Where the quadratic term of ``t = a + bN + cN^2`` overtakes the linear one, as the claims page reads it: the
    relative-error fit with its 95% interval (:func:`~icl_support.evaluation.timing.crossover_interval`); with fewer
    than 4 sizes, the non-negative least-squares fit without an interval, said so."""
    n, t = timings.n_context.to_numpy(float), timings.total_s.to_numpy(float)
    if len(np.unique(n)) >= 4 and (t > 0).all():
        c = crossover_interval(n, t)
        if not np.isfinite(c.value) or c.value <= 0:
            return "no size: the relative-error fit needed no quadratic term over these sizes"
        return f"N ≈ {c.value:,.0f} context rows (95% interval {c.low:,.0f} to {c.high:,.0f}, relative-error fit)"
    cost = fit_cost_model(n, t)
    if not np.isfinite(cost.crossover):
        return "no size: the fit needed no quadratic term over these sizes"
    sizes = len(np.unique(n))
    return f"N ≈ {cost.crossover:,.0f} context rows (least squares over {sizes} sizes: too few for an interval)"


def glued_numbers(timings: pd.DataFrame, fits: TimeFits, kv: dict) -> dict:
    """The numbers chapter 2's prose quotes."""
    largest, cost = timings.iloc[-1], fits.cost
    crossover = crossover_text(timings)
    return {
        "exponent_total": fits.total.exponent, "r2_total": fits.total.r2, "coef_total": fits.total.coef,
        "exponent_icl": fits.icl.exponent, "r2_icl": fits.icl.r2, "n_upper": fits.n_upper,
        "exponent_total_upper": fits.total_upper.exponent, "exponent_icl_upper": fits.icl_upper.exponent,
        "cost_fixed_s": cost.fixed, "cost_linear_s": cost.linear, "cost_quadratic_s": cost.quadratic,
        "crossover_n": cost.crossover, "crossover_text": crossover,
        "dominant_stage": fits.dominant, "dominant_share": float(fits.stage_share.max()),
        "n_ctx_largest": int(largest.n_context), "n_timing_test_rows": int(largest.n_test),
        "total_s_largest": float(largest.total_s), "icl_share_largest": float(largest.icl_s / largest.total_s),
        "peak_mb_largest": float(largest.peak_mb),
        "kv_n_context": kv["n_context"], "kv_fit_s": kv["kv_cache_fit_s"], "kv_predict_s": kv["kv_cache_predict_s"],
        "default_fit_s": kv["default_fit_s"], "default_predict_s": kv["default_predict_s"],
        "kv_max_diff": kv["max_abs_prob_diff"],
    }  # fmt: skip


def split_stage_numbers(stages: pd.DataFrame) -> dict:
    """The numbers the split-mode section quotes, from :func:`~icl_support.evaluation.timing.stage_split_comparison`
    (rows: the whole pool, k rows per class plain, the same k rows with the columns from the pool)."""
    whole, plain, split = (stages.iloc[i] for i in range(3))
    return {
        "split_pool_rows": int(whole.context_rows), "split_context_rows": int(split.context_rows),
        "split_column_rows": int(split.column_rows),
        "whole_predict_s": float(whole.predict_s), "whole_icl_s": float(whole.icl_s),
        "whole_column_s": float(whole.column_s), "plain_k_predict_s": float(plain.predict_s),
        "split_fit_s": float(split.fit_s), "split_fit_column_s": float(split.fit_column_s),
        "split_predict_s": float(split.predict_s), "split_icl_s": float(split.icl_s),
        "split_predict_speedup": float(whole.predict_s / split.predict_s) if split.predict_s > 0 else float("nan"),
    }  # fmt: skip


def record(timings: pd.DataFrame, fits: TimeFits, kv: dict) -> dict:
    """The chapter's results JSON body (add provenance)."""
    return {
        "timings": timings.to_dict(orient="records"), "fit_total": vars(fits.total), "fit_icl": vars(fits.icl),
        "fit_total_upper": {**vars(fits.total_upper), "min_n": fits.n_upper},
        "fit_icl_upper": {**vars(fits.icl_upper), "min_n": fits.n_upper},
        "cost_model": vars(fits.cost), "local_exponents": fits.local.to_dict(orient="records"),
        "stage_share": fits.stage_share.to_dict(), "kv_cache": kv,
    }  # fmt: skip
