"""The *What this book found* block of README.md and of the book's landing page (``book/intro.md``), generated from
the records. ``tests/test_results_readme.py`` fails when either block is stale. Usage::

    python -m icl_support.book.readme_findings            # rewrite the block in README.md and book/intro.md
    python -m icl_support.book.readme_findings --check    # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..chapters.claims import load_records
from . import generated
from .findings import findings_markdown

START, END = "<!-- findings:start (generated: python -m icl_support.book.readme_findings) -->", "<!-- findings:end -->"


def readme_link(chapter: str) -> str:
    """Where a chapter's source lives, relative to the repository root (README links)."""
    return "book/rerun.md" if chapter == "rerun" else f"nbs/{chapter}.ipynb"


def book_link(chapter: str) -> str:
    """Where a chapter lives relative to the landing page (book/intro.md)."""
    return "rerun.md" if chapter == "rerun" else f"../executed/{chapter}.ipynb"


def book_card(key: str) -> str:
    """A claim's card on the claims page, as a MyST reference to its label (``(claim-<key>)=``)."""
    return f"{{ref}}`card <claim-{key}>`"


def with_block(readme: str, block: str) -> str:
    """``readme`` with its findings block replaced by ``block``."""
    return generated.with_block(readme, block, START, END)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--readme", default="README.md")
    ap.add_argument("--landing", default="book/intro.md")
    ap.add_argument("--results", default="results")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    records = load_records(args.results)
    stale = 0
    for page, link, card in ((Path(args.readme), readme_link, None), (Path(args.landing), book_link, book_card)):
        text = with_block(page.read_text(), findings_markdown(records, args.results, link, card))
        stale |= generated.write_or_check(page, text, args.check, f"{page}'s findings block")
    return stale


if __name__ == "__main__":
    sys.exit(main())
