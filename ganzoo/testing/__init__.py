"""ganzoo's conformance harness for plugin authors.

Use the functions from any test::

    from ganzoo.testing import check_loss
    def test_my_loss():
        check_loss("my-loss")               # a registered name, or a LossSpec instance

or the pytest mixins, one test per check (``pytest -k penalty`` runs one)::

    from ganzoo.testing import LossConformance
    class TestMyLoss(LossConformance):
        component = "my-loss"

A failing check raises :class:`ConformanceError` whose message names the component, the check
and what is wrong. ``pytest`` loads ``ganzoo.testing.pytest_plugin`` automatically (``pytest11``
entry point): fixtures ``ganzoo_check``, ``ganzoo_host`` and ``ganzoo_offline``.
"""

from __future__ import annotations

from ganzoo.testing.checks import (
    CHECKS,
    check_architecture,
    check_component,
    check_dataset,
    check_loss,
    check_metric,
    check_mitigation,
    check_names,
)
from ganzoo.testing.mixins import (
    ArchitectureConformance,
    Conformance,
    DatasetConformance,
    LossConformance,
    MetricConformance,
    MitigationConformance,
)
from ganzoo.testing.network import NetworkDisabled, offline
from ganzoo.testing.plugin_check import check_plugin
from ganzoo.testing.report import Check, ConformanceError, Report, SkipCheck
from ganzoo.testing.subject import TINY_OPTIONS, harness_host
from ganzoo.testing.synthetic import standard_infos

__all__ = [
    "CHECKS",
    "TINY_OPTIONS",
    "ArchitectureConformance",
    "Check",
    "Conformance",
    "ConformanceError",
    "DatasetConformance",
    "LossConformance",
    "MetricConformance",
    "MitigationConformance",
    "NetworkDisabled",
    "Report",
    "SkipCheck",
    "check_architecture",
    "check_component",
    "check_dataset",
    "check_loss",
    "check_metric",
    "check_mitigation",
    "check_names",
    "check_plugin",
    "harness_host",
    "offline",
    "standard_infos",
]
