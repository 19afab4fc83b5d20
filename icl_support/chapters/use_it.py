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
from ..evaluation.statistics import Estimate, Interval, difference

BENCH_FILE = "bench-context-classifier.json"
NOT_COMPRESSED = ("full", "full_kv_cache", "logreg")  # rows that read every training row
COLUMN_LABELS = {"pool": "from the pool (split mode)", "context": "context rows", "": "-"}


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
    columns = {
        "context_stats": "TabICL statistics", "seconds": "fit + predict s", "speedup": "speedup vs full",
        "fit_seconds": "fit s", "predict_seconds": "predict s", "predict_speedup": "predict speedup",
    }  # fmt: skip
    table = rows[[c for c in ["method", "context_stats", "rows", "accuracy", *list(columns)[1:]] if c in rows]]
    table = table.rename(columns=columns)
    if "column_context" in rows:  # the split mode named in its own column, whatever the width of the method's
        table.insert(2, "TabICL columns", rows["column_context"].map(COLUMN_LABELS).fillna("-"))
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for strategy, group in rows.groupby("strategy", sort=False):
        best = group.sort_values("accuracy").groupby("k", dropna=False).tail(1)  # the better statistics per k
        ax.plot(best["seconds"], best["accuracy"], "o-" if len(best) > 1 else "s", label=strategy)
    ax.set_xscale("log")
    ax.set(xlabel="fit + predict seconds (log)", ylabel="test accuracy")
    ax.legend(fontsize=8)
    ax.set_title(f"CIFAR-10, {rec['n_train']:,} training rows, {rec['weights']['label']}", fontsize=9)
    full = rows[rows.strategy == "full"].iloc[0]
    compressed = rows[~rows.strategy.isin(NOT_COMPRESSED)]
    best = _most_accurate(compressed)
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
    values.update(_split_values(rows, rec.get("split_bar")))
    if "bench_split_acc" in values:
        values |= _split_gap(rows, values, int(rec["n_eval"]))
    return table.round(3), fig, values


def _most_accurate(rows: pd.DataFrame) -> pd.Series:
    """The benchmark row (one context strategy) with the highest accuracy; the first such row on ties."""
    return rows.loc[rows.accuracy.idxmax()]


def _split_gap(rows: pd.DataFrame, values: dict, n_eval: int) -> dict:
    """The best split-mode context's accuracy minus the whole training set's, with its 95% interval: paired over the
    same test rows where the record holds each row's paired gap (``gap_vs_whole``), else two binomial intervals taken
    as independent (older records; conservative, wider than the paired one)."""
    gap = _most_accurate(rows[rows.column_context == "pool"]).get("gap_vs_whole") if "gap_vs_whole" in rows else None
    if isinstance(gap, dict) and gap.get("se"):
        text = Interval(gap["value"], gap["se"], gap["df"]).text()
        how = f"paired over the same {n_eval:,} test rows (Student's t, {gap['df']:.0f} degrees of freedom)"
    else:
        split_acc, whole = (Estimate(values[k], 0.0, 1, n_eval) for k in ("bench_split_acc", "bench_full_acc"))
        text = difference(split_acc, whole).text()
        how = "one run each on the same test rows, binomial intervals taken as independent (wider than a paired one)"
    return {"bench_split_gap": text, "bench_split_gap_how": how}


def _split_values(rows: pd.DataFrame, bar: dict | None) -> dict:
    """Glued values of the split mode and of TabICL's own KV cache, where the record has them (older records lack
    the columns): the best split-mode context and split-mode retrieval, with their predict speedups, and the bar."""
    if "predict_seconds" not in rows or "column_context" not in rows:
        return {"bench_has_split_timing": False}
    split = rows[rows.column_context == "pool"]
    retrieval = split[split.strategy == "retrieval"]
    plain_retrieval = rows[(rows.strategy == "retrieval") & (rows.column_context == "context")]
    kv = rows[rows.strategy == "full_kv_cache"]
    out = {"bench_has_split_timing": True}
    for key, group in (("split", split), ("split_retrieval", retrieval), ("plain_retrieval", plain_retrieval)):
        if len(group):
            best = _most_accurate(group)
            out |= {f"bench_{key}_best": best.method, f"bench_{key}_acc": float(best.accuracy),
                    f"bench_{key}_predict_speedup": float(best.predict_speedup),
                    f"bench_{key}_speedup": float(best.speedup)}  # fmt: skip
    if len(kv):
        fastest = kv.loc[kv.predict_seconds.idxmin()]
        out |= {"bench_kv_method": fastest.method, "bench_kv_predict_speedup": float(fastest.predict_speedup),
                "bench_kv_fit_s": float(fastest.fit_seconds), "bench_kv_acc": float(fastest.accuracy)}  # fmt: skip
    out["bench_split_bar"] = (  # the benchmark judged its bar when it ran (benchmarks.context_classifier.split_bar)
        "not recorded" if not bar else "met" if bar["met"] else
        "not met: no split-mode context within 1 point of the whole training set at 10x less predict time"
        if not bar["within_1pt_10x"] else "not met: split-mode retrieval is not faster than the whole training set"
    )  # fmt: skip
    return out


def accuracy_gap(values: dict) -> float:
    """The compressed example's accuracy minus the full context's (negative: compression costs accuracy)."""
    return float(np.round(values["ex_acc"] - values["ex_full_acc"], 6))
