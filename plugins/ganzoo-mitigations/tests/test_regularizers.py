"""The modern regularisers and augmentations: r2, diffaugment, ada, lecam, consistency (bCR)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from ganzoo import BatchContext, DataInfo, SetupContext
from ganzoo.engine.api import start_run
from ganzoo.errors import ConfigError, IncompatibleError
from ganzoo.plugins import get_host
from ganzoo.specs import Discriminator, DiscriminatorStep
from ganzoo.testing import check_mitigation
from ganzoo_mitigations.diffaugment import OPS, augment, rand_cutout, rand_translation

NEW = ["r2", "diffaugment", "ada", "lecam", "consistency"]
IMAGES = DataInfo(name="img", kind="image", shape=(3, 8, 8))
VECTORS = DataInfo(name="v", kind="vector", shape=(2,))
CPU = torch.device("cpu")


def mitigation(name: str, **options: Any) -> Any:
    return get_host().mitigations.get(name).with_options(options)


def setup(info: DataInfo = IMAGES, batch_size: int = 8) -> SetupContext:
    return SetupContext(info=info, batch_size=batch_size, total_steps=10, device=CPU, loss=get_host().losses.get("ns-gan"))


def batch_ctx(role: str = "fake", player: str = "generator") -> BatchContext:
    return BatchContext(0, 10, CPU, IMAGES, role, player)  # type: ignore[arg-type]


def d_step(d: Any, real: torch.Tensor, fake: torch.Tensor, step: int = 0, *,
           real_logits: torch.Tensor | None = None, fake_logits: torch.Tensor | None = None) -> DiscriminatorStep:
    info = IMAGES if real.dim() == 4 else DataInfo(name="v", kind="vector", shape=tuple(real.shape[1:]))
    return DiscriminatorStep(step, 10, CPU, info, d, real, fake,
                             d(real) if real_logits is None else real_logits,
                             d(fake) if fake_logits is None else fake_logits)


def conv_d(resolution: int = 8) -> Discriminator:
    torch.manual_seed(0)
    return Discriminator(nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.LeakyReLU(0.2), nn.Flatten()), 4 * (resolution // 2) ** 2)


class TinyG(nn.Module):
    latent_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3 * 8 * 8)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(z)).unflatten(1, (3, 8, 8))


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize("name", NEW)
def test_registered_with_its_paper(name: str) -> None:
    entry = get_host().mitigations.entry(name)
    assert entry.plugin == "ganzoo-mitigations"
    assert "arXiv:" in get_host().mitigations.get(name).reference


@pytest.mark.parametrize("name", ["diffaugment", "ada", "consistency"])
def test_image_only_refuses_vectors(name: str) -> None:
    with pytest.raises(IncompatibleError, match="image"):
        mitigation(name).check(setup(VECTORS))
    mitigation(name).check(setup(IMAGES))


@pytest.mark.parametrize("name", ["diffaugment", "ada"])
def test_unknown_policy_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="rotation"):
        mitigation(name, policy="color,rotation").check(setup())


# --------------------------------------------------------------------------- r2


def test_r2_is_exact_for_a_linear_critic() -> None:
    torch.manual_seed(0)
    d = Discriminator(nn.Identity(), 4)
    w = d.head.weight
    real, fake = torch.randn(8, 4), torch.randn(8, 4)
    value = mitigation("r2", gamma=3.0).discriminator_regularizer(d_step(d, real, fake))
    torch.testing.assert_close(value, 3.0 / 2 * w.detach().pow(2).sum())
    value.backward()
    torch.testing.assert_close(w.grad, 3.0 * w.detach())
    assert mitigation("r2", gamma=0.0).discriminator_regularizer(d_step(d, real, fake)) is None
    assert get_host().mitigations.get("r2").batch_norm_ok is False


def test_r2_penalises_fake_not_real() -> None:
    # A critic whose gradient is x itself (D = ||x||^2 / 2): R2 measures the fakes' norms only.
    class Quadratic(nn.Module):
        def forward(self, x: torch.Tensor, labels: Any = None) -> torch.Tensor:
            return 0.5 * x.pow(2).sum(1)

    real, fake = torch.full((4, 2), 10.0), torch.ones(4, 2)
    value = mitigation("r2", gamma=2.0).discriminator_regularizer(d_step(Quadratic(), real, fake))
    assert float(value.detach()) == pytest.approx(2.0 / 2 * 2.0)  # ||x_f||^2 = 2


# --------------------------------------------------------------------------- diffaugment


def test_diffaugment_gradients_reach_the_generator() -> None:
    torch.manual_seed(0)
    g, d = TinyG(), conv_d()
    spec = mitigation("diffaugment")
    fake = g(torch.randn(8, 4))
    out = spec.transform(fake, batch_ctx())
    assert out.shape == fake.shape and not torch.equal(out, fake)
    d(out).mean().backward()
    assert g.fc.weight.grad is not None and float(g.fc.weight.grad.abs().sum()) > 0


@pytest.mark.parametrize("policy", list(OPS))
def test_each_policy_op_keeps_shape_and_gradient(policy: str) -> None:
    torch.manual_seed(1)
    x = torch.randn(6, 3, 16, 16, requires_grad=True)
    y = augment(x, (policy,))
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_translation_pads_with_zeros_and_cutout_masks_a_quarter() -> None:
    torch.manual_seed(2)
    x = torch.ones(64, 1, 16, 16)
    t = rand_translation(x)
    shifts = (t == 0).flatten(1).sum(1)
    assert int(shifts.max()) > 0 and int(shifts.max()) <= 16 * 16 - 14 * 14  # at most 2 px (16/8) on each axis
    c = rand_cutout(x)
    zeros = (c == 0).flatten(1).sum(1)
    assert int(zeros.max()) == 8 * 8 and int(zeros.min()) >= 4 * 4  # an 8x8 square, clipped at the border


# --------------------------------------------------------------------------- ada


class Scripted(nn.Module):
    """A discriminator that outputs a fixed logit for every input."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor, labels: Any = None) -> torch.Tensor:
        return torch.full((x.shape[0],), self.value)


def drive_ada(spec: Any, value: float, updates: int) -> list[float]:
    d, x = Scripted(value), torch.zeros(8, 3, 8, 8)
    ps = []
    for i in range(updates):
        assert spec.discriminator_regularizer(d_step(d, x, x, step=i)) is None
        ps.append(spec.p)
    return ps


def test_ada_p_rises_when_d_overfits_and_falls_otherwise() -> None:
    spec = mitigation("ada", interval=4, speed_images=320)
    spec.check(setup(batch_size=8))  # each adjustment moves p by 8 * 4 / 320 = 0.1
    ps = drive_ada(spec, +5.0, 4 * 5)  # r_t = 1 > 0.6 at every interval
    assert ps[2] == 0.0 and ps[3] == pytest.approx(0.1)
    assert ps[-1] == pytest.approx(0.5)
    assert all(b >= a for a, b in zip(ps, ps[1:], strict=False))
    ps = drive_ada(spec, -5.0, 4 * 3)  # r_t = -1 < 0.6
    assert ps[-1] == pytest.approx(0.2)
    drive_ada(spec, -5.0, 4 * 10)
    assert spec.p == 0.0  # clipped at 0
    drive_ada(spec, +5.0, 4 * 20)
    assert spec.p == 1.0  # clipped at 1


def test_ada_state_survives_a_resume() -> None:
    spec = mitigation("ada", interval=4, speed_images=320)
    spec.check(setup(batch_size=8))
    drive_ada(spec, +5.0, 4 * 3 + 2)  # p = 0.3, two updates into the next interval
    state = spec.state_dict()
    assert state["p"] == pytest.approx(0.3) and state["updates"] == 14 and state["signs_count"] == 16
    resumed = mitigation("ada", interval=4, speed_images=320)
    resumed.check(setup(batch_size=8))
    resumed.load_state_dict(state)
    assert resumed.p == pytest.approx(0.3)
    assert drive_ada(resumed, +5.0, 2)[-1] == pytest.approx(0.4)  # the interval completes where it left off
    assert mitigation("ada").p == 0.0  # a fresh configured copy shares nothing


def test_ada_augments_with_probability_p() -> None:
    spec = mitigation("ada", policy="cutout")
    x = torch.ones(400, 3, 8, 8)
    assert torch.equal(spec.transform(x, batch_ctx()), x)  # p = 0: untouched
    spec.p = 0.5
    changed = (spec.transform(x, batch_ctx()) != x).flatten(1).any(1).float().mean()
    assert 0.4 < float(changed) < 0.6
    spec.p = 1.0
    assert bool((spec.transform(x, batch_ctx()) != x).flatten(1).any(1).all())


# --------------------------------------------------------------------------- lecam


def test_lecam_against_a_hand_computation() -> None:
    spec = mitigation("lecam", weight=0.5, decay=0.9, start=0)

    class Zero(nn.Module):
        def forward(self, x: torch.Tensor, labels: Any = None) -> torch.Tensor:
            return torch.zeros(x.shape[0])

    x = torch.zeros(3, 2)
    batches = [(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([-1.0, 0.0, -2.0])),   # means 2, -1
               (torch.tensor([0.0, 4.0, 2.0]), torch.tensor([1.0, -3.0, -1.0]))]   # means 2, -1
    ema_r = ema_f = None
    value = None
    for i, (rl, fl) in enumerate(batches):
        value = spec.discriminator_regularizer(d_step(Zero(), x, x, step=i, real_logits=rl, fake_logits=fl))
        # By hand: the first update sets the EMAs to the batch means; then ema = 0.9 ema + 0.1 mean.
        ema_r = float(rl.mean()) if ema_r is None else 0.9 * ema_r + 0.1 * float(rl.mean())
        ema_f = float(fl.mean()) if ema_f is None else 0.9 * ema_f + 0.1 * float(fl.mean())
    assert spec.ema_real == pytest.approx(ema_r) and spec.ema_fake == pytest.approx(ema_f)
    rl, fl = batches[-1]
    expected = 0.5 * (sum(max(0.0, r - ema_f) ** 2 for r in rl.tolist()) / 3
                      + sum(max(0.0, ema_r - f) ** 2 for f in fl.tolist()) / 3)
    assert value is not None and float(value) == pytest.approx(expected)


def test_lecam_uneven_updates_and_warmup() -> None:
    spec = mitigation("lecam", decay=0.5, start=2)
    x = torch.zeros(2, 2)

    def logits(v: float) -> torch.Tensor:
        return torch.full((2,), v)

    # The code's itr = step + 1: decay 0 while itr < start_itr (step 0), the term only once itr > start_itr (step 2).
    assert spec.discriminator_regularizer(d_step(nn.Identity(), x, x, 0, real_logits=logits(4.0), fake_logits=logits(-4.0))) is None
    assert (spec.ema_real, spec.ema_fake) == (4.0, -4.0)
    assert spec.discriminator_regularizer(d_step(nn.Identity(), x, x, 1, real_logits=logits(2.0), fake_logits=logits(-2.0))) is None
    assert (spec.ema_real, spec.ema_fake) == (3.0, -3.0)  # 0.5 * 4 + 0.5 * 2
    value = spec.discriminator_regularizer(d_step(nn.Identity(), x, x, 2, real_logits=logits(0.0), fake_logits=logits(0.0)))
    assert (spec.ema_real, spec.ema_fake) == (1.5, -1.5)
    assert value is not None and float(value) == pytest.approx(0.3 * ((0 + 1.5) ** 2 + (1.5 - 0) ** 2))
    resumed = mitigation("lecam", decay=0.5, start=2)
    resumed.load_state_dict(spec.state_dict())
    assert (resumed.ema_real, resumed.ema_fake, resumed.initialized) == (1.5, -1.5, True)


# --------------------------------------------------------------------------- consistency


def test_consistency_zero_for_an_invariant_d_positive_otherwise() -> None:
    torch.manual_seed(0)
    # Images that are zero on a 2-pixel border (the largest shift at 16 px): translation with zero padding
    # and flipping only move the content, so a D that sums the pixels is invariant.
    x = torch.zeros(8, 3, 16, 16)
    x[:, :, 2:-2, 2:-2] = torch.rand(8, 3, 12, 12)

    class Sum(nn.Module):
        def forward(self, x: torch.Tensor, labels: Any = None) -> torch.Tensor:
            return x.flatten(1).sum(1)

    spec = mitigation("consistency")
    value = spec.discriminator_regularizer(d_step(Sum(), x, x.flip(0)))
    assert float(value) == pytest.approx(0.0, abs=1e-6)
    d = conv_d(16)
    value = spec.discriminator_regularizer(d_step(d, x, x.flip(0)))
    assert float(value.detach()) > 0
    value.backward()
    assert all(p.grad is not None for p in d.parameters())
    only_real = mitigation("consistency", lambda_fake=0.0).discriminator_regularizer(d_step(d, x, x))
    assert float(only_real.detach()) > 0
    assert mitigation("consistency", lambda_real=0.0, lambda_fake=0.0).discriminator_regularizer(d_step(d, x, x)) is None


# --------------------------------------------------------------------------- engine


@pytest.mark.skipif("dcgan" not in get_host().architectures, reason="needs the dcgan architecture")
@pytest.mark.parametrize("loss", get_host().losses.names())
def test_image_regularisers_train_with_each_loss(tmp_path: Path, image_host: Any, loss: str) -> None:
    """All five together (engine order: transforms, then D's regularisers) for a few steps with every loss;
    lecam from the first step and ada with p > 0, so every term is exercised."""
    names = ["ada", "diffaugment", "r2", "lecam", "consistency"]
    user = {"run": {"dataset": "mitigation-test-images", "arch": "dcgan", "loss": loss, "batch_size": 8, "steps": 2,
                    "mitigations": names, "seed": 0},
            "dataset": {"resolution": 16, "size": 32}, "arch": {"width": 4, "latent_dim": 8},
            "train": {"log_every": 1, "sample_every": 0, "checkpoint_every": 0, "tensorboard": False, "n_critic": 1},
            "mitigation": {"lecam": {"start": 0}, "ada": {"p_init": 0.5, "interval": 1}}}
    result = start_run(user, tmp_path / "run", host=image_host)
    assert result.status == "completed" and result.step == 2
    rows = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert rows and all(math.isfinite(v) for line in rows for k, v in json.loads(line).items()
                        if k in ("loss_d", "loss_g", "penalty"))


@pytest.mark.slow
@pytest.mark.parametrize("name", NEW)
def test_conforms(name: str) -> None:
    check_mitigation(name)
