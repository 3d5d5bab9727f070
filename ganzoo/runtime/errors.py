"""Errors of the ONNX runtime side. They are :class:`ganzoo.errors.GanzooError` subclasses, so the
CLI prints them as one line and exits with code 2."""

from __future__ import annotations

from ganzoo.errors import ConfigError, GanzooError

__all__ = ["ConfigError", "GanzooError", "ModelFileError", "ProviderError"]


class ModelFileError(GanzooError):
    """The model file is missing, unreadable, not ONNX, or not a generator we can drive."""


class ProviderError(GanzooError):
    """An explicitly requested execution provider (CUDA, TensorRT) cannot be used here."""
