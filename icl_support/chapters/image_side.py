"""The one-per-class headline at two image sides: the 64 px proxy beside the backbone's native 224 px.

Reads the twin records ``results/cifar10-k1-side-64.json`` and ``results/cifar10-k1-side-224.json``
(``scripts/cifar10_k1_images.py``; the YAMLs differ only in the image side): random images over 20 draws, the
image nearest each centroid, the class means, pixel LGM and anchored LGM over 3 distillations each, every context
scored on the same test images by TabICL (context and pool statistics), logistic regression, the nearest class
mean, 1-NN and LGM's linear probe. The ordering claim (synthetic > centroid > random) is judged at each side by
:func:`icl_support.evaluation.verdicts.order_verdict`, TabICL's verdict gated by its adequacy.

Usage::

    table, values = side_table(records)          # records: {"64": rec64, "224": rec224}
    verdicts, values = side_verdicts(records)
    values = not_recorded()                      # when either record is missing: what the page's prose reads
"""

from __future__ import annotations

import pandas as pd

from ..evaluation.records import checkpoint_identity, k1_results, lgm_build_seconds, record_n_test, wall_seconds
from ..evaluation.verdicts import judge_ordering
from ..model.weights import recorded_name

SIDE_RECORDS = {"64": "cifar10-k1-side-64.json", "224": "cifar10-k1-side-224.json"}
BUDGET_RECORDS = {**SIDE_RECORDS, "64k8": "cifar10-k1-budget-64.json"}  # 64 px again, LGM 1,000 steps with K = 8
COLUMN_LABELS = {"64": "64 px", "224": "224 px", "64k8": "64 px, 1,000 steps K = 8"}


def column(side: str) -> str:
    """A record's column label: its side, and its LGM budget where it is not the twins' 200 steps with K = 2."""
    return COLUMN_LABELS.get(side, f"{side} px")


CONTEXTS = ("random", "nearest_centroid", "class_mean", "pixel_lgm", "pixel_lgm_anchored@1")
CONTEXT_LABELS = {
    "random": "random image",
    "nearest_centroid": "image nearest the centroid",
    "class_mean": "class mean (a row)",
    "pixel_lgm": "pixel LGM image",
    "pixel_lgm_anchored@1": "anchored LGM image",
}
EVALUATORS = {
    "tabicl": "TabICL",
    "tabicl_pool": "TabICL, pool statistics",
    "tabicl_split": "TabICL, columns from the pool (secondary: the pool's labels reach it)",
    "nearest_mean": "nearest class mean",
    "logreg": "logistic regression",
    "one_nn": "1-NN",
    "linear_probe": "LGM's linear probe",
}
ORDER = ("pixel_lgm", "nearest_centroid", "random")
PEERS = ("nearest_mean", "logreg", "linear_probe")


SHOWN = ("tabicl", "nearest_mean", "linear_probe")  # the table's evaluators; every evaluator is glued


def _tabicl_label(records: dict[str, dict]) -> str:
    """TabICL's column name: its weights when one checkpoint made every record (weights and sha256), else each
    side's (with the checkpoint's sha256 prefix where only that differs)."""
    ids = {side: checkpoint_identity(rec) for side, rec in records.items()}
    names = {side: recorded_name(rec["provenance"]) for side, rec in records.items()}
    if len(set(ids.values())) == 1:
        return next(iter(names.values()))
    if len(set(names.values())) == 1:
        names = {side: f"{name}, sha256 {(ids[side][1] or 'unrecorded')[:8]}" for side, name in names.items()}
    return "TabICL (" + "; ".join(f"{column(side)}: {name}" for side, name in names.items()) + ")"


def side_table(records: dict[str, dict], shown=SHOWN) -> tuple[pd.DataFrame, dict]:
    """Mean accuracy (one context per class) per context (rows) and evaluator at each side: columns
    ``(evaluator, "<side> px")`` for the ``shown`` evaluators, after ``("contexts", "")`` (draws or distillations,
    the same at both sides); TabICL's column is named by its weights, each side's where they differ. Glue values
    ``side<side>_<context>_<evaluator>`` for every evaluator (``@1`` written ``_a1``), ``side<side>_weights``,
    ``side<side>_hours`` (the run's wall time) and ``side<side>_lgm_hours`` (its LGM images' own CPU time, paid once
    when they were distilled: :func:`~icl_support.evaluation.records.lgm_build_seconds`)."""
    rows: dict[str, dict] = {}
    values: dict = {}
    labels = {**EVALUATORS, "tabicl": _tabicl_label(records)}
    labels["tabicl_pool"] = f"{labels['tabicl']}, pool statistics"
    for side, rec in records.items():
        res = k1_results(rec)
        values[f"side{side}_weights"] = recorded_name(rec["provenance"])
        values[f"side{side}_hours"] = wall_seconds(rec) / 3600
        values[f"side{side}_lgm_hours"] = lgm_build_seconds(rec) / 3600
        for name in CONTEXTS:
            if name not in res:
                continue
            row = rows.setdefault(CONTEXT_LABELS[name], {("contexts", ""): res[name]["nearest_mean"]["n"]})
            for ev, label in labels.items():
                if ev in res[name]:
                    values[f"side{side}_{name.replace('@', '_a')}_{ev}"] = res[name][ev]["mean"]
                    if ev in shown:
                        row[(label, column(side))] = res[name][ev]["mean"]
    table = pd.DataFrame(rows).T
    order = [("contexts", "")] + [(labels[ev], column(side)) for ev in shown for side in records]
    table = table[[c for c in order if c in table]]
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table, values


def side_verdicts(records: dict[str, dict]) -> tuple[pd.DataFrame, dict]:
    """The ordering claim judged at each side: one row per evaluator, one column per side, each cell the rule's
    verdict (TabICL's gated by its adequacy: TabICL over 1-NN on the random draws). Glue values
    ``side<side>_verdict_<evaluator>``, ``side<side>_adequacy``, ``side<side>_verdict`` (TabICL's verdict where
    the learner is adequate, else the peers' combined) and ``side<side>_gap_<evaluator>`` (synthetic minus centroid)."""
    cells: dict[str, dict] = {}
    values: dict = {}
    for side, rec in records.items():
        judged = judge_ordering(k1_results(rec), ORDER, synthetic=("pixel_lgm",), reference="random",
                                evaluators=("tabicl", "tabicl_pool", "tabicl_split", *PEERS),
                                n_test=record_n_test(rec))  # fmt: skip
        values[f"side{side}_adequacy"] = judged.adequacy["tabicl"]
        for ev, verdict in judged.verdicts.items():
            est = judged.estimates[ev]
            label = EVALUATORS[ev].replace("TabICL", recorded_name(rec["provenance"]), 1)
            cells.setdefault(label, {})[column(side)] = verdict
            values[f"side{side}_verdict_{ev}"] = verdict
            values[f"side{side}_gap_{ev}"] = est["pixel_lgm"].mean - est["nearest_centroid"].mean
        values[f"side{side}_verdict"] = judged.overall
        gate = judged.gate
        if gate is not None:
            cells.setdefault("distillation gate", {})[column(side)] = (
                f"{'passed' if gate.passed else 'not passed'}: {gate.synthetic.mean:.3f} vs {gate.random.mean:.3f}"
            )
            values[f"side{side}_gate"] = "passed" if gate.passed else "not passed"
        cells.setdefault("the claim (rule)", {})[column(side)] = judged.overall
    table = pd.DataFrame(cells).T.fillna("not recorded")
    last = ["distillation gate", "the claim (rule)"]
    return table.loc[[r for r in table.index if r not in last] + [r for r in last if r in table.index]], values


def k8_hours(rec: dict | None, steps: int = 1000, augs: int = 8) -> float:
    """CPU-hours that pixel LGM at ``steps`` with K = ``augs`` would take in ``rec``'s setting, for all of its
    distillations: its recorded seconds per distillation scaled by steps x K (an LGM step embeds K views of every
    image). NaN without the record."""
    if rec is None or "pixel_lgm" not in rec["results"]:
        return float("nan")
    s = rec["provenance"]["settings"]
    seconds = rec["results"]["pixel_lgm"]["1"]["build_seconds"]
    scale = steps * augs / (s["distill_steps"] * s["distill_augs"])
    return seconds["mean"] * seconds["n"] * scale / 3600


def not_recorded() -> dict:
    """The values the claims page's prose reads, for a results folder without both records: numbers as NaN (the page
    prints nan), the weights and verdicts as "not recorded"."""
    values = {}
    for side in BUDGET_RECORDS:
        values[f"side{side}_weights"] = values[f"side{side}_verdict"] = values[f"side{side}_gate"] = "not recorded"
        for name in ("hours", "lgm_hours", "adequacy", "gap_nearest_mean", "gap_linear_probe", "gap_tabicl"):
            values[f"side{side}_{name}"] = float("nan")
    values["side224_k8_hours"] = float("nan")
    return values
