"""One GAN training step under the component contracts: ``n_critic`` discriminator updates, then one
generator update through the fake batch of the last discriminator update (one generator forward per
step, as in pytorch/examples' DCGAN).

The step owns the discriminator's batch: every mitigation's :meth:`~ganzoo.MitigationSpec.transform`
runs on raw real and fake batches, then the engine packs them (the product of the mitigations'
``BatchNeeds.pack``). Labels flow from the data (real) and the latent sampler (fake) to G, D, the loss
and the mitigations when the generator is class-conditional.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganzoo.engine.components import Assembly, pack_batch, sample_latent
from ganzoo.engine.data import BatchSource
from ganzoo.engine.checks import check_scalar
from ganzoo.specs import Batch, BatchContext, DiscriminatorStep, GeneratorStep, StepContext


@dataclass
class Networks:
    """The two players, what the update calls (a DDP wrapper or the module) and their optimizers."""

    G: nn.Module
    D: nn.Module
    G_train: nn.Module
    D_train: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    scaler_g: torch.amp.GradScaler
    scaler_d: torch.amp.GradScaler


class LatentSampler:
    """Latents (and labels for a conditional generator) from one global stream: in a DDP run each rank
    keeps its slice ``[rank::world_size]`` of a draw of ``n * world_size``, so the stream is consumed
    exactly as by one process."""

    def __init__(self, latent_dim: int, distribution: str, num_classes: int | None, device: torch.device,
                 seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.latent_dim, self.distribution, self.num_classes = latent_dim, distribution, num_classes
        self.device, self.rank, self.world_size = device, rank, world_size
        self.rng = torch.Generator(device=device).manual_seed(seed * 7 + 3)

    def __call__(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        total = n * self.world_size
        z = sample_latent(total, self.latent_dim, self.distribution, self.device, self.rng)
        y = None
        if self.num_classes:
            y = torch.randint(self.num_classes, (total,), device=self.device, generator=self.rng)
        if self.world_size > 1:
            z = z[self.rank :: self.world_size]
            y = y[self.rank :: self.world_size] if y is not None else None
        return z, y


def generate(G: nn.Module, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """``G(z)``, or ``G(z, labels)`` for a conditional generator."""
    return G(z) if labels is None else G(z, labels)


def judge(D: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """D's logits for ``x``; labels are passed only to a conditional discriminator."""
    return D(x) if labels is None else D(x, labels)


class GanStep:
    """The update rule of one generator step; :class:`ganzoo.engine.trainer.Trainer` runs the loop."""

    def __init__(self, asm: Assembly, nets: Networks, batches: BatchSource, latents: LatentSampler, *,
                 n_critic: int, batch_size: int, total_steps: int, device: torch.device,
                 amp_dtype: torch.dtype | None, channels_last: bool, lr_d: float,
                 betas: tuple[float, float], host: Any = None) -> None:
        self.host = host
        self.asm, self.nets, self.batches, self.latents = asm, nets, batches, latents
        self.loss, self.mitigations = asm.loss, asm.mitigations
        self.pack = asm.batch.pack
        self.n_critic, self.batch_size, self.total_steps = n_critic, batch_size, total_steps
        self.device, self.amp_dtype, self.channels_last = device, amp_dtype, channels_last
        self.lr_d, self.betas = lr_d, betas
        self.step = 0
        self.d_labelled = bool(getattr(nets.D, "num_classes", None))

    # ------------------------------------------------------------------ helpers
    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def fp32(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, enabled=False)

    def context(self) -> StepContext:
        return StepContext(self.step, self.total_steps, self.device, self.asm.info)

    def batch_context(self, role: str, player: str, labels: torch.Tensor | None) -> BatchContext:
        return BatchContext(self.step, self.total_steps, self.device, self.asm.info, role, player, labels)  # type: ignore[arg-type]

    def prepare(self, x: torch.Tensor, ctx: BatchContext) -> torch.Tensor:
        """Mitigations' transforms, then the engine's packing (and channels_last on CUDA)."""
        for m in self.mitigations:
            x = m.transform(x, ctx)
        x = pack_batch(x, self.pack)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _d_labels(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        return labels if self.d_labelled else None

    def real_batch(self) -> Batch:
        b = self.batches.next()
        return b if self.latents.num_classes else Batch(b.x, None)

    # ------------------------------------------------------------------ discriminator
    def discriminator_objective(self, D: nn.Module, real: Batch, fake: Batch,
                                player: str = "discriminator") -> tuple[torch.Tensor, torch.Tensor]:
        """Full D loss for raw ``real`` and ``fake`` batches: (total, penalty part)."""
        rp = self.prepare(real.x, self.batch_context("real", player, real.labels))
        fp = self.prepare(fake.x, self.batch_context("fake", player, fake.labels))
        rl_lab, fl_lab = self._d_labels(real.labels), self._d_labels(fake.labels)
        with self.autocast():
            rl, fl = judge(D, rp, rl_lab), judge(D, fp, fl_lab)
        ctx = DiscriminatorStep(self.step, self.total_steps, self.device, self.asm.info, D, rp, fp,
                                rl.float(), fl.float(), rl_lab, fl_lab)
        loss = check_scalar(self.loss.discriminator_loss(ctx.real_logits, ctx.fake_logits, ctx), self.host, self.loss, "discriminator_loss")
        extra = torch.zeros((), device=self.device)
        with self.fp32():
            ctx.real, ctx.fake = rp.float(), fp.float()
            pen = self.loss.penalty(ctx)
            if pen is not None:
                extra = extra + check_scalar(pen, self.host, self.loss, "penalty")
            for m in self.mitigations:
                r = m.discriminator_regularizer(ctx)
                if r is not None:
                    extra = extra + check_scalar(r, self.host, m, "discriminator_regularizer")
        return loss + extra, extra

    def d_update(self, keep_fake: bool) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, Batch] | None]:
        """One D update. With ``keep_fake`` the fake batch keeps its graph and is returned as
        ``(z, fake)`` for the G update."""
        n = self.nets
        real = self.real_batch()
        z, labels = self.latents(real.x.shape[0])
        # A fake kept for the G update goes through G_train (DDP averages G's gradients); the others
        # through the raw G: a forward without backward needs no DDP bookkeeping.
        with torch.set_grad_enabled(keep_fake), self.autocast():
            fake = generate(n.G_train if keep_fake else n.G, z, labels)
        total, pen = self.discriminator_objective(n.D_train, real, Batch(fake.detach().float(), labels))
        n.opt_d.zero_grad(set_to_none=True)
        n.scaler_d.scale(total).backward()
        n.scaler_d.step(n.opt_d)
        n.scaler_d.update()
        self.loss.after_discriminator_step(n.D, self.context())
        return total.detach(), pen.detach(), ((z, Batch(fake, labels)) if keep_fake else None)

    # ------------------------------------------------------------------ generator
    def g_update(self, reuse: tuple[torch.Tensor, Batch] | None) -> torch.Tensor:
        n = self.nets
        n.D.requires_grad_(False)
        try:
            if reuse is not None:
                z, fake_batch = reuse
            else:
                z, labels = self.latents(self.batch_size)
                with self.autocast():
                    fake_batch = Batch(generate(n.G_train, z, labels), labels)
            fake = fake_batch.x.float()
            real = self.real_batch() if self.loss.needs_real_logits else None
            gstep = GeneratorStep(
                self.step, self.total_steps, self.device, self.asm.info,
                generator=n.G, discriminator=n.D, z=z, fake=fake, loss=self.loss,
                sample_real=self.real_batch, sample_latent=self.latents, prepare=self.prepare,
                discriminator_objective=lambda D, r, f: self.discriminator_objective(D, r, f, "generator")[0],
                lr_d=self.lr_d, betas_d=self.betas, labels=fake_batch.labels, real=real,
            )
            # The raw D: its parameters are frozen here, so DDP has nothing to reduce (and mitigations
            # such as unrolling get the module itself); G's gradients are averaged through G_train.
            D_for_g: nn.Module = n.D
            for m in self.mitigations:
                D_for_g = m.discriminator_for_generator(D_for_g, gstep)
            fp = self.prepare(fake, self.batch_context("fake", "generator", fake_batch.labels))
            with self.autocast():
                fl = judge(D_for_g, fp, self._d_labels(fake_batch.labels)).float()
                rl = None
                if real is not None:
                    rp = self.prepare(real.x, self.batch_context("real", "generator", real.labels))
                    rl = judge(D_for_g, rp, self._d_labels(real.labels)).float()
            loss = check_scalar(self.loss.generator_loss(rl, fl, gstep), self.host, self.loss, "generator_loss")
            for m in self.mitigations:
                r = m.generator_regularizer(gstep)
                if r is not None:
                    loss = loss + check_scalar(r, self.host, m, "generator_regularizer")
            n.opt_g.zero_grad(set_to_none=True)
            n.scaler_g.scale(loss).backward()
            n.scaler_g.step(n.opt_g)
            n.scaler_g.update()
        finally:
            n.D.requires_grad_(True)
        return loss.detach()

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One generator step: (mean D loss, G loss, mean penalty) as device tensors."""
        self.nets.G_train.train()
        self.nets.D_train.train()
        d_total = torch.zeros((), device=self.device)
        pen_total = torch.zeros((), device=self.device)
        reuse = None
        for i in range(self.n_critic):
            d, p, reuse = self.d_update(keep_fake=i == self.n_critic - 1)
            d_total = d_total + d
            pen_total = pen_total + p
        g = self.g_update(reuse)
        return d_total / self.n_critic, g, pen_total / self.n_critic

