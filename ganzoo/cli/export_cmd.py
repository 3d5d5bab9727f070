"""``ganzoo export``: write a run's generator as a validated ONNX file."""

from __future__ import annotations

from pathlib import Path

import click

from ganzoo.export.settings import DEFAULT_OPSET, EXPORTERS, MAX_OPSET, MIN_OPSET


@click.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-o", "output", type=click.Path(path_type=Path), default=None,
              help="Output file (default: RUN_DIR/generator.onnx).")
@click.option("--opset", type=int, default=DEFAULT_OPSET, show_default=True,
              help=f"ONNX opset, {MIN_OPSET} to {MAX_OPSET}.")
@click.option("--fp16", is_flag=True, help="Float16 weights and compute; inputs and outputs stay float32.")
@click.option("--no-ema", is_flag=True, help="Export the raw generator even when EMA weights exist.")
@click.option("--exporter", type=click.Choice(EXPORTERS), default="auto", show_default=True,
              help="auto: torch.export-based (dynamo) exporter, TorchScript if that fails.")
def command(run_dir: Path, output: Path | None, opset: int, fp16: bool, no_ema: bool, exporter: str) -> None:
    """Export RUN_DIR's generator to ONNX, checked against PyTorch on onnxruntime's CPU provider."""
    from ganzoo.export import export_run
    from ganzoo.export.pipeline import DEFAULT_FILE
    from ganzoo.files import output_lock

    with output_lock(output or run_dir / DEFAULT_FILE, "export"):
        report = export_run(run_dir, output, opset=opset, fp16=fp16, use_ema=not no_ema, exporter=exporter)
    click.echo(report.summary())
