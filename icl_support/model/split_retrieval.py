"""Retrieval in the split mode: every pool row's representation computed once, a test row's context gathered.

The column stage reads a stratified subsample of the labelled pool once (:func:`~icl_support.model.stage_split
.fit_columns`); every pool row then passes through that cached column stage *with its label* (as a context row
does in TabICL's one-pass forward) and the row stage, and keeps its representation with the label baked in. A test
row's context is its neighbours' representations, gathered; the in-context stage runs over all test rows as one
batch of small tables. Used by :class:`icl_support.contexts.retrieval.RetrievalTabICL` with
``column_context="pool"``. The pool's labels reach the model: label results "columns from the pool". Usage::

    reps = PoolRepresentations(TorchTabICL(weights)).fit(X_train, codes)     # every pool row, once
    logits = reps.logits(X_test, neighbour_indices)                          # (M, C) from each row's (M, k)
"""

from __future__ import annotations

import torch
from torch import Tensor

from .stage_split import POOL_CAP, column_row_pass, fit_columns, inference_config, stratified_cap
from .torch_path import TorchTabICL, apply_context_stats, fit_context_stats


class PoolRepresentations:
    """Split-mode retrieval: every pool row's representation, computed once, so a test row's context is a gather.

    ``fit(X_pool, codes)``: preprocessing fitted on the whole pool (P, F); the column stage over a stratified
    subsample of at most ``pool_cap`` labelled pool rows; then every pool row's representation through that column
    stage and the row stage, labels baked in, (P, D), in batches of ``batch`` rows. ``logits(X_query, neighbours)``:
    the in-context stage over each query's own context, the pool rows ``neighbours`` (M, k), all M queries as one
    batch of M tables of k + 1 rows; a class that none of a query's neighbours has gets logit -inf (the in-context
    stage predicts among the context's classes, as the plain retrieval does). Codes are the pool's (0..C-1)
    throughout: the column stage and the in-context stage read the same labels."""

    def __init__(self, net: TorchTabICL, pool_cap: int = POOL_CAP, batch: int = 2048, random_state: int = 0):
        self.net, self.pool_cap, self.batch, self.random_state = net, pool_cap, batch, random_state

    @torch.no_grad()
    def fit(self, X_pool: Tensor, codes: Tensor) -> PoolRepresentations:
        net = self.net
        X_pool, codes = X_pool.to(net.device, torch.float32), codes.to(net.device)
        self.n_classes_ = int(codes.max()) + 1
        if self.n_classes_ > net.max_classes:
            raise ValueError(f"split-mode retrieval supports at most {net.max_classes} classes; got {self.n_classes_}")
        keep = torch.from_numpy(stratified_cap(codes.cpu().numpy(), int(self.pool_cap), int(self.random_state)))
        self.stats_ = fit_context_stats(X_pool, net.outlier_threshold)
        X_cap = apply_context_stats(X_pool[keep], self.stats_)  # the capped pool alone is the column stage's table
        self.col_cache_ = fit_columns(net, X_cap, codes[keep], len(keep), self.n_classes_).col_cache
        self.codes_ = codes
        reps = [
            self.representations(X_pool[s : s + self.batch], codes[s : s + self.batch])
            for s in range(0, len(X_pool), self.batch)
        ]
        self.pool_ = self.net.model.icl_predictor.prepare_repr_cache(
            torch.cat(reps).unsqueeze(0), codes.to(torch.float32).unsqueeze(0)
        )[0]
        return self

    @torch.no_grad()
    def representations(self, X: Tensor, codes: Tensor | None = None) -> Tensor:
        """(R, D) row representations of raw rows ``X`` (R, F) through the cached column stage: labelled as context
        rows are with ``codes`` (R,), unlabelled as test rows without."""
        X = apply_context_stats(X.to(self.net.device, torch.float32), self.stats_)
        return column_row_pass(self.net, self.col_cache_, X, codes)[0]

    @torch.no_grad()
    def logits(self, X_query: Tensor, neighbours: Tensor) -> Tensor:
        """(M, C) logits of ``X_query`` (M, F), each read from its own context ``neighbours`` (M, k) pool rows."""
        neighbours = neighbours.to(self.net.device)
        if neighbours.ndim != 2 or len(neighbours) != len(X_query):
            raise ValueError(f"need neighbours (M, k) for {len(X_query)} queries; got {tuple(neighbours.shape)}")
        R = torch.cat([self.pool_[neighbours], self.representations(X_query)[:, None, :]], 1)
        out = self.net.model.icl_predictor.forward_with_repr_cache(
            R,
            train_size=neighbours.shape[1],
            num_classes=self.n_classes_,
            mgr_config=inference_config(self.net).ICL_CONFIG,
        )[:, 0]
        present = torch.zeros_like(out, dtype=torch.bool)
        present.scatter_(1, self.codes_[neighbours], True)
        return out.masked_fill(~present, float("-inf"))
