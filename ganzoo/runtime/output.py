"""Writing samples to ``.npy`` (streamed) and ``.png`` (image grid or 2D scatter plot), torch-free."""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.files import atomic_path, check_free_space, signals_raise  # no torch
from ganzoo.runtime.errors import ConfigError

MAX_PNG_SAMPLES = 4096
SUFFIXES = (".png", ".npy")
MIN_GRID_WIDTH = 512
"""Image grids narrower than this are enlarged by default (an integer, nearest-neighbour factor)."""
MAX_SCALE = 16


def write_npy(
    path: Path, batches: Iterable[np.ndarray], n: int, progress: Callable[[int], None] | None = None,
) -> tuple[int, ...]:
    """Stream ``n`` samples from ``batches`` into ``path``, one batch in memory at a time.

    The free space is checked first (the size is known after the first batch); the file is written
    sequentially (no sparse preallocation) into a temporary file that is removed on any failure,
    SIGTERM and SIGHUP included. ``progress(k)`` is called after each batch of ``k`` samples.
    Returns the array's shape."""
    it = iter(batches)
    first = np.asarray(next(it), dtype=np.float32)
    shape = (n, *first.shape[1:])
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": shape}
    check_free_space(Path(path).parent, 4 * math.prod(shape) + 4096, f"{n:,} samples of shape {list(shape[1:])}")
    with signals_raise(), atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            pos = 0
            for batch in _chain(first, it):
                batch = np.ascontiguousarray(batch, dtype=np.float32)
                if batch.shape[1:] != shape[1:] or pos + len(batch) > n:
                    raise RuntimeError(f"batch of shape {batch.shape} does not fit {shape} at sample {pos}")
                fh.write(batch.tobytes())
                pos += len(batch)
                if progress is not None:
                    progress(len(batch))
            if pos != n:
                raise RuntimeError(f"expected {n} samples, got {pos}")
    return shape


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of a uint8 ``[H, W]`` (grey) or ``[H, W, 3]`` (RGB) array (no dependency)."""
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError("expected a uint8 [H, W] or [H, W, 3] array")
    h, w = pixels.shape[:2]
    colour = 0 if pixels.ndim == 2 else 2
    rows = np.ascontiguousarray(pixels).reshape(h, -1)
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def image_grid(x: np.ndarray, padding: int = 2) -> np.ndarray:
    """Images ``[N, C, H, W]`` in [-1, 1] (C = 1 or 3) -> a uint8 grid ``[H', W']`` or ``[H', W', 3]``."""
    n, c, h, w = x.shape
    if c not in (1, 3):
        raise ConfigError(f"-o .png: images with {c} channels cannot be drawn (1 or 3 needed); write .npy")
    ncol = max(1, int(math.ceil(math.sqrt(n))))
    nrow = int(math.ceil(n / ncol))
    grid = np.zeros((c, padding + nrow * (h + padding), padding + ncol * (w + padding)), dtype=np.uint8)
    pix = np.round((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    for i in range(n):
        r, k = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        grid[:, top:top + h, left:left + w] = pix[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def default_scale(width: int) -> int:
    """The smallest integer factor that makes a grid ``width`` pixels wide at least :data:`MIN_GRID_WIDTH`
    (16 px images: 64 samples give a 146 px grid, shown at 4x)."""
    return max(1, min(MAX_SCALE, math.ceil(MIN_GRID_WIDTH / max(1, width))))


def upscale(pixels: np.ndarray, scale: int | None = None) -> np.ndarray:
    """``pixels`` ``[H, W(, 3)]`` enlarged ``scale`` times, nearest neighbour (None: :func:`default_scale`)."""
    k = default_scale(pixels.shape[1]) if scale is None else int(scale)
    if not 1 <= k <= MAX_SCALE:
        raise ConfigError(f"--scale {k}: expected 1 to {MAX_SCALE}")
    return pixels if k == 1 else pixels.repeat(k, axis=0).repeat(k, axis=1)


REAL_COLOR, FAKE_COLOR, OFF_COLOR = "#9ecae1", "#d62728", "#7f7f7f"


def draw_points(ax: Any, x: np.ndarray, *, real: np.ndarray | None = None, centres: object = None,
                high_quality: np.ndarray | None = None, color: str = FAKE_COLOR, size: float = 4.0) -> None:
    """2D points on a matplotlib axes: generated ``x`` in ``color`` (grey where ``high_quality`` is False) over
    ``real`` points (light blue), with the mixture ``centres`` as black crosses."""
    hq = np.ones(len(x), dtype=bool) if high_quality is None else high_quality
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=size, c=REAL_COLOR, alpha=0.35, linewidths=0, rasterized=True, label="real")
    if not hq.all():
        ax.scatter(x[~hq, 0], x[~hq, 1], s=size, c=OFF_COLOR, alpha=0.35, linewidths=0, rasterized=True, label="not high quality")
    ax.scatter(x[hq, 0], x[hq, 1], s=size, c=color, alpha=0.7, linewidths=0, rasterized=True, label="generated")
    c = np.asarray([] if centres is None else centres, dtype=np.float64)
    if c.ndim == 2 and c.shape[1] == 2:
        ax.scatter(c[:, 0], c[:, 1], s=size * 5, marker="+", c="black", linewidths=size / 4, label="modes")


def scatter_png(x: np.ndarray, value_range: tuple[float, float] | None, centres: object = None,
                real: np.ndarray | None = None, title: str = "") -> bytes:
    """A PNG scatter plot of 2D points (see :func:`draw_points`; needs matplotlib)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("-o .png: drawing 2D samples needs matplotlib (not installed); write .npy instead") from None
    fig = Figure(figsize=(4, 4), dpi=100)
    ax = fig.subplots()
    draw_points(ax, x, real=real, centres=centres)
    if value_range is not None:
        lo, hi = value_range
        pad = 0.15 * (hi - lo)
        ax.set(xlim=(lo - pad, hi + pad), ylim=(lo - pad, hi + pad))
    ax.set(aspect="equal", title=title)
    ax.legend(loc="upper right", fontsize=6, markerscale=2)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def png_bytes(x: np.ndarray, value_range: tuple[float, float] | None = None, centres: object = None,
              scale: int | None = None) -> bytes:
    """A PNG of samples: a grid for images ``[N, C, H, W]`` (enlarged ``scale`` times, see :func:`upscale`),
    a scatter plot for 2D vectors ``[N, 2]``."""
    if x.ndim == 4:
        return encode_png(upscale(image_grid(x), scale))
    if x.ndim == 2 and x.shape[1] == 2:
        return scatter_png(x, value_range, centres)
    raise ConfigError(f"-o .png: samples of shape {tuple(x.shape[1:])} cannot be drawn (images or 2D points only); write .npy")


def write_png(path: Path, x: np.ndarray, value_range: tuple[float, float] | None = None, centres: object = None,
              scale: int | None = None) -> None:
    data = png_bytes(x, value_range, centres, scale)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
