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
* retrieval in the split mode: the column stage reads a stratified subsample of the labelled training set once, every
  training row's representation is cached at fit, and each test row's context is a gather of its neighbours'
  representations (:class:`icl_support.model.stage_split.PoolRepresentations`);
* the whole training set with TabICL's own ``kv_cache`` (``"kv"`` and ``"repr"``: fit caches, predict reads it);
* logistic regression on the whole training set (the linear probe every chapter reports).

Seconds are wall seconds, fit (the sampler's work included) and predict apart, measured back to back in one process;
``seconds`` is their sum; ``speedup`` is the full context's seconds over each row's and ``predict_speedup`` the same
ratio of predict seconds alone. The split mode's bar (issue 28) is printed as met or NOT met: some split-mode context
within 1 point of the whole-pool context (or above) at >= 10x less predict time, and split-mode retrieval faster than
the whole-pool context. TabICL is the checkpoint given (default: the shipped
TabICL-mini, whose seconds are far below the released model's: chapter 2 times the released architecture).

Usage::

    .venv/bin/python -m benchmarks.context_classifier --data-root /work/cache/data --threads 1 \\
        --out results/bench-context-classifier.json
    .venv/bin/python -m benchmarks.context_classifier --quick --out /tmp/cc.json   # digits, seconds
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from benchmarks._common import base_parser, provenance, report, set_threads, timed, write_result
from icl_support.core.cache import file_sha256
from icl_support.evaluation.statistics import paired_difference


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
    kv_caches: tuple[str, ...] = ("kv", "repr")  # the whole training set with TabICL's own caches
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
    kv_caches=("repr",),
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
    """How a benchmark record names the TabICL weights it measured: kind, variant, label and the checkpoint's sha256
    (what :func:`icl_support.evaluation.records.stale_page_records` compares with the shipped checkpoint's)."""
    entry = {"kind": weights.kind, "variant": getattr(weights, "variant", ""), "label": weights.label}
    if weights.path and Path(weights.path).is_file():
        entry["checkpoint_sha256"] = file_sha256(weights.path)
    return entry


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

    correct: list[np.ndarray] = []  # per scored row: which test rows it got right (for paired comparisons)

    def score(clf) -> dict:
        fit_wall, fit_cpu, _ = timed(lambda: clf.fit(X, y))
        wall, cpu, pred = timed(lambda: clf.predict(X_eval))
        correct.append(np.asarray(pred) == y_eval)
        return {"accuracy": float(correct[-1].mean()), "seconds": fit_wall + wall, "cpu_seconds": fit_cpu + cpu,
                "fit_seconds": fit_wall, "predict_seconds": wall}  # fmt: skip

    full = ContextClassifier(tabicl, ContextSampler("full", per_class=1))
    rows = [{"method": f"{weights.name}, whole training set", "strategy": "full", "k": None, "rows": len(y),
             "context_stats": "context", "column_context": "context", **score(full)}]  # fmt: skip
    for mode in cfg.kv_caches:
        cached = make_tabicl(weights, n_estimators=1, device="cpu", seed=cfg.seed, kv_cache=mode)
        rows.append({"method": f"{weights.name}, whole training set, kv_cache={mode!r}", "strategy": "full_kv_cache",
                     "k": None, "rows": len(y), "context_stats": "context", "column_context": "context",
                     **score(ContextClassifier(cached, ContextSampler("full", per_class=1)))})  # fmt: skip
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
        modes = [(stats, "context") for stats in cfg.context_stats] + [("pool", "pool")] * cfg.split
        for stats, columns in modes:
            clf = ContextClassifier(tabicl, ContextSampler("retrieval", per_class=k), stats, column_context=columns)
            method = f"retrieval, {k} nearest per class" + (", columns from the pool" if columns == "pool" else "")
            rows.append({"method": method, "strategy": "retrieval", "k": k, "rows": k * len(classes),
                         "context_stats": stats, "column_context": columns, **score(clf)})  # fmt: skip
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    rows.append({"method": "logistic regression, whole training set", "strategy": "logreg", "k": None,
                 "rows": len(y), "context_stats": "", "column_context": "", **score(probe)})  # fmt: skip
    full_s, full_predict = rows[0]["seconds"], rows[0]["predict_seconds"]
    for r in rows:
        r["speedup"] = full_s / r["seconds"] if r["seconds"] > 0 else float("nan")
        r["predict_speedup"] = full_predict / r["predict_seconds"] if r["predict_seconds"] > 0 else float("nan")
    for r, right in zip(rows, correct, strict=True):  # every row against the whole training set, same test rows
        gap = paired_difference(right, correct[0])
        r["gap_vs_whole"] = {"value": gap.value, "se": gap.se, "df": gap.df, "low": gap.low, "high": gap.high,
                             "disagreements": int((right != correct[0]).sum())}  # fmt: skip
    bar = split_bar(rows)
    lines = [
        f"{cfg.dataset}: {len(y)} training rows ({cfg.pca_dim}-d PCA of Lite0 at {cfg.distill_res} px), {len(y_eval)} "
        f"test rows; TabICL = {weights.label}",
        *(
            f"{r['method']:<62} stats {r['context_stats'] or '-':<8} rows {r['rows']:>6}  accuracy {r['accuracy']:.3f}"
            f"  fit {r['fit_seconds']:7.2f} s  predict {r['predict_seconds']:7.2f} s  RATIO speedup vs full context "
            f"{r['speedup']:.3g}x (predict {r['predict_speedup']:.3g}x)"
            for r in rows
        ),
        *bar["lines"],
    ]
    report(lines)
    return {
        "benchmark": "context_classifier",
        "weights": weights_entry(weights),
        "n_train": int(len(y)),
        "n_eval": int(len(y_eval)),
        "classes": list(classes),
        "rows": rows,
        "split_bar": {k: v for k, v in bar.items() if k != "lines"},
        "lines": lines,
        "provenance": provenance(cfg, started, quick=quick),
        "settings": asdict(cfg),
    }


def split_bar(rows: list[dict]) -> dict:
    """Issue 28's bar on the measured rows: ``{"within_1pt_10x": [methods], "retrieval_faster": [methods], "met",
    "lines"}``. A split-mode row qualifies for the first when its accuracy is at least the whole-pool context's minus
    0.01 and its predict seconds at most a tenth of the whole-pool context's; split-mode retrieval for the second when
    its fit + predict seconds are below the whole-pool context's."""
    full = rows[0]
    split = [r for r in rows if r["column_context"] == "pool"]
    close = [r["method"] for r in split if r["accuracy"] >= full["accuracy"] - 0.01 and r["predict_speedup"] >= 10]
    faster = [r["method"] for r in split if r["strategy"] == "retrieval" and r["seconds"] < full["seconds"]]
    met = bool(close) and bool(faster)
    lines = [
        f"split mode within 1 point of the whole-pool context ({full['accuracy']:.3f}) at >= 10x less predict time: "
        + (", ".join(close) or "none"),
        "split-mode retrieval faster (fit + predict) than the whole-pool context: " + (", ".join(faster) or "none"),
        f"split-mode bar {'met' if met else 'NOT met'}",
    ]
    return {"within_1pt_10x": close, "retrieval_faster": faster, "met": met, "lines": lines}


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
