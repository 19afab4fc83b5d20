"""A frozen backbone as a feature map of images in [0, 1]: :class:`FrozenFeatures` and batched centre-view
embedding (:func:`embed_tensors`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..data.images import center_view


class FrozenFeatures(nn.Module):
    """Backbone features of images in [0, 1]: normalise once with the backbone's mean/std, then
    pre-logits features ``(B, F)``. The backbone is kept in eval mode with frozen parameters."""

    def __init__(self, backbone):
        super().__init__()
        self.model = backbone.model.eval().requires_grad_(False)
        cfg = backbone.data_config
        self.register_buffer("mean", torch.tensor(cfg["mean"]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(cfg["std"]).view(1, 3, 1, 1))
        self.identity = backbone.identity()

    def forward(self, images01: torch.Tensor) -> torch.Tensor:
        x = (images01 - self.mean) / self.std
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True).float()


@torch.no_grad()
def embed_tensors(features: FrozenFeatures, images: torch.Tensor, crop: int, batch: int = 128) -> np.ndarray:
    """Centre-view embeddings (N, F) float32 of images in [0, 1]."""
    dev = features.mean.device
    parts = [features(center_view(images[s : s + batch], crop).to(dev)).cpu() for s in range(0, len(images), batch)]
    return torch.cat(parts).numpy().astype(np.float32)
