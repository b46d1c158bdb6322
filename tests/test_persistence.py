"""intently.persistence: arrays saved and loaded exactly, mostly-zero arrays packed, damaged files refused."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from intently.persistence import load_arrays, save_arrays


def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    sparse = (rng.random((300, 64)) < 0.2) * rng.standard_normal((300, 64))
    return {
        "layer__kernel": sparse.astype(np.float32),  # packed
        "dense": rng.standard_normal((64, 64)).astype(np.float32),  # mostly nonzero: as it is
        "small": np.zeros((3, 3), np.float32),  # too small to pack
        "ids": np.arange(5000, dtype=np.int64) % 2,  # not floats: as it is
    }


def test_round_trip_is_exact_and_mostly_zero_arrays_are_packed(tmp_path):
    original = arrays()
    save_arrays(tmp_path, "w.npz", original)
    with zipfile.ZipFile(tmp_path / "w.npz") as stored:
        names = sorted(stored.namelist())
    assert "layer__kernel.bits.npy" in names and "layer__kernel.npy" not in names
    assert {"dense.npy", "small.npy", "ids.npy"} <= set(names)
    loaded = load_arrays(tmp_path, "w.npz")
    assert loaded.keys() == original.keys()
    for name, value in original.items():
        assert loaded[name].dtype == value.dtype and np.array_equal(loaded[name], value), name


def test_plain_npz_files_still_load(tmp_path):
    np.savez(tmp_path / "old.npz", a=np.ones((2, 2), np.float32))
    assert np.array_equal(load_arrays(tmp_path, "old.npz")["a"], np.ones((2, 2)))


def test_damaged_or_foreign_files_are_refused(tmp_path):
    original = arrays()
    save_arrays(tmp_path, "w.npz", original)
    with np.load(tmp_path / "w.npz") as stored:
        parts = {k: stored[k] for k in stored.files}
    parts["layer__kernel.values"] = parts["layer__kernel.values"][:-1]
    np.savez(tmp_path / "bad.npz", **parts)
    with pytest.raises(ValueError, match="values for"):
        load_arrays(tmp_path, "bad.npz")
    with pytest.raises(ValueError, match="not a plain name"):
        load_arrays(tmp_path, "../w.npz")
    with pytest.raises(ValueError, match="reserved suffix"):
        save_arrays(tmp_path, "x.npz", {"a.bits": np.zeros(3)})
