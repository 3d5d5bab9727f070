"""Component contracts: what a plugin's architecture, loss, dataset or mitigation provides.

Every component is an object (normally an instance of one of the base classes here) that a
plugin hands to ``register`` in a ``ganzoo_register_*`` hook. The engine only talks to these
contracts; it never special-cases a component by name.

Options: each component declares ``options`` (name -> :class:`Option`). The engine validates the
user's values and gives the component a configured copy through :meth:`Component.with_options`;
inside the component read them from ``self.opts``.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from ganzoo.errors import ConfigError

__all__ = [
    "Option",
    "Component",
    "DataInfo",
    "GanData",
    "GanModels",
    "Discriminator",
    "ArchitectureSpec",
    "LossSpec",
    "DatasetSpec",
    "MitigationSpec",
    "DiscriminatorStep",
    "GeneratorStep",
    "COMPONENT_KINDS",
]

_MISSING = object()


@dataclass(frozen=True)
class Option:
    """One user-settable option of a component, with its default and allowed values."""

    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    type: type | None = None  # inferred from the default when omitted

    def value_type(self) -> type | None:
        if self.type is not None:
            return self.type
        if self.default is None:
            return None
        return type(self.default)

    def describe_allowed(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        t = self.value_type()
        name = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
                list: "a list", tuple: "a list"}.get(t, t.__name__ if t else "any value")
        bounds = []
        if self.minimum is not None:
            bounds.append(f">= {self.minimum}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum}")
        return name + (" " + " and ".join(bounds) if bounds else "")

    def validate(self, key: str, value: Any) -> Any:
        """Return ``value`` coerced to the option's type or raise :class:`ConfigError` naming ``key``."""
        t = self.value_type()
        bad = ConfigError(f"{key}: invalid value {value!r}; expected {self.describe_allowed()}")
        if t is bool:
            if not isinstance(value, bool):
                raise bad
        elif t is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad
        elif t is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad
            value = float(value)
        elif t in (list, tuple):
            if not isinstance(value, (list, tuple)):
                raise bad
            value = list(value)
        elif t is str:
            if not isinstance(value, str):
                raise bad
        if self.choices is not None and value not in self.choices:
            raise bad
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value != value:  # NaN
                raise bad
            if self.minimum is not None and value < self.minimum:
                raise bad
            if self.maximum is not None and value > self.maximum:
                raise bad
        return value


class Component:
    """Common part of every component: a name, a one-line summary, a reference, options."""

    kind: ClassVar[str] = "component"
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    reference: ClassVar[str] = ""  # paper or URL the defaults come from
    options: ClassVar[Mapping[str, Option]] = {}
    recommended: ClassVar[Mapping[str, Any]] = {}
    """Recommended run settings, as dotted config keys, e.g. ``{"train.lr_d": 1e-4, "train.n_critic": 5}``.
    They override ganzoo's defaults but lose to the user's config file and flags."""

    opts: Mapping[str, Any]

    def defaults(self) -> dict[str, Any]:
        return {k: o.default for k, o in self.options.items()}

    def with_options(self, values: Mapping[str, Any] | None = None, *, prefix: str | None = None) -> Any:
        """Return a copy configured with ``values`` (validated; missing keys take defaults)."""
        values = dict(values or {})
        prefix = prefix or f"{self.kind}"
        unknown = sorted(set(values) - set(self.options))
        if unknown:
            allowed = ", ".join(sorted(self.options)) or "none"
            raise ConfigError(
                f"{prefix}.{unknown[0]}: unknown option for {self.kind} {self.name!r}; allowed: {allowed}"
            )
        resolved = self.defaults()
        for key, value in values.items():
            resolved[key] = self.options[key].validate(f"{prefix}.{key}", value)
        configured = copy.copy(self)
        configured.opts = resolved
        return configured

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DataInfo:
    """What a dataset looks like. Architectures build their networks from it."""

    name: str
    kind: Literal["vector", "image"]
    shape: tuple[int, ...]
    """Shape of one sample: ``(D,)`` for vectors, ``(C, H, W)`` for images."""
    value_range: tuple[float, float] = (-1.0, 1.0)
    """Range of the values; images are always in [-1, 1]. For vectors, a bounding box of the data."""
    num_classes: int | None = None
    """Number of label classes when the data carries labels, else None."""
    num_modes: int | None = None
    """Number of known modes, for mode-coverage metrics (e.g. 8 for ring8, 1000 for stacked-mnist)."""
    mode_centres: tuple[tuple[float, ...], ...] | None = None
    """Centres of a Gaussian mixture (2D protocol), else None."""
    mode_std: float | None = None
    """Standard deviation of each mixture component (2D protocol), else None."""
    extras: Mapping[str, Any] = field(default_factory=dict)
    """Free-form hints for metrics and plugins (e.g. how labels map to modes)."""

    @property
    def channels(self) -> int:
        return self.shape[0] if self.kind == "image" else 1

    @property
    def resolution(self) -> int | None:
        return self.shape[-1] if self.kind == "image" else None

    @property
    def dim(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def replace(self, **changes: Any) -> "DataInfo":
        return replace(self, **changes)


@dataclass
class GanData:
    """A built dataset: its description and a map-style torch ``Dataset``.

    Items are ``(x, y)``: ``x`` a float32 tensor of ``info.shape`` in ``info.value_range`` and ``y``
    an int64 label (``-1`` when unlabelled). ``tensors`` optionally gives the whole data as
    ``(X, Y)`` so the engine can keep it on the device without a DataLoader.
    """

    info: DataInfo
    dataset: torch.utils.data.Dataset
    tensors: tuple[torch.Tensor, torch.Tensor] | None = None

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]


class DatasetSpec(Component, abc.ABC):
    """A dataset plugin. Required: :meth:`build`."""

    kind: ClassVar[str] = "dataset"

    @abc.abstractmethod
    def build(self, *, data_root: Path | None, seed: int) -> GanData:
        """Build the data. ``data_root`` is the user's ``--data-root`` (or None); offline and without
        local files, raise :class:`ganzoo.errors.DataUnavailableError` saying how to point at files."""


# --------------------------------------------------------------------------- models


class Discriminator(nn.Module):
    """The discriminator contract: ``features`` maps a batch to flat features ``[N, feature_dim]``
    and ``head`` maps those to one logit per sample. ``forward`` returns logits of shape ``[N]``.

    Mitigations may replace ``head`` (minibatch discrimination, minibatch stddev) or wrap layers
    (spectral norm); architectures only need to build ``features``.
    """

    def __init__(self, features: nn.Module, feature_dim: int, head: nn.Module | None = None) -> None:
        super().__init__()
        self.features = features
        self.feature_dim = int(feature_dim)
        self.head = head if head is not None else nn.Linear(self.feature_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x).flatten(1)
        return self.head(h).reshape(-1)


@dataclass
class GanModels:
    generator: nn.Module
    discriminator: Discriminator


class ArchitectureSpec(Component, abc.ABC):
    """An architecture plugin: builds a generator and a discriminator from a :class:`DataInfo`.

    The generator must be an ``nn.Module`` with an int attribute ``latent_dim`` whose
    ``forward(z)`` maps ``z: [N, latent_dim]`` to ``[N, *info.shape]`` in ``info.value_range``
    (conditional generators also take ``labels: [N]`` int64 and set ``num_classes``).
    """

    kind: ClassVar[str] = "architecture"
    latent_distribution: ClassVar[str] = "normal"  # "normal" (N(0, 1)) or "uniform" (U(-1, 1))

    def supports(self, info: DataInfo) -> str | None:
        """Return None when the architecture handles ``info``, else the reason it does not."""
        return None

    @abc.abstractmethod
    def build_generator(self, info: DataInfo) -> nn.Module:
        """Build the generator for data described by ``info``."""

    @abc.abstractmethod
    def build_discriminator(self, info: DataInfo, *, batch_norm: bool) -> Discriminator:
        """Build the discriminator for inputs described by ``info`` (which mitigations such as
        PacGAN may have changed). ``batch_norm`` is False when the loss or a mitigation needs
        per-sample gradients (gradient penalties); honour it."""


# --------------------------------------------------------------------------- losses


class LossSpec(Component, abc.ABC):
    """A GAN objective. Required: :meth:`discriminator_loss` and :meth:`generator_loss`.

    ``recommended`` carries the optimizer settings the loss is known to work with
    (``train.lr_g``, ``train.lr_d``, ``train.betas``, ``train.n_critic``).
    """

    kind: ClassVar[str] = "loss"
    batch_norm_ok: ClassVar[bool] = True
    """False when the discriminator must not use BatchNorm (per-sample gradient penalties)."""

    @abc.abstractmethod
    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Scalar loss the discriminator minimises."""

    @abc.abstractmethod
    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """Scalar loss the generator minimises."""

    def penalty(
        self, discriminator: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor | None:
        """Optional extra discriminator term (e.g. a gradient penalty), already weighted.

        ``discriminator`` is a callable (already including any input preparation such as packing);
        ``real`` and ``fake`` are the (prepared) inputs. Computed in fp32 by the engine."""
        return None

    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        """Called after each optimizer step of the discriminator (e.g. weight clipping)."""


# --------------------------------------------------------------------------- mitigations


@dataclass
class DiscriminatorStep:
    """What a mitigation sees during a discriminator update."""

    step: int
    discriminator: Callable[[torch.Tensor], torch.Tensor]
    """The discriminator as called by the engine (input preparation included)."""
    real: torch.Tensor
    """Real batch as the discriminator sees it (after :meth:`MitigationSpec.prepare_batch`)."""
    fake: torch.Tensor
    real_logits: torch.Tensor
    fake_logits: torch.Tensor


@dataclass
class GeneratorStep:
    """What a mitigation sees during a generator update."""

    step: int
    generator: nn.Module
    discriminator: nn.Module
    """The raw discriminator module (its parameters are the real state; do not modify in place)."""
    z: torch.Tensor
    fake: torch.Tensor
    """Generator output for ``z`` (not yet prepared for the discriminator)."""
    loss: LossSpec
    sample_real: Callable[[], torch.Tensor]
    """Draws a fresh real batch (raw, as the dataset provides it)."""
    sample_latent: Callable[[int], torch.Tensor]
    prepare: Callable[[torch.Tensor], torch.Tensor]
    """Applies every mitigation's batch preparation (e.g. packing) to a raw batch."""
    discriminator_objective: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
    """``f(D, real_raw, fake_raw)``: the full discriminator loss (loss + penalty + regularisers)
    that the engine minimises for ``D``; use it to simulate discriminator steps."""
    lr_d: float
    betas_d: tuple[float, float]


class MitigationSpec(Component):
    """A mode-collapse mitigation. Every method is optional; the default changes nothing.

    The engine calls, in order: :meth:`check` at set-up; :meth:`discriminator_info` before the
    discriminator is built; :meth:`wrap_generator` / :meth:`wrap_discriminator` after; then every
    step :meth:`prepare_batch` on real and fake batches before the discriminator sees them,
    :meth:`discriminator_regularizer` in the D update, and :meth:`discriminator_for_generator`
    and :meth:`generator_regularizer` in the G update.
    """

    kind: ClassVar[str] = "mitigation"
    batch_norm_ok: ClassVar[bool] = True
    changes_generator: ClassVar[bool] = False
    """True when :meth:`wrap_generator` changes the generator (export tests cover these)."""

    def check(self, *, info: DataInfo, batch_size: int, loss: LossSpec, mitigations: Sequence[str]) -> None:
        """Raise :class:`ganzoo.errors.IncompatibleError` when this mitigation cannot work here."""

    def discriminator_info(self, info: DataInfo) -> DataInfo:
        """What the discriminator's input looks like (e.g. PacGAN packs m samples on channels)."""
        return info

    def wrap_generator(self, generator: nn.Module) -> nn.Module:
        return generator

    def wrap_discriminator(self, discriminator: Discriminator) -> Discriminator:
        return discriminator

    def prepare_batch(self, x: torch.Tensor) -> torch.Tensor:
        """Transform a real or fake batch before the discriminator sees it."""
        return x

    def discriminator_regularizer(self, step: DiscriminatorStep) -> torch.Tensor | None:
        """Extra (weighted) term added to the discriminator's loss."""
        return None

    def discriminator_for_generator(self, discriminator: nn.Module, step: GeneratorStep) -> nn.Module:
        """The discriminator the generator's loss is computed through (e.g. an unrolled copy).
        Must not change ``discriminator``'s parameters or buffers."""
        return discriminator

    def generator_regularizer(self, step: GeneratorStep) -> torch.Tensor | None:
        """Extra (weighted) term added to the generator's loss."""
        return None


COMPONENT_KINDS: dict[str, type[Component]] = {
    "architecture": ArchitectureSpec,
    "loss": LossSpec,
    "dataset": DatasetSpec,
    "mitigation": MitigationSpec,
}
"""Singular kind name -> base class."""

REQUIRED_METHODS: dict[str, tuple[str, ...]] = {
    "architecture": ("build_generator", "build_discriminator", "supports"),
    "loss": ("discriminator_loss", "generator_loss", "penalty", "after_discriminator_step"),
    "dataset": ("build",),
    "mitigation": (
        "check",
        "discriminator_info",
        "wrap_generator",
        "wrap_discriminator",
        "prepare_batch",
        "discriminator_regularizer",
        "discriminator_for_generator",
        "generator_regularizer",
    ),
}
"""Methods each kind must have (the base classes provide the optional ones)."""
