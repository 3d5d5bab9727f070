"""The ``dcgan`` architecture component."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from torch import nn

from ganzoo import ArchitectureSpec, DataInfo, Option
from ganzoo.errors import IncompatibleError
from ganzoo.specs import Discriminator
from ganzoo_dcgan.discriminator import build_discriminator
from ganzoo_dcgan.generator import ConditionalDCGANGenerator, DCGANGenerator
from ganzoo_dcgan.layout import LAYOUTS

RESOLUTIONS = tuple(sorted(LAYOUTS))


class DCGAN(ArchitectureSpec):
    """DCGAN generator and discriminator for square images of 16, 28, 32 or 64 pixels; with
    ``conditional`` a class-conditional generator (conditional BatchNorm) and a projection discriminator."""

    name = "dcgan"
    summary = "DCGAN: transposed-conv generator (BatchNorm, ReLU, tanh) and strided-conv discriminator (LeakyReLU 0.2)"
    reference = "Radford, Metz & Chintala 2016, Unsupervised Representation Learning with DCGANs (arXiv:1511.06434)"
    latent_distribution = "normal"
    options = {
        "latent_dim": Option(100, "size of the latent vector z", minimum=1, maximum=4096),
        "width": Option(64, "base width (ngf = ndf); layers use width x 1, 2, 4, 8", minimum=1, maximum=1024),
        "d_norm": Option(
            "auto",
            "discriminator norm on inner layers: auto (BatchNorm unless the loss or a mitigation needs "
            "per-sample gradients, then none), batch, layer (over C, H, W) or none",
            choices=("auto", "batch", "layer", "none"),
        ),
        "conditional": Option(
            False,
            "class-conditional on labelled data: conditional BatchNorm in G (per-class gains and biases) and a "
            "projection discriminator (Miyato & Koyama 2018); false keeps the unconditional DCGAN",
        ),
    }
    opts: Mapping[str, Any] = MappingProxyType({k: o.default for k, o in options.items()})

    def supports(self, info: DataInfo) -> str | None:
        if info.kind != "image" or len(info.shape) != 3:
            return (
                f"dcgan handles images (C, H, W) only, not {info.kind} data of shape {tuple(info.shape)}; "
                f"try the mlp architecture"
            )
        c, h, w = info.shape
        if h != w or h not in LAYOUTS:
            sizes = ", ".join(str(r) for r in RESOLUTIONS)
            return f"dcgan handles square images of {sizes} pixels, not {h}x{w} (dataset {info.name!r})"
        if c < 1:
            return f"dcgan needs at least one channel, got shape {tuple(info.shape)}"
        if self.opts["conditional"] and not info.num_classes:
            return (f"dcgan with arch.conditional=true needs labelled images; dataset {info.name!r} has no labels "
                    f"(set arch.conditional=false)")
        return None

    def _check(self, info: DataInfo) -> None:
        reason = self.supports(info)
        if reason is not None:
            raise IncompatibleError(reason)

    def discriminator_norm(self, batch_norm: bool) -> str:
        """The norm the discriminator uses: ``d_norm``, with ``auto`` following ``batch_norm``."""
        choice = self.opts["d_norm"]
        if choice == "auto":
            return "batch" if batch_norm else "none"
        if choice == "batch" and not batch_norm:
            warnings.warn(
                "arch.d_norm='batch' overrides the engine's request for a discriminator without "
                "BatchNorm (a gradient penalty is in use); per-sample penalties will be mixed across "
                "the batch. Use arch.d_norm='layer' or 'auto' instead.",
                stacklevel=2,
            )
        return choice

    def build_generator(self, info: DataInfo) -> nn.Module:
        self._check(info)
        o = self.opts
        if o["conditional"]:
            return ConditionalDCGANGenerator(o["latent_dim"], info.shape[0], info.shape[-1], o["width"], int(info.num_classes or 0))
        return DCGANGenerator(o["latent_dim"], info.shape[0], info.shape[-1], o["width"])

    def build_discriminator(self, info: DataInfo, *, batch_norm: bool) -> Discriminator:
        self._check(info)
        norm = self.discriminator_norm(batch_norm)
        num_classes = info.num_classes if self.opts["conditional"] else None
        return build_discriminator(info.shape[0], info.shape[-1], self.opts["width"], norm, num_classes)
