"""TabICL weights (released, mini, local or random) and the classifier built on them.

``tabicl_checkpoint`` values:

``released``  the published checkpoint (Hugging Face ``jingang/TabICL``); downloaded if not cached,
              a clear error offline.
``mini``      TabICL-mini, shipped in this package (``icl_support/weights/tabicl-mini.ckpt``): TabICL's
              architecture at embedding width 64 (2.46M parameters), pretrained on this project's machine on
              synthetic tables only, last on contexts of one to five rows per class with tables shaped like
              backbone embeddings reduced by PCA in the mix (recipe ``mini-w64-fs5-embed``,
              :mod:`icl_support.pretraining.recipes`; provenance in the ``.json`` beside it). A real in-context
              learner, weaker than the released model; the best recipe measured at one row per class.
``mini-w64-fs2``
              the ``mini`` shipped before it (``tabicl-mini-w64-fs2.ckpt``, the few-shot recipe): the ``mini`` of
              the records made until ``mini-w64-fs5-embed`` shipped (their provenance says ``mini-w64-fs2``).
``mini-v1``   the first TabICL-mini (0.65M parameters; ``tabicl-mini-v1.ckpt``): the ``mini`` of every record made
              before ``mini-w64-fs2`` shipped (their provenance says ``mini-v1``).
``mini-w64``  the wide recipe (``tabicl-mini-w64.ckpt``, 2.46M parameters), trained from scratch; ``mini`` continues
              it. Same kind (``mini``).
``auto``      the released checkpoint if it is already in the Hugging Face cache, else ``mini``.
``random``    TabICL v2's true architecture with seeded random weights, built and saved in the
              cache: every code path and real timings, **chance accuracy**.
a path        a local checkpoint file (``{"config": ..., "state_dict": ...}``).

Accuracy and time may come from different weights: :func:`timing_weights` maps ``mini`` to
the full-size architecture with random weights, because what a user pays in seconds is the
released model's size. Every result records which kind was used; anything made with random
weights carries :data:`RANDOM_BANNER`. Usage::

    weights = resolve_weights("auto", cache_dir)
    clf = make_tabicl(weights, n_estimators=1, device="cpu", seed=0).fit(X_ctx, y_ctx)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..core.cache import file_sha256, save_torch_atomic

RELEASED_REPO = "jingang/TabICL"
RELEASED_FILE = "tabicl-classifier-v2-20260212.ckpt"
RANDOM_BANNER = "RANDOM WEIGHTS: timing only"
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
MINI_CHECKPOINT = WEIGHTS_DIR / "tabicl-mini.ckpt"
MINI_LABEL = "TabICL-mini (2.46M parameters, embedding-table recipe, pretrained here on synthetic tables)"
# every TabICL-mini shipped as package data: ``tabicl_checkpoint`` value -> (checkpoint, label)
SHIPPED_MINI: dict[str, tuple[Path, str]] = {
    "mini": (MINI_CHECKPOINT, MINI_LABEL),
    "mini-v1": (WEIGHTS_DIR / "tabicl-mini-v1.ckpt",
                "TabICL-mini-v1 (0.65M parameters, pretrained here on synthetic tables)"),
    "mini-w64": (WEIGHTS_DIR / "tabicl-mini-w64.ckpt",
                 "TabICL-mini-w64 (2.46M parameters, pretrained here on synthetic tables)"),
    "mini-w64-fs2": (WEIGHTS_DIR / "tabicl-mini-w64-fs2.ckpt",
                     "TabICL-mini-w64-fs2 (2.46M parameters, few-shot recipe, pretrained here on synthetic tables)"),
}  # fmt: skip
KINDS = ("released", "mini", "local", "random")
SPECS = ("released", "auto", "random", *SHIPPED_MINI)  # every named ``tabicl_checkpoint`` (else: a path)

# TabICL v2 classifier architecture (tabicl 2.2.0 defaults + the v2 recipe; see reference/tabicl.md)
V2_CONFIG: dict = dict(
    max_classes=10, num_quantiles=999, embed_dim=128, col_num_blocks=3, col_nhead=8, col_num_inds=128,
    col_affine=False, col_feature_group="same", col_feature_group_size=3, col_target_aware=True,
    col_ssmax="qassmax-mlp-elementwise", row_num_blocks=3, row_nhead=8, row_num_cls=4, row_rope_base=100000,
    row_rope_interleaved=False, icl_num_blocks=12, icl_nhead=8, icl_ssmax="qassmax-mlp-elementwise",
    ff_factor=2, dropout=0.0, activation="gelu", norm_first=True, bias_free_ln=False, recompute=False,
    zero_init=False,
)  # fmt: skip


@dataclass(frozen=True)
class TabICLWeights:
    """Which TabICL weights a run used. ``kind``: one of :data:`KINDS`; ``variant``: which shipped TabICL-mini
    (a key of :data:`SHIPPED_MINI`) when ``kind == "mini"``."""

    kind: str
    path: str
    variant: str = "mini"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown TabICL weights kind {self.kind!r}; valid: {', '.join(KINDS)}")
        if self.kind == "mini" and self.variant not in SHIPPED_MINI:
            raise ValueError(f"unknown TabICL-mini variant {self.variant!r}; shipped: {', '.join(SHIPPED_MINI)}")

    @property
    def is_random(self) -> bool:
        return self.kind == "random"

    @property
    def name(self) -> str:
        """What to call TabICL in a legend or a table column: ``TabICL-mini``, ``TabICL``, ``TabICL (local)``, or
        ``TabICL (RANDOM WEIGHTS)``."""
        if self.kind == "mini":
            return f"TabICL-{self.variant}"
        return {"released": "TabICL", "random": "TabICL (RANDOM WEIGHTS)"}.get(self.kind, f"TabICL ({self.kind})")

    @property
    def label(self) -> str:
        """Short label for figures and tables; random weights say so in capitals."""
        if self.is_random:
            return RANDOM_BANNER
        return SHIPPED_MINI[self.variant][1] if self.kind == "mini" else f"TabICL weights: {self.kind}"


def recorded_variant(provenance: dict) -> str:
    """Which weights a recorded run used, in one word: the shipped TabICL-mini's variant (``mini``,
    ``mini-w64``; records made before a second one shipped used ``mini``), a local checkpoint's file stem,
    or the kind (``released``, ``random``)."""
    kind = provenance.get("tabicl_weights", "unknown")
    if kind == "mini":
        return provenance.get("tabicl_variant") or "mini"
    if kind == "local" and provenance.get("tabicl_checkpoint"):
        return Path(provenance["tabicl_checkpoint"]).stem
    return kind


def recorded_name(provenance: dict) -> str:
    """What to call TabICL in a recorded run, from its provenance (see :func:`recorded_variant`)."""
    kind = provenance.get("tabicl_weights", "unknown")
    if kind == "mini":
        return f"TabICL-{recorded_variant(provenance)}"
    if kind == "local":
        return f"TabICL ({recorded_variant(provenance)})"  # a local checkpoint, by file
    names = {"released": "the released TabICL", "random": "TabICL (RANDOM WEIGHTS)"}
    return names.get(kind, f"TabICL ({kind} weights)")


def random_checkpoint(path: Path, seed: int = 0) -> Path:
    """Build TabICL v2's architecture with random weights (``torch.manual_seed(seed)``) and save it.

    Written atomically; reused when it already exists.
    """
    from tabicl._model.tabicl import TabICL

    path = Path(path)
    if path.exists():
        return path
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TabICL(**V2_CONFIG)
    return save_torch_atomic({"config": V2_CONFIG, "state_dict": model.state_dict()}, path)


def checkpoint_max_classes(path: str | Path) -> int:
    """The ``max_classes`` of a TabICL checkpoint's config (memory-mapped: the weights are not read)."""
    ckpt = torch.load(Path(path), map_location="cpu", weights_only=True, mmap=True)
    return int(ckpt["config"].get("max_classes", V2_CONFIG["max_classes"]))


def check_checkpoint(path: str | Path, what: str = "TabICL checkpoint") -> dict:
    """Load ``path`` with ``weights_only=True`` and check it is ``{"config": dict, "state_dict": dict}``.

    Raises ValueError naming the file and what to do when it is truncated, not a TabICL checkpoint
    or its state dict does not fit its config.
    """
    from tabicl._model.tabicl import TabICL

    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"{what} {path} cannot be read ({type(err).__name__}): it is truncated or not a torch checkpoint. "
            f"Replace it with a complete copy (for the shipped TabICL-mini: git checkout -- {path.name}, or "
            f"re-export it with python -m icl_support.pretraining.pretrain RUN_DIR --export {path})."
        ) from err
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("config"), dict) or "state_dict" not in ckpt:
        raise ValueError(
            f"{what} {path} is not a TabICL checkpoint: need a dict with 'config' (TabICL kwargs) and 'state_dict'"
        )
    try:
        TabICL(**ckpt["config"]).load_state_dict(ckpt["state_dict"])
    except Exception as err:
        raise ValueError(
            f"{what} {path} does not fit TabICL(**its config) ({type(err).__name__}: {str(err)[:200]}); "
            "it was written for another architecture or another tabicl version"
        ) from err
    return ckpt


def mini_checkpoint(path: str | Path = MINI_CHECKPOINT) -> Path:
    """The shipped TabICL-mini checkpoint, checked against the sha256 in its provenance JSON."""
    import json

    path = Path(path)
    meta = path.with_suffix(".json")
    if not path.is_file() or not meta.is_file():
        raise FileNotFoundError(
            f"TabICL-mini is missing ({path} and {meta.name} must both exist); restore them from git "
            "(git checkout -- icl_support/weights) or train one with python -m icl_support.pretraining.pretrain"
        )
    expected = json.loads(meta.read_text()).get("checkpoint_sha256")
    actual = file_sha256(path, missing_ok=False)
    if expected != actual:
        raise ValueError(
            f"TabICL-mini checkpoint {path} does not match its provenance {meta.name} (sha256 {actual[:12]} != "
            f"{str(expected)[:12]}): it is truncated or was replaced. Restore it with git checkout -- {path}, or "
            f"re-export both with python -m icl_support.pretraining.pretrain RUN_DIR --export {path}."
        )
    return path


def resolve_weights(spec: str, cache_dir: str | Path, seed: int = 0) -> TabICLWeights:
    """Resolve a ``tabicl_checkpoint`` value (see module docstring) to a checkpoint file."""
    from huggingface_hub import hf_hub_download

    if spec in ("released", "auto"):
        try:
            return TabICLWeights("released", hf_hub_download(RELEASED_REPO, RELEASED_FILE, local_files_only=True))
        except Exception as err:
            if spec == "auto":
                return resolve_weights("mini", cache_dir, seed)
            cached_err = err
        try:
            return TabICLWeights("released", hf_hub_download(RELEASED_REPO, RELEASED_FILE))
        except Exception as err:
            from ..core.errors import download_hint

            raise RuntimeError(
                f"could not download the released TabICL checkpoint {RELEASED_REPO}/{RELEASED_FILE}: "
                f"{download_hint(err, RELEASED_REPO)} ({type(err).__name__}: {str(err)[:300]}; not cached either: "
                f"{type(cached_err).__name__}). Offline? Pass "
                f"tabicl_checkpoint='/path/to/{RELEASED_FILE}' (a local copy), 'mini' (TabICL-mini, shipped) or "
                f"'random' (timing only)."
            ) from err
    if spec in SHIPPED_MINI:
        return TabICLWeights("mini", str(mini_checkpoint(SHIPPED_MINI[spec][0])), variant=spec)
    if spec == "random":
        path = random_checkpoint(Path(cache_dir) / "tabicl" / f"tabicl-v2-random-seed{seed}.ckpt", seed)
        return TabICLWeights("random", str(path))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ValueError(
            f"tabicl_checkpoint {spec!r} is neither one of {', '.join(repr(v) for v in SPECS)} nor an existing file"
        )
    check_checkpoint(path)
    return TabICLWeights("local", str(path.resolve()))


def timing_weights(weights: TabICLWeights, cache_dir: str | Path) -> TabICLWeights:
    """Weights to *time* with: the full-size v2 architecture (random weights) in place of TabICL-mini.

    A user pays the released model's seconds, not TabICL-mini's; every other kind is returned as is.
    """
    return resolve_weights("random", cache_dir) if weights.kind == "mini" else weights


def make_tabicl(
    weights: TabICLWeights, n_estimators: int = 1, device: str | torch.device = "cpu", seed: int = 0, **kwargs
):
    """An unfitted ``TabICLClassifier`` on ``weights`` that never touches the network."""
    from tabicl import TabICLClassifier

    return TabICLClassifier(
        n_estimators=n_estimators,
        model_path=weights.path,
        allow_auto_download=False,
        device=str(device),
        random_state=seed,
        **kwargs,
    )
