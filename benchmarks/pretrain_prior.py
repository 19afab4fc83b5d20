"""Pretraining steps with the prior drawn inline vs by a background worker process, side by side.

Times ``steps`` training steps of TabICL-mini at one curriculum stage (default: the last one, which
mixes TabICL's own ``mix_scm`` prior with Gaussian mixtures; its prior is the costly part), once
with every batch drawn on the training thread and once with a spawned worker drawing batches
ahead, alternating the two paths over ``repeats`` rounds. Both paths train on identical batches
(a batch is a function of the seed and the step). Also times drawing alone. The training thread
has one torch thread in both paths, as in the shipped run; the worker takes the second core.

Usage::

    .venv/bin/python -m benchmarks.pretrain_prior                 # writes results/bench-pretrain-prior.json
    .venv/bin/python -m benchmarks.pretrain_prior --quick --out /tmp/p.json
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

from benchmarks._common import (
    base_parser,
    interleaved,
    paired_ratio,
    provenance,
    ratio_line,
    report,
    summary,
    write_result,
)
from icl_support.pretraining.pretrain import BatchSource, PretrainConfig, pretrain


@dataclass(frozen=True)
class PriorBenchConfig:
    stage: int = -1  # curriculum stage index to time (-1: the last)
    steps: int = 30
    repeats: int = 2
    ahead: int = 2  # batches the worker draws ahead


QUICK = PriorBenchConfig(stage=0, steps=4, repeats=1)


def run(bench: PriorBenchConfig, quick: bool = False, progress: bool = True) -> dict:
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    cfg = PretrainConfig()
    stage = cfg.stages[bench.stage % len(cfg.stages)]
    # train from a fresh model on this stage's steps only (the cost of a step does not depend on the weights)
    single = PretrainConfig(seed=cfg.seed, stages=(stage,), warmup_steps=cfg.warmup_steps)

    def train(prefetch: int):
        def go():
            with tempfile.TemporaryDirectory() as tmp:
                pretrain(tmp, single, max_steps=bench.steps, progress=False, save_every=10**9, prefetch=prefetch)

        return go

    def draw_only():
        src = BatchSource(single)
        for step in range(bench.steps):
            src(step)

    times = interleaved(
        {"inline": train(0), "worker": train(bench.ahead), "draw_only": draw_only},
        bench.repeats,
        desc="rounds",
        progress=progress,
    )
    stats = {name: summary(t) for name, t in times.items()}
    speedup = paired_ratio(times["inline"]["wall_s"], times["worker"]["wall_s"])
    draw_share = stats["draw_only"]["best_s"] / stats["inline"]["best_s"]
    lines = report(
        [
            ratio_line(f"pretraining wall time inline / worker ({stage.name}, {bench.steps} steps)", speedup),
            f"inline {stats['inline']['best_s']:.1f} s, worker {stats['worker']['best_s']:.1f} s, drawing alone "
            f"{stats['draw_only']['best_s']:.1f} s ({draw_share:.0%} of an inline run); faster here: "
            + ("the worker" if speedup > 1 else "inline"),
        ]
    )
    return {
        "benchmark": "pretrain_prior",
        "stage": stage.name,
        "timings": stats,
        "ratios": {"inline_over_worker": speedup, "draw_share_of_inline": draw_share},
        "faster": "worker" if speedup > 1 else "inline",
        "lines": lines,
        "provenance": provenance(bench, started, quick=quick),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = base_parser("pretrain-prior", __doc__.split("\n\n")[0])
    args = ap.parse_args(argv)
    result = run(QUICK if args.quick else PriorBenchConfig(), quick=args.quick, progress=not args.no_progress)
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
