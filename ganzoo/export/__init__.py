"""Export a trained generator to ONNX (``ganzoo export``), validated against PyTorch.

::

    from ganzoo.export import export_run
    report = export_run("runs/my-run")            # -> runs/my-run/generator.onnx
    print(report.summary())
"""

from __future__ import annotations

from typing import Any

from ganzoo.export.errors import ExportError
from ganzoo.export.settings import DEFAULT_OPSET, EXPORTERS, MAX_OPSET, MIN_OPSET

_LAZY = {"ExportReport", "export_generator", "export_run"}


def __getattr__(name: str) -> Any:  # PEP 562: torch is imported only when exporting
    if name in _LAZY:
        from ganzoo.export import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'ganzoo.export' has no attribute {name!r}")

__all__ = [
    "DEFAULT_OPSET",
    "EXPORTERS",
    "ExportError",
    "ExportReport",
    "MAX_OPSET",
    "MIN_OPSET",
    "export_generator",
    "export_run",
]
