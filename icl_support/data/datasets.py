"""Image datasets by name, and deterministic class-balanced subsampling.

Registry (``DATASETS``):

``cifar10``     torchvision's downloader into ``<cache>/data``; or ``data_root`` = a folder with
                ``train/<class>/*`` and ``test/<class>/*`` (e.g. ``shared/data/cifar10-jpg.tar.gz``).
``cifar100``    as ``cifar10`` (torchvision's ``CIFAR100``; 100 fine classes), or ``data_root`` = a folder
                with ``train/<class>/*`` and ``test/<class>/*``.
``imagenette``  torchvision's downloader (320 px); or ``data_root`` with ``train/`` and ``val/``
                class folders (the ``imagenette2-320`` tarball's layout). Split ``test`` = ``val``.
``digits``      scikit-learn's 8x8 handwritten digits (1,797 images, shipped inside sklearn); a
                fixed stratified split: 1/3 test, split seed 0 (independent of the run seed).
``shapes20``    20 generated classes (5 shapes x 4 colours, 32 px; :mod:`icl_support.data.shapes`): offline,
                for the many-class paths. 100 train and 30 test images per class.
``folder``      any class-folder tree: ``data_root/train/<class>/*`` and ``data_root/test/<class>/*``
                (``val/`` accepted for ``test``).

Usage::

    ds = load_dataset("digits", split="train")
    image, label = ds[0]                      # PIL.Image (RGB), int
    idx = balanced_subset(ds.targets, 100, seed=0)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

SPLITS = ("train", "test")


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image split. ``targets``: int64 ``(n,)``; ``classes[targets[i]]`` is image i's class.

    ``source_id`` identifies the content (used in cache keys): two datasets with equal ids hold the
    same images in the same order.
    """

    name: str
    split: str
    classes: tuple[str, ...]
    targets: np.ndarray
    source_id: str
    _load: Callable[[int], Image.Image]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[Image.Image, int]:
        return self._load(int(i)).convert("RGB"), int(self.targets[i])


class DatasetUnavailableError(RuntimeError):
    """The dataset could not be found locally nor downloaded."""


def load_dataset(name: str, split: str = "train", data_root: str = "", cache_dir: str | Path = "") -> ImageDataset:
    """The ``split`` (``train``/``test``) of dataset ``name``; see the module docstring for the registry."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    cache_dir = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "icl-synth"
    return DATASETS[name](split, data_root, cache_dir)


def balanced_subset(targets: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` items, as equal per class as possible, drawn without replacement.

    ``n = 0`` or ``n >= len(targets)`` returns every index. Classes that run short give their
    remaining quota to the others. Deterministic in ``seed``; raises if ``n`` < number of classes.
    """
    targets = np.asarray(targets)
    if n <= 0 or n >= len(targets):
        return np.arange(len(targets))
    classes = np.unique(targets)
    if n < len(classes):
        raise ValueError(f"cannot draw {n} items with every one of {len(classes)} classes present")
    rng = np.random.default_rng(seed)
    pools = {c: rng.permutation(np.flatnonzero(targets == c)) for c in classes}
    quota = {c: 0 for c in classes}
    remaining = n
    while remaining:  # round-robin so quotas differ by at most one, respecting class sizes
        open_classes = [c for c in classes if quota[c] < len(pools[c])]
        for c in rng.permutation(open_classes)[:remaining]:
            quota[c] += 1
            remaining -= 1
    return np.sort(np.concatenate([pools[c][: quota[c]] for c in classes]))


def class_fraction_subset(targets: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Class-balanced subset of ``round(fraction * len(targets))`` items (at least one per class)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    n_classes = len(np.unique(targets))
    n = max(n_classes, int(round(fraction * len(targets))))
    return balanced_subset(targets, n, seed)


# --------------------------------------------------------------------------- registry entries


def _digits(split: str, data_root: str, cache_dir: Path) -> ImageDataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    idx_train, idx_test = train_test_split(np.arange(len(d.target)), test_size=1 / 3, stratify=d.target, random_state=0)
    idx = np.sort(idx_train if split == "train" else idx_test)
    pixels = np.clip(d.images[idx] * (255.0 / 16.0), 0, 255).astype(np.uint8)  # (n, 8, 8) gray
    return ImageDataset(
        name="digits",
        split=split,
        classes=tuple(str(c) for c in d.target_names),
        targets=d.target[idx].astype(np.int64),
        source_id=f"sklearn-digits:{split}:{hashlib.sha256(pixels.tobytes()).hexdigest()[:12]}",
        _load=lambda i: Image.fromarray(pixels[i], mode="L"),
    )


def image_folder(root: Path, name: str, split: str) -> ImageDataset:
    """An ``ImageDataset`` over ``root/<class>/<image>`` (torchvision ``ImageFolder`` order)."""
    from torchvision.datasets import ImageFolder

    if not root.is_dir():
        raise DatasetUnavailableError(f"{name}: folder {root} does not exist")
    folder = ImageFolder(str(root))
    rel = "\n".join(str(Path(p).relative_to(root)) for p, _ in folder.samples)
    return ImageDataset(
        name=name,
        split=split,
        classes=tuple(folder.classes),
        targets=np.asarray(folder.targets, dtype=np.int64),
        source_id=f"folder:{root.resolve()}:{len(folder.samples)}:{hashlib.sha256(rel.encode()).hexdigest()[:12]}",
        _load=lambda i: folder.loader(folder.samples[i][0]),
    )


def _split_dir(root: Path, split: str, name: str) -> Path:
    names = ("train",) if split == "train" else ("test", "val")
    for n in names:
        if (root / n).is_dir():
            return root / n
    raise DatasetUnavailableError(
        f"{name}: data_root {root} has no {' or '.join(repr(n + '/') for n in names)} class-folder tree "
        f"(expected {root}/{names[0]}/<class>/<image files>)"
    )


def class_subset_root(data_root: str | Path, classes: list[str] | tuple[str, ...], dest: str | Path) -> Path:
    """A class-folder tree at ``dest`` holding only ``classes`` of ``data_root`` (symbolic links to its
    ``train/<class>`` and ``test/<class>`` (or ``val/<class>``) folders), for runs on a subset of the classes.

    Idempotent; raises naming the classes ``data_root`` lacks, and the ones it has."""
    root, dest = Path(data_root).expanduser().resolve(), Path(dest).expanduser()
    for split in SPLITS:
        src = _split_dir(root, split, str(root))
        have = sorted(p.name for p in src.iterdir() if p.is_dir())
        missing = [c for c in classes if c not in have]
        if missing:
            raise ValueError(f"classes {missing} are not in {src}; it has: {', '.join(have)}")
        (dest / split).mkdir(parents=True, exist_ok=True)
        for c in classes:
            link = dest / split / c
            if not link.exists():
                link.symlink_to(src / c, target_is_directory=True)
    return dest


def _folder(split: str, data_root: str, cache_dir: Path) -> ImageDataset:
    if not data_root:
        raise ValueError("dataset 'folder' needs data_root: a folder with train/<class>/* and test/<class>/*")
    root = Path(data_root).expanduser()
    return image_folder(_split_dir(root, split, "folder"), "folder", split)


def _offline_hint(name: str, err: Exception, layout: str) -> DatasetUnavailableError:
    from ..core.errors import download_hint

    return DatasetUnavailableError(
        f"{name}: download failed: {download_hint(err, name)} ({type(err).__name__}: {err}). Offline? Point "
        f"data_root at a local copy laid out as {layout} (e.g. papermill -p data_root /path/to/{name})."
    )


# set to "1" to make torchvision trust a locally placed CIFAR archive without its official MD5s: for stand-in archives
# (icl_support.book.rehearsal); with the real files it is never needed, and nothing is then downloaded either
SKIP_CHECKSUM_ENV = "ICL_SYNTH_SKIP_TORCHVISION_CHECKSUM"


def _trusting(loader: type) -> type:
    """``loader`` (torchvision's CIFAR10/100) without its MD5 checks of the batch and meta files: for a locally placed
    stand-in archive in the official format, which cannot match the official checksums."""
    import pickle

    class Trusting(loader):
        def _check_integrity(self) -> bool:
            return True

        def _load_meta(self) -> None:  # torchvision's, minus the MD5 check
            with open(os.path.join(self.root, self.base_folder, self.meta["filename"]), "rb") as fh:
                self.classes = pickle.load(fh, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    Trusting.__name__ = loader.__name__
    return Trusting


def _torchvision_cifar(name: str, split: str, data_root: str, cache_dir: Path) -> ImageDataset:
    """``cifar10`` / ``cifar100``: a class-folder ``data_root``, else torchvision's downloader."""
    if data_root:
        return image_folder(_split_dir(Path(data_root).expanduser(), split, name), name, split)
    from torchvision import datasets

    loader = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    if os.environ.get(SKIP_CHECKSUM_ENV) == "1":
        loader = _trusting(loader)
    try:
        ds = loader(str(cache_dir / "data"), train=split == "train", download=True)
    except Exception as err:  # URLError, socket errors, corrupt archive
        raise _offline_hint(name, err, "train/<class>/*.jpg and test/<class>/*.jpg") from err
    images = ds.data  # (n, 32, 32, 3) uint8
    return ImageDataset(
        name=name,
        split=split,
        classes=tuple(ds.classes),
        targets=np.asarray(ds.targets, dtype=np.int64),
        source_id=f"torchvision-{name}:{split}",
        _load=lambda i: Image.fromarray(images[i]),
    )


def _cifar10(split: str, data_root: str, cache_dir: Path) -> ImageDataset:
    return _torchvision_cifar("cifar10", split, data_root, cache_dir)


def _cifar100(split: str, data_root: str, cache_dir: Path) -> ImageDataset:
    return _torchvision_cifar("cifar100", split, data_root, cache_dir)


def _shapes20(split: str, data_root: str, cache_dir: Path) -> ImageDataset:
    from .shapes import make_shapes

    images, labels, classes = make_shapes(100 if split == "train" else 30, seed=0 if split == "train" else 1)
    return ImageDataset(
        name="shapes20",
        split=split,
        classes=classes,
        targets=labels,
        source_id=f"shapes20:{split}:{hashlib.sha256(images.tobytes()).hexdigest()[:12]}",
        _load=lambda i: Image.fromarray(images[i]),
    )


def _imagenette(split: str, data_root: str, cache_dir: Path) -> ImageDataset:
    if data_root:
        return image_folder(_split_dir(Path(data_root).expanduser(), split, "imagenette"), "imagenette", split)
    from torchvision.datasets import Imagenette

    root = cache_dir / "data"
    tv_split = "train" if split == "train" else "val"
    try:
        ds = Imagenette(str(root), split=tv_split, size="320px", download=not (root / "imagenette2-320").is_dir())
    except Exception as err:
        raise _offline_hint("imagenette", err, "train/<wnid>/*.JPEG and val/<wnid>/*.JPEG") from err
    classes = tuple(c[0] for c in ds.classes)
    return ImageDataset(
        name="imagenette",
        split=split,
        classes=classes,
        targets=np.asarray([t for _, t in ds._samples], dtype=np.int64),
        source_id=f"torchvision-imagenette-320:{split}",
        _load=lambda i: Image.open(ds._samples[i][0]),
    )


DATASETS: dict[str, Callable[[str, str, Path], ImageDataset]] = {
    "cifar10": _cifar10,
    "imagenette": _imagenette,
    "digits": _digits,
    "folder": _folder,
    "cifar100": _cifar100,
    "shapes20": _shapes20,
}
