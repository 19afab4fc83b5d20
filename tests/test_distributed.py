"""Scale-out on CPU with gloo and 2 processes: sharded embedding (bit-for-bit) and data-parallel LGM.

NCCL and several GPUs are not tested here (no GPU on the test machine).
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from icl_support.contexts.pixel_lgm import DistillConfig, distill, shard_bounds
from icl_support.core.cache import load_arrays, save_arrays
from icl_support.data.datasets import load_dataset
from icl_support.embedding.backbones import create_backbone
from icl_support.embedding.embed import embed_images
from icl_support.embedding.frozen import FrozenFeatures
from icl_support.parallel.__main__ import main
from icl_support.parallel.collective import Collective, init_from_env, shutdown
from icl_support.parallel.sharded_embedding import (
    EmbedJob,
    embed_distributed,
    embed_shard,
    merge_shards,
    shard_path,
    shard_spans,
)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY = {"syn_res": 16, "crop_res": 16, "augs_per_step": 2, "grow_every": 2, "checkpoint_every": 2, "snapshot_res": 8}
STEPS = 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reals():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(3).repeat_interleave(4)
    base = torch.tensor([[0.9, 0.1, 0.1], [0.1, 0.9, 0.1], [0.1, 0.1, 0.9]])[labels]
    return (base.view(-1, 3, 1, 1) + 0.1 * torch.randn(12, 3, 16, 16, generator=g)).clamp(0, 1), labels


def _features():
    return FrozenFeatures(create_backbone("efficientnet_lite0", image_size=16))


@pytest.fixture(scope="module")
def small():
    return create_backbone("efficientnet_lite0", image_size=32), load_dataset("digits", "train")


# --------------------------------------------------------------------------- sharding arithmetic


@pytest.mark.parametrize("n,world,batch,chunk", [(40, 2, 8, 2048), (10, 4, 8, 2048), (10, 3, 4, 6), (1, 2, 1, 1)])
def test_shard_spans_cover_in_order_on_batch_edges(n, world, batch, chunk):
    spans = shard_spans(n, world, batch, chunk)
    assert len(spans) == world and spans[0][0] == 0 and spans[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(spans[:-1], spans[1:], strict=True))
    unit = batch if chunk % batch == 0 else chunk
    assert all(start % unit == 0 for start, stop in spans if stop > start)


def test_shard_bounds_split_evenly():
    spans = [shard_bounds(7, r, 3) for r in range(3)]
    assert spans == [(0, 2), (2, 4), (4, 7)]
    with pytest.raises(ValueError, match="world_size, batch_size and chunk_size must be >= 1"):
        shard_spans(5, 0, 1, 1)


def test_one_process_collective_is_a_no_op(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    collective, device = init_from_env("cpu")
    assert collective == Collective() and device.type == "cpu"
    t = torch.ones(3)
    assert collective.all_reduce_sum_(t) is t and torch.equal(t, torch.ones(3)) and collective.all_true(True)


# --------------------------------------------------------------------------- sharded embedding


def test_merge_uses_finished_shards_and_embeds_missing_ones(small, tmp_path, monkeypatch):
    """An interrupted 2-rank run (rank 1 finished, rank 0 did not): the merge embeds only rank 0's
    shard, writes the single-process file, and removes the shards."""
    bb, ds = small
    idx = np.arange(0, 40, 3)
    reference = embed_images(ds, idx, bb, tmp_path / "ref", batch_size=4, progress=False)
    job = EmbedJob(ds, idx, bb, tmp_path / "run", batch_size=4, progress=False)
    assert embed_shard(job, rank=1, world_size=2)
    spans = job.spans(2)
    assert shard_path(job.path, spans[1]).exists() and not shard_path(job.path, spans[0]).exists()
    calls = {"images": 0}
    real_embed = type(bb).embed

    def counting(self, images):
        calls["images"] += len(images)
        return real_embed(self, images)

    monkeypatch.setattr(type(bb), "embed", counting)
    with pytest.warns(UserWarning, match="missing; embedding it on this rank"):
        merged = merge_shards(job, world_size=2)
    assert calls["images"] == spans[0][1] - spans[0][0]
    np.testing.assert_array_equal(merged, reference)
    assert job.path.name == next((tmp_path / "ref" / "embeddings").glob("*.npz")).name
    np.testing.assert_array_equal(load_arrays(job.path, job.key)["features"], reference)
    assert not list(job.path.parent.glob("*.shard*"))


def test_corrupt_shard_is_recomputed_not_used(small, tmp_path):
    bb, ds = small
    job = EmbedJob(ds, np.arange(8), bb, tmp_path, batch_size=4, progress=False)
    for rank in (0, 1):
        embed_shard(job, rank, 2)
    bad = shard_path(job.path, job.spans(2)[1])
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.warns(UserWarning, match="unreadable"):
        merged = merge_shards(job, 2)
    np.testing.assert_array_equal(
        merged, embed_images(ds, np.arange(8), bb, tmp_path / "ref", batch_size=4, progress=False)
    )


def test_one_process_embed_distributed_is_embed_images(small, tmp_path):
    bb, ds = small
    job = EmbedJob(ds, np.arange(5), bb, tmp_path, batch_size=4, progress=False)
    out = embed_distributed(job, Collective())
    np.testing.assert_array_equal(out, load_arrays(job.path, job.key)["features"])


def _cli(cache: Path) -> list[str]:
    return ["embed", "--profile", "smoke", "--dataset", "digits", "--n-images", "40", "--image-size", "32"] + [
        "--batch-size", "8", "--split", "train", "--device", "cpu", "--cache-dir", str(cache),
    ]  # fmt: skip


def test_torchrun_embedding_equals_single_process_bit_for_bit(tmp_path):
    """Plain run and ``torchrun --nproc_per_node 2`` (gloo) write the same file, same bytes of data."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # torchrun's default per rank; equal thread counts
    plain = subprocess.run(
        [sys.executable, "-m", "icl_support.parallel", *_cli(tmp_path / "plain")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr[-2000:]
    ranks = subprocess.run(
        [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", "-m", "icl_support.parallel"]
        + _cli(tmp_path / "ranks"),
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ranks.returncode == 0, ranks.stderr[-2000:]
    assert '"world_size": 2' in ranks.stdout and '"world_size": 1' in plain.stdout
    a, b = (sorted((tmp_path / d / "embeddings").iterdir()) for d in ("plain", "ranks"))
    assert [p.name for p in a] == [p.name for p in b] and len(a) == 1  # no shards or parts left behind
    with np.load(a[0], allow_pickle=False) as za, np.load(b[0], allow_pickle=False) as zb:
        assert set(za.files) == set(zb.files)
        for name in za.files:
            np.testing.assert_array_equal(za[name], zb[name])
        assert za["features"].shape == (40, 1280)


def test_unknown_cli_parameter_is_named(capsys):
    assert main(["embed", "--profile", "smoke", "-p", "learning_rate", "1"]) == 2
    assert "unknown parameter(s) learning_rate" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train"])


# --------------------------------------------------------------------------- data-parallel LGM


def _dp_worker(rank: int, world: int, port: int, out: Path) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    collective, _ = init_from_env("cpu", timeout_s=120)
    try:
        features, reals, cfg = _features(), _reals(), DistillConfig(steps=STEPS, **TINY, seed=1)
        whole = distill(*reals, 3, features, cfg, work_dir=out / "a", progress=False, parallel=collective)
        distill(*reals, 3, features, cfg, work_dir=out / "b", progress=False, stop_after=3, parallel=collective)
        resumed = distill(*reals, 3, features, cfg, work_dir=out / "b", progress=False, parallel=collective)
        save_arrays(
            out / f"rank{rank}.npz",
            {"rank": rank},
            images=whole.images,
            losses=whole.losses,
            resumed_images=resumed.images,
            resumed_losses=resumed.losses,
        )
    finally:
        shutdown()


def test_data_parallel_lgm_equals_single_process(tmp_path):
    """2 gloo ranks: identical images on both ranks, resume is exact, and the result matches one process.

    Tolerance: the ranks sum the head gradients in another order and the backbone sees 3-image
    batches instead of 6 (CPU kernels differ in the last bits with batch size), so the images agree
    to float32 rounding carried through Adam, not bit for bit: atol 1e-5 on pixels in [0, 1] and
    rtol 1e-5 on the losses (measured here: 1.2e-7 and 1.3e-6 absolute; 100x and 10x margins).
    """
    mp.spawn(_dp_worker, args=(2, _free_port(), tmp_path), nprocs=2, join=True)
    r0, r1 = (load_arrays(tmp_path / f"rank{r}.npz", {"rank": r}) for r in (0, 1))
    for name in r0:
        np.testing.assert_array_equal(r0[name], r1[name])  # every rank holds the same images
    np.testing.assert_array_equal(r0["resumed_images"], r0["images"])
    np.testing.assert_array_equal(r0["resumed_losses"], r0["losses"])
    torch.set_num_threads(1)
    single = distill(*_reals(), 3, _features(), DistillConfig(steps=STEPS, **TINY, seed=1), progress=False)
    np.testing.assert_allclose(r0["images"], single.images, rtol=0, atol=1e-5)
    np.testing.assert_allclose(r0["losses"], single.losses, rtol=1e-5, atol=0)
    assert not np.array_equal(single.images[0], single.images[1])  # not a degenerate comparison


def test_data_parallel_rejects_more_ranks_than_images():
    cfg = DistillConfig(steps=1, **TINY)
    with pytest.raises(ValueError, match=r"world_size must be in \[1, 6\]"):
        distill(*_reals(), 3, _features(), cfg, progress=False, parallel=Collective(0, 7))


def test_torchrun_distill_cli_fills_the_chapter_cache(tmp_path):
    """``torchrun ... distill`` (2 gloo ranks) writes the cache file chapters 3-4 read, with the
    images a single process computes (same tolerance as above)."""
    from icl_support.contexts.lgm_images import distilled_images
    from icl_support.core.config import resolve_settings
    from icl_support.embedding.image_pool import prepare_images

    params = {"n_train": 20, "n_test": 10, "distill_res": 16, "image_size": 16, "distill_steps": 4, "distill_augs": 2}
    args = ["distill", "--profile", "smoke", "--device", "cpu", "--cache-dir", str(tmp_path / "ranks")]
    for name, value in params.items():
        args += ["-p", name, str(value)]
    ranks = subprocess.run(
        [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", "-m", "icl_support.parallel", *args],
        cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert ranks.returncode == 0, ranks.stderr[-2000:]
    assert '"world_size": 2' in ranks.stdout
    s = resolve_settings("smoke", chapter="lgm", device="cpu", cache_dir=str(tmp_path / "single"), **params)
    single = distilled_images(s, prepare_images(s, progress=False), progress=False)
    (path,) = (tmp_path / "single" / "lgm").glob("distilled-*.npz")
    with np.load(tmp_path / "ranks" / "lgm" / path.name, allow_pickle=False) as z:
        np.testing.assert_allclose(z["images"], single["images"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(z["losses"], single["losses"], rtol=1e-5, atol=0)
