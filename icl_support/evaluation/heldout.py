"""Held-out real tables for judging an in-context learner that never saw them.

sklearn's ``iris`` (3 classes, 4 features), ``wine`` (3, 13), ``breast_cancer`` (2, 30) and
``digits`` (10, 64), all shipped inside scikit-learn. Each is split stratified into a context
pool (70%) and test rows (30%) by ``seed``; a context of ``n`` rows is a stratified subsample
of the pool (``0`` = the whole pool, at least one row per class). TabICL (``n_estimators=1``)
and every peer classifier read the same context and test rows.

Usage::

    rows = evaluate_checkpoint("icl_support/weights/tabicl-mini.ckpt", context_sizes=(10, 50, 200, 0))
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

TABLES = ("iris", "wine", "breast_cancer", "digits")
HELDOUT_PEERS = ("logreg", "knn", "nearest_mean")  # the peers scored beside TabICL-mini on held-out tables


def load_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (n, F) float64, ``y`` (n,) int64 of one of :data:`TABLES`."""
    from sklearn import datasets

    loaders = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
    }
    if name not in loaders:
        raise ValueError(f"unknown held-out table {name!r}; valid: {', '.join(TABLES)}")
    X, y = loaders[name](return_X_y=True)
    return X.astype(np.float64), y.astype(np.int64)


def split(X: np.ndarray, y: np.ndarray, n_context: int, seed: int) -> tuple:
    """Stratified (X_ctx, y_ctx, X_test, y_test): 30% test; a context of ``n_context`` rows (0 = all 70%)."""
    from sklearn.model_selection import train_test_split

    X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    if n_context and n_context < len(y_pool):
        n_classes = len(np.unique(y_pool))
        if n_context <= n_classes:  # one row per class
            rng = np.random.default_rng(seed)
            idx = np.array([rng.choice(np.flatnonzero(y_pool == c)) for c in np.unique(y_pool)])
        else:
            idx, _ = train_test_split(np.arange(len(y_pool)), train_size=n_context, stratify=y_pool, random_state=seed)
        X_pool, y_pool = X_pool[idx], y_pool[idx]
    return X_pool, y_pool, X_test, y_test


def tabicl_accuracy(checkpoint: str | Path, X_ctx, y_ctx, X_test, y_test, seed: int = 0) -> float:
    """Test accuracy of ``TabICLClassifier(n_estimators=1)`` on ``checkpoint`` (offline, ``weights_only``)."""
    from ..model.weights import TabICLWeights, make_tabicl

    clf = make_tabicl(TabICLWeights("local", str(checkpoint)), n_estimators=1, device="cpu", seed=seed)
    return float((clf.fit(X_ctx, y_ctx).predict(X_test) == y_test).mean())


def peer_accuracies(X_ctx, y_ctx, X_test, y_test, seed: int = 0) -> dict:
    """``{peer: accuracy}`` for :data:`HELDOUT_PEERS` (see :mod:`icl_support.evaluation.peers`); features
    standardised with the context's statistics first, as TabICL's own preprocessing does."""
    from sklearn.preprocessing import StandardScaler

    from .peers import make_peer

    scaler = StandardScaler().fit(X_ctx)
    A, B = scaler.transform(X_ctx), scaler.transform(X_test)
    return {name: float(make_peer(name, seed).fit(A, y_ctx).score(B, y_test)) for name in HELDOUT_PEERS}


def evaluate_checkpoint(
    checkpoint: str | Path,
    tables: tuple[str, ...] = TABLES,
    context_sizes: tuple[int, ...] = (0,),
    seeds: tuple[int, ...] = (0,),
    peers: bool = True,
) -> list[dict]:
    """One row per (table, context size, seed): ``{"table", "n_context", "seed", "tabicl", peers..., "chance"}``.

    ``chance`` is the majority class's share of the test rows.
    """
    rows = []
    for name in tables:
        X, y = load_table(name)
        for n in context_sizes:
            for seed in seeds:
                X_ctx, y_ctx, X_test, y_test = split(X, y, n, seed)
                row = {"table": name, "n_context": int(len(y_ctx)), "requested": int(n), "seed": int(seed)}
                row["tabicl"] = tabicl_accuracy(checkpoint, X_ctx, y_ctx, X_test, y_test, seed)
                if peers:
                    row.update(peer_accuracies(X_ctx, y_ctx, X_test, y_test, seed))
                row["chance"] = float(np.bincount(y_test).max() / len(y_test))
                rows.append(row)
    return rows


def embedding_tables(profile: str = "demo", small_context: int = 12, seed: int = 0) -> dict:
    """``{name: (X_ctx, y_ctx, X_test, y_test)}``: the ``profile``'s embedding rows (chapter 1's table) with the
    whole pool as context (``<dataset>_embed``) and a stratified ``small_context``-row context
    (``<dataset>_embed_<n>``). Builds (or reads from the cache) the profile's embeddings."""
    from sklearn.model_selection import train_test_split

    from ..core.config import resolve_settings
    from ..embedding.tables import build_table

    settings = resolve_settings(profile, "")
    table = build_table(settings, progress=False)
    idx, _ = train_test_split(
        np.arange(len(table.y_train)), train_size=small_context, stratify=table.y_train, random_state=seed
    )
    name = f"{settings.dataset}_embed"
    return {
        name: (table.X_train, table.y_train, table.X_test, table.y_test),
        f"{name}_{small_context}": (table.X_train[idx], table.y_train[idx], table.X_test, table.y_test),
    }


def quick_evaluation(model: torch.nn.Module, config: dict, extra: dict | None = None) -> dict:
    """``{table: accuracy}`` of a live ``TabICL(**config)`` module on every table (whole context pool, seed 0),
    plus ``mean`` (over :data:`TABLES` only) and one entry per ``extra`` split (``{name: (X_ctx, y_ctx, X_test,
    y_test)}``, e.g. :func:`embedding_tables`); written to a temporary checkpoint and read back through the
    sklearn wrapper."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "eval.ckpt")
        torch.save(
            {"config": dict(config), "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}, path
        )
        rows = evaluate_checkpoint(path, peers=False)
        out = {r["table"]: r["tabicl"] for r in rows}
        out["mean"] = float(np.mean(list(out.values())))
        for name, split_ in (extra or {}).items():
            out[name] = tabicl_accuracy(path, *split_)
    return out
