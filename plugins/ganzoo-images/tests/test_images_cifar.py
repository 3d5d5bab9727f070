"""``cifar10``: md5-checked local folder (never unpickled otherwise), offline error."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ganzoo.errors import DataUnavailableError

FOLDER = "cifar-10-batches-py"


class _Touch:
    """A pickle payload that creates a file when unpickled (must never happen)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _fake_cifar(root: Path, n_per_batch: int = 4) -> dict[str, tuple[np.ndarray, list[int]]]:
    """A tiny CIFAR-10 python folder: 5 train batches, a test batch and the meta file."""
    folder = root / FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3 * 32 * 32), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        (folder / name).write_bytes(pickle.dumps({"data": data, "labels": labels}))
        batches[name] = (data, labels)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": ["c"] * 10}))
    return batches


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def trust_fake_files(monkeypatch):
    """Make torchvision's md5 table match the fake files under ``root`` (as if they were official)."""
    from torchvision.datasets import CIFAR10

    def trust(root: Path) -> None:
        folder = root / FOLDER
        monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", _md5(folder / f"data_batch_{i}")] for i in range(1, 6)])
        monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", _md5(folder / "test_batch")]])
        monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": _md5(folder / "batches.meta")})

    return trust


def test_loads_checked_folder(tmp_path: Path, trust_fake_files, build_dataset, downloads) -> None:
    batches = _fake_cifar(tmp_path)
    trust_fake_files(tmp_path)
    data = build_dataset("cifar10", {"split": "test"}, tmp_path)
    assert len(data) == 4 and data.tensors is None  # lazy (uint8 in memory, float on access)
    info = data.info
    assert info.shape == (3, 32, 32) and info.num_classes == 10 and info.extras["mode_labels"] == "label"
    raw, labels = batches["test_batch"]
    x, y = data.dataset[2]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    expected = torch.from_numpy(raw[2].reshape(3, 32, 32)).float() / 127.5 - 1
    assert torch.allclose(x, expected) and int(y) == labels[2]
    assert len(build_dataset("cifar10", {}, tmp_path)) == 20  # train: 5 batches
    # --data-root may also name the cifar-10-batches-py folder itself
    assert len(build_dataset("cifar10", {"split": "test"}, tmp_path / FOLDER)) == 4
    x64, _ = build_dataset("cifar10", {"split": "test", "resolution": 64}, tmp_path).dataset[0]
    assert x64.shape == (3, 64, 64) and float(x64.min()) >= -1 and float(x64.max()) <= 1
    assert downloads == []


def test_unofficial_files_are_never_unpickled(tmp_path: Path, build_dataset, downloads) -> None:
    _fake_cifar(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / FOLDER / "data_batch_1").write_bytes(pickle.dumps(_Touch(marker)))
    with pytest.raises(DataUnavailableError) as err:
        build_dataset("cifar10", {}, tmp_path)
    msg = str(err.value)
    assert str(tmp_path / FOLDER) in msg and "data_batch_1 (md5 mismatch)" in msg
    assert not marker.exists() and downloads == []


def test_missing_file_is_named(tmp_path: Path, trust_fake_files, build_dataset) -> None:
    _fake_cifar(tmp_path)
    trust_fake_files(tmp_path)
    (tmp_path / FOLDER / "data_batch_3").unlink()
    with pytest.raises(DataUnavailableError, match=r"data_batch_3 \(missing\)"):
        build_dataset("cifar10", {"split": "test"}, tmp_path)


def test_missing_offline_one_clear_error(tmp_path: Path, data_dir: Path, build_dataset, downloads, capsys) -> None:
    with pytest.raises(DataUnavailableError) as err:
        build_dataset("cifar10", {"split": "test"}, tmp_path)
    msg = str(err.value)
    assert "'cifar10'" in msg and "'test'" in msg and FOLDER in msg
    assert str(tmp_path) in msg and str(data_dir) in msg and "--data-root" in msg and "simulated offline" in msg
    assert downloads and downloads[0]["root"] == tmp_path and "cifar-10-python.tar.gz" in downloads[0]["url"]
    assert capsys.readouterr().out == ""
    assert not data_dir.exists()
