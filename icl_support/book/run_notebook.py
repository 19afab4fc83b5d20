"""Run a chapter notebook headlessly with papermill, refusing unknown parameters.

papermill itself only warns about a parameter the notebook does not declare; this runner fails
first, listing the valid ones. Types and values are checked inside the notebook by
``resolve_settings``. Usage::

    python -m icl_support.book.run_notebook nbs/01_context_scaling.ipynb out.ipynb -p profile smoke -p seed 3
    python -m icl_support.book.run_notebook nbs/02_inference_time.ipynb out.ipynb -f my-params.yaml
    python -m icl_support.book.run_notebook nbs/07_performance.ipynb out.ipynb -s book-params.yaml

``-s FILE`` is a parameter file shared by every chapter (``make book PARAMS=...``): a name this
notebook does not declare is skipped when some chapter in the same folder declares it, and refused
otherwise, so a typo still stops the build.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml


def notebook_parameters(path: str | Path) -> list[str]:
    """Names declared in the notebook's ``parameters`` cell."""
    import papermill as pm

    return list(pm.inspect_notebook(str(path)))


def check_parameters(path: str | Path, parameters: dict) -> None:
    """Raise ``ValueError`` naming any parameter the notebook does not declare."""
    valid = notebook_parameters(path)
    unknown = sorted(set(parameters) - set(valid))
    if unknown:
        raise ValueError(
            f"{Path(path).name}: unknown parameter(s) {', '.join(unknown)}; valid parameters: {', '.join(valid)}"
        )


def run_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: dict | None = None,
    cwd: str | Path = ".",
    progress: bool = True,
):
    """Execute ``notebook`` into ``output`` with ``parameters``; the kernel's working dir is ``cwd``."""
    import papermill as pm

    parameters = dict(parameters or {})
    check_parameters(notebook, parameters)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    executed = pm.execute_notebook(
        str(notebook), str(output), parameters=parameters, cwd=str(cwd), progress_bar=progress, kernel_name="python3"
    )
    hide_injected_parameters(output)
    return executed


def hide_injected_parameters(path: str | Path) -> None:
    """Tag papermill's injected ``parameters`` cell ``remove-cell`` so the rendered page starts with prose (the
    executed notebook keeps it: the run's parameters stay on record)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    changed = False
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
            changed = True
    if changed:
        nbformat.write(nb, str(path))


def shared_parameters(path: str | Path, parameters: dict) -> dict:
    """The subset of a book-wide parameter mapping that ``path`` declares; names that no notebook
    beside it declares raise ``ValueError`` (a typo must not pass silently)."""
    path = Path(path)
    mine = set(notebook_parameters(path))
    known = set().union(*(notebook_parameters(nb) for nb in sorted(path.parent.glob("*.ipynb"))), mine)
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}: no chapter in {path.parent} declares them")
    return {k: v for k, v in parameters.items() if k in mine}


def _parse_value(text: str):
    """``-p`` values are read as YAML scalars/lists (``3`` -> int, ``[1, 2]`` -> list, ``cpu`` -> str)."""
    return yaml.safe_load(text)


def _load_mapping(parser: argparse.ArgumentParser, file: str) -> dict:
    loaded = yaml.safe_load(Path(file).read_text()) or {}
    if not isinstance(loaded, dict):
        parser.error(f"{file}: expected a mapping of parameter names to values")
    return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook")
    parser.add_argument("output")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("-f", "--parameters-file", action="append", default=[], help="YAML file of parameters")
    parser.add_argument(
        "-s", "--shared-file", action="append", default=[], help="YAML file of book-wide parameters (see above)"
    )
    parser.add_argument("--cwd", default=".", help="kernel working directory (default: here)")
    args = parser.parse_args(argv)
    params: dict = {}
    try:
        for file in args.shared_file:
            params.update(shared_parameters(args.notebook, _load_mapping(parser, file)))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for file in args.parameters_file:
        params.update(_load_mapping(parser, file))
    params.update({name: _parse_value(value) for name, value in args.parameter})
    try:
        run_notebook(args.notebook, args.output, params, cwd=args.cwd)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
