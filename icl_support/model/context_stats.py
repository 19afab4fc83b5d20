"""Whose statistics TabICL's preprocessing is fitted on: the context rows (as shipped) or the pool.

``TabICLClassifier.fit(X_ctx, y_ctx)`` fits its preprocessing (constant-column filter, z-score with clipping,
the optional power transform, the outlier clip) on the context rows alone and applies it to the test rows. With
ten context rows (one per class), and worse with ten class means whose spread is far below the test rows', the
test rows are rescaled by noisy statistics and soft-clipped. ``context_stats`` chooses:

``"context"``  TabICL as shipped: everything fitted on the context rows (the default; reproduces the write-up).
``"pool"``     the z-score, power transform and outlier clip fitted on the *unlabelled pool* the context was
               selected or distilled from (the training rows); the model still sees only the context rows,
               transformed with the pool's statistics. The constant-column filter stays the context's, so
               the ensemble's feature shuffles are unchanged.

The same choice exists on the differentiable path (:class:`icl_support.model.torch_path.TorchTabICL`,
``X_pool=``). Usage::

    clf = fit_tabicl(make_tabicl(weights), X_ctx, y_ctx, context_stats="pool", X_pool=X_train)
    clf.predict(X_test)
"""

from __future__ import annotations

import numpy as np

from ..core.config import CONTEXT_STATS


def check_context_stats(context_stats: str, X_pool=None) -> None:
    """Raise ``ValueError`` for an unknown choice, or for ``"pool"`` without pool rows."""
    if context_stats not in CONTEXT_STATS:
        raise ValueError(f"unknown context_stats {context_stats!r}; valid: {', '.join(CONTEXT_STATS)}")
    if context_stats == "pool" and X_pool is None:
        raise ValueError("context_stats='pool' needs the pool rows (X_pool): the rows the context was built from")


def fit_tabicl(clf, X_ctx, y_ctx, *, context_stats: str = "context", X_pool=None):
    """Fit the unfitted ``TabICLClassifier`` ``clf`` on the context ``(X_ctx (n, F), y_ctx (n,))``.

    ``context_stats="pool"``: refit the preprocessing of every ensemble member on ``X_pool`` (N, F) and
    re-transform the context rows with it (module docstring). Returns ``clf``, fitted.
    """
    check_context_stats(context_stats, X_pool)
    clf.fit(X_ctx, y_ctx)
    if context_stats == "pool":
        refit_on_pool(clf, X_ctx, X_pool)
    return clf


def refit_on_pool(clf, X_ctx, X_pool) -> None:
    """Replace the fitted ``clf``'s preprocessing pipelines by ones fitted on ``X_pool`` (N, F) (in place)."""
    from tabicl._sklearn.preprocessing import PreprocessingPipeline

    X_pool = np.asarray(X_pool)
    if X_pool.ndim != 2 or X_pool.shape[1] != np.asarray(X_ctx).shape[1]:
        raise ValueError(
            f"X_pool must be (N, {np.asarray(X_ctx).shape[1]}) like the context rows, got shape {X_pool.shape}"
        )
    if not np.isfinite(X_pool).all():
        raise ValueError(f"X_pool: {int((~np.isfinite(X_pool)).sum())} NaN/inf values")
    gen = clf.ensemble_generator_
    keep = gen.unique_filter_  # the context's constant-column filter, kept (feature shuffles depend on it)
    pool = keep.transform(clf.X_encoder_.transform(X_pool))
    ctx = keep.transform(clf.X_encoder_.transform(X_ctx))
    for method, old in list(gen.preprocessors_.items()):
        new = PreprocessingPipeline(
            normalization_method=method, outlier_threshold=old.outlier_threshold, random_state=old.random_state
        ).fit(pool)
        new.X_transformed_ = new.transform(ctx)
        gen.preprocessors_[method] = new
    if getattr(clf, "model_kv_cache_", None) is not None:
        clf._build_kv_cache()
