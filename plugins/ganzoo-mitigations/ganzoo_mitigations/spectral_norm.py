"""Spectral normalisation (Miyato et al. 2018)."""

from __future__ import annotations

from torch import nn

from ganzoo import Discriminator, Option, SetupContext
from ganzoo_mitigations.base import Mitigation, apply_spectral_norm


class SpectralNorm(Mitigation):
    """Divides the weight of every linear / convolution layer of D by its largest singular value,
    estimated by power iteration (``torch.nn.utils.parametrizations.spectral_norm``).

    The engine attaches every mitigation's head features before it calls ``wrap_discriminator``,
    so the whole discriminator is normalised whatever the order of the mitigations.
    """

    name = "spectral-norm"
    summary = "spectral normalisation of every linear/conv layer of the discriminator (optionally the generator)"
    reference = "Miyato, Kataoka, Koyama & Yoshida 2018, Spectral Normalization for GANs (arXiv:1802.05957)"
    options = {
        "n_power_iterations": Option(1, "power iterations per forward pass (the paper uses 1)", minimum=1, maximum=100),
        "generator": Option(False, "also normalise the generator's linear/conv layers"),
    }

    @property
    def changes_generator(self) -> bool:  # type: ignore[override]  # a per-instance property over the ClassVar default
        return bool(self.opts["generator"])

    def wrap_discriminator(self, discriminator: Discriminator, ctx: SetupContext) -> Discriminator:
        apply_spectral_norm(discriminator, int(self.opts["n_power_iterations"]))
        return discriminator

    def wrap_generator(self, generator: nn.Module, ctx: SetupContext) -> nn.Module:
        if self.opts["generator"]:
            apply_spectral_norm(generator, int(self.opts["n_power_iterations"]))
        return generator
