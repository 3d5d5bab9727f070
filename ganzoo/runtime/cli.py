"""``ganzoo generate``: sample an exported ONNX generator with onnxruntime only (no PyTorch).

The same command runs as ``python -m ganzoo.runtime generate`` where PyTorch is not installed.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from ganzoo.files import output_lock
from ganzoo.runtime.errors import ConfigError
from ganzoo.runtime.output import MAX_PNG_SAMPLES, MAX_SCALE, MIN_GRID_WIDTH, SUFFIXES
from ganzoo.runtime.providers import CHOICES
from ganzoo.runtime.session import DEFAULT_BATCH_SIZE

MAX_SAMPLES = 100_000_000
MAX_BATCH_SIZE = 65_536


def check_request(num: int, output: Path, batch_size: int) -> str:
    """Validate the sample count, output type and batch size before touching the model; returns the suffix."""
    if num < 1 or num > MAX_SAMPLES:
        raise ConfigError(f"-n {num}: expected 1 to {MAX_SAMPLES:,} samples")
    suffix = output.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"-o {str(output)!r}: the file must end in .png or .npy")
    if suffix == ".png" and num > MAX_PNG_SAMPLES:
        raise ConfigError(f"-n {num}: a PNG holds at most {MAX_PNG_SAMPLES} samples; write .npy for more")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ConfigError(f"--batch-size {batch_size}: expected 1 to {MAX_BATCH_SIZE:,}")
    return suffix


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for large outputs (tqdm; silent when stderr is not a terminal)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="sample", desc="generate", file=sys.stderr, mininterval=0.5,
               disable=total < 100_000 or not sys.stderr.isatty(), leave=False)
    try:
        yield bar.update
    finally:
        bar.close()


@click.command("generate")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-n", "num", type=int, required=True, help="Number of samples.")
@click.option("-o", "output", type=click.Path(path_type=Path), required=True,
              help="FILE.npy (any size, streamed) or FILE.png (image grid / 2D scatter, at most 4096 samples).")
@click.option("--seed", type=int, default=0, show_default=True, help="Latent seed (numpy; not the same stream as `ganzoo sample`).")
@click.option("--provider", type=click.Choice(CHOICES), default="auto", show_default=True,
              help="onnxruntime execution provider; auto = CUDA when usable, else CPU.")
@click.option("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, show_default=True, help="Samples per onnxruntime call.")
@click.option("--latent-dim", type=int, default=None, help="Latent size, only for ONNX files without ganzoo metadata.")
@click.option("--class", "class_", type=int, default=None,
              help="Class to sample, for a class-conditional generator (default: random classes).")
@click.option("--scale", type=click.IntRange(1, MAX_SCALE), default=None,
              help=f"Enlarge a PNG image grid N times, nearest neighbour [default: enough for {MIN_GRID_WIDTH} px].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (output, samples, shape, provider) on stdout.")
def command(model: Path, num: int, output: Path, seed: int, provider: str, batch_size: int, latent_dim: int | None,
            class_: int | None, scale: int | None, as_json: bool) -> None:
    """Write N samples of an exported generator MODEL.onnx to FILE.npy or FILE.png, without PyTorch."""
    from ganzoo.runtime.output import write_npy, write_png
    from ganzoo.runtime.session import load

    suffix = check_request(num, output, batch_size)
    g = load(model, provider, latent_dim=latent_dim)
    if class_ is not None and not g.labels_name:
        raise ConfigError(f"--class {class_}: {model} is not a class-conditional generator (it has no labels input)")
    if class_ is not None and g.num_classes and not 0 <= class_ < g.num_classes:
        raise ConfigError(f"--class {class_}: expected a class in 0..{g.num_classes - 1}")
    batches = g.iter_batches(num, seed=seed, batch_size=batch_size, labels=class_)
    if suffix == ".npy":
        with output_lock(output, "generate"), _progress(num) as bar:
            shape = write_npy(output, batches, num, progress=bar)
    else:
        import numpy as np

        x = np.concatenate(list(batches), axis=0)
        write_png(output, x, g.value_range, g.info.mode_centres, scale)
        shape = x.shape
    if as_json:
        import json

        click.echo(json.dumps({"output": str(output), "samples": num, "shape": list(shape[1:]), "provider": g.providers[0],
                               "seed": seed, "class": class_}, indent=2))
        return
    of_class = f" of class {class_}" if class_ is not None else ""
    click.echo(f"Wrote {num} samples{of_class} {list(shape[1:])} to {output} ({g.providers[0]})")
