"""Conformance checks for architectures: shapes, ranges, the Discriminator contract, gradients,
a few engine steps and ONNX export parity."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganzoo.specs import DataInfo, Discriminator, generator_latent_dim
from ganzoo.testing.common import check_declaration, is_finite, parameter_grads, shape
from ganzoo.testing.engine import run_tree, short_run
from ganzoo.testing.report import Check, SkipCheck, ensure, fail
from ganzoo.testing.subject import Subject, penalty_loss, plain_loss
from ganzoo.testing.synthetic import standard_infos, synthetic_dataset_for

BATCH = 8


def _latent(s: Subject, n: int, latent_dim: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(n)
    if getattr(s.spec, "latent_distribution", "normal") == "uniform":
        return torch.rand(n, latent_dim, generator=g) * 2 - 1
    return torch.randn(n, latent_dim, generator=g)


def _generate(G: nn.Module, z: torch.Tensor) -> torch.Tensor:
    num_classes = getattr(G, "num_classes", None)
    if isinstance(num_classes, int) and num_classes > 0:
        return G(z, torch.arange(z.shape[0]) % num_classes)
    return G(z)


def _real(info: DataInfo, n: int = BATCH) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    lo, hi = info.value_range
    return torch.rand(n, *info.shape, generator=g) * (hi - lo) + lo


def probe_infos(s: Subject) -> list[DataInfo]:
    """The shapes to probe: ``infos`` given to the harness, else :func:`standard_infos`."""
    return list(s.state.get("infos") or standard_infos())


def supported_infos(s: Subject) -> list[DataInfo]:
    if "supported" not in s.state:
        s.state["supported"] = [i for i in probe_infos(s) if s.spec.supports(i) is None]
    return s.state["supported"]


def _where(info: DataInfo) -> str:
    return f"for {info.kind} data of shape {info.shape}"


def check_supports(s: Subject) -> None:
    """``supports(info)`` returns None or a reason (a non-empty string); some standard shape is supported."""
    for info in probe_infos(s):
        reason = s.spec.supports(info)
        ensure(reason is None or (isinstance(reason, str) and reason.strip() != ""), s,
               f"supports() must return None or a non-empty reason string {_where(info)}, got {reason!r}")
    ensure(bool(supported_infos(s)), s,
           "supports() rejects every standard data shape (2D vectors; 1/3-channel images at 16, 28, 32, 64 px); "
           "pass the shapes it handles with check_architecture(..., infos=[DataInfo(...)])")


def _build_generator(s: Subject, info: DataInfo) -> nn.Module:
    torch.manual_seed(0)
    G = s.spec.build_generator(info)
    ensure(isinstance(G, nn.Module), s, f"build_generator() must return an nn.Module {_where(info)}, got {type(G).__name__}")
    latent = getattr(G, "latent_dim", None)
    ensure(isinstance(latent, int) and not isinstance(latent, bool) and latent > 0, s,
           f"the generator must have an int attribute latent_dim > 0 {_where(info)}, got {latent!r}")
    return G


def check_generator(s: Subject) -> None:
    """Output ``[N, *info.shape]``, float32, finite; images in [-1, 1]; eval mode is batch-independent."""
    dist = getattr(s.spec, "latent_distribution", "normal")
    ensure(dist in ("normal", "uniform"), s, f"latent_distribution must be 'normal' or 'uniform', got {dist!r}")
    for info in supported_infos(s):
        G = _build_generator(s, info)
        z = _latent(s, BATCH, generator_latent_dim(G))
        for mode in ("train", "eval"):
            G.train(mode == "train")
            with torch.no_grad():
                x = _generate(G, z)
            expected = (BATCH, *info.shape)
            ensure(isinstance(x, torch.Tensor) and tuple(x.shape) == expected, s,
                   f"generator output has shape {shape(x)} in {mode} mode {_where(info)}; expected {expected} "
                   f"(z: [N, latent_dim] -> [N, *info.shape])")
            ensure(x.dtype == torch.float32, s, f"generator output is {x.dtype}, expected torch.float32 {_where(info)}")
            ensure(is_finite(x), s, f"generator output has NaN/inf values in {mode} mode {_where(info)}")
            if info.kind == "image":
                lo, hi = float(x.min()), float(x.max())
                ensure(lo >= -1 - 1e-5 and hi <= 1 + 1e-5, s,
                       f"image generator output spans [{lo:.3f}, {hi:.3f}] {_where(info)}; images must be in "
                       f"[-1, 1] (end with tanh)")
        G.eval()
        with torch.no_grad():
            alone = _generate(G, z[:3])
            batched = _generate(G, z)[:3]
        ensure(torch.allclose(alone, batched, atol=1e-5, rtol=1e-4), s,
               f"in eval mode the generator's output for a sample depends on the rest of the batch {_where(info)} "
               f"(max difference {float((alone - batched).abs().max()):.2e}); the ONNX batch axis must be free")


def _build_discriminator(s: Subject, info: DataInfo, batch_norm: bool) -> Discriminator:
    torch.manual_seed(0)
    D = s.spec.build_discriminator(info, batch_norm=batch_norm)
    ensure(isinstance(D, Discriminator), s,
           f"build_discriminator() must return a ganzoo.specs.Discriminator (features + head) {_where(info)}, "
           f"got {type(D).__name__}")
    return D


def _check_logits(s: Subject, D: Discriminator, info: DataInfo, what: str) -> None:
    x = _real(info)
    h = D.features(x)
    ensure(isinstance(h, torch.Tensor) and h.shape[0] == BATCH and h.flatten(1).shape[1] == D.feature_dim, s,
           f"{what}: features(x) has shape {shape(h)} {_where(info)}; expected [N, feature_dim={D.feature_dim}] "
           f"(flattened)")
    ensure(isinstance(D.head, nn.Module), s, f"{what}: head must be an nn.Module mapping [N, feature_dim] to logits")
    logits = D(x)
    ensure(isinstance(logits, torch.Tensor) and tuple(logits.shape) == (BATCH,), s,
           f"{what}: D(x) returned shape {shape(logits)} {_where(info)}; expected logits of shape [N] = ({BATCH},)")
    ensure(is_finite(logits), s, f"{what}: D(x) has NaN/inf logits {_where(info)}")


def _packed(info: DataInfo, m: int = 2) -> DataInfo:
    if info.kind == "image":
        c, h, w = info.shape
        return info.replace(shape=(c * m, h, w))
    return info.replace(shape=(info.dim * m,))


def check_discriminator(s: Subject) -> None:
    """A Discriminator with ``features`` -> ``[N, feature_dim]`` and ``head`` -> logits ``[N]``; no BatchNorm
    when ``batch_norm=False``; built from the (possibly packed) info it is given."""
    for info in supported_infos(s):
        for batch_norm in (True, False):
            D = _build_discriminator(s, info, batch_norm)
            D.train()
            _check_logits(s, D, info, f"build_discriminator(batch_norm={batch_norm})")
            if not batch_norm:
                bns = [n for n, m in D.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
                ensure(not bns, s,
                       f"build_discriminator(batch_norm=False) {_where(info)} still has BatchNorm layers {bns}; "
                       f"gradient penalties need per-sample gradients, so honour batch_norm=False")
        packed = _packed(info)
        D = _build_discriminator(s, packed, True)
        _check_logits(s, D, packed, "a discriminator for packed inputs (the engine packs for mitigations such as PacGAN)")


def check_gradients(s: Subject) -> None:
    """Every trainable parameter gets a finite gradient; the discriminator supports double backward."""
    for info in supported_infos(s):
        G = _build_generator(s, info).train()
        D = _build_discriminator(s, info, True).train()
        D(_generate(G, _latent(s, BATCH, generator_latent_dim(G)))).mean().backward()
        missing, bad = parameter_grads(G)
        ensure(not missing, s, f"generator parameters get no gradient {_where(info)}: {missing[:8]}")
        ensure(not bad, s, f"generator parameters get NaN/inf gradients {_where(info)}: {bad[:8]}")
        D.zero_grad()
        D(_real(info)).mean().backward()
        missing, bad = parameter_grads(D)
        ensure(not missing, s, f"discriminator parameters get no gradient {_where(info)}: {missing[:8]}")
        ensure(not bad, s, f"discriminator parameters get NaN/inf gradients {_where(info)}: {bad[:8]}")
        D = _build_discriminator(s, info, False).train()
        x = _real(info).requires_grad_(True)
        try:
            (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
            grad.pow(2).sum().backward()
        except RuntimeError as exc:
            fail(s, f"the discriminator (batch_norm=False) does not support double backward {_where(info)}, which "
                    f"gradient penalties need: {exc}")
        missing, bad = parameter_grads(D)
        ensure(not bad, s, f"a gradient penalty gives NaN/inf discriminator gradients {_where(info)}: {bad[:8]}")


def representative_infos(s: Subject) -> list[DataInfo]:
    """One vector shape and one image shape (3 channels, smallest resolution preferred) when supported."""
    infos = supported_infos(s)
    out = [i for i in infos if i.kind == "vector"][:1]
    images = sorted((i for i in infos if i.kind == "image"), key=lambda i: (i.channels != 3, i.resolution))
    return out + images[:1]


def _losses(s: Subject) -> list[str]:
    """A plain loss, then one with a gradient penalty (no BatchNorm in D) when one is registered."""
    return [n for n in (plain_loss(s), penalty_loss(s)) if n is not None]


def check_engine(s: Subject) -> None:
    """Two engine steps (``start_run``) on each supported data kind with a plain loss, and on the first one
    also with a gradient-penalty loss (no BatchNorm); the checkpoint reloads (``load_generator``)."""
    from ganzoo.rundir import load_generator

    ensure(bool(s.host.losses.names()), s, "no loss is registered to train with")
    s.state["loaded"] = {}
    for i, info in enumerate(representative_infos(s)):
        dataset, data_opts = synthetic_dataset_for(info)
        for loss in _losses(s) if i == 0 else _losses(s)[:1]:
            tree = run_tree(dataset=dataset, arch=s.name, loss=loss,
                            options={"dataset": data_opts, "arch": s.options,
                                     "loss": s.tiny_options("loss", loss)})
            with short_run(tree, s.host) as run_dir:
                loaded = load_generator(run_dir, host=s.host)
                x = loaded.sample(4)
                ensure(tuple(x.shape) == (4, *info.shape), s,
                       f"the generator reloaded from a checkpoint samples shape {shape(x)}, expected {(4, *info.shape)}")
                s.state.setdefault("loaded", {}).setdefault(info.kind, loaded)


def check_export(s: Subject) -> None:
    """The trained generator exports to ONNX and matches PyTorch (``ganzoo.testing.export``)."""
    from ganzoo.testing.export import export_parity

    if "loaded" not in s.state:
        check_engine(s)
    loaded: dict[str, Any] = s.state["loaded"]
    if not loaded:
        raise SkipCheck("no trained generator: the 'engine' check failed")
    for gen in loaded.values():
        export_parity(s, gen)


CHECKS = [
    Check("declaration", check_declaration),
    Check("supports", check_supports),
    Check("generator", check_generator),
    Check("discriminator", check_discriminator),
    Check("gradients", check_gradients),
    Check("engine", check_engine),
    Check("export", check_export),
]
