"""What a run directory may hold before ``train`` and ``resume`` use it.

* ``train --out D``: D must be new, empty, or hold a run that stopped before its first checkpoint
  (killed, diverged at once, a failing ``train_start`` hook). Such a run has nothing to continue; it is
  started over, with a one-line note, instead of leaving a directory no command accepts.
* ``resume D``: the configuration stored in the checkpoint is the truth. ``config.toml`` is a
  readable copy; if it was edited, resume refuses and names the differing keys (only ``run.steps``,
  which ``--steps`` writes there, may differ). If it is empty or unreadable, the checkpoint's
  configuration is used and ``config.toml`` is rewritten from it.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganzoo import config as config_mod
from ganzoo.engine import checkpoint as ckpt
from ganzoo.errors import CheckpointError, ConfigError
from ganzoo.files import write_text

CONFIG_FILE = "config.toml"
STATUS_FILE = "status.json"
RESUME_OVERRIDABLE = ("run.steps",)
"""Keys of config.toml that may differ from the checkpoint's configuration on resume (``--steps`` writes it)."""
OUTPUTS = (CONFIG_FILE, STATUS_FILE, "metrics.jsonl", "tb", "samples", "checkpoints")
"""What a training run writes into its directory (removed when a run without checkpoint starts over)."""


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
    status = _read_status(run_dir)
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


def _read_status(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / STATUS_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _normalised(tree: Mapping[str, Any]) -> dict[str, Any]:
    """``tree`` as it reads back from TOML (tuples become lists, None values dropped), plugins left out."""
    data = config_mod.tomllib.loads(config_mod.RunConfig.from_dict(tree).to_toml())
    data.pop("plugins", None)
    return _flatten(data)


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
        edited_steps = _flatten(edited).get("run.steps")
        if steps is None and isinstance(edited_steps, int) and not isinstance(edited_steps, bool):
            steps = edited_steps
    return _with_steps(user, steps), rewrite


def _with_steps(user: dict[str, Any], steps: int | None) -> dict[str, Any]:
    if steps is not None:
        if steps < 1:
            raise ConfigError(f"--steps {steps}: expected a positive number of steps")
        user = {**user, "run": {**dict(user.get("run", {})), "steps": int(steps)}}
    return user


def write_config(run_dir: Path, cfg: config_mod.RunConfig) -> None:
    write_text(Path(run_dir) / CONFIG_FILE, "# ganzoo run configuration\n" + cfg.to_toml())


__all__ = [
    "CONFIG_FILE",
    "OUTPUTS",
    "RESUME_OVERRIDABLE",
    "config_differences",
    "no_checkpoint_message",
    "prepare_fresh_run_dir",
    "resume_config",
    "write_config",
]
