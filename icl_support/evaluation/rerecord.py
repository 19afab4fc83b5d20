"""Make every record a page reads again with the shipped TabICL-mini: one command per record, the stale ones run.

A record is stale when :func:`~icl_support.evaluation.records.stale_page_records` says so (made with another
TabICL-mini variant, an earlier checkpoint shipped as ``mini``, or no checkpoint digest recorded). Each stale record
is made by its own command (:data:`RECORD_COMMANDS`, the command that made it last), cheapest first by the wall time
the record itself states; a record that is fresh after its command ran is done, so an interrupted re-record resumes
where it stopped. Run it in the background with one thread::

    python -m icl_support.evaluation.rerecord --list
    OMP_NUM_THREADS=1 nohup python -m icl_support.evaluation.rerecord --run \\
        --data-root /work/cache/data --cache-dir /work/cache/icl > rerecord.log 2>&1 &

Some records are read side by side and must be made with one checkpoint: ``cifar10-retrieval.json`` is set beside
``cifar10-pareto.json``'s whole-pool context (chapter 5 and the findings), so re-make the two in one pass
(``--only cifar10-pareto.json cifar10-retrieval.json``).

The YAML-driven commands read ``data_root`` and ``cache_dir`` from their YAML in ``results/`` (edit those for your
machine); the CIFAR-10 benchmarks take ``--data-root`` and ``--cache-dir`` from here (TabICL-mini's own benchmark
reads sklearn's digits and tables, with the default cache, as it was recorded). Commands run from the repository
that holds ``results_dir``. Afterwards regenerate what the records
feed: ``python -m icl_support.book.results_readme``, ``...readme_findings`` and ``...cost_table``.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.jsonio import write_json
from .records import (
    COMPARISON_RECORDS,
    PAGE_RECORDS,
    read_json,
    read_record,
    record_checkpoint_sha256,
    stale_page_records,
    wall_seconds,
)


@dataclass(frozen=True)
class RecordCommand:
    """How ``results/<record>`` is made: ``argv`` after the Python interpreter, run from the repository root;
    ``{data_root}``, ``{cache_dir}`` and ``{work_dir}`` are filled in by :meth:`command`."""

    record: str
    argv: tuple[str, ...]

    def command(self, python: str, data_root: str, cache_dir: str, work_dir: str) -> list[str]:
        fill = {"data_root": data_root, "cache_dir": cache_dir, "work_dir": work_dir}
        return [python, *(arg.format(**fill) for arg in self.argv)]


def _script(name: str, stem: str, *extra: str) -> RecordCommand:
    """``scripts/<name>.py results/<stem>.yaml [extra] --out results/<stem>.json``."""
    return RecordCommand(f"{stem}.json", (f"scripts/{name}.py", f"results/{stem}.yaml", *extra, "--out",
                                          f"results/{stem}.json"))  # fmt: skip


def _bench(module: str, stem: str, *extra: str) -> RecordCommand:
    return RecordCommand(f"{stem}.json", ("-m", f"benchmarks.{module}", *extra, "--threads", "1", "--no-progress",
                                          "--out", f"results/{stem}.json"))  # fmt: skip


def _notebook(notebook: str, stem: str) -> RecordCommand:
    """``nbs/<notebook>.ipynb`` executed with ``results/<stem>.yaml`` (whose ``results_json`` names the record)."""
    return RecordCommand(f"{stem}.json", ("-m", "icl_support.book.run_notebook", f"nbs/{notebook}.ipynb",
                                          f"{{work_dir}}/{stem}.ipynb", "-f", f"results/{stem}.yaml"))  # fmt: skip


_ROWS = ("--data-root", "{data_root}", "--cache-dir", "{cache_dir}")
RECORD_COMMANDS: dict[str, RecordCommand] = {
    c.record: c
    for c in (
        _bench("tabicl_mini", "bench-fewshot-mini", "--fewshot-only", "--checkpoint", "mini"),
        _bench("tabicl_mini", "bench-tabicl-mini", "--checkpoint", "mini"),
        _bench("split_cap", "bench-split-cap", *_ROWS),
        _bench("context_classifier", "bench-context-classifier", *_ROWS),
        _notebook("01_context_scaling", "cifar10-ch1-local"),
        _script("cifar10_class_count", "cifar10-class-count", "--class-counts", "2", "5"),
        _script("cifar10_k1_images", "cifar10-k1-budget-64"),
        _script("cifar10_k1_images", "cifar10-k1-images", "--anchors", "1", "3", "10"),
        _script("cifar10_k1_images", "cifar10-k1-side-224", "--anchors", "1"),
        _script("cifar10_k1_images", "cifar10-k1-side-64", "--anchors", "1"),
        _script("cifar10_pareto", "cifar10-k1-mini"),
        _script("cifar10_pareto", "cifar10-pareto"),
        _script("cifar10_pareto", "cifar10-retrieval"),
        _script("cifar10_lgm_rows", "cifar10-lgm-rows"),
        _script("cifar10_lgm_rows", "cifar10-lgm-rows-224"),
        _script("cifar10_proxy", "cifar10-proxy"),
        _script("cifar10_shift", "cifar10-shift"),
    )
}


def plan(results_dir: str | Path = "results", shipped_sha256: str | None = None) -> list[tuple[str, str, float]]:
    """``[(record, why stale, last wall seconds)]``, the stale page records cheapest first (a record that states no
    wall time last). Raises ``KeyError`` naming any stale record without a command in :data:`RECORD_COMMANDS`."""
    stale = stale_page_records(results_dir, shipped_sha256)
    missing = sorted(set(stale) - set(RECORD_COMMANDS))
    if missing:
        raise KeyError(f"stale page records without a re-record command: {', '.join(missing)}")
    rows = [(name, why, wall_seconds(read_record(results_dir, name))) for name, why in stale.items()]
    return sorted(rows, key=lambda row: (math.isnan(row[2]), row[2], row[0]))


def run(
    results_dir: str | Path = "results",
    *,
    python: str = sys.executable,
    data_root: str = "",
    cache_dir: str = "",
    work_dir: str = "",
    only: tuple[str, ...] = (),
    shipped_sha256: str | None = None,
) -> dict[str, str]:
    """Run the command of every stale page record (``only``: just those), cheapest first; ``{record: outcome}``,
    outcome ``"fresh"`` (the record now names the shipped checkpoint), ``"failed (exit N)"`` or ``"still stale"``.
    A failure is reported and the next record runs: nothing already re-recorded is lost."""
    outcomes = {}
    work = work_dir or str(Path(results_dir).resolve().parent / "_build" / "rerecord")
    Path(work).mkdir(parents=True, exist_ok=True)
    for name, why, seconds in plan(results_dir, shipped_sha256):
        if only and name not in only:
            continue
        cmd = RECORD_COMMANDS[name].command(python, data_root, cache_dir, work)
        print(f"[rerecord] {name} ({why}; last {seconds:,.0f} s): {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.run(cmd, check=False, cwd=Path(results_dir).resolve().parent).returncode
        if code != 0:
            outcomes[name] = f"failed (exit {code})"
        elif name in stale_page_records(results_dir, shipped_sha256):
            outcomes[name] = "still stale"
        else:
            outcomes[name] = "fresh"
        print(f"[rerecord] {name}: {outcomes[name]} after {time.perf_counter() - t0:,.0f} s", flush=True)
    return outcomes


def retire_variant(results_dir: str | Path, sha256: str, variant: str, label: str, note: str) -> list[str]:
    """The records side of shipping a new ``mini``: every record made under the name ``mini`` with the checkpoint
    ``sha256`` (the one shipped as ``mini`` until now) is renamed to the ``variant`` that checkpoint stays loadable
    as, with its ``label`` and a ``note`` saying why; its numbers are untouched. Records that loaded the same file by
    path already name it and are left alone. Returns the records rewritten (atomically, one by one)."""
    renamed = []
    for path in sorted(Path(results_dir).glob("*.json")):
        rec = read_json(path)
        if not isinstance(rec, dict) or record_checkpoint_sha256(rec) != sha256:
            continue
        prov, weights = rec.get("provenance", {}), rec.get("weights")
        if prov.get("tabicl_weights") == "mini":
            prov.update({"tabicl_variant": variant, "tabicl_label": label, "renamed": note})
        elif isinstance(weights, dict) and weights.get("kind") == "mini":
            weights.update({"variant": variant, "label": label, "renamed": note})
        else:
            continue
        write_json(path, rec)
        renamed.append(path.name)
    return renamed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m icl_support.evaluation.rerecord", description=__doc__.split("\n")[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--list", action="store_true", help="list the stale page records, cheapest first, and stop")
    ap.add_argument("--run", action="store_true", help="re-make them")
    ap.add_argument("--only", nargs="+", default=(), metavar="RECORD", help="just these records (file names)")
    ap.add_argument("--data-root", default="", help="CIFAR-10 as JPEG class folders, for the benchmarks")
    ap.add_argument("--cache-dir", default="", help="embedding cache, for the benchmarks")
    ap.add_argument("--work-dir", default="", help="where executed notebooks go (default: _build/rerecord)")
    args = ap.parse_args(argv)
    unknown = sorted(set(args.only) - set(PAGE_RECORDS) | set(args.only) & set(COMPARISON_RECORDS))
    if unknown:
        ap.error(f"not a page record to re-record: {', '.join(unknown)} (see --list)")
    if not (args.list or args.run):
        ap.error("say --list or --run")
    try:
        rows = plan(args.results)
    except KeyError as err:
        print(f"error: {err.args[0]}; add it to RECORD_COMMANDS in {__name__}", file=sys.stderr)
        return 2
    fresh = sorted(set(args.only) - {name for name, *_ in rows})
    if fresh:
        print(f"not stale, left as they are: {', '.join(fresh)}")
    for name, why, seconds in rows:
        print(f"{name:40s} {seconds:>8,.0f} s  {why}")
    print(f"{len(rows)} stale page records, {sum(s for *_, s in rows if not math.isnan(s)) / 3600:.2f} h as last made")
    if args.list:
        return 0
    outcomes = run(args.results, data_root=args.data_root, cache_dir=args.cache_dir, work_dir=args.work_dir,
                   only=tuple(args.only))  # fmt: skip
    bad = {k: v for k, v in outcomes.items() if v != "fresh"}
    print(f"[rerecord] {len(outcomes) - len(bad)} fresh, {len(bad)} not: {bad or ''}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
