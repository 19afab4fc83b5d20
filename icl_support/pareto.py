"""Chapter 5: every context strategy at k rows per class, scored on the same test rows.

Strategies (``settings.strategies``): the selectors of :mod:`icl_support.selection`, plus three
distillations: ``row_lgm`` (embedding-space LGM, :mod:`icl_support.row_distill`), ``pixel_lgm``
(LGM images at ipc = k, only for k in ``settings.lgm_ipcs``, embedded by the frozen backbone) and
``tabicl_lgm`` (rows optimised through TabICL itself; only with real TabICL weights, since with
random weights its objective means nothing). ``full`` is the whole pool, once.

Evaluators: TabICL (fit + predict timed, on ``n_tabicl_test`` test rows), logistic regression,
nearest class mean and 1-NN. All four read the same rows: the context rows and test rows reduced by
one PCA (``pca_dim``) fitted on the whole real pool. Selection and distillation work on the raw
embeddings. Usage::

    data = prepare_images(settings)                 # icl_support.one_per_class
    out = run_pareto(settings, data, weights)       # {"results": ..., "distill": ..., ...}
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier
from tqdm.auto import tqdm

from .config import Settings, with_overrides
from .one_per_class import ImageData, distilled_images, embed_tensors, stats
from .peers import make_peer, row_accuracies
from .row_distill import RowDistillConfig, distill_rows
from .selection import SELECTORS, Context, select
from .tabicl_model import TabICLWeights, make_tabicl
from .tables import WidthReducer, fit_width_reducer, resolve_device

EVALUATORS = ("tabicl", "logreg", "nearest_mean", "one_nn")
SEEDED = ("random", "kmeans_medoids", "row_lgm")  # plus class_mean for k > 1 (k-means)


@dataclass
class Built:
    """The contexts of one strategy at one k, with the seconds each took to build (distillation included)."""

    contexts: list[Context]
    seconds: list[float]
    images: np.ndarray | None = None  # pixel LGM images (C * k, 3, side, side) in [0, 1]
    note: str = ""


def seeds_for(s: Settings, name: str, k: int) -> list[int]:
    seeded = name in SEEDED or (name == "class_mean" and k > 1)
    return [s.seed + i for i in range(s.selection_seeds)] if seeded else [s.seed]


def build(
    s: Settings, data: ImageData, name: str, k: int, weights: TabICLWeights, progress: bool = False, pca=None
) -> Built:
    """Contexts of strategy ``name`` with ``k`` rows per class (several seeds where the strategy is seeded).

    ``pca``: the evaluators' PCA; TabICL-aware distillation optimises rows in that space (the rows TabICL
    reads) and maps them back with ``inverse_transform``, which the evaluators' projection undoes exactly."""
    n_classes = len(data.classes)
    if name in SELECTORS:
        out = Built([], [])
        for seed in seeds_for(s, name, k):
            t = time.perf_counter()
            out.contexts.append(select(name, data.Z_pool, data.y_pool, k, seed))
            out.seconds.append(time.perf_counter() - t)
        return out
    if name == "row_lgm":
        out = Built([], [])
        for seed in seeds_for(s, name, k):
            cfg = RowDistillConfig(ipc=k, steps=s.row_distill_steps, lr=s.row_distill_lr, seed=seed)
            t = time.perf_counter()
            r = distill_rows(data.Z_pool, data.y_pool, n_classes, cfg, progress=progress)
            out.seconds.append(time.perf_counter() - t)
            out.contexts.append(Context(r.rows, r.labels, None))
        return out
    if name == "pixel_lgm":
        if k not in s.lgm_ipcs:
            return Built([], [], note=f"pixel LGM runs only at ipc in lgm_ipcs={list(s.lgm_ipcs)}")
        lgm = distilled_images(with_overrides(s, ipc=k), data, progress)
        Z = embed_tensors(data.features, torch.from_numpy(lgm["images"]), data.crop)
        seconds = float(lgm["seconds_per_step"]) * s.distill_steps
        return Built([Context(Z, lgm["labels"].astype(np.int64), None)], [seconds], images=lgm["images"])
    if name == "tabicl_lgm":
        if weights.is_random:
            return Built([], [], note="skipped: TabICL has random weights, so its loss means nothing")
        if n_classes > 10:
            return Built([], [], note="skipped: TabICL's differentiable path has at most 10 classes")
        from .tabicl_distill import TabICLDistillConfig, distill_tabicl
        from .tabicl_torch import TorchTabICL

        rows = WidthReducer(pca)(data.Z_pool)
        cfg = TabICLDistillConfig(ipc=k, steps=s.tabicl_distill_steps, seed=s.seed)
        t = time.perf_counter()
        r = distill_tabicl(TorchTabICL(weights, resolve_device(s.device)), rows, data.y_pool, n_classes, cfg, progress)
        X = pca.inverse_transform(r.rows).astype(np.float32) if pca is not None else r.rows  # back to raw space
        return Built([Context(X, r.labels, None)], [time.perf_counter() - t])
    valid = ", ".join((*SELECTORS, "row_lgm", "pixel_lgm", "tabicl_lgm"))
    raise ValueError(f"unknown strategy {name!r}; valid: {valid}")


class Scorer:
    """Scores a context with every evaluator on the same (PCA-reduced) test rows."""

    def __init__(self, s: Settings, data: ImageData, weights: TabICLWeights):
        self.s, self.weights = s, weights
        self.reduce = fit_width_reducer(data.Z_pool, s.pca_dim, s.seed)
        self.Z_test, self.y_test = self.reduce(data.Z_test), data.y_test
        m = s.n_tabicl_test or len(self.y_test)
        self.tabicl_rows = np.sort(np.random.default_rng(s.seed).permutation(len(self.y_test))[:m])
        self.device = resolve_device(s.device)

    def __call__(self, ctx: Context) -> dict[str, float]:
        X, y = self.reduce(ctx.X), ctx.y
        out = row_accuracies(X, y, self.Z_test, self.y_test, self.s.seed)
        Zt, yt = self.Z_test[self.tabicl_rows], self.y_test[self.tabicl_rows]
        t = time.perf_counter()
        clf = make_tabicl(self.weights, self.s.n_estimators, self.device, self.s.seed).fit(X, y)
        out["tabicl"] = float((clf.predict(Zt) == yt).mean())
        out["tabicl_seconds"] = time.perf_counter() - t
        return {k: float(v) for k, v in out.items()}


def run_pareto(s: Settings, data: ImageData, weights: TabICLWeights, progress: bool = True) -> dict:
    """``{"results": {strategy: {k: {evaluator: {mean, std, n}, tabicl_seconds, build_seconds, rows}}},
    "skipped": {strategy: {k: reason}}, "contexts": {(strategy, k): first context's pool indices or None}}``.

    ``full`` is stored under the key ``"all"``. Accuracies are fractions of the test rows.
    """
    score = Scorer(s, data, weights)
    results: dict = {}
    skipped: dict = {}
    first: dict = {}
    images: dict = {}
    jobs = [(n, k) for n in s.strategies if n != "full" for k in s.ks] + [("full", 0)] * ("full" in s.strategies)
    for name, k in tqdm(jobs, desc="strategies x k", disable=not progress):
        built = build(s, data, name, k or 1, weights, pca=score.reduce.pca)
        if not built.contexts:
            skipped.setdefault(name, {})["all" if name == "full" else str(k)] = built.note
            continue
        scores = [score(ctx) for ctx in built.contexts]
        entry = {ev: stats([sc[ev] for sc in scores]) for ev in EVALUATORS}
        entry["tabicl_seconds"] = stats([sc["tabicl_seconds"] for sc in scores])
        entry["build_seconds"] = stats(built.seconds)
        entry["rows"] = int(len(built.contexts[0].y))
        key = "all" if name == "full" else str(k)
        results.setdefault(name, {})[key] = entry
        first[(name, key)] = built.contexts[0]
        if built.images is not None:
            images[(name, key)] = built.images
    return {
        "results": results,
        "skipped": skipped,
        "tabicl_test_rows": int(len(score.tabicl_rows)),
        "contexts": first,
        "images": images,
        "scorer": score,
    }


def pareto_front(rows: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats (fewer-or-equal rows and higher-or-equal accuracy,
    one strictly), sorted by rows. ``rows``, ``acc``: (P,) arrays."""
    order = np.lexsort((-acc, rows))
    keep, best = [], -np.inf
    for i in order:
        if acc[i] > best:
            keep.append(int(i))
            best = acc[i]
    return np.asarray(keep, dtype=int)


def per_class_accuracy(scorer: Scorer, ctx: Context, evaluator: str = "nearest_mean") -> np.ndarray:
    """Recall per class (C,) of a peer ``evaluator`` fitted on ``ctx``: for the explorer."""
    X = scorer.reduce(ctx.X)
    clf = KNeighborsClassifier(1) if evaluator == "one_nn" else make_peer(evaluator, scorer.s.seed)
    pred = clf.fit(X, ctx.y).predict(scorer.Z_test)
    classes = np.unique(scorer.y_test)
    return np.array([(pred[scorer.y_test == c] == c).mean() for c in classes])
