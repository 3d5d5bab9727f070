"""``image-folder``: every image under a folder (recursive), resized and centre-cropped.

Files are checked up front so a bad file never stops training half-way: unreadable images are
skipped with ONE :class:`UnreadableImagesWarning` that counts and names them (files without an image
extension are ignored and listed in the same warning; hidden files are ignored silently).
Small folders (decoded size up to :data:`CACHE_LIMIT_BYTES`) are fully decoded once and cached as
uint8 tensors (and handed to the engine as float tensors when those fit the materialise limit);
larger ones are header-verified up front and decoded per item.

Labels: the index (in sorted order) of the top-level subfolder holding the image, as in
torchvision's ``ImageFolder``; images directly in the folder get ``-1``. ``labels = "none"`` gives
``-1`` everywhere.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import torch
from PIL import Image
from torch.utils.data import Dataset

from ganzoo import DatasetSpec, GanData, Option
from ganzoo.errors import DataUnavailableError
from ganzoo_images.imagedata import image_data, image_info, to_unit_range

__all__ = [
    "IMAGE_EXTENSIONS",
    "CACHE_LIMIT_BYTES",
    "UnreadableImagesWarning",
    "list_folder",
    "decode_image",
    "LazyImageFiles",
    "ImageFolderDataset",
]

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm"}
)
CACHE_LIMIT_BYTES = 512 << 20
"""Folders whose decoded uint8 images fit in this many bytes are decoded once and kept in memory."""
_NAMED = 5  # how many bad files the warning names

T = TypeVar("T")


class UnreadableImagesWarning(UserWarning):
    """Some files of an image folder were skipped."""


def list_folder(root: Path) -> tuple[list[Path], list[Path]]:
    """``(image files, other files)`` under ``root``, recursively, sorted by path; hidden entries are
    skipped; symlinked folders are followed once. Only regular files (or links to them) count as images: a
    FIFO or device named ``x.png`` is listed among the others, never opened."""
    images: list[Path] = []
    others: list[Path] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink loop, or the same folder linked twice
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if not path.is_file():  # FIFOs, sockets, devices, dangling links: reading one could block
                others.append(path)
                continue
            (images if path.suffix.lower() in IMAGE_EXTENSIONS else others).append(path)
    return sorted(images), sorted(others)


def decode_image(path: Path, resolution: int, channels: int) -> torch.Tensor:
    """Fully decode ``path`` to uint8 ``[C, R, R]``: shorter side resized to ``R``, centre-cropped."""
    from torchvision.transforms import functional as TF

    with Image.open(path) as im:
        im = im.convert("RGB" if channels == 3 else "L")  # decodes the whole image (first frame)
    if min(im.size) < 1:
        raise ValueError("empty image")
    im = TF.center_crop(TF.resize(im, resolution, antialias=True), [resolution, resolution])
    return TF.pil_to_tensor(im)


def _verify_header(path: Path) -> None:
    with Image.open(path) as im:
        im.verify()


def _try(fn: Callable[[Path], T], path: Path) -> T | str:
    """``fn(path)``, or a short reason why the file is unreadable."""
    try:
        return fn(path)
    except Exception as exc:  # noqa: BLE001 - any failure means "unreadable"
        text = " ".join(str(exc).replace(f"'{path}'", "").replace(str(path), "").split())
        return (text or type(exc).__name__)[:120]


def _map(fn: Callable[[Path], T], paths: Sequence[Path]) -> list[T | str]:
    workers = min(8, os.cpu_count() or 1)
    if workers <= 1 or len(paths) < 64:
        return [_try(fn, p) for p in paths]
    with ThreadPoolExecutor(workers) as pool:  # PIL releases the GIL while decoding
        return list(pool.map(lambda p: _try(fn, p), paths))


class LazyImageFiles(Dataset):
    """Items decoded from the files on access (for folders too large to cache).

    A file that passed the up-front header check but fails to decode (e.g. a truncated JPEG) is
    replaced by the next decodable file, with one warning per file, so training goes on."""

    _RETRIES = 16

    def __init__(self, paths: list[Path], labels: torch.Tensor, resolution: int, channels: int) -> None:
        self.paths, self.labels = paths, labels
        self.resolution, self.channels = resolution, channels
        self._warned: set[Path] = set()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        for k in range(self._RETRIES):
            i = (index + k) % len(self.paths)
            path = self.paths[i]
            try:
                x = decode_image(path, self.resolution, self.channels)
            except Exception as exc:  # noqa: BLE001 - e.g. truncated data, or the file changed
                if path not in self._warned:
                    self._warned.add(path)
                    warnings.warn(f"image-folder: cannot decode {path} ({type(exc).__name__}: {exc}); "
                                  "using another image in its place", UnreadableImagesWarning, stacklevel=2)
                continue
            return to_unit_range(x), self.labels[i]
        raise DataUnavailableError(
            f"image-folder: {self._RETRIES} files in a row from {self.paths[index]} on cannot be decoded"
        )


def _warn(root: Path, bad: list[tuple[Path, str]], ignored: list[Path]) -> None:
    def rel(p: Path) -> str:
        try:
            return str(p.relative_to(root))
        except ValueError:
            return str(p)

    parts = []
    if bad:
        named = ", ".join(f"{rel(p)} ({why})" for p, why in bad[:_NAMED])
        more = f" and {len(bad) - _NAMED} more" if len(bad) > _NAMED else ""
        parts.append(f"skipped {len(bad)} unreadable image file(s): {named}{more}")
    if ignored:
        named = ", ".join(rel(p) for p in ignored[:_NAMED])
        more = f" and {len(ignored) - _NAMED} more" if len(ignored) > _NAMED else ""
        parts.append(f"ignored {len(ignored)} file(s) without an image extension: {named}{more}")
    warnings.warn(f"image-folder {root}: " + "; ".join(parts), UnreadableImagesWarning, stacklevel=3)


class ImageFolderDataset(DatasetSpec):
    name = "image-folder"
    summary = "any folder of images (recursive; png/jpg/bmp/webp/gif/tiff...), resized and centre-cropped"
    reference = "torchvision ImageFolder conventions, https://pytorch.org/vision/stable/datasets.html"
    options = {
        "path": Option("", "the image folder (empty: --data-root)"),
        "resolution": Option(64, "image side in pixels (shorter side resized, then centre-cropped)",
                             minimum=4, maximum=1024),
        "channels": Option(3, "3 (RGB) or 1 (greyscale)", choices=(3, 1)),
        "labels": Option("subfolder", "subfolder: index of the top-level subfolder (-1 at the top); none: -1",
                         choices=("subfolder", "none")),
    }

    def _root(self, data_root: Path | None) -> Path:
        raw = str(self.opts["path"]).strip()
        root = Path(raw).expanduser() if raw else (Path(data_root).expanduser() if data_root is not None else None)
        if root is None:
            raise DataUnavailableError(
                "dataset 'image-folder' needs a folder: use --set dataset.path=DIR or --data-root DIR"
            )
        if not root.exists():
            raise DataUnavailableError(f"dataset 'image-folder': folder {root} does not exist")
        if not root.is_dir():
            raise DataUnavailableError(f"dataset 'image-folder': {root} is not a folder")
        return root

    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        root = self._root(data_root)
        res, channels = int(self.opts["resolution"]), int(self.opts["channels"])
        paths, ignored = list_folder(root)
        cache = len(paths) * channels * res * res <= CACHE_LIMIT_BYTES
        results = _map((lambda p: decode_image(p, res, channels)) if cache else _verify_header, paths)
        bad = [(p, r) for p, r in zip(paths, results) if isinstance(r, str)]
        good = [(p, r) for p, r in zip(paths, results) if not isinstance(r, str)]
        if bad or ignored:
            _warn(root, bad, ignored)
        if not good:
            exts = ", ".join(sorted(IMAGE_EXTENSIONS))
            raise DataUnavailableError(
                f"dataset 'image-folder': no readable image in {root} ({len(bad)} unreadable image file(s), "
                f"{len(ignored)} other file(s)); supported extensions: {exts}"
            )
        good_paths = [p for p, _ in good]
        labels, class_names = self._labels(root, good_paths)
        info = image_info(
            self.name,
            (channels, res, res),
            num_classes=len(class_names) or None,
            num_modes=None,
            extras={"labels": "top-level subfolder index" if class_names else "none", "class_names": class_names},
            class_names=tuple(class_names) or None,
        )
        if cache:
            images = torch.stack([r for _, r in good])  # type: ignore[misc]
            return image_data(info, images, labels)
        return GanData(info=info, dataset=LazyImageFiles(good_paths, labels, res, channels))

    def _labels(self, root: Path, paths: list[Path]) -> tuple[torch.Tensor, list[str]]:
        if self.opts["labels"] == "none":
            return torch.full((len(paths),), -1, dtype=torch.int64), []
        tops = [p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else None for p in paths]
        class_names = sorted({t for t in tops if t is not None})
        index = {c: i for i, c in enumerate(class_names)}
        labels = torch.tensor([index[t] if t is not None else -1 for t in tops], dtype=torch.int64)
        return labels, class_names
