"""Error types. A :class:`GanzooError` is a user-facing mistake: the CLI prints its
message on one line and exits with its ``exit_code`` (no traceback)."""

from __future__ import annotations


def one_line(exc: BaseException, limit: int = 600, *, typed: bool = True) -> str:
    """``exc`` on one line of at most ``limit`` characters: ``Type: message`` (``typed``; a :class:`GanzooError`'s
    message stands alone, it is written for users), whitespace collapsed, ``…`` where it was cut."""
    text = str(exc) if isinstance(exc, GanzooError) or not typed else f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


class GanzooError(Exception):
    """A problem the user can fix; the message names the bad value and what is allowed."""

    exit_code = 2


class ConfigError(GanzooError):
    """Bad configuration: unknown key, bad value, bad ``--set`` syntax."""


class UnknownComponentError(GanzooError, KeyError):
    """A component name that no loaded plugin registers."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateComponentError(GanzooError):
    """Two plugins register the same name for one component kind."""


class InvalidComponentError(GanzooError):
    """A plugin registered something that breaks the component contract."""


class PluginLoadError(GanzooError):
    """A plugin failed to import or register (raised only in strict mode)."""


class IncompatibleError(GanzooError):
    """A combination of components that cannot work together (e.g. pack size vs batch)."""


class DataUnavailableError(GanzooError):
    """A dataset could not be found locally nor downloaded."""


class CheckpointError(GanzooError):
    """No usable checkpoint (missing, truncated or corrupt)."""


class TrainingDivergedError(GanzooError):
    """A loss became NaN or infinite."""

    exit_code = 3
