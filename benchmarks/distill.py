"""One LGM step: our path (``icl_support.contexts.pixel_lgm``) against the reference way of writing it.

Ours: the real-side head gradient in closed form under ``no_grad``; the backbone frozen
(``requires_grad=False``) in eval mode; the synthetic side's gradient in closed form, kept
differentiable. Baseline, written here the way the reference code writes it: both head gradients
by autograd through a linear head (``create_graph=True`` on the synthetic side), the backbone left
trainable (``requires_grad=True``, so its activations are kept and its weight gradients computed),
float32, eval mode (for identical features).

Checks, from the same seed and the same augmented batch: equal loss, equal gradient on every
pyramid level and equal pyramid update (allclose); and our step reproduces ``distill()``'s losses
exactly. Timing: steps alternate between the two paths; seconds per step, best and median.
Memory (CPU): peak RSS (kernel high-water mark ``VmHWM``, reset right before the steps) of one
subprocess per path, minus its RSS just before the steps; on CUDA: ``max_memory_allocated``. GPU options (``--bf16``,
``--channels-last``, ``--compile``) apply only on CUDA. Usage::

    .venv/bin/python -m benchmarks.distill            # full size, writes results/bench-distill.json
    .venv/bin/python -m benchmarks.distill --quick --out /tmp/bench-distill.json

Size: about 500 lines, on purpose: the reference-style LGM step the benchmark compares against is written out
here (it must not live in the package), beside the equality checks, the timing and the memory measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import psutil
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks._common import (
    REPO,
    base_parser,
    gpu_only_flags,
    gpu_options_note,
    interleaved,
    paired_ratio,
    provenance,
    ratio_line,
    report,
    set_threads,
    summary,
    write_result,
)
from icl_support.contexts.pixel_lgm import DistillConfig, PyramidImages, distill, head_gradient, matching_loss
from icl_support.data.augment import augment
from icl_support.data.datasets import balanced_subset, load_dataset
from icl_support.data.images import load_images
from icl_support.embedding.backbones import create_backbone
from icl_support.embedding.frozen import FrozenFeatures

VARIANTS = ("ours", "reference")


@dataclass(frozen=True)
class DistillBenchConfig:
    """Sizes of the LGM step benchmark (defaults: 10 digits classes at 64 px, K = 8 as the CIFAR-10 proxy)."""

    dataset: str = "digits"
    backbone: str = "efficientnet_lite0"
    n_classes: int = 10  # the first n_classes classes of the dataset
    pool_per_class: int = 20  # real images per class
    syn_res: int = 64  # stored image side, pixels
    crop_res: int = 64  # side the backbone sees
    augs_per_step: int = 8  # K
    lr: float = 2e-3
    steps: int = 8  # timed steps per path (alternated), after one untimed warm-up step each
    memory_steps: int = 3  # steps per memory subprocess
    library_steps: int = 3  # steps of distill() our step must reproduce
    seed: int = 3407

    def __post_init__(self) -> None:
        for name in ("n_classes", "pool_per_class", "augs_per_step", "steps", "memory_steps", "library_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {self.n_classes}")

    def lgm(self) -> DistillConfig:
        """The LGM config of the step (no growth during the benchmark: the pyramid starts full)."""
        return DistillConfig(
            ipc=1,
            steps=self.library_steps,
            lr=self.lr,
            augs_per_step=self.augs_per_step,
            syn_res=self.syn_res,
            crop_res=self.crop_res,
            grow_every=10**9,
            seed=self.seed,
        )


QUICK = dict(
    n_classes=3, pool_per_class=2, syn_res=16, crop_res=16, augs_per_step=2, steps=2, memory_steps=1, library_steps=2
)


class ReferenceFeatures(nn.Module):
    """The reference's feature path: normalise once, pre-logits features ``(B, F)``; eval mode but the
    backbone's parameters left trainable (``requires_grad=True``), as the reference code leaves them."""

    def __init__(self, backbone):
        super().__init__()
        self.model = backbone.model.eval().requires_grad_(True)
        cfg = backbone.data_config
        self.register_buffer("mean", torch.tensor(cfg["mean"]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(cfg["std"]).view(1, 3, 1, 1))

    def forward(self, images01: torch.Tensor) -> torch.Tensor:
        x = (images01 - self.mean) / self.std
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True).float()


@dataclass
class Problem:
    """Real pool ``(M, 3, s, s)`` in [0, 1] with labels ``(M,)``, synthetic labels ``(C,)`` and the LGM config."""

    real: torch.Tensor
    labels: torch.Tensor
    syn_labels: torch.Tensor
    n_classes: int
    lgm: DistillConfig


@dataclass
class StepState:
    """One path's mutable state: its pyramid, its Adam and its random generator."""

    pyramid: PyramidImages
    opt: torch.optim.Optimizer
    gen: torch.Generator


def make_problem(cfg: DistillBenchConfig) -> Problem:
    """The first ``n_classes`` classes of the dataset, ``pool_per_class`` images each, at ``syn_res`` px."""
    ds = load_dataset(cfg.dataset, "train")
    keep = np.flatnonzero(ds.targets < cfg.n_classes)
    if len(np.unique(ds.targets[keep])) < cfg.n_classes:
        raise ValueError(f"n_classes={cfg.n_classes} exceeds the {len(ds.classes)} classes of {cfg.dataset}")
    idx = keep[balanced_subset(ds.targets[keep], cfg.pool_per_class * cfg.n_classes, cfg.seed)]
    real = load_images(ds, idx, cfg.syn_res, progress=False)
    labels = torch.as_tensor(ds.targets[idx], dtype=torch.int64)
    return Problem(real, labels, torch.arange(cfg.n_classes), cfg.n_classes, cfg.lgm())


def full_pyramid_state(p: Problem) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Levels of a pyramid grown to full resolution from the seed, and the generator state after it."""
    gen = torch.Generator().manual_seed(p.lgm.seed)
    pyramid = PyramidImages(p.n_classes, p.lgm.syn_res, p.lgm.decorrelate, gen)
    while pyramid.grow(gen):
        pass
    return [lv.detach().clone() for lv in pyramid.levels], gen.get_state()


def new_state(p: Problem, levels: list[torch.Tensor], gen_state: torch.Tensor, device) -> StepState:
    """A fresh path state: a pyramid holding ``levels``, a fresh Adam, a generator at ``gen_state``."""
    pyramid = PyramidImages(p.n_classes, p.lgm.syn_res, p.lgm.decorrelate, torch.Generator())
    while pyramid.n_levels < len(levels):
        pyramid.grow(torch.Generator())
    with torch.no_grad():
        for lv, saved in zip(pyramid.levels, levels, strict=True):
            lv.copy_(saved)
    pyramid = pyramid.to(device)
    gen = torch.Generator()
    gen.set_state(gen_state)
    return StepState(pyramid, torch.optim.Adam(pyramid.parameters(), lr=p.lgm.lr), gen)


def ours_step(s: StepState, p: Problem, features: nn.Module, autocast=contextlib.nullcontext) -> torch.Tensor:
    """One step of ``icl_support.contexts.pixel_lgm.distill``'s loop body (same calls, same order); returns the loss."""
    cfg, device = p.lgm, s.pyramid.color.device
    n_real = cfg.ipc * cfg.augs_per_step * p.n_classes
    idx = torch.randint(len(p.real), (n_real,), generator=s.gen)
    with torch.no_grad(), autocast():
        x_real = augment(p.real[idx].to(device), cfg.crop_res, s.gen, cfg.noise_mean, cfg.noise_std)
        z_real = features(x_real).float()
        W = cfg.head_std * torch.randn(p.n_classes, z_real.shape[1], generator=s.gen).to(device)
        b = torch.zeros(p.n_classes, device=device)
        g_real = head_gradient(z_real, p.labels[idx].to(device), W, b)
    syn = s.pyramid().repeat(cfg.augs_per_step, 1, 1, 1)
    x_syn = augment(syn, cfg.crop_res, s.gen, cfg.noise_mean, cfg.noise_std)
    with autocast():
        z_syn = features(x_syn).float()
    g_syn = head_gradient(z_syn, p.syn_labels.to(device).repeat(cfg.augs_per_step), W, b)
    loss = matching_loss(g_real, g_syn)
    s.opt.zero_grad(set_to_none=True)
    loss.backward()
    s.opt.step()
    return loss.detach()


def reference_step(s: StepState, p: Problem, features: ReferenceFeatures) -> torch.Tensor:
    """The same step written the reference way: autograd head gradients, trainable backbone, float32."""
    cfg, device = p.lgm, s.pyramid.color.device
    n_real = cfg.ipc * cfg.augs_per_step * p.n_classes
    idx = torch.randint(len(p.real), (n_real,), generator=s.gen)
    x_real = augment(p.real[idx].to(device), cfg.crop_res, s.gen, cfg.noise_mean, cfg.noise_std)
    z_real = features(x_real)
    W = (cfg.head_std * torch.randn(p.n_classes, z_real.shape[1], generator=s.gen).to(device)).requires_grad_()
    b = torch.zeros(p.n_classes, device=device, requires_grad=True)
    ce_real = F.cross_entropy(z_real @ W.T + b, p.labels[idx].to(device))
    g_real = torch.cat([g.flatten() for g in torch.autograd.grad(ce_real, (W, b))]).detach()
    syn = s.pyramid().repeat(cfg.augs_per_step, 1, 1, 1)
    x_syn = augment(syn, cfg.crop_res, s.gen, cfg.noise_mean, cfg.noise_std)
    ce_syn = F.cross_entropy(features(x_syn) @ W.T + b, p.syn_labels.to(device).repeat(cfg.augs_per_step))
    g_syn = torch.cat([g.flatten() for g in torch.autograd.grad(ce_syn, (W, b), create_graph=True)])
    loss = 1 - F.cosine_similarity(g_real, g_syn, dim=0)
    s.opt.zero_grad(set_to_none=True)
    loss.backward()
    s.opt.step()
    return loss.detach()


def build(cfg: DistillBenchConfig, device: torch.device, variants: tuple[str, ...] = VARIANTS):
    """Problem, per variant its features (ours frozen, the reference's trainable: separate model copies), and
    the backbone."""
    torch.manual_seed(cfg.seed)
    p = make_problem(cfg)
    backbone = create_backbone(cfg.backbone, cfg.crop_res, device)
    features = {}
    if "reference" in variants:
        features["reference"] = ReferenceFeatures(replace_model(backbone, copy.deepcopy(backbone.model))).to(device)
    if "ours" in variants:
        features["ours"] = FrozenFeatures(backbone).to(device)
    return p, features, backbone


def replace_model(backbone, model: nn.Module):
    """The same backbone (transform, data config, identity) around another model object."""
    return dataclasses.replace(backbone, model=model)


def equality_check(p: Problem, ours: nn.Module, ref: nn.Module, device) -> dict:
    """One step of each path from the same full pyramid and generator state: loss, level gradients and
    updated levels compared (max abs differences and allclose verdicts)."""
    levels, gen_state = full_pyramid_state(p)
    a, b = new_state(p, levels, gen_state, device), new_state(p, levels, gen_state, device)
    loss_a, loss_b = ours_step(a, p, ours), reference_step(b, p, ref)
    pairs = list(zip(a.pyramid.levels, b.pyramid.levels, strict=True))
    grad_scale = max(float(y.grad.abs().max()) for _, y in pairs)
    grad_diff = max(float((x.grad - y.grad).abs().max()) for x, y in pairs)
    grads_close = all(torch.allclose(x.grad, y.grad, rtol=1e-4, atol=1e-6 * grad_scale) for x, y in pairs)
    param_diff = max(float((x - y).detach().abs().max()) for x, y in pairs)
    # Adam's first step is lr * g / (|g| + eps): where |g| is near eps (1e-8), float32 rounding of g (~1e-10)
    # moves the update by a visible fraction of lr; the update is compared where |g| >= 100 * eps.
    eps = a.opt.param_groups[0]["eps"]
    resolved = [(x, y, y.grad.abs() >= 100 * eps) for x, y in pairs]
    params_close = all(torch.allclose(x[m], y[m], rtol=0, atol=1e-3 * p.lgm.lr) for x, y, m in resolved)
    resolved_diff = max(float((x - y)[m].detach().abs().amax()) if m.any() else 0.0 for x, y, m in resolved)
    tiny = sum(int((~m).sum()) for _, _, m in resolved)
    update = max(float((x.detach().cpu() - lv).abs().max()) for (x, _), lv in zip(pairs, levels, strict=True))
    return {
        "loss_ours": float(loss_a),
        "loss_reference": float(loss_b),
        "loss_close": bool(torch.allclose(loss_a, loss_b, rtol=1e-5, atol=1e-6)),
        "grad_max_abs_diff": grad_diff,
        "grad_max_abs": grad_scale,
        "grads_close": bool(grads_close),
        "update_max_abs": update,
        "param_max_abs_diff_after_step": param_diff,
        "param_max_abs_diff_where_grad_resolved": resolved_diff,
        "params_close": bool(params_close),
        "elements_with_grad_below_100_adam_eps": tiny,
        "elements_total": sum(x.numel() for x, _ in pairs),
        "tolerances": "loss rtol 1e-5 atol 1e-6; grads rtol 1e-4 atol 1e-6*max|grad|; params atol 1e-3*lr where "
        "|grad| >= 100*Adam eps (all elements: see param_max_abs_diff_after_step)",
        "n_levels": len(levels),
    }


def library_check(p: Problem, ours: FrozenFeatures, device) -> dict:
    """``distill()`` for ``library_steps`` steps vs our step from the same seed: the losses must be equal."""
    result = distill(p.real, p.labels, p.n_classes, ours, p.lgm, work_dir=None, progress=False)
    gen = torch.Generator().manual_seed(p.lgm.seed)
    pyramid = PyramidImages(p.n_classes, p.lgm.syn_res, p.lgm.decorrelate, gen).to(device)
    s = StepState(pyramid, torch.optim.Adam(pyramid.parameters(), lr=p.lgm.lr), gen)
    losses = np.array([float(ours_step(s, p, ours)) for _ in range(p.lgm.steps)], dtype=np.float32)
    return {
        "steps": p.lgm.steps,
        "library_losses": result.losses.tolist(),
        "our_step_losses": losses.tolist(),
        "equal": bool(np.array_equal(result.losses, losses)),
        "library_seconds_per_step": result.seconds_per_step,
    }


def gpu_options(args, device: torch.device):
    """(features transform, autocast factory) for the CUDA-only options; identity on CPU."""
    if device.type != "cuda":
        return None
    if not (args.bf16 or args.channels_last or args.compile):
        return None

    def prepare(features: nn.Module) -> nn.Module:
        if args.channels_last:
            features = features.to(memory_format=torch.channels_last)
        if args.compile:
            features = torch.compile(features)
        return features

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16) if args.bf16 else contextlib.nullcontext()

    return prepare, autocast


def vm_hwm_bytes() -> int:
    """This process's peak resident memory (``VmHWM`` of ``/proc/self/status``), in bytes (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (``echo 5 > /proc/self/clear_refs``, Linux >= 4.0); False if refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_child(cfg: DistillBenchConfig, variant: str) -> None:
    """Subprocess body: build everything, then ``memory_steps`` steps of one path; prints one JSON line.

    The peak is the kernel's high-water mark of this process's RSS (``VmHWM``), reset right before the
    steps, so it covers the steps only (``ru_maxrss`` is not used: it carries the parent's RSS at fork)."""
    device = torch.device("cpu")
    p, feats, _ = build(cfg, device, (variant,))
    features, step = feats[variant], ours_step if variant == "ours" else reference_step
    levels, gen_state = full_pyramid_state(p)
    s = new_state(p, levels, gen_state, device)
    rss_before = psutil.Process().memory_info().rss
    reset = reset_peak_rss()
    for _ in range(cfg.memory_steps):
        step(s, p, features)
    peak = vm_hwm_bytes()
    print(
        json.dumps(
            {
                "variant": variant,
                "rss_before_steps_mb": rss_before / 2**20,
                "peak_rss_mb": peak / 2**20,
                "peak_rise_mb": (peak - rss_before) / 2**20,
                "peak_reset_before_steps": reset,
            }
        )
    )


def measure_memory_cpu(args, quick: bool) -> dict:
    """Peak RSS of one fresh subprocess per path (same settings), one after the other."""
    out = {}
    for variant in VARIANTS:
        cmd = [sys.executable, "-m", "benchmarks.distill", "--memory-child", variant, "--no-progress"]
        cmd += ["--quick"] if quick else []
        cmd += ["--steps", str(args.steps)] if args.steps else []
        cmd += ["--threads", str(args.threads)] if args.threads is not None else []
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"memory subprocess for {variant!r} failed:\n{done.stderr[-2000:]}")
        out[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def measure_memory_cuda(p, ours, ref, device) -> dict:
    """``max_memory_allocated`` rise during a few steps of each path (CUDA)."""
    out = {}
    levels, gen_state = full_pyramid_state(p)
    for variant, features, step in (("ours", ours, ours_step), ("reference", ref, reference_step)):
        s = new_state(p, levels, gen_state, device)
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        for _ in range(2):
            step(s, p, features)
        torch.cuda.synchronize(device)
        out[variant] = {"peak_rise_mb": (torch.cuda.max_memory_allocated(device) - base) / 2**20}
    return out


def _step_functions(p, feats: dict, backbone, device: torch.device, args) -> dict:
    """``{path: one timed LGM step}``: ours and the reference (each with its own pyramid, Adam and generator from
    the same start) and, on CUDA with GPU options, ours with them; each already run once, untimed (warm-up)."""
    ours, ref = feats["ours"], feats["reference"]
    levels, gen_state = full_pyramid_state(p)
    sa, sb = new_state(p, levels, gen_state, device), new_state(p, levels, gen_state, device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fns = {
        "ours": lambda: (ours_step(sa, p, ours), sync()),
        "reference": lambda: (reference_step(sb, p, ref), sync()),
    }
    opts = gpu_options(args, device)
    if opts is not None:
        prepare, autocast = opts
        fast = prepare(FrozenFeatures(replace_model(backbone, copy.deepcopy(backbone.model))).to(device))
        sc = new_state(p, levels, gen_state, device)
        fns["ours_gpu_options"] = lambda: (ours_step(sc, p, fast, autocast), sync())
    for fn in fns.values():  # untimed warm-up step of each path
        fn()
    return fns


def _lines(cfg, device, check: dict, library: dict, s: dict, memory: dict, mem_kind: str, ratios, gpu_note) -> list:
    """The printed report: equality, timings and memory, then the ratios side by side."""
    speed, speed_median, mem_ratio = ratios
    n_img = cfg.augs_per_step * cfg.n_classes
    lines = [
        f"step: {n_img} real + {n_img} synthetic images at {cfg.crop_res} px (pyramid {cfg.syn_res} px, "
        f"{check['n_levels']} levels), {cfg.backbone}, {device.type}, {torch.get_num_threads()} threads",
        f"equal results: loss {check['loss_ours']:.6f} vs {check['loss_reference']:.6f} ({check['loss_close']}), "
        f"pyramid gradients max diff {check['grad_max_abs_diff']:.2e} of max {check['grad_max_abs']:.2e} "
        f"({check['grads_close']}), update max diff {check['param_max_abs_diff_where_grad_resolved']:.2e} of an "
        f"update of {check['update_max_abs']:.2e} ({check['params_close']}; where |grad| >= 100 Adam eps; on the "
        f"{check['elements_with_grad_below_100_adam_eps']} of {check['elements_total']} elements with smaller "
        f"gradients Adam's g/(|g|+eps) amplifies float32 rounding: max diff "
        f"{check['param_max_abs_diff_after_step']:.2e})",
        f"our step reproduces distill() losses over {library['steps']} steps exactly: {library['equal']}",
        f"seconds/step (best of {cfg.steps}): ours {s['ours']['best_s']:.3f}, reference {s['reference']['best_s']:.3f}"
        f" (medians {s['ours']['median_s']:.3f}, {s['reference']['median_s']:.3f})",
        f"peak memory rise ({mem_kind}): ours {memory['ours']['peak_rise_mb']:.0f} MiB, "
        f"reference {memory['reference']['peak_rise_mb']:.0f} MiB",
    ]
    if "ours_gpu_options" in s:
        gpu_speed = s["ours"]["best_s"] / s["ours_gpu_options"]["best_s"]
        lines.append(ratio_line("LGM step speed-up ours/ours+gpu-options", gpu_speed))
    else:
        lines.append(f"GPU options: {gpu_note['note']}")
    lines += [
        ratio_line("LGM step speed-up reference/ours (seconds per step)", speed),
        ratio_line("LGM step speed-up reference/ours, median of paired steps", speed_median),
        ratio_line("LGM step peak-memory reference/ours", mem_ratio),
    ]
    return lines


def run(cfg: DistillBenchConfig, args, progress: bool = True) -> dict:
    """All checks and measurements; the JSON-ready record (no provenance)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    p, feats, backbone = build(cfg, device)
    ours, ref = feats["ours"], feats["reference"]
    check = equality_check(p, ours, ref, device)
    library = library_check(p, ours, device)
    fns = _step_functions(p, feats, backbone, device, args)
    times = interleaved(fns, cfg.steps, desc="LGM steps", progress=progress)
    s = {name: summary(t) for name, t in times.items()}
    if device.type == "cuda":
        memory = measure_memory_cuda(p, ours, ref, device)
    else:
        memory = measure_memory_cpu(args, args.quick)
    mem_kind = (
        "cuda max_memory_allocated rise during 2 steps"
        if device.type == "cuda"
        else f"CPU: peak RSS (VmHWM, reset before the steps) of one subprocess per path during {cfg.memory_steps} "
        "step(s), minus its RSS before them"
    )
    speed = s["reference"]["best_s"] / s["ours"]["best_s"]
    speed_median = paired_ratio(times["reference"]["wall_s"], times["ours"]["wall_s"])
    mem_ratio = memory["reference"]["peak_rise_mb"] / memory["ours"]["peak_rise_mb"]
    gpu_note = gpu_options_note(args, device.type == "cuda")
    n_img = cfg.augs_per_step * cfg.n_classes
    lines = _lines(cfg, device, check, library, s, memory, mem_kind, (speed, speed_median, mem_ratio), gpu_note)
    report(lines)
    return {
        "device": device.type,
        "images_per_step": {"real": n_img, "synthetic": n_img},
        "equality": check,
        "library_check": library,
        "timings": s,
        "memory": {"method": mem_kind, **memory},
        "ratios": {
            "seconds_per_step_reference_over_ours": speed,
            "seconds_per_step_reference_over_ours_paired_median": speed_median,
            "peak_memory_reference_over_ours": mem_ratio,
        },
        "gpu_options": gpu_note,
        "lines": lines,
        "method": "wall clock per step (perf_counter; CUDA synchronised); paths alternate step by step, "
        "each with its own pyramid/Adam/generator from the same start; ratio of the best steps, and median of "
        "per-step (back-to-back) ratios",
    }


def main(argv: list[str] | None = None) -> dict | None:
    ap = base_parser("distill", __doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=None, help="timed steps per path")
    ap.add_argument("--memory-child", choices=VARIANTS, default=None, help=argparse.SUPPRESS)
    gpu_only_flags(ap)
    args = ap.parse_args(argv)
    set_threads(args)
    started = time.perf_counter()
    cfg = DistillBenchConfig(**QUICK) if args.quick else DistillBenchConfig()
    if args.steps:
        cfg = replace(cfg, steps=args.steps)
    if args.memory_child:
        memory_child(cfg, args.memory_child)
        return None
    record = run(cfg, args, progress=not args.no_progress)
    record["provenance"] = provenance(cfg, started, quick=args.quick)
    write_result(args.out, {"benchmark": "distill", **record})
    return record


if __name__ == "__main__":
    main()
