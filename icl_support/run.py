"""One chapter run: settings -> embedded table, TabICL weights, device and a classifier factory.

Usage::

    run = prepare_run(resolve_settings("demo"))
    clf = run.tabicl(seed=0)                   # unfitted TabICLClassifier on run.weights (accuracy)
    clf = run.timing_tabicl(seed=0)            # on run.timing_weights: what a user pays in seconds
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import Settings
from .tabicl_model import TabICLWeights, make_tabicl, resolve_weights, timing_weights
from .tables import EmbeddingTable, build_table, resolve_device


@dataclass(frozen=True)
class Run:
    settings: Settings
    table: EmbeddingTable
    weights: TabICLWeights
    device: torch.device
    timing_weights: TabICLWeights  # the full-size architecture when ``weights`` is TabICL-mini

    def tabicl(self, seed: int | None = None, **kwargs):
        """Unfitted ``TabICLClassifier`` with the run's weights, estimators and device."""
        seed = self.settings.seed if seed is None else seed
        return make_tabicl(self.weights, self.settings.n_estimators, self.device, seed, **kwargs)

    def timing_tabicl(self, seed: int | None = None, **kwargs):
        """Unfitted ``TabICLClassifier`` on :attr:`timing_weights`, for timing what a user pays."""
        seed = self.settings.seed if seed is None else seed
        return make_tabicl(self.timing_weights, self.settings.n_estimators, self.device, seed, **kwargs)


def prepare_run(settings: Settings, progress: bool = True) -> Run:
    """Resolve the device and TabICL weights first (cheap, fail fast), then embed (cached)."""
    device = resolve_device(settings.device)
    weights = resolve_weights(settings.tabicl_checkpoint, settings.cache_path, seed=0)
    table = build_table(settings, progress=progress)
    return Run(settings, table, weights, device, timing_weights(weights, settings.cache_path))


def script_settings(doc: str, default_out: str, argv: list[str] | None = None):
    """Command line of the ``scripts/*.py`` runs: a YAML file of parameters and ``--out``.

    Returns ``(settings, weights, out_path)``; the YAML holds ``profile`` plus any settings, validated
    like the notebooks' parameters.
    """
    import argparse

    import yaml

    from .config import resolve_settings

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("params", help="YAML mapping: profile plus any settings (see icl_support/config.py)")
    ap.add_argument("--out", default=default_out)
    args = ap.parse_args(argv)
    with open(args.params) as f:
        params = yaml.safe_load(f) or {}
    settings = resolve_settings(params.pop("profile", "demo"), **params)
    return settings, resolve_weights(settings.tabicl_checkpoint, settings.cache_path), args.out
