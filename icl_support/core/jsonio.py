"""Results as strict JSON: NumPy scalars made plain, NaN/inf as null, written atomically.

Usage::

    write_json("results/x.json", {"results": ..., "provenance": provenance(settings, weights)})
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np


def plain(value):
    """NumPy scalars to Python ones (myst-nb's glue:text cannot format ``np.float64``)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


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
    """Write ``data`` as indented strict JSON (NaN/inf -> null) atomically, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n"  # fails before anything is written
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
