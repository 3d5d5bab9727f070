"""Results of a conformance run: which checks passed, were skipped or failed, and why."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any


class ConformanceError(AssertionError):
    """A component breaks its contract. The message names the component, the check and what is wrong."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report


class SkipCheck(Exception):
    """Raised by a check that cannot run here (data not available, optional feature missing)."""


@dataclass(frozen=True)
class Check:
    """One named check of a component kind: ``func(subject)`` raises on failure."""

    name: str
    func: Callable[[Any], None]
    doc: str = ""


@dataclass
class Report:
    """What :func:`run_checks` did for one component."""

    kind: str
    name: str
    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [f"{self.kind} {self.name!r}: {len(self.passed)} passed, {len(self.skipped)} skipped, {len(self.failed)} failed"]
        lines += [f"  FAILED {check}: {why}" for check, why in self.failed.items()]
        lines += [f"  skipped {check}: {why}" for check, why in self.skipped.items()]
        return "\n".join(lines)


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` plus the innermost frame, on one or two lines."""
    text = f"{type(exc).__name__}: {exc}".strip()
    frames = traceback.extract_tb(exc.__traceback__)
    if frames and not isinstance(exc, ConformanceError):
        f = frames[-1]
        text += f" (at {f.filename}:{f.lineno} in {f.name})"
    return text


@contextlib.contextmanager
def one_cpu_thread() -> Iterator[None]:
    """Tiny networks run fastest on one CPU thread (and leave the other cores to other work)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_checks(
    kind: str, name: str, subject: Any, checks: Sequence[Check], *,
    only: Iterable[str] | None = None, skip: Iterable[str] = (), raise_on_failure: bool = True,
) -> Report:
    """Run ``checks`` on ``subject`` in order (on one CPU thread); a failing check does not stop the
    following ones.

    Raises :class:`ConformanceError` listing every failure when ``raise_on_failure``."""
    known = {c.name for c in checks}
    chosen = set(only) if only is not None else known
    unknown = (chosen | set(skip)) - known
    if unknown:
        raise ValueError(f"unknown {kind} check(s) {sorted(unknown)}; known: {', '.join(c.name for c in checks)}")
    report = Report(kind, name)
    for check in checks:
        if check.name not in chosen or check.name in set(skip):
            continue
        try:
            with one_cpu_thread():
                check.func(subject)
        except SkipCheck as exc:
            report.skipped[check.name] = str(exc)
        except Exception as exc:  # noqa: BLE001 - every failure is reported with its check
            report.failed[check.name] = describe_exception(exc) if not isinstance(exc, ConformanceError) else str(exc)
        else:
            report.passed.append(check.name)
    if report.failed and raise_on_failure:
        details = "\n".join(f"- check {c!r}: {why}" for c, why in report.failed.items())
        raise ConformanceError(f"{kind} {name!r} does not conform to ganzoo's {kind} contract:\n{details}", report)
    return report


def fail(subject: Any, message: str) -> None:
    """Raise a :class:`ConformanceError` about ``subject`` (anything with ``kind`` and ``name``)."""
    raise ConformanceError(f"{subject.kind} {subject.name!r}: {message}")


def ensure(condition: bool, subject: Any, message: str) -> None:
    if not condition:
        fail(subject, message)
