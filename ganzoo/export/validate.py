"""Checks an exported file must pass before it is kept: the ONNX checker, a dynamic batch axis,
and onnxruntime (CPU provider) reproducing PyTorch on several batch sizes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganzoo.errors import one_line
from ganzoo.export.errors import ExportError
from ganzoo.runtime.metadata import INPUT_LABELS, INPUT_Z, OUTPUT_X

BATCH_SIZES: tuple[int, ...] = (1, 7, 64)
TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2}
"""Max abs difference to PyTorch (fp32 reference). fp16 is relative to max(1, max |x|) (vector
data lives in its own coordinates)."""


def check_graph(path: Path, conditional: bool) -> None:
    """``onnx.checker`` (full check) and the contract's input/output names, dtypes and dynamic batch axis."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:
        raise ExportError(f"the exported graph fails onnx.checker: {one_line(exc, 300, typed=False)}") from None
    model = onnx.load(str(path), load_external_data=False)
    want_in = {INPUT_Z: onnx.TensorProto.FLOAT}
    if conditional:
        want_in[INPUT_LABELS] = onnx.TensorProto.INT64
    got_in = {i.name: i for i in model.graph.input}
    outs = {o.name: o for o in model.graph.output}
    if set(got_in) != set(want_in) or set(outs) != {OUTPUT_X}:
        raise ExportError(f"exported inputs {sorted(got_in)} / outputs {sorted(outs)}; expected {sorted(want_in)} / ['x']")
    for name, value in [*got_in.items(), *outs.items()]:
        t = value.type.tensor_type
        dtype = want_in.get(name, onnx.TensorProto.FLOAT)
        if t.elem_type != dtype:
            raise ExportError(f"exported {name!r} has ONNX dtype {t.elem_type}, expected {dtype}")
        dims = t.shape.dim
        if not dims or dims[0].HasField("dim_value"):
            raise ExportError(f"exported {name!r} has a fixed batch size; the batch axis must be dynamic (does forward() depend on the batch size?)")


def reference(module: nn.Module, z: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """PyTorch's output for ``z`` (and ``labels``) as a float32 numpy array."""
    device = next(iter(module.parameters()), torch.empty(0)).device
    args = [torch.from_numpy(z).to(device)]
    if labels is not None:
        args.append(torch.from_numpy(labels).to(device))
    with torch.no_grad():
        return module(*args).float().cpu().numpy()


def check_parity(
    path: Path, module: nn.Module, latent_dim: int, *, num_classes: int | None, latent_distribution: str = "normal",
    precision: str = "fp32", batch_sizes: Sequence[int] = BATCH_SIZES, seed: int = 0,
) -> dict[int, float]:
    """Run the file on onnxruntime's CPU provider and compare with ``module`` (the original generator,
    eval mode); returns the max abs difference per batch size or raises :class:`ExportError`."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ExportError(f"onnxruntime cannot load the exported file: {one_line(exc, 300, typed=False)}") from None
    rng = np.random.default_rng(seed)
    diffs: dict[int, float] = {}
    for n in batch_sizes:
        if latent_distribution == "uniform":
            z = rng.uniform(-1, 1, size=(n, latent_dim)).astype(np.float32)
        else:
            z = rng.standard_normal((n, latent_dim), dtype=np.float32)
        labels = rng.integers(0, num_classes, size=n, dtype=np.int64) if num_classes else None
        feed: dict[str, Any] = {INPUT_Z: z}
        if labels is not None:
            feed[INPUT_LABELS] = labels
        try:
            got = session.run([OUTPUT_X], feed)[0]
        except Exception as exc:  # e.g. a batch size baked into a reshape
            raise ExportError(
                f"onnxruntime fails at batch size {n} ({one_line(exc, 200, typed=False)}); the file was not written"
            ) from None
        want = reference(module, z, labels)
        if got.shape != want.shape or got.dtype != np.float32:
            raise ExportError(
                f"onnxruntime output at batch size {n} is {got.dtype} {list(got.shape)}; PyTorch gives float32 {list(want.shape)}"
            )
        diff = float(np.max(np.abs(got.astype(np.float64) - want))) if want.size else 0.0
        bound = TOLERANCE[precision] * (max(1.0, float(np.max(np.abs(want)))) if precision == "fp16" else 1.0)
        if not np.isfinite(got).all() or not diff <= bound:
            raise ExportError(
                f"onnxruntime ({precision}) differs from PyTorch at batch size {n}: max abs diff {diff:.3g} "
                f"> {bound:.3g}; the file was not written"
            )
        diffs[n] = diff
    return diffs
