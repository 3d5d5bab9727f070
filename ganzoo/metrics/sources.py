"""What ``ganzoo eval`` scores: generators (a run's checkpoint, an ONNX file, a module) and the uint8
image views torch-fidelity wants, without writing samples to disk.

Latents come from torch-fidelity's own noise sources seeded with a ``numpy.random.RandomState``, so
a checkpoint and its ONNX export fed the same seed see exactly the same latents.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganzoo.errors import ConfigError, GanzooError
from ganzoo.specs import DataInfo, generator_latent_dim
from ganzoo.rundir import load_generator
from ganzoo.engine.components import info_from_dict
from ganzoo.engine import checkpoint as ckpt
from ganzoo.rundir import read_run_config
from ganzoo.plugins import get_host

__all__ = [
    "GeneratorSource",
    "class_sampler",
    "FidelityGenerator",
    "UInt8Images",
    "LazyDataset",
    "to_uint8",
    "source_from_module",
    "source_from_run",
    "source_from_onnx",
    "load_target",
    "noise_type",
]

LATENT_CHUNK = 1000
"""Latents are drawn in chunks of this size, so samples do not depend on the batch size."""


def noise_type(latent_distribution: str) -> str:
    """torch-fidelity noise source for a ganzoo latent distribution."""
    from ganzoo.metrics.extractors import UNIFORM_NOISE, register_extractors

    register_extractors()
    if latent_distribution == "normal":
        return "normal"
    if latent_distribution == "uniform":
        return UNIFORM_NOISE
    raise GanzooError(f"unknown latent distribution {latent_distribution!r} (expected normal or uniform)")


def to_uint8(x: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Images in ``value_range`` -> uint8 ``[N, 3, H, W]`` (grey repeated to 3 channels)."""
    lo, hi = float(value_range[0]), float(value_range[1])
    x = x.float()
    u8 = ((x - lo) * (255.0 / (hi - lo))).round_().clamp_(0, 255).to(torch.uint8)
    if u8.shape[1] == 1:
        u8 = u8.expand(-1, 3, -1, -1)
    elif u8.shape[1] != 3:
        raise GanzooError(f"images with {u8.shape[1]} channels cannot be scored by torch-fidelity (1 or 3 expected)")
    return u8.contiguous()


@dataclass
class GeneratorSource:
    """A generator to evaluate: ``generate(z, labels)`` maps latents to samples in ``info.value_range``."""

    info: DataInfo
    latent_dim: int
    latent_distribution: str
    generate: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
    num_classes: int = 0
    module: nn.Module | None = None
    kind: str = "module"  # checkpoint | onnx | module
    path: str | None = None
    step: int | None = None
    used_ema: bool | None = None
    dataset_options: dict[str, Any] = field(default_factory=dict)
    data_root: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    full_info: Callable[[Path | None], DataInfo] | None = None
    """Builds a complete :class:`DataInfo` (modes, centres) when ``info`` comes from thin metadata."""

    def mode_info(self, data_root: Path | None = None) -> DataInfo:
        """``info`` with everything mode metrics need (rebuilt from the dataset plugin for bare ONNX files)."""
        if self.full_info is not None and self.info.num_modes is None:
            self.info = self.full_info(data_root or self.data_root)
            self.full_info = None
        return self.info

    def latents(self, n: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Latents (and labels for conditional generators) for ``n`` samples, in chunks."""
        from torch_fidelity.registry import NOISE_SOURCE_REGISTRY

        fn = NOISE_SOURCE_REGISTRY[noise_type(self.latent_distribution)]
        rng = np.random.RandomState(seed)
        for start in range(0, n, LATENT_CHUNK):
            k = min(LATENT_CHUNK, n - start)
            z = fn(rng, (k, self.latent_dim))
            labels = torch.from_numpy(rng.randint(0, self.num_classes, size=(k,)).astype(np.int64)) if self.num_classes else None
            yield z, labels

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, batch_size: int = 256, device: torch.device | str = "cpu") -> torch.Tensor:
        """``n`` samples as a float32 CPU tensor (deterministic in ``seed``, independent of ``batch_size``)."""
        out = []
        for z, labels in self.latents(n, seed):
            for i in range(0, z.shape[0], batch_size):
                zb = z[i : i + batch_size].to(device)
                lb = labels[i : i + batch_size].to(device) if labels is not None else None
                out.append(self.generate(zb, lb).float().cpu())
        return torch.cat(out) if out else torch.empty(0, *self.info.shape)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "step": self.step, "ema": self.used_ema,
                "dataset": self.info.name, **self.extra}


def class_sampler(source: GeneratorSource, seed: int, batch_size: int,
                  device: str | torch.device) -> Callable[[int, int], torch.Tensor]:
    """``sample_class(n, k)``: ``n`` samples of class ``k`` of a conditional generator (seeded per class)."""

    @torch.no_grad()
    def sample_class(n: int, k: int) -> torch.Tensor:
        if not 0 <= k < source.num_classes:
            raise GanzooError(f"class {k}: expected 0..{source.num_classes - 1}")
        out = []
        for z, _ in source.latents(n, seed + 7919 * (k + 1)):
            for i in range(0, z.shape[0], batch_size):
                zb = z[i : i + batch_size].to(device)
                out.append(source.generate(zb, torch.full((zb.shape[0],), k, dtype=torch.long, device=zb.device)).float().cpu())
        return torch.cat(out)

    return sample_class


def _module_forward(G: nn.Module) -> Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]:
    def forward(z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        device = next(G.parameters()).device
        z = z.to(device)
        return G(z) if labels is None else G(z, labels.to(device))

    return forward


def source_from_module(G: nn.Module, info: DataInfo, *, latent_distribution: str = "normal", **kw: Any) -> GeneratorSource:
    """Wrap an ``nn.Module`` generator (put in eval mode by the caller)."""
    return GeneratorSource(
        info=info, latent_dim=generator_latent_dim(G), latent_distribution=latent_distribution, generate=_module_forward(G),
        num_classes=int(getattr(G, "num_classes", 0) or 0), module=G, **kw,
    )


def source_from_run(run_dir: Path, *, use_ema: bool = True, device: str | torch.device = "cpu", host: Any = None) -> GeneratorSource:
    """The newest checkpoint of a run (EMA weights when present and wanted)."""
    loaded = load_generator(run_dir, use_ema=use_ema, device=device, host=host)
    root = loaded.config.run.get("data_root") or None
    return source_from_module(
        loaded.generator, loaded.info, latent_distribution=loaded.latent_distribution, kind="checkpoint",
        path=str(loaded.checkpoint), step=loaded.step, used_ema=loaded.used_ema,
        dataset_options=dict(loaded.config.dataset), data_root=Path(root).expanduser() if root else None,
        extra={"architecture": loaded.architecture},
    )


# --------------------------------------------------------------------------- ONNX


def _meta_value(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, TypeError):
        return raw


def _dataset_options_for(dataset: str, shape: tuple[int, ...] | None, host: Any) -> dict[str, Any]:
    """Options that rebuild ``dataset`` at the exported resolution (ONNX metadata carries no options)."""
    options: dict[str, Any] = {}
    if shape and len(shape) == 3 and dataset in host.datasets:
        opt = host.datasets.get(dataset).options.get("resolution")
        if opt is not None and (opt.choices is None or shape[-1] in opt.choices):
            options["resolution"] = int(shape[-1])
    return options


def _onnx_info(path: Path, model: Any, host: Any) -> tuple[DataInfo, dict[str, Any], Path | None, Callable[[Path | None], DataInfo] | None]:
    """Data description, dataset options, data root and a lazy full description of an exported generator:
    from the run directory it sits in when there is one, else from its metadata (and dataset plugin)."""
    run_dir = path.parent
    if (run_dir / "config.toml").is_file() and (run_dir / "checkpoints").is_dir():
        try:
            cfg = read_run_config(run_dir)
            state, _ = ckpt.load_latest(run_dir)
            info = info_from_dict(state["data_info"])
            if info.name == model.metadata.get("ganzoo.dataset", info.name) and tuple(info.shape) == tuple(model.sample_shape or info.shape):
                root = cfg.run.get("data_root") or None
                return info, dict(cfg.dataset), Path(root).expanduser() if root else None, None
        except GanzooError:
            pass
    meta = model.info
    dataset = model.metadata.get("ganzoo.dataset")
    shape = model.sample_shape
    if not dataset or not shape:
        raise GanzooError(f"{str(path)!r} lacks ganzoo metadata (ganzoo.dataset, ganzoo.sample_shape); "
                          "export it with `ganzoo export`")
    kind = meta.kind or ("image" if len(shape) == 3 else "vector")
    info = DataInfo(name=str(dataset), kind=kind, shape=tuple(int(s) for s in shape),  # type: ignore[arg-type]
                    value_range=tuple(meta.value_range or (-1.0, 1.0)), num_classes=meta.num_classes,
                    mode_centres=meta.mode_centres)
    options = _dataset_options_for(str(dataset), shape, host)

    def full_info(data_root: Path | None) -> DataInfo:
        if dataset not in host.datasets:
            return info
        return host.datasets.get(dataset).with_options(options, prefix="dataset").build(data_root=data_root, seed=0).info

    return info, options, None, full_info


def source_from_onnx(path: Path, *, device: str = "cpu", host: Any = None) -> GeneratorSource:
    """An exported generator run by :mod:`ganzoo.runtime` (onnxruntime with explicit providers, never
    torch-fidelity's own ONNX loader)."""
    from ganzoo import runtime

    if host is None:
        host = get_host()
    path = Path(path)
    model = runtime.load(path, "auto" if str(device).startswith("cuda") else "cpu")
    info, options, data_root, full_info = _onnx_info(path, model, host)

    def generate(z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        lab = labels.detach().cpu().numpy().astype(np.int64) if labels is not None else None
        out = model.run(z.detach().cpu().numpy().astype(np.float32), lab)
        return torch.from_numpy(np.ascontiguousarray(out)).to(z.device)

    raw = model.metadata
    step = _meta_value(raw.get("ganzoo.step"))
    ema = _meta_value(raw.get("ganzoo.ema"))
    return GeneratorSource(
        info=info, latent_dim=int(model.latent_dim), latent_distribution=str(model.latent_distribution),
        generate=generate, num_classes=int(model.num_classes or 0), kind="onnx", path=str(path),
        step=int(step) if isinstance(step, int) else None, used_ema=ema if isinstance(ema, bool) else None,
        dataset_options=options, data_root=data_root, full_info=full_info,
        extra={"providers": model.providers, "architecture": raw.get("ganzoo.architecture")},
    )


def load_target(target: Path, *, use_ema: bool = True, device: str | torch.device = "cpu", host: Any = None) -> GeneratorSource:
    """``RUN_DIR`` (checkpoint) or ``MODEL.onnx``."""
    target = Path(target)
    if target.suffix.lower() == ".onnx":
        return source_from_onnx(target, device=str(device), host=host)
    if not target.exists():
        raise ConfigError(f"{str(target)!r} does not exist (expected a run directory or a .onnx file)")
    return source_from_run(target, use_ema=use_ema, device=device, host=host)


# --------------------------------------------------------------------------- torch-fidelity views


def _generative_base() -> type:
    from torch_fidelity.generative_model_base import GenerativeModelBase

    return GenerativeModelBase


class FidelityGenerator(_generative_base()):  # type: ignore[misc]
    """A :class:`GeneratorSource` as torch-fidelity's ``GenerativeModelBase``: uint8 ``[N, 3, H, W]``."""

    def __init__(self, source: GeneratorSource) -> None:
        super().__init__()
        if source.info.kind != "image":
            raise GanzooError(f"dataset {source.info.name!r} is vector data; FID/IS/KID/PRC need images")
        self.source = source
        self.module = source.module  # registered, so torch-fidelity's .cuda() moves it
        self.on_batch: Callable[[int], None] | None = None

    @property
    def z_size(self) -> int:
        return self.source.latent_dim

    @property
    def z_type(self) -> str:
        return noise_type(self.source.latent_distribution)

    @property
    def num_classes(self) -> int:
        return self.source.num_classes

    @torch.no_grad()
    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.source.generate(z, labels.long() if labels is not None else None)
        if self.on_batch is not None:
            self.on_batch(int(z.shape[0]))
        return to_uint8(x, self.source.info.value_range).to(z.device)


class UInt8Images(torch.utils.data.Dataset):
    """uint8 images ``[N, C, H, W]`` served as ``[3, H, W]`` tensors (grey repeated)."""

    def __init__(self, images: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError("images must be uint8 [N, C, H, W]")
        self.images = images

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> torch.Tensor:
        x = self.images[index]
        return x.expand(3, -1, -1) if x.shape[0] == 1 else x

    @classmethod
    def from_float(cls, x: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> UInt8Images:
        out = torch.empty(x.shape, dtype=torch.uint8)
        for i in range(0, x.shape[0], 4096):
            lo, hi = value_range
            out[i : i + 4096] = ((x[i : i + 4096].float() - lo) * (255.0 / (hi - lo))).round_().clamp_(0, 255).to(torch.uint8)
        return cls(out)


class LazyDataset(torch.utils.data.Dataset):
    """A dataset built on first access (so cached reference statistics need no data at all)."""

    def __init__(self, factory: Callable[[], torch.utils.data.Dataset], on_build: Callable[[int], None] | None = None) -> None:
        self._factory = factory
        self._on_build = on_build
        self._data: torch.utils.data.Dataset | None = None
        self.on_item: Callable[[], None] | None = None

    @property
    def built(self) -> bool:
        return self._data is not None

    def data(self) -> torch.utils.data.Dataset:
        if self._data is None:
            self._data = self._factory()
            if self._on_build is not None:
                self._on_build(len(self._data))  # type: ignore[arg-type]
        return self._data

    def __len__(self) -> int:
        return len(self.data())  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> torch.Tensor:
        item = self.data()[index]
        if self.on_item is not None:
            self.on_item()
        return item
