"""The benchmark scripts run in --quick mode and write well-formed JSON; their shared helpers behave."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from icl_support.model.weights import MINI_CHECKPOINT, RANDOM_BANNER

REPO = Path(__file__).resolve().parent.parent


def load_common():
    spec = importlib.util.spec_from_file_location("bench_common", REPO / "benchmarks" / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(name: str, out: Path, *extra: str) -> dict:
    """Run ``python -m benchmarks.<name> --quick`` (benchmarks run as modules only) and read its JSON."""
    cmd = [sys.executable, "-m", f"benchmarks.{name}", "--quick", "--no-progress", "--out", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([*cmd, *extra], cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RATIO " in done.stdout
    data = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    prov = data["provenance"]
    assert prov["torch"] == torch.__version__ and prov["quick"] is True
    assert "--quick" in prov["command"] and prov["date_utc"].endswith("Z") and prov["git_commit"]
    assert prov["machine"]["cpu_count"] >= 1 and prov["settings"]
    assert data["benchmark"] == name and any(line.startswith("RATIO ") for line in data["lines"])
    return data


def finite_positive(x) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_embed_quick(tmp_path):
    data = run_script("embed", tmp_path / "bench-embed.json")
    assert data["same_embeddings"] and data["cache_hit_equal"] and data["max_abs_diff"] == 0.0
    assert data["n_images"] == data["provenance"]["settings"]["n_images"]
    assert all(finite_positive(v) for v in data["ratios"].values())
    shares = data["breakdown_share_of_ours"]
    assert math.isclose(sum(shares.values()), 1.0, rel_tol=1e-9)
    goal = data["goals"]["cache_hit_speedup"]
    assert goal["met"] == (data["ratios"]["cache_hit_speedup"] >= goal["goal"])


def test_distill_quick(tmp_path):
    data = run_script("distill", tmp_path / "bench-distill.json")
    eq = data["equality"]
    assert eq["loss_close"] and eq["grads_close"] and eq["params_close"] and eq["update_max_abs"] > 0
    assert data["library_check"]["equal"]
    assert data["library_check"]["library_losses"] == data["library_check"]["our_step_losses"]
    for variant in ("ours", "reference"):
        assert data["memory"][variant]["peak_rise_mb"] > 0
    assert all(finite_positive(v) for v in data["ratios"].values())
    if not torch.cuda.is_available():
        assert data["gpu_options"]["measured"] is False and "NOT measured" in data["gpu_options"]["note"]


def test_tabicl_quick(tmp_path, cache_dir, random_weights):
    out = tmp_path / "bench-tabicl.json"
    data = run_script("tabicl", out, "--embeddings-from", "none", "--cache-dir", str(cache_dir))
    settings = data["provenance"]["settings"]
    assert data["data"]["source"] == "gaussian" and "GAUSSIAN" in data["data"]["description"]
    assert data["tabicl_label"] == RANDOM_BANNER
    assert [r["n_context"] for r in data["sweep"]] == settings["sizes"]
    for r in data["sweep"]:
        assert r["max_abs_prob_diff"] < 1e-4  # fit-once predicts what the default path predicts
        assert finite_positive(r["predict_speedup"]) and 0.0 <= r["tabicl_accuracy"] <= 1.0
    full = str(data["data"]["full_width"])
    assert set(data["at_goal_n"]) == {str(d) for d in settings["pca_dims"]} | {full}
    for peer, by_width in data["peer_accuracy"].items():
        for d in settings["pca_dims"]:
            drops = [f - p for f, p in zip(by_width[full], by_width[str(d)], strict=True)]
            expected = 100 * sum(drops) / len(drops)
            assert math.isclose(data["accuracy_cost_points"][peer][str(d)]["mean_points"], expected, abs_tol=1e-9)
    for d, g in data["goal"]["by_pca_dim"].items():
        met = g["speedup_per_query_fit_once"] >= data["goal"]["speed_goal"] and (
            g["worst_peer_accuracy_cost_points"] < data["goal"]["accuracy_goal_points"]
        )
        assert g["met_per_query"] == met, d


def test_interleaved_alternates_and_records_every_call():
    common = load_common()
    calls = []
    times = common.interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, progress=False)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert all(len(t["wall_s"]) == 3 and len(t["cpu_s"]) == 3 for t in times.values())
    s = common.summary(times["a"])
    assert s["best_s"] == min(times["a"]["wall_s"]) and s["best_s"] <= s["median_s"]
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        common.interleaved({"a": lambda: None}, 0)


def test_ratio_line_states_the_goal_verdict():
    common = load_common()
    assert common.ratio_line("x", 0.79, 0.8) == "RATIO x: 0.79x (goal >= 0.8x: NOT met)"
    assert common.ratio_line("x", 120.0, 100) == "RATIO x: 120x (goal >= 100x: met)"
    assert common.ratio_line("x", 2.0) == "RATIO x: 2x"


def test_standardised_nearest_mean_scales_columns_by_the_context():
    """One informative column at a small scale beside a loud noise column: the raw nearest class mean follows the
    noise, the context-standardised one (what TabICL's preprocessing leaves) recovers the signal."""
    from types import SimpleNamespace

    import numpy as np

    sys.path.insert(0, str(REPO))
    from icl_support.evaluation.peers import standardised_nearest_mean

    rng = np.random.default_rng(0)

    def rows(n):
        y = np.arange(n) % 2
        return np.c_[0.01 * (2 * y - 1) + 0.001 * rng.normal(size=n), 10 * rng.normal(size=n)], y

    (X, y), (Xt, yt) = rows(200), rows(400)
    out = standardised_nearest_mean(SimpleNamespace(X_train=X, y_train=y, X_test=Xt, y_test=yt), (0.1, 1.0), [0, 1])
    assert set(out) == {"0.1", "1"} and out["1"]["std"] == 0.0  # the whole pool: one context
    assert out["1"]["mean"] > 0.95 and out["0.1"]["mean"] > 0.9
    raw = np.mean(((Xt[:, None] - np.array([X[y == c].mean(0) for c in (0, 1)])) ** 2).sum(-1).argmin(1) == yt)
    assert raw < 0.75  # the raw rows' nearest class mean is led by the loud column


def test_tabicl_mini_quick(tmp_path):
    """TabICL-mini beside the peers on the same held-out splits; the bar is computed from the recorded means."""
    data = run_script("tabicl_mini", tmp_path / "bench-tabicl-mini.json")
    assert data["weights"]["kind"] == "mini" and data["embeddings"] is None
    rows = data["tables"]["rows"]
    assert {r["table"] for r in rows} == {"iris", "wine"} and {r["requested"] for r in rows} == {10, 0}
    assert all(0 <= r[k] <= 1 for r in rows for k in ("tabicl", "logreg", "knn", "nearest_mean", "chance"))
    whole = data["tables"]["summary"]["0"]["mean"]
    assert whole["logreg"] > 0.9  # the peers are real: iris and wine are easy for logistic regression
    assert data["bar"]["tables_vs_nearest_mean"] == (whole["tabicl"] >= whole["nearest_mean"])
    assert data["bar"]["tables_vs_logreg"] == (whole["tabicl"] >= 0.9 * whole["logreg"])


def test_tabicl_mini_scores_a_recipe_export_against_the_same_bar(tmp_path):
    """--checkpoint: a tried recipe's export (its provenance beside it) in place of the shipped checkpoint."""
    ckpt = "runs/tabicl-mini-w64/tabicl-mini-w64.ckpt"
    data = run_script("tabicl_mini", tmp_path / "w64.json", "--checkpoint", ckpt)
    meta = json.loads((REPO / ckpt).with_suffix(".json").read_text())
    assert data["weights"]["kind"] == "local" and data["weights"]["steps"] == meta["steps"] == 3400
    assert data["provenance"]["checkpoint"] == "tabicl-mini-w64.ckpt" and "bar" in data


def test_pretrain_prior_quick(tmp_path):
    """Inline and worker-drawn pretraining steps are both timed; the verdict follows the measured ratio."""
    data = run_script("pretrain_prior", tmp_path / "bench-pretrain-prior.json")
    assert set(data["timings"]) == {"inline", "worker", "draw_only"}
    assert finite_positive(data["ratios"]["inline_over_worker"])
    assert data["faster"] == ("worker" if data["ratios"]["inline_over_worker"] > 1 else "inline")


def test_probe_quick(tmp_path):
    """Seeds trained together and each alone give the same accuracies; both paths are timed."""
    data = run_script("probe", tmp_path / "bench-probe.json")
    (entry,) = data["results"].values()
    assert entry["same_accuracies"] and len(entry["accuracies"]) == 2
    assert set(entry["timings"]) == {"together", "alone"} and finite_positive(entry["alone_over_together"])


def test_tabicl_mini_columns_quick(tmp_path, cache_dir):
    """The column diagnostic scores every evaluator on the same first-w PCA columns; its peers are exact."""
    from benchmarks.tabicl_mini_columns import main

    data = main(["--quick", "--out", str(tmp_path / "cols.json"), "--cache-dir", str(cache_dir), "--no-progress"])
    rows = data["rows"]
    assert [(r["context"], r["width"]) for r in rows] == [(c, w) for c in ("12 rows", "whole pool") for w in (4, 16)]
    assert all(r["n_context"] == 12 for r in rows[:2]) and rows[-1]["n_context"] == data["settings"]["pool"]
    # digits embeddings: on the whole pool the raw nearest class mean is far above chance (0.1)
    assert rows[-1]["nearest_mean (raw PCA rows)"] > 0.5 and "TabICL-mini (shipped)" in rows[0]


def run_module(name: str, out: Path, *extra: str) -> dict:
    """Run ``python -m benchmarks.<name> --quick`` (as its docstring says) and read its strict JSON."""
    cmd = [sys.executable, "-m", f"benchmarks.{name}", "--quick", "--no-progress", "--threads", "1", "--out", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([*cmd, *extra], cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert data["provenance"]["quick"] is True and data["benchmark"] == name.replace("-", "_")
    return data


def test_context_classifier_quick(tmp_path, cache_dir):
    """Full context, compressed contexts (both statistics, and columns from the pool) and retrieval, measured side by
    side on the same rows."""
    data = run_module("context_classifier", tmp_path / "cc.json", "--cache-dir", str(cache_dir))
    rows = {(r["strategy"], r["k"], r["context_stats"], r["column_context"]): r for r in data["rows"]}
    full = rows[("full", None, "context", "context")]
    assert full["speedup"] == 1.0 and full["rows"] == data["n_train"] == 600
    assert rows[("class_mean", 1, "pool", "context")]["rows"] == 10 and ("retrieval", 2, "context", "context") in rows
    split = rows[("class_mean", 1, "pool", "pool")]
    assert split["rows"] == 10 and "columns from the pool" in split["method"]
    retrieval = rows[("retrieval", 2, "pool", "pool")]  # split-mode retrieval through the cached representations
    assert "columns from the pool" in retrieval["method"] and ("full_kv_cache", None, "context", "context") in rows
    for r in data["rows"]:
        assert 0 <= r["accuracy"] <= 1 and r["seconds"] == pytest.approx(r["fit_seconds"] + r["predict_seconds"])
    assert set(data["split_bar"]) == {"within_1pt_10x", "retrieval_faster", "met"}
    assert any(line.startswith("split-mode bar ") for line in data["lines"])
    # every row's gap to the whole training set, paired over the same test rows (the whole set's own gap is 0)
    assert full["gap_vs_whole"]["value"] == 0 and full["gap_vs_whole"]["disagreements"] == 0
    for r in data["rows"]:
        gap = r["gap_vs_whole"]
        assert gap["value"] == pytest.approx(r["accuracy"] - full["accuracy"], abs=1e-9)
        if gap["disagreements"]:  # a known interval, on n - 1 degrees of freedom
            assert gap["low"] < gap["value"] < gap["high"] and gap["df"] == data["n_eval"] - 1
    assert (
        data["weights"]["checkpoint_sha256"]
        == json.loads(MINI_CHECKPOINT.with_suffix(".json").read_text())["checkpoint_sha256"]
    )


def test_paper_costs_quick(tmp_path):
    """FLOPs counted on the paper's models and shapes: a ViT-B/14 image costs tens of GFLOP; LGM scales with ipc."""
    data = run_module("paper_costs", tmp_path / "pc.json")
    assert 30 < data["per_image_gflop"] < 60  # 257 tokens through ViT-B (about 2 x 23 GMAC)
    lgm = [v["tflop"] for k, v in data["table"].items() if k.startswith("LGM")]
    assert lgm == sorted(lgm) and lgm[-1] == pytest.approx(10 * lgm[0])  # ipc 1 ... ipc 10: linear in ipc
    assert all("ESTIMATE" in line for line in data["lines"] if "GPU" in line and "->" in line)


def test_split_cap_quick(tmp_path, cache_dir):
    """Accuracy and seconds against the split mode's pool cap, the plain mode (cap 0) beside it in the same run."""
    data = run_module("split_cap", tmp_path / "cap.json", "--cache-dir", str(cache_dir))
    caps = {(r["context"], r["cap"]) for r in data["rows"]}
    assert caps == {(c, k) for c in ("random 1 per class", "class means") for k in (0, 64, 256)}
    assert all(0 <= r["accuracy"] <= 1 and r["seconds"] > 0 for r in data["rows"])
    assert all("RATIO seconds vs plain" in line for line in data["lines"][1:])
