"""TabICL weights (released, local or random) and the classifier built on them.

``tabicl_checkpoint`` values:

``released``  the published checkpoint (Hugging Face ``jingang/TabICL``); downloaded if not cached,
              a clear error offline.
``auto``      the released checkpoint if it is already in the Hugging Face cache, else ``random``.
``random``    TabICL v2's true architecture with seeded random weights, built and saved in the
              cache: every code path and real timings, **chance accuracy**.
a path        a local checkpoint file (``{"config": ..., "state_dict": ...}``).

Every result records which kind was used; anything made with random weights carries
:data:`RANDOM_BANNER`. Usage::

    weights = resolve_weights("auto", cache_dir)
    clf = make_tabicl(weights, n_estimators=1, device="cpu", seed=0).fit(X_ctx, y_ctx)
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

RELEASED_REPO = "jingang/TabICL"
RELEASED_FILE = "tabicl-classifier-v2-20260212.ckpt"
RANDOM_BANNER = "RANDOM WEIGHTS: timing only"

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
    """Which TabICL weights a run used. ``kind``: ``released``, ``local`` or ``random``."""

    kind: str
    path: str

    @property
    def is_random(self) -> bool:
        return self.kind == "random"

    @property
    def label(self) -> str:
        """Short label for figures and tables; random weights say so in capitals."""
        return RANDOM_BANNER if self.is_random else f"TabICL weights: {self.kind}"


def random_checkpoint(path: Path, seed: int = 0) -> Path:
    """Build TabICL v2's architecture with random weights (``torch.manual_seed(seed)``) and save it.

    Written atomically; reused when it already exists.
    """
    from tabicl._model.tabicl import TabICL

    path = Path(path)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TabICL(**V2_CONFIG)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save({"config": V2_CONFIG, "state_dict": model.state_dict()}, tmp)
    os.replace(tmp, path)
    return path


def resolve_weights(spec: str, cache_dir: str | Path, seed: int = 0) -> TabICLWeights:
    """Resolve a ``tabicl_checkpoint`` value (see module docstring) to a checkpoint file."""
    from huggingface_hub import hf_hub_download

    if spec in ("released", "auto"):
        try:
            return TabICLWeights("released", hf_hub_download(RELEASED_REPO, RELEASED_FILE, local_files_only=True))
        except Exception as err:
            if spec == "auto":
                warnings.warn(
                    f"released TabICL checkpoint not cached ({type(err).__name__}); using RANDOM weights", stacklevel=2
                )
                return resolve_weights("random", cache_dir, seed)
        try:
            return TabICLWeights("released", hf_hub_download(RELEASED_REPO, RELEASED_FILE))
        except Exception as err:
            raise RuntimeError(
                f"could not download the released TabICL checkpoint {RELEASED_REPO}/{RELEASED_FILE} "
                f"({type(err).__name__}: {err}). Offline? Pass tabicl_checkpoint='/path/to/{RELEASED_FILE}' "
                f"(a local copy) or 'random' (timing only)."
            ) from err
    if spec == "random":
        path = random_checkpoint(Path(cache_dir) / "tabicl" / f"tabicl-v2-random-seed{seed}.ckpt", seed)
        return TabICLWeights("random", str(path))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ValueError(f"tabicl_checkpoint {spec!r} is neither 'released', 'auto', 'random' nor an existing file")
    return TabICLWeights("local", str(path.resolve()))


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
