"""Conformance checks for datasets: build, DataInfo consistency, items (shape, dtype, range, labels),
determinism by seed and a few engine steps."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import DataUnavailableError
from ganzoo.specs import DataInfo, GanData
from ganzoo.testing.common import check_declaration, is_finite, shape
from ganzoo.testing.engine import run_tree, short_run
from ganzoo.testing.network import offline
from ganzoo.testing.report import Check, SkipCheck, ensure, fail
from ganzoo.testing.subject import Subject, plain_loss, smallest_architecture

SAMPLE_ITEMS = 8


def _build(s: Subject, seed: int) -> GanData:
    root = s.state.get("data_root")
    guard = offline() if s.state.get("offline") else contextlib.nullcontext()
    with guard:
        return s.spec.build(data_root=Path(root) if root else None, seed=seed)


def built(s: Subject) -> GanData:
    """The dataset built with seed 0 (once), or :class:`SkipCheck` when its data is unavailable."""
    if "data" not in s.state:
        try:
            data = _build(s, 0)
        except DataUnavailableError as exc:
            s.state["data"] = None
            s.state["unavailable"] = str(exc)
            ensure(str(exc).strip() != "", s, "raised DataUnavailableError without a message saying where to put the files")
        else:
            ensure(isinstance(data, GanData), s, f"build() must return ganzoo.GanData, got {type(data).__name__}")
            s.state["data"] = data
    if s.state["data"] is None:
        raise SkipCheck(f"data not available here: {s.state['unavailable']}")
    return s.state["data"]


def check_build(s: Subject) -> None:
    """build(data_root=..., seed=0) returns GanData, or raises DataUnavailableError with a helpful message."""
    with contextlib.suppress(SkipCheck):
        data = built(s)
        ensure(len(data) > 0, s, "build() returned an empty dataset")


def check_info(s: Subject) -> None:
    """DataInfo fields are consistent (kind, shape, value range, classes, modes)."""
    info = built(s).info
    ensure(isinstance(info, DataInfo), s, f"GanData.info must be a ganzoo.DataInfo, got {type(info).__name__}")
    ensure(info.kind in ("vector", "image"), s, f"info.kind must be 'vector' or 'image', got {info.kind!r}")
    ensure(isinstance(info.shape, tuple) and all(isinstance(d, int) and d > 0 for d in info.shape), s,
           f"info.shape must be a tuple of positive ints, got {info.shape!r}")
    if info.kind == "image":
        ensure(len(info.shape) == 3, s, f"image info.shape must be (C, H, W), got {info.shape}")
        ensure(tuple(info.value_range) == (-1.0, 1.0), s, f"images must be in [-1, 1]; info.value_range is {info.value_range}")
    else:
        ensure(len(info.shape) == 1, s, f"vector info.shape must be (D,), got {info.shape}")
    lo, hi = info.value_range
    ensure(math.isfinite(lo) and math.isfinite(hi) and lo < hi, s, f"info.value_range must be finite with lo < hi, got {info.value_range}")
    for field in ("num_classes", "num_modes"):
        v = getattr(info, field)
        ensure(v is None or (isinstance(v, int) and v > 0), s, f"info.{field} must be None or a positive int, got {v!r}")
    if info.mode_centres is not None:
        ensure(info.num_modes == len(info.mode_centres), s,
               f"info.num_modes ({info.num_modes}) must equal the number of mode_centres ({len(info.mode_centres)})")
        ensure(all(len(c) == info.dim for c in info.mode_centres), s, f"every mode centre must have {info.dim} coordinates")
        ensure(isinstance(info.mode_std, (int, float)) and info.mode_std > 0, s,
               f"info.mode_std must be a positive number when mode_centres are given, got {info.mode_std!r}")


def _indices(n: int) -> list[int]:
    g = torch.Generator().manual_seed(0)
    picks = {0, n - 1, n // 2} | {int(i) for i in torch.randint(n, (SAMPLE_ITEMS,), generator=g)}
    return sorted(picks)


def _check_item(s: Subject, info: DataInfo, i: int, item: Any) -> None:
    ensure(isinstance(item, (tuple, list)) and len(item) == 2, s, f"dataset[{i}] must be a pair (x, y), got {type(item).__name__}")
    x, y = item
    ensure(isinstance(x, torch.Tensor) and tuple(x.shape) == tuple(info.shape), s,
           f"dataset[{i}][0] has shape {shape(x)}, expected info.shape {info.shape}")
    ensure(x.dtype == torch.float32, s, f"dataset[{i}][0] is {x.dtype}, expected torch.float32")
    ensure(is_finite(x), s, f"dataset[{i}][0] has NaN/inf values")
    lo, hi = info.value_range
    tol = 1e-5 * max(1.0, hi - lo)
    ensure(float(x.min()) >= lo - tol and float(x.max()) <= hi + tol, s,
           f"dataset[{i}][0] spans [{float(x.min()):.4g}, {float(x.max()):.4g}], outside info.value_range {info.value_range}")
    _check_label(s, info, f"dataset[{i}][1]", y)


def _check_label(s: Subject, info: DataInfo, where: str, y: Any) -> None:
    ensure(isinstance(y, torch.Tensor) and y.dtype == torch.int64 and y.dim() == 0, s,
           f"{where} must be a 0-dim int64 tensor (-1 when unlabelled), got "
           f"{y.dtype if isinstance(y, torch.Tensor) else type(y).__name__} {shape(y)}")
    _check_label_values(s, info, where, y)


def _check_label_values(s: Subject, info: DataInfo, where: str, y: torch.Tensor) -> None:
    if info.num_classes is None:
        ensure(bool((y == -1).all()), s, f"{where}: labels must be -1 when info.num_classes is None")
    else:
        ensure(bool(((y >= 0) & (y < info.num_classes)).all()), s,
               f"{where}: labels must be in [0, {info.num_classes}) (info.num_classes), got "
               f"[{int(y.min())}, {int(y.max())}]")


def check_items(s: Subject) -> None:
    """Items are (x float32 of info.shape within info.value_range, y int64 label); ``tensors`` agree."""
    data = built(s)
    info = data.info
    n = len(data)
    for i in _indices(n):
        _check_item(s, info, i, data.dataset[i])
    if data.tensors is None:
        return
    X, Y = data.tensors
    ensure(isinstance(X, torch.Tensor) and tuple(X.shape) == (n, *info.shape), s,
           f"GanData.tensors[0] has shape {shape(X)}, expected {(n, *info.shape)}")
    ensure(isinstance(Y, torch.Tensor) and tuple(Y.shape) == (n,) and Y.dtype == torch.int64, s,
           f"GanData.tensors[1] must be int64 of shape ({n},), got {getattr(Y, 'dtype', type(Y).__name__)} {shape(Y)}")
    ensure(X.dtype == torch.float32 and is_finite(X), s, f"GanData.tensors[0] must be finite float32, got {X.dtype}")
    lo, hi = info.value_range
    tol = 1e-5 * max(1.0, hi - lo)
    ensure(float(X.min()) >= lo - tol and float(X.max()) <= hi + tol, s,
           f"GanData.tensors[0] spans [{float(X.min()):.4g}, {float(X.max()):.4g}], outside info.value_range {info.value_range}")
    _check_label_values(s, info, "GanData.tensors[1]", Y)
    for i in _indices(n):
        x, y = data.dataset[i]
        ensure(torch.equal(X[i], x) and int(Y[i]) == int(y), s, f"GanData.tensors and dataset[{i}] disagree")


def check_determinism(s: Subject) -> None:
    """Building again with the same seed gives the same data."""
    first = built(s)
    again = _build(s, 0)
    ensure(len(again) == len(first), s, f"two builds with seed 0 have different sizes ({len(first)} and {len(again)})")
    ensure(again.info == first.info, s, "two builds with seed 0 give different DataInfo")
    for i in _indices(len(first)):
        x1, y1 = first.dataset[i]
        x2, y2 = again.dataset[i]
        if not (torch.equal(x1, x2) and int(y1) == int(y2)):
            fail(s, f"two builds with seed 0 differ at item {i}; derive all randomness from `seed`")


def check_engine(s: Subject) -> None:
    """Two engine steps with the smallest registered architecture that supports the data."""
    info = built(s).info
    arch = smallest_architecture(s, info)
    if arch is None:
        raise SkipCheck(f"no registered architecture supports {info.kind} data of shape {info.shape}")
    loss = plain_loss(s)
    tree = run_tree(dataset=s.name, arch=arch, loss=loss,
                    options={"dataset": s.options, "arch": s.tiny_options("architecture", arch)})
    root = s.state.get("data_root")
    if root:
        tree["run"]["data_root"] = str(root)
    guard = offline() if s.state.get("offline") else contextlib.nullcontext()
    with guard, short_run(tree, s.host):
        pass


CHECKS = [
    Check("declaration", check_declaration),
    Check("build", check_build),
    Check("info", check_info),
    Check("items", check_items),
    Check("determinism", check_determinism),
    Check("engine", check_engine),
]
