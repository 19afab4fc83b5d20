"""Distribution shift on CIFAR-10 (or any dataset): contexts from the clean pool, corrupted test images.

For random, centroid, class-mean and LGM-distilled contexts (``ipc`` per class) writes the accuracy of
each evaluator on the clean test images and under each corruption (Gaussian noise, Gaussian blur,
contrast, JPEG; CIFAR-10-C constants) at each severity, with provenance. Logic lives in
``icl_support.chapters.shift``. Usage::

    python scripts/cifar10_shift.py results/cifar10-shift.yaml --out results/cifar10-shift.json
"""

from __future__ import annotations

import time

from icl_support.book.params import script_run
from icl_support.chapters.shift import run_shift, shift_contexts
from icl_support.core.jsonio import write_json
from icl_support.embedding.image_pool import prepare_images
from icl_support.embedding.tables import fit_width_reducer
from icl_support.evaluation.provenance import provenance


def main() -> None:
    t0 = time.perf_counter()
    run, out = script_run(__doc__, "results/cifar10-shift.json")
    data = prepare_images(run.settings)
    s, weights = run.settings, run.weights
    reduce = fit_width_reducer(data.Z_pool, s.pca_dim, s.seed)
    shift = run_shift(run, data, shift_contexts(run, data, s.ipc), reduce)
    write_json(
        out,
        {
            **shift,
            "notes": {
                "contexts": f"{s.ipc} per class from the clean pool; random over {s.selection_seeds} draws",
                "distilled": f"pixel LGM at ipc {s.ipc}: {s.distill_steps} steps, K = {s.distill_augs}, "
                f"{s.distill_res} px, {s.distill_seeds} independent distillations",
                "evaluators": "logreg, nearest class mean, 1-NN on PCA rows fitted on the clean pool; "
                + ("TabICL too" if not weights.is_random else "TabICL not run (random weights)"),
                "corruptions": "test images only, CIFAR-10-C constants (icl_support.data.corruptions)",
            },
            "provenance": provenance(s, weights, wall_time_s=time.perf_counter() - t0),
        },
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
