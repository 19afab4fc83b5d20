"""A 2-D view of the embedding space: context rows, test rows and a classifier's decision regions.

Construction (honest by design):

1. PCA(2) is fitted on the real pool embeddings ``Z_pool`` (n, F).
2. A ``grid x grid`` lattice covers the projected points (pool, context, test) plus a margin.
3. Each lattice point is mapped back to the full F-dimensional space with ``pca.inverse_transform``:
   the points of the 2-D plane through the pool mean spanned by the top two principal components.
4. Each is coloured by the prediction of a classifier fitted in the FULL space on the context rows
   (any object with ``fit``/``predict``: nearest class mean, 1-NN, TabICL, ...).

The plane is only a slice of the F-dimensional space: a test row is drawn at its projection, but its
own full-space prediction need not be the region it is drawn in. :attr:`Projection.agreement` says
how often it is (the share of test rows whose full-space prediction equals the prediction at their
projection onto the plane). Usage::

    proj = decision_plane(Z_pool, X_ctx, y_ctx, Z_test, make_peer("nearest_mean"), y_test=y_test)
    fig = plot_projection(proj, class_names=classes)
    save_figure(fig, "projection-nearest-mean", settings.figures_path)

With TabICL on random weights, stamp the figure (:func:`icl_support.evaluation.plots.stamp_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from sklearn.decomposition import PCA
from tqdm.auto import tqdm


@dataclass(frozen=True)
class ProjectionConfig:
    """``grid``: lattice points per axis; ``margin``: padding as a fraction of the data's extent;
    ``batch``: lattice rows per ``predict`` call; ``seed``: PCA's random state."""

    grid: int = 120
    margin: float = 0.08
    batch: int = 4096
    seed: int = 0


@dataclass(frozen=True)
class Projection:
    """Arrays of a 2-D decision-region view (coordinates in PCA units of the embedding space).

    ``grid_x`` (G,), ``grid_y`` (G,): lattice coordinates; ``regions`` (G, G) int labels, ``regions[i, j]``
    is the prediction at ``(grid_x[j], grid_y[i])``. ``context_2d`` (K, 2), ``y_context`` (K,);
    ``test_2d`` (M, 2), ``y_test`` (M,) or None; ``pred_test`` (M,) full-space predictions;
    ``plane_pred_test`` (M,) predictions at the test rows' projections onto the plane; ``agreement``:
    mean of ``pred_test == plane_pred_test``; ``classes`` (C,): the context's labels, sorted;
    ``explained_variance`` (2,): share of the pool's variance along each axis.
    """

    grid_x: np.ndarray
    grid_y: np.ndarray
    regions: np.ndarray
    context_2d: np.ndarray
    y_context: np.ndarray
    test_2d: np.ndarray
    y_test: np.ndarray | None
    pred_test: np.ndarray
    plane_pred_test: np.ndarray
    agreement: float
    classes: np.ndarray
    explained_variance: np.ndarray


def _predict(clf, X: np.ndarray, batch: int, desc: str) -> np.ndarray:
    starts = range(0, len(X), batch)
    parts = [np.asarray(clf.predict(X[s : s + batch])) for s in tqdm(starts, desc=desc, leave=False)]
    return np.concatenate(parts)


def decision_plane(
    Z_pool: np.ndarray,
    X_context: np.ndarray,
    y_context: np.ndarray,
    Z_test: np.ndarray,
    classifier,
    *,
    y_test: np.ndarray | None = None,
    config: ProjectionConfig = ProjectionConfig(),
) -> Projection:
    """Fit ``classifier`` on the context rows (full space) and read its decisions on the pool's PCA plane.

    ``Z_pool`` (n, F): real pool embeddings (defines the plane); ``X_context`` (K, F), ``y_context`` (K,)
    int; ``Z_test`` (M, F); ``classifier``: unfitted, with ``fit``/``predict`` (it is fitted here).
    Pure apart from fitting ``classifier``; see the module docstring for the construction.
    """
    Z_pool, X_context, Z_test = (np.asarray(a, dtype=np.float32) for a in (Z_pool, X_context, Z_test))
    y_context = np.asarray(y_context)
    for name, a in (("Z_pool", Z_pool), ("X_context", X_context), ("Z_test", Z_test)):
        if a.ndim != 2 or a.shape[1] != Z_pool.shape[1] or len(a) == 0:
            raise ValueError(f"{name} must be (rows, {Z_pool.shape[1]}) like Z_pool, got {a.shape}")
    if Z_pool.shape[1] < 2 or len(Z_pool) < 2:
        raise ValueError(f"Z_pool needs at least 2 rows and 2 features for a 2-D PCA, got {Z_pool.shape}")
    if len(y_context) != len(X_context):
        raise ValueError(f"y_context has {len(y_context)} labels for {len(X_context)} context rows")
    if y_test is not None and len(y_test) != len(Z_test):
        raise ValueError(f"y_test has {len(y_test)} labels for {len(Z_test)} test rows")
    if config.grid < 2 or config.margin < 0 or config.batch < 1:
        raise ValueError(f"need grid >= 2, margin >= 0, batch >= 1; got {config}")

    pca = PCA(2, random_state=config.seed).fit(Z_pool)
    P_pool, P_ctx, P_test = (pca.transform(a) for a in (Z_pool, X_context, Z_test))
    everything = np.concatenate([P_pool, P_ctx, P_test])
    lo, hi = everything.min(0), everything.max(0)
    pad = config.margin * np.maximum(hi - lo, 1e-12)
    grid_x = np.linspace(lo[0] - pad[0], hi[0] + pad[0], config.grid)
    grid_y = np.linspace(lo[1] - pad[1], hi[1] + pad[1], config.grid)
    gx, gy = np.meshgrid(grid_x, grid_y)  # (G, G), row i = grid_y[i]
    lattice = pca.inverse_transform(np.column_stack([gx.ravel(), gy.ravel()])).astype(np.float32)

    clf = classifier.fit(X_context, y_context)
    regions = _predict(clf, lattice, config.batch, "decision regions").reshape(config.grid, config.grid)
    pred_test = _predict(clf, Z_test, config.batch, "test rows")
    on_plane = pca.inverse_transform(P_test).astype(np.float32)
    plane_pred_test = _predict(clf, on_plane, config.batch, "test rows on the plane")
    return Projection(
        grid_x=grid_x,
        grid_y=grid_y,
        regions=regions,
        context_2d=P_ctx,
        y_context=y_context,
        test_2d=P_test,
        y_test=None if y_test is None else np.asarray(y_test),
        pred_test=pred_test,
        plane_pred_test=plane_pred_test,
        agreement=float(np.mean(pred_test == plane_pred_test)),
        classes=np.unique(y_context),
        explained_variance=pca.explained_variance_ratio_.copy(),
    )


def _class_colours(n: int) -> np.ndarray:
    """(n, 4) RGBA: tab10 up to 10 classes, tab20 up to 20, evenly spaced hues beyond."""
    if n <= 10:
        return plt.get_cmap("tab10")(np.arange(n))
    if n <= 20:
        return plt.get_cmap("tab20")(np.arange(n))
    return plt.get_cmap("hsv")(np.linspace(0, 1, n, endpoint=False))


def plot_projection(
    proj: Projection, class_names: list[str] | tuple[str, ...] | None = None, title: str = "", ax=None
) -> plt.Figure:
    """Draw ``proj``: shaded decision regions, test rows (small, light; by true class when known) and
    context rows (large, black-edged, by class). Returns the figure; the caller saves it."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 5.5))
    else:
        fig = ax.figure
    classes = proj.classes
    if class_names is not None and len(class_names) <= int(classes.max()):
        raise ValueError(f"class_names has {len(class_names)} names but labels go up to {int(classes.max())}")
    colours = _class_colours(len(classes))
    index = {c: i for i, c in enumerate(classes)}  # label -> colour slot
    slots = np.searchsorted(classes, proj.regions)  # classes are sorted and hold every predicted label
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(np.arange(len(classes) + 1) - 0.5, len(classes))
    step_x, step_y = np.diff(proj.grid_x[:2])[0] / 2, np.diff(proj.grid_y[:2])[0] / 2
    extent = (proj.grid_x[0] - step_x, proj.grid_x[-1] + step_x, proj.grid_y[0] - step_y, proj.grid_y[-1] + step_y)
    ax.imshow(slots, origin="lower", extent=extent, cmap=cmap, norm=norm, alpha=0.25, aspect="auto")

    if proj.y_test is not None:
        known = np.isin(proj.y_test, classes)
        test_colours = np.full((len(proj.y_test), 4), (0.5, 0.5, 0.5, 1.0))
        test_colours[known] = colours[[index[c] for c in proj.y_test[known]]]
    else:
        test_colours = np.tile((0.5, 0.5, 0.5, 1.0), (len(proj.test_2d), 1))
    ax.scatter(*proj.test_2d.T, s=8, c=test_colours, alpha=0.45, linewidths=0, label="test rows")
    for c in classes:
        pts = proj.context_2d[proj.y_context == c]
        name = class_names[int(c)] if class_names is not None else str(c)
        ax.scatter(*pts.T, s=140, color=colours[index[c]], edgecolors="black", linewidths=1.2, marker="o", label=name)
    ev = proj.explained_variance
    ax.set_xlabel(f"PC 1 ({ev[0]:.0%} of pool variance)")
    ax.set_ylabel(f"PC 2 ({ev[1]:.0%} of pool variance)")
    ax.set_title(
        (title + "\n" if title else "")
        + f"plane is a slice: full-space prediction = region for {proj.agreement:.0%} of test rows",
        fontsize=9,
    )
    ax.legend(fontsize=7, ncol=1 + len(classes) // 12, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
    return fig
