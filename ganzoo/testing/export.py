"""ONNX export parity of a trained generator, through ganzoo's exporter (``ganzoo.export``)."""

from __future__ import annotations

from typing import Any

from ganzoo.testing.report import SkipCheck


def export_parity(subject: Any, loaded: Any) -> None:
    """Export ``loaded`` (a :class:`ganzoo.engine.api.LoadedGenerator`) and compare onnxruntime with PyTorch."""
    raise SkipCheck("ganzoo.export provides no exporter yet")
