"""Chapter 0's recipes and shipped checkpoints: every TabICL-mini pretraining recipe tried here (steps, CPU hours,
held-out accuracy, curves), the shipped checkpoints side by side on the benchmark's measures, and a live check
that each shipped checkpoint reproduces its recorded accuracy.

Usage::

    benches = shipped_benches("results", bench)              # {variant: benchmarks/tabicl_mini.py record}
    table, values = recipes_section("results", benches)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..evaluation.fewshot import bar_mean, best_ratio
from ..evaluation.records import BENCH_LABELS, STANDARDISED_NCM, read_json, read_record
from ..model.weights import MINI_CHECKPOINT, SHIPPED_MINI

SHIPPED_BENCHES = {
    "mini-v1": "bench-tabicl-mini-v1.json",
    "mini-w64": "bench-tabicl-mini-w64.json",
    "mini-w64-fs2": "bench-tabicl-mini-w64-fs2.json",
}


# benchmarks of tried recipes that chapter 0 sets beside the shipped ones (checkpoints loaded from runs/ by path)
TRIED_BENCHES = {"mini-w64-fs5-embed-1shot": "bench-tabicl-mini-w64-fs5-embed-1shot.json"}


RUNS_DIR = Path(__file__).resolve().parents[2] / "runs"


RECIPE_RECORDS = {  # provenance of every recipe trained here (the runs are committed beside the package)
    "mini-v1 (shipped as mini-v1)": SHIPPED_MINI["mini-v1"][0].with_suffix(".json"),
    "mini-v2 (tried)": RUNS_DIR / "tabicl-mini-v2" / "tabicl-mini-v2.json",
    "mini-w64 (shipped as mini-w64)": SHIPPED_MINI["mini-w64"][0].with_suffix(".json"),
    "mini-w64-fs (tried)": RUNS_DIR / "tabicl-mini-w64-fs" / "tabicl-mini-w64-fs.json",
    "mini-w64-fs2 (shipped as mini-w64-fs2)": SHIPPED_MINI["mini-w64-fs2"][0].with_suffix(".json"),
    "mini-w64-fs3-blind (tried)": RUNS_DIR / "tabicl-mini-w64-fs3-blind" / "tabicl-mini-w64-fs3-blind.json",
    "mini-w64-fs3-long (tried)": RUNS_DIR / "tabicl-mini-w64-fs3-long" / "tabicl-mini-w64-fs3-long.json",
    "mini-w64-fs4-long (tried)": RUNS_DIR / "tabicl-mini-w64-fs4-long" / "tabicl-mini-w64-fs4-long.json",
    "mini-w64-fs4-embed (tried)": RUNS_DIR / "tabicl-mini-w64-fs4-embed" / "tabicl-mini-w64-fs4-embed.json",
    "mini-w64-fs5-embed (shipped as mini)": MINI_CHECKPOINT.with_suffix(".json"),
    "mini-w64-fs5-embed-1shot (tried)": RUNS_DIR
    / "tabicl-mini-w64-fs5-embed-1shot"
    / "tabicl-mini-w64-fs5-embed-1shot.json",
}


# issue 27's recipes (the continuations of the shipped mini-w64-fs2 aimed at the stage diagnosis) and the CPU hours
# its stop rule allows them together
DIAGNOSIS_RECIPES = ("mini-w64-fs3-blind", "mini-w64-fs3-long", "mini-w64-fs4-long", "mini-w64-fs4-embed",
                     "mini-w64-fs5-embed", "mini-w64-fs5-embed-1shot")  # fmt: skip
DIAGNOSIS_BUDGET_HOURS = 5.0


def own_cpu_hours(meta: dict) -> float:
    """CPU hours a pretraining run spent itself: its provenance's ``cpu_hours`` counts a warm-started run's
    parent too (the clock continues), so subtract the CPU seconds logged at the parent's last step."""
    config = meta.get("pretrain_config", {})
    if not config.get("parent"):
        return float(meta["cpu_hours"])
    if "start_cpu_hours" in meta:  # exports since the warm start from an exported checkpoint record it
        return float(meta["cpu_hours"]) - float(meta["start_cpu_hours"])
    # the handoff is the whole parent lineage's last step: the run's steps less its own stages' (a parent that is
    # itself a continuation counts its own parent's steps too)
    handoff = int(meta["steps"]) - sum(stage["steps"] for stage in config["stages"])
    inherited = max((r["cpu_s"] for r in meta["loss_curve"] if r["step"] <= handoff), default=0.0)
    return float(meta["cpu_hours"]) - inherited / 3600


def recipes_table(records: dict[str, str | Path] = RECIPE_RECORDS) -> pd.DataFrame:
    """One row per pretraining recipe tried (``{recipe: provenance JSON}``; missing files are skipped): steps,
    CPU hours (cumulative over a warm start's lineage, and the run's own, :func:`own_cpu_hours`), and its last
    held-out evaluation (mean of the four tables; the digits embeddings where the run evaluated them, with the
    whole pool and with 12 context rows)."""
    rows = {}
    for recipe, path in records.items():
        meta = read_json(path)
        if meta is None:
            continue
        last = meta["evaluations"][-1]["eval"] if meta["evaluations"] else {}
        rows[recipe] = {"steps": meta["steps"], "CPU hours": meta["cpu_hours"], "own CPU hours": own_cpu_hours(meta),
                        "tables (mean)": last.get("mean"), "digits embeddings, whole pool": last.get("digits_embed"),
                        "digits embeddings, 12 rows": last.get("digits_embed_12")}  # fmt: skip
    return pd.DataFrame(rows).T.rename_axis("recipe")


def _whole_pool_entry(bench: dict) -> dict:
    """The digits-embeddings entry of a ``benchmarks/tabicl_mini.py`` record at its largest pool fraction (the whole
    pool as context): ``{evaluator: {mean, std} | float}``."""
    by_fraction = bench["embeddings"]["by_fraction"]
    return by_fraction[max(by_fraction, key=float)]


def recipes_curves_figure(bench: dict, records: dict[str, str | Path] = RECIPE_RECORDS) -> plt.Figure:
    """Every recipe's held-out evaluations against its CPU hours: the mean over the four tables (left) and the
    digits embeddings with the whole pool as context (right, where the run scored them), with the nearest class
    mean and logistic regression of the benchmark (same splits, seed 0) as horizontal lines."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    peers = [r for r in bench["tables"]["rows"] if r["requested"] == 0 and r["seed"] == 0]
    lines = {"mean": {ev: float(np.mean([r[ev] for r in peers])) for ev in ("nearest_mean", "logreg")}}
    if bench.get("embeddings"):  # a --quick benchmark has no embeddings part: no peer lines on the right
        whole = _whole_pool_entry(bench)
        lines["digits_embed"] = {ev: whole[ev]["mean"] for ev in ("nearest_mean", "logreg")}
    for ax, key, title in zip(
        axes, ("mean", "digits_embed"), ("four tables (mean)", "digits embeddings, whole pool"), strict=True
    ):
        for i, (recipe, path) in enumerate(records.items()):
            meta = read_json(path)
            if meta is None:
                continue
            points = [(r["cpu_s"] / 3600, r["eval"][key]) for r in meta["evaluations"] if key in r["eval"]]
            if points:  # a run continued from another shares its first points: earlier recipes drawn wider
                ax.plot(*zip(*points, strict=True), "o-", ms=3, lw=max(3.5 - 1.2 * i, 1), alpha=0.8, color=f"C{i}",
                        label=recipe)  # fmt: skip
        for ev, style in (("nearest_mean", ":"), ("logreg", "--")):
            if key in lines:
                ax.axhline(lines[key][ev], ls=style, lw=1, color="0.4", label=BENCH_LABELS[ev])
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
    peers = {"nearest_mean": BENCH_LABELS["nearest_mean"], "logreg": BENCH_LABELS["logreg"],
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


def worst_embedding_gap(table: pd.DataFrame, column: str) -> float:
    """The worst (smallest) ``column`` minus nearest class mean over the digits-embedding rows of a
    :func:`shipped_comparison_table`: the bar's last condition holds when it is >= 0."""
    digits = table.index.str.startswith("digits")
    return float((table.loc[digits, column] - table.loc[digits, BENCH_LABELS["nearest_mean"]]).min())


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
        "shipped_ncm_small": shipped.loc[small, BENCH_LABELS["nearest_mean"]],
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


def shipped_benches(results_dir: str | Path, bench: dict) -> dict[str, dict]:
    """``{variant: benchmark record}``: the shipped ``mini`` (``bench``) and every other shipped checkpoint whose
    record is in ``results_dir``."""
    out = {"mini": bench}
    for variant, file in SHIPPED_BENCHES.items():
        rec = read_record(results_dir, file)
        if rec is not None:
            out[variant] = rec
    return out


def live_check(benches: dict[str, dict], cache_dir: Path, table: str = "wine") -> tuple[dict, list[str]]:
    """Each shipped checkpoint scored live on ``table`` (the benchmark's split at context 0, seed 0) beside the
    accuracy its record holds: glue values ``live_<table>_<variant>`` / ``recorded_<table>_<variant>`` and one
    printed line per checkpoint."""
    from ..evaluation.heldout import load_table, split, tabicl_accuracy
    from ..model.weights import resolve_weights

    X, y = load_table(table)
    values, lines = {}, []
    for variant, record in benches.items():
        weights = resolve_weights(variant, cache_dir)
        live = tabicl_accuracy(weights.path, *split(X, y, 0, seed=0), seed=0)
        recorded = next(r["tabicl"] for r in record["tables"]["rows"]
                        if r["table"] == table and r["requested"] == 0 and r["seed"] == 0)  # fmt: skip
        slug = variant.replace("-", "_")
        values.update({f"live_{table}_{slug}": live, f"recorded_{table}_{slug}": recorded})
        lines.append(f"{weights.label}: {table}, live {live:.4f}, recorded {recorded:.4f}")
    return values, lines


def recipes_section(results_dir: str | Path, benches: dict[str, dict]) -> tuple[pd.DataFrame, dict]:
    """:func:`recipes_table` and the numbers chapter 0 glues: ``n_recipes``, ``recipes_total_hours``,
    ``diagnosis_hours`` (own CPU hours of issue 27's recipes, :data:`DIAGNOSIS_RECIPES`) against its stop rule's
    ``diagnosis_budget``, ``recipe_<name>_<measure>`` per recipe and, where the tried continuation was benchmarked,
    :func:`trade_values`."""
    recipes = recipes_table()
    values = {"n_recipes": len(recipes), "recipes_total_hours": recipes["own CPU hours"].sum()}
    names = recipes.index.str.split(" ").str[0]
    spent = float(recipes["own CPU hours"][names.isin(DIAGNOSIS_RECIPES)].sum())
    values |= {"diagnosis_hours": spent, "diagnosis_budget": DIAGNOSIS_BUDGET_HOURS,
               "diagnosis_budget_left": DIAGNOSIS_BUDGET_HOURS - spent}  # fmt: skip
    for recipe, row in recipes.iterrows():  # recipe_<name>_<measure>, e.g. recipe_mini_w64_embed
        slug = recipe.split(" ")[0].replace("-", "_")
        values.update({f"recipe_{slug}_hours": row["CPU hours"], f"recipe_{slug}_own_hours": row["own CPU hours"],
                       f"recipe_{slug}_tables": row["tables (mean)"],
                       f"recipe_{slug}_embed": row["digits embeddings, whole pool"],
                       f"recipe_{slug}_embed12": row["digits embeddings, 12 rows"]})  # fmt: skip
    tried = read_record(results_dir, "bench-tabicl-mini-w64-fs.json")
    if tried is not None and "mini-w64" in benches:  # the tried continuation against its shipped parent
        values.update(trade_values(benches["mini-w64"], tried))
    return recipes, values


def recipe_gains(fewshot: dict, recipes: pd.DataFrame, names=DIAGNOSIS_RECIPES) -> tuple[pd.DataFrame, dict]:
    """Which recipe moved what, per CPU hour: for each recipe of ``names`` whose few-shot record and its parent's are
    in ``fewshot`` (``{name: bench-fewshot record}``, the shipped ``mini`` under its recipe's name), the change of
    the one-row ratio on digits pixels and of the bar mean (:func:`~icl_support.evaluation.fewshot.bar_mean`)
    over its parent's, and each per own CPU hour (``recipes``: :func:`recipes_table`). Parents are the recipes'
    own (:data:`~icl_support.pretraining.recipes.RECIPES`). Glued as ``gain_<recipe>_{one_row,bar_mean}[_per_hour]``.
    """
    from ..pretraining.recipes import RECIPES

    hours = {name.split(" ")[0]: row["own CPU hours"] for name, row in recipes.iterrows()}
    rows, values = {}, {}
    for name in names:
        parent = next((n for n, cfg in RECIPES.items() if cfg == RECIPES[name].parent), None)
        if name not in fewshot or parent not in fewshot or name not in hours:
            continue
        one_row = [best_ratio(fewshot[n]["fewshot"]["digits_pixels"]["summary"]["random_1"]) for n in (name, parent)]
        d_one, d_bar = one_row[0] - one_row[1], bar_mean(fewshot[name]) - bar_mean(fewshot[parent])
        rows[name] = {"continues": parent, "own CPU hours": hours[name], "one-row ratio change": d_one,
                      "per CPU hour": d_one / hours[name], "bar mean change": d_bar,
                      "bar mean per CPU hour": d_bar / hours[name]}  # fmt: skip
        slug = name.replace("-", "_")
        values |= {f"gain_{slug}_one_row": d_one, f"gain_{slug}_one_row_per_hour": d_one / hours[name],
                   f"gain_{slug}_bar_mean": d_bar, f"gain_{slug}_bar_mean_per_hour": d_bar / hours[name]}  # fmt: skip
    return pd.DataFrame(rows).T.rename_axis("recipe"), values


def tried_benches(results_dir: str | Path) -> dict[str, dict]:
    """``{recipe: benchmark record}`` of :data:`TRIED_BENCHES` that are recorded in ``results_dir``."""
    recs = {name: read_record(results_dir, file) for name, file in TRIED_BENCHES.items()}
    return {name: rec for name, rec in recs.items() if rec is not None}


def whole_pool_values(benches: dict[str, dict]) -> dict:
    """Each benchmark record's (``{name: benchmarks/tabicl_mini.py record}``) large-context numbers: TabICL on the
    digits embeddings with the whole pool, the mean over its seeds (``whole_<name>_embed``; the nearest class mean
    on the same rows, ``whole_embed_ncm``) and the four tables' mean with every row as context
    (``whole_<name>_tables``)."""

    def mean(entry) -> float:
        return float(entry["mean"] if isinstance(entry, dict) else entry)

    values = {}
    for name, rec in benches.items():
        whole = _whole_pool_entry(rec)
        slug = name.replace("-", "_")
        values |= {f"whole_{slug}_embed": mean(whole["tabicl"]),
                   f"whole_{slug}_tables": mean(rec["tables"]["summary"]["0"]["mean"]["tabicl"])}  # fmt: skip
        values["whole_embed_ncm"] = mean(whole["nearest_mean"])
    return values
