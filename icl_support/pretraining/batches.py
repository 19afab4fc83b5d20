"""What one pretraining step reads: the shape of step ``s``'s batch, the batch itself, and its loss.

Batches are a pure function of ``(config, step)``, so a resumed run trains on exactly the batches an uninterrupted
run would have, whether they are drawn inline or by a worker process (:class:`BatchSource`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..model.torch_path import preprocess_tables
from .recipes import PretrainConfig
from .synthetic_tables import LOCAL_PRIORS, TableBatch, batch_seed, gaussian_mixture_tables, tabicl_prior_tables


@dataclass(frozen=True)
class BatchShape:
    """What step ``step`` draws: ``tables`` tables of ``n_rows`` rows (``n_train`` context) and ``n_features``."""

    tables: int
    n_rows: int
    n_train: int
    n_features: int
    prior: str
    n_classes: int | None = None  # a balanced batch: every table has this many classes, k = n_train / n_classes
    pool_stats: bool = False
    col_blind: bool = False  # the column stage does not see the context labels (Stage.col_blind)


def batch_shape(cfg: PretrainConfig, step: int) -> BatchShape:
    """The shape of step ``step``'s batch: a pure function of ``(cfg, step)``."""
    if cfg.parent is not None and step < cfg.start_step:
        return batch_shape(cfg.parent, step)
    _, stage = cfg.stage_at(step)
    rng = np.random.default_rng(batch_seed(cfg.seed, step, "shape"))
    if stage.shots is not None:
        n_train = stage.classes[1] * int(rng.integers(stage.shots[0], stage.shots[1] + 1))
        n_rows = n_train + int(rng.integers(stage.rows[0], stage.rows[1] + 1))
    else:
        n_rows = int(rng.integers(stage.rows[0], stage.rows[1] + 1))
    n_features = int(rng.integers(stage.features[0], stage.features[1] + 1))
    if stage.shots is None:
        n_train = int(round(n_rows * rng.uniform(*cfg.train_fraction)))
        n_train = min(max(n_train, stage.classes[1] * 2), n_rows - 1)
    if stage.mix:
        draw, prior = rng.random(), "gmm"
        for name, share in stage.mix:
            if draw < share:
                prior = name
                break
            draw -= share
    else:
        prior = stage.prior if stage.prior != "gmm" and rng.random() < stage.scm_share else "gmm"
    n_classes, pool_stats = None, False
    # draws added for mini-w64-fs2 come last and only when set, so earlier recipes draw exactly what they did
    if stage.balanced and prior in LOCAL_PRIORS and rng.random() < stage.balanced:
        n_classes = int(rng.integers(stage.classes[0], stage.classes[1] + 1))
        query = n_rows - n_train
        n_train = n_classes * (n_train // stage.classes[1])
        n_rows = n_train + query
    if stage.pool_stats:
        pool_stats = bool(rng.random() < stage.pool_stats)
    col_blind = bool(rng.random() < stage.col_blind) if stage.col_blind else False
    return BatchShape(
        stage.tables_for(n_rows, n_features), n_rows, n_train, n_features, prior, n_classes, pool_stats, col_blind
    )


def sample_batch(cfg: PretrainConfig, step: int) -> TableBatch:
    """The batch of step ``step``: a pure function of ``(cfg, step)``."""
    if cfg.parent is not None and step < cfg.start_step:
        return sample_batch(cfg.parent, step)
    _, stage = cfg.stage_at(step)
    shape = batch_shape(cfg, step)
    seed = batch_seed(cfg.seed, step, "tables")
    if shape.prior not in LOCAL_PRIORS:
        batch = tabicl_prior_tables(
            shape.prior, shape.tables, shape.n_rows, shape.n_train, shape.n_features, stage.classes[1], seed=seed
        )
    else:
        batch = gaussian_mixture_tables(
            shape.tables,
            shape.n_rows,
            shape.n_train,
            shape.n_features,
            shape.n_classes or stage.classes,
            seed,
            prior=shape.prior,
            balanced=shape.n_classes is not None,
        )
    return dataclasses.replace(batch, pool_stats=shape.pool_stats, col_blind=shape.col_blind)


def preprocess_like_wrapper(X: Tensor, n_train: int, threshold: float = 4.0, fit_rows: int | None = None) -> Tensor:
    """``TabICLClassifier(n_estimators=1)``'s numeric preprocessing, batched over tables: ``X`` (B, T, F) ->
    (B, T, F) float32, statistics from the ``n_train`` context rows (``fit_rows``: the first ``fit_rows`` rows,
    ``T`` for the whole table, ``context_stats="pool"``). The one implementation lives in
    :func:`icl_support.model.torch_path.preprocess_tables`."""
    return preprocess_tables(X, n_train, threshold, fit_rows).float()


def query_loss(model: torch.nn.Module, batch: TableBatch) -> Tensor:
    """Mean cross-entropy of the query rows; logits beyond each table's classes are masked out."""
    device = next(model.parameters()).device
    X_raw, y = batch.X.to(device), batch.y.to(device)
    X = preprocess_like_wrapper(X_raw, batch.n_train, fit_rows=X_raw.shape[1] if batch.pool_stats else None)
    y_ctx = y[:, : batch.n_train].float()
    with column_stage_blind(model, batch.col_blind):
        logits = model(X, y_ctx)  # (B, M, max_classes)
    classes = torch.arange(logits.shape[-1], device=device)
    mask = classes[None, None, :] >= (y.max(1).values + 1)[:, None, None]
    logits = logits.masked_fill(mask, float("-inf"))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[:, batch.n_train :].reshape(-1))


@contextlib.contextmanager
def column_stage_blind(model: torch.nn.Module, blind: bool = True):
    """Within the block, ``model``'s target-aware column stage does not add the context labels' embedding (it
    runs as TabICL v1's, which is not target-aware); restored on exit, exceptions included."""
    embedder = model.col_embedder
    aware = embedder.target_aware
    embedder.target_aware = aware and not blind
    try:
        yield model
    finally:
        embedder.target_aware = aware


def build_model(cfg: PretrainConfig) -> torch.nn.Module:
    """A freshly initialised ``TabICL(**cfg.model)``, seeded by ``cfg.seed``."""
    from tabicl._model.tabicl import TabICL

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return TabICL(**cfg.model)


def make_optimizer(model: torch.nn.Module, cfg: PretrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=cfg.stages[0].lr, weight_decay=cfg.weight_decay)


def _one_thread() -> None:
    torch.set_num_threads(1)


class BatchSource:
    """``source(step)`` -> the batch of ``step``, drawn inline or by one worker process ``ahead`` steps ahead.

    Batches are a pure function of ``(cfg, step)``, so both ways give the same batches; the worker (spawned,
    one torch thread) only moves prior generation off the training thread.
    """

    def __init__(self, cfg: PretrainConfig, ahead: int = 0, end: int | None = None):
        self.cfg, self.ahead, self.end = cfg, ahead, end if end is not None else cfg.total_steps
        self.pending: dict = {}
        self.pool = None
        if ahead > 0:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=_one_thread)

    def __call__(self, step: int) -> TableBatch:
        if self.pool is None:
            return sample_batch(self.cfg, step)
        for s in range(step, min(self.end, step + self.ahead + 1)):
            if s not in self.pending:
                self.pending[s] = self.pool.submit(sample_batch, self.cfg, s)
        for s in [s for s in self.pending if s < step]:
            self.pending.pop(s).cancel()
        return self.pending.pop(step).result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
