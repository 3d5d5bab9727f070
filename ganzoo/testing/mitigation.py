"""Conformance checks for mitigations: hook results, a few engine steps combined with every
registered loss, and the promise that ``discriminator_for_generator`` leaves D untouched."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ganzoo.errors import IncompatibleError
from ganzoo.specs import BatchContext, BatchNeeds, DataInfo, Discriminator, HeadFeature, SetupContext
from ganzoo.testing.common import changed_entries, check_declaration, is_finite, shape, state_snapshot
from ganzoo.testing.engine import run_tree, short_run
from ganzoo.testing.report import Check, ConformanceError, SkipCheck, ensure, fail
from ganzoo.testing.subject import Subject, harness_host, plain_loss, smallest_architecture
from ganzoo.testing.synthetic import standard_infos, synthetic_dataset_for

BATCH = 8


class WatchedMitigation:
    """Wraps a mitigation for a real run: records the hooks called and checks each result."""

    def __init__(self, inner: Any, log: list[str] | None = None, problems: list[str] | None = None) -> None:
        self._inner = inner
        self.calls: list[str] = [] if log is None else log
        self.problems: list[str] = [] if problems is None else problems

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)

    def __repr__(self) -> str:
        return f"<watched {self._inner!r}>"

    def with_options(self, values: Mapping[str, Any] | None = None, *, prefix: str | None = None) -> WatchedMitigation:
        return WatchedMitigation(self._inner.with_options(values, prefix=prefix), self.calls, self.problems)

    def _note(self, hook: str) -> None:
        if not self.calls or self.calls[-1] != hook:
            self.calls.append(hook)

    def check(self, ctx: SetupContext) -> None:
        self._note("check")
        return self._inner.check(ctx)

    def batch_needs(self, ctx: SetupContext) -> BatchNeeds:
        self._note("batch_needs")
        out = self._inner.batch_needs(ctx)
        if not isinstance(out, BatchNeeds):
            self.problems.append(f"batch_needs() must return a ganzoo.BatchNeeds, got {type(out).__name__}")
        return out

    def head_feature(self, in_features: int, ctx: SetupContext) -> HeadFeature | None:
        self._note("head_feature")
        out = self._inner.head_feature(in_features, ctx)
        if out is not None and not isinstance(out, HeadFeature):
            self.problems.append(f"head_feature() must return a ganzoo.HeadFeature or None, got {type(out).__name__}")
        return out

    def wrap_generator(self, generator: nn.Module, ctx: SetupContext) -> nn.Module:
        self._note("wrap_generator")
        out = self._inner.wrap_generator(generator, ctx)
        if not isinstance(out, nn.Module) or not isinstance(getattr(out, "latent_dim", None), int):
            self.problems.append("wrap_generator() must return an nn.Module that keeps the int attribute latent_dim")
        return out

    def wrap_discriminator(self, discriminator: Discriminator, ctx: SetupContext) -> Discriminator:
        self._note("wrap_discriminator")
        out = self._inner.wrap_discriminator(discriminator, ctx)
        if not isinstance(out, Discriminator):
            self.problems.append(f"wrap_discriminator() must return a ganzoo.Discriminator, got {type(out).__name__}")
        return out

    def transform(self, x: torch.Tensor, ctx: BatchContext) -> torch.Tensor:
        self._note("transform")
        out = self._inner.transform(x, ctx)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            self.problems.append(f"transform() must return a tensor of the batch's shape {tuple(x.shape)}, got {shape(out)}")
        return out

    def _regularizer(self, hook: str, step: Any) -> torch.Tensor | None:
        self._note(hook)
        out = getattr(self._inner, hook)(step)
        if out is not None and not (isinstance(out, torch.Tensor) and out.dim() == 0 and is_finite(out)):
            self.problems.append(f"{hook}() must return None or a finite scalar tensor, got {shape(out)} {out!r:.80}")
        return out

    def discriminator_regularizer(self, step: Any) -> torch.Tensor | None:
        return self._regularizer("discriminator_regularizer", step)

    def generator_regularizer(self, step: Any) -> torch.Tensor | None:
        return self._regularizer("generator_regularizer", step)

    def discriminator_for_generator(self, discriminator: nn.Module, step: Any) -> nn.Module:
        self._note("discriminator_for_generator")
        raw = step.discriminator
        before = state_snapshot(raw)
        out = self._inner.discriminator_for_generator(discriminator, step)
        changed = changed_entries(raw, before)
        if changed:
            self.problems.append(
                f"discriminator_for_generator() changed the discriminator's parameters/buffers {changed[:5]}; it must "
                f"leave D untouched (work on a copy, e.g. copy.deepcopy or torch.func.functional_call)"
            )
        if not isinstance(out, nn.Module) and not callable(out):
            self.problems.append(f"discriminator_for_generator() must return a module, got {type(out).__name__}")
        return out


def _setups(s: Subject) -> list[tuple[str, DataInfo]]:
    """(architecture, data shape) pairs to train on: 2D vectors, then a 3-channel 16 px image; for each,
    the registered architecture with the smallest tiny generator that handles it."""
    wanted = [i for i in standard_infos() if i.shape in ((2,), (3, 16, 16))]
    out = []
    for info in wanted:
        arch = smallest_architecture(s, info)
        if arch is not None:
            out.append((arch, info))
    return out


def _loss_for(s: Subject, loss: str) -> Any:
    return s.host.losses.get(loss).with_options(s.tiny_options("loss", loss), prefix="loss")


def _setup_context(s: Subject, info: DataInfo, loss: str) -> SetupContext:
    return SetupContext(info=info, batch_size=BATCH, total_steps=2, device=torch.device("cpu"), loss=_loss_for(s, loss))


def check_hooks(s: Subject) -> None:
    """check(), batch_needs(), head_feature(), transform() and state_dict() return what the engine needs: a
    BatchNeeds the batch can meet, a head feature that appends ``extra`` columns, a transform that keeps the
    shape of real and fake batches, a state dict that ``load_state_dict`` takes back."""
    tried = 0
    loss = plain_loss(s)
    for _, info in _setups(s):
        ctx = _setup_context(s, info, loss)
        try:
            s.spec.check(ctx)
        except IncompatibleError:
            continue
        tried += 1
        needs = s.spec.batch_needs(ctx)
        ensure(isinstance(needs, BatchNeeds), s, f"batch_needs() must return a ganzoo.BatchNeeds, got {type(needs).__name__}")
        ensure(min(needs.pack, needs.min_batch, needs.group) >= 1, s, f"batch_needs() gave non-positive needs {needs}")
        feature = s.spec.head_feature(16, ctx)
        if feature is not None:
            ensure(isinstance(feature, HeadFeature), s, f"head_feature() must return a ganzoo.HeadFeature or None, got {type(feature).__name__}")
            out = feature.module(torch.randn(BATCH // needs.pack, 16))
            ensure(tuple(out.shape) == (BATCH // needs.pack, 16 + feature.extra), s,
                   f"head_feature(16) module maps [{BATCH // needs.pack}, 16] to {shape(out)}, not "
                   f"[{BATCH // needs.pack}, {16 + feature.extra}] (extra={feature.extra})")
        x = torch.rand(BATCH, *info.shape) * 2 - 1
        for role, player in (("real", "discriminator"), ("fake", "discriminator"), ("fake", "generator")):
            bctx = BatchContext(0, 2, torch.device("cpu"), info, role, player)  # type: ignore[arg-type]
            out = s.spec.transform(x, bctx)
            ensure(isinstance(out, torch.Tensor) and out.shape == x.shape, s,
                   f"transform() on {info.kind} data {tuple(x.shape)} must keep the shape, got {shape(out)} "
                   f"(role {role!r}, player {player!r})")
    state = s.spec.state_dict()
    ensure(isinstance(state, Mapping), s, f"state_dict() must return a dict (checkpoints keep it), got {type(state).__name__}")
    s.spec.load_state_dict(state)
    if not tried:
        raise SkipCheck("check() refuses both 2D vectors and 3x16x16 images with batch size 8")


def _watched_run(s: Subject, arch: str, info: DataInfo, loss: str) -> WatchedMitigation:
    watched = WatchedMitigation(s.raw)
    host = harness_host(s.host, {("mitigation", s.name): watched})
    dataset, data_opts = synthetic_dataset_for(info)
    tree = run_tree(dataset=dataset, arch=arch, loss=loss, mitigations=[s.name],
                    options={"dataset": data_opts, "arch": s.tiny_options("architecture", arch),
                             "loss": s.tiny_options("loss", loss), "mitigation": {s.name: s.options}})
    with short_run(tree, host):
        pass
    return watched


def check_engine_with_each_loss(s: Subject) -> None:
    """Two engine steps combined with every registered loss; hooks return what they must; D untouched."""
    losses = s.host.losses.names()
    ensure(bool(losses), s, "no loss is registered to train with")
    setups = _setups(s)
    ensure(bool(setups), s, "no registered architecture handles 2D vectors or 3x16x16 images")
    problems, trained = [], []
    for loss in losses:
        incompatible = []
        for arch, info in setups:
            try:
                watched = _watched_run(s, arch, info, loss)
            except ConformanceError as exc:
                if isinstance(exc.__cause__, IncompatibleError):
                    incompatible.append(str(exc.__cause__))
                    continue
                problems.append(f"with loss {loss!r}: {exc}")
                break
            for p in dict.fromkeys(watched.problems):
                problems.append(f"with loss {loss!r} on {info.kind} data: {p}")
            s.state.setdefault("calls", {})[loss] = watched.calls
            trained.append(loss)
            break
        else:
            s.state.setdefault("incompatible", {})[loss] = incompatible
    if problems:
        fail(s, "; ".join(problems))
    ensure(bool(trained), s, f"check() refused every loss ({', '.join(losses)}) on both 2D vectors and images: "
                             f"{s.state.get('incompatible')}")


def _generator_changing_options(s: Subject) -> dict[str, Any] | None:
    """The subject's options, or those plus one switched-on bool option, under which
    ``changes_generator`` is true; None when no such configuration is found."""
    if bool(getattr(s.spec, "changes_generator", False)):
        return dict(s.options)
    for key, option in (getattr(s.raw, "options", {}) or {}).items():
        if option.default is False and key not in s.options:
            trial = {**s.options, key: True}
            if bool(getattr(s.raw.with_options(trial, prefix="mitigation"), "changes_generator", False)):
                return trial
    return None


def check_export(s: Subject) -> None:
    """When the mitigation changes the generator (``changes_generator``), the result still exports to
    ONNX and matches PyTorch."""
    from ganzoo.rundir import load_generator
    from ganzoo.testing.export import export_parity

    options = _generator_changing_options(s)
    if options is None:
        raise SkipCheck("the mitigation leaves the generator unchanged (changes_generator is false)")
    for arch, info in _setups(s):
        loss = plain_loss(s)
        try:
            s.spec.check(_setup_context(s, info, loss))
        except IncompatibleError:
            continue
        dataset, data_opts = synthetic_dataset_for(info)
        tree = run_tree(dataset=dataset, arch=arch, loss=loss, mitigations=[s.name],
                        options={"dataset": data_opts, "arch": s.tiny_options("architecture", arch),
                                 "mitigation": {s.name: options}})
        with short_run(tree, s.host) as run_dir:
            export_parity(s, load_generator(run_dir, host=s.host))
        return
    raise SkipCheck("check() refuses both 2D vectors and 3x16x16 images with batch size 8")


CHECKS = [
    Check("declaration", check_declaration),
    Check("hooks", check_hooks),
    Check("engine", check_engine_with_each_loss),
    Check("export", check_export),
]
