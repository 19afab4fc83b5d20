"""Retrieval contexts: each test row reads its own nearest training rows (TabDPT's and LoCalPFN's answer to large N).

For every test row, the context is its ``per_class`` nearest training rows of every class (``C * per_class``
rows, every class present) or, with ``per_class=None``, its ``n_neighbors`` nearest overall (classes that none
of them has score 0). Distances are Euclidean on the training set's z-scored columns. TabICL reads one table per
test row; ``batch_size`` tables go through its differentiable path in one forward pass
(:meth:`icl_support.model.torch_path.TorchTabICL.forward_tables`), so its cost is measured as a user
would pay it. This is ``n_estimators=1`` TabICL (no ensemble); ``context_stats="pool"`` fits the preprocessing
on the whole training set once.

``column_context="pool"`` (the split mode, :class:`icl_support.model.stage_split.PoolRepresentations`): the column
stage reads a stratified subsample of the labelled training rows once, every training row's representation is
computed once at ``fit``, and a test row's context is a gather of its neighbours' representations; the in-context
stage then runs over ``SPLIT_BATCH`` test rows at a time as one batch of small tables. The training labels reach
the model through the column stage: label its results "columns from the pool". Used through
:class:`icl_support.contexts.sampler.ContextClassifier` with ``ContextSampler("retrieval", ...)``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors

from ..model.split_retrieval import PoolRepresentations
from ..model.stage_split import POOL_CAP, check_column_context
from ..model.torch_path import TorchTabICL, fit_context_stats

SPLIT_BATCH = 1024  # test rows per in-context pass in the split mode (tables of k + 1 cached representations)


class RetrievalTabICL:
    """Fitted on training rows ``X`` (n, F) and label codes (n,) in 0..C-1; ``predict_proba(X_test)`` (m, C)."""

    def __init__(
        self,
        estimator,
        sampler,
        context_stats: str = "context",
        batch_size: int = 64,
        column_context: str = "context",
        pool_cap: int = POOL_CAP,
    ):
        check_column_context(column_context)
        self.estimator, self.sampler, self.context_stats, self.batch_size = (
            estimator,
            sampler,
            context_stats,
            batch_size,
        )
        self.column_context, self.pool_cap = column_context, pool_cap

    def fit(self, X: np.ndarray, codes: np.ndarray) -> RetrievalTabICL:
        path = getattr(self.estimator, "model_path", None)
        if type(self.estimator).__name__ != "TabICLClassifier" or path is None:
            raise ValueError(
                "strategy='retrieval' runs TabICL's batched torch path: the estimator must be a "
                f"TabICLClassifier(model_path=...) (icl_support.model.weights.make_tabicl), got "
                f"{type(self.estimator).__name__}"
            )
        device = str(getattr(self.estimator, "device", None) or "cpu")
        self.net_ = TorchTabICL(path, "cuda" if device.startswith("cuda") and torch.cuda.is_available() else "cpu")
        n_classes = int(codes.max()) + 1
        if n_classes > self.net_.max_classes:
            raise ValueError(
                f"retrieval supports at most {self.net_.max_classes} classes (TabICL's native limit); got {n_classes}"
            )
        k = self.sampler.per_class
        counts = np.bincount(codes, minlength=n_classes)
        if k is not None and counts.min() < k:
            raise ValueError(f"per_class={k} neighbours per class, but the smallest class has {int(counts.min())} rows")
        self.X_, self.codes_, self.classes_ = np.asarray(X, np.float32), np.asarray(codes), np.arange(n_classes)
        self.mean_, self.scale_ = self.X_.mean(0), self.X_.std(0) + 1e-12
        Z = (self.X_ - self.mean_) / self.scale_
        if k is None:
            self.index_ = [
                (np.arange(len(Z)), NearestNeighbors(n_neighbors=min(self.sampler.n_neighbors, len(Z))).fit(Z))
            ]
        else:
            rows = [np.flatnonzero(codes == c) for c in range(n_classes)]
            self.index_ = [(r, NearestNeighbors(n_neighbors=k).fit(Z[r])) for r in rows]
        self.stats_ = fit_context_stats(torch.from_numpy(self.X_)) if self.context_stats == "pool" else None
        self.pool_ = None
        if self.column_context == "pool":
            seed = int(getattr(self.estimator, "random_state", 0) or 0)
            self.pool_ = PoolRepresentations(self.net_, self.pool_cap, random_state=seed).fit(
                torch.from_numpy(self.X_), torch.from_numpy(self.codes_)
            )
        return self

    def neighbours(self, X: np.ndarray) -> np.ndarray:
        """(m, N) training-row indices of each test row's context (class by class when ``per_class`` is set)."""
        Z = (np.asarray(X, np.float32) - self.mean_) / self.scale_
        return np.concatenate([rows[nn.kneighbors(Z, return_distance=False)] for rows, nn in self.index_], axis=1)

    @torch.no_grad()
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, np.float32)
        if self.pool_ is not None:
            return self._split_proba(X)
        out = np.zeros((len(X), len(self.classes_)))
        for start in range(0, len(X), self.batch_size):
            rows = slice(start, start + self.batch_size)
            idx = self.neighbours(X[rows])
            codes = self.codes_[idx]
            local = np.zeros_like(codes)
            present = []
            for b, table in enumerate(codes):  # each table's labels as 0..C_b-1, as the wrapper encodes them
                classes, local[b] = np.unique(table, return_inverse=True)
                present.append(classes)
            logits = self.net_.forward_tables(
                torch.from_numpy(self.X_[idx]),
                torch.from_numpy(local),
                torch.from_numpy(X[rows])[:, None, :],
                self.stats_,
            )[:, 0]
            for b, classes in enumerate(present):
                p = torch.softmax(logits[b, : len(classes)] / self.net_.softmax_temperature, -1)
                out[start + b, classes] = p.cpu().numpy()
        return out

    def _split_proba(self, X: np.ndarray) -> np.ndarray:
        """(m, C) probabilities in the split mode: gathered neighbour representations, batched in-context stage."""
        out = []
        for start in range(0, len(X), SPLIT_BATCH):
            rows = X[start : start + SPLIT_BATCH]
            logits = self.pool_.logits(torch.from_numpy(rows), torch.from_numpy(self.neighbours(rows)))
            out.append(torch.softmax(logits / self.net_.softmax_temperature, -1).cpu().numpy())
        return np.concatenate(out)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
