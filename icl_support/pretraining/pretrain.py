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
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..core.device import resolve_device
from .batches import (  # noqa: F401  (re-exported: the loop's building blocks)
    BatchShape,
    BatchSource,
    batch_shape,
    build_model,
    make_optimizer,
    preprocess_like_wrapper,
    query_loss,
    sample_batch,
)
from .recipes import (  # noqa: F401  (re-exported: the recipes)
    CURRICULUM,
    DEFAULT_CONFIG,
    DENSE_CURRICULUM,
    FEWSHOT2_CURRICULUM,
    FEWSHOT_CURRICULUM,
    MINI_CONFIG,
    RECIPES,
    SHIPPED_RECIPE,
    WIDE_CONFIG,
    WIDE_CURRICULUM,
    PretrainConfig,
    Stage,
    with_seed,
)
from .state import (  # noqa: F401  (re-exported: the run on disk)
    LOG_FILE,
    STATE_FILE,
    StateError,
    _parent_state,
    _set_rng_state,
    export_checkpoint,
    load_state,
    save_snapshot,
    save_state,
    snapshot_checkpoints,
)


def pretrain(
    run_dir: str | Path,
    cfg: PretrainConfig = DEFAULT_CONFIG,
    *,
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
    from (read, never written; only needed while ``run_dir`` has no state yet), or the parent's exported checkpoint
    (weights and clocks; AdamW starts afresh). ``device``: where the model
    trains (``"cuda"`` on a GPU); batches are drawn on the CPU either way, so the batches do not change.
    ``snapshot_every``: also keep the model alone every N steps as ``<run_dir>/snapshots/step-<N>.pt`` (a TabICL
    checkpoint, for scoring the run after the fact: :func:`snapshot_checkpoints`).
    Returns ``{"step", "loss", "wall_s", "cpu_s", "log"}``.
    """
    from tqdm.auto import tqdm

    run = _Training.start(Path(run_dir), cfg, device, init_from)
    end = min(cfg.total_steps, max_steps if max_steps is not None else cfg.total_steps)
    deadline = time.monotonic() + 60 * max_minutes if max_minutes else math.inf
    bar = tqdm(total=end, initial=run.step, desc="pretrain", disable=not progress, dynamic_ncols=True)
    draw = BatchSource(cfg, prefetch, end)
    while run.step < end and time.monotonic() < deadline:
        lr = run.train_step(draw(run.step))
        step = run.step
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(run.window):.3f}", stage=cfg.stage_at(step - 1)[1].name)
        if step % log_every == 0:
            run.log_loss(lr)
        if evaluate is not None and (step % eval_every == 0 or step == cfg.total_steps):
            run.log_evaluation(evaluate)
        if step % save_every == 0 or step == end:
            run.save()
        if snapshot_every and step % snapshot_every == 0:
            run.tick()
            save_snapshot(run.run_dir, run.model, cfg, step, run.clock)
    bar.close()
    draw.close()
    return run.finish()


class _Training:
    """A pretraining run in memory: model, optimiser, step, cumulative clock, log and the loss window since the last
    log line; :meth:`start` restores it from ``<run_dir>/state.pt`` (or the parent's) and every write goes there."""

    def __init__(self, run_dir: Path, cfg: PretrainConfig, model, optimizer):
        self.run_dir, self.cfg, self.model, self.optimizer = run_dir, cfg, model, optimizer
        self.step, self.clock, self.log, self.window = 0, {"wall_s": 0.0, "cpu_s": 0.0}, [], []

    @classmethod
    def start(cls, run_dir: Path, cfg: PretrainConfig, device: str, init_from) -> _Training:
        run = cls(run_dir, cfg, build_model(cfg).to(resolve_device(device)), None)
        run.optimizer = make_optimizer(run.model, cfg)
        torch.manual_seed(cfg.seed)  # nothing should draw from the global RNGs; if something does, it is seeded
        np.random.seed(cfg.seed)
        random.seed(cfg.seed)
        state = load_state(run_dir, cfg)
        if state is None and cfg.parent is not None:
            state = _parent_state(cfg, init_from)
        if state is not None:
            run.model.load_state_dict(state["model"])
            if state["optimizer"] is not None:  # None: warm start from an exported checkpoint (fresh AdamW)
                run.optimizer.load_state_dict(state["optimizer"])
            if state["rng"] is not None:
                _set_rng_state(state["rng"])
            run.step, run.clock, run.log = int(state["step"]), dict(state["clock"]), json.loads(state["log"])
            run.window = json.loads(state.get("window", "[]"))
        run.model.train()
        run._wall0, run._cpu0 = time.perf_counter(), time.process_time()
        run._base = dict(run.clock)
        return run

    def tick(self) -> None:
        """Bring the cumulative wall and CPU seconds up to now."""
        self.clock["wall_s"] = self._base["wall_s"] + time.perf_counter() - self._wall0
        self.clock["cpu_s"] = self._base["cpu_s"] + time.process_time() - self._cpu0

    def train_step(self, batch) -> float:
        """One optimiser step on ``batch`` at the schedule's learning rate; returns that rate."""
        lr = self.cfg.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss = query_loss(self.model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"non-finite loss at step {self.step} ({batch.prior} batch); state kept at last save"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.step += 1
        self.window.append(loss.item())
        return lr

    def log_loss(self, lr: float) -> None:
        self.tick()
        self.log.append({"step": self.step, "loss": float(np.mean(self.window)), "lr": lr, **self.clock})
        self.window = []

    def log_evaluation(self, evaluate) -> None:
        self.tick()
        self.model.eval()
        self.log.append({"step": self.step, "eval": evaluate(self.model), **self.clock})
        self.model.train()

    def save(self) -> None:
        self.tick()
        save_state(
            self.run_dir,
            self.model,
            self.optimizer,
            self.cfg,
            step=self.step,
            clock=self.clock,
            log=self.log,
            window=self.window,
        )

    def finish(self) -> dict:
        """Save the state and the log file; ``{"step", "loss" (the last logged), "wall_s", "cpu_s", "log"}``."""
        self.save()
        with open(self.run_dir / LOG_FILE, "w") as fh:
            fh.writelines(json.dumps(row) + "\n" for row in self.log)
        last = [r["loss"] for r in self.log if "loss" in r]
        return {"step": self.step, "loss": last[-1] if last else None, **self.clock, "log": self.log}


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
    parser.add_argument(
        "--init",
        metavar="RUN_DIR|CKPT",
        help="finished parent run a warm-started recipe continues (or its exported checkpoint: weights, fresh AdamW)",
    )
    parser.add_argument("--snapshot-every", type=int, default=0, help="keep the model every N steps (snapshots/)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N: where the model trains")
    parser.add_argument(
        "--eval-embeddings", action="store_true", help="also score the demo profile's digits embeddings"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = with_seed(RECIPES[args.recipe], args.seed)
    try:
        resolve_device(args.device)  # no CUDA with --device cuda: say so before anything runs
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
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
            max_steps=args.max_steps,
            max_minutes=args.max_minutes,
            eval_every=args.eval_every,
            evaluate=evaluate,
            prefetch=args.prefetch,
            init_from=args.init,
            device=args.device,
            snapshot_every=args.snapshot_every,
        )
    except StateError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in out.items() if k != "log"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
