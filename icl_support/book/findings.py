"""What this book found, in a few lines, generated from the recorded results: the landing page's and README's block.

Each line is one finding with its number, its setting and where its evidence is: what reproduces here, what fails
here and why, what cannot be tested here (and the command that would), and what is new beyond the write-up. The
verdicts are the claims page's (:mod:`icl_support.chapters.claims`, rules in :mod:`icl_support.evaluation.verdicts`).
It reads several chapters' records, so it lives in the book layer. Usage::

    text = findings_markdown(load_records("results"), "results", link=lambda chapter: f"nbs/{chapter}.ipynb")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..chapters.claims import claims_table
from ..chapters.fewshot_report import best_ratio, load_fewshot_records
from ..chapters.pareto import retrieval_numbers, with_retrieval
from ..evaluation.records import read_json
from ..model.weights import recorded_name

SETTING = "CIFAR-10, offline EfficientNet-Lite0, PCA-64"  # each line names the TabICL weights of its record


def _retrieval(results_dir: Path) -> dict | None:
    """Chapter 5's numbers on the recorded retrieval contexts (:func:`icl_support.chapters.pareto.retrieval_numbers`),
    or ``None`` when either record is missing."""
    pareto, retrieval = results_dir / "cifar10-pareto.json", results_dir / "cifar10-retrieval.json"
    if not (pareto.is_file() and retrieval.is_file()):
        return None
    rec = read_json(retrieval)
    numbers = retrieval_numbers(with_retrieval(read_json(pareto), rec))
    return {**numbers, "weights": recorded_name(rec["provenance"])}


def findings_lines(
    records: dict, results_dir: str | Path, link: Callable[[str], str], card: Callable[[str], str] | None = None
) -> list[str]:
    """The findings as markdown bullet lines (``link(chapter stem)`` -> a link target for that chapter;
    ``card(claim key)`` -> a link to that claim's card on the claims page, by default the page's link with the
    card's anchor)."""
    table, v = claims_table(records)
    rows = {row["key"]: row for _, row in table.iterrows()}
    card = card or (lambda key: f"[card]({link('04b_claims')}#claim-{key})")

    lines = _claim_lines(v, rows, link, card)
    lines.append(
        "**The write-up's levels**: not testable here (90% at 20% of CIFAR-10 as context; 92% and 96% for the "
        "centroid and synthetic images on Imagenette); they need DINOv2 and the released TabICL, which this machine "
        f"cannot download. On a GPU with internet: `make book PROFILE=paper` ([rerun]({link('rerun')}))."
    )
    return lines + _learner_lines(results_dir, link) + _retrieval_lines(Path(results_dir), link)


def _claim_lines(v: dict, rows: dict, link: Callable[[str], str], card: Callable[[str], str]) -> list[str]:
    """The write-up's claims that this build could judge, each with its numbers, its caveat and a link to its card."""
    lines = []
    if "claim_scaling_slope" in v:
        lines.append(
            f"**Accuracy grows with the context**: {v['claim_scaling_verdict']}; {v['claim_ctx_weights']}'s accuracy "
            f"changes by {v['claim_scaling_slope']:+.3f} per tenfold more context rows (95% interval "
            f"{v['claim_scaling_low']:+.3f} to {v['claim_scaling_high']:+.3f}), logistic regression's by "
            f"{v['claim_scaling_logreg_slope']:+.3f} ({v['claim_scaling_logreg_low']:+.3f} to "
            f"{v['claim_scaling_logreg_high']:+.3f}); {SETTING} at 224 px, "
            f"{v['claim_scaling_df']:.0f} residual degrees "
            f"of freedom. Evidence: [chapter 1]({link('01_context_scaling')}), {card('scaling')}."
        )
    if "claim_time_exponent" in v:
        lines.append(
            f"**Time looks linear but is quadratic**: {v['claim_time_verdict']}; the full-size TabICL's time grows as "
            f"N^{v['claim_time_exponent']:.2f} up to N = {v['claim_time_n_max']:,.0f} context rows; "
            "its in-context stage "
            f"turns quadratic from N ≈ {v['claim_time_icl_crossover']:,.0f} (95% interval "
            f"{v['claim_time_icl_low']:,.0f} to {v['claim_time_icl_high']:,.0f}), the whole model from N ≈ "
            f"{v['claim_time_crossover']:,.0f} ({v['claim_time_crossover_low']:,.0f} to "
            f"{v['claim_time_crossover_high']:,.0f}); CPU, one timing per size. "
            f"Evidence: [chapter 2]({link('02_inference_time')}), {card('time')}."
        )
    if "order" in rows and "claim_k1_rule_verdict" in v:
        lines.append(
            f"**Synthetic > centroid > random at one image per class**: {rows['order']['verdict']}; "
            f"{rows['order']['reason']}. Caveats: {rows['order']['caveats']}. Other budgets and sides: "
            f"{v['claim_k1_other_budgets']}. Evidence: [chapter 4]({link('04_one_per_class')}), {card('order')}."
        )
    for key, what in (("classes", "more classes"), ("shift", "distribution shift")):
        if key in rows and rows[key]["this build"] != "not recorded":
            r = rows[key]
            lines.append(
                f"**Write-up's prediction that {what} increases the synthetic images' benefit**: {r['verdict']}; "
                f"{r['reason']}. Caveats: {r['caveats']}. Evidence: {card(key)}."
            )
    return lines


def _learner_lines(results_dir: str | Path, link: Callable[[str], str]) -> list[str]:
    """How well the shipped TabICL-mini reads one row per class (chapter 0's few-shot records)."""
    fewshot = load_fewshot_records(results_dir, ("mini", "mini-w64", "mini-w64-fs", "mini-w64-fs2", "mini-v1"))
    if not fewshot:
        return []
    name, rec = next(reversed(fewshot.items())) if "mini" not in fewshot else ("mini", fewshot["mini"])
    s = rec["fewshot"]["digits_pixels"]["summary"]
    return [
        f"**The learner is the bottleneck at one row per class**: the shipped TabICL-mini (`{name}`) reads a "
        f"random one-per-class context at {best_ratio(s['random_1']):.2f} of 1-NN's accuracy on the same rows, "
        f"and class means at {best_ratio(s['class_mean']):.2f} of the nearest class mean's (sklearn digits, the "
        f"better of its two preprocessing statistics). Evidence: [chapter 0]({link('00_tabicl_mini')})."
    ]


def _retrieval_lines(results_dir: Path, link: Callable[[str], str]) -> list[str]:
    """What is new beyond the write-up: retrieval contexts (chapter 5's records)."""
    ret = _retrieval(results_dir)
    if ret is None:
        return []
    k = ret["ret_best_k"]
    tabicl = (ret["ret_best_tabicl"], ret["ret_full_tabicl"])
    beside = "above both" if ret["ret_full_logreg"] > max(tabicl) else "below both" if ret["ret_full_logreg"] < min(
        tabicl) else "between the two"  # fmt: skip
    return [
        f"**New: retrieval contexts**: each test row reading its {k} nearest training rows of every class scores "
        f"{ret['ret_best_tabicl']:.3f}, against {ret['ret_full_tabicl']:.3f} for the whole 10,000-row pool, at "
        f"{ret[f'ret_k{k}_seconds']:.0f} s against {ret['ret_full_seconds']:.0f} s for 500 test rows; logistic "
        f"regression on the whole pool, no TabICL, scores {ret['ret_full_logreg']:.3f}, {beside} ({SETTING} "
        f"at 64 px, {ret['weights']}). Evidence: [chapter 5]({link('05_context_strategies')}); use it on your "
        f"data: [chapter 8]({link('08_use_it')})."
    ]


def findings_markdown(
    records: dict, results_dir: str | Path, link: Callable[[str], str], card: Callable[[str], str] | None = None
) -> str:
    """The block: one bullet per finding (see :func:`findings_lines`)."""
    return "\n".join(f"* {line}" for line in findings_lines(records, results_dir, link, card)) + "\n"
