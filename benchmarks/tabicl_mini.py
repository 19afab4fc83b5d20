"""TabICL-mini on held-out real tables and on the book's digits embeddings, beside the peers, and the bar.

1. sklearn's iris, wine, breast_cancer and digits (never seen in pretraining): stratified 70/30
   splits by seed, contexts of 10 / 50 / 200 / all pool rows (stratified subsamples), TabICL-mini
   with ``n_estimators=1`` and the peers (logistic regression, 5-NN, nearest class mean) on the
   same context and test rows, plus the majority-class rate (chance).
2. The demo profile's rows: sklearn digits embedded by the offline EfficientNet-Lite0, PCA as the
   book uses it, at every context fraction of chapter 1 (``icl_support.chapters.context_scaling``, the
   chapter's own code), TabICL-mini beside the same peers.
3. The bar of the pretraining issue, printed as met or NOT met: on the tables with the whole pool
   as context, TabICL-mini's mean accuracy >= nearest class mean's and >= 0.9 x logistic
   regression's; on the digits embeddings, TabICL-mini >= nearest class mean at every fraction.
4. Few-shot (:mod:`icl_support.evaluation.fewshot`): contexts of random 1, 2 and 5 rows per class and the
   class-mean rows, on sklearn digits pixels (PCA-32) and on the digits embeddings the book uses; TabICL-mini
   with both ``context_stats`` beside 1-NN and the nearest class mean on the same rows; the few-shot bar
   (the better ``context_stats``: >= 0.85 x 1-NN on random one-per-class contexts, >= 0.85 x the nearest mean
   on class-mean rows, >= the nearest mean at five per class), on both tables.

Usage::

    .venv/bin/python -m benchmarks.tabicl_mini                 # writes results/bench-tabicl-mini.json
    .venv/bin/python -m benchmarks.tabicl_mini --quick --out /tmp/mini.json
    .venv/bin/python -m benchmarks.tabicl_mini --checkpoint mini-w64 \\
        --out results/bench-tabicl-mini-w64.json                # the other shipped TabICL-mini, same bar
    .venv/bin/python -m benchmarks.tabicl_mini --checkpoint runs/tabicl-mini-w64-fs/tabicl-mini-w64-fs.ckpt \\
        --out results/bench-tabicl-mini-w64-fs.json             # a recipe that was tried
    .venv/bin/python -m benchmarks.tabicl_mini --fewshot-only --checkpoint mini \\
        --out results/bench-fewshot-mini.json                   # part 4 only (seconds)
    .venv/bin/python -m benchmarks.tabicl_mini --fewshot-curve /work/runs/mini-w64-fs2 \\
        --out results/fewshot-curve-mini-w64-fs2.json          # part 4 (pixels) of every snapshot of a run
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmarks._common import base_parser, provenance, ratio_line, report, set_threads, write_result
from icl_support.evaluation.fewshot import FEWSHOT_TABLES, fewshot_table, score_fewshot, summarise_fewshot
from icl_support.evaluation.heldout import TABLES, evaluate_checkpoint
from icl_support.evaluation.peers import standardised_nearest_mean
from icl_support.model.weights import resolve_weights

LOGREG_SHARE_GOAL = 0.9


@dataclass(frozen=True)
class MiniBenchConfig:
    tables: tuple[str, ...] = TABLES
    context_sizes: tuple[int, ...] = (10, 50, 200, 0)  # 0 = the whole 70% pool
    seeds: tuple[int, ...] = (0, 1, 2)
    embeddings_profile: str = "demo"  # "" skips part 2
    embeddings_seeds: int = 3
    cache_dir: str = ""
    checkpoint: str = ""  # "" = the shipped TabICL-mini; a shipped variant ("mini-w64"); or a pretraining export
    fewshot_tables: tuple[str, ...] = FEWSHOT_TABLES  # part 4; () skips it
    fewshot_seeds: tuple[int, ...] = (0, 1, 2)
    fewshot_only: bool = False  # parts 1-3 skipped


QUICK = MiniBenchConfig(
    tables=("iris", "wine"),
    context_sizes=(10, 0),
    seeds=(0,),
    embeddings_profile="",
    embeddings_seeds=1,
    fewshot_tables=("digits_pixels",),
    fewshot_seeds=(0,),
)


def fewshot_part(cfg: MiniBenchConfig, checkpoint: str) -> tuple[dict, list[str], dict]:
    """Part 4: ``({table: {"rows", "summary"}}, printed lines, {bar name: met})``."""
    out, lines, bar = {}, [], {}
    for table in cfg.fewshot_tables:
        pool = fewshot_table(table, seed=0, cache_dir=cfg.cache_dir)
        rows = score_fewshot(checkpoint, pool, seeds=cfg.fewshot_seeds)
        summary = summarise_fewshot(rows)
        out[table] = {"rows": rows, "summary": summary, "n_pool": len(pool.y_pool), "n_test": len(pool.y_test),
                      "width": int(pool.X_pool.shape[1])}  # fmt: skip
        for kind, v in summary.items():
            line = (
                f"few-shot {table}, {kind} ({v['seeds']} seeds): TabICL context stats {v['tabicl_context']:.3f}, "
                f"pool stats {v['tabicl_pool']:.3f} | 1-NN {v['one_nn']:.3f} | nearest mean {v['nearest_mean']:.3f}"
                f" | ratio to {v['peer']}: {v['ratio_context']:.3f} / {v['ratio_pool']:.3f}"
            )
            if "goal" in v:
                line += f" (goal >= {v['goal']:g}: {'met' if v['bar_met'] else 'NOT met'})"
                bar[f"fewshot_{table}_{kind}"] = v["bar_met"]
            lines.append(line)
    return out, lines, bar


def fewshot_curve(run_dir: str, cfg: MiniBenchConfig) -> dict:
    """Part 4 on digits pixels for every snapshot of a pretraining run: the few-shot ratios against CPU hours."""
    import torch

    from icl_support.pretraining.state import snapshot_checkpoints

    pool = fewshot_table("digits_pixels", seed=0)
    points = []
    for path in snapshot_checkpoints(run_dir):
        meta = torch.load(path, map_location="cpu", weights_only=True)
        summary = summarise_fewshot(score_fewshot(path, pool, seeds=cfg.fewshot_seeds))
        points.append({"step": int(meta["step"]), "cpu_hours": float(meta["cpu_s"]) / 3600, "summary": summary})
        ratios = ", ".join(f"{k} {max(v['ratio_context'], v['ratio_pool']):.3f}" for k, v in summary.items())
        print(f"step {meta['step']} ({float(meta['cpu_s']) / 3600:.2f} CPU h): best ratio {ratios}", flush=True)
    return {"run_dir": str(run_dir), "table": "digits_pixels", "points": points}


def table_summary(rows: list[dict]) -> dict:
    """``{requested size: {evaluator: mean over tables of the mean over seeds}}`` plus per-table means."""
    evaluators = ("tabicl", "logreg", "knn", "nearest_mean", "chance")
    out = {}
    for n in sorted({r["requested"] for r in rows}):
        per_table = {}
        for t in sorted({r["table"] for r in rows}):
            sel = [r for r in rows if r["requested"] == n and r["table"] == t]
            per_table[t] = {e: float(np.mean([r[e] for r in sel])) for e in evaluators}
        out[str(n)] = {
            "mean": {e: float(np.mean([v[e] for v in per_table.values()])) for e in evaluators},
            "by_table": per_table,
        }
    return out


def embeddings_part(cfg: MiniBenchConfig, weights, progress: bool) -> dict:
    """Chapter 1's accuracy-vs-fraction run on the profile's rows with TabICL-mini (peers on the same splits),
    plus the nearest class mean on context-standardised rows (:func:`standardised_nearest_mean`)."""
    from icl_support.chapters.context_scaling import run_context_scaling, summarise
    from icl_support.core.config import resolve_settings
    from icl_support.embedding.tables import build_table
    from icl_support.model.weights import make_tabicl

    overrides = {"cache_dir": cfg.cache_dir} if cfg.cache_dir else {}
    settings = resolve_settings(cfg.embeddings_profile, "", **overrides)
    table = build_table(settings, progress=progress)
    seeds = list(range(settings.seed, settings.seed + cfg.embeddings_seeds))
    runs = run_context_scaling(
        table,
        settings.fractions,
        seeds,
        tabicl=lambda seed: make_tabicl(weights, 1, "cpu", seed),
        tabicl_max_context=settings.tabicl_max_context,
        progress=progress,
    )
    summary = summarise(runs)
    standardised = standardised_nearest_mean(table, settings.fractions, seeds)
    by_fraction = {}
    for f, group in summary.groupby("fraction"):
        by_fraction[f"{f:g}"] = {
            "n_context": int(group.n_context.iloc[0]),
            **{r.evaluator: {"mean": float(r["mean"]), "std": float(r["std"])} for _, r in group.iterrows()},
            "nearest_mean_standardised": standardised[f"{f:g}"],
        }
    return {
        "settings": {k: getattr(settings, k) for k in ("profile", "dataset", "backbone", "pca_dim", "image_size")},
        "n_pool": int(len(table.y_train)),
        "n_test": int(len(table.y_test)),
        "width": int(table.X_train.shape[1]),
        "seeds": cfg.embeddings_seeds,
        "by_fraction": by_fraction,
    }


def _tables_lines(cfg: MiniBenchConfig, name: str, tables: dict) -> tuple[list[str], dict]:
    """The held-out tables' report lines and the bar's two table conditions (``{}`` without the whole pool)."""
    whole = tables["0"]["mean"] if "0" in tables else None
    lines, bar = [], {}
    if whole:
        bar["tables_vs_nearest_mean"] = whole["tabicl"] >= whole["nearest_mean"]
        bar["tables_vs_logreg"] = whole["tabicl"] >= LOGREG_SHARE_GOAL * whole["logreg"]
        lines += [
            f"tables (whole pool, mean over {', '.join(cfg.tables)}; seeds {list(cfg.seeds)}): {name} "
            f"{whole['tabicl']:.3f}, logreg {whole['logreg']:.3f}, 5-NN {whole['knn']:.3f}, nearest mean "
            f"{whole['nearest_mean']:.3f}, chance {whole['chance']:.3f}",
            ratio_line(f"{name} / nearest mean (tables, all rows)", whole["tabicl"] / whole["nearest_mean"], 1),
            ratio_line(f"{name} / logreg (tables, all rows)", whole["tabicl"] / whole["logreg"], LOGREG_SHARE_GOAL),
        ]
    for n, v in tables.items():
        m = v["mean"]
        lines.append(
            f"tables, context {n if n != '0' else 'all'}: {name} {m['tabicl']:.3f} | logreg {m['logreg']:.3f} "
            f"| 5-NN {m['knn']:.3f} | nearest mean {m['nearest_mean']:.3f} | chance {m['chance']:.3f}"
        )
    return lines, bar


def _embedding_lines(name: str, emb: dict) -> tuple[list[str], bool]:
    """The digits embeddings' report lines and the bar's condition (TabICL-mini >= the nearest class mean at every
    fraction)."""
    worst = min(v["tabicl"]["mean"] - v["nearest_mean"]["mean"] for v in emb["by_fraction"].values())
    lines = [
        f"digits embeddings ({emb['width']}-d), fraction {f} ({v['n_context']} rows): {name} "
        f"{v['tabicl']['mean']:.3f} | logreg {v['logreg']['mean']:.3f} | 5-NN {v['knn']['mean']:.3f} | "
        f"nearest mean {v['nearest_mean']['mean']:.3f} | nearest mean, context-standardised rows "
        f"{v['nearest_mean_standardised']['mean']:.3f}"
        for f, v in emb["by_fraction"].items()
    ]
    lines.append(f"digits embeddings: worst {name} minus nearest mean over fractions {worst:+.3f}")
    fractions = emb["by_fraction"].values()
    worst_std = min(v["tabicl"]["mean"] - v["nearest_mean_standardised"]["mean"] for v in fractions)
    lines.append(
        f"digits embeddings: worst {name} minus the nearest mean on context-standardised rows {worst_std:+.3f} "
        "(information only; the bar is against the raw rows)"
    )
    return lines, worst >= 0


def run(cfg: MiniBenchConfig, progress: bool = True, quick: bool = False) -> dict:
    started = time.perf_counter()
    weights = resolve_weights(cfg.checkpoint or "mini", cfg.cache_dir or ".")
    name = weights.name  # TabICL-mini, TabICL-mini-w64, TabICL (local)
    if cfg.fewshot_only:
        cfg = replace(cfg, tables=(), embeddings_profile="")
    rows = evaluate_checkpoint(weights.path, cfg.tables, cfg.context_sizes, cfg.seeds)
    tables = table_summary(rows)
    lines, bar = _tables_lines(cfg, name, tables)
    emb = embeddings_part(cfg, weights, progress) if cfg.embeddings_profile else None
    if emb:
        emb_lines, bar["embeddings_vs_nearest_mean_every_fraction"] = _embedding_lines(name, emb)
        lines += emb_lines
    fewshot, fewshot_lines, fewshot_bar = fewshot_part(cfg, weights.path) if cfg.fewshot_tables else ({}, [], {})
    lines += fewshot_lines
    bar.update(fewshot_bar)
    lines.append("BAR " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in bar.items()))
    report(lines)
    meta = json.loads(Path(weights.path).with_suffix(".json").read_text())
    return {
        "benchmark": "tabicl_mini",
        "weights": {
            "kind": weights.kind,
            "variant": weights.variant if weights.kind == "mini" else "",
            "label": weights.label,
            "steps": meta["steps"],
            "cpu_hours": meta["cpu_hours"],
            "checkpoint_sha256": meta["checkpoint_sha256"],
        },
        "tables": {"rows": rows, "summary": tables},
        "embeddings": emb,
        "fewshot": fewshot,
        "bar": bar,
        "lines": lines,
        "provenance": provenance(cfg, started, quick=quick, checkpoint=Path(weights.path).name),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = base_parser("tabicl-mini", __doc__.split("\n\n")[0])
    ap.add_argument("--cache-dir", default="", help="embedding cache (default: $ICL_SYNTH_CACHE or ~/.cache/icl-synth)")
    ap.add_argument(
        "--checkpoint", default="", help="a shipped variant (mini-w64) or a pretraining export to score instead of mini"
    )
    ap.add_argument("--fewshot-only", action="store_true", help="only part 4 (few-shot contexts)")
    ap.add_argument("--fewshot-curve", metavar="RUN_DIR", help="part 4 on every snapshot of a pretraining run")
    args = ap.parse_args(argv)
    set_threads(args)
    cfg = replace(
        QUICK if args.quick else MiniBenchConfig(),
        cache_dir=args.cache_dir,
        checkpoint=args.checkpoint,
        fewshot_only=args.fewshot_only,
    )
    if args.fewshot_curve:
        started = time.perf_counter()
        result = {"benchmark": "fewshot_curve", **fewshot_curve(args.fewshot_curve, cfg)}
        result["provenance"] = provenance(cfg, started, quick=args.quick)
        write_result(args.out, result)
        return result
    result = run(cfg, progress=not args.no_progress, quick=args.quick)
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
