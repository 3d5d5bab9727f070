"""Checkpoints: ``RUN_DIR/checkpoints/step-XXXXXXXX.pt``, written atomically, loaded safely.

A checkpoint is a plain dict of tensors and Python scalars (no pickled objects), loaded with
``torch.load(weights_only=True)``. Each holds a SHA-256 digest of its content: a truncated file
(torch's zip reader) or one with corrupt bytes inside (the digest) is skipped with a warning and
the previous one is used. Temporary files left by a write that was killed are removed by the next save.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from ganzoo.files import atomic_path
from ganzoo.errors import CheckpointError

FORMAT = "ganzoo-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("format", "format_version", "step", "generator", "discriminator")
STEP_RE = re.compile(r"^step-(\d{8,})\.pt$")
TMP_RE = re.compile(r"^\.step-\d{8,}\.pt\..*\.tmp$")
DIGEST_KEY = "content_sha256"


def _feed(h: Any, obj: Any) -> None:
    """Hash ``obj`` (nested dicts/lists of tensors and scalars) in a stable order."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().to("cpu").contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())  # the buffer itself, no copy
    elif isinstance(obj, dict):
        h.update(b"{")
        for k, v in obj.items():
            h.update(repr(k).encode())
            _feed(h, v)
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for v in obj:
            _feed(h, v)
        h.update(b"]")
    else:
        h.update(repr(obj).encode())


def content_digest(state: dict[str, Any]) -> str:
    """SHA-256 of every tensor's bytes and every scalar of ``state`` (the digest key excluded).

    torch's zip reader notices a truncated file but not flipped bytes inside a tensor record; the
    digest catches those."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != DIGEST_KEY})
    return h.hexdigest()


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return checkpoint_dir(run_dir) / f"step-{step:08d}.pt"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint file, newest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = STEP_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found, reverse=True)


def save(run_dir: Path, state: dict[str, Any], *, keep: int) -> Path:
    """Write ``state`` atomically as the checkpoint of ``state['step']``; keep the newest ``keep``."""
    state = {"format": FORMAT, "format_version": FORMAT_VERSION, **state}
    state[DIGEST_KEY] = content_digest(state)
    path = checkpoint_path(run_dir, int(state["step"]))
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    for _, old in list_checkpoints(run_dir)[keep:]:
        old.unlink(missing_ok=True)
    # Temporary files of writes killed half-way (SIGKILL, power loss) are never valid checkpoints.
    for p in checkpoint_dir(run_dir).iterdir():
        if TMP_RE.match(p.name):
            p.unlink(missing_ok=True)
    return path


def read(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and validate one checkpoint file; raise :class:`CheckpointError` if unusable."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle opcodes, disallowed globals...
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a ganzoo checkpoint")
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(missing)}")
    if int(state["format_version"]) > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {state['format_version']}; this ganzoo reads up to {FORMAT_VERSION}"
        )
    if DIGEST_KEY in state and content_digest(state) != state[DIGEST_KEY]:
        raise CheckpointError(f"checkpoint {path} is corrupt (its content does not match its SHA-256 digest)")
    return state


def load_latest(run_dir: Path, map_location: str | torch.device = "cpu") -> tuple[dict[str, Any], Path]:
    """The newest readable checkpoint of ``run_dir``; corrupt newer files are skipped with a warning."""
    candidates = list_checkpoints(run_dir)
    if not candidates:
        raise CheckpointError(f"no checkpoint in {checkpoint_dir(run_dir)} (is {run_dir} a ganzoo run directory?)")
    problems = []
    for _, path in candidates:
        try:
            state = read(path, map_location)
        except CheckpointError as exc:
            problems.append(str(exc))
            warnings.warn(f"{exc}; falling back to an earlier checkpoint", RuntimeWarning, stacklevel=2)
            continue
        return state, path
    raise CheckpointError("no usable checkpoint: " + "; ".join(problems))
