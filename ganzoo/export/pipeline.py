"""The export pipeline: prepare -> ONNX -> metadata -> (fp16) -> temp file -> validate -> rename."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.export import validate
from ganzoo.export.errors import ExportError
from ganzoo.export.metadata import build_metadata, set_metadata
from ganzoo.export.onnx_export import DEFAULT_OPSET, check_opset, to_fp16, to_onnx
from ganzoo.export.prepare import num_classes_of, prepare_for_export
from ganzoo.files import atomic_path
from ganzoo.rundir import load_generator

DEFAULT_FILE = "generator.onnx"


@dataclass
class ExportReport:
    """What ``export`` wrote and how well it matches PyTorch."""

    path: Path
    size_bytes: int
    opset: int
    precision: str
    exporter: str
    max_abs_diff: dict[int, float]
    metadata: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        diffs = ", ".join(f"N={n}: {d:.2g}" for n, d in self.max_abs_diff.items())
        return (
            f"Exported {self.path} ({self.size_bytes / 1e6:.2f} MB, opset {self.opset}, {self.precision}, "
            f"{self.exporter} exporter); onnxruntime vs PyTorch max abs diff {diffs}"
        )


def export_generator(
    generator: nn.Module, info: Any, path: Path, *, architecture: str, metadata: Mapping[str, str] | None = None,
    latent_distribution: str = "normal", opset: int = DEFAULT_OPSET, fp16: bool = False, exporter: str = "auto",
    host: Any = None,
) -> ExportReport:
    """Export ``generator`` (eval mode) for data ``info`` to ``path``.

    The file appears only after it passes ``onnx.checker`` and matches ``generator`` on onnxruntime's
    CPU provider (batch sizes 1, 7, 64); otherwise nothing is left behind and :class:`ExportError`
    says what differed. ``metadata`` is added to the file's ``metadata_props``.
    """
    import onnx

    check_opset(opset)
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"-o {str(path)!r} is a directory; give a file name such as {path / DEFAULT_FILE}")
    generator.eval()
    latent_dim = int(generator.latent_dim)  # type: ignore[arg-type]
    num_classes = num_classes_of(generator)
    precision = "fp16" if fp16 else "fp32"
    with torch.no_grad():  # one eager call, so what a module computes on its first eval-mode call is exported too
        device = next(generator.parameters(), torch.empty(0)).device  # (lazy layers, a mitigation's calibration)
        z = torch.zeros(1, latent_dim, device=device)
        generator(z) if num_classes is None else generator(z, torch.zeros(1, dtype=torch.long, device=device))
    module = prepare_for_export(generator, architecture=architecture, info=info, host=host)
    model, used = to_onnx(module, latent_dim, num_classes, opset=opset, exporter=exporter)
    if fp16:
        model = to_fp16(model)
    props = dict(metadata or {})
    props.update({"ganzoo.precision": precision, "ganzoo.exporter": used})
    set_metadata(model, props)
    with atomic_path(path) as tmp:  # the umask's permissions, removed on any failure
        onnx.save(model, str(tmp))
        validate.check_graph(tmp, conditional=num_classes is not None)
        diffs = validate.check_parity(
            tmp, generator, latent_dim, num_classes=num_classes, latent_distribution=latent_distribution,
            precision=precision,
        )
    return ExportReport(path, path.stat().st_size, opset, precision, used, diffs, props)


def export_run(
    run_dir: Path, output: Path | None = None, *, opset: int = DEFAULT_OPSET, fp16: bool = False,
    use_ema: bool = True, exporter: str = "auto", host: Any = None,
) -> ExportReport:
    """Export the newest checkpoint of ``run_dir`` (EMA weights when present and ``use_ema``) to
    ``output`` (default ``RUN_DIR/generator.onnx``) with the ganzoo metadata."""
    check_opset(opset)
    run_dir = Path(run_dir)
    loaded = load_generator(run_dir, use_ema=use_ema, device="cpu", host=host)
    meta = build_metadata(
        info=loaded.info, latent_dim=loaded.latent_dim, latent_distribution=loaded.latent_distribution,
        architecture=loaded.architecture, loss=str(loaded.config.run.get("loss", "")),
        mitigations=list(loaded.config.run.get("mitigations", [])), step=loaded.step,
        num_classes=num_classes_of(loaded.generator), ema=loaded.used_ema, precision="fp16" if fp16 else "fp32",
    )
    return export_generator(
        loaded.generator, loaded.info, Path(output) if output else run_dir / DEFAULT_FILE,
        architecture=loaded.architecture, metadata=meta, latent_distribution=loaded.latent_distribution,
        opset=opset, fp16=fp16, exporter=exporter, host=host,
    )
