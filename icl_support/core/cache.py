"""On-disk cache of numeric arrays: keyed by content, written atomically, checked on load.

:func:`save_torch_atomic` is the one atomic ``torch.save`` of the package (checkpoints, resumable states).
Files are ``.npz`` archives read with ``allow_pickle=False``. Each holds the arrays, the JSON of the
key that determined them and a SHA-256 of the arrays' bytes; a file whose checksum or key does not
match is reported, removed and recomputed, never silently used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np


def save_torch_atomic(obj, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically: written beside it under a per-process temporary name, then
    renamed, so a reader never sees a half-written file (the parent folder is created). Returns ``path``."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


class CacheError(RuntimeError):
    """A cache file exists but is unreadable, truncated or does not match its key."""


def key_digest(key: dict) -> str:
    """Hex SHA-256 (first 16 chars) of the canonical JSON of ``key``."""
    return hashlib.sha256(canonical_json(key).encode()).hexdigest()[:16]


def file_sha256(path: str | Path, missing_ok: bool = True) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks: the one file digest of the package (checkpoints,
    provenance). A file that cannot be read gives ``""`` (``missing_ok``) or raises ``OSError``."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        if missing_ok:
            return ""
        raise
    return h.hexdigest()


def canonical_json(key: dict) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)


def array_digest(*arrays: np.ndarray) -> str:
    """Hex SHA-256 of the dtype, shape and bytes of each array, in order."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_arrays(path: Path, key: dict, **arrays: np.ndarray) -> bool:
    """Write ``arrays`` with ``key`` and a checksum to ``path`` atomically.

    Returns False (with a warning) when the directory is not writable: the caller keeps its
    in-memory result, so nothing computed is lost.
    """
    path = Path(path)
    names = sorted(arrays)
    meta = {
        "__key__": np.array(canonical_json(key)),
        "__checksum__": np.array(array_digest(*(arrays[n] for n in names))),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays, **meta)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as err:
        warnings.warn(f"could not write cache file {path} ({err}); continuing without caching it", stacklevel=2)
        return False
    return True


def load_arrays(path: Path, key: dict) -> dict[str, np.ndarray] | None:
    """Arrays stored at ``path`` for ``key``; ``None`` if absent.

    A file that cannot be read, fails its checksum or holds another key raises :class:`CacheError`
    after being removed (where possible), so the caller recomputes.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        stored_key = str(data.pop("__key__"))
        checksum = str(data.pop("__checksum__"))
    except Exception as err:  # zipfile, OSError, ValueError, KeyError: all mean "unusable"
        _discard(path)
        raise CacheError(
            f"cache file {path} is unreadable ({type(err).__name__}: {err}); removed, will recompute"
        ) from err
    if stored_key != canonical_json(key):
        _discard(path)
        raise CacheError(f"cache file {path} holds another key; removed, will recompute")
    if array_digest(*(data[n] for n in sorted(data))) != checksum:
        _discard(path)
        raise CacheError(f"cache file {path} fails its checksum (corrupt or truncated); removed, will recompute")
    return data


def load_or_none(path: Path, key: dict) -> dict[str, np.ndarray] | None:
    """Like :func:`load_arrays` but a bad file becomes a warning and ``None``."""
    try:
        return load_arrays(path, key)
    except CacheError as err:
        warnings.warn(str(err), stacklevel=2)
        return None


def _discard(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
