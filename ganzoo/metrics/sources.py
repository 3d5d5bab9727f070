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
from ganzoo.specs import DataInfo

__all__ = [
    "GeneratorSource",
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


def _module_forward(G: nn.Module) -> Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]:
    def forward(z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        device = next(G.parameters()).device
        z = z.to(device)
        return G(z) if labels is None else G(z, labels.to(device))

    return forward


def source_from_module(G: nn.Module, info: DataInfo, *, latent_distribution: str = "normal", **kw: Any) -> GeneratorSource:
    """Wrap an ``nn.Module`` generator (put in eval mode by the caller)."""
    return GeneratorSource(
        info=info, latent_dim=int(G.latent_dim), latent_distribution=latent_distribution, generate=_module_forward(G),
        num_classes=int(getattr(G, "num_classes", 0) or 0), module=G, **kw,
    )


def source_from_run(run_dir: Path, *, use_ema: bool = True, device: str | torch.device = "cpu", host: Any = None) -> GeneratorSource:
    """The newest checkpoint of a run (EMA weights when present and wanted)."""
    from ganzoo.engine.api import load_generator

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


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device.startswith("cuda") and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _onnx_session(path: Path, device: str) -> tuple[Any, dict[str, Any]]:
    """An onnxruntime session with explicit providers, and the model's metadata (JSON-decoded)."""
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - a dependency
        raise GanzooError("evaluating an ONNX file needs onnxruntime (pip install onnxruntime-gpu)") from None
    try:
        session = ort.InferenceSession(str(path), providers=_providers(device))
    except Exception as exc:  # noqa: BLE001 - corrupt or unsupported file
        raise GanzooError(f"cannot load ONNX model {str(path)!r}: {str(exc)[:300]}") from None
    meta = session.get_modelmeta().custom_metadata_map or {}
    return session, {k: _meta_value(v) for k, v in meta.items()}


def _info_from_meta(path: Path, meta: dict[str, Any], host: Any) -> tuple[DataInfo, dict[str, Any]]:
    """The data description of an exported generator: from metadata, the run it sits in, or its dataset."""
    from ganzoo.engine.components import info_from_dict

    options = meta.get("ganzoo.dataset_options")
    options = dict(options) if isinstance(options, dict) else {}
    if isinstance(meta.get("ganzoo.data_info"), dict):
        return info_from_dict(meta["ganzoo.data_info"]), options
    run_dir = path.parent
    if (run_dir / "config.toml").is_file() and (run_dir / "checkpoints").is_dir():
        from ganzoo.engine import checkpoint as ckpt
        from ganzoo.engine.api import read_run_config

        try:
            state, _ = ckpt.load_latest(run_dir)
            return info_from_dict(state["data_info"]), options or dict(read_run_config(run_dir).dataset)
        except GanzooError:
            pass
    dataset = meta.get("ganzoo.dataset")
    shape = meta.get("ganzoo.sample_shape")
    if not dataset or not isinstance(shape, list):
        raise GanzooError(f"{str(path)!r} lacks ganzoo metadata (ganzoo.dataset, ganzoo.sample_shape); "
                          "export it with `ganzoo export`")
    vr = meta.get("ganzoo.value_range") or [-1.0, 1.0]
    kind = "image" if len(shape) == 3 else "vector"
    info = DataInfo(name=str(dataset), kind=kind, shape=tuple(int(s) for s in shape),
                    value_range=(float(vr[0]), float(vr[1])),
                    num_classes=int(meta.get("ganzoo.num_classes") or 0) or None)
    return info, options


def source_from_onnx(path: Path, *, device: str = "cpu", host: Any = None) -> GeneratorSource:
    """An exported generator run by onnxruntime with explicit providers (never torch-fidelity's loader)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{str(path)!r}: no such ONNX file")
    session, meta = _onnx_session(path, device)
    inputs = [i.name for i in session.get_inputs()]
    latent_dim = meta.get("ganzoo.latent_dim")
    if latent_dim is None:
        dim = session.get_inputs()[0].shape[-1]
        if not isinstance(dim, int):
            raise GanzooError(f"{str(path)!r}: cannot tell the latent size (no ganzoo.latent_dim metadata)")
        latent_dim = dim
    num_classes = int(meta.get("ganzoo.num_classes") or 0)
    info, options = _info_from_meta(path, meta, host)

    def generate(z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        feed = {inputs[0]: z.detach().cpu().numpy().astype(np.float32)}
        if labels is not None and len(inputs) > 1:
            feed[inputs[1]] = labels.detach().cpu().numpy().astype(np.int64)
        out = session.run(None, feed)[0]
        return torch.from_numpy(np.ascontiguousarray(out)).to(z.device)

    step = meta.get("ganzoo.step")
    return GeneratorSource(
        info=info, latent_dim=int(latent_dim), latent_distribution=str(meta.get("ganzoo.latent_distribution") or "normal"),
        generate=generate, num_classes=num_classes, kind="onnx", path=str(path),
        step=int(step) if step is not None else None, used_ema=meta.get("ganzoo.ema") if isinstance(meta.get("ganzoo.ema"), bool) else None,
        dataset_options=options, extra={"providers": session.get_providers(), "architecture": meta.get("ganzoo.architecture")},
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
    def from_float(cls, x: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> "UInt8Images":
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
