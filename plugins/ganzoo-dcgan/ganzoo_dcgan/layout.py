"""Resolution-dependent layout shared by the DCGAN generator and discriminator."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class Layout:
    """The first (generator) / last (discriminator) feature map is ``start x start``; each of the
    ``stages`` stride-2 layers doubles (generator) or halves (discriminator) it."""

    start: int
    stages: int

    def widths(self, width: int) -> list[int]:
        """Channels of the feature maps from the smallest map upwards, e.g. 64px: 8w, 4w, 2w, w."""
        return [width * 2 ** (self.stages - 1 - i) for i in range(self.stages)]


LAYOUTS: dict[int, Layout] = {
    16: Layout(start=4, stages=2),   # 4 -> 8 -> 16
    28: Layout(start=7, stages=2),   # 7 -> 14 -> 28 (exact, no cropping)
    32: Layout(start=4, stages=3),   # 4 -> 8 -> 16 -> 32
    64: Layout(start=4, stages=4),   # 4 -> 8 -> 16 -> 32 -> 64 (pytorch/examples dcgan)
}


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv/linear weights N(0, 0.02), norm weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
