"""results/README.md is generated from the records: regenerating it must change nothing."""

import json

from icl_support.book.results_readme import main, render


def test_results_readme_is_generated_from_the_records():
    assert main(["--check"]) == 0, "results/README.md is stale: run python -m icl_support.book.results_readme"


def test_render_lists_every_record_and_marks_random_weights(tmp_path):
    prov = {"tabicl_weights": "random", "wall_s": 12.4, "date_utc": "2026-01-02T00:00:00Z", "git_commit": "abc1234def"}
    (tmp_path / "a.json").write_text(json.dumps({"provenance": prov}))
    (tmp_path / "a.yaml").write_text("# what a wrote\nprofile: demo\n")
    (tmp_path / "b.json").write_text(json.dumps({"provenance": {"command": "python -m benchmarks.x", "quick": True}}))
    text = render(tmp_path)
    assert "| `a.json` | what a wrote | **RANDOM WEIGHTS** | 2026-01-02, `abc1234` | 12 |" in text
    assert "`b.json` | `python -m benchmarks.x` (`--quick`: measures nothing)" in text
    assert main(["--results", str(tmp_path), "--check"]) == 1  # no README there yet
    (tmp_path / "c.json").write_text(json.dumps({"device": "cpu", "stand_ins": {}, "chapters": {}}))  # a rehearsal
    assert "| `c.json` | `make rehearse`: every chapter in the paper profile, sizes shrunk, offline stand-ins | " \
        "**RANDOM WEIGHTS** | not recorded |  |" in render(tmp_path)  # fmt: skip
    prov = {"command": "python -m icl_support.book.rehearsal", "wall_time_s": 99.6, "date_utc": "2026-02-03"}
    (tmp_path / "c.json").write_text(json.dumps({"stand_ins": {}, "chapters": {}, "provenance": prov}))
    assert "| `c.json` | `make rehearse`: every chapter" in render(tmp_path)  # described as what it is, with a command
    assert "**RANDOM WEIGHTS** | 2026-02-03, `?` | 100 |" in render(tmp_path)
    assert main(["--results", str(tmp_path)]) == 0 and main(["--results", str(tmp_path), "--check"]) == 0


def test_readme_findings_block_is_generated_from_the_records():
    from icl_support.book.readme_findings import main as findings_main

    assert findings_main(["--check"]) == 0, (
        "README.md's findings block is stale: python -m icl_support.book.readme_findings"
    )


def test_findings_block_markers_are_required(tmp_path):
    import pytest

    from icl_support.book.readme_findings import END, START, with_block

    assert with_block(f"a\n{START}\nold\n{END}\nb", "new\n") == f"a\n{START}\nnew\n{END}\nb"
    with pytest.raises(ValueError, match="markers"):
        with_block("no markers", "new\n")


def test_rerun_cost_table_is_generated_from_the_records():
    from icl_support.book.cost_table import main as cost_main

    assert cost_main(["--check"]) == 0, "book/rerun.md's cost table is stale: python -m icl_support.book.cost_table"


def test_cost_table_marks_estimates_and_lists_the_rehearsal():
    from icl_support.book.cost_table import render

    costs = {"settings": {"image_side": 224, "gpu_tflops": 25.0}, "per_image_gflop": 46.0, "cpu_tflops": 0.1,
             "table": {"embed": {"tflop": 100.0, "gpu_s_estimate": 4.0, "cpu_s_estimate": 1000.0}},
             "dinov2_parameters": 86_000_000, "tabicl_parameters": 27_000_000, "embedding_cache_mb": 200.0}  # fmt: skip
    rehearsal = {"device": "cpu", "chapters": {"01_context_scaling": {"ok": True, "seconds": 12.0},
                                               "03_distillation": {"ok": False, "seconds": 3.0}}}  # fmt: skip
    text = render(costs, rehearsal)
    assert "ASSUMED" in text and "not measured" in text and "| embed | 100.0 | 4 s | 17 min |" in text
    assert "| 03_distillation | FAILED | 3 |  |" in text and "| 01_context_scaling | yes | 12 |  |" in text
    slow = {"cell": "many = ch6.many_class_settings(...)", "seconds": 3786.5}
    text = render(
        costs, {"device": "cpu", "chapters": {"06_beyond": {"ok": True, "seconds": 4374.0, "slowest_cell": slow}}}
    )
    assert "| 06_beyond | yes | 4374 | `many = ch6.many_class_settings(...)` (3786 s) |" in text
    assert "328 MB" in text  # 86M float32 parameters


def test_cost_table_states_the_resume_check_as_measured():
    from icl_support.book.cost_table import render

    resume = {"chapter": "03_distillation", "lgm_steps": 12, "killed_at_step": 4, "steps_seen_after_restart": [4, 5, 6],
              "embeddings_reused": True, "losses": [12], "ok": True}  # fmt: skip
    text = render(None, {"device": "cpu", "chapters": {}, "resume": resume})
    assert "checkpoint held step 4" in text and "checkpoints it wrote were steps 5 to 6, none below step 4" in text
    assert "continued, not restarted" in text and "Check: ok" in text
    restarted = render(
        None, {"device": "cpu", "chapters": {}, "resume": {**resume, "steps_seen_after_restart": [1, 2, 3, 4, 5]}}
    )
    assert "NOT continued" in restarted


def test_no_record_holds_a_path_of_the_machine_that_made_it():
    """Every string of every record is free of absolute paths (write_json makes them repository-relative or
    ``<local>/<name>``); a record written with one is caught here."""
    from pathlib import Path

    from icl_support.core.jsonio import ABSOLUTE_PATH

    def strings(value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)
        elif isinstance(value, str):
            yield value

    found = {
        path.name: text
        for path in sorted(Path("results").glob("*.json"))
        for text in strings(json.loads(path.read_text()))
        if ABSOLUTE_PATH.search(text)
    }
    assert found == {}, f"records with a machine's absolute path: {found}"


def test_write_json_makes_paths_portable(tmp_path):
    from icl_support.core.jsonio import REPO_ROOT, portable_path_text, write_json

    command = f"python {REPO_ROOT}/benchmarks/x.py --data-root /work/cache/data --out {tmp_path}/x.json"
    assert portable_path_text(command) == "python benchmarks/x.py --data-root <local>/data --out <local>/x.json"
    kept = "see https://example.org/a/b, runs/tabicl-mini/x.ckpt, 1/2, 90%/95%/99%, (a)/b/c and accuracy / seconds"
    assert portable_path_text(kept) == kept
    keys = {"/a/x/model.pt": 1, "/b/y/model.pt": 2}  # keys are left alone: two files must not collide into one
    assert json.loads(write_json(tmp_path / "k.json", keys).read_text()) == keys
    path = write_json(tmp_path / "r.json", {"provenance": {"command": command, "figures": [f"{tmp_path}/f.png"]}})
    assert json.loads(path.read_text())["provenance"]["figures"] == ["<local>/f.png"]


def test_chapter_and_benchmark_records_describe_the_machine_alike():
    import dataclasses
    import time

    from benchmarks._common import provenance as bench_provenance
    from icl_support.core.config import resolve_settings
    from icl_support.evaluation.provenance import provenance
    from icl_support.model.weights import resolve_weights

    @dataclasses.dataclass(frozen=True)
    class Cfg:
        n: int = 1

    chapter = provenance(resolve_settings("smoke", ""), resolve_weights("mini", "."))
    bench = bench_provenance(Cfg(), time.perf_counter())
    shared = {"git_commit", "torch", "timm", "numpy", "sklearn", "python", "machine", "date_utc"}
    assert shared <= set(chapter) and shared <= set(bench)
    assert set(chapter["machine"]) == set(bench["machine"]) and chapter["machine"]["cpu_count"] >= 1


def test_page_records_are_every_record_the_pages_name():
    """records.PAGE_RECORDS lists every results/*.json a notebook or a chapter module names; the stale ones (made
    with another TabICL-mini than the shipped one, chapter 0's comparisons aside) are found and listed in the README."""
    import re
    from pathlib import Path

    from icl_support.evaluation.records import PAGE_RECORDS, stale_page_records

    sources = [*Path("nbs").glob("*.ipynb"), *Path("icl_support/chapters").glob("*.py")]
    named = {m for p in sources for m in re.findall(r"((?:cifar10|bench|rehearsal)[\w.-]*\.json)", p.read_text())}
    named = {n for n in named if (Path("results") / n).is_file()}
    assert named <= set(PAGE_RECORDS), sorted(named - set(PAGE_RECORDS))
    stale = stale_page_records("results")
    assert all(w != "mini" and w not in ("random", "none") for w in stale.values())
    readme = Path("results/README.md").read_text()
    assert all(f"- `{name}`: {w}" in readme for name, w in stale.items())


def test_every_page_record_comes_from_the_shipped_mini():
    """Every record a page reads (chapter 0's comparisons aside) is made with the shipped TabICL-mini checkpoint: a
    checkpoint that ships as `mini` means re-making them (`python -m icl_support.evaluation.rerecord --run`)."""
    from icl_support.evaluation.records import stale_page_records

    stale = stale_page_records("results")
    assert stale == {}, f"records made with other TabICL-mini weights (re-make them): {stale}"
