"""One run: settings with the device and TabICL weights resolved once, passed down to every chapter.

Usage::

    run = resolve_run(settings)                # device + weights (cheap; fails fast on a bad checkpoint)
    run = prepare_run(settings)                # ... plus chapter 1-2's embedded table (cached)
    clf = run.tabicl(seed=0)                   # unfitted TabICLClassifier on run.weights (accuracy)
    clf = run.timing_tabicl(seed=0)            # on run.timing_weights: what a user pays in seconds
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..core.config import Settings
from ..core.device import resolve_device
from ..embedding.tables import EmbeddingTable, build_table
from ..model.weights import TabICLWeights, make_tabicl, resolve_weights, timing_weights


@dataclass(frozen=True)
class Run:
    """``settings`` plus what is resolved from them once: ``device``, TabICL ``weights`` (accuracy),
    ``timing_weights`` (the full-size architecture when ``weights`` is TabICL-mini) and, for chapters
    1-2, the embedded ``table``."""

    settings: Settings
    weights: TabICLWeights
    device: torch.device
    timing_weights: TabICLWeights
    table: EmbeddingTable | None = None

    def tabicl(self, seed: int | None = None, **kwargs):
        """Unfitted ``TabICLClassifier`` with the run's weights, estimators and device."""
        seed = self.settings.seed if seed is None else seed
        return make_tabicl(self.weights, self.settings.n_estimators, self.device, seed, **kwargs)

    def timing_tabicl(self, seed: int | None = None, **kwargs):
        """Unfitted ``TabICLClassifier`` on :attr:`timing_weights`, for timing what a user pays."""
        seed = self.settings.seed if seed is None else seed
        return make_tabicl(self.timing_weights, self.settings.n_estimators, self.device, seed, **kwargs)

    def with_settings(self, settings: Settings) -> Run:
        """The same resolved device and weights under other settings (e.g. ``ipc`` changed)."""
        return replace(self, settings=settings)


def resolve_run(settings: Settings) -> Run:
    """Resolve the device and TabICL weights (cheap, fail fast); no embedding."""
    device = resolve_device(settings.device)
    weights = resolve_weights(settings.tabicl_checkpoint, settings.cache_path, seed=0)
    return Run(settings, weights, device, timing_weights(weights, settings.cache_path))


def prepare_run(settings: Settings, progress: bool = True) -> Run:
    """:func:`resolve_run`, then the embedded table of chapters 1-2 (cached)."""
    run = resolve_run(settings)
    return replace(run, table=build_table(settings, progress=progress))
