"""Device and precision selection."""

from __future__ import annotations

import torch

from ganzoo.errors import ConfigError

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU. ``cuda`` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("run.device: 'cuda' requested but no CUDA device is available; use --device cpu or auto")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ConfigError(f"run.device: invalid value {name!r}; expected auto, cpu or cuda")
    return torch.device(name)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: fp32, no autocast)."""
    dtype = DTYPES[precision]
    if dtype is torch.float16 and device.type == "cpu":
        raise ConfigError("run.precision: fp16 autocast needs a CUDA device; use bf16 or fp32 on the CPU")
    return dtype
