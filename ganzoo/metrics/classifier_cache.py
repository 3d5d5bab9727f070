"""On-disk cache of trained domain classifiers.

One file per (dataset, resolved dataset options, training seed, format version)::

    <cache root>/classifiers/<dataset>-<digest>-v<FORMAT_VERSION>.pt

The cache root is ``$GANZOO_CACHE_DIR`` or ``~/.cache/ganzoo``. A file is a ``torch.save`` of
``{"format", "meta", "state_dict"}`` holding only tensors and plain values, so it loads with
``torch.load(weights_only=True)``. Files are written atomically (temporary file + ``os.replace``)
and validated when read; :class:`CacheInvalid` says why one cannot be used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock
import torch

from ganzoo.files import write_with
from ganzoo.metrics.classifier_model import ClassifierNet

__all__ = [
    "FORMAT_VERSION",
    "CACHE_ENV",
    "CacheInvalid",
    "default_cache_dir",
    "normalise_options",
    "cache_path",
    "save_classifier",
    "load_classifier",
    "cache_lock",
]

FORMAT_VERSION = 1
"""Bump when the network, the file layout or the training recipe changes: old files are then ignored."""

CACHE_ENV = "GANZOO_CACHE_DIR"

_REQUIRED_META: dict[str, type | tuple[type, ...]] = {
    "dataset": str,
    "options": dict,
    "seed": int,
    "channels": int,
    "resolution": int,
    "num_classes": int,
    "accuracy": float,
}


class CacheInvalid(Exception):
    """A cached classifier file that cannot be used (missing, corrupt, stale or for other data)."""


def default_cache_dir() -> Path:
    """``$GANZOO_CACHE_DIR/classifiers``, else ``~/.cache/ganzoo/classifiers``."""
    root = os.environ.get(CACHE_ENV) or "~/.cache/ganzoo"
    return Path(root).expanduser() / "classifiers"


def normalise_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options as plain JSON values (tuples become lists, other objects strings), keys sorted."""
    return json.loads(json.dumps(dict(options), sort_keys=True, default=str))


def cache_path(cache_dir: Path, dataset: str, options: Mapping[str, Any], seed: int) -> Path:
    """The cache file of a classifier of ``dataset`` built with ``options`` and trained with ``seed``."""
    key = json.dumps({"dataset": dataset, "options": normalise_options(options), "seed": int(seed),
                      "format": FORMAT_VERSION}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{dataset}-{digest}-v{FORMAT_VERSION}.pt"


def save_classifier(path: Path, net: ClassifierNet, meta: Mapping[str, Any]) -> None:
    """Write ``net``'s weights and ``meta`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT_VERSION,
        "meta": normalise_options(meta),
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
    }
    write_with(path, lambda f: torch.save(payload, f))  # atomic, with the umask's permissions


def load_classifier(
    path: Path, *, dataset: str, options: Mapping[str, Any], seed: int
) -> tuple[ClassifierNet, dict[str, Any]]:
    """Load and validate a cached classifier; raise :class:`CacheInvalid` saying why it is unusable."""
    path = Path(path)
    if not path.is_file():
        raise CacheInvalid(f"{path}: no such file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, garbage, or not a weights-only file
        raise CacheInvalid(f"{path}: unreadable ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise CacheInvalid(f"{path}: not a ganzoo classifier file of format {FORMAT_VERSION}")
    meta, state = payload.get("meta"), payload.get("state_dict")
    if not isinstance(meta, dict) or not isinstance(state, dict):
        raise CacheInvalid(f"{path}: missing metadata or weights")
    for key, typ in _REQUIRED_META.items():
        if not isinstance(meta.get(key), typ) or isinstance(meta.get(key), bool):
            raise CacheInvalid(f"{path}: metadata {key!r} missing or of the wrong type")
    expected = {"dataset": dataset, "options": normalise_options(options), "seed": int(seed)}
    for key, value in expected.items():
        if meta[key] != value:
            raise CacheInvalid(f"{path}: cached for {key}={meta[key]!r}, wanted {value!r}")
    if not 0.0 <= meta["accuracy"] <= 1.0:
        raise CacheInvalid(f"{path}: accuracy {meta['accuracy']!r} is not in [0, 1]")
    try:
        net = ClassifierNet(meta["channels"], meta["resolution"], meta["num_classes"])
        net.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001 - wrong keys or shapes
        raise CacheInvalid(f"{path}: weights do not fit the network ({type(exc).__name__}: {exc})") from exc
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CacheInvalid(f"{path}: weights {name!r} are not finite")
    if not math.isfinite(meta["accuracy"]):
        raise CacheInvalid(f"{path}: accuracy is not finite")
    net.eval()
    return net, meta


@contextlib.contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock next to ``path`` (a file lock: POSIX and Windows), so parallel workers
    train a classifier once. Where no lock can be taken (a read-only cache) it holds none: the worst
    case is training twice."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(path.with_name(path.name + ".lock"))
        lock.acquire()
    except OSError:
        yield
        return
    try:
        yield
    finally:
        lock.release()
