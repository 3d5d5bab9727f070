"""Export a trained generator to ONNX (``ganzoo export``), validated against PyTorch.

::

    from ganzoo.export import export_run
    report = export_run("runs/my-run")            # -> runs/my-run/generator.onnx
    print(report.summary())
"""

from __future__ import annotations

from ganzoo.export.errors import ExportError
from ganzoo.export.onnx_export import DEFAULT_OPSET, EXPORTERS, MAX_OPSET, MIN_OPSET
from ganzoo.export.pipeline import ExportReport, export_generator, export_run

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
