"""Resolution-dependent layouts of the ResNet generator and discriminator, as multiples of ``ch``.

32 px is the CIFAR-10 ResNet of Miyato et al. 2018 (Table 4; sngan_projection / Mimicry SNGAN32):
G: dense z -> 4x4x(2ch), three up-blocks of 2ch (ch = 128: 256 channels), BN, ReLU, conv3x3, tanh;
D: optimised down-block ch, down-block ch, two blocks ch, ReLU, global sum pooling, dense.
64 px follows the STL-10 layout (Table 5) with one more up-block (Mimicry SNGAN64 / BigGAN 64 widths):
G: 4x4x(16ch) -> 8ch -> 4ch -> 2ch -> ch; D: ch, 2ch, 4ch, 8ch (down), 16ch (no down): 64 -> 4 px.
16 and 28 px (MNIST-sized data; ganzoo's extension, no published layout) shrink the CIFAR layout to
two up-blocks from a 4x4 / 7x7 map, with G at ch channels.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    start: int
    """Side of the generator's first feature map."""
    g: tuple[int, ...]
    """Generator channels (multiples of ch): the first map, then each up-block's output."""
    d: tuple[tuple[int, bool], ...]
    """Discriminator blocks (multiple of ch, downsample); the first is the optimised block."""
    default_width: int
    """The published ch for this resolution (SNGAN CIFAR: 128; SNGAN/BigGAN 64 px: 64)."""

    def g_widths(self, ch: int) -> list[int]:
        return [m * ch for m in self.g]

    def d_widths(self, ch: int) -> list[tuple[int, bool]]:
        return [(m * ch, down) for m, down in self.d]

    def g_resolutions(self) -> list[int]:
        """Side of the map after each up-block."""
        return [self.start * 2 ** (i + 1) for i in range(len(self.g) - 1)]

    def d_resolutions(self, resolution: int) -> list[int]:
        """Side of the map after each discriminator block."""
        out, r = [], resolution
        for _, down in self.d:
            r = r // 2 if down else r
            out.append(r)
        return out


CIFAR_D = ((1, True), (1, True), (1, False), (1, False))
LAYOUTS: dict[int, Layout] = {
    16: Layout(start=4, g=(1, 1, 1), d=CIFAR_D, default_width=128),
    28: Layout(start=7, g=(1, 1, 1), d=CIFAR_D, default_width=128),
    32: Layout(start=4, g=(2, 2, 2, 2), d=CIFAR_D, default_width=128),
    64: Layout(start=4, g=(16, 8, 4, 2, 1), d=((1, True), (2, True), (4, True), (8, True), (16, False)), default_width=64),
}
