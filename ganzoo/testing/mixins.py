"""pytest mixins: one test per conformance check (diffusers-style tester classes).

Subclass one in a ``Test*`` class and set ``component`` (a registered name or a spec instance)::

    class TestMyArch(ArchitectureConformance):
        component = "my-arch"
        options = {"width": 8}          # optional; tiny sizes are chosen automatically
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ganzoo.testing.checks import CHECKS, make_subject
from ganzoo.testing.report import ConformanceError, run_checks
from ganzoo.testing.subject import Subject


class Conformance:
    """Base of the mixins. Class attributes configure the harness."""

    kind: ClassVar[str] = ""
    component: ClassVar[Any] = None
    """The component under test: its registered name, or an instance of the spec."""
    options: ClassVar[Mapping[str, Any]] = {}
    """Options for the component (on top of the tiny sizes the harness picks)."""
    host: ClassVar[Any] = None
    """A :class:`ganzoo.plugins.PluginHost` to look the name up in (default: the installed plugins)."""
    harness: ClassVar[Mapping[str, Any]] = {}
    """Extra harness arguments: ``infos`` (architectures), ``data_root`` and ``offline`` (datasets), ``tiny``."""

    _ganzoo_subjects: ClassVar[dict[type, Any]] = {}

    @classmethod
    def conformance_subject(cls) -> Subject:
        """The configured component, shared by the tests of this class (built once)."""
        cached = Conformance._ganzoo_subjects.get(cls)
        if cached is None:
            if cls.component is None:
                cached = ConformanceError(f"{cls.__name__}: set `component = \"<name>\"` (or a spec instance)")
            else:
                try:
                    cached = make_subject(cls.kind, cls.component, options=cls.options, host=cls.host, **dict(cls.harness))
                except ConformanceError as exc:
                    cached = exc
            Conformance._ganzoo_subjects[cls] = cached
        if isinstance(cached, ConformanceError):
            raise ConformanceError(str(cached))
        return cached

    def run_conformance_check(self, name: str) -> None:
        """Run the check ``name``; skip the test when the check cannot run here."""
        import pytest

        subject = self.conformance_subject()
        check = next(c for c in CHECKS[self.kind] if c.name == name)
        report = run_checks(self.kind, subject.name, subject, [check])
        if name in report.skipped:
            pytest.skip(report.skipped[name])


class ArchitectureConformance(Conformance):
    kind = "architecture"

    def test_declaration(self) -> None:
        self.run_conformance_check("declaration")

    def test_supports(self) -> None:
        self.run_conformance_check("supports")

    def test_generator(self) -> None:
        self.run_conformance_check("generator")

    def test_discriminator(self) -> None:
        self.run_conformance_check("discriminator")

    def test_gradients(self) -> None:
        self.run_conformance_check("gradients")

    def test_engine(self) -> None:
        self.run_conformance_check("engine")

    def test_export(self) -> None:
        self.run_conformance_check("export")


class LossConformance(Conformance):
    kind = "loss"

    def test_declaration(self) -> None:
        self.run_conformance_check("declaration")

    def test_values(self) -> None:
        self.run_conformance_check("values")

    def test_ordering(self) -> None:
        self.run_conformance_check("ordering")

    def test_penalty(self) -> None:
        self.run_conformance_check("penalty")

    def test_after_discriminator_step(self) -> None:
        self.run_conformance_check("after_discriminator_step")

    def test_engine(self) -> None:
        self.run_conformance_check("engine")


class DatasetConformance(Conformance):
    kind = "dataset"

    def test_declaration(self) -> None:
        self.run_conformance_check("declaration")

    def test_build(self) -> None:
        self.run_conformance_check("build")

    def test_info(self) -> None:
        self.run_conformance_check("info")

    def test_items(self) -> None:
        self.run_conformance_check("items")

    def test_determinism(self) -> None:
        self.run_conformance_check("determinism")

    def test_engine(self) -> None:
        self.run_conformance_check("engine")


class MitigationConformance(Conformance):
    kind = "mitigation"

    def test_declaration(self) -> None:
        self.run_conformance_check("declaration")

    def test_hooks(self) -> None:
        self.run_conformance_check("hooks")

    def test_engine(self) -> None:
        self.run_conformance_check("engine")

    def test_export(self) -> None:
        self.run_conformance_check("export")


class MetricConformance(Conformance):
    kind = "metric"

    def test_declaration(self) -> None:
        self.run_conformance_check("declaration")

    def test_values(self) -> None:
        self.run_conformance_check("values")

    def test_compute(self) -> None:
        self.run_conformance_check("compute")


MIXINS: dict[str, type[Conformance]] = {
    "architecture": ArchitectureConformance,
    "loss": LossConformance,
    "dataset": DatasetConformance,
    "mitigation": MitigationConformance,
    "metric": MetricConformance,
}
