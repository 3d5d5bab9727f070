"""PacGAN: the discriminator judges packs of m samples (Lin et al. 2018)."""

from __future__ import annotations

from ganzoo import BatchNeeds, Option, SetupContext
from ganzoo_mitigations.base import Mitigation


class PacGAN(Mitigation):
    """D judges packs of ``pack`` consecutive samples concatenated along the first (channel / feature)
    axis: ``[N, C, H, W] -> [N/m, m*C, H, W]`` and ``[N, D] -> [N/m, m*D]``, real and fake alike. The
    engine does the packing (and checks the batch) from :meth:`batch_needs`."""

    name = "pacgan"
    summary = "PacGAN: D sees packs of m samples concatenated on channels (images) or features (vectors)"
    reference = "Lin, Khetan, Fanti & Oh 2018, PacGAN: The power of two samples in GANs (arXiv:1712.04086)"
    options = {"pack": Option(2, "samples per pack m (the paper's PacGAN2 default; 1 = off)", minimum=1, maximum=64)}

    def batch_needs(self, ctx: SetupContext) -> BatchNeeds:
        return BatchNeeds(pack=int(self.opts["pack"]))
