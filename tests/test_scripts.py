"""The recorded-run scripts end to end on the smoke profile: YAML in, JSON with provenance out."""

import json
import runpy
import sys

import numpy as np
import pytest
import yaml


@pytest.mark.parametrize(
    "script, params",
    [
        ("cifar10_proxy", {"random_draws": 2}),
        ("cifar10_pareto", {"ks": [1], "strategies": ["random", "class_mean", "row_lgm", "full"]}),
        ("cifar10_shift", {"corruptions": ["jpeg"], "severities": [2], "selection_seeds": 2, "distill_seeds": 2}),
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
    settings = data["provenance"]["settings"]
    if script == "cifar10_shift":
        res = data["results"]
        assert set(res) == {"random", "centroid", "class_mean", "distilled"}
        assert res["random"]["jpeg"]["2"]["nearest_mean"]["n"] == 2
        # the YAML's distill_seeds reach the synthetic images (a verdict needs independent distillations), and every
        # accuracy says how many test rows it was measured on (its binomial error)
        assert res["distilled"]["clean"]["0"]["nearest_mean"]["n"] == 2
        assert res["distilled"]["clean"]["0"]["logreg"]["n_test"] == settings["n_test"]
        assert "2 independent distillations" in data["notes"]["distilled"]
    if script == "cifar10_pareto":
        res = data["results"]
        assert set(res) == {"random", "class_mean", "row_lgm", "full"}
        assert res["random"]["1"]["logreg"]["n_test"] == settings["n_test"]
        assert res["random"]["1"]["tabicl"]["n_test"] == (settings["n_tabicl_test"] or settings["n_test"])
        spread = res["random"]["1"]["logreg"]
        assert spread["n"] == settings["selection_seeds"] and spread["std"] >= 0


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


def test_class_count_script_runs_each_subset_and_all_classes(tmp_path, cache_dir, monkeypatch):
    """First and last classes per count and every class; the images per class of the YAML kept in each."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("test", 3)):
        for c in ("ant", "bee", "cow", "doe"):
            (tmp_path / "tree" / split / c).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / "tree" / split / c / f"{i}.png")
    cfg = tmp_path / "params.yaml"
    cfg.write_text(yaml.safe_dump({
        "profile": "smoke", "cache_dir": str(cache_dir), "dataset": "folder", "data_root": str(tmp_path / "tree"),
        "n_train": 24, "n_test": 12, "selection_seeds": 2, "distill_steps": 4, "lgm_anchor": 10.0, "pca_dim": 8,
    }))  # fmt: skip
    out = tmp_path / "out.json"
    argv = ["scripts/cifar10_class_count.py", str(cfg), "--class-counts", "2", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path("scripts/cifar10_class_count.py", run_name="__main__")
    data = json.loads(out.read_text())
    res = data["results"]
    assert set(res) == {"2-first", "2-last", "all"} and res["2-last"]["classes"] == ["cow", "doe"]
    for label, n_classes in (("2-first", 2), ("all", 4)):
        entry = res[label]["results"]
        assert set(entry) == {"random", "nearest_centroid", "class_mean", "pixel_lgm", "pixel_lgm_anchored"}
        assert entry["random"]["1"]["rows"] == n_classes and entry["random"]["1"]["nearest_mean"]["n"] == 2
    assert data["provenance"]["class_counts"] == [2]
    monkeypatch.setattr(sys, "argv", [*argv[:2], "--class-counts", "4", "--out", str(out)])
    with pytest.raises(ValueError, match="class-counts must lie in 2..3"):
        runpy.run_path("scripts/cifar10_class_count.py", run_name="__main__")


def test_k1_images_script_runs_every_anchor_and_seed(tmp_path, cache_dir, monkeypatch):
    """Anchored kinds once per --anchors weight, every synthetic kind over distill_seeds distillations, the probe
    only for contexts that are images."""
    cfg = tmp_path / "params.yaml"
    cfg.write_text(yaml.safe_dump({
        "profile": "smoke", "cache_dir": str(cache_dir), "n_train": 100, "n_test": 50, "ks": [1],
        "strategies": ["random", "nearest_centroid", "class_mean", "pixel_lgm", "tabicl_pixels"],
        "selection_seeds": 2, "distill_seeds": 2, "distill_steps": 3, "tabicl_distill_steps": 2, "probe_epochs": 5,
    }))  # fmt: skip
    out = tmp_path / "out.json"
    monkeypatch.setattr(sys, "argv", ["scripts/cifar10_k1_images.py", str(cfg), "--anchors", "2", "--out", str(out)])
    runpy.run_path("scripts/cifar10_k1_images.py", run_name="__main__")
    data = json.loads(out.read_text())
    res = {n: v["1"] for n, v in data["results"].items()}
    assert set(res) == {"random", "nearest_centroid", "class_mean", "pixel_lgm", "tabicl_pixels",
                        "tabicl_pixels_anchored@2", "pixel_lgm_anchored@2"}  # fmt: skip
    for name in ("pixel_lgm", "tabicl_pixels", "pixel_lgm_anchored@2", "tabicl_pixels_anchored@2"):
        assert res[name]["nearest_mean"]["n"] == 2 and res[name]["linear_probe"]["n"] == 2, name
    assert "linear_probe" not in res["class_mean"] and res["nearest_centroid"]["linear_probe"]["n"] == 1
    assert data["provenance"]["anchors"] == [2.0] and "2 distillations" in data["notes"]["rows"]
