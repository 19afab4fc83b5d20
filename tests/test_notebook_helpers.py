import json

import numpy as np
import pytest

from icl_support.core.config import resolve_settings
from icl_support.core.jsonio import json_safe, write_json
from icl_support.evaluation.provenance import provenance


def test_json_is_strict(tmp_path):
    path = write_json(
        tmp_path / "r.json", {"a": np.float64(0.5), "b": float("nan"), "c": [np.int64(2), float("inf")], "d": (1,)}
    )
    assert json.loads(path.read_text()) == {"a": 0.5, "b": None, "c": [2, None], "d": [1]}
    assert json_safe({1: np.float32(2.0)}) == {"1": 2.0}


def test_provenance_labels_random_weights(random_weights):
    p = provenance(resolve_settings("smoke"), random_weights, extra=1)
    assert p["tabicl_weights"] == "random" and "RANDOM WEIGHTS" in p["tabicl_label"]
    assert p["settings"]["profile"] == "smoke" and p["extra"] == 1 and p["git_commit"]


def test_recipes_table_and_curves_read_every_recorded_recipe(tmp_path):
    """One row and one curve per recipe whose provenance exists; the digits-embedding panel only has the points
    of runs that scored them; a missing provenance file is skipped."""
    import matplotlib.pyplot as plt

    from icl_support.chapters.tabicl_mini_recipes import recipes_curves_figure, recipes_table

    def record(name, evals):
        path = tmp_path / f"{name}.json"
        evaluations = [{"step": 100 * (i + 1), "cpu_s": 1800.0 * (i + 1), "eval": e} for i, e in enumerate(evals)]
        write_json(path, {"steps": 100 * len(evals), "cpu_hours": 0.5 * len(evals), "evaluations": evaluations})
        return path

    records = {
        "a": record("a", [{"mean": 0.6}, {"mean": 0.8}]),
        "b": record("b", [{"mean": 0.7, "digits_embed": 0.5, "digits_embed_12": 0.2}]),
        "gone": tmp_path / "missing.json",
    }
    table = recipes_table(records)
    assert list(table.index) == ["a", "b"] and table.loc["a", "tables (mean)"] == 0.8
    assert np.isnan(table.loc["a", "digits embeddings, whole pool"]) and table.loc["b", "CPU hours"] == 0.5
    bench = json.loads(open("results/bench-tabicl-mini.json").read())
    fig = recipes_curves_figure(bench, records)
    left, right = fig.axes
    curves = lambda ax: {ln.get_label(): ln.get_xydata().tolist() for ln in ax.lines if ln.get_label() in records}  # noqa: E731
    assert curves(left) == {"a": [[0.5, 0.6], [1.0, 0.8]], "b": [[0.5, 0.7]]}
    assert curves(right) == {"b": [[0.5, 0.5]]}
    plt.close(fig)


def test_own_cpu_hours_subtracts_a_warm_start_parent():
    from icl_support.chapters.tabicl_mini_recipes import own_cpu_hours

    curve = [{"step": 50, "cpu_s": 1800.0}, {"step": 100, "cpu_s": 3600.0}, {"step": 150, "cpu_s": 7200.0}]
    child = {"cpu_hours": 3.0, "steps": 150, "loss_curve": curve,
             "pretrain_config": {"stages": [{"steps": 50}], "parent": {"stages": [{"steps": 100}]}}}  # fmt: skip
    assert own_cpu_hours(child) == pytest.approx(2.0)  # the parent's hour at step 100 is not the child's
    # a parent that continued a run of its own: the handoff is its whole lineage's last step (100), not its stages' 40
    lineage = {"stages": [{"steps": 50}], "parent": {"stages": [{"steps": 40}], "parent": {"stages": []}}}
    grandchild = {**child, "pretrain_config": lineage}
    assert own_cpu_hours(grandchild) == pytest.approx(2.0)
    assert own_cpu_hours({"cpu_hours": 1.5, "pretrain_config": {"parent": None}}) == 1.5
    assert own_cpu_hours({"cpu_hours": 1.5}) == 1.5


def test_shipped_comparison_and_trade_values_follow_the_recorded_benchmarks():
    import copy

    from icl_support.chapters.tabicl_mini_recipes import shipped_comparison_table, trade_values

    w64 = json.loads(open("results/bench-tabicl-mini-w64.json").read())
    fs = json.loads(open("results/bench-tabicl-mini-w64-fs.json").read())
    values = trade_values(w64, fs)
    by_fraction = fs["embeddings"]["by_fraction"].values()
    worst = min(v["tabicl"]["mean"] - v["nearest_mean"]["mean"] for v in by_fraction)
    assert values["fs_worst_gap"] == pytest.approx(worst)
    assert values["n_digits_fractions"] == len(by_fraction) and 0 <= values["fs_ahead_digits"] <= len(by_fraction)
    assert values["fs_tables_all"] == pytest.approx(fs["tables"]["summary"]["0"]["mean"]["tabicl"])
    other = copy.deepcopy(fs)
    other["tables"]["summary"]["10"]["mean"]["nearest_mean"] += 0.01  # a peer scored on other splits
    with pytest.raises(ValueError, match="other splits"):
        shipped_comparison_table({"a": w64, "b": other})


def test_pages_show_prose_figures_and_tables_not_plumbing(tmp_path):
    """Every code cell of a chapter is hidden (imports and parameters whole, the rest its input) unless it is tagged
    'teaching'; papermill's injected parameters cell is hidden in the executed copy."""
    import json
    from pathlib import Path

    import nbformat

    from icl_support.book.run_notebook import hide_injected_parameters

    for nb in sorted(Path("nbs").glob("*.ipynb")):
        cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
        for i, cell in enumerate(cells):
            tags = cell["metadata"].get("tags", [])
            if i == 0 or "parameters" in tags:
                assert "remove-cell" in tags, f"{nb.name}: imports/parameters cell {i} is shown"
            else:
                assert {"remove-input", "remove-cell", "teaching"} & set(tags), f"{nb.name}: code cell {i} is shown"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["injected-parameters"]})]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    hide_injected_parameters(path)
    assert nbformat.read(str(path), as_version=4).cells[0].metadata["tags"] == ["injected-parameters", "remove-cell"]


def test_papermill_reads_every_parameter_line():
    """A parameter whose line papermill cannot parse (an '=' or a quote in its comment) silently stops being a
    parameter: every assignment of every parameters cell must come back from papermill's inspection."""
    import json
    import re
    from pathlib import Path

    import papermill as pm

    for nb in sorted(Path("nbs").glob("*.ipynb")):
        cell = next(c for c in json.loads(nb.read_text())["cells"] if "parameters" in c["metadata"].get("tags", []))
        assigned = re.findall(r"^(\w+) = ", "".join(cell["source"]), re.M)
        assert list(pm.inspect_notebook(str(nb))) == assigned, nb.name


def test_the_split_gap_is_paired_where_the_record_holds_each_rows_gap(tmp_path):
    """Chapter 8 glues the best split-mode context's gap to the whole training set: paired over the same test rows
    where the benchmark recorded it (narrower), two independent binomial intervals for an older record."""
    import json

    import matplotlib.pyplot as plt

    from icl_support.chapters.use_it import recorded_benchmark

    src = json.loads(open("results/bench-context-classifier.json").read())
    for r in src["rows"]:
        r.pop("gap_vs_whole", None)
    (tmp_path / "bench-context-classifier.json").write_text(json.dumps(src))
    _, fig, older = recorded_benchmark(tmp_path)
    plt.close(fig)
    best = max((r for r in src["rows"] if r["column_context"] == "pool"), key=lambda r: r["accuracy"])
    best["gap_vs_whole"] = {"value": best["accuracy"] - src["rows"][0]["accuracy"], "se": 0.01, "df": 499.0}
    (tmp_path / "bench-context-classifier.json").write_text(json.dumps(src))
    _, fig, paired = recorded_benchmark(tmp_path)
    plt.close(fig)
    assert "independent" in older["bench_split_gap_how"] and "paired" in paired["bench_split_gap_how"]
    assert "499 degrees of freedom" in paired["bench_split_gap_how"]
    low, high = (float(x) for x in paired["bench_split_gap"].split("interval ")[1].rstrip(")").split(" to "))
    assert high - low == pytest.approx(2 * 0.01 * 1.9647, abs=2e-3)
