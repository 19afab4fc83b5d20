"""Attention of query rows over context rows in TabICL's in-context (ICL) transformer.

TabICL exposes no attention weights: attention runs inside
``tabicl._model.attention.sdpa_with_flattened_batch`` (``F.scaled_dot_product_attention`` after
QASSMax scales the queries). :func:`record_icl_attention` swaps that module-level function for a
wrapper that calls the original unchanged (so predictions are bit-identical) and, only while one of
the ICL blocks ``model.icl_predictor.tf_icl.blocks[i]`` is running (flag set by forward pre/post
hooks), also recomputes ``softmax(ssmax(q) k^T / sqrt(d_head))``. The original function and the
hooks are restored on exit, also after an exception. In the ICL transformer every row attends only
to the N context rows, so each recorded map has N keys; the query rows are the last M of the
sequence (context rows come first, in the caller's order: for ``n_estimators=1`` the wrapper
neither permutes rows nor, per ``Shuffler``, features or classes).

Usage (fitted ``TabICLClassifier`` with ``n_estimators=1``)::

    attn = icl_attention(clf, X_query)      # (layers, heads, M, N) float32, rows sum to 1
    avg = mean_attention(attn)              # (M, N)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor, nn


def _attention_probs(q: Tensor, k: Tensor, attn_mask: Tensor | None, ssmax_layer: nn.Module | None) -> Tensor:
    """softmax(ssmax(q) k^T / sqrt(d) + mask) in float32, as SDPA computes it. q (..., h, T, d), k (..., h, N, d)."""
    q = q.reshape(-1, *q.shape[-3:])
    k = k.reshape(-1, *k.shape[-3:])
    if ssmax_layer is not None:
        q = ssmax_layer(q, k.size(-2))
    scores = (q.float() @ k.float().transpose(-2, -1)) / math.sqrt(q.size(-1))
    if attn_mask is not None:
        mask = attn_mask.reshape(-1, *attn_mask.shape[-3:])
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask.float()
    return torch.softmax(scores, dim=-1)


@contextmanager
def record_icl_attention(model: nn.Module) -> Iterator[list[list[Tensor]]]:
    """Record ICL attention maps of the raw ``TabICL`` module ``model`` while the block is active.

    Yields ``maps``: one list per ICL block; each call of that block appends a tensor
    (B, heads, T_query, N) float32 on CPU (T_query = N + M without a KV cache). Works for both the
    eval (``no_grad``) and train paths; outputs are untouched.
    """
    import tabicl._model.attention as attention_mod

    blocks = model.icl_predictor.tf_icl.blocks
    original = attention_mod.sdpa_with_flattened_batch
    maps: list[list[Tensor]] = [[] for _ in blocks]
    active: list[int] = []  # index of the ICL block now running (empty outside them)

    def wrapper(q, k, v, attn_mask=None, dropout_p=0.0, ssmax_layer=None):
        out = original(q, k, v, attn_mask, dropout_p, ssmax_layer=ssmax_layer)
        if active:
            with torch.no_grad():
                probs = _attention_probs(q.detach(), k.detach(), attn_mask, ssmax_layer)
            maps[active[-1]].append(probs.cpu())
        return out

    def enter(i: int):
        def pre_hook(_module, _args) -> None:
            active.append(i)

        return pre_hook

    def leave(_module, _args, _output) -> None:  # must return None: a value would replace the block's output
        active.pop()

    handles = []
    try:
        for i, block in enumerate(blocks):
            handles.append(block.register_forward_pre_hook(enter(i)))
            handles.append(block.register_forward_hook(leave))
        attention_mod.sdpa_with_flattened_batch = wrapper
        yield maps
    finally:
        attention_mod.sdpa_with_flattened_batch = original
        for h in handles:
            h.remove()


def icl_attention(clf, X_query: np.ndarray) -> np.ndarray:
    """Attention of each query row over the context rows, per ICL layer and head.

    ``clf``: a fitted ``TabICLClassifier`` with ``n_estimators=1``, no KV cache and at most
    ``max_classes`` (10) classes. ``X_query`` (M, F). Returns (layers, heads, M, N) float32 where
    N = rows passed to ``clf.fit`` in their order; each [l, h, m] sums to 1 over N.
    """
    if getattr(clf, "n_estimators", None) != 1:
        raise ValueError(f"need a TabICLClassifier with n_estimators=1, got {getattr(clf, 'n_estimators', None)!r}")
    if getattr(clf, "kv_cache", False):
        raise ValueError(f"need kv_cache=False (the cached path bypasses the block hooks), got {clf.kv_cache!r}")
    if not hasattr(clf, "model_"):
        raise ValueError("clf is not fitted: call clf.fit(X_ctx, y_ctx) first")
    if clf.n_classes_ > clf.model_.max_classes:
        raise ValueError(
            f"{clf.n_classes_} classes: attention maps need <= {clf.model_.max_classes} "
            "(more classes run the hierarchical scheme, several ICL passes per query)"
        )
    X_query = np.asarray(X_query)
    if X_query.ndim != 2 or X_query.shape[0] < 1:
        raise ValueError(f"need X_query (M, F) with M >= 1, got shape {X_query.shape}")
    n_ctx, n_query = int(clf.n_samples_in_), X_query.shape[0]
    with record_icl_attention(clf.model_) as maps:
        clf.predict_proba(X_query)
    out = []
    for layer, calls in enumerate(maps):
        if len(calls) != 1 or calls[0].shape[0] != 1:
            shapes = [tuple(c.shape) for c in calls]
            raise RuntimeError(f"ICL block {layer}: expected one call with one table, got calls of shapes {shapes}")
        a = calls[0][0]  # (heads, T, N)
        if a.shape[-1] != n_ctx or a.shape[-2] < n_query:
            raise RuntimeError(f"ICL block {layer}: attention shape {tuple(a.shape)} != (heads, >= {n_query}, {n_ctx})")
        out.append(a[:, -n_query:, :])
    return torch.stack(out).numpy().astype(np.float32)


def mean_attention(attn: np.ndarray, layers: slice | list[int] | None = None) -> np.ndarray:
    """Average of ``attn`` (layers, heads, M, N) over heads and the chosen ``layers`` (all by default) -> (M, N)."""
    attn = np.asarray(attn)
    if attn.ndim != 4:
        raise ValueError(f"need attn (layers, heads, M, N), got shape {attn.shape}")
    sel = attn if layers is None else attn[layers]
    if sel.ndim != 4 or sel.shape[0] == 0:
        raise ValueError(f"layers={layers!r} selects no layer of {attn.shape[0]}")
    return sel.mean(axis=(0, 1))
