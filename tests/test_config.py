import dataclasses
from pathlib import Path

import papermill as pm
import pytest

from icl_support.core.config import PARAMETER_NAMES, PROFILES, resolve_settings, with_overrides


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_profile_resolves(profile):
    s = resolve_settings(profile)
    assert s.profile == profile
    assert s.to_dict()["fractions"] == list(s.fractions)


def test_overrides_apply_and_none_is_ignored():
    s = resolve_settings("demo", seed=3, pca_dim=None, fractions=[0.1, 1], context_sizes=[5, 50])
    assert s.seed == 3 and s.pca_dim == PROFILES["demo"]["pca_dim"]
    assert s.fractions == (0.1, 1.0) and isinstance(s.fractions[1], float)
    assert s.context_sizes == (5, 50)


def test_settings_are_frozen():
    s = resolve_settings("smoke")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.seed = 1  # type: ignore[misc]
    assert with_overrides(s, seed=4).seed == 4 and s.seed == 0


def test_unknown_profile_lists_valid():
    with pytest.raises(ValueError, match="unknown profile 'fast'.*smoke, demo, paper"):
        resolve_settings("fast")


def test_unknown_parameter_lists_valid():
    with pytest.raises(ValueError, match="unknown parameter.*learning_rate.*valid parameters:.*dataset"):
        resolve_settings("demo", learning_rate=0.1)


@pytest.mark.parametrize(
    "name,value",
    [
        ("seed", "3"),
        ("seed", 1.5),
        ("seed", True),
        ("pca_dim", [64]),
        ("fractions", 0.5),
        ("fractions", ["a"]),
        ("dataset", 3),
    ],
)
def test_wrong_types_are_named(name, value):
    with pytest.raises(TypeError, match=repr(name)):
        resolve_settings("demo", **{name: value})


@pytest.mark.parametrize(
    "name,value",
    [
        ("n_train", -1),
        ("n_seeds", 0),
        ("fractions", [0.0]),
        ("fractions", [1.5]),
        ("context_sizes", []),
        ("tabicl_pixels_anchor", -1.0),
        ("lgm_anchor", -0.5),
    ],
)
def test_bad_values_are_named(name, value):
    with pytest.raises(ValueError, match=name):
        resolve_settings("demo", **{name: value})


@pytest.mark.parametrize("notebook", sorted(str(p) for p in Path("nbs").glob("*.ipynb")))
def test_notebook_parameters_are_settings(notebook):
    """Every parameter a notebook declares is a setting (or one of the notebook-only names). Chapters that
    compute declare the common ones; chapter 7 only reads recorded benchmark files."""
    declared = set(pm.inspect_notebook(notebook))
    notebook_only = {"profile", "results_json", "recorded_results", "recorded_shift", "results_dir"}
    notebook_only |= {"many_dataset", "many_data_root", "many_ks", "recorded_retrieval"}
    notebook_only |= {"strategy", "per_class"}  # chapter 8's example: a ContextSampler's own parameters
    assert declared - notebook_only <= set(PARAMETER_NAMES)
    if "results_dir" in declared:
        return
    assert {
        "profile",
        "dataset",
        "data_root",
        "backbone",
        "device",
        "seed",
        "cache_dir",
        "tabicl_checkpoint",
    } <= declared


def test_chapter_defaults_only_where_declared():
    assert resolve_settings("paper", chapter="lgm").dataset == "imagenette"
    assert resolve_settings("paper").dataset == "cifar10"
    assert resolve_settings("demo", chapter="lgm").dataset == "digits"
    assert resolve_settings("paper", chapter="lgm", dataset="cifar10").dataset == "cifar10"


def test_each_knob_has_one_default():
    """A method's config dataclass owns its defaults (the reference's); the run settings default to the same
    values, and a profile holds only what differs from them."""
    from dataclasses import fields

    from icl_support.contexts.pixel_lgm import DistillConfig
    from icl_support.contexts.row_lgm import RowDistillConfig
    from icl_support.contexts.tabicl_lgm import TabICLDistillConfig
    from icl_support.contexts.tabicl_pixels import TabICLPixelConfig
    from icl_support.core.config import CORRUPTION_NAMES, PROFILES, Settings
    from icl_support.data.corruptions import CORRUPTIONS

    settings = {f.name: f.default for f in fields(Settings)}
    knobs = {
        DistillConfig: {"steps": "distill_steps", "augs_per_step": "distill_augs", "lr": "distill_lr",
                        "noise_mean": "noise_mean", "syn_res": "distill_res", "crop_res": "lgm_image_size",
                        "ipc": "ipc"},
        RowDistillConfig: {"steps": "row_distill_steps", "lr": "row_distill_lr"},
        TabICLDistillConfig: {"steps": "tabicl_distill_steps"},
        TabICLPixelConfig: {"steps": "tabicl_distill_steps"},
    }  # fmt: skip
    for config, names in knobs.items():
        defaults = {f.name: f.default for f in fields(config)}
        for field, setting in names.items():
            assert defaults[field] == settings[setting], f"{config.__name__}.{field} vs Settings.{setting}"
    for name, profile in PROFILES.items():
        same = sorted(k for k, v in profile.items() if k in settings and v == settings[k])
        assert not same, f"profile {name} repeats Settings defaults: {same}"
    assert tuple(CORRUPTIONS) == CORRUPTION_NAMES == settings["corruptions"]
