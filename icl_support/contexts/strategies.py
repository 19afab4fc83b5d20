"""Every way to choose or make the context rows, registered once: the strategy registry.

A strategy is one function ``build(inputs, k, seed) -> Made`` registered with :func:`register_strategy`,
which records its name, aliases, whether it depends on the seed (``seeded_from_k``: seeded when
``k >= seeded_from_k``), whether it needs the images or the backbone, whether its rows are real images,
and whether chapter 5's sweep runs it. Settings validation, chapters 4-6, the explorer and the scripts
look names up here (:func:`get_strategy`). A strategy that cannot run in a setting raises
:class:`StrategySkipped` with the reason.

=================  ========================================================================
``random``          k random real rows per class (seeded)
``class_mean``      the class mean (k = 1); k > 1: k-means centres (seeded). Rows, not images
``nearest_centroid`` the k real rows nearest the class mean (alias ``centroid``: LGM's baseline)
``kmeans_medoids``  the real row nearest each k-means centre (seeded)
``herding``         iCaRL's herding
``kcenter``         k-center greedy, started at the centroid row
``row_lgm``         embedding-space LGM rows (seeded)
``pixel_lgm``       LGM images at ipc = k, embedded by the frozen backbone (alias ``distilled``); only at
                    k = ``settings.ipc`` and k in ``settings.lgm_ipcs``; ``distill_seeds`` distillations
                    (seeded, as are the other synthetic-image strategies below)
``pixel_lgm_anchored`` LGM images with a class-mean anchor on their centre-view embeddings (anchored LGM),
                    weight ``lgm_anchor`` (opt-in; same ks as ``pixel_lgm``)
``lgm_neighbors``   the real image nearest (cosine) each LGM image (alias ``neighbors``; a control)
``tabicl_lgm``      rows optimised through TabICL itself (needs real TabICL weights, at most 10 classes)
``tabicl_pixels``   images optimised end to end through the backbone, the PCA and TabICL, from the centroid
                    images (needs real weights; opt-in: not in chapter 5's default sweep)
``tabicl_pixels_anchored`` the same with a class-mean anchor on the images' embeddings, weight
                    ``tabicl_pixels_anchor`` (opt-in)
``retrieval``       each test row's k nearest pool rows of every class: one context per test row, read by
                    TabICL in batches (:mod:`icl_support.contexts.retrieval`; scored by the sweep itself)
``full``            every pool row (k ignored)
=================  ========================================================================

Adding a strategy: one decorated function in this module (or in a module imported by
``icl_support.contexts.selection``) and a test. Usage::

    inputs = BuildInputs(run, data, pca)                  # run: icl_support.evaluation.run.Run
    built = build("herding", inputs, k=5)                # Built: contexts (one per seed), seconds

Size: about 410 lines, on purpose: the registry is the one place every strategy's name, aliases and metadata
live (the issue that merged two registries put them here); each strategy is a short function.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..embedding.frozen import embed_tensors
from ..embedding.image_pool import ImageData
from ..embedding.tables import WidthReducer
from ..evaluation.run import Run
from . import selection
from .configs import row_lgm_config, tabicl_lgm_config, tabicl_pixels_config
from .lgm_images import distilled_images
from .selection import Context, neighbors


class StrategySkipped(Exception):
    """A strategy that does not run in this setting; the message says why."""


@dataclass(frozen=True)
class Made:
    """One built context; ``seconds``: its build time when not simply measured (pixel LGM: seconds/step x
    steps); ``images``: (C * k, 3, side, side) in [0, 1] when the rows are images the run made."""

    context: Context
    seconds: float | None = None
    images: np.ndarray | None = None


@dataclass(frozen=True)
class BuildInputs:
    """What a strategy may read: the run (settings, device, TabICL weights), the real image pool with its
    embeddings, and the evaluators' PCA (``None``: raw rows)."""

    run: Run
    data: ImageData
    pca: object | None = None
    progress: bool = False


@dataclass(frozen=True)
class Strategy:
    name: str
    build: Callable[[BuildInputs, int, int], Made]
    aliases: tuple[str, ...] = ()
    seeded_from_k: int | None = None  # seeded when k >= this; None: never
    seeds_setting: str = "selection_seeds"  # the setting that says how many seeds a seeded strategy runs
    needs_images: bool = False  # reads the pool's images (not only their embeddings)
    needs_backbone: bool = False  # runs the frozen backbone (distillation or embedding new images)
    real_images: bool = True  # every row is a real pool image (``Context.index`` set)
    in_sweep: bool = True  # run by chapter 5 when ``settings.strategies`` is empty
    summary: str = ""
    # row level: ``rows(X (n, F), y (n,) codes 0..C-1, k, seed, **options) -> Context``, for any table of rows
    # (:func:`select_rows`, :class:`icl_support.contexts.sampler.ContextSampler`); None: needs images or a run
    rows: Callable[..., Context] | None = None
    options: tuple[str, ...] = ()  # the keyword options ``rows`` accepts
    needs_estimator: bool = False  # ``rows`` needs ``estimator=`` (a TabICL classifier or checkpoint)
    per_query: bool = False  # one context per test row (retrieval): scored by the sweep itself, no global context

    def is_seeded(self, k: int) -> bool:
        return self.seeded_from_k is not None and k >= self.seeded_from_k


STRATEGIES: dict[str, Strategy] = {}
_ALIASES: dict[str, str] = {}


def register_strategy(name: str, *, aliases: Iterable[str] = (), **meta):
    """Decorator: register ``build(inputs, k, seed) -> Made`` as strategy ``name`` (see :class:`Strategy`)."""

    def wrap(fn):
        taken = {name, *aliases} & (set(STRATEGIES) | set(_ALIASES))
        if taken:
            raise ValueError(f"strategy name(s) {sorted(taken)} already registered")
        summary = meta.pop("summary", "") or (fn.__doc__ or "").strip().split("\n")[0]
        STRATEGIES[name] = Strategy(name, fn, tuple(aliases), summary=summary, **meta)
        _ALIASES.update({a: name for a in aliases})
        return fn

    return wrap


def get_strategy(name: str) -> Strategy:
    """The strategy registered as ``name`` or under the alias ``name``."""
    key = _ALIASES.get(name, name)
    if key not in STRATEGIES:
        aliases = ", ".join(f"{a} (= {n})" for a, n in _ALIASES.items())
        raise ValueError(f"unknown strategy {name!r}; valid: {', '.join(STRATEGIES)}; aliases: {aliases}")
    return STRATEGIES[key]


def list_strategies(pattern: str = "*", row_level: bool = False) -> list[str]:
    """Registered strategy names matching the shell-style ``pattern`` (like ``timm.list_models``), in registry
    order; ``row_level``: only those that work on a table of rows alone (:func:`select_rows`)."""
    from fnmatch import fnmatchcase

    return [n for n, st in STRATEGIES.items() if fnmatchcase(n, pattern) and (st.rows is not None or not row_level)]


def select_rows(name: str, X: np.ndarray, y: np.ndarray, k: int, seed: int = 0, **options) -> Context:
    """The context of a row-level strategy (or alias) ``name`` at ``k`` rows per class, from rows ``X`` (n, F)
    with labels ``y`` (n,) in 0..C-1 (C <= n). ``options``: the strategy's keyword options (``Strategy.options``;
    ``estimator`` for those that need one)."""
    strategy = get_strategy(name)
    if strategy.rows is None:
        raise ValueError(
            f"strategy {strategy.name!r} needs images or a chapter run, not rows alone; row-level strategies: "
            f"{', '.join(list_strategies(row_level=True))}"
        )
    allowed = set(strategy.options) | ({"estimator"} if strategy.needs_estimator else set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        valid = ", ".join(sorted(allowed)) or "none"
        raise ValueError(f"unknown option(s) {unknown} for strategy {strategy.name!r}; valid: {valid}")
    if strategy.needs_estimator and options.get("estimator") is None:
        raise ValueError(
            f"strategy {strategy.name!r} needs estimator= (a TabICLClassifier with model_path, or a TabICL "
            "checkpoint path): it optimises the rows through that model"
        )
    return strategy.rows(np.asarray(X), np.asarray(y), k, seed, **options)


def check_strategy_names(names: Iterable[str]) -> None:
    """Raise ``ValueError`` naming every unknown strategy in ``names`` (and the valid ones)."""
    bad = [n for n in names if n not in STRATEGIES and n not in _ALIASES]
    if bad:
        raise ValueError(f"unknown strategies {bad} in 'strategies'; valid: {', '.join(STRATEGIES)}")


def sweep_names(names: Iterable[str] = ()) -> tuple[str, ...]:
    """``names`` resolved to registered names; empty: every strategy with ``in_sweep``, in registry order."""
    names = tuple(names)
    if not names:
        return tuple(n for n, st in STRATEGIES.items() if st.in_sweep)
    return tuple(get_strategy(n).name for n in names)


def seeds_for(inputs: BuildInputs, name: str, k: int, n_seeds: int | None = None) -> list[int]:
    """The seeds a strategy runs with at ``k``: ``n_seeds`` (default: the strategy's ``seeds_setting``,
    ``selection_seeds`` for selections, ``distill_seeds`` for synthetic images) consecutive seeds from the run's
    seed when it is seeded, else the run's seed alone."""
    s = inputs.run.settings
    strategy = get_strategy(name)
    if not strategy.is_seeded(k):
        return [s.seed]
    return [s.seed + i for i in range(getattr(s, strategy.seeds_setting) if n_seeds is None else n_seeds)]


@dataclass
class Built:
    """The contexts of one strategy at one k (one per seed) with the seconds each took to build."""

    contexts: list[Context] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    image_sets: list[np.ndarray | None] = field(default_factory=list)  # per context: its synthetic images
    note: str = ""

    @property
    def images(self) -> np.ndarray | None:
        """The first context's synthetic images (N, 3, side, side), or ``None`` for real rows and rows."""
        return next((im for im in self.image_sets if im is not None), None)

    def context_images(self, i: int, pool) -> torch.Tensor | None:
        """Images of context ``i`` (N, 3, side, side) float in [0, 1]: its synthetic images, or its real pool
        images (``pool[index]``); ``None`` for rows that are not images (class means, row distillations)."""
        ctx = self.contexts[i]
        if ctx.index is not None:
            return pool[ctx.index]
        return None if self.image_sets[i] is None else torch.from_numpy(self.image_sets[i])


def build(name: str, inputs: BuildInputs, k: int, n_seeds: int | None = None) -> Built:
    """Contexts of strategy ``name`` (or an alias) at ``k`` rows per class, one per seed (:func:`seeds_for`).
    A skipped strategy returns no contexts and the reason in ``note``."""
    strategy = get_strategy(name)
    out = Built()
    for seed in seeds_for(inputs, strategy.name, k, n_seeds):
        start = time.perf_counter()
        try:
            made = strategy.build(inputs, k, seed)
        except StrategySkipped as skip:
            return Built(note=str(skip))
        out.seconds.append(made.seconds if made.seconds is not None else time.perf_counter() - start)
        out.contexts.append(made.context)
        out.image_sets.append(made.images)
    return out


# ---------------------------------------------------------------- real rows, chosen (icl_support.contexts.selection)


def _selector(rows: Callable[..., Context]):
    def build_selected(inputs: BuildInputs, k: int, seed: int) -> Made:
        return Made(rows(np.asarray(inputs.data.Z_pool), np.asarray(inputs.data.y_pool), k, seed))

    return build_selected


for _name, _rows, _meta in (
    ("random", selection.random_rows, dict(seeded_from_k=1, summary="k random real rows per class")),
    ("class_mean", selection.class_mean,
     dict(seeded_from_k=2, real_images=False, summary="class mean (k > 1: k-means centres)")),
    ("nearest_centroid", selection.nearest_centroid,
     dict(aliases=("centroid",), summary="the k real rows nearest the class mean")),
    ("kmeans_medoids", selection.kmeans_medoids,
     dict(seeded_from_k=1, summary="the real row nearest each k-means centre")),
    ("herding", selection.herding, dict(summary="iCaRL's herding")),
    ("kcenter", selection.kcenter, dict(summary="k-center greedy from the centroid row")),
):  # fmt: skip
    register_strategy(_name, rows=_rows, **_meta)(_selector(_rows))


# ---------------------------------------------------------------- rows or images, made


def _row_lgm_rows(X: np.ndarray, y: np.ndarray, k: int, seed: int = 0, **options) -> Context:
    """Embedding-space LGM on rows alone: ``options`` are :class:`~icl_support.contexts.row_lgm.RowDistillConfig`
    fields (steps, lr, real_per_class, head_std, init)."""
    from .row_lgm import RowDistillConfig, distill_rows

    selection.check_per_class(X, y, k)
    progress = options.pop("progress", False)
    r = distill_rows(X, y, int(y.max()) + 1, RowDistillConfig(ipc=k, seed=seed, **options), progress=progress)
    return Context(r.rows, r.labels, None)


@register_strategy(
    "row_lgm", seeded_from_k=1, real_images=False, rows=_row_lgm_rows,
    options=("steps", "lr", "real_per_class", "head_std", "init", "progress"),
)  # fmt: skip
def _row_lgm(inputs: BuildInputs, k: int, seed: int) -> Made:
    """Embedding-space LGM: k rows per class matched to random linear heads' gradients."""
    from .row_lgm import distill_rows

    data = inputs.data
    cfg = row_lgm_config(inputs.run.settings, k, seed)
    r = distill_rows(data.Z_pool, data.y_pool, len(data.classes), cfg, progress=inputs.progress)
    return Made(Context(r.rows, r.labels, None))


def _lgm_images(inputs: BuildInputs, k: int, anchor: float = 0.0, seed: int | None = None) -> dict:
    s = inputs.run.settings
    if k not in s.lgm_ipcs and k != s.ipc:
        raise StrategySkipped(f"pixel LGM runs only at ipc = {s.ipc} and at ipc in lgm_ipcs={list(s.lgm_ipcs)}")
    return distilled_images(s, inputs.data, progress=inputs.progress, ipc=k, anchor=anchor, seed=seed)


def _pixel_lgm(anchored: bool):
    def build_images(inputs: BuildInputs, k: int, seed: int) -> Made:
        lgm = _lgm_images(inputs, k, inputs.run.settings.lgm_anchor if anchored else 0.0, seed)
        data = inputs.data
        Z = embed_tensors(data.features, torch.from_numpy(lgm["images"]), data.crop)
        seconds = float(lgm["seconds_per_step"]) * inputs.run.settings.distill_steps
        return Made(Context(Z, lgm["labels"].astype(np.int64), None), seconds, lgm["images"])

    return build_images


_DISTILLED = dict(seeded_from_k=1, seeds_setting="distill_seeds")  # distill_seeds independent distillations
register_strategy(
    "pixel_lgm", aliases=("distilled",), needs_images=True, needs_backbone=True, real_images=False, **_DISTILLED,
    summary="LGM images at ipc = k, embedded by the frozen backbone (centre view)",
)(_pixel_lgm(anchored=False))  # fmt: skip
register_strategy(
    "pixel_lgm_anchored", needs_images=True, needs_backbone=True, real_images=False, in_sweep=False, **_DISTILLED,
    summary="LGM images with a class-mean anchor on their embeddings (weight lgm_anchor)",
)(_pixel_lgm(anchored=True))  # fmt: skip


@register_strategy("lgm_neighbors", aliases=("neighbors",), needs_images=True, needs_backbone=True, in_sweep=False)
def _lgm_neighbors(inputs: BuildInputs, k: int, seed: int) -> Made:
    """The real image nearest (cosine, same class) each LGM image: does distillation only retrieve?"""
    lgm = _lgm_images(inputs, k)
    data = inputs.data
    Z_syn = embed_tensors(data.features, torch.from_numpy(lgm["images"]), data.crop)
    idx = neighbors(data.Z_pool, data.y_pool, Z_syn, lgm["labels"])
    return Made(Context(np.asarray(data.Z_pool, np.float32)[idx], np.asarray(data.y_pool, np.int64)[idx], idx))


def _tabicl_lgm_rows(X: np.ndarray, y: np.ndarray, k: int, seed: int = 0, *, estimator, **options) -> Context:
    """Rows optimised through TabICL on rows alone: ``estimator`` a ``TabICLClassifier`` with ``model_path`` (or a
    checkpoint path); ``options`` are :class:`~icl_support.contexts.tabicl_lgm.TabICLDistillConfig` fields."""
    from ..model.torch_path import TorchTabICL
    from .tabicl_lgm import TabICLDistillConfig, distill_tabicl

    selection.check_per_class(X, y, k)
    path = getattr(estimator, "model_path", estimator)
    if path is None or not isinstance(path, (str, Path)):
        raise ValueError(
            "tabicl_lgm needs the TabICL weights as a file: a TabICLClassifier(model_path=...) or a checkpoint path "
            f"(icl_support.model.weights.resolve_weights gives one), got {type(estimator).__name__}"
        )
    device = str(getattr(estimator, "device", None) or "cpu")
    net = TorchTabICL(path, "cuda" if device.startswith("cuda") and torch.cuda.is_available() else "cpu")
    n_classes = int(y.max()) + 1
    if n_classes > net.max_classes:
        raise ValueError(
            f"tabicl_lgm distils through TabICL's differentiable path, which supports at most {net.max_classes} "
            f"classes; this table has {n_classes}. Use a selection strategy (e.g. kcenter) or row_lgm instead."
        )
    progress = options.pop("progress", False)
    cfg = TabICLDistillConfig(ipc=k, seed=seed, **options)
    r = distill_tabicl(net, X, y, n_classes, cfg, progress)
    return Context(r.rows, r.labels, None)


@register_strategy(
    "tabicl_lgm", real_images=False, rows=_tabicl_lgm_rows, needs_estimator=True,
    options=("steps", "lr", "query_batch", "init", "context_stats", "progress"),
)  # fmt: skip
def _tabicl_lgm(inputs: BuildInputs, k: int, seed: int) -> Made:
    """Rows optimised through TabICL itself (in the evaluators' PCA space, mapped back to raw rows)."""
    from ..model.torch_path import TorchTabICL
    from .tabicl_lgm import distill_tabicl

    run, data, pca = inputs.run, inputs.data, inputs.pca
    if run.weights.is_random:
        raise StrategySkipped("skipped: TabICL has random weights, so its loss means nothing")
    if len(data.classes) > 10:
        raise StrategySkipped("skipped: TabICL's differentiable path has at most 10 classes")
    rows = WidthReducer(pca)(data.Z_pool)
    cfg = tabicl_lgm_config(run.settings, k)
    r = distill_tabicl(TorchTabICL(run.weights, run.device), rows, data.y_pool, len(data.classes), cfg, inputs.progress)
    X = pca.inverse_transform(r.rows).astype(np.float32) if pca is not None else r.rows  # back to raw space
    return Made(Context(X, r.labels, None))


def _tabicl_pixels(anchored: bool):
    def build_images(inputs: BuildInputs, k: int, seed: int) -> Made:
        from .tabicl_pixels import tabicl_pixel_images

        run, data = inputs.run, inputs.data
        if run.weights.is_random:
            raise StrategySkipped("skipped: TabICL has random weights, so its loss means nothing")
        if len(data.classes) > 10:
            raise StrategySkipped("skipped: TabICL's differentiable path has at most 10 classes")
        cfg = tabicl_pixels_config(run.settings, k, run.settings.tabicl_pixels_anchor if anchored else 0.0, seed)
        out = tabicl_pixel_images(run, data, inputs.pca, cfg, inputs.progress)
        Z = embed_tensors(data.features, torch.from_numpy(out["images"]), data.crop)
        seconds = float(out["seconds_per_step"]) * cfg.steps
        return Made(Context(Z, out["labels"].astype(np.int64), None), seconds, out["images"])

    return build_images


for _name, _anchored in (("tabicl_pixels", False), ("tabicl_pixels_anchored", True)):
    register_strategy(
        _name, needs_images=True, needs_backbone=True, real_images=False, in_sweep=False, **_DISTILLED,
        summary="images optimised through the backbone, the PCA and TabICL"
        + (" with a class-mean anchor (tabicl_pixels_anchor)" if _anchored else ""),
    )(_tabicl_pixels(_anchored))  # fmt: skip


@register_strategy("retrieval", per_query=True, real_images=True)
def _retrieval(inputs: BuildInputs, k: int, seed: int) -> Made:
    """Each test row's k nearest pool rows of every class (one context per test row; TabICL only)."""
    raise StrategySkipped(
        "retrieval builds one context per test row: the sweep scores it (icl_support.contexts.sweep), and "
        "ContextClassifier(estimator, ContextSampler('retrieval')) uses it"
    )


@register_strategy("full", rows=selection.full)
def _full(inputs: BuildInputs, k: int, seed: int) -> Made:
    """Every pool row (k ignored)."""
    return Made(selection.full(np.asarray(inputs.data.Z_pool), np.asarray(inputs.data.y_pool), 1, seed))
