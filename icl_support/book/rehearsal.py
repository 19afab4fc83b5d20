"""Rehearse the ``paper`` profile offline: every chapter through the real loaders, against local stand-ins.

The paper profile downloads DINOv2 ViT-B/14 (timm, through ``huggingface_hub``), the released TabICL
(``hf_hub_download``), CIFAR-10 and Imagenette (torchvision's downloaders). The rehearsal builds stand-ins that
those same loaders accept, with nothing but this machine's files, and runs every chapter with ``profile=paper``
and only its sizes shrunk:

* a Hugging Face cache (the hub's own ``models--org--name/snapshots/<rev>/`` layout, ``refs/main``) holding
  ``timm/vit_base_patch14_dinov2.lvd142m`` (``model.safetensors``) and ``jingang/TabICL``
  (``tabicl-classifier-v2-20260212.ckpt``) at their real architectures with **seeded random weights** (real shapes,
  real loading code, chance accuracy: every TabICL accuracy of a rehearsal is RANDOM WEIGHTS);
* CIFAR-10 in torchvision's own format (``cifar-10-batches-py``: pickled ``data_batch_1..5``, ``test_batch``,
  ``batches.meta``) built from the real images of ``../shared/data/cifar10-jpg.tar.gz`` (a subset);
* CIFAR-100 in torchvision's format (``cifar-100-python``) with 100 stand-in classes of real CIFAR-10 images
  (chapter 6's many-class section);
* Imagenette in its archive's layout (``imagenette2-320/{train,val}/<wnid>/*.JPEG``) from a few real CIFAR-10
  images resized to 320 px (Imagenette itself is not on this machine; the layout and the loader are what is tested).

torchvision checks the MD5 of CIFAR-10's batch files against the official ones, which a stand-in cannot match; the
rehearsal sets ``ICL_SYNTH_SKIP_TORCHVISION_CHECKSUM=1``, the documented switch that makes
:mod:`icl_support.data.datasets` trust a locally placed CIFAR archive (never needed with the real files). The
network is never touched: ``HF_HUB_OFFLINE=1`` and every download is expected to be found locally. Usage::

    python -m icl_support.book.rehearsal --jpg ../shared/data/cifar10-jpg.tar.gz --work /tmp/rehearsal
    make rehearse
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

from ..core.jsonio import write_json

DINO_REPO = "timm/vit_base_patch14_dinov2.lvd142m"
REVISION = "0" * 40  # the snapshot folder name; any 40-hex string the refs point at
# the write-up's settings with only their sizes shrunk (the paper profile's device is kept when CUDA is there)
SHRUNK = dict(
    n_train=50, n_test=20, embed_batch_size=16, fractions=[0.2, 1.0], n_seeds=1, tabicl_max_context=1000,
    context_sizes=[10, 30], n_timing_test=10, timing_repeats=1, kv_cache_context=30, distill_steps=2,
    distill_augs=1, random_draws=2, probe_epochs=5, probe_augs=2, probe_seeds=1, ks=[1], lgm_ipcs=[1],
    selection_seeds=1, row_distill_steps=5, tabicl_distill_steps=2, corruptions=["gaussian_noise"],
    severities=[3], n_tabicl_test=10, many_ks=[1],
)  # fmt: skip
CHAPTERS = (
    "00_tabicl_mini", "01_context_scaling", "02_inference_time", "03_distillation", "04_one_per_class",
    "04b_claims", "05_context_strategies", "06_beyond", "07_performance", "08_use_it",
)  # fmt: skip


def _snapshot(hub: Path, repo: str) -> Path:
    """The snapshot folder of ``repo`` in the hub cache ``hub`` (created, with ``refs/main`` pointing at it)."""
    base = hub / f"models--{repo.replace('/', '--')}"
    (base / "refs").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "main").write_text(REVISION)
    snap = base / "snapshots" / REVISION
    snap.mkdir(parents=True, exist_ok=True)
    return snap


def build_hf_cache(hub: Path, seed: int = 0) -> dict:
    """DINOv2 ViT-B/14 and TabICL v2 at their real architectures, seeded random weights, in a hub cache."""
    import timm
    import torch
    from safetensors.torch import save_file

    from ..core.cache import save_torch_atomic
    from ..model.weights import RELEASED_FILE, RELEASED_REPO, V2_CONFIG

    torch.manual_seed(seed)
    dino = timm.create_model(DINO_REPO.split("/")[1], pretrained=False)
    dino_file = _snapshot(hub, DINO_REPO) / "model.safetensors"
    save_file({k: v.contiguous() for k, v in dino.state_dict().items()}, str(dino_file))
    from tabicl._model.tabicl import TabICL

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tabicl = TabICL(**V2_CONFIG)
    tab_file = save_torch_atomic({"config": V2_CONFIG, "state_dict": tabicl.state_dict()},
                                 _snapshot(hub, RELEASED_REPO) / RELEASED_FILE)  # fmt: skip
    return {"dinov2": str(dino_file), "tabicl": str(tab_file)}


def _jpg_members(jpg: Path, split: str, per_class: int) -> dict[str, list[bytes]]:
    """``{class: [jpeg bytes]}``, the first ``per_class`` images of each class of a split of the JPEG archive."""
    out: dict[str, list[bytes]] = {}
    with tarfile.open(jpg) as tar:
        for m in tar:
            parts = Path(m.name).parts
            if m.isfile() and len(parts) >= 3 and parts[-3] == split:
                images = out.setdefault(parts[-2], [])
                if len(images) < per_class:
                    images.append(tar.extractfile(m).read())
    return out


def build_cifar10(jpg: Path, data_dir: Path, per_class: int = 10) -> Path:
    """``<data_dir>/cifar-10-batches-py`` in torchvision's format from the real JPEG images (``per_class`` a class
    and split; the train images spread over the five training batches as in the official archive)."""
    from PIL import Image

    root = data_dir / "cifar-10-batches-py"
    root.mkdir(parents=True, exist_ok=True)
    for split, files in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        members = _jpg_members(jpg, split, per_class)
        classes = sorted(members)
        rows, labels = [], []
        for c, name in enumerate(classes):
            for raw in members[name]:
                pixels = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), dtype=np.uint8)  # (32, 32, 3)
                rows.append(pixels.transpose(2, 0, 1).reshape(-1))  # torchvision reads (n, 3, 32, 32) planes
                labels.append(c)
        data = np.stack(rows)
        for i, file in enumerate(files):
            part = slice(i, None, len(files))
            with open(root / file, "wb") as fh:
                pickle.dump({"data": data[part], "labels": labels[part], "batch_label": file}, fh)
        with open(root / "batches.meta", "wb") as fh:
            pickle.dump({"label_names": classes, "num_cases_per_batch": len(data)}, fh)
    return root


def build_cifar100(jpg: Path, data_dir: Path, per_class: int = 2) -> Path:
    """``<data_dir>/cifar-100-python`` (``train``, ``test``, ``meta``) in torchvision's format: 100 stand-in classes
    (``class00``..``class99``) of real CIFAR-10 images, class c drawing from CIFAR-10 class c % 10 (CIFAR-100 itself
    is not on this machine; its format and loader are what is tested)."""
    from PIL import Image

    root = data_dir / "cifar-100-python"
    root.mkdir(parents=True, exist_ok=True)
    for split, file in (("train", "train"), ("test", "test")):
        members = _jpg_members(jpg, split, 10 * per_class)
        sources = [members[name] for name in sorted(members)]
        rows, labels = [], []
        for c in range(100):
            for raw in sources[c % 10][(c // 10) * per_class % len(sources[c % 10]) :][:per_class]:
                pixels = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), dtype=np.uint8)
                rows.append(pixels.transpose(2, 0, 1).reshape(-1))
                labels.append(c)
        with open(root / file, "wb") as fh:
            pickle.dump({"data": np.stack(rows), "fine_labels": labels, "coarse_labels": [c // 5 for c in labels]}, fh)
    with open(root / "meta", "wb") as fh:
        pickle.dump({"fine_label_names": [f"class{c:02d}" for c in range(100)],
                     "coarse_label_names": [f"super{c:02d}" for c in range(20)]}, fh)  # fmt: skip
    return root


def build_imagenette(jpg: Path, data_dir: Path, per_class: int = 6, side: int = 320) -> Path:
    """``<data_dir>/imagenette2-320/{train,val}/<wnid>/*.JPEG``: real CIFAR-10 images resized to ``side`` px, one
    CIFAR class per Imagenette wnid (the layout and torchvision's loader are tested, not Imagenette's pixels)."""
    from PIL import Image
    from torchvision.datasets import Imagenette

    root = data_dir / "imagenette2-320"
    wnids = sorted(Imagenette._WNID_TO_CLASS)
    for split, src in (("train", "train"), ("val", "test")):
        members = _jpg_members(jpg, src, per_class)
        for wnid, name in zip(wnids, sorted(members), strict=True):
            folder = root / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i, raw in enumerate(members[name]):
                image = Image.open(io.BytesIO(raw)).convert("RGB").resize((side, side), Image.BICUBIC)
                image.save(folder / f"{wnid}_{i:04d}.JPEG", quality=90)
    return root


def rehearsal_env(work: Path) -> dict[str, str]:
    """The environment every rehearsed chapter runs in: the stand-in hub, offline, the rehearsal's cache."""
    return {
        "HF_HUB_CACHE": str(work / "hub"),
        "HF_HUB_OFFLINE": "1",
        "ICL_SYNTH_CACHE": str(work / "cache"),
        "ICL_SYNTH_SKIP_TORCHVISION_CHECKSUM": "1",
    }


def chapter_parameters(work: Path, chapter: str, device: str) -> dict:
    """Papermill parameters of one rehearsed chapter: ``profile=paper``, shrunk sizes, the rehearsal's folders."""
    from .run_notebook import notebook_parameters

    declared = set(notebook_parameters(Path("nbs") / f"{chapter}.ipynb"))
    params = {"profile": "paper", "cache_dir": str(work / "cache"), "figures_dir": str(work / "figures"),
              "device": device, **SHRUNK}  # fmt: skip
    if "results_json" in declared:
        params["results_json"] = str(work / "results" / f"{chapter}.json")
    return {k: v for k, v in params.items() if k in declared}


def slowest_cell(executed: Path) -> dict:
    """The executed notebook's slowest code cell: ``{"cell": its first line, "seconds": papermill's duration}``."""
    import nbformat

    cells = [c for c in nbformat.read(str(executed), as_version=4).cells if c.cell_type == "code"]
    timed = [(c.metadata.get("papermill", {}).get("duration") or 0.0, c) for c in cells]
    seconds, cell = max(timed, key=lambda t: t[0])
    return {"cell": cell.source.splitlines()[0] if cell.source else "", "seconds": float(seconds)}


def rehearse(jpg: Path, work: Path, chapters=CHAPTERS, device: str = "") -> dict:
    """Build the stand-ins and run ``chapters``, paper profile shrunk: ``{chapter: {"ok", "seconds", "error"}}``."""
    import torch

    from .run_notebook import run_notebook

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    work.mkdir(parents=True, exist_ok=True)
    os.environ.update(rehearsal_env(work))
    built = {"hub": build_hf_cache(work / "hub"), "cifar10": str(build_cifar10(jpg, work / "cache" / "data")),
             "imagenette": str(build_imagenette(jpg, work / "cache" / "data")),
             "cifar100": str(build_cifar100(jpg, work / "cache" / "data"))}  # fmt: skip
    report = {"device": device, "stand_ins": built, "chapters": {}}
    for chapter in chapters:
        start = time.perf_counter()
        try:
            run_notebook(Path("nbs") / f"{chapter}.ipynb", work / "executed" / f"{chapter}.ipynb",
                         chapter_parameters(work, chapter, device), progress=False)  # fmt: skip
            entry = {"ok": True, "slowest_cell": slowest_cell(work / "executed" / f"{chapter}.ipynb")}
        except Exception as err:  # papermill's PapermillExecutionError names the cell and the traceback
            entry = {"ok": False, "error": f"{type(err).__name__}: {str(err)[-1500:]}"}
        entry["seconds"] = time.perf_counter() - start
        report["chapters"][chapter] = entry
        print(f"{chapter}: {'ok' if entry['ok'] else 'FAILED'} ({entry['seconds']:.0f} s)", flush=True)
        if not entry["ok"]:
            print(entry["error"], flush=True)
    return report


RESUME_CHAPTER = "03_distillation"  # embeds, then runs LGM: both resume from what an interrupted run wrote


def _run_chapter_process(work: Path, chapter: str, params: dict) -> subprocess.Popen:
    """Execute ``chapter`` in its own process group (papermill's kernel included), so it can be killed whole."""
    code = (
        "import json, sys; from pathlib import Path; from icl_support.book.run_notebook import run_notebook; "
        "run_notebook(Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3]), progress=False)"
    )
    nb, out = Path("nbs") / f"{chapter}.ipynb", work / "executed" / f"{chapter}-resume.ipynb"
    return subprocess.Popen(
        [sys.executable, "-c", code, str(nb), str(out), json.dumps(params)],
        env={**os.environ, **rehearsal_env(work)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _checkpoint_steps(cache: Path) -> dict[str, int]:
    """``{checkpoint path: step}`` of every unfinished LGM run under ``cache`` (unreadable ones skipped)."""
    import torch

    steps = {}
    for path in cache.glob("lgm/*.work/checkpoint.pt"):
        try:
            steps[str(path)] = int(torch.load(path, map_location="cpu", weights_only=True)["step"])
        except Exception:  # being replaced right now (atomic rename) or gone: look again next time
            continue
    return steps


def continued(killed_at: int, seen: list[int]) -> bool:
    """Whether a restarted LGM run continued from the killed run's checkpoint (step ``killed_at``), given every
    checkpoint step ``seen`` after the restart. The killed run's own checkpoint is seen until the restart overwrites
    it; a restart from step 0 would write an earlier step first (checkpoints are ``max(1, steps // 10)`` apart), so
    continuing means no step below it and a later one."""
    return bool(seen) and min(seen) >= killed_at and max(seen) > killed_at


def rehearse_resume(work: Path, device: str, chapter: str = RESUME_CHAPTER, steps: int = 12, poll_s: float = 0.2):
    """Kill ``chapter`` mid-LGM (SIGKILL to its process group) and run it again: the restart must take the cached
    embeddings (file untouched) and continue LGM from the checkpoint's step, never from step 0.

    Returns ``{"ok", "killed_at_step", "steps_seen_after_restart", "embeddings_reused", "losses", ...}``; ``ok``
    only when every check holds. ``steps``: LGM steps of this run (checkpoints every ``max(1, steps // 10)``).
    """
    params = {**chapter_parameters(work, chapter, device), "distill_steps": steps,
              "cache_dir": str(work / "resume-cache")}  # fmt: skip
    cache = Path(params["cache_dir"])
    shutil.rmtree(cache, ignore_errors=True)  # a fresh cache: both the embeddings and LGM start from nothing
    cache.mkdir(parents=True)
    (cache / "data").symlink_to((work / "cache" / "data").resolve())  # the stand-in datasets of rehearse()
    first = _run_chapter_process(work, chapter, params)
    killed_at, start = None, time.perf_counter()
    while first.poll() is None:
        seen = _checkpoint_steps(cache)
        if seen and max(seen.values()) >= 2:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
            killed_at = _checkpoint_steps(cache)  # read again: a later checkpoint may have landed before the kill
            break
        time.sleep(poll_s)
    if killed_at is None:
        return {"ok": False, "error": f"the first run ended (rc {first.returncode}) before any LGM checkpoint: "
                + (first.stderr.read()[-1500:] if first.stderr else "")}  # fmt: skip
    embeddings = {str(p): p.stat().st_mtime_ns for p in cache.glob("**/embeddings-*.npz")}
    second, after = _run_chapter_process(work, chapter, params), set()
    while second.poll() is None:
        after.update(_checkpoint_steps(cache).values())
        time.sleep(poll_s)
    err = second.stderr.read()[-1500:] if second.returncode else ""
    distilled = sorted(cache.glob("lgm/distilled-*.npz"))
    losses = [len(np.load(p)["losses"]) for p in distilled]
    reused = bool(embeddings) and all(Path(p).stat().st_mtime_ns == t for p, t in embeddings.items())
    resumed_from = max(killed_at.values())
    report = {
        "chapter": chapter, "lgm_steps": steps, "killed_at_step": resumed_from,
        "steps_seen_after_restart": sorted(after), "embeddings_reused": reused, "losses": losses,
        "seconds": time.perf_counter() - start, "error": err,
    }  # fmt: skip
    done = continued(resumed_from, sorted(after))
    report["ok"] = second.returncode == 0 and reused and bool(losses) and all(n == steps for n in losses) and done
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jpg", type=Path, default=Path("../shared/data/cifar10-jpg.tar.gz"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/icl-rehearsal"))
    ap.add_argument("--chapters", nargs="*", default=list(CHAPTERS))
    ap.add_argument("--device", default="", help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--out", type=Path, default=None, help="write the report JSON here")
    ap.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                    help=f"kill {RESUME_CHAPTER} mid-LGM and restart it (checks it resumes)")  # fmt: skip
    args = ap.parse_args(argv)
    from ..evaluation.provenance import environment

    start, argv_text = time.perf_counter(), " ".join(sys.argv[1:] if argv is None else argv)
    provenance = {**environment(), "tabicl_weights": "random",  # the stand-ins hold seeded random weights
                  "command": f"python -m icl_support.book.rehearsal {argv_text}".strip()}  # fmt: skip
    if not args.jpg.is_file():
        print(
            f"error: {args.jpg} not found: the rehearsal builds CIFAR-10 and Imagenette stand-ins from it",
            file=sys.stderr,
        )
        return 2
    report = rehearse(args.jpg, args.work, args.chapters, args.device)
    if args.resume:
        report["resume"] = resume = rehearse_resume(args.work, report["device"])
        print(f"resume after kill: {'ok' if resume['ok'] else 'FAILED'} {resume}", flush=True)
    report["provenance"] = {**provenance, "wall_time_s": time.perf_counter() - start}  # stand-ins, chapters, resume
    if args.out:
        write_json(args.out, report)  # a record like any other: strict JSON, no machine's paths
    failed = [c for c, e in report["chapters"].items() if not e["ok"]]
    print(f"rehearsal: {len(report['chapters']) - len(failed)} of {len(report['chapters'])} chapters ran"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))  # fmt: skip
    return 1 if failed or (args.resume and not report["resume"]["ok"]) else 0


if __name__ == "__main__":
    sys.exit(main())
