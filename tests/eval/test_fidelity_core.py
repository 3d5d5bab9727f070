"""FID/KID/IS/PRC through torch-fidelity with an offline extractor: sanity properties of the numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ganzoo.metrics.fidelity import Extractor, fidelity_metrics, kid_subset_size
from ganzoo.metrics.reference import Reference
from ganzoo.metrics.sources import FidelityGenerator, UInt8Images, source_from_module, to_uint8
from ganzoo.specs import DataInfo


def _reference(images: torch.Tensor, tmp_path) -> Reference:
    return Reference(label="test", origin="test", input=UInt8Images.from_float(images), cache_name=None, cache_root=tmp_path)


def _fid(input1, ref, ext, **kw) -> float:
    (r,) = fidelity_metrics(input1, ref, ["fid"], ext, **kw)
    assert r.key == f"fid[{ext.label}]" and r.metric == "fid"
    return r.value


def test_fid_of_a_dataset_against_itself_is_zero(randconv, shapes_images, tmp_path):
    ext = Extractor(randconv, "randconv")
    ref = _reference(shapes_images, tmp_path)
    assert abs(_fid(UInt8Images.from_float(shapes_images), ref, ext)) < 1e-3


def test_fid_grows_monotonically_with_noise(randconv, shapes_images, tmp_path):
    ext = Extractor(randconv, "randconv")
    ref = _reference(shapes_images, tmp_path)
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(shapes_images.shape, generator=g)
    fids = [_fid(UInt8Images.from_float((shapes_images + s * noise).clamp(-1, 1)), ref, ext) for s in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8)]
    assert fids[0] < 1e-3
    assert all(a < b for a, b in zip(fids, fids[1:])), fids


def test_kid_on_small_sample_counts(randconv, shapes_images, tmp_path):
    ext = Extractor(randconv, "randconv")
    ref = _reference(shapes_images[:60], tmp_path)
    results = {r.key: r for r in fidelity_metrics(UInt8Images.from_float(shapes_images[100:150]), ref, ["kid"], ext)}
    kid = results["kid[randconv]"]
    assert kid.protocol["kid_subset_size"] == 50 and kid.protocol["num_generated"] == 50 and kid.protocol["num_reference"] == 60
    assert abs(kid.value) < 0.05  # same distribution
    noise = torch.randn(50, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    noisy = UInt8Images.from_float((shapes_images[100:150] + noise).clamp(-1, 1))
    (far, far_std) = fidelity_metrics(noisy, ref, ["kid"], ext)
    assert far.value > 10 * abs(kid.value) and far.value > 3 * far_std.value, (far, kid)


def test_kid_subset_size_rule():
    assert kid_subset_size(5000, 20000) == 1000
    assert kid_subset_size(300, 20000) == 300
    assert kid_subset_size(5000, 120) == 120


def test_isc_and_prc_have_named_results(randconv, shapes_images, tmp_path):
    ext = Extractor(randconv, "randconv")
    ref = _reference(shapes_images[:200], tmp_path)
    res = {r.key: r for r in fidelity_metrics(UInt8Images.from_float(shapes_images[200:400]), ref, ["isc", "prc"], ext)}
    assert set(res) == {"isc[randconv]", "isc_std[randconv]", "precision[randconv]", "recall[randconv]", "f_score[randconv]"}
    assert res["isc[randconv]"].value >= 1.0
    assert res["precision[randconv]"].value > 0.5 and res["recall[randconv]"].value > 0.5
    assert res["precision[randconv]"].protocol["prc_neighborhood"] == 3


class _CondGen(nn.Module):
    """A conditional 'generator': the class picks the colour channel; records the labels it saw."""

    latent_dim = 8
    num_classes = 3

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 16 * 16)
        self.seen: list[torch.Tensor] = []

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.seen.append(labels.clone())
        img = torch.tanh(self.proj(z)).view(-1, 1, 16, 16)
        mask = nn.functional.one_hot(labels, 3).float().view(-1, 3, 1, 1)
        return img * mask - (1 - mask)


def test_conditional_generator_gets_labels(randconv, shapes_images, tmp_path):
    info = DataInfo(name="toy", kind="image", shape=(3, 16, 16), num_classes=3)
    G = _CondGen().eval()
    source = source_from_module(G, info)
    assert source.num_classes == 3
    ext = Extractor(randconv, "randconv")
    (fid,) = fidelity_metrics(FidelityGenerator(source), _reference(shapes_images[:100], tmp_path), ["fid"], ext,
                              num_samples=64, batch_size=32)
    assert np.isfinite(fid.value)
    labels = torch.cat(G.seen)
    assert labels.numel() == 64 and set(labels.tolist()) == {0, 1, 2}


def test_generator_images_are_uint8_rgb_and_seeded():
    info = DataInfo(name="grey", kind="image", shape=(1, 8, 8))

    class G(nn.Module):
        latent_dim = 4

        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 64)

        def forward(self, z):
            return torch.tanh(self.lin(z)).view(-1, 1, 8, 8)

    src = source_from_module(G().eval(), info, latent_distribution="uniform")
    fg = FidelityGenerator(src)
    assert fg.z_type == "ganzoo-uniform" and fg.num_classes == 0
    x = fg(torch.rand(5, 4) * 2 - 1)
    assert x.dtype == torch.uint8 and x.shape == (5, 3, 8, 8) and torch.equal(x[:, 0], x[:, 2])
    z = torch.cat([zb for zb, _ in src.latents(1500, seed=3)])
    assert z.shape == (1500, 4) and z.min() >= -1 and z.max() <= 1 and z.min() < -0.9
    assert torch.equal(src.sample(70, seed=3, batch_size=7), src.sample(70, seed=3, batch_size=64))
    assert to_uint8(torch.tensor([[[[-1.0, 0.0, 1.0]]]])).tolist()[0][0][0] == [0, 128, 255]


@pytest.mark.parametrize("bad", [["fid", "lpips"], []])
def test_unknown_metric_is_a_config_error(bad):
    from ganzoo.errors import ConfigError
    from ganzoo.metrics.evaluate import parse_metrics

    with pytest.raises(ConfigError, match="--metrics"):
        parse_metrics(bad)
