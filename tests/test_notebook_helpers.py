import json

import numpy as np

from icl_support.book.notebook import json_safe, provenance, write_json
from icl_support.core.config import resolve_settings


def test_json_is_strict(tmp_path):
    path = write_json(
        tmp_path / "r.json", {"a": np.float64(0.5), "b": float("nan"), "c": [np.int64(2), float("inf")], "d": (1,)}
    )
    assert json.loads(path.read_text()) == {"a": 0.5, "b": None, "c": [2, None], "d": [1]}
    assert json_safe({1: np.float32(2.0)}) == {"1": 2.0}


def test_provenance_labels_random_weights(random_weights):
    p = provenance(resolve_settings("smoke"), random_weights, extra=1)
    assert p["tabicl_weights"] == "random" and "RANDOM WEIGHTS" in p["tabicl_label"]
    assert p["settings"]["profile"] == "smoke" and p["extra"] == 1 and p["git_commit"]
