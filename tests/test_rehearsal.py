"""The rehearsal's stand-ins: torchvision's own loaders read them (CIFAR-10's pickled batches, Imagenette's folder
layout), the checksum switch is needed for a stand-in and documented, and the hub layout is the hub's."""

import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from icl_support.book.rehearsal import REVISION, _snapshot, build_cifar10, build_imagenette, chapter_parameters
from icl_support.data.datasets import SKIP_CHECKSUM_ENV, DatasetUnavailableError, load_dataset

CLASSES = [f"class{c}" for c in range(10)]


@pytest.fixture()
def jpg_tar(tmp_path):
    """A tiny archive laid out like ../shared/data/cifar10-jpg.tar.gz: {train,test}/<class>/NNNN.jpg, 32 px."""
    path = tmp_path / "cifar.tar.gz"
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            for c in CLASSES:
                for i in range(3):
                    buf = io.BytesIO()
                    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, format="JPEG")
                    info = tarfile.TarInfo(f"{split}/{c}/{i:04d}.jpg")
                    info.size = len(buf.getvalue())
                    tar.addfile(info, io.BytesIO(buf.getvalue()))
    return path


def test_cifar_stand_in_is_read_by_torchvision_with_the_switch_only(jpg_tar, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    build_cifar10(jpg_tar, cache / "data", per_class=2)
    monkeypatch.delenv(SKIP_CHECKSUM_ENV, raising=False)
    with pytest.raises(DatasetUnavailableError, match="Offline"):  # its MD5s are not the official ones
        load_dataset("cifar10", "train", cache_dir=cache)
    monkeypatch.setenv(SKIP_CHECKSUM_ENV, "1")
    ds = load_dataset("cifar10", "train", cache_dir=cache)
    assert len(ds) == 20 and list(ds.classes) == CLASSES and ds.targets.tolist().count(0) == 2
    with tarfile.open(jpg_tar) as tar:  # the pixels are the JPEG's, in torchvision's layout
        first = np.asarray(Image.open(tar.extractfile("train/class0/0000.jpg")).convert("RGB"))
    pixels = [np.asarray(ds[i][0]) for i in range(len(ds)) if ds.targets[i] == 0]
    assert any(np.array_equal(p, first) for p in pixels)
    assert len(load_dataset("cifar10", "test", cache_dir=cache)) == 20


def test_imagenette_stand_in_uses_the_archive_layout(jpg_tar, tmp_path):
    cache = tmp_path / "cache"
    root = build_imagenette(jpg_tar, cache / "data", per_class=2, side=64)
    assert root.name == "imagenette2-320" and (root / "val").is_dir()
    ds = load_dataset("imagenette", "train", cache_dir=cache)
    assert len(ds) == 20 and ds.classes[0] == "tench" and ds[0][0].size == (64, 64)


def test_hub_layout_and_chapter_parameters(tmp_path):
    snap = _snapshot(tmp_path, "org/name")
    assert snap == tmp_path / "models--org--name" / "snapshots" / REVISION
    assert (tmp_path / "models--org--name" / "refs" / "main").read_text() == REVISION
    params = chapter_parameters(tmp_path, "01_context_scaling", "cpu")
    assert params["profile"] == "paper" and params["device"] == "cpu" and params["n_train"] == 50
    assert "distill_steps" not in params  # only what the chapter declares


def test_cifar100_stand_in_is_read_by_torchvision(jpg_tar, tmp_path, monkeypatch):
    from icl_support.book.rehearsal import build_cifar100

    cache = tmp_path / "cache"
    build_cifar100(jpg_tar, cache / "data", per_class=1)
    monkeypatch.setenv(SKIP_CHECKSUM_ENV, "1")
    ds = load_dataset("cifar100", "train", cache_dir=cache)
    assert len(ds) == 100 and len(ds.classes) == 100 and ds.classes[7] == "class07"


def test_checkpoint_steps_reads_unfinished_lgm_runs_and_skips_unreadable(tmp_path):
    import torch

    from icl_support.book.rehearsal import _checkpoint_steps

    (tmp_path / "lgm" / "a.work").mkdir(parents=True)
    (tmp_path / "lgm" / "b.work").mkdir()
    torch.save({"step": 7}, tmp_path / "lgm" / "a.work" / "checkpoint.pt")
    (tmp_path / "lgm" / "b.work" / "checkpoint.pt").write_bytes(b"truncated")
    assert _checkpoint_steps(tmp_path) == {str(tmp_path / "lgm" / "a.work" / "checkpoint.pt"): 7}
