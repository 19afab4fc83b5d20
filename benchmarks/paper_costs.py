"""What a ``paper`` run costs: floating-point work counted on this CPU, turned into GPU estimates by a stated rate.

No GPU was available where this was written, so GPU seconds here are ESTIMATES: the work of each chapter's
dominant computation is counted exactly (``torch.utils.flop_counter.FlopCounterMode`` on the real models at the
paper profile's shapes: DINOv2 ViT-B/14 at 224 px, TabICL v2 on 768-wide rows, LGM's step at the reference's K = 10)
and divided by an assumed sustained rate (``--gpu-tflops``, default 25 TFLOP/s: fp32 matmuls, which is what the code
runs, on an H100/H200-class GPU at roughly a third of its fp32 peak). The same work divided by this CPU's measured
rate gives the CPU seconds, as a check of the method against the chapters' recorded CPU times. Disk is the
downloads and caches the profile writes. Usage::

    .venv/bin/python -m benchmarks.paper_costs --out results/bench-paper-costs.json
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks._common import base_parser, provenance, report, set_threads, write_result


@dataclass(frozen=True)
class PaperCostConfig:
    gpu_tflops: float = 25.0  # assumed sustained fp32 rate of the GPU (TFLOP/s)
    image_side: int = 224
    n_images: int = 60_000 + 9_469 + 3_925  # CIFAR-10 train + test, Imagenette train + val (embedded once each)
    tabicl_context: int = 1_000  # counted at this context size, scaled to the paper's sizes by the cost model
    tabicl_features: int = 768
    tabicl_test: int = 1_000
    n_estimators: int = 8
    lgm_steps: int = 5_000
    lgm_augs: int = 10
    lgm_classes: int = 10
    lgm_ipcs: tuple[int, ...] = (1, 2, 5, 10)
    quick: bool = False


# LGM's step: the synthetic images' K augmented views forward and backward, plus as many real views forward only
# (a forward is about a third of a forward + backward): 4/3 of the synthetic views' work
REAL = 4 / 3
QUICK = PaperCostConfig(tabicl_context=100, tabicl_test=50, quick=True)


def count(fn) -> tuple[float, float]:
    """``(FLOPs, CPU seconds)`` of one call of ``fn`` (counted by torch's FlopCounterMode, timed without it)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    start = time.perf_counter()
    fn()
    return float(counter.get_total_flops()), time.perf_counter() - start


def run(cfg: PaperCostConfig) -> dict:
    import timm

    from icl_support.model.weights import V2_CONFIG

    started = time.perf_counter()
    vit = timm.create_model("vit_base_patch14_dinov2.lvd142m", pretrained=False, img_size=cfg.image_side).eval()
    vit.requires_grad_(False)  # LGM differentiates the images, never the frozen backbone
    x = torch.rand(2 if cfg.quick else 8, 3, cfg.image_side, cfg.image_side)
    with torch.no_grad():
        vit_flops, vit_s = count(lambda: vit(x))
    per_image = vit_flops / len(x)
    cpu_rate = vit_flops / vit_s  # FLOP/s this CPU sustains on the backbone

    def lgm_step():  # forward + backward of the synthetic set's augmented views (ipc 1), as one LGM step does
        syn = torch.rand(cfg.lgm_classes, 3, cfg.image_side, cfg.image_side, requires_grad=True)
        vit(syn).sum().backward()

    lgm_flops_one_aug, _ = count(lgm_step)  # one augmented copy of each class's image
    from tabicl._model.tabicl import TabICL

    tab = TabICL(**V2_CONFIG).eval().requires_grad_(False)
    n, m, f = cfg.tabicl_context, cfg.tabicl_test, cfg.tabicl_features
    X, y = torch.randn(1, n + m, f), torch.randint(0, 10, (1, n)).float()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:  # counted once, not timed (minutes on a CPU)
        tab(X, y)
    tab_flops = float(counter.get_total_flops())
    gpu = cfg.gpu_tflops * 1e12
    rows = {
        "embed every image once (chapters 1-6)": cfg.n_images * per_image,
        "TabICL, one fit + predict at the counted context": tab_flops * cfg.n_estimators,
        **{f"LGM, ipc {ipc}, {cfg.lgm_steps} steps": lgm_flops_one_aug * cfg.lgm_augs * ipc * cfg.lgm_steps * REAL
           for ipc in cfg.lgm_ipcs},
    }  # fmt: skip
    table = {k: {"tflop": v / 1e12, "gpu_s_estimate": v / gpu, "cpu_s_estimate": v / cpu_rate} for k, v in rows.items()}
    lines = [
        f"DINOv2 ViT-B/14 at {cfg.image_side} px: {per_image / 1e9:.1f} GFLOP per image; this CPU sustains "
        f"{cpu_rate / 1e12:.3f} TFLOP/s on it; GPU rate ASSUMED {cfg.gpu_tflops:g} TFLOP/s",
        f"TabICL v2, context {n}, {m} test rows, {f} columns: {tab_flops / 1e12:.3f} TFLOP per ensemble member",
        *(f"{k}: {v['tflop']:.1f} TFLOP -> GPU ESTIMATE {v['gpu_s_estimate']:.0f} s, CPU {v['cpu_s_estimate']:.0f} s"
          for k, v in table.items()),
    ]  # fmt: skip
    report(lines)
    return {
        "benchmark": "paper_costs",
        "per_image_gflop": per_image / 1e9,
        "cpu_tflops": cpu_rate / 1e12,
        "tabicl_tflop_per_member": tab_flops / 1e12,
        "dinov2_parameters": int(sum(p.numel() for p in vit.parameters())),
        "tabicl_parameters": int(sum(p.numel() for p in tab.parameters())),
        "embedding_cache_mb": cfg.n_images * vit.num_features * 4 / 2**20,
        "lgm_tflop_per_step_ipc1": lgm_flops_one_aug * cfg.lgm_augs * REAL / 1e12,
        "table": table,
        "lines": lines,
        "settings": asdict(cfg),
        "provenance": provenance(cfg, started, quick=cfg.quick),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = base_parser("paper-costs", __doc__.split("\n\n")[0])
    ap.add_argument("--gpu-tflops", type=float, default=25.0, help="assumed sustained GPU rate (TFLOP/s)")
    args = ap.parse_args(argv)
    set_threads(args)
    cfg = replace(QUICK if args.quick else PaperCostConfig(), gpu_tflops=args.gpu_tflops)
    result = run(cfg)
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
