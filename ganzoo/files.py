"""Writing files safely: atomic writes, one writer per run directory, clean storage errors.

* :func:`atomic_path` and friends write a temporary file in the target's folder, fsync it and rename
  it onto the target: readers never see a half file, and the temporary file is removed on every exit
  path (an exception, Ctrl-C, or SIGTERM/SIGHUP inside :func:`signals_raise`). The file gets the
  permissions an ordinary ``open()`` would give (``0o666`` less the user's umask).
* :func:`run_dir_lock` lets one command at a time write a run directory (or a bench's output folder;
  ``filelock``: ``flock`` on POSIX, ``msvcrt`` on Windows); a second one fails with a line naming the
  holder (pid, command, since).
* :func:`read_json_object` reads a JSON record back, tolerating a missing or damaged file.
* :func:`storage_error` turns ``OSError`` (no space, read-only file system, permission denied) into
  one line naming the path and the cause.

Standard library plus ``filelock`` only: the torch-free runtime (``ganzoo generate``) uses it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import filelock

from ganzoo.errors import GanzooError

__all__ = [
    "LOCK_FILE",
    "LOCK_INFO_FILE",
    "STORAGE_ERRNOS",
    "RunDirBusyError",
    "StorageError",
    "atomic_path",
    "check_free_space",
    "output_lock",
    "read_json_object",
    "run_dir_lock",
    "signals_raise",
    "storage_error",
    "write_bytes",
    "write_text",
    "write_text_best_effort",
    "write_with",
]

LOCK_FILE = ".ganzoo.lock"
LOCK_INFO_FILE = ".ganzoo.lock.json"
STORAGE_ERRNOS = frozenset(
    e for e in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, getattr(errno, "EDQUOT", None), errno.EIO,
                errno.EFBIG) if e is not None
)


class StorageError(GanzooError):
    """A file could not be written: full disk, read-only file system, no permission."""

    exit_code = 1


class RunDirBusyError(GanzooError):
    """Another ganzoo command is writing the run directory."""


# --------------------------------------------------------------------------- atomic writes


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is fsynced and renamed onto ``path``.

    On any failure (including ``KeyboardInterrupt`` and ``SystemExit``) the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp_path = Path(tmp)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; give what open() would
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o666 & ~_umask())
        os.close(fd)
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_with(path: Path, writer: Callable[[IO[bytes]], None]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            writer(fh)


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; empty when the file is missing, unreadable, not JSON or not an object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: not JSON, not UTF-8
        return {}
    return data if isinstance(data, dict) else {}


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file such as ``metrics.jsonl``, in order; lines that are not a JSON object
    (a torn last line, a list) are left out, and a missing or unreadable file gives none."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    rows = []
    for line in lines:
        with contextlib.suppress(ValueError):
            rows.append(json.loads(line))
    return [r for r in rows if isinstance(r, dict)]


def write_text_best_effort(path: Path, text: str) -> bool:
    """Write ``text`` atomically; on a full disk, overwrite the existing file in place (its blocks are
    already allocated, so a short status file still fits). Returns False when neither worked."""
    try:
        write_text(path, text)
        return True
    except OSError:
        pass
    try:
        with open(path, "r+b") as fh:
            fh.write(text.encode("utf-8"))
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
        return True
    except OSError:
        return False


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- storage errors


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """Raise :class:`StorageError` when ``folder``'s file system has less than ``needed`` bytes free."""
    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return  # cannot tell: let the write itself fail cleanly if it must
    if needed > free:
        raise StorageError(f"{what} needs {_human(needed)} but {str(probe)!r} has {_human(free)} free")


def _find_oserror(exc: BaseException | None) -> OSError | None:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def storage_error(exc: BaseException) -> StorageError | None:
    """A one-line :class:`StorageError` for a storage ``OSError`` (also found in ``exc``'s chain), else None."""
    os_exc = _find_oserror(exc)
    if os_exc is None:
        return None
    cause = os_exc.strerror or errno.errorcode.get(os_exc.errno or 0, "I/O error")
    where = os_exc.filename
    target = f"cannot write {str(where)!r}" if where else "a file could not be written"
    hint = {
        errno.ENOSPC: "free some space or choose another output folder",
        errno.EROFS: "choose an output folder on a writable file system",
        errno.EACCES: "choose an output folder you can write",
        errno.EPERM: "choose an output folder you can write",
    }.get(os_exc.errno or 0, "check the disk")
    return StorageError(f"{target}: {cause}; {hint}")


class _Terminated(SystemExit):
    """SIGTERM/SIGHUP turned into an exception, so ``finally`` blocks (temporary files) run."""


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``SystemExit(128 + signal)`` instead of killing the
    process outright, so temporary files are removed. A no-op outside the main thread."""
    sigs = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
    old: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated(128 + signum)

    for s in sigs:
        try:
            old[s] = signal.signal(s, handler)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# --------------------------------------------------------------------------- run-directory lock


def _holder(run_dir: Path) -> str:
    if not (info := read_json_object(run_dir / LOCK_INFO_FILE)):
        return "another ganzoo command"
    host = f" on {info['host']}" if info.get("host") and info.get("host") != socket.gethostname() else ""
    return f"`ganzoo {info.get('command', '?')}` (pid {info.get('pid', '?')}{host}, since {info.get('since', '?')})"


@contextlib.contextmanager
def run_dir_lock(run_dir: Path, command: str, what: str = "run directory") -> Iterator[None]:
    """Hold the run directory's lock while the block runs; raise :class:`RunDirBusyError` naming the
    holder when another process has it (``what``: the folder's kind, for that message). Creates
    ``run_dir`` if needed."""
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise (storage_error(exc) or exc) from None
    lock = filelock.FileLock(str(run_dir / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise RunDirBusyError(
            f"{what} {str(run_dir)!r} is in use by {_holder(run_dir)}; wait for it to finish or choose another directory"
        ) from None
    except OSError as exc:
        raise (storage_error(exc) or exc) from None
    info_path = run_dir / LOCK_INFO_FILE
    try:
        info = {"pid": os.getpid(), "command": command, "host": socket.gethostname(),
                "since": _dt.datetime.now().astimezone().isoformat(timespec="seconds")}
        with contextlib.suppress(OSError):  # the lock holds even where the note cannot be written
            write_text(info_path, json.dumps(info) + "\n")
        yield
    finally:
        with contextlib.suppress(OSError):
            info_path.unlink()
        lock.release()
        if created:  # nothing else was written (the command failed early): leave no empty directory
            with contextlib.suppress(OSError):
                if {p.name for p in run_dir.iterdir()} <= {LOCK_FILE}:
                    (run_dir / LOCK_FILE).unlink(missing_ok=True)
                    run_dir.rmdir()


RUN_DIR_MARKERS = ("config.toml", "status.json", "checkpoints")


def _enclosing_run_dir(path: Path, levels: int = 3) -> Path | None:
    """The ganzoo run directory holding ``path`` (within ``levels`` folders up), if any."""
    folder = Path(path).absolute().parent
    for _ in range(levels):
        if folder.is_dir() and (folder / "config.toml").is_file() and any(
                (folder / m).exists() for m in RUN_DIR_MARKERS[1:]):
            return folder
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def output_lock(output: Path, command: str) -> contextlib.AbstractContextManager[None]:
    """The lock of the run directory ``output`` would be written into (nothing to lock elsewhere)."""
    run_dir = _enclosing_run_dir(output)
    return run_dir_lock(run_dir, command) if run_dir is not None else contextlib.nullcontext()
