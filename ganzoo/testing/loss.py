"""Conformance checks for losses: finite values and gradients, the obvious ordering, the penalty
and ``after_discriminator_step`` contracts, and a few engine steps."""

from __future__ import annotations

import torch
from torch import nn

from ganzoo.specs import DataInfo, Discriminator, DiscriminatorStep, StepContext
from ganzoo.testing.common import check_declaration, is_finite, parameter_grads, shape
from ganzoo.testing.engine import run_tree, short_run
from ganzoo.testing.report import Check, ensure
from ganzoo.testing.subject import Subject, smallest_architecture
from ganzoo.testing.synthetic import VECTOR_DATASET

N = 8


def _logits(seed: int, scale: float = 1.0) -> torch.Tensor:
    return (torch.randn(N, generator=torch.Generator().manual_seed(seed)) * scale).requires_grad_(True)


def _scalar(s: Subject, value: object, what: str) -> torch.Tensor:
    ensure(isinstance(value, torch.Tensor), s, f"{what} must return a tensor, got {type(value).__name__}")
    assert isinstance(value, torch.Tensor)
    ensure(value.dim() == 0, s, f"{what} must return a scalar (0-dim tensor), got shape {shape(value)}")
    ensure(value.is_floating_point(), s, f"{what} must return a floating-point tensor, got {value.dtype}")
    ensure(is_finite(value), s, f"{what} is not finite: {float(value.detach())}")
    return value


def check_values(s: Subject) -> None:
    """Scalar, finite losses with finite gradients, for ordinary and extreme (+-50) logits."""
    for scale in (1.0, 50.0):
        real, fake = _logits(1, scale), _logits(2, scale)
        d = _scalar(s, s.spec.discriminator_loss(real, fake), f"discriminator_loss(real, fake) (logits ~ N(0, {scale:g}^2))")
        d.backward()
        for which, t in (("real", real), ("fake", fake)):
            ensure(t.grad is not None, s, f"discriminator_loss has no gradient with respect to the {which} logits")
            ensure(t.grad is not None and is_finite(t.grad), s, f"discriminator_loss has NaN/inf gradients for {which} logits of scale {scale:g}")
        fake, real_g = _logits(3, scale), _real_for_g(s, 5, scale)
        g = _scalar(s, s.spec.generator_loss(real_g, fake), f"generator_loss(real, fake) (logits ~ N(0, {scale:g}^2))")
        g.backward()
        ensure(fake.grad is not None and is_finite(fake.grad), s,
               f"generator_loss has no or NaN/inf gradients with respect to the fake logits (scale {scale:g})")
        ensure(fake.grad is not None and bool(fake.grad.abs().sum() > 0), s, "generator_loss has a zero gradient: the generator would not learn")


def _real_for_g(s: Subject, seed: int, scale: float) -> torch.Tensor | None:
    """Real logits for the generator's term: only for a loss that asks for them (the engine's rule)."""
    return _logits(seed, scale).detach() if s.spec.needs_real_logits else None


def check_ordering(s: Subject) -> None:
    """D's loss is lower when real logits exceed fake ones; G's loss is not higher when fake logits are high."""
    hi, lo = torch.full((N,), 2.0), torch.full((N,), -2.0)
    good = float(s.spec.discriminator_loss(hi, lo))
    bad = float(s.spec.discriminator_loss(lo, hi))
    ensure(good < bad, s,
           f"discriminator_loss(real=+2, fake=-2) = {good:.4g} is not lower than discriminator_loss(real=-2, fake=+2) "
           f"= {bad:.4g}; the discriminator should minimise a loss that rewards high real and low fake logits")
    real = None if not s.spec.needs_real_logits else torch.zeros(N)
    g_hi, g_lo = float(s.spec.generator_loss(real, hi)), float(s.spec.generator_loss(real, lo))
    ensure(g_hi <= g_lo + 1e-6, s,
           f"generator_loss(fake=+2) = {g_hi:.4g} is higher than generator_loss(fake=-2) = {g_lo:.4g}; the generator "
           f"should minimise a loss that rewards high fake logits")


def tiny_discriminator(kind: str, batch_norm: bool = False) -> Discriminator:
    torch.manual_seed(0)
    if kind == "vector":
        return Discriminator(nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2)), 16)
    layers: list[nn.Module] = [nn.Conv2d(3, 8, 4, 2, 1)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(8))
    layers += [nn.LeakyReLU(0.2), nn.Flatten()]
    return Discriminator(nn.Sequential(*layers), 8 * 4 * 4)


def _inputs(kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(4)
    shape_ = (N, 2) if kind == "vector" else (N, 3, 8, 8)
    return torch.randn(shape_, generator=g), torch.randn(shape_, generator=g)


def _d_step(D: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> DiscriminatorStep:
    info = DataInfo(name="harness", kind="vector" if real.dim() == 2 else "image", shape=tuple(real.shape[1:]))
    return DiscriminatorStep(0, 2, torch.device("cpu"), info, D, real, fake, D(real), D(fake))


def _penalty_weights(s: Subject) -> dict[str, float]:
    """Options named ``*weight`` that may be 0 (e.g. ``gp_weight``): setting one to 0 switches its term off."""
    out = {}
    for key, option in (getattr(s.raw, "options", {}) or {}).items():
        if key.endswith("weight") and isinstance(option.default, (int, float)) and not isinstance(option.default, bool):
            if option.minimum is None or option.minimum <= 0:
                out[key] = 0.0 if isinstance(option.default, float) else 0
    return out


def check_penalty(s: Subject) -> None:
    """penalty(ctx) is None or a finite scalar that back-propagates into D; 0/None when its weight is 0."""
    ensure(isinstance(getattr(s.raw, "batch_norm_ok", True), bool), s, "batch_norm_ok must be a bool")
    for kind in ("vector", "image"):
        D = tiny_discriminator(kind)
        real, fake = _inputs(kind)
        p = s.spec.penalty(_d_step(D, real, fake))
        if p is None:
            continue
        p = _scalar(s, p, f"penalty(ctx) on {kind} inputs")
        if p.requires_grad:
            p.backward()
            missing, bad = parameter_grads(D)
            ensure(not bad, s, f"penalty gives NaN/inf gradients to discriminator parameters {bad}")
            ensure(len(missing) < len(list(D.parameters())), s,
                   "penalty requires grad but no discriminator parameter receives a gradient (use create_graph=True)")
    weights = _penalty_weights(s)
    if weights:
        off = s.raw.with_options({**s.options, **weights}, prefix="loss")
        D = tiny_discriminator("vector")
        p = off.penalty(_d_step(D, *_inputs("vector")))
        ensure(p is None or (isinstance(p, torch.Tensor) and float(p.detach().abs()) < 1e-8), s,
               f"with {', '.join(f'{k}=0' for k in weights)} the penalty should be None or 0, got {p}")


def check_after_step(s: Subject) -> None:
    """after_discriminator_step(D, ctx) returns None and leaves D's parameters finite."""
    D = tiny_discriminator("image", batch_norm=True)
    info = DataInfo(name="harness", kind="image", shape=(3, 8, 8))
    out = s.spec.after_discriminator_step(D, StepContext(0, 2, torch.device("cpu"), info))
    ensure(out is None, s, f"after_discriminator_step must return None (change D in place), got {out!r}")
    bad = [n for n, p in D.named_parameters() if not is_finite(p)]
    ensure(not bad, s, f"after_discriminator_step left NaN/inf parameters {bad}")


def check_engine(s: Subject) -> None:
    """Two engine steps with the first architecture that handles 2D vectors (with its recommended settings)."""
    info = DataInfo(name=VECTOR_DATASET, kind="vector", shape=(2,), value_range=(-1.5, 1.5))
    arch = smallest_architecture(s, info)
    ensure(arch is not None, s, "no registered architecture handles 2D vectors to train with")
    assert arch is not None
    tree = run_tree(dataset=VECTOR_DATASET, arch=arch, loss=s.name,
                    options={"arch": s.tiny_options("architecture", arch), "loss": s.options})
    with short_run(tree, s.host):
        pass


CHECKS = [
    Check("declaration", check_declaration),
    Check("values", check_values),
    Check("ordering", check_ordering),
    Check("penalty", check_penalty),
    Check("after_discriminator_step", check_after_step),
    Check("engine", check_engine),
]
