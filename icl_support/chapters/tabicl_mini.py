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

from ..evaluation.tabicl_model import MINI_CHECKPOINT, SHIPPED_MINI, V2_CONFIG, recorded_name, recorded_variant
from ..pretraining.recipes import MINI_CONFIG, PretrainConfig
from ..pretraining.synthetic_tables import gaussian_mixture_tables, tabicl_prior_tables

EVALUATOR_LABELS = {
    "tabicl": "TabICL-mini",
    "logreg": "logistic regression",
    "knn": "5-NN",
    "nearest_mean": "nearest class mean",
    "chance": "majority class",
}


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
    meta, bench = json.loads(meta_path.read_text()), json.loads(bench_path.read_text())
    if bench["weights"]["checkpoint_sha256"] != meta["checkpoint_sha256"]:
        raise ValueError(
            f"{bench_path} was measured on another TabICL-mini checkpoint than the shipped one; rerun "
            ".venv/bin/python -m benchmarks.tabicl_mini"
        )
    return meta, bench


def size_table() -> pd.DataFrame:
    """TabICL-mini's architecture beside the released v2 classifier's (parameters counted from the modules)."""
    from tabicl._model.tabicl import TabICL

    keys = ("embed_dim", "col_num_blocks", "col_num_inds", "row_num_blocks", "row_num_cls", "icl_num_blocks",
            "icl_nhead", "max_classes")  # fmt: skip
    rows = {}
    for name, cfg in (("TabICL-mini", MINI_CONFIG), ("released TabICL v2", V2_CONFIG)):
        rows[name] = {k: cfg[k] for k in keys}
        rows[name]["parameters"] = sum(p.numel() for p in TabICL(**cfg).parameters())
    return pd.DataFrame(rows).T


def curriculum_table(cfg: PretrainConfig | None = None) -> pd.DataFrame:
    """One row per curriculum stage: steps, prior, feature / class / row ranges, learning rate."""
    cfg = cfg or PretrainConfig()
    return pd.DataFrame(
        [
            {
                "stage": s.name,
                "steps": s.steps,
                "prior": s.prior if s.prior == "gmm" else f"{s.prior} ({s.scm_share:.0%}) + gmm",
                "features": f"{s.features[0]}-{s.features[1]}",
                "classes": f"{s.classes[0]}-{s.classes[1]}",
                "rows": f"{s.rows[0]}-{s.rows[1]}",
                "lr": s.lr,
            }
            for s in cfg.stages
        ]
    ).set_index("stage")


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
                           label=EVALUATOR_LABELS[name])  # fmt: skip
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
    out = df.groupby(["table", "context"], sort=False)[list(EVALUATOR_LABELS)].mean()
    return out.rename(columns=EVALUATOR_LABELS)


STANDARDISED_NCM = "nearest class mean, context-standardised rows"


def embeddings_table(bench: dict) -> pd.DataFrame | None:
    """Accuracy (mean over seeds) on the digits embeddings per context fraction and evaluator (and the nearest
    class mean on rows z-scored with the context's statistics, where the benchmark recorded it)."""
    emb = bench.get("embeddings")
    if not emb:
        return None
    rows = {}
    for f, v in emb["by_fraction"].items():
        rows[float(f)] = {"context rows": v["n_context"], **{EVALUATOR_LABELS[k]: v[k]["mean"] for k in
                                                              ("tabicl", "logreg", "knn", "nearest_mean")}}  # fmt: skip
        if "nearest_mean_standardised" in v:  # what TabICL's per-column z-scoring leaves to a nearest class mean
            rows[float(f)][STANDARDISED_NCM] = v["nearest_mean_standardised"]["mean"]
    return pd.DataFrame(rows).T.sort_index().rename_axis("fraction")


def _recorded(path: str | Path) -> dict | None:
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def _records(paths) -> list[dict] | None:
    """The recorded JSONs at ``paths`` (one path or several); ``None`` when the first is missing, and later
    ones that are missing left out."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    recs = [_recorded(p) for p in paths]
    return None if recs[0] is None else [r for r in recs if r is not None]


def cifar_context_table(paths="results/cifar10-ch1-local.json") -> tuple[pd.DataFrame, str] | None:
    """Chapter 1's recorded CIFAR-10 run(s): mean accuracy over seeds per context fraction and evaluator, and
    the TabICL weights named (``None`` when the first file is missing). With several records (the same run with
    other TabICL weights), the peers come from the first and each record adds its TabICL column, named by its
    weights (``TabICL-mini``, ``TabICL-mini-w64``); records whose contexts differ are refused."""
    recs = _records(paths)
    if recs is None:
        return None
    df = pd.DataFrame(recs[0]["summary"])
    table = df.pivot(index="fraction", columns="evaluator", values="mean").drop(columns="tabicl")
    table = table.rename(columns=EVALUATOR_LABELS)
    table.insert(0, "context rows", df.groupby("fraction").n_context.first())
    names = []
    for i, rec in enumerate(recs):
        other = pd.DataFrame(rec["summary"])
        if not other.groupby("fraction").n_context.first().equals(table["context rows"]):
            raise ValueError(f"record {i} of {paths} has other context sizes than the first: not the same run")
        names.append(recorded_name(rec["provenance"]))
        table.insert(1 + i, names[-1], other[other.evaluator == "tabicl"].set_index("fraction")["mean"])
    return table, ", ".join(names)


def cifar_one_per_class_table(paths="results/cifar10-k1-mini.json") -> tuple[pd.DataFrame, str] | None:
    """The recorded one-per-class CIFAR-10 run(s) (``scripts/cifar10_pareto.py`` at k = 1): mean and std over
    seeds of every evaluator per strategy, and the TabICL weights named (``None`` when the first file is
    missing). Further records (the same run with other TabICL weights) add their TabICL columns, ``tabicl
    (<variant>)``, and their rows distilled through that TabICL (``tabicl_lgm (<variant>)``)."""
    recs = _records(paths)
    if recs is None:
        return None
    rows = _one_per_class_rows(recs[0])
    for rec in recs[1:]:
        variant = recorded_variant(rec["provenance"])
        for strategy, row in _one_per_class_rows(rec).items():
            tabicl = {f"tabicl ({variant})": row.pop("tabicl"), f"tabicl ({variant}) std": row.pop("tabicl std")}
            if strategy == "tabicl_lgm":  # rows distilled through this TabICL: a context of its own
                rows[f"tabicl_lgm ({variant})"] = {**row, **tabicl}
            elif strategy in rows:
                rows[strategy].update(tabicl)
    return pd.DataFrame(rows).T, ", ".join(recorded_name(rec["provenance"]) for rec in recs)


def _one_per_class_rows(rec: dict) -> dict[str, dict]:
    """``{strategy: {rows, seeds, <evaluator>, <evaluator> std}}`` of a recorded run at k = 1 (or the whole pool)."""
    rows = {}
    for strategy, by_k in rec["results"].items():
        entry = by_k.get("1", by_k.get("all"))
        if entry is None:
            continue
        rows[strategy] = {"rows": entry["rows"], "seeds": entry["nearest_mean"]["n"]}
        for ev in ("tabicl", "logreg", "nearest_mean", "one_nn"):
            rows[strategy][ev] = entry[ev]["mean"]
            rows[strategy][f"{ev} std"] = entry[ev]["std"]
    return rows


def columns_table(path: str | Path = "results/bench-tabicl-mini-columns.json") -> pd.DataFrame | None:
    """The column diagnostic (``benchmarks/tabicl_mini_columns.py``): accuracy per (context, first-w PCA
    columns) and evaluator (``None`` when the file is missing)."""
    rec = _recorded(path)
    if rec is None:
        return None
    df = pd.DataFrame(rec["rows"]).drop(columns=["seeds"])
    return df.set_index(["context", "width"])


RUNS_DIR = Path(__file__).resolve().parents[2] / "runs"
RECIPE_RECORDS = {  # provenance of every recipe trained here (the runs are committed beside the package)
    "mini-v1 (shipped as mini-v1)": SHIPPED_MINI["mini-v1"][0].with_suffix(".json"),
    "mini-v2 (tried)": RUNS_DIR / "tabicl-mini-v2" / "tabicl-mini-v2.json",
    "mini-w64 (shipped as mini-w64)": SHIPPED_MINI["mini-w64"][0].with_suffix(".json"),
    "mini-w64-fs (tried)": RUNS_DIR / "tabicl-mini-w64-fs" / "tabicl-mini-w64-fs.json",
    "mini-w64-fs2 (shipped as mini)": MINI_CHECKPOINT.with_suffix(".json"),
}


def own_cpu_hours(meta: dict) -> float:
    """CPU hours a pretraining run spent itself: its provenance's ``cpu_hours`` counts a warm-started run's
    parent too (the clock continues), so subtract the CPU seconds logged at the parent's last step."""
    parent = meta.get("pretrain_config", {}).get("parent")
    if not parent:
        return float(meta["cpu_hours"])
    handoff = sum(stage["steps"] for stage in parent["stages"])
    inherited = max((r["cpu_s"] for r in meta["loss_curve"] if r["step"] <= handoff), default=0.0)
    return float(meta["cpu_hours"]) - inherited / 3600


def recipes_table(records: dict[str, str | Path] = RECIPE_RECORDS) -> pd.DataFrame:
    """One row per pretraining recipe tried (``{recipe: provenance JSON}``; missing files are skipped): steps,
    CPU hours (cumulative over a warm start's lineage, and the run's own, :func:`own_cpu_hours`), and its last
    held-out evaluation (mean of the four tables; the digits embeddings where the run evaluated them, with the
    whole pool and with 12 context rows)."""
    rows = {}
    for recipe, path in records.items():
        meta = _recorded(path)
        if meta is None:
            continue
        last = meta["evaluations"][-1]["eval"] if meta["evaluations"] else {}
        rows[recipe] = {"steps": meta["steps"], "CPU hours": meta["cpu_hours"], "own CPU hours": own_cpu_hours(meta),
                        "tables (mean)": last.get("mean"), "digits embeddings, whole pool": last.get("digits_embed"),
                        "digits embeddings, 12 rows": last.get("digits_embed_12")}  # fmt: skip
    return pd.DataFrame(rows).T.rename_axis("recipe")


def recipes_curves_figure(bench: dict, records: dict[str, str | Path] = RECIPE_RECORDS) -> plt.Figure:
    """Every recipe's held-out evaluations against its CPU hours: the mean over the four tables (left) and the
    digits embeddings with the whole pool as context (right, where the run scored them), with the nearest class
    mean and logistic regression of the benchmark (same splits, seed 0) as horizontal lines."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    peers = [r for r in bench["tables"]["rows"] if r["requested"] == 0 and r["seed"] == 0]
    lines = {"mean": {ev: float(np.mean([r[ev] for r in peers])) for ev in ("nearest_mean", "logreg")}}
    if bench.get("embeddings"):  # a --quick benchmark has no embeddings part: no peer lines on the right
        by_fraction = bench["embeddings"]["by_fraction"]
        whole = by_fraction[max(by_fraction, key=float)]
        lines["digits_embed"] = {ev: whole[ev]["mean"] for ev in ("nearest_mean", "logreg")}
    for ax, key, title in zip(
        axes, ("mean", "digits_embed"), ("four tables (mean)", "digits embeddings, whole pool"), strict=True
    ):
        for i, (recipe, path) in enumerate(records.items()):
            meta = _recorded(path)
            if meta is None:
                continue
            points = [(r["cpu_s"] / 3600, r["eval"][key]) for r in meta["evaluations"] if key in r["eval"]]
            if points:  # a run continued from another shares its first points: earlier recipes drawn wider
                ax.plot(*zip(*points, strict=True), "o-", ms=3, lw=max(3.5 - 1.2 * i, 1), alpha=0.8, color=f"C{i}",
                        label=recipe)  # fmt: skip
        for ev, style in (("nearest_mean", ":"), ("logreg", "--")):
            if key in lines:
                ax.axhline(lines[key][ev], ls=style, lw=1, color="0.4", label=EVALUATOR_LABELS[ev])
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("CPU hours of pretraining")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("held-out test accuracy")
    axes[0].legend(fontsize=7, loc="lower right")  # every recipe has table evaluations; same colours on the right
    fig.tight_layout()
    return fig


def shipped_comparison_table(benches: dict[str, dict]) -> pd.DataFrame:
    """The shipped TabICL-minis side by side on the bar's measures (``{name: benchmarks/tabicl_mini.py record}``,
    the same splits in each): one row per measure (the four tables' mean at each context size, the digits
    embeddings at each fraction), one column per checkpoint, then the nearest class mean and logistic
    regression (and, for the embeddings, the nearest class mean on context-standardised rows) of the first
    record. Records on other splits are refused."""
    first = next(iter(benches.values()))
    peers = {"nearest_mean": EVALUATOR_LABELS["nearest_mean"], "logreg": EVALUATOR_LABELS["logreg"],
             "nearest_mean_standardised": STANDARDISED_NCM}  # fmt: skip
    rows: dict[str, dict] = {}

    def add(measure: str, name: str, values: dict) -> None:
        rows.setdefault(measure, {})[name] = values["tabicl"]
        for ev, label in peers.items():
            if ev in values and rows[measure].setdefault(label, values[ev]) != values[ev]:
                raise ValueError(f"{name}'s benchmark scored {ev} differently at {measure!r}: other splits")

    for name, bench in benches.items():
        summary = bench["tables"]["summary"]
        for n in sorted(summary, key=lambda n: int(n) or float("inf")):  # 0 = the whole pool, last
            add(f"four tables, {'all' if n == '0' else n} context rows", name, summary[n]["mean"])
        for f, v in (bench.get("embeddings") or {}).get("by_fraction", {}).items():
            add(f"digits embeddings, {float(f):.0%} ({v['n_context']} rows)", name,
                {ev: v[ev]["mean"] for ev in ("tabicl", *peers) if ev in v})  # fmt: skip
    if not first.get("embeddings"):
        rows = {k: v for k, v in rows.items() if k.startswith("four")}
    table = pd.DataFrame(rows).T.rename_axis("measure")
    return table[[c for c in [*benches, *peers.values()] if c in table]]


def one_per_class_values(table: pd.DataFrame, variant: str = "mini-w64", tried: str = "tabicl-mini-w64-fs") -> dict:
    """Chapter 0's glued numbers from :func:`cifar_one_per_class_table`: ``k1_<context>_<evaluator>`` for the first
    record's contexts (TabICL and the nearest class mean); ``k1w_<context>_tabicl`` for ``variant`` on the same
    contexts and on the rows distilled through itself; ``k1_fs_ahead`` of ``k1_shared``: on how many real and
    synthetic contexts the ``tried`` checkpoint beats ``variant`` (keys absent when their record is)."""
    first = [s for s in table.index if "(" not in s]  # the first record's contexts
    out = {f"k1_{s}_{ev}": table.loc[s, ev] for s in first for ev in ("tabicl", "nearest_mean")}
    shipped, other = f"tabicl ({variant})", f"tabicl ({tried})"
    if shipped in table:
        out.update({f"k1w_{s}_tabicl": table.loc[s, shipped] for s in first if s != "tabicl_lgm"})
        own = table.loc[f"tabicl_lgm ({variant})"]
        out.update(k1w_tabicl_lgm_tabicl=own[shipped], k1w_tabicl_lgm_nearest_mean=own["nearest_mean"])
        if other in table:
            shared = [s for s in first if s not in ("tabicl_lgm", "full")]  # the same one-per-class contexts
            out.update(k1_fs_ahead=int((table.loc[shared, other] > table.loc[shared, shipped]).sum()),
                       k1_shared=len(shared))  # fmt: skip
    return out


def worst_embedding_gap(table: pd.DataFrame, column: str) -> float:
    """The worst (smallest) ``column`` minus nearest class mean over the digits-embedding rows of a
    :func:`shipped_comparison_table`: the bar's last condition holds when it is >= 0."""
    digits = table.index.str.startswith("digits")
    return float((table.loc[digits, column] - table.loc[digits, EVALUATOR_LABELS["nearest_mean"]]).min())


def shipped_values(shipped: pd.DataFrame, benches: dict[str, dict]) -> dict:
    """Chapter 0's glued numbers from :func:`shipped_comparison_table` (columns ``TabICL-mini`` and
    ``TabICL-mini-w64``) and the ``benches`` (``{variant: record}``): worst shortfall against the nearest class
    mean on the digits embeddings, measures where ``mini-w64`` leads, the smallest context's numbers (with the
    context-standardised nearest class mean) and the tables bar."""
    small = shipped.index[shipped.index.str.startswith("digits")][0]  # the smallest fraction
    bar = benches["mini-w64"]["bar"]
    tables_bar = bar.get("tables_vs_nearest_mean") and bar.get("tables_vs_logreg")
    return {
        "shipped_worst_gap_mini": worst_embedding_gap(shipped, "TabICL-mini"),
        "shipped_worst_gap_w64": worst_embedding_gap(shipped, "TabICL-mini-w64"),
        "shipped_w64_ahead": int((shipped["TabICL-mini-w64"] > shipped["TabICL-mini"]).sum()),
        "shipped_measures": len(shipped),
        "shipped_small_measure": small.removeprefix("digits embeddings, "),
        "shipped_w64_small": shipped.loc[small, "TabICL-mini-w64"],
        "shipped_ncm_small": shipped.loc[small, EVALUATOR_LABELS["nearest_mean"]],
        "shipped_ncm_std_small": shipped.loc[small, STANDARDISED_NCM],
        "shipped_w64_tables_all": shipped.loc["four tables, all context rows", "TabICL-mini-w64"],
        "shipped_w64_bar_tables": "met" if tables_bar else "NOT met",
    }


def trade_values(shipped_bench: dict, tried_bench: dict) -> dict:
    """How a tried checkpoint compares with the shipped one on the same benchmark splits: worst shortfall against
    the nearest class mean on the digits embeddings (``fs_worst_gap``), at how many fractions it leads
    (``fs_ahead_digits`` of ``n_digits_fractions``) and its tables mean with the whole pool (``fs_tables_all``)."""
    both = shipped_comparison_table({"shipped": shipped_bench, "tried": tried_bench})
    digits = both.index.str.startswith("digits")
    return {
        "fs_worst_gap": worst_embedding_gap(both, "tried"),
        "fs_tables_all": both.loc["four tables, all context rows", "tried"],
        "fs_ahead_digits": int((both.loc[digits, "tried"] > both.loc[digits, "shipped"]).sum()),
        "n_digits_fractions": int(digits.sum()),
    }
