"""Chapter 1: accuracy vs the fraction of the train pool used as context.

For each fraction and seed a class-balanced context is drawn from the train pool; TabICL and the
peers (``icl_support.evaluation.peers``) read exactly that context and are scored on the same test rows.
Usage::

    runs = run_context_scaling(table, fractions=(0.01, 0.2, 1.0), seeds=range(3), tabicl=factory)
    summary = summarise(runs)      # mean, std, n per (fraction, evaluator)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..core.errors import explain_out_of_memory
from ..data.datasets import class_fraction_subset
from ..embedding.tables import EmbeddingTable
from ..evaluation.peers import PEERS, make_peer

SCALING_EVALUATORS: tuple[str, ...] = ("tabicl",) + PEERS


def score_classifier(clf, X_ctx, y_ctx, X_test, y_test) -> dict:
    """Fit on the context, predict the test rows. Returns accuracy (fraction) and seconds."""
    t0 = time.perf_counter()
    clf.fit(X_ctx, y_ctx)
    t1 = time.perf_counter()
    pred = clf.predict(X_test)
    t2 = time.perf_counter()
    return {"accuracy": float(np.mean(pred == y_test)), "fit_s": t1 - t0, "predict_s": t2 - t1}


def run_context_scaling(
    table: EmbeddingTable,
    fractions: Iterable[float],
    seeds: Iterable[int],
    *,
    tabicl: Callable[[int], object] | None,
    tabicl_max_context: int = 2000,
    evaluators: Iterable[str] = SCALING_EVALUATORS,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per (fraction, seed, evaluator): ``n_context``, ``accuracy``, ``fit_s``, ``predict_s``, ``status``.

    ``tabicl(seed)`` returns an unfitted TabICL classifier (``None`` skips TabICL). TabICL runs whose
    context exceeds ``tabicl_max_context`` rows are recorded with ``status="skipped"`` and NaN
    accuracy. The whole pool is a single context, so fraction 1.0 is run once (first seed).
    """
    evaluators = tuple(evaluators)
    unknown = set(evaluators) - set(SCALING_EVALUATORS)
    if unknown:
        raise ValueError(f"unknown evaluator(s) {sorted(unknown)}; valid: {', '.join(SCALING_EVALUATORS)}")
    seeds = list(seeds)
    jobs = [(f, s) for f in fractions for s in (seeds[:1] if f >= 1.0 else seeds)]
    rows = []
    for fraction, seed in tqdm(jobs, desc="contexts", disable=not progress):
        idx = class_fraction_subset(table.y_train, fraction, seed)
        X_ctx, y_ctx = table.X_train[idx], table.y_train[idx]
        for name in evaluators:
            row = {"fraction": fraction, "seed": seed, "n_context": len(idx), "evaluator": name}
            if name == "tabicl" and (tabicl is None or len(idx) > tabicl_max_context):
                rows.append({**row, "accuracy": np.nan, "fit_s": np.nan, "predict_s": np.nan, "status": "skipped"})
                continue
            clf = tabicl(seed) if name == "tabicl" else make_peer(name, seed)
            with explain_out_of_memory(f"{name} on {len(idx)} context rows", "tabicl_max_context or fractions"):
                scores = score_classifier(clf, X_ctx, y_ctx, table.X_test, table.y_test)
            rows.append({**row, **scores, "status": "ok"})
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof=0) and count of accuracy and TabICL seconds per (fraction, evaluator)."""
    ok = runs[runs.status == "ok"]
    return (
        ok.groupby(["evaluator", "fraction"])
        .agg(
            n_context=("n_context", "first"),
            mean=("accuracy", "mean"),
            std=("accuracy", lambda a: float(np.std(a))),
            n=("accuracy", "size"),
            predict_s=("predict_s", "mean"),
        )
        .reset_index()
    )


# ---------------------------------------------------------------- the chapter's tables, figure and glued numbers

LABELS = {"nearest_mean": "nearest class mean", "knn": "5-NN", "logreg": "logistic-regression probe"}


def accuracy_table(summary: pd.DataFrame, weights) -> pd.DataFrame:
    """Fractions x evaluators (mean accuracy), with the context rows first; TabICL's column says RANDOM WEIGHTS
    when it is chance."""
    view = summary.pivot(index="fraction", columns="evaluator", values="mean")
    view.insert(0, "context rows", summary.groupby("fraction").n_context.first())
    if weights.is_random:
        view = view.rename(columns={"tabicl": "tabicl (RANDOM WEIGHTS: chance)"})
    return view


def accuracy_figure(summary: pd.DataFrame, settings, n_features: int, weights):
    """Accuracy (± std over draws) against context rows (log scale), one line per evaluator."""
    import matplotlib.pyplot as plt

    from ..evaluation.plots import stamp_weights

    labels = {"tabicl": weights.name, **LABELS}
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, group in summary.groupby("evaluator"):
        dashed = name == "tabicl" and weights.is_random
        ax.errorbar(group.n_context, group["mean"], yerr=group["std"], marker="o", capsize=3, label=labels[name],
                    linestyle="--" if dashed else "-")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("context rows (log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{settings.dataset} · {settings.backbone} · {n_features} features")
    ax.grid(alpha=0.3)
    ax.legend()
    stamp_weights(fig, weights)
    return fig


def cost_table(summary: pd.DataFrame) -> pd.DataFrame:
    """TabICL's predict seconds per fraction: measured, or EXTRAPOLATED by a power law fitted on the upper half
    of the measured sizes where a context was larger than ``tabicl_max_context``."""
    from ..evaluation.timing import fit_power_law, upper_half

    timed = summary[summary.evaluator == "tabicl"]
    cost = summary.groupby("fraction").n_context.first().to_frame()
    cost["tabicl_predict_s"] = timed.set_index("fraction").predict_s
    cost["source"] = np.where(cost.tabicl_predict_s.notna(), "measured", "not run")
    if timed.n_context.nunique() >= 2:
        law = fit_power_law(timed.n_context, timed.predict_s, min_n=upper_half(timed.n_context))
        missing = cost.tabicl_predict_s.isna()
        cost.loc[missing, "tabicl_predict_s"] = law(cost.loc[missing, "n_context"])
        cost.loc[missing, "source"] = f"EXTRAPOLATED (t ~ N^{law.exponent:.2f})"
    return cost


def glued_numbers(summary: pd.DataFrame, fractions: Iterable[float]) -> dict:
    """The numbers chapter 1's prose quotes: accuracies at the smallest, largest and every fraction, and
    TabICL's largest measured run."""

    def acc(evaluator: str, fraction: float) -> float:
        row = summary[(summary.evaluator == evaluator) & (summary.fraction == fraction)]
        return float(row["mean"].iloc[0]) if len(row) else float("nan")

    fractions = list(fractions)
    f_min, f_max = min(fractions), max(fractions)
    values = {"frac_min": f_min, "frac_max": f_max,
              "n_ctx_min": int(summary[summary.fraction == f_min].n_context.iloc[0]),
              "n_ctx_max": int(summary[summary.fraction == f_max].n_context.iloc[0])}  # fmt: skip
    for name in SCALING_EVALUATORS:
        values[f"acc_{name}_min"], values[f"acc_{name}_max"] = acc(name, f_min), acc(name, f_max)
        for f in fractions:
            values[f"acc_{name}_f{f * 100:g}".replace(".", "p")] = acc(name, f)
    timed = summary[summary.evaluator == "tabicl"]
    largest = timed.loc[timed.n_context.idxmax()] if len(timed) else None
    values["acc_tabicl_largest_run"] = float(largest["mean"]) if largest is not None else float("nan")
    values["n_ctx_tabicl_largest_run"] = int(largest.n_context) if largest is not None else 0
    values["tabicl_predict_s_largest_run"] = float(largest.predict_s) if largest is not None else float("nan")
    return values
