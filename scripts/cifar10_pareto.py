"""Every context strategy at k rows per class on CIFAR-10 (or any dataset), runnable on a CPU.

Writes, per strategy, per k and per evaluator (TabICL, logistic regression, nearest class mean, 1-NN),
the test accuracy's ``mean``, ``std`` and ``n`` (over seeds for the seeded strategies), TabICL's fit +
predict ``seconds`` and the seconds it took to build the context (distillation included), plus
provenance. All logic lives in ``icl_support.contexts.sweep``; settings come from a profile plus a YAML file
of parameters (validated like the notebooks'). Usage::

    python scripts/cifar10_pareto.py results/cifar10-pareto.yaml --out results/cifar10-pareto.json
"""

from __future__ import annotations

import time

from icl_support.book.params import script_run
from icl_support.contexts.sweep import run_sweep
from icl_support.core.jsonio import write_json
from icl_support.embedding.image_pool import prepare_images
from icl_support.evaluation.provenance import provenance


def main() -> None:
    t0 = time.perf_counter()
    run, out = script_run(__doc__, "results/cifar10-pareto.json")
    data = prepare_images(run.settings)
    sweep = run_sweep(run, data)
    settings, weights = run.settings, run.weights
    write_json(
        out,
        {
            "results": sweep["results"],
            "skipped": sweep["skipped"],
            "notes": {
                "rows": "context rows = classes x k (full: the whole pool)",
                "evaluators": "all read the same rows: PCA to pca_dim fitted on the whole real pool",
                "seeds": "random, kmeans_medoids, row_lgm and class_mean (k > 1) over "
                f"{settings.selection_seeds} seeds",
                "tabicl": weights.label
                + (": TabICL accuracies here are CHANCE; seconds are real" if weights.is_random else ""),
                "tabicl_test_rows": sweep["tabicl_test_rows"],
                "pixel_lgm": f"ipc in {list(settings.lgm_ipcs)}, {settings.distill_steps} steps, "
                f"K = {settings.distill_augs}, {settings.distill_res} px; build_seconds = seconds/step x steps",
                "row_lgm": f"{settings.row_distill_steps} steps, lr {settings.row_distill_lr} x pool feature std",
            },
            "setting": {
                "classes": list(data.classes),
                "real_pool": int(len(data.y_pool)),
                "test_images": int(len(data.y_test)),
                "image_px": settings.distill_res,
                "backbone_sees_px": data.crop,
                "embedding_dim": int(data.Z_pool.shape[1]),
            },
            "provenance": provenance(settings, weights, wall_time_s=time.perf_counter() - t0),
        },
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
