"""Registry validation: names, duplicates, unknown names."""

import pytest
import torch

from ganzoo import LossSpec, MitigationSpec, hookimpl
from ganzoo.errors import DuplicateComponentError, InvalidComponentError, UnknownComponentError
from ganzoo.plugins import PluginHost
from ganzoo.registry import Registry


class _Loss(LossSpec):
    name = "my-loss"
    summary = "test loss"

    def discriminator_loss(self, real_logits, fake_logits, ctx=None):
        return real_logits.mean() - fake_logits.mean()

    def generator_loss(self, real_logits, fake_logits, ctx=None):
        return -fake_logits.mean()


def _named(name):
    return type("L", (_Loss,), {"name": name})()


@pytest.mark.parametrize("bad", ["MyLoss", "my_loss", "my loss", "-x", "x-", "1abc", "", "a--b"])
def test_names_must_be_lowercase_kebab_case(bad):
    reg = Registry("loss")
    with pytest.raises(InvalidComponentError, match="kebab-case"):
        reg.add(_named(bad), "p")


def test_valid_names_accepted():
    reg = Registry("loss")
    for n in ["a", "ns-gan", "wgan-gp", "pac2"]:
        reg.add(_named(n), "p")
    assert reg.names() == ["a", "ns-gan", "pac2", "wgan-gp"]


def test_duplicate_names_both_plugins():
    reg = Registry("loss")
    reg.add(_named("hinge"), "plugin-one")
    with pytest.raises(DuplicateComponentError) as exc:
        reg.add(_named("hinge"), "plugin-two")
    msg = str(exc.value)
    assert "'plugin-one'" in msg and "'plugin-two'" in msg and "'hinge'" in msg


def test_unknown_name_lists_close_matches_available_and_hint():
    reg = Registry("loss")
    for n in ["hinge", "lsgan", "ns-gan"]:
        reg.add(_named(n), "p")
    with pytest.raises(UnknownComponentError) as exc:
        reg.get("hnge")
    msg = str(exc.value)
    assert "Did you mean: hinge?" in msg
    assert "Available: hinge, lsgan, ns-gan." in msg
    assert "ganzoo plugins" in msg
    assert isinstance(exc.value, KeyError)


def test_registering_a_class_instead_of_instance_is_explained():
    reg = Registry("loss")
    with pytest.raises(InvalidComponentError, match="register an instance"):
        reg.add(_Loss, "p")


def test_missing_required_method_is_named():
    class Half:
        name = "half"

        def discriminator_loss(self, r, f):
            return r.mean()

    reg = Registry("loss")
    with pytest.raises(InvalidComponentError, match="generator_loss"):
        reg.add(Half(), "p")


class _DupPlugin:
    @hookimpl
    def ganzoo_register_losses(self, register):
        register(_named("ns-gan"))


def test_plugin_with_duplicate_is_reported_and_others_keep_working():
    host = PluginHost(strict=False, disabled=set()).load_entry_points()
    info = host.add_plugin(_DupPlugin(), "dup-plugin")
    assert info.status == "failed"
    assert "ganzoo-losses" in info.error and "dup-plugin" in info.error
    assert host.losses.entry("ns-gan").plugin == "ganzoo-losses"


def test_misspelled_hook_is_reported():
    class Typo:
        @hookimpl
        def ganzoo_register_lossses(self, register):  # noqa: D401 - misspelled on purpose
            pass

    host = PluginHost(strict=False, disabled=set())
    info = host.add_plugin(Typo(), "typo")
    assert info.status == "failed" and "ganzoo_register_lossses" in info.error


def test_in_process_plugin_component_is_usable():
    host = PluginHost(strict=False, disabled=set()).load_entry_points()

    class P:
        @hookimpl
        def ganzoo_register_losses(self, register):
            register(_named("my-loss"))

    host.add_plugin(P(), "mine")
    loss = host.losses.get("my-loss").with_options({})
    assert float(loss.generator_loss(None, torch.ones(3))) == -1.0


def test_loss_with_the_first_contracts_generator_loss_is_rejected_in_one_line():
    class OldLoss(_Loss):
        name = "old-loss"

        def generator_loss(self, fake_logits):
            return -fake_logits.mean()

    with pytest.raises(InvalidComponentError) as err:
        Registry("loss").add(OldLoss(), "p")
    message = str(err.value)
    assert "\n" not in message and "'old-loss'" in message
    assert "generator_loss(real_logits, fake_logits, ctx=None)" in message


@pytest.mark.parametrize(("method", "instead"), [("prepare_batch", "transform"), ("discriminator_info", "batch_needs")])
def test_mitigation_with_a_first_contracts_hook_is_rejected_in_one_line(method, instead):
    old = type("OldMitigation", (MitigationSpec,), {"name": "old-mitigation", method: lambda self, x: x})()
    with pytest.raises(InvalidComponentError) as err:
        Registry("mitigation").add(old, "p")
    message = str(err.value)
    assert "\n" not in message and "'old-mitigation'" in message and f"{method}()" in message and instead in message
