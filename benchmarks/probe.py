"""LGM's linear probe: the seeds' heads trained together (one batched head) vs each seed alone, side by side.

``icl_support.evaluation.probe.linear_probe`` trains every seed's head in one batched head (S, C, F), each seed
with its own generator and Adam moments, so a seed's accuracy is the same whether it runs alone or with others
(checked here, and in ``tests/test_contexts_probe.py``). The baseline calls it once per seed, which is what
training the heads one after another costs. Sizes are chapter 4's: 10 images (one per class), 32 views, the
backbone's 1,280 features, 1,000 epochs, 3 and 5 seeds; one torch thread. Usage::

    .venv/bin/python -m benchmarks.probe                 # writes results/bench-probe.json
    .venv/bin/python -m benchmarks.probe --quick --out /tmp/p.json
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

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
from icl_support.evaluation.probe import linear_probe


@dataclass(frozen=True)
class ProbeBenchConfig:
    n_images: int = 10
    n_views: int = 32
    dim: int = 1280
    n_test: int = 2000
    epochs: int = 1000
    seed_counts: tuple[int, ...] = (3, 5)
    repeats: int = 2
    separation: float = 0.03  # scale of the class centres, in units of the unit per-feature noise


QUICK = ProbeBenchConfig(n_views=4, dim=32, n_test=50, epochs=20, seed_counts=(2,), repeats=1, separation=0.2)


def run(bench: ProbeBenchConfig, quick: bool = False, progress: bool = True) -> dict:
    torch.set_num_threads(1)
    started = time.perf_counter()
    gen = torch.Generator().manual_seed(0)
    n_classes = min(bench.n_images, 10)
    y = np.arange(bench.n_images) % n_classes
    # class centres about 1.5 noise standard deviations apart: a task one image per class does not solve, so the
    # seeds' accuracies differ and the equality check means something
    centres = bench.separation * torch.randn(n_classes, bench.dim, generator=gen)
    bank = centres[y][:, None, :] + torch.randn(bench.n_images, bench.n_views, bench.dim, generator=gen)
    y_test = np.arange(bench.n_test) % n_classes
    Z_test = (centres[y_test] + torch.randn(bench.n_test, bench.dim, generator=gen)).numpy()
    results, lines = {}, []
    for n_seeds in bench.seed_counts:
        seeds = list(range(n_seeds))
        out: dict = {}

        def together(seeds=seeds, out=out):
            out["together"] = linear_probe(bank, y, Z_test, y_test, bench.epochs, seeds)

        def alone(seeds=seeds, out=out):
            out["alone"] = [linear_probe(bank, y, Z_test, y_test, bench.epochs, [s])[0] for s in seeds]

        times = interleaved({"together": together, "alone": alone}, bench.repeats, desc=f"{n_seeds} seeds",
                            progress=progress)  # fmt: skip
        speedup = paired_ratio(times["alone"]["wall_s"], times["together"]["wall_s"])
        results[str(n_seeds)] = {
            "timings": {name: summary(t) for name, t in times.items()},
            "alone_over_together": speedup,
            "same_accuracies": out["together"] == out["alone"],
            "accuracies": out["together"],
        }
        lines.append(ratio_line(f"probe wall time, {n_seeds} seeds each alone / together", speedup))
        lines.append(f"  same per-seed accuracies: {out['together'] == out['alone']} ({out['together']})")
    return {
        "benchmark": "probe",
        "results": results,
        "lines": report(lines),
        "provenance": provenance(bench, started, quick=quick),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = base_parser("probe", __doc__.split("\n\n")[0])
    args = ap.parse_args(argv)
    result = run(QUICK if args.quick else ProbeBenchConfig(), quick=args.quick, progress=not args.no_progress)
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
