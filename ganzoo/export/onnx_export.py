"""PyTorch module -> ONNX ``ModelProto``, with the dynamo exporter (default) or TorchScript.

Choice: the ``torch.export``-based exporter (``dynamo=True``) is PyTorch's supported path (default
since 2.9; the TorchScript one warns that it will be removed). ``auto`` uses it and falls back to
the TorchScript exporter only when it fails on a generator; either way the result is validated
against PyTorch, so a fallback cannot go unnoticed.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import torch
from torch import nn

from ganzoo.errors import one_line
from ganzoo.export.errors import ExportError
from ganzoo.runtime.metadata import INPUT_LABELS, INPUT_Z, OUTPUT_X

from ganzoo.export.settings import DEFAULT_OPSET, EXPORTERS, MAX_OPSET, MIN_OPSET  # noqa: E402,F401
EXAMPLE_BATCH = 2  # torch.export specialises sizes 0 and 1


def example_inputs(latent_dim: int, num_classes: int | None, batch: int = EXAMPLE_BATCH) -> tuple[torch.Tensor, ...]:
    z = torch.randn(batch, latent_dim, generator=torch.Generator().manual_seed(0))
    if num_classes is None:
        return (z,)
    return z, torch.arange(batch, dtype=torch.int64) % num_classes


def _names(conditional: bool) -> list[str]:
    return [INPUT_Z, INPUT_LABELS] if conditional else [INPUT_Z]


@contextlib.contextmanager
def _captured() -> Any:
    """Keep the exporters' progress prints and deprecation warnings out of the user's terminal."""
    out = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        warnings.simplefilter("ignore")
        yield out


def _export_dynamo(module: nn.Module, args: tuple[torch.Tensor, ...], opset: int) -> Any:
    import onnx

    batch = torch.export.Dim("batch")
    dynamic = tuple({0: batch} for _ in args)
    with _captured():
        program = torch.onnx.export(
            module, args, None, dynamo=True, input_names=_names(len(args) == 2), output_names=[OUTPUT_X],
            dynamic_shapes=dynamic, opset_version=opset, optimize=True, verbose=False,
        )
    model = program.model_proto if program is not None else None
    if not isinstance(model, onnx.ModelProto):  # pragma: no cover - defensive
        raise ExportError("the dynamo exporter did not return an ONNX model")
    return model


def _export_torchscript(module: nn.Module, args: tuple[torch.Tensor, ...], opset: int) -> Any:
    import onnx

    names = _names(len(args) == 2)
    axes = {name: {0: "batch"} for name in [*names, OUTPUT_X]}
    buf = io.BytesIO()
    with _captured():
        torch.onnx.export(
            module, args, buf, dynamo=False,  # type: ignore[arg-type]  # torch stubs omit file objects, which export() accepts
            input_names=names, output_names=[OUTPUT_X], dynamic_axes=axes,
            opset_version=opset, do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL,
        )
    return onnx.load_from_string(buf.getvalue())


def check_opset(opset: int) -> None:
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(f"--opset {opset}: expected {MIN_OPSET} to {MAX_OPSET} (default {DEFAULT_OPSET})")


def to_onnx(module: nn.Module, latent_dim: int, num_classes: int | None, *, opset: int = DEFAULT_OPSET,
            exporter: str = "auto") -> tuple[Any, str]:
    """Export ``module`` (an eval-mode :class:`~ganzoo.export.prepare.ExportModule`); returns the
    ``onnx.ModelProto`` and the exporter used (``dynamo`` or ``torchscript``)."""
    check_opset(opset)
    if exporter not in EXPORTERS:
        raise ExportError(f"--exporter {exporter!r}: expected one of {', '.join(EXPORTERS)}")
    args = example_inputs(latent_dim, num_classes)
    order = ["dynamo", "torchscript"] if exporter == "auto" else [exporter]
    errors: list[str] = []
    with torch.no_grad():
        for name in order:
            try:
                fn = _export_dynamo if name == "dynamo" else _export_torchscript
                model = fn(module, args, opset)
            except Exception as exc:  # exporters raise many types
                errors.append(f"{name}: {one_line(exc, 300, typed=False)}")
                continue
            if model.opset_import and all(o.version != opset for o in model.opset_import if o.domain in ("", "ai.onnx")):
                errors.append(f"{name}: produced opset {[o.version for o in model.opset_import]} instead of {opset}")
                continue
            return model, name
    raise ExportError(f"the generator could not be exported to ONNX opset {opset} ({'; '.join(errors)})")


def to_fp16(model: Any) -> Any:
    """Weights and compute in float16, inputs and outputs kept float32 (the ONNX contract)."""
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError:
        try:
            from onnxconverter_common.float16 import convert_float_to_float16
        except ImportError:
            raise ExportError(
                "--fp16 needs onnxruntime's transformers tools (onnxruntime >= 1.10) or onnxconverter-common"
            ) from None
    with _captured():
        converted = convert_float_to_float16(model, keep_io_types=True)
    sort_nodes(converted.graph)  # the converter appends its input casts at the end
    return converted


def sort_nodes(graph: Any) -> None:
    """Put ``graph``'s nodes in topological order, in place (stable for already sorted graphs)."""
    producer = {out: i for i, node in enumerate(graph.node) for out in node.output if out}
    deps = [{producer[name] for name in node.input if name in producer} for node in graph.node]
    done: set[int] = set()
    order: list[int] = []
    pending = list(range(len(graph.node)))
    while pending:
        ready = [i for i in pending if deps[i] <= done]
        if not ready:
            raise ExportError("the fp16 graph has a cycle; export without --fp16")
        order.extend(ready)
        done.update(ready)
        pending = [i for i in pending if i not in done]
    nodes = []
    for i in order:
        node = type(graph.node[i])()
        node.CopyFrom(graph.node[i])
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
