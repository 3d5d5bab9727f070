"""The documentation site: generated reference pages match the code, the CLI reference matches
``ganzoo <cmd> --help``, and ``mkdocs build --strict`` passes offline."""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ganzoo.cli import cli
from ganzoo.registry import KIND_PLURALS
from tests.conftest import REPO

GEN = REPO / "docs" / "gen" / "ganzoo_docs.py"


def load_gen():
    spec = importlib.util.spec_from_file_location("ganzoo_docs", GEN)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules.setdefault("ganzoo_docs", module)
    spec.loader.exec_module(module)
    return module


gen = load_gen()
COMMANDS = gen.command_names()


def test_every_command_module_is_in_the_reference():
    assert {"train", "list", "new-plugin", "plugins"} <= set(COMMANDS)
    assert set(COMMANDS) == set(cli.commands)


@pytest.mark.parametrize("command", [None, *COMMANDS], ids=["ganzoo", *COMMANDS])
def test_cli_reference_matches_help_output(command, capsys, monkeypatch):
    """``ganzoo [COMMAND] --help`` run in-process as the console script runs it, on a wide terminal."""
    monkeypatch.setenv("COLUMNS", str(gen.HELP_COLUMNS))
    args = ([command] if command else []) + ["--help"]
    with pytest.raises(SystemExit) as done:
        cli.main(args, prog_name="ganzoo")
    assert done.value.code == 0
    printed = capsys.readouterr().out
    assert gen.cli_help(command).rstrip() == printed.rstrip()
    assert gen.cli_help(command).rstrip() in gen.cli_page()


@pytest.mark.slow
@pytest.mark.parametrize("command", [None, "train", "new-plugin"])
def test_cli_reference_matches_the_real_process(command):
    args = [command, "--help"] if command else ["--help"]
    env = {**os.environ, "COLUMNS": str(gen.HELP_COLUMNS)}
    done = subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip() == gen.cli_help(command).rstrip()


@pytest.mark.parametrize("kind", list(KIND_PLURALS))
def test_component_pages_list_every_builtin_with_options(kind):
    host = gen.builtin_host()
    page = gen.component_page(kind, host)
    entries = gen.builtin_entries(host, kind)
    assert entries, f"no built-in {kind}"
    for entry in entries:
        assert f"## `{entry.name}`" in page
        for option in entry.spec.options:
            assert f"| `{option}` |" in page
        if entry.spec.reference:
            assert entry.spec.reference in page


def test_component_pages_leave_out_third_party_plugins():
    from ganzoo import hookimpl
    from tests.toolkit import scratch_plugin

    host = gen.builtin_host()

    class Plugin:
        @hookimpl
        def ganzoo_register_losses(self, register):
            register(scratch_plugin.ScratchLoss())

    host.add_plugin(Plugin(), "third-party")
    assert "scratch-loss" in host.losses
    assert "scratch-loss" not in gen.component_page("loss", host)


def guide_examples() -> list[str]:
    """The complete examples of docs/plugins.md: Python blocks that implement a registration hook."""
    text = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    return [b for b in blocks if "@hookimpl\ndef ganzoo_register_" in b and "\nclass " in b]


def test_guide_has_a_complete_example_per_kind():
    hooks = {re.search(r"def (ganzoo_register_\w+)", b).group(1) for b in guide_examples()}
    assert hooks == {f"ganzoo_register_{p}" for p in KIND_PLURALS.values()}
    assert len(guide_examples()) == len(KIND_PLURALS)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(4))
def test_guide_examples_are_working_plugins(index):
    """Each complete example of the plugin guide, run as a plugin module, passes the conformance harness."""
    import types

    from ganzoo.plugins import PluginHost
    from ganzoo.testing import check_component, check_plugin

    source = guide_examples()[index]
    module = types.ModuleType(f"guide_example_{index}")
    exec(compile(source, f"docs/plugins.md example {index}", "exec"), module.__dict__)
    registered = check_plugin(module)
    host = PluginHost(strict=True, disabled=set()).load_entry_points()
    host.add_plugin(module, "guide-example")
    for kind, names in registered.items():
        for name in names:
            report = check_component(kind, name, host=host)
            assert report.ok and not report.failed


def test_benchmarks_page_fixes_links(tmp_path):
    repo = tmp_path / "repo"
    (repo / "benchmarks" / "plots").mkdir(parents=True)
    (repo / "docs" / "images").mkdir(parents=True)
    (repo / "docs" / "images" / "fid.png").write_bytes(b"png")
    (repo / "benchmarks" / "plots" / "speed.png").write_bytes(b"png")
    (repo / "README.md").write_text("readme")
    (repo / "benchmarks" / "RESULTS.md").write_text(
        "# Results\n\n![fid](../docs/images/fid.png)\n![speed](plots/speed.png \"Speed\")\n"
        "[missing](nothing.png) [readme](../README.md) [web](https://example.org/x) [top](#results)\n"
        '<img src="plots/speed.png" width="300">\n'
    )
    text, assets = gen.benchmarks_page(repo)
    assert "![fid](images/fid.png)" in text
    assert '![speed](repo/benchmarks/plots/speed.png "Speed")' in text
    assert '<img src="repo/benchmarks/plots/speed.png"' in text
    assert "missing (`nothing.png`)" in text and "readme (`../README.md`)" in text
    assert "[web](https://example.org/x)" in text and "[top](#results)" in text
    assert [(a.source.name, a.dest) for a in assets] == [("speed.png", "repo/benchmarks/plots/speed.png")]


def test_benchmarks_page_without_results(tmp_path):
    text, assets = gen.benchmarks_page(tmp_path)
    assert text.startswith("# Benchmarks") and assets == []


def test_every_docs_page_is_in_the_nav():
    """mkdocs.yml lists ganzoo's pages; the hook adds top-level pages others write (deploy.md, ...)."""
    from mkdocs.config import load_config

    config = load_config(str(REPO / "mkdocs.yml"))
    nav = gen._nav_files(gen.complete_nav(config["nav"], REPO / "docs"))
    for page in (REPO / "docs").rglob("*.md"):
        rel = page.relative_to(REPO / "docs").as_posix()
        if not rel.startswith("gen/"):
            assert rel in nav, f"docs/{rel} is not in mkdocs.yml's nav"
    assert {"reference/cli.md", "reference/losses.md", "benchmarks.md"} <= nav


def test_complete_nav_titles_added_pages(tmp_path):
    (tmp_path / "index.md").write_text("# x")
    (tmp_path / "deploy.md").write_text("# y")
    (tmp_path / "multi-gpu.md").write_text("# z")
    nav = gen.complete_nav([{"Home": "index.md"}, {"Benchmarks": "benchmarks.md"}], tmp_path)
    assert nav == [{"Home": "index.md"}, {"Deploy": "deploy.md"}, {"Multi gpu": "multi-gpu.md"}, {"Benchmarks": "benchmarks.md"}]


@pytest.mark.slow
def test_site_builds_strict_and_offline(tmp_path):
    """``mkdocs build --strict`` with the network disabled in the building process."""
    site = tmp_path / "site"
    script = (
        "import sys\n"
        "from ganzoo.testing import offline\n"
        "from mkdocs.__main__ import cli\n"
        "with offline():\n"
        f"    cli(['build', '--strict', '--site-dir', {str(site)!r}], standalone_mode=False)\n"
    )
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr
    # use_directory_urls: false -> page.html files that link to each other by file name, so the built
    # site browses from file:// (a link to "quickstart/" would open a folder listing there).
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    for page in ("index.html", "plugins.html", "concepts.html", "quickstart.html", "benchmarks.html",
                 "reference/cli.html", "reference/losses.html", "hooks/index.html", "hooks/ganzoo_log.html"):
        assert page in pages
    home = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="quickstart.html"' in home and 'href="quickstart/"' not in home
    assert home.index("Install and first steps") < home.index("What ganzoo is")
    text = html.unescape(re.sub(r"<[^>]+>", "", (site / "reference" / "cli.html").read_text(encoding="utf-8")))
    for command in COMMANDS:
        for line in gen.cli_help(command).splitlines():
            assert line.strip() in text, f"CLI reference page lacks {line!r} of `ganzoo {command} --help`"
    losses = (site / "reference" / "losses.html").read_text(encoding="utf-8")
    assert 'id="wgan-gp"' in losses
    assert "fonts.googleapis.com" not in (site / "index.html").read_text(encoding="utf-8")
