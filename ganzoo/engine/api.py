"""Library entry points: start, resume and load runs."""

from __future__ import annotations

import contextlib
import datetime as _dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo import config as config_mod
from ganzoo.config import RunConfig
from ganzoo.engine import checkpoint as ckpt
from ganzoo.engine import rundir
from ganzoo.files import run_dir_lock, write_text
from ganzoo.engine.components import assemble, info_from_dict
from ganzoo.errors import CheckpointError, ConfigError, GanzooError
from ganzoo.plugins import get_host
from ganzoo.specs import DataInfo

CONFIG_FILE = "config.toml"


@dataclass
class RunResult:
    run_dir: Path
    step: int
    status: str  # completed | interrupted
    signal: int | None = None


def default_run_dir(cfg: RunConfig, root: Path = Path("runs")) -> Path:
    parts = [cfg.run["dataset"], cfg.run["arch"], cfg.run["loss"], *cfg.run["mitigations"], f"s{cfg.run['seed']}"]
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / f"{'-'.join(parts)}-{stamp}"


def read_run_config(run_dir: Path) -> RunConfig:
    path = Path(run_dir) / CONFIG_FILE
    if not Path(run_dir).is_dir():
        raise ConfigError(f"{str(run_dir)!r} is not a directory (expected a ganzoo run directory)")
    if not path.exists():
        raise ConfigError(f"{str(run_dir)!r} is not a ganzoo run directory: {CONFIG_FILE} is missing")
    data = config_mod.load_toml(path)
    if not data.get("run"):
        raise ConfigError(f"{path} holds no [run] section (empty or not a ganzoo run configuration)")
    return RunConfig.from_dict(data)


def start_run(
    user: dict[str, Any], run_dir: Path | None = None, *, quiet: bool = True, host: Any = None,
    rank: int = 0, world_size: int = 1, wrap_models: Any = None,
) -> RunResult:
    """Resolve ``user`` (a config tree), create the run directory and train."""
    from ganzoo.engine.trainer import Trainer

    host = host or get_host()
    cfg = config_mod.resolve(user, host)
    run_dir = Path(run_dir) if run_dir else default_run_dir(cfg)
    if world_size > 1:  # the default name has a time stamp: every rank uses rank 0's
        from ganzoo.distributed.sync import broadcast_object

        run_dir = Path(broadcast_object(str(run_dir)))
    if rank == 0 and run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {str(run_dir)!r} exists and is not a directory")
    with run_dir_lock(run_dir, "train") if rank == 0 else contextlib.nullcontext():
        if rank == 0:
            rundir.prepare_fresh_run_dir(run_dir)
        trainer = Trainer(cfg, run_dir, host, quiet=quiet, rank=rank, world_size=world_size, wrap_models=wrap_models)
        if rank == 0:
            write_text(run_dir / CONFIG_FILE, f"# ganzoo {cfg.plugins and 'run configuration'}\n" + cfg.to_toml())
        status = trainer.run()
    return RunResult(run_dir, trainer.step, status, getattr(trainer, "stop_signal", None))


def resume_run(
    run_dir: Path, *, steps: int | None = None, quiet: bool = True, host: Any = None,
    rank: int = 0, world_size: int = 1, wrap_models: Any = None,
) -> RunResult:
    """Continue the run in ``run_dir`` from its newest usable checkpoint (to ``steps`` in total)."""
    from ganzoo.engine.trainer import Trainer

    host = host or get_host()
    run_dir = Path(run_dir)
    if rank == 0 and not run_dir.is_dir():
        raise ConfigError(f"{str(run_dir)!r} is not a directory (expected a ganzoo run directory)")
    with run_dir_lock(run_dir, "resume") if rank == 0 else contextlib.nullcontext():
        # The checkpoint's configuration is the truth (an edited config.toml is refused, see rundir).
        user, rewrite = rundir.resume_config(run_dir, steps)
        # Re-validate against the installed plugins (the run may come from another machine).
        resolved = config_mod.resolve(user, host)
        trainer = Trainer(resolved, run_dir, host, quiet=quiet, resume=True, rank=rank, world_size=world_size, wrap_models=wrap_models)
        if trainer.step >= resolved.run["steps"] and steps is None:
            print(f"run {run_dir} is already complete at step {trainer.step}; pass --steps N to extend it", file=sys.stderr)
        if rank == 0 and rewrite:
            rundir.write_config(run_dir, resolved)
        status = trainer.run()
    return RunResult(run_dir, trainer.step, status, getattr(trainer, "stop_signal", None))


@dataclass
class LoadedGenerator:
    """A trained generator ready for inference (eval mode, on ``device``)."""

    generator: nn.Module
    info: DataInfo
    config: RunConfig
    step: int
    latent_dim: int
    latent_distribution: str
    used_ema: bool
    checkpoint: Path

    @property
    def architecture(self) -> str:
        return str(self.config.run["arch"])

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, batch_size: int = 1024) -> torch.Tensor:
        """``n`` samples as a float tensor on the CPU, generated in batches."""
        from ganzoo.engine.components import sample_latent

        device = next(self.generator.parameters()).device
        g = torch.Generator().manual_seed(seed)
        out = []
        for start in range(0, n, batch_size):
            k = min(batch_size, n - start)
            z = sample_latent(k, self.latent_dim, self.latent_distribution, torch.device("cpu"), g).to(device)
            out.append(self.generator(z).float().cpu())
        return torch.cat(out) if out else torch.empty(0, *self.info.shape)


def load_generator(run_dir: Path, *, use_ema: bool = True, device: str | torch.device = "cpu", host: Any = None) -> LoadedGenerator:
    """Rebuild the run's generator from its newest checkpoint (EMA weights when present and wanted).

    Needs the plugins that provided the run's architecture and mitigations, not its data."""
    host = host or get_host()
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    state, path = ckpt.load_latest(run_dir, map_location="cpu")
    if "data_info" not in state:
        raise CheckpointError(f"checkpoint {path} has no data description (made by an older ganzoo?)")
    info = info_from_dict(state["data_info"])
    asm = assemble(cfg, host, info=info, with_data=False)
    G = asm.generator
    ema = state.get("ema")
    used_ema = bool(use_ema and ema is not None)
    try:
        G.load_state_dict(ema if used_ema else state["generator"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not match the {cfg.run['arch']!r} generator: {str(exc)[:300]}") from None
    G.to(device).eval()
    return LoadedGenerator(
        generator=G, info=info, config=cfg, step=int(state["step"]), latent_dim=int(state["latent_dim"]),
        latent_distribution=str(state.get("latent_distribution", "normal")), used_ema=used_ema, checkpoint=path,
    )


def ensure(condition: bool, message: str) -> None:
    if not condition:
        raise GanzooError(message)
