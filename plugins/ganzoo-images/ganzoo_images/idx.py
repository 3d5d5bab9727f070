"""A small, strict reader for the IDX format of MNIST-style files (raw or gzip-compressed).

Layout: two zero bytes, a type code (only ``0x08`` = unsigned byte is accepted), the number of
dimensions, one big-endian uint32 per dimension, then the data. Every check failure raises
:class:`ganzoo.errors.DataUnavailableError` naming the file; nothing is unpickled.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import torch

from ganzoo.errors import DataUnavailableError

__all__ = ["read_idx", "read_idx_images", "read_idx_labels"]

_UBYTE = 0x08


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        kind = "a valid gzip file" if path.suffix == ".gz" else "readable"
        raise DataUnavailableError(f"corrupt IDX file {path}: not {kind} ({type(exc).__name__}: {exc})") from None


def read_idx(path: Path, ndim: int) -> torch.Tensor:
    """Read an unsigned-byte IDX file with ``ndim`` dimensions into a uint8 tensor."""
    path = Path(path)
    data = _read_bytes(path)
    bad = f"corrupt IDX file {path}"
    if len(data) < 4:
        raise DataUnavailableError(f"{bad}: {len(data)} bytes, too short for an IDX header")
    if data[0] != 0 or data[1] != 0:
        raise DataUnavailableError(f"{bad}: bad magic number 0x{data[:4].hex()} (not an IDX file)")
    if data[2] != _UBYTE:
        raise DataUnavailableError(f"{bad}: data type 0x{data[2]:02x}, expected 0x08 (unsigned byte)")
    if data[3] != ndim:
        raise DataUnavailableError(f"{bad}: {data[3]} dimension(s), expected {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataUnavailableError(f"{bad}: truncated header ({len(data)} bytes)")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    count = 1
    for d in dims:
        count *= d
    if len(data) != header + count:
        raise DataUnavailableError(
            f"{bad}: header says {'x'.join(map(str, dims))} ({header + count} bytes) but the file has "
            f"{len(data)} bytes (truncated or wrong file)"
        )
    flat = torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8) if count else torch.empty(0, dtype=torch.uint8)
    return flat.reshape(dims)


def read_idx_images(path: Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Images ``[N, H, W]`` uint8; with ``size`` the ``(H, W)`` must match."""
    images = read_idx(path, 3)
    if size is not None and tuple(images.shape[1:]) != tuple(size):
        raise DataUnavailableError(
            f"corrupt IDX file {path}: images are {images.shape[1]}x{images.shape[2]}, expected {size[0]}x{size[1]}"
        )
    return images


def read_idx_labels(path: Path, num_classes: int | None = None) -> torch.Tensor:
    """Labels ``[N]`` int64; with ``num_classes`` every label must lie in ``0..num_classes-1``."""
    labels = read_idx(path, 1).long()
    if num_classes is not None and labels.numel() and int(labels.max()) >= num_classes:
        raise DataUnavailableError(
            f"corrupt IDX file {path}: label {int(labels.max())} out of range 0..{num_classes - 1}"
        )
    return labels
