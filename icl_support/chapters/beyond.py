"""Chapter 6 beyond the write-up: more classes, a 2-D view of the decision regions, TabICL's attention over
the context rows and rows distilled through TabICL itself (distribution shift: :mod:`.shift`).

Usage::

    many = many_class_settings(settings, "shapes20", "", [1, 5])
    fig, agreement = projection_figure(data, contexts)
    fig, shares = attention_figure(run, data, contexts, reduce)
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..core.config import Settings, with_overrides
from ..embedding.image_pool import ImageData
from ..evaluation.attention import icl_attention, mean_attention
from ..evaluation.peers import make_peer
from ..evaluation.plots import stamp_weights
from ..evaluation.projection import decision_plane, plot_projection
from ..evaluation.run import Run
from ..model.weights import make_tabicl

MANY_STRATEGIES = ("random", "class_mean", "nearest_centroid", "herding", "row_lgm", "full")


def many_class_settings(settings: Settings, dataset: str, data_root: str, ks: list[int]) -> Settings:
    """Settings of the many-class run: ``dataset`` (empty: cifar100 in ``paper``, shapes20 otherwise) at ``ks``
    per class without pixel LGM; the smoke profile runs a minimal version (first k, three strategies, 200/100)."""
    smoke = settings.profile == "smoke"
    dataset = dataset or ("cifar100" if settings.profile == "paper" else "shapes20")
    return with_overrides(
        settings, dataset=dataset, data_root=data_root, ks=[ks[0]] if smoke else list(ks),
        strategies=["random", "class_mean", "full"] if smoke else list(MANY_STRATEGIES),
        lgm_ipcs=[], n_train=200 if smoke else 0, n_test=100 if smoke else 0,
    )  # fmt: skip


def many_class_numbers(results: dict, settings: Settings, data: ImageData) -> dict:
    """The numbers the many-class section glues."""
    k0 = str(settings.ks[0])
    return {"many_dataset": settings.dataset, "many_classes": len(data.classes), "many_pool": len(data.y_pool),
            "many_full_nearest_mean": results["full"]["all"]["nearest_mean"]["mean"],
            "many_classmean_k1_nearest_mean": results["class_mean"][k0]["nearest_mean"]["mean"],
            "many_random_k1_nearest_mean": results["random"][k0]["nearest_mean"]["mean"],
            "many_full_tabicl_s": results["full"]["all"]["tabicl_seconds"]["mean"],
            "many_k1_tabicl_s": results["random"][k0]["tabicl_seconds"]["mean"]}  # fmt: skip


def projection_figure(data: ImageData, contexts: dict) -> tuple[plt.Figure, dict]:
    """Nearest-class-mean decision regions on the pool's top-2 PCA plane, one panel per context; and
    ``{"agreement_<name>": share of test rows whose 2-D region matches the full-space prediction}``."""
    n_rows = (len(contexts) + 1) // 2
    fig, axes = plt.subplots(n_rows, 2, figsize=(13, 5.5 * n_rows), squeeze=False)
    agree = {}
    for ax, (name, ctxs) in zip(axes.flat, contexts.items(), strict=False):
        proj = decision_plane(
            data.Z_pool, ctxs[0].X, ctxs[0].y, data.Z_test, make_peer("nearest_mean"), y_test=data.y_test
        )
        plot_projection(proj, data.classes, title=name, ax=ax)
        agree[f"agreement_{name}"] = proj.agreement
    fig.tight_layout()
    return fig, agree


def attention_figure(run: Run, data: ImageData, contexts: dict, reduce) -> tuple[plt.Figure, dict]:
    """TabICL's mean attention (test rows sorted by class x context rows) for the centroid and distilled
    contexts, and each one's own-class share (``attn_own_<name>``; uniform share ``attn_uniform_share``)."""
    order = np.argsort(data.y_test, kind="stable")
    chosen = {n: contexts[n][0] for n in ("centroid", "distilled") if n in contexts}
    fig, axes = plt.subplots(1, len(chosen), figsize=(5 * len(chosen), 4.2), squeeze=False)
    shares = {}
    for ax, (name, ctx) in zip(axes[0], chosen.items(), strict=True):
        clf = make_tabicl(run.weights, 1, "cpu", run.settings.seed).fit(reduce(ctx.X), ctx.y)
        A = mean_attention(icl_attention(clf, reduce(data.Z_test[order])))  # (M, N)
        own = ctx.y[None, :] == data.y_test[order][:, None]
        shares[f"attn_own_{name}"] = float((A * own).sum(1).mean())
        im = ax.imshow(A, aspect="auto", cmap="viridis", interpolation="nearest")
        ax.set_xticks(range(len(ctx.y)), [data.classes[c] for c in ctx.y], fontsize=6, rotation=90)
        ax.set_ylabel("test rows (sorted by class)")
        ax.set_title(f"{name}: own-class share {shares[f'attn_own_{name}']:.2f}", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    stamp_weights(fig, run.weights)
    fig.tight_layout()
    shares["attn_uniform_share"] = 1 / len(data.classes)
    return fig, shares


def tabicl_aware_rows(run: Run, data: ImageData, reduce):
    """Rows distilled through TabICL on the PCA rows (one per class, ``tabicl_distill_steps``), with the global
    RNG left as it was. Returns the :class:`~icl_support.contexts.tabicl_lgm` result."""
    from ..contexts.configs import tabicl_lgm_config
    from ..contexts.tabicl_lgm import distill_tabicl
    from ..model.torch_path import TorchTabICL

    with torch.random.fork_rng(devices=[]):
        net = TorchTabICL(run.weights, "cpu")
        cfg = tabicl_lgm_config(run.settings, 1)
        return distill_tabicl(net, reduce(data.Z_pool), data.y_pool, len(data.classes), cfg)


def tabicl_aware_figure(result, weights) -> tuple[plt.Figure, dict]:
    """The TabICL-aware loss curve and its glued numbers."""
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(result.losses, lw=0.8)
    ax.set(xlabel="step", ylabel="TabICL cross-entropy on real query rows")
    stamp_weights(fig, weights)
    fig.tight_layout()
    w = max(1, len(result.losses) // 10)
    values = {
        "tl_steps": len(result.losses),
        "tl_loss_first": float(np.mean(result.losses[:w])),
        "tl_loss_last": float(np.mean(result.losses[-w:])),
        "tl_seconds_per_step": result.seconds_per_step,
    }
    return fig, values


def tabicl_accuracy(run: Run, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> float:
    """TabICL (the run's weights and estimators, on the CPU) fitted on rows ``X`` and scored on ``X_test``."""
    clf = make_tabicl(run.weights, run.settings.n_estimators, "cpu", run.settings.seed).fit(X, y)
    return float((clf.predict(X_test) == y_test).mean())
