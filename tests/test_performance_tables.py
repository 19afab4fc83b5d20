"""Chapter 7's tables, built from the committed benchmark records: readable headers, numbers rounded for display,
and the glued numbers left at full precision."""

import pytest

from icl_support.chapters import performance as ch7


@pytest.fixture(scope="module")
def bench():
    bench, _ = ch7.load_benchmarks("results")
    return bench


def test_goal_table_reads_as_prose_and_glues_full_precision(bench):
    import matplotlib

    matplotlib.use("Agg")
    _, sweep = ch7.tabicl_sweep_section(bench["tabicl"])
    table, values = ch7.tabicl_goal_numbers(bench["tabicl"], sweep)
    by_dim = bench["tabicl"]["goal"]["by_pca_dim"]
    assert list(table.columns) == list(ch7.GOAL_COLUMNS.values()) and table.index.name == "PCA width"
    first = next(iter(by_dim))
    raw = by_dim[first]["speedup_per_query_fit_once"]
    assert table.loc[first, "speed-up per query (fit once)"] == round(raw, 2)
    assert values["tab_dim0_per_query"] == raw  # the prose glues the unrounded ratio
    assert table["goal met per query"].dtype == bool


def test_provenance_table_rounds_load_and_wall_seconds(bench):
    prov = ch7.provenance_table(bench)
    assert set(prov.index) == set(bench)
    assert all(float(s).is_integer() for s in prov["wall s"])
    assert all(round(x, 2) == x for x in prov["load 1 min"].dropna())
