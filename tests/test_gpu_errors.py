"""What a GPU user gets wrong gets a message naming what happened and what to do."""

import pytest
import torch

from icl_support.core.device import resolve_device
from icl_support.core.errors import download_hint, explain_out_of_memory


def test_no_cuda_names_the_setting():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="CUDA is not available here; use device='cpu' or 'auto'"):
        resolve_device("cuda")


def test_out_of_memory_names_what_ran_out_and_what_to_lower():
    with pytest.raises(RuntimeError, match=r"during TabICL on 5000 context rows\. Lower n_estimators") as info:
        with explain_out_of_memory("TabICL on 5000 context rows", "n_estimators"):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    assert isinstance(info.value.__cause__, torch.cuda.OutOfMemoryError)


def test_download_hints_for_token_gated_offline_and_partial_downloads():
    from huggingface_hub.errors import LocalEntryNotFoundError

    class GatedRepoError(Exception):  # the hub's class needs an HTTP response to build; the hint reads the name
        pass

    gated = GatedRepoError("Access to model jingang/TabICL is restricted")
    assert "gated" in download_hint(gated, "jingang/TabICL") and "HF_TOKEN" in download_hint(gated, "x")
    assert "HF_HUB_OFFLINE" in download_hint(LocalEntryNotFoundError("not cached"), "timm/vit")

    class HfHubHTTPError(Exception):
        pass

    assert "token" in download_hint(HfHubHTTPError("401 Client Error: Unauthorized"), "jingang/TabICL")
    assert "partial or corrupt" in download_hint(RuntimeError("File not found or corrupted."), "cifar10")
    assert "check the network" in download_hint(ConnectionError("reset"), "cifar10")


def test_released_checkpoint_error_says_what_to_pass_offline(tmp_path, monkeypatch):
    from icl_support.model.weights import resolve_weights

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    with pytest.raises(RuntimeError, match="not in the Hugging Face cache.*tabicl_checkpoint="):
        resolve_weights("released", tmp_path)
