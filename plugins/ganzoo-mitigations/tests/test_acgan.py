"""The ``acgan`` mitigation: ACGAN's auxiliary classifier on D's features (Odena et al. 2017)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from ganzoo import DataInfo, DiscriminatorStep, GeneratorStep, SetupContext
from ganzoo.errors import IncompatibleError
from ganzoo.plugins import get_host
from ganzoo.testing import check_mitigation
from ganzoo_mitigations.acgan import ACGAN, aux_logits

CPU = torch.device("cpu")
INFO = DataInfo(name="stand-in", kind="image", shape=(3, 16, 16), num_classes=4)


def setup(info: DataInfo = INFO) -> SetupContext:
    loss = get_host().losses.get("ns-gan").with_options({})
    return SetupContext(info=info, batch_size=16, total_steps=10, device=CPU, loss=loss)


def nets(arch: str = "dcgan", **options: Any) -> tuple[Any, Any, Any]:
    spec = get_host().architectures.get(arch).with_options({"width": 8, "latent_dim": 16, "conditional": True, **options})
    m = ACGAN().with_options({})
    g = m.wrap_generator(spec.build_generator(INFO), setup())
    d = m.wrap_discriminator(spec.build_discriminator(INFO, batch_norm=False), setup())
    return m, g, d


def separable(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose class sets the mean colour: a linear classifier on any features separates them."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    colours = torch.tensor([[0.8, -0.8, 0.0], [-0.8, 0.8, 0.0], [0.0, -0.8, 0.8], [0.8, 0.8, -0.8]])
    x = colours[y][:, :, None, None] + 0.1 * torch.randn(n, 3, 16, 16, generator=g)
    return x.clamp(-1, 1), y


def d_step(d: Any, real: torch.Tensor, y: torch.Tensor, fake: torch.Tensor | None = None) -> DiscriminatorStep:
    fake = real if fake is None else fake
    zeros = torch.zeros(real.shape[0])
    return DiscriminatorStep(0, 10, CPU, INFO, d, real, fake, zeros, zeros, y, y)


def test_declaration_and_defaults() -> None:
    spec = get_host().mitigations.get("acgan")
    assert spec.defaults() == {"weight": 1.0, "fake_in_d": True}
    assert "1610.09585" in spec.reference


def test_refuses_unlabelled_data_and_unconditional_generators() -> None:
    m = ACGAN().with_options({})
    with pytest.raises(IncompatibleError, match="labelled"):
        m.check(setup(INFO.replace(num_classes=None)))
    m.check(setup())
    g = get_host().architectures.get("dcgan").with_options({"width": 8}).build_generator(INFO)
    with pytest.raises(IncompatibleError, match="class-conditional generator"):
        m.wrap_generator(g, setup())


def test_aux_head_is_part_of_the_discriminator() -> None:
    _, _, d = nets()
    assert isinstance(d.aux, torch.nn.Linear) and (d.aux.in_features, d.aux.out_features) == (d.feature_dim, 4)
    assert any(k.startswith("aux.") for k in d.state_dict())
    assert any(p is d.aux.weight for p in d.parameters())  # D's optimizer trains it
    x, y = separable(8, 0)
    assert aux_logits(d, x).shape == (8, 4)
    assert d(x, y).shape == (8,)  # the adversarial output is unchanged in shape


def test_regularisers_are_the_weighted_cross_entropies() -> None:
    torch.manual_seed(0)
    m, g, d = nets()
    x, y = separable(8, 0)
    fake = g(torch.randn(8, 16), y).detach()
    with torch.no_grad():
        expect_real = F.cross_entropy(d.aux(d.features(x).flatten(1)), y)
        expect_fake = F.cross_entropy(d.aux(d.features(fake).flatten(1)), y)
    got = m.discriminator_regularizer(d_step(d, x, y, fake))
    assert got is not None and float(got.detach()) == pytest.approx(float(expect_real + expect_fake), rel=1e-5)
    real_only = ACGAN().with_options({"fake_in_d": False, "weight": 0.5}).discriminator_regularizer(d_step(d, x, y, fake))
    assert real_only is not None and float(real_only.detach()) == pytest.approx(0.5 * float(expect_real), rel=1e-5)
    assert ACGAN().with_options({"weight": 0.0}).discriminator_regularizer(d_step(d, x, y)) is None

    # G's term: the classifier's cross-entropy on G(z, c) for the classes c it was asked for, reaching G only.
    z = torch.randn(8, 16)
    fake = g(z, y)
    gstep = GeneratorStep(0, 10, CPU, INFO, generator=g, discriminator=d, z=z, fake=fake, loss=None,  # type: ignore[arg-type]
                          sample_real=None, sample_latent=None, prepare=lambda t, ctx: t,  # type: ignore[arg-type]
                          discriminator_objective=None, lr_d=1e-3, betas_d=(0.5, 0.999), labels=y)  # type: ignore[arg-type]
    d.requires_grad_(False)
    term = m.generator_regularizer(gstep)
    assert term is not None
    assert float(term.detach()) == pytest.approx(float(F.cross_entropy(d.aux(d.features(fake).flatten(1)), y).detach()), rel=1e-5)
    term.backward()
    assert all(p.grad is not None for p in g.parameters() if p.requires_grad)


def test_aux_loss_decreases_over_discriminator_steps() -> None:
    """On separable stand-in data, a few D steps on the ACGAN term alone teach the class head."""
    torch.manual_seed(0)
    m, _, d = nets("resnet")
    m = ACGAN().with_options({"fake_in_d": False})
    opt = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
    x_test, y_test = separable(64, 99)
    with torch.no_grad():
        before = float(F.cross_entropy(aux_logits(d, x_test), y_test))
    losses = []
    for step in range(15):
        x, y = separable(32, step)
        loss = m.discriminator_regularizer(d_step(d, x, y))
        assert loss is not None
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        after = float(F.cross_entropy(aux_logits(d, x_test), y_test))
        accuracy = float((aux_logits(d, x_test).argmax(1) == y_test).float().mean())
    assert losses[-1] < 0.5 * losses[0] and after < 0.5 * before, (losses, before, after)
    assert accuracy > 0.9


def test_packed_inputs_are_refused() -> None:
    m, _, d = nets()
    x, y = separable(8, 0)
    packed = x.reshape(4, 6, 16, 16)
    with pytest.raises(IncompatibleError, match="pack"):
        m.discriminator_regularizer(d_step(d, packed, y[:4]))


def test_engine_run_with_conditional_dcgan_and_reload(tmp_path) -> None:
    from ganzoo.engine.api import start_run

    user = {"run": {"dataset": "shapes", "arch": "dcgan", "loss": "hinge", "mitigations": ["acgan", "spectral-norm"],
                    "steps": 2, "batch_size": 8, "device": "cpu", "seed": 0},
            "dataset": {"resolution": 16, "size": 32}, "arch": {"width": 8, "latent_dim": 16, "conditional": True},
            "train": {"tensorboard": False, "sample_every": 0, "log_every": 1, "num_workers": 0}}
    result = start_run(user, tmp_path / "run", quiet=True, host=get_host())
    assert result.status == "completed" and result.step == 2
    state = torch.load(tmp_path / "run" / "checkpoints" / "step-00000002.pt", map_location="cpu", weights_only=False)
    assert state["discriminator"]["aux.weight_orig" if "aux.weight_orig" in state["discriminator"] else
                                  "aux.parametrizations.weight.original"].shape[0] == 12
    # unconditional dcgan: refused at set-up, with the reason
    user["arch"]["conditional"] = False
    with pytest.raises(IncompatibleError, match="class-conditional generator"):
        start_run(user, tmp_path / "run2", quiet=True, host=get_host())


def test_conformance_trains_with_a_conditional_architecture() -> None:
    report = check_mitigation("acgan", only=["engine"])
    assert report.ok and "engine" in report.passed, report.summary()
