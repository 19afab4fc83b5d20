"""Chapter 0's CIFAR-10 sections: TabICL-mini (each shipped checkpoint) on the recorded CIFAR-10 runs of chapter 1
(accuracy against context size) and of the one-per-class sweep, beside the peers on the same rows.

Usage::

    table, values = cifar_context_section("results")            # (None, {}) when not recorded
    table, values = cifar_one_per_class_section("results")
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..evaluation.records import BENCH_LABELS, read_runs
from ..model.weights import recorded_name, recorded_variant

CH1_RECORDS = ("local", "mini-w64", "mini-w64-fs", "mini-w64-fs2")  # cifar10-ch1-<name>.json: one run, four weights
K1_RECORDS = ("mini", "mini-w64", "mini-w64-fs", "mini-w64-fs2")  # cifar10-k1-<name>.json


def cifar_context_table(paths="results/cifar10-ch1-local.json") -> tuple[pd.DataFrame, str] | None:
    """Chapter 1's recorded CIFAR-10 run(s): mean accuracy over seeds per context fraction and evaluator, and
    the TabICL weights named (``None`` when the first file is missing). With several records (the same run with
    other TabICL weights), the peers come from the first and each record adds its TabICL column, named by its
    weights (``TabICL-mini``, ``TabICL-mini-w64``); records whose contexts differ are refused."""
    recs = read_runs(paths)
    if recs is None:
        return None
    df = pd.DataFrame(recs[0]["summary"])
    table = df.pivot(index="fraction", columns="evaluator", values="mean").drop(columns="tabicl")
    table = table.rename(columns=BENCH_LABELS)
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
    recs = read_runs(paths)
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


def cifar_context_section(results_dir: str | Path = "results") -> tuple[pd.DataFrame | None, dict]:
    """Chapter 1's CIFAR-10 records as one table (:func:`cifar_context_table`) and the numbers chapter 0 glues:
    ``ch1_weights``, ``ch1_<weights>_<fraction>`` per TabICL column and ``ch1_ncm_<fraction>``."""
    ch1 = cifar_context_table([Path(results_dir) / f"cifar10-ch1-{name}.json" for name in CH1_RECORDS])
    if ch1 is None:
        return None, {}
    table, weights = ch1
    key = lambda f: f"{f:g}".replace(".", "p")  # noqa: E731
    values = {"ch1_weights": weights}
    values.update({f"ch1_{name.replace('-', '_').lower()}_{key(f)}": table.loc[f, name]
                   for name in weights.split(", ") if name.startswith("TabICL-") for f in table.index})  # fmt: skip
    values.update({f"ch1_ncm_{key(f)}": table.loc[f, "nearest class mean"] for f in table.index})
    return table, values


def cifar_one_per_class_section(results_dir: str | Path = "results") -> tuple[pd.DataFrame | None, dict]:
    """The one-per-class records as one table (:func:`cifar_one_per_class_table`) and the numbers chapter 0 glues
    (``k1_weights`` and :func:`one_per_class_values`)."""
    k1 = cifar_one_per_class_table([Path(results_dir) / f"cifar10-k1-{name}.json" for name in K1_RECORDS])
    if k1 is None:
        return None, {}
    table, weights = k1
    return table, {"k1_weights": weights, **one_per_class_values(table)}
