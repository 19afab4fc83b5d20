"""The claims page: verdicts follow their stated rules from the recorded numbers, and missing records say so."""

import copy
import json
from pathlib import Path

from icl_support.chapters.claims import claims_table, load_records


def test_recorded_claims_and_their_rules():
    records = load_records("results")
    table, values = claims_table(records)
    assert set(records) == {"context", "timing", "one_per_class", "shift", "lgm_rows", "images"}
    assert values["n_claims"] == len(table)
    k1 = json.loads(Path("results/cifar10-k1-mini.json").read_text())["results"]
    for ev in ("tabicl", "nearest_mean", "logreg"):
        acc = {n: k1[n]["1"][ev]["mean"] for n in ("pixel_lgm", "nearest_centroid", "random")}
        ordered = acc["pixel_lgm"] > acc["nearest_centroid"] > acc["random"]
        row = table[
            table.claim.str.contains("synthetic > centroid > random")
            & table["this build"].str.contains(
                {"tabicl": "TabICL-mini", "nearest_mean": "nearest class mean", "logreg": "logistic regression"}[ev]
            )
        ]
        assert row.verdict.tolist() == ["holds" if ordered else "fails"]
    timing = json.loads(Path("results/cifar10-ch2-local.json").read_text())
    crossover = timing["cost_model"]["linear"] / timing["cost_model"]["quadratic"]
    assert values["claim_time_crossover"] == crossover
    assert values["claim_time_verdict"] == ("partly" if crossover > 10_000 else "holds")


def test_an_ordering_that_holds_is_called_so(tmp_path):
    records = load_records("results")
    flipped = copy.deepcopy(records)
    res = flipped["one_per_class"]["results"]
    for ev in ("tabicl", "nearest_mean", "logreg"):
        res["pixel_lgm"]["1"][ev]["mean"], res["nearest_centroid"]["1"][ev]["mean"] = 0.9, 0.5
        res["random"]["1"][ev]["mean"] = 0.2
    table, values = claims_table(flipped)
    assert values["claim_k1_verdict_text"] == "holds under every evaluator"
    assert (table[table.claim.str.contains("synthetic > centroid > random")].verdict == "holds").all()


def test_missing_records_are_not_testable():
    table, values = claims_table({})
    assert set(table.verdict) <= {"not testable here", "shown, not a test"} and values["n_fails"] == 0
    assert (table["this build"] == "not recorded").sum() == 4
