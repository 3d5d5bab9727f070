"""``image-folder``: nested good images, bad files skipped with one warning, clear errors."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image

import ganzoo_images.folder as folder_mod
from ganzoo.errors import DataUnavailableError
from ganzoo_images.folder import LazyImageFiles, UnreadableImagesWarning


def _png_bytes(size=(20, 12), colour=(255, 0, 0), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, format="PNG")
    return buf.getvalue()


def _save(path: Path, image: Image.Image, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kw)


def _write(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    """6 good images in nested folders, 5 bad image files, 1 non-image file, 1 hidden file."""
    root = tmp_path / "imgs"
    _save(root / "a" / "red.png", Image.new("RGB", (40, 30), (255, 0, 0)))
    _save(root / "a" / "deep" / "deeper" / "green.jpg", Image.new("RGB", (30, 50), (0, 255, 0)), quality=95)
    _save(root / "b" / "blue.bmp", Image.new("RGB", (16, 16), (0, 0, 255)))
    _save(root / "b" / "grey.png", Image.new("L", (20, 20), 128))
    _save(root / "c" / "anim.gif", Image.new("P", (24, 24), 3))
    _save(root / "top.webp", Image.new("RGB", (32, 32), (255, 255, 255)))
    _write(root / "a" / "corrupt.png", b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    _write(root / "b" / "empty.jpg", b"")
    _write(root / "b" / "truncated.png", _png_bytes((64, 64))[:60])
    _write(root / "c" / "fake.jpeg", b"this is not an image")
    _write(root / "c" / "noise.gif", bytes(range(256)) * 4)
    _write(root / "notes.txt", b"hello")
    _write(root / ".hidden.png", b"junk")
    return root


def _build_with_warnings(build_dataset, options, data_root=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = build_dataset("image-folder", options, data_root)
    ours = [w for w in caught if issubclass(w.category, UnreadableImagesWarning)]
    return data, ours


def test_good_images_kept_bad_ones_warned_once(mixed_folder: Path, build_dataset) -> None:
    data, warned = _build_with_warnings(build_dataset, {"path": str(mixed_folder), "resolution": 16})
    assert len(warned) == 1
    msg = str(warned[0].message)
    assert str(mixed_folder) in msg and "skipped 5 unreadable image file(s)" in msg
    for name in ("corrupt.png", "empty.jpg", "truncated.png", "fake.jpeg", "noise.gif"):
        assert name in msg
    assert "ignored 1 file(s) without an image extension: notes.txt" in msg
    assert ".hidden" not in msg
    x, y = data.tensors
    assert x.shape == (6, 3, 16, 16) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    # sorted by path: a/deep/deeper/green, a/red, b/blue, b/grey, c/anim, top
    assert y.tolist() == [0, 0, 1, 1, 2, -1]
    assert data.info.num_classes == 3 and data.info.extras["class_names"] == ["a", "b", "c"]
    assert data.info.shape == (3, 16, 16) and data.info.kind == "image"
    means = x.mean(dim=(2, 3))
    assert torch.allclose(means[0], torch.tensor([-1.0, 1.0, -1.0]), atol=0.05)  # green (jpeg)
    assert torch.allclose(means[1], torch.tensor([1.0, -1.0, -1.0]), atol=0.02)  # red
    assert torch.allclose(means[3], torch.full((3,), 128 / 127.5 - 1), atol=0.02)  # grey -> RGB


def test_data_root_greyscale_and_no_labels(mixed_folder: Path, build_dataset) -> None:
    data, warned = _build_with_warnings(build_dataset, {"channels": 1, "resolution": 8, "labels": "none"}, mixed_folder)
    assert len(warned) == 1
    x, y = data.tensors
    assert x.shape == (6, 1, 8, 8) and torch.all(y == -1) and data.info.num_classes is None


def test_resize_shorter_side_then_centre_crop(tmp_path: Path, build_dataset) -> None:
    image = Image.new("RGB", (80, 40), (0, 255, 0))  # wide: blue | green | red quarters
    image.paste((0, 0, 255), (0, 0, 20, 40))
    image.paste((255, 0, 0), (60, 0, 80, 40))
    _save(tmp_path / "wide.png", image)
    data, warned = _build_with_warnings(build_dataset, {"resolution": 16}, tmp_path)
    assert warned == []
    x = data.tensors[0][0]
    assert x.shape == (3, 16, 16)
    inner = x[:, :, 1:-1]  # centre crop keeps the green half (edge columns may blend)
    assert torch.allclose(inner, torch.tensor([-1.0, 1.0, -1.0]).view(3, 1, 1).expand_as(inner), atol=0.05)


def test_clean_folder_gives_no_warning(tmp_path: Path, build_dataset) -> None:
    for i in range(3):
        _save(tmp_path / f"{i}.png", Image.new("RGB", (10, 10), (i * 100, 0, 0)))
    data, warned = _build_with_warnings(build_dataset, {"resolution": 8}, tmp_path)
    assert warned == [] and len(data) == 3 and data.info.num_classes is None


def test_large_folder_is_verified_then_lazy(mixed_folder: Path, build_dataset, monkeypatch) -> None:
    monkeypatch.setattr(folder_mod, "CACHE_LIMIT_BYTES", 0)
    for p in (mixed_folder / "b" / "truncated.png", mixed_folder / "c" / "noise.gif"):
        p.unlink()  # header checks only catch files that do not even open
    data, warned = _build_with_warnings(build_dataset, {"resolution": 16}, mixed_folder)
    assert len(warned) == 1 and "skipped 3 unreadable" in str(warned[0].message)
    assert data.tensors is None and isinstance(data.dataset, LazyImageFiles) and len(data) == 6
    x, y = data.dataset[1]
    assert x.shape == (3, 16, 16) and int(y) == 0
    assert torch.allclose(x.mean(dim=(1, 2)), torch.tensor([1.0, -1.0, -1.0]), atol=0.02)  # a/red.png


def test_lazy_item_that_fails_late_is_replaced(tmp_path: Path, build_dataset, monkeypatch) -> None:
    monkeypatch.setattr(folder_mod, "CACHE_LIMIT_BYTES", 0)
    _save(tmp_path / "a.png", Image.new("RGB", (10, 10), (255, 0, 0)))
    _save(tmp_path / "b.png", Image.new("RGB", (10, 10), (0, 255, 0)))
    data = build_dataset("image-folder", {"resolution": 8}, tmp_path)
    (tmp_path / "a.png").write_bytes(_png_bytes((64, 64))[:80])  # breaks after the up-front check
    with pytest.warns(UnreadableImagesWarning, match="a.png"):
        x, _ = data.dataset[0]
    assert torch.allclose(x.mean(dim=(1, 2)), torch.tensor([-1.0, 1.0, -1.0]), atol=0.02)  # b.png instead


def test_all_bad_folder_is_an_error(tmp_path: Path, build_dataset) -> None:
    _write(tmp_path / "x" / "a.png", b"nope")
    _write(tmp_path / "b.jpg", b"")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DataUnavailableError) as err:
            build_dataset("image-folder", {}, tmp_path)
    assert str(tmp_path) in str(err.value) and "no readable image" in str(err.value)
    assert "2 unreadable" in str(err.value)
    assert sum(issubclass(w.category, UnreadableImagesWarning) for w in caught) == 1


def test_empty_folder_is_an_error(tmp_path: Path, build_dataset) -> None:
    with pytest.raises(DataUnavailableError, match="no readable image"):
        build_dataset("image-folder", {"path": str(tmp_path)})


def test_missing_folder_and_no_folder_are_errors(tmp_path: Path, build_dataset) -> None:
    with pytest.raises(DataUnavailableError, match=r"does not exist"):
        build_dataset("image-folder", {"path": str(tmp_path / "nope")})
    with pytest.raises(DataUnavailableError, match=r"dataset.path=DIR or --data-root DIR"):
        build_dataset("image-folder", {}, None)
    _write(tmp_path / "file.png", _png_bytes())
    with pytest.raises(DataUnavailableError, match="not a folder"):
        build_dataset("image-folder", {}, tmp_path / "file.png")


def test_path_option_wins_over_data_root(tmp_path: Path, build_dataset) -> None:
    _write(tmp_path / "one" / "x.png", _png_bytes())
    _write(tmp_path / "two" / "y.png", _png_bytes())
    _write(tmp_path / "two" / "z.png", _png_bytes())
    data = build_dataset("image-folder", {"path": str(tmp_path / "two"), "resolution": 8}, tmp_path / "one")
    assert len(data) == 2


@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_in_folder_is_skipped_not_opened(tmp_path: Path, build_dataset) -> None:
    """A FIFO named like an image would block the reader forever; it is skipped like any non-image."""
    import os

    root = tmp_path / "imgs"
    _save(root / "red.png", Image.new("RGB", (16, 16), (255, 0, 0)))
    _save(root / "blue.png", Image.new("RGB", (16, 16), (0, 0, 255)))
    os.mkfifo(root / "pipe.png")
    data, warned = _build_with_warnings(build_dataset, {"path": str(root), "resolution": 16})
    assert len(data) == 2
    assert len(warned) == 1 and "pipe.png" in str(warned[0].message)
