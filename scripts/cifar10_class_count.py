"""Does the synthetic images' benefit grow with the number of classes? One image per class at 2, 5 and all classes.

The write-up predicts that more classes increase the benefit of synthetic context images. This run tests it in
one dataset: the same one-per-class contexts (random images over ``selection_seeds`` draws, the image nearest each
class centroid, the class means, pixel-LGM images and anchored LGM at weight ``lgm_anchor``) on subsets of the
YAML's classes (``--class-counts``: for each count, the first and the last classes in the dataset's order, two
disjoint subsets) and on all of them, with ``n_train`` / ``n_test`` scaled to keep the images per class of the
YAML. Every context is scored by TabICL, logistic regression, nearest class mean and 1-NN on PCA rows (fitted
on each subset's pool). The benefit of a synthetic kind is its accuracy minus the best real-image context's
(random or centroid) under the same evaluator. Needs a class-folder ``data_root``. Usage::

    python scripts/cifar10_class_count.py results/cifar10-class-count.yaml --class-counts 2 5 \\
        --out results/cifar10-class-count.json
"""

from __future__ import annotations

import time

from icl_support.book.params import script_run_with
from icl_support.contexts.sweep import run_sweep
from icl_support.core.config import with_overrides
from icl_support.core.jsonio import write_json
from icl_support.data.datasets import class_subset_root, load_dataset
from icl_support.embedding.image_pool import prepare_images
from icl_support.evaluation.provenance import provenance

STRATEGIES = [
    "random",
    "nearest_centroid",
    "class_mean",
    "pixel_lgm",
    "pixel_lgm_anchored",
]  # unless the YAML names some


def subsets(classes: tuple[str, ...], counts: list[int]) -> dict[str, tuple[str, ...]]:
    """``{label: classes}``: for each count below the number of classes, the first and the last ``count``
    classes (disjoint when ``2 * count <= len(classes)``), and ``all``."""
    out = {}
    for n in sorted(set(counts)):
        if not 2 <= n < len(classes):
            raise ValueError(f"--class-counts must lie in 2..{len(classes) - 1} for {len(classes)} classes, got {n}")
        out[f"{n}-first"], out[f"{n}-last"] = classes[:n], classes[-n:]
    out["all"] = classes
    return out


def main() -> None:
    t0 = time.perf_counter()
    run, out, args = script_run_with(
        __doc__, "results/cifar10-class-count.json",
        class_counts=dict(type=int, nargs="+", default=[2, 5], help="class counts below the dataset's, each run"),
    )  # fmt: skip
    counts = args.class_counts
    s = run.settings
    if not s.data_root:
        raise ValueError("this run needs a class-folder data_root (train/<class>/*, test/<class>/*)")
    classes = load_dataset(s.dataset, "train", s.data_root, s.cache_path).classes
    per_class_train, per_class_test = s.n_train // len(classes), s.n_test // len(classes)
    results = {}
    for label, subset in subsets(classes, counts).items():
        root = s.data_root
        if len(subset) < len(classes):
            root = str(class_subset_root(s.data_root, subset, s.cache_path / "class-subsets" / "-".join(subset)))
        settings = with_overrides(
            s, data_root=root, n_train=per_class_train * len(subset), n_test=per_class_test * len(subset),
            strategies=list(s.strategies) or STRATEGIES, ks=[1], lgm_ipcs=[1],
        )  # fmt: skip
        sub_run = run.with_settings(settings)
        sweep = run_sweep(sub_run, prepare_images(settings))
        results[label] = {"classes": list(subset), "results": sweep["results"], "skipped": sweep["skipped"]}
        print(label, {n: round(v["1"]["nearest_mean"]["mean"], 3) for n, v in sweep["results"].items()})
    write_json(
        out,
        {
            "results": results,
            "notes": {
                "subsets": "for each class count, the first and the last classes in the dataset's order; 'all' = "
                "every class. Images per class as in the YAML",
                "rows": f"one image (or row) per class; random over {s.selection_seeds} draws; every synthetic kind "
                f"({', '.join(n for n in (list(s.strategies) or STRATEGIES) if 'lgm' in n)}; anchor weight "
                f"{s.lgm_anchor:g}) over {s.distill_seeds} independent distillations ({s.distill_steps} steps, "
                f"K = {s.distill_augs})",
                "evaluators": "PCA to pca_dim fitted on each subset's pool; TabICL: " + run.weights.label,
            },
            "provenance": provenance(s, run.weights, wall_time_s=time.perf_counter() - t0, class_counts=counts),
        },
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
