"""A failing export leaves nothing behind and says what went wrong."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.export import ExportError, export_run
from ganzoo.export import validate


def test_parity_failure_removes_file(ring8_run, monkeypatch, tmp_path):
    real = validate.reference
    monkeypatch.setattr(validate, "reference", lambda m, z, y: real(m, z, y) + np.float32(0.01))
    out = tmp_path / "out" / "g.onnx"
    with pytest.raises(ExportError) as err:
        export_run(ring8_run, out)
    msg = str(err.value)
    assert "differs from PyTorch at batch size 1" in msg and "max abs diff 0.01" in msg and "not written" in msg
    assert list(out.parent.iterdir()) == []  # no partial or temporary file


def test_parity_failure_keeps_previous_file(ring8_run, monkeypatch, tmp_path):
    out = tmp_path / "g.onnx"
    out.write_bytes(b"previous export")
    monkeypatch.setattr(validate, "reference", lambda m, z, y: np.zeros((len(z), 2), np.float32) + 5)
    result = CliRunner().invoke(cli, ["export", str(ring8_run), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: onnxruntime (fp32) differs from PyTorch at batch size 1")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert out.read_bytes() == b"previous export" and sorted(p.name for p in tmp_path.iterdir()) == ["g.onnx"]


@pytest.mark.parametrize("args, expected", [
    (["--opset", "12"], "--opset 12: expected 17 to 23"),
    (["--exporter", "magic"], "Invalid value for '--exporter'"),
])
def test_bad_export_options(ring8_run, args, expected):
    result = CliRunner().invoke(cli, ["export", str(ring8_run), *args])
    assert result.exit_code == 2 and expected in result.stderr


def test_export_not_a_run(tmp_path):
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "is not a directory" in result.stderr and "Traceback" not in result.stderr
