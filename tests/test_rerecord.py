"""The re-record of every page record with the shipped TabICL-mini: which records are stale, their commands, and a
run that resumes (records made fresh are not made again; a failing command does not stop the others)."""

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from icl_support.evaluation import rerecord
from icl_support.evaluation.records import (
    COMPARISON_RECORDS,
    PAGE_RECORDS,
    read_record,
    record_weights,
    stale_page_records,
)

SHIPPED = "a" * 64


def _record(path: Path, variant: str, sha: str | None, wall_s: float) -> None:
    prov = {"tabicl_weights": "mini", "tabicl_variant": variant, "wall_time_s": wall_s}
    if sha is not None:
        prov["tabicl_checkpoint_sha256"] = sha
    path.write_text(json.dumps({"results": {}, "provenance": prov}))


def test_every_page_record_made_with_tabicl_mini_has_a_command_whose_files_exist():
    mini_records = {
        name
        for name in PAGE_RECORDS
        if name not in COMPARISON_RECORDS
        and (rec := read_record("results", name)) is not None
        and record_weights(rec).startswith("mini")
    }
    assert mini_records <= set(rerecord.RECORD_COMMANDS), sorted(mini_records - set(rerecord.RECORD_COMMANDS))
    assert set(stale_page_records("results")) <= set(rerecord.RECORD_COMMANDS)
    for name, cmd in rerecord.RECORD_COMMANDS.items():
        argv = cmd.command("python", "D", "C", "W")
        assert name in PAGE_RECORDS and name not in COMPARISON_RECORDS
        files = [a for a in argv[1:] if a.endswith((".py", ".yaml", ".ipynb")) and not a.startswith("W/")]
        if argv[1] == "-m":
            files.append(argv[2].replace(".", "/") + ".py")
        assert files and all(Path(f).is_file() for f in files), (name, files)
        if "--out" in argv:
            assert argv[argv.index("--out") + 1] == f"results/{name}"


def test_stale_means_another_variant_an_earlier_checkpoint_or_no_digest(tmp_path):
    _record(tmp_path / "cifar10-pareto.json", "mini", SHIPPED, 10.0)
    _record(tmp_path / "cifar10-shift.json", "mini", "b" * 64, 30.0)
    _record(tmp_path / "cifar10-proxy.json", "mini-v1", None, 20.0)
    _record(tmp_path / "cifar10-retrieval.json", "mini", None, float("nan"))
    _record(tmp_path / "cifar10-k1-mini-w64-fs2.json", "mini-v1", None, 1.0)  # a comparison record: never stale
    stale = stale_page_records(tmp_path, SHIPPED)
    assert stale == {
        "cifar10-shift.json": "mini, an earlier checkpoint (sha256 bbbbbbbbbbbb)",
        "cifar10-proxy.json": "mini-v1",
        "cifar10-retrieval.json": "mini, checkpoint digest not recorded",
    }
    assert [name for name, *_ in rerecord.plan(tmp_path, SHIPPED)] == [
        "cifar10-proxy.json", "cifar10-shift.json", "cifar10-retrieval.json"
    ]  # fmt: skip


def test_a_stale_record_without_a_command_is_named(tmp_path, monkeypatch):
    _record(tmp_path / "cifar10-proxy.json", "mini-v1", None, 20.0)
    monkeypatch.delitem(rerecord.RECORD_COMMANDS, "cifar10-proxy.json")
    with pytest.raises(KeyError, match="cifar10-proxy.json"):
        rerecord.plan(tmp_path, SHIPPED)


def test_a_run_makes_the_stale_records_fresh_reports_failures_and_resumes(tmp_path):
    """A stand-in interpreter writes the record named after ``--out`` with the shipped digest, except for the
    proxy, whose command fails: the others end fresh, the proxy stays stale, and a second run tries only it."""
    results = tmp_path / "results"
    results.mkdir()
    _record(results / "cifar10-proxy.json", "mini-v1", None, 20.0)
    _record(results / "cifar10-shift.json", "mini", "b" * 64, 30.0)
    _record(results / "cifar10-pareto.json", "mini-v1", None, 40.0)
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "fake-python"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "out = sys.argv[sys.argv.index('--out') + 1]\n"
        "if 'proxy' in out: sys.exit(3)\n"
        f"prov = {{'tabicl_weights': 'mini', 'tabicl_variant': 'mini', 'tabicl_checkpoint_sha256': {SHIPPED!r}}}\n"
        f"open({str(tmp_path)!r} + '/' + out, 'w').write(json.dumps({{'provenance': prov}}))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the commands name results/<record>, relative to the repository root
    try:
        first = rerecord.run("results", python=str(fake), shipped_sha256=SHIPPED, work_dir=str(tmp_path / "w"))
        second = rerecord.run("results", python=str(fake), shipped_sha256=SHIPPED, work_dir=str(tmp_path / "w"))
    finally:
        os.chdir(cwd)
    assert first == {"cifar10-proxy.json": "failed (exit 3)", "cifar10-shift.json": "fresh",
                     "cifar10-pareto.json": "fresh"}  # fmt: skip
    assert second == {"cifar10-proxy.json": "failed (exit 3)"}
    lines = calls.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["scripts/cifar10_proxy.py", "scripts/cifar10_shift.py",
                                                   "scripts/cifar10_pareto.py", "scripts/cifar10_proxy.py"]  # fmt: skip


def test_the_command_line_refuses_what_is_not_a_page_record(capsys):
    with pytest.raises(SystemExit):
        rerecord.main(["--run", "--only", "bench-fewshot-mini-w64.json"])
    assert "not a page record to re-record" in capsys.readouterr().err


def test_retiring_a_shipped_checkpoint_renames_its_records_and_nothing_else(tmp_path):
    """Shipping a new mini: the records made with the old one (by digest) name the variant it stays loadable as,
    their numbers untouched; a record of another checkpoint is left alone; the renamed ones are then stale."""
    _record(tmp_path / "cifar10-shift.json", "mini", "b" * 64, 30.0)
    _record(tmp_path / "cifar10-pareto.json", "mini-v1", "c" * 64, 10.0)
    bench = {"weights": {"kind": "mini", "variant": "mini", "label": "old", "checkpoint_sha256": "b" * 64},
             "rows": [{"accuracy": 0.5}]}  # fmt: skip
    (tmp_path / "bench-context-classifier.json").write_text(json.dumps(bench))
    by_path = {"weights": {"kind": "local", "variant": "", "label": "local", "checkpoint_sha256": "b" * 64}}
    (tmp_path / "bench-fewshot-mini-w64-fs2.json").write_text(json.dumps(by_path))  # the same file, loaded by path
    before = (tmp_path / "cifar10-pareto.json").read_text()
    renamed = rerecord.retire_variant(
        tmp_path, "b" * 64, "mini-w64-fs2", "TabICL-mini-w64-fs2 (...)", "shipped as mini"
    )
    assert renamed == ["bench-context-classifier.json", "cifar10-shift.json"]
    shift = json.loads((tmp_path / "cifar10-shift.json").read_text())["provenance"]
    assert shift["tabicl_variant"] == "mini-w64-fs2" and shift["renamed"] == "shipped as mini"
    cc = json.loads((tmp_path / "bench-context-classifier.json").read_text())
    assert cc["weights"]["variant"] == "mini-w64-fs2" and cc["rows"] == [{"accuracy": 0.5}]
    assert (tmp_path / "cifar10-pareto.json").read_text() == before
    assert json.loads((tmp_path / "bench-fewshot-mini-w64-fs2.json").read_text()) == by_path
    stale = stale_page_records(tmp_path, SHIPPED)
    assert stale["cifar10-shift.json"] == "mini-w64-fs2" and stale["bench-context-classifier.json"] == "mini-w64-fs2"
