"""Files and blocks generated from the records (``results/README.md``, README's findings, rerun.md's cost table):
the one way they are written, or checked for staleness by the tests."""

from __future__ import annotations

from pathlib import Path


def with_block(page: str, block: str, start: str, end: str) -> str:
    """``page`` with the text between the markers ``start`` and ``end`` replaced by ``block`` (each marker once)."""
    if page.count(start) != 1 or page.count(end) != 1:
        raise ValueError(f"the page needs the markers {start!r} and {end!r} once each")
    head, rest = page.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n{block}{end}{tail}"


def write_or_check(path: str | Path, text: str, check: bool, what: str) -> int:
    """Write ``text`` to ``path`` (0), or with ``check`` say whether the file already holds it (0) or is stale (1)."""
    path = Path(path)
    if check:
        stale = not path.is_file() or path.read_text() != text
        print(f"{what} is {'STALE: regenerate it' if stale else 'up to date'}")
        return int(stale)
    path.write_text(text)
    print(f"wrote {path}")
    return 0
