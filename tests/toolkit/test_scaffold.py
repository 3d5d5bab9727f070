"""``ganzoo new-plugin``: names, refusal to overwrite, templates as package data, and the generated
plugins installed for real, tested with their own tests, listed and trained with."""

from __future__ import annotations

import ast
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.errors import ConfigError
from ganzoo.naming import KIND_PLURALS
from ganzoo.scaffold import KINDS, create_plugin, plugin_names, render_files
from ganzoo.scaffold.render import TRAIN_FLAGS
from tests.conftest import REPO

TEMPLATES = resources.files("ganzoo.scaffold").joinpath("templates")


def new_plugin(*args: str) -> object:
    return CliRunner().invoke(cli, ["new-plugin", *args], catch_exceptions=False)


@pytest.mark.parametrize("bad", ["MyLoss", "my_loss", "my--loss", "_loss", "1loss", "my-loss-", "", "my loss", "my.loss"])
def test_invalid_names_are_refused_clearly(bad, tmp_path):
    result = new_plugin(bad, "--kind", "loss", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert f"invalid plugin name {bad!r}" in result.output and "kebab-case" in result.output
    assert list(tmp_path.iterdir()) == []


def test_unknown_kind_is_refused(tmp_path):
    result = new_plugin("my-thing", "--kind", "optimizer", "--dir", str(tmp_path))
    assert result.exit_code == 2 and "architecture" in result.output and "mitigation" in result.output


def test_name_of_an_installed_component_is_refused(tmp_path):
    result = new_plugin("hinge", "--kind", "loss", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert "loss name 'hinge' is already registered by plugin 'ganzoo-losses'" in result.output
    assert list(tmp_path.iterdir()) == []


def test_existing_directory_is_never_touched(tmp_path):
    target = tmp_path / "my-loss"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    result = new_plugin("my-loss", "--kind", "loss", "--dir", str(tmp_path))
    assert result.exit_code == 2 and "already exists" in result.output and "nothing was written" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["my-loss"]
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_creates_the_directory_and_leaves_no_temporary_files(tmp_path):
    parent = tmp_path / "new" / "dir"
    result = new_plugin("my-mitigation", "--kind", "mitigation", "--dir", str(parent))
    assert result.exit_code == 0, result.output
    assert [p.name for p in parent.iterdir()] == ["my-mitigation"]
    assert "pip install -e" in result.output


def test_names_derived_from_name():
    n = plugin_names("ganzoo-my-loss", "loss")
    assert (n.name, n.component, n.package, n.class_name) == ("ganzoo-my-loss", "my-loss", "ganzoo_my_loss", "MyLoss")
    assert plugin_names("option", "loss").class_name == "OptionLoss"  # would shadow ganzoo.Option
    with pytest.raises(ConfigError, match="unknown kind"):
        plugin_names("x", "losses")


@pytest.mark.parametrize("kind", KINDS)
def test_rendered_plugin_is_complete_and_valid(kind, tmp_path):
    n = plugin_names(f"my-{kind}", kind)
    files = render_files(n)
    assert set(files) == {
        "pyproject.toml", "README.md", f"ganzoo_my_{kind}/__init__.py", f"ganzoo_my_{kind}/plugin.py",
        f"ganzoo_my_{kind}/{kind}.py", f"tests/test_my_{kind}.py",
    }
    for path, text in files.items():
        assert "{{" not in text and "}}" not in text, path
        if path.endswith(".py"):
            ast.parse(text, filename=path)
    pyproject = files["pyproject.toml"]
    assert f'my-{kind} = "ganzoo_my_{kind}.plugin"' in pyproject and "[project.entry-points.ganzoo]" in pyproject
    assert '"ganzoo>=' in pyproject and '"torch"' in pyproject
    assert f"ganzoo_register_{n.kind_plural}" in files[f"ganzoo_my_{kind}/plugin.py"]
    assert "from ganzoo.testing import" in files[f"tests/test_my_{kind}.py"]
    target = create_plugin(n, tmp_path)
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == sorted(files)


def test_every_template_is_found_as_package_data():
    found = sorted(str(p.relative_to(Path(str(TEMPLATES)))) for p in Path(str(TEMPLATES)).rglob("*.tmpl"))
    assert "common/pyproject.toml.tmpl" in found
    for kind in KINDS:
        for name in ("component.py.tmpl", "tests.py.tmpl", "usage.md.tmpl"):
            assert f"{kind}/{name}" in found


@pytest.mark.slow
def test_templates_ship_in_the_wheel(tmp_path):
    """A normal (non-editable) install gets the templates: build ganzoo's wheel from a copy of the tree."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "tests")
    shutil.copytree(REPO / "ganzoo", src / "ganzoo", ignore=ignore)
    shutil.copytree(REPO / "plugins", src / "plugins", ignore=ignore)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    (wheel,) = (tmp_path / "dist").glob("ganzoo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in KINDS:
        assert f"ganzoo/scaffold/templates/{kind}/component.py.tmpl" in names
    assert "ganzoo/scaffold/templates/common/test_plugin.py.tmpl" in names


# --------------------------------------------------------------------------- real installs


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(extra)
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def overlay_venv(path: Path) -> Path:
    """A virtual environment that sees this environment's packages (torch, ganzoo) through a .pth
    file, so ``pip install -e`` works there without downloading anything. Returns its python."""
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(purelib, "_ganzoo_overlay.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_generated_plugin_installs_tests_lists_and_trains(kind, tmp_path):
    name = f"my-{kind}"
    result = new_plugin(name, "--kind", kind, "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    plugin_dir = tmp_path / name
    if kind == "loss":
        # The README's flow: an editable install (into an overlay venv: nothing is downloaded).
        python = overlay_venv(tmp_path / "venv")
        install = [str(python), "-m", "pip", "install", "--no-build-isolation", "-e", str(plugin_dir)]
        env = _env()
    else:
        python = Path(sys.executable)
        site = tmp_path / "site"
        install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--target", str(site), str(plugin_dir)]
        env = _env(PYTHONPATH=str(site))
    done = _run(install, env, tmp_path)
    assert done.returncode == 0, done.stderr

    tests = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(plugin_dir / "tests")], env, tmp_path)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout

    plural = KIND_PLURALS[kind]
    listing = _run([str(python), "-m", "ganzoo", "list", plural], env, tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert any(line.split()[:1] == [name] and line.rstrip().endswith(f"[{name}]") for line in listing.stdout.splitlines()), listing.stdout

    out = tmp_path / "run"
    flags = shlex.split(TRAIN_FLAGS[kind].format(component=name))  # as a shell reads the README's command
    train = _run([str(python), "-m", "ganzoo", "train", *flags, "--steps", "3", "--batch-size", "16",
                  "--set", "train.log_every=1", "--out", str(out), "--quiet"], env, tmp_path)
    assert train.returncode == 0, train.stderr
    assert (out / "checkpoints" / "step-00000003.pt").is_file()
    assert f'{name} = "0.1.0"' in (out / "config.toml").read_text()
