"""Run a chapter notebook headlessly with papermill, refusing unknown parameters.

papermill itself only warns about a parameter the notebook does not declare; this runner fails
first, listing the valid ones. Types and values are checked inside the notebook by
``resolve_settings``. Usage::

    python -m icl_support.run_notebook nbs/01_context_scaling.ipynb out.ipynb -p profile smoke -p seed 3
    python -m icl_support.run_notebook nbs/02_inference_time.ipynb out.ipynb -f my-params.yaml
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
    return pm.execute_notebook(
        str(notebook), str(output), parameters=parameters, cwd=str(cwd), progress_bar=progress, kernel_name="python3"
    )


def _parse_value(text: str):
    """``-p`` values are read as YAML scalars/lists (``3`` -> int, ``[1, 2]`` -> list, ``cpu`` -> str)."""
    return yaml.safe_load(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook")
    parser.add_argument("output")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("-f", "--parameters-file", action="append", default=[], help="YAML file of parameters")
    parser.add_argument("--cwd", default=".", help="kernel working directory (default: here)")
    args = parser.parse_args(argv)
    params: dict = {}
    for file in args.parameters_file:
        loaded = yaml.safe_load(Path(file).read_text()) or {}
        if not isinstance(loaded, dict):
            parser.error(f"{file}: expected a mapping of parameter names to values")
        params.update(loaded)
    params.update({name: _parse_value(value) for name, value in args.parameter})
    try:
        run_notebook(args.notebook, args.output, params, cwd=args.cwd)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
