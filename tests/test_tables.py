import numpy as np
import pytest
from sklearn.decomposition import PCA

from icl_support.core.device import check_rows, resolve_device
from icl_support.embedding.tables import reduce_width


def test_pca_is_fitted_on_the_whole_pool():
    rng = np.random.default_rng(0)
    pool, other = rng.normal(size=(40, 10)), rng.normal(size=(5, 10))
    p, (o,), kept = reduce_width(pool, [other], 3, seed=0)
    ref = PCA(3, random_state=0).fit(pool)
    np.testing.assert_allclose(o, ref.transform(other), atol=1e-5)
    assert p.shape == (40, 3) and p.dtype == np.float32 and 0 < kept < 1


def test_no_reduction_and_too_wide():
    pool = np.ones((5, 4))
    assert reduce_width(pool, [], 0, 0)[0] is pool
    with pytest.raises(ValueError, match="pca_dim=5 exceeds"):
        reduce_width(pool, [], 5, 0)


def test_check_rows():
    X = np.zeros((3, 2))
    check_rows(X, np.zeros(3), "ok")
    with pytest.raises(ValueError, match="2-D"):
        check_rows(np.zeros(3), np.zeros(3), "x")
    with pytest.raises(ValueError, match="labels of shape"):
        check_rows(X, np.zeros(4), "x")
    X[1, 1] = np.nan
    with pytest.raises(ValueError, match="1 NaN/inf"):
        check_rows(X, np.zeros(3), "x")


def test_cuda_request_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("has CUDA")
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device("cuda")
