import urllib.error

import numpy as np
import pytest
from PIL import Image

from icl_support.data import datasets as data
from icl_support.data.datasets import DatasetUnavailableError, balanced_subset, class_fraction_subset, load_dataset


def test_digits_split_is_fixed_and_disjoint():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert len(train) + len(test) == 1797 and len(test) == 599
    assert train.classes == tuple("0123456789")
    image, label = train[0]
    assert image.mode == "RGB" and image.size == (8, 8) and label == train.targets[0]
    assert load_dataset("digits", "train").source_id == train.source_id != test.source_id


@pytest.mark.parametrize("n,seed", [(50, 0), (55, 1), (10, 2)])
def test_balanced_subset_is_balanced_and_deterministic(n, seed):
    y = np.repeat(np.arange(10), 20)
    idx = balanced_subset(y, n, seed)
    counts = np.bincount(y[idx], minlength=10)
    assert len(idx) == n == len(set(idx)) and counts.max() - counts.min() <= 1
    assert np.array_equal(idx, balanced_subset(y, n, seed))
    assert not np.array_equal(idx, balanced_subset(y, n, seed + 10))


def test_balanced_subset_respects_small_classes():
    y = np.array([0] * 3 + [1] * 50)
    idx = balanced_subset(y, 20, 0)
    assert len(idx) == 20 and (y[idx] == 0).sum() == 3


def test_balanced_subset_edges():
    y = np.repeat(np.arange(3), 4)
    assert np.array_equal(balanced_subset(y, 0, 0), np.arange(12))
    with pytest.raises(ValueError, match="3 classes"):
        balanced_subset(y, 2, 0)
    assert len(class_fraction_subset(y, 0.01, 0)) == 3  # at least one per class
    with pytest.raises(ValueError, match="fraction"):
        class_fraction_subset(y, 0.0, 0)


def _write_tree(root, classes=("cat", "dog"), per_class=3):
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                Image.new("RGB", (12, 10), color=(i * 40, 10, 200)).save(root / split / c / f"{i}.png")


def test_folder_dataset(tmp_path):
    _write_tree(tmp_path)
    ds = load_dataset("folder", "test", data_root=str(tmp_path))
    assert ds.classes == ("cat", "dog") and list(ds.targets) == [0, 0, 0, 1, 1, 1]
    assert ds[4][0].size == (12, 10)


def test_cifar10_from_local_folder_and_missing_split(tmp_path):
    _write_tree(tmp_path)
    assert len(load_dataset("cifar10", "train", data_root=str(tmp_path))) == 6
    (tmp_path / "test").rename(tmp_path / "elsewhere")
    with pytest.raises(DatasetUnavailableError, match="test/.*val/"):
        load_dataset("cifar10", "test", data_root=str(tmp_path))


def test_bad_names():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'.*cifar10, imagenette, digits, folder"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="unknown split"):
        load_dataset("digits", "validation")
    with pytest.raises(ValueError, match="needs data_root"):
        load_dataset("folder")


def test_offline_download_names_data_root(monkeypatch, tmp_path):
    import torchvision.datasets

    def no_network(*a, **k):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", no_network)
    with pytest.raises(DatasetUnavailableError, match="download failed.*data_root"):
        data.load_dataset("cifar10", "train", cache_dir=tmp_path)


def test_class_subset_root_links_only_the_chosen_classes(tmp_path):
    _write_tree(tmp_path / "all", classes=("cat", "dog", "eel"))
    root = data.class_subset_root(tmp_path / "all", ["dog", "eel"], tmp_path / "sub")
    assert data.class_subset_root(tmp_path / "all", ["dog", "eel"], tmp_path / "sub") == root  # idempotent
    ds = load_dataset("cifar10", "test", data_root=str(root))
    assert ds.classes == ("dog", "eel") and list(ds.targets) == [0, 0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match=r"\['owl'\] are not in .*cat, dog, eel"):
        data.class_subset_root(tmp_path / "all", ["owl"], tmp_path / "bad")
