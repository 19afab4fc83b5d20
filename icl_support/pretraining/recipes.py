"""TabICL-mini's recipes: its architecture, the curriculum stages, the config that keys a run, and every recipe.

A recipe is a :class:`PretrainConfig`: a seed, a model config (TabICL's own constructor arguments) and a sequence of
:class:`Stage` s, optionally continuing a finished run of its ``parent``. Its :meth:`~PretrainConfig.digest` keys the
resumable state; fields added after a recipe was trained enter the digest only when set, so older runs keep theirs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field

from ..model.weights import V2_CONFIG
from .synthetic_tables import PRIORS

MINI_CONFIG: dict = {
    **V2_CONFIG,
    "embed_dim": 32,
    "col_num_blocks": 1,
    "col_nhead": 4,
    "col_num_inds": 16,
    "row_num_blocks": 1,
    "row_nhead": 4,
    "icl_num_blocks": 4,
    "icl_nhead": 4,
}


@dataclass(frozen=True)
class Stage:
    """One curriculum stage. Ranges are inclusive and drawn per batch (all tables of a batch share them).

    ``cells``: budget of cells per batch, tables x rows x (features + 4); a batch holds as many
    tables as fit (1 to ``max_tables``), so wide, long tables come fewer at a time and a step
    costs about the same throughout. ``prior``: ``gmm`` or a TabICL prior name; ``scm_share``:
    with ``prior != "gmm"``, the share of batches drawn from that prior (the rest are Gaussian
    mixtures). ``lr``: peak learning rate.

    Added with recipe ``mini-v2`` (they enter a config's digest only when set, so v1 runs keep theirs):
    ``mix``: ``((prior, share), ...)`` drawn per batch, the remaining share plain ``gmm`` (replaces
    ``prior``/``scm_share``). ``shots``: few-shot contexts: ``n_train = classes[1] * k`` rows with ``k``
    drawn from ``shots`` per batch, and ``rows`` then counts the *query* rows.

    Added with recipe ``mini-w64-fs2`` (same rule for digests): ``balanced``: the share of few-shot batches from
    this package's own priors (Gaussian mixtures and, since ``mini-w64-fs4-embed``, ``embed_pca``) whose tables
    all have ``C`` classes (drawn per batch) and a context of exactly ``k`` rows of each class (``n_train = C * k``;
    i.i.d. samples of their class, never prototypes). ``pool_stats``: the share
    of batches preprocessed with statistics fitted on *every* row of the table (the unlabelled pool) instead of
    the context rows, as ``context_stats="pool"`` does at inference.

    Added with recipe ``mini-w64-fs3-blind`` (same rule): ``col_blind``: the share of few-shot batches (``shots``
    set) whose column stage does not see the context labels (TabICL v1's column stage, which is not
    target-aware), so the in-context stage alone must carry the labels and compare the query rows with the
    context rows. The model is unchanged; inference stays target-aware.
    """

    name: str
    steps: int
    features: tuple[int, int]
    classes: tuple[int, int]
    rows: tuple[int, int]
    lr: float
    cells: int = 40_000
    max_tables: int = 16
    prior: str = "gmm"
    scm_share: float = 0.0
    mix: tuple[tuple[str, float], ...] = ()
    shots: tuple[int, int] | None = None
    balanced: float = 0.0
    pool_stats: float = 0.0
    col_blind: float = 0.0

    def __post_init__(self):
        for name in ("balanced", "pool_stats", "col_blind"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"stage {self.name}: {name} is a share of batches in [0, 1], got {getattr(self, name)}"
                )
        if self.balanced and self.shots is None:
            raise ValueError(f"stage {self.name}: balanced contexts need shots (k rows per class)")
        if self.col_blind and self.shots is None:
            raise ValueError(f"stage {self.name}: col_blind applies to few-shot batches; set shots too")
        for prior, share in self.mix:
            if prior not in PRIORS or not 0 < share <= 1:
                raise ValueError(f"stage {self.name}: bad mix entry ({prior!r}, {share}); priors: {', '.join(PRIORS)}")
        if sum(share for _, share in self.mix) > 1 + 1e-9:
            raise ValueError(f"stage {self.name}: mix shares sum above 1: {self.mix}")

    def tables_for(self, n_rows: int, n_features: int) -> int:
        return max(1, min(self.max_tables, self.cells // (n_rows * (n_features + 4))))


CURRICULUM: tuple[Stage, ...] = (
    Stage("gmm-easy", 300, features=(2, 8), classes=(2, 3), rows=(64, 256), lr=1e-3),
    Stage("gmm-classes", 1300, features=(2, 32), classes=(2, 10), rows=(128, 384), lr=1e-3),
    Stage("gmm-wide", 2200, features=(2, 64), classes=(2, 10), rows=(128, 512), lr=1e-3),
    Stage("gmm-long", 500, features=(8, 64), classes=(5, 10), rows=(384, 1024), lr=7e-4, cells=60_000),
    Stage(
        "scm-mix", 1500, features=(2, 48), classes=(2, 10), rows=(128, 512), lr=5e-4, prior="mix_scm", scm_share=0.5,
    ),
)  # fmt: skip

# mini-v2 continues a finished mini-v1 run (model and optimiser) on tables whose class signal is spread thinly
# over many columns (``gmm_dense``, like PCA components of image embeddings), then on few-shot contexts (1-12
# rows per class); plain Gaussian mixtures and TabICL's prior stay in the mix so nothing learnt is dropped.
DENSE_CURRICULUM: tuple[Stage, ...] = (
    Stage("dense", 1600, features=(8, 80), classes=(2, 10), rows=(96, 320), lr=5e-4, cells=60_000,
          mix=(("gmm_dense", 0.6), ("mix_scm", 0.15))),
    Stage("few-shot", 800, features=(4, 80), classes=(3, 10), rows=(64, 256), lr=3e-4, cells=60_000,
          shots=(1, 12), mix=(("gmm_dense", 0.6),)),
)  # fmt: skip


# mini-w64: mini-v1 showed the 0.65M model falls behind logistic regression on its *own* dense 10-class,
# 64-column tables (0.648 vs 0.762) while matching it at 4 classes or 16 columns, so this recipe doubles
# the width (embed_dim 64: 2.5M parameters, about 2.4x the step cost) and trains from scratch on a shorter
# curriculum that brings the dense tables, TabICL's prior and few-shot contexts in earlier.
WIDE_CONFIG: dict = {**MINI_CONFIG, "embed_dim": 64}
WIDE_CURRICULUM: tuple[Stage, ...] = (
    Stage("gmm-easy", 250, features=(2, 8), classes=(2, 3), rows=(64, 256), lr=1e-3),
    Stage("gmm-classes", 650, features=(2, 32), classes=(2, 10), rows=(128, 384), lr=1e-3),
    Stage("dense-wide", 1300, features=(2, 80), classes=(2, 10), rows=(128, 512), lr=8e-4,
          mix=(("gmm_dense", 0.5), ("mix_scm", 0.15))),
    Stage("scm-mix", 600, features=(2, 64), classes=(2, 10), rows=(128, 512), lr=5e-4,
          mix=(("mix_scm", 0.5), ("gmm_dense", 0.25))),
    Stage("few-shot", 600, features=(4, 80), classes=(3, 10), rows=(64, 256), lr=3e-4, cells=60_000,
          shots=(1, 12), mix=(("gmm_dense", 0.6), ("mix_scm", 0.1))),
)  # fmt: skip

# mini-w64-fs continues a finished mini-w64 run: its last evaluation still rose (digits embeddings 0.684 -> 0.696
# with the whole pool, 0.239 -> 0.255 with 12 rows), and the embedding bar is lost at small contexts, so this
# recipe spends its steps on many-class, many-column tables: dense ones, then few-shot contexts of 1 to 6 rows
# per class (12 context rows of 10 classes is about one per class), TabICL's prior kept in the mix.
FEWSHOT_CURRICULUM: tuple[Stage, ...] = (
    Stage("dense-many", 600, features=(16, 80), classes=(5, 10), rows=(128, 512), lr=4e-4, cells=60_000,
          mix=(("gmm_dense", 0.6), ("mix_scm", 0.15))),
    Stage("few-shot-many", 1400, features=(16, 80), classes=(5, 10), rows=(64, 256), lr=3e-4, cells=60_000,
          shots=(1, 6), mix=(("gmm_dense", 0.6), ("mix_scm", 0.1))),
)  # fmt: skip


# mini-w64-fs2 continues the finished mini-w64-fs run on the write-up's own regime: contexts of one to five rows
# per class (80% of the Gaussian-mixture batches with exactly k rows of each of 2-10 classes, i.i.d. samples of
# their class, never prototypes), half of all batches preprocessed with statistics of the whole table (the
# unlabelled pool, ``context_stats="pool"``), the other half with the context's (TabICL as shipped); a short
# stage of ordinary dense and prior tables in the middle keeps the large contexts; TabICL's prior in every mix.
FEWSHOT2_CURRICULUM: tuple[Stage, ...] = (
    Stage("k-shot", 1500, features=(8, 80), classes=(2, 10), rows=(64, 192), lr=3e-4, cells=60_000,
          shots=(1, 5), mix=(("gmm_dense", 0.6), ("mix_scm", 0.1)), balanced=0.8, pool_stats=0.5),
    Stage("dense-refresh", 300, features=(8, 80), classes=(2, 10), rows=(128, 512), lr=2e-4, cells=60_000,
          mix=(("gmm_dense", 0.5), ("mix_scm", 0.2)), pool_stats=0.3),
    Stage("k-shot-final", 1500, features=(8, 80), classes=(2, 10), rows=(64, 192), lr=2e-4, cells=60_000,
          shots=(1, 5), mix=(("gmm_dense", 0.6), ("mix_scm", 0.1)), balanced=0.8, pool_stats=0.5),
)  # fmt: skip


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines a pretraining run (its digest keys the resumable state)."""

    seed: int = 0
    stages: tuple[Stage, ...] = CURRICULUM
    model: dict = field(default_factory=lambda: dict(MINI_CONFIG))
    warmup_steps: int = 100
    final_lr_fraction: float = 0.1  # the last stage decays linearly to this fraction of its lr
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    train_fraction: tuple[float, float] = (0.5, 0.9)  # context share of each table's rows
    generator_version: int = 1  # bump when synthetic_tables changes what a (seed, step) draws
    # warm start: this run continues a *finished* run of ``parent`` (its model, optimiser, clocks and log);
    # steps keep counting from ``parent.total_steps``, and steps before that are the parent's
    parent: PretrainConfig | None = None

    @property
    def start_step(self) -> int:
        """The first step this config trains itself (0, or the parent's total steps)."""
        return self.parent.total_steps if self.parent is not None else 0

    @property
    def total_steps(self) -> int:
        return self.start_step + sum(s.steps for s in self.stages)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(_digest_view(self), sort_keys=True).encode()).hexdigest()[:16]

    def stage_at(self, step: int) -> tuple[int, Stage]:
        """(index, stage) that step ``step`` (0-based) belongs to; the last stage past the end.

        Steps of a parent run return the parent's stage with a negative index (-1 = its last stage).
        """
        if self.parent is not None and step < self.start_step:
            index, stage = self.parent.stage_at(step)
            return index - len(self.parent.stages), stage
        start = self.start_step
        for i, stage in enumerate(self.stages):
            if step < start + stage.steps:
                return i, stage
            start += stage.steps
        return len(self.stages) - 1, self.stages[-1]

    def lr_at(self, step: int) -> float:
        """Linear warm-up (from ``start_step``), each stage's lr, a linear decay over the last stage."""
        if self.parent is not None and step < self.start_step:
            return self.parent.lr_at(step)
        index, stage = self.stage_at(step)
        lr = stage.lr * min(1.0, (step - self.start_step + 1) / self.warmup_steps)
        if index == len(self.stages) - 1:
            start = self.total_steps - stage.steps
            frac = min(1.0, (step - start) / max(1, stage.steps))
            lr *= 1.0 - (1.0 - self.final_lr_fraction) * frac
        return lr

    def lineage(self) -> list[PretrainConfig]:
        """Configs from the first run to this one."""
        return ([*self.parent.lineage()] if self.parent is not None else []) + [self]


_NEW_STAGE_FIELDS = {"mix": (), "shots": None, "balanced": 0.0, "pool_stats": 0.0, "col_blind": 0.0}


def _digest_view(cfg: PretrainConfig) -> dict:
    """``asdict(cfg)`` without fields added after v1 that are unset (a v1 run keeps its digest)."""
    view = asdict(cfg)
    for stage in view["stages"]:
        for name, unset in _NEW_STAGE_FIELDS.items():
            if stage[name] == unset:
                del stage[name]
    if cfg.parent is None:
        del view["parent"]
    else:
        view["parent"] = _digest_view(cfg.parent)
    return view


# mini-gpu: sized for about 9 minutes of one large GPU (never run here: no GPU was lent). Twice mini's width again
# (embed_dim 128, the released model's) and 6 in-context blocks: 13.8M parameters. A 240,000-cell step is
# 0.35 TFLOP forward + backward (counted on the CPU with torch's FlopCounterMode), so 8,000 steps are 2.8 PFLOP:
# about 3 minutes at 15 TFLOP/s sustained, the rest of the 9 minutes left to small-kernel overheads and the CPU
# drawing batches (run with --prefetch; TabICL's prior is kept to a small share because it is the slow one to draw).
GPU_CONFIG: dict = {**WIDE_CONFIG, "embed_dim": 128, "icl_num_blocks": 6, "icl_nhead": 8, "col_nhead": 8,
                    "row_nhead": 8}  # fmt: skip
GPU_CURRICULUM: tuple[Stage, ...] = (
    Stage("gmm-easy", 400, features=(2, 8), classes=(2, 3), rows=(64, 256), lr=1e-3, cells=240_000),
    Stage("gmm-classes", 1200, features=(2, 32), classes=(2, 10), rows=(128, 512), lr=1e-3, cells=240_000),
    Stage("dense-wide", 2600, features=(2, 96), classes=(2, 10), rows=(128, 1024), lr=8e-4, cells=240_000,
          mix=(("gmm_dense", 0.5), ("mix_scm", 0.05))),
    Stage("k-shot", 2400, features=(8, 96), classes=(2, 10), rows=(64, 256), lr=4e-4, cells=240_000,
          shots=(1, 5), mix=(("gmm_dense", 0.6), ("mix_scm", 0.05)), balanced=0.8, pool_stats=0.5),
    Stage("long", 1400, features=(8, 96), classes=(2, 10), rows=(512, 2048), lr=3e-4, cells=240_000,
          mix=(("gmm_dense", 0.5), ("mix_scm", 0.05)), pool_stats=0.3),
)  # fmt: skip

DEFAULT_CONFIG = PretrainConfig()  # mini-v1, the default of the functions that take a config

RECIPES: dict[str, PretrainConfig] = {
    "mini-v1": PretrainConfig(),
    "mini-v2": PretrainConfig(stages=DENSE_CURRICULUM, parent=PretrainConfig()),
    "mini-w64": PretrainConfig(stages=WIDE_CURRICULUM, model=dict(WIDE_CONFIG)),
    "mini-w64-fs": PretrainConfig(
        stages=FEWSHOT_CURRICULUM,
        model=dict(WIDE_CONFIG),
        parent=PretrainConfig(stages=WIDE_CURRICULUM, model=dict(WIDE_CONFIG)),
    ),
}
RECIPES["mini-gpu"] = PretrainConfig(stages=GPU_CURRICULUM, model=dict(GPU_CONFIG))
RECIPES["mini-w64-fs2"] = PretrainConfig(
    stages=FEWSHOT2_CURRICULUM, model=dict(WIDE_CONFIG), parent=RECIPES["mini-w64-fs"]
)
# Issue 27's recipes 1 and 3, equal budgets (3,300 steps each, about 0.9 CPU-hours at one thread), both continuing
# the shipped mini-w64-fs2 on FEWSHOT2_CURRICULUM's stages: recipe 1 (``mini-w64-fs3-blind``) hides the context
# labels from the column stage in half of the few-shot batches, so the in-context stage must learn to read ten rows;
# recipe 3 (``mini-w64-fs3-long``) repeats the same stages unchanged, the baseline any idea must beat per CPU-hour.
BLIND_CURRICULUM: tuple[Stage, ...] = tuple(
    dataclasses.replace(stage, col_blind=0.5) if stage.shots is not None else stage for stage in FEWSHOT2_CURRICULUM
)
RECIPES["mini-w64-fs3-blind"] = PretrainConfig(
    stages=BLIND_CURRICULUM, model=dict(WIDE_CONFIG), parent=RECIPES["mini-w64-fs2"]
)
RECIPES["mini-w64-fs3-long"] = PretrainConfig(
    stages=FEWSHOT2_CURRICULUM, model=dict(WIDE_CONFIG), parent=RECIPES["mini-w64-fs2"]
)
# Issue 27, second round: recipe 3 won the first (every score), so both continuations start from its finished run
# (step 12,000, its exact AdamW state) with equal budgets of 3,300 steps: ``mini-w64-fs4-long`` repeats the same
# stages once more (the per-CPU-hour baseline again), ``mini-w64-fs4-embed`` puts embedding-shaped tables
# (``embed_pca``, recipe 2) into every stage's mix.
RECIPES["mini-w64-fs4-long"] = PretrainConfig(
    stages=FEWSHOT2_CURRICULUM, model=dict(WIDE_CONFIG), parent=RECIPES["mini-w64-fs3-long"]
)
EMBED_CURRICULUM: tuple[Stage, ...] = tuple(
    dataclasses.replace(stage, mix=(("embed_pca", 0.4), ("gmm_dense", 0.3), ("mix_scm", 0.1)))
    if stage.shots is not None
    else dataclasses.replace(stage, mix=(("embed_pca", 0.3), ("gmm_dense", 0.3), ("mix_scm", 0.2)))
    for stage in FEWSHOT2_CURRICULUM
)
RECIPES["mini-w64-fs4-embed"] = PretrainConfig(
    stages=EMBED_CURRICULUM, model=dict(WIDE_CONFIG), parent=RECIPES["mini-w64-fs3-long"]
)


# Issue 27, third round (the rest of the stop rule's 5 CPU hours, equal budgets of 2,200 steps, both continuing the
# finished mini-w64-fs4-embed): ``mini-w64-fs5-embed`` its stages again, shortened; ``mini-w64-fs5-embed-1shot`` the
# same with the few-shot stages' contexts at one or two rows per class (the bar's weakest part is one row per class).
def _shortened(stages: tuple[Stage, ...], factor: float, **changes) -> tuple[Stage, ...]:
    return tuple(
        dataclasses.replace(stage, steps=round(stage.steps * factor), **(changes if stage.shots is not None else {}))
        for stage in stages
    )


RECIPES["mini-w64-fs5-embed"] = PretrainConfig(
    stages=_shortened(EMBED_CURRICULUM, 2 / 3), model=dict(WIDE_CONFIG), parent=RECIPES["mini-w64-fs4-embed"]
)
RECIPES["mini-w64-fs5-embed-1shot"] = PretrainConfig(
    stages=_shortened(EMBED_CURRICULUM, 2 / 3, shots=(1, 2)),
    model=dict(WIDE_CONFIG),
    parent=RECIPES["mini-w64-fs4-embed"],
)
SHIPPED_RECIPE = "mini-w64-fs5-embed"  # the recipe behind icl_support/weights/tabicl-mini.ckpt


def with_seed(cfg: PretrainConfig, seed: int) -> PretrainConfig:
    """``cfg`` with ``seed`` set throughout its lineage."""
    parent = with_seed(cfg.parent, seed) if cfg.parent is not None else None
    return dataclasses.replace(cfg, seed=seed, parent=parent)  # the recipe behind icl_support/weights/tabicl-mini.ckpt
