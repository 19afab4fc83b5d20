"""The statistics behind every verdict, checked by simulation: over 4,000 simulated record sets with a known true
difference or slope, the 95% intervals cover it 93-97% of the time, and a known-zero effect is called positive or
negative each under 5% of the time.

The simulated records are made the way the real ones are: every context of a cell is scored on one test set of
``n_test`` rows, so the cell shares one binomial test-set error, and contexts (seeds, draws, distillations) differ
by their own spread. A rule that drops either source (a fixed SE floor, the larger of the two instead of both),
uses 1.96 where t applies, or weights the single whole-pool context as if exact, fails these tests.
"""

import math

import numpy as np
import pytest

from icl_support.evaluation.statistics import (
    Estimate,
    Interval,
    average,
    difference,
    paired_difference,
    t_quantile,
    trend,
)

N_TEST = 1000
SIMS = 4000  # Monte-Carlo error of a coverage near 95%: 0.35 points


def _cell(rng, p: float, n: int, sigma: float) -> Estimate:
    """A recorded cell: n contexts around accuracy p (spread sigma), all scored on one test set of N_TEST rows."""
    shared = rng.binomial(N_TEST, p) / N_TEST - p  # the one test set's error, shared by the cell's contexts
    acc = p + shared + rng.normal(0.0, sigma, n)
    return Estimate(float(acc.mean()), float(acc.std(ddof=1)) if n > 1 else 0.0, n, N_TEST)


def _rates(intervals, truth):
    cover = np.mean([i.low <= truth <= i.high for i in intervals])
    above = np.mean([i.low > 0 for i in intervals])
    below = np.mean([i.high < 0 for i in intervals])
    return cover, above, below


@pytest.mark.parametrize(
    "pa, pb, na, nb, sa, sb",
    [
        (0.40, 0.40, 3, 1, 0.03, 0.0),  # 3 distillations against the deterministic centroid image: a zero effect
        (0.40, 0.40, 3, 20, 0.03, 0.03),  # 3 distillations against 20 random draws: a zero effect
        (0.35, 0.30, 3, 20, 0.05, 0.04),  # a real difference of 0.05, distillations spread widely: Welch-Satterthwaite
        # at about 2.6 degrees of freedom is slightly liberal here (93.4% over 10,000 simulations)
        (0.30, 0.30, 1, 1, 0.0, 0.0),  # two deterministic contexts: only the test sets' errors
    ],
)
def test_difference_intervals_cover_the_truth(pa, pb, na, nb, sa, sb):
    rng = np.random.default_rng(0)
    diffs = [difference(_cell(rng, pa, na, sa), _cell(rng, pb, nb, sb)) for _ in range(SIMS)]
    cover, above, below = _rates(diffs, pa - pb)
    assert 0.93 <= cover <= 0.97, cover
    if pa == pb:
        assert above < 0.05 and below < 0.05, (above, below)


SIZES = [100, 300, 1000, 3000, 10000]


@pytest.mark.parametrize("slope, n, sigma", [(0.03, 3, 0.02), (0.0, 3, 0.02), (0.0, 5, 0.01), (0.03, 3, 0.0)])
def test_trend_intervals_cover_the_true_slope(slope, n, sigma):
    """Five sizes, n seeds each, the largest size one deterministic context (the whole pool)."""
    rng = np.random.default_rng(1)
    fits = []
    for _ in range(SIMS):
        cells = [
            _cell(rng, 0.4 + slope * math.log10(s / 100), 1 if s == SIZES[-1] else n, 0.0 if s == SIZES[-1] else sigma)
            for s in SIZES
        ]
        fits.append(trend(SIZES, cells).slope)
    cover, above, below = _rates(fits, slope)
    assert 0.93 <= cover <= 0.97, cover
    if slope == 0:
        assert above < 0.05 and below < 0.05, (above, below)


def test_the_larger_of_the_two_errors_would_undercover():
    """Why the errors add: with the spread and the test-set error alike, taking the larger covers far less than 95%."""
    rng = np.random.default_rng(2)
    cells = [_cell(rng, 0.4, 3, 0.03) for _ in range(SIMS)]
    larger = [Interval(c.mean, max(c.spread_se, c.binomial_se), c.df) for c in cells]
    assert np.mean([i.low <= 0.4 <= i.high for i in larger]) < 0.93
    assert 0.93 <= np.mean([c.interval.low <= 0.4 <= c.interval.high for c in cells]) <= 0.97


def test_estimates_and_intervals():
    e = Estimate(0.3, 0.03, 3, 1000)
    assert e.binomial_se == pytest.approx(math.sqrt(0.3 * 0.7 / 1000))
    assert e.se == pytest.approx(math.hypot(0.03 / math.sqrt(3), e.binomial_se))
    assert 2 < e.df < math.inf  # Welch-Satterthwaite between the spread's 2 and the binomial's infinity
    assert Estimate(0.3, 0.0, 1, 1000).df == math.inf  # one deterministic context: the test set's error only
    assert not Estimate(0.3, 0.0, 1).interval.known  # no spread, no test size: no interval, and it says so
    assert "no interval" in Estimate(0.3, 0.0, 1).interval.text()
    assert t_quantile(2) == pytest.approx(4.303, abs=1e-3) and t_quantile(math.inf) == pytest.approx(1.960, abs=1e-3)
    # a record written before n_test: population std converted to the sample std, n_test from the caller
    legacy = Estimate.of({"mean": 0.5, "std": 0.1, "n": 4}, n_test=200)
    assert legacy.std == pytest.approx(0.1 * math.sqrt(4 / 3)) and legacy.n_test == 200
    assert Estimate.of({"mean": 0.5, "std": 0.1, "n": 4, "n_test": 500}).std == 0.1  # already ddof 1
    both = average([Interval(0.1, 0.02, math.inf), Interval(0.3, 0.02, math.inf)])
    assert both.value == pytest.approx(0.2) and both.se == pytest.approx(0.02 / math.sqrt(2))
    same = average([Interval(0.1, 0.02, 5.0), Interval(0.3, 0.04, 9.0)], correlated=True)
    assert same.se == pytest.approx(0.03) and same.df == 5.0
    with pytest.raises(ValueError, match="without uncertainty"):
        trend([10, 100], [Estimate(0.1, 0.0, 1), Estimate(0.2, 0.0, 1)])
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile(0)


def test_records_hold_the_sample_std_and_their_test_size():
    from icl_support.evaluation.scoring import stats

    rec = stats([0.1, 0.2, 0.3], n_test=500)
    assert rec == {
        "mean": pytest.approx(0.2),
        "std": pytest.approx(0.1),
        "n": 3,
        "n_test": 500,
    }  # ddof 1 (0.082 ddof 0)
    assert stats([0.4])["std"] == 0.0 and "n_test" not in stats([0.4])


@pytest.mark.parametrize("p11, p10, p01", [(0.40, 0.05, 0.08), (0.45, 0.06, 0.06), (0.2, 0.15, 0.05)])
def test_paired_difference_covers_the_truth_and_is_narrower_than_unpaired(p11, p10, p01):
    """Two classifiers on the same 500 test rows, rows drawn from a joint law of (a right, b right): the paired
    interval covers p10 - p01 93-97% of the time, and it is narrower than the unpaired one (the rows both get right
    or both get wrong carry no information about the gap)."""
    rng = np.random.default_rng(2)
    probs = [p11, p10, p01, 1 - p11 - p10 - p01]
    outcomes = np.array([[1, 1], [1, 0], [0, 1], [0, 0]], dtype=bool)
    paired, widths = [], []
    for _ in range(SIMS):
        ab = outcomes[rng.choice(4, size=500, p=probs)]
        d = paired_difference(ab[:, 0], ab[:, 1])
        unpaired = difference(Estimate(ab[:, 0].mean(), 0.0, 1, 500), Estimate(ab[:, 1].mean(), 0.0, 1, 500))
        paired.append(d)
        widths.append(d.half_width / unpaired.half_width)
    cover, _, _ = _rates(paired, p10 - p01)
    assert 0.93 <= cover <= 0.97, cover
    assert np.mean(widths) < 0.9
    with pytest.raises(ValueError, match="correctness vectors"):
        paired_difference([True, False], [True])
