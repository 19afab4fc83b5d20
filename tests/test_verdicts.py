"""The verdict rules on made-up records whose answers are known: holds, fails, undecided, in part, too thin."""

import numpy as np
import pytest

from icl_support.evaluation.statistics import Estimate, Interval
from icl_support.evaluation.verdicts import (
    ADEQUACY_BAR,
    FAILS,
    HOLDS,
    PARTLY,
    TOO_SHORT,
    TOO_WEAK,
    UNDECIDED,
    change_verdict,
    combine,
    distillation_gate,
    gate_by_adequacy,
    gate_of,
    judge_ordering,
    order_verdict,
    trend_verdict,
)

SIZES = [100, 500, 2000, 10000]
SIZES5 = [100, 300, 1000, 3000, 10000]


def est(*means, std=0.01, n=3, n_test=None):
    return [Estimate(m, std, n, n_test) for m in means]


def test_trend_rules():
    assert trend_verdict(SIZES, est(0.40, 0.50, 0.60, 0.70))[0] == HOLDS
    assert trend_verdict(SIZES, est(0.70, 0.60, 0.50, 0.40))[0] == FAILS
    assert trend_verdict(SIZES, est(0.50, 0.52, 0.48, 0.50, std=0.05))[0] == UNDECIDED
    # a clear rise over five sizes, then a fall at the largest beyond the seeds' spread: the trend holds in part
    verdict, info = trend_verdict(SIZES5, est(0.30, 0.40, 0.50, 0.60, 0.57, std=0.005))
    assert verdict == PARTLY and info["drops"] == [(3000.0, 10000.0)]
    assert info["low"] > 0 and info["slope"] > 0
    with pytest.raises(ValueError, match="two distinct sizes"):
        trend_verdict([100, 100], est(0.1, 0.2))


def test_a_single_deterministic_context_is_not_exact():
    """The whole-pool point (one context, std 0) carries its test set's binomial error, not a tiny floor: it must not
    outweigh every other size (the defect of a fixed SE floor, which made this rise read as a flat line)."""
    points = est(0.40, 0.45, 0.50, n_test=2000) + [Estimate(0.47, 0.0, 1, 2000)]
    verdict, info = trend_verdict(SIZES, points)
    assert info["slope"] > 0.02  # a floor of 1e-3 on the last point pulled the slope to about 0.0
    e = Estimate(0.47, 0.0, 1, 2000)
    assert e.se == pytest.approx(np.sqrt(0.47 * 0.53 / 2000))


def test_trend_interval_uses_t_not_1_96():
    _, info = trend_verdict(SIZES, est(0.40, 0.47, 0.49, 0.48, std=0.01, n_test=2000))
    half = (info["high"] - info["low"]) / 2
    assert info["df"] == 2  # 4 sizes, 2 parameters
    # the same fit read with 1.96 would be 4.303 / 1.96 = 2.2 times narrower
    assert half > 2.0 * 1.96 * half / 4.303


def test_order_rules():
    e = {"syn": Estimate(0.40, 0.01, 3), "cen": Estimate(0.35, 0.0, 1, 2000), "rnd": Estimate(0.25, 0.03, 20)}
    assert order_verdict(e, ["syn", "cen", "rnd"], synthetic=("syn",))[0] == HOLDS
    e["syn"] = Estimate(0.20, 0.01, 3)
    verdict, info = order_verdict(e, ["syn", "cen", "rnd"], synthetic=("syn",))
    assert verdict == FAILS and info["pairs"]["syn > cen"] == "behind"
    e["syn"] = Estimate(0.352, 0.02, 3)  # within the spread and the centroid's test-set error
    assert order_verdict(e, ["syn", "cen", "rnd"], synthetic=("syn",))[0] == UNDECIDED
    e["syn"] = Estimate(0.60, 0.0, 1)  # one distillation: no verdict, however large the lead
    verdict, info = order_verdict(e, ["syn", "cen", "rnd"], synthetic=("syn",))
    assert verdict == UNDECIDED and "fewer than 3 distillations" in info["why"]


def test_change_verdict_and_the_distillation_gate():
    assert change_verdict(Interval(0.05, 0.01, 10.0)) == HOLDS
    assert change_verdict(Interval(-0.05, 0.01, 10.0)) == FAILS
    assert change_verdict(Interval(0.03, 0.02, 2.0)) == UNDECIDED  # t(2) = 4.3: the interval spans 0
    assert change_verdict(Interval(0.03, 0.0, 2.0)) == UNDECIDED  # no uncertainty recorded: no verdict
    passed, lead = distillation_gate(Estimate(0.38, 0.01, 3, 1000), Estimate(0.25, 0.03, 20, 1000))
    assert passed and lead.low > 0
    passed, lead = distillation_gate(Estimate(0.17, 0.01, 3, 1000), Estimate(0.30, 0.03, 20, 1000))
    assert not passed and lead.high < 0  # the recorded 224 px, 200-step LGM images against random images


def test_judge_ordering_gives_no_verdict_when_the_distillation_is_too_short():
    def e(m, n=3, s=0.01):
        return {"mean": m, "std": s, "n": n, "n_test": 1000}

    res = {  # the peers see the write-up's order, but the images lose to random ones under their own probe
        "syn": {"nearest_mean": e(0.6), "linear_probe": e(0.15)},
        "cen": {"nearest_mean": e(0.4, 1, 0.0), "linear_probe": e(0.33, 1, 0.0)},
        "rnd": {"nearest_mean": e(0.2, 20), "linear_probe": e(0.25, 20)},
    }
    judged = judge_ordering(res, ("syn", "cen", "rnd"), synthetic=("syn",), reference="rnd")
    assert judged.verdicts["nearest_mean"] == HOLDS and judged.overall == TOO_SHORT
    assert not judged.gate.passed and judged.gate.evaluator == "linear_probe"
    res["syn"]["linear_probe"] = e(0.40)  # distilled far enough: the order's verdict stands
    assert judge_ordering(res, ("syn", "cen", "rnd"), synthetic=("syn",), reference="rnd").overall != TOO_SHORT
    del res["syn"]["linear_probe"]  # no probe: logistic regression stands in; neither recorded: no gate
    assert gate_of(res, "syn", "rnd") is None


def test_adequacy_gate_and_combination():
    assert ADEQUACY_BAR == 0.85
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
