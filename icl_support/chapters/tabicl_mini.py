"""The TabICL-mini chapter's tables and figures, read from recorded files (no training here).

Inputs: the shipped checkpoint's provenance JSON (``icl_support/weights/tabicl-mini.json``: loss
curve, held-out evaluations at checkpoints, hours) and ``results/bench-tabicl-mini.json``
(``benchmarks/tabicl_mini.py``: TabICL-mini beside the peers on the same splits). Usage::

    meta, bench = load_records("results")
    fig = loss_curve_figure(meta)
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..evaluation.records import BENCH_LABELS, STANDARDISED_NCM, read_json
from ..model.weights import MINI_CHECKPOINT, V2_CONFIG
from ..pretraining.recipes import PretrainConfig
from ..pretraining.synthetic_tables import gaussian_mixture_tables, tabicl_prior_tables


def load_records(results_dir: str | Path = "results", checkpoint: str | Path = MINI_CHECKPOINT) -> tuple[dict, dict]:
    """``(provenance of the shipped checkpoint, bench-tabicl-mini.json)``; a clear error when one is missing."""
    meta_path = Path(checkpoint).with_suffix(".json")
    bench_path = Path(results_dir) / "bench-tabicl-mini.json"
    for path, fix in (
        (meta_path, "restore it with git checkout -- icl_support/weights"),
        (bench_path, "run .venv/bin/python -m benchmarks.tabicl_mini"),
    ):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: {fix}")
    meta, bench = read_json(meta_path), read_json(bench_path)
    if bench["weights"]["checkpoint_sha256"] != meta["checkpoint_sha256"]:
        raise ValueError(
            f"{bench_path} was measured on another TabICL-mini checkpoint than the shipped one; rerun "
            ".venv/bin/python -m benchmarks.tabicl_mini"
        )
    return meta, bench


def size_table(mini_config: dict | None = None) -> pd.DataFrame:
    """TabICL-mini's architecture (``mini_config``: default the shipped checkpoint's, from its provenance) beside the
    released v2 classifier's (parameters counted from the modules)."""
    from tabicl._model.tabicl import TabICL

    keys = ("embed_dim", "col_num_blocks", "col_num_inds", "row_num_blocks", "row_num_cls", "icl_num_blocks",
            "icl_nhead", "max_classes")  # fmt: skip
    if mini_config is None:
        mini_config = json.loads(MINI_CHECKPOINT.with_suffix(".json").read_text())["config"]
    rows = {}
    for name, cfg in (("TabICL-mini", mini_config), ("released TabICL v2", V2_CONFIG)):
        rows[name] = {k: cfg[k] for k in keys}
        rows[name]["parameters"] = sum(p.numel() for p in TabICL(**cfg).parameters())
    return pd.DataFrame(rows).T


def _prior_text(stage) -> str:
    if stage.mix:
        return ", ".join(f"{prior} {share:.0%}" for prior, share in stage.mix) + ", gmm"
    return stage.prior if stage.prior == "gmm" else f"{stage.prior} ({stage.scm_share:.0%}) + gmm"


def curriculum_table(cfg: PretrainConfig | None = None) -> pd.DataFrame:
    """One row per curriculum stage of ``cfg``'s whole lineage (default: the shipped recipe's; a warm-started
    recipe's parents first): recipe, stage, steps, priors, feature / class / row ranges, context rows per class
    (few-shot stages), learning rate."""
    from ..pretraining.recipes import RECIPES, SHIPPED_RECIPE

    cfg = cfg or RECIPES[SHIPPED_RECIPE]
    lineage = []
    while cfg is not None:
        lineage.insert(0, cfg)
        cfg = cfg.parent
    rows = []
    for c in lineage:
        recipe = next((name for name, known in RECIPES.items() if known == c), "(this config)")
        rows += [{"recipe": recipe, "stage": s.name, "steps": s.steps, "prior": _prior_text(s),
                  "features": f"{s.features[0]}-{s.features[1]}", "classes": f"{s.classes[0]}-{s.classes[1]}",
                  "rows": f"{s.rows[0]}-{s.rows[1]}",
                  "rows per class": f"{s.shots[0]}-{s.shots[1]}" if s.shots else "", "lr": s.lr}
                 for s in c.stages]  # fmt: skip
    return pd.DataFrame(rows)


def prior_samples_figure(seed: int = 0) -> plt.Figure:
    """Two features of three Gaussian-mixture tables and three tables of TabICL's prior, coloured by class."""
    gmm = gaussian_mixture_tables(3, 300, 200, 2, (2, 4), seed=seed)
    scm = tabicl_prior_tables("mix_scm", 3, 300, 200, 2, 4, seed=seed)
    fig, axes = plt.subplots(2, 3, figsize=(9, 5.6))
    for row, (batch, title) in enumerate(((gmm, "Gaussian mixture"), (scm, "TabICL prior (mix_scm)"))):
        for j in range(3):
            ax = axes[row, j]
            X, y = batch.X[j].numpy(), batch.y[j].numpy()
            ax.scatter(X[:, 0], X[:, 1], c=y, cmap="tab10", vmin=0, vmax=9, s=8)
            ax.set_title(f"{title} #{j + 1}: {len(np.unique(y))} classes", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig


def loss_curve_figure(meta: dict) -> plt.Figure:
    """Training loss (mean cross-entropy of the query rows per 25 steps) against step, stages shaded."""
    curve = pd.DataFrame(meta["loss_curve"])
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(curve.step, curve.loss, lw=1)
    start = 0
    for i, stage in enumerate(meta["pretrain_config"]["stages"]):
        ax.axvspan(start, start + stage["steps"], color="0.9" if i % 2 else "white", zorder=0)
        ax.text(start + stage["steps"] / 2, 0.98, stage["name"], transform=ax.get_xaxis_transform(), ha="center",
                va="top", fontsize=8)  # fmt: skip
        start += stage["steps"]
    ax.set_xlim(0, max(start, int(curve.step.max())))
    ax.set_xlabel("step")
    ax.set_ylabel("query cross-entropy")
    ax.grid(alpha=0.3)
    return fig


def evaluations(meta: dict) -> pd.DataFrame:
    """Held-out accuracy per table at every evaluated checkpoint: columns step, cpu_hours, table, accuracy."""
    rows = []
    for r in meta["evaluations"]:
        for table, acc in r["eval"].items():
            rows.append({"step": r["step"], "cpu_hours": r["cpu_s"] / 3600, "table": table, "accuracy": acc})
    return pd.DataFrame(rows)


def accuracy_vs_hours_figure(meta: dict, bench: dict) -> plt.Figure:
    """Held-out accuracy (whole pool as context, seed 0) at each checkpoint against CPU hours, one panel per
    table, the peers of the final benchmark (same split, seed 0) as horizontal lines."""
    ev = evaluations(meta)
    tables = [t for t in ev.table.unique() if t != "mean"]
    fig, axes = plt.subplots(1, len(tables), figsize=(3 * len(tables), 3.2), sharey=True)
    peers = {
        r["table"]: r for r in bench["tables"]["rows"] if r["requested"] == 0 and r["seed"] == 0
    }  # the evaluations' split
    for ax, table in zip(np.atleast_1d(axes), tables, strict=True):
        sel = ev[ev.table == table]
        ax.plot(sel.cpu_hours, sel.accuracy, "o-", label="TabICL-mini")
        for name, style in (("logreg", "--"), ("knn", "-."), ("nearest_mean", ":"), ("chance", "-")):
            if table in peers:
                ax.axhline(peers[table][name], ls=style, lw=1, color="0.4" if name != "chance" else "0.75",
                           label=BENCH_LABELS[name])  # fmt: skip
        ax.set_title(table)
        ax.set_xlabel("CPU hours of pretraining")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("held-out test accuracy")
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, bbox_to_anchor=(0.5, -0.08))
    return fig


def heldout_table(bench: dict) -> pd.DataFrame:
    """Mean accuracy over seeds per (table, context size) and evaluator, from the benchmark's rows."""
    df = pd.DataFrame(bench["tables"]["rows"])
    df["context"] = df.requested.map(lambda n: "all" if n == 0 else str(n))
    out = df.groupby(["table", "context"], sort=False)[list(BENCH_LABELS)].mean()
    return out.rename(columns=BENCH_LABELS)


def embeddings_table(bench: dict) -> pd.DataFrame | None:
    """Accuracy (mean over seeds) on the digits embeddings per context fraction and evaluator (and the nearest
    class mean on rows z-scored with the context's statistics, where the benchmark recorded it)."""
    emb = bench.get("embeddings")
    if not emb:
        return None
    rows = {}
    for f, v in emb["by_fraction"].items():
        rows[float(f)] = {"context rows": v["n_context"], **{BENCH_LABELS[k]: v[k]["mean"] for k in
                                                              ("tabicl", "logreg", "knn", "nearest_mean")}}  # fmt: skip
        if "nearest_mean_standardised" in v:  # what TabICL's per-column z-scoring leaves to a nearest class mean
            rows[float(f)][STANDARDISED_NCM] = v["nearest_mean_standardised"]["mean"]
    return pd.DataFrame(rows).T.sort_index().rename_axis("fraction")


def columns_table(path: str | Path = "results/bench-tabicl-mini-columns.json") -> pd.DataFrame | None:
    """The column diagnostic (``benchmarks/tabicl_mini_columns.py``): accuracy per (context, first-w PCA
    columns) and evaluator (``None`` when the file is missing)."""
    rec = read_json(path)
    if rec is None:
        return None
    df = pd.DataFrame(rec["rows"]).drop(columns=["seeds"])
    return df.set_index(["context", "width"])


def overview(meta: dict) -> tuple[pd.DataFrame, dict]:
    """:func:`size_table` and the run's numbers chapter 0 glues (parameters, steps, tables seen, hours, and the
    released model's size against TabICL-mini's)."""
    sizes = size_table()
    released = sizes.loc["released TabICL v2", "parameters"]
    values = {"mini_params": meta["parameters"], "mini_steps": meta["steps"], "mini_tables_seen": meta["tables_seen"],
              "mini_cpu_hours": meta["cpu_hours"], "mini_wall_hours": meta["wall_hours"],
              "released_params": int(released), "size_ratio": released / meta["parameters"]}  # fmt: skip
    curve = meta["loss_curve"]
    values.update(loss_first=curve[0]["loss"], loss_last=curve[-1]["loss"])
    values.update(training_range(meta.get("recipe")))
    return sizes, values


def training_range(recipe: str | None) -> dict:
    """The largest tables a recipe's whole lineage (its parents' stages included) trained on: ``mini_max_rows``,
    ``mini_max_features`` (NaN for a recipe this build does not know)."""
    from ..pretraining.recipes import RECIPES

    cfg = RECIPES.get(recipe or "")
    rows, features = [], []
    while cfg is not None:
        rows += [stage.rows[1] for stage in cfg.stages]
        features += [stage.features[1] for stage in cfg.stages]
        cfg = cfg.parent
    if not rows:
        return {"mini_max_rows": float("nan"), "mini_max_features": float("nan")}
    return {"mini_max_rows": max(rows), "mini_max_features": max(features)}


def heldout_section(bench: dict) -> tuple[pd.DataFrame, dict]:
    """:func:`heldout_table` and the bar on the four tables: ``whole_<evaluator>`` (whole pool as context),
    ``bar_tables_ncm`` / ``bar_tables_logreg`` (met or NOT met) and ``logreg_share``."""
    whole = bench["tables"]["summary"]["0"]["mean"]
    values = {f"whole_{k}": v for k, v in whole.items()}
    values.update(bar_tables_ncm="met" if bench["bar"].get("tables_vs_nearest_mean") else "NOT met",
                  bar_tables_logreg="met" if bench["bar"].get("tables_vs_logreg") else "NOT met",
                  logreg_share=whole["tabicl"] / whole["logreg"])  # fmt: skip
    return heldout_table(bench), values


def embeddings_section(bench: dict) -> tuple[pd.DataFrame | None, dict]:
    """:func:`embeddings_table` and the bar on the digits embeddings (``bar_embeddings``: met, NOT met or not
    measured), the width and the whole pool's TabICL and nearest-class-mean accuracies."""
    table = embeddings_table(bench)
    if table is None:
        return None, {"bar_embeddings": "not measured"}
    emb = bench["embeddings"]
    whole = emb["by_fraction"][max(emb["by_fraction"], key=float)]
    return table, {
        "bar_embeddings": "met" if bench["bar"]["embeddings_vs_nearest_mean_every_fraction"] else "NOT met",
        "emb_width": emb["width"],
        "emb_tabicl_whole": whole["tabicl"]["mean"],
        "emb_ncm_whole": whole["nearest_mean"]["mean"],
    }


def columns_section(results_dir: str | Path = "results") -> tuple[pd.DataFrame | None, dict]:
    """:func:`columns_table` and the numbers chapter 0 glues (``col_*``): TabICL-mini with the whole pool at 8 and
    64 columns, and the nearest class mean (raw and standardised) beside TabICL-mini with 12 context rows."""
    cols = columns_table(Path(results_dir) / "bench-tabicl-mini-columns.json")
    if cols is None:
        return None, {}
    at = lambda ctx, w, ev: float(cols.loc[(ctx, w), ev])  # noqa: E731
    shipped, pool, few = "TabICL-mini (shipped)", "whole pool", "12 rows"
    return cols, {
        "col_mini_pool_8": at(pool, 8, shipped),
        "col_mini_pool_64": at(pool, 64, shipped),
        "col_ncm_std_pool_64": at(pool, 64, "nearest_mean (standardised)"),
        "col_ncm_raw_few_64": at(few, 64, "nearest_mean (raw PCA rows)"),
        "col_ncm_std_few_64": at(few, 64, "nearest_mean (standardised)"),
        "col_mini_few_64": at(few, 64, shipped),
    }
