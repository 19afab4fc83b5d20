"""Why LGM images make poor context rows: where their embeddings fall relative to their class, on CIFAR-10.

For one context per strategy at one image per class (random draws over ``selection_seeds``, the real image
nearest each centroid, the class means, pixel-LGM images), records the geometry of the context rows
(``icl_support.evaluation.geometry``: distance to the own class mean and to the nearest real row in units of
a typical real row's distance, norm ratio, whether the own class mean is the nearest) in three spaces: the raw
embeddings, the PCA rows every evaluator reads, and those PCA rows standardised with the context's own
statistics (what TabICL's preprocessing does); the nearest class mean's test accuracy in each space; and, for
the image contexts, the accuracy when each image is represented by the mean embedding of augmented views
(flip + random resized crop, as LGM optimised them) instead of its centre view. Usage::

    python scripts/cifar10_lgm_rows.py results/cifar10-lgm-rows.yaml --out results/cifar10-lgm-rows.json
"""

from __future__ import annotations

import time

import numpy as np
import torch

from icl_support.book.params import script_run
from icl_support.contexts.strategies import BuildInputs, build
from icl_support.core.jsonio import write_json
from icl_support.embedding.image_pool import prepare_images
from icl_support.embedding.tables import fit_width_reducer
from icl_support.evaluation.geometry import row_geometry, standardise_by_context, summarise_geometry
from icl_support.evaluation.peers import make_peer
from icl_support.evaluation.probe import augmented_bank
from icl_support.evaluation.provenance import provenance

STRATEGIES = ("random", "centroid", "class_mean", "distilled")


def ncm(X, y, Xt, yt) -> float:
    return float(make_peer("nearest_mean").fit(X, y).score(Xt, yt))


def spaces(ctx, data, reduce) -> dict[str, tuple]:
    """``{space: (context rows, pool rows, test rows)}``."""
    Xr, Zr, Tr = reduce(ctx.X), reduce(data.Z_pool), reduce(data.Z_test)
    Xs, Zs, Ts = standardise_by_context(Xr, Zr, Tr)
    return {"raw": (ctx.X, data.Z_pool, data.Z_test), "pca": (Xr, Zr, Tr), "pca_standardised": (Xs, Zs, Ts)}


def view_accuracy(images: torch.Tensor, y, data, n_views: int, seed: int) -> dict[str, float]:
    """Nearest-mean accuracy with each image as its centre view against the mean of ``n_views`` augmented views."""
    gen = torch.Generator().manual_seed(seed)
    bank = augmented_bank(images, data.features, n_views, gen, crop=data.crop).cpu().numpy()  # (N, A, F)
    from icl_support.embedding.frozen import embed_tensors

    centre = embed_tensors(data.features, images, data.crop)
    return {
        "centre_view": ncm(centre, y, data.Z_test, data.y_test),
        "mean_of_augmented_views": ncm(bank.mean(1), y, data.Z_test, data.y_test),
    }


def main() -> None:
    t0 = time.perf_counter()
    run, out = script_run(__doc__, "results/cifar10-lgm-rows.json")
    s = run.settings
    data = prepare_images(s)
    reduce = fit_width_reducer(data.Z_pool, s.pca_dim, s.seed)
    inputs = BuildInputs(run, data)
    results = {}
    for name in STRATEGIES:
        built = build(name, inputs, 1)
        per_ctx = []
        for i, ctx in enumerate(built.contexts):
            entry = {}
            for space, (X, Z, T) in spaces(ctx, data, reduce).items():
                entry[space] = {**summarise_geometry(row_geometry(X, ctx.y, Z, data.y_pool)),
                                "nearest_mean_accuracy": ncm(X, ctx.y, T, data.y_test)}  # fmt: skip
            images = built.context_images(i, data.pool)
            if images is not None:
                entry["views"] = view_accuracy(images, ctx.y, data, s.probe_augs, s.seed)
            per_ctx.append(entry)
        results[name] = {"contexts": len(per_ctx), "mean": _mean(per_ctx), "per_context": per_ctx}
        print(name, {sp: v for sp, v in results[name]["mean"].items() if sp == "views"})
    write_json(
        out,
        {
            "results": results,
            "notes": {
                "units": "to_own_mean and nearest_real: in units of the class's median real-row distance to its mean",
                "spaces": "raw embeddings; PCA rows (pca_dim, fitted on the pool); PCA rows z-scored with the "
                "context's own mean and std (TabICL's preprocessing)",
                "views": f"{s.probe_augs} augmented views (flip + random resized crop) per image, seed {s.seed}",
            },
            "provenance": provenance(s, run.weights, wall_time_s=time.perf_counter() - t0),
        },
    )
    print(f"wrote {out}")


def _mean(per_ctx: list[dict]) -> dict:
    """Mean over contexts of every number, keeping the nesting."""
    first = per_ctx[0]
    return {k: _mean([p[k] for p in per_ctx]) if isinstance(v, dict) else float(np.mean([p[k] for p in per_ctx]))
            for k, v in first.items()}  # fmt: skip


if __name__ == "__main__":
    main()
