"""Results as strict JSON: NumPy scalars made plain, NaN/inf as null, no machine's paths, written atomically.

A record names no absolute path of the machine that made it: in every string, a path inside the repository becomes
relative to it and any other absolute path ``<local>/<its name>`` (:func:`portable_paths`).

Usage::

    write_json("results/x.json", {"results": ..., "provenance": provenance(settings, weights)})
"""

from __future__ import annotations

import json
import os
import re
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


REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL = "<local>"
# an absolute path of two or more parts, at the start of a string or after a space, quote, "=", "(", "[", "," or
# ";" (so never inside a word, a URL, a relative path or text such as "90%/95%" or "(a)/b/c")
ABSOLUTE_PATH = re.compile(r"(?:^|(?<=[\s'\"=(\[,;]))/[\w.~+-]+(?:/[^\s'\"=,;()\[\]]*)+")


def portable_path_text(text: str, repo: Path = REPO_ROOT) -> str:
    """``text`` with every absolute path made machine-free: under ``repo`` relative to it, else ``<local>/<name>``."""

    def swap(match: re.Match) -> str:
        path = Path(match.group(0))
        try:
            return str(path.relative_to(repo)) if path != repo else "."
        except ValueError:
            return f"{LOCAL}/{path.name}"

    return ABSOLUTE_PATH.sub(swap, text)


def portable_paths(value, repo: Path = REPO_ROOT):
    """Recursively: every string value through :func:`portable_path_text` (keys are left alone: two keys that name
    different files must not collide)."""
    if isinstance(value, str):
        return portable_path_text(value, repo)
    if isinstance(value, dict):
        return {k: portable_paths(v, repo) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable_paths(v, repo) for v in value]
    return value


def write_json(path: str | Path, data: dict) -> Path:
    """Write ``data`` as indented strict JSON (NaN/inf -> null, no machine's paths: :func:`portable_paths`)
    atomically, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(portable_paths(json_safe(data)), indent=2, allow_nan=False) + "\n"  # fails before writing
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
