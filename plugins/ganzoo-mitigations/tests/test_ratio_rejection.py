"""Density-ratio rejection: the acceptance rule against its exact probabilities, the classifier's estimate of a known
log ratio, recalibration, and a run through the engine, a resume, the evaluation and an ONNX export on onnxruntime."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from ganzoo.config import resolve
from ganzoo.engine import checkpoint as ckpt
from ganzoo.engine.api import resume_run, start_run
from ganzoo.engine.trainer import Trainer
from ganzoo.errors import ConfigError, IncompatibleError
from ganzoo.export.pipeline import export_run
from ganzoo.metrics.sources import source_from_run
from ganzoo.plugins import get_host
from ganzoo.rundir import load_generator
from ganzoo_mitigations.ratio_rejection import (SAMPLING, RatioRejectedGenerator, RatioRejection, resampling_scores,
                                                uniform_from_latent)

LOG_QUARTER = math.log(0.25)


class Identity2D(nn.Module):
    """``G(z) = z``: the samples are the latents."""

    latent_dim = 2

    def __init__(self) -> None:
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.shift


class HalfPlaneRatio(nn.Module):
    """A log ratio of 0 where ``x0 > 0`` and log(1/4) elsewhere: samples on the left are kept a quarter as often."""

    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Parameter(torch.tensor(LOG_QUARTER))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x[:, :1] > 0, torch.zeros_like(x[:, :1]), self.left.expand(x.shape[0], 1))


def rejected(tries: int = 64, quantile: float = 0.999, sampling: str = "rejection") -> RatioRejectedGenerator:
    return RatioRejectedGenerator(Identity2D(), HalfPlaneRatio(), tries=tries, quantile=quantile, calibration=4096,
                                  sampling=sampling).eval()


def test_registered_with_its_papers_and_defaults() -> None:
    entry = get_host().mitigations.entry("ratio-rejection")
    assert entry.plugin == "ganzoo-mitigations" and "1810.06758" in entry.spec.reference
    assert entry.spec.defaults() == {"start": 0.7, "lr": 1e-3, "width": 256, "depth": 3, "fourier": 0.0,
                                     "frequencies": 128, "quantile": 0.999, "tries": 64, "sampling": "rejection",
                                     "calibration": 16384}


def test_the_kept_samples_follow_the_ratio() -> None:
    """Left-half samples are kept with probability 1/4, so 4/5 of the kept ones are on the right (1/2 without)."""
    g = rejected()
    z = torch.randn(20000, 64 * 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = g(z)
    assert float(g.threshold) == 0.0  # the 0.999 quantile of logits that are 0 half the time
    right = float((out[:, 0] > 0).float().mean())
    assert right == pytest.approx(0.8, abs=0.01)
    # each output is a candidate of its row: the first one whose draw accepts it
    cand = z.reshape(20000, 64, 3)
    u = uniform_from_latent(cand[:, :, 2], "normal")
    accept = (cand[:, :, 0] > 0) | (torch.log(u) < LOG_QUARTER)
    first = accept.int().argmax(dim=1)
    assert accept.any(dim=1).all() and torch.equal(out, cand[torch.arange(20000), first, :2])


def test_resampling_draws_each_candidate_in_proportion_to_its_clipped_ratio() -> None:
    """With 8 candidates a row with R on the right and L on the left gives a right one with probability
    R / (R + L/4) (Gumbel-max); clipping every logit at log(1/4) makes the draw uniform over the candidates."""
    z = torch.randn(20000, 8 * 3, generator=torch.Generator().manual_seed(0))
    cand = z.reshape(20000, 8, 3)
    right = (cand[:, :, 0] > 0).float()
    u = uniform_from_latent(cand[:, :, 2], "normal")
    g = rejected(tries=8, sampling="resampling")
    with torch.no_grad():
        out = g(z)
        logits = g.classifier(cand[:, :, :2].reshape(-1, 2)).reshape(20000, 8)
    assert float(g.threshold) == 0.0
    pick = resampling_scores(logits, u, g.threshold).argmax(dim=1)
    assert torch.equal(out, cand[torch.arange(20000), pick, :2])
    expected = float((right.sum(1) / (right.sum(1) + (8 - right.sum(1)) / 4)).mean())
    assert abs(expected - 0.8) > 0.02  # a self-normalised draw from 8 candidates is not the exact ratio's 0.8
    assert float((out[:, 0] > 0).float().mean()) == pytest.approx(expected, abs=0.01)
    clipped = rejected(tries=8, quantile=0.4, sampling="resampling")
    with torch.no_grad():
        out = clipped(z)
    assert float(clipped.threshold) == pytest.approx(LOG_QUARTER)
    assert float((out[:, 0] > 0).float().mean()) == pytest.approx(float(right.mean()), abs=0.01)
    with pytest.raises(ValueError, match="sampling 'gumbel'"):
        rejected(sampling="gumbel")


def test_with_one_try_every_sample_is_kept_and_training_uses_the_first_candidate() -> None:
    g = rejected(tries=1)
    z = torch.randn(500, 3)
    with torch.no_grad():
        assert torch.equal(g(z), z[:, :2])
    g = rejected(tries=4).train()
    z = torch.randn(50, 12)
    assert torch.equal(g(z), z[:, :2])


def test_samples_do_not_depend_on_the_batch_and_the_threshold_follows_the_weights() -> None:
    g = rejected(tries=8, quantile=0.6)
    z = torch.randn(64, 24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(g(z), torch.cat([g(z[:5]), g(z[5:])]))
        assert float(g.threshold) == 0.0
        g.classifier.left.fill_(1.0)  # in place, as an EMA update would: now the left half has the higher logit
        g(z[:2])
    assert float(g.threshold) == 1.0


@pytest.mark.parametrize("sampling", SAMPLING)
def test_an_empty_batch_gives_no_samples(sampling: str) -> None:
    g = rejected(tries=8, sampling=sampling)
    with torch.no_grad():
        out = g(torch.zeros(0, 24))
    assert out.shape == (0, 2)


def test_uniform_latents_map_to_uniform_draws() -> None:
    v = torch.rand(100000) * 2 - 1
    u = uniform_from_latent(v, "uniform")
    assert float(u.min()) >= 0 and float(u.max()) <= 1 and float(u.mean()) == pytest.approx(0.5, abs=0.01)
    u = uniform_from_latent(torch.randn(100000), "normal")
    assert float((u < 0.1).float().mean()) == pytest.approx(0.1, abs=0.005)


class Line(nn.Module):
    latent_dim = 1

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z


def train_classifier(options: dict[str, float], real: torch.distributions.Distribution) -> RatioRejectedGenerator:
    """The mitigation's classifier after 1,500 updates on samples of ``real`` against fake N(0, 1)."""
    spec = RatioRejection().with_options({"start": 0.0, "width": 32, "depth": 2, "lr": 3e-3, **options}, prefix="mitigation")
    info = SimpleNamespace(shape=(1,), kind="vector")
    ctx = SimpleNamespace(info=info, total_steps=1500, device=torch.device("cpu"), latent_distribution="normal")
    torch.manual_seed(0)
    wrapped = spec.wrap_generator(Line(), ctx)  # type: ignore[arg-type]
    gen = torch.Generator().manual_seed(1)
    for step in range(1500):
        fake = torch.randn(256, 1, generator=gen)
        torch.manual_seed(step + 1)
        batch = SimpleNamespace(x=real.sample((256, 1)))
        step_ctx = SimpleNamespace(step=step, fake=fake, sample_real=lambda batch=batch: batch)
        assert spec.generator_regularizer(step_ctx) is None  # type: ignore[arg-type]
    assert all(p.grad is None for p in wrapped.parameters())  # nothing left for G's optimizer
    assert spec.state_dict()["optimizer"]["state"]  # Adam's moments go into the checkpoint
    return wrapped  # type: ignore[return-value]


def test_the_classifier_learns_the_log_ratio_of_two_gaussians() -> None:
    """Real N(2, 1) against fake N(0, 1): log p_real / p_fake = 2x - 2, which the trained logit matches."""
    wrapped = train_classifier({}, torch.distributions.Normal(2.0, 1.0))
    x = torch.linspace(-0.5, 2.5, 7)[:, None]
    with torch.no_grad():
        logit = wrapped.classifier(x).flatten()
    assert torch.allclose(logit, 2 * x.flatten() - 2, atol=0.25), logit


def test_fourier_features_resolve_narrow_modes() -> None:
    """Real: four modes of std 0.03 at -1.5, -0.5, 0.5 and 1.5, against fake N(0, 1); the log ratio falls by 8 within
    4 std of each centre. On Fourier features the classifier's logit follows it across the modes' bulk; on the raw
    sample it does not, in the same updates."""
    centres = torch.tensor([-1.5, -0.5, 0.5, 1.5])
    modes = torch.distributions.Normal(centres, torch.full((4,), 0.03))
    real = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(torch.ones(4)), modes)
    x = (centres[:, None] + torch.linspace(-0.03, 0.03, 5)).reshape(-1, 1)
    true = (real.log_prob(x) - torch.distributions.Normal(0.0, 1.0).log_prob(x)).flatten()
    errors = {}
    for fourier in (0.0, 10.0):
        wrapped = train_classifier({"fourier": fourier, "frequencies": 32}, real)
        with torch.no_grad():
            errors[fourier] = float((wrapped.classifier(x).flatten() - true).abs().max())
        assert any(k.endswith("frequencies") for k in wrapped.state_dict()) == (fourier > 0)  # saved and exported
    assert errors[10.0] < 0.5 < errors[0.0], errors


def test_bad_options_image_data_and_conditional_generators_get_clear_errors() -> None:
    user = {"run": {"dataset": "ring8", "arch": "mlp", "mitigations": ["ratio-rejection"]},
            "mitigation": {"ratio-rejection": {"quantile": 0.2}}}
    with pytest.raises(ConfigError, match="quantile.*0.2"):
        resolve(user)
    ctx = SimpleNamespace(info=SimpleNamespace(kind="image"))
    with pytest.raises(IncompatibleError, match="low-dimensional"):
        RatioRejection().check(ctx)  # type: ignore[arg-type]

    class Conditional(Identity2D):
        num_classes = 3

    ctx = SimpleNamespace(info=SimpleNamespace(shape=(2,), kind="vector"), total_steps=10, device=torch.device("cpu"),
                          latent_distribution="normal")
    with pytest.raises(IncompatibleError, match="class-conditional"):
        RatioRejection().wrap_generator(Conditional(), ctx)  # type: ignore[arg-type]


USER = {"run": {"dataset": "grid25", "arch": "mlp", "loss": "ns-gan", "mitigations": ["ratio-rejection"],
                "batch_size": 64, "steps": 200, "seed": 0},
        "arch": {"hidden": 16, "latent_dim": 4},
        "train": {"log_every": 50, "sample_every": 0, "checkpoint_every": 100, "tensorboard": False, "ema": True},
        "mitigation": {"ratio-rejection": {"start": 0.25, "width": 16, "depth": 2, "tries": 8, "calibration": 512,
                                            "fourier": 2.0, "frequencies": 8}}}


@pytest.mark.parametrize("sampling", SAMPLING)
def test_trains_resumes_exactly_evaluates_and_exports_to_onnx(tmp_path: Path, sampling: str) -> None:
    straight, cut = tmp_path / "straight", tmp_path / "cut"
    user = copy.deepcopy(USER)
    user["mitigation"]["ratio-rejection"]["sampling"] = sampling
    assert start_run(user, straight, host=get_host()).status == "completed"
    assert start_run(user, cut, host=get_host()).status == "completed"
    for step, path in ckpt.list_checkpoints(cut):  # cut back to step 100, after the classifier started training
        if step > 100:
            path.unlink()
    assert resume_run(cut, host=get_host()).step == 200
    a, b = load_generator(straight).generator, load_generator(cut).generator
    assert isinstance(a, RatioRejectedGenerator) and a.latent_dim == 5 * 8 and a.sampling == sampling
    trainer = Trainer(resolve(user), tmp_path / "trainer", get_host())  # training draws the first candidate's 4 only
    assert trainer.latent_dim == 40 and trainer.latents(3)[0].shape == (3, 4)
    assert any(k.startswith("classifier.") for k in a.state_dict())
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):  # the classifier's Adam state resumed too
        assert torch.equal(p, q), name

    source = source_from_run(straight)
    x = source.sample(300, seed=0, batch_size=64)
    assert x.shape == (300, 2) and torch.equal(x, source.sample(300, seed=0, batch_size=100))
    z = torch.randn(300, 40, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = a(z)
        logits = a.classifier(a.generator(z.reshape(2400, 5)[:, :4])).reshape(300, 8)
    assert not torch.equal(out, a.generator(z[:, :4]))  # some first candidates were rejected

    report = export_run(straight, tmp_path / "g.onnx")
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: z.numpy()})[0]
    differ = torch.from_numpy(np.abs(got - out.numpy()).max(axis=1) > 1e-4)
    # only a row with a candidate at the acceptance boundary (rejection) or two near-equal scores (resampling) may
    # pick another one: float rounding decides
    u = uniform_from_latent(z.reshape(300, 8, 5)[:, :, 4], "normal")
    if sampling == "rejection":
        at_boundary = ((torch.log(u) - (logits - a.threshold)).abs() < 1e-4).any(dim=1)
    else:
        top2 = resampling_scores(logits, u, a.threshold).topk(2, dim=1).values
        at_boundary = (top2[:, 0] - top2[:, 1]) < 1e-4
    assert int(differ.sum()) <= 3 and bool(at_boundary[differ].all())
