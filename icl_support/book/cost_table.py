"""The cost table of a ``paper`` run in ``book/rerun.md``, generated from the records (no typed numbers).

Reads ``results/bench-paper-costs.json`` (``benchmarks/paper_costs.py``: floating-point work counted on the paper's
models and shapes, GPU seconds ESTIMATED at a stated rate) and ``results/rehearsal-cpu.json`` (``make rehearse``:
every chapter's wall seconds at shrunk sizes on this CPU) and writes the table between the markers of
``book/rerun.md``. ``tests/test_results_readme.py`` fails when the page is stale. Usage::

    python -m icl_support.book.cost_table            # rewrite the block
    python -m icl_support.book.cost_table --check    # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..evaluation.records import lgm_build_seconds, read_json, wall_seconds
from .generated import with_block, write_or_check
from .rehearsal import continued

START, END = "<!-- costs:start (generated: python -m icl_support.book.cost_table) -->", "<!-- costs:end -->"
# the downloaded archives' published sizes (bytes of the files torchvision fetches); models and caches are computed
ARCHIVES = (
    ("CIFAR-10 archive, cifar-10-python.tar.gz (chapters 1-2, 5-6)", 170_498_071),
    ("CIFAR-100 archive, cifar-100-python.tar.gz (chapter 6)", 169_001_437),
    ("Imagenette archive, imagenette2-320.tgz (chapters 3-4)", 341_663_724),
)


def _resume_lines(resume: dict | None) -> list[str]:
    """The rehearsal's kill-and-restart check, in words (nothing when it was not run)."""
    if resume is None:
        return []
    if "killed_at_step" not in resume:
        return [f"**Resume after a kill**: FAILED before the kill ({resume.get('error', '')[:200]}).", ""]
    killed, seen = resume["killed_at_step"], resume["steps_seen_after_restart"]
    new = [s for s in seen if s > killed]
    resumed = continued(killed, seen)
    return [
        f"**Resume after a kill** (`{resume['chapter']}`, LGM {resume['lgm_steps']} steps): the rehearsal killed the "
        f"chapter's process group (SIGKILL) once LGM's checkpoint held step {killed}, then ran the chapter again: "
        f"{'it reused the cached embeddings' if resume['embeddings_reused'] else 'it embedded again'}, and the "
        f"checkpoints it wrote were steps {min(new) if new else 'none'} to {max(new) if new else 'none'}, none below "
        f"step {killed} ({'continued, not restarted' if resumed else 'NOT continued'}); the finished images hold "
        f"{', '.join(map(str, resume['losses']))} loss values. Check: {'ok' if resume['ok'] else 'FAILED'}.",
        "",
    ]


# the recorded CPU runs the claims page's verdicts about synthetic images read (scripts/ with the YAML beside each)
VERDICT_RUNS = (
    "cifar10-k1-side-64.json", "cifar10-k1-side-224.json", "cifar10-k1-budget-64.json", "cifar10-shift.json",
    "cifar10-class-count.json",
)  # fmt: skip


def _verdict_run_lines(records: dict[str, dict]) -> list[str]:
    """What each recorded verdict run cost on this CPU, from its own provenance: LGM budget, the LGM images' build
    time and the run's wall time."""
    if not records:
        return []
    lines = [
        "**Measured: the recorded runs behind the synthetic-image verdicts** (CPU, one torch thread each, in the "
        "background; from each record's provenance). LGM build is the images' own CPU time, every distillation, paid "
        "once when they were distilled; a record made again from cached images does not pay it again, so its run's "
        "wall time can be far less:",
        "",
        "| record | LGM budget | distillations | LGM build | run's wall time |",
        "|---|---|---|---|---|",
    ]
    for name, rec in records.items():
        s = rec["provenance"].get("settings", {})
        side = s.get("lgm_image_size") or s.get("distill_res")
        budget = f"{s.get('distill_steps', 0):,} steps, K = {s.get('distill_augs', 0)}, {side} px"
        build = lgm_build_seconds(rec)  # 0.0: a record shaped otherwise (by corruption or class subset) holds none
        built = _duration(build) if build else "not in the record"
        seeds, wall = s.get("distill_seeds", 1), _duration(wall_seconds(rec))
        lines.append(f"| `{name}` | {budget} | {seeds} | {built} | {wall} |")
    return lines + [""]


def render(costs: dict | None, rehearsal: dict | None, verdict_runs: dict[str, dict] | None = None) -> str:
    """The markdown block: estimated GPU work per computation, the rehearsal's measured CPU seconds, what the
    recorded verdict runs cost, the disk."""
    lines = []
    if costs is not None:
        s = costs["settings"]
        lines += [
            f"**Estimated GPU time** (not measured: no GPU was available to the session that wrote this). The work is "
            f"counted exactly on the real models at the paper's shapes (`benchmarks/paper_costs.py`: DINOv2 ViT-B/14 "
            f"at {s['image_side']} px is {costs['per_image_gflop']:.1f} GFLOP per image), then divided by an ASSUMED "
            f"sustained {s['gpu_tflops']:g} TFLOP/s (fp32, what the code runs, at about a third of an H100/H200's fp32 "
            f"peak). This CPU sustained {costs['cpu_tflops']:.3f} TFLOP/s on the same backbone.",
            "",
            "| computation (paper sizes) | work, TFLOP | GPU estimate | this CPU, same work |",
            "|---|---|---|---|",
        ]
        for name, row in costs["table"].items():
            lines.append(f"| {name} | {row['tflop']:,.1f} | {_duration(row['gpu_s_estimate'])} | "
                         f"{_duration(row['cpu_s_estimate'])} |")  # fmt: skip
        lines.append("")
    if rehearsal is not None:
        lines += [
            f"**Measured: the rehearsal** (`make rehearse`, device `{rehearsal['device']}`): every chapter with "
            "`profile=paper` and only its sizes shrunk (50 pool and 20 test images, LGM 2 steps with K = 1, one seed; "
            "random-weight DINOv2 and TabICL), through the real loaders, on this 2-core CPU:",
            "",
            "| chapter | ran | seconds | its slowest cell |",
            "|---|---|---|---|",
        ]
        for chapter, entry in rehearsal["chapters"].items():
            slow = entry.get("slowest_cell")
            cell = f"`{slow['cell']}` ({slow['seconds']:.0f} s)" if slow else ""
            lines.append(f"| {chapter} | {'yes' if entry['ok'] else 'FAILED'} | {entry['seconds']:.0f} | {cell} |")
        lines.append("")
        lines += _resume_lines(rehearsal.get("resume"))
    lines += _verdict_run_lines(verdict_runs or {})
    lines += ["**Disk** for downloads and caches (each archive about doubles once extracted):", "",
              "| what | size | basis |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {what} | {size / 2**20:,.0f} MB | the published archive |" for what, size in ARCHIVES]
    if costs is not None:
        lines += [
            f"| DINOv2 ViT-B/14 weights (timm, Hugging Face) | {costs['dinov2_parameters'] * 4 / 2**20:,.0f} MB | "
            f"{costs['dinov2_parameters'] / 1e6:.1f}M float32 parameters |",
            f"| TabICL v2 checkpoint (Hugging Face) | {costs['tabicl_parameters'] * 4 / 2**20:,.0f} MB | "
            f"{costs['tabicl_parameters'] / 1e6:.1f}M float32 parameters |",
            f"| embedding cache | {costs['embedding_cache_mb']:,.0f} MB | every image once, 768 float32 columns |",
        ]
    return "\n".join(lines) + "\n"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _load(path: Path) -> dict | None:
    return read_json(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--page", default="book/rerun.md")
    ap.add_argument("--results", default="results")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    results = Path(args.results)
    runs = {name: rec for name in VERDICT_RUNS if (rec := _load(results / name)) is not None}
    block = render(_load(results / "bench-paper-costs.json"), _load(results / "rehearsal-cpu.json"), runs)
    page = Path(args.page)
    return write_or_check(page, with_block(page.read_text(), block, START, END), args.check, f"{page}'s cost table")


if __name__ == "__main__":
    sys.exit(main())
