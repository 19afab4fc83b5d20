"""Chapter 1: accuracy vs the fraction of the train pool used as context.

For each fraction and seed a class-balanced context is drawn from the train pool; TabICL and the
peers (``icl_support.peers``) read exactly that context and are scored on the same test rows.
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

from .data import class_fraction_subset
from .peers import PEERS, make_peer
from .tables import EmbeddingTable

EVALUATORS: tuple[str, ...] = ("tabicl",) + PEERS


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
    tabicl: Callable[[int], object] | None,
    tabicl_max_context: int = 2000,
    evaluators: Iterable[str] = EVALUATORS,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per (fraction, seed, evaluator): ``n_context``, ``accuracy``, ``fit_s``, ``predict_s``, ``status``.

    ``tabicl(seed)`` returns an unfitted TabICL classifier (``None`` skips TabICL). TabICL runs whose
    context exceeds ``tabicl_max_context`` rows are recorded with ``status="skipped"`` and NaN
    accuracy. The whole pool is a single context, so fraction 1.0 is run once (first seed).
    """
    evaluators = tuple(evaluators)
    unknown = set(evaluators) - set(EVALUATORS)
    if unknown:
        raise ValueError(f"unknown evaluator(s) {sorted(unknown)}; valid: {', '.join(EVALUATORS)}")
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
            rows.append({**row, **score_classifier(clf, X_ctx, y_ctx, table.X_test, table.y_test), "status": "ok"})
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
