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
import builtins
import copy
from collections.abc import Callable, Mapping
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
    "StepContext",
    "SetupContext",
    "BatchContext",
    "Batch",
    "DiscriminatorStep",
    "GeneratorStep",
    "BatchNeeds",
    "HeadFeature",
    "generator_latent_dim",
    "generator_num_classes",
    "generator_training_latent_dim",
    "MetricValue",
    "MetricContext",
    "MetricSpec",
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

    def value_type(self) -> builtins.type | None:  # `type` is the field above in this class body
        if self.type is not None:
            return self.type
        if self.default is None:
            return None
        return type(self.default)

    def describe_allowed(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        t = self.value_type()
        names: dict[builtins.type | None, str] = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
                                                 list: "a list", tuple: "a list"}
        name = names.get(t, t.__name__ if t else "any value")
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
    """What a dataset looks like. Architectures build their networks from it; metrics read the
    typed mode and reference facts below (the core never special-cases a dataset's name)."""

    name: str
    kind: Literal["vector", "image"]
    shape: tuple[int, ...]
    """Shape of one sample: ``(D,)`` for vectors, ``(C, H, W)`` for images."""
    value_range: tuple[float, float] = (-1.0, 1.0)
    """Range of the values; images are always in [-1, 1]. For vectors, a bounding box of the data."""
    num_classes: int | None = None
    """Number of label classes when the data carries labels, else None. Batches then carry labels
    and conditional architectures may use them."""
    class_names: tuple[str, ...] | None = None
    """Names of the classes (``num_classes`` of them), when known."""
    num_modes: int | None = None
    """Number of known modes, for mode-coverage metrics (e.g. 8 for ring8, 1000 for stacked-mnist)."""
    mode_centres: tuple[tuple[float, ...], ...] | None = None
    """Centres of a Gaussian mixture (2D protocol), else None."""
    mode_std: float | None = None
    """Standard deviation of each mixture component (2D protocol), else None."""
    mode_num_samples: int | None = None
    """Generated samples of this dataset's mode protocol (e.g. 26,000 for stacked MNIST as VEEGAN and
    PacGAN); None: the protocol's default (2,500 for 2D mixtures, 10,000 for a classifier)."""
    stacked_from: str | None = None
    """Name of the dataset whose images form each channel (stacked MNIST: ``"mnist"``): the domain
    classifier is trained on that dataset and applied per channel, and modes are digit triples."""
    extras: Mapping[str, Any] = field(default_factory=dict)
    """Free-form, JSON-serialisable hints for a plugin's own metrics and components."""

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

    @property
    def stacked(self) -> tuple[str, int] | None:
        """``(stacked_from, channels)`` for data whose channels are images of another dataset, else None."""
        return (self.stacked_from, self.channels) if self.stacked_from else None

    @property
    def conditional(self) -> bool:
        """Whether samples carry class labels."""
        return bool(self.num_classes)

    def replace(self, **changes: Any) -> DataInfo:
        return replace(self, **changes)


@dataclass
class GanData:
    """A built dataset: its description and a map-style torch ``Dataset``.

    Items are ``(x, y)``: ``x`` a float32 tensor of ``info.shape`` in ``info.value_range`` and ``y``
    an int64 label in ``[0, info.num_classes)`` (``-1`` when unlabelled). ``tensors`` optionally
    gives the whole data as ``(X, Y)`` so the engine can keep it on the device without a DataLoader.
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

    def fidelity_reference(self) -> str | None:
        """A torch-fidelity registered input holding exactly the images this configured dataset builds
        (e.g. ``"cifar10-train"``), so FID/KID use its cached statistics; None (default) otherwise."""
        return None


# --------------------------------------------------------------------------- models


class Discriminator(nn.Module):
    """The discriminator contract: ``features`` maps a batch to flat features ``[N, feature_dim]``
    and ``head`` maps those to one logit per sample; ``forward(x, labels=None)`` returns ``[N]``.

    With ``num_classes`` set it is a projection discriminator (Miyato & Koyama 2018): the logit
    gains ``<embed(y), features(x)>``, so any architecture's discriminator can be class-conditional.
    The engine owns ``head``: mitigations add per-batch features to it through
    :meth:`MitigationSpec.head_feature`; architectures only build ``features``.
    """

    def __init__(
        self, features: nn.Module, feature_dim: int, head: nn.Module | None = None, *, num_classes: int | None = None
    ) -> None:
        super().__init__()
        self.features = features
        self.feature_dim = int(feature_dim)
        self.head = head if head is not None else nn.Linear(self.feature_dim, 1)
        self.num_classes = int(num_classes) if num_classes else None
        if self.num_classes:
            self.embed = nn.Embedding(self.num_classes, self.feature_dim)
            nn.init.normal_(self.embed.weight, std=self.feature_dim**-0.5)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x).flatten(1)
        out = self.head(h).reshape(-1)
        if self.num_classes and labels is not None:
            out = out + (self.embed(labels) * h).sum(dim=1).to(out.dtype)
        return out


@dataclass
class GanModels:
    generator: nn.Module
    discriminator: Discriminator


class ArchitectureSpec(Component, abc.ABC):
    """An architecture plugin: builds a generator and a discriminator from a :class:`DataInfo`.

    The generator must be an ``nn.Module`` with an int attribute ``latent_dim`` whose
    ``forward(z)`` maps ``z: [N, latent_dim]`` to ``[N, *info.shape]`` in ``info.value_range``
    (in training mode it may read only the first ``training_latent_dim``, see
    :func:`generator_training_latent_dim`).
    A class-conditional generator sets the int attribute ``num_classes`` and its forward is
    ``forward(z, labels)`` with ``labels: [N]`` int64; the engine then samples labels uniformly,
    passes them to G and to a conditional discriminator, and exports them as the ONNX input
    ``labels``.
    """

    kind: ClassVar[str] = "architecture"
    latent_distribution: ClassVar[str] = "normal"  # "normal" (N(0, 1)) or "uniform" (U(-1, 1))
    cpu_threads: ClassVar[int | None] = None
    """Torch threads a CPU run of this architecture should use (tiny networks: 1, as more threads only
    spin); None: the share of the machine the bench gives each run."""

    def relative_cost(self) -> float:
        """Rough time of one training step relative to a DCGAN-sized convnet (1.0); the bench starts the
        longest runs first and weights its progress bar by it."""
        return 1.0

    def supports(self, info: DataInfo) -> str | None:
        """Return None when the architecture handles ``info``, else the reason it does not."""
        return None

    @abc.abstractmethod
    def build_generator(self, info: DataInfo) -> nn.Module:
        """Build the generator for data described by ``info``."""

    @abc.abstractmethod
    def build_discriminator(self, info: DataInfo, *, batch_norm: bool) -> Discriminator:
        """Build the discriminator for inputs described by ``info`` (the engine's packing may have
        multiplied its channels or features). ``batch_norm`` is False when the loss or a mitigation
        needs per-sample gradients (gradient penalties); honour it."""


def generator_num_classes(generator: nn.Module) -> int | None:
    """The number of classes a conditional generator takes, or None for an unconditional one."""
    n = getattr(generator, "num_classes", None)
    return int(n) if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def generator_latent_dim(generator: nn.Module) -> int:
    """``int(generator.latent_dim)``: every generator has this attribute (see :class:`ArchitectureSpec`)."""
    latent_dim: Any = generator.latent_dim  # nn.Module.__getattr__ is typed Tensor | Module
    return int(latent_dim)


def generator_training_latent_dim(generator: nn.Module) -> int:
    """How many leading numbers of ``z`` the generator reads in training mode: its int attribute
    ``training_latent_dim`` where it declares one, else ``latent_dim``. The engine draws only these for training
    steps; a sampling-time wrapper whose eval-mode latent holds several candidates (``ratio-rejection``) declares
    the first candidate's size, so training does not pay for drawing the others. Sampling, evaluation and export
    always use the full ``latent_dim``."""
    declared: Any = getattr(generator, "training_latent_dim", None)
    return int(declared) if declared is not None else generator_latent_dim(generator)


# --------------------------------------------------------------------------- contexts


@dataclass
class StepContext:
    """Where training stands. Every per-step hook gets a context extending this one."""

    step: int
    """Generator steps completed before this update (0 in the first update)."""
    total_steps: int
    """The run's ``run.steps`` (a resumed, extended run sees the new total)."""
    device: torch.device
    info: DataInfo
    """The dataset's description (not the packed discriminator input)."""

    @property
    def progress(self) -> float:
        """``step / total_steps`` in [0, 1]: the usual input of a schedule."""
        return min(1.0, self.step / max(1, self.total_steps))


@dataclass
class SetupContext:
    """What a mitigation sees while a run is assembled (before the first step)."""

    info: DataInfo
    batch_size: int
    """The global batch size (real and fake samples per discriminator update)."""
    total_steps: int
    device: torch.device
    loss: LossSpec
    latent_distribution: str = "normal"
    """The architecture's latent distribution: ``normal`` (N(0, 1)) or ``uniform`` (U(-1, 1))."""


@dataclass
class BatchContext(StepContext):
    """What :meth:`MitigationSpec.transform` sees: one real or fake batch on its way to D."""

    role: Literal["real", "fake"]
    player: Literal["discriminator", "generator"]
    """Whose update the batch is for."""
    labels: torch.Tensor | None = None


@dataclass
class Batch:
    """A raw batch: samples and their labels (None for unlabelled data or an unconditional run)."""

    x: torch.Tensor
    labels: torch.Tensor | None = None


@dataclass
class DiscriminatorStep(StepContext):
    """A discriminator update: what its loss, penalty and the mitigations' regularisers see."""

    discriminator: Callable[..., torch.Tensor]
    """``discriminator(x, labels=None)``: D as the engine calls it, on prepared inputs."""
    real: torch.Tensor
    """Real batch as D sees it (transformed and packed)."""
    fake: torch.Tensor
    real_logits: torch.Tensor
    fake_logits: torch.Tensor
    real_labels: torch.Tensor | None = None
    fake_labels: torch.Tensor | None = None


@dataclass
class GeneratorStep(StepContext):
    """A generator update: what its loss and the mitigations' generator hooks see."""

    generator: nn.Module
    discriminator: nn.Module
    """The raw discriminator module (its parameters are the real state; do not modify in place)."""
    z: torch.Tensor
    fake: torch.Tensor
    """Generator output for ``z`` (not yet prepared for the discriminator)."""
    loss: LossSpec
    sample_real: Callable[[], Batch]
    """Draws a fresh real batch (raw, as the dataset provides it)."""
    sample_latent: Callable[[int], tuple[torch.Tensor, torch.Tensor | None]]
    """``sample_latent(n)``: ``n`` fresh latents and, for a conditional generator, ``n`` labels
    (else None), from the run's latent stream."""
    prepare: Callable[[torch.Tensor, BatchContext], torch.Tensor]
    """Applies every mitigation's transform and the engine's packing to a raw batch."""
    discriminator_objective: Callable[[nn.Module, Batch, Batch], torch.Tensor]
    """``f(D, real, fake)``: the full discriminator loss (loss + penalty + regularisers) that the
    engine minimises for ``D`` on raw batches; use it to simulate discriminator steps."""
    lr_d: float
    betas_d: tuple[float, float]
    labels: torch.Tensor | None = None
    """The labels the fakes were generated for (conditional runs), else None."""
    real: Batch | None = None
    """The real batch whose logits the loss asked for (:attr:`LossSpec.needs_real_logits`), else None."""


# --------------------------------------------------------------------------- losses


class LossSpec(Component, abc.ABC):
    """A GAN objective. Required: :meth:`discriminator_loss` and :meth:`generator_loss`.

    Both players' terms get the real and the fake logits. The generator's real logits cost one
    discriminator forward on a real batch, so the engine computes them only for a loss that sets
    :attr:`needs_real_logits` (relativistic losses); otherwise ``real_logits`` is None there.
    ``recommended`` carries the optimizer settings the loss is known to work with.
    """

    kind: ClassVar[str] = "loss"
    batch_norm_ok: ClassVar[bool] = True
    """False when the discriminator must not use BatchNorm (per-sample gradient penalties)."""
    needs_real_logits: ClassVar[bool] = False
    """True when :meth:`generator_loss` uses ``real_logits``."""

    @abc.abstractmethod
    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor, ctx: DiscriminatorStep | None = None
    ) -> torch.Tensor:
        """Scalar loss the discriminator minimises."""

    @abc.abstractmethod
    def generator_loss(
        self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor, ctx: GeneratorStep | None = None
    ) -> torch.Tensor:
        """Scalar loss the generator minimises. ``real_logits`` are D's logits (with gradients
        blocked from D) on a fresh real batch when :attr:`needs_real_logits`, else None."""

    def penalty(self, ctx: DiscriminatorStep) -> torch.Tensor | None:
        """Optional extra discriminator term (e.g. a gradient penalty), already weighted; the engine
        computes it in fp32 from ``ctx.discriminator``, ``ctx.real`` and ``ctx.fake``."""
        return None

    def after_discriminator_step(self, discriminator: nn.Module, ctx: StepContext) -> None:
        """Called after each optimizer step of the discriminator (e.g. weight clipping)."""


# --------------------------------------------------------------------------- mitigations


@dataclass(frozen=True)
class BatchNeeds:
    """What a mitigation needs of the discriminator's batch; the engine combines every mitigation's
    needs (packs multiply) and checks the result once, whatever the order."""

    pack: int = 1
    """Raw samples packed into one discriminator input (PacGAN's m); the engine concatenates them
    along the first (channel / feature) axis."""
    min_batch: int = 1
    """Discriminator inputs a batch must have at least (after packing)."""
    group: int = 1
    """The discriminator batch must split into groups of ``min(group, batch)`` (minibatch stddev)."""


@dataclass
class HeadFeature:
    """Per-batch features a mitigation appends to the discriminator's flat features:
    ``module`` maps ``[N, in_features]`` to ``[N, in_features + extra]``."""

    module: nn.Module
    extra: int


class MitigationSpec(Component):
    """A mode-collapse mitigation or regulariser. Every method is optional; the default changes nothing.

    At set-up the engine calls :meth:`check`, :meth:`batch_needs` and :meth:`head_feature` (whose
    modules it appends to D's head, in order), then :meth:`wrap_generator` / :meth:`wrap_discriminator`
    on the finished networks. Every step it calls :meth:`transform` on each real and fake batch before
    packing, :meth:`discriminator_regularizer` in the D update and :meth:`discriminator_for_generator`
    and :meth:`generator_regularizer` in the G update. A mitigation with state that must survive a
    resume returns it from :meth:`state_dict`. No hook sees another mitigation's name.
    """

    kind: ClassVar[str] = "mitigation"
    batch_norm_ok: ClassVar[bool] = True
    changes_generator: ClassVar[bool] = False
    """True when :meth:`wrap_generator` changes the generator (export tests cover these)."""
    step_cost: ClassVar[float] = 1.0
    """Factor on the time of a training step (an estimate, for the bench's scheduling and progress)."""

    def relative_cost(self) -> float:
        """:attr:`step_cost`, or a cost that depends on the options (e.g. unrolling steps)."""
        return self.step_cost

    def check(self, ctx: SetupContext) -> None:
        """Raise :class:`ganzoo.errors.IncompatibleError` when this mitigation cannot work here."""

    def batch_needs(self, ctx: SetupContext) -> BatchNeeds:
        """What this mitigation needs of the discriminator batch (packing, minimum, grouping)."""
        return BatchNeeds()

    def head_feature(self, in_features: int, ctx: SetupContext) -> HeadFeature | None:
        """Per-batch features to append to D's flat features before its final linear layer."""
        return None

    def wrap_generator(self, generator: nn.Module, ctx: SetupContext) -> nn.Module:
        return generator

    def wrap_discriminator(self, discriminator: Discriminator, ctx: SetupContext) -> Discriminator:
        """Change the finished discriminator (its head features included), e.g. spectral norm."""
        return discriminator

    def transform(self, x: torch.Tensor, ctx: BatchContext) -> torch.Tensor:
        """Transform a raw real or fake batch before D sees it (augmentation, instance noise);
        differentiable for fakes in the generator update."""
        return x

    def discriminator_regularizer(self, ctx: DiscriminatorStep) -> torch.Tensor | None:
        """Extra (weighted) term added to the discriminator's loss."""
        return None

    def discriminator_for_generator(self, discriminator: nn.Module, ctx: GeneratorStep) -> nn.Module:
        """The discriminator the generator's loss is computed through (e.g. an unrolled copy).
        Must not change ``discriminator``'s parameters or buffers."""
        return discriminator

    def generator_regularizer(self, ctx: GeneratorStep) -> torch.Tensor | None:
        """Extra (weighted) term added to the generator's loss."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """State to keep in checkpoints (tensors, numbers); {} for a stateless mitigation."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class MetricValue:
    """How one reported number reads: its direction, label and format (the catalogue entry)."""

    direction: Literal["max", "min"]
    label: str
    percent: bool = False
    """Stored as a fraction in [0, 1], shown as a percentage."""
    unit: str = ""
    fmt: str = ".3g"
    """Format spec of a shown value (after the percent scaling), e.g. ``".1f"``."""

    def number(self, value: float) -> str:
        """``value`` formatted (percent-scaled when :attr:`percent`, no % sign); a ``g`` format writes 1000 as
        ``1000``, not ``1e+03``."""
        value = value * 100 if self.percent else value
        text = format(value, self.fmt)
        return format(value, ".0f") if self.fmt.endswith("g") and "e+" in text and abs(value) < 1e15 else text

    def text(self, value: float) -> str:
        """``value`` as reports show it: formatted, as a percentage when :attr:`percent`."""
        return self.number(value) + ("%" if self.percent else "")


@dataclass
class MetricContext:
    """What a metric's :meth:`MetricSpec.compute` gets: the generator's samples and the real data."""

    info: DataInfo
    sample: Callable[[int], torch.Tensor]
    """``sample(n)``: ``n`` generated samples (CPU float tensor), the same for the same evaluation seed;
    a conditional generator samples classes uniformly at random."""
    real: Callable[[int], torch.Tensor]
    """``real(n)``: up to ``n`` samples of the real data the generator was trained on (a fixed subset);
    raises :class:`ganzoo.errors.DataUnavailableError` when the data is not on this machine."""
    num_samples: int | None
    """The user's ``--num-samples`` (None: the metric's own protocol)."""
    seed: int
    device: torch.device
    sample_class: Callable[[int, int], torch.Tensor] | None = None
    """``sample_class(n, k)``: ``n`` samples of class ``k`` (conditional generators only), else None."""
    data_root: Path | None = None
    """Where the dataset's files are (``--data-root``; None: the dataset's default), e.g. for training the
    domain classifier with :func:`ganzoo.metrics.classifier.get_classifier`."""
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    """The options the generator's dataset was built with (``dataset.*`` of the run)."""


class MetricSpec(Component):
    """An evaluation metric. ``values`` names every number :meth:`compute` reports and how it reads
    (the first is the headline); ``ganzoo eval``, evaluation during training and ``ganzoo bench``
    reports read them from here."""

    kind: ClassVar[str] = "metric"
    values: ClassVar[Mapping[str, MetricValue]] = {}

    def applies(self, info: DataInfo) -> str | None:
        """None when the metric can score a generator of ``info``'s data, else the reason it cannot."""
        return None

    def compute(self, ctx: MetricContext) -> Mapping[str, float]:
        """Score the generator: a value for each name in :attr:`values` (extra protocol details may be
        returned under other names as numbers; they are recorded, not ranked)."""
        raise NotImplementedError(f"metric {self.name!r} does not implement compute()")


COMPONENT_KINDS: dict[str, type[Component]] = {
    "architecture": ArchitectureSpec,
    "loss": LossSpec,
    "dataset": DatasetSpec,
    "mitigation": MitigationSpec,
    "metric": MetricSpec,
}
"""Singular kind name -> base class."""

REQUIRED_METHODS: dict[str, tuple[str, ...]] = {
    "architecture": ("build_generator", "build_discriminator", "supports"),
    "loss": ("discriminator_loss", "generator_loss", "penalty", "after_discriminator_step"),
    "dataset": ("build", "fidelity_reference"),
    "mitigation": (
        "check",
        "batch_needs",
        "head_feature",
        "wrap_generator",
        "wrap_discriminator",
        "transform",
        "discriminator_regularizer",
        "discriminator_for_generator",
        "generator_regularizer",
        "state_dict",
        "load_state_dict",
    ),
    "metric": ("applies", "compute"),
}
"""Methods each kind must have (the base classes provide the optional ones)."""
