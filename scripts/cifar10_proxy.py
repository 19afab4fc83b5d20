"""CIFAR-10 proxy of the write-up's 1-image-per-class experiment, runnable on a CPU.

Builds 1-per-class contexts four ways (random draws, the real image nearest each class centroid,
LGM-distilled images, and the real neighbour of each distilled image) and scores each with four
evaluators on the same test images: LGM's linear probe, nearest class mean, 1-NN and TabICL.
All logic lives in ``icl_support.chapters.one_per_class``; settings come from a profile plus a YAML file of
parameters (validated like the notebooks'). Usage::

    python scripts/cifar10_proxy.py results/cifar10-proxy.yaml --out results/cifar10-proxy.json
"""

from __future__ import annotations

import time

import numpy as np

from icl_support.book.params import script_run
from icl_support.chapters.one_per_class import evaluate_strategies
from icl_support.contexts.configs import pixel_lgm_config
from icl_support.contexts.lgm_images import distilled_images
from icl_support.core.jsonio import write_json
from icl_support.embedding.image_pool import prepare_images
from icl_support.evaluation.provenance import provenance


def main() -> None:
    t0 = time.perf_counter()
    run, out = script_run(__doc__, "results/cifar10-proxy.json")
    settings, weights = run.settings, run.weights
    data = prepare_images(settings)
    lgm = distilled_images(settings, data)
    results = evaluate_strategies(run, data)
    cfg = pixel_lgm_config(settings)
    random_note = (
        f"mean/std over {settings.random_draws} draws; linear probe: mean of {settings.probe_seeds} seeds per draw"
    )
    write_json(
        out,
        {
            "results": results,
            "notes": {
                "random": random_note,
                "centroid/distilled/neighbors": f"one context each; probe mean/std over {settings.probe_seeds} seeds",
                "tabicl": weights.label
                + (": TabICL accuracies here are CHANCE and mean nothing" if weights.is_random else ""),
            },
            "proxy_setting": {
                "images_px": cfg.syn_res,
                "backbone_sees_px": cfg.crop_res,
                "distill_steps": cfg.steps,
                "augs_per_step_K": cfg.augs_per_step,
                "grow_every": cfg.grow_every,
                "lr": cfg.lr,
                "noise_mean": cfg.noise_mean,
                "real_pool": int(len(data.y_pool)),
                "test_images": int(len(data.y_test)),
                "seconds_per_step": float(lgm["seconds_per_step"]),
                "peak_rss_mb": float(lgm["peak_rss_mb"]),
                "loss_first50_mean": float(np.mean(lgm["losses"][:50])),
                "loss_last50_mean": float(np.mean(lgm["losses"][-50:])),
            },
            "provenance": provenance(settings, weights, wall_time_s=time.perf_counter() - t0),
        },
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
