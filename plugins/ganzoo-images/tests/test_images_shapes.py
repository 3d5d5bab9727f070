"""``shapes``: procedural colour shapes, 12 modes, deterministic by seed."""

from __future__ import annotations

import time

import pytest
import torch

from ganzoo_images.shapes import COLOURS, NUM_MODES, SHAPES, mode_name


@pytest.mark.parametrize("resolution", [16, 28, 32, 64])
def test_shape_dtype_range_and_info(build_dataset, resolution: int) -> None:
    data = build_dataset("shapes", {"resolution": resolution, "size": 240})
    x, y = data.tensors
    assert x.shape == (240, 3, resolution, resolution) and x.dtype == torch.float32
    assert y.shape == (240,) and y.dtype == torch.int64
    assert float(x.min()) == -1.0 and float(x.max()) <= 1.0 and float(x.max()) > 0.6
    assert len(data) == 240
    item_x, item_y = data.dataset[7]
    assert torch.equal(item_x, x[7]) and int(item_y) == int(y[7])
    info = data.info
    assert info.kind == "image" and info.shape == (3, resolution, resolution)
    assert info.value_range == (-1.0, 1.0)
    assert info.num_modes == info.num_classes == NUM_MODES >= 10
    assert info.extras["mode_labels"] == "label"
    assert info.extras["mode_names"][0] == "red circle"


def test_modes_all_present_and_balanced(build_dataset) -> None:
    y = build_dataset("shapes", {"size": 1000}).tensors[1]
    counts = torch.bincount(y, minlength=NUM_MODES)
    assert len(counts) == NUM_MODES == len(SHAPES) * len(COLOURS) == 12
    assert int(counts.min()) >= 1000 // NUM_MODES and int(counts.max()) <= 1000 // NUM_MODES + 1
    assert mode_name(11) == "blue cross"


def test_deterministic_by_seed(build_dataset) -> None:
    a = build_dataset("shapes", {"size": 100}, seed=3).tensors
    b = build_dataset("shapes", {"size": 100}, seed=3).tensors
    c = build_dataset("shapes", {"size": 100}, seed=4).tensors
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_jitter_makes_a_distribution(build_dataset) -> None:
    x, y = build_dataset("shapes", {"size": 240}).tensors
    same = x[y == 5]
    assert same.shape[0] == 20
    assert len({tuple(img.flatten()[::7].tolist()) for img in same}) == same.shape[0]  # no duplicates


def test_colour_is_the_only_lit_channel_and_background_is_black(build_dataset) -> None:
    x, y = build_dataset("shapes", {"size": 120}).tensors
    lit = (x + 1).sum(dim=(2, 3))  # [N, 3] brightness per channel
    assert torch.equal(lit.argmax(1), y % 3)
    other = lit.clone()
    other[torch.arange(len(y)), y % 3] = 0
    assert float(other.max()) == 0.0
    corners = x[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert float(corners.max()) == -1.0


@pytest.mark.parametrize("resolution", [32, 64])
def test_distinct_modes_differ(build_dataset, resolution: int) -> None:
    """Every mode is recognisable from simple silhouette features (colour is checked above)."""
    x, y = build_dataset("shapes", {"size": 1200, "resolution": resolution}).tensors
    mask = ((x + 1) / 2).amax(1) > 0.5  # silhouette [N, H, W]
    rows, cols = mask.any(2), mask.any(1)
    height, width = rows.sum(1).float(), cols.sum(1).float()
    fill = mask.sum((1, 2)).float() / (height * width)  # share of the bounding box covered
    index = torch.arange(resolution).float()
    mass_row = (index.view(1, -1, 1) * mask).sum((1, 2)) / mask.sum((1, 2))
    box_row = (rows.float() * index).sum(1) / height
    low = (mass_row - box_row) / height  # > 0: mass below the box centre (upward triangle)
    guess = torch.where(fill > 0.97, 1, torch.where(low > 0.08, 2, torch.where(fill > 0.68, 0, 3)))
    shape = y // len(COLOURS)
    assert float((guess == shape).float().mean()) >= 0.995
    for k in range(len(SHAPES)):  # and each shape really varies in size
        assert float(height[shape == k].max() - height[shape == k].min()) >= 0.08 * resolution


def test_fast(build_dataset) -> None:
    """Vectorised: 10k images take ~0.1 s on an idle CPU (the bound leaves room for a busy machine)."""
    build_dataset("shapes", {"size": 100})
    start = time.perf_counter()
    build_dataset("shapes", {"size": 10_000, "resolution": 32})
    assert time.perf_counter() - start < 10.0
