"""Reference images for FID, KID and PRC: the training dataset, as torch-fidelity inputs with a
deterministic cache name.

- A ganzoo dataset that torch-fidelity also registers (``cifar10`` train/test at 32 px) uses
  torch-fidelity's input name (``cifar10-train``, ``cifar10-val``) as its cache name; the images are
  loaded through the ganzoo dataset plugin (local files first, checked) and are the same images.
- Other datasets: the plugin's real images (seed 0, so every run meets the same reference) as uint8,
  cached as ``ganzoo-<dataset>-<split>-<R>px-<options hash>-<n|all>``.
- ``--reference`` may also name any torch-fidelity registered input or a folder of images.

Statistics live in torch-fidelity's cache under ``$GANZOO_CACHE_DIR/fidelity`` (default
``~/.cache/ganzoo/fidelity``), keyed by that name, the extractor and its feature layer. A small JSON
sidecar records the number of reference images, so a cache hit never needs the data.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganzoo.files import write_text
from ganzoo.errors import ConfigError, DataUnavailableError, GanzooError
from ganzoo.metrics.sources import LazyDataset, UInt8Images
from ganzoo.specs import DataInfo
from ganzoo.plugins import get_host

__all__ = ["Reference", "make_reference", "fidelity_cache_root", "MAX_REFERENCE", "REFERENCE_SEED"]

MAX_REFERENCE = 50_000
"""At most this many reference images (the usual FID-50k reference size)."""
REFERENCE_SEED = 0
"""Seed of procedural reference data and of reference subsets: the same for every run."""


def fidelity_cache_root() -> Path:
    """``$GANZOO_CACHE_DIR/fidelity``, else ``~/.cache/ganzoo/fidelity``."""
    return Path(os.environ.get("GANZOO_CACHE_DIR") or "~/.cache/ganzoo").expanduser() / "fidelity"


def _options_hash(options: dict[str, Any]) -> str:
    text = json.dumps(options, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


@dataclass
class Reference:
    """One reference input for torch-fidelity, and how to describe it in ``eval.json``."""

    label: str
    origin: str  # ganzoo-dataset | torch-fidelity | folder
    input: Any  # a Dataset of uint8 [3, H, W] images, or a folder path (str)
    cache_name: str | None
    dataset: str | None = None
    split: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    requested: int | None = None
    cache_root: Path = field(default_factory=fidelity_cache_root)
    fidelity_kwargs: dict[str, Any] = field(default_factory=dict)
    _count: int | None = None

    @property
    def sidecar(self) -> Path | None:
        return self.cache_root / f"{self.cache_name}.json" if self.cache_name else None

    def _record(self, n: int) -> None:
        self._count = n
        if self.sidecar is not None:
            write_text(self.sidecar, json.dumps({"num_samples": n, **self.describe(count=False)}, indent=2) + "\n")

    def num_samples(self) -> int:
        """Number of reference images (from the cache sidecar when present, else by building the data)."""
        if self._count is not None:
            return self._count
        if self.sidecar is not None and self.sidecar.is_file():
            try:
                self._count = int(json.loads(self.sidecar.read_text(encoding="utf-8"))["num_samples"])
                return self._count
            except (OSError, ValueError, KeyError, TypeError):
                pass
        if isinstance(self.input, str):
            from torch_fidelity.utils import glob_samples_paths

            self._count = len(glob_samples_paths(self.input, True, "png,jpg,jpeg", verbose=False))
            if self._count == 0:
                raise ConfigError(f"--reference {self.input!r}: the folder holds no png/jpg images")
            return self._count
        return len(self.input)  # builds it; the LazyDataset callback records the count

    def describe(self, *, count: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.label, "origin": self.origin, "dataset": self.dataset, "split": self.split,
                               "options": self.options, "seed": REFERENCE_SEED if self.origin == "ganzoo-dataset" else None,
                               "cache_name": self.cache_name}
        if count:
            out["num_samples"] = self.num_samples()
        return out


def _subset_indices(n: int, limit: int | None) -> torch.Tensor | None:
    if limit is None or limit >= n:
        return None
    g = torch.Generator().manual_seed(REFERENCE_SEED + 5)
    return torch.randperm(n, generator=g)[:limit].sort().values


def ganzoo_images(data: Any, limit: int | None) -> UInt8Images:
    """A built :class:`GanData`'s images as uint8 (lossless for uint8-backed datasets)."""
    info: DataInfo = data.info
    if info.kind != "image":
        raise GanzooError(f"dataset {info.name!r} is vector data; FID/IS/KID/PRC need images")
    ds = data.dataset
    n = len(ds)
    idx = _subset_indices(n, limit)
    images = getattr(ds, "images", None)
    if isinstance(images, torch.Tensor) and images.dtype == torch.uint8 and tuple(images.shape[1:]) == tuple(info.shape):
        return UInt8Images(images if idx is None else images[idx])
    if data.tensors is not None:
        x = data.tensors[0]
        return UInt8Images.from_float(x if idx is None else x[idx], info.value_range)
    subset = ds if idx is None else torch.utils.data.Subset(ds, idx.tolist())
    loader = torch.utils.data.DataLoader(subset, batch_size=1024, shuffle=False, num_workers=0)
    parts = [UInt8Images.from_float(xb, info.value_range).images for xb, *_ in loader]
    return UInt8Images(torch.cat(parts))


def _split_of(options: dict[str, Any]) -> str:
    return str(options.get("split", "train"))


def _ganzoo_reference(dataset: str, options: dict[str, Any], *, data_root: Path | None, limit: int | None,
                      host: Any, tag: str) -> Reference:
    """The dataset's own images, or for a full reference the torch-fidelity input the dataset names as
    holding the same images (:meth:`~ganzoo.DatasetSpec.fidelity_reference`, with cached statistics)."""
    spec = host.datasets.get(dataset).with_options(options, prefix="dataset")
    registered = spec.fidelity_reference()
    options = json.loads(json.dumps(dict(spec.opts), sort_keys=True, default=str))
    split = _split_of(options)
    resolution = options.get("resolution")
    count = "all" if limit is None else str(limit)
    if registered and limit is None:
        cache_name, origin, label = registered, "torch-fidelity", registered
    else:
        res = f"{resolution}px-" if resolution else ""
        cache_name = f"ganzoo-{dataset}-{split}-{res}{_options_hash(options)}-{count}"
        origin, label = "ganzoo-dataset", f"{dataset}/{split}"
    if tag:
        cache_name += f"-{tag}"

    def build() -> torch.utils.data.Dataset:
        data = spec.build(data_root=data_root, seed=REFERENCE_SEED)
        return ganzoo_images(data, MAX_REFERENCE if limit is None else limit)

    ref = Reference(label=label, origin=origin, input=None, cache_name=cache_name, dataset=dataset, split=split,
                    options=options, requested=limit)
    ref.input = LazyDataset(build, on_build=ref._record)
    return ref


def _torch_fidelity_reference(name: str, *, data_root: Path | None, limit: int | None, tag: str) -> Reference:
    from torch_fidelity.registry import DATASETS_REGISTRY

    def build() -> torch.utils.data.Dataset:
        root = Path(data_root) if data_root else Path(torch.hub.get_dir()).parent / "fidelity_datasets"
        root.mkdir(parents=True, exist_ok=True)
        try:
            ds = DATASETS_REGISTRY[name](str(root), True)
        except Exception as exc:  # noqa: BLE001 - offline, bad files: one clear error
            raise DataUnavailableError(
                f"reference {name!r} is not available in {root} and could not be downloaded ({type(exc).__name__}: "
                f"{str(exc)[:200]}); point --data-root at the folder holding its files"
            ) from None
        idx = _subset_indices(len(ds), MAX_REFERENCE if limit is None else limit)
        return ds if idx is None else torch.utils.data.Subset(ds, idx.tolist())

    cache_name = name if limit is None else f"{name}-{limit}"
    if tag:
        cache_name += f"-{tag}"
    ref = Reference(label=name, origin="torch-fidelity", input=None, cache_name=cache_name, dataset=name,
                    split=name.rsplit("-", 1)[-1], requested=limit)
    ref.input = LazyDataset(build, on_build=ref._record)
    return ref


def make_reference(
    spec: str | None,
    info: DataInfo,
    *,
    dataset_options: dict[str, Any] | None = None,
    data_root: Path | None = None,
    num_reference: int | None = None,
    host: Any = None,
    tag: str = "",
) -> Reference:
    """The reference for a generator of ``info``: its training dataset (``spec`` None), a ganzoo dataset
    name (``NAME`` or ``NAME:SPLIT``), a torch-fidelity registered input, or a folder of images."""
    from torch_fidelity.registry import DATASETS_REGISTRY

    if host is None:
        host = get_host()
    limit = None if num_reference is None else int(num_reference)
    if limit is not None and limit < 2:
        raise ConfigError(f"--num-reference {limit}: expected at least 2 reference images")
    cap = min(limit, MAX_REFERENCE) if limit is not None else None
    if spec is None or spec == info.name:
        return _ganzoo_reference(info.name, dict(dataset_options or {}), data_root=data_root, limit=cap, host=host, tag=tag)
    if spec in DATASETS_REGISTRY:
        return _torch_fidelity_reference(spec, data_root=data_root, limit=cap, tag=tag)
    name, _, split = spec.partition(":")
    if name in host.datasets:
        options: dict[str, Any] = dict(dataset_options or {}) if name == info.name else {}
        base = host.datasets.get(name)
        if "resolution" in base.options and info.resolution and "resolution" not in options:
            choices = base.options["resolution"].choices
            if choices is None or info.resolution in choices:
                options["resolution"] = info.resolution
        if split:
            if "split" not in base.options:
                raise ConfigError(f"--reference {spec!r}: dataset {name!r} has no splits")
            options["split"] = split
        return _ganzoo_reference(name, options, data_root=data_root, limit=cap, host=host, tag=tag)
    path = Path(spec).expanduser()
    if path.is_dir():
        if cap is not None:
            raise ConfigError(f"--num-reference: not supported with a folder reference ({spec!r}); it uses every image")
        return Reference(label=str(path), origin="folder", input=str(path), cache_name=None,
                         fidelity_kwargs={"samples_find_deep": True,
                                          "samples_resize_and_crop": int(info.resolution or 0)})
    allowed = sorted({*host.datasets.names(), *DATASETS_REGISTRY})
    raise ConfigError(f"--reference {spec!r}: not a dataset, a torch-fidelity input or a folder; allowed: "
                      f"{', '.join(allowed)} (NAME:SPLIT picks a split) or a folder of images")
