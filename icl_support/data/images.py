"""Images as tensors: load a dataset's images at one side (resize the shorter side, centre crop) and take
centre views."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm


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
