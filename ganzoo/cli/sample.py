"""``ganzoo sample``: draw samples from a trained run with PyTorch."""

from __future__ import annotations

from pathlib import Path

import click

from ganzoo.errors import ConfigError
from ganzoo.runtime.output import MAX_SCALE, MIN_GRID_WIDTH

MAX_SAMPLES = 10_000_000


@click.command("sample")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-n", "num", type=int, required=True, help="Number of samples.")
@click.option("-o", "output", type=click.Path(path_type=Path), required=True, help="FILE.png (grid or scatter plot) or FILE.npy.")
@click.option("--seed", type=int, default=0, show_default=True, help="Latent seed.")
@click.option("--no-ema", is_flag=True, help="Use the raw generator even when EMA weights exist.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--class", "class_", type=int, default=None,
              help="Class to sample, for a class-conditional generator (default: every class in turn).")
@click.option("--scale", type=click.IntRange(1, MAX_SCALE), default=None,
              help=f"Enlarge a PNG image grid N times, nearest neighbour [default: enough for {MIN_GRID_WIDTH} px].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (output, samples, step) on stdout.")
def command(run_dir: Path, num: int, output: Path, seed: int, no_ema: bool, device: str, class_: int | None,
            scale: int | None, as_json: bool) -> None:
    """Write N samples of RUN_DIR's generator to a PNG or NPY file."""
    import math

    import numpy as np

    from ganzoo.files import atomic_path, check_free_space, output_lock, signals_raise
    from ganzoo.rundir import load_generator
    from ganzoo.engine.device import resolve_device
    from ganzoo.engine.samples import save_samples

    if num < 1 or num > MAX_SAMPLES:
        raise ConfigError(f"-n {num}: expected 1 to {MAX_SAMPLES:,} samples")
    suffix = output.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise ConfigError(f"-o {str(output)!r}: the file must end in .png or .npy")
    if suffix == ".png" and num > 4096:
        raise ConfigError(f"-n {num}: a PNG holds at most 4096 samples; write .npy for more")
    with output_lock(output, "sample"), signals_raise():
        loaded = load_generator(run_dir, use_ema=not no_ema, device=resolve_device(device))
        check_free_space(output.parent, num * 4 * math.prod(loaded.info.shape), f"-n {num} samples")
        x = loaded.sample(num, seed=seed, labels=class_)
        if suffix == ".npy":
            with atomic_path(output) as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, x.numpy())
        else:
            save_samples(output, x, loaded.info, scale=scale)
    if as_json:
        from ganzoo.cli.common import echo_json

        echo_json({"output": str(output), "samples": num, "shape": list(x.shape[1:]), "step": loaded.step,
                   "ema": loaded.used_ema, "seed": seed, "class": class_})
        return
    click.echo(f"Wrote {num} samples of step {loaded.step}{' (EMA)' if loaded.used_ema else ''} to {output}")
