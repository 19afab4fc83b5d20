"""The recorded-run scripts end to end on the smoke profile: YAML in, JSON with provenance out."""

import json
import runpy
import sys

import pytest
import yaml


@pytest.mark.parametrize(
    "script, params",
    [
        ("cifar10_proxy", {"random_draws": 2}),
        ("cifar10_pareto", {"ks": [1], "strategies": ["random", "class_mean", "row_lgm", "full"]}),
        ("cifar10_shift", {"corruptions": ["jpeg"], "severities": [2], "selection_seeds": 2}),
    ],
)
def test_script_writes_results(script, params, tmp_path, cache_dir, monkeypatch):
    cfg = tmp_path / "params.yaml"
    cfg.write_text(yaml.safe_dump({"profile": "smoke", "cache_dir": str(cache_dir), **params}))
    out = tmp_path / "out.json"
    monkeypatch.setattr(sys, "argv", [f"scripts/{script}.py", str(cfg), "--out", str(out)])
    runpy.run_path(f"scripts/{script}.py", run_name="__main__")
    data = json.loads(out.read_text())
    assert data["provenance"]["settings"]["profile"] == "smoke" and data["results"]
    assert data["provenance"]["tabicl_weights"] == "mini"  # smoke: the shipped TabICL-mini, named in the notes
    assert "TabICL-mini" in json.dumps(data["notes"]) or "TabICL too" in json.dumps(data["notes"])
    if script == "cifar10_shift":
        assert set(data["results"]) == {"random", "centroid", "class_mean", "distilled"}
        assert data["results"]["random"]["jpeg"]["2"]["nearest_mean"]["n"] == 2
    if script == "cifar10_pareto":
        assert set(data["results"]) == {"random", "class_mean", "row_lgm", "full"}


def test_script_rejects_unknown_parameter(tmp_path, monkeypatch):
    cfg = tmp_path / "params.yaml"
    cfg.write_text(yaml.safe_dump({"profile": "smoke", "stratgies": ["random"]}))
    monkeypatch.setattr(sys, "argv", ["scripts/cifar10_pareto.py", str(cfg)])
    with pytest.raises(ValueError, match="unknown parameter.*stratgies"):
        runpy.run_path("scripts/cifar10_pareto.py", run_name="__main__")


def test_lgm_rows_script_measures_geometry_in_three_spaces(tmp_path, cache_dir, monkeypatch):
    """The LGM-rows diagnostic: geometry and nearest-mean accuracy per space; a class mean sits on its class mean."""
    cfg = tmp_path / "params.yaml"
    cfg.write_text(
        yaml.safe_dump({"profile": "smoke", "cache_dir": str(cache_dir), "selection_seeds": 2, "probe_augs": 2})
    )
    out = tmp_path / "out.json"
    monkeypatch.setattr(sys, "argv", ["scripts/cifar10_lgm_rows.py", str(cfg), "--out", str(out)])
    runpy.run_path("scripts/cifar10_lgm_rows.py", run_name="__main__")
    res = json.loads(out.read_text())["results"]
    assert set(res) == {"random", "centroid", "class_mean", "distilled"} and res["random"]["contexts"] == 2
    for space in ("raw", "pca", "pca_standardised"):
        assert res["class_mean"]["mean"][space]["to_own_mean"] == pytest.approx(0, abs=1e-5)
        assert res["random"]["mean"][space]["nearest_real"] == pytest.approx(0, abs=1e-5)  # real rows are pool rows
    # the centre view of a real image is its pool embedding: same nearest-mean accuracy as the raw rows
    assert res["centroid"]["mean"]["views"]["centre_view"] == pytest.approx(
        res["centroid"]["mean"]["raw"]["nearest_mean_accuracy"]
    )
    assert "views" not in res["class_mean"]["mean"]  # rows, not images
