"""Full-context TabICL against ContextClassifier on CIFAR-10: accuracy and time, side by side in one run.

The rows are chapter 5's: CIFAR-10 pool and test images at 64 px through the offline EfficientNet-Lite0, reduced by
the PCA the book fits on the pool (``pca_dim``). Every classifier reads the same training rows (``n_train``) and is
scored on the same ``n_eval`` seeded test rows:

* TabICL with the whole training set as its context (what the compression saves against);
* ``ContextClassifier(TabICL, ContextSampler(strategy, per_class=k))`` for class_mean, kcenter and herding at several
  k, and retrieval contexts (each test row's k nearest rows of every class, batched through TabICL's torch path);
* the same compressed contexts with TabICL's column stage reading the labelled training set
  (``column_context="pool"``, :mod:`icl_support.model.stage_split`: "columns from the pool", not a ten-row
  bottleneck, since the training labels reach the model);
* logistic regression on the whole training set (the linear probe every chapter reports).

Seconds are wall seconds of fit + predict (the sampler's work included), measured back to back in one process;
``speedup`` is the full context's seconds over each row's. TabICL is the checkpoint given (default: the shipped
TabICL-mini, whose seconds are far below the released model's: chapter 2 times the released architecture).

Usage::

    .venv/bin/python -m benchmarks.context_classifier --data-root /work/cache/data --threads 1 \\
        --out results/bench-context-classifier.json
    .venv/bin/python -m benchmarks.context_classifier --quick --out /tmp/cc.json   # digits, seconds
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from benchmarks._common import base_parser, provenance, report, set_threads, timed, write_result


@dataclass(frozen=True)
class ContextBenchConfig:
    dataset: str = "cifar10"
    data_root: str = ""  # CIFAR-10 as JPEG class folders (../shared/data/cifar10-jpg.tar.gz extracted)
    cache_dir: str = ""
    n_train: int = 10_000
    n_test: int = 2_000
    n_eval: int = 500  # seeded test rows every classifier predicts
    distill_res: int = 64
    pca_dim: int = 64
    checkpoint: str = "mini"
    context_stats: tuple[str, ...] = ("context", "pool")
    split: bool = True  # also each compressed context with column_context="pool"
    global_runs: tuple[tuple[str, tuple[int, ...]], ...] = (
        ("class_mean", (1, 5, 20)),
        ("kcenter", (1, 5, 20, 50)),
        ("herding", (1, 5, 20, 50)),
    )
    retrieval_ks: tuple[int, ...] = (1, 3, 10)
    seed: int = 0


QUICK = ContextBenchConfig(
    dataset="digits",
    n_train=600,
    n_test=200,
    n_eval=100,
    distill_res=32,
    pca_dim=16,
    global_runs=(("class_mean", (1,)), ("kcenter", (2,))),
    retrieval_ks=(2,),
)


def load_rows(cfg: ContextBenchConfig):
    """``(X_pool, y_pool, X_eval, y_eval, classes)``: chapter 5's PCA rows of the pool and the evaluated test rows."""
    from icl_support.core.config import resolve_settings
    from icl_support.embedding.image_pool import prepare_images
    from icl_support.embedding.tables import fit_width_reducer

    overrides = {k: v for k, v in {"data_root": cfg.data_root, "cache_dir": cfg.cache_dir}.items() if v}
    settings = resolve_settings(
        "demo", "", dataset=cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, distill_res=cfg.distill_res,
        pca_dim=cfg.pca_dim, seed=cfg.seed, **overrides,
    )  # fmt: skip
    data = prepare_images(settings)
    reduce = fit_width_reducer(data.Z_pool, cfg.pca_dim, cfg.seed)
    rows = np.sort(np.random.default_rng(cfg.seed).permutation(len(data.y_test))[: cfg.n_eval])
    return reduce(data.Z_pool), np.asarray(data.y_pool), reduce(data.Z_test[rows]), data.y_test[rows], data.classes


def weights_entry(weights) -> dict:
    """How a benchmark record names the TabICL weights it measured."""
    return {"kind": weights.kind, "variant": getattr(weights, "variant", ""), "label": weights.label}


def add_row_arguments(ap) -> None:
    """The command-line options that say where :func:`load_rows` finds the images and the embedding cache."""
    ap.add_argument("--data-root", default="", help="CIFAR-10 as JPEG class folders (train/, test/)")
    ap.add_argument("--cache-dir", default="", help="embedding cache (default: $ICL_SYNTH_CACHE or ~/.cache/icl-synth)")


def run(cfg: ContextBenchConfig, quick: bool = False) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from icl_support import ContextClassifier, ContextSampler
    from icl_support.model.weights import make_tabicl, resolve_weights

    started = time.perf_counter()
    X, y, X_eval, y_eval, classes = load_rows(cfg)
    weights = resolve_weights(cfg.checkpoint, cfg.cache_dir or ".")
    tabicl = make_tabicl(weights, n_estimators=1, device="cpu", seed=cfg.seed)

    def score(clf) -> dict:
        wall, cpu, pred = timed(lambda: clf.fit(X, y).predict(X_eval))
        return {"accuracy": float((pred == y_eval).mean()), "seconds": wall, "cpu_seconds": cpu}

    full = ContextClassifier(tabicl, ContextSampler("full", per_class=1))
    rows = [{"method": f"{weights.name}, whole training set", "strategy": "full", "k": None, "rows": len(y),
             "context_stats": "context", "column_context": "context", **score(full)}]  # fmt: skip
    for strategy, ks in cfg.global_runs:
        for k in ks:
            sampler = ContextSampler(strategy, per_class=k, random_state=cfg.seed)
            modes = [(stats, "context") for stats in cfg.context_stats] + [("pool", "pool")] * cfg.split
            for stats, columns in modes:
                clf = ContextClassifier(tabicl, sampler, stats, column_context=columns)
                method = f"{strategy}, {k} per class" + (", columns from the pool" if columns == "pool" else "")
                rows.append({"method": method, "strategy": strategy, "k": k, "rows": k * len(classes),
                             "context_stats": stats, "column_context": columns, **score(clf)})  # fmt: skip
    for k in cfg.retrieval_ks:
        for stats in cfg.context_stats:
            clf = ContextClassifier(tabicl, ContextSampler("retrieval", per_class=k), stats)
            rows.append({"method": f"retrieval, {k} nearest per class", "strategy": "retrieval", "k": k,
                         "rows": k * len(classes), "context_stats": stats, "column_context": "context",
                         **score(clf)})  # fmt: skip
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    rows.append({"method": "logistic regression, whole training set", "strategy": "logreg", "k": None,
                 "rows": len(y), "context_stats": "", "column_context": "", **score(probe)})  # fmt: skip
    full_s = rows[0]["seconds"]
    for r in rows:
        r["speedup"] = full_s / r["seconds"] if r["seconds"] > 0 else float("nan")
    lines = [
        f"{cfg.dataset}: {len(y)} training rows ({cfg.pca_dim}-d PCA of Lite0 at {cfg.distill_res} px), {len(y_eval)} "
        f"test rows; TabICL = {weights.label}",
        *(
            f"{r['method']:<58} stats {r['context_stats'] or '-':<8} rows {r['rows']:>6}  accuracy {r['accuracy']:.3f}"
            f"  seconds {r['seconds']:7.2f}  RATIO speedup vs full context {r['speedup']:.3g}x"
            for r in rows
        ),
    ]
    report(lines)
    return {
        "benchmark": "context_classifier",
        "weights": weights_entry(weights),
        "n_train": int(len(y)),
        "n_eval": int(len(y_eval)),
        "classes": list(classes),
        "rows": rows,
        "lines": lines,
        "provenance": provenance(cfg, started, quick=quick),
        "settings": asdict(cfg),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = base_parser("context-classifier", __doc__.split("\n\n")[0])
    add_row_arguments(ap)
    ap.add_argument("--checkpoint", default="mini", help="TabICL weights: mini (default), mini-w64, a path, released")
    args = ap.parse_args(argv)
    set_threads(args)
    base = QUICK if args.quick else ContextBenchConfig()
    cfg = replace(base, data_root=args.data_root, cache_dir=args.cache_dir, checkpoint=args.checkpoint)
    result = run(cfg, quick=args.quick)
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
