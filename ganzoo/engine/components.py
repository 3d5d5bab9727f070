"""Assemble a run's components from a resolved config: data, generator, discriminator, loss, mitigations."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.config import RunConfig
from ganzoo.errors import IncompatibleError, InvalidComponentError
from ganzoo.specs import (
    ArchitectureSpec,
    BatchNeeds,
    DataInfo,
    Discriminator,
    GanData,
    HeadFeature,
    LossSpec,
    MitigationSpec,
    SetupContext,
    generator_num_classes,
)


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
    batch: BatchNeeds
    """The combined discriminator-batch needs of the mitigations (``pack`` is the product)."""
    data: GanData | None = None

    @property
    def batch_norm_ok(self) -> bool:
        return self.loss.batch_norm_ok and all(m.batch_norm_ok for m in self.mitigations)

    @property
    def num_classes(self) -> int | None:
        """Classes of a conditional generator, else None."""
        return generator_num_classes(self.generator)


class HeadStack(nn.Module):
    """``out(f_k(...f_1(h)))``: each mitigation's head feature appends per-batch statistics to the flat
    features ``h``; ``out`` is the final ``Linear(d_total, 1)``."""

    def __init__(self, augmenters: list[nn.Module], out: nn.Linear) -> None:
        super().__init__()
        self.augmenters = nn.ModuleList(augmenters)
        self.out = out

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for a in self.augmenters:
            h = a(h)
        return self.out(h)


def combine_batch_needs(batch_size: int, needs: list[tuple[str, BatchNeeds]]) -> BatchNeeds:
    """The discriminator batch all mitigations share; raise :class:`IncompatibleError` naming the
    mitigation whose need ``batch_size`` does not meet (the order of the mitigations is irrelevant)."""
    pack = 1
    for _, need in needs:
        pack *= int(need.pack)
    if batch_size % pack:
        lo, hi = (batch_size // pack) * pack, (batch_size // pack + 1) * pack
        who = " x ".join(f"{name} {n.pack}" for name, n in needs if n.pack > 1)
        sugg = " or ".join(str(b) for b in (lo, hi) if b > 0)
        raise IncompatibleError(
            f"batch size {batch_size} is not divisible by the pack size {pack} ({who}); use a multiple of {pack} "
            f"such as {sugg} (--set run.batch_size={hi})"
        )
    n = batch_size // pack
    packed = f"batch size {batch_size} packed by {pack} gives discriminator batches of {n}" if pack > 1 else f"batch size {batch_size}"
    min_batch, group = 1, 1
    for name, need in needs:
        if n < need.min_batch:
            raise IncompatibleError(
                f"{name}: {packed}; it needs at least {need.min_batch} samples per discriminator batch "
                f"(use --set run.batch_size={need.min_batch * pack} or larger)"
            )
        g = min(need.group, n)
        if n % g:
            step = pack * need.group
            lo, hi = (batch_size // step) * step, (batch_size // step + 1) * step
            sugg = " or ".join(str(b) for b in (lo, hi) if b > 0)
            raise IncompatibleError(
                f"{name}: {packed}, which is not divisible by the group size {need.group}; use a batch size "
                f"that is a multiple of {step} (e.g. {sugg}: --set run.batch_size={hi}) or set "
                f"mitigation.{name}.group_size to a divisor of {n}"
            )
        min_batch, group = max(min_batch, need.min_batch), max(group, need.group)
    return BatchNeeds(pack=pack, min_batch=min_batch, group=group)


def packed_info(info: DataInfo, pack: int) -> DataInfo:
    """What the discriminator sees when ``pack`` samples are concatenated on the first axis."""
    if pack == 1:
        return info
    return info.replace(shape=(info.shape[0] * pack, *info.shape[1:]))


def pack_batch(x: torch.Tensor, pack: int) -> torch.Tensor:
    """``[N, C, ...] -> [N/m, m*C, ...]``: ``pack`` consecutive samples concatenated on the first axis."""
    if pack == 1:
        return x
    n = x.shape[0]
    if n % pack:
        raise IncompatibleError(f"a batch of {n} samples cannot be packed by {pack}; use a batch size that is a multiple of {pack}")
    return x.reshape(n // pack, pack * x.shape[1], *x.shape[2:])


def _attach_head_features(discriminator: Discriminator, mitigations: list[MitigationSpec], ctx: SetupContext,
                          arch: str) -> None:
    d_in = discriminator.feature_dim
    augmenters: list[nn.Module] = []
    adders: list[str] = []
    for m in mitigations:
        feature = m.head_feature(d_in, ctx)
        if feature is None:
            continue
        if not isinstance(feature, HeadFeature):
            raise InvalidComponentError(f"mitigation {m.name!r}: head_feature() must return a ganzoo.HeadFeature or None")
        augmenters.append(feature.module)
        adders.append(m.name)
        d_in += int(feature.extra)
    if not augmenters:
        return
    head = discriminator.head
    if not (isinstance(head, nn.Linear) and head.out_features == 1 and head.in_features == discriminator.feature_dim):
        raise IncompatibleError(
            f"architecture {arch!r} gives its discriminator a custom head ({type(head).__name__}); mitigations that add "
            f"head features ({', '.join(adders)}) need the default Linear(feature_dim, 1)"
        )
    ref = next(head.parameters())
    stack = HeadStack(augmenters, nn.Linear(d_in, 1))
    discriminator.head = stack.to(device=ref.device, dtype=ref.dtype)


def info_to_dict(info: DataInfo) -> dict[str, Any]:
    d = asdict(info)
    d["shape"] = list(info.shape)
    d["value_range"] = [float(v) for v in info.value_range]
    d["mode_centres"] = [list(c) for c in info.mode_centres] if info.mode_centres else None
    d["class_names"] = list(info.class_names) if info.class_names else None
    d["extras"] = dict(info.extras)
    return d


def info_from_dict(d: dict[str, Any]) -> DataInfo:
    """The inverse of :func:`info_to_dict` (also reads checkpoints written before the typed fields)."""
    extras = dict(d.get("extras") or {})
    names = d.get("class_names") or extras.get("class_names")
    return DataInfo(
        name=d["name"],
        kind=d["kind"],
        shape=tuple(int(s) for s in d["shape"]),
        value_range=(float(d["value_range"][0]), float(d["value_range"][1])),
        num_classes=d.get("num_classes"),
        class_names=tuple(str(n) for n in names) if names else None,
        num_modes=d.get("num_modes"),
        mode_centres=tuple(tuple(float(v) for v in c) for c in d["mode_centres"]) if d.get("mode_centres") else None,
        mode_std=d.get("mode_std"),
        mode_num_samples=d.get("mode_num_samples", extras.get("mode_num_samples")),
        stacked_from=d.get("stacked_from", extras.get("base_dataset")),
        extras=extras,
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


def assemble(cfg: RunConfig, host: Any, *, info: DataInfo | None = None, with_data: bool = True,
             device: torch.device | None = None) -> Assembly:
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
    batch_size = int(cfg.run["batch_size"])
    ctx = SetupContext(info=info, batch_size=batch_size, total_steps=int(cfg.run["steps"]),
                       device=device or torch.device("cpu"), loss=loss, latent_distribution=arch.latent_distribution)
    for m in mitigations:
        m.check(ctx)
    needs = combine_batch_needs(batch_size, [(m.name, _needs_of(m, ctx)) for m in mitigations])
    d_info = packed_info(info, needs.pack)
    torch.manual_seed(int(cfg.run["seed"]))
    generator = arch.build_generator(info)
    if not isinstance(getattr(generator, "latent_dim", None), int):
        raise InvalidComponentError(f"architecture {arch.name!r}: the generator must have an int attribute latent_dim")
    num_classes = generator_num_classes(generator)
    if num_classes and num_classes != info.num_classes:
        raise IncompatibleError(
            f"architecture {arch.name!r} built a generator for {num_classes} classes, but dataset {info.name!r} has "
            f"{'no labels' if not info.num_classes else f'{info.num_classes} classes'}"
        )
    for m in mitigations:
        generator = m.wrap_generator(generator, ctx)
    batch_norm = loss.batch_norm_ok and all(m.batch_norm_ok for m in mitigations)
    discriminator = arch.build_discriminator(d_info, batch_norm=batch_norm)
    if not isinstance(discriminator, Discriminator):
        raise InvalidComponentError(
            f"architecture {arch.name!r}: build_discriminator must return a ganzoo.Discriminator, "
            f"got {type(discriminator).__name__}"
        )
    if discriminator.num_classes and needs.pack > 1:
        raise IncompatibleError(
            f"a class-conditional discriminator cannot judge packs of {needs.pack} samples (one label each); "
            f"drop the packing mitigation or train the architecture unconditionally"
        )
    _attach_head_features(discriminator, mitigations, ctx, arch.name)
    for m in mitigations:
        discriminator = m.wrap_discriminator(discriminator, ctx)
    return Assembly(cfg, info, d_info, arch, loss, mitigations, generator, discriminator, needs, data)


def _needs_of(m: MitigationSpec, ctx: SetupContext) -> BatchNeeds:
    needs = m.batch_needs(ctx)
    if not isinstance(needs, BatchNeeds) or min(needs.pack, needs.min_batch, needs.group) < 1:
        raise InvalidComponentError(f"mitigation {m.name!r}: batch_needs() must return a ganzoo.BatchNeeds of positive ints")
    return needs


def sample_latent(n: int, latent_dim: int, distribution: str, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
    if distribution == "uniform":
        return torch.rand(n, latent_dim, device=device, generator=generator) * 2 - 1
    return torch.randn(n, latent_dim, device=device, generator=generator)
