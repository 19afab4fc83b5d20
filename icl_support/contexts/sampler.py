"""Context compression with scikit-learn's conventions: the sampler and the classifier that reads its context.

:class:`ContextSampler` turns a training set into a small context of ``per_class`` rows per class with any
row-level strategy of the registry (:func:`icl_support.contexts.strategies.list_strategies` with
``row_level=True``), following imbalanced-learn's ``fit_resample(X, y) -> (X_ctx, y_ctx)``; ``sample_indices_``
names the training rows used when the rows are real ones. :class:`ContextClassifier` is a meta-estimator: ``fit``
compresses the training set and fits its estimator on the context; ``predict``/``predict_proba`` delegate. With
``strategy="retrieval"`` the context is built per test row instead (its ``per_class`` nearest training rows of every
class, or its ``n_neighbors`` nearest overall), and TabICL reads one table per test row, batched::

    from icl_support import ContextClassifier, ContextSampler
    clf = ContextClassifier(TabICLClassifier(), ContextSampler("kcenter", per_class=5)).fit(X_train, y_train)
    clf.predict(X_test)
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ..model.context_stats import check_context_stats, fit_tabicl
from ..model.split_classifier import SplitTabICL
from ..model.stage_split import check_column_context
from .strategies import get_strategy, list_strategies, select_rows

RETRIEVAL = "retrieval"


def _is_tabicl(estimator) -> bool:
    return type(estimator).__name__ == "TabICLClassifier"


class ContextSampler(BaseEstimator):
    """Compress ``(X, y)`` to ``per_class`` rows per class with a registered row-level ``strategy``.

    ``strategy``: a name from ``list_strategies(row_level=True)`` (``random``, ``class_mean``,
    ``nearest_centroid``, ``kmeans_medoids``, ``herding``, ``kcenter``, ``row_lgm``, ``tabicl_lgm``, ``full``)
    or ``"retrieval"`` (per test row; only inside :class:`ContextClassifier`). ``per_class``: rows per class
    (``retrieval``: neighbours per class; ``None`` with ``n_neighbors``: nearest overall). ``random_state``:
    the seed of seeded strategies. ``estimator``: the TabICL classifier ``tabicl_lgm`` distils through.
    ``options``: a dict of the strategy's own keyword options (e.g. ``options={"steps": 200}`` for ``row_lgm``;
    ``Strategy.options`` lists them), kept as given, as scikit-learn asks of a parameter.

    ``fit(X, y)`` checks the data and the parameters and sets ``classes_`` (imbalanced-learn's sampler convention);
    :meth:`fit_resample` returns the context. After it: ``classes_`` (C,), ``sample_indices_`` (rows of ``X`` used,
    or ``None`` when the context rows are made, not chosen).
    """

    def __init__(self, strategy="kcenter", per_class=5, random_state=0, estimator=None, n_neighbors=None, options=None):
        self.strategy = strategy
        self.per_class = per_class
        self.random_state = random_state
        self.estimator = estimator
        self.n_neighbors = n_neighbors
        self.options = options

    def fit(self, X, y):
        """Check ``X`` (n, F), ``y`` (n,) and the parameters; set ``classes_``. Returns ``self``."""
        X, _ = self._validate(X, y)
        self.n_features_in_ = X.shape[1]
        return self

    def _check(self) -> None:
        valid = list_strategies(row_level=True) + [RETRIEVAL]
        if self.options is not None and not isinstance(self.options, dict):
            raise ValueError(f"options must be a dict of the strategy's keyword options, got {self.options!r}")
        if self.strategy != RETRIEVAL:
            try:
                strategy = get_strategy(self.strategy)
            except ValueError:
                strategy = None
            if strategy is None or strategy.rows is None:
                raise ValueError(f"unknown or non-row-level strategy {self.strategy!r}; valid: {', '.join(valid)}")
        if self.strategy == RETRIEVAL and self.per_class is None:
            if not isinstance(self.n_neighbors, (int, np.integer)) or self.n_neighbors < 1:
                raise ValueError(f"retrieval with per_class=None needs n_neighbors >= 1, got {self.n_neighbors!r}")
        elif (
            not isinstance(self.per_class, (int, np.integer)) or isinstance(self.per_class, bool) or self.per_class < 1
        ):
            raise ValueError(f"per_class must be an int >= 1 (rows per class), got {self.per_class!r}")

    def _validate(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        """Checked float rows (n, F) and label codes 0..C-1 (``classes_`` set); clear errors on bad input."""
        self._check()
        if issparse(X):
            raise TypeError("ContextSampler got sparse data, but dense data is required: pass X.toarray()")
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (rows, features), got shape {X.shape}")
        X = check_array(X, dtype=None, ensure_all_finite=False)  # empty and complex input: scikit-learn's errors
        if X.dtype.kind not in "biuf":
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError) as err:
                message = f"X must be numeric; could not convert dtype {X.dtype} to float ({err})"
                raise type(err)(message) from err
        X = X.astype(np.float64, copy=False)
        bad = ~np.isfinite(X)
        if bad.any():
            rows = np.flatnonzero(bad.any(1))
            raise ValueError(
                f"X has NaN or inf in {len(rows)} row(s) (first: {rows[:5].tolist()}); drop or impute them"
            )
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise ValueError(f"y must have one label per row of X: X has {len(X)} rows, y has shape {y.shape}")
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        codes = encoder.transform(y)
        counts = np.bincount(codes, minlength=len(self.classes_))
        single = self.classes_[np.flatnonzero(counts == 1)].tolist()
        if single and self.strategy not in ("full", "random"):
            raise ValueError(
                f"class(es) {single} have one sample (a single row): strategy {self.strategy!r} needs at least 2 rows "
                "of a class to choose or make its rows (add rows, drop the class, or use strategy='random')"
            )
        k = self.per_class
        if k is not None and self.strategy not in ("full", RETRIEVAL):
            short = {self.classes_[c].item(): int(n) for c, n in enumerate(counts) if n < k}
            if short:
                raise ValueError(
                    f"per_class={k} rows per class, but class(es) {short} (class: rows) have fewer rows; lower "
                    f"per_class to at most {int(counts.min())}"
                )
        return X, codes

    def fit_resample(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        """``(X_ctx (C * per_class, F), y_ctx)``: the context rows and their labels (the original label values)."""
        X_ctx, codes = self._resample(*self._validate(X, y))
        return X_ctx, self.classes_[codes]

    def _resample(self, X: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The context of checked rows ``X`` (n, F) and codes (n,) (from :meth:`_validate`): ``(X_ctx, codes)``."""
        if self.strategy == RETRIEVAL:
            raise ValueError(
                "strategy='retrieval' builds one context per test row, so it has no fit_resample; use it inside "
                "ContextClassifier(estimator, ContextSampler('retrieval', per_class=k))"
            )
        options = dict(self.options or {})
        if get_strategy(self.strategy).needs_estimator:
            options["estimator"] = self.estimator
        ctx = select_rows(self.strategy, X, codes, self.per_class, int(self.random_state or 0), **options)
        self.sample_indices_ = None if ctx.index is None else np.asarray(ctx.index)
        return np.asarray(ctx.X), np.asarray(ctx.y)


class ContextClassifier(ClassifierMixin, BaseEstimator):
    """``estimator`` fitted on the context ``sampler`` makes of the training set.

    ``estimator``: any scikit-learn classifier, or a ``TabICLClassifier`` (any weights). ``sampler``: a
    :class:`ContextSampler` (default ``ContextSampler()``: k-center, 5 rows per class). ``context_stats``:
    ``"context"`` (TabICL as shipped) or ``"pool"``: TabICL's preprocessing fitted on the whole training set
    while the model reads only the context (:mod:`icl_support.model.context_stats`; TabICL only).
    ``column_context``: ``"context"`` (TabICL as shipped) or ``"pool"``: TabICL's column stage reads the training
    rows *with their labels* (a stratified subsample of at most 256, the measured plateau) beside the context, and
    only the in-context stage reads the compressed context (:mod:`icl_support.model.stage_split`; a
    ``TabICLClassifier``, any ``n_estimators``; the preprocessing is fitted on the rows the column stage reads, so
    ``context_stats`` does not apply; with retrieval, whose contexts come from every training row, on the whole
    training set). The pool's labels then reach the model: it is not a ten-row bottleneck, and
    results made with it must say "columns from the pool".

    After ``fit``: ``estimator_`` (fitted on the context), ``sampler_``, ``classes_``, ``n_features_in_``,
    ``context_`` ``(X_ctx, y_ctx)`` (``None`` for retrieval).
    """

    def __init__(self, estimator=None, sampler=None, context_stats="context", column_context="context"):
        self.estimator = estimator
        self.sampler = sampler
        self.context_stats = context_stats
        self.column_context = column_context

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=None, ensure_all_finite=False)
        check_classification_targets(y)
        check_context_stats(self.context_stats, X)
        check_column_context(self.column_context)
        estimator = self.estimator if self.estimator is not None else _default_estimator()
        if self.column_context == "pool" and not _is_tabicl(estimator):
            raise ValueError(
                "column_context='pool' feeds the training rows to TabICL's column stage; the estimator is "
                f"{type(estimator).__name__}. Use column_context='context' with other classifiers"
            )
        if self.context_stats == "pool" and not _is_tabicl(estimator):
            raise ValueError(
                "context_stats='pool' refits TabICL's own preprocessing; the estimator is "
                f"{type(estimator).__name__}. Use context_stats='context', or put a scaler fitted on the training "
                "set in a pipeline"
            )
        self.sampler_ = clone(self.sampler) if self.sampler is not None else ContextSampler()
        if self.sampler_.strategy == "tabicl_lgm" and self.sampler_.estimator is None:
            self.sampler_.estimator = estimator
        if self.sampler_.strategy == RETRIEVAL:
            X_num, codes = self.sampler_._validate(X, y)
            self.classes_ = self.sampler_.classes_
            from .retrieval import RetrievalTabICL

            self.estimator_ = RetrievalTabICL(
                estimator, self.sampler_, self.context_stats, column_context=self.column_context
            ).fit(X_num, codes)
            self.context_ = None
            return self
        X_num, codes = self.sampler_._validate(X, y)  # checked once: the context and the pool both come from it
        X_ctx, ctx_codes = self.sampler_._resample(X_num, codes)
        self.classes_ = self.sampler_.classes_
        y_ctx = self.classes_[ctx_codes]
        est = clone(estimator)
        if self.column_context == "pool":
            est = SplitTabICL.from_tabicl(est).fit(
                np.asarray(X_ctx, dtype=float), ctx_codes, X_pool=X_num, y_pool=codes
            )
            est.classes_ = self.classes_[est.classes_]
        elif _is_tabicl(est):
            fit_tabicl(est, X_ctx, y_ctx, context_stats=self.context_stats, X_pool=X)
        else:
            est.fit(X_ctx, y_ctx)
        self.estimator_ = est
        self.context_ = (X_ctx, y_ctx)
        return self

    def _delegate(self, X, method: str):
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False)
        if np.asarray(X).dtype.kind in "fc" and not np.isfinite(X).all():
            raise ValueError("X has NaN or inf values; drop or impute them")
        return getattr(self.estimator_, method)(X)

    def predict_proba(self, X) -> np.ndarray:
        """(n, C) probabilities, columns in ``classes_`` order (a class absent from the context scores 0)."""
        proba = self._delegate(X, "predict_proba")
        est_classes = getattr(self.estimator_, "classes_", self.classes_)
        if len(est_classes) == len(self.classes_):
            return proba
        out = np.zeros((len(proba), len(self.classes_)))
        out[:, np.searchsorted(self.classes_, est_classes)] = proba
        return out

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        if self.sampler_.strategy == RETRIEVAL:
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return self._delegate(X, "predict")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _default_estimator():
    from ..model.weights import make_tabicl, resolve_weights

    return make_tabicl(resolve_weights("auto", "."))
