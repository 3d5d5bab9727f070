"""Plugin discovery through real installed distributions and entry points."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, run_ganzoo

EXAMPLE = REPO / "examples" / "ganzoo-example-plugin"


def _fake_distribution(site: Path, dist: str, module: str, source: str, ep_name: str) -> None:
    """Install a minimal distribution by hand: a module plus its .dist-info with an entry point."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[ganzoo]\n{ep_name} = {module}\n")
    (info / "RECORD").write_text("")


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    """The example plugin installed for real (pip, no deps) into a separate site directory."""
    site = tmp_path_factory.mktemp("example-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(EXAMPLE)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    assert list(site.glob("ganzoo_example_plugin-*.dist-info"))
    return site


def test_builtins_are_discovered_through_entry_points():
    result = run_ganzoo("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["ganzoo-vector"]["distribution"] == "ganzoo"
    assert plugins["ganzoo-vector"]["module"] == "ganzoo_vector.plugin"
    assert "mlp" in plugins["ganzoo-vector"]["components"]["architectures"]


def test_example_plugin_listed_with_its_plugin(example_site):
    result = run_ganzoo("list", "--json", env={"PYTHONPATH": str(example_site)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    by_name = {(kind, c["name"]): c["plugin"] for kind, items in data.items() for c in items}
    assert by_name[("architectures", "mlp")] == "ganzoo-vector"
    assert by_name[("losses", "ns-gan")] == "ganzoo-losses"
    assert by_name[("datasets", "ring8")] == "ganzoo-vector"
    assert by_name[("datasets", "grid25")] == "ganzoo-vector"
    assert by_name[("losses", "relativistic")] == "example"
    assert by_name[("datasets", "spiral")] == "example"


def test_example_plugin_usable_in_train(example_site, tmp_path):
    out = tmp_path / "run"
    result = run_ganzoo(
        "train", "--dataset", "spiral", "--arch", "mlp", "--loss", "relativistic", "--steps", "30",
        "--batch-size", "32", "--set", "train.log_every=10", "--out", str(out), "--quiet",
        env={"PYTHONPATH": str(example_site)},
    )
    assert result.returncode == 0, result.stderr
    assert (out / "checkpoints" / "step-00000030.pt").is_file()
    assert 'example = "0.1.0"' in (out / "config.toml").read_text()


BROKEN = """
raise ImportError("this plugin is broken on purpose")
"""


def test_broken_plugin_reported_others_keep_working(tmp_path):
    _fake_distribution(tmp_path, "broken-dist", "broken_mod", BROKEN, "broken")
    env = {"PYTHONPATH": str(tmp_path)}
    result = run_ganzoo("plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["broken"]["status"] == "failed"
    assert plugins["broken"]["distribution"] == "broken-dist"
    assert plugins["broken"]["version"] == "0.3"
    assert "broken on purpose" in plugins["broken"]["error"]
    assert plugins["ganzoo-vector"]["status"] == "loaded"
    listing = run_ganzoo("list", "losses", env=env)
    assert listing.returncode == 0 and "ns-gan" in listing.stdout
    assert "failed to load" in listing.stderr


def test_strict_mode_makes_a_broken_plugin_fatal(tmp_path):
    _fake_distribution(tmp_path, "broken-dist", "broken_mod", BROKEN, "broken")
    result = run_ganzoo("list", env={"PYTHONPATH": str(tmp_path), "GANZOO_STRICT_PLUGINS": "1"})
    assert result.returncode == 2
    assert "broken" in result.stderr and "broken on purpose" in result.stderr
    assert "Traceback" not in result.stderr


def test_disable_env_skips_chosen_plugins(tmp_path):
    _fake_distribution(tmp_path, "broken-dist", "broken_mod", BROKEN, "broken")
    env = {"PYTHONPATH": str(tmp_path), "GANZOO_STRICT_PLUGINS": "1", "GANZOO_DISABLE_PLUGINS": "broken"}
    result = run_ganzoo("plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["broken"]["status"] == "disabled"


DUPLICATE = """
import torch
from ganzoo import LossSpec, hookimpl

class Other(LossSpec):
    name = "ns-gan"
    def discriminator_loss(self, real_logits, fake_logits, ctx=None):
        return real_logits.mean()
    def generator_loss(self, real_logits, fake_logits, ctx=None):
        return fake_logits.mean()

@hookimpl
def ganzoo_register_losses(register):
    register(Other())
"""


def test_duplicate_from_installed_plugin_names_both(tmp_path):
    _fake_distribution(tmp_path, "dup-dist", "dup_mod", DUPLICATE, "zz-dup")
    result = run_ganzoo("plugins", "--json", env={"PYTHONPATH": str(tmp_path)})
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    err = plugins["zz-dup"]["error"]
    assert "'ganzoo-losses'" in err and "'zz-dup'" in err and "'ns-gan'" in err


def test_unknown_component_on_cli_suggests(tmp_path):
    result = run_ganzoo("train", "--dataset", "ring8", "--arch", "mlp", "--loss", "hnge", "--out", str(tmp_path / "r"), "--quiet")
    assert result.returncode == 2
    assert "unknown loss 'hnge'" in result.stderr and "ganzoo plugins" in result.stderr
    assert "Traceback" not in result.stderr


def test_failed_plugins_are_named_where_a_component_is_missing(tmp_path):
    """`ganzoo list` names the plugins that failed to load; so does an unknown component name, which one
    of them may have provided (issue 17)."""
    _fake_distribution(tmp_path, "broken-dist", "broken_mod", BROKEN, "broken")
    env = {"PYTHONPATH": str(tmp_path)}
    listing = run_ganzoo("list", "losses", env=env)
    assert listing.returncode == 0
    assert "1 plugin(s) failed to load: broken; see `ganzoo plugins`" in listing.stderr
    result = run_ganzoo("train", "--dataset", "ring8", "--arch", "mlp", "--loss", "broken-loss",
                        "--out", str(tmp_path / "r"), "--quiet", env=env)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "unknown loss 'broken-loss'" in line
    assert "1 plugin(s) failed to load and may provide it: broken" in line
    from ganzoo.errors import ConfigError
    from ganzoo.metrics.catalogue import metric_for_value
    from ganzoo.plugins import PluginHost

    host = PluginHost().load_entry_points()
    host.metrics.failed_plugins = lambda: ["broken"]
    with pytest.raises(ConfigError, match="failed to load and may provide it: broken"):
        metric_for_value("nope", host)
