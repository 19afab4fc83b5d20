"""How many pool rows the split mode's column stage needs: accuracy and seconds against the pool cap, side by side.

``column_context="pool"`` (:mod:`icl_support.model.stage_split`) feeds a stratified subsample of at most
``pool_cap`` labelled pool rows to TabICL's column stage beside the context. This measures, on the rows of
``benchmarks/context_classifier.py`` (CIFAR-10 at 64 px, PCA-64, a 10,000-row pool, 500 test rows), the accuracy
of one random row per class (``seeds`` draws) and of the class means, and the fit + predict seconds, at each cap,
beside the plain mode (cap 0) in the same run. Usage::

    .venv/bin/python -m benchmarks.split_cap --data-root /work/cache/data --threads 1 --out results/bench-split-cap.json
    .venv/bin/python -m benchmarks.split_cap --quick --out /tmp/cap.json     # digits, seconds
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from benchmarks._common import base_parser, provenance, report, set_threads, timed, write_result
from benchmarks.context_classifier import QUICK as CC_QUICK
from benchmarks.context_classifier import ContextBenchConfig, add_row_arguments, load_rows, weights_entry


@dataclass(frozen=True)
class CapBenchConfig:
    rows: ContextBenchConfig = ContextBenchConfig()
    caps: tuple[int, ...] = (0, 128, 256, 512, 1024, 2048, 4096)  # 0: the plain mode (no pool in the column stage)
    seeds: int = 3


QUICK = CapBenchConfig(rows=CC_QUICK, caps=(0, 64, 256), seeds=2)


def _contexts(X, y, seeds: int) -> dict[str, list[np.ndarray]]:
    """Row indices of one random row per class for each seed, and the class means (as rows, not indices)."""
    classes = np.unique(y)
    random = [
        np.array([np.random.default_rng(s).choice(np.flatnonzero(y == c)) for c in classes]) for s in range(seeds)
    ]
    return {"random 1 per class": random, "class means": [None]}


def run(cfg: CapBenchConfig, quick: bool = False) -> dict:
    from icl_support.model.split_classifier import SplitTabICL
    from icl_support.model.weights import resolve_weights

    started = time.perf_counter()
    X, y, X_eval, y_eval, _ = load_rows(cfg.rows)
    weights = resolve_weights(cfg.rows.checkpoint, cfg.rows.cache_dir or ".")
    classes = np.unique(y)
    means = np.stack([X[y == c].mean(0) for c in classes])
    rows = []
    for context, picks in _contexts(X, y, cfg.seeds).items():
        for cap in cfg.caps:
            accs, secs = [], []
            for idx in picks:
                X_ctx, y_ctx = (means, classes) if idx is None else (X[idx], y[idx])
                clf = SplitTabICL(weights, pool_cap=max(cap, 1))
                pool = {} if cap == 0 else {"X_pool": X, "y_pool": y}
                wall, _, pred = timed(lambda c=clf, p=pool, Xc=X_ctx, yc=y_ctx: c.fit(Xc, yc, **p).predict(X_eval))
                accs.append(float((pred == y_eval).mean()))
                secs.append(wall)
            rows.append({"context": context, "cap": cap, "accuracy": float(np.mean(accs)), "accuracies": accs,
                         "seconds": float(np.mean(secs))})  # fmt: skip
    plain = {r["context"]: r for r in rows if r["cap"] == 0}
    lines = [f"{cfg.rows.dataset}: {len(y)} pool rows, {len(y_eval)} test rows; TabICL = {weights.label}"] + [
        f"{r['context']:<20} cap {r['cap']:>5}  accuracy {r['accuracy']:.3f}  seconds {r['seconds']:6.2f}  RATIO "
        f"seconds vs plain {r['seconds'] / plain[r['context']]['seconds']:.2f}x"
        for r in rows
    ]
    report(lines)
    return {
        "benchmark": "split_cap",
        "weights": weights_entry(weights),
        "rows": rows,
        "lines": lines,
        "provenance": provenance(cfg, started, quick=quick),
        "settings": asdict(cfg),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = base_parser("split-cap", __doc__.split("\n\n")[0])
    add_row_arguments(ap)
    args = ap.parse_args(argv)
    set_threads(args)
    base = QUICK if args.quick else CapBenchConfig()
    cfg = replace(base, rows=replace(base.rows, data_root=args.data_root, cache_dir=args.cache_dir))
    result = run(cfg, quick=args.quick)
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
