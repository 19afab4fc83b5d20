"""Papermill runs of every chapter notebook in the smoke profile; glued values read back."""

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from icl_support.book.glued_snapshot import differences, glued, run_chapters
from icl_support.book.run_notebook import check_parameters, main, run_notebook
from icl_support.chapters import use_it
from icl_support.evaluation.records import weights_name

NOTEBOOKS = sorted(Path("nbs").glob("*.ipynb"))
CHAPTER1 = Path("nbs/01_context_scaling.ipynb")


@pytest.fixture(scope="module")
def executed(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("executed")
    return {stem: (path, out) for stem, path in run_chapters("smoke", out, cache_dir, NOTEBOOKS).items()}


@pytest.mark.notebooks
def test_chapter1_smoke(executed):
    path, out = executed["01_context_scaling"]
    g = glued(path)
    assert g["profile"] == "'smoke'" and g["tabicl_weights"] == "'mini'" and "TabICL-mini" in g["weights_note"]
    assert int(g["n_pool"]) == 200 and int(g["n_test_rows"]) == 100 and int(g["n_features"]) == 16
    # real accuracies of the peers on digits: well above chance (0.1) once the pool is the context
    assert 0.5 < float(g["acc_logreg_max"]) <= 1.0
    assert float(g["acc_logreg_max"]) >= float(g["acc_logreg_min"]) - 0.05
    assert float(g["tabicl_predict_s_largest_run"]) > 0
    assert (out / "figures" / "ch1-accuracy-vs-context.png").stat().st_size > 0
    assert (out / "figures" / "ch1-accuracy-vs-context.pdf").stat().st_size > 0
    assert (out / "01_context_scaling.json").exists()


@pytest.mark.notebooks
def test_chapter2_smoke(executed):
    path, out = executed["02_inference_time"]
    g = glued(path)
    assert g["tabicl_weights"] == "'random'"  # time: the full-size architecture, not TabICL-mini
    # the exponents are fitted to measured seconds, which a loaded machine can bend anywhere: check that the prose
    # quotes the fit of the times this run recorded (the fit itself is tested on synthetic timings in test_timing)
    from icl_support.evaluation.timing import fit_power_law

    rec = json.loads((out / "02_inference_time.json").read_text())
    n = [r["n_context"] for r in rec["timings"]]
    assert float(g["exponent_total"]) == pytest.approx(
        fit_power_law(n, [r["total_s"] for r in rec["timings"]]).exponent
    )
    assert float(g["exponent_icl"]) == pytest.approx(fit_power_law(n, [r["icl_s"] for r in rec["timings"]]).exponent)
    assert g["dominant_stage"].strip("'") in {"column", "row", "icl", "preprocessing"}
    assert float(g["kv_max_diff"]) < 1e-4
    assert (out / "figures" / "ch2-time-vs-context.pdf").exists()
    # the split mode by stage: the prose quotes this run's recorded stages
    whole, _, split = rec["stage_split"]
    assert int(g["split_column_rows"]) == split["column_rows"] > int(g["split_context_rows"]) == split["context_rows"]
    assert float(g["split_predict_s"]) == pytest.approx(split["predict_s"]) and split["fit_column_s"] > 0
    assert float(g["whole_icl_s"]) == pytest.approx(whole["icl_s"])


@pytest.mark.notebooks
def test_chapter3_smoke(executed):
    path, out = executed["03_distillation"]
    g = glued(path)
    assert int(g["steps"]) == 20 and int(g["side"]) == 32
    assert np.isfinite(float(g["loss_last"])) and float(g["seconds_per_step"]) > 0  # a NaN loss would show here
    for name in ("ch3-real-vs-synthetic", "ch3-pyramid-growth", "ch3-loss"):
        assert (out / "figures" / f"{name}.png").exists() and (out / "figures" / f"{name}.pdf").exists()


@pytest.mark.notebooks
def test_chapter4_smoke(executed):
    path, out = executed["04_one_per_class"]
    g = glued(path)
    assert g["tabicl_weights"] == "'mini'" and int(g["n_random"]) == 3
    import json

    recorded = json.loads((out / "04_one_per_class.json").read_text())["results"]
    for name in ("random", "centroid", "neighbors", "distilled"):
        for ev in ("linear_probe", "nearest_mean", "one_nn", "tabicl"):  # the prose quotes what the run recorded
            assert float(g[f"{name}_{ev}"]) == pytest.approx(recorded[name][ev]["mean"], rel=1e-9)
    # nearest class mean on real digits embeddings is far above chance even with one image per class
    assert float(g["centroid_nearest_mean"]) > 0.2
    assert (out / "figures" / "ch4-one-per-class.pdf").exists() and (out / "04_one_per_class.json").exists()


@pytest.mark.notebooks
def test_chapter0_smoke(executed):
    """The TabICL-mini chapter glues the shipped provenance and the recorded benchmark, and reproduces a record live."""
    import json

    from icl_support.model.weights import MINI_CHECKPOINT

    path, out = executed["00_tabicl_mini"]
    g = glued(path)
    meta = json.loads(MINI_CHECKPOINT.with_suffix(".json").read_text())
    bench = json.loads(Path("results/bench-tabicl-mini.json").read_text())
    assert int(g["mini_steps"]) == meta["steps"] and int(g["mini_params"]) == meta["parameters"]
    assert float(g["mini_cpu_hours"]) == pytest.approx(meta["cpu_hours"])
    whole = bench["tables"]["summary"]["0"]["mean"]
    assert float(g["whole_tabicl"]) == pytest.approx(whole["tabicl"])
    assert float(g["whole_logreg"]) == pytest.approx(whole["logreg"])
    for slug in ("mini", "mini_v1", "mini_w64", "mini_w64_fs2"):  # each shipped checkpoint reproduces its record
        assert float(g[f"live_wine_{slug}"]) == pytest.approx(float(g[f"recorded_wine_{slug}"]), abs=1e-9)
    assert g["bar_tables_ncm"].strip("'") == ("met" if bench["bar"]["tables_vs_nearest_mean"] else "NOT met")
    for name in ("ch0-prior-samples", "ch0-loss", "ch0-accuracy-vs-hours", "ch0-recipes"):
        assert (out / "figures" / f"{name}.png").exists() and (out / "figures" / f"{name}.pdf").exists()
    w64 = json.loads(Path("icl_support/weights/tabicl-mini-w64.json").read_text())
    assert float(g["recipe_mini_w64_embed"]) == pytest.approx(w64["evaluations"][-1]["eval"]["digits_embed"])
    assert float(g["recipe_mini_w64_hours"]) == pytest.approx(w64["cpu_hours"])
    # the two shipped checkpoints side by side, from their benchmarks; CIFAR-10 records of both
    w64_bench = json.loads(Path("results/bench-tabicl-mini-w64.json").read_text())
    assert float(g["shipped_w64_tables_all"]) == pytest.approx(w64_bench["tables"]["summary"]["0"]["mean"]["tabicl"])
    assert 0 <= int(g["shipped_w64_ahead"]) <= int(g["shipped_measures"]) == 11
    # each CIFAR-10 record named by the weights it was made with (records/weights_name): the first one-per-class
    # and chapter 1 records were re-made with the shipped mini (both now name TabICL-mini)
    rest = "TabICL-mini-w64, TabICL (tabicl-mini-w64-fs), TabICL-mini-w64-fs2"  # the tried recipe by file, then fs2
    k1_first = weights_name(json.loads(Path("results/cifar10-k1-mini.json").read_text()))
    ch1_first = weights_name(json.loads(Path("results/cifar10-ch1-local.json").read_text()))
    assert g["ch1_weights"].strip("'") == f"{ch1_first}, {rest}" and g["k1_weights"].strip("'") == f"{k1_first}, {rest}"
    k1w = json.loads(Path("results/cifar10-k1-mini-w64.json").read_text())["results"]
    assert float(g["k1w_class_mean_tabicl"]) == pytest.approx(k1w["class_mean"]["1"]["tabicl"]["mean"])


def test_runner_rejects_unknown_parameter(capsys):
    with pytest.raises(ValueError, match="unknown parameter.*learning_rate.*valid parameters: profile"):
        check_parameters(CHAPTER1, {"learning_rate": 1})
    assert main([str(CHAPTER1), "/dev/null", "-p", "learning_rate", "1"]) == 2
    assert "valid parameters" in capsys.readouterr().err


@pytest.mark.notebooks
def test_wrong_type_fails_the_run(tmp_path, cache_dir):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="must be int"):
        run_notebook(
            CHAPTER1,
            tmp_path / "bad.ipynb",
            {"profile": "smoke", "seed": "three", "cache_dir": str(cache_dir)},
            progress=False,
        )


@pytest.mark.notebooks
def test_chapter7_smoke(executed):
    """The performance chapter glues the ratios recorded in results/bench-*.json and draws its figures."""
    import json

    path, out = executed["07_performance"]
    g = glued(path)
    rec = {n: json.loads(Path(f"results/bench-{n}.json").read_text()) for n in ("embed", "distill", "tabicl")}
    assert float(g["embed_ratio"]) == pytest.approx(rec["embed"]["ratios"]["throughput_ours_over_bare"])
    assert float(g["cache_speedup"]) == pytest.approx(rec["embed"]["ratios"]["cache_hit_speedup"])
    assert float(g["lgm_speedup"]) == pytest.approx(rec["distill"]["ratios"]["seconds_per_step_reference_over_ours"])
    assert float(g["lgm_mem_ratio"]) == pytest.approx(rec["distill"]["ratios"]["peak_memory_reference_over_ours"])
    assert int(g["tab_goal_n"]) == rec["tabicl"]["goal"]["n_context"]
    assert g["tab_label"].strip("'") == rec["tabicl"]["tabicl_label"]
    for name in ("ch7-embed", "ch7-lgm-step", "ch7-tabicl-context", "ch7-tabicl-width"):
        assert (out / "figures" / f"{name}.png").exists() and (out / "figures" / f"{name}.pdf").exists()


@pytest.mark.notebooks
def test_chapter5_smoke(executed):
    """Every strategy at the smoke profile's ks; the recorded CIFAR-10 Pareto run glued from its JSON."""
    import json

    path, out = executed["05_context_strategies"]
    g = glued(path)
    assert g["profile"] == "'smoke'" and g["tabicl_weights"] == "'mini'" and g["ks"] == "'1, 3'"
    assert int(g["full_rows"]) == 200 and 0.5 < float(g["full_logreg"]) <= 1.0  # real peer accuracy on digits
    assert float(g["random_k1_tabicl_seconds"]) > 0 and int(g["tabicl_test_rows"]) == 50
    assert "full" in g["front_logreg"]  # the whole pool ends the front on digits
    rec = json.loads(Path("results/cifar10-pareto.json").read_text())["results"]
    assert float(g["rec_full_logreg"]) == pytest.approx(rec["full"]["all"]["logreg"]["mean"])
    assert float(g["rec_class_mean_k1_nearest_mean"]) == pytest.approx(rec["class_mean"]["1"]["nearest_mean"]["mean"])
    for name in ("ch5-accuracy-vs-rows", "ch5-accuracy-vs-seconds", "ch5-gallery", "ch5-recorded-accuracy-vs-rows"):
        assert (out / "figures" / f"{name}.png").exists() and (out / "figures" / f"{name}.pdf").exists()


@pytest.mark.notebooks
def test_chapter6_smoke(executed):
    """Many classes (shapes20), shift, attention, projection and TabICL-aware distillation run in smoke."""
    import json

    path, out = executed["06_beyond"]
    g = glued(path)
    assert g["many_dataset"] == "'shapes20'" and int(g["many_classes"]) == 20
    assert float(g["many_full_nearest_mean"]) > 0.2  # 4x chance on the generated 20 classes: real accuracy
    assert int(g["shift_severity"]) == 3
    # Gaussian noise at severity 3 costs the class means accuracy on real digits (nearest class mean)
    assert float(g["shift_class_mean_gaussian_noise"]) < float(g["shift_class_mean_clean"])
    for name in ("centroid", "distilled"):
        assert 0 < float(g[f"attn_own_{name}"]) < 1
    assert int(g["tl_steps"]) == 5 and float(g["tl_seconds_per_step"]) > 0
    rec = json.loads(Path("results/cifar10-shift.json").read_text())["results"]
    got = float(g["rec_nearest_mean_class_mean_gaussian_noise"])
    assert got == pytest.approx(rec["class_mean"]["gaussian_noise"]["3"]["nearest_mean"]["mean"])
    for name in ("ch6-many-classes", "ch6-shift-nearest_mean", "ch6-projection", "ch6-attention"):
        assert (out / "figures" / f"{name}.png").exists() and (out / "figures" / f"{name}.pdf").exists()


def test_shared_parameter_file_skips_other_chapters_names(tmp_path):
    """``make book PARAMS=...`` hands one file to every chapter: each takes its own names, typos still fail."""
    from icl_support.book.run_notebook import shared_parameters

    book_wide = {"profile": "smoke", "ks": [1, 2], "fractions": [0.5, 1.0], "results_dir": "results"}
    ch1 = shared_parameters("nbs/01_context_scaling.ipynb", book_wide)
    assert ch1 == {"profile": "smoke", "fractions": [0.5, 1.0]}
    assert shared_parameters("nbs/05_context_strategies.ipynb", book_wide) == {"profile": "smoke", "ks": [1, 2]}
    with pytest.raises(ValueError, match="unknown parameter.*fractons"):
        shared_parameters("nbs/01_context_scaling.ipynb", {"fractons": [0.5]})
    bad = tmp_path / "p.yml"
    bad.write_text("profile: smoke\nseeed: 3\n")
    assert main(["nbs/01_context_scaling.ipynb", str(tmp_path / "o.ipynb"), "-s", str(bad)]) == 2


@pytest.mark.notebooks
def test_every_glue_reference_is_glued(executed):
    """Each ``{glue:text}`key:fmt``` in a chapter's prose names a value that the chapter glued (smoke run)."""
    import re

    for stem, (path, _) in executed.items():
        keys = set(glued(path))
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for ref in re.findall(r"\{glue(?::text)?\}`([^`]+)`", cell.source):
                key = ref.split(":")[0]
                assert "::" not in ref and key in keys, f"{stem}: prose refers to {ref!r}, which is not glued"


@pytest.mark.notebooks
def test_claims_smoke(executed):
    """The claims page shows one card per claim, each with a verdict in the stated words; the cards' verdicts add up
    to the glued counts; every card whose verdict rests on numbers shows an interval or says why it has none; and
    the figures are drawn. (Reads the executed page's outputs, not the code that made them.)"""
    import re

    from icl_support.evaluation.verdicts import VERDICTS

    path, out = executed["04b_claims"]
    g = glued(path)
    cards = {}
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/markdown", "")
            match = re.match(r"\*\*Verdict: (.+?)\.\*\*", text)
            if match:
                cards[len(cards)] = (match.group(1), text)
    assert len(cards) == int(g["n_claims"]) == 8
    verdicts = [v for v, _ in cards.values()]
    assert set(verdicts) <= set(VERDICTS)
    for verdict in VERDICTS:
        assert verdicts.count(verdict) == int(g[f"n_{verdict.replace(' ', '_')}"]), verdict
    for verdict, text in cards.values():
        if verdict in ("holds here", "fails here", "undecided here", "holds in part here"):
            assert "95% interval" in text or "no interval" in text, text[:200]
        assert "```bash" in text  # the command that reruns it
    assert (out / "figures" / "claims-one-per-class.png").exists()
    assert (out / "figures" / "claims-class-count.png").exists()


@pytest.mark.notebooks
def test_use_it_smoke(executed):
    """The example compresses (5 rows per class of 10 digits); the benchmark numbers are the record's."""
    path, out = executed["08_use_it"]
    g = glued(path)
    assert int(g["ex_rows"]) == 50 and int(g["ex_pool"]) == 1257
    assert 0.1 < float(g["ex_acc"]) <= 1 and 0.1 < float(g["ex_full_acc"]) <= 1
    rec = json.loads(Path("results/bench-context-classifier.json").read_text())
    full = next(r for r in rec["rows"] if r["strategy"] == "full")
    assert float(g["bench_full_acc"]) == pytest.approx(full["accuracy"])
    best = max((r for r in rec["rows"] if r["strategy"] not in use_it.NOT_COMPRESSED), key=lambda r: r["accuracy"])
    assert float(g["bench_best_acc"]) == pytest.approx(best["accuracy"])
    assert (out / "figures" / "use-it-cifar10.png").exists() and (out / "figures" / "use-it-cifar10.pdf").exists()
    split = [r for r in rec["rows"] if r["column_context"] == "pool" and r["strategy"] == "retrieval"]
    assert float(g["bench_split_retrieval_acc"]) == pytest.approx(max(r["accuracy"] for r in split))
    assert str(g["bench_split_bar"]).strip("'").startswith("met" if rec["split_bar"]["met"] else "not met")
    assert "95% interval" in g["bench_split_gap"]  # the split mode against the whole set carries its interval


def test_glued_snapshot_differences_leave_out_timings_only():
    before = {"01": {"acc": "0.5", "fit_seconds": "1.0", "only_before": "x"}, "02": {"n": "3"}}
    after = {"01": {"acc": "0.6", "fit_seconds": "9.0"}, "02": {"n": "3"}, "03": {"k": "1"}}
    lines = differences(before, after)
    assert lines == ["01: acc: '0.5' -> '0.6'", "01: only_before: 'x' -> '(absent)'", "03: k: '(absent)' -> '1'"]
    assert differences(before, before) == []
