"""Scale-out from the command line, under ``torchrun`` or plain (one process, no process group)::

    torchrun --nproc_per_node 4 -m icl_support.parallel embed --profile paper --split both
    torchrun --nproc_per_node 4 -m icl_support.parallel distill --profile paper
    python -m icl_support.parallel embed --dataset digits --n-images 200 --image-size 32 --cache-dir /tmp/c

``embed``: a split's class-balanced pool into the cache, sharded over the ranks
(:mod:`icl_support.parallel.sharded_embedding`). ``distill``: the LGM images of chapters 3-4 into the cache,
data-parallel (:func:`icl_support.contexts.pixel_lgm.distill` with ``parallel=`` a
:class:`icl_support.parallel.collective.Collective`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import yaml

from .collective import init_from_env, shutdown
from .sharded_embedding import EmbedJob, embed_distributed


def _settings(args, chapter: str = ""):
    from ..core.config import resolve_settings

    overrides = {name: yaml.safe_load(value) for name, value in args.parameter}
    for flag, name in (
        ("dataset", "dataset"),
        ("data_root", "data_root"),
        ("backbone", "backbone"),
        ("image_size", "image_size"),
        ("cache_dir", "cache_dir"),
        ("device", "device"),
        ("seed", "seed"),
        ("batch_size", "embed_batch_size"),
    ):
        if getattr(args, flag, None) is not None:
            overrides[name] = getattr(args, flag)
    if getattr(args, "n", None) is not None:
        overrides.update(n_train=args.n, n_test=args.n)
    return resolve_settings(args.profile, chapter, **overrides)


def _cmd_embed(args) -> dict:
    from ..core.config import with_overrides
    from ..embedding.backbones import create_backbone
    from ..embedding.tables import load_splits

    s = _settings(args)
    collective, device = init_from_env(s.device, args.timeout)
    s = with_overrides(s, device=str(device))
    train, test, idx_train, idx_test = load_splits(s)
    backbone = create_backbone(s.backbone, s.image_size, device)
    wanted = {"train": (train, idx_train), "test": (test, idx_test)}
    out = {"world_size": collective.world_size, "files": {}}
    for split in ("train", "test") if args.split == "both" else (args.split,):
        ds, idx = wanted[split]
        job = EmbedJob(ds, idx, backbone, s.cache_path, s.embed_batch_size, args.chunk_size, 0, collective.is_main)
        X = embed_distributed(job, collective)
        out["files"][split] = {"path": str(job.path), "shape": list(X.shape)}
    return out


def _cmd_distill(args) -> dict:
    from ..contexts.lgm_images import distilled_images
    from ..core.config import with_overrides
    from ..embedding.image_pool import prepare_images

    s = _settings(args, chapter="lgm")
    collective, device = init_from_env(s.device, args.timeout)
    s = with_overrides(s, device=str(device))
    if not collective.is_main:  # rank 0 embeds the real pool into the cache first; the others read it
        collective.barrier()
    data = prepare_images(s, progress=collective.is_main)
    if collective.is_main:
        collective.barrier()
    lgm = distilled_images(s, data, progress=collective.is_main, parallel=collective)
    return {
        "world_size": collective.world_size,
        "images": list(lgm["images"].shape),
        "loss_first": float(lgm["losses"][0]),
        "loss_last": float(lgm["losses"][-1]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m icl_support.parallel", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("embed", "embed a split's class-balanced pool into the cache (as the notebooks do)"),
        ("distill", "LGM images of chapters 3-4 into the cache (data-parallel under torchrun)"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--profile", default="demo", help="smoke, demo or paper (default demo)")
        p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
        p.add_argument("--dataset")
        p.add_argument("--data-root", dest="data_root")
        p.add_argument("--backbone")
        p.add_argument("--image-size", dest="image_size", type=int)
        p.add_argument("--cache-dir", dest="cache_dir")
        p.add_argument("--device")
        p.add_argument("--seed", type=int)
        p.add_argument("--n-images", dest="n", type=int, help="n_train and n_test (class-balanced subset sizes)")
        p.add_argument("--timeout", type=float, default=3600.0, help="collective timeout, seconds")
    emb = sub.choices["embed"]
    emb.add_argument("--split", choices=("train", "test", "both"), default="both")
    emb.add_argument("--batch-size", dest="batch_size", type=int)
    emb.add_argument("--chunk-size", dest="chunk_size", type=int, default=2048)
    args = parser.parse_args(argv)
    try:
        summary = (_cmd_embed if args.command == "embed" else _cmd_distill)(args)
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        shutdown()
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
