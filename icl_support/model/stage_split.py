"""Stage-split TabICL: the linear stages read the labelled pool, the quadratic stage reads the compressed context.

TabICL has three stages. The column embedding (a set transformer whose inducing points attend to the training
rows; *target-aware* in the v2 architecture, i.e. each training row's label is added before the inducing points
read it) and the row interaction cost time linear in the rows; only the in-context stage is quadratic. With a
ten-row context every stage reads ten rows, and the column stage, where TabICL-mini reads its class evidence,
starves (``../shared/reference/fewshot.md``). ``column_context`` chooses what the column stage reads:

``"context"``  TabICL as shipped: the context rows only.
``"pool"``     the pool's rows *with their labels* beside the context rows (a stratified subsample of at most
               ``pool_cap`` pool rows, default :data:`POOL_CAP`, sized by a measured curve), preprocessing
               statistics fitted on the rows the column stage reads (the capped pool's and the context's, as
               TabICL fits them on the rows it reads); the row stage embeds every row;
               the in-context stage reads only the context rows' representations and the test rows.

**This is not the write-up's ten-row bottleneck**: in ``"pool"`` mode the pool's labels reach the model through
the column stage. Report it beside the plain mode, never instead of it, and name it so ("TabICL-mini, columns from
the pool"). A checkpoint whose column stage is not target-aware (``col_target_aware=False``; TabICL v1's design)
reads the pool rows unlabelled: its inducing points still attend to them. Of the checkpoints here, every
TabICL-mini (``mini``, ``mini-w64``, ``mini-v1``) and the released TabICL v2 are target-aware.

**Fit once, predict cheaply.** What depends on the pool only is computed at ``fit`` and kept in TabICL's own
representation cache (``tabicl._model.kv_cache.TabICLCache``, what ``kv_cache="repr"`` keeps): the column stage's
inducing-point keys and values over the pool and context rows, and the context rows' representations with their
labels baked in. ``predict`` then costs the test rows' column and row passes (linear) and an in-context stage over
the k context rows (:func:`fit_columns`, :func:`cached_logits`; on raw rows :func:`fit_split_cache`,
:func:`cached_split_logits`).

Pool rows equal to a context row are the context's own rows and enter once, so a pool equal to the context gives
the plain mode exactly. Synthetic context rows (class means, LGM rows) are not pool rows and enter beside the
whole pool. This module is one table (one ensemble member, the preprocessing of ``TabICLClassifier(n_estimators=1)``);
at most ``max_classes`` classes (TabICL's hierarchical many-class scheme is not reproduced: a clear error); gradients
flow to the context rows through :func:`split_logits`. Built on it: the scikit-learn estimators
(:mod:`~icl_support.model.split_classifier`: ``SplitTabICL`` for one member, ``SplitEnsemble`` for the wrapper's
``n_estimators > 1`` ensemble) and retrieval (:mod:`~icl_support.model.split_retrieval`). Usage::

    net = TorchTabICL(weights)
    logits = split_logits(net, X_ctx, y_ctx, X_test, X_pool, y_pool)          # (M, C) torch, differentiable
    cache = fit_split_cache(net, X_ctx, y_ctx, X_pool, y_pool)                # once
    logits = cached_split_logits(net, cache, X_test)                          # the same logits, cheaply
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .torch_path import ContextStats, TorchTabICL, apply_context_stats, encode_labels, fit_context_stats

COLUMN_CONTEXTS = ("context", "pool")
# Pool rows the column stage reads (a stratified subsample), sized by the measured curve (``benchmarks/split_cap.py``,
# ``results/bench-split-cap.json``): with the shipped TabICL-mini, one random row per class on CIFAR-10 (10,000-row
# pool) reads 0.186 in the plain mode, 0.315 at 128 pool rows, 0.351 at 256 and no better beyond (0.349 at 1,024,
# 0.338 at 4,096), while the seconds grow with the cap (1.3x the plain mode's at 256, 3.1x at 1,024, 10.6x at 4,096).
# On sklearn digits 256 also reads best (0.732 against 0.690 at 1,024, 3 seeds). TabICL-mini was pretrained on
# tables of at most 512 rows; the released v2 reads about 1,024 in its first stage, so raise the cap for it.
POOL_CAP = 256


def check_column_context(column_context: str) -> None:
    if column_context not in COLUMN_CONTEXTS:
        raise ValueError(f"unknown column_context {column_context!r}; valid: {', '.join(COLUMN_CONTEXTS)}")


def stratified_cap(y: np.ndarray, cap: int, seed: int = 0) -> np.ndarray:
    """Indices of at most ``cap`` rows of labels ``y`` (n,), every class kept in proportion (at least one row each
    while ``cap`` allows), drawn with ``seed``; all rows, in order, when ``len(y) <= cap``."""
    y = np.asarray(y)
    if cap < 1:
        raise ValueError(f"pool_cap must be >= 1, got {cap}")
    if len(y) <= cap:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    take = np.maximum(1, np.floor(counts * cap / len(y)).astype(int))
    while take.sum() > cap:
        take[np.argmax(take)] -= 1
    idx = [
        rng.choice(np.flatnonzero(y == c), size=min(t, n), replace=False)
        for c, t, n in zip(classes, take, counts, strict=True)
    ]
    return np.sort(np.concatenate(idx))


def _pool_codes(classes: Tensor, y_pool: Tensor) -> Tensor:
    """The pool's labels as the context's class codes; a pool label the context lacks is an error."""
    pos = torch.searchsorted(classes, y_pool).clamp(max=len(classes) - 1)
    known = classes[pos] == y_pool
    if not bool(known.all()):
        missing = sorted({int(v) for v in y_pool[~known].tolist()})
        raise ValueError(
            f"pool labels {missing[:10]} are not among the context's classes {classes.tolist()}: the in-context "
            "stage can only predict the context's classes (drop those pool rows or give the context those classes)"
        )
    return pos


def not_in_context(X_pool: Tensor, X_ctx: Tensor, chunk: int = 4096) -> Tensor:
    """(P,) bool: pool rows that are not (bitwise) one of the context rows."""
    out = torch.ones(len(X_pool), dtype=torch.bool, device=X_pool.device)
    for start in range(0, len(X_pool), chunk):
        block = X_pool[start : start + chunk]
        out[start : start + chunk] = ~(block[:, None, :] == X_ctx[None, :, :]).all(-1).any(1)
    return out


def split_logits(
    net: TorchTabICL, X_ctx: Tensor, y_ctx: Tensor, X_query: Tensor, X_pool: Tensor, y_pool: Tensor
) -> Tensor:
    """Logits (M, C) of the query rows with the column stage over the labelled pool and the context (module
    docstring). ``X_ctx`` (N, F) float, ``y_ctx`` (N,) integer labels, ``X_query`` (M, F), ``X_pool`` (P, F) and
    ``y_pool`` (P,): the (already capped) pool. Column c of the logits is ``encode_labels(y_ctx)[0][c]``."""
    net._check(X_ctx, y_ctx, X_query)
    if X_pool.ndim != 2 or y_pool.shape != (len(X_pool),):
        raise ValueError(f"need X_pool (P, F) and y_pool (P,); got {tuple(X_pool.shape)}, {tuple(y_pool.shape)}")
    net._check(X_pool, y_pool, X_query)
    classes, codes = encode_labels(y_ctx)
    n_classes = len(classes)
    if n_classes > net.max_classes:
        raise ValueError(
            f"{n_classes} classes in y_ctx; the split mode supports at most {net.max_classes} (TabICL's hierarchical "
            "many-class scheme runs only in the wrapper's plain mode)"
        )
    device = net.device
    X_ctx, X_query, X_pool = X_ctx.to(device), X_query.to(device), X_pool.to(device)
    pool_codes = _pool_codes(classes, y_pool.to(classes.device)).to(device)
    extra = not_in_context(X_pool.detach(), X_ctx.detach())
    X_extra, c_extra = X_pool[extra], pool_codes[extra].to(device)
    stats = fit_context_stats(torch.cat([X_extra, X_ctx]), net.outlier_threshold)  # the column stage's rows
    X = apply_context_stats(torch.cat([X_extra, X_ctx, X_query]), stats).to(torch.float32).unsqueeze(0)
    y_columns = torch.cat([c_extra, codes.to(device)]).to(torch.float32).unsqueeze(0)
    model = net.model
    model.train()  # the gradient-keeping path; dropout 0, so it equals eval
    representations = model.row_interactor(model.col_embedder(X, y_train=y_columns))
    p = len(X_extra)
    out = model.icl_predictor(representations[:, p:], y_train=codes.to(device, torch.float32).unsqueeze(0))
    return out[0, :, :n_classes]


@dataclass(frozen=True)
class SplitCache:
    """What :func:`fit_split_cache` computes once. ``stats``: the preprocessing (fitted on the column stage's rows);
    ``tabicl``: TabICL's ``TabICLCache`` holding the column stage's inducing-point keys/values (``col_cache``) and
    the context rows' representations with their labels baked in (``row_repr``, (1, N, D)); ``n_classes``: C."""

    stats: ContextStats
    tabicl: object
    n_classes: int


def inference_config(net: TorchTabICL):
    """TabICL's ``InferenceConfig`` with mixed precision off on every device: the cached path computes in float32, as
    the differentiable path does, so its logits equal :func:`split_logits`'s, and the cached keys and values have the
    dtype of the rows that :func:`_labelled_column_pass` sends through them outside TabICL's inference manager (with
    autocast on CUDA they would be half precision and the two would not mix). ``TabICLClassifier(use_amp="auto")``
    also leaves it off on the CPU and for small tables; on a GPU with a large table the wrapper's plain mode may use
    it, so there the two modes differ by its rounding."""
    from tabicl._model.inference_config import InferenceConfig

    config = InferenceConfig()
    config.update_from_dict({name: {"use_amp": False} for name in ("COL_CONFIG", "ROW_CONFIG", "ICL_CONFIG")})
    return config


def _labelled_column_pass(net: TorchTabICL, col_cache, X: Tensor, codes: Tensor) -> Tensor:
    """Column embeddings (1, R, H+C, E) of preprocessed *labelled* rows ``X`` (R, F') / ``codes`` (R,) through the
    cached column stage: each row's label embedding is added before it attends to the cached inducing points, as a
    context row's is in TabICL's one-pass forward. TabICL's ``forward_with_cache`` embeds cached-pass rows unlabelled
    (as test rows), so these few lines follow its ``ColEmbedding.forward_with_cache`` and
    ``_compute_embeddings_with_cache`` (tabicl 2.2), checked against the one-pass path by the tests."""
    import torch.nn.functional as F

    emb = net.model.col_embedder
    X = X.to(torch.float32).unsqueeze(0)
    if emb.feature_group:
        X = emb.feature_grouping(X)  # (1, R, G, group_size)
        if emb.reserve_cls_tokens > 0:
            X = F.pad(X, (0, 0, emb.reserve_cls_tokens, 0), value=-100.0)
        features = X.transpose(1, 2)  # (1, G+C, R, group_size)
    else:
        if emb.reserve_cls_tokens > 0:
            X = F.pad(X, (emb.reserve_cls_tokens, 0), value=-100.0)
        features = X.transpose(1, 2).unsqueeze(-1)  # (1, H+C, R, 1)
    src = emb.in_linear(features)
    if emb.target_aware:
        y = codes.to(src.device, torch.float32).unsqueeze(0)
        src = src + (emb.y_encoder(y) if emb.max_classes > 0 else emb.y_encoder(y.unsqueeze(-1))).unsqueeze(1)
    src = emb.tf_col.forward_with_cache(src, col_cache=col_cache, train_size=None, use_cache=True, store_cache=False)
    if emb.affine:
        src = features * emb.ln_w(emb.out_w(src)) + emb.ln_b(emb.out_b(src))
    return src.transpose(1, 2)


def column_row_pass(net: TorchTabICL, col_cache, X: Tensor, codes: Tensor | None = None) -> Tensor:
    """Row representations (1, R, D) of preprocessed rows ``X`` (R, F') through the cached column stage (the
    inducing points already attended to the training rows) and the row stage; ``codes`` (R,): the rows are
    labelled (pool rows), as context rows enter the column stage."""
    model, config = net.model, inference_config(net)
    if codes is not None:
        return model.row_interactor(_labelled_column_pass(net, col_cache, X, codes), mgr_config=config.ROW_CONFIG)
    embedded = model.col_embedder.forward_with_cache(
        X.to(torch.float32).unsqueeze(0),
        col_cache=col_cache,
        use_cache=True,
        store_cache=False,
        mgr_config=config.COL_CONFIG,
    )
    return model.row_interactor(embedded, mgr_config=config.ROW_CONFIG)


@torch.no_grad()
def fit_columns(net: TorchTabICL, X_columns: Tensor, y_columns: Tensor, n_context: int, n_classes: int):
    """TabICL's ``TabICLCache`` of one table: the column stage over preprocessed labelled rows ``X_columns`` (T, F')
    / ``y_columns`` (T,) (the pool rows, then the ``n_context`` context rows last) keeps its inducing-point keys and
    values (``col_cache``); the context rows' representations, labels baked in, are ``row_repr`` (1, N, D)."""
    from tabicl._model.kv_cache import TabICLCache

    if n_classes > net.max_classes:
        raise ValueError(
            f"{n_classes} classes; the split mode supports at most {net.max_classes} (TabICL's many-class scheme "
            "needs several column passes and runs only in the plain mode: use column_context='context')"
        )
    model, config = net.model, inference_config(net)
    model.eval()
    X = X_columns.to(net.device, torch.float32).unsqueeze(0)
    y = y_columns.to(net.device, torch.float32).unsqueeze(0)
    cache = TabICLCache(train_shape=tuple(X.shape), num_classes=n_classes)
    embedded = model.col_embedder.forward_with_cache(
        X, col_cache=cache.col_cache, y_train=y, use_cache=False, store_cache=True, mgr_config=config.COL_CONFIG
    )
    context = model.row_interactor(embedded, mgr_config=config.ROW_CONFIG)[:, X.shape[1] - n_context :]
    cache.row_repr = model.icl_predictor.prepare_repr_cache(context, y[:, X.shape[1] - n_context :])
    return cache


@torch.no_grad()
def cached_logits(net: TorchTabICL, cache, X_query: Tensor) -> Tensor:
    """Logits (M, C) of preprocessed query rows ``X_query`` (M, F') from a :func:`fit_columns` cache: the queries'
    column and row passes, then the in-context stage over the cached context representations."""
    net.model.eval()
    queries = column_row_pass(net, cache.col_cache, X_query)
    out = net.model.icl_predictor.forward_with_repr_cache(
        torch.cat([cache.row_repr, queries], 1),
        train_size=cache.row_repr.shape[1],
        num_classes=cache.num_classes,
        mgr_config=inference_config(net).ICL_CONFIG,
    )
    return out[0]


@torch.no_grad()
def fit_split_cache(
    net: TorchTabICL, X_ctx: Tensor, codes: Tensor, X_pool: Tensor, pool_codes: Tensor, stats: ContextStats = None
) -> SplitCache:
    """The split mode's fit: the column stage over the (capped) labelled pool ``X_pool`` (P, F) / ``pool_codes``
    (P,) beside the context ``X_ctx`` (N, F) / ``codes`` (N,) (class codes 0..C-1, every pool code among them),
    then the context rows' representations. ``stats``: the preprocessing (default: fitted on the rows the column
    stage reads, the pool's that are not context rows and the context's, as TabICL fits it on the rows it reads)."""
    device = net.device
    X_ctx, X_pool = X_ctx.to(device), X_pool.to(device)
    extra = not_in_context(X_pool, X_ctx)
    X_columns = torch.cat([X_pool[extra], X_ctx])
    stats = fit_context_stats(X_columns, net.outlier_threshold) if stats is None else stats
    X = apply_context_stats(X_columns, stats)
    y_columns = torch.cat([pool_codes.to(device)[extra], codes.to(device)])
    return SplitCache(stats, fit_columns(net, X, y_columns, len(X_ctx), int(codes.max()) + 1), int(codes.max()) + 1)


@torch.no_grad()
def cached_split_logits(net: TorchTabICL, cache: SplitCache, X_query: Tensor) -> Tensor:
    """Logits (M, C) of raw query rows ``X_query`` (M, F) from a :func:`fit_split_cache` state. Equals
    :func:`split_logits`."""
    return cached_logits(net, cache.tabicl, apply_context_stats(X_query.to(net.device), cache.stats))
