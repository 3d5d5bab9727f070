"""Rejection sampling by a learned density ratio (discriminator rejection sampling, Azadi et al. 2019, with a
classifier of its own as in Grover et al. 2019): a real-vs-fake classifier trained beside G estimates
``log(p_data / p_G)``; at sampling time a candidate ``x = G(z)`` is kept with probability ``min(1, exp(logit(x) - t))``,
so the kept samples follow ``p_data`` wherever the ratio is below ``e^t``: modes G over-weights are thinned out. Or
(``sampling = "resampling"``, sampling-importance resampling as in Grover et al. 2019) each sample is one of the
candidates drawn with probability proportional to ``min(ratio, e^t)``, which spends no candidate on a fallback."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import GeneratorStep, Option, SetupContext
from ganzoo.errors import IncompatibleError
from ganzoo.specs import generator_latent_dim, generator_num_classes
from ganzoo_mitigations.base import Mitigation, is_stale, pick_candidates, seeded_latents, take_candidates, weights_key

CALIBRATION_SEED = 0
CALIBRATION_BATCH = 4096
SQRT_HALF = math.sqrt(0.5)
SAMPLING = ("rejection", "resampling")
UNIFORM_EPS = 1e-7  # a draw is kept inside (0, 1) before its Gumbel transform


class FourierFeatures(nn.Module):
    """``[sin(xB), cos(xB)]`` for a flattened ``x`` and fixed random frequencies ``B ~ N(0, scale²)`` (Tancik et al.
    2020): an MLP on them resolves detail far finer than the data's range, which one on ``x`` learns slowly."""

    frequencies: torch.Tensor

    def __init__(self, in_features: int, count: int, scale: float) -> None:
        super().__init__()
        self.register_buffer("frequencies", torch.randn(in_features, count) * scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = x @ self.frequencies
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def ratio_classifier(in_features: int, width: int, depth: int, *, fourier: float = 0.0, frequencies: int = 128) -> nn.Sequential:
    """An MLP from a flattened sample to one logit (``depth`` hidden ReLU layers of ``width`` units), on
    ``frequencies`` random Fourier features of scale ``fourier`` when it is above 0."""
    layers: list[nn.Module] = [nn.Flatten()]
    if fourier > 0:
        layers.append(FourierFeatures(in_features, frequencies, fourier))
        in_features = 2 * frequencies
    for i in range(depth):
        layers += [nn.Linear(in_features if i == 0 else width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width if depth else in_features, 1))


def uniform_from_latent(v: torch.Tensor, latent_distribution: str) -> torch.Tensor:
    """A latent coordinate mapped to U(0, 1) by its distribution's CDF (ONNX-exportable)."""
    return (v + 1) * 0.5 if latent_distribution == "uniform" else 0.5 * (1 + torch.erf(v * SQRT_HALF))


class RatioRejectedGenerator(nn.Module):
    """G with a latent of ``tries`` candidates, each G's latent and one more coordinate, the candidate's draw ``u``.
    In training G sees the first candidate's latent. In eval mode each sample is, by ``sampling``:

    - ``rejection``: the first candidate ``x`` whose draw has ``log u < classifier(x) - threshold`` (else the
      candidate the classifier scores highest);
    - ``resampling``: the candidate with the largest ``min(classifier(x), threshold) + Gumbel(u)``, i.e. one drawn
      with probability proportional to its clipped ratio (the Gumbel-max trick).

    Either is a deterministic function of the latent, so sampling stays reproducible and the module exports to
    ONNX. The threshold is the ``quantile`` of the classifier's logits on ``calibration`` seeded samples, set again
    whenever G's or the classifier's weights change."""

    threshold: torch.Tensor

    def __init__(self, generator: nn.Module, classifier: nn.Module, *, tries: int, quantile: float, calibration: int,
                 latent_distribution: str = "normal", sampling: str = "rejection") -> None:
        super().__init__()
        if sampling not in SAMPLING:
            raise ValueError(f"sampling {sampling!r}: expected one of {', '.join(SAMPLING)}")
        self.sampling = sampling
        self.generator, self.classifier = generator, classifier
        self.tries, self.quantile, self.calibration = tries, quantile, calibration
        self.inner_latent_dim = generator_latent_dim(generator)
        self.latent_dim = (self.inner_latent_dim + 1) * tries
        self.training_latent_dim = self.inner_latent_dim  # training reads the first candidate's G latent only
        self.latent_distribution = latent_distribution
        self.register_buffer("threshold", torch.tensor(0.0), persistent=False)
        self._calibrated_for: Any = None

    @torch.no_grad()
    def calibrate(self) -> float:
        """Set the threshold: the ``quantile`` of the classifier's logits on ``calibration`` seeded samples of G."""
        device = self.threshold.device
        g = torch.Generator().manual_seed(CALIBRATION_SEED)
        z = seeded_latents(self.calibration, self.inner_latent_dim, self.latent_distribution, g)
        logits = torch.cat([self.classifier(self.generator(zz.to(device))) for zz in z.split(CALIBRATION_BATCH)])
        self.threshold.fill_(float(torch.quantile(logits.double().flatten(), self.quantile)))
        self._calibrated_for = weights_key(self)
        return float(self.threshold)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        d, n = self.inner_latent_dim, z.shape[0]
        if self.training:  # the engine draws training_latent_dim numbers; a full latent works too
            return self.generator(z[:, :d])
        if is_stale(self._calibrated_for, self):
            self.calibrate()
        candidates = z.reshape(n * self.tries, d + 1)
        x = self.generator(candidates[:, :d])
        logits = self.classifier(x).reshape(n, self.tries).float()
        u = uniform_from_latent(candidates[:, d].reshape(n, self.tries).float(), self.latent_distribution)
        if self.sampling == "resampling":
            return take_candidates(x, resampling_scores(logits, u, self.threshold).argmax(dim=1), self.tries)
        # the first accepted candidate, else the highest logit (sigmoid(-logit): smallest first, >= 0)
        return pick_candidates(x, torch.log(u) < logits - self.threshold, torch.sigmoid(-logits))


def resampling_scores(logits: torch.Tensor, u: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """``min(logit, threshold)`` plus the Gumbel noise of each draw ``u``: the argmax over a row's candidates picks
    one with probability proportional to ``min(exp(logit), exp(threshold))``."""
    u = u.clamp(UNIFORM_EPS, 1 - UNIFORM_EPS)
    return torch.minimum(logits, threshold) - torch.log(-torch.log(u))


class RatioRejection(Mitigation):
    """Trains a real-vs-fake classifier during the last part of the run (its own Adam, cosine-decayed, one update on a
    fresh real batch and the generator step's fakes per generator step; the classifier is part of G, so it is saved,
    averaged by the EMA and exported with it) and rejects samples by its density ratio at sampling time. G's latent
    becomes ``tries × (latent_dim + 1)`` long; sampling costs ``tries`` generator and classifier passes per sample."""

    name = "ratio-rejection"
    summary = ("at sampling, keep G's samples with probability min(1, p_data/p_G / e^t), or resample candidates by that "
               "clipped ratio; the ratio learned by a classifier")
    reference = ("Azadi, Olsson, Darrell, Goodfellow & Odena 2019, Discriminator rejection sampling (ICLR 2019, "
                 "arXiv:1810.06758); Grover et al. 2019, Bias correction of learned generative models using "
                 "likelihood-free importance weighting (NeurIPS 2019, arXiv:1906.09531); the optional Fourier features: Tancik et al. "
                 "2020, Fourier features let networks learn high frequency functions (NeurIPS 2020, arXiv:2006.10739)")
    options = {
        "start": Option(0.7, "share of the run after which the classifier trains (G should have settled)",
                        minimum=0.0, maximum=0.99),
        "lr": Option(1e-3, "the classifier's Adam learning rate (cosine-decayed to 0 by the end of the run)", minimum=0.0),
        "width": Option(256, "units of each hidden layer of the classifier", minimum=1, maximum=4096),
        "depth": Option(3, "hidden layers of the classifier", minimum=0, maximum=8),
        "fourier": Option(0.0, "scale of the classifier's random Fourier input features: frequencies ~ N(0, fourier²) "
                               "per unit of the data (grid25's recipe: 2); 0: the raw sample",
                          minimum=0.0),
        "frequencies": Option(128, "random frequencies of the Fourier features (2 × as many inputs: sin and cos)",
                              minimum=1, maximum=4096),
        "quantile": Option(0.999, "t: this quantile of the classifier's logits on G's samples (a ratio above e^t is "
                                  "kept always, or weighs e^t in resampling)", minimum=0.5, maximum=1.0),
        "tries": Option(64, "candidates per sample (rejection: if none is accepted, the one with the highest ratio "
                            "is used)", minimum=1, maximum=4096),
        "sampling": Option("rejection", "rejection: keep a candidate with probability min(1, ratio / e^t); "
                                        "resampling: draw one of the candidates with probability proportional to "
                                        "min(ratio, e^t) (importance resampling, no fallback)", choices=SAMPLING),
        "calibration": Option(16384, "seeded samples whose logits set t", minimum=256),
    }
    step_cost = 1.5
    changes_generator = True
    _wrapped: RatioRejectedGenerator | None = None  # set by wrap_generator, on the configured copy of a run
    _optimizer: torch.optim.Adam | None = None
    _start, _end = 0, 1

    def check(self, ctx: SetupContext) -> None:
        if ctx.info.kind == "image":
            raise IncompatibleError("ratio-rejection's classifier is an MLP for low-dimensional data (2D mixtures, "
                                    "vectors); it has no image classifier")
        if torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
            raise IncompatibleError("ratio-rejection trains its classifier in one process: it does not run under "
                                    "torchrun with more than one process")

    def wrap_generator(self, generator: nn.Module, ctx: SetupContext) -> nn.Module:
        if generator_num_classes(generator) is not None:
            raise IncompatibleError("ratio-rejection's classifier estimates p_data(x) / p_G(x) without labels; a "
                                    "class-conditional generator needs the ratio given the class, which it does not learn")
        classifier = ratio_classifier(math.prod(ctx.info.shape), int(self.opts["width"]), int(self.opts["depth"]),
                                      fourier=float(self.opts["fourier"]), frequencies=int(self.opts["frequencies"]))
        self._wrapped = RatioRejectedGenerator(
            generator, classifier.to(ctx.device), tries=int(self.opts["tries"]), quantile=float(self.opts["quantile"]),
            calibration=int(self.opts["calibration"]), latent_distribution=ctx.latent_distribution,
            sampling=str(self.opts["sampling"]))
        self._optimizer = torch.optim.Adam(classifier.parameters(), lr=float(self.opts["lr"]))
        self._start, self._end = int(float(self.opts["start"]) * ctx.total_steps), ctx.total_steps
        return self._wrapped

    def generator_regularizer(self, ctx: GeneratorStep) -> torch.Tensor | None:
        """One classifier update (a side effect: the generator's loss gets nothing)."""
        if self._wrapped is None or self._optimizer is None or ctx.step < self._start:
            return None
        progress = (ctx.step - self._start) / max(1, self._end - self._start)
        for group in self._optimizer.param_groups:
            group["lr"] = float(self.opts["lr"]) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        classifier, real = self._wrapped.classifier, ctx.sample_real().x.to(ctx.fake.device)
        params = list(classifier.parameters())
        with torch.enable_grad(), torch.autocast(ctx.fake.device.type, enabled=False):
            loss = (F.softplus(-classifier(real.float())).mean()  # -log sigmoid(logit) of real samples
                    + F.softplus(classifier(ctx.fake.detach().float())).mean())  # -log(1 - sigmoid) of fakes
            grads = torch.autograd.grad(loss, params)
        for p, grad in zip(params, grads):
            p.grad = grad
        self._optimizer.step()
        for p in params:  # G's optimizer must not see them
            p.grad = None
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self._optimizer.state_dict()} if self._optimizer is not None else {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if self._optimizer is not None and state.get("optimizer"):
            self._optimizer.load_state_dict(dict(state["optimizer"]))
