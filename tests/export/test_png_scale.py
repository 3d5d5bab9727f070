"""Grids of small images are enlarged to a viewable size; ``--scale N`` chooses the factor (issue 17)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganzoo.cli import cli
from ganzoo.runtime.output import default_scale, png_bytes


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def _ok(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args), prog_name="ganzoo", catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def shapes16_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ganzoo.engine.api import start_run
    from tests.engine.conftest import shapes_user

    run = tmp_path_factory.mktemp("shapes16") / "run"
    assert start_run(shapes_user(1, num_samples=64), run).step == 1
    return run


def test_default_scale() -> None:
    assert default_scale(146) == 4 and default_scale(530) == 1 and default_scale(242) == 3
    grid = np.zeros((64, 1, 16, 16), dtype=np.float32)
    assert len(png_bytes(grid, scale=1)) < len(png_bytes(grid))


def test_run_sample_and_generate_grids_of_16px_images(shapes16_run: Path, tmp_path: Path) -> None:
    # 64 images of 16 px: an 8 x 8 grid of 146 px, enlarged 4x by default.
    assert _size(shapes16_run / "samples" / "step-00000001.png") == (584, 584)
    _ok("sample", str(shapes16_run), "-n", "64", "-o", str(tmp_path / "default.png"))
    assert _size(tmp_path / "default.png") == (584, 584)
    _ok("sample", str(shapes16_run), "-n", "64", "-o", str(tmp_path / "x2.png"), "--scale", "2")
    assert _size(tmp_path / "x2.png") == (292, 292)
    _ok("export", str(shapes16_run))
    model = str(shapes16_run / "generator.onnx")
    _ok("generate", model, "-n", "64", "-o", str(tmp_path / "g.png"))
    assert _size(tmp_path / "g.png") == (584, 584)
    _ok("generate", model, "-n", "64", "-o", str(tmp_path / "g1.png"), "--scale", "1")
    assert _size(tmp_path / "g1.png") == (146, 146)
    bad = CliRunner().invoke(cli, ["generate", model, "-n", "4", "-o", str(tmp_path / "b.png"), "--scale", "0"])
    assert bad.exit_code == 2 and "--scale" in bad.output
