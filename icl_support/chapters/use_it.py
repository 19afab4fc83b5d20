"""The page *Use it on your data*: the scikit-learn API on sklearn digits, and the recorded CIFAR-10 benchmark.

Usage::

    values = digits_example_values(clf, full, X_test, y_test)     # the numbers the page glues
    table, fig, values = recorded_benchmark("results")            # results/bench-context-classifier.json
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..evaluation.records import read_json

BENCH_FILE = "bench-context-classifier.json"


def digits_example_values(clf, full, X_test, y_test, seconds: dict) -> dict:
    """Accuracy, context rows and seconds of the compressed classifier ``clf`` and the full-context ``full``."""
    return {
        "ex_rows": int(len(clf.context_[1])),
        "ex_pool": int(full.estimator_.n_samples_in_),
        "ex_acc": float(clf.score(X_test, y_test)),
        "ex_full_acc": float(full.score(X_test, y_test)),
        "ex_seconds": float(seconds["compressed"]),
        "ex_full_seconds": float(seconds["full"]),
    }


def recorded_benchmark(results_dir: str | Path) -> tuple[pd.DataFrame, plt.Figure, dict]:
    """The recorded ``bench-context-classifier.json`` as a table, an accuracy-vs-seconds figure and glued values.

    A missing file raises, naming the command that writes it.
    """
    path = Path(results_dir) / BENCH_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `.venv/bin/python -m benchmarks.context_classifier` first")
    rec = read_json(path)
    rows = pd.DataFrame(rec["rows"])
    table = rows[["method", "context_stats", "rows", "accuracy", "seconds", "speedup"]].rename(
        columns={"context_stats": "TabICL statistics", "seconds": "fit + predict s", "speedup": "speedup vs full"}
    )
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for strategy, group in rows.groupby("strategy", sort=False):
        best = group.sort_values("accuracy").groupby("k", dropna=False).tail(1)  # the better statistics per k
        ax.plot(best["seconds"], best["accuracy"], "o-" if len(best) > 1 else "s", label=strategy)
    ax.set_xscale("log")
    ax.set(xlabel="fit + predict seconds (log)", ylabel="test accuracy")
    ax.legend(fontsize=8)
    ax.set_title(f"CIFAR-10, {rec['n_train']:,} training rows, {rec['weights']['label']}", fontsize=9)
    full = rows[rows.strategy == "full"].iloc[0]
    compressed = rows[~rows.strategy.isin(["full", "logreg"])]
    best = compressed.loc[compressed.accuracy.idxmax()]
    faster = compressed[compressed.seconds < full.seconds]
    values = {
        "bench_n_train": int(rec["n_train"]),
        "bench_n_eval": int(rec["n_eval"]),
        "bench_weights": rec["weights"]["label"],
        "bench_full_acc": float(full.accuracy),
        "bench_full_s": float(full.seconds),
        "bench_best_method": f"{best.method} ({best.context_stats} statistics)",
        "bench_best_acc": float(best.accuracy),
        "bench_best_speedup": float(best.speedup),
        "bench_logreg_acc": float(rows[rows.strategy == "logreg"].iloc[0].accuracy),
        "bench_quick": bool(rec["provenance"].get("quick")),
        "bench_n_faster_not_worse": int((faster.accuracy >= full.accuracy).sum()),
        "bench_command": rec["provenance"]["command"],
    }
    if len(faster):
        fastest_ok = faster[faster.accuracy >= full.accuracy - 0.01]
        values["bench_fastest_within_1pt"] = (
            f"{fastest_ok.loc[fastest_ok.seconds.idxmin()].method} ({fastest_ok.seconds.min():.2f} s)"
            if len(fastest_ok)
            else "none"
        )
    else:
        values["bench_fastest_within_1pt"] = "none"
    return table.round(3), fig, values


def accuracy_gap(values: dict) -> float:
    """The compressed example's accuracy minus the full context's (negative: compression costs accuracy)."""
    return float(np.round(values["ex_acc"] - values["ex_full_acc"], 6))
