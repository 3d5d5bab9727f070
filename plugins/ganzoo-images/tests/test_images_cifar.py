"""``cifar10``: md5-checked local folder (never unpickled otherwise), offline error."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from ganzoo.errors import DataUnavailableError
from ganzoo_images.cifar import CIFAR_FOLDER
from ganzoo_images.testdata import trust_cifar10, write_cifar10


class _Touch:
    """A pickle payload that creates a file when unpickled (must never happen)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def trust_fake_files(monkeypatch):
    """Make torchvision's md5 table match the fake files under ``root`` (as if they were official)."""
    return lambda root: trust_cifar10(root, monkeypatch.setattr)


def test_loads_checked_folder(tmp_path: Path, trust_fake_files, build_dataset, downloads) -> None:
    batches = write_cifar10(tmp_path)
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
    assert len(build_dataset("cifar10", {"split": "test"}, tmp_path / CIFAR_FOLDER)) == 4
    x64, _ = build_dataset("cifar10", {"split": "test", "resolution": 64}, tmp_path).dataset[0]
    assert x64.shape == (3, 64, 64) and float(x64.min()) >= -1 and float(x64.max()) <= 1
    assert downloads == []


def test_unofficial_files_are_never_unpickled(tmp_path: Path, build_dataset, downloads) -> None:
    write_cifar10(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / CIFAR_FOLDER / "data_batch_1").write_bytes(pickle.dumps(_Touch(marker)))
    with pytest.raises(DataUnavailableError) as err:
        build_dataset("cifar10", {}, tmp_path)
    msg = str(err.value)
    assert str(tmp_path / CIFAR_FOLDER) in msg and "data_batch_1 (md5 mismatch)" in msg
    assert not marker.exists() and downloads == []


def test_missing_file_is_named(tmp_path: Path, trust_fake_files, build_dataset) -> None:
    write_cifar10(tmp_path)
    trust_fake_files(tmp_path)
    (tmp_path / CIFAR_FOLDER / "data_batch_3").unlink()
    with pytest.raises(DataUnavailableError, match=r"data_batch_3 \(missing\)"):
        build_dataset("cifar10", {"split": "test"}, tmp_path)


def test_missing_offline_one_clear_error(tmp_path: Path, data_dir: Path, build_dataset, downloads, capsys) -> None:
    with pytest.raises(DataUnavailableError) as err:
        build_dataset("cifar10", {"split": "test"}, tmp_path)
    msg = str(err.value)
    assert "'cifar10'" in msg and "'test'" in msg and CIFAR_FOLDER in msg
    assert str(tmp_path) in msg and str(data_dir) in msg and "--data-root" in msg and "simulated offline" in msg
    assert downloads and downloads[0]["root"] == tmp_path and "cifar-10-python.tar.gz" in downloads[0]["url"]
    assert capsys.readouterr().out == ""
    assert not data_dir.exists()
