"""The run directory: every file a run keeps, read and written here and nowhere else.

``RUN_DIR/config.toml`` (the resolved configuration), ``status.json`` (live status with the current
step), ``checkpoints/`` (:mod:`ganzoo.engine.checkpoint`), ``samples/``, ``metrics.jsonl``, ``tb/``,
``eval.json`` and ``generator.onnx``; and loading a trained generator back for eval, export and sample.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo import config as config_mod
from ganzoo.config import RunConfig
from ganzoo.engine import checkpoint as ckpt
from ganzoo.engine.atomic import write_text
from ganzoo.engine.components import assemble, info_from_dict, sample_latent
from ganzoo.engine.step import generate
from ganzoo.errors import CheckpointError, ConfigError
from ganzoo.plugins import get_host
from ganzoo.specs import DataInfo, generator_num_classes

CONFIG_FILE = "config.toml"
STATUS_FILE = "status.json"
EVAL_FILE = "eval.json"
ONNX_FILE = "generator.onnx"
METRICS_FILE = "metrics.jsonl"
SAMPLES_DIR = "samples"


def write_status(run_dir: Path, status: str, step: int, **extra: Any) -> None:
    """``status.json``: ``running`` (with the step reached), ``completed``, ``interrupted`` or ``failed``."""
    write_text(Path(run_dir) / STATUS_FILE, json.dumps({"status": status, "step": step, **extra}, indent=2) + "\n")


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(run_dir) / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def default_run_dir(cfg: RunConfig, root: Path = Path("runs")) -> Path:
    parts = [cfg.run["dataset"], cfg.run["arch"], cfg.run["loss"], *cfg.run["mitigations"], f"s{cfg.run['seed']}"]
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / f"{'-'.join(parts)}-{stamp}"


def check_fresh_run_dir(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {str(run_dir)!r} exists and is not a directory")
    if (run_dir / CONFIG_FILE).exists() or ckpt.list_checkpoints(run_dir):
        raise ConfigError(
            f"run directory {str(run_dir)!r} already holds a run; continue it with `ganzoo resume {run_dir}` "
            f"or choose another --out"
        )


def write_run_config(run_dir: Path, cfg: RunConfig) -> None:
    write_text(Path(run_dir) / CONFIG_FILE, "# ganzoo run configuration\n" + cfg.to_toml())


def read_run_config(run_dir: Path) -> RunConfig:
    path = Path(run_dir) / CONFIG_FILE
    if not Path(run_dir).is_dir():
        raise ConfigError(f"{str(run_dir)!r} is not a directory (expected a ganzoo run directory)")
    if not path.exists():
        raise ConfigError(f"{str(run_dir)!r} is not a ganzoo run directory: {CONFIG_FILE} is missing")
    return RunConfig.from_dict(config_mod.load_toml(path))


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

    @property
    def num_classes(self) -> int | None:
        """Classes of a conditional generator, else None."""
        return generator_num_classes(self.generator)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, batch_size: int = 1024, labels: int | torch.Tensor | None = None) -> torch.Tensor:
        """``n`` samples as a float tensor on the CPU, generated in batches. A conditional generator
        samples class ``labels`` (an int for one class, or ``n`` labels); by default classes in turn
        (``i % num_classes``), so every class is equally represented."""
        device = next(self.generator.parameters()).device
        g = torch.Generator().manual_seed(seed)
        y = class_labels(n, self.num_classes, labels)
        out = []
        for start in range(0, n, batch_size):
            k = min(batch_size, n - start)
            z = sample_latent(k, self.latent_dim, self.latent_distribution, torch.device("cpu"), g).to(device)
            yk = y[start : start + k].to(device) if y is not None else None
            out.append(generate(self.generator, z, yk).float().cpu())
        return torch.cat(out) if out else torch.empty(0, *self.info.shape)


def class_labels(n: int, num_classes: int | None, labels: int | torch.Tensor | None) -> torch.Tensor | None:
    """Labels for ``n`` samples of a generator with ``num_classes`` (None for an unconditional one):
    ``labels`` as given (an int: that class), or each class in turn."""
    if not num_classes:
        if labels is not None:
            raise ConfigError("this generator is not class-conditional; it takes no class label")
        return None
    if labels is None:
        return torch.arange(n) % num_classes
    y = torch.full((n,), int(labels), dtype=torch.long) if isinstance(labels, int) else torch.as_tensor(labels, dtype=torch.long)
    if y.shape != (n,) or bool(((y < 0) | (y >= num_classes)).any()):
        bad = int(labels) if isinstance(labels, int) else y.tolist()[:5]
        raise ConfigError(f"class {bad}: expected {n} class labels in 0..{num_classes - 1}")
    return y


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
        G.load_state_dict(ema if used_ema and ema is not None else state["generator"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not match the {cfg.run['arch']!r} generator: {str(exc)[:300]}") from None
    G.to(device).eval()
    return LoadedGenerator(
        generator=G, info=info, config=cfg, step=int(state["step"]), latent_dim=int(state["latent_dim"]),
        latent_distribution=str(state.get("latent_distribution", "normal")), used_ema=used_ema, checkpoint=path,
    )


