"""ONNX export parity of a trained generator, through ganzoo's exporter (:mod:`ganzoo.export`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ganzoo.testing.report import fail


def export_parity(subject: Any, loaded: Any) -> None:
    """Export ``loaded`` (a :class:`ganzoo.engine.api.LoadedGenerator`) to a temporary file with
    :func:`ganzoo.export.export_generator`, which checks the graph and compares onnxruntime with
    PyTorch on several batch sizes."""
    from ganzoo.export import ExportError, export_generator

    with tempfile.TemporaryDirectory(prefix="ganzoo-testing-export-") as tmp:
        try:
            export_generator(
                loaded.generator, loaded.info, Path(tmp) / "generator.onnx", architecture=loaded.architecture,
                latent_distribution=loaded.latent_distribution, host=subject.host,
            )
        except ExportError as exc:
            fail(subject, f"ONNX export of the generator for {loaded.info.kind} data {loaded.info.shape} fails: {exc}")
