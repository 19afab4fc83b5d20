"""More than 10 classes: CIFAR-100 in the registry, and a 20-class image set end to end (offline)."""

import urllib.error

import numpy as np
import pytest
from sklearn.decomposition import PCA

from icl_support.contexts.selection import centroid, neighbors, random_per_class
from icl_support.data import datasets as data
from icl_support.data.datasets import DatasetUnavailableError, load_dataset
from icl_support.data.shapes import CLASSES, write_shapes_folder
from icl_support.embedding.backbones import create_backbone
from icl_support.embedding.embed import embed_images
from icl_support.evaluation.peers import PEERS, make_peer
from icl_support.model.weights import make_tabicl


@pytest.fixture(scope="module")
def twenty(tmp_path_factory):
    """Embeddings of the 20-class set by EfficientNet-Lite0 at 64 px: (X (120, F), y, Xt (80, F), yt)."""
    root = tmp_path_factory.mktemp("twenty")
    write_shapes_folder(root, n_train=6, n_test=4)
    train, test = load_dataset("folder", "train", str(root)), load_dataset("folder", "test", str(root))
    assert train.classes == test.classes == tuple(sorted(CLASSES)) and len(CLASSES) == 20
    bb = create_backbone("efficientnet_lite0", image_size=64)
    cache = root / "cache"
    X = embed_images(train, np.arange(len(train)), bb, cache, progress=False)
    Xt = embed_images(test, np.arange(len(test)), bb, cache, progress=False)
    return X, train.targets, Xt, test.targets


def test_cifar100_offline_failure_names_data_root(monkeypatch, tmp_path):
    import torchvision.datasets

    def no_network(*a, **k):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "CIFAR100", no_network)
    with pytest.raises(DatasetUnavailableError, match="cifar100: download failed.*data_root"):
        data.load_dataset("cifar100", "test", cache_dir=tmp_path)


def test_cifar100_from_local_folder(tmp_path):
    write_shapes_folder(tmp_path, n_train=1, n_test=1)
    ds = load_dataset("cifar100", "test", data_root=str(tmp_path))
    assert ds.name == "cifar100" and len(ds.classes) == 20 and len(ds) == 20
    (tmp_path / "test").rename(tmp_path / "elsewhere")
    with pytest.raises(DatasetUnavailableError, match="cifar100: data_root"):
        load_dataset("cifar100", "test", data_root=str(tmp_path))


def test_tabicl_predicts_twenty_classes(twenty, random_weights):
    """Plumbing only (RANDOM WEIGHTS: timing only): TabICL's many-class scheme returns 20 columns."""
    X, y, Xt, _ = twenty
    pca = PCA(16, random_state=0).fit(X)
    clf = make_tabicl(random_weights, n_estimators=1, device="cpu", seed=0).fit(pca.transform(X), y)
    proba = clf.predict_proba(pca.transform(Xt))
    assert proba.shape == (len(Xt), 20)
    assert np.all(proba >= 0) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert set(clf.predict(pca.transform(Xt))) <= set(range(20))


@pytest.mark.filterwarnings("ignore:self.within_class_std_dev_:UserWarning")  # dead ReLU features, harmless
@pytest.mark.parametrize("name", PEERS)
def test_peers_beat_chance_on_twenty_classes(twenty, name):
    X, y, Xt, yt = twenty
    chance = 1 / 20
    acc = make_peer(name, seed=0).fit(X, y).score(Xt, yt)
    assert acc > 8 * chance, f"{name}: accuracy {acc:.2f} on an easy 20-class set (chance {chance:.2f})"


def test_context_builders_give_one_row_per_class(twenty):
    X, y, _, _ = twenty
    classes = np.arange(20)
    for idx in (random_per_class(y, 1, seed=0), centroid(X, y)):
        assert len(idx) == 20 and np.array_equal(np.sort(y[idx]), classes)
    means = np.stack([X[y == c].mean(0) for c in classes])
    idx = neighbors(X, y, means, classes)
    assert np.array_equal(y[idx], classes)


def test_shapes20_registry_entry_is_deterministic():
    a, b = load_dataset("shapes20", "test"), load_dataset("shapes20", "test")
    assert len(a.classes) == 20 and len(a) == 600 and a.source_id == b.source_id
    assert np.array_equal(np.asarray(a[7][0]), np.asarray(b[7][0])) and a[7][1] == a.targets[7]
    assert load_dataset("shapes20", "train").source_id != a.source_id
