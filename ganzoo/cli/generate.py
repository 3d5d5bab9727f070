"""``ganzoo generate``: sample an exported ONNX generator with onnxruntime (no PyTorch on this path).

The command lives in :mod:`ganzoo.runtime.cli` so it also runs as ``python -m ganzoo.runtime
generate`` on machines without PyTorch.
"""

from __future__ import annotations

from ganzoo.runtime.cli import command

__all__ = ["command"]
