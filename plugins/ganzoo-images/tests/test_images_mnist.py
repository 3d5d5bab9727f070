"""``mnist`` / ``fashion-mnist`` from tiny IDX files written here; corrupt files; offline errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganzoo.errors import DataUnavailableError, GanzooError
from ganzoo_images.idx import read_idx

from ganzoo_images.testdata import idx_bytes, tiny_digits


def expected_float(images: torch.Tensor) -> torch.Tensor:
    return images.unsqueeze(1).float() / 127.5 - 1


@pytest.mark.parametrize("gz", [True, False])
def test_reads_test_split_from_data_root(tmp_path: Path, write_split, build_dataset, downloads, gz: bool) -> None:
    images, labels = write_split(tmp_path / "data", "test", n=20, gz=gz)
    data = build_dataset("mnist", {"split": "test"}, tmp_path / "data")
    x, y = data.tensors
    assert x.shape == (20, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.allclose(x, expected_float(images)) and torch.equal(y, labels)
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    xi, yi = data.dataset[3]
    assert torch.equal(xi, x[3]) and int(yi) == int(labels[3])
    info = data.info
    assert (info.kind, info.shape, info.value_range) == ("image", (1, 28, 28), (-1.0, 1.0))
    assert info.num_classes == info.num_modes == 10 and info.extras["mode_labels"] == "label"
    assert downloads == []  # local files: no download attempt


def test_reads_train_split_in_torchvision_layout(tmp_path: Path, write_split, build_dataset) -> None:
    images, labels = write_split(tmp_path / "MNIST" / "raw", "train", n=30, gz=False)
    write_split(tmp_path / "MNIST" / "raw", "test", n=10, seed=5)
    x, y = build_dataset("mnist", {}, tmp_path).tensors
    assert x.shape[0] == 30 and torch.equal(y, labels)
    assert torch.allclose(x, expected_float(images))
    assert build_dataset("mnist", {"split": "test"}, tmp_path).tensors[0].shape[0] == 10


def test_fashion_uses_its_own_folder(tmp_path: Path, write_split, build_dataset, downloads) -> None:
    images, _ = write_split(tmp_path / "FashionMNIST" / "raw", "test", n=12)
    data = build_dataset("fashion-mnist", {"split": "test"}, tmp_path)
    assert torch.allclose(data.tensors[0], expected_float(images))
    assert data.info.name == "fashion-mnist" and data.info.extras["class_names"][9] == "Ankle boot"
    with pytest.raises(DataUnavailableError):  # MNIST does not read Fashion-MNIST's folder
        build_dataset("mnist", {"split": "test"}, tmp_path)


def test_default_data_dir_is_searched(data_dir: Path, write_split, build_dataset) -> None:
    write_split(data_dir / "MNIST" / "raw", "test", n=8)
    assert len(build_dataset("mnist", {"split": "test"}, None)) == 8


@pytest.mark.parametrize("resolution", [32, 64])
def test_resolution_resize(tmp_path: Path, write_split, build_dataset, resolution: int) -> None:
    images, _ = write_split(tmp_path, "test", n=10)
    x = build_dataset("mnist", {"split": "test", "resolution": resolution}, tmp_path).tensors[0]
    assert x.shape == (10, 1, resolution, resolution)
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    ref = F.interpolate(images.unsqueeze(1).float(), size=(resolution, resolution), mode="bilinear",
                        align_corners=False) / 127.5 - 1
    assert float((x - ref).abs().max()) <= 1 / 127.5 + 1e-6  # up to uint8 rounding


# ----------------------------------------------------------------------------- corrupt files


def _write(path: Path, blob: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return path


def _corrupt_cases() -> list[tuple[str, str, bytes]]:
    images, labels = tiny_digits(5)
    good = idx_bytes(images)
    return [
        ("bad magic", "t10k-images-idx3-ubyte", b"\x12\x34" + good[2:]),
        ("wrong type code", "t10k-images-idx3-ubyte", good[:2] + b"\x0d" + good[3:]),
        ("wrong ndim", "t10k-images-idx3-ubyte", idx_bytes(images.flatten(1))),
        ("truncated", "t10k-images-idx3-ubyte", good[:-100]),
        ("trailing bytes", "t10k-images-idx3-ubyte", good + b"\x00" * 7),
        ("short header", "t10k-images-idx3-ubyte", good[:9]),
        ("not gzip", "t10k-images-idx3-ubyte.gz", good),
        ("truncated gzip", "t10k-images-idx3-ubyte.gz", gzip.compress(good)[:-40]),
        ("wrong image size", "t10k-images-idx3-ubyte", idx_bytes(images[:, :27, :])),
        ("label out of range", "t10k-labels-idx1-ubyte", idx_bytes(torch.tensor([1, 2, 3, 4, 12]))),
    ]


@pytest.mark.parametrize(("case", "name", "blob"), _corrupt_cases(), ids=[c[0] for c in _corrupt_cases()])
def test_corrupt_file_names_the_file(tmp_path: Path, write_split, build_dataset, downloads, case, name, blob) -> None:
    write_split(tmp_path, "test", n=5, gz=False)
    which = "images" if "images" in name else "labels"
    for good in tmp_path.glob(f"t10k-{which}*"):  # replace the good file by the corrupt one
        good.unlink()
    bad = _write(tmp_path / name, blob)
    with pytest.raises(DataUnavailableError) as err:
        build_dataset("mnist", {"split": "test"}, tmp_path)
    assert str(bad) in str(err.value) and "corrupt" in str(err.value)
    assert isinstance(err.value, GanzooError)
    assert downloads == []  # a corrupt local file is reported, not silently replaced


def test_count_mismatch_names_both_files(tmp_path: Path, build_dataset) -> None:
    images, labels = tiny_digits(6)
    _write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(images))
    _write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(labels[:4]))
    with pytest.raises(DataUnavailableError, match="6 images.*4 labels"):
        build_dataset("mnist", {"split": "test"}, tmp_path)


def test_read_idx_roundtrip(tmp_path: Path) -> None:
    data = torch.arange(24, dtype=torch.uint8).reshape(2, 3, 4)
    p = _write(tmp_path / "x-idx3-ubyte.gz", gzip.compress(idx_bytes(data)))
    assert torch.equal(read_idx(p, 3), data)
    with pytest.raises(DataUnavailableError, match=r"3 dimension\(s\), expected 1"):
        read_idx(p, 1)


# ----------------------------------------------------------------------------- missing files, offline


def test_missing_files_offline_one_clear_error(tmp_path: Path, data_dir: Path, build_dataset, downloads) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    with pytest.raises(DataUnavailableError) as err:
        build_dataset("mnist", {"split": "test"}, root)
    msg = str(err.value)
    assert "'mnist'" in msg and "'test'" in msg
    assert "t10k-images-idx3-ubyte" in msg and "t10k-labels-idx1-ubyte" in msg
    for d in (root, root / "MNIST" / "raw", data_dir, data_dir / "MNIST" / "raw"):
        assert str(d) in msg
    assert "--data-root" in msg and "dataset.split" in msg and "simulated offline" in msg
    assert "Traceback" not in msg and "\n" not in msg
    assert err.value.__cause__ is None and err.value.__context__ is None
    # the real torchvision path tried to download, into --data-root ...
    assert downloads and all(c["root"] == root / "MNIST" / "raw" for c in downloads)
    assert all(c["url"].endswith("-ubyte.gz") for c in downloads)
    # ... and left no empty folders behind
    assert list(root.iterdir()) == [] and not data_dir.exists()


def test_missing_without_data_root_downloads_to_default_dir(data_dir: Path, build_dataset, downloads, capsys) -> None:
    with pytest.raises(DataUnavailableError, match="fashion-mnist"):
        build_dataset("fashion-mnist", {"split": "train"}, None)
    assert downloads and downloads[0]["root"] == data_dir / "FashionMNIST" / "raw"
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # torchvision's prints are swallowed


def test_missing_train_suggests_test_split(tmp_path: Path, write_split, build_dataset) -> None:
    write_split(tmp_path, "test", n=5)
    with pytest.raises(DataUnavailableError, match=r"test split is there .*--set dataset.split=test"):
        build_dataset("mnist", {"split": "train"}, tmp_path)


def test_download_success_is_used(tmp_path: Path, data_dir: Path, build_dataset, monkeypatch) -> None:
    """When torchvision's download works, the downloaded files are read (here: a fake mirror)."""
    import torchvision.datasets.mnist as tv_mnist

    images, labels = tiny_digits(10, seed=9)
    blobs = {"images": idx_bytes(images), "labels": idx_bytes(labels)}

    def fake_download(url: str, download_root: str, filename: str, md5: str | None = None, **_: object) -> None:
        raw = Path(download_root) / filename.removesuffix(".gz")
        raw.parent.mkdir(parents=True, exist_ok=True)
        raw.write_bytes(blobs["images" if "images" in filename else "labels"])

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", fake_download)
    x, y = build_dataset("mnist", {"split": "test"}, None).tensors
    assert torch.equal(y, labels.long()) and torch.allclose(x, expected_float(images))
    assert (data_dir / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()
