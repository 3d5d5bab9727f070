"""MkDocs hooks (``hooks:`` in mkdocs.yml): generate the reference pages while the site builds, so
``mkdocs build --strict`` alone does everything and the pages cannot drift from the code."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ganzoo_docs  # noqa: E402

log = logging.getLogger("mkdocs.plugins.ganzoo")


def on_config(config: Any) -> Any:
    """Add hand-written top-level pages that the nav does not list (pages other teams add, such as
    ``deploy.md``) before "Benchmarks", titled after their file name."""
    config["nav"] = ganzoo_docs.complete_nav(config.get("nav") or [], Path(config["docs_dir"]))
    return config


def on_files(files: Files, config: Any) -> Files:
    """Add the generated pages (components, CLI, benchmarks) and the files the benchmarks page links to."""
    for src_uri, content in ganzoo_docs.generated_pages():
        _add(files, File.generated(config, src_uri, content=content))
    _, assets = ganzoo_docs.benchmarks_page()
    for asset in assets:
        _add(files, File.generated(config, asset.dest, abs_src_path=str(asset.source)))
    log.info("ganzoo: generated reference pages from the live registry and CLI")
    return files


def _add(files: Files, file: File) -> None:
    existing = files.get_file_from_path(file.src_uri)
    if existing is not None:
        files.remove(existing)
    files.append(file)
