"""Fully connected generator and discriminator for vector data."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ganzoo import ArchitectureSpec, DataInfo, Option
from ganzoo.specs import Discriminator

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky-relu": lambda: nn.LeakyReLU(0.2)}
INITS = ("torch", "xavier")


def init_linear_layers(module: nn.Module, scheme: str) -> nn.Module:
    """``"torch"``: keep PyTorch's ``nn.Linear`` initialisation; ``"xavier"``: Glorot-uniform weights and zero
    biases, the TensorFlow ``fully_connected`` default used by the reference code of the 2D protocol."""
    if scheme == "xavier":
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
    return module


def _stack(sizes: list[int], activation: str, norm: str | None) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(a, b))
        if norm == "batch":
            layers.append(nn.BatchNorm1d(b))
        layers.append(ACTIVATIONS[activation]())
    return layers


class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int, out_dim: int, hidden: int, depth: int, activation: str, batch_norm: bool) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.out_dim = out_dim
        self.net = nn.Sequential(
            *_stack([latent_dim] + [hidden] * depth, activation, "batch" if batch_norm else None),
            nn.Linear(hidden, out_dim),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLP(ArchitectureSpec):
    name = "mlp"
    summary = "multilayer perceptron generator and discriminator for vector data (e.g. 2D mixtures)"
    reference = "Goodfellow et al. 2014; 2D protocol of Metz et al. 2017 / VEEGAN"
    options = {
        "latent_dim": Option(64, "size of the latent vector z", minimum=1, maximum=4096),
        "hidden": Option(128, "units per hidden layer", minimum=1, maximum=16_384),
        "g_depth": Option(2, "hidden layers in the generator", minimum=1, maximum=64),
        "d_depth": Option(2, "hidden layers in the discriminator", minimum=1, maximum=64),
        "activation": Option("relu", "hidden activation", choices=tuple(ACTIVATIONS)),
        "g_batch_norm": Option(False, "BatchNorm in the generator's hidden layers"),
        "init": Option("torch", "weight initialisation: PyTorch's nn.Linear default, or xavier (Glorot uniform, zero "
                       "bias: TensorFlow's default, as in the reference code of the 2D protocol)", choices=INITS),
    }

    cpu_threads = 1  # tiny networks gain nothing from more threads; spinning OpenMP threads slow a busy machine

    def relative_cost(self) -> float:
        return 0.05 * (float(self.opts["hidden"]) / 128) ** 2

    def supports(self, info: DataInfo) -> str | None:
        if info.kind != "vector":
            return f"mlp handles vector data only, not {info.kind} data {info.shape}; try an image architecture such as dcgan"
        return None

    def build_generator(self, info: DataInfo) -> nn.Module:
        o = self.opts
        gen = MLPGenerator(o["latent_dim"], info.dim, o["hidden"], o["g_depth"], o["activation"], o["g_batch_norm"])
        return init_linear_layers(gen, o["init"])

    def build_discriminator(self, info: DataInfo, *, batch_norm: bool) -> Discriminator:
        o = self.opts
        features = nn.Sequential(nn.Flatten(), *_stack([info.dim] + [o["hidden"]] * o["d_depth"], o["activation"], None))
        disc = Discriminator(features, o["hidden"])
        init_linear_layers(disc, o["init"])
        return disc
