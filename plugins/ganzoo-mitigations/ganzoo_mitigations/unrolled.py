"""Unrolled GAN: the generator is trained against a discriminator k steps ahead (Metz et al. 2017)."""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.parallel import DistributedDataParallel

from ganzoo import Batch, GeneratorStep, Option
from ganzoo_mitigations.base import Mitigation

Tensors = dict[str, torch.Tensor]


class UnrolledDiscriminator(nn.Module):
    """``base`` evaluated with other parameters and buffers (``torch.func.functional_call``); ``base``
    itself is neither registered as a submodule nor changed."""

    base: nn.Module  # set with object.__setattr__, so not a registered submodule

    def __init__(self, base: nn.Module, params: Tensors, buffers: Tensors) -> None:
        super().__init__()
        object.__setattr__(self, "base", base)
        self.params, self.state = params, buffers

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return functional_call(self.base, (self.params, self.state), (x,) if labels is None else (x, labels))


def _copy(tensors: Tensors) -> Tensors:
    return {n: t.detach().clone() for n, t in tensors.items()}


def unroll(
    discriminator: nn.Module,
    step: GeneratorStep,
    *,
    steps: int,
    second_order: bool = True,
    optimizer: str = "adam",
    lr: float | None = None,
    eps: float = 1e-8,
) -> UnrolledDiscriminator:
    """Simulate ``steps`` updates of ``discriminator`` (from its current parameters, on copies of its
    buffers) minimising ``step.discriminator_objective`` on fresh real batches and fresh fakes of the
    current generator. With ``second_order`` the fakes keep their graph and every update is built with
    ``create_graph=True``, so gradients reach the generator through the unrolling (the surrogate
    ``f(theta_G, U^k(theta_D))``); otherwise the look-ahead D is a constant (first-order version).

    ``optimizer`` "adam" uses Adam with ``step.betas_d`` from zero moments (with bias correction) at
    each generator step; "sgd" plain gradient descent. ``lr`` defaults to ``step.lr_d``.
    """
    base = discriminator.module if isinstance(discriminator, DistributedDataParallel) else discriminator
    lr = float(step.lr_d if lr is None else lr)
    beta1, beta2 = (float(b) for b in step.betas_d)
    params = {n: p.detach().clone().requires_grad_(True) for n, p in base.named_parameters()}
    buffers = _copy(dict(base.named_buffers()))
    gen = step.generator
    gen_buffers = _copy(dict(gen.named_buffers()))  # the generator's BatchNorm statistics stay as they are
    m1 = {n: torch.zeros_like(p) for n, p in params.items()}
    m2 = {n: torch.zeros_like(p) for n, p in params.items()}
    names = list(params)
    for k in range(1, steps + 1):
        real = step.sample_real()
        z, labels = step.sample_latent(real.x.shape[0])
        with torch.set_grad_enabled(second_order):
            fake = functional_call(gen, gen_buffers, (z,) if labels is None else (z, labels)).float()
        loss = step.discriminator_objective(UnrolledDiscriminator(base, params, buffers), real, Batch(fake, labels))
        grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=second_order, allow_unused=True)
        new: Tensors = {}
        for n, g in zip(names, grads):
            p = params[n]
            if g is None:
                new[n] = p
                continue
            if optimizer == "adam":
                m1[n] = beta1 * m1[n] + (1 - beta1) * g
                m2[n] = beta2 * m2[n] + (1 - beta2) * g * g
                m_hat = m1[n] / (1 - beta1**k)
                v_hat = m2[n] / (1 - beta2**k)
                # sqrt(v + tiny): the same value as sqrt(v), but a finite derivative where v == 0.
                update = m_hat / ((v_hat + 1e-30).sqrt() + eps)
            else:
                update = g
            p = p - lr * update
            new[n] = p if second_order else p.detach().requires_grad_(True)
        params = new
    if not second_order:
        params = {n: p.detach() for n, p in params.items()}
    return UnrolledDiscriminator(base, params, buffers)


class Unrolled(Mitigation):
    """The generator's loss is computed through an unrolled copy of D (k simulated D steps ahead).
    D's parameters, buffers and optimizer state are never touched."""

    name = "unrolled"
    summary = "unrolled GAN: G's loss goes through D after k simulated D updates (optionally differentiated through)"
    reference = "Metz, Poole, Pfau & Sohl-Dickstein 2017, Unrolled Generative Adversarial Networks (arXiv:1611.02163)"
    options = {
        "steps": Option(5, "unrolling steps k (the paper's 2D experiments: 5)", minimum=1, maximum=100),
        "second_order": Option(True, "back-propagate through the unrolled updates (the paper); false: first-order, cheaper"),
        "optimizer": Option("adam", "update rule of the simulated D steps (Adam with train.betas, zero moments; or SGD)",
                            choices=("adam", "sgd")),
        "lr": Option(0.0, "learning rate of the simulated D steps (0: train.lr_d)", minimum=0.0),
    }

    def relative_cost(self) -> float:
        """Each unrolled step costs about a D update (three with the second-order graph)."""
        return 1.0 + int(self.opts["steps"]) * (1.5 if self.opts["second_order"] else 0.75)

    def discriminator_for_generator(self, discriminator: nn.Module, step: GeneratorStep) -> nn.Module:
        lr = float(self.opts["lr"]) or None
        return unroll(
            discriminator, step, steps=int(self.opts["steps"]), second_order=bool(self.opts["second_order"]),
            optimizer=str(self.opts["optimizer"]), lr=lr,
        )
