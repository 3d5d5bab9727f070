"""Tests of the built-in ``dcgan`` architecture, through the installed plugin registry."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from torch import nn

from ganzoo import ArchitectureSpec, DataInfo
from ganzoo.errors import ConfigError, IncompatibleError
from ganzoo.plugins import get_host
from ganzoo.specs import Discriminator

SMALL = {"latent_dim": 16, "width": 8}


def arch(**options: Any) -> Any:
    return get_host().architectures.get("dcgan").with_options({**SMALL, **options})


def image(c: int, r: int, h: int | None = None) -> DataInfo:
    return DataInfo(name=f"img{c}x{r}", kind="image", shape=(c, h or r, r))


def has(module: nn.Module, kind: type) -> bool:
    return any(isinstance(m, kind) for m in module.modules())


def test_registered_with_defaults() -> None:
    entry = get_host().architectures.entry("dcgan")
    assert entry.plugin == "ganzoo-dcgan"
    spec = entry.spec
    assert isinstance(spec, ArchitectureSpec)
    assert spec.defaults() == {"latent_dim": 100, "width": 64, "d_norm": "auto", "conditional": False}
    assert spec.latent_distribution == "normal"
    assert "Radford" in spec.reference


def test_bad_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="d_norm"):
        arch(d_norm="instance")
    with pytest.raises(ConfigError, match="width"):
        arch(width=0)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("resolution", [16, 28, 32, 64])
def test_shapes_range_and_backward(resolution: int, channels: int) -> None:
    torch.manual_seed(0)
    spec = arch()
    info = image(channels, resolution)
    assert spec.supports(info) is None
    g = spec.build_generator(info)
    d = spec.build_discriminator(info, batch_norm=True)
    assert g.latent_dim == 16
    assert isinstance(d, Discriminator)

    z = torch.randn(4, g.latent_dim)
    x = g(z)
    assert x.shape == (4, channels, resolution, resolution)
    assert x.dtype == torch.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert x.std() > 0  # not a constant image

    feats = d.features(x)
    assert feats.shape == (4, d.feature_dim)
    logits = d(x)
    assert logits.shape == (4,)
    logits.sum().backward()
    for net in (g, d):
        grads = [p.grad for p in net.parameters()]
        assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
        assert any(gr.abs().sum() > 0 for gr in grads)


def test_layouts_follow_pytorch_examples_at_64() -> None:
    spec = arch(width=4)
    info = image(3, 64)
    g = spec.build_generator(info)
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [(16, 32), (32, 16), (16, 8), (8, 4), (4, 3)]
    assert all(m.kernel_size == (4, 4) for m in convs)
    assert [m.stride for m in convs] == [(1, 1)] + [(2, 2)] * 4
    assert isinstance(list(g.modules())[-1], nn.Tanh)
    d = spec.build_discriminator(info, batch_norm=True)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [(3, 4), (4, 8), (8, 16), (16, 32)]
    assert d.feature_dim == 32 * 4 * 4  # the final 4x4 map; the linear head is the last 4x4 conv
    lrelus = [m for m in d.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(lrelus) == 4 and all(m.negative_slope == 0.2 for m in lrelus)


def test_28px_is_exact_7_14_28() -> None:
    spec = arch(width=4)
    g = spec.build_generator(image(1, 28))
    first = next(m for m in g.modules() if isinstance(m, nn.ConvTranspose2d))
    assert first.kernel_size == (7, 7)
    d = spec.build_discriminator(image(1, 28), batch_norm=True)
    assert d.feature_dim == 8 * 7 * 7


def test_discriminator_uses_the_given_channel_count() -> None:
    """PacGAN packs m samples on channels: the discriminator is built from info.shape[0]."""
    spec = arch()
    d = spec.build_discriminator(image(3 * 4, 32), batch_norm=True)
    assert d(torch.randn(2, 12, 32, 32)).shape == (2,)
    with pytest.raises(RuntimeError):
        d(torch.randn(2, 3, 32, 32))


@pytest.mark.parametrize(
    "d_norm, batch_norm, expect",
    [
        ("auto", True, "batch"),
        ("auto", False, "none"),
        ("none", True, "none"),
        ("layer", True, "layer"),
        ("layer", False, "layer"),
        ("batch", True, "batch"),
    ],
)
def test_discriminator_norm(d_norm: str, batch_norm: bool, expect: str) -> None:
    spec = arch(d_norm=d_norm)
    d = spec.build_discriminator(image(3, 32), batch_norm=batch_norm)
    assert has(d, nn.BatchNorm2d) == (expect == "batch")
    assert has(d, nn.GroupNorm) == (expect == "layer")
    # no norm right after the first convolution (Radford et al.)
    assert isinstance(d.features[1], nn.LeakyReLU)
    # the generator always uses BatchNorm
    assert has(spec.build_generator(image(3, 32)), nn.BatchNorm2d)


def test_explicit_batch_norm_overrides_the_engine_with_a_warning() -> None:
    spec = arch(d_norm="batch")
    with pytest.warns(UserWarning, match="d_norm"):
        d = spec.build_discriminator(image(3, 32), batch_norm=False)
    assert has(d, nn.BatchNorm2d)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arch().build_discriminator(image(3, 32), batch_norm=False)


@pytest.mark.parametrize("d_norm", ["none", "layer"])
def test_without_batch_norm_samples_are_independent(d_norm: str) -> None:
    """Gradient penalties need per-sample outputs: D(x)[0] must not depend on the rest of the batch."""
    torch.manual_seed(1)
    d = arch(d_norm=d_norm).build_discriminator(image(1, 16), batch_norm=False).train()
    x = torch.randn(5, 1, 16, 16)
    torch.testing.assert_close(d(x)[:1], d(x[:1]), rtol=1e-5, atol=1e-6)
    d_bn = arch().build_discriminator(image(1, 16), batch_norm=True).train()
    assert not torch.allclose(d_bn(x)[:1], d_bn(x[:2])[:1], atol=1e-6)


def test_dcgan_initialisation_statistics() -> None:
    torch.manual_seed(0)
    spec = get_host().architectures.get("dcgan").with_options({"width": 64, "d_norm": "batch"})
    info = image(3, 64)
    for net in (spec.build_generator(info), spec.build_discriminator(info, batch_norm=True)):
        conv_w = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
        assert conv_w.numel() > 100_000
        assert abs(conv_w.mean().item()) < 1e-3
        assert conv_w.std().item() == pytest.approx(0.02, rel=0.02)
        bn = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        assert bn
        bn_w = torch.cat([m.weight.flatten() for m in bn])
        assert bn_w.mean().item() == pytest.approx(1.0, abs=0.01)
        assert bn_w.std().item() == pytest.approx(0.02, rel=0.2)
        for m in net.modules():
            if getattr(m, "bias", None) is not None:
                assert torch.count_nonzero(m.bias) == 0
    head = spec.build_discriminator(info, batch_norm=True).head
    assert isinstance(head, nn.Linear) and head.weight.std().item() == pytest.approx(0.02, rel=0.1)


def test_head_can_be_replaced_by_a_mitigation() -> None:
    d = arch().build_discriminator(image(3, 32), batch_norm=True)
    d.head = nn.Sequential(nn.Linear(d.feature_dim, 7), nn.Linear(7, 1))
    assert d(torch.randn(3, 3, 32, 32)).shape == (3,)


def test_eval_mode_single_sample() -> None:
    spec = arch()
    g = spec.build_generator(image(1, 28)).eval()
    d = spec.build_discriminator(image(1, 28), batch_norm=True).eval()
    z = torch.randn(1, 16)
    x = g(z)
    torch.testing.assert_close(x, g(z))
    assert d(x).shape == (1,)


@pytest.mark.parametrize(
    "info, words",
    [
        (DataInfo(name="ring8", kind="vector", shape=(2,)), ["image", "vector", "mlp"]),
        (image(3, 48), ["48x48", "16, 28, 32, 64"]),
        (image(3, 32, h=28), ["28x32"]),
        (image(1, 128), ["128x128"]),
    ],
)
def test_supports_rejects_with_a_reason(info: DataInfo, words: list[str]) -> None:
    spec = arch()
    reason = spec.supports(info)
    assert isinstance(reason, str)
    for w in words:
        assert w in reason
    with pytest.raises(IncompatibleError, match="dcgan"):
        spec.build_generator(info)
    with pytest.raises(IncompatibleError, match="dcgan"):
        spec.build_discriminator(info, batch_norm=True)


def test_unconfigured_spec_uses_defaults() -> None:
    g = get_host().architectures.get("dcgan").build_generator(image(1, 16))
    assert g.latent_dim == 100
