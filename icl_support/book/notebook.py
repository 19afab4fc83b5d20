"""Helpers for the chapter notebooks: glue plain values, describe a run (a record's provenance:
:mod:`icl_support.evaluation.provenance`; writing it: :mod:`icl_support.core.jsonio`).

Usage (in a notebook)::

    glue_values({"acc_logreg_20": 0.913, "profile": "demo"})
    print(page_header(settings, weights, table=table))
"""

from __future__ import annotations

from ..core.config import Settings
from ..core.jsonio import plain
from ..model.weights import TabICLWeights


def glue_values(values: dict, display: bool = False) -> None:
    """``myst_nb.glue`` each value (as a plain Python type) under its key."""
    from myst_nb import glue

    for key, value in values.items():
        glue(key, plain(value), display=display)


def weights_note(kind: str, name: str = "TabICL-mini") -> str:
    """One sentence on what TabICL's accuracies mean with weights of ``kind`` (released, mini, local, random);
    ``name``: which shipped TabICL-mini (``TabICLWeights.name``) when ``kind`` is ``mini``."""
    if kind == "random":
        return (
            "TabICL's weights here are RANDOM: its accuracies are chance level and mean nothing; only its seconds "
            "are real. Rerun with tabicl_checkpoint='mini' (shipped) or 'released' for real numbers."
        )
    if kind == "mini":
        return (
            f"TabICL here is {name}, pretrained on this project's machine on synthetic tables only: a real "
            "in-context learner, 10 to 40 times smaller and weaker than the released TabICL. Claims about the "
            "released model need tabicl_checkpoint='released'."
        )
    if kind == "released":
        return "TabICL here is the released checkpoint (jingang/TabICL)."
    return f"TabICL here uses a local checkpoint ({kind} weights); see the provenance for which."


RANDOM_PARAGRAPH = (
    "**RANDOM WEIGHTS: timing only. Every TabICL accuracy on this page is chance level and means nothing.**"
)


def header_values(settings: Settings, weights: TabICLWeights | None = None, table=None, data=None) -> dict:
    """The values every chapter glues about its run: profile, data, backbone, TabICL weights (and their note),
    and the pool / test sizes of the embedded ``table`` (chapters 1-2) or image ``data`` (chapters 3-6)."""
    values = {"profile": settings.profile, "dataset": settings.dataset, "backbone": settings.backbone,
              "n_estimators": settings.n_estimators}  # fmt: skip
    if weights is not None:
        values.update(tabicl_weights=weights.kind, weights_note=weights_note(weights.kind, weights.name))
    if table is not None:
        values.update(n_pool=len(table.y_train), n_test_rows=len(table.y_test), n_features=table.X_train.shape[1])
    if data is not None:
        values.update(n_pool=len(data.y_pool), n_test_rows=len(data.y_test), n_classes=len(data.classes))
    return values


def _images_text(settings: Settings, data, weights: TabICLWeights | None = None, lgm_config=None) -> str:
    """Markdown paragraph of a chapter on the image pool (chapters 3-6): profile, data, backbone, image sides,
    PCA, LGM settings when given, and TabICL's weights (the RANDOM WEIGHTS banner when they are random)."""
    text = (
        f"**Profile** `{settings.profile}` · **data** `{settings.dataset}` ({len(data.y_pool)} real pool images, "
        f"{len(data.y_test)} test images, {len(data.classes)} classes, {settings.distill_res} px seen at "
        f"{data.crop} px) · **backbone** `{settings.backbone}` ({data.features.identity['weights']}) · **PCA** "
        f"{settings.pca_dim or 'none'}"
    )
    if lgm_config is not None:
        c = lgm_config
        text += f" · **LGM** {c.steps} steps, K = {c.augs_per_step}, noise mean {c.noise_mean}"
    if weights is not None:
        text += f" · **TabICL** {weights.kind} weights."
        if weights.is_random:
            text += "\n\n" + RANDOM_PARAGRAPH
    return text


def _table_text(settings: Settings, table, weights: TabICLWeights) -> str:
    """Markdown paragraph stating profile, data, backbone, width and TabICL weights of a run."""
    width = (
        f"PCA to {table.pca_dim} dims (fitted on the whole train pool, {table.explained_variance:.1%} of variance kept)"
        if table.pca_dim
        else "raw embeddings"
    )
    text = (
        f"**Profile** `{settings.profile}` · **data** `{settings.dataset}` ({len(table.y_train)} train-pool rows, "
        f"{len(table.y_test)} test rows, {len(table.classes)} classes) · **backbone** `{settings.backbone}` "
        f"({table.backbone_weights}; {table.raw_dim}-d) · **width** {width} · **TabICL** {weights.kind} weights, "
        f"{settings.n_estimators} estimator(s)."
    )
    if weights.kind == "mini":
        text += (
            f"\n\n**Accuracy: {weights.label}** (see the chapter *TabICL-mini*); it is a real in-context learner "
            "but much smaller and weaker than the released TabICL. **Time: the released architecture** "
            "(full size, random weights), which is what a user pays."
        )
    if weights.is_random:
        text += "\n\n" + RANDOM_PARAGRAPH
    return text


def page_header(
    settings: Settings, weights: TabICLWeights | None = None, *, table=None, data=None, lgm_config=None, extra: str = ""
) -> str:
    """The one header of every chapter that runs something: a Markdown paragraph on profile, data, backbone,
    rows and TabICL's weights, for the embedded ``table`` of chapters 1-2 or the image pool ``data`` of chapters
    3-6 (with LGM's settings when ``lgm_config`` is given), then ``extra``."""
    if table is not None:
        text = _table_text(settings, table, weights)
    elif data is not None:
        text = _images_text(settings, data, weights, lgm_config)
    else:
        raise ValueError("page_header needs the run's table (chapters 1-2) or its image data (chapters 3-6)")
    return text + (f" {extra}" if extra else "")
