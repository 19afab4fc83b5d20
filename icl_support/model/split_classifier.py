"""The split mode as scikit-learn estimators: one ensemble member (:class:`SplitTabICL`) or the wrapper's ensemble
(:class:`SplitEnsemble`, ``TabICLClassifier(n_estimators > 1)``). Both fit once (the column stage over the labelled
pool and the context, kept in TabICL's representation cache) and predict with the test rows' passes and an
in-context stage over the context rows only (:mod:`icl_support.model.stage_split`). Usage::

    clf = SplitTabICL(weights).fit(X_ctx, y_ctx, X_pool=X_train, y_pool=y_train)
    ens = SplitEnsemble(TabICLClassifier(n_estimators=4, model_path=...)).fit(X_ctx, y_ctx, X_pool=X_train,
                                                                              y_pool=y_train)
    SplitTabICL.from_tabicl(tabicl_classifier)      # the one that matches the classifier's n_estimators
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from .stage_split import (
    POOL_CAP,
    cached_logits,
    cached_split_logits,
    fit_columns,
    fit_split_cache,
    not_in_context,
    stratified_cap,
)
from .torch_path import TorchTabICL


class SplitTabICL(ClassifierMixin, BaseEstimator):
    """TabICL (``n_estimators=1``) whose column stage reads a labelled pool beside the context (module docstring).

    ``weights``: a :class:`~icl_support.model.weights.TabICLWeights` or a checkpoint path.
    ``pool_cap``: pool rows the column stage reads (stratified subsample, drawn with ``random_state``).
    ``batch``: test rows per forward pass. ``fit(X_ctx, y_ctx, X_pool=None, y_pool=None)``: without a pool this is
    the plain mode. After ``fit``: ``classes_``, ``n_features_in_``, ``pool_size_`` (pool rows the column stage
    reads beside the context)."""

    def __init__(self, weights=None, pool_cap: int = POOL_CAP, batch: int = 512, device: str = "cpu", random_state=0):
        self.weights = weights
        self.pool_cap = pool_cap
        self.batch = batch
        self.device = device
        self.random_state = random_state

    @classmethod
    def from_tabicl(cls, clf, pool_cap: int = POOL_CAP, one_member: bool = False) -> SplitTabICL | SplitEnsemble:
        """The split mode of an unfitted ``TabICLClassifier`` ``clf``: its checkpoint, device and seed. With
        ``n_estimators > 1`` a :class:`SplitEnsemble` over ``clf``'s own ensemble, unless ``one_member``: then one
        member whatever ``clf``'s ensemble (the evaluator's choice, stated where it reports)."""
        name = type(clf).__name__
        if name != "TabICLClassifier":
            raise ValueError(f"column_context='pool' needs a TabICLClassifier; got {name}")
        if not getattr(clf, "model_path", None):
            raise ValueError("column_context='pool' needs the TabICLClassifier's model_path (a local checkpoint)")
        if int(getattr(clf, "n_estimators", 1)) != 1 and not one_member:
            return SplitEnsemble(clf, pool_cap=pool_cap, random_state=getattr(clf, "random_state", 0))
        device = str(getattr(clf, "device", None) or "cpu")
        return cls(clf.model_path, pool_cap=pool_cap, device=device, random_state=getattr(clf, "random_state", 0))

    def fit(self, X, y, X_pool=None, y_pool=None):
        X, y = _context_rows(X, y)
        if self.weights is None:
            raise ValueError("SplitTabICL needs weights: a TabICLWeights or a checkpoint path")
        self.net_ = TorchTabICL(self.weights, self.device)
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.X_ctx_, self.codes_ = torch.from_numpy(X), torch.from_numpy(codes)
        self.n_features_in_ = X.shape[1]
        if X_pool is None:
            self.X_pool_ = self.y_pool_ = None
            self.pool_size_ = 0
            return self
        X_pool, y_pool = _capped_pool(X, self.classes_, X_pool, y_pool, self.pool_cap, self.random_state)
        self.X_pool_ = torch.from_numpy(X_pool)
        self.y_pool_ = torch.from_numpy(np.searchsorted(self.classes_, y_pool))
        self.pool_size_ = int(not_in_context(self.X_pool_, self.X_ctx_).sum())
        self.cache_ = fit_split_cache(self.net_, self.X_ctx_, self.codes_, self.X_pool_, self.y_pool_)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "net_")
        X = _test_rows(X, self.n_features_in_)
        out = []
        with torch.no_grad():
            for start in range(0, len(X), int(self.batch)):
                q = torch.from_numpy(X[start : start + int(self.batch)])
                if self.X_pool_ is None:
                    logits = self.net_(self.X_ctx_, self.codes_, q)
                else:
                    logits = cached_split_logits(self.net_, self.cache_, q)
                out.append(torch.softmax(logits / self.net_.softmax_temperature, -1).cpu().numpy())
        return np.concatenate(out)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class SplitEnsemble(ClassifierMixin, BaseEstimator):
    """The split mode over ``TabICLClassifier``'s ensemble (``estimator``, any ``n_estimators``): every member keeps
    the wrapper's own normalisation, feature shuffle and class shift.

    ``fit(X_ctx, y_ctx, X_pool, y_pool)`` fits a clone of the wrapper on the rows the column stage reads (the capped
    pool's rows that are not context rows, then the context rows), so each member's preprocessing is fitted on the
    rows its column stage reads, as :class:`SplitTabICL`'s is; each member's column stage reads those rows with its
    shifted labels (:func:`~icl_support.model.stage_split.fit_columns`, cached), its in-context stage the context
    rows only.
    ``predict_proba`` un-shifts each member's logits and averages them, then takes the softmax, as
    ``TabICLClassifier.predict_proba`` does (probabilities averaged instead with ``average_logits=False``). With the
    pool equal to the context it is the wrapper's plain prediction. Its preprocessing is the wrapper's, fitted on the
    column-stage rows (the pool's and the context's), as :class:`SplitTabICL`'s is, so at ``n_estimators=1`` the two
    agree whatever the context rows (pool rows, class means, LGM rows). After ``fit``: ``classes_``,
    ``n_features_in_``, ``pool_size_``, ``n_members_``, ``tabicl_`` (the fitted wrapper)."""

    def __init__(self, estimator=None, pool_cap: int = POOL_CAP, random_state=0):
        self.estimator = estimator
        self.pool_cap = pool_cap
        self.random_state = random_state

    def fit(self, X, y, X_pool=None, y_pool=None):
        if type(self.estimator).__name__ != "TabICLClassifier" or not getattr(self.estimator, "model_path", None):
            raise ValueError("SplitEnsemble needs a TabICLClassifier with model_path (a local checkpoint)")
        X, y = _context_rows(X, y)
        self.classes_ = np.unique(y)
        if X_pool is None:
            X_pool, y_pool = X, y
        X_pool, y_pool = _capped_pool(X, self.classes_, X_pool, y_pool, self.pool_cap, self.random_state)
        extra = not_in_context(torch.from_numpy(X_pool), torch.from_numpy(X)).numpy()
        self.pool_size_ = int(extra.sum())
        self.tabicl_ = clone(self.estimator).fit(np.concatenate([X_pool[extra], X]), np.concatenate([y_pool[extra], y]))
        self.n_features_in_ = X.shape[1]
        net = TorchTabICL(self.tabicl_.model_path, str(self.tabicl_.device_))
        generator = self.tabicl_.ensemble_generator_
        self.members_ = []  # (normalisation, member index, TabICL cache)
        for norm, (X_members, y_members) in generator.transform(X=None, mode="train").items():
            for m in range(len(X_members)):
                X_cols, y_cols = (torch.from_numpy(np.ascontiguousarray(a[m])) for a in (X_members, y_members))
                self.members_.append((norm, m, fit_columns(net, X_cols, y_cols, len(X), len(self.classes_))))
        self.shuffles_ = [shuffle for shuffles in generator.class_shuffles_.values() for shuffle in shuffles]
        self.n_members_, self.net_ = len(self.members_), net
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "members_")
        X = _test_rows(X, self.n_features_in_)
        wrapper = self.tabicl_
        test = wrapper.ensemble_generator_.transform(wrapper.X_encoder_.transform(X), mode="test")
        total = 0.0
        for (norm, m, cache), shuffle in zip(self.members_, self.shuffles_, strict=True):
            logits = cached_logits(self.net_, cache, torch.from_numpy(np.ascontiguousarray(test[norm][0][m])))
            out = logits.double().cpu().numpy()[:, shuffle]
            total = total + (out if wrapper.average_logits else _softmax(out, wrapper.softmax_temperature))
        mean = total / self.n_members_
        proba = _softmax(mean, wrapper.softmax_temperature) if wrapper.average_logits else mean
        return proba / proba.sum(1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / temperature
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def _context_rows(X, y) -> tuple[np.ndarray, np.ndarray]:
    """The context as float32 rows (N, F) and labels (N,); NaN/inf refused."""
    X, y = np.asarray(X, dtype=np.float32), np.asarray(y)
    if X.ndim != 2 or y.shape != (len(X),):
        raise ValueError(f"need X (n, F) and y (n,); got {X.shape}, {y.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X has NaN or inf values; drop or impute them")
    return X, y


def _test_rows(X, n_features: int) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"X must be (m, {n_features}), got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X has NaN or inf values; drop or impute them")
    return X


def _capped_pool(X, classes, X_pool, y_pool, pool_cap: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """The pool checked against the context ``X`` (N, F) and its ``classes``, then its stratified subsample of at
    most ``pool_cap`` rows: ``(X_pool (P, F) float32, y_pool (P,))``."""
    X_pool, y_pool = np.asarray(X_pool, dtype=np.float32), np.asarray(y_pool)
    if X_pool.ndim != 2 or X_pool.shape[1] != X.shape[1] or y_pool.shape != (len(X_pool),):
        raise ValueError(
            f"need X_pool (P, {X.shape[1]}) and y_pool (P,) like the context; got {X_pool.shape}, {y_pool.shape}"
        )
    if not np.isfinite(X_pool).all():
        raise ValueError(f"X_pool: {int((~np.isfinite(X_pool)).sum())} NaN/inf values")
    unknown = sorted(set(np.unique(y_pool).tolist()) - set(np.asarray(classes).tolist()))
    if unknown:
        raise ValueError(
            f"pool labels {unknown[:10]} are not among the context's classes {np.asarray(classes).tolist()}: the "
            "in-context stage can only predict the context's classes"
        )
    keep = stratified_cap(y_pool, int(pool_cap), int(seed or 0))
    return X_pool[keep], y_pool[keep]
