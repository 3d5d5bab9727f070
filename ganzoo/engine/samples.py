"""Sample pictures: image grids, or scatter plots over the real density for 2D data."""

from __future__ import annotations

import io
import math
from pathlib import Path

import torch

from ganzoo.files import write_bytes
from ganzoo.runtime import output
from ganzoo.specs import DataInfo


def image_grid(x: torch.Tensor, nrow: int | None = None) -> torch.Tensor:
    """``x`` in [-1, 1], ``[N, C, H, W]`` -> a ``[3, H', W']`` grid in [0, 1]."""
    import torchvision

    nrow = nrow or max(1, int(math.ceil(math.sqrt(x.shape[0]))))
    grid = torchvision.utils.make_grid(x.detach().float().cpu().clamp(-1, 1), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    return grid


def scatter_png(fake: torch.Tensor, real: torch.Tensor | None, info: DataInfo, title: str = "") -> bytes:
    """A PNG of generated 2D points over real points and the mixture centres."""
    return output.scatter_png(fake.detach().cpu().float().numpy(), info.value_range, info.mode_centres,
                              real=None if real is None else real.detach().cpu().float().numpy(), title=title)


def grid_png(x: torch.Tensor, nrow: int | None = None, scale: int | None = None) -> bytes:
    """A PNG image grid, enlarged ``scale`` times (default: to at least 512 px wide; nearest neighbour)."""
    from PIL import Image

    grid = image_grid(x, nrow)
    arr = output.upscale(grid.mul(255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy(), scale)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def samples_png(fake: torch.Tensor, info: DataInfo, real: torch.Tensor | None = None, title: str = "",
                scale: int | None = None) -> bytes:
    if info.kind == "image":
        return grid_png(fake, scale=scale)
    if info.dim == 2:
        return scatter_png(fake, real, info, title)
    raise ValueError(f"cannot draw samples of shape {info.shape}")


def save_samples(path: Path, fake: torch.Tensor, info: DataInfo, real: torch.Tensor | None = None, title: str = "",
                 scale: int | None = None) -> Path:
    write_bytes(path, samples_png(fake, info, real, title, scale))
    return path
