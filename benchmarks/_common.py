"""Shared plumbing of the benchmarks: argument parsing, interleaved timing, ratio lines, provenance.

Every benchmark times our path and its baseline in the same run, alternating them repeat by repeat
so that load from other processes on a shared machine hits both alike, and keeps every repeat.
Usage::

    times = interleaved({"ours": run_ours, "bare": run_bare}, repeats=3)  # {name: {"wall_s": [...], "cpu_s": [...]}}
    best = {name: summary(t)["best_s"] for name, t in times.items()}
    line = ratio_line("throughput ours/bare", best["bare"] / best["ours"], goal=0.8)
    write_result(out_path, {"settings": asdict(cfg), "provenance": provenance(cfg), ...})
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm.auto import tqdm

from icl_support.core.jsonio import write_json
from icl_support.evaluation.provenance import environment

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "results"


def base_parser(name: str, description: str) -> argparse.ArgumentParser:
    """Parser with ``--quick`` (tiny sizes, seconds) and ``--out`` (default ``results/bench-<name>.json``)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true", help="tiny sizes that run in seconds (tests)")
    ap.add_argument("--out", type=Path, default=RESULTS / f"bench-{name}.json", help="JSON file to write")
    ap.add_argument("--no-progress", action="store_true", help="hide progress bars")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's; --quick: 1)")
    return ap


def set_threads(args: argparse.Namespace) -> None:
    """Apply ``--threads``; ``--quick`` runs single-threaded (tiny ops gain nothing from threads, and a
    loaded machine makes multi-threaded tiny ops wait on each other)."""
    threads = args.threads if args.threads is not None else (1 if args.quick else None)
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)


def provenance(settings, started: float, **extra) -> dict:
    """The one record environment (``icl_support.evaluation.provenance.environment``: commit, software, machine,
    date), then the command line, the benchmark's settings and its wall seconds.

    ``settings``: the benchmark's frozen config dataclass; ``started``: ``time.perf_counter()`` at start.
    """
    return {
        **environment(REPO),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "settings": dataclasses.asdict(settings),
        "wall_s": time.perf_counter() - started,
        **extra,
    }


def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    """``(wall seconds, process CPU seconds, result)`` of one call of ``fn``."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, desc: str = "repeats", progress: bool = True
) -> dict[str, dict[str, list[float]]]:
    """Call every ``fn`` once per repeat, in turn (order reversed on odd repeats).

    Returns ``{name: {"wall_s": [...], "cpu_s": [...]}}``, one entry per repeat (seconds).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    out: dict[str, dict[str, list[float]]] = {name: {"wall_s": [], "cpu_s": []} for name in fns}
    for r in tqdm(range(repeats), desc=desc, disable=not progress):
        names = list(fns) if r % 2 == 0 else list(reversed(fns))
        for name in names:
            wall, cpu, _ = timed(fns[name])
            out[name]["wall_s"].append(wall)
            out[name]["cpu_s"].append(cpu)
    return out


def summary(times: dict[str, list[float]]) -> dict:
    """Of ``{"wall_s": [...], "cpu_s": [...]}``: ``best_s`` (least disturbed wall time), ``median_s``,
    ``best_cpu_s`` (process CPU seconds of the fastest-CPU repeat) and every repeat."""
    wall, cpu = times["wall_s"], times.get("cpu_s", [])
    if not wall:
        raise ValueError("no timings to summarise")
    return {
        "best_s": min(wall),
        "median_s": statistics.median(wall),
        "best_cpu_s": min(cpu) if cpu else None,
        "all_s": list(wall),
        "all_cpu_s": list(cpu),
    }


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over repeats of ``numerator[r] / denominator[r]``: each ratio compares two calls made back to
    back, so slow drifts of the machine's load cancel within a pair."""
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError(f"need equal, non-empty lists, got {len(numerator)} and {len(denominator)} timings")
    return statistics.median(n / d for n, d in zip(numerator, denominator, strict=True))


def repeat_calls(fn: Callable[[], object], repeats: int) -> dict[str, list[float]]:
    """``{"wall_s": [...], "cpu_s": [...]}`` of ``repeats`` calls of ``fn``."""
    out: dict[str, list[float]] = {"wall_s": [], "cpu_s": []}
    for _ in range(repeats):
        wall, cpu, _ = timed(fn)
        out["wall_s"].append(wall)
        out["cpu_s"].append(cpu)
    return out


def ratio_line(name: str, value: float, goal: float | None = None, unit: str = "x") -> str:
    """One printed result line, ``RATIO <name>: <value><unit> (goal >= <goal>: met|NOT met)``."""
    text = f"RATIO {name}: {value:.3g}{unit}"
    if goal is not None:
        text += f" (goal >= {goal:g}{unit}: {'met' if value >= goal else 'NOT met'})"
    return text


def report(lines: list[str]) -> list[str]:
    """Print each line (flushed) and return them, for the JSON."""
    for line in lines:
        print(line, flush=True)
    return lines


def write_result(path: Path, data: dict) -> Path:
    """Write ``data`` as strict JSON (NaN -> null) to ``path`` and say where."""
    out = write_json(path, data)
    print(f"wrote {out}", flush=True)
    return out


def gpu_only_flags(ap: argparse.ArgumentParser) -> None:
    """Add ``--bf16``, ``--channels-last`` and ``--compile`` (applied only when CUDA is available)."""
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA only)")
    ap.add_argument("--channels-last", action="store_true", help="channels-last memory format (CUDA only)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the backbone (CUDA only)")


def gpu_options_note(args: argparse.Namespace, cuda: bool) -> dict:
    """Which GPU options were asked for and whether they were measured (only with CUDA)."""
    asked = {k: bool(getattr(args, k)) for k in ("bf16", "channels_last", "compile")}
    if cuda:
        return {"asked": asked, "measured": any(asked.values()), "note": "applied on CUDA"}
    return {
        "asked": asked,
        "measured": False,
        "note": "bf16 autocast, channels-last and torch.compile were NOT measured: no CUDA device on this machine",
    }
