"""The public ``check_<kind>`` functions: run every conformance check of a kind on one component."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganzoo.plugins import PluginHost
from ganzoo.specs import DataInfo
from ganzoo.testing import architecture, dataset, loss, metric, mitigation
from ganzoo.testing.report import Check, Report, run_checks
from ganzoo.testing.subject import Subject, resolve_subject

CHECKS: dict[str, list[Check]] = {
    "architecture": architecture.CHECKS,
    "loss": loss.CHECKS,
    "dataset": dataset.CHECKS,
    "mitigation": mitigation.CHECKS,
    "metric": metric.CHECKS,
}
"""Kind -> its checks, in the order they run."""


def check_names(kind: str) -> list[str]:
    return [c.name for c in CHECKS[kind]]


def make_subject(
    kind: str, component: Any, *, options: Mapping[str, Any] | None = None, host: PluginHost | None = None,
    tiny: bool = True, infos: Sequence[DataInfo] | None = None, data_root: str | Path | None = None,
    offline: bool = False,
) -> Subject:
    subject = resolve_subject(kind, component, options, host=host, tiny=tiny)
    if infos:
        subject.state["infos"] = list(infos)
    if data_root:
        subject.state["data_root"] = str(data_root)
    subject.state["offline"] = offline
    return subject


def check_component(
    kind: str, component: Any, *, options: Mapping[str, Any] | None = None, host: PluginHost | None = None,
    only: Iterable[str] | None = None, skip: Iterable[str] = (), tiny: bool = True, **extra: Any,
) -> Report:
    """Run the checks of ``kind`` on ``component`` (a registered name or a spec instance).

    Returns a :class:`Report`; raises :class:`ConformanceError` listing every failed check."""
    subject = make_subject(kind, component, options=options, host=host, tiny=tiny, **extra)
    return run_checks(kind, subject.name, subject, CHECKS[kind], only=only, skip=skip)


def check_architecture(
    component: Any, *, options: Mapping[str, Any] | None = None, infos: Sequence[DataInfo] | None = None,
    host: PluginHost | None = None, only: Iterable[str] | None = None, skip: Iterable[str] = (), tiny: bool = True,
) -> Report:
    """Check an architecture: supports(), generator shapes/dtype/range for every supported standard
    shape (or ``infos``), the Discriminator contract, gradients (double backward too), two engine
    steps per data kind (ns-gan and wgan-gp), checkpoint reload, ONNX export parity."""
    return check_component("architecture", component, options=options, host=host, only=only, skip=skip,
                           tiny=tiny, infos=infos)


def check_loss(
    component: Any, *, options: Mapping[str, Any] | None = None, host: PluginHost | None = None,
    only: Iterable[str] | None = None, skip: Iterable[str] = (), tiny: bool = True,
) -> Report:
    """Check a loss: scalar finite values and gradients, D/G ordering sanity, penalty, after_discriminator_step,
    two engine steps."""
    return check_component("loss", component, options=options, host=host, only=only, skip=skip, tiny=tiny)


def check_dataset(
    component: Any, *, options: Mapping[str, Any] | None = None, data_root: str | Path | None = None,
    offline: bool = False, host: PluginHost | None = None, only: Iterable[str] | None = None,
    skip: Iterable[str] = (), tiny: bool = True,
) -> Report:
    """Check a dataset: build, DataInfo, items (float32, shape, range, int64 labels), ``tensors``,
    determinism by seed, two engine steps. With ``offline=True`` the network is disabled; a dataset
    that then lacks its files must raise DataUnavailableError (the other checks are skipped)."""
    return check_component("dataset", component, options=options, host=host, only=only, skip=skip, tiny=tiny,
                           data_root=data_root, offline=offline)


def check_mitigation(
    component: Any, *, options: Mapping[str, Any] | None = None, host: PluginHost | None = None,
    only: Iterable[str] | None = None, skip: Iterable[str] = (), tiny: bool = True,
) -> Report:
    """Check a mitigation: its hooks' results, two engine steps combined with every registered loss,
    and that discriminator_for_generator() leaves the discriminator untouched."""
    return check_component("mitigation", component, options=options, host=host, only=only, skip=skip, tiny=tiny)


def check_metric(
    component: Any, *, options: Mapping[str, Any] | None = None, host: PluginHost | None = None,
    only: Iterable[str] | None = None, skip: Iterable[str] = (), tiny: bool = True,
) -> Report:
    """Check a metric: declaration, its catalogue entry (``values``), applies() and compute() on stand-in
    samples of each applicable standard data shape (finite and deterministic)."""
    return check_component("metric", component, options=options, host=host, only=only, skip=skip, tiny=tiny)
