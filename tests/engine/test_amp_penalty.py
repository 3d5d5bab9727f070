"""A gradient penalty under bf16 autocast (CPU) stays close to its fp32 value: the engine computes
penalties in fp32 whatever the run's precision."""

from __future__ import annotations

import copy

import pytest
import torch

from ganzoo import Batch

from ganzoo.config import resolve
from ganzoo.engine.trainer import Trainer
from ganzoo.plugins import get_host
from tests.engine.conftest import shapes_user

LOSS = "wgan-gp"


def _trainer(precision: str, tmp_path) -> Trainer:
    user = shapes_user(1, n_critic=1)
    user["run"].update(loss=LOSS, precision=precision)
    return Trainer(resolve(user), tmp_path / precision, get_host())


@pytest.mark.skipif(LOSS not in get_host().losses.names(), reason=f"the {LOSS} loss is not installed")
def test_bf16_gradient_penalty_close_to_fp32(tmp_path):
    t32, t16 = _trainer("fp32", tmp_path), _trainer("bf16", tmp_path)
    assert t16.amp_dtype is torch.bfloat16 and t32.amp_dtype is None
    real = t32.batches.next()
    with torch.no_grad():
        z, labels = t32.latents(real.x.shape[0])
        fake = Batch(t32.G(z), labels)
    results = {}
    for name, t in (("fp32", t32), ("bf16", t16)):
        D = copy.deepcopy(t32.D)  # the same critic for both
        with torch.no_grad():
            D.head.weight.mul_(100)  # gradient norms ~0.4: the penalty is not just gp_weight * 1
        torch.manual_seed(0)  # the same interpolation coefficients
        total, penalty = t.gan_step.discriminator_objective(D, real, fake)
        (grad,) = torch.autograd.grad(penalty, D.head.weight)
        results[name] = (total.detach(), penalty.detach(), grad)
    (tot32, pen32, g32), (tot16, pen16, g16) = results["fp32"], results["bf16"]
    gp_weight = float(t32.asm.loss.opts["gp_weight"])
    assert pen32.dtype == pen16.dtype == torch.float32
    assert 0.05 * gp_weight < pen32 < 0.9 * gp_weight  # a meaningful penalty
    assert torch.allclose(pen16, pen32, rtol=2e-2, atol=0)
    assert torch.allclose(g16, g32, rtol=2e-2, atol=1e-6 * g32.abs().max().item())
    # The critic term itself runs in bf16: close, not equal.
    assert torch.allclose(tot16 - pen16, tot32 - pen32, rtol=5e-2, atol=5e-2)
