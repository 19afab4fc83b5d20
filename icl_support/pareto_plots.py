"""Tables and figures of chapter 5 from a results mapping (a live :func:`icl_support.pareto.run_pareto`
or a recorded ``results/*-pareto.json``; both have ``{strategy: {k or "all": {evaluator: {mean, std, n},
tabicl_seconds, build_seconds, rows}}}``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .pareto import EVALUATORS, pareto_front

STYLE = {  # strategy: (colour, marker)
    "random": ("0.45", "o"),
    "class_mean": ("tab:red", "s"),
    "nearest_centroid": ("tab:blue", "v"),
    "kmeans_medoids": ("tab:cyan", "^"),
    "herding": ("tab:orange", "D"),
    "kcenter": ("tab:brown", "x"),
    "row_lgm": ("tab:pink", "P"),
    "pixel_lgm": ("tab:green", "*"),
    "tabicl_lgm": ("tab:purple", "h"),
    "full": ("black", "*"),
}


def long_table(results: dict) -> pd.DataFrame:
    """One row per (strategy, k, evaluator): rows, mean, std, n, TabICL seconds, build seconds."""
    out = []
    for name, per_k in results.items():
        for k, e in per_k.items():
            for ev in EVALUATORS:
                out.append(
                    {
                        "strategy": name,
                        "k": k,
                        "rows": e["rows"],
                        "evaluator": ev,
                        "mean": e[ev]["mean"],
                        "std": e[ev]["std"],
                        "n": e[ev]["n"],
                        "tabicl_seconds": e["tabicl_seconds"]["mean"],
                        "build_seconds": e["build_seconds"]["mean"],
                    }
                )
    return pd.DataFrame(out)


def wide_table(results: dict, evaluator: str) -> pd.DataFrame:
    """Strategies x k of ``mean ± std`` for one evaluator (strings, for display)."""
    t = long_table(results)
    t = t[t.evaluator == evaluator]
    cells = t.assign(
        cell=[
            f"{m:.3f} ± {sd:.3f}" if n > 1 else f"{m:.3f}" for m, sd, n in zip(t["mean"], t["std"], t["n"], strict=True)
        ]
    )
    order = list(dict.fromkeys(t.k.tolist()))
    return cells.pivot(index="strategy", columns="k", values="cell").reindex(columns=order).fillna("")


def front(results: dict, evaluator: str, x: str = "rows") -> pd.DataFrame:
    """The Pareto front (fewest ``x``, highest accuracy) of one evaluator over every strategy and k."""
    t = long_table(results)
    t = t[t.evaluator == evaluator].reset_index(drop=True)
    return t.iloc[pareto_front(t[x].to_numpy(float), t["mean"].to_numpy(float))]


def plot_accuracy(results: dict, x: str = "rows", evaluators=EVALUATORS, random_tabicl: bool = True) -> plt.Figure:
    """One panel per evaluator: accuracy (± std over seeds) against context rows or TabICL seconds (log x),
    a line per strategy, the Pareto front dashed."""
    xlabel = {"rows": "context rows", "tabicl_seconds": "TabICL fit + predict seconds"}[x]
    fig, axes = plt.subplots(1, len(evaluators), figsize=(3.6 * len(evaluators), 3.4), sharex=True)
    t = long_table(results)
    for ax, ev in zip(np.atleast_1d(axes), evaluators, strict=True):
        sub = t[t.evaluator == ev]
        for name, g in sub.groupby("strategy", sort=False):
            color, marker = STYLE.get(name, ("k", "o"))
            g = g.sort_values(x)
            ax.errorbar(g[x], g["mean"], yerr=g["std"], color=color, marker=marker, ms=5, lw=1, capsize=2, label=name)
        f = front(results, ev, x)
        ax.plot(f[x], f["mean"], "k--", lw=0.8, alpha=0.6, label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        title = ev + (" (RANDOM WEIGHTS: chance)" if ev == "tabicl" and random_tabicl else "")
        ax.set_title(title, fontsize=9)
    np.atleast_1d(axes)[0].set_ylabel("test accuracy")
    np.atleast_1d(axes)[-1].legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    return fig


def distillation_gap(results: dict, evaluators=("logreg", "nearest_mean", "one_nn")) -> pd.DataFrame:
    """Embedding-space vs pixel LGM at every k where both ran: accuracy per evaluator, build seconds, and
    the gap (pixel minus row; the accuracy bought by distilling real images)."""
    rows = []
    for k in results.get("pixel_lgm", {}):
        if k not in results.get("row_lgm", {}):
            continue
        px, rw = results["pixel_lgm"][k], results["row_lgm"][k]
        r = {"k": k, "pixel_seconds": px["build_seconds"]["mean"], "row_seconds": rw["build_seconds"]["mean"]}
        for ev in evaluators:
            r[f"pixel_{ev}"] = px[ev]["mean"]
            r[f"row_{ev}"] = rw[ev]["mean"]
            r[f"gap_{ev}"] = px[ev]["mean"] - rw[ev]["mean"]
        rows.append(r)
    return pd.DataFrame(rows)
