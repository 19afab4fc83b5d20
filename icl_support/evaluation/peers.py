"""Peer classifiers that read the same context rows as TabICL (scikit-learn estimators).

``nearest_mean``  nearest class mean (Euclidean), ``NearestCentroid``.
``knn``           k-nearest neighbours, k = min(5, context rows), distance-weighted.
``one_nn``        the nearest neighbour (1-NN, Euclidean).
``logreg``        a linear probe: standardise, then multinomial logistic regression (L2, C=1).

Usage::

    clf = make_peer("logreg", seed=0).fit(X_ctx, y_ctx)
    acc = clf.score(X_test, y_test)
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

PEERS = ("nearest_mean", "knn", "logreg")  # chapter 1's peers
PEER_NAMES = (*PEERS, "one_nn")


class CappedKNN(ClassifierMixin, BaseEstimator):
    """k-NN whose k shrinks to the number of context rows when there are fewer than ``k``."""

    def __init__(self, k: int = 5):
        self.k = k

    def fit(self, X, y):
        self.knn_ = KNeighborsClassifier(n_neighbors=min(self.k, len(X)), weights="distance").fit(X, y)
        self.classes_ = self.knn_.classes_
        return self

    def predict(self, X):
        return self.knn_.predict(X)

    def predict_proba(self, X):
        return self.knn_.predict_proba(X)


class NearestClassMean(NearestCentroid):
    """``NearestCentroid`` that stays quiet with one row per class.

    sklearn divides a within-class variance by ``n_rows - n_classes``, 0/0 with one row per class;
    that variance only matters for ``shrink_threshold``, which is unused here.
    """

    def fit(self, X, y):
        with np.errstate(invalid="ignore", divide="ignore"):
            return super().fit(X, y)


def make_peer(name: str, seed: int = 0):
    """An unfitted peer classifier by name (see module docstring)."""
    if name == "nearest_mean":
        return NearestClassMean()
    if name == "knn":
        return CappedKNN(5)
    if name == "one_nn":
        return KNeighborsClassifier(n_neighbors=1)
    if name == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=seed))
    raise ValueError(f"unknown peer classifier {name!r}; valid: {', '.join(PEER_NAMES)}")


def standardised_nearest_mean(table, fractions, seeds) -> dict:
    """``{fraction: {"mean", "std"}}``: the nearest class mean on rows z-scored with the *context's* statistics, as
    TabICL's preprocessing z-scores every column before the model sees it, on chapter 1's contexts (same fractions
    and seeds; the whole pool once). With a dozen context rows this, not the raw rows' nearest class mean, is
    what any TabICL checkpoint can see."""
    from ..data.datasets import class_fraction_subset

    out = {}
    for f in fractions:
        accs = []
        for seed in seeds[:1] if f >= 1.0 else seeds:
            idx = class_fraction_subset(table.y_train, f, seed)
            clf = make_pipeline(StandardScaler(), NearestClassMean()).fit(table.X_train[idx], table.y_train[idx])
            accs.append(float(np.mean(clf.predict(table.X_test) == table.y_test)))
        out[f"{f:g}"] = {"mean": float(np.mean(accs)), "std": float(np.std(accs))}
    return out
