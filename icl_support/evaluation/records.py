"""Recorded results (the JSON files of ``results/``) read back: one file, a set of files, the weights a record was
made with, and the arithmetic several pages share (one-per-class results, the synthetic images' benefit).

Usage::

    rec = read_record("results", "cifar10-k1-images.json")     # None when absent
    k1 = k1_results(rec)                                        # {strategy: {evaluator: {"mean", "std", "n"}}}
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..model.weights import MINI_CHECKPOINT, recorded_name, recorded_variant

# every record a page of the book reads (a test checks that the notebooks and chapter modules name no other)
PAGE_RECORDS = (
    "bench-context-classifier.json", "bench-distill.json", "bench-embed.json", "bench-fewshot-mini.json",
    "bench-paper-costs.json", "bench-split-cap.json", "bench-tabicl.json", "bench-tabicl-mini.json",
    "bench-tabicl-mini-columns.json", "bench-tabicl-mini-v1.json", "bench-tabicl-mini-w64.json",
    "bench-tabicl-mini-w64-fs2.json", "bench-tabicl-mini-w64-fs5-embed-1shot.json",
    "bench-tabicl-mini-w64-fs.json", "cifar10-ch1-local.json", "cifar10-ch1-mini-w64-fs2.json",
    "cifar10-ch2-local.json", "cifar10-class-count.json", "cifar10-k1-budget-64.json", "cifar10-k1-images.json",
    "cifar10-k1-mini.json", "cifar10-k1-mini-w64-fs2.json", "cifar10-k1-side-224.json", "cifar10-k1-side-64.json",
    "cifar10-lgm-rows.json", "cifar10-lgm-rows-224.json", "cifar10-pareto.json", "cifar10-proxy.json",
    "cifar10-proxy-k4.json", "cifar10-proxy-noise0.json", "cifar10-retrieval.json", "cifar10-shift.json",
    "rehearsal-cpu.json",
    # chapter 0's few-shot records of every checkpoint and the snapshot curves of every recipe
    "bench-fewshot-mini-v1.json", "bench-fewshot-mini-w64.json", "bench-fewshot-mini-w64-fs.json",
    "bench-fewshot-mini-w64-fs2.json", "bench-fewshot-mini-w64-fs3-blind.json", "bench-fewshot-mini-w64-fs3-long.json",
    "fewshot-curve-mini-w64-fs2.json", "fewshot-curve-mini-w64-fs3-blind.json", "fewshot-curve-mini-w64-fs3-long.json",
    "bench-fewshot-mini-w64-fs4-long.json", "bench-fewshot-mini-w64-fs4-embed.json",
    "fewshot-curve-mini-w64-fs4-long.json", "fewshot-curve-mini-w64-fs4-embed.json",
    "bench-fewshot-mini-w64-fs5-embed.json", "bench-fewshot-mini-w64-fs5-embed-1shot.json",
    "bench-tabicl-mini-w64-fs2.json", "bench-tabicl-mini-w64-fs5-embed-1shot.json",
    "fewshot-curve-mini-w64-fs5-embed.json", "fewshot-curve-mini-w64-fs5-embed-1shot.json",
)  # fmt: skip
# chapter 0's comparisons of checkpoints: made with another TabICL-mini on purpose
COMPARISON_RECORDS = (
    "bench-tabicl-mini-columns.json", "bench-tabicl-mini-v1.json", "bench-tabicl-mini-w64.json",
    "bench-tabicl-mini-w64-fs.json", "cifar10-ch1-mini-w64-fs2.json", "cifar10-k1-mini-w64-fs2.json",
    *(name for name in PAGE_RECORDS if name.startswith(("bench-fewshot-mini-", "fewshot-curve-"))),
)  # fmt: skip
SHIPPED_VARIANT = "mini"


def record_weights(rec: dict) -> str:
    """The TabICL weights a record was made with, in one word: a chapter or script record's variant
    (:func:`~icl_support.model.weights.recorded_variant`: ``mini``, ``mini-v1``, ``random``, a local checkpoint's
    stem), a benchmark's ``weights`` entry, or ``"none"`` when no TabICL ran."""
    prov = rec.get("provenance", {})
    if "tabicl_weights" in prov:
        return recorded_variant(prov)
    weights = rec.get("weights")
    if isinstance(weights, dict):
        return str(weights.get("variant") or weights.get("kind") or "unknown")
    return "none"


def record_checkpoint_sha256(rec: dict) -> str | None:
    """The sha256 of the TabICL checkpoint a record was made with (a chapter or script record's provenance, a
    benchmark's ``weights`` entry), or ``None`` where the record does not say."""
    sha = rec.get("provenance", {}).get("tabicl_checkpoint_sha256")
    weights = rec.get("weights")
    if sha is None and isinstance(weights, dict):
        sha = weights.get("checkpoint_sha256")
    return sha


def shipped_checkpoint_sha256(checkpoint: str | Path = MINI_CHECKPOINT) -> str:
    """The sha256 of the shipped TabICL-mini, from the provenance JSON beside it."""
    return json.loads(Path(checkpoint).with_suffix(".json").read_text())["checkpoint_sha256"]


def stale_page_records(results_dir: str | Path = "results", shipped_sha256: str | None = None) -> dict[str, str]:
    """``{record: why}`` of the records a page reads that were made with a TabICL-mini other than the shipped
    checkpoint (chapter 0's comparison records aside): another shipped variant (``why`` names it, e.g. ``mini-v1``),
    a local TabICL-mini checkpoint (its file stem), another checkpoint under the name ``mini`` (one shipped before
    the current one), or ``mini`` with no checkpoint digest recorded. Records made with the released TabICL, random
    weights or no TabICL are not stale by this rule. Staleness is by checkpoint only: a record made before a code
    change is not flagged. These are the records :mod:`icl_support.evaluation.rerecord` makes again."""
    shipped = shipped_sha256 or shipped_checkpoint_sha256()
    out = {}
    for name in PAGE_RECORDS:
        rec = read_record(results_dir, name)
        if rec is None or name in COMPARISON_RECORDS:
            continue
        weights = record_weights(rec)
        if weights.startswith("tabicl-mini") or (weights.startswith("mini") and weights != SHIPPED_VARIANT):
            out[name] = weights
        elif weights == SHIPPED_VARIANT:
            sha = record_checkpoint_sha256(rec)
            if sha is None:
                out[name] = "mini, checkpoint digest not recorded"
            elif sha != shipped:
                out[name] = f"mini, an earlier checkpoint (sha256 {sha[:12]})"
    return out


def read_json(path: str | Path) -> dict | None:
    """The JSON file at ``path``, or ``None`` when there is no such file."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def read_record(results_dir: str | Path, name: str) -> dict | None:
    """The recorded JSON ``results_dir/name``, or ``None`` when there is no such file."""
    return read_json(Path(results_dir) / name)


def read_records(files: dict[str, str], results_dir: str | Path = "results") -> dict:
    """``{name: recorded JSON}`` for ``files`` (``{name: file}``); missing files are left out."""
    out = {}
    for name, file in files.items():
        rec = read_record(results_dir, file)
        if rec is not None:
            out[name] = rec
    return out


def read_runs(paths) -> list[dict] | None:
    """The recorded JSONs at ``paths`` (one path or several: the same run made with other TabICL weights); ``None``
    when the first is missing, later ones that are missing left out."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    recs = [read_json(p) for p in paths]
    return None if recs[0] is None else [r for r in recs if r is not None]


def record_n_test(rec: dict | None) -> int | None:
    """The test rows a record's accuracies were measured on, from its settings (``n_test``), for records written
    before each entry carried its own ``n_test``; ``None`` when the record does not say."""
    settings = (rec or {}).get("provenance", {}).get("settings", {}) or {}
    n = settings.get("n_test")
    return int(n) if n else None


def wall_seconds(rec: dict) -> float:
    """A record's wall time in seconds: the total over its processes where a run was resumed
    (``wall_time_total_s``), else its one process's (``wall_time_s``, or a benchmark's ``wall_s``); NaN if none."""
    prov = rec.get("provenance", {})
    return float(prov.get("wall_time_total_s", prov.get("wall_time_s", prov.get("wall_s", float("nan")))))


def checkpoint_identity(rec: dict) -> tuple[str, str | None]:
    """What tells two records' TabICL apart: its weights in one word and the checkpoint's sha256 (``None`` where
    unrecorded). Records with equal identities were made with one checkpoint."""
    return record_weights(rec), record_checkpoint_sha256(rec)


def lgm_build_seconds(rec: dict, k: str = "1") -> float:
    """CPU seconds a one-per-class record's pixel-LGM images took to distil (plain and anchored kinds, every
    distillation: the recorded build seconds' mean times their count at ``k`` per class). They are the images' own
    cost, recorded when they were distilled; a record made again from cached images does not pay them again, so its
    wall time (:func:`wall_seconds`) can be far less. 0.0 when the record holds no LGM build seconds at ``k`` (no LGM
    images, or results shaped otherwise, e.g. by corruption or by class subset)."""
    total = 0.0
    for name, by_k in rec.get("results", {}).items():
        build = by_k.get(k, {}).get("build_seconds") if name.startswith("pixel_lgm") else None
        if build:
            total += build["mean"] * build["n"]
    return total


def lgm_budget(rec: dict) -> dict:
    """The LGM budget a record's synthetic images were distilled at: ``steps``, ``augs`` (K), ``distillations``,
    ``side`` (the side the backbone saw), from its settings."""
    s = rec.get("provenance", {}).get("settings", {}) or {}
    return {
        "steps": int(s.get("distill_steps", 0)),
        "augs": int(s.get("distill_augs", 0)),
        "distillations": int(s.get("distill_seeds", 1)),
        "side": int(s.get("lgm_image_size") or s.get("distill_res") or 64),
    }


def budget_text(rec: dict) -> str:
    """``64 px, LGM 1,000 steps with K = 8, 3 distillations``."""
    b = lgm_budget(rec)
    return f"{b['side']} px, LGM {b['steps']:,} steps with K = {b['augs']}, {b['distillations']} distillations"


def k1_results(rec: dict) -> dict:
    """``{strategy: {evaluator: stats}}`` at one image (or row) per class of a sweep record."""
    return {name: entry["1"] for name, entry in rec["results"].items() if "1" in entry}


ORDER_EVALUATORS = ("tabicl", "nearest_mean", "logreg")  # the evaluators the ordering claim is read under
PEER_LABELS = {"nearest_mean": "nearest class mean", "logreg": "logistic regression"}


def weights_name(rec: dict) -> str:
    """What to call TabICL in a recorded run, from the weights its provenance names (random ones say so)."""
    return recorded_name(rec["provenance"])


def evaluator_labels(rec: dict) -> dict[str, str]:
    """``{evaluator: label}`` for :data:`ORDER_EVALUATORS`, TabICL named by the run's weights."""
    return {"tabicl": weights_name(rec), **PEER_LABELS}


def benefit_over_real(synthetic: float, *real: float) -> float:
    """The synthetic context's accuracy minus the best real-image context's (random, centroid): the benefit every
    claim about synthetic images is measured by."""
    return synthetic - max(real)


SYNTHETIC_KINDS = {"pixel_lgm": "pixel LGM", "pixel_lgm_anchored": "anchored LGM"}  # the class-count run's
CLASS_COUNT_EVALUATORS = ("tabicl", "nearest_mean")


def class_count_benefit(rec: dict) -> pd.DataFrame:
    """The class-count run (``scripts/cifar10_class_count.py``) as one row per (classes, synthetic kind,
    evaluator): the benefit (the synthetic kind's accuracy minus the best real-image context's, random or
    centroid), the mean over the subsets of that many classes, with the accuracies it came from."""
    rows = []
    for label, entry in rec["results"].items():
        res = {n: v["1"] for n, v in entry["results"].items()}
        for kind in SYNTHETIC_KINDS:
            if kind not in res:
                continue
            for ev in CLASS_COUNT_EVALUATORS:
                syn, reals = res[kind][ev]["mean"], (res["random"][ev]["mean"], res["nearest_centroid"][ev]["mean"])
                rows.append({"classes": len(entry["classes"]), "subset": label, "kind": kind, "evaluator": ev,
                             "synthetic": syn, "best real image": max(reals),
                             "class mean": res["class_mean"][ev]["mean"],
                             "benefit": benefit_over_real(syn, *reals)})  # fmt: skip
    df = pd.DataFrame(rows)
    return df.groupby(["kind", "evaluator", "classes"], sort=True)[
        ["synthetic", "best real image", "class mean", "benefit"]
    ].mean()


# the benchmark records' evaluators (benchmarks/tabicl_mini.py), as chapter 0 labels them
BENCH_LABELS = {
    "tabicl": "TabICL-mini",
    "logreg": "logistic regression",
    "knn": "5-NN",
    "nearest_mean": "nearest class mean",
    "chance": "majority class",
}
STANDARDISED_NCM = "nearest class mean, context-standardised rows"
