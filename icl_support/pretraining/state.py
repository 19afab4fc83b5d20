"""A pretraining run on disk: its resumable state, its snapshots, the parent a warm start reads, and the export.

``<run>/state.pt`` holds the model, optimiser, step, cumulative wall and CPU seconds, the config's digest, RNG states
and the log, written atomically; a state written by another config, or a truncated file, is refused with a message
naming it, never silently restarted.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..core.cache import file_sha256, save_torch_atomic
from ..core.gitinfo import git_commit
from .batches import batch_shape
from .recipes import DEFAULT_CONFIG, RECIPES, PretrainConfig

STATE_FILE = "state.pt"
LOG_FILE = "log.jsonl"


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
    run_dir: Path,
    model,
    optimizer,
    cfg: PretrainConfig,
    *,
    step: int,
    clock: dict,
    log: list,
    window: list,
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


def _parent_state(cfg: PretrainConfig, init_from: str | Path | None) -> dict:
    """The finished parent run's state that a warm-started run begins from (checked: config and step)."""
    if init_from is None:
        raise StateError(
            f"this config continues a finished run of config {cfg.parent.digest()} ({cfg.start_step} steps); "
            f"pass its run directory (--init RUN_DIR; the shipped one is runs/tabicl-mini)"
        )
    if Path(init_from).is_file():
        return _exported_parent_state(cfg, Path(init_from))
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


def _exported_parent_state(cfg: PretrainConfig, ckpt: Path) -> dict:
    """A warm start from the parent's *exported* checkpoint (``<ckpt>`` + its provenance JSON): the weights, the
    step and the clocks; no optimiser state (AdamW starts afresh behind the warm-up) and no RNG state (nothing draws
    from the global RNGs). Used where the parent's ``state.pt`` was not kept; the log says which it was."""
    meta_path = ckpt.with_suffix(".json")
    if not meta_path.is_file():
        raise StateError(f"{ckpt} has no provenance {meta_path.name}: cannot check which run it is")
    meta = json.loads(meta_path.read_text())
    if meta.get("config_digest") != cfg.parent.digest() or int(meta.get("steps", -1)) != cfg.start_step:
        raise StateError(
            f"{ckpt} is run {meta.get('config_digest')} at step {meta.get('steps')}; this config continues run "
            f"{cfg.parent.digest()} at step {cfg.start_step}"
        )
    weights = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    clock = {"wall_s": 3600 * float(meta["wall_hours"]), "cpu_s": 3600 * float(meta["cpu_hours"])}
    log = [{"step": cfg.start_step, "continued_by": cfg.digest(), "from_export": ckpt.name, **clock}]
    return {"model": weights, "optimizer": None, "rng": None, "step": cfg.start_step, "clock": clock,
            "log": json.dumps(log)}  # fmt: skip


def export_checkpoint(run_dir: str | Path, out: str | Path, cfg: PretrainConfig = DEFAULT_CONFIG) -> Path:
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
        # the lineage's CPU hours when this config's own steps began (0 without a parent): its own hours are the rest
        "start_cpu_hours": max(
            (r["cpu_s"] for r in log if "cpu_s" in r and r["step"] <= cfg.start_step and cfg.parent is not None),
            default=0.0,
        )
        / 3600,
        "seed": cfg.seed,
        "tabicl_version": version("tabicl"),
        "torch_version": torch.__version__,
        "commit": git_commit(Path(__file__).resolve().parents[2]),
        "loss_curve": [{k: r[k] for k in ("step", "loss", "wall_s", "cpu_s")} for r in log if "loss" in r],
        "evaluations": [r for r in log if "eval" in r],
        "checkpoint_sha256": file_sha256(out, missing_ok=False),
    }
    json_path = out.with_suffix(".json")
    json_path.write_text(json.dumps(provenance, indent=1) + "\n")
    return out
