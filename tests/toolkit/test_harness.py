"""The conformance harness (ganzoo.testing) passes good components and names what is wrong with bad ones."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from ganzoo import Option, hookimpl
from ganzoo.plugins import PluginHost
from ganzoo.specs import REQUIRED_METHODS
from ganzoo.testing import (
    CHECKS,
    ConformanceError,
    LossConformance,
    NetworkDisabled,
    check_architecture,
    check_component,
    check_dataset,
    check_loss,
    check_mitigation,
    check_plugin,
    offline,
)
from ganzoo.testing.mixins import MIXINS
from tests.toolkit import scratch_plugin as scratch


class Without:
    """``spec`` with one method removed (every other attribute is the spec's own)."""

    def __init__(self, spec: Any, missing: str) -> None:
        self._spec, self._missing = spec, missing

    def __getattr__(self, attr: str) -> Any:
        if attr == self._missing:
            raise AttributeError(attr)
        return getattr(self._spec, attr)


REMOVALS = [(kind, method) for kind, methods in REQUIRED_METHODS.items() for method in methods]


@pytest.mark.parametrize(("kind", "method"), REMOVALS, ids=[f"{k}-{m}" for k, m in REMOVALS])
def test_removing_a_required_method_fails_naming_it(kind, method):
    spec = Without(scratch.GOOD[kind](), method)
    with pytest.raises(ConformanceError) as err:
        check_component(kind, spec)
    assert method in str(err.value)
    assert f"{kind} 'scratch-" in str(err.value)


def test_plugin_with_an_abstract_component_fails_naming_the_method():
    class Plugin:
        @hookimpl
        def ganzoo_register_losses(self, register):
            register(scratch.AbstractLoss())

    host = PluginHost(strict=False, disabled=set())
    host.add_plugin(scratch, "scratch")
    host.add_plugin(Plugin(), "scratch-broken")
    with pytest.raises(ConformanceError) as err:
        check_loss("scratch-abstract", host=host)
    message = str(err.value)
    assert "generator_loss" in message and "scratch-broken" in message and "not registered" in message


def test_scratch_plugin_components_conform_through_a_host():
    host = PluginHost(strict=True, disabled=set())
    host.add_plugin(scratch, "scratch")
    assert check_loss("scratch-loss", host=host).ok
    report = check_dataset("scratch-data", host=host, skip=["engine"])
    assert report.passed == ["declaration", "build", "info", "items", "determinism"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(scratch.GOOD))
def test_good_scratch_components_pass_every_check(kind):
    report = check_component(kind, scratch.GOOD[kind]())
    assert report.ok, report.summary()
    assert not report.failed
    if kind == "mitigation":
        assert report.skipped == {"export": "the mitigation leaves the generator unchanged (changes_generator is false)"}


BROKEN = [
    ("architecture", scratch.WrongShapeArch, "generator", "generator output has shape (8, 3)"),
    ("architecture", scratch.PlainModuleDiscriminatorArch, "discriminator", "must return a ganzoo.specs.Discriminator"),
    ("architecture", scratch.AlwaysBatchNormArch, "discriminator", "batch_norm=False"),
    ("architecture", scratch.NoLatentDimArch, "generator", "latent_dim"),
    ("loss", scratch.ReversedLoss, "ordering", "is not lower than"),
    ("loss", scratch.UnstableLoss, "values", "not finite"),
    ("loss", scratch.VectorLoss, "values", "must return a scalar"),
    ("dataset", scratch.Float64Dataset, "items", "torch.float64, expected torch.float32"),
    ("dataset", scratch.BadLabelsDataset, "items", "labels must be in [0, 2)"),
    ("dataset", scratch.RandomDataset, "determinism", "two builds with seed 0 differ"),
    ("mitigation", scratch.TouchesDMitigation, "engine", "discriminator_for_generator() changed the discriminator"),
    ("mitigation", scratch.ShapeMismatchMitigation, "hooks", "transform() on vector data (8, 2) must keep the shape"),
]


@pytest.mark.parametrize(("kind", "cls", "check", "expected"), BROKEN, ids=[b[1].__name__ for b in BROKEN])
def test_broken_component_fails_the_right_check_with_a_clear_message(kind, cls, check, expected):
    with pytest.raises(ConformanceError) as err:
        check_component(kind, cls(), only=[check])
    message = str(err.value)
    assert f"check {check!r}" in message and expected in message, message
    assert err.value.report is not None and list(err.value.report.failed) == [check]


def test_failures_are_collected_not_stopped_at_the_first():
    with pytest.raises(ConformanceError) as err:
        check_architecture(scratch.WrongShapeArch(), only=["declaration", "generator", "discriminator"])
    report = err.value.report
    assert report.passed == ["declaration", "discriminator"] and list(report.failed) == ["generator"]


def test_unknown_check_name_is_reported():
    with pytest.raises(ValueError, match="unknown loss check"):
        check_loss(scratch.ScratchLoss(), only=["valuez"])


def test_class_instead_of_instance_is_explained():
    with pytest.raises(ConformanceError, match=r"register an instance, not the class ScratchLoss"):
        check_loss(scratch.ScratchLoss)


def test_unregistered_name_lists_what_exists():
    with pytest.raises(ConformanceError, match=r"loss 'ns-gam' is not registered.*Did you mean: ns-gan"):
        check_loss("ns-gam")


def test_declaration_check_names_bad_recommended_key():
    class BadRecommendation(scratch.ScratchLoss):
        recommended = {"train.learning_rate": 1e-3}

    with pytest.raises(ConformanceError, match=r"recommends unknown setting 'train.learning_rate'"):
        check_loss(BadRecommendation(), only=["declaration"])


def test_penalty_weight_zero_switches_the_penalty_off():
    class LeakyPenalty(scratch.ScratchLoss):
        options = {"gp_weight": Option(10.0, "weight", minimum=0.0)}

        def penalty(self, ctx):
            return ctx.discriminator(ctx.real).pow(2).mean() * (self.opts["gp_weight"] + 1)

    with pytest.raises(ConformanceError, match=r"with gp_weight=0 the penalty should be None or 0"):
        check_loss(LeakyPenalty(), only=["penalty"])


def test_mixins_have_a_test_for_every_check():
    for kind, mixin in MIXINS.items():
        assert mixin.kind == kind
        tests = {n[len("test_"):] for n in dir(mixin) if n.startswith("test_")}
        assert tests == {c.name for c in CHECKS[kind]}, kind


class TestScratchLossThroughTheMixin(LossConformance):
    """The mixin as plugin authors use it (here with an unregistered instance)."""

    component = scratch.ScratchLoss()


def test_mixin_without_component_says_what_to_set():
    class TestNothing(LossConformance):
        pass

    with pytest.raises(ConformanceError, match="set `component"):
        TestNothing().test_values()


def test_check_plugin_loads_the_module_alone():
    assert check_plugin(scratch) == {
        "architecture": ["scratch-arch"], "loss": ["scratch-loss"], "dataset": ["scratch-data"],
        "mitigation": ["scratch-noise"],
    }


def test_check_plugin_rejects_a_misspelled_hook():
    class Misspelled:
        @hookimpl
        def ganzoo_register_loss(self, register):
            register(scratch.ScratchLoss())

    with pytest.raises(ConformanceError, match=r"unknown hook 'ganzoo_register_loss' \(misspelled\?\)"):
        check_plugin(Misspelled())


def test_check_plugin_wants_the_entry_point_installed():
    with pytest.raises(ConformanceError, match=r"no installed distribution declares the entry point 'not-installed'"):
        check_plugin(scratch, entry_point="not-installed")


def test_offline_blocks_connections_and_restores_them():
    original = socket.create_connection
    with offline():
        with pytest.raises(NetworkDisabled):
            socket.create_connection(("example.invalid", 80), timeout=1)
        with pytest.raises(OSError):
            socket.getaddrinfo("example.invalid", 80)
    assert socket.create_connection is original


def test_pytest_plugin_fixtures(ganzoo_check, ganzoo_host, ganzoo_offline):
    assert ganzoo_check is check_component
    assert "ns-gan" in ganzoo_host.losses
    with pytest.raises(OSError):
        socket.create_connection(("example.invalid", 80), timeout=1)


def test_harness_does_not_touch_the_global_host():
    from ganzoo.plugins import get_host

    before = {k: r.names() for k, r in get_host().registries.items()}
    check_mitigation(scratch.ScratchMitigation(), only=["hooks"])
    assert {k: r.names() for k, r in get_host().registries.items()} == before
