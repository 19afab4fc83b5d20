"""The package's layout is its table of contents: imports only point down, chapters never import each other,
and every name registry is the one place its names live."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "icl_support"
LAYERS = {
    "core": 0,
    "data": 1,
    "embedding": 2,
    "model": 2,
    "evaluation": 3,
    "contexts": 4,
    "pretraining": 4,
    "parallel": 5,
    "chapters": 5,
    "book": 6,
}


def package_imports(path: Path) -> list[tuple[str, int]]:
    """``(dotted module, line)`` of every import of an ``icl_support`` module in ``path`` (lazy ones too)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            out += [(n, node.lineno) for n in names if n.startswith("icl_support")]
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("icl_support")]
    return out


def layer_of(dotted: str) -> tuple[str, int] | None:
    parts = dotted.split(".")
    if len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return parts[1], LAYERS[parts[1]]


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def test_every_module_sits_in_a_layer():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert loose == [], f"modules outside a layer folder: {loose}"
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))} - {"weights"}
    assert folders == set(LAYERS), folders


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_point_down(path):
    own_name, own = layer_of(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
    for target, line in package_imports(path):
        found = layer_of(target)
        assert found is not None, f"{path.name}:{line} imports {target}, which is in no layer"
        name, layer = found
        assert layer < own or name == own_name, f"{path.relative_to(PACKAGE)}:{line} imports {target} (layer {layer})"


def test_chapter_modules_never_import_each_other():
    for path in (PACKAGE / "chapters").glob("*.py"):
        for target, line in package_imports(path):
            assert not target.startswith("icl_support.chapters"), f"chapters/{path.name}:{line} imports {target}"


def test_import_checker_sees_lazy_and_relative_imports():
    assert package_imports(PACKAGE / "core" / "config.py") == []  # core imports nothing of the package
    lazy = package_imports(PACKAGE / "evaluation" / "heldout.py")  # relative imports inside functions
    assert any(t == "icl_support.core.config" for t, _ in lazy)
    assert layer_of("icl_support.chapters.pareto") == ("chapters", 5) and layer_of("icl_support.nowhere") is None


def test_notebooks_are_prose_with_short_cells():
    """Logic lives in the package: no code cell of a chapter notebook (the parameters cell aside) is longer than
    16 lines, and every chapter resolves its settings through one helper instead of repeating its parameters."""
    import json

    for nb in sorted((PACKAGE.parent / "nbs").glob("*.ipynb")):
        cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
        for cell in cells:
            if "parameters" in cell["metadata"].get("tags", []):
                continue  # literals only, one per line
            lines = "".join(cell["source"]).splitlines()
            assert len(lines) <= 16, f"{nb.name}: a {len(lines)}-line cell starting {lines[0]!r}"
        assert any("settings_from_parameters(globals()" in "".join(c["source"]) for c in cells), nb.name
