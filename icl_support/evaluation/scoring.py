"""Evaluators and the one scorer: how chapters 4, 5 and 6 turn a context into test accuracies.

An evaluator is registered once (:func:`register_evaluator`) with a function
``fit_score(X, y, X_test, y_test, env) -> float | list[float]``: fit on the context rows ``X`` (n, F)
with labels ``y`` (n,), return the accuracy on ``X_test`` (m, F) (a list: one accuracy per seed).
:class:`Scorer` fits every requested evaluator on one context and scores it on fixed test rows.

Registered here:

``logreg``        standardise + multinomial logistic regression (:func:`icl_support.evaluation.peers.make_peer`)
``nearest_mean``  nearest class mean
``knn``           distance-weighted k-NN, k = min(5, rows)
``one_nn``        1-nearest neighbour
``tabicl``        TabICL on the run's weights (``env.tabicl`` makes the classifier); scored on ``env.tabicl_rows``
                  of the test rows only (all when ``None``); its fit + predict seconds go to ``tabicl_seconds``;
                  preprocessing fitted as ``env.context_stats`` says (:mod:`icl_support.model.context_stats`)
``tabicl_pool``   the same with the preprocessing fitted on the pool (``env.pool``), whatever ``env.context_stats``
``tabicl_context`` the same with the preprocessing fitted on the context rows (TabICL as shipped)
``tabicl_split``  TabICL, columns from the pool: its column stage reads the pool's rows *with their labels*
                  (``env.pool``, ``env.pool_labels``) beside the context, the in-context stage only the context
                  (:mod:`icl_support.model.stage_split`; one ensemble member whatever ``n_estimators``). Never
                  the write-up's bottleneck
``linear_probe``  LGM's linear probe on augmented views of the context's *images* (``needs_images``); returns
                  one accuracy per probe seed

Adding an evaluator is one decorated function here (or anywhere below the chapters) and a test.
Usage::

    scorer = Scorer(("logreg", "tabicl"), Z_test, y_test, EvalEnv(seed=0, tabicl=run.tabicl), reduce=pca)
    scorer(ctx.X, ctx.y)          # {"logreg": 0.41, "tabicl": 0.44, "tabicl_seconds": 0.8}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.errors import explain_out_of_memory
from .peers import make_peer


@dataclass(frozen=True)
class Evaluator:
    """A registered evaluator: ``fit_score(X, y, X_test, y_test, env)``; ``needs_images``: reads the
    context's images (``env.probe`` set) rather than its rows."""

    name: str
    fit_score: Callable[..., float | list[float]]
    needs_images: bool = False
    summary: str = ""


EVALUATORS: dict[str, Evaluator] = {}


def register_evaluator(name: str, *, needs_images: bool = False, summary: str = ""):
    """Decorator: register ``fit_score`` under ``name`` (a name registers once)."""

    def wrap(fn):
        if name in EVALUATORS:
            raise ValueError(f"evaluator {name!r} is already registered")
        EVALUATORS[name] = Evaluator(name, fn, needs_images, summary or (fn.__doc__ or "").strip())
        return fn

    return wrap


def get_evaluator(name: str) -> Evaluator:
    if name not in EVALUATORS:
        raise ValueError(f"unknown evaluator {name!r}; valid: {', '.join(EVALUATORS)}")
    return EVALUATORS[name]


@dataclass(frozen=True)
class ProbeSetup:
    """What the linear probe needs: the frozen features, the crop they see, and the probe protocol.

    ``generator`` is consumed in call order (contexts scored in the same order give the same views)."""

    features: torch.nn.Module
    crop: int
    n_augs: int
    epochs: int
    seeds: int
    generator: torch.Generator


@dataclass
class EvalEnv:
    """Everything an evaluator may need beyond the rows.

    ``tabicl``: ``seed -> unfitted TabICLClassifier`` (``None``: TabICL not run); ``tabicl_rows``: indices
    of the test rows TabICL predicts (``None``: all); ``probe``: the linear probe's setup (chapter 4)."""

    seed: int = 0
    tabicl: Callable[[int], object] | None = None
    tabicl_rows: np.ndarray | None = None
    probe: ProbeSetup | None = None
    extra: dict = field(default_factory=dict)
    context_stats: str = "context"  # whose statistics TabICL's preprocessing is fitted on (``tabicl``)
    pool: np.ndarray | None = None  # the unlabelled pool in the evaluators' rows (set by ``Scorer(pool=...)``)
    pool_labels: np.ndarray | None = None  # the pool's labels (``tabicl_split``; set by ``Scorer(pool_labels=...)``)


def _peer(name: str):
    def fit_score(X, y, X_test, y_test, env: EvalEnv) -> float:
        return float(make_peer(name, env.seed).fit(X, y).score(X_test, y_test))

    return fit_score


for _name, _summary in (
    ("logreg", "standardise + multinomial logistic regression (C=1)"),
    ("nearest_mean", "nearest class mean (Euclidean)"),
    ("knn", "distance-weighted k-NN, k = min(5, rows)"),
    ("one_nn", "1-nearest neighbour (Euclidean)"),
):
    register_evaluator(_name, summary=_summary)(_peer(_name))


def _tabicl_scored(name: str, fit: Callable[[np.ndarray, np.ndarray, EvalEnv], object]):
    """A TabICL evaluator: ``fit(X, y, env)`` returns the fitted classifier; scored on ``env.tabicl_rows``, its fit +
    predict seconds into ``env.extra["<name>_seconds"]``, out-of-memory errors explained."""

    def fit_score(X, y, X_test, y_test, env: EvalEnv) -> float:
        rows = env.tabicl_rows if env.tabicl_rows is not None else slice(None)
        start = time.perf_counter()
        with explain_out_of_memory(
            f"TabICL on {len(y)} context rows", "n_tabicl_test, n_estimators or the context size (ks)"
        ):
            clf = fit(X, y, env)
            accuracy = float((clf.predict(X_test[rows]) == y_test[rows]).mean())
        env.extra[f"{name}_seconds"] = time.perf_counter() - start
        return accuracy

    return fit_score


def _tabicl_with(context_stats: str | None, name: str):
    """TabICL with its preprocessing fitted as ``context_stats`` says (``None``: as ``env.context_stats`` says)."""

    def fit(X, y, env: EvalEnv):
        from ..model.context_stats import fit_tabicl

        stats_ = context_stats or env.context_stats
        return fit_tabicl(env.tabicl(env.seed), X, y, context_stats=stats_, X_pool=env.pool)

    return _tabicl_scored(name, fit)


register_evaluator("tabicl", summary="TabICL (the run's weights) on the context rows")(_tabicl_with(None, "tabicl"))
register_evaluator("tabicl_pool", summary="TabICL, preprocessing fitted on the pool")(
    _tabicl_with("pool", "tabicl_pool")
)
register_evaluator("tabicl_context", summary="TabICL as shipped, preprocessing fitted on the context rows")(
    _tabicl_with("context", "tabicl_context")
)


def _fit_split(X, y, env: EvalEnv):
    """TabICL (one ensemble member) whose column stage reads the pool's rows with their labels beside the context;
    the in-context stage reads only the context (:mod:`icl_support.model.stage_split`). Not the write-up's
    ten-row bottleneck: the pool's labels reach the model."""
    from ..model.split_classifier import SplitTabICL

    if env.pool is None or env.pool_labels is None:
        raise ValueError("evaluator 'tabicl_split' needs the labelled pool: Scorer(pool=..., pool_labels=...)")
    clf = SplitTabICL.from_tabicl(env.tabicl(env.seed), one_member=True)
    return clf.fit(X, y, X_pool=env.pool, y_pool=env.pool_labels)


register_evaluator("tabicl_split", summary="TabICL, columns from the pool: the column stage reads the labelled pool")(
    _tabicl_scored("tabicl_split", _fit_split)
)

TABICL_EVALUATORS = ("tabicl", "tabicl_pool", "tabicl_context", "tabicl_split")


@register_evaluator("linear_probe", needs_images=True, summary="LGM's linear probe on augmented views of the images")
def _linear_probe(images, y, X_test, y_test, env: EvalEnv) -> list[float]:
    from .probe import augmented_bank, linear_probe

    p = env.probe
    bank = augmented_bank(images.to(p.features.mean.device), p.features, p.n_augs, p.generator, crop=p.crop).cpu()
    return [float(a) for a in linear_probe(bank, y, X_test, y_test, p.epochs, range(p.seeds))]


class Scorer:
    """Scores a context with ``evaluators`` on fixed test rows ``Z_test`` (m, F) raw, ``y_test`` (m,).

    ``reduce`` (raw rows -> evaluator rows, e.g. a fitted PCA) is applied to the context and test rows of
    every row evaluator except those in ``raw``, which read raw rows (chapter 4's peers). TabICL is skipped
    when ``env.tabicl`` is ``None``. ``pool`` (N, F) raw: the unlabelled pool the contexts come from, reduced
    like the rows and kept as ``env.pool`` for ``context_stats="pool"``. Returns ``{evaluator: accuracy}``
    (the mean over seeds for list-valued evaluators, whose per-seed values go to ``<name>_seeds``) plus
    ``<tabicl evaluator>_seconds`` for each TabICL evaluator that ran.
    """

    def __init__(
        self,
        evaluators: Sequence[str],
        Z_test: np.ndarray,
        y_test: np.ndarray,
        env: EvalEnv,
        reduce: Callable[[np.ndarray], np.ndarray] | None = None,
        raw: Sequence[str] = (),
        pool: np.ndarray | None = None,
        pool_labels: np.ndarray | None = None,
    ):
        self.evaluators = [get_evaluator(e) for e in evaluators if not (e in TABICL_EVALUATORS and env.tabicl is None)]
        self.env, self.y_test, self.raw = env, np.asarray(y_test), set(raw)
        self.reduce = reduce or (lambda Z: Z)
        self.Z_test = np.asarray(Z_test)
        self.Z_test_reduced = self.reduce(self.Z_test)
        if pool is not None:
            self.env.pool = self.reduce(np.asarray(pool))
        if pool_labels is not None:
            self.env.pool_labels = np.asarray(pool_labels)

    def __call__(
        self, X: np.ndarray, y: np.ndarray, images: torch.Tensor | None = None, skip: Sequence[str] = ()
    ) -> dict[str, float]:
        """Scores of every evaluator but those in ``skip`` (see the class docstring)."""
        X_reduced = self.reduce(X)
        out: dict[str, float] = {}
        for ev in self.evaluators:
            if ev.name in skip:
                continue
            if ev.needs_images:
                if images is None:
                    raise ValueError(f"evaluator {ev.name!r} needs the context's images; none were given")
                value = ev.fit_score(images, y, self.Z_test, self.y_test, self.env)
            elif ev.name in self.raw:
                value = ev.fit_score(X, y, self.Z_test, self.y_test, self.env)
            else:
                value = ev.fit_score(X_reduced, y, self.Z_test_reduced, self.y_test, self.env)
            if isinstance(value, list):
                out[f"{ev.name}_seeds"] = value
                value = float(np.mean(value))
            out[ev.name] = float(value)
            if ev.name in TABICL_EVALUATORS:
                out[f"{ev.name}_seconds"] = float(self.env.extra.pop(f"{ev.name}_seconds"))
        return out

    def n_test(self, evaluator: str) -> int:
        """How many test rows ``evaluator``'s accuracy is measured on (TabICL may read a subset: ``tabicl_rows``)."""
        rows = self.env.tabicl_rows
        if evaluator in TABICL_EVALUATORS and rows is not None:
            return int(len(np.arange(len(self.y_test))[rows]))
        return int(len(self.y_test))

    def per_class_recall(self, X: np.ndarray, y: np.ndarray, evaluator: str = "nearest_mean") -> np.ndarray:
        """Recall per class (C,) of a peer ``evaluator`` fitted on the context rows (reduced like the scores)."""
        pred = make_peer(evaluator, self.env.seed).fit(self.reduce(X), y).predict(self.Z_test_reduced)
        classes = np.unique(self.y_test)
        return np.array([(pred[self.y_test == c] == c).mean() for c in classes])


def stats(values, n_test: int | None = None) -> dict:
    """``{"mean", "std", "n"}`` of a list of values (accuracies, seconds), plus ``n_test`` when given: the number of
    test rows each accuracy was measured on, from which a reader takes the test-set (binomial) sampling error.

    ``std`` is the sample standard deviation (ddof 1; 0 for a single value, which has no spread to estimate)."""
    v = np.asarray(values, dtype=float)
    out = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": int(len(v))}
    if n_test is not None:
        out["n_test"] = int(n_test)
    return out
