"""Device choice and input checks shared by every layer."""

from __future__ import annotations

import numpy as np
import torch


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available here; use device='cpu' or 'auto'")
    return dev


def check_rows(X: np.ndarray, y: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` on wrong shapes or non-finite values."""
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (rows, features), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"{name}: {X.shape[0]} rows but labels of shape {y.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: {int((~np.isfinite(X)).sum())} NaN/inf values in the features")


def require_at_least_one(config, *names: str) -> None:
    """Raise ``ValueError`` naming the first field of ``config`` in ``names`` that is below 1."""
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"{type(config).__name__}.{name} must be >= 1, got {getattr(config, name)}")
