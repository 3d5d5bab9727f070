"""Where datasets live by default, and a quiet wrapper around torchvision's downloaders."""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from collections.abc import Callable, Sequence
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


def _reason(exc: BaseException) -> str:
    """One short line for a failed download (torchvision lists every mirror; keep the first cause)."""
    text = " ".join(str(exc).split())
    m = re.search(r"<urlopen error [^>]*>", text)
    if m:
        return f"{type(exc).__name__}: {m.group(0)}"
    if len(text) > 240:
        text = text[:237] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def quiet_download(fn: Callable[[], object], *, may_create: Sequence[Path] = ()) -> str | None:
    """Run a torchvision download ``fn`` with its prints, progress bars and warnings silenced.

    Returns None on success, else a one-line reason (the traceback is never shown). On failure, the
    folders of ``may_create`` (and their parents) that did not exist before and are still empty are removed again."""
    absent: set[Path] = set()
    for path in map(Path, may_create):
        for p in (path, *path.parents):
            if p.exists():
                break
            absent.add(p)
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - any failure becomes one clear error upstream
        for path in sorted(absent, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                path.rmdir()  # only succeeds when empty
        return _reason(exc)
    return None
