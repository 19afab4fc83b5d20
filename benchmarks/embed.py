"""Embedding throughput: ``icl_support.embedding.embed.embed_images`` against the bare backbone forward.

(a) Our path (dataset -> transform -> DataLoader -> forward -> cache write, cold cache) against the
backbone's forward alone on the same images already decoded and transformed into one tensor
(images/s; goal: ours >= 0.8 of bare). Decoding + transforming is timed on its own, so the
breakdown says where our path's time goes and whether loading is ever the bottleneck.
(b) A cache hit (the second call) against recomputation (a cold call); goal >= 100x.
Both paths must give the same embeddings (checked). Repeats alternate the paths; the best repeat
of each is compared (least disturbed by other load). Usage::

    .venv/bin/python -m benchmarks.embed            # full size, writes results/bench-embed.json
    .venv/bin/python -m benchmarks.embed --quick --out /tmp/bench-embed.json
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from benchmarks._common import (
    base_parser,
    interleaved,
    paired_ratio,
    provenance,
    ratio_line,
    repeat_calls,
    report,
    set_threads,
    summary,
    write_result,
)
from icl_support.core.cache import save_arrays
from icl_support.data.datasets import balanced_subset, load_dataset
from icl_support.embedding.backbones import create_backbone
from icl_support.embedding.embed import embed_images

THROUGHPUT_GOAL = 0.8  # ours / bare forward, images per second
CACHE_GOAL = 100.0  # recompute seconds / cache-hit seconds


@dataclass(frozen=True)
class EmbedBenchConfig:
    """Sizes of the embedding benchmark. ``image_size`` in pixels; ``repeats`` per path (alternated)."""

    dataset: str = "digits"
    split: str = "train"
    backbone: str = "efficientnet_lite0"
    n_images: int = 256
    image_size: int = 128
    batch_size: int = 64
    repeats: int = 5
    hit_repeats: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_images", "image_size", "batch_size", "repeats", "hit_repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


QUICK = dict(n_images=12, image_size=32, batch_size=4, repeats=1, hit_repeats=3)


def decode_all(ds, indices: np.ndarray, transform) -> torch.Tensor:
    """Images ``ds[indices]`` decoded and transformed, stacked ``(n, 3, H, W)`` float32 (what the loader does)."""
    return torch.stack([transform(ds[int(i)][0]) for i in indices])


def bare_forward(backbone, images: torch.Tensor, batch_size: int) -> np.ndarray:
    """The backbone alone on decoded images, in the same batches as our path: ``(n, F)`` float32."""
    batches = range(0, len(images), batch_size)
    return np.concatenate([backbone.embed(images[s : s + batch_size]).numpy() for s in batches])


def _measure(cfg: EmbedBenchConfig, ds, idx: np.ndarray, backbone, progress: bool) -> dict:
    """Our cached path (cold), decode+transform alone and the bare forward, interleaved ``cfg.repeats`` times;
    then cache hits and cache writes. ``{"times", "hits", "write", "same", "max_diff", "hit_equal"}``."""
    kw = dict(backbone=backbone, batch_size=cfg.batch_size, progress=False)
    images = decode_all(ds, idx[: cfg.batch_size], backbone.transform)
    bare_forward(backbone, images, cfg.batch_size)  # untimed warm-up: kernels, allocator
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        state = {"cold": 0}

        def ours_cold():
            state["cold"] += 1
            state["ours"] = embed_images(ds, idx, cache_dir=Path(tmp) / f"cold{state['cold']}", **kw)

        def decode():
            state["images"] = decode_all(ds, idx, backbone.transform)

        def bare():
            state["bare"] = bare_forward(backbone, state["images"], cfg.batch_size)

        decode()
        times = interleaved(
            {"ours_cold": ours_cold, "decode_transform": decode, "bare_forward": bare},
            cfg.repeats,
            desc="embed repeats",
            progress=progress,
        )
        hit_dir = Path(tmp) / f"cold{state['cold']}"
        hits = repeat_calls(lambda: embed_images(ds, idx, cache_dir=hit_dir, **kw), cfg.hit_repeats)
        key = {"kind": "bench-write"}
        return {
            "times": times,
            "hits": hits,
            "write": repeat_calls(lambda: save_arrays(Path(tmp) / "w.npz", key, features=state["ours"]), 3),
            "same": bool(np.array_equal(state["ours"], state["bare"])),
            "max_diff": float(np.abs(state["ours"] - state["bare"]).max()),
            "hit_equal": bool(np.array_equal(embed_images(ds, idx, cache_dir=hit_dir, **kw), state["ours"])),
        }


def _lines(
    cfg, backbone, n: int, throughput: dict, breakdown: dict, loading_bottleneck: bool, seconds, m: dict, ratios: dict
) -> list[str]:
    """The printed report: setting, throughput, where the time goes, equality, and the ratios side by side."""
    dec, bare_s = seconds
    same, max_diff = m["same"], m["max_diff"]
    ratio, paired, cpu_ratio, cache_ratio = ratios["ours_over_bare"], ratios["paired"], ratios["cpu"], ratios["cache"]
    return [
        f"images: {n} x {cfg.dataset}/{cfg.split} at {cfg.image_size} px, backbone {cfg.backbone} "
        f"({backbone.num_features}-d), batch {cfg.batch_size}, {torch.get_num_threads()} torch threads",
        f"throughput (best of {cfg.repeats}): ours {throughput['ours_img_per_s']:.1f} img/s, bare forward "
        f"{throughput['bare_forward_img_per_s']:.1f} img/s, decode+transform alone "
        f"{throughput['decode_transform_img_per_s']:.1f} img/s",
        "where our time goes: "
        + ", ".join(f"{k} {v:.1%}" for k, v in breakdown.items())
        + f"; loading is {'THE BOTTLENECK' if loading_bottleneck else 'not the bottleneck'} "
        f"(decode+transform {dec:.2f} s vs forward {bare_s:.2f} s)",
        f"same embeddings from both paths: {same} (max abs diff {max_diff:.2e})",
        f"cross-check on process CPU seconds (less sensitive to other load): ours/bare-forward {cpu_ratio:.3f}",
        ratio_line("embed throughput ours/bare-forward", ratio, THROUGHPUT_GOAL),
        ratio_line("embed throughput ours/bare-forward, median of paired repeats", paired, THROUGHPUT_GOAL),
        ratio_line("embed cache hit vs recompute (speed-up)", cache_ratio, CACHE_GOAL),
    ]


def run(cfg: EmbedBenchConfig, progress: bool = True) -> dict:
    """Measure both comparisons; returns the JSON-ready record (no provenance)."""
    torch.manual_seed(cfg.seed)
    ds = load_dataset(cfg.dataset, cfg.split)
    idx = balanced_subset(ds.targets, cfg.n_images, cfg.seed)
    backbone = create_backbone(cfg.backbone, cfg.image_size)
    m = _measure(cfg, ds, idx, backbone, progress)
    times, same, max_diff, hit_equal = m["times"], m["same"], m["max_diff"], m["hit_equal"]
    n = len(idx)
    s = {name: summary(v) for name, v in times.items()}
    s["cache_hit"] = summary(m["hits"])
    s["cache_write"] = summary(m["write"])
    ours, bare_s, dec = s["ours_cold"]["best_s"], s["bare_forward"]["best_s"], s["decode_transform"]["best_s"]
    throughput = {
        "ours_img_per_s": n / ours,
        "bare_forward_img_per_s": n / bare_s,
        "decode_transform_img_per_s": n / dec,
    }
    ratio = bare_s / ours
    cpu_ratio = s["bare_forward"]["best_cpu_s"] / s["ours_cold"]["best_cpu_s"]
    paired = paired_ratio(times["bare_forward"]["wall_s"], times["ours_cold"]["wall_s"])
    cache_ratio = ours / s["cache_hit"]["best_s"]
    breakdown = {  # shares of our path's best time (the rest: loader collation, numpy copies, checksum + write)
        "forward": bare_s / ours,
        "decode_transform": dec / ours,
        "cache_write": s["cache_write"]["best_s"] / ours,
        "other": 1 - (bare_s + dec + s["cache_write"]["best_s"]) / ours,
    }
    loading_bottleneck = dec >= bare_s
    ratios = {"ours_over_bare": ratio, "paired": paired, "cpu": cpu_ratio, "cache": cache_ratio}
    lines = report(_lines(cfg, backbone, n, throughput, breakdown, loading_bottleneck, (dec, bare_s), m, ratios))
    return {
        "n_images": n,
        "feature_dim": backbone.num_features,
        "timings": s,
        "throughput": throughput,
        "breakdown_share_of_ours": breakdown,
        "loading_is_bottleneck": loading_bottleneck,
        "same_embeddings": same,
        "max_abs_diff": max_diff,
        "cache_hit_equal": hit_equal,
        "ratios": {
            "throughput_ours_over_bare": ratio,
            "throughput_ours_over_bare_paired_median": paired,
            "throughput_ours_over_bare_cpu_time": cpu_ratio,
            "cache_hit_speedup": cache_ratio,
        },
        "goals": {
            "throughput_ours_over_bare": {"goal": THROUGHPUT_GOAL, "met": ratio >= THROUGHPUT_GOAL},
            "cache_hit_speedup": {"goal": CACHE_GOAL, "met": cache_ratio >= CACHE_GOAL},
        },
        "lines": lines,
        "method": "wall clock (perf_counter); paths alternate each repeat; best repeats compared, and the median "
        "of per-repeat (back-to-back) ratios; "
        "decode+transform = the dataset item + backbone eval transform, stacked, as the DataLoader does",
    }


def main(argv: list[str] | None = None) -> dict:
    ap = base_parser("embed", __doc__.split("\n\n")[0])
    ap.add_argument("--n-images", type=int, default=None)
    ap.add_argument("--image-size", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args(argv)
    set_threads(args)
    started = time.perf_counter()
    cfg = EmbedBenchConfig(**QUICK) if args.quick else EmbedBenchConfig()
    overrides = {"n_images": args.n_images, "image_size": args.image_size, "repeats": args.repeats}
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    record = run(cfg, progress=not args.no_progress)
    record["provenance"] = provenance(cfg, started, quick=args.quick)
    write_result(args.out, {"benchmark": "embed", **record})
    return record


if __name__ == "__main__":
    main()
