"""The run directory: every file a run keeps, read and written here and nowhere else.

``RUN_DIR/config.toml`` (the resolved configuration), ``status.json`` (live status with the current
step), ``checkpoints/`` (:mod:`ganzoo.engine.checkpoint`), ``samples/``, ``metrics.jsonl``, ``tb/``,
``eval.json`` and ``generator.onnx``; and loading a trained generator back for eval, export and sample.

* ``train --out D``: D must be new, empty, or hold a run that stopped before its first checkpoint
  (killed, diverged at once, a failing ``train_start`` hook). Such a run has nothing to continue; it is
  started over, with a one-line note, instead of leaving a directory no command accepts.
* ``resume D``: the configuration stored in the checkpoint is the truth. ``config.toml`` is a
  readable copy; if it was edited, resume refuses and names the differing keys (only ``run.steps``,
  which ``--steps`` writes there, may differ). If it is empty or unreadable, the checkpoint's
  configuration is used and ``config.toml`` is rewritten from it.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo import config as config_mod
from ganzoo.config import RunConfig
from ganzoo.engine import checkpoint as ckpt
from ganzoo.engine.components import assemble, info_from_dict, sample_latent
from ganzoo.engine.step import generate
from ganzoo.errors import CheckpointError, ConfigError
from ganzoo.files import read_json_lines, read_json_object, write_text, write_text_best_effort
from ganzoo.plugins import get_host
from ganzoo.specs import DataInfo, generator_num_classes

CONFIG_FILE = "config.toml"
STATUS_FILE = "status.json"
EVAL_FILE = "eval.json"
ONNX_FILE = "generator.onnx"
METRICS_FILE = "metrics.jsonl"
SAMPLES_DIR = "samples"
RESUME_OVERRIDABLE = ("run.steps",)
"""Keys of config.toml that may differ from the checkpoint's configuration on resume (``--steps`` writes it)."""
OUTPUTS = (CONFIG_FILE, STATUS_FILE, METRICS_FILE, "tb", SAMPLES_DIR, "checkpoints")
"""What a training run writes into its directory (removed when a run without checkpoint starts over)."""


def write_status(run_dir: Path, status: str, step: int, *, best_effort: bool = False, **extra: Any) -> None:
    """``status.json``: ``running`` (with the step reached), ``completed``, ``interrupted`` or ``failed``.
    ``best_effort`` (failure paths): on a full disk overwrite it in place, never raise."""
    text = json.dumps({"status": status, "step": step, **extra}, indent=2) + "\n"
    if best_effort:
        write_text_best_effort(Path(run_dir) / STATUS_FILE, text)
    else:
        write_text(Path(run_dir) / STATUS_FILE, text)


def read_status(run_dir: Path) -> dict[str, Any]:
    return read_json_object(Path(run_dir) / STATUS_FILE)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of ``metrics.jsonl`` (torn or non-object lines skipped; none when it is missing)."""
    return read_json_lines(Path(run_dir) / METRICS_FILE)


def train_stats(run_dir: Path) -> dict[str, Any]:
    """The step, wall time (``status.json``, else the last metrics row) and median img/s the run directory records."""
    status, rows = read_status(run_dir), read_metrics(run_dir)
    walls, rates = ([float(r[k]) for r in rows if isinstance(r.get(k), (int, float))] for k in ("wall_time", "img_per_s"))
    wall = status.get("wall_time") if isinstance(status.get("wall_time"), (int, float)) else walls[-1] if walls else None
    found = {"step": status.get("step"), "wall_time": wall, "img_per_s": statistics.median(rates) if rates else None}
    return {k: v for k, v in found.items() if v is not None}


def default_run_dir(cfg: RunConfig, root: Path = Path("runs")) -> Path:
    parts = [cfg.run["dataset"], cfg.run["arch"], cfg.run["loss"], *cfg.run["mitigations"], f"s{cfg.run['seed']}"]
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / f"{'-'.join(parts)}-{stamp}"


CONFIG_HEADER = "# ganzoo run configuration"
PROVENANCE_RE = re.compile(r"^# (train|resume): |^#   ")
"""Provenance lines at the top of config.toml: TOML comments, so resume's edited-config check and
``train --config`` never read them."""


def _git_commit(cwd: Path) -> str | None:
    """The commit checked out in ``cwd``'s git repository (``+dirty`` with local changes); None outside one."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=5)
        return head.stdout.strip() + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def command_line(argv: list[str] | None = None) -> str:
    """The command that is running, as a shell would take it (``ganzoo ...`` for the CLI)."""
    argv = list(sys.argv if argv is None else argv)
    head = Path(argv[0]).name if argv else ""
    if head in ("ganzoo", "ganzoo.exe", "__main__.py"):
        return shlex.join(["ganzoo", *argv[1:]])
    return shlex.join([Path(sys.executable).name, *argv])


def provenance_lines(action: str) -> list[str]:
    """Comment lines saying how the run was made: command, time, git commit of the working directory,
    ganzoo / torch / CUDA / Python versions."""
    from ganzoo import __version__

    cuda = torch.version.cuda
    device = torch.cuda.get_device_name(0) if cuda and torch.cuda.is_available() else "no device"
    stamp = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    lines = [f"# {action}: {command_line()}", f"#   at {stamp} in {Path.cwd()}"]
    commit = _git_commit(Path.cwd())
    if commit:
        lines.append(f"#   git commit {commit}")
    lines.append(f"#   ganzoo {__version__}, torch {torch.__version__}, CUDA {cuda or 'none'} ({device}), "
                 f"Python {platform.python_version()} on {platform.system()}")
    return [line.replace("\n", " ") for line in lines]


def read_provenance(run_dir: Path) -> list[str]:
    """The provenance comment lines of ``run_dir``'s config.toml (empty when none or unreadable)."""
    try:
        text = (Path(run_dir) / CONFIG_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    lines = []
    for line in text.splitlines()[1:]:
        if not PROVENANCE_RE.match(line):
            break
        lines.append(line)
    return lines


def write_run_config(run_dir: Path, cfg: RunConfig, action: str = "train") -> None:
    """config.toml: the resolved configuration under provenance comments (a resume adds its own below
    the earlier ones)."""
    kept = read_provenance(run_dir) if action == "resume" else []
    header = [CONFIG_HEADER, *kept, *provenance_lines(action)]
    write_text(Path(run_dir) / CONFIG_FILE, "\n".join(header) + "\n" + cfg.to_toml())


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


def prepare_fresh_run_dir(run_dir: Path) -> None:
    """Check that ``train`` may write ``run_dir``; start over a run that stopped before its first
    checkpoint (saying so on stderr). Call it while holding the run directory's lock."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {str(run_dir)!r} exists and is not a directory")
    if ckpt.list_checkpoints(run_dir):
        raise ConfigError(
            f"run directory {str(run_dir)!r} already holds a run; continue it with `ganzoo resume {run_dir}` "
            f"or choose another --out"
        )
    if not (run_dir / CONFIG_FILE).exists():
        return
    status = read_status(run_dir)
    print(
        f"Note: {run_dir} holds a run that stopped before its first checkpoint "
        f"(status {status.get('status', 'unknown')!r} at step {status.get('step', 0)}); starting it over",
        file=sys.stderr,
    )
    for name in OUTPUTS:
        p = run_dir / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


def _normalised(tree: Mapping[str, Any]) -> dict[str, Any]:
    """``tree`` as it reads back from TOML (tuples become lists, None values dropped), plugins left out."""
    data = config_mod.tomllib.loads(config_mod.RunConfig.from_dict(tree).to_toml())
    data.pop("plugins", None)
    return config_mod.flatten(data)


def config_differences(saved: Mapping[str, Any], edited: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two configuration trees (``plugins`` ignored)."""
    a, b = _normalised(saved), _normalised(edited)
    return sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))


def no_checkpoint_message(run_dir: Path) -> str:
    return (
        f"{run_dir} has no checkpoint: its run stopped before the first one, so there is nothing to resume; "
        f"start it over with `ganzoo train --config {run_dir / CONFIG_FILE} --out {run_dir}`"
    )


def resume_config(run_dir: Path, steps: int | None) -> tuple[dict[str, Any], bool]:
    """The configuration to resume ``run_dir`` with (the checkpoint's, ``run.steps`` from config.toml or
    ``steps``), and whether config.toml must be rewritten. Raises a one-line error when config.toml was
    edited, or when there is no checkpoint."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"{str(run_dir)!r} is not a directory (expected a ganzoo run directory)")
    path = run_dir / CONFIG_FILE
    if not ckpt.list_checkpoints(run_dir):
        if path.exists():
            raise CheckpointError(no_checkpoint_message(run_dir))
        raise ConfigError(f"{str(run_dir)!r} is not a ganzoo run directory: {CONFIG_FILE} is missing")
    state, _ = ckpt.load_latest(run_dir, map_location="cpu")
    saved = state.get("config")
    edited: dict[str, Any] | None
    try:
        edited = config_mod.load_toml(path) if path.exists() else None
        if edited is not None and not edited:
            raise ConfigError(f"config file {str(path)!r} is empty")
    except ConfigError as exc:
        if not isinstance(saved, Mapping):
            raise
        print(f"Warning: {exc}; resuming with the configuration stored in the checkpoint and rewriting it",
              file=sys.stderr)
        edited = None
    if not isinstance(saved, Mapping):  # a checkpoint from before configurations were stored in it
        if edited is None:
            raise ConfigError(f"{str(path)!r} is missing or unreadable and the checkpoint holds no configuration")
        user = {k: v for k, v in edited.items() if k != "plugins"}
        return _with_steps(user, steps), steps is not None
    rewrite = edited is None or steps is not None
    user = {k: v for k, v in saved.items() if k != "plugins"}
    if edited is not None:
        diff = [k for k in config_differences(saved, edited) if k not in RESUME_OVERRIDABLE]
        if diff:
            shown = ", ".join(diff[:8]) + (f" and {len(diff) - 8} more" if len(diff) > 8 else "")
            raise ConfigError(
                f"{path} was edited after the run started ({shown} {'differs' if len(diff) == 1 else 'differ'} from the checkpoint's configuration); "
                f"resume uses the checkpoint's settings: restore them, or start a new run with `ganzoo train "
                f"--config {path} --out NEW_DIR` (only the step count can change on resume, with --steps)"
            )
        edited_steps = config_mod.flatten(edited).get("run.steps")
        if steps is None and isinstance(edited_steps, int) and not isinstance(edited_steps, bool):
            steps = edited_steps
    return _with_steps(user, steps), rewrite


def _with_steps(user: dict[str, Any], steps: int | None) -> dict[str, Any]:
    if steps is not None:
        if steps < 1:
            raise ConfigError(f"--steps {steps}: expected a positive number of steps")
        user = {**user, "run": {**dict(user.get("run", {})), "steps": int(steps)}}
    return user




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


