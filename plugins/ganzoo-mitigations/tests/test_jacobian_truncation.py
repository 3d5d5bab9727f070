"""Jacobian-based truncation: the norm estimate, the sampling rule, recalibration, and a run through the engine,
the evaluation and an ONNX export checked on onnxruntime."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from ganzoo.config import resolve
from ganzoo.engine.api import start_run
from ganzoo.errors import ConfigError
from ganzoo.export.pipeline import export_run
from ganzoo.metrics.sources import source_from_run
from ganzoo.plugins import get_host
from ganzoo.rundir import load_generator
from ganzoo_mitigations.jacobian_truncation import JacobianTruncatedGenerator, jacobian_norms


class Stretchy(nn.Module):
    """``G(z) = (a · z0, z1)`` with ``a = 10`` where ``z1 > 0``, else 1: its Jacobian norm is known everywhere."""

    latent_dim = 3

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(9.0))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        a = 1 + self.scale * (z[:, 1:2] > 0).float()
        return torch.cat([a * z[:, :1], z[:, 1:2]], dim=1)


def latents(n: int, seed: int) -> torch.Tensor:
    """``n`` latents of 3 candidates whose z1 stays 0.1 away from Stretchy's fold (finite differences see no fold)."""
    z = torch.randn(n, 3, 3, generator=torch.Generator().manual_seed(seed))
    z[:, :, 1] = z[:, :, 1].sign() * (0.1 + z[:, :, 1].abs())
    return z.reshape(n, 9)


def truncated(g: nn.Module, *, keep: float = 0.5, tries: int = 3) -> JacobianTruncatedGenerator:
    return JacobianTruncatedGenerator(g, keep=keep, tries=tries, directions=3, calibration=1024)


def test_registered_with_its_paper_and_defaults() -> None:
    entry = get_host().mitigations.entry("jacobian-truncation")
    assert entry.plugin == "ganzoo-mitigations" and "2006.04596" in entry.spec.reference
    assert entry.spec.defaults() == {"keep": 0.8, "tries": 4, "directions": 4, "calibration": 4096}


def test_norm_estimate_is_exact_along_a_scaled_basis() -> None:
    lin = nn.Linear(5, 3)
    directions = math.sqrt(5) * torch.eye(5)  # mean of ||W v||^2 over these = ||W||_F^2
    z = torch.randn(7, 5)
    x, norms = jacobian_norms(lin, z, directions)
    assert torch.allclose(x, lin(z))
    assert torch.allclose(norms, torch.full((7,), float(lin.weight.detach().norm())), rtol=1e-3)


def test_eval_picks_the_first_candidate_within_the_threshold_and_training_uses_the_first() -> None:
    g = truncated(Stretchy())
    assert g.latent_dim == 9
    z = latents(200, 1)
    cand = z.reshape(200, 3, 3)
    g.eval()
    with torch.no_grad():
        out = g(z)
    assert 1.0 < float(g.threshold) < 10.0  # half the latents stretch by 10: the median sits between the norms
    flat = cand[:, :, 1] <= 0  # the candidates with norm 1
    some = flat.any(1)
    chosen = cand[torch.arange(200), flat.int().argmax(1)][some]  # the first flat candidate
    assert 0 < int((~some).sum()) < 200 // 4  # 1 in 8 rows has none: it falls back to a stretched one
    assert torch.allclose(out[some], chosen[:, :2]) and (out[~some, 1] > 0).all()
    g.train()
    assert torch.equal(g(z), Stretchy.forward(g.generator, cand[:, 0]))


def test_samples_do_not_depend_on_the_batch_they_are_drawn_in() -> None:
    g = truncated(Stretchy()).eval()
    z = latents(64, 2)
    with torch.no_grad():
        assert torch.equal(g(z), torch.cat([g(z[:5]), g(z[5:])]))


def test_an_empty_batch_gives_no_samples() -> None:
    g = truncated(Stretchy()).eval()
    with torch.no_grad():
        assert g(torch.zeros(0, 9)).shape == (0, 2)


def test_threshold_follows_the_weights() -> None:
    g = truncated(Stretchy(), keep=0.75).eval()
    with torch.no_grad():
        g(torch.randn(4, 9))
        before = float(g.threshold)
        g.generator.scale.mul_(3.0)  # in place, as an EMA update would
        g(torch.randn(4, 9))
    assert float(g.threshold) > 2 * before


def test_keep_all_is_the_plain_generator() -> None:
    g = truncated(Stretchy(), keep=1.0).eval()
    z = torch.randn(10, 9)
    assert torch.equal(g(z), g.generator(z[:, :3]))


def test_a_bad_option_names_the_value_and_the_range() -> None:
    user = {"run": {"dataset": "ring8", "arch": "mlp", "mitigations": ["jacobian-truncation"]},
            "mitigation": {"jacobian-truncation": {"keep": 0.0}}}
    with pytest.raises(ConfigError, match="keep.*0.0"):
        resolve(user)


def test_trains_evaluates_and_exports_to_onnx(tmp_path: Path) -> None:
    user = {"run": {"dataset": "ring8", "arch": "mlp", "loss": "ns-gan", "mitigations": ["jacobian-truncation"],
                    "batch_size": 64, "steps": 300, "seed": 0},
            "arch": {"hidden": 16, "latent_dim": 4},
            "train": {"log_every": 100, "sample_every": 0, "checkpoint_every": 0, "tensorboard": False, "ema": True},
            "mitigation": {"jacobian-truncation": {"keep": 0.5, "tries": 3, "directions": 2, "calibration": 256}}}
    run = tmp_path / "run"
    assert start_run(user, run, host=get_host()).status == "completed"
    loaded = load_generator(run)
    assert loaded.latent_dim == 12 and isinstance(loaded.generator, JacobianTruncatedGenerator)
    source = source_from_run(run)
    x = source.sample(300, seed=0, batch_size=64)
    assert x.shape == (300, 2) and torch.equal(x, source.sample(300, seed=0, batch_size=100))
    with torch.no_grad():  # every drawn sample has a norm within the threshold (or is the best of its candidates)
        z = torch.randn(300, 12, generator=torch.Generator().manual_seed(3))
        out = loaded.generator(z)
        _, norms = jacobian_norms(loaded.generator.generator, z.reshape(900, 4), loaded.generator.directions)
        norms = norms.reshape(300, 3)
        kept = norms.min(dim=1).values <= loaded.generator.threshold
        plain = loaded.generator.generator(z[:, :4])
    assert kept.float().mean() > 0.8 and not torch.equal(out, plain)

    report = export_run(run, tmp_path / "g.onnx")
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: z.numpy()})[0]
    differ = torch.from_numpy(np.abs(got - out.numpy()).max(axis=1) > 1e-4)
    # only a row with a candidate at the threshold may pick another one (float rounding decides which side it is on)
    at_threshold = ((norms - loaded.generator.threshold).abs() / loaded.generator.threshold < 1e-4).any(dim=1)
    assert int(differ.sum()) <= 3 and bool(at_threshold[differ].all())


class ConditionalStretchy(Stretchy):
    """Stretchy plus the label on both outputs: a class-conditional generator."""

    num_classes = 5

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        assert labels is not None and labels.shape == (z.shape[0],)
        return super().forward(z) + labels[:, None].float()


def test_a_conditional_generator_keeps_each_samples_label() -> None:
    g = truncated(ConditionalStretchy())
    assert g.num_classes == 5
    z, labels = latents(50, 4), torch.arange(50) % 5
    g.eval()
    with torch.no_grad():
        out = g(z, labels)
    cand = z.reshape(50, 3, 3)
    flat = cand[:, :, 1] <= 0
    some = flat.any(1)
    chosen = cand[torch.arange(50), flat.int().argmax(1)]
    assert torch.allclose(out[some], chosen[some, :2] + labels[some, None].float())


@pytest.mark.skipif("dcgan" not in get_host().architectures, reason="needs the dcgan architecture")
def test_image_generator_samples_images(tmp_path: Path, image_host: object) -> None:
    user = {"run": {"dataset": "mitigation-test-images", "arch": "dcgan", "loss": "ns-gan", "batch_size": 8,
                    "steps": 2, "mitigations": ["jacobian-truncation"]},
            "dataset": {"resolution": 16, "size": 32}, "arch": {"width": 4, "latent_dim": 8},
            "train": {"log_every": 1, "sample_every": 0, "checkpoint_every": 0, "tensorboard": False},
            "mitigation": {"jacobian-truncation": {"calibration": 64, "tries": 2, "directions": 2}}}
    assert start_run(user, tmp_path / "run", host=image_host).status == "completed"
    g = load_generator(tmp_path / "run", host=image_host)
    x = g.sample(5, seed=0)
    assert g.latent_dim == 16 and x.shape == (5, 3, 16, 16) and torch.isfinite(x).all()
    with torch.no_grad():  # each image is one of its two candidates' images
        z = torch.randn(5, 16)
        out, first, second = g.generator(z), g.generator.generator(z[:, :8]), g.generator.generator(z[:, 8:])
    assert all(torch.allclose(o, a, atol=1e-5) or torch.allclose(o, b, atol=1e-5) for o, a, b in zip(out, first, second))
