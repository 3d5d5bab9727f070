"""Export settings shared by the CLI and the exporter (no torch import, so the CLI starts fast)."""

EXPORTERS = ("auto", "dynamo", "torchscript")
DEFAULT_OPSET = 18
MIN_OPSET = 17
MAX_OPSET = 23
