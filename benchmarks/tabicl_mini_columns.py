"""How many PCA columns can TabICL-mini use? A diagnostic of its weakness on image-embedding rows.

On the demo profile's rows (sklearn digits embedded by the offline EfficientNet-Lite0, PCA to 64 fitted on the
train pool), keep the first ``w`` PCA columns for ``w`` in ``widths`` and score, on the same contexts and test
rows: TabICL-mini (every checkpoint named, ``n_estimators=1``), the nearest class mean on the raw PCA rows (what
chapter 1's peer reads), the nearest class mean and logistic regression on rows standardised with the
context's statistics (what TabICL's own preprocessing does to its input). Two context sizes: a stratified
``small_context``-row context (three seeds) and the whole pool. Prints the table and writes
``results/bench-tabicl-mini-columns.json``::

    python -m benchmarks.tabicl_mini_columns [--checkpoint NAME=PATH ...] [--quick]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from benchmarks._common import base_parser, provenance, report, set_threads, write_result
from icl_support.core.config import resolve_settings
from icl_support.embedding.tables import build_table
from icl_support.evaluation.heldout import tabicl_accuracy
from icl_support.evaluation.peers import make_peer
from icl_support.model.weights import MINI_CHECKPOINT


@dataclass(frozen=True)
class ColumnsConfig:
    profile: str = "demo"
    widths: tuple[int, ...] = (4, 8, 16, 32, 64)
    small_context: int = 12
    seeds: tuple[int, ...] = (0, 1, 2)
    cache_dir: str = ""


QUICK = ColumnsConfig(profile="smoke", widths=(4, 16), seeds=(0,))


def contexts(y_pool: np.ndarray, cfg: ColumnsConfig) -> dict[str, list[np.ndarray]]:
    """``{"<n> rows": [pool indices per seed], "whole pool": [all]}``."""
    small = [
        train_test_split(np.arange(len(y_pool)), train_size=cfg.small_context, stratify=y_pool, random_state=s)[0]
        for s in cfg.seeds
    ]
    return {f"{cfg.small_context} rows": small, "whole pool": [np.arange(len(y_pool))]}


def score_width(X, y, Xt, yt, checkpoints: dict[str, str], seed: int) -> dict[str, float]:
    sc = StandardScaler().fit(X)
    out = {name: tabicl_accuracy(path, X, y, Xt, yt, seed) for name, path in checkpoints.items()}
    out["nearest_mean (raw PCA rows)"] = float(make_peer("nearest_mean").fit(X, y).score(Xt, yt))
    out["nearest_mean (standardised)"] = float(
        make_peer("nearest_mean").fit(sc.transform(X), y).score(sc.transform(Xt), yt)
    )
    out["logreg (standardised)"] = float(make_peer("logreg", seed).fit(sc.transform(X), y).score(sc.transform(Xt), yt))
    return out


def run(cfg: ColumnsConfig, checkpoints: dict[str, str], quick: bool = False) -> dict:
    started = time.perf_counter()
    overrides = {"cache_dir": cfg.cache_dir} if cfg.cache_dir else {}
    table = build_table(resolve_settings(cfg.profile, **overrides), progress=False)
    rows, lines = [], []
    for label, idx_list in contexts(table.y_train, cfg).items():
        for w in cfg.widths:
            per_seed = [
                score_width(
                    table.X_train[idx, :w], table.y_train[idx], table.X_test[:, :w], table.y_test, checkpoints, s
                )
                for s, idx in zip(cfg.seeds, idx_list, strict=False)
            ]
            mean = {k: float(np.mean([p[k] for p in per_seed])) for k in per_seed[0]}
            rows.append(
                {"context": label, "width": w, "n_context": int(len(idx_list[0])), "seeds": len(per_seed), **mean}
            )
            lines.append(f"{label}, first {w} PCA columns: " + " | ".join(f"{k} {v:.3f}" for k, v in mean.items()))
    report(lines)
    return {
        "benchmark": "tabicl_mini_columns",
        "checkpoints": checkpoints,
        "settings": {
            "profile": cfg.profile,
            "widths": list(cfg.widths),
            "small_context": cfg.small_context,
            "seeds": list(cfg.seeds),
            "pool": int(len(table.y_train)),
            "test": int(len(table.y_test)),
        },  # fmt: skip
        "rows": rows,
        "lines": lines,
        "provenance": provenance(cfg, started, quick=quick),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = base_parser("tabicl-mini-columns", __doc__.split("\n\n")[0])
    ap.add_argument("--cache-dir", default="", help="embedding cache (default: $ICL_SYNTH_CACHE or ~/.cache/icl-synth)")
    ap.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH", help="more checkpoints to score")
    args = ap.parse_args(argv)
    set_threads(args)
    cfg = replace(QUICK if args.quick else ColumnsConfig(), cache_dir=args.cache_dir)
    checkpoints = {"TabICL-mini (shipped)": str(MINI_CHECKPOINT)}
    for item in args.checkpoint:
        name, _, path = item.partition("=")
        if not path or not Path(path).is_file():
            ap.error(f"--checkpoint wants NAME=PATH of an existing file, got {item!r}")
        checkpoints[name] = path
    result = run(cfg, checkpoints, quick=args.quick)
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
