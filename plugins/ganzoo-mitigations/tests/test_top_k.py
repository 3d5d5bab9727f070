"""Top-k generator updates: the schedule, the gradient mask, and a run through the engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import DataInfo, SetupContext
from ganzoo.engine.api import start_run
from ganzoo.errors import IncompatibleError
from ganzoo.plugins import get_host
from ganzoo.specs import GeneratorStep
from ganzoo_mitigations.top_k import keep_top_k, top_k_fraction


def top_k(**options: float) -> object:
    return get_host().mitigations.get("top-k").with_options(options)


def generator_step(step: int) -> GeneratorStep:
    return GeneratorStep(step=step, total_steps=1000, device=torch.device("cpu"),
                         info=DataInfo(name="v", kind="vector", shape=(2,)), generator=nn.Identity(),
                         discriminator=nn.Identity(), z=torch.zeros(1), fake=torch.zeros(1), loss=None,  # type: ignore[arg-type]
                         sample_real=None, sample_latent=None, prepare=None,  # type: ignore[arg-type]
                         discriminator_objective=None, lr_d=0.0, betas_d=(0.5, 0.999))  # type: ignore[arg-type]


def test_registered_with_the_paper_defaults() -> None:
    entry = get_host().mitigations.entry("top-k")
    assert entry.plugin == "ganzoo-mitigations" and "2002.06224" in entry.spec.reference
    assert entry.spec.defaults() == {"gamma": 0.99, "nu": 0.5, "decay_every": 500}


def test_fraction_decays_by_gamma_per_period_down_to_nu() -> None:
    kw = {"gamma": 0.9, "nu": 0.5, "decay_every": 10}
    assert top_k_fraction(0, **kw) == 1.0 and top_k_fraction(9, **kw) == 1.0
    assert top_k_fraction(10, **kw) == pytest.approx(0.9)
    assert top_k_fraction(25, **kw) == pytest.approx(0.81)
    assert top_k_fraction(10_000, **kw) == 0.5


def test_only_the_k_highest_logits_pass_gradient_and_values_are_kept() -> None:
    fake = torch.tensor([[0.0, 1.0], [2.0, 0.0], [-1.0, 0.5], [0.3, 0.3]], requires_grad=True)
    d = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        d.weight.copy_(torch.tensor([[1.0, 1.0]]))  # logits: 1.0, 2.0, -0.5, 0.6
    logits = d(fake)
    kept = keep_top_k(logits, 2)
    assert torch.equal(kept, logits)
    F.softplus(-kept).mean().backward()  # the non-saturating generator loss
    assert fake.grad is not None
    moved = fake.grad.abs().sum(dim=1)
    assert moved[0] > 0 and moved[1] > 0 and moved[2] == 0 and moved[3] == 0


def test_wrapper_appears_only_once_k_is_below_the_batch() -> None:
    d = nn.Linear(2, 1)
    spec = top_k(gamma=0.5, nu=0.25, decay_every=100)
    assert spec.discriminator_for_generator(d, generator_step(99)) is d  # type: ignore[attr-defined]
    wrapped = spec.discriminator_for_generator(d, generator_step(100))  # type: ignore[attr-defined]
    assert wrapped is not d
    x = torch.randn(8, 2, requires_grad=True)
    wrapped(x).sum().backward()
    assert int((x.grad.abs().sum(dim=1) > 0).sum()) == 4  # k = ceil(0.5 * 8)


def test_refuses_a_batch_where_nu_keeps_nothing() -> None:
    ctx = SetupContext(info=DataInfo(name="v", kind="vector", shape=(2,)), batch_size=3, total_steps=10,
                       device=torch.device("cpu"), loss=get_host().losses.get("ns-gan"))
    with pytest.raises(IncompatibleError, match="nu 0.1 x batch 3"):
        top_k(nu=0.1).check(ctx)  # type: ignore[attr-defined]


@pytest.mark.parametrize("loss", ["ns-gan", "rpgan"])
def test_trains_through_the_engine_with_k_below_the_batch(tmp_path: Path, loss: str) -> None:
    user = {"run": {"dataset": "ring8", "arch": "mlp", "loss": loss, "mitigations": ["top-k"], "batch_size": 16,
                    "steps": 4, "seed": 0},
            "arch": {"hidden": 16, "latent_dim": 4},
            "train": {"log_every": 1, "sample_every": 0, "checkpoint_every": 0, "tensorboard": False},
            "mitigation": {"top-k": {"gamma": 0.5, "nu": 0.5, "decay_every": 1}}}
    result = start_run(user, tmp_path / "run", host=get_host())
    assert result.status == "completed" and result.step == 4
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss_g"] for r in rows if "loss_g" in r] and all(
        torch.isfinite(torch.tensor(r["loss_g"])) for r in rows if "loss_g" in r)
