"""``ganzoo resume``: continue a run from its newest usable checkpoint."""

from __future__ import annotations

from pathlib import Path

import click

from ganzoo.cli.run_outcome import finish


@click.command("resume")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--steps", type=int, help="Extend the run to N generator steps in total.")
@click.option("--nproc", type=int, default=1, show_default=True,
              help="Processes for distributed training (launches torchrun; may differ from the original run's).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (run directory, step, last metrics) on stdout.")
def command(run_dir: Path, steps: int | None, nproc: int, quiet: bool, as_json: bool) -> None:
    """Resume RUN_DIR exactly where its newest complete checkpoint left off."""
    if nproc > 1:
        import sys

        from ganzoo.distributed.launch import launch_torchrun

        sys.exit(launch_torchrun(sys.argv[1:], nproc))
    from ganzoo.distributed.context import maybe_distributed
    from ganzoo.engine.api import resume_run

    with maybe_distributed(destroy=False) as dist:
        result = resume_run(run_dir, steps=steps, quiet=quiet or not dist.is_main, **dist.trainer_kwargs())
    finish(result, dist.is_main, dist.world_size, as_json)
