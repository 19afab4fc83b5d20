"""The claims page: verdicts follow their stated rules (evaluation/verdicts.py) from the recorded numbers, TabICL
verdicts are gated by the learner's adequacy, and missing records say so."""

import copy
from pathlib import Path

import numpy as np__
import pytest

from icl_support.chapters import claims_evidence
from icl_support.chapters.claims import CARD_KEYS, RECORDS, card_markdown, claims_table, load_records, summary_table
from icl_support.evaluation.verdicts import VERDICTS


def row(table, prefix):
    return table[table.claim.str.startswith(prefix)].iloc[0]


def test_recorded_claims_follow_their_rules_and_counts_add_up():
    records = load_records("results")
    table, values = claims_table(records)
    assert {"context", "timing", "one_per_class", "shift", "lgm_rows", "images", "proxy"} <= set(records)
    assert set(records) <= set(RECORDS)
    assert values["n_claims"] == len(table) == sum(values[f"n_{v.replace(' ', '_')}"] for v in VERDICTS)
    assert set(table.verdict) <= set(VERDICTS)
    # one claim, one row: the ordering is a single row whatever the number of evaluators
    assert table.claim.str.startswith("synthetic > centroid > random").sum() == 1
    assert "cifar10-proxy.json" in row(table, "synthetic > centroid")["this build"]  # the probe's ordering is read
    assert list(summary_table(table).columns) == ["claim", "verdict", "reason"]
    assert tuple(table.key) == CARD_KEYS  # one card per claim, in the table's order
    for key in CARD_KEYS:
        card = card_markdown(table, key)
        assert "**Verdict:" in card and "```bash" in card and "Rule:" in card
    # every verdict that rests on numbers shows an interval or says why it has none
    judged = table[table.verdict.isin(["holds here", "fails here", "undecided here", "holds in part here"])]
    assert judged["this build"].str.contains("95% interval|no interval").all()


def test_timing_claim_reads_a_weighted_crossover_with_its_interval():
    """The timing verdict follows the crossover's interval against the largest size the record measured. A
    multiplicative-noise record whose true crossover lies far beyond the sizes must not come out as "holds"."""
    sizes = [10, 30, 100, 300, 1000, 3000, 10000]

    def record(a, b, c, icl_c):
        rng = np__.random.default_rng(0)
        jitter = lambda: 1 + 0.03 * rng.standard_normal()  # noqa: E731
        timings = [{"n_context": n, "total_s": (a + b * n + c * n * n) * jitter(),
                    "icl_s": (0.1 + 1e-4 * n + icl_c * n * n) * jitter()} for n in sizes]  # fmt: skip
        return {"timings": timings, "fit_total_upper": {"exponent": 1.0, "min_n": 300.0}, "provenance": {}}

    _, v = claims_table({"timing": record(1.0, 5e-3, 5e-6, 1e-6)})  # crossovers 1,000 and 100: within the sizes
    assert v["claim_time_verdict"] == "holds here" and v["claim_time_crossover_high"] < 10_000
    assert 700 < v["claim_time_crossover"] < 1_400
    _, v = claims_table({"timing": record(1.0, 5e-3, 5e-8, 1e-6)})  # whole model at 100,000; the stage at 100
    assert v["claim_time_verdict"] == "holds in part here" and v["claim_time_icl_high"] < 10_000
    assert v["claim_time_crossover_low"] < 100_000 < v["claim_time_crossover_high"]  # the truth, within its interval


SETTINGS = {"n_test": 1000, "distill_steps": 200, "distill_augs": 2, "distill_seeds": 3, "distill_res": 64}


def _images_record(tabicl, one_nn, ncm, n_syn=3, probe=(0.5, 0.4, 0.3)):
    """One-per-class results: synthetic/centroid/random under TabICL (random: ``tabicl`` over ``one_nn``), the
    nearest class mean and logistic regression (``ncm``: synthetic, centroid, random) and LGM's linear probe
    (``probe``), synthetic over ``n_syn`` distillations, every accuracy on 1,000 test rows."""

    def entry(t, n, one, p, count, std=0.01):
        e = {
            "tabicl": {"mean": t, "std": std, "n": count},
            "nearest_mean": {"mean": n, "std": std, "n": count},
            "logreg": {"mean": n, "std": std, "n": count},
            "one_nn": {"mean": one, "std": std, "n": count},
            "linear_probe": {"mean": p, "std": std, "n": count},
        }
        return {"1": e}

    results = {
        "pixel_lgm": entry(tabicl[0], ncm[0], 0.5, probe[0], n_syn),
        "nearest_centroid": entry(tabicl[1], ncm[1], 0.5, probe[1], 1, 0.0),
        "random": entry(tabicl[2], ncm[2], one_nn, probe[2], 20),
    }
    return {"results": results, "provenance": {"tabicl_weights": "mini", "settings": dict(SETTINGS)}}


def test_ordering_rule_and_the_adequacy_gate():
    def verdict(**kw):
        table, values = claims_table({"images": _images_record(**kw)})
        return row(table, "synthetic > centroid")["verdict"], values

    # adequate learner (0.9 of 1-NN) and a clear order: TabICL's verdict carries the claim
    v, values = verdict(tabicl=(0.6, 0.5, 0.45), one_nn=0.5, ncm=(0.2, 0.4, 0.3))
    assert v == "holds here" and values["claim_k1_adequacy"] == 0.45 / 0.5
    # the same TabICL numbers from a weak learner (0.45 / 0.9 of 1-NN): too weak; the peers (reversed) carry it
    v, values = verdict(tabicl=(0.6, 0.5, 0.45), one_nn=0.9, ncm=(0.2, 0.4, 0.3))
    assert v == "fails here" and values["claim_k1_rule_tabicl"] == "learner too weak here to judge"
    # a weak learner and peers that agree with the write-up: holds, by the peers
    assert verdict(tabicl=(0.1, 0.1, 0.1), one_nn=0.9, ncm=(0.6, 0.4, 0.3))[0] == "holds here"
    # one distillation: undecided, however large the lead
    assert verdict(tabicl=(0.1, 0.1, 0.1), one_nn=0.9, ncm=(0.6, 0.4, 0.3), n_syn=1)[0] == "undecided here"
    # images behind random real images under their own probe: no verdict on them, whatever the order
    v, values = verdict(tabicl=(0.1, 0.1, 0.1), one_nn=0.9, ncm=(0.6, 0.4, 0.3), probe=(0.17, 0.43, 0.30))
    assert v == "distillation too short here to judge" and values["claim_k1_gate_passed"] is False


def test_ordering_is_judged_at_the_largest_lgm_budget():
    low = _images_record(tabicl=(0.1, 0.1, 0.1), one_nn=0.9, ncm=(0.2, 0.4, 0.3), probe=(0.17, 0.43, 0.30))
    high = _images_record(tabicl=(0.1, 0.1, 0.1), one_nn=0.9, ncm=(0.6, 0.4, 0.3), probe=(0.55, 0.43, 0.30))
    high["provenance"]["settings"].update(distill_steps=1000, distill_augs=8)
    table, values = claims_table({"side_64": low, "budget_64": high})
    assert row(table, "synthetic > centroid")["verdict"] == "holds here"
    assert values["claim_k1_budget"] == "64 px, LGM 1,000 steps with K = 8, 3 distillations"
    assert "distillation too short here to judge" in values["claim_k1_other_budgets"]
    assert "1,000 steps with K = 8" in row(table, "synthetic > centroid")["caveats"]


def test_scaling_is_judged_over_every_size():
    def record(tabicl):
        rows = []
        for f, n, t in zip((0.01, 0.05, 0.2, 1.0), (100, 500, 2000, 10000), tabicl, strict=True):
            rows += [
                {"evaluator": "tabicl", "fraction": f, "n_context": n, "mean": t, "std": 0.005, "n": 3},
                {"evaluator": "logreg", "fraction": f, "n_context": n, "mean": 0.5 + f / 10, "std": 0.005, "n": 3},
            ]
        return {"summary": rows, "provenance": {"tabicl_weights": "mini"}}  # fmt: skip

    def verdict(tabicl):
        return claims_table({"context": record(tabicl)})[1]["claim_scaling_verdict"]

    assert verdict((0.3, 0.4, 0.5, 0.6)) == "holds here"
    assert verdict((0.6, 0.5, 0.4, 0.3)) == "fails here"
    # a rise, then a fall at the end: with four sizes the log-linear fit's residuals (t at 2 degrees of freedom)
    # leave the slope's interval across 0 (five sizes can show "holds in part": tests/test_verdicts.py)
    assert verdict((0.3, 0.45, 0.6, 0.56)) == "undecided here"


def test_missing_records_are_not_testable():
    table, values = claims_table({})
    assert set(table.verdict) <= {"not testable here", "shown, not a test"} and values["n_fails_here"] == 0
    assert (table["this build"] == "not recorded").sum() == 5


def _class_count_record(
    lgm_by_count: dict[int, tuple[float, float]], tabicl_adequate: bool = True, n_syn: int = 3, gate_logreg=0.45
) -> dict:
    """A class-count record: per class count, two subsets (one for 'all'); pixel LGM at the given
    (TabICL, nearest mean) accuracies over ``n_syn`` distillations (logistic regression ``gate_logreg``), random 0.3
    over 20 draws, centroid 0.4, class means 0.5 under both, every accuracy on 2,000 test rows."""

    def entry(v, one_nn=None, n=1, std=0.0, logreg=0.3):
        e = {ev: {"mean": v[i], "std": std, "n": n} for i, ev in enumerate(("tabicl", "nearest_mean"))}
        e["one_nn"] = {"mean": one_nn if one_nn is not None else v[1], "std": std, "n": n}
        e["logreg"] = {"mean": logreg, "std": std, "n": n}
        return {"1": e}

    results = {}
    for n, acc in lgm_by_count.items():
        for label in [f"{n}-first", f"{n}-last"] if n < 10 else ["all"]:
            res = {"random": entry((0.3, 0.3), None if tabicl_adequate else 0.9, 20, 0.02),
                   "nearest_centroid": entry((0.4, 0.4)), "class_mean": entry((0.5, 0.5)),
                   "pixel_lgm": entry(acc, n=n_syn, std=0.01, logreg=gate_logreg)}  # fmt: skip
            results[label] = {"classes": [str(c) for c in range(n)], "results": res}
    return {"results": results, "provenance": {"tabicl_weights": "mini", "settings": {"n_test": 2000}}}


def test_class_count_claim_follows_its_rule():
    from icl_support.evaluation.records import class_count_benefit

    def verdict(lgm_by_count):
        table, values = claims_table({"class_count": _class_count_record(lgm_by_count)})
        return table[table.claim.str.startswith("more classes")].verdict.item(), values

    v, values = verdict({2: (0.30, 0.30), 5: (0.35, 0.36), 10: (0.45, 0.50)})  # benefit -0.1 -> +0.05 / +0.1
    assert v == "holds here" and values["claim_classes_pixel_lgm_nearest_mean_10"] == 0.5 - 0.4
    assert values["claim_classes_pixel_lgm_tabicl_2"] == 0.30 - 0.4 and values["claim_classes_counts"] == "2, 5, 10"
    assert verdict({2: (0.30, 0.30), 10: (0.45, 0.31)})[0] == "holds in part here"  # grows under TabICL only
    assert verdict({2: (0.50, 0.50), 10: (0.45, 0.31)})[0] == "fails here"
    assert verdict({2: (0.30, 0.30), 10: (0.31, 0.31)})[0] == "undecided here"  # +0.01: within its interval
    one = claims_table({"class_count": _class_count_record({2: (0.3, 0.3), 10: (0.45, 0.5)}, n_syn=1)})[0]
    assert row(one, "more classes")["verdict"] == "undecided here"  # one distillation per subset: no verdict
    short = claims_table({"class_count": _class_count_record({2: (0.3, 0.3), 10: (0.45, 0.5)}, gate_logreg=0.2)})
    assert row(short[0], "more classes")["verdict"] == "distillation too short here to judge"
    bench = class_count_benefit(_class_count_record({2: (0.3, 0.3), 10: (0.6, 0.6)}))
    assert bench.loc[("pixel_lgm", "tabicl", 2), "benefit"] == 0.3 - 0.4 and len(bench) == 4


def test_images_goal_follows_its_rule_for_every_synthetic_kind():
    """Any synthetic image kind (anchored LGM included) that beats centroid and random under TabICL and the
    nearest class mean is named, and meets the goal only within 2 points of the class-mean rows under both."""
    from icl_support.chapters.claims_evidence import images_table

    def entry(tabicl, ncm):
        return {"1": {"tabicl": {"mean": tabicl, "std": 0.0}, "nearest_mean": {"mean": ncm, "std": 0.0, "n": 1}}}

    rec = {"results": {
        "random": entry(0.15, 0.25), "nearest_centroid": entry(0.16, 0.42), "class_mean": entry(0.20, 0.54),
        "pixel_lgm": entry(0.11, 0.22), "pixel_lgm_anchored@3": entry(0.19, 0.53),
        "tabicl_pixels_anchored@3": entry(0.30, 0.45),
    }, "provenance": {"tabicl_weights": "mini"}}  # fmt: skip
    _, values = images_table(rec)
    assert values["images_beat_text"] == "pixel_lgm_anchored@3, tabicl_pixels_anchored@3"
    assert values["images_goal_text"] == "met by pixel_lgm_anchored@3"
    closest = "pixel_lgm_anchored@3 (-0.010 under TabICL-mini, -0.010 under nearest class mean)"
    assert values["images_closest_text"] == closest
    rec["results"]["pixel_lgm_anchored@3"] = entry(0.19, 0.51)  # 3 points short under the nearest mean
    assert images_table(rec)[1]["images_goal_text"].startswith("not met")
    assert values["images_anchors_text"] == "none" and values["images_distill_seeds"] == 1
    rec["provenance"].update(anchors=[1.0, 3.0, 10.0], settings={"selection_seeds": 20, "distill_seeds": 3})
    _, values = images_table(rec)
    assert values["images_anchors_text"] == "1, 3 and 10" and values["images_random_draws"] == 20
    assert values["images_distill_seeds"] == 3


def test_class_count_tabicl_judges_only_when_adequate():
    growing_under_tabicl_only = {2: (0.30, 0.30), 10: (0.45, 0.31)}
    table, values = claims_table({"class_count": _class_count_record(growing_under_tabicl_only, False)})
    # TabICL alone sees growth; the nearest class mean's +0.01 is within its interval: undecided, never "holds"
    assert row(table, "more classes")["verdict"] == "undecided here" and values["claim_classes_adequacy"] < 0.85


def test_confounds_table_names_each_difference_and_where_it_was_measured():
    from icl_support.chapters.claims_evidence import confounds_table

    table = confounds_table(load_records("results"))
    assert {"confound", "measured in", "effect"} == set(table.columns)
    assert table.confound.str.contains("DINOv2").any() and table.confound.str.contains("224 px").any()
    measured = table[table["measured in"].str.startswith("cifar10")]
    assert len(measured) >= 4 and measured.effect.str.contains(r"\d\.\d{3}").all()
    assert (table[table["measured in"].str.startswith("not measured")].effect != "").all()
    empty = confounds_table({})  # nothing recorded: still every confound, each saying so
    assert len(empty) >= 5 and not empty["measured in"].str.startswith("cifar10").any()


def _side_record(tabicl, one_nn, ncm, side):
    rec = _images_record(tabicl=tabicl, one_nn=one_nn, ncm=ncm)
    for entry in rec["results"].values():
        entry["1"]["linear_probe"] = dict(entry["1"]["nearest_mean"])
    rec["provenance"].update(wall_time_s=7200.0, settings={**SETTINGS, "lgm_image_size": side})
    return rec


def test_image_sides_are_judged_each_by_the_claims_rule_and_224_px_judges_the_claim():
    from icl_support.chapters import image_side

    # 64 px: synthetic behind the centroid under the peers; 224 px: the write-up's order under the peers.
    # TabICL reads random rows at 0.3 of 1-NN at both sides: too weak, so the peers carry each side's verdict.
    sides = {
        "64": _side_record(tabicl=(0.2, 0.2, 0.15), one_nn=0.5, ncm=(0.30, 0.40, 0.25), side=0),
        "224": _side_record(tabicl=(0.2, 0.2, 0.15), one_nn=0.5, ncm=(0.50, 0.40, 0.25), side=224),
    }
    rules, values = image_side.side_verdicts(sides)
    assert values["side64_verdict"] == "fails here" and values["side224_verdict"] == "holds here"
    assert values["side64_verdict_tabicl"] == values["side224_verdict_tabicl"] == "learner too weak here to judge"
    assert (
        abs(values["side64_gap_nearest_mean"] + 0.10) < 1e-12 and abs(values["side224_gap_nearest_mean"] - 0.10) < 1e-12
    )
    assert rules.loc["nearest class mean", "224 px"] == "holds here"
    sides["224"]["results"]["pixel_lgm"]["1"]["build_seconds"] = {"mean": 1800.0, "std": 0.0, "n": 3}
    means, mvalues = image_side.side_table(sides)
    assert means.loc["pixel LGM image", ("nearest class mean", "224 px")] == 0.5 and mvalues["side224_hours"] == 2.0
    assert mvalues["side224_lgm_hours"] == 1.5 and mvalues["side64_lgm_hours"] == 0.0  # the images' own CPU time
    # TabICL's column names the weights the records were made with
    assert list(means.columns[:3]) == [("contexts", ""), ("TabICL-mini", "64 px"), ("TabICL-mini", "224 px")]
    assert mvalues["side64_pixel_lgm_logreg"] == 0.30  # glued for every evaluator, shown for three
    # the claims table judges the ordering on the 224 px record and names the 64 px twin's verdict beside it
    table, cvalues = claims_table({"side_64": sides["64"], "side_224": sides["224"]})
    ordering = row(table, "synthetic > centroid")
    assert ordering["verdict"] == "holds here" and cvalues["claim_k1_side"] == 224
    assert cvalues["claim_k1_twin_verdict"] == "fails here"
    assert cvalues["claim_k1_learner_text"].startswith("below the gate")  # adequacy 0.3: the page says so
    able = _side_record(tabicl=(0.5, 0.5, 0.5), one_nn=0.5, ncm=(0.50, 0.40, 0.25), side=224)
    assert claims_table({"side_224": able})[1]["claim_k1_learner_text"].startswith("at or above the gate")
    assert "64 px, LGM 200 steps with K = 2, 3 distillations: fails here" in ordering["this build"]
    confounds = claims_evidence.confounds_table(
        {"side_64": sides["64"], "side_224": sides["224"]}, results_dir="/nonexistent"
    )
    side_row = confounds[confounds["measured in"].str.contains("side-224")].iloc[0]
    assert "nearest class mean -0.100 at 64 px, +0.100 at 224 px" in side_row["effect"]
    assert "TabICL +0.000 at 64 px, +0.000 at 224 px" in side_row["effect"]
    # the twins made with different TabICL checkpoints: TabICL's gaps are not set side by side, the peers' still are
    other = copy.deepcopy(sides["224"])
    other["provenance"]["tabicl_checkpoint_sha256"] = "0" * 64
    mixed = claims_evidence.confounds_table({"side_64": sides["64"], "side_224": other}, results_dir="/nonexistent")
    effect = mixed[mixed["measured in"].str.contains("side-224")].iloc[0]["effect"]
    assert "TabICL left out: the records were made with different TabICL weights" in effect
    same_name, _ = image_side.side_table({"64": sides["64"], "224": other})  # one name, another checkpoint
    assert same_name.columns[1][0].startswith("TabICL (64 px: TabICL-mini, sha256 ")
    assert "; 224 px: TabICL-mini, sha256 00000000)" in same_name.columns[1][0]
    other["provenance"]["tabicl_weights"] = "mini-w64"
    mixed_means, _ = image_side.side_table({"64": sides["64"], "224": other})
    assert mixed_means.columns[1][0] == "TabICL (64 px: TabICL-mini; 224 px: TabICL (mini-w64 weights))"
    assert "nearest class mean -0.100 at 64 px, +0.100 at 224 px" in effect and "TabICL +0.000" not in effect


def test_image_side_placeholders_cover_every_value_the_page_reads():
    import json
    import re

    from icl_support.chapters import image_side

    nb = json.loads(Path("nbs/04b_claims.ipynb").read_text())
    prose = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    read = set(re.findall(r"\{glue:text\}`(side[^`:]+)", prose))
    assert read and read <= set(image_side.not_recorded())


def _shift_record(syn_clean, syn_shift, n_syn=3, gate=0.30, one_nn=0.5):
    """A shift record: random 0.25 / centroid 0.40 under the nearest class mean on clean and shifted test images, the
    synthetic images at ``syn_clean`` / ``syn_shift`` over ``n_syn`` distillations, logistic regression (the gate's
    stand-in) ``gate`` for them against 0.2 for random images; TabICL reads random rows at 0.3 / ``one_nn``."""

    def cell(ncm, n, std, lr, tabicl=0.3):
        e = {"nearest_mean": ncm, "logreg": lr, "tabicl": tabicl, "one_nn": one_nn}
        return {ev: {"mean": m, "std": std, "n": n, "n_test": 2000} for ev, m in e.items()}

    def strategy(clean, shifted, n, std, lr):
        per = {"clean": {"0": cell(clean, n, std, lr)}}
        per.update({c: {"3": cell(shifted, n, std, lr)} for c in ("gaussian_noise", "contrast")})
        return per

    results = {
        "random": strategy(0.25, 0.20, 5, 0.02, 0.20),
        "centroid": strategy(0.40, 0.30, 1, 0.0, 0.30),
        "class_mean": strategy(0.50, 0.40, 1, 0.0, 0.40),
        "distilled": strategy(syn_clean, syn_shift, n_syn, 0.01, gate),
    }
    return {"results": results, "provenance": {"tabicl_weights": "mini", "settings": {"n_test": 2000}}}


def test_shift_claim_follows_its_rule():
    """The change of the synthetic images' margin under shift, with its interval: hold, fail, undecided, and the two
    gates (distillations, the distillation gate) before any verdict."""

    def verdict(*args, **kw):
        table, values = claims_table({"shift": _shift_record(*args, **kw)})
        return row(table, "distribution shift")["verdict"], values

    v, values = verdict(0.35, 0.35)  # margin -0.05 clean, +0.05 under shift: grows by 0.10
    assert v == "holds here" and values["claim_shift_change"] == pytest.approx(0.10)
    assert values["claim_shift_change_low"] > 0 and values["claim_shift_evaluator"] == "nearest class mean"
    assert verdict(0.45, 0.25)[0] == "fails here"  # +0.05 clean, -0.05 under shift
    assert verdict(0.40, 0.30)[0] == "undecided here"  # 0.00 and 0.00: no change
    assert verdict(0.35, 0.35, n_syn=1)[0] == "undecided here"  # one distillation: no verdict
    v, values = verdict(0.35, 0.35, gate=0.15)  # behind random images under their objective's stand-in
    assert v == "distillation too short here to judge" and "0.150 against 0.200" in values["claim_shift_gate"]
