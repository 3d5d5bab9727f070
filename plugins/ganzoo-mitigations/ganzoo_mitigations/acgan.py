"""ACGAN's auxiliary classifier (Odena, Olah & Shlens 2017)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import BatchContext, Discriminator, DiscriminatorStep, GeneratorStep, Option, SetupContext
from ganzoo.errors import IncompatibleError
from ganzoo.specs import generator_num_classes
from ganzoo_mitigations.base import Mitigation

AUX = "aux"
"""Name of the class head that :meth:`ACGAN.wrap_discriminator` adds to the discriminator."""


def raw_discriminator(d: Any) -> Discriminator | None:
    """The :class:`ganzoo.Discriminator` behind ``d`` (itself, or the module a DDP wrapper holds) when it
    carries the auxiliary head; None otherwise (e.g. the functional copy an unrolled simulation uses)."""
    module = getattr(d, "module", d)
    if isinstance(module, Discriminator) and isinstance(getattr(module, AUX, None), nn.Module):
        return module
    return None


def aux_logits(d: Discriminator, x: torch.Tensor) -> torch.Tensor:
    """Class logits ``[N, num_classes]``: the auxiliary head on D's flat features."""
    return getattr(d, AUX)(d.features(x).flatten(1)).float()


class ACGAN(Mitigation):
    """Auxiliary classifier GAN: D gets a class head ``aux = Linear(feature_dim, num_classes)`` on its
    features; D minimises ``weight * CE(aux(x_real), y)`` (+ ``CE(aux(G(z, c)), c)`` on fakes when
    ``fake_in_d``, the paper's L_C), G minimises ``weight * CE(aux(G(z, c)), c)``.

    The adversarial part is the run's loss and the discriminator the architecture's (a projection
    discriminator when the architecture is conditional: then the class enters D twice, as in
    projection + AC hybrids; the paper's D judges source and class with separate outputs)."""

    name = "acgan"
    summary = "ACGAN auxiliary classifier: a class head on D's features; D and G also minimise its cross-entropy"
    reference = "Odena, Olah & Shlens 2017, Conditional Image Synthesis with Auxiliary Classifier GANs (arXiv:1610.09585)"
    options = {
        "weight": Option(1.0, "weight of the classification terms (the paper adds L_C unweighted)", minimum=0.0),
        "fake_in_d": Option(True, "D also classifies fakes by the class they were generated for (the paper's L_C; "
                                  "false: D's classifier learns from real data only, as in later AC variants)"),
    }

    _real_labels: torch.Tensor | None = None
    _fake_labels: torch.Tensor | None = None

    def check(self, ctx: SetupContext) -> None:
        if not ctx.info.num_classes or ctx.info.num_classes < 2:
            raise IncompatibleError(
                f"acgan: needs labelled data with at least 2 classes; dataset {ctx.info.name!r} has "
                f"{'no labels' if not ctx.info.num_classes else '1 class'}")

    def wrap_generator(self, generator: nn.Module, ctx: SetupContext) -> nn.Module:
        if generator_num_classes(generator) is None:
            raise IncompatibleError(
                "acgan: needs a class-conditional generator (num_classes, forward(z, labels)); this architecture built "
                "an unconditional one (e.g. set arch.conditional=true for dcgan or resnet)")
        return generator

    def wrap_discriminator(self, discriminator: Discriminator, ctx: SetupContext) -> Discriminator:
        num_classes = int(ctx.info.num_classes or 0)
        if getattr(discriminator, AUX, None) is None:
            # A submodule of D: trained by D's optimizer and saved / restored with D's state.
            discriminator.add_module(AUX, nn.Linear(discriminator.feature_dim, num_classes))
        return discriminator

    def transform(self, x: torch.Tensor, ctx: BatchContext) -> torch.Tensor:
        # The engine gives D's regulariser the labels only when D itself is class-conditional; keep them
        # from the batch on its way to D for an unconditional discriminator.
        # (Assigned, never mutated in place: the registered instance shares nothing with the configured copy.)
        if ctx.player == "discriminator":
            if ctx.role == "real":
                self._real_labels = ctx.labels
            else:
                self._fake_labels = ctx.labels
        return x

    def _term(self, d: Discriminator, x: torch.Tensor, labels: torch.Tensor | None, info: Any) -> torch.Tensor:
        if labels is None:
            raise IncompatibleError("acgan: the batch carries no class labels (a class-conditional generator is needed)")
        if x.shape[0] != labels.shape[0] or tuple(x.shape[1:]) != tuple(info.shape):
            raise IncompatibleError(
                f"acgan: the discriminator judges packed inputs {tuple(x.shape[1:])} (not single samples of "
                f"{tuple(info.shape)}), which carry no single class; drop the packing mitigation")
        return F.cross_entropy(aux_logits(d, x), labels)

    def discriminator_regularizer(self, ctx: DiscriminatorStep) -> torch.Tensor | None:
        weight = float(self.opts["weight"])
        d = raw_discriminator(ctx.discriminator)
        if weight == 0 or d is None:
            return None  # e.g. inside an unrolled simulation of D (a functional copy without the class head)
        real_labels = ctx.real_labels if ctx.real_labels is not None else self._real_labels
        total = self._term(d, ctx.real, real_labels, ctx.info)
        if self.opts["fake_in_d"]:
            fake_labels = ctx.fake_labels if ctx.fake_labels is not None else self._fake_labels
            total = total + self._term(d, ctx.fake.detach(), fake_labels, ctx.info)
        return weight * total

    def generator_regularizer(self, ctx: GeneratorStep) -> torch.Tensor | None:
        weight = float(self.opts["weight"])
        d = raw_discriminator(ctx.discriminator)
        if weight == 0 or d is None:
            return None
        bctx = BatchContext(ctx.step, ctx.total_steps, ctx.device, ctx.info, "fake", "generator", ctx.labels)
        fake = ctx.prepare(ctx.fake, bctx)  # as D sees fakes: the mitigations' transforms (augmentation)
        return weight * self._term(d, fake, ctx.labels, ctx.info)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        return None
