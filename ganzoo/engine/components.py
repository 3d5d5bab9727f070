"""Assemble a run's components from a resolved config: data, generator, discriminator, loss, mitigations."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.config import RunConfig
from ganzoo.errors import IncompatibleError, InvalidComponentError
from ganzoo.specs import ArchitectureSpec, DataInfo, Discriminator, GanData, LossSpec, MitigationSpec


@dataclass
class Assembly:
    config: RunConfig
    info: DataInfo
    d_info: DataInfo
    arch: ArchitectureSpec
    loss: LossSpec
    mitigations: list[MitigationSpec]
    generator: nn.Module
    discriminator: Discriminator
    data: GanData | None = None

    @property
    def batch_norm_ok(self) -> bool:
        return self.loss.batch_norm_ok and all(m.batch_norm_ok for m in self.mitigations)


def info_to_dict(info: DataInfo) -> dict[str, Any]:
    d = asdict(info)
    d["shape"] = list(info.shape)
    d["value_range"] = [float(v) for v in info.value_range]
    d["mode_centres"] = [list(c) for c in info.mode_centres] if info.mode_centres else None
    d["extras"] = dict(info.extras)
    return d


def info_from_dict(d: dict[str, Any]) -> DataInfo:
    return DataInfo(
        name=d["name"],
        kind=d["kind"],
        shape=tuple(int(s) for s in d["shape"]),
        value_range=(float(d["value_range"][0]), float(d["value_range"][1])),
        num_classes=d.get("num_classes"),
        num_modes=d.get("num_modes"),
        mode_centres=tuple(tuple(float(v) for v in c) for c in d["mode_centres"]) if d.get("mode_centres") else None,
        mode_std=d.get("mode_std"),
        extras=dict(d.get("extras") or {}),
    )


def configured_components(cfg: RunConfig, host: Any) -> tuple[Any, ArchitectureSpec, LossSpec, list[MitigationSpec]]:
    dataset = host.datasets.get(cfg.run["dataset"]).with_options(cfg.dataset, prefix="dataset")
    arch = host.architectures.get(cfg.run["arch"]).with_options(cfg.arch, prefix="arch")
    loss = host.losses.get(cfg.run["loss"]).with_options(cfg.loss, prefix="loss")
    mitigations = [
        host.mitigations.get(name).with_options(cfg.mitigation.get(name, {}), prefix=f"mitigation.{name}")
        for name in cfg.run["mitigations"]
    ]
    return dataset, arch, loss, mitigations


def build_data(cfg: RunConfig, host: Any) -> GanData:
    dataset = host.datasets.get(cfg.run["dataset"]).with_options(cfg.dataset, prefix="dataset")
    root = Path(cfg.run["data_root"]).expanduser() if cfg.run.get("data_root") else None
    data = dataset.build(data_root=root, seed=int(cfg.run["seed"]))
    if not isinstance(data, GanData):
        raise InvalidComponentError(f"dataset {dataset.name!r}: build() must return ganzoo.GanData, got {type(data).__name__}")
    if len(data) == 0:
        raise IncompatibleError(f"dataset {dataset.name!r} is empty")
    return data


def assemble(cfg: RunConfig, host: Any, *, info: DataInfo | None = None, with_data: bool = True) -> Assembly:
    """Build everything a run needs. Without data, ``info`` (e.g. from a checkpoint) describes it."""
    _, arch, loss, mitigations = configured_components(cfg, host)
    data = None
    if with_data:
        data = build_data(cfg, host)
        info = data.info
    assert info is not None
    reason = arch.supports(info)
    if reason:
        raise IncompatibleError(f"architecture {arch.name!r} cannot model dataset {info.name!r}: {reason}")
    names = [m.name for m in mitigations]
    for m in mitigations:
        m.check(info=info, batch_size=int(cfg.run["batch_size"]), loss=loss, mitigations=names)
    d_info = info
    for m in mitigations:
        d_info = m.discriminator_info(d_info)
    torch.manual_seed(int(cfg.run["seed"]))
    generator = arch.build_generator(info)
    if not isinstance(getattr(generator, "latent_dim", None), int):
        raise InvalidComponentError(f"architecture {arch.name!r}: the generator must have an int attribute latent_dim")
    for m in mitigations:
        generator = m.wrap_generator(generator)
    batch_norm = loss.batch_norm_ok and all(m.batch_norm_ok for m in mitigations)
    discriminator = arch.build_discriminator(d_info, batch_norm=batch_norm)
    if not isinstance(discriminator, Discriminator):
        raise InvalidComponentError(
            f"architecture {arch.name!r}: build_discriminator must return a ganzoo.specs.Discriminator, "
            f"got {type(discriminator).__name__}"
        )
    for m in mitigations:
        discriminator = m.wrap_discriminator(discriminator)
    return Assembly(cfg, info, d_info, arch, loss, mitigations, generator, discriminator, data)


def sample_latent(n: int, latent_dim: int, distribution: str, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
    if distribution == "uniform":
        return torch.rand(n, latent_dim, device=device, generator=generator) * 2 - 1
    return torch.randn(n, latent_dim, device=device, generator=generator)
