"""Chapters 3-4: the write-up's 1-image-per-class experiment on identical test images.

Four contexts at ``ipc`` per class (strategy registry names): ``random`` (``random_draws`` draws),
``centroid`` (the real image nearest each class mean), ``distilled`` (LGM images) and ``neighbors``
(the real image nearest each LGM image); four evaluators (evaluator registry): LGM's linear probe on
augmented views of the context's images, nearest class mean and 1-NN on the raw embeddings, and TabICL
on the rows reduced by PCA (``pca_dim``, fitted on the whole real pool). Images flow as float tensors
in [0, 1] at ``distill_res`` pixels; the backbone sees a ``lgm_image_size`` view. Usage::

    data = prepare_images(settings)                     # icl_support.embedding.image_pool
    lgm = distilled_images(settings, data)              # icl_support.contexts.lgm_images (cached)
    results = evaluate_strategies(run, data)            # run: icl_support.evaluation.run.Run
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..contexts.strategies import BuildInputs, build
from ..contexts.sweep import split_mode_fits
from ..embedding.image_pool import ImageData
from ..embedding.tables import fit_width_reducer
from ..evaluation.run import Run
from ..evaluation.scoring import EvalEnv, ProbeSetup, Scorer, stats
from ..evaluation.verdicts import ADEQUACY_BAR, adequacy

ONE_PER_CLASS_STRATEGIES = ("random", "centroid", "distilled", "neighbors")
# ``tabicl`` fits TabICL's preprocessing as ``settings.context_stats`` says; ``tabicl_pool`` always on the pool;
# ``tabicl_split``: the column stage reads the labelled pool beside the context ("columns from the pool": the pool's
# labels reach the model, so it is shown beside the plain mode, never instead of it)
ONE_PER_CLASS_EVALUATORS = ("linear_probe", "nearest_mean", "one_nn", "tabicl", "tabicl_pool", "tabicl_split")
TABICL_LABELS = {"tabicl": "", "tabicl_pool": ", pool stats", "tabicl_split": ", columns from the pool"}


def evaluate_strategies(run: Run, data: ImageData, progress: bool = True) -> dict:
    """``{strategy: {evaluator: {mean, std, n}, "per_context": {...}}}`` on the same test rows.

    ``random`` is over ``random_draws`` draws (linear probe: the mean of its seeds per draw); the
    single-context strategies report the linear probe's spread over ``probe_seeds`` seeds. TabICL
    reads rows reduced by PCA (``pca_dim``, fitted on the whole real pool) when ``pca_dim > 0``.
    """
    s = run.settings
    inputs = BuildInputs(run, data, progress=progress)
    probe = ProbeSetup(
        data.features, data.crop, s.probe_augs, s.probe_epochs, s.probe_seeds, torch.Generator().manual_seed(s.seed)
    )
    env = EvalEnv(seed=s.seed, tabicl=run.tabicl, probe=probe, context_stats=s.context_stats)
    reduce = fit_width_reducer(data.Z_pool, s.pca_dim, s.seed)
    evaluators = ONE_PER_CLASS_EVALUATORS
    if not split_mode_fits(run, len(np.unique(data.y_pool))):  # off, or more classes than the checkpoint reads
        evaluators = tuple(ev for ev in evaluators if ev != "tabicl_split")
    scorer = Scorer(
        evaluators,
        data.Z_test,
        data.y_test,
        env,
        reduce=reduce,
        raw=("nearest_mean", "one_nn"),
        pool=data.Z_pool,
        pool_labels=data.y_pool,
    )
    out: dict = {}
    for name in ONE_PER_CLASS_STRATEGIES:
        built = build(name, inputs, s.ipc, n_seeds=s.random_draws if name == "random" else None)
        per = {ev: [] for ev in evaluators}
        probe_seeds = []
        for i, ctx in enumerate(tqdm(built.contexts, desc=name, disable=not progress)):
            scores = scorer(ctx.X, ctx.y, built.context_images(i, data.pool))
            probe_seeds.extend(scores["linear_probe_seeds"])
            for ev in evaluators:
                per[ev].append(scores[ev])
        out[name] = {ev: stats(v, n_test=scorer.n_test(ev)) for ev, v in per.items()}
        if len(built.contexts) == 1:
            out[name]["linear_probe"] = stats(probe_seeds, n_test=scorer.n_test("linear_probe"))
        out[name]["per_context"] = per
    return out


# ---------------------------------------------------------------- chapter 3: the distilled images


def lgm_values(cfg) -> dict:
    """LGM's settings as the chapters glue them (``cfg``: a ``DistillConfig``)."""
    return {"steps": cfg.steps, "K": cfg.augs_per_step, "side": cfg.syn_res, "crop": cfg.crop_res,
            "noise_mean": cfg.noise_mean}  # fmt: skip


def real_vs_synthetic_figure(data: ImageData, lgm: dict, ipc: int, seed: int) -> plt.Figure:
    """One random real image (top) and the first LGM image (bottom) of every class."""
    from ..contexts.selection import random_per_class

    real_idx = random_per_class(data.y_pool, 1, seed=seed)
    n = len(data.classes)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.0), squeeze=False)
    for c in range(n):
        for row, image in enumerate((data.pool[real_idx[c]].numpy(), lgm["images"][c * ipc])):
            axes[row, c].imshow(np.clip(image.transpose(1, 2, 0), 0, 1), interpolation="nearest")
            axes[row, c].set_xticks([]), axes[row, c].set_yticks([])
        axes[0, c].set_title(data.classes[c], fontsize=8)
    axes[0, 0].set_ylabel("real"), axes[1, 0].set_ylabel("LGM")
    fig.tight_layout()
    return fig


def pyramid_figure(lgm: dict) -> plt.Figure:
    """The first synthetic image after each pyramid level is added."""
    snaps = lgm["snapshots"][:, 0]
    fig, axes = plt.subplots(1, len(snaps), figsize=(1.3 * len(snaps), 1.6), squeeze=False)
    for i, (ax, image) in enumerate(zip(axes[0], snaps, strict=True)):
        ax.imshow(np.clip(image.transpose(1, 2, 0), 0, 1))
        ax.set_title(f"{i + 1} level{'s' if i else ''}", fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig


def loss_figure(lgm: dict, cfg) -> plt.Figure:
    """LGM's loss per step with a running mean; dotted lines where pyramid levels were added."""
    losses = lgm["losses"]
    window = max(1, len(losses) // 50)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.plot(losses, alpha=0.25, lw=0.6, label="per step")
    ax.plot(np.arange(window - 1, len(losses)), smooth, label=f"running mean ({window} steps)")
    for g in range(cfg.grow_every, min(len(losses), cfg.grow_every * (cfg.n_levels - 1)) + 1, cfg.grow_every):
        ax.axvline(g, color="0.7", ls=":", lw=0.8)
    ax.set(xlabel="step", ylabel="1 - cos(g_real, g_syn)")
    ax.legend()
    return fig


def loss_numbers(lgm: dict) -> dict:
    """Mean loss over the first and last tenth of the steps, seconds per step and peak memory."""
    losses = lgm["losses"]
    tenth = max(1, len(losses) // 10)
    return {"loss_first": float(losses[:tenth].mean()), "loss_last": float(losses[-tenth:].mean()),
            "seconds_per_step": float(lgm["seconds_per_step"]), "peak_rss_mb": float(lgm["peak_rss_mb"])}  # fmt: skip


# ---------------------------------------------------------------- chapter 4: the four contexts under four evaluators


def scored_evaluators(results: dict) -> tuple[str, ...]:
    """The evaluators a chapter-4 run scored, in :data:`ONE_PER_CLASS_EVALUATORS` order (the split mode is absent
    when it was off or the classes exceed the checkpoint's)."""
    return tuple(ev for ev in ONE_PER_CLASS_EVALUATORS if ev in results["random"])


def summary_table(results: dict, weights) -> pd.DataFrame:
    """Strategies x evaluators as ``mean ± std (n=...)`` strings."""
    evaluators = scored_evaluators(results)
    rows = {name: {ev: f"{r[ev]['mean']:.3f} ± {r[ev]['std']:.3f} (n={r[ev]['n']})" for ev in evaluators}
            for name, r in results.items()}  # fmt: skip
    table = pd.DataFrame(rows).T
    if weights.is_random:
        return table.rename(columns={ev: f"{ev} (RANDOM WEIGHTS: chance)" for ev in TABICL_LABELS})
    return table


def histogram_figure(results: dict, weights) -> plt.Figure:
    """Per evaluator: the random draws' accuracies (histogram, mean in red) and each single context's line."""
    from ..evaluation.plots import stamp_weights

    evaluators = scored_evaluators(results)
    fig, axes = plt.subplots(1, len(evaluators), figsize=(3.3 * len(evaluators), 3), sharey=True)
    styles = {"centroid": ("tab:blue", "--"), "distilled": ("tab:green", "-"), "neighbors": ("tab:purple", ":")}
    for ax, ev in zip(axes, evaluators, strict=True):
        draws = results["random"]["per_context"][ev]
        ax.hist(draws, bins=12, color="0.75")
        ax.axvline(np.mean(draws), color="red", label="random mean")
        for name, (color, ls) in styles.items():
            ax.axvline(results[name][ev]["mean"], color=color, ls=ls, label=name)
        ax.set_title(weights.name + TABICL_LABELS[ev] if ev in TABICL_LABELS else ev, fontsize=9)
        ax.set_xlabel("test accuracy")
    axes[0].set_ylabel("random draws")
    axes[-1].legend(fontsize=7)
    stamp_weights(fig, weights)
    fig.tight_layout()
    return fig


def glued_numbers(results: dict) -> dict:
    """Every strategy x evaluator mean and std, the linear probe's ranking and the number of random draws."""
    nan = {"mean": float("nan"), "std": float("nan")}  # an evaluator the run did not score (the split mode off)
    values = {
        f"{name}_{ev}{suffix}": results[name].get(ev, nan)[key]
        for name in ONE_PER_CLASS_STRATEGIES
        for ev in ONE_PER_CLASS_EVALUATORS
        for suffix, key in (("", "mean"), ("_std", "std"))
    }
    probe = {name: results[name]["linear_probe"]["mean"] for name in ONE_PER_CLASS_STRATEGIES}
    values["probe_ranking"] = " > ".join(f"{n} ({probe[n]:.3f})" for n in sorted(probe, key=probe.get, reverse=True))
    values["n_random"] = results["random"]["linear_probe"]["n"]
    for name in ONE_PER_CLASS_STRATEGIES:  # learner adequacy: TabICL over 1-NN on the same context rows
        for ev in TABICL_LABELS:
            values[f"{name}_{ev}_adequacy"] = adequacy(
                results[name].get(ev, nan)["mean"], results[name]["one_nn"]["mean"]
            )
    values["adequacy_bar"] = ADEQUACY_BAR  # below it, a TabICL verdict is the learner's, not the contexts'
    return values
