"""Feature-extractor weights that can never run code.

torch-fidelity reads a ``feature_extractor_weights_path`` with ``torch.load(weights_only=False)``: a
"weights" file with a pickle payload would run it. ganzoo therefore never hands torch-fidelity a file it
did not write itself: :func:`verified_weights` loads the given file with ``torch.load(weights_only=True)``
(tensors and plain containers only; a payload is refused before anything runs), checks that it is a
state dict of tensors, and saves that state dict to ganzoo's cache under the file's SHA-256. torch-fidelity
gets that copy.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from ganzoo.errors import ConfigError
from ganzoo.files import atomic_path

__all__ = ["verified_weights", "verified_weights_dir"]

CHUNK = 1 << 20


def verified_weights_dir() -> Path:
    """``$GANZOO_CACHE_DIR/verified-weights``, else ``~/.cache/ganzoo/verified-weights``."""
    return Path(os.environ.get("GANZOO_CACHE_DIR") or "~/.cache/ganzoo").expanduser() / "verified-weights"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verified_weights(path: Path | str, origin: str = "--feature-weights") -> Path:
    """A ganzoo-written copy of the state dict in ``path``, safe for loaders that unpickle freely.

    Raises a one-line :class:`ConfigError` (naming ``origin`` and the file) when the file is not a plain
    state dict of tensors; nothing in it is executed."""
    path = Path(path).expanduser()
    try:
        digest = _sha256(path)
    except OSError as exc:
        raise ConfigError(f"{origin} {str(path)!r}: cannot read it ({exc.strerror or exc})") from None
    copy = verified_weights_dir() / f"{digest[:32]}.pt"
    if copy.is_file():
        return copy
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a payload, a corrupt file, a non-torch file: one line
        kind = "holds Python objects other than tensors (code could run if it were unpickled)" if "weights_only" in str(exc) \
            or "Unsupported global" in str(exc) or "GLOBAL" in str(exc) else f"is not a PyTorch weights file ({type(exc).__name__})"
        raise ConfigError(f"{origin} {str(path)!r}: refused: the file {kind}; ganzoo only loads weights "
                          f"with torch.load(weights_only=True)") from None
    if not isinstance(state, Mapping) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ConfigError(f"{origin} {str(path)!r}: refused: expected a state dict (names to tensors), "
                          f"got {type(state).__name__}")
    with atomic_path(copy) as tmp:
        torch.save(dict(state), tmp)
    return copy
