"""Class-conditional ``dcgan`` (arch.conditional=true): conditional BatchNorm in G, projection D."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from ganzoo import DataInfo
from ganzoo.errors import IncompatibleError
from ganzoo.plugins import get_host
from ganzoo.specs import generator_num_classes
from ganzoo_dcgan.generator import ClassBatchNorm2d, DCGANGenerator

SMALL = {"latent_dim": 16, "width": 8}


def arch(**options: Any) -> Any:
    return get_host().architectures.get("dcgan").with_options({**SMALL, **options})


def image(c: int, r: int, classes: int | None = None) -> DataInfo:
    return DataInfo(name=f"img{c}x{r}", kind="image", shape=(c, r, r), num_classes=classes)


def test_default_is_unconditional_and_unchanged_on_labelled_data() -> None:
    assert get_host().architectures.get("dcgan").defaults()["conditional"] is False
    info = image(1, 28, classes=10)
    torch.manual_seed(0)
    g = arch().build_generator(info)
    torch.manual_seed(0)
    ref = DCGANGenerator(16, 1, 28, 8)
    assert type(g) is DCGANGenerator and generator_num_classes(g) is None
    for (n1, p1), (n2, p2) in zip(g.state_dict().items(), ref.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2)  # same modules, same initial weights as before the option
    assert arch().build_discriminator(info, batch_norm=True).num_classes is None


@pytest.mark.parametrize("resolution", [16, 28, 32, 64])
def test_conditional_generator_depends_on_the_class(resolution: int) -> None:
    torch.manual_seed(0)
    info = image(3, resolution, classes=4)
    g = arch(conditional=True).build_generator(info).eval()
    assert generator_num_classes(g) == 4
    assert not any(isinstance(m, nn.BatchNorm2d) and m.affine for m in g.modules())
    assert sum(isinstance(m, ClassBatchNorm2d) for m in g.modules()) == len(g.convs)
    z = torch.randn(1, 16).repeat(4, 1)
    with torch.no_grad():
        x = g(z, torch.arange(4))
    assert x.shape == (4, 3, resolution, resolution) and x.min() >= -1 and x.max() <= 1
    # (fresh running statistics and N(0, 0.02) weights give tiny images in eval mode: compare relatively)
    assert (x[1:] - x[:1]).abs().flatten(1).max(1).values.min() > 1e-3 * x.abs().max()
    with pytest.raises(ValueError, match="labels"):
        g(z)
    g.train()
    x = g(torch.randn(4, 16), torch.tensor([0, 1, 2, 3]))
    d = arch(conditional=True).build_discriminator(info, batch_norm=True)
    d(x, torch.tensor([0, 1, 2, 3])).sum().backward()
    assert all(p.grad is not None for p in g.parameters())


def test_projection_discriminator_uses_labels() -> None:
    torch.manual_seed(0)
    d = arch(conditional=True).build_discriminator(image(3, 32, classes=10), batch_norm=False)
    assert d.num_classes == 10
    x = torch.randn(4, 3, 32, 32)
    assert not torch.allclose(d(x, torch.tensor([0, 1, 2, 3])), d(x, torch.tensor([4, 5, 6, 7])))


def test_conditional_needs_labels() -> None:
    spec = arch(conditional=True)
    reason = spec.supports(image(3, 32))
    assert reason is not None and "labelled" in reason and "conditional=false" in reason
    with pytest.raises(IncompatibleError, match="dcgan"):
        spec.build_generator(image(3, 32))


def test_conditional_run_trains_and_exports(tmp_path) -> None:
    from ganzoo.engine.api import start_run
    from ganzoo.rundir import load_generator
    from ganzoo.testing.export import export_parity
    from ganzoo.testing.subject import resolve_subject

    user = {"run": {"dataset": "shapes", "arch": "dcgan", "loss": "ns-gan", "steps": 2, "batch_size": 8,
                    "device": "cpu", "seed": 0},
            "dataset": {"resolution": 16, "size": 32}, "arch": {**SMALL, "conditional": True},
            "train": {"tensorboard": False, "sample_every": 0, "log_every": 1, "num_workers": 0}}
    result = start_run(user, tmp_path / "run", quiet=True, host=get_host())
    assert result.status == "completed"
    loaded = load_generator(tmp_path / "run", host=get_host())
    assert generator_num_classes(loaded.generator) == 12
    export_parity(resolve_subject("architecture", "dcgan", {"conditional": True}), loaded)
