"""What produced a recorded result: settings, the TabICL weights (file and digest), code version, software, machine.

Usage::

    write_json(out, {"results": results, "provenance": provenance(run.settings, run.weights, wall_time_s=t)})
"""

from __future__ import annotations

import hashlib
import platform
import time
from pathlib import Path

import torch

from ..core.config import Settings
from ..core.gitinfo import git_commit
from ..model.weights import TabICLWeights


def _sha256(path: str | Path) -> str:
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
