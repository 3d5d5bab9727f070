"""Tests of the built-in ``resnet`` architecture (SNGAN/BigGAN ResNet), through the installed plugin registry."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from ganzoo import DataInfo
from ganzoo.errors import IncompatibleError
from ganzoo.plugins import get_host
from ganzoo.specs import Discriminator, generator_num_classes
from ganzoo_resnet.layers import ConditionalBatchNorm2d, SelfAttention

SMALL = {"latent_dim": 16, "width": 8}


def arch(**options: Any) -> Any:
    return get_host().architectures.get("resnet").with_options({**SMALL, **options})


def image(c: int, r: int, classes: int | None = None) -> DataInfo:
    return DataInfo(name=f"img{c}x{r}", kind="image", shape=(c, r, r), num_classes=classes)


def count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def has(m: nn.Module, kind: type) -> bool:
    return any(isinstance(x, kind) for x in m.modules())


def test_registered() -> None:
    entry = get_host().architectures.entry("resnet")
    assert entry.plugin == "ganzoo-resnet"
    assert entry.spec.defaults()["latent_dim"] == 128 and entry.spec.defaults()["conditional"] is True
    assert "Miyato" in entry.spec.reference and "spectral-norm" in entry.spec.summary


@pytest.mark.parametrize("attention", [0, 16])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("resolution", [32, 64])
def test_shapes_range_and_backward(resolution: int, channels: int, attention: int) -> None:
    torch.manual_seed(0)
    spec = arch(attention=attention)
    info = image(channels, resolution)
    assert spec.supports(info) is None
    g, d = spec.build_generator(info), spec.build_discriminator(info, batch_norm=False)
    assert generator_num_classes(g) is None and d.num_classes is None  # unlabelled data: unconditional
    assert has(g, SelfAttention) == bool(attention) and has(d, SelfAttention) == bool(attention)
    assert not has(d, nn.modules.batchnorm._BatchNorm)
    x = g(torch.randn(4, 16))
    assert x.shape == (4, channels, resolution, resolution) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0
    assert d.features(x).shape == (4, d.feature_dim)
    d(x).sum().backward()
    for net in (g, d):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_sngan_cifar_layout_and_parameter_counts() -> None:
    """Full width (ch = 128) at 32 px is SNGAN's CIFAR-10 ResNet (Miyato et al. 2018, Table 4; the layout of
    pfnet-research/sngan_projection resnet_32 / Mimicry SNGAN32: G 256 channels, D 128).

    Counted by hand from that layout: G = dense 128 -> 4*4*256 (528,384) + 3 up-blocks of 1,246,976 (two 3x3
    convs 256 -> 256, a 1x1 shortcut, two BatchNorms) + final BN (512) + conv 256 -> 3 (6,915) = 4,276,739
    (~4.3M); D = optimised block 151,680 + down block 311,680 + two blocks of 295,168 + dense 129 = 1,053,825
    (~1.05M). Spectral norm (a mitigation) adds no parameters."""
    spec = get_host().architectures.get("resnet").with_options({})
    info = image(3, 32)
    g, d = spec.build_generator(info), spec.build_discriminator(info, batch_norm=True)
    assert count(g) == 4_276_739
    assert count(d) == 1_053_825
    assert count(g) == pytest.approx(4.3e6, rel=0.05) and count(d) == pytest.approx(1.0e6, rel=0.06)
    assert g.latent_dim == 128
    convs = [m for m in g.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert {(m.in_channels, m.out_channels) for m in convs[:-1]} == {(256, 256)} and convs[-1].out_channels == 3
    d_convs = [m for m in d.features.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(d_convs) == 8 and {m.out_channels for m in d_convs} == {128}
    assert d.feature_dim == 128 and isinstance(d.head, nn.Linear)


def test_64px_layout() -> None:
    spec = arch(width=4)
    g = spec.build_generator(image(3, 64))
    assert [(b.c1.in_channels, b.c1.out_channels) for b in g.blocks] == [(64, 32), (32, 16), (16, 8), (8, 4)]
    d = spec.build_discriminator(image(3, 64), batch_norm=False)
    assert [b.c1.out_channels for b in d.features.blocks] == [4, 8, 16, 32, 64]
    assert [b.downsample for b in d.features.blocks] == [True, True, True, True, False]
    assert get_host().architectures.get("resnet").with_options({}).layout(image(3, 64))[1] == 64  # published ch


def test_conditional_generator_depends_on_the_class() -> None:
    torch.manual_seed(0)
    info = image(3, 32, classes=10)
    g = arch().build_generator(info).eval()
    assert generator_num_classes(g) == 10
    for m in g.modules():  # as after training: class gains and biases differ (they start at 1 and 0)
        if isinstance(m, ConditionalBatchNorm2d) and m.mode == "class":
            nn.init.normal_(m.gain.weight, 1.0, 0.2)
            nn.init.normal_(m.bias.weight, 0.0, 0.2)
    z = torch.randn(1, 16).repeat(10, 1)
    with torch.no_grad():
        x = g(z, torch.arange(10))
    assert (x[1:] - x[:1]).abs().flatten(1).max(1).values.min() > 1e-3  # every class changes the image
    with pytest.raises(ValueError, match="labels"):
        g(z)
    # unconditional when asked
    assert generator_num_classes(arch(conditional=False).build_generator(info)) is None


@pytest.mark.parametrize("hierarchical", [True, False])
def test_biggan_shared_embedding_and_hierarchical_z(hierarchical: bool) -> None:
    torch.manual_seed(0)
    info = image(3, 32, classes=5)
    g = arch(shared_embedding=True, hierarchical_z=hierarchical, embedding_dim=12).build_generator(info).eval()
    assert isinstance(g.embed, nn.Embedding) and g.embed.weight.shape == (5, 12)
    cbns = [m for m in g.modules() if isinstance(m, ConditionalBatchNorm2d) and m.mode != "plain"]
    assert len(cbns) == 6 and all(m.mode == "vector" for m in cbns)
    if hierarchical:
        assert g.z_sizes == [4, 4, 4, 4] and g.linear.in_features == 4
        assert cbns[0].gain.in_features == 12 + 4
    else:
        assert g.z_sizes == [16] and cbns[0].gain.in_features == 12
    z = torch.randn(1, 16).repeat(5, 1)
    with torch.no_grad():
        x = g(z, torch.arange(5))
    assert (x[1:] - x[:1]).abs().max() > 1e-4
    if hierarchical:  # every chunk of z reaches the image
        for i in range(4):
            z2 = z.clone()
            z2[:, 4 * i:4 * i + 4] += 1.0
            with torch.no_grad():
                assert (g(z2, torch.arange(5)) - x).abs().max() > 1e-5


def test_projection_discriminator_uses_labels() -> None:
    torch.manual_seed(0)
    info = image(3, 32, classes=10)
    d = arch().build_discriminator(info, batch_norm=False)
    assert isinstance(d, Discriminator) and d.num_classes == 10
    x = torch.randn(4, 3, 32, 32)
    a, b = d(x, torch.tensor([0, 1, 2, 3])), d(x, torch.tensor([4, 5, 6, 7]))
    assert a.shape == (4,) and not torch.allclose(a, b)
    assert arch(conditional=False).build_discriminator(info, batch_norm=False).num_classes is None


def test_discriminator_is_per_sample_and_double_differentiable() -> None:
    torch.manual_seed(0)
    d = arch(attention=16).build_discriminator(image(3, 32), batch_norm=False).train()
    x = torch.randn(5, 3, 32, 32, requires_grad=True)
    torch.testing.assert_close(d(x)[:1], d(x[:1]), rtol=1e-5, atol=1e-5)
    nn.init.constant_(next(m for m in d.modules() if isinstance(m, SelfAttention)).gamma, 0.5)
    (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    grad.pow(2).sum().backward()
    weights = [(n, p) for n, p in d.named_parameters() if p.dim() > 1]  # a bias has no gradient in a penalty
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for _, p in weights), [n for n, p in weights if p.grad is None]


def test_discriminator_for_packed_inputs() -> None:
    d = arch().build_discriminator(image(6, 32), batch_norm=True)
    assert d(torch.randn(2, 6, 32, 32)).shape == (2,)


@pytest.mark.parametrize(
    "options, info, words",
    [
        ({}, DataInfo(name="ring8", kind="vector", shape=(2,)), ["images", "mlp"]),
        ({}, image(3, 48), ["48x48", "16, 28, 32, 64"]),
        ({"attention": 64}, image(3, 32), ["attention=64", "8, 16, 32"]),
        ({"shared_embedding": True, "latent_dim": 3}, image(3, 32, classes=4), ["latent_dim=3", "hierarchical"]),
    ],
)
def test_supports_rejects_with_a_reason(options: dict[str, Any], info: DataInfo, words: list[str]) -> None:
    spec = arch(**options)
    reason = spec.supports(info)
    assert isinstance(reason, str)
    for w in words:
        assert w in reason
    with pytest.raises(IncompatibleError, match="resnet"):
        spec.build_generator(info)


def test_conditional_run_trains_exports_and_samples_per_class(tmp_path) -> None:
    """A conditional resnet on labelled 16 px shapes (spectral norm on D, hinge loss) trains two steps, reloads
    from its checkpoint and exports to ONNX with a labels input whose output matches PyTorch."""
    from ganzoo.engine.api import start_run
    from ganzoo.rundir import load_generator
    from ganzoo.testing.export import export_parity
    from ganzoo.testing.subject import resolve_subject

    user = {"run": {"dataset": "shapes", "arch": "resnet", "loss": "hinge", "mitigations": ["spectral-norm"], "steps": 2,
                    "batch_size": 8, "device": "cpu", "seed": 0},
            "dataset": {"resolution": 16, "size": 32}, "arch": {**SMALL, "attention": 8},
            "train": {"tensorboard": False, "sample_every": 0, "log_every": 1, "num_workers": 0}}
    result = start_run(user, tmp_path / "run", quiet=True, host=get_host())
    assert result.status == "completed" and result.step == 2
    loaded = load_generator(tmp_path / "run", host=get_host())
    assert generator_num_classes(loaded.generator) == 12
    export_parity(resolve_subject("architecture", "resnet"), loaded)
