"""Chapter 0's section on one row per class: how well each TabICL-mini reads a few-shot context, from the records.

Reads ``results/bench-fewshot-<checkpoint>.json`` (``benchmarks/tabicl_mini.py --fewshot-only``: contexts of random
1, 2, 5 rows per class and the class-mean rows on digits pixels and digits embeddings, TabICL with both
``context_stats`` beside 1-NN and the nearest class mean on the same rows) and ``results/fewshot-curve-*.json``
(the same on digits pixels for every snapshot of a pretraining run). Usage::

    records = load_fewshot_records("results", ("mini", "mini-w64"))
    table, values = fewshot_table(records)
    fig = fewshot_curve_figure(records, curves)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ..evaluation.fewshot import BAR, bar_mean, best_ratio
from ..evaluation.records import read_json

CONTEXT_LABELS = {
    "random_1": "random, 1 per class",
    "random_2": "random, 2 per class",
    "random_5": "random, 5 per class",
    "class_mean": "class means",
}
TABLE_LABELS = {"digits_pixels": "digits pixels (PCA-32)", "digits_embeddings": "digits embeddings (Lite0, PCA-64)"}


def load_fewshot_records(results_dir: str | Path, names) -> dict:
    """``{name: record}`` of the ``bench-fewshot-<name>.json`` files that exist (missing ones are left out)."""
    out = {}
    for name in names:
        path = Path(results_dir) / f"bench-fewshot-{name}.json"
        if path.is_file():
            out[name] = read_json(path)
    return out


def load_curves(results_dir: str | Path) -> dict:
    """``{run name: curve record}`` of every ``fewshot-curve-<name>.json``."""
    return {p.stem.removeprefix("fewshot-curve-"): read_json(p)
            for p in sorted(Path(results_dir).glob("fewshot-curve-*.json"))}  # fmt: skip


def fewshot_table(records: dict) -> tuple[pd.DataFrame, dict]:
    """Rows (checkpoint, table, context): TabICL with context / pool statistics, 1-NN, nearest mean, the best ratio
    to the bar's peer and whether the bar is met; and the glued values ``fs_<checkpoint>_<table>_<context>_*``."""
    rows, values = [], {}
    for name, rec in records.items():
        for table, part in rec["fewshot"].items():
            for kind, s in part["summary"].items():
                rows.append({
                    "checkpoint": name, "table": TABLE_LABELS.get(table, table),
                    "context": CONTEXT_LABELS.get(kind, kind), "TabICL, context stats": s["tabicl_context"],
                    "TabICL, pool stats": s["tabicl_pool"], "1-NN": s["one_nn"], "nearest mean": s["nearest_mean"],
                    "best ratio": best_ratio(s), "to": s["peer"], "goal": s.get("goal"),
                    "met": {True: "yes", False: "no"}.get(s.get("bar_met"), ""),
                })  # fmt: skip
                key = f"fs_{name}_{table}_{kind}".replace("-", "_")
                values.update({f"{key}_ratio": best_ratio(s), f"{key}_context": s["tabicl_context"],
                               f"{key}_pool": s["tabicl_pool"], f"{key}_peer": s[s["peer"]]})  # fmt: skip
        values[f"fs_{name.replace('-', '_')}_bar_mean"] = bar_mean(rec)
        values[f"fs_{name.replace('-', '_')}_bar_met"] = sum(bool(v) for k, v in rec["bar"].items() if "fewshot" in k)
        values[f"fs_{name.replace('-', '_')}_bar_total"] = sum(1 for k in rec["bar"] if "fewshot" in k)
    values["adequacy_bar"] = BAR["random_1"][1]  # the learner gate of every TabICL verdict (evaluation/verdicts.py)
    return pd.DataFrame(rows).round(3), values


def fewshot_curve_figure(records: dict, curves: dict) -> plt.Figure:
    """Best few-shot ratio on digits pixels against pretraining CPU hours: each recorded checkpoint as a point (its
    lineage's CPU hours), each snapshot curve as a line; dotted: the few-shot bar (``evaluation.fewshot.BAR``)."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
    for ax, kind in zip(axes, ("random_1", "class_mean", "random_5"), strict=True):
        for name, rec in records.items():
            s = rec["fewshot"].get("digits_pixels", {}).get("summary", {}).get(kind)
            if s is not None:
                ax.plot(rec["weights"]["cpu_hours"], best_ratio(s), "o")
                ax.annotate(name, (rec["weights"]["cpu_hours"], best_ratio(s)), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")  # fmt: skip
        for name, curve in curves.items():
            pts = [(p["cpu_hours"], best_ratio(p["summary"][kind])) for p in curve["points"] if kind in p["summary"]]
            if pts:
                ax.plot(*zip(*pts, strict=True), "-", lw=1, label=f"{name} (snapshots)")
        ax.axhline(BAR[kind][1], color="0.5", ls=":")
        ax.set_title(CONTEXT_LABELS[kind] + (" / nearest mean" if kind != "random_1" else " / 1-NN"), fontsize=9)
        ax.set_xlabel("pretraining CPU hours (whole lineage)")
    axes[0].set_ylabel("TabICL / peer, same rows")
    if curves:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def curve_summary(curves: dict) -> tuple[pd.DataFrame, dict]:
    """One row per snapshot curve (``{run: fewshot-curve record}``): the snapshots, the CPU hours from the first
    snapshot to the last, the best ratio of each context at the first and the
    last snapshot, and the stop rule's count: snapshots since the one-row ratio last rose to a new best (three in a
    row stop a run). Glued values ``curve_<run>_<context>_{first,last}``, ``curve_<run>_hours``,
    ``curve_<run>_stale``."""
    rows, values = [], {}
    for name, curve in curves.items():
        points = sorted(curve["points"], key=lambda p: p["step"])
        if not points:
            continue
        one_row = [best_ratio(p["summary"]["random_1"]) for p in points]
        best_at = max(range(len(one_row)), key=lambda i: (one_row[i], -i))  # the first snapshot reaching the best
        row = {"run": name, "snapshots": len(points), "steps": f"{points[0]['step']}-{points[-1]['step']}",
               "CPU hours, first to last snapshot": points[-1]["cpu_hours"] - points[0]["cpu_hours"],
               "snapshots since the best one-row ratio": len(points) - 1 - best_at}  # fmt: skip
        for kind in ("random_1", "class_mean", "random_5"):
            first, last = (best_ratio(p["summary"][kind]) for p in (points[0], points[-1]))
            row[f"{CONTEXT_LABELS[kind]}: first"], row[f"{CONTEXT_LABELS[kind]}: last"] = first, last
            key = f"curve_{name}_{kind}".replace("-", "_")
            values.update({f"{key}_first": first, f"{key}_last": last})
        slug = name.replace("-", "_")
        values.update({f"curve_{slug}_hours": row["CPU hours, first to last snapshot"], f"curve_{slug}_stale": row[
            "snapshots since the best one-row ratio"], f"curve_{slug}_best_random_1": max(one_row)})  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows).set_index("run").round(3) if rows else pd.DataFrame(), values


def snapshot_leads(curves: dict, pairs, kind: str = "random_1") -> dict:
    """For each ``(leader, other)`` run pair of ``curves`` (``{run: fewshot-curve record}``; pairs with a missing
    run are skipped): at how many of the steps both runs snapshotted the leader's best ratio on ``kind`` is above
    the other's. Glued as ``lead_<leader>_<other>``: ``"11 of 11"``."""
    values = {}
    for leader, other in pairs:
        if leader not in curves or other not in curves:
            continue
        a, b = ({p["step"]: best_ratio(p["summary"][kind]) for p in curves[run]["points"]} for run in (leader, other))
        shared = sorted(set(a) & set(b))
        ahead = sum(a[step] > b[step] for step in shared)
        values[f"lead_{leader}_{other}".replace("-", "_")] = f"{ahead} of {len(shared)}"
    return values
