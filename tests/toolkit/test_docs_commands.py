"""Every ``ganzoo ...`` command in README.md and docs/*.md code blocks parses with the real CLI (its
options exist, its arguments fit), and the small ones on 2D data train (with --steps 2) (issue 17).

Placeholders (RUN_DIR, N, PATH, ...) are filled in before parsing; a line marked ``GPU`` in its comment is
parsed but not run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from ganzoo.cli import cli
from tests.conftest import REPO

DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("**/*.md"))]
SHELL = ("", "bash", "sh", "shell", "console")
PLACEHOLDERS = {"N": "2", "S": "0", "B": "2", "D": "2", "K": "3"}


def shell_blocks(text: str) -> list[str]:
    """The contents of the shell code blocks of a Markdown page."""
    blocks, current, lang = [], None, None
    for line in text.splitlines():
        fence = re.match(r"\s*```(\S*)", line)
        if fence and current is None:
            current, lang = [], fence.group(1)
        elif fence:
            if lang in SHELL:
                blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def doc_commands() -> list[tuple[str, str]]:
    """(where, command line) of every ``ganzoo`` command in a shell code block, continuations joined."""
    found = []
    for path in DOC_FILES:
        if "gen" in path.relative_to(REPO).parts:
            continue
        for block in shell_blocks(path.read_text(encoding="utf-8")):
            text = re.sub(r"\\\n\s*", " ", block)
            for line in text.splitlines():
                if not re.match(r"\s*(\S*/)?ganzoo\s", line) and "&& ganzoo" not in line and "/ganzoo " not in line:
                    continue
                for part in line.split("&&"):
                    words = shlex.split(part, comments=True)
                    while words and words[0] != "ganzoo" and not words[0].endswith("/ganzoo"):
                        words = words[1:]
                    if words:
                        found.append((f"{path.relative_to(REPO)}: {line.strip()}", shlex.join(["ganzoo", *words[1:]])))
    return found


COMMANDS = doc_commands()


def _args(command: str) -> list[str]:
    """The arguments after ``ganzoo``; a synopsis's ``[--opt N]`` and ``a|b`` become ``--opt 2`` and ``a``."""
    words = [w.strip("[]") if w.startswith("[") or w.endswith("]") else w for w in shlex.split(command)[1:]]
    words = [w.split("|")[0] if "|" in w and not w.startswith("-") else w for w in words]
    return [PLACEHOLDERS.get(w, w) for w in words if w]


def test_docs_have_commands() -> None:
    assert len(COMMANDS) > 20
    assert any("ganzoo train --dataset ring8" in c for _, c in COMMANDS)


PARSABLE = [(w, c) for w, c in COMMANDS if _args(c)]


@pytest.mark.parametrize("where, command", PARSABLE, ids=[c for _, c in PARSABLE])
def test_doc_command_parses(where: str, command: str) -> None:
    args = _args(command)
    name, rest = args[0], args[1:]
    assert name in cli.commands, where
    ctx = click.Context(cli, info_name="ganzoo")
    try:
        cli.commands[name].make_context(name, rest, parent=ctx)
    except click.exceptions.Exit:  # --help, --version
        pass
    except click.UsageError as exc:
        pytest.fail(f"{where}: {exc.format_message()}")


def _is_gpu(where: str) -> bool:
    return "GPU" in where.split("#", 1)[-1] if "#" in where else False


SMALL = [(w, c) for w, c in COMMANDS if re.search(r"ganzoo train .*--dataset (ring8|grid25)\b", c) and not _is_gpu(w)
         and not re.search(r" my-", c)]  # the plugin guide's component you write yourself


@pytest.mark.parametrize("where, command", SMALL, ids=[c for _, c in SMALL])
def test_small_doc_train_commands_run(where: str, command: str, tmp_path: Path) -> None:
    """The 2D-data train lines run as written, but for 2 steps (pack sizes divide the batch, keys exist)."""
    from click.testing import CliRunner

    args = [a for a in _args(command)[1:]]
    if "--steps" in args:
        i = args.index("--steps")
        del args[i:i + 2]
    if "--out" in args:
        i = args.index("--out")
        del args[i:i + 2]
    result = CliRunner().invoke(cli, ["train", *args, "--steps", "2", "--out", str(tmp_path / "r"), "--quiet",
                                      "--set", "train.tensorboard=false"])
    assert result.exit_code == 0, f"{where}: {result.output}"


def test_doc_config_files_train(tmp_path: Path) -> None:
    """The quickstart's run.toml example is a valid configuration (with 2 steps)."""
    from click.testing import CliRunner

    text = (REPO / "docs" / "quickstart.md").read_text(encoding="utf-8")
    toml = re.search(r"```toml\n# run.toml\n(.*?)```", text, re.S)
    assert toml, "docs/quickstart.md lost its run.toml example"
    (tmp_path / "run.toml").write_text(toml.group(1))
    result = CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "run.toml"), "--seed", "1", "--steps", "2",
                                      "--out", str(tmp_path / "r"), "--quiet"])
    assert result.exit_code == 0, result.output


def test_readme_data_root_is_a_path_to_supply() -> None:
    """No example points at a folder a clone does not have."""
    for where, command in COMMANDS:
        words = shlex.split(command)
        if "--data-root" in words:
            root = words[words.index("--data-root") + 1]
            assert root.replace("_", "").isupper() or (not root.startswith("..") and (REPO / root).exists()), \
                f"{where}: --data-root {root} does not exist in a clone"
