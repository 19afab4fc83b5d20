"""The chapter-5 explorer: pick a strategy, images per class and a class; see the context's images and
its accuracy. Live in Jupyter (ipywidgets), and as a static gallery in the built book.

Strategies whose context is rows, not images (``class_mean``, ``row_lgm``, ``tabicl_lgm``) show the
real image nearest each row (cosine, same class) and say so. Usage::

    run = run_sweep(run, data)                   # icl_support.contexts.sweep
    explorer(run, data)                          # widgets (in a notebook)
    fig = gallery(run, data, k="1")              # strategies x classes, one image each
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..contexts.strategies import get_strategy
from ..embedding.image_pool import ImageData


def context_images(run: dict, data: ImageData, strategy: str, k: str, cls: int) -> tuple[np.ndarray, str]:
    """Images (n, H, W, 3) in [0, 1] of class ``cls`` in the first context of ``(strategy, k)``, and a caption."""
    key = (strategy, k)
    if key not in run["contexts"]:
        raise KeyError(f"no context for strategy {strategy!r} at k={k}; have {sorted(run['contexts'])}")
    ctx = run["contexts"][key]
    sel = np.flatnonzero(ctx.y == cls)
    if key in run["images"]:
        return np.moveaxis(run["images"][key][sel], 1, -1), "LGM-synthetic images"
    if ctx.index is not None:
        return np.moveaxis(data.pool[ctx.index[sel]].numpy(), 1, -1), "real images"
    rows = np.flatnonzero(data.y_pool == cls)
    unit = lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True).clip(1e-12)  # noqa: E731
    nearest = rows[np.argmax(unit(ctx.X[sel]) @ unit(data.Z_pool[rows]).T, axis=1)]
    return np.moveaxis(data.pool[nearest].numpy(), 1, -1), "rows, not images: nearest real image of each row"


def describe(run: dict, data: ImageData, strategy: str, k: str, cls: int) -> str:
    """One line of accuracies (all evaluators) and this class's recall under nearest class mean."""
    e = run["results"][strategy][k]
    random = run["weights"].is_random
    evaluators = run["evaluators"]
    label = {ev: f"{ev} (RANDOM WEIGHTS: chance)" if ev == "tabicl" and random else ev for ev in evaluators}
    accs = ", ".join(f"{label[ev]} {e[ev]['mean']:.3f}" for ev in evaluators)
    ctx = run["contexts"][(strategy, k)]
    recall = run["scorer"].per_class_recall(ctx.X, ctx.y)[cls]
    return f"{strategy}, k={k} ({e['rows']} rows): {accs}; recall of {data.classes[cls]} (nearest mean) {recall:.3f}"


def show(run: dict, data: ImageData, strategy: str, k: str, cls: int, max_images: int = 10) -> plt.Figure:
    images, caption = context_images(run, data, strategy, k, cls)
    images = images[:max_images]
    fig, axes = plt.subplots(1, max(1, len(images)), figsize=(1.3 * max(1, len(images)), 1.7), squeeze=False)
    for ax, im in zip(axes[0], images, strict=False):
        ax.imshow(np.clip(im, 0, 1))
    for ax in axes[0]:
        ax.axis("off")
    fig.suptitle(f"{data.classes[cls]}: {caption}", fontsize=8)
    return fig


def explorer(run: dict, data: ImageData):
    """An ipywidgets explorer: strategy x k x class -> images and accuracies."""
    import ipywidgets as widgets
    from IPython.display import display

    keys = sorted(run["contexts"], key=lambda t: (t[0], t[1] == "all", int(t[1]) if t[1] != "all" else 0))
    strategies = list(dict.fromkeys(s for s, _ in keys))
    pick_s = widgets.Dropdown(options=strategies, description="strategy")
    pick_k = widgets.Dropdown(description="per class")
    pick_c = widgets.Dropdown(options=[(c, i) for i, c in enumerate(data.classes)], description="class")
    out = widgets.Output()

    def update_k(*_):
        pick_k.options = [k for s, k in keys if s == pick_s.value]

    def render(*_):
        if pick_k.value is None:
            return
        with out:
            out.clear_output(wait=True)
            print(describe(run, data, pick_s.value, pick_k.value, pick_c.value))
            fig = show(run, data, pick_s.value, pick_k.value, pick_c.value)
            display(fig)
            plt.close(fig)

    pick_s.observe(update_k, "value")
    for w in (pick_s, pick_k, pick_c):
        w.observe(render, "value")
    update_k()
    render()
    return widgets.VBox([widgets.HBox([pick_s, pick_k, pick_c]), out])


def gallery(run: dict, data: ImageData, k: str = "1") -> plt.Figure:
    """Static rendering: one row per strategy available at ``k``, one column per class, the first image."""
    names = [s for s, kk in run["contexts"] if kk == k]
    n_cls = len(data.classes)
    fig, axes = plt.subplots(len(names), n_cls, figsize=(1.1 * n_cls, 1.15 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        acc = run["results"][name][k]["nearest_mean"]["mean"]
        for c in range(n_cls):
            images, caption = context_images(run, data, name, k, c)
            ax = axes[r, c]
            ax.imshow(np.clip(images[0], 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(data.classes[c], fontsize=7)
        star = "*" if not get_strategy(name).real_images and (name, k) not in run["images"] else ""
        axes[r, 0].set_ylabel(f"{name}{star}\n{acc:.2f}", fontsize=7, rotation=0, ha="right", va="center")
    fig.text(
        0.01, 0.005, "* rows, not images: the nearest real image is shown. Numbers: nearest-mean accuracy.", fontsize=7
    )
    fig.tight_layout()
    return fig
