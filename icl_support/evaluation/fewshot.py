"""The write-up's own regime: contexts of one to a few rows per class, and how well an in-context learner reads them.

A context of ``k`` rows per class is scored by TabICL (``n_estimators=1``, both ``context_stats``) and, on the
very same rows, by 1-NN and the nearest class mean. *Learner adequacy* is TabICL's accuracy over the peer's on
the same rows: a Bayesian in-context learner on i.i.d. one-shot contexts should be close to 1-NN, and on
class-mean rows close to the nearest class mean; far below, a verdict about contexts measures the learner.

Contexts (:data:`FEWSHOT_CONTEXTS`), drawn from a pool by seed:

``random_1`` / ``random_2`` / ``random_5``  k random pool rows of every class
``class_mean``                              each class's mean pool row (one row per class)

Tables (:func:`fewshot_table`): ``digits_pixels`` (sklearn digits, 1,000 stratified test rows, PCA-32 fitted on
the unlabelled pool) and ``digits_embeddings`` (the demo profile's rows, chapter 1's table). Usage::

    pool = fewshot_table("digits_pixels", seed=0)
    rows = score_fewshot("icl_support/weights/tabicl-mini.ckpt", pool, seeds=(0, 1, 2))
    summary = summarise_fewshot(rows)      # {context: {"tabicl_context", "tabicl_pool", "one_nn", ...}}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .verdicts import ADEQUACY_BAR

FEWSHOT_CONTEXTS = ("random_1", "random_2", "random_5", "class_mean")
FEWSHOT_TABLES = ("digits_pixels", "digits_embeddings")
# the peer each context is judged against, and the share of it a learner must reach (the few-shot bar)
BAR = {
    "random_1": ("one_nn", ADEQUACY_BAR),
    "class_mean": ("nearest_mean", ADEQUACY_BAR),
    "random_5": ("nearest_mean", 1.0),
}


@dataclass(frozen=True)
class FewshotPool:
    """``X_pool`` (N, F) float64, ``y_pool`` (N,), ``X_test`` (M, F), ``y_test`` (M,): rows the learners read."""

    name: str
    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def fewshot_table(name: str, seed: int = 0, pca_dim: int = 32, n_test: int = 1000, cache_dir: str = "") -> FewshotPool:
    """The pool and test rows of one of :data:`FEWSHOT_TABLES` (see module docstring)."""
    if name == "digits_pixels":
        from sklearn.datasets import load_digits
        from sklearn.decomposition import PCA
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=n_test, stratify=y, random_state=seed)
        pca = PCA(pca_dim, random_state=seed).fit(X_pool)
        return FewshotPool(name, pca.transform(X_pool), y_pool, pca.transform(X_test), y_test)
    if name == "digits_embeddings":
        from ..core.config import resolve_settings
        from ..embedding.tables import build_table

        settings = resolve_settings("demo", "", **({"cache_dir": cache_dir} if cache_dir else {}))
        table = build_table(settings, progress=False)
        return FewshotPool(name, table.X_train, table.y_train, table.X_test, table.y_test)
    raise ValueError(f"unknown few-shot table {name!r}; valid: {', '.join(FEWSHOT_TABLES)}")


def fewshot_context(kind: str, X_pool: np.ndarray, y_pool: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(X_ctx (C*k, F), y_ctx)`` of one of :data:`FEWSHOT_CONTEXTS` drawn from the pool by ``seed``."""
    classes = np.unique(y_pool)
    if kind == "class_mean":
        return np.stack([X_pool[y_pool == c].mean(0) for c in classes]), classes.copy()
    if kind.startswith("random_") and kind[7:].isdigit():
        k = int(kind[7:])
        rng = np.random.default_rng(seed)
        idx = np.concatenate([rng.choice(np.flatnonzero(y_pool == c), k, replace=False) for c in classes])
        return X_pool[idx], y_pool[idx]
    raise ValueError(f"unknown few-shot context {kind!r}; valid: {', '.join(FEWSHOT_CONTEXTS)} (random_<k> too)")


def score_fewshot(checkpoint: str | Path, pool: FewshotPool, seeds=(0, 1, 2), contexts=FEWSHOT_CONTEXTS) -> list[dict]:
    """One row per (context, seed): TabICL with both ``context_stats``, 1-NN and the nearest mean on the same rows.

    ``class_mean`` does not depend on the seed of its rows; its seeds vary TabICL's own seed only.
    """
    from ..model.context_stats import fit_tabicl
    from ..model.weights import TabICLWeights, make_tabicl
    from .peers import make_peer

    weights = TabICLWeights("local", str(checkpoint))
    rows = []
    for kind in contexts:
        for seed in seeds:
            X, y = fewshot_context(kind, pool.X_pool, pool.y_pool, seed)
            row = {"table": pool.name, "context": kind, "seed": int(seed), "rows": int(len(y))}
            for stats in ("context", "pool"):
                clf = fit_tabicl(make_tabicl(weights, 1, "cpu", seed), X, y, context_stats=stats, X_pool=pool.X_pool)
                row[f"tabicl_{stats}"] = float((clf.predict(pool.X_test) == pool.y_test).mean())
            for peer in ("one_nn", "nearest_mean"):
                row[peer] = float(make_peer(peer, seed).fit(X, y).score(pool.X_test, pool.y_test))
            rows.append(row)
    return rows


def summarise_fewshot(rows: list[dict]) -> dict:
    """``{context: {evaluator: mean over seeds, ..., "ratio_<stats>": TabICL / the bar's peer, "bar_met"}}``."""
    out = {}
    for kind in dict.fromkeys(r["context"] for r in rows):
        sel = [r for r in rows if r["context"] == kind]
        means = {
            e: float(np.mean([r[e] for r in sel])) for e in ("tabicl_context", "tabicl_pool", "one_nn", "nearest_mean")
        }
        means["seeds"] = len(sel)
        peer, share = BAR.get(kind, ("one_nn", None))
        for stats in ("context", "pool"):
            means[f"ratio_{stats}"] = means[f"tabicl_{stats}"] / means[peer] if means[peer] > 0 else float("nan")
        means["peer"] = peer
        if share is not None:
            means["goal"] = share
            means["bar_met"] = bool(max(means["ratio_context"], means["ratio_pool"]) >= share)
        out[kind] = means
    return out


def best_ratio(summary: dict) -> float:
    """TabICL's accuracy over its peer's with the better of the two ``context_stats``."""
    return max(summary["ratio_context"], summary["ratio_pool"])


def bar_mean(rec: dict) -> float:
    """The mean of a few-shot record's best ratios over the contexts the bar judges (those with a ``goal``: one row
    per class, five per class, the class means) on every table it scored: one number to rank checkpoints by, stated
    before the runs it ranks."""
    ratios = [best_ratio(s) for part in rec["fewshot"].values() for s in part["summary"].values() if "goal" in s]
    return float(sum(ratios) / len(ratios))
