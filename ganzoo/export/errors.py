"""Export errors (one-line messages in the CLI)."""

from __future__ import annotations

from ganzoo.errors import GanzooError


class ExportError(GanzooError):
    """The generator could not be exported, or the exported file failed validation (nothing written)."""
