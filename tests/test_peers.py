import pytest
from conftest import blobs

from icl_support.evaluation.peers import PEER_NAMES, PEERS, make_peer


@pytest.mark.parametrize("name", PEERS)
def test_peers_separate_blobs(name):
    X, y = blobs(20, 4, 5, seed=2)
    clf = make_peer(name).fit(X, y)
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize("name", PEER_NAMES)
def test_peers_accept_one_row_per_class(name):
    """With one row per class every peer fits quietly and gives each context row back its own label."""
    X, y = blobs(1, 4, 5, seed=2)
    assert (make_peer(name).fit(X, y).predict(X) == y).all()


def test_unknown_peer():
    with pytest.raises(ValueError, match="unknown peer classifier 'svm'.*nearest_mean, knn, logreg"):
        make_peer("svm")
