"""The verdict rules on made-up records whose answers are known: holds, fails, undecided, in part, too thin."""

import numpy as np
import pytest

from icl_support.evaluation.verdicts import (
    FAILS,
    HOLDS,
    PARTLY,
    TOO_WEAK,
    UNDECIDED,
    Estimate,
    combine,
    gate_by_adequacy,
    order_verdict,
    trend_verdict,
)

SIZES = [100, 500, 2000, 10000]


def est(*means, std=0.01, n=3):
    return [Estimate(m, std, n) for m in means]


def test_trend_rules():
    assert trend_verdict(SIZES, est(0.40, 0.50, 0.60, 0.70))[0] == HOLDS
    assert trend_verdict(SIZES, est(0.70, 0.60, 0.50, 0.40))[0] == FAILS
    assert trend_verdict(SIZES, est(0.50, 0.52, 0.48, 0.50, std=0.05))[0] == UNDECIDED
    # a clear rise, then a fall at the largest size beyond the seeds' spread: the trend holds in part
    verdict, info = trend_verdict(SIZES, est(0.30, 0.45, 0.60, 0.56, std=0.005))
    assert verdict == PARTLY and info["drops"] == [(2000.0, 10000.0)]
    assert info["low"] > 0 and info["slope"] > 0
    with pytest.raises(ValueError, match="two distinct sizes"):
        trend_verdict([100, 100], est(0.1, 0.2))


def test_order_rules():
    e = {"syn": Estimate(0.40, 0.01, 3), "cen": Estimate(0.35, 0.0, 1), "rnd": Estimate(0.25, 0.03, 20)}
    assert order_verdict(e, ["syn", "cen", "rnd"], synthetic=("syn",))[0] == HOLDS
    e["syn"] = Estimate(0.20, 0.01, 3)
    verdict, info = order_verdict(e, ["syn", "cen", "rnd"], synthetic=("syn",))
    assert verdict == FAILS and info["pairs"]["syn > cen"] == "behind"
    e["syn"] = Estimate(0.352, 0.02, 3)  # within the spread of the centroid
    assert order_verdict(e, ["syn", "cen", "rnd"], synthetic=("syn",))[0] == UNDECIDED
    e["syn"] = Estimate(0.60, 0.0, 1)  # one distillation: no verdict, however large the lead
    verdict, info = order_verdict(e, ["syn", "cen", "rnd"], synthetic=("syn",))
    assert verdict == UNDECIDED and "fewer than 3 distillations" in info["why"]


def test_adequacy_gate_and_combination():
    assert gate_by_adequacy(HOLDS, 0.5) == TOO_WEAK and gate_by_adequacy(FAILS, 0.9) == FAILS
    assert gate_by_adequacy(HOLDS, float("nan")) == TOO_WEAK
    assert combine([HOLDS, HOLDS]) == HOLDS and combine([HOLDS, FAILS]) == FAILS
    assert combine([HOLDS, UNDECIDED]) == UNDECIDED and combine([]) == UNDECIDED


def test_a_rise_that_stops_is_not_a_trend():
    """The recorded TabICL-mini shape on CIFAR-10 (a rise from 1% to 5%, then flat): the log-linear fit's residuals
    widen the interval across 0, so one early step cannot carry "holds"."""
    verdict, info = trend_verdict(SIZES, est(0.4085, 0.4738, 0.4875, 0.479, std=0.01))
    assert verdict == UNDECIDED and info["low"] < 0 < info["slope"]


def test_judge_ordering_gates_tabicl_by_its_own_adequacy_and_lets_the_peers_judge():
    from icl_support.evaluation.verdicts import judge_ordering

    def e(m, n=3, s=0.01):
        return {"mean": m, "std": s, "n": n}

    res = {  # TabICL reads random rows at 0.3 / 0.5 = 0.6 of 1-NN: too weak; the nearest class mean sees the order
        "syn": {"tabicl": e(0.6), "nearest_mean": e(0.6)},
        "cen": {"tabicl": e(0.4, 1, 0.0), "nearest_mean": e(0.4, 1, 0.0)},
        "rnd": {"tabicl": e(0.3, 20), "nearest_mean": e(0.2, 20), "one_nn": e(0.5, 20)},
    }
    judged = judge_ordering(res, ("syn", "cen", "rnd"), synthetic=("syn",), reference="rnd")
    assert judged.adequacy["tabicl"] == 0.3 / 0.5 and np.isnan(judged.adequacy["tabicl_pool"])  # not recorded
    assert judged.verdicts == {"tabicl": "learner too weak here to judge", "nearest_mean": "holds here"}
    assert judged.overall == "holds here" and set(judged.estimates) == {"tabicl", "nearest_mean"}
