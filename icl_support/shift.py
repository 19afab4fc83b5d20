"""Distribution shift: the same contexts, scored on corrupted test images.

Only the test images are corrupted (:mod:`icl_support.corruptions`, CIFAR-10-C constants); contexts
are built from the clean pool exactly as in chapter 5. Corrupted test embeddings are cached, keyed
by the clean test set, the corruption, its severity and the seed. Usage::

    shift = run_shift(settings, data, weights, contexts, reduce)   # contexts: {name: [Context, ...]}
    shift["results"]["centroid"]["gaussian_noise"]["3"]["logreg"]     # accuracy
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .cache import key_digest, load_or_none, save_arrays
from .config import Settings
from .corruptions import corrupt
from .one_per_class import ImageData, embed_tensors, load_images, stats
from .peers import row_accuracies
from .selection import Context
from .tabicl_model import TabICLWeights, make_tabicl
from .tables import load_splits, resolve_device

SHIFT_EVALUATORS = ("logreg", "nearest_mean", "one_nn", "tabicl")


def corrupted_embeddings(s: Settings, data: ImageData, name: str, severity: int, progress: bool = False) -> np.ndarray:
    """Centre-view embeddings (M, F) of the test images under corruption ``name`` at ``severity`` (cached)."""
    key = {"kind": "shifted-test/v1", **data.key, "corruption": name, "severity": int(severity), "seed": s.seed}
    path = s.cache_path / "shift" / f"test-{s.dataset}-{name}-{severity}-{key_digest(key)}.npz"
    hit = load_or_none(path, key)
    if hit is not None:
        return hit["Z"]
    _, test, _, idx_test = load_splits(s)
    images = load_images(test, idx_test, s.distill_res, progress)
    Z = embed_tensors(data.features, corrupt(images, name, severity, seed=s.seed), data.crop)
    save_arrays(path, key, Z=Z)
    return Z


def score(s: Settings, X: np.ndarray, y: np.ndarray, Zt: np.ndarray, y_test: np.ndarray, weights: TabICLWeights):
    """Accuracy of each evaluator fitted on context rows ``X`` on test rows ``Zt`` (both already reduced)."""
    out = row_accuracies(X, y, Zt, y_test, s.seed)
    if not weights.is_random:  # with random weights TabICL's accuracy under shift means nothing: not run
        clf = make_tabicl(weights, s.n_estimators, resolve_device(s.device), s.seed).fit(X, y)
        out["tabicl"] = float((clf.predict(Zt) == y_test).mean())
    return out


def _scores(s, ctxs, reduce, Z, y, weights) -> dict:
    """``{evaluator: {mean, std, n}}`` over the contexts ``ctxs`` (several seeds of one strategy) on raw test
    embeddings ``Z`` (reduced once here)."""
    Zt = reduce(Z)
    per = [score(s, reduce(c.X), c.y, Zt, y, weights) for c in ctxs]
    return {ev: stats([p[ev] for p in per]) for ev in per[0]}


def run_shift(
    s: Settings,
    data: ImageData,
    weights: TabICLWeights,
    contexts: dict[str, list[Context]],
    reduce,
    progress: bool = True,
) -> dict:
    """``{"results": {strategy: {"clean" or corruption: {"0" or severity: {evaluator: {mean, std, n}}}}}}``.

    ``contexts`` maps a strategy to its contexts (one per seed); ``reduce`` maps raw embeddings to the
    rows the evaluators read (e.g. chapter 5's PCA).
    """
    results: dict = {
        name: {"clean": {"0": _scores(s, c, reduce, data.Z_test, data.y_test, weights)}} for name, c in contexts.items()
    }
    jobs = [(c, v) for c in s.corruptions for v in s.severities]
    for corruption, severity in tqdm(jobs, desc="corruptions", disable=not progress):
        Z = corrupted_embeddings(s, data, corruption, severity)
        for name, ctxs in contexts.items():
            results[name].setdefault(corruption, {})[str(severity)] = _scores(s, ctxs, reduce, Z, data.y_test, weights)
    return {"results": results, "tabicl": "run" if not weights.is_random else "not run: random weights"}


SHIFT_STRATEGIES = {
    "random": "random",
    "centroid": "nearest_centroid",
    "class_mean": "class_mean",
    "distilled": "pixel_lgm",
}


def shift_contexts(s: Settings, data: ImageData, weights: TabICLWeights, k: int) -> dict[str, list[Context]]:
    """The issue's four contexts at ``k`` per class: random (``selection_seeds`` draws), the rows nearest the
    centroids, the class means, and pixel-LGM images at ipc = ``k`` (``distilled``; needs ``k`` in ``lgm_ipcs``)."""
    from .pareto import build

    out = {}
    for label, name in SHIFT_STRATEGIES.items():
        built = build(s, data, name, k, weights)
        if built.contexts:
            out[label] = built.contexts
    return out


def severity_table(results: dict, severity: int, evaluator: str) -> pd.DataFrame:
    """Strategies x (clean, each corruption) accuracy at one ``severity`` for one evaluator (means)."""
    rows = {}
    for name, per in results.items():
        row = {"clean": per["clean"]["0"][evaluator]["mean"]}
        for corruption, by_sev in per.items():
            if corruption != "clean" and str(severity) in by_sev:
                row[corruption] = by_sev[str(severity)][evaluator]["mean"]
        rows[name] = row
    return pd.DataFrame(rows).T


def plot_shift(results: dict, evaluator: str) -> plt.Figure:
    """One panel per corruption: accuracy (± std over draws) against severity (0 = clean), a line per strategy."""
    corruptions = [c for c in next(iter(results.values())) if c != "clean"]
    fig, axes = plt.subplots(1, len(corruptions), figsize=(3.2 * len(corruptions), 3), sharey=True, squeeze=False)
    for ax, corruption in zip(axes[0], corruptions, strict=True):
        for name, per in results.items():
            sev = sorted(per[corruption], key=int)
            x = [0] + [int(v) for v in sev]
            pts = [per["clean"]["0"][evaluator]] + [per[corruption][v][evaluator] for v in sev]
            ax.errorbar(
                x, [p["mean"] for p in pts], yerr=[p["std"] for p in pts], marker="o", ms=4, capsize=2, label=name
            )
        ax.set_title(corruption, fontsize=9)
        ax.set_xlabel("severity (0 = clean)")
    axes[0, 0].set_ylabel(f"{evaluator} accuracy")
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    return fig
