"""Every context strategy at every k rows per class, scored on the same test rows: the sweep of chapters 5-6.

Strategies (``settings.strategies``; empty = every strategy of the registry's sweep,
:mod:`icl_support.contexts.strategies`) at each k in ``settings.ks``; ``full`` (the whole pool) once.
Evaluators (:mod:`icl_support.evaluation.scoring`): TabICL (fit + predict timed, on ``n_tabicl_test``
seeded test rows), logistic regression, nearest class mean and 1-NN. All four read the same rows: context
and test rows reduced by one PCA (``pca_dim``) fitted on the whole real pool. Selection and distillation
work on the raw embeddings. Usage::

    out = run_sweep(run, data)          # {"results": {strategy: {k: {evaluator: {mean, std, n}, ...}}}, ...}
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from ..embedding.image_pool import ImageData
from ..embedding.tables import fit_width_reducer
from ..evaluation.run import Run
from ..evaluation.scoring import EvalEnv, Scorer, stats
from .strategies import BuildInputs, build, get_strategy, sweep_names

SWEEP_EVALUATORS = ("tabicl", "logreg", "nearest_mean", "one_nn")
# TabICL with its column stage reading the labelled pool ("columns from the pool"), scored at every k beside the plain
# mode (its Pareto front is chapter 5's too), where the classes fit the checkpoint's max_classes
SPLIT_EVALUATOR = "tabicl_split"
# scored at one row per class only: TabICL with its preprocessing fitted on the pool (context_stats="pool")
ONE_PER_CLASS_EVALUATORS = ("tabicl_pool",)
SCORED = SWEEP_EVALUATORS + ONE_PER_CLASS_EVALUATORS + (SPLIT_EVALUATOR,)


def split_mode_fits(run: Run, n_classes: int) -> bool:
    """Whether the split mode runs here: ``settings.split_mode``, TabICL on, and at most the checkpoint's
    ``max_classes`` classes (above it only the wrapper's many-class scheme runs, in the plain mode)."""
    from ..model.weights import checkpoint_max_classes

    if not run.settings.split_mode or run.tabicl is None:
        return False
    return n_classes <= checkpoint_max_classes(run.weights.path)


def make_scorer(run: Run, data: ImageData) -> Scorer:
    """Chapter 5's scorer: every evaluator on PCA rows; TabICL on ``n_tabicl_test`` seeded test rows."""
    s = run.settings
    reduce = fit_width_reducer(data.Z_pool, s.pca_dim, s.seed)
    m = s.n_tabicl_test or len(data.y_test)
    tabicl_rows = np.sort(np.random.default_rng(s.seed).permutation(len(data.y_test))[:m])
    env = EvalEnv(seed=s.seed, tabicl=run.tabicl, tabicl_rows=tabicl_rows, context_stats=s.context_stats)
    evaluators = SCORED
    if not split_mode_fits(run, len(np.unique(data.y_pool))):
        evaluators = tuple(e for e in evaluators if e != SPLIT_EVALUATOR)
    return Scorer(evaluators, data.Z_test, data.y_test, env, reduce=reduce, pool=data.Z_pool, pool_labels=data.y_pool)


def score_retrieval(run: Run, scorer: Scorer, data: ImageData, k: int) -> dict | None:
    """TabICL on retrieval contexts (each of its test rows reads its k nearest pool rows of every class), on the
    scorer's rows and test rows, fit + predict timed; ``None`` when TabICL is not run (random weights)."""
    import time

    from .retrieval import RetrievalTabICL
    from .sampler import ContextSampler

    env = scorer.env
    if env.tabicl is None or run.weights.is_random:
        return None
    classes, codes = np.unique(data.y_pool, return_inverse=True)
    rows = env.tabicl_rows if env.tabicl_rows is not None else slice(None)
    entry = {}
    variants = (("tabicl", env.context_stats, "context"),) + ((("tabicl_pool", "pool", "context"),) if k == 1 else ())
    if any(ev.name == SPLIT_EVALUATOR for ev in scorer.evaluators):
        variants += ((SPLIT_EVALUATOR, "pool", "pool"),)  # retrieval through the cached pool representations
    for name, stats_, columns in variants:
        start = time.perf_counter()
        sampler = ContextSampler("retrieval", per_class=k)
        model = RetrievalTabICL(env.tabicl(env.seed), sampler, stats_, column_context=columns)
        pred = classes[model.fit(env.pool, codes).predict(scorer.Z_test_reduced[rows])]  # env.pool: the reduced pool
        entry[name] = stats([float((pred == scorer.y_test[rows]).mean())], n_test=len(pred))
        entry[f"{name}_seconds"] = stats([time.perf_counter() - start])
    entry["build_seconds"] = stats([0.0])
    entry["rows"] = int(k * len(classes))
    return entry


def run_sweep(run: Run, data: ImageData, progress: bool = True) -> dict:
    """``{"results": {strategy: {k: {evaluator: {mean, std, n}, tabicl_seconds, build_seconds, rows}}},
    "skipped": {strategy: {k: reason}}, "contexts": {(strategy, k): first context}, "images", "scorer",
    "weights"}``.

    ``full`` is stored under the key ``"all"``. Accuracies are fractions of the test rows.
    """
    s = run.settings
    scorer = make_scorer(run, data)
    inputs = BuildInputs(run, data, pca=scorer.reduce.pca)
    results: dict = {}
    skipped: dict = {}
    first: dict = {}
    images: dict = {}
    names = sweep_names(s.strategies)
    jobs = [(n, k) for n in names if n != "full" for k in s.ks] + [("full", 0)] * ("full" in names)
    for name, k in tqdm(jobs, desc="strategies x k", disable=not progress):
        if get_strategy(name).per_query:
            entry = score_retrieval(run, scorer, data, k)
            if entry is None:
                skipped.setdefault(name, {})[str(k)] = "not run: TabICL has random weights or is off"
            else:
                results.setdefault(name, {})[str(k)] = entry
            continue
        built = build(name, inputs, k or 1)
        key = "all" if name == "full" else str(k)
        if not built.contexts:
            skipped.setdefault(name, {})[key] = built.note
            continue
        skip = () if k == 1 else ONE_PER_CLASS_EVALUATORS
        scores = [scorer(ctx.X, ctx.y, skip=skip) for ctx in built.contexts]
        entry = {ev: stats([sc[ev] for sc in scores], n_test=scorer.n_test(ev)) for ev in SCORED if ev in scores[0]}
        entry["tabicl_seconds"] = stats([sc["tabicl_seconds"] for sc in scores])
        if f"{SPLIT_EVALUATOR}_seconds" in scores[0]:
            entry[f"{SPLIT_EVALUATOR}_seconds"] = stats([sc[f"{SPLIT_EVALUATOR}_seconds"] for sc in scores])
        entry["build_seconds"] = stats(built.seconds)
        entry["rows"] = int(len(built.contexts[0].y))
        results.setdefault(name, {})[key] = entry
        first[(name, key)] = built.contexts[0]
        if built.images is not None:
            images[(name, key)] = built.images
    return {
        "results": results,
        "skipped": skipped,
        "tabicl_test_rows": int(len(scorer.env.tabicl_rows)),
        "contexts": first,
        "images": images,
        "scorer": scorer,
        "weights": run.weights,
        "evaluators": SWEEP_EVALUATORS,
    }
