"""ICL attention maps (icl_support.evaluation.attention). RANDOM WEIGHTS: timing only; the maps are plumbing checks."""

import numpy as np
import pytest
import tabicl._model.attention as attention_mod
import torch
from conftest import blobs

from icl_support.evaluation.attention import icl_attention, mean_attention, record_icl_attention
from icl_support.model.weights import make_tabicl

N_CTX, N_QUERY, N_FEATURES = 30, 7, 8


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    X, y = blobs(N_CTX // 3, 3, N_FEATURES, sep=1.0, seed=0)
    Xq, _ = blobs(3, 3, N_FEATURES, sep=1.0, seed=5)
    return X, y, Xq[:N_QUERY]


@pytest.fixture(scope="module")
def clf(random_weights, data):
    X, y, _ = data
    return make_tabicl(random_weights, 1, "cpu", seed=0).fit(X, y)


def no_hooks_left(model):
    return all(not b._forward_pre_hooks and not b._forward_hooks for b in model.icl_predictor.tf_icl.blocks)


def test_shape_rows_sum_to_one_and_predictions_unchanged(clf, data):
    _, _, Xq = data
    before = clf.predict_proba(Xq)
    attn = icl_attention(clf, Xq)
    blocks = clf.model_.icl_predictor.tf_icl.blocks
    assert attn.shape == (len(blocks), blocks[0].attn.num_heads, N_QUERY, N_CTX) and attn.dtype == np.float32
    assert np.isfinite(attn).all() and (attn >= 0).all()
    np.testing.assert_allclose(attn.sum(-1), 1.0, rtol=0, atol=1e-6)
    with record_icl_attention(clf.model_) as maps:
        during = clf.predict_proba(Xq)
    assert np.abs(during - before).max() == 0.0
    assert [len(calls) for calls in maps] == [1] * len(blocks)
    assert np.abs(clf.predict_proba(Xq) - before).max() == 0.0
    avg = mean_attention(attn)
    assert avg.shape == (N_QUERY, N_CTX)
    np.testing.assert_allclose(avg, attn.mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(mean_attention(attn, [0]), attn[0].mean(0), rtol=1e-6)
    with pytest.raises(ValueError, match="selects no layer"):
        mean_attention(attn, slice(0, 0))


def test_recomputed_weights_reproduce_sdpa_output(clf, data, monkeypatch):
    """attn @ V from the recomputed weights equals what SDPA returned, for every ICL layer."""
    _, _, Xq = data
    calls = []
    real = attention_mod.sdpa_with_flattened_batch

    def spy(q, k, v, attn_mask=None, dropout_p=0.0, ssmax_layer=None):
        out = real(q, k, v, attn_mask, dropout_p, ssmax_layer=ssmax_layer)
        if q.shape[-2] == N_CTX + N_QUERY and k.shape[-2] == N_CTX:  # only ICL calls have these lengths
            calls.append((v.detach().clone(), out.detach().clone()))
        return out

    monkeypatch.setattr(attention_mod, "sdpa_with_flattened_batch", spy)
    with record_icl_attention(clf.model_) as maps:
        clf.predict_proba(Xq)
    assert len(calls) == len(maps)
    for (v, out), (probs,) in zip(calls, maps, strict=True):
        torch.testing.assert_close(probs @ v.reshape(probs.shape[0], *v.shape[-3:]), out, rtol=1e-5, atol=1e-5)


def test_columns_follow_the_callers_context_order(random_weights, data):
    """Permuting the context rows permutes the attention columns the same way (no reordering inside)."""
    X, y, Xq = data
    perm = np.random.default_rng(0).permutation(N_CTX)
    a = icl_attention(make_tabicl(random_weights, 1, "cpu", seed=0).fit(X, y), Xq)
    b = icl_attention(make_tabicl(random_weights, 1, "cpu", seed=0).fit(X[perm], y[perm]), Xq)
    # the model is equivariant in the context rows; only float summation order changes
    np.testing.assert_allclose(b, a[..., perm], rtol=0, atol=1e-6)  # measured 4e-8
    assert np.abs(a - a[..., perm]).max() > 1e-3  # the permutation is visible in the maps


def test_restores_function_and_hooks_after_exception(clf, data):
    _, _, Xq = data
    original = attention_mod.sdpa_with_flattened_batch
    with pytest.raises(ValueError):  # raised inside predict_proba: wrong number of features
        with record_icl_attention(clf.model_):
            assert attention_mod.sdpa_with_flattened_batch is not original
            clf.predict_proba(Xq[:, :3])
    assert attention_mod.sdpa_with_flattened_batch is original and no_hooks_left(clf.model_)
    with pytest.raises(KeyError):
        with record_icl_attention(clf.model_):
            raise KeyError("boom")
    assert attention_mod.sdpa_with_flattened_batch is original and no_hooks_left(clf.model_)


def test_rejects_unsupported_classifiers(random_weights, data):
    X, y, Xq = data
    with pytest.raises(ValueError, match="n_estimators=1"):
        icl_attention(make_tabicl(random_weights, 2, "cpu", seed=0), Xq)
    with pytest.raises(ValueError, match="kv_cache=False"):
        icl_attention(make_tabicl(random_weights, 1, "cpu", seed=0, kv_cache=True), Xq)
    with pytest.raises(ValueError, match="not fitted"):
        icl_attention(make_tabicl(random_weights, 1, "cpu", seed=0), Xq)
    with pytest.raises(ValueError, match="attn"):
        mean_attention(np.zeros((2, 3)))
    y11 = np.arange(33) % 11
    X11 = np.random.default_rng(0).normal(size=(33, N_FEATURES))
    with pytest.raises(ValueError, match="11 classes"):
        icl_attention(make_tabicl(random_weights, 1, "cpu", seed=0).fit(X11, y11), Xq)
