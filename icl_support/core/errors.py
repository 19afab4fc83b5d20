"""What a GPU user gets wrong, said plainly: a download refused for a token or a gated model, a partial download,
CUDA out of memory at a context size. Each helper turns the library's exception into a message that names what
happened and what to do; the original exception stays chained."""

from __future__ import annotations

from contextlib import contextmanager


def download_hint(err: BaseException, what: str) -> str:
    """One sentence on why downloading ``what`` failed and what to do, from the exception's type and text."""
    name, text = type(err).__name__, str(err)
    if name == "GatedRepoError" or "gated" in text.lower():
        return (f"{what} is a gated repository: accept its terms on huggingface.co, then log in "
                "(`hf auth login`, or set HF_TOKEN) and rerun")  # fmt: skip
    if name in ("RepositoryNotFoundError", "HfHubHTTPError") and ("401" in text or "403" in text):
        return (f"the Hugging Face Hub refused {what} (HTTP 401/403): your token is missing, expired or lacks access; "
                "log in (`hf auth login`) or set HF_TOKEN, then rerun")  # fmt: skip
    if name in ("LocalEntryNotFoundError", "OfflineModeIsEnabled") or "offline" in text.lower():
        return (f"{what} is not in the Hugging Face cache and the Hub is unreachable or HF_HUB_OFFLINE=1 is set; "
                "download it once with internet, or point to a local copy")  # fmt: skip
    if "checksum" in text.lower() or "md5" in text.lower() or "corrupt" in text.lower() or name == "BadZipFile":
        return (f"a partial or corrupt download of {what}: delete the half-written file in the cache folder named "
                "above and rerun, which downloads it again")  # fmt: skip
    return f"{what} could not be downloaded ({name}); check the network and the cache folder's free space"


@contextmanager
def explain_out_of_memory(what: str, settings_to_lower: str):
    """Re-raise CUDA out-of-memory inside the block as a ``RuntimeError`` naming ``what`` ran out and the
    ``settings_to_lower``; the GPU's memory is freed first so the kernel can go on."""
    import torch

    try:
        yield
    except torch.cuda.OutOfMemoryError as err:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise RuntimeError(
            f"CUDA ran out of memory during {what}. Lower {settings_to_lower}, or run on a GPU with more memory "
            f"(original: {str(err).splitlines()[0][:200]})"
        ) from err
