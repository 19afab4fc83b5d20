"""Every glued value of every chapter in one profile, to show that a change leaves the book's numbers alone.

Runs each notebook of ``nbs/`` (papermill, a fresh cache) and writes ``{notebook: {glue name: text/plain}}``;
``--compare`` lists the values two snapshots disagree on, leaving out the ones measured in seconds (timings
differ from run to run by nature). Usage::

    python -m icl_support.book.glued_snapshot --out /tmp/before.json          # smoke profile
    python -m icl_support.book.glued_snapshot --compare /tmp/before.json /tmp/after.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

# glue names of values measured in wall-clock time or memory (or fitted to them): expected to differ between runs
TIMED = re.compile(
    r"second|_s$|_s_|_ms$|time|speed|rate|per_s|exponent|crossover|hours|minutes|throughput"  # wall clock
    r"|^coef_|^r2_|^dominant_share|^icl_share|peak_mb|peak_rss"  # chapter 2's fits of times; memory high-water marks
)


def glued(path: str | Path) -> dict[str, str]:
    """``{name: text/plain value}`` of every myst-nb glue in an executed notebook."""
    import nbformat

    out = {}
    for cell in nbformat.read(str(path), as_version=4).cells:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                data = o["data"]
                out[name] = data[next(k for k in data if k.endswith("text/plain"))]
    return out


def run_chapters(profile: str, out: Path, cache_dir: Path, notebooks=None) -> dict[str, Path]:
    """Execute ``notebooks`` (default: every chapter in ``nbs/``) in ``profile`` into ``out`` (figures and any
    ``results_json`` there too) with the cache ``cache_dir``: ``{notebook stem: executed notebook}``."""
    import papermill as pm

    from .run_notebook import run_notebook

    executed = {}
    for nb in notebooks or sorted(Path("nbs").glob("*.ipynb")):
        params = {"profile": profile, "cache_dir": str(cache_dir), "figures_dir": str(out / "figures")}
        if "results_json" in pm.inspect_notebook(str(nb)):
            params["results_json"] = str(out / f"{nb.stem}.json")
        run_notebook(nb, out / nb.name, params, progress=False)
        executed[nb.stem] = out / nb.name
    return executed


def snapshot(profile: str = "smoke", notebooks: list[Path] | None = None, work: Path | None = None) -> dict:
    """Run every notebook in ``profile`` (a fresh cache under ``work``) and return its glued values."""
    work = Path(work or tempfile.mkdtemp(prefix="glued-"))
    return {stem: glued(path) for stem, path in run_chapters(profile, work, work / "cache", notebooks).items()}


def differences(before: dict, after: dict) -> list[str]:
    """One line per glue value that differs (or exists on one side only), timings left out."""
    lines = []
    for nb in sorted(set(before) | set(after)):
        a, b = before.get(nb, {}), after.get(nb, {})
        for name in sorted(set(a) | set(b)):
            if TIMED.search(name) or a.get(name) == b.get(name):
                continue
            lines.append(f"{nb}: {name}: {a.get(name, '(absent)')!r} -> {b.get(name, '(absent)')!r}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="write the snapshot here")
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args(argv)
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        lines = differences(before, after)
        names = [k for v in after.values() for k in v]
        timed = sum(1 for k in names if TIMED.search(k))
        print("\n".join(lines) or f"identical: {len(names) - timed} glued values ({timed} timings and memory left out)")
        return 1 if lines else 0
    if not args.out:
        ap.error("--out or --compare is needed")
    args.out.write_text(json.dumps(snapshot(args.profile), indent=1, sort_keys=True))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
