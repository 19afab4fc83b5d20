"""The rules that turn recorded numbers into a verdict on a claim: stated once, tested on made-up records.

Verdict words carry their scope: a verdict is about *this* build's setting (the offline backbone, the image side,
PCA, TabICL-mini), never about the released TabICL and DINOv2.

``holds here`` / ``fails here`` / ``undecided here``  the rule's outcome on the recorded numbers
``not testable here``                                 the claim needs what this machine lacks
``learner too weak here to judge``                   a TabICL verdict where TabICL-mini reads the contexts far
                                                      worse than 1-NN on the same rows (:data:`ADEQUACY_BAR`)

Rules:

* :func:`trend_verdict` (a quantity grows with a size): the weighted least-squares slope of the means against
  log10(size), weights 1 / SE^2 with SE = std / sqrt(n) (floored), its 95% interval from the larger of the model
  and the residual standard errors. ``holds here`` when the interval lies above 0 and no step between successive
  sizes falls by more than 2 standard errors; ``holds in part here`` when it lies above 0 but such a fall exists;
  ``fails here`` when it lies at or below 0; ``undecided here`` otherwise.
* :func:`order_verdict` (a > b > c): each adjacent pair is *ahead* when the difference of means exceeds 2 standard
  errors of the difference, *behind* when it is below -2, *tied* otherwise. ``holds here`` when every pair is
  ahead, ``fails here`` when any pair is behind, ``undecided here`` otherwise; and ``undecided here`` whatever the
  means when a synthetic context has fewer than :data:`MIN_DISTILLATIONS` independent distillations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOLDS, FAILS, UNDECIDED, PARTLY = "holds here", "fails here", "undecided here", "holds in part here"
NOT_TESTABLE, TOO_WEAK, SHOWN = "not testable here", "learner too weak here to judge", "shown, not a test"
VERDICTS = (HOLDS, PARTLY, FAILS, UNDECIDED, NOT_TESTABLE, TOO_WEAK, SHOWN)
MIN_DISTILLATIONS = 3
ADEQUACY_BAR = 0.85  # TabICL over 1-NN on the same context rows
SE_FLOOR = 1e-3  # a single deterministic context still has a test-set sampling error of this order at least


@dataclass(frozen=True)
class Estimate:
    """A mean accuracy over ``n`` contexts (seeds, draws or distillations) with their standard deviation."""

    mean: float
    std: float
    n: int

    @property
    def se(self) -> float:
        return max(self.std / np.sqrt(max(self.n, 1)), SE_FLOOR)

    @classmethod
    def of(cls, entry: dict) -> Estimate:
        """From a recorded ``{"mean", "std", "n"}`` entry."""
        return cls(float(entry["mean"]), float(entry.get("std", 0.0)), int(entry.get("n", 1)))


def trend_verdict(sizes, estimates: list[Estimate]) -> tuple[str, dict]:
    """Verdict on "grows with size" and its numbers: ``slope`` (accuracy per decade of size), ``low``/``high``
    (95% interval) and ``drops`` (successive sizes with a fall beyond 2 standard errors)."""
    x = np.log10(np.asarray(sizes, dtype=float))
    y = np.array([e.mean for e in estimates])
    se = np.array([e.se for e in estimates])
    if len(x) < 2 or len(np.unique(x)) < 2:
        raise ValueError("a trend needs at least two distinct sizes")
    w = 1.0 / se**2
    xm = np.sum(w * x) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    slope = float(np.sum(w * (x - xm) * (y - np.sum(w * y) / np.sum(w))) / sxx)
    model_se = float(np.sqrt(1.0 / sxx))
    resid = y - (np.sum(w * y) / np.sum(w) + slope * (x - xm))
    dof = len(x) - 2
    resid_se = float(np.sqrt(np.sum(w * resid**2) / dof / sxx)) if dof > 0 else 0.0
    slope_se = max(model_se, resid_se)
    low, high = slope - 1.96 * slope_se, slope + 1.96 * slope_se
    order = np.argsort(x)
    drops = [
        (float(sizes[order[i]]), float(sizes[order[i + 1]]))
        for i in range(len(order) - 1)
        if y[order[i + 1]] - y[order[i]] < -2 * np.hypot(se[order[i]], se[order[i + 1]])
    ]
    if low > 0:
        verdict = PARTLY if drops else HOLDS
    elif high <= 0:
        verdict = FAILS
    else:
        verdict = UNDECIDED
    return verdict, {"slope": slope, "low": low, "high": high, "drops": drops}


def pair_outcome(a: Estimate, b: Estimate) -> str:
    """``ahead`` / ``behind`` / ``tied``: a against b, beyond 2 standard errors of the difference."""
    diff, se = a.mean - b.mean, float(np.hypot(a.se, b.se))
    return "ahead" if diff > 2 * se else "behind" if diff < -2 * se else "tied"


def order_verdict(
    estimates: dict[str, Estimate], order: list[str], synthetic: tuple[str, ...] = ()
) -> tuple[str, dict]:
    """Verdict on ``order[0] > order[1] > ...`` and ``{"pairs": {"a > b": outcome}, "why": text}``; a name in
    ``synthetic`` needs at least :data:`MIN_DISTILLATIONS` contexts (distillations) for any verdict but undecided."""
    pairs = {f"{a} > {b}": pair_outcome(estimates[a], estimates[b]) for a, b in zip(order, order[1:], strict=False)}
    thin = [n for n in synthetic if n in estimates and estimates[n].n < MIN_DISTILLATIONS]
    if thin:
        why = f"{', '.join(thin)}: fewer than {MIN_DISTILLATIONS} distillations"
        return UNDECIDED, {"pairs": pairs, "why": why}
    if all(v == "ahead" for v in pairs.values()):
        verdict = HOLDS
    elif any(v == "behind" for v in pairs.values()):
        verdict = FAILS
    else:
        verdict = UNDECIDED
    why = "; ".join(f"{k}: {v}" for k, v in pairs.items())
    return verdict, {"pairs": pairs, "why": why}


def adequacy(tabicl: float, one_nn: float) -> float:
    """TabICL's accuracy over 1-NN's on the same context rows (NaN when 1-NN scores 0)."""
    return float(tabicl / one_nn) if one_nn > 0 else float("nan")


def gate_by_adequacy(verdict: str, ratio: float) -> str:
    """A TabICL verdict, or :data:`TOO_WEAK` when the learner's adequacy is below :data:`ADEQUACY_BAR`."""
    return TOO_WEAK if not ratio >= ADEQUACY_BAR else verdict


def combine(verdicts: list[str]) -> str:
    """One verdict from the peers' verdicts on the same claim: all hold -> holds, any fails -> fails (the order is
    reversed under that evaluator), else undecided."""
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    if any(v == FAILS for v in verdicts):
        return FAILS
    return UNDECIDED


ORDERING_EVALUATORS = ("tabicl", "tabicl_pool", "nearest_mean", "logreg", "linear_probe")
TABICL_EVALUATORS = ("tabicl", "tabicl_pool")  # gated by their own adequacy; never peers


@dataclass(frozen=True)
class OrderJudgement:
    """:func:`judge_ordering`'s outcome, per evaluator that scored every context of the order: its verdict
    (TabICL's gated), the estimates it read and the rule's reasons; TabICL's adequacy per TabICL evaluator; and the
    claim's verdict (TabICL's where the learner is adequate, else the peers' combined)."""

    verdicts: dict[str, str]
    estimates: dict[str, dict[str, Estimate]]
    why: dict[str, str]
    adequacy: dict[str, float]
    overall: str


def judge_ordering(
    res: dict, order: tuple[str, ...], synthetic: tuple[str, ...], reference: str, evaluators=ORDERING_EVALUATORS
) -> OrderJudgement:
    """The ordering rule on one record's one-per-class results ``res`` (``{context: {evaluator: stats}}``): each
    evaluator's :func:`order_verdict` on ``order``; a TabICL evaluator's verdict gated by its adequacy, its accuracy
    over 1-NN's on the ``reference`` contexts (random draws)."""
    verdicts, estimates, why, ratios, peers = {}, {}, {}, {}, []
    for ev in evaluators:
        if ev in TABICL_EVALUATORS:
            ratios[ev] = (
                adequacy(res[reference][ev]["mean"], res[reference]["one_nn"]["mean"])
                if ev in res[reference]
                else float("nan")
            )
        if not all(ev in res[n] for n in order):
            continue
        estimates[ev] = {n: Estimate.of(res[n][ev]) for n in order}
        verdict, info = order_verdict(estimates[ev], list(order), synthetic=synthetic)
        if ev in TABICL_EVALUATORS:
            verdict = gate_by_adequacy(verdict, ratios[ev])
        else:
            peers.append(verdict)
        verdicts[ev], why[ev] = verdict, info["why"]
    tabicl = verdicts.get("tabicl")
    overall = tabicl if tabicl not in (None, TOO_WEAK) else combine(peers)
    return OrderJudgement(verdicts, estimates, why, ratios, overall)
