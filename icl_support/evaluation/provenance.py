"""What produced a recorded result: settings, the TabICL weights (file and digest), code version, software, machine.

One description of the software and the machine (:func:`environment`) serves every record: the chapters' and the
scripts' (:func:`provenance`) and the benchmarks' (``benchmarks/_common.provenance``), so all of them name the
machine the same way. Usage::

    write_json(out, {"results": results, "provenance": provenance(run.settings, run.weights, wall_time_s=t)})
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from ..core.cache import file_sha256
from ..core.config import Settings
from ..core.gitinfo import git_commit
from ..model.weights import TabICLWeights


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """Where the numbers were measured: platform, CPU, core and thread counts, CUDA device, load averages."""
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def environment(repo: str | Path | None = None) -> dict:
    """Code version, software versions, machine and UTC date: what every record's provenance starts with."""
    import sklearn
    import timm

    return {
        "git_commit": git_commit(repo) if repo is not None else git_commit(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "python": platform.python_version(),
        "machine": machine(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def provenance(settings: Settings, weights: TabICLWeights, **extra) -> dict:
    """What produced a result: settings, TabICL weights, code version, software and machine."""
    return {
        **environment(),
        "settings": settings.to_dict(),
        "tabicl_weights": weights.kind,
        "tabicl_variant": weights.variant if weights.kind == "mini" else "",  # which shipped TabICL-mini
        "tabicl_label": weights.label,
        "tabicl_checkpoint": Path(weights.path).name,
        "tabicl_checkpoint_sha256": file_sha256(weights.path),  # which file exactly, whatever it is called later
        **extra,
    }
