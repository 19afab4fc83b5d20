"""The rules that turn recorded numbers into a verdict on a claim: stated once, tested on made-up records.

Verdict words carry their scope: a verdict is about *this* build's setting (the offline backbone, the image side,
PCA, TabICL-mini), never about the released TabICL and DINOv2.

``holds here`` / ``fails here`` / ``undecided here``  the rule's outcome on the recorded numbers
``not testable here``                                 the claim needs what this machine lacks
``learner too weak here to judge``                   a TabICL verdict where TabICL-mini reads the contexts far
                                                      worse than 1-NN on the same rows (:data:`ADEQUACY_BAR`)
``distillation too short here to judge``             a verdict about synthetic images that do not beat random
                                                      real images under their own objective (:func:`distillation_gate`)

Rules (every interval from :mod:`icl_support.evaluation.statistics`: Student's t at the estimates' degrees of
freedom, each estimate's SE its spread over contexts and its test-set binomial error in quadrature; no fixed
floors, no 1.96):

* :func:`trend_verdict` (a quantity grows with a size): the weighted least-squares slope of the means against
  log10(size), weights 1 / SE^2, its 95% interval from the residual scatter at k - 2 degrees of freedom.
  ``holds here`` when the interval lies above 0 and no step between successive sizes falls (its 95% interval
  below 0); ``holds in part here`` when it lies above 0 but such a fall exists; ``fails here`` when it lies below 0;
  ``undecided here`` otherwise.
* :func:`order_verdict` (a > b > c): each adjacent pair is *ahead* when the 95% interval of the difference of
  means lies above 0, *behind* when below, *tied* otherwise. ``holds here`` when every pair is ahead, ``fails
  here`` when any pair is behind, ``undecided here`` otherwise; and ``undecided here`` whatever the means when a
  synthetic context has fewer than :data:`MIN_DISTILLATIONS` independent distillations.
* :func:`change_verdict` (an effect is positive, e.g. the synthetic images' benefit grows): ``holds here`` when
  its 95% interval lies above 0, ``fails here`` when below, ``undecided here`` when it spans 0.
* :func:`distillation_gate` (like the learner gate): a verdict about synthetic images is given only when they beat
  random real images under the objective they were distilled for (LGM's linear probe where recorded, else
  logistic regression on the same rows), the difference's 95% interval above 0; otherwise
  :data:`TOO_SHORT`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .statistics import Estimate, Interval, difference, trend

HOLDS, FAILS, UNDECIDED, PARTLY = "holds here", "fails here", "undecided here", "holds in part here"
NOT_TESTABLE, TOO_WEAK, SHOWN = "not testable here", "learner too weak here to judge", "shown, not a test"
TOO_SHORT = "distillation too short here to judge"
VERDICTS = (HOLDS, PARTLY, FAILS, UNDECIDED, NOT_TESTABLE, TOO_WEAK, TOO_SHORT, SHOWN)
MIN_DISTILLATIONS = 3
ADEQUACY_BAR = 0.85  # TabICL over 1-NN on the same context rows


def trend_verdict(sizes, estimates: list[Estimate]) -> tuple[str, dict]:
    """Verdict on "grows with size" and its numbers: ``slope`` (accuracy per decade of size), ``low``/``high``
    (95% interval), ``df`` and ``drops`` (successive sizes whose difference's interval lies below 0)."""
    fit = trend(sizes, estimates)
    slope = fit.slope
    order = np.argsort(np.log10(np.asarray(sizes, dtype=float)))
    drops = [
        (float(sizes[order[i]]), float(sizes[order[i + 1]]))
        for i in range(len(order) - 1)
        if difference(estimates[order[i + 1]], estimates[order[i]]).high < 0
    ]
    if slope.low > 0:
        verdict = PARTLY if drops else HOLDS
    elif slope.high < 0:
        verdict = FAILS
    else:
        verdict = UNDECIDED
    return verdict, {"slope": slope.value, "low": slope.low, "high": slope.high, "df": slope.df, "drops": drops}


def pair_outcome(a: Estimate, b: Estimate) -> str:
    """``ahead`` / ``behind`` / ``tied``: a against b, by the 95% interval of the difference."""
    return {1: "ahead", -1: "behind", 0: "tied"}[difference(a, b).sign]


def change_verdict(effect: Interval) -> str:
    """``holds here`` / ``fails here`` / ``undecided here`` on an effect's 95% interval (above / below / across 0)."""
    return {1: HOLDS, -1: FAILS, 0: UNDECIDED}[effect.sign]


def distillation_gate(synthetic: Estimate, random: Estimate) -> tuple[bool, Interval]:
    """Whether synthetic images beat random real images under the objective they were distilled for (the
    difference's 95% interval above 0), and that difference."""
    lead = difference(synthetic, random)
    return lead.sign > 0, lead


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


ORDERING_EVALUATORS = ("tabicl", "tabicl_pool", "tabicl_split", "nearest_mean", "logreg", "linear_probe")
# gated by their own adequacy; never peers. ``tabicl_split`` (columns from the pool) is a secondary verdict only: the
# pool's labels reach it, so it never carries the claim
TABICL_EVALUATORS = ("tabicl", "tabicl_pool", "tabicl_split")


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
    gate: Gate | None = None


@dataclass(frozen=True)
class Gate:
    """The distillation gate's outcome: whether ``synthetic`` beat ``random`` under ``evaluator`` (the objective the
    images were distilled for, or its stand-in), with both estimates and the difference's interval."""

    passed: bool
    evaluator: str
    synthetic: Estimate
    random: Estimate
    lead: Interval

    def text(self, label: str) -> str:
        return (
            f"under {label} the synthetic images score {self.synthetic.mean:.3f} against {self.random.mean:.3f} for "
            f"random real images (difference {self.lead.text()})"
        )


GATE_EVALUATORS = ("linear_probe", "logreg")  # the objective LGM distils for, then its stand-in on the same rows


def gate_of(res: dict, synthetic: str, random: str, n_test: int | None = None) -> Gate | None:
    """:func:`distillation_gate` on one-per-class results ``{context: {evaluator: stats}}`` under the first of
    :data:`GATE_EVALUATORS` recorded for both contexts; ``None`` when neither is."""
    for ev in GATE_EVALUATORS:
        if ev in res.get(synthetic, {}) and ev in res.get(random, {}):
            syn, rnd = Estimate.of(res[synthetic][ev], n_test), Estimate.of(res[random][ev], n_test)
            passed, lead = distillation_gate(syn, rnd)
            return Gate(passed, ev, syn, rnd, lead)
    return None


def judge_ordering(
    res: dict,
    order: tuple[str, ...],
    synthetic: tuple[str, ...],
    reference: str,
    evaluators=ORDERING_EVALUATORS,
    n_test: int | None = None,
) -> OrderJudgement:
    """The ordering rule on one record's one-per-class results ``res`` (``{context: {evaluator: stats}}``): each
    evaluator's :func:`order_verdict` on ``order``; a TabICL evaluator's verdict gated by its adequacy, its accuracy
    over 1-NN's on the ``reference`` contexts (random draws); the claim's verdict gated by the distillation gate
    (the first synthetic context against ``reference``). ``n_test`` fills in records that predate it."""
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
        estimates[ev] = {n: Estimate.of(res[n][ev], n_test) for n in order}
        verdict, info = order_verdict(estimates[ev], list(order), synthetic=synthetic)
        if ev in TABICL_EVALUATORS:
            verdict = gate_by_adequacy(verdict, ratios[ev])
        else:
            peers.append(verdict)
        verdicts[ev], why[ev] = verdict, info["why"]
    tabicl = verdicts.get("tabicl")
    overall = tabicl if tabicl not in (None, TOO_WEAK) else combine(peers)
    gate = gate_of(res, synthetic[0], reference, n_test) if synthetic else None
    if gate is not None and not gate.passed:
        overall = TOO_SHORT
    return OrderJudgement(verdicts, estimates, why, ratios, overall, gate)
