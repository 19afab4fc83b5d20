"""Pretrain TabICL-mini: TabICL's own architecture, scaled down, trained here on synthetic tables only.

Run (CPU, one thread, resumable; a second call continues where the first stopped)::

    python -m icl_support.pretraining.pretrain runs/mini --max-minutes 90
    python -m icl_support.pretraining.pretrain runs/mini --export icl_support/weights/tabicl-mini.ckpt
    # a warm-started recipe continues a finished run of its parent (read, never written):
    python -m icl_support.pretraining.pretrain runs/mini-v2 --recipe mini-v2 --init runs/tabicl-mini

Recipes (:data:`RECIPES`): ``mini-v1`` (the shipped checkpoint, :data:`CURRICULUM`) and ``mini-v2``
(``mini-v1`` continued on ``gmm_dense`` tables and few-shot contexts, :data:`DENSE_CURRICULUM`; tried, not
shipped: see the chapter *TabICL-mini*) and ``mini-w64`` (twice the width, :data:`WIDE_CONFIG`, from scratch on
:data:`WIDE_CURRICULUM`, which brings dense tables, TabICL's prior and few-shot contexts in earlier), and
``mini-w64-fs`` (``mini-w64`` continued on many-class dense and few-shot tables, :data:`FEWSHOT_CURRICULUM`).

The model is ``tabicl._model.tabicl.TabICL(**MINI_CONFIG)``: the package's own class, so the
book's sklearn wrapper, torch path and attention hooks load it unchanged. Training follows
``tabicl.train``: train-mode forward, cross-entropy on the query rows of each table. Each table
is preprocessed exactly as ``TabICLClassifier(n_estimators=1)`` preprocesses a table at inference
(z-score with the context rows' statistics, then the two-stage outlier clip), so the model sees
at training what it sees at inference.

The curriculum (:data:`CURRICULUM`) opens on easy Gaussian-mixture tables (few classes and
features), widens classes, features and rows stage by stage, and ends on TabICL's own prior
(``tabicl.prior``, MLP structural causal models) mixed with Gaussian mixtures. It never sees
real data or images; real tables (sklearn's iris, wine, breast cancer, digits) are only
*evaluated* at checkpoints (:mod:`icl_support.evaluation.heldout`), never trained on or used to pick steps.

State (``<run>/state.pt``): model, optimiser, step, cumulative wall and CPU seconds, the
config's digest, RNG states and the log. Batches are a pure function of ``(seed, step)``, so a
resumed run trains on exactly the batches an uninterrupted run would have. A state written by
another config, or a truncated file, is refused with a message naming it.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..core.cache import save_torch_atomic
from ..evaluation.tabicl_model import V2_CONFIG
from ..evaluation.tabicl_torch import preprocess_tables
from .synthetic_tables import PRIORS, TableBatch, batch_seed, gaussian_mixture_tables, tabicl_prior_tables

# TabICL v2's architecture at 1/4 width and 1/3 depth: 0.65M parameters (the released model: 27.6M)
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

STATE_FILE = "state.pt"
LOG_FILE = "log.jsonl"


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

    Added with recipe ``mini-w64-fs2`` (same rule for digests): ``balanced``: the share of Gaussian-mixture
    few-shot batches whose tables all have ``C`` classes (drawn per batch) and a context of exactly ``k`` rows of
    each class (``n_train = C * k``; i.i.d. samples of their class, never prototypes). ``pool_stats``: the share
    of batches preprocessed with statistics fitted on *every* row of the table (the unlabelled pool) instead of
    the context rows, as ``context_stats="pool"`` does at inference.
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

    def __post_init__(self):
        for name in ("balanced", "pool_stats"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"stage {self.name}: {name} is a share of batches in [0, 1], got {getattr(self, name)}"
                )
        if self.balanced and self.shots is None:
            raise ValueError(f"stage {self.name}: balanced contexts need shots (k rows per class)")
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


_NEW_STAGE_FIELDS = {"mix": (), "shots": None, "balanced": 0.0, "pool_stats": 0.0}


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


@dataclass(frozen=True)
class BatchShape:
    """What step ``step`` draws: ``tables`` tables of ``n_rows`` rows (``n_train`` context) and ``n_features``."""

    tables: int
    n_rows: int
    n_train: int
    n_features: int
    prior: str
    n_classes: int | None = None  # a balanced batch: every table has this many classes, k = n_train / n_classes
    pool_stats: bool = False


def batch_shape(cfg: PretrainConfig, step: int) -> BatchShape:
    """The shape of step ``step``'s batch: a pure function of ``(cfg, step)``."""
    if cfg.parent is not None and step < cfg.start_step:
        return batch_shape(cfg.parent, step)
    _, stage = cfg.stage_at(step)
    rng = np.random.default_rng(batch_seed(cfg.seed, step, "shape"))
    if stage.shots is not None:
        n_train = stage.classes[1] * int(rng.integers(stage.shots[0], stage.shots[1] + 1))
        n_rows = n_train + int(rng.integers(stage.rows[0], stage.rows[1] + 1))
    else:
        n_rows = int(rng.integers(stage.rows[0], stage.rows[1] + 1))
    n_features = int(rng.integers(stage.features[0], stage.features[1] + 1))
    if stage.shots is None:
        n_train = int(round(n_rows * rng.uniform(*cfg.train_fraction)))
        n_train = min(max(n_train, stage.classes[1] * 2), n_rows - 1)
    if stage.mix:
        draw, prior = rng.random(), "gmm"
        for name, share in stage.mix:
            if draw < share:
                prior = name
                break
            draw -= share
    else:
        prior = stage.prior if stage.prior != "gmm" and rng.random() < stage.scm_share else "gmm"
    n_classes, pool_stats = None, False
    # draws added for mini-w64-fs2 come last and only when set, so earlier recipes draw exactly what they did
    if stage.balanced and prior in ("gmm", "gmm_dense") and rng.random() < stage.balanced:
        n_classes = int(rng.integers(stage.classes[0], stage.classes[1] + 1))
        query = n_rows - n_train
        n_train = n_classes * (n_train // stage.classes[1])
        n_rows = n_train + query
    if stage.pool_stats:
        pool_stats = bool(rng.random() < stage.pool_stats)
    return BatchShape(stage.tables_for(n_rows, n_features), n_rows, n_train, n_features, prior, n_classes, pool_stats)


def sample_batch(cfg: PretrainConfig, step: int) -> TableBatch:
    """The batch of step ``step``: a pure function of ``(cfg, step)``."""
    if cfg.parent is not None and step < cfg.start_step:
        return sample_batch(cfg.parent, step)
    _, stage = cfg.stage_at(step)
    shape = batch_shape(cfg, step)
    seed = batch_seed(cfg.seed, step, "tables")
    if shape.prior not in ("gmm", "gmm_dense"):
        batch = tabicl_prior_tables(
            shape.prior, shape.tables, shape.n_rows, shape.n_train, shape.n_features, stage.classes[1], seed
        )
    else:
        batch = gaussian_mixture_tables(
            shape.tables,
            shape.n_rows,
            shape.n_train,
            shape.n_features,
            shape.n_classes or stage.classes,
            seed,
            dense=shape.prior == "gmm_dense",
            balanced=shape.n_classes is not None,
        )
    return dataclasses.replace(batch, pool_stats=shape.pool_stats) if shape.pool_stats else batch


def preprocess_like_wrapper(X: Tensor, n_train: int, threshold: float = 4.0, fit_rows: int | None = None) -> Tensor:
    """``TabICLClassifier(n_estimators=1)``'s numeric preprocessing, batched over tables: ``X`` (B, T, F) ->
    (B, T, F) float32, statistics from the ``n_train`` context rows (``fit_rows``: the first ``fit_rows`` rows,
    ``T`` for the whole table, ``context_stats="pool"``). The one implementation lives in
    :func:`icl_support.evaluation.tabicl_torch.preprocess_tables`."""
    return preprocess_tables(X, n_train, threshold, fit_rows).float()


def query_loss(model: torch.nn.Module, batch: TableBatch) -> Tensor:
    """Mean cross-entropy of the query rows; logits beyond each table's classes are masked out."""
    device = next(model.parameters()).device
    X_raw, y = batch.X.to(device), batch.y.to(device)
    X = preprocess_like_wrapper(X_raw, batch.n_train, fit_rows=X_raw.shape[1] if batch.pool_stats else None)
    y_ctx = y[:, : batch.n_train].float()
    logits = model(X, y_ctx)  # (B, M, max_classes)
    classes = torch.arange(logits.shape[-1], device=device)
    mask = classes[None, None, :] >= (y.max(1).values + 1)[:, None, None]
    logits = logits.masked_fill(mask, float("-inf"))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[:, batch.n_train :].reshape(-1))


def build_model(cfg: PretrainConfig) -> torch.nn.Module:
    """A freshly initialised ``TabICL(**cfg.model)``, seeded by ``cfg.seed``."""
    from tabicl._model.tabicl import TabICL

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return TabICL(**cfg.model)


def make_optimizer(model: torch.nn.Module, cfg: PretrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=cfg.stages[0].lr, weight_decay=cfg.weight_decay)


# ---------------------------------------------------------------- state on disk


class StateError(RuntimeError):
    """A pretraining state that cannot be resumed (truncated, foreign, another config)."""


def _rng_state() -> dict:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": list(random.getstate()[1]) + [random.getstate()[0]],
    }


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    *internal, version = state["python"]
    random.setstate((version, tuple(internal), None))


def save_state(
    run_dir: Path, model, optimizer, cfg: PretrainConfig, step: int, clock: dict, log: list, window: list
) -> Path:
    """Write ``<run_dir>/state.pt`` atomically (``window``: losses of the steps since the last log entry)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / STATE_FILE
    state = {
        "kind": "icl_support.pretrain",
        "config_digest": cfg.digest(),
        "config": json.dumps(asdict(cfg), sort_keys=True),
        "step": step,
        "clock": clock,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": _rng_state(),
        "log": json.dumps(log),
        "window": json.dumps(window),
    }
    return save_torch_atomic(state, path)


SNAPSHOT_DIR = "snapshots"


def save_snapshot(run_dir: Path, model, cfg: PretrainConfig, step: int, clock: dict) -> Path:
    """Keep the model of step ``step`` as a TabICL checkpoint ``{"config", "state_dict", "step", "cpu_s"}``."""
    path = Path(run_dir) / SNAPSHOT_DIR / f"step-{step:06d}.pt"
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return save_torch_atomic(
        {"config": dict(cfg.model), "state_dict": state, "step": step, "cpu_s": clock["cpu_s"]}, path
    )


def snapshot_checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's snapshots (:func:`save_snapshot`), in step order."""
    return sorted((Path(run_dir) / SNAPSHOT_DIR).glob("step-*.pt"))


def load_state(run_dir: Path, cfg: PretrainConfig) -> dict | None:
    """The saved state of ``run_dir`` (None when there is none); refuses a state it cannot resume."""
    path = Path(run_dir) / STATE_FILE
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise StateError(
            f"{path} cannot be read ({type(err).__name__}: {err}); it is truncated or not a pretraining state. "
            f"Move it away to start over, or point to another run directory."
        ) from err
    if not isinstance(state, dict) or state.get("kind") != "icl_support.pretrain":
        raise StateError(
            f"{path} is not an icl_support.pretraining.pretrain state; move it away or use another run directory"
        )
    if state["config_digest"] != cfg.digest():
        raise StateError(
            f"{path} was written by another pretraining config (digest {state['config_digest']}, this run "
            f"{cfg.digest()}); resuming would mix two runs. Use another run directory or the original config."
        )
    return state


# ---------------------------------------------------------------- the loop


def _one_thread() -> None:
    torch.set_num_threads(1)


class BatchSource:
    """``source(step)`` -> the batch of ``step``, drawn inline or by one worker process ``ahead`` steps ahead.

    Batches are a pure function of ``(cfg, step)``, so both ways give the same batches; the worker (spawned,
    one torch thread) only moves prior generation off the training thread.
    """

    def __init__(self, cfg: PretrainConfig, ahead: int = 0, end: int | None = None):
        self.cfg, self.ahead, self.end = cfg, ahead, end if end is not None else cfg.total_steps
        self.pending: dict = {}
        self.pool = None
        if ahead > 0:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=_one_thread)

    def __call__(self, step: int) -> TableBatch:
        if self.pool is None:
            return sample_batch(self.cfg, step)
        for s in range(step, min(self.end, step + self.ahead + 1)):
            if s not in self.pending:
                self.pending[s] = self.pool.submit(sample_batch, self.cfg, s)
        for s in [s for s in self.pending if s < step]:
            self.pending.pop(s).cancel()
        return self.pending.pop(step).result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)


def pretrain(
    run_dir: str | Path,
    cfg: PretrainConfig = PretrainConfig(),
    max_steps: int | None = None,
    max_minutes: float | None = None,
    save_every: int = 100,
    eval_every: int = 500,
    log_every: int = 25,
    evaluate=None,
    progress: bool = True,
    prefetch: int = 0,
    init_from: str | Path | None = None,
    device: str = "cpu",
    snapshot_every: int = 0,
) -> dict:
    """Train until ``cfg.total_steps`` (or ``max_steps`` in all, or ``max_minutes`` of this call).

    Resumes from ``<run_dir>/state.pt`` when present. ``evaluate(model) -> dict`` is called at
    every ``eval_every``-th step and at the last step (its result goes into the log); the mean loss of
    every ``log_every`` steps is logged. ``prefetch``: batches drawn ahead by one worker process (0 = draw
    inline); the batches are the same either way (``benchmarks/pretrain_prior.py`` measures which is faster).
    ``init_from``: for a config with a ``parent``, the run directory of the finished parent run to start
    from (read, never written; only needed while ``run_dir`` has no state yet). ``device``: where the model
    trains (``"cuda"`` on a GPU); batches are drawn on the CPU either way, so the batches do not change.
    ``snapshot_every``: also keep the model alone every N steps as ``<run_dir>/snapshots/step-<N>.pt`` (a TabICL
    checkpoint, for scoring the run after the fact: :func:`snapshot_checkpoints`).
    Returns
    ``{"step", "loss", "wall_s", "cpu_s", "log"}``.
    """
    from tqdm.auto import tqdm

    from ..core.device import resolve_device

    run_dir = Path(run_dir)
    model = build_model(cfg).to(resolve_device(device))
    optimizer = make_optimizer(model, cfg)
    step, clock, log, window = 0, {"wall_s": 0.0, "cpu_s": 0.0}, [], []
    torch.manual_seed(cfg.seed)  # nothing should draw from the global RNGs; if something does, it is seeded
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    state = load_state(run_dir, cfg)
    if state is None and cfg.parent is not None:
        state = _parent_state(cfg, init_from)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        _set_rng_state(state["rng"])
        step, clock, log = int(state["step"]), dict(state["clock"]), json.loads(state["log"])
        window = json.loads(state.get("window", "[]"))
    end = min(cfg.total_steps, max_steps if max_steps is not None else cfg.total_steps)
    deadline = time.monotonic() + 60 * max_minutes if max_minutes else math.inf
    model.train()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    base_wall, base_cpu = clock["wall_s"], clock["cpu_s"]

    def tick() -> None:
        clock["wall_s"] = base_wall + time.perf_counter() - wall0
        clock["cpu_s"] = base_cpu + time.process_time() - cpu0

    bar = tqdm(total=end, initial=step, desc="pretrain", disable=not progress, dynamic_ncols=True)
    draw = BatchSource(cfg, prefetch, end)
    while step < end and time.monotonic() < deadline:
        lr = cfg.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = draw(step)
        loss = query_loss(model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at step {step} ({batch.prior} batch); state kept at last save")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        window.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(window):.3f}", stage=cfg.stage_at(step - 1)[1].name)
        if step % log_every == 0:
            tick()
            log.append({"step": step, "loss": float(np.mean(window)), "lr": lr, **clock})
            window = []
        if evaluate is not None and (step % eval_every == 0 or step == cfg.total_steps):
            tick()
            model.eval()
            log.append({"step": step, "eval": evaluate(model), **clock})
            model.train()
        if step % save_every == 0 or step == end:
            tick()
            save_state(run_dir, model, optimizer, cfg, step, clock, log, window)
        if snapshot_every and step % snapshot_every == 0:
            tick()
            save_snapshot(run_dir, model, cfg, step, clock)
    bar.close()
    draw.close()
    tick()
    save_state(run_dir, model, optimizer, cfg, step, clock, log, window)
    with open(run_dir / LOG_FILE, "w") as fh:
        fh.writelines(json.dumps(row) + "\n" for row in log)
    last = [r["loss"] for r in log if "loss" in r]
    return {"step": step, "loss": last[-1] if last else None, **clock, "log": log}


def _parent_state(cfg: PretrainConfig, init_from: str | Path | None) -> dict:
    """The finished parent run's state that a warm-started run begins from (checked: config and step)."""
    if init_from is None:
        raise StateError(
            f"this config continues a finished run of config {cfg.parent.digest()} ({cfg.start_step} steps); "
            f"pass its run directory (--init RUN_DIR; the shipped one is runs/tabicl-mini)"
        )
    state = load_state(Path(init_from), cfg.parent)
    if state is None:
        raise StateError(f"no {STATE_FILE} in {init_from}: nothing to continue from")
    if int(state["step"]) != cfg.start_step:
        raise StateError(
            f"{Path(init_from) / STATE_FILE} stopped at step {state['step']}, not at the end of its curriculum "
            f"({cfg.start_step}); finish it first (python -m icl_support.pretraining.pretrain {init_from} --recipe ...)"
        )
    log = json.loads(state["log"]) + [{"step": cfg.start_step, "continued_by": cfg.digest()}]
    return {**state, "log": json.dumps(log)}


def export_checkpoint(run_dir: str | Path, out: str | Path, cfg: PretrainConfig = PretrainConfig()) -> Path:
    """Write the TabICL checkpoint ``{"config", "state_dict"}`` of a run (atomically) and its provenance JSON
    (``<out>.json``: config, curriculum, steps, tables seen, wall/CPU hours, loss curve, evaluations, seed,
    ``tabicl`` and torch versions, git commit)."""
    from importlib.metadata import version

    state = load_state(Path(run_dir), cfg)
    if state is None:
        raise StateError(f"no {STATE_FILE} in {run_dir}: nothing to export")
    out = save_torch_atomic({"config": dict(cfg.model), "state_dict": state["model"]}, out)
    step = int(state["step"])
    tables = sum(batch_shape(cfg, s).tables for s in range(step))
    seen = {}
    for s in range(step):
        _, stage = cfg.stage_at(s)
        seen.setdefault(stage.name, 0)
        seen[stage.name] += 1
    recipe = next((name for name, c in RECIPES.items() if c == cfg), "custom")
    log = json.loads(state["log"])
    provenance = {
        "name": out.stem,
        "what": "TabICL's architecture (tabicl._model.tabicl.TabICL) at reduced size, pretrained from scratch on "
        f"synthetic tables only (stages: {', '.join(seen)}); never real data, never images.",
        "parameters": int(sum(v.numel() for v in state["model"].values())),
        "config": dict(cfg.model),
        "recipe": recipe,
        "pretrain_config": asdict(cfg),
        "curriculum": [{**asdict(stage), "run": i} for i, c in enumerate(cfg.lineage()) for stage in c.stages],
        "config_digest": cfg.digest(),
        "steps": step,
        "steps_per_stage": seen,
        "tables_seen": tables,
        "wall_hours": state["clock"]["wall_s"] / 3600,
        "cpu_hours": state["clock"]["cpu_s"] / 3600,
        "seed": cfg.seed,
        "tabicl_version": version("tabicl"),
        "torch_version": torch.__version__,
        "commit": _git_commit(),
        "loss_curve": [{k: r[k] for k in ("step", "loss", "wall_s", "cpu_s")} for r in log if "loss" in r],
        "evaluations": [r for r in log if "eval" in r],
        "checkpoint_sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
    }
    json_path = out.with_suffix(".json")
    json_path.write_text(json.dumps(provenance, indent=1) + "\n")
    return out


def _git_commit() -> str:
    import subprocess

    try:
        root = Path(__file__).resolve().parents[2]
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True)
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


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
RECIPES["mini-w64-fs2"] = PretrainConfig(
    stages=FEWSHOT2_CURRICULUM, model=dict(WIDE_CONFIG), parent=RECIPES["mini-w64-fs"]
)
SHIPPED_RECIPE = "mini-v1"


def with_seed(cfg: PretrainConfig, seed: int) -> PretrainConfig:
    """``cfg`` with ``seed`` set throughout its lineage."""
    parent = with_seed(cfg.parent, seed) if cfg.parent is not None else None
    return dataclasses.replace(cfg, seed=seed, parent=parent)  # the recipe behind icl_support/weights/tabicl-mini.ckpt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m icl_support.pretraining.pretrain", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("run_dir", help="run directory (state.pt, log.jsonl); an existing one is resumed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps in all")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this many minutes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: leave a core free)")
    parser.add_argument("--eval-every", type=int, default=500, help="held-out real-table evaluation every N steps")
    parser.add_argument("--no-eval", action="store_true", help="skip the held-out evaluations")
    parser.add_argument("--prefetch", type=int, default=0, help="batches drawn ahead by a worker process (0: inline)")
    parser.add_argument("--export", metavar="CKPT", help="write the run's TabICL checkpoint + provenance JSON")
    parser.add_argument(
        "--recipe", default=SHIPPED_RECIPE, choices=sorted(RECIPES), help="curriculum (default: shipped)"
    )
    parser.add_argument("--init", metavar="RUN_DIR", help="finished parent run a warm-started recipe continues")
    parser.add_argument("--snapshot-every", type=int, default=0, help="keep the model every N steps (snapshots/)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N: where the model trains")
    parser.add_argument(
        "--eval-embeddings", action="store_true", help="also score the demo profile's digits embeddings"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = with_seed(RECIPES[args.recipe], args.seed)
    try:
        if args.export:
            print(export_checkpoint(args.run_dir, args.export, cfg))
            return 0
        evaluate = None
        if not args.no_eval:
            from ..evaluation.heldout import embedding_tables, quick_evaluation

            extra = embedding_tables() if args.eval_embeddings else None
            evaluate = lambda model: quick_evaluation(model, cfg.model, extra)  # noqa: E731
        out = pretrain(
            args.run_dir,
            cfg,
            args.max_steps,
            args.max_minutes,
            eval_every=args.eval_every,
            evaluate=evaluate,
            prefetch=args.prefetch,
            init_from=args.init,
            device=args.device,
            snapshot_every=args.snapshot_every,
        )
    except (StateError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in out.items() if k != "log"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
