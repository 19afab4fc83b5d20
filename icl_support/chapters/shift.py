"""Distribution shift: the same contexts, scored on corrupted test images.

Only the test images are corrupted (:mod:`icl_support.data.corruptions`, CIFAR-10-C constants); contexts
are built from the clean pool exactly as in chapter 5. Corrupted test embeddings are cached, keyed
by the clean test set, the corruption, its severity and the seed. Usage::

    contexts = shift_contexts(run, data, k=1)                    # {label: [Context, ...]}
    shift = run_shift(run, data, contexts, reduce)
    shift["results"]["centroid"]["gaussian_noise"]["3"]["logreg"]     # accuracy
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..contexts.selection import Context
from ..contexts.strategies import BuildInputs, build
from ..core.cache import key_digest, load_or_none, save_arrays
from ..core.config import Settings
from ..data.corruptions import corrupt
from ..data.images import load_images
from ..embedding.frozen import embed_tensors
from ..embedding.image_pool import ImageData
from ..embedding.tables import load_splits
from ..evaluation.run import Run
from ..evaluation.scoring import EvalEnv, Scorer, stats

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


def _scores(scorer: Scorer, ctxs: list[Context]) -> dict:
    """``{evaluator: {mean, std, n}}`` over the contexts ``ctxs`` (several seeds of one strategy)."""
    per = [scorer(c.X, c.y) for c in ctxs]
    return {ev: stats([p[ev] for p in per], n_test=scorer.n_test(ev)) for ev in per[0] if ev != "tabicl_seconds"}


def run_shift(run: Run, data: ImageData, contexts: dict[str, list[Context]], reduce, progress: bool = True) -> dict:
    """``{"results": {strategy: {"clean" or corruption: {"0" or severity: {evaluator: {mean, std, n}}}}}}``.

    ``contexts`` maps a strategy to its contexts (one per seed); ``reduce`` maps raw embeddings to the
    rows the evaluators read (e.g. chapter 5's PCA). TabICL predicts every test row; with random weights it
    is not run (its accuracy under shift would mean nothing).
    """
    s, weights = run.settings, run.weights
    env = EvalEnv(seed=s.seed, tabicl=None if weights.is_random else run.tabicl)

    def scorer(Z: np.ndarray) -> Scorer:
        return Scorer(SHIFT_EVALUATORS, Z, data.y_test, env, reduce=reduce)

    clean = scorer(data.Z_test)
    results: dict = {name: {"clean": {"0": _scores(clean, c)}} for name, c in contexts.items()}
    jobs = [(c, v) for c in s.corruptions for v in s.severities]
    for corruption, severity in tqdm(jobs, desc="corruptions", disable=not progress):
        shifted = scorer(corrupted_embeddings(s, data, corruption, severity))
        for name, ctxs in contexts.items():
            results[name].setdefault(corruption, {})[str(severity)] = _scores(shifted, ctxs)
    return {"results": results, "tabicl": "run" if not weights.is_random else "not run: random weights"}


def recorded_values(rec: dict) -> dict:
    """What chapter 6 glues about a recorded shift run: its TabICL weights, whether TabICL ran, and how many
    independent distillations its ``distilled`` column averages."""
    return {
        "rec_shift_weights": rec["provenance"].get("tabicl_weights", "?"),
        "rec_shift_tabicl": rec["tabicl"],
        "rec_distillations": rec["results"]["distilled"]["clean"]["0"]["nearest_mean"]["n"],
    }


SHIFT_STRATEGIES = ("random", "centroid", "class_mean", "distilled")  # registry names and aliases


def shift_contexts(run: Run, data: ImageData, k: int) -> dict[str, list[Context]]:
    """Four contexts at ``k`` per class (strategy registry): random (``selection_seeds`` draws), the rows
    nearest the centroids, the class means, and pixel-LGM images at ipc = ``k`` (``distilled``)."""
    out = {}
    inputs = BuildInputs(run, data)
    for label in SHIFT_STRATEGIES:
        built = build(label, inputs, k)
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


def chosen_severity(severities) -> int:
    """The severity the chapter tabulates: 3 when run, else the highest."""
    return 3 if 3 in severities else max(severities)


def table_numbers(table: pd.DataFrame, prefix: str) -> dict:
    """``{"<prefix>_<strategy>_<column>": value}`` of a :func:`severity_table`."""
    return {f"{prefix}_{n}_{c}": v for n, row in table.iterrows() for c, v in row.items()}


def recorded_evaluators(results: dict) -> list[str]:
    """The evaluators a recorded shift run scored (TabICL only where it ran), in :data:`SHIFT_EVALUATORS` order."""
    scored = next(iter(results.values()))["clean"]["0"]
    return [ev for ev in ("nearest_mean", "logreg", "one_nn", "tabicl") if ev in scored]
