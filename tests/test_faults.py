"""Fault and bad-input suite: every case the package must refuse clearly or survive without loss.

Cases already tested elsewhere are not repeated; this table lists them all (``here`` = this file).

===================================  =============================================================
case                                 where
===================================  =============================================================
unknown dataset / split              test_data.py::test_bad_names
unknown backbone                     test_backbones.py::test_unknown_backbone_is_named
unknown profile                      test_config.py::test_unknown_profile_lists_valid
unknown parameter                    test_config.py::test_unknown_parameter_lists_valid,
                                     test_notebooks.py::test_runner_rejects_unknown_parameter,
                                     test_distributed.py::test_unknown_cli_parameter_is_named
unknown peer / evaluator / selector  test_peers.py::test_unknown_peer, test_context_scaling.py::
                                     test_unknown_evaluator, test_selection.py::test_bad_input
unknown DistillConfig field          here: test_unknown_distill_field
wrong types (settings)               test_config.py::test_wrong_types_are_named,
                                     test_notebooks.py::test_wrong_type_fails_the_run
wrong types (LGM config, indices)    here: test_wrong_types
wrong shapes                         test_tables.py::test_check_rows, test_distill.py::test_bad_inputs,
                                     test_selection.py / test_row_distill.py::test_bad_input;
                                     here: test_wrong_shapes
NaN/inf rows: check_rows             test_tables.py::test_check_rows (NaN); here: inf
NaN/inf rows: embeddings             test_embed.py::test_non_finite_embeddings_are_refused
NaN/inf rows: peers, contexts, LGM   here: test_non_finite_rows_are_refused
NaN/inf rows: selection, row LGM     test_selection.py / test_row_distill.py::test_bad_input
empty class                          test_distill.py::test_bad_inputs (no real images of a class);
                                     here: test_empty_class (class folder, neighbors)
fewer images than per class          test_contexts_probe.py::test_random_per_class,
                                     test_selection.py::test_bad_input, test_data.py::
                                     test_balanced_subset_edges; here: test_fewer_images_than_ipc
corrupt / truncated cache file       test_cache.py (truncated, checksum, other key);
                                     here: test_corrupt_embedding_cache_is_recomputed,
                                     test_corrupt_lgm_checkpoint_is_not_used,
                                     test_checkpoint_of_another_run_is_not_used;
                                     test_distributed.py::test_corrupt_shard_is_recomputed_not_used
interrupted embedding run            test_embed.py::test_interrupted_run_resumes;
                                     test_distributed.py::test_merge_uses_finished_shards_and_...
interrupted distillation run         test_distill.py::test_resume_equals_uninterrupted (clean stop);
                                     test_distributed.py (data-parallel resume);
                                     here: test_distillation_killed_mid_step_resumes
read-only cache directory            test_cache.py (chmod; skipped as root, path under a file);
                                     here: test_unwritable_cache_keeps_results (embed, LGM, shards)
downloads impossible offline         test_data.py::test_offline_download_names_data_root (cifar10),
                                     test_many_classes.py (cifar100), test_backbones.py::test_hub_...,
                                     test_tabicl_model.py::test_offline_released_explains_the_way_out;
                                     here: test_imagenette_offline_names_data_root
same seed, same numbers (CPU)        here: test_same_seed_same_numbers_end_to_end
no pickle anywhere                   here: test_nothing_is_loaded_with_pickle
===================================  =============================================================
"""

import ast
import json
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import icl_support.contexts.pixel_lgm as distill_module
from icl_support.contexts.pixel_lgm import DistillConfig, distill
from icl_support.contexts.selection import centroid, neighbors
from icl_support.core.cache import load_arrays
from icl_support.core.config import resolve_settings
from icl_support.core.device import check_rows
from icl_support.data.datasets import DatasetUnavailableError, load_dataset
from icl_support.embedding.backbones import create_backbone
from icl_support.embedding.embed import embed_images, embedding_key, embedding_path
from icl_support.embedding.tables import build_table
from icl_support.evaluation.peers import PEERS, make_peer
from icl_support.parallel.sharded_embedding import EmbedJob, embed_shard

ROOT = Path(__file__).resolve().parents[1]
TINY = {"syn_res": 16, "crop_res": 16, "augs_per_step": 2, "grow_every": 3, "checkpoint_every": 3, "snapshot_res": 8}


@pytest.fixture(scope="module")
def small():
    return create_backbone("efficientnet_lite0", image_size=32), load_dataset("digits", "train")


def _rows(n_per_class=4, n_classes=3, dim=5):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n_per_class * n_classes, dim)), np.repeat(np.arange(n_classes), n_per_class)


# --------------------------------------------------------------------------- names, types, shapes


def test_unknown_distill_field():
    with pytest.raises(TypeError, match="unexpected keyword argument 'learning_rate'"):
        DistillConfig(learning_rate=0.1)


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: DistillConfig(steps="5"), TypeError, r"DistillConfig.steps must be int, got str '5'"),
        (lambda: DistillConfig(lr="0.1"), TypeError, r"DistillConfig.lr must be float"),
        (lambda: DistillConfig(decorrelate=1), TypeError, r"DistillConfig.decorrelate must be bool"),
        (lambda: DistillConfig(ipc=True), TypeError, r"DistillConfig.ipc must be int, got bool"),
        (lambda: DistillConfig(ipc=0), ValueError, r"ipc, steps and augs_per_step must be >= 1"),
    ],
    ids=["steps-str", "lr-str", "decorrelate-int", "ipc-bool", "ipc-zero"],
)
def test_wrong_types(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "indices,match",
    [
        (np.array([0.0, 1.5]), "indices must be integers, got dtype float64"),
        (np.zeros((2, 2), np.int64), r"non-empty 1-D array, got shape \(2, 2\)"),
        (np.array([], np.int64), r"non-empty 1-D array, got shape \(0,\)"),
        (np.array([0, 10**6]), r"indices must be in \[0, 1198\), got min 0 and max 1000000"),
        (np.array([-1, 2]), r"got min -1"),
    ],
    ids=["float", "2-D", "empty", "too-large", "negative"],
)
def test_bad_embedding_indices(small, tmp_path, indices, match):
    bb, ds = small
    with pytest.raises(ValueError, match=match):
        embed_images(ds, indices, bb, tmp_path, progress=False)


def test_wrong_shapes(features, reals):
    Z, y = _rows()
    with pytest.raises(ValueError, match=r"centroid: embeddings: expected a 2-D array"):
        centroid(Z[:, 0], y)
    with pytest.raises(ValueError, match=r"centroid: embeddings: 12 rows but labels of shape \(11,\)"):
        centroid(Z, y[:-1])
    with pytest.raises(ValueError, match="real rows have 5 features, synthetic rows 4"):
        neighbors(Z, y, Z[:3, :4], np.arange(3))
    images, labels = reals
    with pytest.raises(ValueError, match="real_labels must be"):
        distill(images, labels[:-1], 3, features, DistillConfig(**TINY), progress=False)


# --------------------------------------------------------------------------- NaN / inf rows


def _poison(a: np.ndarray, value: float) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a[1, 2] = value
    return a


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    "entry",
    ["check_rows", "centroid", "neighbors-real", "neighbors-syn"]
    + [f"{p}-fit" for p in PEERS]
    + [f"{p}-predict" for p in PEERS],
)
def test_non_finite_rows_are_refused(entry, value):
    Z, y = _rows()
    bad = _poison(Z, value)
    calls = {
        "check_rows": lambda: check_rows(bad, y, "rows"),
        "centroid": lambda: centroid(bad, y),
        "neighbors-real": lambda: neighbors(bad, y, Z[:3], np.arange(3)),
        "neighbors-syn": lambda: neighbors(Z, y, bad[:3], np.arange(3)),
    }
    for p in PEERS:
        calls[f"{p}-fit"] = lambda p=p: make_peer(p).fit(bad, y)
        calls[f"{p}-predict"] = lambda p=p: make_peer(p).fit(Z, y).predict(bad)
    match = "NaN/inf" if entry in ("check_rows", "centroid") or entry.startswith("neighbors") else "NaN|infinity"
    with pytest.raises(ValueError, match=match):
        calls[entry]()


def test_non_finite_real_images_are_refused(features, reals):
    images, labels = reals
    bad = images.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="real_images hold 1 NaN/inf values"):
        distill(bad, labels, 3, features, DistillConfig(**TINY), progress=False)


# --------------------------------------------------------------------------- empty / small classes


def test_empty_class(tmp_path):
    for c in ("cat", "dog"):
        (tmp_path / "train" / c).mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "train" / "cat" / "a.png")
    with pytest.raises(FileNotFoundError, match="no valid file for the classes dog"):
        load_dataset("folder", "train", data_root=str(tmp_path))
    Z, y = _rows()
    with pytest.raises(ValueError, match="no real rows of class 7"):
        neighbors(Z, y, Z[:1], np.array([7]))


def test_fewer_images_than_ipc():
    from icl_support.contexts.selection import random_per_class

    y = np.array([0, 0, 0, 1, 2, 2, 2])
    with pytest.raises(ValueError, match="class 1 has 1 rows, fewer than k=2"):
        random_per_class(y, 2, seed=0)


# --------------------------------------------------------------------------- corrupt caches


def test_corrupt_embedding_cache_is_recomputed(small, tmp_path):
    bb, ds = small
    idx = np.arange(6)
    first = embed_images(ds, idx, bb, tmp_path, batch_size=3, progress=False)
    path = embedding_path(tmp_path, ds, bb, embedding_key(ds, idx, bb))
    path.write_bytes(path.read_bytes()[:-50])  # truncated
    with pytest.warns(UserWarning, match="unreadable.*will recompute"):
        again = embed_images(ds, idx, bb, tmp_path, batch_size=3, progress=False)
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(load_arrays(path, embedding_key(ds, idx, bb))["features"], first)


def test_corrupt_lgm_checkpoint_is_not_used(features, reals, tmp_path):
    cfg = DistillConfig(steps=5, **TINY, seed=1)
    fresh = distill(*reals, 3, features, cfg, progress=False)
    distill(*reals, 3, features, cfg, work_dir=tmp_path, progress=False, stop_after=4)
    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.warns(UserWarning, match="checkpoint.*is unreadable.*starting afresh"):
        again = distill(*reals, 3, features, cfg, work_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(again.images, fresh.images)
    np.testing.assert_array_equal(again.losses, fresh.losses)


def test_checkpoint_of_another_run_is_not_used(features, reals, tmp_path):
    distill(
        *reals, 3, features, DistillConfig(steps=5, **TINY, seed=1), work_dir=tmp_path, progress=False, stop_after=3
    )
    other = DistillConfig(steps=5, **TINY, seed=2)
    with pytest.warns(UserWarning, match="belongs to another run"):
        got = distill(*reals, 3, features, other, work_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(got.losses, distill(*reals, 3, features, other, progress=False).losses)


# --------------------------------------------------------------------------- interruption


def test_distillation_killed_mid_step_resumes(features, reals, tmp_path, monkeypatch):
    """An exception inside step 5 (after the step-3 checkpoint): the rerun redoes steps 4-5 and
    ends exactly where an uninterrupted run ends."""
    cfg = DistillConfig(steps=7, **TINY, seed=4)
    whole = distill(*reals, 3, features, cfg, progress=False)
    real_loss, calls = distill_module.matching_loss, {"n": 0}

    def dies_at_step_5(g_real, g_syn):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real_loss(g_real, g_syn)

    monkeypatch.setattr(distill_module, "matching_loss", dies_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        distill(*reals, 3, features, cfg, work_dir=tmp_path, progress=False)
    monkeypatch.setattr(distill_module, "matching_loss", real_loss)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 3
    resumed = distill(*reals, 3, features, cfg, work_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(resumed.images, whole.images)
    np.testing.assert_array_equal(resumed.losses, whole.losses)


# --------------------------------------------------------------------------- unwritable cache


def test_unwritable_cache_keeps_results(small, features, reals, tmp_path):
    """Root ignores chmod, so the cache path lies under a regular file: writes fail with an OSError
    for any user. Nothing computed is lost; a sharded run reports that its shard was not written."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file")
    bb, ds = small
    with pytest.warns(UserWarning, match="could not write cache file"):
        got = embed_images(ds, np.arange(4), bb, blocker / "cache", batch_size=2, progress=False)
    np.testing.assert_array_equal(
        got, embed_images(ds, np.arange(4), bb, tmp_path / "ok", batch_size=2, progress=False)
    )
    cfg = DistillConfig(steps=4, **TINY, seed=1)
    with pytest.warns(UserWarning, match="could not write LGM checkpoint"):
        lgm = distill(*reals, 3, features, cfg, work_dir=blocker / "work", progress=False)
    np.testing.assert_array_equal(lgm.images, distill(*reals, 3, features, cfg, progress=False).images)
    job = EmbedJob(ds, np.arange(4), bb, blocker / "cache", batch_size=2, progress=False)
    with pytest.warns(UserWarning, match="could not write cache file"):
        assert embed_shard(job, rank=0, world_size=2) is False


# --------------------------------------------------------------------------- offline


def test_imagenette_offline_names_data_root(monkeypatch, tmp_path):
    import torchvision.datasets

    def no_network(*a, **k):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "Imagenette", no_network)
    with pytest.raises(DatasetUnavailableError, match="imagenette: download failed.*Offline\\? Point data_root"):
        load_dataset("imagenette", "train", cache_dir=tmp_path)


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_numbers_end_to_end(tmp_path, random_weights, features, reals):
    """Two runs from empty caches on CPU: embeddings, PCA table, peers, TabICL and LGM agree exactly."""
    from icl_support.model.weights import make_tabicl

    def run(cache: Path) -> dict:
        s = resolve_settings("smoke", n_train=30, n_test=20, image_size=32, pca_dim=4, cache_dir=str(cache))
        t = build_table(s, progress=False)
        out = {"X_train": t.X_train, "X_test": t.X_test}
        for p in PEERS:
            out[p] = make_peer(p, seed=s.seed).fit(t.X_train, t.y_train).predict_proba(t.X_test)
        out["tabicl"] = make_tabicl(random_weights, seed=s.seed).fit(t.X_train, t.y_train).predict_proba(t.X_test)
        out["lgm"] = distill(*reals, 3, features, DistillConfig(steps=3, **TINY, seed=s.seed), progress=False).images
        return out

    a, b = run(tmp_path / "a"), run(tmp_path / "b")
    assert list((tmp_path / "a" / "embeddings").glob("*.npz")) and a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert a["X_train"].shape == (30, 4) and np.ptp(a["tabicl"]) > 0


# --------------------------------------------------------------------------- no pickle


def pickle_uses(source: str, where: str) -> list[str]:
    """Every way ``source`` could unpickle: the pickle/dill/joblib modules, ``torch.load`` without
    ``weights_only=True``, ``np.load(..., allow_pickle=True)``, ``read_pickle``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{where}:{node.lineno} imports {n}" for n in names if n and n.split(".")[0] in BANNED]
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = ast.unparse(node.func.value)
        kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
        call = f"{owner}.{node.func.attr}"
        if call == "torch.load" and kw.get("weights_only") != "True":
            found.append(f"{where}:{node.lineno} torch.load without weights_only=True")
        if node.func.attr == "load" and owner in ("np", "numpy") and kw.get("allow_pickle", "False") != "False":
            found.append(f"{where}:{node.lineno} np.load with allow_pickle={kw['allow_pickle']}")
        if node.func.attr in ("read_pickle", "loads") and owner.split(".")[0] in BANNED | {"pd", "pandas"}:
            found.append(f"{where}:{node.lineno} {call}")
    return found


BANNED = {"pickle", "cPickle", "dill", "joblib", "cloudpickle"}


def test_pickle_scanner_catches_each_pattern():
    bad = (
        "import pickle\nfrom joblib import load\nimport torch, numpy as np, pandas as pd\n"
        "torch.load('a')\ntorch.load('a', weights_only=False)\nnp.load('a', allow_pickle=True)\npd.read_pickle('a')\n"
    )
    assert len(pickle_uses(bad, "x")) == 6
    assert pickle_uses("torch.load(p, map_location='cpu', weights_only=True)\nnp.load(p)\n", "x") == []


def test_nothing_is_loaded_with_pickle():
    """Package, scripts, benchmarks and every notebook code cell."""
    found, scanned = [], 0
    for path in sorted([*ROOT.glob("icl_support/*.py"), *ROOT.glob("scripts/*.py"), *ROOT.glob("benchmarks/*.py")]):
        found += pickle_uses(path.read_text(), str(path.relative_to(ROOT)))
        scanned += 1
    for nb in sorted(ROOT.glob("nbs/*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            if cell["cell_type"] == "code":
                code = "".join(cell["source"])
                code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
                found += pickle_uses(code, f"{nb.name}[cell {i}]")
        scanned += 1
    assert scanned > 10 and found == []
