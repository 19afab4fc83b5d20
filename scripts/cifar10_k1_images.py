"""One image per class on CIFAR-10 with images made for the in-context learner, beside the usual contexts.

Runs the sweep (``icl_support.contexts.sweep.run_sweep``) at k = 1 for the YAML's strategies, then the anchored
images once per weight in ``--anchors``: TabICL-aware images (``tabicl_pixels_anchored@<weight>``) and anchored
LGM (``pixel_lgm_anchored@<weight>``), every
context scored by TabICL, logistic regression, nearest class mean and 1-NN on the same PCA rows and test
images, and (for contexts that are images) by LGM's linear probe on augmented views of the images. Every anchor
weight run is reported; none is picked. Only the anchored twins of the YAML's strategies run
(``pixel_lgm`` -> ``pixel_lgm_anchored``, ``tabicl_pixels`` -> ``tabicl_pixels_anchored``). Every synthetic kind
runs ``distill_seeds`` independent distillations
(mean and std over them). Usage::

    python scripts/cifar10_k1_images.py results/cifar10-k1-images.yaml --anchors 1 3 10 \\
        --out results/cifar10-k1-images.json
    # the same one-per-class contexts at 64 px and at the backbone's native 224 px (one pool, one budget):
    python scripts/cifar10_k1_images.py results/cifar10-k1-side-224.yaml --anchors 1 \\
        --out results/cifar10-k1-side-224.json
"""

from __future__ import annotations

import time

import torch

from icl_support.book.params import script_run_with
from icl_support.contexts.strategies import BuildInputs, build
from icl_support.contexts.sweep import run_sweep
from icl_support.core.config import with_overrides
from icl_support.core.gitinfo import git_commit
from icl_support.core.jsonio import write_json
from icl_support.embedding.image_pool import prepare_images
from icl_support.evaluation.provenance import provenance
from icl_support.evaluation.scoring import EvalEnv, ProbeSetup, Scorer, stats

ANCHORED = {"tabicl_pixels": "tabicl_pixels_anchored", "pixel_lgm": "pixel_lgm_anchored"}  # plain -> anchored


def anchored_kinds(strategies) -> list[str]:
    """The anchored twins of the YAML's synthetic strategies (run once per ``--anchors`` weight)."""
    return [ANCHORED[name] for name in strategies if name in ANCHORED]


def probe_scores(run, data, name: str, pca) -> dict | None:
    """LGM's linear probe (``probe_epochs``, ``probe_augs`` views, ``probe_seeds`` seeds; the mean over seeds per
    context, then mean and std over contexts) for a strategy whose contexts are images; ``None`` for rows."""
    s = run.settings
    built = build(name.split("@")[0], BuildInputs(run, data, pca), 1)
    gen = torch.Generator().manual_seed(s.seed)
    env = EvalEnv(
        seed=s.seed, probe=ProbeSetup(data.features, data.crop, s.probe_augs, s.probe_epochs, s.probe_seeds, gen)
    )
    scorer = Scorer(("linear_probe",), data.Z_test, data.y_test, env)
    accs = []
    for i, ctx in enumerate(built.contexts):
        images = built.context_images(i, data.pool)
        if images is None:
            return None  # rows, not images: nothing for the probe to augment
        accs.append(scorer(ctx.X, ctx.y, images)["linear_probe"])
    return stats(accs, n_test=len(data.y_test))


def main() -> None:
    t0, commit = time.perf_counter(), git_commit()  # the code that runs, not the tree when the record is written
    run, out, args = script_run_with(
        __doc__, "results/cifar10-k1-images.json",
        anchors=dict(type=float, nargs="*", default=[], help="anchor weights of the anchored kinds, each run"),
    )  # fmt: skip
    anchors = args.anchors
    data = prepare_images(run.settings)
    sweep = run_sweep(run, data)
    results, skipped = dict(sweep["results"]), dict(sweep["skipped"])
    for weight in anchors:
        anchored = run.with_settings(with_overrides(
            run.settings, strategies=anchored_kinds(run.settings.strategies), tabicl_pixels_anchor=weight,
            lgm_anchor=weight,
        ))  # fmt: skip
        extra = run_sweep(anchored, data)
        for name, entry in extra["results"].items():
            results[f"{name}@{weight:g}"] = entry
            probe = probe_scores(anchored, data, name, sweep["scorer"].reduce.pca)
            if probe is not None:
                entry["1"]["linear_probe"] = probe
        skipped.update({f"{n}@{weight:g}": v for n, v in extra["skipped"].items()})
    for name in sweep["results"]:
        probe = probe_scores(run, data, name, sweep["scorer"].reduce.pca)
        if probe is not None:
            results[name]["1"]["linear_probe"] = probe
    s, weights = run.settings, run.weights
    write_json(
        out,
        {
            "results": results,
            "skipped": skipped,
            "notes": {
                "rows": f"one image (or row) per class; random over {s.selection_seeds} draws; every synthetic kind "
                f"over {s.distill_seeds} distillations (seeds {s.seed}..{s.seed + s.distill_seeds - 1})",
                "evaluators": "all read the same rows: PCA to pca_dim fitted on the whole real pool; linear_probe "
                f"(image contexts only): {s.probe_epochs} epochs, {s.probe_augs} views, {s.probe_seeds} seeds",
                "tabicl": weights.label,
                "tabicl_pixels": f"images from the centroid images, {s.tabicl_distill_steps} Adam steps through the "
                "backbone, the PCA and TabICL-mini (the evaluator's own weights) on real pool rows",
                "pixel_lgm_anchored": f"LGM ({s.distill_steps} steps, K = {s.distill_augs}) with the class-mean "
                "anchor on the images' centre-view embeddings",
                "anchors": f"<anchored strategy>@w: class-mean anchor of weight w, for every w in {anchors}; "
                "all are reported, none is selected",
            },
            "provenance": provenance(
                s, weights, wall_time_s=time.perf_counter() - t0, anchors=anchors, git_commit=commit
            ),
        },
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
