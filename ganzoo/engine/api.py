"""Library entry points: start a run, resume one (loading a finished run's generator is :mod:`ganzoo.rundir`'s)."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganzoo import config as config_mod
from ganzoo.distributed.sync import broadcast_object
from ganzoo.engine.trainer import Trainer
from ganzoo.errors import ConfigError
from ganzoo.files import run_dir_lock
from ganzoo.plugins import get_host
from ganzoo.rundir import default_run_dir, prepare_fresh_run_dir, resume_config, write_run_config


@dataclass
class RunResult:
    run_dir: Path
    step: int
    status: str  # completed | interrupted
    signal: int | None = None


def start_run(
    user: dict[str, Any], run_dir: Path | None = None, *, quiet: bool = True, host: Any = None,
    rank: int = 0, world_size: int = 1, wrap_models: Any = None,
) -> RunResult:
    """Resolve ``user`` (a config tree), create the run directory (holding its lock) and train."""
    host = host or get_host()
    cfg = config_mod.resolve(user, host)
    run_dir = Path(run_dir) if run_dir else default_run_dir(cfg)
    if world_size > 1:  # the default name has a time stamp: every rank uses rank 0's
        run_dir = Path(broadcast_object(str(run_dir)))
    if rank == 0 and run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {str(run_dir)!r} exists and is not a directory")
    with run_dir_lock(run_dir, "train") if rank == 0 else contextlib.nullcontext():
        if rank == 0:
            prepare_fresh_run_dir(run_dir)
        trainer = Trainer(cfg, run_dir, host, quiet=quiet, rank=rank, world_size=world_size, wrap_models=wrap_models)
        if rank == 0:
            write_run_config(run_dir, cfg)
        status = trainer.run()
    return RunResult(run_dir, trainer.step, status, getattr(trainer, "stop_signal", None))


def resume_run(
    run_dir: Path, *, steps: int | None = None, quiet: bool = True, host: Any = None,
    rank: int = 0, world_size: int = 1, wrap_models: Any = None,
) -> RunResult:
    """Continue the run in ``run_dir`` from its newest usable checkpoint (to ``steps`` in total)."""
    host = host or get_host()
    run_dir = Path(run_dir)
    if rank == 0 and not run_dir.is_dir():
        raise ConfigError(f"{str(run_dir)!r} is not a directory (expected a ganzoo run directory)")
    with run_dir_lock(run_dir, "resume") if rank == 0 else contextlib.nullcontext():
        # The checkpoint's configuration is the truth (an edited config.toml is refused, see ganzoo.rundir).
        user, rewrite = resume_config(run_dir, steps)
        # Re-validate against the installed plugins (the run may come from another machine).
        resolved = config_mod.resolve(user, host)
        trainer = Trainer(resolved, run_dir, host, quiet=quiet, resume=True, rank=rank, world_size=world_size,
                          wrap_models=wrap_models)
        if steps is not None and trainer.step > steps:  # leave config.toml and the run as they are
            print(f"run is at step {trainer.step}, beyond --steps {steps}; nothing to do", file=sys.stderr)
            return RunResult(run_dir, trainer.step, "completed")
        if trainer.step >= resolved.run["steps"] and steps is None:
            print(f"run {run_dir} is already complete at step {trainer.step}; pass --steps N to extend it", file=sys.stderr)
        if rank == 0 and rewrite:
            write_run_config(run_dir, resolved, "resume")
        status = trainer.run()
    return RunResult(run_dir, trainer.step, status, getattr(trainer, "stop_signal", None))
