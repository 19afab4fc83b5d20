import numpy as np
import pytest

from icl_support.data.datasets import load_dataset
from icl_support.embedding.backbones import create_backbone
from icl_support.embedding.embed import embed_images, embedding_key


@pytest.fixture(scope="module")
def small():
    return create_backbone("efficientnet_lite0", image_size=32), load_dataset("digits", "train")


def test_embed_then_cache_hit(small, tmp_path, monkeypatch):
    bb, ds = small
    idx = np.arange(10)
    first = embed_images(ds, idx, bb, tmp_path, batch_size=4, progress=False)
    assert first.shape == (10, 1280) and first.dtype == np.float32
    monkeypatch.setattr(type(bb), "embed", lambda *a: pytest.fail("cache hit must not run the backbone"))
    assert np.array_equal(embed_images(ds, idx, bb, tmp_path, progress=False), first)


def test_key_covers_indices_and_transform(small):
    bb, ds = small
    k = embedding_key(ds, np.arange(5), bb)
    assert k != embedding_key(ds, np.arange(1, 6), bb)
    other = create_backbone("efficientnet_lite0", image_size=48)
    assert k != embedding_key(ds, np.arange(5), other)


def test_interrupted_run_resumes(small, tmp_path, monkeypatch):
    bb, ds = small
    idx = np.arange(12)
    reference = embed_images(ds, idx, bb, tmp_path / "ref", batch_size=4, chunk_size=4, progress=False)
    calls = {"n": 0}
    real_embed = type(bb).embed

    def flaky(self, images):
        calls["n"] += 1
        if calls["n"] == 2:  # dies inside the second chunk
            raise KeyboardInterrupt
        return real_embed(self, images)

    monkeypatch.setattr(type(bb), "embed", flaky)
    with pytest.raises(KeyboardInterrupt):
        embed_images(ds, idx, bb, tmp_path / "run", batch_size=4, chunk_size=4, progress=False)
    assert len(list((tmp_path / "run" / "embeddings").glob("*.part*.npz"))) == 1
    calls["n"] = 10  # later calls succeed
    resumed = embed_images(ds, idx, bb, tmp_path / "run", batch_size=4, chunk_size=4, progress=False)
    assert calls["n"] == 12  # only the two unfinished chunks were embedded
    np.testing.assert_allclose(resumed, reference, rtol=1e-5, atol=1e-5)
    assert not list((tmp_path / "run" / "embeddings").glob("*.part*.npz"))


def test_non_finite_embeddings_are_refused(small, tmp_path, monkeypatch):
    bb, ds = small
    import torch

    monkeypatch.setattr(type(bb), "embed", lambda self, x: torch.full((len(x), 3), float("nan")))
    with pytest.raises(ValueError, match="non-finite"):
        embed_images(ds, np.arange(3), bb, tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.npz"))
