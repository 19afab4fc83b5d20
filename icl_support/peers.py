"""Peer classifiers that read the same context rows as TabICL (scikit-learn estimators).

``nearest_mean``  nearest class mean (Euclidean), ``NearestCentroid``.
``knn``           k-nearest neighbours, k = min(5, context rows), distance-weighted.
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

PEERS = ("nearest_mean", "knn", "logreg")


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
    if name == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=seed))
    raise ValueError(f"unknown peer classifier {name!r}; valid: {', '.join(PEERS)}")


def row_accuracies(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, seed: int = 0) -> dict:
    """Test accuracy of logistic regression, nearest class mean and 1-NN fitted on the context rows ``X`` (n, F):
    ``{"logreg": .., "nearest_mean": .., "one_nn": ..}`` (chapters 5 and 6 score every context with these)."""
    from sklearn.neighbors import KNeighborsClassifier

    return {
        "logreg": float(make_peer("logreg", seed).fit(X, y).score(X_test, y_test)),
        "nearest_mean": float(make_peer("nearest_mean").fit(X, y).score(X_test, y_test)),
        "one_nn": float(KNeighborsClassifier(n_neighbors=1).fit(X, y).score(X_test, y_test)),
    }
