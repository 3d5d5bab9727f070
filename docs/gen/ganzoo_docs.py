"""Pages generated from the live code at docs build time (used by ``mkdocs_hooks.py`` and the tests).

* ``reference/<kinds>.md``: every built-in component of a kind, from the plugin registry.
* ``reference/cli.md``: every ``ganzoo`` command's ``--help``, rendered by click.
* ``benchmarks.md``: ``benchmarks/RESULTS.md`` with its links made to work inside the site.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
BUILTIN_DISTRIBUTION = "ganzoo"
HELP_COLUMNS = 200
"""Render help as on a terminal this wide; click then wraps at the group's ``max_content_width``."""

KIND_TITLES = {
    "architecture": "Architectures",
    "loss": "Losses",
    "dataset": "Datasets",
    "mitigation": "Mitigations",
    "metric": "Metrics",
}
KIND_INTROS = {
    "architecture": "An architecture builds a generator and a discriminator from the dataset's `DataInfo`. "
                    "Choose one with `--arch NAME`; set options with `--set arch.KEY=VALUE`.",
    "loss": "A loss is the GAN objective (plus an optional penalty). Choose one with `--loss NAME`; set options "
            "with `--set loss.KEY=VALUE`. Its recommended settings override ganzoo's defaults but lose to your "
            "config file and flags.",
    "dataset": "A dataset builds the training data and describes it with a `DataInfo`. Choose one with "
               "`--dataset NAME`; set options with `--set dataset.KEY=VALUE`.",
    "mitigation": "A mitigation changes training to fight mode collapse. Add any number with `--mitigation NAME` "
                  "(repeat the flag); set options with `--set mitigation.NAME.KEY=VALUE`.",
    "metric": "A metric scores a trained generator; each reports the values listed with it (lower or higher is "
              "better as the catalogue says). Ask for it with `ganzoo eval RUN --metrics NAME`, "
              "`train.eval_metrics` or a bench suite's `metrics`.",
}
FLAG_SECTIONS = {"architecture": "arch", "loss": "loss", "dataset": "dataset", "mitigation": "mitigation.{name}",
                 "metric": "metric.{name}"}


# --------------------------------------------------------------------------- components


def builtin_host() -> Any:
    """A fresh plugin host (all installed plugins, none disabled)."""
    from ganzoo.plugins import PluginHost

    return PluginHost(strict=False, disabled=set()).load_entry_points()


def builtin_entries(host: Any, kind: str) -> list[Any]:
    """Registry entries of ``kind`` whose plugin ships with ganzoo itself."""
    builtin = {p.name for p in host.plugins if p.distribution == BUILTIN_DISTRIBUTION}
    return [e for e in host.registries[kind] if e.plugin in builtin]


def _cell(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return "`" + text.replace("|", "\\|") + "`"


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _options_table(spec: Any) -> list[str]:
    options = getattr(spec, "options", {}) or {}
    if not options:
        return ["No options."]
    lines = ["| option | default | allowed | meaning |", "|---|---|---|---|"]
    for key, opt in options.items():
        lines.append(f"| `{key}` | {_cell(opt.default)} | {_escape(opt.describe_allowed())} | {_escape(opt.help)} |")
    return lines


def _supported_shapes(spec: Any) -> str:
    from ganzoo.testing.synthetic import standard_infos

    configured = spec.with_options({})
    ok = [i for i in standard_infos() if configured.supports(i) is None]
    if not ok:
        return "none of the standard shapes"
    return ", ".join("vectors (2D)" if i.kind == "vector" else f"{i.shape[0]}x{i.shape[1]}x{i.shape[2]}" for i in ok)


def component_page(kind: str, host: Any | None = None) -> str:
    """Markdown for the reference page of one component kind."""
    host = host or builtin_host()
    entries = builtin_entries(host, kind)
    title = KIND_TITLES[kind]
    out = [
        f"# {title}",
        "",
        "<!-- Generated at build time from ganzoo's plugin registry (docs/gen/ganzoo_docs.py); do not edit. -->",
        "",
        KIND_INTROS[kind] + " `ganzoo list " + title.lower() + "` shows the same list, with installed third-party "
        "plugins too.",
        "",
        "| name | plugin | summary |",
        "|---|---|---|",
    ]
    for e in entries:
        out.append(f"| [`{e.name}`](#{e.name}) | `{e.plugin}` | {_escape(e.spec.summary)} |")
    for e in entries:
        spec = e.spec
        section = FLAG_SECTIONS[kind].format(name=e.name)
        out += ["", f"## `{e.name}` {{#{e.name}}}", "", _escape(spec.summary) + ".", ""]
        if spec.reference:
            out += [f"**Reference:** {spec.reference}", ""]
        out += [f"**Plugin:** `{e.plugin}` · **Options:** `--set {section}.KEY=VALUE`", ""]
        if kind == "architecture":
            out += [f"**Data:** {_supported_shapes(spec)} · **Latent:** `{spec.latent_distribution}`", ""]
        if kind in ("loss", "mitigation"):
            bn = "yes" if getattr(spec, "batch_norm_ok", True) else "no (the discriminator is built without BatchNorm)"
            out += [f"**BatchNorm in the discriminator:** {bn}", ""]
        out += _options_table(spec)
        recommended = dict(getattr(spec, "recommended", {}) or {})
        if recommended:
            out += ["", "Recommended settings: " + ", ".join(f"`{k} = {v!r}`" for k, v in recommended.items()) + "."]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- CLI


def command_names() -> list[str]:
    from ganzoo.cli import cli

    return sorted(cli.commands)


def cli_help(name: str | None = None) -> str:
    """``ganzoo [NAME] --help`` as click renders it, independent of the terminal's width."""
    import click

    from ganzoo.cli import cli

    settings = dict(cli.context_settings)
    # click's own rule for a real terminal: min(columns, max_content_width) - 2 (at least 50)
    width = max(min(HELP_COLUMNS, settings.get("max_content_width") or 80) - 2, 50)
    root = click.Context(cli, info_name="ganzoo", terminal_width=width, **settings)
    if name is None:
        return cli.get_help(root)
    cmd = cli.commands[name]
    ctx = click.Context(cmd, info_name=name, parent=root)
    return cmd.get_help(ctx)


def cli_page() -> str:
    out = [
        "# Command line reference",
        "",
        "<!-- Generated at build time from the click commands (docs/gen/ganzoo_docs.py); do not edit. -->",
        "",
        "Every command's `--help`, as the installed `ganzoo` prints it. A user mistake ends with one line "
        "`Error: ...` naming the bad value and what is allowed, and exit code 2.",
        "",
        "```text",
        cli_help().rstrip(),
        "```",
    ]
    for name in command_names():
        out += ["", f"## `ganzoo {name}`", "", "```text", cli_help(name).rstrip(), "```"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- benchmarks


@dataclass
class Asset:
    """A file outside ``docs/`` that a generated page links to: copied into the site at ``dest``."""

    source: Path
    dest: str


LINK_RE = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
HTML_SRC_RE = re.compile(r"""(<img\b[^>]*\bsrc=["'])([^"']+)(["'])""")


def benchmarks_page(repo: Path = REPO, docs: Path | None = None) -> tuple[str, list[Asset]]:
    """``benchmarks/RESULTS.md`` as ``benchmarks.md`` (at the docs root), and the files it needs copied.

    Links into ``docs/`` (e.g. ``docs/images/``) point there; other repository files (e.g. plots
    beside the results) are copied to ``repo/<path>``; links that cannot work become plain text."""
    docs = docs or repo / "docs"
    results = repo / "benchmarks" / "RESULTS.md"
    if not results.is_file():
        return ("# Benchmarks\n\nNo results yet: `benchmarks/RESULTS.md` does not exist in this checkout. "
                "Run the scripts under `benchmarks/` to produce it.\n", [])
    text = results.read_text(encoding="utf-8")
    assets: dict[str, Asset] = {}

    def fix(target: str) -> str | None:
        """The target as seen from ``benchmarks.md`` in the site, or None when it cannot work there."""
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            return target
        if target.startswith("/"):
            return None
        path_part, sep, anchor = target.partition("#")
        resolved = (results.parent / path_part).resolve()
        if not resolved.exists():
            return None
        if resolved.is_relative_to(docs.resolve()):
            return resolved.relative_to(docs.resolve()).as_posix() + sep + anchor
        if resolved.is_file() and resolved.is_relative_to(repo.resolve()) and resolved.suffix.lower() != ".md":
            rel = resolved.relative_to(repo.resolve()).as_posix()
            assets.setdefault(rel, Asset(resolved, "repo/" + rel))
            return "repo/" + rel + sep + anchor
        return None

    def sub_md(m: re.Match[str]) -> str:
        fixed = fix(m.group(2))
        if fixed is not None:
            return m.group(1) + fixed + m.group(3)
        label = m.group(1)[m.group(1).index("[") + 1:-2]
        return f"{label} (`{m.group(2)}`)"

    def sub_html(m: re.Match[str]) -> str:
        fixed = fix(m.group(2))
        return m.group(1) + (fixed if fixed is not None else m.group(2)) + m.group(3)

    body = HTML_SRC_RE.sub(sub_html, LINK_RE.sub(sub_md, text))
    header = "<!-- Generated at build time from benchmarks/RESULTS.md (docs/gen/ganzoo_docs.py); do not edit. -->\n\n"
    return header + body, list(assets.values())


# --------------------------------------------------------------------------- navigation


def _nav_files(nav: list[Any]) -> set[str]:
    out: set[str] = set()
    for item in nav:
        values = item.values() if isinstance(item, dict) else [item]
        for value in values:
            if isinstance(value, list):
                out |= _nav_files(value)
            else:
                out.add(str(value))
    return out


def complete_nav(nav: list[Any], docs_dir: Path) -> list[Any]:
    """``nav`` plus every top-level page of ``docs_dir`` it lacks, inserted before "Benchmarks"."""
    listed = _nav_files(nav)
    extra = [p.name for p in sorted(docs_dir.glob("*.md")) if p.name not in listed]
    nav = list(nav)
    index = next((i for i, item in enumerate(nav) if isinstance(item, dict) and "Benchmarks" in item), len(nav))
    for name in extra:
        nav.insert(index, {Path(name).stem.replace("-", " ").replace("_", " ").capitalize(): name})
        index += 1
    return nav


def generated_pages(host: Any | None = None) -> Iterator[tuple[str, str]]:
    """(path under docs/, markdown) of every generated page."""
    host = host or builtin_host()
    for kind, title in KIND_TITLES.items():
        yield f"reference/{title.lower()}.md", component_page(kind, host)
    yield "reference/cli.md", cli_page()
    yield "benchmarks.md", benchmarks_page()[0]
