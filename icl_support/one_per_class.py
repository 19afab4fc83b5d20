"""The write-up's 1-image-per-class experiment: real pool, LGM distillation, four context
strategies, four evaluators on identical test images.

Images flow as float tensors in [0, 1] at ``side = distill_res`` pixels (shorter side resized
bicubically, then centre-cropped); the backbone sees a ``crop = image_size`` view (random resized
crops while distilling and probing, the centre crop otherwise) and normalises exactly once
(:class:`icl_support.distill.FrozenFeatures`). Usage::

    data = prepare_images(settings)                         # pool + test tensors and embeddings
    lgm = distilled_images(settings, data)                  # cached DistillResult arrays
    results = evaluate_strategies(settings, data, lgm, weights)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from sklearn.neighbors import KNeighborsClassifier
from tqdm.auto import tqdm

from .backbones import create_backbone
from .cache import key_digest, load_or_none, save_arrays
from .config import Settings
from .contexts import centroid, neighbors, random_per_class
from .distill import DistillConfig, FrozenFeatures, config_key, distill
from .peers import make_peer
from .probe import augmented_bank, linear_probe
from .tabicl_model import TabICLWeights, make_tabicl
from .tables import fit_width_reducer, load_splits, resolve_device

STRATEGIES = ("random", "centroid", "distilled", "neighbors")
EVALUATORS = ("linear_probe", "nearest_mean", "one_nn", "tabicl")


@dataclass
class ImageData:
    """Real pool and test images (N, 3, side, side) in [0, 1], their centre-view embeddings (N, F)."""

    features: FrozenFeatures
    classes: tuple[str, ...]
    pool: torch.Tensor
    y_pool: np.ndarray
    Z_pool: np.ndarray
    Z_test: np.ndarray
    y_test: np.ndarray
    key: dict
    crop: int


def load_images(ds, idx: np.ndarray, side: int, progress: bool = True) -> torch.Tensor:
    """``ds[idx]`` as (len(idx), 3, side, side) float32 in [0, 1] (resize shorter side, centre crop)."""
    out = np.empty((len(idx), side, side, 3), np.uint8)
    for j, i in enumerate(tqdm(idx, desc=f"load {ds.name}/{ds.split}", disable=not progress, leave=False)):
        im = ds[int(i)][0]
        scale = side / min(im.size)
        im = im.resize((max(side, round(im.width * scale)), max(side, round(im.height * scale))), Image.BICUBIC)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        out[j] = np.asarray(im.crop((left, top, left + side, top + side)))
    return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255


def center_view(images: torch.Tensor, crop: int) -> torch.Tensor:
    """Centre crop ``crop`` pixels out of (N, 3, side, side)."""
    side = images.shape[-1]
    o = (side - crop) // 2
    return images[..., o : o + crop, o : o + crop]


@torch.no_grad()
def embed_tensors(features: FrozenFeatures, images: torch.Tensor, crop: int, batch: int = 128) -> np.ndarray:
    """Centre-view embeddings (N, F) float32 of images in [0, 1]."""
    dev = features.mean.device
    parts = [features(center_view(images[s : s + batch], crop).to(dev)).cpu() for s in range(0, len(images), batch)]
    return torch.cat(parts).numpy().astype(np.float32)


def distill_config(s: Settings) -> DistillConfig:
    """LGM settings of a profile; the pyramid grows on the reference schedule scaled to ``distill_steps``."""
    return DistillConfig(
        ipc=s.ipc,
        steps=s.distill_steps,
        lr=s.distill_lr,
        augs_per_step=s.distill_augs,
        syn_res=s.distill_res,
        crop_res=s.distill_crop,
        grow_every=max(1, round(200 * s.distill_steps / 5000)),
        noise_mean=s.noise_mean,
        seed=s.seed + 3407,
    )


def prepare_images(s: Settings, progress: bool = True) -> ImageData:
    """Load the class-balanced pool and test images and embed them (embeddings cached)."""
    cache = s.cache_path
    train, test, idx_pool, idx_test = load_splits(s)
    crop = s.distill_crop
    device = resolve_device(s.device)
    features = FrozenFeatures(create_backbone(s.backbone, crop, device)).to(device)
    key = {
        "kind": "lgm-images/v1",
        "train": train.source_id,
        "test": test.source_id,
        "side": s.distill_res,
        "crop": crop,
        "pool": hashlib.sha256(idx_pool.tobytes()).hexdigest(),
        "test_idx": hashlib.sha256(idx_test.tobytes()).hexdigest(),
        **features.identity,
    }
    pool = load_images(train, idx_pool, s.distill_res, progress)
    path = cache / "lgm" / f"embeddings-{s.dataset}-{key_digest(key)}.npz"
    hit = load_or_none(path, key)
    if hit is None:
        hit = {
            "pool": embed_tensors(features, pool, crop),
            "test": embed_tensors(features, load_images(test, idx_test, s.distill_res, progress), crop),
        }
        save_arrays(path, key, **hit)
    return ImageData(
        features,
        train.classes,
        pool,
        train.targets[idx_pool],
        hit["pool"],
        hit["test"],
        test.targets[idx_test],
        key,
        crop,
    )


def distilled_images(s: Settings, data: ImageData, progress: bool = True, parallel=None) -> dict[str, np.ndarray]:
    """LGM images for ``data``'s pool (cached; an interrupted run resumes from its checkpoint).

    ``parallel``: data-parallel ranks (see :func:`icl_support.distill.distill`); only rank 0 writes.
    Keys: ``images`` (C*ipc, 3, side, side), ``labels``, ``losses`` (steps,), ``snapshots``
    (levels, C*ipc, 3, 64, 64), ``seconds_per_step``, ``peak_rss_mb``.
    """
    cfg = distill_config(s)
    key = {**config_key(cfg), **data.key}
    path = s.cache_path / "lgm" / f"distilled-{s.dataset}-{key_digest(key)}.npz"
    hit = load_or_none(path, key)
    if hit is not None:
        return hit
    n_classes = len(data.classes)
    r = distill(
        data.pool,
        torch.as_tensor(data.y_pool),
        n_classes,
        data.features,
        cfg,
        path.with_suffix(".work"),
        progress,
        parallel=parallel,
    )
    out = {
        "images": r.images,
        "labels": r.labels,
        "losses": r.losses,
        "snapshots": r.snapshots,
        "seconds_per_step": np.array(r.seconds_per_step),
        "peak_rss_mb": np.array(r.peak_rss_mb),
    }
    if (parallel is None or parallel.rank == 0) and save_arrays(path, key, **out):
        (path.with_suffix(".work") / "checkpoint.pt").unlink(missing_ok=True)  # finished: resume state not needed
    return out


def stats(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std()), "n": int(len(v))}


def evaluate_strategies(
    s: Settings, data: ImageData, lgm: dict[str, np.ndarray], weights: TabICLWeights, progress: bool = True
) -> dict:
    """``{strategy: {evaluator: {mean, std, n}, "per_context": {...}}}`` on the same test rows.

    ``random`` is over ``random_draws`` draws (linear probe: the mean of its seeds per draw); the
    single-context strategies report the linear probe's spread over ``probe_seeds`` seeds. TabICL
    reads rows reduced by PCA (``pca_dim``, fitted on the whole real pool) when ``pca_dim > 0``.
    """
    syn = torch.from_numpy(lgm["images"])
    y_syn = lgm["labels"]
    Z_syn = embed_tensors(data.features, syn, data.crop)
    k = s.ipc
    contexts = {"random": [random_per_class(data.y_pool, k, seed=s.seed + d) for d in range(s.random_draws)]}
    contexts["centroid"] = [centroid(data.Z_pool, data.y_pool)]
    contexts["neighbors"] = [neighbors(data.Z_pool, data.y_pool, Z_syn, y_syn)]
    reduce = fit_width_reducer(data.Z_pool, s.pca_dim, s.seed)
    Zr_test = reduce(data.Z_test)
    gen = torch.Generator().manual_seed(s.seed)
    out: dict = {}
    for name in STRATEGIES:
        views = (
            [(syn, Z_syn, y_syn)]
            if name == "distilled"
            else [(data.pool[i], data.Z_pool[i], data.y_pool[i]) for i in contexts[name]]
        )
        per = {ev: [] for ev in EVALUATORS}
        probe_seeds = []
        for images, Z, y in tqdm(views, desc=name, disable=not progress):
            bank = augmented_bank(
                images.to(data.features.mean.device), data.features, s.probe_augs, gen, crop=data.crop
            ).cpu()
            accs = linear_probe(bank, y, data.Z_test, data.y_test, s.probe_epochs, range(s.probe_seeds))
            probe_seeds.extend(accs)
            per["linear_probe"].append(float(np.mean(accs)))
            per["nearest_mean"].append(float(make_peer("nearest_mean").fit(Z, y).score(data.Z_test, data.y_test)))
            per["one_nn"].append(float(KNeighborsClassifier(n_neighbors=1).fit(Z, y).score(data.Z_test, data.y_test)))
            clf = make_tabicl(weights, s.n_estimators, resolve_device(s.device), s.seed).fit(reduce(Z), y)
            per["tabicl"].append(float((clf.predict(Zr_test) == data.y_test).mean()))
        out[name] = {ev: stats(v) for ev, v in per.items()}
        if len(views) == 1:
            out[name]["linear_probe"] = stats(probe_seeds)
        out[name]["per_context"] = per
    return out
