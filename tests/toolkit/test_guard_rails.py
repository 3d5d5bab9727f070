"""Guard rails (as datasette's): every hook has a test and a documentation section whose argument
list matches the hookspec; every component contract is documented in the plugin guide."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from ganzoo import hookspecs
from ganzoo.specs import COMPONENT_KINDS, DataInfo, Discriminator
from tests.conftest import REPO

HOOKS = sorted(n for n, f in vars(hookspecs).items() if n.startswith("ganzoo_") and callable(f))
DOCS = REPO / "docs"
GUIDE = DOCS / "plugins.md"
SIGNATURE_RE = re.compile(r"`?(ganzoo_\w+)\(([^)]*)\)`?")


def spec_args(hook: str) -> list[str]:
    return list(inspect.signature(getattr(hookspecs, hook)).parameters)


def heading_signatures(path: Path) -> dict[str, list[list[str]]]:
    """hook -> argument lists of every Markdown heading that shows a ``ganzoo_*(...)`` signature."""
    found: dict[str, list[list[str]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            continue
        for name, args in SIGNATURE_RE.findall(line):
            found.setdefault(name, []).append([a.strip() for a in args.split(",") if a.strip()])
    return found


def test_there_are_hooks():
    assert "ganzoo_register_losses" in HOOKS and "ganzoo_prepare_export" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_have_tests(hook):
    """A test function named ``test_hook_<hook>`` exists somewhere under tests/."""
    pattern = re.compile(rf"^\s*def test_hook_{hook}\(", re.MULTILINE)
    files = [p for p in (REPO / "tests").rglob("test_*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert files, f"hook {hook} has no test: write `def test_hook_{hook}(...)` under tests/ (see tests/toolkit/test_hooks.py)"


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook):
    """docs/hooks/<hook>.md starts with the signature, and docs/plugins.md has a section for it, both
    with the hookspec's arguments in order."""
    expected = spec_args(hook)
    page = DOCS / "hooks" / f"{hook}.md"
    assert page.is_file(), f"hook {hook} has no page {page.relative_to(REPO)}"
    first_heading = next(line for line in page.read_text(encoding="utf-8").splitlines() if line.startswith("#"))
    assert SIGNATURE_RE.search(first_heading), f"{page.name}: the first heading must be `{hook}({', '.join(expected)})`"
    on_page = heading_signatures(page).get(hook)
    assert on_page and on_page[0] == expected, f"{page.name} documents {hook}({', '.join(on_page[0] if on_page else [])}); the hookspec is {hook}({', '.join(expected)})"
    in_guide = heading_signatures(GUIDE).get(hook)
    assert in_guide, f"docs/plugins.md has no section `{hook}({', '.join(expected)})`"
    assert all(args == expected for args in in_guide), f"docs/plugins.md documents {hook} with arguments {in_guide}; the hookspec has {expected}"


def test_docs_only_document_hooks_that_exist():
    pages = [GUIDE, *(DOCS / "hooks").glob("*.md")]
    for page in pages:
        for hook in heading_signatures(page):
            assert hook in HOOKS, f"{page.relative_to(REPO)} documents {hook}, which is not a hook (renamed or removed?)"
    for page in (DOCS / "hooks").glob("ganzoo_*.md"):
        assert page.stem in HOOKS, f"{page.relative_to(REPO)} documents a hook that does not exist"


def _contract_names() -> dict[str, set[str]]:
    """Public methods and class attributes each component base class defines (beyond Component)."""
    out = {}
    base_names = set(dir(COMPONENT_KINDS["loss"].__mro__[1]))  # Component
    for kind, cls in COMPONENT_KINDS.items():
        names = {n for n in vars(cls) if not n.startswith("_") and n not in base_names and n != "kind"}
        out[kind] = names
    return out


@pytest.mark.parametrize("kind", list(COMPONENT_KINDS))
def test_every_component_contract_is_documented(kind):
    guide = GUIDE.read_text(encoding="utf-8")
    missing = sorted(n for n in _contract_names()[kind] if f"`{n}" not in guide)
    assert not missing, f"docs/plugins.md does not document {kind} member(s) {missing}"


def test_data_info_and_discriminator_are_documented():
    guide = GUIDE.read_text(encoding="utf-8")
    fields = [f.name for f in dataclasses.fields(DataInfo)]
    missing = [f for f in fields if f"`{f}`" not in guide]
    assert not missing, f"docs/plugins.md does not document DataInfo field(s) {missing}"
    for name in ("features", "head", "feature_dim", "batch_norm"):
        assert f"`{name}" in guide
    assert Discriminator.__name__ in guide
    for env in ("GANZOO_STRICT_PLUGINS", "GANZOO_DISABLE_PLUGINS"):
        assert env in guide
