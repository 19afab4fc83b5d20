"""Helpers for the chapter notebooks: glue plain values, describe a run, record provenance.

Usage (in a notebook)::

    glue_values({"acc_logreg_20": 0.913, "profile": "demo"})
    print(page_header(settings, weights, table=table))
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from ..core.config import Settings
from ..core.gitinfo import git_commit  # noqa: F401  (re-exported for the benchmarks and scripts)
from ..evaluation.tabicl_model import TabICLWeights


def plain(value):
    """NumPy scalars to Python ones (myst-nb's glue:text cannot format ``np.float64``)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def glue_values(values: dict, display: bool = False) -> None:
    """``myst_nb.glue`` each value (as a plain Python type) under its key."""
    from myst_nb import glue

    for key, value in values.items():
        glue(key, plain(value), display=display)


def _sha256(path: str | Path) -> str:
    import hashlib

    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def provenance(settings: Settings, weights: TabICLWeights, **extra) -> dict:
    """What produced a result: settings, TabICL weights, code version, software and machine."""
    return {
        "git_commit": git_commit(),
        "settings": settings.to_dict(),
        "tabicl_weights": weights.kind,
        "tabicl_variant": weights.variant if weights.kind == "mini" else "",  # which shipped TabICL-mini
        "tabicl_label": weights.label,
        "tabicl_checkpoint": Path(weights.path).name,
        "tabicl_checkpoint_sha256": _sha256(weights.path),  # which file exactly, whatever it is called later
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {torch.get_num_threads()} threads"
        + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    }


def json_safe(value):
    """Recursively: NumPy scalars to Python, tuples to lists, NaN/inf to ``None`` (strict JSON)."""
    value = plain(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_json(path: str | Path, data: dict) -> Path:
    """Write ``data`` as indented strict JSON (NaN/inf -> null), creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")
    return path


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
