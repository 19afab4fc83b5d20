import os
import stat

import numpy as np
import pytest

from icl_support.core.cache import CacheError, load_arrays, load_or_none, save_arrays

KEY = {"kind": "test", "n": 3}


def test_roundtrip(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert save_arrays(tmp_path / "x.npz", KEY, features=a)
    out = load_arrays(tmp_path / "x.npz", KEY)
    assert np.array_equal(out["features"], a) and set(out) == {"features"}
    assert load_arrays(tmp_path / "absent.npz", KEY) is None
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_truncated_file_is_detected_and_removed(tmp_path):
    path = tmp_path / "x.npz"
    save_arrays(path, KEY, features=np.ones((100, 10), np.float32))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CacheError, match="unreadable"):
        load_arrays(path, KEY)
    assert not path.exists()


def test_changed_values_fail_the_checksum(tmp_path):
    """A well-formed archive whose array no longer matches its stored checksum is refused."""
    path = tmp_path / "x.npz"
    save_arrays(path, KEY, features=np.zeros((5, 2), np.float32))
    with np.load(path, allow_pickle=False) as z:
        stored = {k: z[k] for k in z.files}
    stored["features"][2, 1] = 1.0
    np.savez(path, **stored)
    with pytest.warns(UserWarning, match="checksum"):
        assert load_or_none(path, KEY) is None
    assert not path.exists()


def test_other_key_is_not_used(tmp_path):
    path = tmp_path / "x.npz"
    save_arrays(path, KEY, features=np.zeros(3))
    with pytest.raises(CacheError, match="another key"):
        load_arrays(path, {**KEY, "n": 4})


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_keeps_result(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.warns(UserWarning, match="could not write"):
            assert save_arrays(ro / "x.npz", KEY, features=np.zeros(3)) is False
    finally:
        ro.chmod(stat.S_IRWXU)


def test_unwritable_path_keeps_result(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.warns(UserWarning, match="could not write"):
        assert save_arrays(blocker / "sub" / "x.npz", KEY, features=np.zeros(3)) is False
