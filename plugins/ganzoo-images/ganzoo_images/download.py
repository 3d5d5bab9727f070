"""Where datasets live by default, and a quiet wrapper around torchvision's downloaders."""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path

__all__ = ["DATA_DIR_ENV", "default_data_dir", "search_roots", "download_root", "quiet_download", "describe_dirs"]

DATA_DIR_ENV = "GANZOO_DATA_DIR"


def default_data_dir() -> Path:
    """``$GANZOO_DATA_DIR`` or ``~/.cache/ganzoo/data``."""
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else Path("~/.cache/ganzoo/data").expanduser()


def search_roots(data_root: Path | None) -> list[Path]:
    """Roots to look in, in order: the user's ``data_root`` (when given), then the default data dir."""
    roots = [Path(data_root).expanduser()] if data_root is not None else []
    default = default_data_dir()
    if default not in roots:
        roots.append(default)
    return roots


def download_root(data_root: Path | None) -> Path:
    """Where a download goes: the user's ``data_root`` when given, else the default data dir."""
    return Path(data_root).expanduser() if data_root is not None else default_data_dir()


def describe_dirs(dirs: list[Path]) -> str:
    return ", ".join(str(d) for d in dirs)


def quiet_download(fn: Callable[[], object]) -> str | None:
    """Run a torchvision download ``fn`` with its prints, progress bars and warnings silenced.

    Returns None on success, else a one-line reason (the traceback is never shown)."""
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - any failure becomes one clear error upstream
        text = " ".join(str(exc).split())
        if len(text) > 300:
            text = text[:297] + "..."
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return None
