"""ganzoo's conformance harness over EVERY registered component (built-in and installed plugins),
parametrized from the live registry at collection time: a new component is tested without new code."""

from __future__ import annotations

import pytest

from ganzoo.plugins import get_host
from ganzoo.registry import KIND_PLURALS
from ganzoo.testing import check_component
from ganzoo_images.testdata import LOCAL_FILES

SLOW_KINDS = {"architecture", "mitigation"}  # ONNX export and a run per loss


def _params() -> list:
    host = get_host()
    params = []
    for kind in KIND_PLURALS:
        for entry in host.registries[kind]:
            marks = [pytest.mark.slow] if kind in SLOW_KINDS else []
            params.append(pytest.param(kind, entry.name, id=f"{kind}-{entry.name}", marks=marks))
    return params


PARAMS = _params()


def test_every_kind_has_registered_components():
    kinds = {p.values[0] for p in PARAMS}
    assert kinds == set(KIND_PLURALS), f"no component registered for {set(KIND_PLURALS) - kinds}"


@pytest.mark.parametrize(("kind", "name"), PARAMS)
def test_component_conforms(kind, name, tmp_path, monkeypatch):
    extra = {}
    if kind == "dataset":
        # Hermetic: no network, an empty data directory; a dataset without its files must say so.
        monkeypatch.setenv("GANZOO_DATA_DIR", str(tmp_path / "data"))
        extra = {"offline": True}
    report = check_component(kind, name, **extra)
    assert report.ok, report.summary()
    if kind == "dataset" and "items" in report.skipped:
        # Files needed: with stand-in files the whole check must pass. ganzoo-images ships stand-ins
        # for all its datasets; a third-party dataset without them stops at the offline check.
        if name not in LOCAL_FILES:
            assert get_host().registries[kind].entry(name).plugin != "ganzoo-images", f"no stand-in files for {name!r}"
            pytest.skip(f"dataset {name!r}: no stand-in files; checked only that it raises DataUnavailableError")
        root = tmp_path / "local"
        LOCAL_FILES[name](root, monkeypatch.setattr)
        report = check_component(kind, name, data_root=root, offline=True)
        assert report.ok and report.skipped == {}, report.summary()
    if kind == "architecture":
        assert report.skipped == {}, report.summary()  # export parity included
