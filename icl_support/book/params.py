"""Parameters in, settings out: the one way notebooks and scripts turn what a user wrote into a run.

A notebook's ``parameters`` cell holds literals (``None`` = the profile's value); the next cell calls
:func:`settings_from_parameters` with the notebook's namespace instead of repeating every name. Scripts
read a YAML mapping (:func:`script_run`). Both validate names against the registries (strategies,
evaluators) of the layers below, and fail at once on anything unknown::

    settings = settings_from_parameters(globals(), chapter="lgm")
    run, out = script_run(__doc__, "results/x.json")      # python scripts/x.py params.yaml --out x.json
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from ..contexts.strategies import check_strategy_names
from ..core.config import PARAMETER_NAMES, Settings, resolve_settings
from ..evaluation.run import Run, resolve_run


def check_registered(settings: Settings) -> Settings:
    """``settings`` unchanged, after checking every registry-backed name in it (strategies)."""
    check_strategy_names(settings.strategies)
    return settings


def settings_from_parameters(namespace: Mapping, chapter: str = "") -> Settings:
    """Settings from a notebook's parameters: ``profile`` plus every settings name found in ``namespace``
    (``None`` values keep the profile's). Names of the notebook that are not parameters are ignored."""
    overrides = {k: namespace[k] for k in PARAMETER_NAMES if k in namespace}
    return check_registered(resolve_settings(namespace["profile"], chapter, **overrides))


def script_run(doc: str, default_out: str, argv: list[str] | None = None, chapter: str = "") -> tuple[Run, str]:
    """Command line of the ``scripts/*.py`` runs: a YAML file of parameters and ``--out``.

    Returns ``(run, out_path)``: the YAML holds ``profile`` plus any settings, validated like the notebooks'
    parameters; the run has its device and TabICL weights resolved.
    """
    run, out, _ = script_run_with(doc, default_out, argv, chapter)
    return run, out


def script_run_with(
    doc: str, default_out: str, argv: list[str] | None = None, chapter: str = "", **options: dict
) -> tuple[Run, str, argparse.Namespace]:
    """:func:`script_run` plus a script's own options: ``name=argparse kwargs`` adds ``--name`` (underscores
    become dashes), e.g. ``anchors=dict(type=float, nargs="*", default=[])``. Returns ``(run, out, args)``."""
    import yaml

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("params", help="YAML mapping: profile plus any settings (see icl_support/core/config.py)")
    ap.add_argument("--out", default=default_out)
    for name, kwargs in options.items():
        ap.add_argument("--" + name.replace("_", "-"), dest=name, **kwargs)
    args = ap.parse_args(argv)
    with open(args.params) as f:
        params = yaml.safe_load(f) or {}
    settings = check_registered(resolve_settings(params.pop("profile", "demo"), chapter, **params))
    return resolve_run(settings), args.out, args
