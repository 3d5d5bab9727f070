"""The ``resnet`` architecture component."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from torch import nn

from ganzoo import ArchitectureSpec, DataInfo, Option
from ganzoo.errors import IncompatibleError
from ganzoo.specs import Discriminator
from ganzoo_resnet.layout import LAYOUTS, Layout
from ganzoo_resnet.networks import ResNetFeatures, ResNetGenerator

RESOLUTIONS = tuple(sorted(LAYOUTS))


class ResNet(ArchitectureSpec):
    """SNGAN/BigGAN-style residual generator and discriminator for square images of 16, 28, 32 or 64 px."""

    name = "resnet"
    summary = ("SNGAN/BigGAN ResNet: residual up-blocks with (conditional) BatchNorm, residual down-blocks with "
               "global sum pooling, optional self-attention and projection D (use with --mitigation spectral-norm)")
    reference = ("Miyato, Kataoka, Koyama & Yoshida 2018 (arXiv:1802.05957, ResNet of Tables 4-5); Miyato & Koyama 2018 "
                 "(arXiv:1802.05637, cBN + projection); Brock, Donahue & Simonyan 2019 (arXiv:1809.11096, shared "
                 "embedding, hierarchical z); Zhang et al. 2019 (arXiv:1805.08318, self-attention)")
    latent_distribution = "normal"
    options = {
        "latent_dim": Option(128, "size of the latent vector z (SNGAN: 128)", minimum=1, maximum=4096),
        "width": Option(0, "base channel count ch (0: the published one, 128 up to 32 px and 64 at 64 px); at 32 px "
                           "G uses 2ch and D ch channels (SNGAN CIFAR: 256 / 128)", minimum=0, maximum=1024),
        "attention": Option(0, "resolution of the feature map after which a SAGAN self-attention block is inserted "
                               "in G and D (0: none), e.g. 16 at 32 px", minimum=0),
        "conditional": Option(True, "condition on the class labels when the data has them: conditional BatchNorm in G "
                                    "and a projection discriminator (false: unconditional)"),
        "shared_embedding": Option(False, "BigGAN conditioning: one shared class embedding mapped linearly to every "
                                          "block's BatchNorm gains and biases (conditional runs only)"),
        "hierarchical_z": Option(True, "with shared_embedding: split z into chunks, the first for the dense layer and "
                                       "one per block joined to the class embedding (BigGAN)"),
        "embedding_dim": Option(128, "size of the shared class embedding (BigGAN: 128)", minimum=1, maximum=4096),
    }
    recommended = {"train.lr_g": 2e-4, "train.lr_d": 2e-4, "train.betas": [0.0, 0.9]}
    opts: Mapping[str, Any] = MappingProxyType({k: o.default for k, o in options.items()})

    def supports(self, info: DataInfo) -> str | None:
        if info.kind != "image" or len(info.shape) != 3:
            return (f"resnet handles images (C, H, W) only, not {info.kind} data of shape {tuple(info.shape)}; "
                    f"try the mlp architecture")
        c, h, w = info.shape
        if h != w or h not in LAYOUTS:
            sizes = ", ".join(str(r) for r in RESOLUTIONS)
            return f"resnet handles square images of {sizes} pixels, not {h}x{w} (dataset {info.name!r})"
        if c < 1:
            return f"resnet needs at least one channel, got shape {tuple(info.shape)}"
        attention = int(self.opts["attention"])
        allowed = LAYOUTS[h].g_resolutions()
        if attention and attention not in allowed:
            return (f"resnet: arch.attention={attention} is not a feature-map resolution of the {h} px layout; "
                    f"use 0 (off) or one of {', '.join(str(r) for r in allowed)}")
        if self.conditional(info) and self.opts["shared_embedding"] and self.opts["hierarchical_z"]:
            parts = len(LAYOUTS[h].g)
            if self.opts["latent_dim"] < parts:
                return (f"resnet: hierarchical z splits z into {parts} chunks at {h} px; arch.latent_dim="
                        f"{self.opts['latent_dim']} is too small (or set arch.hierarchical_z=false)")
        return None

    def conditional(self, info: DataInfo) -> bool:
        """Whether the networks for ``info`` are class-conditional."""
        return bool(self.opts["conditional"] and info.num_classes)

    def layout(self, info: DataInfo) -> tuple[Layout, int]:
        reason = self.supports(info)
        if reason is not None:
            raise IncompatibleError(reason)
        layout = LAYOUTS[info.shape[-1]]
        return layout, int(self.opts["width"]) or layout.default_width

    def build_generator(self, info: DataInfo) -> nn.Module:
        layout, width = self.layout(info)
        o = self.opts
        return ResNetGenerator(
            o["latent_dim"], info.shape[0], layout, width,
            num_classes=info.num_classes if self.conditional(info) else None,
            shared_embedding=o["shared_embedding"], hierarchical_z=o["hierarchical_z"],
            embedding_dim=o["embedding_dim"], attention=o["attention"],
        )

    def build_discriminator(self, info: DataInfo, *, batch_norm: bool) -> Discriminator:
        # SNGAN's discriminator has no normalisation layer, so batch_norm=False needs no change.
        layout, width = self.layout(info)
        features = ResNetFeatures(info.shape[0], layout, width, info.shape[-1], self.opts["attention"])
        disc = Discriminator(features, features.out_dim,
                             num_classes=info.num_classes if self.conditional(info) else None)
        assert isinstance(disc.head, nn.Linear)
        nn.init.xavier_uniform_(disc.head.weight)
        nn.init.zeros_(disc.head.bias)
        return disc
