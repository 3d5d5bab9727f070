"""``ganzoo train``: train one run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ganzoo.cli.run_outcome import finish
from ganzoo.errors import ConfigError

RUN_FLAGS = {
    "dataset": "run.dataset",
    "arch": "run.arch",
    "loss": "run.loss",
    "steps": "run.steps",
    "batch_size": "run.batch_size",
    "seed": "run.seed",
    "device": "run.device",
    "precision": "run.precision",
    "data_root": "run.data_root",
}

REQUIRED = ("dataset", "arch", "loss")
"""What a run cannot do without: from the flags or the --config file (no silent default dataset)."""


@click.command("train")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML run configuration.")
@click.option("--dataset", help="Dataset plugin name (see `ganzoo list datasets`); required unless --config sets it.")
@click.option("--arch", help="Architecture plugin name; required unless --config sets it.")
@click.option("--loss", help="Loss plugin name; required unless --config sets it.")
@click.option("--mitigation", "mitigations", multiple=True, help="Mitigation plugin name; repeat to combine.")
@click.option("--steps", type=int, help="Total generator steps.")
@click.option("--batch-size", type=int, help="Batch size.")
@click.option("--seed", type=int, help="Random seed.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to train (auto: CUDA if present).")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), help="Autocast precision.")
@click.option("--data-root", type=click.Path(path_type=Path), help="Folder with local dataset files.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override any config key, e.g. train.lr_g=1e-4.")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default: runs/<dataset>-<arch>-<loss>-s<seed>-<time>).")
@click.option("--nproc", type=int, default=1, show_default=True, help="Processes for distributed training (launches torchrun).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (run directory, step, last metrics) on stdout.")
def command(config_file: Path | None, mitigations: tuple[str, ...], sets: tuple[str, ...], out: Path | None, nproc: int, quiet: bool,
            as_json: bool, **flags: object) -> None:
    """Train a GAN: any dataset x architecture x loss x mitigations."""
    from ganzoo.config import build_user_config
    from ganzoo.engine.api import start_run

    values = {RUN_FLAGS[k]: (str(v) if isinstance(v, Path) else v) for k, v in flags.items() if v is not None}
    if mitigations:
        values["run.mitigations"] = list(mitigations)
    user = build_user_config(config_file, values, sets)
    section = user.get("run")
    run: dict[str, object] = section if isinstance(section, dict) else {}
    missing = [f"--{key}" for key in REQUIRED if not run.get(key)]
    if missing:
        raise ConfigError(f"missing {', '.join(missing)} (or a --config file that sets run.{'/'.join(REQUIRED)}); "
                          f"see `ganzoo list` for the names")
    if nproc > 1:
        from ganzoo.distributed.launch import launch_torchrun

        sys.exit(launch_torchrun(sys.argv[1:], nproc))
    from ganzoo.distributed.context import maybe_distributed

    with maybe_distributed(destroy=False) as dist:
        result = start_run(user, out, quiet=quiet or not dist.is_main, **dist.trainer_kwargs())
    finish(result, dist.is_main, dist.world_size, as_json)
