"""PyTorch-free inference for generators exported by ``ganzoo export`` (numpy + onnxruntime).

::

    from ganzoo import runtime
    g = runtime.load("generator.onnx")          # provider="auto": CUDA when usable, else CPU
    x = runtime.sample(g, 64, seed=0)           # float32 [64, *g.sample_shape]
    for batch in runtime.iter_samples(g, 10**6, batch_size=4096): ...

Importing this package never imports torch.
"""

from __future__ import annotations

from ganzoo.runtime.errors import ModelFileError, ProviderError
from ganzoo.runtime.metadata import REQUIRED_KEYS, ModelInfo, parse_metadata
from ganzoo.runtime.providers import CHOICES as PROVIDER_CHOICES
from ganzoo.runtime.providers import available_providers, cuda_device_count
from ganzoo.runtime.session import DEFAULT_BATCH_SIZE, GeneratorSession, iter_samples, load, sample

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "GeneratorSession",
    "ModelFileError",
    "ModelInfo",
    "PROVIDER_CHOICES",
    "ProviderError",
    "REQUIRED_KEYS",
    "available_providers",
    "cuda_device_count",
    "iter_samples",
    "load",
    "parse_metadata",
    "sample",
]
