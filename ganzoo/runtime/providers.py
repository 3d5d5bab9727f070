"""Choosing onnxruntime execution providers without noise.

``auto`` uses CUDA only when onnxruntime offers ``CUDAExecutionProvider`` *and* a CUDA device is
present (checked through the driver library, without loading any CUDA runtime), else the CPU,
silently. An explicit ``cuda`` / ``tensorrt`` that cannot work raises :class:`ProviderError`.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Sequence

from ganzoo.runtime.errors import ConfigError, ProviderError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"

CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "tensorrt")
"""Values of ``--provider`` / ``provider=``."""

PLANS: dict[str, list[str]] = {
    "cpu": [CPU],
    "cuda": [CUDA, CPU],
    "tensorrt": [TENSORRT, CUDA, CPU],
}
"""Provider lists (highest priority first) handed to onnxruntime for each choice."""


def available_providers() -> list[str]:
    """The execution providers this onnxruntime build offers (not necessarily usable here)."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


@functools.lru_cache(maxsize=1)
def cuda_device_count() -> int:
    """Number of CUDA devices the NVIDIA driver reports; 0 without a driver or device. Never raises."""
    names = ("nvcuda.dll",) if os.name == "nt" else ("libcuda.so.1", "libcuda.so", "libcuda.dylib")
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            if lib.cuInit(0) != 0:
                return 0
            count = ctypes.c_int(0)
            if lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
                return 0
            return max(0, int(count.value))
        except (AttributeError, OSError):
            return 0
    return 0


def plan(choice: str) -> list[str]:
    """The provider list for ``choice``; raises :class:`ProviderError` when an explicit GPU choice
    cannot work on this machine, and resolves ``auto`` to CUDA or CPU."""
    if choice not in CHOICES:
        raise ConfigError(f"--provider {choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "cpu":
        return list(PLANS["cpu"])
    offered = available_providers()
    if choice == "auto":
        return list(PLANS["cuda"]) if CUDA in offered and cuda_device_count() > 0 else list(PLANS["cpu"])
    wanted = PLANS[choice][0]
    if wanted not in offered:
        raise ProviderError(
            f"--provider {choice}: this onnxruntime build has no {wanted} (it offers {', '.join(offered)}); "
            f"install onnxruntime-gpu{' with TensorRT' if choice == 'tensorrt' else ''} or use --provider cpu"
        )
    if cuda_device_count() < 1:
        raise ProviderError(f"--provider {choice}: no CUDA device found on this machine; use --provider cpu or auto")
    return list(PLANS[choice])


def check_started(choice: str, requested: Sequence[str], started: Sequence[str]) -> None:
    """Raise :class:`ProviderError` when an explicit choice's provider did not start."""
    if choice in ("cuda", "tensorrt") and requested[0] not in started:
        raise ProviderError(
            f"--provider {choice}: onnxruntime could not start {requested[0]} (missing CUDA/cuDNN"
            f"{'/TensorRT' if choice == 'tensorrt' else ''} libraries?); it started {', '.join(started)}. "
            f"Use --provider cpu or auto"
        )
