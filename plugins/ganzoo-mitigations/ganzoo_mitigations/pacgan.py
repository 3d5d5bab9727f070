"""PacGAN: the discriminator judges packs of m samples (Lin et al. 2018)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ganzoo import DataInfo, LossSpec, Option
from ganzoo.errors import IncompatibleError
from ganzoo_mitigations.base import BatchAware, with_pack


def pack_message(batch_size: int, pack: int) -> str:
    lo, hi = (batch_size // pack) * pack, (batch_size // pack + 1) * pack
    sugg = " or ".join(str(b) for b in (lo, hi) if b > 0)
    return (
        f"pacgan: batch size {batch_size} is not divisible by the pack size {pack}; use a multiple of "
        f"{pack} such as {sugg} (--set run.batch_size={hi}) or another mitigation.pacgan.pack"
    )


class PacGAN(BatchAware):
    """Concatenates ``pack`` consecutive samples along the first (channel / feature) axis:
    ``[N, C, H, W] -> [N/m, m*C, H, W]`` and ``[N, D] -> [N/m, m*D]``; real and fake alike."""

    name = "pacgan"
    summary = "PacGAN: D sees packs of m samples concatenated on channels (images) or features (vectors)"
    reference = "Lin, Khetan, Fanti & Oh 2018, PacGAN: The power of two samples in GANs (arXiv:1712.04086)"
    options = {"pack": Option(2, "samples per pack m (the paper's PacGAN2 default; 1 = off)", minimum=1)}

    @property
    def pack(self) -> int:
        return int(self.opts["pack"])

    def check(self, *, info: DataInfo, batch_size: int, loss: LossSpec, mitigations: Sequence[str]) -> None:
        if batch_size % self.pack:
            raise IncompatibleError(pack_message(batch_size, self.pack))
        self.remember(batch_size, mitigations)

    def discriminator_info(self, info: DataInfo) -> DataInfo:
        shape = (info.shape[0] * self.pack, *info.shape[1:])
        out = with_pack(info.replace(shape=shape), self.pack)
        self.validate_if_last(out)
        return out

    def prepare_batch(self, x: torch.Tensor) -> torch.Tensor:
        m = self.pack
        if m == 1:
            return x
        n = x.shape[0]
        if n % m:
            raise IncompatibleError(pack_message(n, m))
        return x.reshape(n // m, m * x.shape[1], *x.shape[2:])
