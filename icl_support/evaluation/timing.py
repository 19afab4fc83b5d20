"""Chapter 2: TabICL inference time vs context size, by stage, with peak memory and a power law.

Stages are timed with forward hooks on TabICL's three modules: column embedding
(``col_embedder``), row interaction (``row_interactor``) and the in-context transformer
(``icl_predictor``); "preprocessing" is the rest of ``fit`` + ``predict`` (the wrapper's numpy
scaling, outlier clipping and ensembling). Usage::

    rows = time_vs_context(table, sizes=(10, 100, 1000), n_test=200, tabicl=factory)
    law = fit_power_law(rows.n_context, rows.predict_s)    # t ~ coef * N ** exponent
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psutil
import torch
from tqdm.auto import tqdm

from ..data.datasets import balanced_subset
from ..embedding.tables import EmbeddingTable

STAGES = {"column": "col_embedder", "row": "row_interactor", "icl": "icl_predictor"}


def _sync(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


# the stages' cached entry points (TabICL's KV/representation caches and the split mode call these, not forward)
CACHED_METHODS = {
    "column": (("col_embedder", "forward_with_cache"), ("col_embedder.tf_col", "forward_with_cache")),
    "icl": (("icl_predictor", "forward_with_cache"), ("icl_predictor", "forward_with_repr_cache")),
}


def _submodule(model: torch.nn.Module, dotted: str):
    for part in dotted.split("."):
        model = getattr(model, part)
    return model


@contextmanager
def stage_timer(model: torch.nn.Module, device: torch.device | None = None):
    """Yield a dict that accumulates wall seconds spent in each of TabICL's stages while active: their ``forward``
    (forward hooks) and their cached entry points (:data:`CACHED_METHODS`, wrapped on the instance while active, so
    the split mode and TabICL's caches are timed too); a stage called within itself counts once."""
    seconds = {stage: 0.0 for stage in STAGES}
    depth = {stage: 0 for stage in STAGES}
    starts: dict[str, float] = {}

    def enter(stage):
        if depth[stage] == 0:
            _sync(device)
            starts[stage] = time.perf_counter()
        depth[stage] += 1

    def leave(stage):
        depth[stage] -= 1
        if depth[stage] == 0:
            _sync(device)
            seconds[stage] += time.perf_counter() - starts.pop(stage)

    handles, wrapped = [], []
    for stage, attr in STAGES.items():
        module = getattr(model, attr)
        handles += [
            module.register_forward_pre_hook(lambda _m, _a, stage=stage: enter(stage)),
            module.register_forward_hook(lambda _m, _a, _o, stage=stage: leave(stage)),
        ]
    for stage, methods in CACHED_METHODS.items():
        for dotted, name in methods:
            owner = _submodule(model, dotted)
            method = getattr(owner, name, None)
            if method is None:
                continue

            def timed(*args, _method=method, _stage=stage, **kwargs):
                enter(_stage)
                try:
                    return _method(*args, **kwargs)
                finally:
                    leave(_stage)

            wrapped.append((owner, name, vars(owner).get(name)))  # an instance attribute already there (a timer)
            setattr(owner, name, timed)
    try:
        yield seconds
    finally:
        for h in handles:
            h.remove()
        for owner, name, before in reversed(wrapped):
            if before is None:
                delattr(owner, name)  # the class's method shows through again
            else:
                setattr(owner, name, before)  # an enclosing timer's wrapper


@contextmanager
def peak_memory(device: torch.device | None = None, interval_s: float = 0.01):
    """Yield a dict whose ``"peak_mb"`` is set on exit: the peak rise of process RSS (CPU) or of
    allocated CUDA memory (GPU) above its level at entry, in MiB."""
    out = {
        "peak_mb": float("nan"),
        "kind": "cuda-allocated" if device is not None and device.type == "cuda" else "cpu-rss",
    }
    if out["kind"] == "cuda-allocated":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        yield out
        out["peak_mb"] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
        return
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            stop.wait(interval_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        peak[0] = max(peak[0], proc.memory_info().rss)
        out["peak_mb"] = (peak[0] - base) / 2**20


def measure_tabicl(make: Callable[[], object], X_ctx, y_ctx, X_test, repeats: int = 1, device=None) -> dict:
    """Fit + predict a fresh classifier ``repeats`` times; report the fastest repeat.

    Keys: ``fit_s``, ``predict_s``, ``total_s``, ``column_s``, ``row_s``, ``icl_s``,
    ``preprocessing_s`` (total minus the three stages) and ``peak_mb``.
    """
    best = None
    for _ in range(repeats):
        clf = make()
        with peak_memory(device) as mem:
            t0 = time.perf_counter()
            clf.fit(X_ctx, y_ctx)
            t1 = time.perf_counter()
            with stage_timer(clf.model_, device) as stages:
                clf.predict_proba(X_test)
            t2 = time.perf_counter()
        rec = {"fit_s": t1 - t0, "predict_s": t2 - t1, "total_s": t2 - t0}
        rec.update({f"{k}_s": v for k, v in stages.items()})
        rec["preprocessing_s"] = rec["total_s"] - sum(stages.values())
        rec["peak_mb"] = mem["peak_mb"]
        if best is None or rec["total_s"] < best["total_s"]:
            best = rec
    return best


def time_vs_context(
    table: EmbeddingTable,
    sizes: Iterable[int],
    *,
    n_test: int,
    tabicl: Callable[[], object],
    repeats: int = 1,
    seed: int = 0,
    device=None,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per context size N: class-balanced contexts from the pool, the same ``n_test`` test rows.

    Sizes larger than the pool raise ``ValueError`` (rows are never repeated to fake a size).
    """
    sizes = sorted(set(int(n) for n in sizes))
    if sizes[-1] > len(table.y_train):
        raise ValueError(f"context size {sizes[-1]} exceeds the train pool ({len(table.y_train)} rows)")
    test_idx = balanced_subset(table.y_test, n_test, seed)
    X_test = table.X_test[test_idx]
    warm = balanced_subset(table.y_train, sizes[0], seed)  # untimed: loads weights, warms kernels
    measure_tabicl(tabicl, table.X_train[warm], table.y_train[warm], X_test[: min(len(X_test), 10)], 1, device)
    rows = []
    for n in tqdm(sizes, desc="context sizes", disable=not progress):
        idx = balanced_subset(table.y_train, n, seed)
        rec = measure_tabicl(tabicl, table.X_train[idx], table.y_train[idx], X_test, repeats, device)
        rows.append({"n_context": n, "n_test": len(test_idx), "n_features": table.X_train.shape[1], **rec})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class PowerLaw:
    """``t = coef * N ** exponent``, fitted by least squares in log-log space."""

    coef: float
    exponent: float
    r2: float  # of the log-log fit

    def __call__(self, n) -> np.ndarray:
        return self.coef * np.asarray(n, dtype=float) ** self.exponent


def fit_power_law(n, t, min_n: float = 0) -> PowerLaw:
    """Fit ``t ~ coef * n**exponent`` to the sizes ``n >= min_n``; needs two distinct positive sizes.

    Fixed costs flatten the curve at small N, so the exponent over the largest sizes (``min_n``)
    is the one that predicts how the cost grows from there.
    """
    n, t = np.asarray(n, dtype=float), np.asarray(t, dtype=float)
    keep = n >= min_n
    n, t = n[keep], t[keep]
    if len(np.unique(n)) < 2 or (n <= 0).any() or (t <= 0).any():
        raise ValueError("a power law needs >= 2 distinct positive sizes and positive times")
    slope, intercept = np.polyfit(np.log(n), np.log(t), 1)
    resid = np.log(t) - (intercept + slope * np.log(n))
    ss_tot = float(np.sum((np.log(t) - np.log(t).mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 1.0
    return PowerLaw(float(np.exp(intercept)), float(slope), r2)


def upper_half(n) -> float:
    """Smallest size of the upper half of the distinct sizes in ``n`` (at least the top two)."""
    sizes = np.unique(np.asarray(n, dtype=float))
    return float(sizes[max(0, min(len(sizes) - 2, len(sizes) // 2))])


@dataclass(frozen=True)
class CostModel:
    """``t = fixed + linear * N + quadratic * N**2`` with non-negative coefficients (seconds)."""

    fixed: float
    linear: float
    quadratic: float

    def __call__(self, n) -> np.ndarray:
        n = np.asarray(n, dtype=float)
        return self.fixed + self.linear * n + self.quadratic * n**2

    @property
    def crossover(self) -> float:
        """Context size where the quadratic term overtakes the linear one (inf if it never does)."""
        return self.linear / self.quadratic if self.quadratic > 0 else float("inf")


def fit_cost_model(n, t) -> CostModel:
    """Non-negative least squares fit of ``t`` to ``1, N, N**2``, each column scaled to unit norm."""
    from scipy.optimize import nnls

    n, t = np.asarray(n, dtype=float), np.asarray(t, dtype=float)
    A = np.stack([np.ones_like(n), n, n**2], axis=1)
    scale = np.linalg.norm(A, axis=0)
    coef, _ = nnls(A / scale, t)
    return CostModel(*(coef / scale))


def kv_cache_comparison(
    table: EmbeddingTable, n_context: int, n_test: int, make: Callable[..., object], seed: int = 0
) -> dict:
    """Default (context re-encoded at every predict) vs fit-once (``kv_cache=True``) on the same rows.

    ``make(**kwargs)`` builds an unfitted classifier. Returns seconds for both paths, the number of
    predicts after which the cache pays off, and the largest probability difference.
    """
    idx = balanced_subset(table.y_train, min(n_context, len(table.y_train)), seed)
    X_test = table.X_test[balanced_subset(table.y_test, n_test, seed)]
    out = {"n_context": len(idx), "n_test": len(X_test)}
    probs = {}
    for mode, kw in (("default", {}), ("kv_cache", {"kv_cache": True})):
        clf = make(**kw)
        t0 = time.perf_counter()
        clf.fit(table.X_train[idx], table.y_train[idx])
        t1 = time.perf_counter()
        probs[mode] = clf.predict_proba(X_test)
        t2 = time.perf_counter()
        out[f"{mode}_fit_s"], out[f"{mode}_predict_s"] = t1 - t0, t2 - t1
    out["max_abs_prob_diff"] = float(np.abs(probs["default"] - probs["kv_cache"]).max())
    saved = out["default_predict_s"] - out["kv_cache_predict_s"]
    extra = out["kv_cache_fit_s"] - out["default_fit_s"]
    out["break_even_predicts"] = float(extra / saved) if saved > 0 else float("inf")
    return out


def stage_split_comparison(
    table: EmbeddingTable,
    weights,
    *,
    per_class: int = 1,
    n_test: int,
    pool_cap: int | None = None,
    repeats: int = 1,
    seed: int = 0,
    device=None,
) -> pd.DataFrame:
    """Seconds by stage of three ways to read the train pool (N rows), on the same ``n_test`` test rows: TabICL on
    the whole pool; TabICL on ``per_class`` balanced rows per class; the split mode on those rows with the columns
    from the pool (a stratified subsample of ``pool_cap`` rows, default the measured cap). ``weights``: a
    :class:`~icl_support.model.weights.TabICLWeights` (one ensemble member everywhere). Fastest of ``repeats``.

    One row per mode: ``context_rows`` (rows the in-context stage reads), ``column_rows`` (rows the column stage's
    inducing points read), ``fit_s``, ``predict_s``, and each stage's seconds in fit (``fit_column_s``,
    ``fit_row_s``: the split mode's cache) and in predict (``column_s``, ``row_s``, ``icl_s``)."""
    from ..model.split_classifier import SplitTabICL
    from ..model.stage_split import POOL_CAP
    from ..model.weights import make_tabicl

    cap = POOL_CAP if pool_cap is None else int(pool_cap)
    X_test = table.X_test[balanced_subset(table.y_test, n_test, seed)]
    n_classes = len(np.unique(table.y_train))
    idx = balanced_subset(table.y_train, per_class * n_classes, seed)
    modes = {
        "whole pool (plain)": (table.X_train, table.y_train, None),
        f"{per_class} per class (plain)": (table.X_train[idx], table.y_train[idx], None),
        f"{per_class} per class, columns from the pool": (table.X_train[idx], table.y_train[idx], table.X_train),
    }
    rows = []
    for mode, (X_ctx, y_ctx, X_pool) in modes.items():
        best = None
        for _ in range(repeats):
            if X_pool is None:  # the wrapper builds its model in fit; its fit is preprocessing only
                clf = make_tabicl(weights, device=str(device or "cpu"), seed=seed)
                t0 = time.perf_counter()
                clf.fit(X_ctx, y_ctx)
                t1 = time.perf_counter()
                fit_stages = {stage: 0.0 for stage in STAGES}
            else:
                clf = SplitTabICL(weights, pool_cap=cap, device=str(device or "cpu"), random_state=seed)
                t0 = time.perf_counter()
                clf.fit(X_ctx, y_ctx, X_pool=X_pool, y_pool=table.y_train)
                t1 = time.perf_counter()
                fit_stages = _split_fit_stages(clf, device)
            t1b = time.perf_counter()
            with stage_timer(clf.model_ if X_pool is None else clf.net_.model, device) as stages:
                clf.predict_proba(X_test)
            t2 = time.perf_counter()
            rec = {"mode": mode, "context_rows": len(y_ctx),
                   "column_rows": len(y_ctx) + (int(clf.pool_size_) if X_pool is not None else 0),
                   "fit_s": t1 - t0, "predict_s": t2 - t1b, "fit_column_s": fit_stages["column"],
                   "fit_row_s": fit_stages["row"], **{f"{k}_s": v for k, v in stages.items()}}  # fmt: skip
            if best is None or rec["fit_s"] + rec["predict_s"] < best["fit_s"] + best["predict_s"]:
                best = rec
        rows.append(best)
    return pd.DataFrame(rows)


def _split_fit_stages(clf, device) -> dict:
    """Seconds by stage of a fitted ``SplitTabICL``'s cache, recomputed on its built model (its ``fit`` builds the
    model first, so the stages are timed on a second computation of the same cache, which replaces the first)."""
    from ..model.stage_split import fit_split_cache

    with stage_timer(clf.net_.model, device) as seconds:
        clf.cache_ = fit_split_cache(clf.net_, clf.X_ctx_, clf.codes_, clf.X_pool_, clf.y_pool_)
    return seconds


@dataclass(frozen=True)
class Crossover:
    """Where the quadratic term of ``t = a + bN + cN^2`` overtakes the linear one, ``N* = b / c`` (rows), with its
    ``confidence`` interval ``low``..``high`` (``high`` is inf when the quadratic term could be 0) on ``df`` degrees
    of freedom, and the fitted coefficients."""

    value: float
    low: float
    high: float
    df: float
    fixed: float
    linear: float
    quadratic: float


def crossover_interval(n, t, confidence: float = 0.95) -> Crossover:
    """The crossover of a cost model fitted by weighted least squares with weights ``1 / t^2`` (timing noise is
    multiplicative: a 5% jitter at 10 s is 0.5 s, at 0.1 s it is 5 ms), its interval by the delta method on
    ``log(b / c)`` with the coefficients' covariance from the residual scatter, Student's t at ``k - 3`` degrees of
    freedom for ``k`` sizes. An unweighted fit lets the largest sizes alone set the curve."""
    from .statistics import t_quantile

    n, t = np.asarray(n, dtype=float), np.asarray(t, dtype=float)
    if len(np.unique(n)) < 4 or (t <= 0).any():
        raise ValueError("a crossover interval needs >= 4 distinct sizes and positive times")
    A = np.stack([np.ones_like(n), n, n**2], axis=1) / t[:, None]  # rows divided by t: weights 1 / t^2
    scale = np.linalg.norm(A, axis=0)
    coef, *_ = np.linalg.lstsq(A / scale, np.ones_like(t), rcond=None)
    coef = coef / scale
    df = float(len(n) - 3)
    resid = np.ones_like(t) - A @ coef
    s2 = float(resid @ resid) / df
    cov = s2 * np.linalg.inv(A.T @ A)
    a, b, c = (float(x) for x in coef)
    if b <= 0 or c <= 0:
        return Crossover(float("inf") if c <= 0 else 0.0, float("nan"), float("inf"), df, a, b, c)
    grad = np.array([0.0, 1.0 / b, -1.0 / c])
    se = float(np.sqrt(grad @ cov @ grad))
    half = t_quantile(df, confidence) * se
    value = b / c
    return Crossover(value, value * float(np.exp(-half)), value * float(np.exp(half)), df, a, b, c)
