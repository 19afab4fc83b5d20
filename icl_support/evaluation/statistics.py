"""Small-sample statistics behind every verdict: estimates with their standard errors and degrees of freedom,
Student-t intervals, differences and trends. One module, so every claim is judged by the same arithmetic.

An accuracy in a record is a mean over ``n`` contexts (seeds, draws or distillations), each scored on the same
``n_test`` test rows. Its uncertainty has two sources, and :class:`Estimate` takes the larger:

* the spread over contexts, ``std / sqrt(n)`` with the sample ``std`` (ddof 1), on ``n - 1`` degrees of freedom;
* the test set's sampling error, binomial ``sqrt(p (1 - p) / n_test)``, a normal approximation (infinite degrees
  of freedom). Every context of a cell is scored on the same test rows, so averaging contexts does not shrink it.
  It is the only error a single deterministic context has (the image nearest each centroid, the whole pool), and
  it keeps such a point from pretending to be exact.

:class:`Estimate` adds the two in quadrature, with Welch-Satterthwaite's degrees of freedom. (Taking the larger
of the two instead under-covers when they are alike: the errors add.) Intervals are Student's t at those degrees
of freedom (``scipy.stats.t``); a difference of two estimates takes Welch-Satterthwaite's degrees of freedom too.
Contexts compared on the *same* test rows share part of the test-set error, so treating the two estimates as
independent is conservative for a difference. A weighted trend (:func:`trend`) weights each size by ``1 / SE^2``
(the points' relative precision), takes its slope's standard error from the residual scatter about that fit, and
reads t at ``k - 2`` degrees of freedom for ``k`` sizes: exact when the SEs are right up to a common factor.
(Widening only, never narrowing, by the scatter covered 99.7% in the simulation: far too wide to decide.)

Records written before 2026-12-04 hold the population std (ddof 0) and no ``n_test``: :meth:`Estimate.of` converts
the std (``std * sqrt(n / (n - 1))``) for an entry without ``n_test`` and takes ``n_test`` from the record's
settings where the caller passes it. Coverage of these intervals is checked by simulation in
``tests/test_statistics.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as st

CONFIDENCE = 0.95  # every interval in the book


def t_quantile(df: float, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t quantile at ``df`` degrees of freedom (the normal one at ``df = inf``)."""
    if not df > 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    q = 0.5 + confidence / 2
    return float(st.norm.ppf(q) if math.isinf(df) else st.t.ppf(q, df))


@dataclass(frozen=True)
class Interval:
    """A quantity with its standard error, degrees of freedom and ``confidence`` interval ``low``..``high`` (NaN
    when the standard error is unknown, i.e. zero: nothing was recorded to estimate it)."""

    value: float
    se: float
    df: float
    confidence: float = CONFIDENCE

    @property
    def known(self) -> bool:
        return self.se > 0 and self.df > 0 and math.isfinite(self.se)

    @property
    def half_width(self) -> float:
        return self.se * t_quantile(self.df, self.confidence) if self.known else float("nan")

    @property
    def low(self) -> float:
        return self.value - self.half_width

    @property
    def high(self) -> float:
        return self.value + self.half_width

    @property
    def sign(self) -> int:
        """+1 when the interval lies above 0, -1 below 0, 0 when it spans 0 or is unknown."""
        return 1 if self.low > 0 else -1 if self.high < 0 else 0

    def text(self, fmt: str = "+.3f") -> str:
        """``+0.027 (95% interval -0.010 to +0.064)``, or the value with "no interval" when it is unknown."""
        if not self.known:
            return f"{self.value:{fmt}} (no interval: no spread or test size recorded)"
        return f"{self.value:{fmt}} ({self.confidence:.0%} interval {self.low:{fmt}} to {self.high:{fmt}})"


@dataclass(frozen=True)
class Estimate:
    """A mean accuracy over ``n`` contexts with their sample std (ddof 1) and, where recorded, ``n_test``."""

    mean: float
    std: float
    n: int
    n_test: int | None = None

    @property
    def spread_se(self) -> float:
        return self.std / math.sqrt(self.n) if self.n > 1 else 0.0

    @property
    def binomial_se(self) -> float:
        if not self.n_test:
            return 0.0
        p = min(max(self.mean, 0.0), 1.0)
        return math.sqrt(p * (1 - p) / self.n_test)

    @property
    def se(self) -> float:
        """The spread over contexts and the test set's binomial error in quadrature (0: unknown)."""
        return math.hypot(self.spread_se, self.binomial_se)

    @property
    def df(self) -> float:
        """Welch-Satterthwaite: ``n - 1`` for the spread's part, infinite for the binomial part."""
        if self.n < 2:
            return math.inf
        return _welch_df([(self.spread_se**2, float(self.n - 1)), (self.binomial_se**2, math.inf)])

    @property
    def interval(self) -> Interval:
        return Interval(self.mean, self.se, self.df)

    @classmethod
    def of(cls, entry: dict, n_test: int | None = None) -> Estimate:
        """From a recorded ``{"mean", "std", "n"[, "n_test"]}`` entry; ``n_test`` fills in a record that predates
        it (whose std is then the population std, converted to ddof 1 here)."""
        n = int(entry.get("n", 1))
        std = float(entry.get("std", 0.0))
        if "n_test" not in entry and n > 1:
            std *= math.sqrt(n / (n - 1))  # recorded with ddof 0 before records carried n_test
        recorded = entry.get("n_test", n_test)
        return cls(float(entry["mean"]), std, n, int(recorded) if recorded else None)


def _welch_df(parts: list[tuple[float, float]]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of independent terms ``(variance, df)``."""
    total = sum(v for v, _ in parts)
    denom = sum(v * v / df for v, df in parts if v > 0 and not math.isinf(df))
    if total <= 0:
        return math.inf
    return total * total / denom if denom > 0 else math.inf


def combine_linear(terms: list[tuple[float, Interval | Estimate]]) -> Interval:
    """``sum(c * x)`` over independent estimates ``x`` with coefficients ``c``: SE in quadrature, Welch's df."""
    parts = [(c, x.interval if isinstance(x, Estimate) else x) for c, x in terms]
    value = sum(c * i.value for c, i in parts)
    var = [((c * i.se) ** 2, i.df) for c, i in parts]
    se = math.sqrt(sum(v for v, _ in var))
    return Interval(value, se, _welch_df(var) if se > 0 else math.inf)


def difference(a: Estimate | Interval, b: Estimate | Interval) -> Interval:
    """``a - b`` with its interval (independent estimates; conservative for contexts scored on the same rows)."""
    return combine_linear([(1.0, a), (-1.0, b)])


def paired_difference(correct_a, correct_b) -> Interval:
    """Accuracy of ``a`` minus accuracy of ``b``, both scored on the *same* test rows (``correct_*``: (n,) booleans,
    row i right or wrong): the mean of the per-row differences (-1, 0 or +1) with its Student-t interval on ``n - 1``
    degrees of freedom. Pairing removes the test set's shared difficulty, so it is narrower than :func:`difference`
    whenever the two classifiers tend to get the same rows right; the interval is unknown (NaN) when they never
    disagree. The t interval is a large-sample one: with only a handful of rows on which the two disagree it can
    cover less than its nominal 95% (an exact McNemar test is then the safer reading)."""
    a, b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"need two (n,) correctness vectors of one length n >= 2, got {a.shape} and {b.shape}")
    d = a - b
    return Interval(float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))), float(len(d) - 1))


def average(items: list[Estimate | Interval], correlated: bool = False) -> Interval:
    """The mean of several estimates: independent ones (SE / k in quadrature) or, ``correlated``, the same contexts
    scored on several test sets (the mean of the SEs, the smallest df: no credit for averaging)."""
    if not items:
        raise ValueError("average of no estimates")
    if not correlated:
        return combine_linear([(1.0 / len(items), x) for x in items])
    ints = [x.interval if isinstance(x, Estimate) else x for x in items]
    return Interval(
        float(np.mean([i.value for i in ints])), float(np.mean([i.se for i in ints])), min(i.df for i in ints)
    )


@dataclass(frozen=True)
class Trend:
    """A weighted least-squares slope of the estimates' means on log10(size): ``slope`` (an :class:`Interval`, per
    tenfold size), the residual scale ``chi2`` (reduced chi-square; > 1 widens the interval) and the sizes used."""

    slope: Interval
    chi2: float
    sizes: tuple[float, ...]


def trend(sizes, estimates: list[Estimate]) -> Trend:
    """The slope of ``estimates`` on log10(``sizes``), weights ``1 / SE^2`` (see the module docstring)."""
    x = np.log10(np.asarray(sizes, dtype=float))
    if len(x) != len(estimates):
        raise ValueError(f"{len(x)} sizes but {len(estimates)} estimates")
    if len(x) < 2 or len(np.unique(x)) < 2:
        raise ValueError("a trend needs at least two distinct sizes")
    se = np.array([e.se for e in estimates])
    if not np.all(se > 0):
        missing = [float(s) for s, e in zip(sizes, se, strict=True) if not e > 0]
        raise ValueError(f"estimates without uncertainty at sizes {missing}: record std over >= 2 contexts or n_test")
    y = np.array([e.mean for e in estimates])
    w = 1.0 / se**2
    xm, ym = np.sum(w * x) / np.sum(w), np.sum(w * y) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    slope = float(np.sum(w * (x - xm) * (y - ym)) / sxx)
    k = len(x)
    if k > 2:
        chi2 = float(np.sum(w * (y - ym - slope * (x - xm)) ** 2) / (k - 2))
        df = float(k - 2)
    else:  # two points: no residual; the points' own degrees of freedom
        chi2, df = 1.0, min(e.df for e in estimates)
    slope_se = float(np.sqrt(chi2 / sxx))
    return Trend(Interval(slope, slope_se, df), chi2, tuple(float(s) for s in sizes))
