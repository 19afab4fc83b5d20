"""Run settings: one frozen dataclass, three profiles, one resolver.

Every notebook's ``parameters`` cell holds literals only; the first code cell after it calls
:func:`resolve_settings`, which starts from a profile and applies the overrides that are not
``None``. Unknown names and wrong types fail at once with a message listing what is valid::

    settings = resolve_settings("demo", seed=3, pca_dim=32)
    settings.backbone            # 'efficientnet_lite0'

Profiles
--------
``smoke``  tests: sklearn digits, a few hundred images at 128 px, tiny sweeps (< 1 min a notebook).
``demo``   the offline default of ``make book``: all of sklearn digits, offline EfficientNet-Lite0.
``paper``  the write-up's settings: DINOv2 ViT-B/14, full CIFAR-10, released TabICL, a GPU.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, fields, replace
from pathlib import Path

CORRUPTION_NAMES = ("gaussian_noise", "gaussian_blur", "contrast", "jpeg")  # icl_support.data.corruptions
CONTEXT_STATS = ("context", "pool")  # icl_support.model.context_stats


@dataclass(frozen=True)
class Settings:
    """Everything that determines a chapter's run.

    Sizes are image counts; ``0`` means "all that the split has". Fractions are of the train pool.
    """

    profile: str
    dataset: str = "digits"  # a name from icl_support.data.datasets.DATASETS
    data_root: str = ""  # local image-folder tree; "" = the dataset's own download/embedded copy
    backbone: str = "efficientnet_lite0"  # a name from icl_support.embedding.backbones or any timm model
    device: str = "auto"  # "auto" (cuda if available), "cpu", "cuda", "cuda:1", ...
    seed: int = 0
    cache_dir: str = ""  # "" = $ICL_SYNTH_CACHE or ~/.cache/icl-synth
    figures_dir: str = "figures"  # PNG + PDF of every figure, relative to the working directory
    tabicl_checkpoint: str = "auto"  # "released", "mini", "mini-w64", "auto", "random" or a checkpoint path
    n_train: int = 0  # size of the class-balanced train pool (0 = whole train split)
    n_test: int = 0  # size of the class-balanced test set (0 = whole test split)
    image_size: int = 0  # chapters 1-2: backbone input side in pixels (0 = the backbone's pretrained cfg)
    embed_batch_size: int = 64
    pca_dim: int = 0  # PCA width fitted on the whole train pool (0 = raw embeddings)
    n_estimators: int = 1  # TabICL ensemble members
    # whose statistics TabICL's preprocessing is fitted on for the headline TabICL number: "context" (TabICL as
    # shipped) or "pool" (the unlabelled pool the context came from); 1-per-class contexts report both
    context_stats: str = "context"
    # chapters 4-5 also score TabICL's split mode ("columns from the pool": the column stage reads the labelled pool,
    # the in-context stage the context) beside the plain mode, where the classes fit the checkpoint's max_classes
    split_mode: bool = True
    # chapter 1: accuracy vs fraction of the train pool used as context
    fractions: tuple[float, ...] = (0.01, 0.05, 0.2, 1.0)
    n_seeds: int = 3
    tabicl_max_context: int = 2000  # larger contexts skip TabICL (time extrapolated in chapter 2)
    # chapter 2: inference time vs context size
    context_sizes: tuple[int, ...] = (10, 30, 100, 300, 1000)
    n_timing_test: int = 200
    timing_repeats: int = 1
    kv_cache_context: int = 300  # context size for the default vs fit-once (kv_cache) comparison
    # chapters 3-4: Linear Gradient Matching and 1-per-class contexts
    ipc: int = 1  # images per class (synthetic and real contexts)
    distill_res: int = 256  # stored synthetic/real image side, pixels (power of two)
    lgm_image_size: int = 224  # chapters 3-6: side the backbone sees, pixels, <= distill_res (0 = distill_res)
    distill_steps: int = 5000
    distill_augs: int = 10  # K: augmented copies of the synthetic set per step
    distill_lr: float = 2e-3
    noise_mean: float = 0.5  # the reference's noise mean (0.0 = zero-mean noise)
    random_draws: int = 50  # random 1-per-class contexts
    probe_epochs: int = 1000
    probe_augs: int = 32  # augmented views per image embedded once for the linear probe
    probe_seeds: int = 5
    # chapter 5: every context strategy at k rows per class (accuracy vs rows and vs seconds)
    ks: tuple[int, ...] = (1, 2, 5, 10, 20, 50)  # rows (images) per class
    strategies: tuple[str, ...] = ()  # () = every strategy of icl_support.contexts.strategies.STRATEGIES
    selection_seeds: int = 5  # seeds of the seeded strategies (random, k-means based, row_lgm)
    lgm_ipcs: tuple[int, ...] = (1,)  # the ks at which pixel LGM runs (it costs a backbone backward per step)
    distill_seeds: int = 1  # independent distillations (seeds) of the synthetic-image strategies per k
    row_distill_steps: int = 500  # embedding-space LGM
    row_distill_lr: float = 0.01  # Adam lr in units of the pool's per-feature std
    tabicl_distill_steps: int = 200  # TabICL-aware distillation, rows and images (only with real TabICL weights)
    tabicl_pixels_anchor: float = 1.0  # weight of the class-mean anchor of the strategy tabicl_pixels_anchored
    lgm_anchor: float = 1.0  # weight of the class-mean anchor of the strategy pixel_lgm_anchored
    n_tabicl_test: int = 0  # test rows TabICL predicts in chapter 5 (0 = all)
    # chapter 6: distribution shift of the test images
    corruptions: tuple[str, ...] = CORRUPTION_NAMES
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)

    def __post_init__(self) -> None:
        _check_values(self)

    @property
    def cache_path(self) -> Path:
        """Absolute cache directory (created on first use by the modules that write to it)."""
        if self.cache_dir:
            return Path(self.cache_dir).expanduser().resolve()
        env = os.environ.get("ICL_SYNTH_CACHE")
        return Path(env).expanduser().resolve() if env else Path.home() / ".cache" / "icl-synth"

    @property
    def lgm_crop(self) -> int:
        """Side the backbone sees in chapters 3-6: ``lgm_image_size``, or ``distill_res`` when that is 0."""
        return self.lgm_image_size or self.distill_res

    @property
    def figures_path(self) -> Path:
        return Path(self.figures_dir).expanduser().resolve()

    def to_dict(self) -> dict:
        """Plain-type dict (tuples as lists), for provenance records and JSON."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


# Settings' defaults are the write-up's method settings (LGM at 5,000 steps, K = 10, 256 px seen at 224) on the
# offline digits and EfficientNet-Lite0; a profile holds only what differs from them (tests/test_config.py).
_BASE = dict(pca_dim=64, distill_res=64, lgm_image_size=0)  # the offline profiles: PCA-64 rows, LGM at 64 px

PROFILES: dict[str, dict] = {
    "smoke": dict(
        _BASE,
        distill_res=32,
        distill_steps=20,
        distill_augs=2,
        random_draws=3,
        probe_epochs=50,
        probe_augs=4,
        probe_seeds=2,
        n_train=200,
        n_test=100,
        image_size=128,
        pca_dim=16,
        tabicl_checkpoint="mini",
        fractions=(0.05, 0.25, 1.0),
        n_seeds=2,
        context_sizes=(10, 30, 100),
        n_timing_test=50,
        kv_cache_context=100,
        ks=(1, 3),
        selection_seeds=2,
        row_distill_steps=30,
        tabicl_distill_steps=5,
        n_tabicl_test=50,
        severities=(3,),
    ),
    "demo": dict(
        _BASE,
        # sized so a cold `make book` fits in about 15 minutes on 2 cores (the paper profile keeps the write-up's
        # 50 random draws and LGM's 5,000 steps with K = 10; the recorded CIFAR-10 runs use 500 steps, K = 4)
        distill_steps=300,
        distill_augs=4,
        random_draws=20,
        probe_seeds=3,
        fractions=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
        n_seeds=4,
        timing_repeats=2,
        kv_cache_context=1000,
        n_tabicl_test=200,
        selection_seeds=3,
        row_distill_steps=300,
        tabicl_distill_steps=100,
    ),
    "paper": dict(
        dataset="cifar10",
        backbone="dinov2_vitb14",
        device="cuda",
        tabicl_checkpoint="released",
        image_size=224,
        embed_batch_size=256,
        n_estimators=8,
        fractions=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2),
        tabicl_max_context=50000,
        context_sizes=(100, 300, 1000, 3000, 10000),
        n_timing_test=1000,
        timing_repeats=2,
        kv_cache_context=10000,
        lgm_ipcs=(1, 2, 5, 10),
    ),
}

# Per-chapter defaults on top of a profile: the write-up's 1-per-class study is on Imagenette.
CHAPTER_DEFAULTS: dict[tuple[str, str], dict] = {
    ("paper", "lgm"): {"dataset": "imagenette"},
}

PARAMETER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Settings) if f.name != "profile")


def resolve_settings(profile: str, chapter: str = "", **overrides) -> Settings:
    """Settings of ``profile`` (plus ``CHAPTER_DEFAULTS[(profile, chapter)]``) with every
    non-``None`` override applied.

    Raises ``ValueError`` naming the unknown profile or parameter (and listing the valid ones), and
    ``TypeError`` naming a parameter whose value has the wrong type.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    unknown = sorted(set(overrides) - set(PARAMETER_NAMES))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; valid parameters: {', '.join(PARAMETER_NAMES)}")
    values = dict(PROFILES[profile])
    values.update(CHAPTER_DEFAULTS.get((profile, chapter), {}))
    values.update({k: _coerce(k, v) for k, v in overrides.items() if v is not None})
    return Settings(profile=profile, **values)


def with_overrides(settings: Settings, **overrides) -> Settings:
    """A copy of ``settings`` with type-checked overrides (``None`` values ignored)."""
    unknown = sorted(set(overrides) - set(PARAMETER_NAMES))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; valid parameters: {', '.join(PARAMETER_NAMES)}")
    return replace(settings, **{k: _coerce(k, v) for k, v in overrides.items() if v is not None})


_HINTS = typing.get_type_hints(Settings)


def _coerce(name: str, value):
    """Check ``value`` against the declared type of ``name``; lists become tuples, ints may be floats."""
    hint = _HINTS[name]
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise TypeError(f"parameter {name!r} must be a list of {item.__name__}, got {value!r}")
        return tuple(_coerce_scalar(name, v, item) for v in value)
    return _coerce_scalar(name, value, hint)


def _coerce_scalar(name: str, value, kind: type):
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise TypeError(f"parameter {name!r} must be {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def _check_values(s: Settings) -> None:
    for name in ("n_train", "n_test", "image_size", "pca_dim", "tabicl_max_context", "lgm_image_size"):
        if getattr(s, name) < 0:
            raise ValueError(f"parameter {name!r} must be >= 0, got {getattr(s, name)}")
    for name in (
        "embed_batch_size",
        "n_estimators",
        "n_seeds",
        "n_timing_test",
        "timing_repeats",
        "kv_cache_context",
        "ipc",
        "distill_steps",
        "distill_augs",
        "random_draws",
        "probe_epochs",
        "probe_augs",
        "probe_seeds",
        "selection_seeds",
        "distill_seeds",
        "row_distill_steps",
        "tabicl_distill_steps",
    ):
        if getattr(s, name) < 1:
            raise ValueError(f"parameter {name!r} must be >= 1, got {getattr(s, name)}")
    if not s.fractions or any(not 0 < f <= 1 for f in s.fractions):
        raise ValueError(f"parameter 'fractions' must be non-empty, each in (0, 1], got {s.fractions}")
    if s.distill_res < 1 or s.distill_res & (s.distill_res - 1):
        raise ValueError(f"parameter 'distill_res' must be a power of two, got {s.distill_res}")
    if s.n_tabicl_test < 0:
        raise ValueError(f"parameter 'n_tabicl_test' must be >= 0, got {s.n_tabicl_test}")
    for name in ("ks", "lgm_ipcs"):
        if any(k < 1 for k in getattr(s, name)):
            raise ValueError(f"parameter {name!r} must hold ints >= 1, got {getattr(s, name)}")
    for name in ("tabicl_pixels_anchor", "lgm_anchor"):
        if getattr(s, name) < 0:
            raise ValueError(f"parameter {name!r} must be >= 0, got {getattr(s, name)}")
    if not 0 <= s.lgm_image_size <= s.distill_res:
        raise ValueError(
            f"parameter 'lgm_image_size' must be in 0..distill_res ({s.distill_res}), got {s.lgm_image_size}"
        )
    if s.context_stats not in CONTEXT_STATS:
        raise ValueError(
            f"parameter 'context_stats' must be one of {', '.join(CONTEXT_STATS)}, got {s.context_stats!r}"
        )
    bad = sorted(set(s.corruptions) - set(CORRUPTION_NAMES))
    if bad:
        raise ValueError(f"unknown corruptions {bad} in 'corruptions'; valid: {', '.join(CORRUPTION_NAMES)}")
    if any(not 1 <= v <= 5 for v in s.severities):
        raise ValueError(f"parameter 'severities' must hold ints in 1..5, got {s.severities}")
    if not s.context_sizes or any(n < 1 for n in s.context_sizes):
        raise ValueError(f"parameter 'context_sizes' must be non-empty, each >= 1, got {s.context_sizes}")
