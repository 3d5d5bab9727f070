"""Conformance checks for mitigations: hook results, a few engine steps combined with every
registered loss, and the promise that ``discriminator_for_generator`` leaves D untouched."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ganzoo.errors import IncompatibleError
from ganzoo.specs import DataInfo, Discriminator
from ganzoo.testing.common import changed_entries, check_declaration, is_finite, shape, state_snapshot
from ganzoo.testing.engine import run_tree, short_run
from ganzoo.testing.report import Check, ConformanceError, SkipCheck, ensure, fail
from ganzoo.testing.subject import Subject, harness_host
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

    def with_options(self, values: Mapping[str, Any] | None = None, *, prefix: str | None = None) -> "WatchedMitigation":
        return WatchedMitigation(self._inner.with_options(values, prefix=prefix), self.calls, self.problems)

    def _note(self, hook: str) -> None:
        if not self.calls or self.calls[-1] != hook:
            self.calls.append(hook)

    def check(self, **kwargs: Any) -> None:
        self._note("check")
        return self._inner.check(**kwargs)

    def discriminator_info(self, info: DataInfo) -> DataInfo:
        self._note("discriminator_info")
        out = self._inner.discriminator_info(info)
        if not isinstance(out, DataInfo):
            self.problems.append(f"discriminator_info() must return a DataInfo, got {type(out).__name__}")
        return out

    def wrap_generator(self, generator: nn.Module) -> nn.Module:
        self._note("wrap_generator")
        out = self._inner.wrap_generator(generator)
        if not isinstance(out, nn.Module) or not isinstance(getattr(out, "latent_dim", None), int):
            self.problems.append("wrap_generator() must return an nn.Module that keeps the int attribute latent_dim")
        return out

    def wrap_discriminator(self, discriminator: Discriminator) -> Discriminator:
        self._note("wrap_discriminator")
        out = self._inner.wrap_discriminator(discriminator)
        if not isinstance(out, Discriminator):
            self.problems.append(f"wrap_discriminator() must return a ganzoo.specs.Discriminator, got {type(out).__name__}")
        return out

    def prepare_batch(self, x: torch.Tensor) -> torch.Tensor:
        self._note("prepare_batch")
        out = self._inner.prepare_batch(x)
        if not isinstance(out, torch.Tensor):
            self.problems.append(f"prepare_batch() must return a tensor, got {type(out).__name__}")
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
    """(architecture, data shape) pairs to train on: 2D vectors, then a 3-channel 16 px image."""
    wanted = [i for i in standard_infos() if i.shape in ((2,), (3, 16, 16))]
    out = []
    for info in wanted:
        archs = [e.name for e in s.host.architectures if e.spec.with_options({}).supports(info) is None]
        preferred = [a for a in ("mlp", "dcgan") if a in archs] or archs
        if preferred:
            out.append((preferred[0], info))
    return out


def _loss_for(s: Subject, loss: str) -> Any:
    return s.host.losses.get(loss).with_options(s.tiny_options("loss", loss), prefix="loss")


def check_hooks(s: Subject) -> None:
    """check(), discriminator_info() and prepare_batch() agree: prepared batches look like discriminator_info()."""
    tried = 0
    loss = _loss_for(s, "ns-gan" if "ns-gan" in s.host.losses else s.host.losses.names()[0])
    for _, info in _setups(s):
        try:
            s.spec.check(info=info, batch_size=BATCH, loss=loss, mitigations=[s.name])
        except IncompatibleError:
            continue
        tried += 1
        d_info = s.spec.discriminator_info(info)
        ensure(isinstance(d_info, DataInfo), s, f"discriminator_info() must return a DataInfo, got {type(d_info).__name__}")
        x = torch.rand(BATCH, *info.shape) * 2 - 1
        out = s.spec.prepare_batch(x)
        ensure(isinstance(out, torch.Tensor), s, f"prepare_batch() must return a tensor, got {type(out).__name__}")
        ensure(tuple(out.shape[1:]) == tuple(d_info.shape), s,
               f"prepare_batch() on {info.kind} data {info.shape} gives samples of shape {tuple(out.shape[1:])} but "
               f"discriminator_info() says {d_info.shape}")
        ensure(1 <= out.shape[0] <= BATCH, s, f"prepare_batch() turned a batch of {BATCH} into {out.shape[0]}")
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
    from ganzoo.engine.api import load_generator
    from ganzoo.testing.export import export_parity

    options = _generator_changing_options(s)
    if options is None:
        raise SkipCheck("the mitigation leaves the generator unchanged (changes_generator is false)")
    for arch, info in _setups(s):
        loss = "ns-gan" if "ns-gan" in s.host.losses else s.host.losses.names()[0]
        try:
            s.spec.check(info=info, batch_size=BATCH, loss=_loss_for(s, loss), mitigations=[s.name])
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
